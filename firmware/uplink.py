# Uploads sealed batches to the upstream (docs/protocol.md §5-6) over HTTPS with the pinned
# certificate; the answer body goes to Sealer.settle, which drops records only if its MAC
# verifies.
#
#   POST /v1/batches HTTP/1.1            answer: HTTP/1.1 200 ...      body: CBOR answer map
#   Host: <host>                                 Content-Length: n
#   Content-Type: application/cbor       anything else (4xx/5xx, network error, timeout, a
#   Content-Length: <n>                  garbled or forged body) drops nothing: the records
#   Connection: close                    stay queued and are sent again after a backoff.
#
#   <batch body streamed from the queue>
#
# A 403's body is read too: it may be a revocation (revoke.py), which the app acts on only if
# its MAC verifies for this device and session.
import asyncio
import time

import tls
from micropython import const

_MAX_ANSWER = const(8192)
_MAX_HEADER = const(512)
_TIMEOUT_S = const(15)


class UplinkError(Exception):
    pass


def ssl_context(cert_der):
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    # PROTOCOL_TLS_CLIENT verifies by default (CERT_REQUIRED): the pin is the only CA
    ctx.load_verify_locations(cert_der)  # native tls: positional cadata (DER)
    return ctx


async def _post(addr, host, port, ctx, b):
    # addr: the address to connect to (resolved beforehand: no DNS here); host: the name the
    # certificate and the Host header carry
    t0 = time.ticks_ms()
    reader, writer = await asyncio.open_connection(addr, port, ssl=ctx, server_hostname=host)
    try:
        writer.write(b"POST /v1/batches HTTP/1.1\r\nHost: %s\r\n"
                     b"Content-Type: application/cbor\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % (host.encode(), b.length()))
        await writer.drain()  # done once the handshake is: nothing is sent before it
        tls_ms = time.ticks_diff(time.ticks_ms(), t0)  # TCP connect + TLS handshake
        for chunk in b.chunks():
            writer.write(chunk)
            await writer.drain()
        status_line = await reader.readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise UplinkError("not an HTTP answer")
        try:
            status = int(parts[1])
        except ValueError:
            raise UplinkError("bad HTTP status")
        length = -1
        while True:
            h = await reader.readline()
            if not h:
                raise UplinkError("truncated headers")
            if len(h) > _MAX_HEADER:
                raise UplinkError("header too long")
            if h in (b"\r\n", b"\n"):
                break
            k, _, v = h.partition(b":")
            if k.strip().lower() == b"content-length":
                try:
                    length = int(v.strip())
                except ValueError:
                    raise UplinkError("bad content-length")
        if status != 200 and status != 403:  # a 403 may be a revocation: revoke.py
            return status, None, tls_ms
        if not 0 <= length <= _MAX_ANSWER:
            raise UplinkError("answer length")
        body = await reader.readexactly(length)
        return status, body, tls_ms
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def post_batch(addr, host, port, ctx, b):
    """(HTTP status, body or None: a 200's or a 403's, ms the TCP connect and TLS handshake
    took); UplinkError/OSError/TimeoutError on failure."""
    return await asyncio.wait_for(_post(addr, host, port, ctx, b), _TIMEOUT_S)

