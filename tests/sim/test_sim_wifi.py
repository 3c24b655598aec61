"""Wi-Fi off makes firmware sockets fail as on an ESP32; on again restores them."""

import socket
import socketserver
import threading

import pytest


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def echo_port():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


CONNECT = """
import socket, errno
def attempt(port):
    try:
        ai = socket.getaddrinfo("127.0.0.1", port)[0]
    except OSError as e:
        return "getaddrinfo %d" % e.errno
    s = socket.socket()
    try:
        s.connect(ai[-1])
    except OSError as e:
        return "connect " + errno.errorcode[e.errno]
    s.send(b"ping")
    return "echo " + s.recv(4).decode()
"""


def test_sockets_fail_like_esp32_when_wifi_is_off(sim_devices, echo_port):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.exec(CONNECT)
    assert dev.exec(f"print(attempt({echo_port}))").strip() == "echo ping"
    # A connection that is up when the access point goes away.
    dev.exec(f"s = socket.socket()\ns.connect(socket.getaddrinfo('127.0.0.1', {echo_port})[0][-1])"
             "\ns.send(b'abcd')\nprint(s.recv(4))")
    dev.set_wifi(False)
    assert dev.exec("import network\nw = network.WLAN(network.STA_IF)\nw.active(True)\n"
                    "w.connect('depot', 'pw')\nprint(w.isconnected(), w.status())"
                    ).split() == ["False", "201"]  # STAT_NO_AP_FOUND
    assert dev.exec(f"print(attempt({echo_port}))").strip() == "getaddrinfo -202"
    assert dev.exec("s2 = socket.socket()\ntry:\n"
                    f"    s2.connect(('127.0.0.1', {echo_port}))\n"
                    "except OSError as e:\n"
                    "    print(e.errno == errno.EHOSTUNREACH, errno.errorcode[e.errno])"
                    ).split() == ["True", "EHOSTUNREACH"]
    assert dev.exec("try:\n    s.recv(4)\nexcept OSError as e:\n"
                    "    print(e.errno == errno.ECONNABORTED, errno.errorcode[e.errno])"
                    ).split() == ["True", "ECONNABORTED"]
    dev.set_wifi(True)
    assert dev.exec(f"print(attempt({echo_port}))").strip() == "echo ping"
    # the driver reconnects by itself; association takes ESP32 time (1001: STAT_CONNECTING)
    assert dev.exec("print(w.isconnected(), w.status())").split() == ["False", "1001"]
    dev.exec("import time\nwhile not w.isconnected():\n    time.sleep_ms(50)")
    assert dev.exec("print(w.isconnected(), w.status())").split() == ["True", "1010"]


def test_wifi_loss_wakes_a_blocked_asyncio_reader(sim_devices, echo_port):
    main = f"""
import asyncio, errno
async def main():
    r, w = await asyncio.open_connection("127.0.0.1", {echo_port})
    w.write(b"hi")
    await w.drain()
    print("got", await r.read(2))
    print("waiting")
    try:
        data = await r.read(10)
        print("read returned", data)
    except OSError as e:
        print("aborted", e.errno == errno.ECONNABORTED)
asyncio.run(main())
"""
    dev = sim_devices(firmware=None, files={"main.py": main})
    dev.wait_for("waiting")
    assert b"got b'hi'" in dev.output
    dev.set_wifi(False)
    dev.wait_for("aborted True")


def test_refused_connection_is_econnrefused(sim_devices):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.exec(CONNECT)
    assert dev.exec(f"print(attempt({port}))").strip() == "connect ECONNREFUSED"


def test_tls_runs_over_the_simulated_wifi(sim_devices, tmp_path):
    # The device's own mbedTLS (the `tls` module) works through the socket shim and relay.
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(30)

    def serve():
        for _ in range(2):
            conn, _ = listener.accept()
            with ctx.wrap_socket(conn, server_side=True) as t:
                t.sendall(b"hello " + t.recv(10))

    threading.Thread(target=serve, daemon=True).start()
    der = cert.public_bytes(serialization.Encoding.DER)
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    port = listener.getsockname()[1]
    out = dev.exec(f"""
import asyncio, socket, tls
c = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
c.load_verify_locations({der!r})
s = socket.socket()
s.connect(socket.getaddrinfo('127.0.0.1', {port})[0][-1])
t = c.wrap_socket(s, server_hostname='localhost')
t.write(b'tls')
print(t.read(9))

async def main():  # non-blocking, as an uplink task would do it
    r, w = await asyncio.open_connection('127.0.0.1', {port}, ssl=c,
                                         server_hostname='localhost')
    w.write(b'async')
    await w.drain()
    print(await r.read(11))

asyncio.run(main())
""")
    listener.close()
    assert out.splitlines() == ["b'hello tls'", "b'hello async'"]


def test_network_delay_delays_but_keeps_every_byte_in_order(sim_devices, echo_port):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.set_net_delay(0.3)
    out = dev.exec(f"""
import socket, time
s = socket.socket()
s.connect(socket.getaddrinfo('127.0.0.1', {echo_port})[0][-1])
t = time.ticks_ms()
for i in range(20):
    s.send(b'%02d' % i)
got = b''
while len(got) < 40:
    got += s.recv(40)
print(got.decode(), time.ticks_diff(time.ticks_ms(), t))
""")
    data, elapsed = out.split()
    assert data == "".join(f"{i:02d}" for i in range(20))
    assert int(elapsed) >= 600  # a lower bound only: out and back, 0.3 s each way
