"""The simulator's interpreter is the boards' release built like the esp32 port
(simulator/interp): v1.28.0, 32-bit, mpy-cross from the same source, the board's RAM as one
budget that mbedTLS shares, and a device clock that mbedTLS's certificate checks follow."""

import datetime
import re
import socket
import ssl
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sealscan import boards, fwtools
from sealsim import micropython as mp
from sealsim.ramclock import EPOCH_2000, DeviceRecord, budget_env

RELEASE_DATE = "20260406"  # v1.28.0: tag e0e9fbb17e, released 2026-04-06


def test_interpreter_is_v1_28_0_32_bit_esp32sim():
    info = mp.interp_info()
    assert info["release"] == mp.RELEASE == "1.28.0"
    assert info["word_bits"] == 32
    assert info["variant"] == "esp32sim"
    assert str(info["path"]).endswith("build/interp/bin/micropython")


def test_mpy_cross_is_the_same_release():
    out = subprocess.run([fwtools.mpy_cross_exe(), "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert "MicroPython v1.28.0" in out and "mpy v6" in out, out


def test_boards_pin_the_release_images():
    # Release images: <BOARD>[-<VARIANT>]-<YYYYMMDD>-v<X.Y.Z>.bin (micropython.org), dated by
    # the release.
    names = {b.chip: b.image for b in boards.load_all()}
    assert names["esp32"] == f"ESP32_GENERIC-{RELEASE_DATE}-v1.28.0.bin"
    assert names["esp32s3"] == f"ESP32_GENERIC_S3-SPIRAM_OCT-{RELEASE_DATE}-v1.28.0.bin"
    for image in names.values():
        assert re.fullmatch(rf"ESP32_GENERIC[A-Z0-9_-]*-{RELEASE_DATE}-v{mp.RELEASE}\.bin", image)


# ---- TLS against the real mbedTLS inside the interpreter ----

@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A loopback TLS server whose certificate is valid from yesterday for 30 days."""
    d = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "upstream.test")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("upstream.test")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (d / "cert.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True) as s:
                    s.sendall(b"hello")
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1], d / "cert.der"
    stop.set()
    srv.close()


_CLIENT = """
import socket, tls, time, _sealsim
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(open(%r, 'rb').read())
print('clock', time.gmtime()[:3])
before = _sealsim.mem()
s = socket.socket()
s.connect(socket.getaddrinfo('127.0.0.1', %d)[0][-1])
try:
    ss = ctx.wrap_socket(s, server_hostname='upstream.test')
    print('read', ss.read(5), 'tls', _sealsim.mem()[6] - before[6])
    ss.close()
except Exception as e:
    print('failed', type(e).__name__, e)
m = _sealsim.mem()
print('marks tls_peak', m[7], 'used_peak', m[3], 'budget', m[0], 'refused', m[10])
"""


def _connect(tmp_path, server, *, ram: int = 1 << 20, clock: float | None = None):
    port, der = server
    rec = DeviceRecord(tmp_path / "device.rec")
    if clock is not None:
        rec.set_clock(clock)
    proc = mp.run(["-c", _CLIENT % (str(der), port)], heap_bytes=56 * 1024,
                  path=mp.module_path(shims=False), timeout=60,
                  env=budget_env(ram, 0, rec.path))
    out = proc.stdout.decode() + proc.stderr.decode()
    return out, rec.marks()


def test_tls_allocations_are_charged_to_the_board_budget(tmp_path, tls_server):
    out, marks = _connect(tmp_path, tls_server)
    assert "read b'hello'" in out, out
    # mbedTLS's blocks (16 KiB in-record buffer, 4 KiB out, handshake state) came out of the
    # budget, not the MicroPython heap: the heap never grew past its first area.
    assert marks.tls_peak > 20 * 1024, marks
    assert marks.used_peak >= marks.heap_peak + marks.tls_peak - 2048, marks
    # Closing gives the connection's blocks back; the context keeps its parsed CA and RNG.
    assert marks.tls < 2048 and marks.refused == 0, marks


def test_tls_fails_visibly_when_the_budget_is_exhausted(tmp_path, tls_server):
    out, marks = _connect(tmp_path, tls_server, ram=56 * 1024 + 12 * 1024)
    assert "failed OSError" in out and "12" in out.split("failed OSError")[1], out  # ENOMEM
    assert marks.refused >= 1 and marks.used_peak <= marks.budget, marks


def test_power_on_clock_makes_the_certificate_not_yet_valid(tmp_path, tls_server):
    # An ESP32's clock reads 2000-01-01 after power-on; mbedTLS checks the certificate's dates
    # against it (ports/esp32/main.c), so TLS fails until the clock is set.
    out, _ = _connect(tmp_path, tls_server, clock=EPOCH_2000)
    assert "clock (2000, 1, 1)" in out, out
    assert "failed" in out and "validity starts in the future" in out, out
    # One year past the certificate: expired by the device clock.
    late = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=400)
    out, _ = _connect(tmp_path, tls_server, clock=late.timestamp())
    assert "failed" in out and "has expired" in out, out
    # Set right (as NTP would): the same connection works.
    now = datetime.datetime.now(datetime.UTC)
    out, _ = _connect(tmp_path, tls_server, clock=now.timestamp())
    assert "read b'hello'" in out, out


def test_device_clock_steps_while_ticks_stay_monotonic(tmp_path):
    rec = DeviceRecord(tmp_path / "device.rec")
    rec.set_clock(EPOCH_2000 + 100)
    later = EPOCH_2000 + 86400 * 365 * 30
    code = ("import time, _sealsim\nt0 = time.ticks_ms(); a = time.time()\n"
            f"_sealsim.clock({later})\nb = time.time(); t1 = time.ticks_ms()\n"
            "print(a, b, time.ticks_diff(t1, t0) >= 0, time.localtime(b)[:3])")
    proc = mp.run(["-c", code], heap_bytes=56 * 1024, path=mp.module_path(shims=False),
                  env=budget_env(1 << 20, 0, rec.path))
    a, b, mono, *date = proc.stdout.decode().split(maxsplit=3)
    assert 100 <= int(a) < 110 and mono == "True", proc.stdout
    assert int(b) >= 86400 * 365 * 30 and date[0].strip() == "(2029, 12, 24)", proc.stdout
    assert abs(rec.device_time() - (EPOCH_2000 + 86400 * 365 * 30)) < 10


def test_sim_info_json_names_the_interpreter_and_the_memory_model():
    import json
    import sys

    proc = subprocess.run([sys.executable, "-m", "sealscan", "sim", "info", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    board = boards.load_board(info["board"])
    assert info["interpreter"]["release"] == "1.28.0"
    assert info["interpreter"]["word_bits"] == 32
    assert info["interpreter"]["path"] == mp.micropython_exe()
    assert info["memory"]["ram_bytes"] == board.memory.ram_bytes
    assert info["memory"]["wifi_bytes"] == board.memory.wifi_bytes
    assert info["memory"]["initial_heap_bytes"] == board.memory.initial_heap_bytes


def test_harness_lets_time_pass_for_ticks_and_clock_together(tmp_path):
    import time

    rec = DeviceRecord(tmp_path / "device.rec")
    code = ("import sys, time\na = time.ticks_ms(); t = time.time()\nsys.stdin.readline()\n"
            "print(time.ticks_diff(time.ticks_ms(), a), time.time() - t)")
    proc = subprocess.Popen(mp.command(["-c", code], 64 * 1024),
                            env=mp.environment(".frozen", budget_env(1 << 20, 0, rec.path)),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    time.sleep(0.5)
    rec.pass_time(3600)
    out, _ = proc.communicate(b"\n", timeout=30)
    ticks, wall = map(int, out.split())
    assert 3600_000 <= ticks < 3630_000 and 3600 <= wall < 3630, out
    with pytest.raises(ValueError):
        rec.pass_time(-1)  # ticks only move forward
