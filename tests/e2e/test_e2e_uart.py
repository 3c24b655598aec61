"""Scans while C code holds the interpreter (issue 10). The UART is modelled as a board has it
(sealsim.uartline: bytes at 9600 baud into the driver's ring buffer, dropped past it) and
blocking native calls take ESP32 time (sealsim.speed: a TLS handshake ~1 s). A 768-character
identity token scanned during a handshake or a session setup is captured whole; with the
driver's default 256-byte buffer the same scan loses bytes, and the damaged line is refused
("Code not readable / Scan it again"), never sealed."""

import struct
import time
import zlib

from test_e2e_capture import login

from sealscan import codes
from sealscan.paths import FIRMWARE_DIR
from sealsim import endtoend as e2ekit
from sealsim.endtoend import WAYBILLS

TOKEN_CHARS = 768  # idtoken.MAX_TOKEN: the longest identity line the firmware takes


def long_token(upstream, chars=TOKEN_CHARS) -> str:
    """A real identity token (the library signs it) of exactly `chars` characters: the
    longest name (64 characters outside the BMP) and the COSE_Sign1 in stored deflate blocks,
    padded with empty ones (as a sync flush makes them): the same signed bytes, longer."""
    want = (chars - len(codes.IDENTITY_PREFIX)) // 3 * 2  # base45: 3 characters per 2 bytes
    for phone_len in range(11, 21):
        name = "".join(chr(0x20000 + 7919 * i % 40000) for i in range(64))
        t = upstream.identity(name=name, phone="1" * phone_len)
        sign1 = zlib.decompress(codes.b45decode(t[len(codes.IDENTITY_PREFIX):]))
        pad, rest = divmod(want - (2 + 5 + len(sign1) + 4), 5)
        if pad >= 0 and rest == 0:
            z = (b"\x78\x01" + b"\x00\x00\x00\xff\xff" * pad + b"\x01"
                 + struct.pack("<HH", len(sign1), len(sign1) ^ 0xFFFF) + sign1
                 + struct.pack(">I", zlib.adler32(sign1)))
            token = codes.IDENTITY_PREFIX + codes.b45encode(z)
            assert len(token) == chars and zlib.decompress(z) == sign1
            return token
    raise AssertionError("no phone length gives the exact token length")


def blocking(dev, op, since):
    dev.wait_until(lambda: any(e.startswith(f"blocking {op}") and t >= since
                               for t, e in list(dev.events)), 30, f"a blocking {op}")


def capture_during_handshake(dev, keys, upstream):
    """Record 0 goes up; while its TLS handshake holds the interpreter, the long token and a
    waybill are scanned."""
    login(dev, keys)
    mark = len(dev.output)
    dev.scan(upstream.identity())
    since = time.time()
    dev.scan(WAYBILLS[0])
    dev.wait_for("sealed record 0", 20, since=mark)
    blocking(dev, "tls_handshake", since)
    token = long_token(upstream)
    dev.scan(token)  # 769 bytes: 0.8 s at 9600 baud, inside the 1 s handshake
    dev.scan(WAYBILLS[1])
    return token


def test_tls_handshake_768_char_token_scanned_meanwhile_is_captured_whole(scanner, upstream):
    dev, keys = scanner()
    token = capture_during_handshake(dev, keys, upstream)
    dev.wait_for("record 1 verdict ok", 40)
    recs = {r.index: r for _, r in upstream.records(keys.device_id)}
    assert recs[1].identity_token == token.encode() and recs[1].waybill == WAYBILLS[1]
    assert dev.uart_line.dropped == 0 and dev.uart_line.received > len(token)


def test_session_setup_768_char_token_scanned_meanwhile_is_captured_whole(scanner, upstream):
    dev, keys = scanner(wifi=False)
    dev.wait_for("ready", 30)
    mark = len(dev.output)
    dev.scan(keys.badge())
    dev.wait_for("courier logged in", 20, since=mark)
    token = long_token(upstream)
    mark = len(dev.output)
    dev.set_wifi(True)  # Wi-Fi up (after the driver's association time): the first session
    dev.wait_for("wifi up", 20, since=mark)  # its setup starts within the session task's tick
    dev.scan(token)
    dev.scan(WAYBILLS[2])
    dev.wait_for("session started", 30, since=mark)
    dev.wait_for("record 0 verdict ok", 40, since=mark)
    (_, rec), = upstream.records(keys.device_id)
    assert rec.identity_token == token.encode() and rec.waybill == WAYBILLS[2]
    assert dev.uart_line.dropped == 0


def test_with_the_drivers_default_buffer_the_damaged_line_is_refused_never_sealed(
        tmp_path, upstream):
    # today's firmware reads the scan engine through the default 256-byte ring
    src = tmp_path / "src"
    src.mkdir()
    for p in FIRMWARE_DIR.glob("*.py"):
        (src / p.name).write_text(p.read_text().replace("_UART_RXBUF = const(2048)",
                                                        "_UART_RXBUF = const(256)"))
    assert "const(256)" in (src / "bootload.py").read_text()
    fw = e2ekit.build_firmware(tmp_path / "fw", src)
    board = e2ekit.board()
    keys = e2ekit.provision(tmp_path / "dev", board, fw, upstream, device_id="rxbuf-256")
    dev = e2ekit.device(board, tmp_path / "dev")
    try:
        token = capture_during_handshake(dev, keys, upstream)
        dev.wait_for("record 0 verdict ok", 40)
        dev.wait_for("scan refused: Code not readable / Scan it again", 20)
        assert dev.uart_line.dropped > 0 and dev.uart_line.overflows >= 1
        # nothing of the damaged line was kept: the waybill alone is held (below: the token
        # scanned again pairs with it)
        time.sleep(2)
        assert [r.index for _, r in upstream.records(keys.device_id)] == [0]
        assert "sealed record 1" not in dev.output.decode()
        # scanned again after the handshake: whole, sealed, acked
        mark = len(dev.output)
        dev.scan(token)
        dev.wait_for("record 1 verdict ok", 40, since=mark)
        recs = {r.index: r for _, r in upstream.records(keys.device_id)}
        assert recs[1].identity_token == token.encode() and recs[1].waybill == WAYBILLS[1]
    finally:
        dev.close()
