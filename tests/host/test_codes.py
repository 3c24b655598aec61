"""Scanned codes: base45, identity tokens and their verdicts, badges, config codes, CLI."""

import zlib

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sealscan import codes
from sealscan.cli import cli
from sealscan.protocol import cbor

NOW = 1_763_856_000
ID_OK = "11010519491231002X"
NAME = "欧阳娜娜"
PHONE = "13912345678"


@pytest.fixture(scope="module")
def issuer():
    return codes.new_test_issuer(b"\x11" * 32)


def token(issuer, **over):
    args = dict(id_type=11, id_number=ID_OK, name=NAME, phone=PHONE, issued_at=NOW,
                expires_at=NOW + 3600)
    args.update(over)
    return codes.make_identity_token(issuer, **args)


@pytest.mark.parametrize("raw, text", [  # RFC 9285 section 4.3 and 4.4 examples
    (b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"), (b"", ""), (b"\xff\xff", "FGW"), (b"\x00", "00"),
])
def test_base45_rfc_examples(raw, text):
    assert codes.b45encode(raw) == text
    assert codes.b45decode(text) == raw


@pytest.mark.parametrize("bad", ["GGW", "A", "ABCD", "abc", "BB8é", "ZZ"])
def test_base45_refuses_invalid(bad):
    with pytest.raises(codes.MalformedCode):
        codes.b45decode(bad)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_base45_round_trip(data):
    assert codes.b45decode(codes.b45encode(data)) == data


def test_identity_token_structure_and_verdicts(issuer):
    t = token(issuer)
    assert t.startswith("RNID1:") and len(t) < 400
    assert all(c in codes._B45 for c in t)
    parsed = codes.parse_identity_token(t)
    assert parsed.kid == issuer.kid and parsed.kid.startswith(b"TEST-")
    assert parsed.claims.issuer == codes.TEST_ISSUER_NAME
    assert (parsed.claims.id_number, parsed.claims.name, parsed.claims.phone) == \
        (ID_OK, NAME, PHONE)
    keys = codes.issuer_public_keys(issuer)
    assert codes.verify_identity_token(t, keys, NOW) == "ok"
    assert codes.verify_identity_token(t, keys, NOW + 3600) == "expired"
    assert codes.verify_identity_token(t, {}, NOW) == "unknown-issuer"
    impostor = codes.new_test_issuer(b"\x22" * 32)
    assert codes.verify_identity_token(t, {issuer.kid: impostor.public_key}, NOW) == \
        "bad-signature"
    # expired but forged: the signature verdict comes first
    old = token(issuer, expires_at=NOW - 1)
    assert codes.verify_identity_token(old, {issuer.kid: impostor.public_key}, NOW) == \
        "bad-signature"


def _resign(issuer, t, mutate):
    """Rebuild a token with altered claims but the original signature."""
    sign1 = cbor.loads_strict(zlib.decompress(codes.b45decode(t[6:])), codes.ProtocolError, "x")
    claims = cbor.loads_strict(sign1[2], codes.ProtocolError, "x")
    mutate(claims)
    sign1[2] = cbor.dumps(claims)
    return "RNID1:" + codes.b45encode(zlib.compress(cbor.dumps(sign1)))


def test_altered_claims_are_bad_signature(issuer):
    t = token(issuer)
    keys = codes.issuer_public_keys(issuer)
    for mutate in [lambda c: c.__setitem__(-65539, "李四"),
                   lambda c: c.__setitem__(4, NOW + 10**6),
                   lambda c: c.__setitem__(-65538, "440524188001010014")]:
        assert codes.verify_identity_token(_resign(issuer, t, mutate), keys, NOW) == \
            "bad-signature"


def test_malformed_tokens(issuer):
    t = token(issuer)
    body = zlib.decompress(codes.b45decode(t[6:]))
    bad = ["", "RNID1:", "RNID2:" + t[6:], t[:-3], t + "A", t.lower(), "RNCB1:" + t[6:],
           "RNID1:" + codes.b45encode(b"not zlib"),
           "RNID1:" + codes.b45encode(zlib.compress(body + b"\x00")),
           "RNID1:" + codes.b45encode(zlib.compress(b"\xa0")),
           "RNID1:" + codes.b45encode(zlib.compress(bytes(5000))),  # bomb-ish
           "RNID1:" + codes.b45encode(zlib.compress(body)[:-2]), None, 5]
    for text in bad:
        with pytest.raises(codes.MalformedCode):
            codes.verify_identity_token(text, codes.issuer_public_keys(issuer), NOW)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=codes._B45, max_size=200))
def test_random_tokens_are_malformed_never_a_crash(body):
    with pytest.raises(codes.MalformedCode):
        codes.verify_identity_token("RNID1:" + body, {}, NOW)


def test_single_character_changes_never_verify_ok(issuer):
    t = token(issuer)
    keys = codes.issuer_public_keys(issuer)
    for pos in range(6, len(t)):
        for c in "0Z:":
            if t[pos] == c:
                continue
            bad = t[:pos] + c + t[pos + 1:]
            try:
                assert codes.verify_identity_token(bad, keys, NOW) != "ok"
            except codes.MalformedCode:
                pass


def test_invalid_id_numbers_are_refused_unless_allowed(issuer):
    for id_type, number in [(11, "110105194912310021"), (11, "1101051949123100"),
                            (20, "11010519491231002X"), (21, "440524188001010014"),
                            (99, "X123")]:
        with pytest.raises(codes.InvalidIdNumber):
            token(issuer, id_type=id_type, id_number=number)
    t = token(issuer, id_number="110105194912310021", allow_invalid_id=True)
    assert codes.verify_identity_token(t, codes.issuer_public_keys(issuer), NOW) == "ok"
    token(issuer, id_type=18, id_number="E12345678")  # passports have no check character


def test_masking_follows_gbt_41833():
    assert codes.mask_name("张三") == "张*" and codes.mask_name("欧阳娜娜") == "欧阳**"
    assert codes.mask_phone("13912345678") == "1******5678"
    assert codes.mask_id(ID_OK) == "1***************2X"
    for phone in ["13912345678", "85212345678", "1234567", "12345678"]:
        assert codes.mask_phone(phone).count("*") >= 6 or len(phone) < 6


def test_claims_repr_hides_identity(issuer):
    parsed = codes.parse_identity_token(token(issuer))
    text = repr(parsed)
    assert NAME not in text and PHONE not in text and ID_OK not in text


def test_badge_and_config(tmp_path):
    key, other = b"\x01" * 32, b"\x02" * 32
    b = codes.make_badge(key, courier_id="C-0042", display_name="Li", carrier="SF",
                         expires_at=NOW + 60)
    assert b.startswith("RNCB1:")
    assert codes.verify_badge(b, key, NOW) == codes.Badge("C-0042", "Li", "SF", NOW + 60)
    with pytest.raises(codes.CodeRefused) as e:
        codes.verify_badge(b, other, NOW)
    assert e.value.reason == "bad-mac"
    with pytest.raises(codes.CodeRefused) as e:
        codes.verify_badge(b, key, NOW + 60)
    assert e.value.reason == "expired"
    for bad in [b[:-1], "RNCF1:" + b[6:], b + "00", "RNCB1:%%%"]:
        with pytest.raises(codes.MalformedCode):
            codes.verify_badge(bad, key, NOW)
    c = codes.make_config(key, ssid="depot", password="s3cret-wifi", upstream_url="https://u",
                          expires_at=NOW + 60, serial=7)
    assert codes.verify_config(c, key, NOW, last_serial=6).serial == 7
    assert "s3cret" not in repr(codes.verify_config(c, key, NOW))
    for last in (7, 8):
        with pytest.raises(codes.CodeRefused) as e:
            codes.verify_config(c, key, NOW, last_serial=last)
        assert e.value.reason == "replayed"
    with pytest.raises(codes.CodeRefused):
        codes.verify_config(c, other, NOW)
    with pytest.raises(codes.MalformedCode):
        codes.verify_config(b, key, NOW)


def test_cli_makes_tokens_the_library_verifies(tmp_path):
    runner = CliRunner()
    iss = tmp_path / "issuer.json"
    r = runner.invoke(cli, ["codes", "init-issuer", "--out", str(iss)])
    assert r.exit_code == 0, r.output
    assert (iss.stat().st_mode & 0o777) == 0o600
    assert "ed25519_private" not in r.output
    assert runner.invoke(cli, ["codes", "init-issuer", "--out", str(iss)]).exit_code == 1
    issuer = codes.load_issuer(iss)
    assert issuer.name == codes.TEST_ISSUER_NAME
    png = tmp_path / "t.png"
    base = ["codes", "identity", "--issuer-key", str(iss), "--id-type", "11", "--id-number",
            ID_OK, "--name", NAME, "--phone", PHONE, "--now", str(NOW)]
    r = runner.invoke(cli, base + ["--png", str(png)])
    assert r.exit_code == 0, r.output
    t = r.output.strip()
    keys = codes.issuer_public_keys(issuer)
    assert codes.verify_identity_token(t, keys, NOW + 10) == "ok"
    assert Image.open(png).size[0] > 100
    r = runner.invoke(cli, base + ["--expires-in", "60"])
    assert codes.verify_identity_token(r.output.strip(), keys, NOW + 60) == "expired"
    r = runner.invoke(cli, base + ["--expired"])
    assert codes.verify_identity_token(r.output.strip(), keys, NOW) == "expired"
    r = runner.invoke(cli, ["codes", "verify", t, "--issuer-key", str(iss), "--now",
                            str(NOW), "--json"])
    assert r.exit_code == 0 and '"verdict": "ok"' in r.output
    assert NAME not in r.output and PHONE not in r.output and ID_OK not in r.output
    r = runner.invoke(cli, ["codes", "verify", t, "--now", str(NOW)])
    assert r.exit_code == 1 and r.output.startswith("unknown-issuer")


def test_cli_refuses_invalid_id_without_echoing_it(tmp_path):
    runner = CliRunner()
    iss = tmp_path / "issuer.json"
    runner.invoke(cli, ["codes", "init-issuer", "--out", str(iss)])
    bad_id = "110105194912310021"
    args = ["codes", "identity", "--issuer-key", str(iss), "--id-number", bad_id, "--name",
            NAME, "--phone", PHONE]
    r = runner.invoke(cli, args)
    assert r.exit_code == 2 and "--allow-invalid-id" in r.output  # a bad flag value
    assert bad_id not in r.output and NAME not in r.output and PHONE not in r.output
    r = runner.invoke(cli, args + ["--allow-invalid-id"])
    assert r.exit_code == 0 and r.output.startswith("RNID1:")


def test_cli_badge_and_config(tmp_path):
    runner = CliRunner()
    key = tmp_path / "badge.key"
    assert runner.invoke(cli, ["codes", "init-key", "--out", str(key)]).exit_code == 0
    r = runner.invoke(cli, ["codes", "badge", "--key-file", str(key), "--courier-id", "C-1",
                            "--name", "Li", "--carrier", "SF", "--now", str(NOW)])
    assert r.exit_code == 0, r.output
    assert codes.verify_badge(r.output.strip(), codes.load_key_file(key), NOW).carrier == "SF"
    r = runner.invoke(cli, ["codes", "config", "--key-file", str(key), "--ssid", "depot",
                            "--url", "https://up.example", "--serial", "4", "--now", str(NOW)],
                      env={"SEALSCAN_WIFI_PASSWORD": "pw-canary-77"})
    assert r.exit_code == 0, r.output
    assert "pw-canary-77" not in r.output
    cfg = codes.verify_config(r.output.strip(), codes.load_key_file(key), NOW, last_serial=3)
    assert cfg.password == "pw-canary-77"
    (tmp_path / "bad.key").write_text("zz")
    r = runner.invoke(cli, ["codes", "badge", "--key-file", str(tmp_path / "bad.key"),
                            "--courier-id", "C", "--name", "L", "--carrier", "SF"])
    assert r.exit_code == 3


def test_public_issuer_file_is_enough_to_verify(tmp_path, issuer):
    runner = CliRunner()
    key, pub = tmp_path / "issuer.json", tmp_path / "issuer.pub.json"
    codes.save_issuer(issuer, key)
    r = runner.invoke(cli, ["codes", "issuer-public", "--issuer-key", str(key), "--out",
                            str(pub), "--json"])
    assert r.exit_code == 0, r.output
    assert "private" not in pub.read_text() and "private" not in r.output
    trusted = codes.load_trusted_issuers(pub)
    assert codes.verify_identity_token(token(issuer), trusted, NOW) == "ok"
    assert codes.load_trusted_issuers(key).keys() == trusted.keys()
    r = runner.invoke(cli, ["codes", "verify", token(issuer), "--issuer-key", str(pub),
                            "--now", str(NOW)])
    assert r.exit_code == 0 and r.output.startswith("ok:")
    (tmp_path / "junk.json").write_text("[1]")
    with pytest.raises(codes.MalformedCode):
        codes.load_trusted_issuers(tmp_path / "junk.json")
    r = runner.invoke(cli, ["codes", "verify", token(issuer), "--issuer-key",
                            str(tmp_path / "junk.json")])
    assert r.exit_code == 3


def test_expired_and_expires_in_exclude_each_other(tmp_path, issuer):
    key = tmp_path / "issuer.json"
    codes.save_issuer(issuer, key)
    r = CliRunner().invoke(cli, ["codes", "identity", "--issuer-key", str(key), "--id-number",
                                 ID_OK, "--name", NAME, "--phone", PHONE, "--expired",
                                 "--expires-in", "5"])
    assert r.exit_code == 2 and "RNID1:" not in r.output


def test_error_messages_never_carry_identity_data(issuer):
    t = token(issuer)
    canaries = [ID_OK, NAME, PHONE]
    variants = [
        _resign(issuer, t, lambda c: c.__setitem__(-65539, NAME.encode())),  # name as bytes
        _resign(issuer, t, lambda c: c.__setitem__(-65540, PHONE * 3)),  # phone too long
        _resign(issuer, t, lambda c: c.__setitem__(-65537, 99)),  # unknown id type
        _resign(issuer, t, lambda c: c.__setitem__(7, ID_OK)),  # extra claim
    ]
    for text in variants:
        with pytest.raises(codes.MalformedCode) as e:
            codes.parse_identity_token(text)
        assert not any(c in str(e.value) for c in canaries)
    with pytest.raises(codes.InvalidIdNumber) as e:
        token(issuer, id_number="110105194912310021")
    assert "110105194912310021" not in str(e.value)


@pytest.mark.parametrize("name", ["欧阳娜娜", "张伟", "买买提·艾力", "\U00020bb7伟"])
def test_codes_verify_prints_a_chinese_name_as_the_scanner_screen_does(tmp_path, issuer, name):
    from sealscan import masking

    key = tmp_path / "issuer.json"
    codes.save_issuer(issuer, key)
    r = CliRunner().invoke(cli, ["codes", "verify", token(issuer, name=name),
                                 "--issuer-key", str(key), "--now", str(NOW)])
    assert r.exit_code == 0, r.output
    assert f" {masking.name(name)} " in r.output and name not in r.output


def test_a_config_code_can_carry_the_screen_language():
    key = bytes(range(32))
    kw = dict(ssid="ap", password="secret-pass", upstream_url="https://10.0.0.5:8443",
              expires_at=NOW + 60, serial=2)
    assert codes.verify_config(codes.make_config(key, **kw), key, NOW).lang is None
    assert codes.verify_config(codes.make_config(key, lang="en", **kw), key, NOW).lang == "en"
    with pytest.raises(codes.MalformedCode):
        codes.make_config(key, lang="fr", **kw)
    r = CliRunner().invoke(cli, ["codes", "config", "--key-file", "/nonexistent", "--ssid",
                                 "ap", "--password", "x" * 8, "--url", "https://h:1",
                                 "--serial", "1", "--lang", "fr"])
    assert r.exit_code == 2 and "fr" in r.output
