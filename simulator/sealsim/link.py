"""The link: the unix socket the MicroPython shims connect to, one connection per channel.

Each shim connection starts with one line naming its channel (see shims/_simlink.py):

    bus\\n        framed peripheral traffic, device -> host  op:u8 len:u32le payload;
                 a reply (reads, queries, calls) is  len:u32le payload
    uartN [baud]\\n  raw bytes of UART N
    net\\n         one TCP connection through the simulated access point

The link knows the framing, not the peripherals: `bus_ops` maps a bus op to whoever handles
it, `channels` maps a channel name to a `Channel` (UART models, the network relay). A wired
channel other than `net` is acknowledged with b"+". The link also owns the selector the
supervisor thread waits on; the console registers its pty fds here.

It stands for the ESP32's pins, buses and UART lines: the wires between the chip and its
peripherals.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from collections.abc import Callable
from typing import Protocol


class Conn:
    """One shim wire. Sends never block the supervisor: what the socket does not take now
    waits in `out` and goes when the selector says the socket is writable."""

    _MAX_OUT = 16 << 20

    def __init__(self, sock: socket.socket, sel: selectors.BaseSelector):
        sock.setblocking(False)
        self.sock = sock
        self.sel = sel
        self.kind = ""
        self.buf = bytearray()
        self.out = bytearray()
        self.peer: Conn | None = None
        self.lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self.lock:
            if len(self.out) + len(data) > self._MAX_OUT:
                return  # nobody reads this wire: drop, like an overrun UART FIFO
            self.out += data
            self._flush()

    def flush(self) -> None:
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        try:
            while self.out:
                n = self.sock.send(self.out)
                del self.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            self.out.clear()
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        with contextlib.suppress(KeyError, ValueError, OSError, RuntimeError):  # closed
            if self.sel.get_key(self.sock).events != events:
                self.sel.modify(self.sock, events, self)


class Channel(Protocol):
    """What sits at the far end of a named channel."""

    def opened(self, conn: Conn, arg: str, rest: bytes) -> bool:
        """A shim connected (`arg`: the rest of its first line, `rest`: bytes after it).
        True: acknowledge with b"+" and pass `rest` to `data`; False: the channel answers
        itself."""
        ...

    def data(self, conn: Conn, data: bytes) -> None: ...

    def dropped(self, conn: Conn) -> None: ...


BusOp = Callable[[bytes], "bytes | None"]


class Link:
    """The listening socket, its connections and the selector the supervisor waits on."""

    def __init__(self, path: str, on_error: Callable[[str], None]):
        self.path = path
        self.sel = selectors.DefaultSelector()
        self.conns: set[Conn] = set()
        self.channels: dict[str, Channel] = {}
        self.bus_ops: dict[str, BusOp] = {}
        self._on_error = on_error
        self._fds: dict[int, Callable[[], None]] = {}
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(16)
        self._listener.setblocking(False)
        self.sel.register(self._listener, selectors.EVENT_READ, "listen")

    def watch(self, fd: int, on_readable: Callable[[], None]) -> None:
        """Call `on_readable` from the supervisor thread whenever `fd` has input."""
        self._fds[fd] = on_readable
        self.sel.register(fd, selectors.EVENT_READ, fd)

    def adopt(self, sock: socket.socket, conn_kind: str, peer: Conn) -> Conn:
        """Put an outside socket (a relayed TCP connection) on the selector, paired with
        `peer`: bytes from it go to `peer`'s channel's `data`."""
        conn = Conn(sock, self.sel)
        conn.kind = conn_kind
        conn.peer, peer.peer = peer, conn
        self.conns.add(conn)
        self.sel.register(sock, selectors.EVENT_READ, conn)
        return conn

    def poll(self, timeout: float) -> None:
        """Serve every wire that is ready (at most `timeout` s of waiting)."""
        for key, mask in self.sel.select(timeout=timeout):
            try:
                if mask & selectors.EVENT_WRITE and isinstance(key.data, Conn):
                    key.data.flush()
                if mask & selectors.EVENT_READ:
                    self._ready(key)
            except Exception as e:  # keep the board alive whatever one wire does
                self._on_error(f"supervisor error: {e!r}")

    def _ready(self, key: selectors.SelectorKey) -> None:
        tag = key.data
        if tag == "listen":
            sock, _ = self._listener.accept()
            conn = Conn(sock, self.sel)
            self.conns.add(conn)
            self.sel.register(sock, selectors.EVENT_READ, conn)
        elif isinstance(tag, int):
            self._fds[tag]()
        else:
            conn: Conn = tag
            try:
                data = conn.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.drop(conn)
                return
            self._from_conn(conn, data)

    def drop(self, conn: Conn) -> None:
        if conn not in self.conns:
            return
        self.conns.discard(conn)
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(conn.sock)
        conn.sock.close()
        channel = self.channels.get(conn.kind.split("-")[0])
        if channel is not None:
            channel.dropped(conn)
        if conn.peer is not None:
            peer, conn.peer, peer.peer = conn.peer, None, None
            self.drop(peer)

    def drop_all(self, kinds: tuple[str, ...] | None = None) -> None:
        """Cut every wire (of `kinds`, if given): the process at their far end is gone."""
        for c in list(self.conns):
            if kinds is None or c.kind in kinds:
                self.drop(c)

    def _from_conn(self, conn: Conn, data: bytes) -> None:
        if not conn.kind:
            conn.buf += data
            if b"\n" not in conn.buf:
                return
            line, _, rest = bytes(conn.buf).partition(b"\n")
            conn.kind, _, arg = line.decode("ascii", "replace").partition(" ")
            conn.buf = bytearray()
            channel = self.channels.get(conn.kind)
            if channel is not None and not channel.opened(conn, arg, rest):
                return
            conn.send(b"+")  # wired: the shim may use the channel now
            data = rest
            if not data:
                return
        if conn.kind == "bus":
            conn.buf += data
            self._bus(conn)
            return
        channel = self.channels.get(conn.kind.split("-")[0])
        if channel is not None:
            channel.data(conn, data)
        # a UART with nothing wired to it: bytes are dropped like on an open line

    def _bus(self, conn: Conn) -> None:
        buf = conn.buf
        while len(buf) >= 5:
            op, n = struct.unpack_from("<BI", buf)
            if len(buf) < 5 + n:
                return
            payload = bytes(buf[5:5 + n])
            del buf[:5 + n]
            handler = self.bus_ops.get(chr(op))
            reply = handler(payload) if handler is not None else None
            if reply is not None:
                conn.send(struct.pack("<I", len(reply)) + reply)

    def close(self) -> None:
        self.sel.close()
        for c in list(self.conns):
            self.drop(c)
        self._listener.close()
