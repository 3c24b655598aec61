"""The console: the board's USB serial port, as a pty (`Console.port`).

Two ptys: the **port** (what a terminal or mpremote opens) and the **child** pty that is the
MicroPython process's stdin/stdout. The console relays between them, keeps everything the
device printed in `output`, and emulates what the ESP32 port's REPL does differently from
the unix port's:

- Ctrl-C interrupts running code (sealsim.interrupt) and is an ordinary byte for the REPL;
- a soft reboot (`soft_reboot()`) prints `MPY: soft reboot`, and if mpremote had the raw
  REPL open (its banner seen, no Ctrl-B since), the console hides the new process's friendly
  banner and re-enters raw REPL for it, as the board stays in raw REPL across a soft reset.

It stands for the ESP32's UART0 behind the USB-serial bridge, and the REPL on it.
"""

from __future__ import annotations

import os
import pty
import select
import termios
import threading
from collections.abc import Callable

from sealsim.interrupt import interrupt
from sealsim.link import Link

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SOFT_REBOOT = b"MPY: soft reboot\r\n"
_MAX_OUTPUT = 4 << 20


def raw_tty(fd: int) -> None:
    # No ISIG: the kernel never turns Ctrl-C into SIGINT by itself. The unix port restores
    # the default SIGINT action between REPL lines, so a Ctrl-C arriving there (mpremote
    # sends "\r\x03" at once) would kill the process. The console sends SIGINT only while
    # MicroPython catches it (see Console.type).
    attrs = termios.tcgetattr(fd)
    attrs[0] = 0  # iflag: no CR/NL translation, no flow control
    attrs[1] = 0  # oflag: OPOST off, so \n is not turned into \r\n a second time
    attrs[2] = (attrs[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8 | termios.CREAD
    attrs[3] = 0  # lflag: no echo, no canonical mode, no signals
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class Console:
    def __init__(self, link: Link, cond: threading.Condition, pid: Callable[[], int | None]):
        self.cond = cond
        self._pid = pid  # the running MicroPython process, if any
        self.output = bytearray()  # everything the device printed on its console
        self.raw = False  # mpremote has the raw REPL open
        self.swallow: bytearray | None = None  # hiding a reboot banner, then raw REPL again
        self.booted = False  # the shims are imported and the flash mounted (_simboot says so)
        self._ctrl_c_pending = False  # a Ctrl-C that arrived before that, held until then
        self._tail = b""
        self._out_q = bytearray()
        # One input order: bytes a port client (mpremote) wrote go to the device before
        # anything typed from the host side after it (see type_after_port).
        self._in_lock = threading.Lock()
        self.child_master, self.child_slave = pty.openpty()
        raw_tty(self.child_slave)
        self._port_master, self._port_slave = pty.openpty()
        raw_tty(self._port_slave)
        os.set_blocking(self._port_master, False)
        self.port = os.ttyname(self._port_slave)
        link.watch(self.child_master, self._child_readable)
        link.watch(self._port_master, self._port_readable)

    def fresh_child_tty(self) -> int:
        """The child pty, flushed and raw again (whatever the last process left it in)."""
        self.booted, self._ctrl_c_pending = False, False
        try:
            termios.tcflush(self.child_slave, termios.TCIOFLUSH)
            raw_tty(self.child_slave)
        except termios.error:
            pass
        return self.child_slave

    def boot_done(self) -> None:
        """The device's boot (shims, flash mount) is over: a Ctrl-C held meanwhile lands now."""
        self.booted = True
        pid = self._pid()
        if self._ctrl_c_pending and pid is not None:
            self._ctrl_c_pending = False
            if not interrupt(pid):
                os.write(self.child_master, b"\x03")

    def soft_reboot(self) -> bool:
        """Print the soft-reboot line; True if the next process must come up in raw REPL
        (start it without main.py: the console re-enters raw REPL once its banner shows)."""
        self.write(SOFT_REBOOT)
        if self.raw:
            self.swallow = bytearray()
            return True
        return False

    def hard_reset(self, rom_banner: bytes) -> None:
        self.write(rom_banner)
        self.raw = False

    def close(self) -> None:
        for fd in (self.child_master, self.child_slave, self._port_master, self._port_slave):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- device -> port ---------------------------------------------------------------------
    def _child_readable(self) -> None:
        try:
            data = os.read(self.child_master, 65536)
        except OSError:
            return
        self._from_child(data)

    def drain_child(self) -> None:
        """Everything the (ended) process left in the pty."""
        while True:
            try:
                ready = select.select([self.child_master], [], [], 0)[0]
                data = os.read(self.child_master, 65536) if ready else b""
            except OSError:
                return
            if not data:
                return
            self._from_child(data)

    def _from_child(self, data: bytes) -> None:
        if self.swallow is not None:
            self.swallow += data
            if b">>> " in self.swallow:
                self.swallow = None
                os.write(self.child_master, b"\x01")  # back into raw REPL for mpremote
            return
        tail = self._tail + data
        if RAW_BANNER in tail:
            self.raw = True
        elif b'Type "help()"' in tail:
            self.raw = False
        self._tail = tail[-64:]
        self.write(data)

    def write(self, data: bytes) -> None:
        """Bytes on the console as if the device printed them."""
        with self.cond:
            if len(self.output) < _MAX_OUTPUT:
                self.output += data
            self._out_q += data
            if len(self._out_q) > (1 << 20):
                del self._out_q[: len(self._out_q) - (1 << 20)]
            self.cond.notify_all()
        self.flush_port()

    def flush_port(self) -> None:
        while self._out_q:
            try:
                n = os.write(self._port_master, self._out_q[:4096])
            except BlockingIOError:
                return
            except OSError:
                self._out_q.clear()
                return
            del self._out_q[:n]

    # -- port -> device ---------------------------------------------------------------------
    def _port_readable(self) -> None:
        with self._in_lock:
            self._take_port_input()

    def _take_port_input(self) -> bool:
        try:
            data = os.read(self._port_master, 65536)
        except (BlockingIOError, OSError):
            return False
        if not data:
            return False
        if b"\x02" in data:
            self.raw = False
        if self._pid() is not None and self.swallow is None:
            self.type(data)
        return True

    def type_after_port(self, data: bytes, settle: float = 0.02) -> None:
        """Type `data` after everything a port client has written so far: a client that
        just exited (mpremote's closing Ctrl-B) may still have bytes in the pty, and they
        must not overtake what is typed now. `settle`: how long the pty may be quiet before
        it counts as empty (the kernel hands pty writes over asynchronously)."""
        with self._in_lock:
            while select.select([self._port_master], [], [], settle)[0]:
                if not self._take_port_input():
                    break
            self.type(data)

    def type(self, data: bytes) -> None:
        """Input for the MicroPython process. Ctrl-C interrupts running code (SIGINT, while
        MicroPython has its handler installed and waits: see sealsim.interrupt) and is an
        ordinary byte for the REPL."""
        pid = self._pid()
        chunks = data.split(b"\x03")
        for i, chunk in enumerate(chunks):
            if i and not self.booted:
                self._ctrl_c_pending = True  # delivered by boot_done()
            elif i and not (pid is not None and interrupt(pid)):
                chunk = b"\x03" + chunk
            view = memoryview(chunk)
            while view:
                n = os.write(self.child_master, view)
                view = view[n:]
