"""A minimal CPython client of the upstream, for tests, benches and host tools: pinned TLS
(the certificate `sealscan upstream init` printed the pin of) and one kept-alive
connection. The device firmware has its own client; this one follows the same rules."""

from __future__ import annotations

import hashlib
import http.client
import ssl

from sealscan.upstream.errors import UpstreamConfigError


def pinned_ssl_context(cert_pem: bytes) -> ssl.SSLContext:
    """Trust exactly this certificate (self-signed or not); `BatchClient` also checks the
    SHA-256 pin of what the server presents when it is given one."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=cert_pem.decode())
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def check_pin(sock: ssl.SSLSocket, pin_sha256: str) -> None:
    der = sock.getpeercert(binary_form=True) or b""
    if hashlib.sha256(der).hexdigest() != pin_sha256.lower():
        raise UpstreamConfigError("server certificate does not match the pin")


class BatchClient:
    """POST /v1/batches over one persistent HTTPS connection (reconnects when it drops)."""

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None,
                 pin_sha256: str | None = None, timeout: float = 30.0):
        self.host, self.port, self.ctx = host, port, ssl_context
        self.pin, self.timeout = pin_sha256, timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.ctx is None:
            return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                           timeout=self.timeout)
        conn.connect()
        if self.pin:
            assert isinstance(conn.sock, ssl.SSLSocket)
            check_pin(conn.sock, self.pin)
        return conn

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, retry: bool = True
                ) -> tuple[int, bytes]:
        """One request; a kept-alive connection the server closed is reopened once (safe:
        batches are idempotent). `retry=False` lets the caller see the failure."""
        for attempt in (0, 1) if retry else (1,):
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request(method, path, body=body,
                                  headers={"Content-Type": "application/cbor", **(headers or {})})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post_batch(self, body: bytes, retry: bool = True) -> tuple[int, bytes]:
        return self.request("POST", "/v1/batches", body, retry=retry)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
