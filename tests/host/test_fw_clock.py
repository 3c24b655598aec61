"""The firmware's clock.py and bootload.cert_validity (run under MicroPython) against
certificates pyca/cryptography makes: the validity read from the DER is the library's, for
UTCTime and GeneralizedTime dates, and the state table (docs/design.md, "Time": clock not
set, certificate not yet valid / expired)."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from sealscan import boards
from sealscan.paths import FIRMWARE_DIR
from sealsim import micropython as mp

UTC = datetime.UTC


def cert(not_before: datetime.datetime, not_after: datetime.datetime, key=None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "upstream")])
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .sign(key, hashes.SHA256()))
    from cryptography.hazmat.primitives import serialization
    return c.public_bytes(serialization.Encoding.DER)


def run_fw(tmp_path, code: str) -> str:
    script = tmp_path / "t.py"
    script.write_text(code)
    heap = boards.load_board(boards.DEFAULT_BOARD).heap_bytes
    proc = mp.run([str(script)], heap_bytes=heap, path=mp.module_path(FIRMWARE_DIR), timeout=60)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return proc.stdout.decode()


def test_validity_read_from_the_der_is_the_certificates_own(tmp_path):
    d = datetime.datetime
    cases = [
        (d(2026, 11, 30, 19, 4, 5, tzinfo=UTC), d(2036, 11, 28, 0, 0, 59, tzinfo=UTC)),
        (d(2024, 2, 29, 23, 59, 59, tzinfo=UTC), d(2049, 12, 31, 23, 59, 59, tzinfo=UTC)),
        # 2050 and later are GeneralizedTime (RFC 5280 4.1.2.5)
        (d(1999, 3, 1, 0, 0, 0, tzinfo=UTC), d(2051, 1, 1, 12, 0, 0, tzinfo=UTC)),
    ]
    ders = [cert(a, b) for a, b in cases]
    ders.append(cert(cases[0][0], cases[0][1], rsa.generate_private_key(65537, 2048)))
    cases.append(cases[0])
    out = run_fw(tmp_path, "import bootload\n" + "".join(
        f"print(bootload.cert_validity(bytes.fromhex({der.hex()!r})))\n" for der in ders))
    got = [tuple(map(int, line.strip("()").split(","))) for line in out.splitlines()]
    assert got == [(int(a.timestamp()), int(b.timestamp())) for a, b in cases]


def test_garbage_is_a_value_error_not_a_crash(tmp_path):
    good = cert(datetime.datetime(2026, 1, 1, tzinfo=UTC), datetime.datetime(2027, 1, 1,
                                                                             tzinfo=UTC))
    bad = [b"", b"\x30", b"\x30\x82\xff\xff", good[:60], b"\x30\x03\x02\x01\x00", b"x" * 50]
    out = run_fw(tmp_path, "import bootload\n" + "".join(
        f"try:\n    bootload.cert_validity({b!r})\n    print('ok')\n"
        f"except ValueError:\n    print('ValueError')\n" for b in bad))
    assert out.split() == ["ValueError"] * len(bad)


@pytest.mark.parametrize(("now", "want"), [
    (946684800 + 3600, "NOT_SET"),  # an ESP32 after power-on
    (1704067199, "NOT_SET"),
    (1735689600, "EARLY"),  # 2025: plausible, but before the certificate
    (1790000000, "OK"),
    (2000000000, "LATE"),
])
def test_state_table(tmp_path, now, want):
    out = run_fw(tmp_path, f"""import clock
s = clock.state({now}, 1764000000, 1900000000)
print(("NOT_SET", "EARLY", "LATE", "OK")[s], clock.TEXTS[s])
""")
    name, text = out.split(None, 1)
    assert name == want
    assert (text.strip() == "None") == (want == "OK")
