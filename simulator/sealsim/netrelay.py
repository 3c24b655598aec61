"""The network relay: the Wi-Fi access point and the internet behind it.

A `net` channel from the socket shim sends `ip port\\n`; the relay connects on the host
(loopback in tests), answers `0\\n` or an errno (`111` refused, `116` timed out, `118` no
route) and then copies bytes both ways, optionally after `delay` seconds each way (one FIFO,
so order is kept whatever the delay does meanwhile). Wi-Fi off tears down every relayed
connection and refuses new ones; `gen` counts on/off changes so the WLAN shim sees a lost
association even if Wi-Fi came back meanwhile.

It stands for the ESP32's Wi-Fi station, the access point and the route to the upstream.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from sealsim.link import Conn, Link

EPOCH_2000 = 946684800
_NET_KINDS = ("net", "net-out", "net-pending")


class NetRelay:
    def __init__(self, link: Link, cond: threading.Condition, event: Callable[[str], None],
                 *, wifi: bool, name: str):
        self.link = link
        self.cond = cond
        self.event = event
        self.name = name
        self.wifi = wifi
        self.gen = 0
        self.delay = 0.0
        self.stopped = False
        self.ntp = "ok"  # the NTP server: "ok" answers, "lost" never answers, "hang" (tests)
        self.dns_ok = True  # the access point's resolver answers
        self.connects = 0  # TCP connections the firmware asked for
        self._delayed: list[tuple[float, Conn, bytes]] = []
        self._delay_thread: threading.Thread | None = None
        link.channels["net"] = self

    # -- the Channel interface ------------------------------------------------------------
    def opened(self, conn: Conn, arg: str, rest: bytes) -> bool:
        conn.buf += rest
        if b"\n" in conn.buf:
            self._open(conn)
        return False  # the relay answers with the connect result, not b"+"

    def data(self, conn: Conn, data: bytes) -> None:
        if conn.kind == "net-out" or (conn.kind == "net" and conn.peer is not None):
            if conn.peer is not None:
                self._forward(conn.peer, data)
        elif conn.kind == "net":
            conn.buf += data
            if b"\n" in conn.buf:
                self._open(conn)
        # "net-pending": the shim waits for the answer before it sends; nothing to do

    def dropped(self, conn: Conn) -> None:
        pass

    # -- queries --------------------------------------------------------------------------
    def query_wifi(self, words: list[str]) -> bytes:
        return f"{int(self.wifi)}:{self.gen}".encode()

    def query_ntp(self, words: list[str]) -> bytes:
        """The true time if the NTP server answers; "noap" without Wi-Fi (the lookup fails
        at once), else `ntp` ("lost": no answer, the shim waits its timeout; "hang")."""
        if not self.wifi:
            return b"noap"
        if self.ntp != "ok":
            return self.ntp.encode()
        return str(int(time.time()) - EPOCH_2000).encode()

    def query_dns(self, words: list[str]) -> bytes:
        """Whether the access point's resolver answers (the shim resolves on the host)."""
        return b"ok" if self.dns_ok else b"fail"

    # -- the harness ----------------------------------------------------------------------
    def set_wifi(self, on: bool) -> None:
        with self.cond:
            if on == self.wifi:
                return
            self.wifi = on
            self.gen += 1
            self.event(f"wifi {'on' if on else 'off'}")
            if not on:
                self.link.drop_all(_NET_KINDS)

    def set_delay(self, seconds: float) -> None:
        self.delay = max(0.0, float(seconds))
        self.event(f"network delay {self.delay:g} s")

    # -- connecting and relaying ----------------------------------------------------------
    def _open(self, conn: Conn) -> None:
        # Connecting may take a while (an address nobody answers): not on the loop thread.
        line, _, rest = bytes(conn.buf).partition(b"\n")
        conn.buf = bytearray()
        conn.kind = "net-pending"
        threading.Thread(target=self._connect, args=(conn, line, rest), daemon=True,
                         name=f"sealsim-{self.name}-connect").start()

    def _connect(self, conn: Conn, line: bytes, rest: bytes) -> None:
        self.connects += 1
        try:
            host, port = line.decode().split()
            if not self.wifi:
                raise OSError(118, "EHOSTUNREACH")
            out = socket.create_connection((host, int(port)), timeout=5)
        except ConnectionRefusedError:
            conn.send(b"111\n")
            return
        except TimeoutError:
            conn.send(b"116\n")
            return
        except (OSError, ValueError):
            conn.send(b"118\n")
            return
        with self.cond:
            if conn not in self.link.conns or not self.wifi:  # gone meanwhile
                out.close()
                conn.send(b"118\n")
                return
            peer = self.link.adopt(out, "net-out", conn)
            conn.kind = "net"
            conn.send(b"0\n")
            if rest:
                peer.send(rest)

    def _forward(self, to: Conn, data: bytes) -> None:
        if self.delay <= 0 and not self._delayed:
            to.send(data)
            return
        with self.cond:
            self._delayed.append((time.monotonic() + self.delay, to, data))
            if self._delay_thread is None:
                self._delay_thread = threading.Thread(target=self._delay_loop, daemon=True,
                                                      name=f"sealsim-{self.name}-delay")
                self._delay_thread.start()
            self.cond.notify_all()

    def _delay_loop(self) -> None:
        # One FIFO for every relayed byte: order is kept whatever the delay does meanwhile.
        while not self.stopped:
            with self.cond:
                if not self._delayed:
                    self.cond.wait(0.1)
                    continue
                due, to, data = self._delayed[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self.cond.wait(min(wait, 0.1))
                    continue
                self._delayed.pop(0)
            to.send(data)
