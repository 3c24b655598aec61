# The application's scanning pieces under MicroPython at the ESP32 heap: the GM65 line
# splitter, badge / identity / config recognition, the courier flow and the screen text.
# Codes come from data/app_codes.json (make_app_codes.py; identity data there is canary data).
import json
from binascii import unhexlify

from mpytest import data_path, raises

CANARIES = ("11010519491231002X", "13912345678", "欧阳金丝雀", "CANARYBIRDSON", "E99887766",
            "85298765432")


def _codes():
    with open(data_path("app_codes.json")) as f:
        return json.load(f)


def _flow(c):
    import flow

    return flow.Flow(unhexlify(c["badge_key"]), unhexlify(c["config_key"]), "SF")


def _no_canary(text):
    for canary in CANARIES:
        assert canary not in text, "canary on screen"


# -- GM65 lines --------------------------------------------------------------------------------

def test_lines_split_at_cr_across_chunks_and_ignore_lf_and_empty():
    import scanline

    got = []
    s = scanline.LineSplitter(32)
    for chunk in (b"SF12", b"34\r", b"\r\n", b"\nEA123456785CN\rtail"):
        s.feed(chunk, lambda mv: got.append(bytes(mv)))
    assert got == [b"SF1234", b"EA123456785CN"]
    s.feed(b"\r", lambda mv: got.append(bytes(mv)))
    assert got[-1] == b"tail"


def test_overlong_line_is_dropped_whole_and_the_next_line_is_intact():
    import scanline

    got = []
    s = scanline.LineSplitter(16)
    s.feed(b"A" * 40 + b"\rSF1\r", lambda mv: got.append(bytes(mv)))
    assert got == [b"SF1"] and s.dropped == 1


def test_line_buffer_is_wiped_after_each_line():
    import scanline

    s = scanline.LineSplitter(64)
    s.feed(b"RNID1:SECRET\r", lambda mv: None)
    assert bytes(s.buf) == bytes(64)


# -- codes -----------------------------------------------------------------------------------

def test_badge_verifies_and_refuses_wrong_key_and_expiry():
    import mac0
    from cbordec import CodeError

    c = _codes()
    key = unhexlify(c["badge_key"])
    assert mac0.badge(c["badge"].encode(), key, c["now"]) == ("courier-7", "Li", "SF",
                                                              c["now"] + 86400)
    with raises(CodeError):
        mac0.badge(c["badge_other_key"].encode(), key, c["now"])
    with raises(CodeError):
        mac0.badge(c["badge_expired"].encode(), key, c["now"])


def test_identity_is_parsed_to_masked_text_only():
    import idtoken

    c = _codes()
    ident = idtoken.parse(c["id"].encode(), c["now"])
    assert ident.id_type == 11
    assert ident.id_masked == "1***************2X"
    assert ident.name_masked == "欧阳***"
    assert ident.phone_masked == "1******5678"
    p = idtoken.parse(c["id_passport"].encode(), c["now"])
    assert p.id_type == 18 and p.name_masked == "C" + "*" * 8
    for v in (ident, p):
        _no_canary(" ".join((v.id_masked, v.name_masked, v.phone_masked)))


def test_identity_refusals():
    import idtoken
    from cbordec import CodeError

    c = _codes()
    for key in ("id_expired", "id_bad_check"):
        with raises(CodeError):
            idtoken.parse(c[key].encode(), c["now"])
    good = c["id"].encode()
    for bad in (good[:-3], good[:40], b"RNID1:", b"RNID1:" + b"\xff" * 20, good + b"00",
                b"RNID1:" + b"A" * 2000):
        try:
            idtoken.parse(bad, c["now"])
        except CodeError:
            continue
        raise AssertionError("accepted: %d bytes" % len(bad))


def test_mutated_identity_tokens_never_raise_anything_but_code_error():
    import idtoken
    from cbordec import CodeError

    c = _codes()
    good = bytearray(c["id"].encode())
    alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    x = 12345
    for _ in range(300):
        b = bytearray(good)
        for _ in range(1 + x % 3):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            b[6 + x % (len(b) - 6)] = alphabet[(x >> 8) % len(alphabet)]
        try:
            idtoken.parse(b, c["now"])
        except CodeError:
            pass


def test_config_code_verifies_and_refuses_replay_other_key_and_plain_http():
    import mac0
    from cbordec import CodeError

    c = _codes()
    key = unhexlify(c["config_key"])
    assert mac0.config(c["config"].encode(), key, c["now"], 4) == (
        "depot-2", "new-secret-pass", "https://10.0.0.5:8443", 5, None)
    assert mac0.config(c["config_en"].encode(), key, c["now"], 5)[3:] == (6, "en")
    for code, last in (("config", 5), ("config", 9), ("config_other_key", 0),
                       ("config_http", 0)):
        with raises(CodeError):
            mac0.config(c[code].encode(), key, c["now"], last)


# -- the courier flow ------------------------------------------------------------------------

def test_flow_logs_in_then_captures_in_either_order():
    import flow

    c = _codes()
    f = _flow(c)
    now = c["now"]
    assert f.on_line(c["id"].encode(), now) == flow.REFUSED  # log in first
    assert f.on_line(b"SF1234567890123", now) == flow.REFUSED
    assert f.on_line(c["badge"].encode(), now) == flow.LOGIN and f.courier == "courier-7"
    assert f.on_line(c["id"].encode(), now) == flow.HELD
    assert f.on_line(b"SF1234567890123", now) == flow.CAPTURE
    tok, wb = f.take()
    assert bytes(tok) == c["id"].encode() and wb == "SF1234567890123"
    f.sealed()
    assert f.identity is None and f.waybill is None and bytes(f.token) == bytes(len(f.token))
    assert f.on_line(b"SF2234567890123", now) == flow.HELD
    assert f.on_line(c["id_passport"].encode(), now) == flow.CAPTURE


def test_flow_refusals_keep_what_is_held():
    import flow
    import texts

    c = _codes()
    f = _flow(c)
    now = c["now"]
    assert f.on_line(c["badge_yto"].encode(), now) == flow.REFUSED  # another carrier's badge
    f.on_line(c["badge"].encode(), now)
    assert f.on_line(b"SF1234567890123", now) == flow.HELD
    for bad in (b"YT1234567890123", b"EA123456785CN", b"\xff\xfe", c["id_expired"].encode(),
                c["badge_other_key"].encode()):
        assert f.on_line(bad, now) == flow.REFUSED
    assert f.waybill == "SF1234567890123" and f.state == flow.READY
    assert f.on_line(c["id"].encode(), now, True) == flow.REFUSED  # overdue: no new identity
    assert f.message == texts.OVERDUE_NO_ID
    assert f.on_line(c["id"].encode(), now) == flow.CAPTURE


def test_flow_config_replay_and_cancel_logout():
    import flow

    c = _codes()
    f = _flow(c)
    now = c["now"]
    assert f.on_line(c["config"].encode(), now) == flow.CONFIG
    assert f.config_values[3] == 5
    f.config_serial = 5
    assert f.on_line(c["config"].encode(), now) == flow.REFUSED  # replayed
    f.on_line(c["badge"].encode(), now)
    f.on_line(c["id"].encode(), now)
    f.cancel()  # drops the held identity, wiped
    assert f.identity is None and bytes(f.token) == bytes(len(f.token))
    assert f.state == flow.READY
    f.cancel()
    assert f.state == flow.LOGGED_OUT and f.courier is None


def _font(size=12, lang=0):
    import display

    display.open_font("../../firmware/assets/font%d.bin" % size, lang)


def test_screen_rows_show_masked_identity_in_the_device_language():
    import texts
    import view

    c = _codes()
    f = _flow(c)
    now = c["now"]
    f.on_line(c["badge"].encode(), now)
    f.on_line(c["id"].encode(), now)
    f.on_line(b"SF1234567890123", now)
    _font(12)
    small = view.lines(f, True, 2, None, texts.OVERDUE, 5)
    assert small == ["已联网 待传2条", "寄件人 欧阳***", "证件 1******2X", "上传超时!",
                     "请到有网络处"]
    _font(16, 1)
    large = view.lines(f, False, 0, None, None, 17)
    assert large[:6] == ["Offline, 0 unsent", "Courier courier-7", "", "Sender 欧阳***",
                         "ID 1******2X", "Waybill ******0123"]
    assert large[8:] == ["ID code read", "Now scan the waybill"]  # (the app seals now)
    _no_canary("\n".join(small + large))


def test_every_refusal_names_what_happened_by_text_id():
    import flow
    import texts

    c = _codes()
    f = _flow(c)
    now = c["now"]
    cases = [(c["id"], texts.LOGIN_FIRST), (c["badge_yto"], texts.BADGE_OTHER_CARRIER),
             (c["badge_expired"], texts.BADGE_EXPIRED),
             (c["badge_other_key"], texts.BADGE_INVALID)]
    for line, tid in cases:
        assert f.on_line(line.encode(), now) == flow.REFUSED
        assert f.message == tid, (line[:8], f.message, tid)
    f.on_line(c["badge"].encode(), now)
    assert f.message == texts.SCAN_BOTH
    cases = [("YT1234567890123", texts.OTHER_CARRIER), ("HELLO-WORLD", texts.NOT_WAYBILL),
             ("SF12", texts.NOT_WAYBILL), ("EA123456785CN", texts.OTHER_CARRIER),
             (c["id_expired"], texts.ID_EXPIRED), (c["id_bad_check"], texts.ID_INVALID),
             ("RNID1:%%%", texts.UNREADABLE),  # damaged (a misread): scan it again
             (c["config_other_key"], texts.CONFIG_INVALID)]
    for line, tid in cases:
        assert f.on_line(line.encode(), now) == flow.REFUSED
        assert f.message == tid, (line[:8], f.message, tid)
    assert f.on_line(b"\xff\xfe", now) == flow.REFUSED and f.message == texts.UNREADABLE
    f.config_serial = 5
    assert f.on_line(c["config"].encode(), now) == flow.REFUSED
    assert f.message == texts.CONFIG_USED
    f.on_line(c["id"].encode(), now)
    assert f.message == texts.SCAN_WAYBILL
    f.cancel()
    assert f.message == texts.CANCELLED and f.identity is None


def test_a_name_in_parts_keeps_its_dot_and_its_first_character_only():
    import flow
    import view

    c = _codes()
    f = _flow(c)
    f.on_line(c["badge"].encode(), c["now"])
    assert f.on_line(c["id_dot"].encode(), c["now"]) == flow.HELD
    assert f.identity.name_masked == "买**·**"
    _font(12)
    assert view.lines(f, True, 0, None, None, 5)[1] == "寄件人 买**·**"


def test_upstream_url_parsing():
    import config

    assert config.parse_url("https://127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert config.parse_url("https://up.example/") == ("up.example", 443)
    for bad in ("http://x:1", "https://", "https://x:0", "https://x:y", "https://x:1/v1"):
        with raises(config.ConfigError):
            config.parse_url(bad)


def test_a_failing_line_handler_loses_neither_state_nor_the_next_line():
    import scanline

    got = []

    def emit(mv):
        if bytes(mv) == b"BAD":
            raise ValueError("handler bug")
        got.append(bytes(mv))

    s = scanline.LineSplitter(32)
    with raises(ValueError):
        s.feed(b"BAD\rSF1", emit)
    s.feed(b"SF2\r", emit)
    assert got == [b"SF2"]  # the rest of the failing chunk is gone, nothing stale remains
    assert bytes(s.buf) == bytes(32)
