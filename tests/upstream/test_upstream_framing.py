"""Malformed HTTP framing against the real `serve` process over TLS (issue 14.4): a
Content-Length short or long, pipelined requests, chunked bodies good and bad, hang-ups in
the headers and the body, garbage request lines. Canary identity data sits in the request
bytes and headers of every case; afterwards every line the server wrote is a JSON event
with an ISO timestamp, none holds a canary (in UTF-8, hex or base64), and the connection
errors are counted under their own reasons, never as `503 internal`."""

import base64
import json
import re
import socket
import ssl
import time

import pytest
from upkit import (
    CANARY_ID,
    CANARY_NAME,
    CANARY_PHONE,
    CANARY_WAYBILL,
    ServerProcess,
    client_for,
    make_state,
    record,
    register,
    token,
)

CANARIES = [CANARY_ID, CANARY_NAME, CANARY_PHONE, CANARY_WAYBILL]


def encodings(text):
    raw = text.encode()
    return {raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)}


def connect(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # framing, not the pin, is under test here
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def head(length, extra=b""):
    return (b"POST /v1/batches HTTP/1.1\r\nHost: upstream\r\nContent-Type: application/cbor\r\n"
            b"X-Sender: " + CANARY_NAME.encode() + b" " + CANARY_ID.encode() + b"\r\n"
            + extra + (b"Content-Length: %d\r\n" % length if length is not None else b"")
            + b"\r\n")


def read_all(sock, timeout=10.0):
    """Everything the server sends until it closes (or the timeout)."""
    sock.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ssl.SSLError, ConnectionError):
            break
        if not chunk:
            break
        out += chunk
    return out


def statuses(data):
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3})", data)]


@pytest.fixture
def served(tmp_path):
    cfg = make_state(tmp_path, device_rate=1e9, device_burst=10**9)
    dev, = register(cfg, "dev-a")
    log = tmp_path / "upstream.log"
    server = ServerProcess(cfg, log)
    yield cfg, dev, server, log
    server.stop()


def canary_body(dev):
    """A real batch whose records carry the canary identity; its device id is the canary
    id number (a client-chosen id the registry does not know)."""
    tok = token(name=CANARY_NAME, id_number=CANARY_ID, phone=CANARY_PHONE)
    sealed = dev.seal([record(tok, waybill=CANARY_WAYBILL) for _ in range(2)])
    return dev.body(sealed), dev.body(sealed, device_id=CANARY_ID)


def test_malformed_framing_is_counted_and_never_logged(served):
    cfg, dev, server, log = served
    good, foreign = canary_body(dev)

    # 1. Content-Length a few bytes short: the tail is parsed as the next request
    with connect(server.port) as s:
        s.sendall(head(len(foreign) - 7) + foreign)
        short = statuses(read_all(s))
    assert set(short) <= {400, 403}  # aiohttp may close before answering the first

    # 2. Content-Length longer than the body, then the client hangs up
    with connect(server.port) as s:
        s.sendall(head(len(good) + 500) + good)
        time.sleep(0.3)
    # 3. pipelining: two complete requests in one write, answered in order
    with connect(server.port) as s:
        s.sendall(head(len(good)) + good + head(len(foreign)) + foreign)
        piped = statuses(read_all(s, timeout=3))
    assert piped == [200, 403]
    # 4. chunked transfer encoding: a good one is a batch like any other
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(good[i:i + 50]), good[i:i + 50])
                       for i in range(0, len(good), 50)) + b"0\r\n\r\n"
    with connect(server.port) as s:
        s.sendall(head(None, b"Transfer-Encoding: chunked\r\nConnection: close\r\n") + chunked)
        assert statuses(read_all(s)) == [200]
    # 5. a broken chunk size with canary bytes after it
    with connect(server.port) as s:
        s.sendall(head(None, b"Transfer-Encoding: chunked\r\n") + b"zz" + CANARY_ID.encode()
                  + b"\r\n" + good + b"\r\n0\r\n\r\n")
        assert set(statuses(read_all(s))) <= {400}  # answered 400 or closed
    # 6. hang-ups: inside the headers, and half-way through the body
    with connect(server.port) as s:
        s.sendall(head(len(good))[:40])
    with connect(server.port) as s:
        s.sendall(head(len(good)) + good[:len(good) // 2])
        time.sleep(0.2)
    # 7. garbage request lines and headers quoting the canary
    for junk in (CANARY_ID.encode() + b" /v1/batches HTTP/1.1\r\n\r\n",
                 b"POST /v1/batches HTTP/1.1\r\n" + CANARY_NAME.encode() + b"\r\n\r\n",
                 b"POST /v1/batches?" + CANARY_PHONE.encode() + b" HTTP/9.9\r\n\r\n",
                 b"POST /v1/batches HTTP/1.1\r\nContent-Length: -" + CANARY_ID.encode()[:6]
                 + b"\r\n\r\n"):
        with connect(server.port) as s:
            s.sendall(junk)
            assert set(statuses(read_all(s))) <= {400}, junk  # answered 400 or closed

    client = client_for(cfg, server.port)  # still serving devices
    assert dev.answer(client.post_batch(dev.body(dev.seal([record()])))[1]).ack
    metrics = client.request("GET", "/metrics")[1].decode()
    time.sleep(0.5)  # let the hang-ups' connection_lost run
    metrics = client.request("GET", "/metrics")[1].decode()
    server.stop()

    counts = {m.group(1): float(m.group(2)) for m in re.finditer(
        r'sealscan_connection_errors_total\{reason="(\w+)"\} (\S+)', metrics)}
    assert counts["protocol"] >= 5  # short CL tail, bad chunk, garbage lines
    assert counts["hangup"] >= 2  # long CL, half a body
    assert counts["internal"] == 0
    assert 'sealscan_batches_total{status="503"} 0' in metrics

    lines = log.read_bytes().splitlines()
    assert len(lines) > 10
    for line in lines:
        event = json.loads(line)  # every line is a JSON object
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ts"]), event
        for canary in CANARIES:
            for enc in encodings(canary):
                assert enc not in line, (canary, line)
    events = [json.loads(x) for x in lines]
    assert any(e["event"] == "batch" and e.get("client", "").startswith("127.0.0.1:")
               for e in events)
    assert any(e["event"] == "connection-error" and e["reason"] == "protocol" for e in events)
