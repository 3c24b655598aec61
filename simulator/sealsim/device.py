"""A simulated sealscan handheld: the MicroPython unix port plus host-side peripherals.

One `Device` is one board. It owns:

- a **state directory** standing in for the flash (COMMON layout): `fs/` is the device
  filesystem root (MicroPython sees it as `/`), `nvs/` the esp32.NVS namespaces (one file
  each, written on every set, every write journaled in `Device.writes`), `rtc.bin` the RTC
  memory, `flash.bin` (written by the ROM bootloader simulator, if used);
- a **run directory** (RAM and wires, lost on power cut): `link.sock`, the unix socket the
  MicroPython shims connect to. Each shim connection starts with one line naming its channel:
  `bus` (framed pin/PWM/I2C/SPI/RPC traffic, see shims/_simlink.py), `uartN` (raw UART bytes;
  the board's scan-engine UART is wired to the GM65 model), `net` (a TCP connection through
  the simulated access point: the relay connects to `ip port` and copies bytes; Wi-Fi off
  closes every relayed connection and refuses new ones);
- a **console** on a pty (`Device.port`) that behaves like the board's USB serial port: the
  supervisor relays it to the MicroPython REPL on a second pty, turns a Ctrl-D exit into
  `MPY: soft reboot` plus a restart (re-entering raw REPL when mpremote was in it), and
  turns machine.reset()/deepsleep()/watchdog expiry into a restart with the right reset cause.

A power cut kills the process (RAM lost); the state directory stays; `power_on()` boots from it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import platform
import pty
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sealscan.boards import Board, load_board
from sealscan.paths import SHIMS_DIR
from sealsim import micropython as mp
from sealsim.display import Panel, make_panel, terminal_lines
from sealsim.gm65 import GM65
from sealsim.speed import DeviceClock, cost_ms
from sealsim.uartline import UartLine

# Scan engine models by the board file's `scan_engine.model`.
SCAN_ENGINES = {"gm65": GM65}
EPOCH_2000 = 946684800
PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
_EXIT_RESET, _EXIT_SOFT, _EXIT_SLEEP, _EXIT_WDT = 90, 91, 92, 93
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SOFT_REBOOT = b"MPY: soft reboot\r\n"
_ROM_RESET = (b"\r\nets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 "
              b"(SPI_FAST_FLASH_BOOT)\r\n")
_ROM_WDT = (b"\r\nets Jun  8 2016 00:22:57\r\n\r\nrst:0x10 (RTCWDT_RTC_RESET),boot:0x13 "
            b"(SPI_FAST_FLASH_BOOT)\r\n")
_MAX_OUTPUT = 4 << 20


@functools.cache
def shim_heap_bytes(heap_bytes: int) -> int:
    """Heap the shims take at boot (they stand in for native modules that cost an ESP32
    nothing). The supervisor adds it to the board's heap, so firmware finds its budget."""
    with tempfile.TemporaryDirectory() as fs:
        proc = mp.run([str(SHIMS_DIR / "_simboot.py")], heap_bytes=heap_bytes,
                      path=mp.module_path(), timeout=60,
                      env={"SEALSIM_CALIBRATE": "1", "SEALSIM_FS": fs,
                           "SEALSIM_SHIMS": str(SHIMS_DIR)})
    out = proc.stdout.decode()
    if "SHIMHEAP" not in out:
        raise DeviceError(f"cannot measure the shims' heap: {out}{proc.stderr.decode()}")
    used = int(out.split("SHIMHEAP")[1].split()[0])
    return -(-used * 1013 // 1000 // 256) * 256  # plus the GC's own ~1.25 %, in 256 B steps


def _catches_sigint(pid: int) -> bool:
    """Whether the process has a SIGINT handler installed (/proc/PID/status SigCgt)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError):
        pass
    return False


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


# Syscalls in which a process waits for something (poll, select, sleeps, socket reads): the
# only places Ctrl-C may land (see _interrupt). Linux numbers per architecture.
_WAIT_SYSCALLS = {
    # read poll select nanosleep recvfrom recvmsg clock_nanosleep epoll_wait pselect6 ppoll
    # epoll_pwait
    "x86_64": frozenset({0, 7, 23, 35, 45, 47, 230, 232, 270, 271, 281}),
    # epoll_pwait read pselect6 ppoll nanosleep clock_nanosleep recvfrom recvmsg
    "aarch64": frozenset({22, 63, 72, 73, 101, 115, 207, 212}),
}.get(platform.machine())


def _stopped(pid: int, timeout: float = 2.0) -> bool:
    """Wait (bounded) until a SIGSTOP sent to `pid` has taken effect; False if it is gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return False
        if state in ("T", "t"):
            return True
        if state in ("Z", "X") or time.monotonic() > deadline:
            return False
        time.sleep(0.0002)


def _waiting(pid: int) -> bool | None:
    """Whether a stopped process sits in a wait syscall (None: cannot tell on this system)."""
    if _WAIT_SYSCALLS is None:
        return None
    try:
        with open(f"/proc/{pid}/syscall") as f:
            nr = f.read().split()[0]
    except (OSError, IndexError):
        return None
    return nr.lstrip("-").isdigit() and int(nr) in _WAIT_SYSCALLS


def _interrupt(pid: int, patience: float = 1.0) -> bool:
    """Ctrl-C while code runs, as an ESP32 takes it: True if SIGINT was delivered to
    MicroPython's handler, False if it has none installed (the byte is then REPL input).

    The unix port raises KeyboardInterrupt from inside its signal handler (a longjmp out of
    whatever native code runs), where an ESP32 only marks it pending for the VM. A signal in
    the middle of a garbage collection leaves the heap locked for good; one inside native
    socket or file code can leave an fd closed under a live socket (EBADF in
    _simlink.connect, seen under a stream of interrupts). So the process is stopped first and
    signalled only while it is blocked in a wait (asyncio's poll, a sleep, a socket read),
    as the board raises the pending interrupt there too. Stopped, it cannot remove its
    handler between the check and the signal either (SIG_DFL would kill it). A program
    that never waits gets the signal after `patience` seconds anyway."""
    deadline = time.monotonic() + patience
    while True:
        if not _signal(pid, signal.SIGSTOP):
            return False
        try:
            if not _stopped(pid) or not _catches_sigint(pid):
                return False
            if _waiting(pid) is not False or time.monotonic() > deadline:
                return _signal(pid, signal.SIGINT)
        finally:
            _signal(pid, signal.SIGCONT)
        time.sleep(0.001)


class DeviceError(RuntimeError):
    """The simulated device could not do what was asked (not started, timed out, ...)."""


def _raw_tty(fd: int) -> None:
    # No ISIG: the kernel never turns Ctrl-C into SIGINT by itself. The unix port restores
    # the default SIGINT action between REPL lines, so a Ctrl-C arriving there (mpremote
    # sends "\r\x03" at once) would kill the process. The supervisor sends SIGINT only
    # while MicroPython catches it (see _type).
    attrs = termios.tcgetattr(fd)
    attrs[0] = 0  # iflag: no CR/NL translation, no flow control
    attrs[1] = 0  # oflag: OPOST off, so \n is not turned into \r\n a second time
    attrs[2] = (attrs[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8 | termios.CREAD
    attrs[3] = 0  # lflag: no echo, no canonical mode, no signals
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class _Conn:
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
        self.peer: _Conn | None = None
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


class Device:
    """One simulated board. Use as a context manager, or call `start()` and `close()`."""

    def __init__(self, board: Board | str, state_dir: Path | str, *, name: str | None = None,
                 mac: bytes | None = None, wifi: bool = True):
        self.board = load_board(board) if isinstance(board, str) else board
        self.state = Path(state_dir)
        self.name = name or self.state.name
        for sub in ("fs", "nvs"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        self.mac = mac or bytes([0x24, 0x0A, 0xC4]) + os.urandom(3)
        self.heap_bytes = self.board.heap_bytes + shim_heap_bytes(self.board.heap_bytes)
        self.run_dir = Path(tempfile.mkdtemp(prefix="sealsim-"))
        self.link_path = str(self.run_dir / "link.sock")
        self.writes: list[tuple[float, str, str]] = []  # (time, state-relative path, what)
        self.events: list[tuple[float, str]] = []  # buzzer, LED, resets, watchdog, ...
        self.output = bytearray()  # everything the device printed on its console
        self.boots = 0
        self.reset_cause = PWRON_RESET
        self.clock_offset = 0  # simulated wall clock = host clock + offset (seconds)
        self._wifi = wifi
        self._wifi_gen = 0
        self.net_delay = 0.0
        self.ntp = "ok"  # the NTP server: "ok" answers, "lost" never answers, "hang" (test)
        self.dns_ok = True  # the access point's resolver answers
        self.net_connects = 0  # TCP connections the firmware asked the access point for
        self.speed = 1.0  # ESP32 speed model scale (sealsim.speed): 1 an ESP32, 0 host speed
        self._delayed: list[tuple[float, _Conn, bytes]] = []
        self._delay_thread: threading.Thread | None = None
        self.pins: dict[int, int] = {}
        self.keys_down: set[str] = set()
        self._keys_seen: set[str] = set()
        self.gm65 = SCAN_ENGINES[self.board.scan_engine["model"]](self._to_scan_engine)
        self.panel: Panel = make_panel(self.board.display)
        self.device_clock = DeviceClock()
        self._cond = threading.Condition()
        self._sel = selectors.DefaultSelector()
        self._conns: set[_Conn] = set()
        self._scan_uart: _Conn | None = None
        self.uart_line: UartLine | None = None  # the scan engine's line into the firmware
        self._scan_baud = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._powered = False
        self._exit_request: int | None = None
        self._sleep_ms = 0
        self._wake_at: float | None = None
        self._wdt: tuple[float, float] | None = None  # (timeout s, deadline)
        self._raw = False
        self._swallow: bytearray | None = None
        self._tail = b""
        self._out_q = bytearray()
        self._stop = False
        self._crashes: list[float] = []
        self.halted = ""
        self._thread: threading.Thread | None = None
        self._open_wires()

    # ----------------------------------------------------------------- lifecycle ----------
    def _open_wires(self) -> None:
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.link_path)
        self._listener.listen(16)
        self._listener.setblocking(False)
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._child_master, self._child_slave = pty.openpty()
        _raw_tty(self._child_slave)
        self._port_master, self._port_slave = pty.openpty()
        _raw_tty(self._port_slave)
        os.set_blocking(self._port_master, False)
        self.port = os.ttyname(self._port_slave)
        self._sel.register(self._child_master, selectors.EVENT_READ, "child")
        self._sel.register(self._port_master, selectors.EVENT_READ, "port")

    def start(self) -> Device:
        """Power the board on and start the supervisor."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"sealsim-{self.name}",
                                            daemon=True)
            self._thread.start()
        self.power_on()
        return self

    def __enter__(self) -> Device:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def power_on(self) -> None:
        with self._cond:
            if self._powered:
                return
            self._powered = True
            self.reset_cause = PWRON_RESET
            self.halted = ""
            self._spawn()

    def power_cut(self) -> None:
        """Pull the plug: the process dies (RAM lost), the state directory stays as it is."""
        with self._cond:
            self._powered = False
            self._kill()
            self._wdt = None
            self._wake_at = None
            # The module loses power too: it restarts from what it saved to its EEPROM.
            self.gm65 = type(self.gm65)(self._to_scan_engine, self.gm65.eeprom)
            self.panel = make_panel(self.board.display)
            self.events.append((time.time(), "power cut"))

    def reboot(self) -> None:
        """Power cycle."""
        self.power_cut()
        self.power_on()

    def close(self) -> None:
        with self._cond:
            self._powered = False
            self._kill()
            self._stop = True
        if self._thread:
            self._thread.join(timeout=5)
        self._sel.close()
        for c in list(self._conns):
            self._drop(c)
        for fd in (self._child_master, self._child_slave, self._port_master,
                   self._port_slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._listener.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _spawn(self, *, nomain: bool = False) -> None:
        env = mp.environment(mp.module_path(), {
            "SEALSIM_FS": str((self.state / "fs").resolve()),
            "SEALSIM_SHIMS": str(SHIMS_DIR),
            "SEALSIM_LINK": self.link_path,
            "TZ": "UTC",
        })
        env.pop("SEALSIM_NOMAIN", None)
        if nomain:
            env["SEALSIM_NOMAIN"] = "1"
        with contextlib.suppress(termios.error):
            termios.tcflush(self._child_slave, termios.TCIOFLUSH)
            _raw_tty(self._child_slave)  # whatever the last process left it in
        slave = self._child_slave
        self._proc = subprocess.Popen(
            mp.command(["-i", str(SHIMS_DIR / "_simboot.py")], self.heap_bytes),
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=self.state / "fs",
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # the board's console
        )
        self._started_at = time.monotonic()
        self._exit_request = None
        self.boots += 1

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._proc = None
        for c in list(self._conns):  # every wire into the dead process goes with it
            self._drop(c)

    def _on_exit(self, rc: int) -> None:
        """The MicroPython process ended on its own or at our request: reset the board."""
        request, self._exit_request = self._exit_request, None
        self._proc = None
        if request is None:
            self.events.append((time.time(), f"MicroPython exited with code {rc}"))
        for c in list(self._conns):
            self._drop(c)
        if not self._powered:
            self._wdt = None
            return
        if request in (_EXIT_SLEEP, _EXIT_RESET, _EXIT_WDT):
            self._wdt = None  # a chip reset stops the watchdog; a soft reset does not
        if request == _EXIT_SLEEP:
            self.reset_cause = DEEPSLEEP_RESET
            self._wake_at = time.monotonic() + self._sleep_ms / 1000
            return
        if request in (_EXIT_RESET, _EXIT_WDT):
            self.reset_cause = HARD_RESET if request == _EXIT_RESET else WDT_RESET
            self._console(_ROM_RESET if request == _EXIT_RESET else _ROM_WDT)
            self._raw = False
            self._spawn()
            return
        # Ctrl-D at the REPL (rc 0), machine.soft_reset(), or a crash: a soft reboot.
        now = time.monotonic()
        if rc not in (0, _EXIT_SOFT) and request is None:
            self._crashes = [t for t in self._crashes if now - t < 5] + [now]
            if len(self._crashes) >= 3:
                self.halted = f"MicroPython exited with code {rc} three times in 5 s"
                self.events.append((time.time(), "halted: " + self.halted))
                return
        self.reset_cause = SOFT_RESET
        self._console(SOFT_REBOOT)
        if self._raw:
            self._swallow = bytearray()  # hide the banner, then re-enter raw REPL
            self._spawn(nomain=True)
        else:
            self._spawn()

    # ----------------------------------------------------------------- the loop -----------
    def _loop(self) -> None:
        while not self._stop:
            line = self.uart_line
            if line is not None and line.busy:
                line.tick()  # bytes on the scan engine's line, at its baud rate
            for key, mask in self._sel.select(timeout=0.002 if line and line.busy else 0.05):
                try:
                    if mask & selectors.EVENT_WRITE and isinstance(key.data, _Conn):
                        key.data.flush()
                    if mask & selectors.EVENT_READ:
                        self._ready(key)
                except Exception as e:  # keep the board alive whatever one wire does
                    self.events.append((time.time(), f"supervisor error: {e!r}"))
            with self._cond:
                proc = self._proc
                if proc is not None and proc.poll() is not None:
                    self._drain_child()
                    self._on_exit(proc.returncode)
                now = time.monotonic()
                if self._wdt and now > self._wdt[1] and self.running:
                    self.events.append((time.time(), "watchdog reset"))
                    self._exit_request = _EXIT_WDT
                    self._kill_for_restart()
                if self._wake_at is not None and now >= self._wake_at and self._powered:
                    self._wake_at = None
                    self._spawn()
                self._flush_port()
                self._cond.notify_all()

    def _kill_for_restart(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _drain_child(self) -> None:
        while True:
            try:
                data = os.read(self._child_master, 65536) if self._readable() else b""
            except OSError:
                return
            if not data:
                return
            self._from_child(data)

    def _readable(self) -> bool:
        import select
        return bool(select.select([self._child_master], [], [], 0)[0])

    def _ready(self, key: selectors.SelectorKey) -> None:
        tag = key.data
        if tag == "listen":
            sock, _ = self._listener.accept()
            conn = _Conn(sock, self._sel)
            self._conns.add(conn)
            self._sel.register(sock, selectors.EVENT_READ, conn)
        elif tag == "child":
            try:
                data = os.read(self._child_master, 65536)
            except OSError:
                return
            self._from_child(data)
        elif tag == "port":
            try:
                data = os.read(self._port_master, 65536)
            except OSError:
                return
            self._from_port(data)
        else:
            conn: _Conn = tag
            try:
                data = conn.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._drop(conn)
                return
            self._from_conn(conn, data)

    # ----------------------------------------------------------------- console ------------
    def _from_child(self, data: bytes) -> None:
        if self._swallow is not None:
            self._swallow += data
            if b">>> " in self._swallow:
                self._swallow = None
                os.write(self._child_master, b"\x01")  # back into raw REPL for mpremote
            return
        tail = self._tail + data
        if RAW_BANNER in tail:
            self._raw = True
        elif b'Type "help()"' in tail:
            self._raw = False
        self._tail = tail[-64:]
        self._console(data)

    def _console(self, data: bytes) -> None:
        with self._cond:
            if len(self.output) < _MAX_OUTPUT:
                self.output += data
            self._out_q += data
            if len(self._out_q) > (1 << 20):
                del self._out_q[: len(self._out_q) - (1 << 20)]
            self._cond.notify_all()
        self._flush_port()

    def _flush_port(self) -> None:
        while self._out_q:
            try:
                n = os.write(self._port_master, self._out_q[:4096])
            except BlockingIOError:
                return
            except OSError:
                self._out_q.clear()
                return
            del self._out_q[:n]

    def _from_port(self, data: bytes) -> None:
        if b"\x02" in data:
            self._raw = False
        if self.running and self._swallow is None:
            self._type(data)

    def _type(self, data: bytes) -> None:
        """Input for the MicroPython process. Ctrl-C interrupts running code (SIGINT, while
        MicroPython has its handler installed and waits: see _interrupt) and is an ordinary
        byte for the REPL."""
        proc = self._proc
        chunks = data.split(b"\x03")
        for i, chunk in enumerate(chunks):
            if i and not (proc is not None and _interrupt(proc.pid)):
                chunk = b"\x03" + chunk
            view = memoryview(chunk)
            while view:
                n = os.write(self._child_master, view)
                view = view[n:]

    # ----------------------------------------------------------------- shim wires ---------
    def _drop(self, conn: _Conn) -> None:
        if conn not in self._conns:
            return
        self._conns.discard(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn.sock)
        conn.sock.close()
        if conn is self._scan_uart:
            self._scan_uart = None
            self.uart_line = None
        if conn.peer is not None:
            peer, conn.peer, peer.peer = conn.peer, None, None
            self._drop(peer)

    def _from_conn(self, conn: _Conn, data: bytes) -> None:
        if not conn.kind:
            conn.buf += data
            if b"\n" not in conn.buf:
                return
            line, _, rest = bytes(conn.buf).partition(b"\n")
            conn.kind, _, arg = line.decode("ascii", "replace").partition(" ")
            conn.buf = bytearray()
            if conn.kind == "net":
                conn.buf += rest
                if b"\n" in conn.buf:
                    self._net_open(conn)
                return
            if conn.kind == f"uart{self.board.scan_engine['uart']}":
                self._scan_uart = conn
                words = arg.split()
                self._scan_baud = int(words[0] if words else 115200)
                # timed at the firmware UART's rate: misclocked bytes come in at that rate
                self.uart_line = UartLine(self._scan_baud, int(words[1]) if len(words) > 1
                                          else 256, conn.send)
            conn.send(b"+")  # wired: the shim may use the channel now
            data = rest
            if not data:
                return
        if conn.kind == "bus":
            conn.buf += data
            self._bus(conn)
        elif conn.kind == "net-out":
            if conn.peer is not None:
                self._net_forward(conn.peer, data)
        elif conn.kind == "net":
            if conn.peer is None:
                conn.buf += data
                if b"\n" in conn.buf:
                    self._net_open(conn)
            else:
                self._net_forward(conn.peer, data)
        elif conn is self._scan_uart:
            if self._scan_baud == self.gm65.baud:
                self.gm65.receive(data)
            # at another line speed the module decodes nothing it can act on
        # other UARTs: nothing is wired to them; bytes are dropped like on an open line

    def _to_scan_engine(self, data: bytes) -> None:
        uart = self._scan_uart
        if uart is not None:
            if self._scan_baud != self.gm65.baud:
                data = _misclocked(data, self.gm65.baud, self._scan_baud)
            line = self.uart_line
            if line is not None:
                line.send(data)
            else:
                uart.send(data)
        else:  # as on the board: nobody listens on the line, the bytes are gone
            self.events.append((time.time(), f"scan engine sent {len(data)} bytes to a "
                                             "UART the firmware has not opened"))

    def _bus(self, conn: _Conn) -> None:
        buf = conn.buf
        while len(buf) >= 5:
            op, n = struct.unpack_from("<BI", buf)
            if len(buf) < 5 + n:
                return
            payload = bytes(buf[5:5 + n])
            del buf[:5 + n]
            reply = self._bus_op(chr(op), payload)
            if reply is not None:
                conn.send(struct.pack("<I", len(reply)) + reply)

    def _bus_op(self, op: str, p: bytes) -> bytes | None:
        pins = self.board.pins
        if op == "W":
            pin, value = p[0], p[1]
            self.pins[pin] = value
            t = self.device_clock.at(struct.unpack_from("<I", p, 2)[0])
            for role in ("rst", "backlight"):
                if pin == self.board.display.get(role):
                    self.panel.pin(role, value, t)
            if pin == pins.get("led"):
                self.events.append((time.time(), f"led {'on' if value else 'off'}"))
            elif pin == self.board.scan_engine["trigger"]:
                self.gm65.trigger_pin(value)
            return None
        if op == "R":
            pin = p[0]
            for key in ("ok", "back"):
                if pin == pins.get(f"key_{key}"):
                    if key in self.keys_down:
                        self._keys_seen.add(key)
                        return b"\x00"
                    return b"\x01"
            return bytes([self.pins.get(pin, 0)])
        if op == "M":
            pin, freq, duty = struct.unpack("<BII", p)
            if pin == self.board.display.get("backlight"):
                self.panel.pwm("backlight", duty if freq else 0)
            if pin == pins.get("buzzer"):
                on = freq > 0 and duty > 0
                self.events.append((time.time(), f"buzzer {freq} Hz" if on else "buzzer off"))
            return None
        if op == "I":
            if p[1] == self.board.display.get("address"):
                self.panel.i2c_write(p[2:])  # type: ignore[attr-defined]
            return None
        if op == "S":
            dc = self.pins.get(self.board.display.get("dc", -1), 1)
            if hasattr(self.panel, "spi_write"):
                t = self.device_clock.at(struct.unpack_from("<I", p, 1)[0])
                self.panel.spi_write(p[5:], dc, t)  # type: ignore[attr-defined]
            return None
        if op == "E":
            text = p.decode("utf-8", "replace")
            if text == "feed":
                if self._wdt:
                    self._wdt = (self._wdt[0], time.monotonic() + self._wdt[0])
                return None
            if text.startswith("deepsleep"):
                self._sleep_ms = int(text.split()[1])
            self.events.append((time.time(), text))
            return None
        if op == "U":
            line = self.uart_line
            if line is not None and p[0] == self.board.scan_engine["uart"]:
                line.took(struct.unpack_from("<H", p, 1)[0])
            return None
        if op == "Q":
            return self._query(p.decode("utf-8", "replace"))
        if op == "X":
            name, _, arg = p.partition(b"\0")
            try:
                return b"+" + self._xcall(name.decode(), arg)
            except OSError as e:
                return b"!" + str(e.errno or 5).encode()
        return None

    def _query(self, q: str) -> bytes | None:
        words = q.split()
        cmd = words[0] if words else ""
        if cmd == "wifi":
            return f"{int(self._wifi)}:{self._wifi_gen}".encode()
        if cmd == "clock":
            return str(self.clock_offset).encode()
        if cmd == "ntp":  # the true time, if the NTP server can be reached
            if not self._wifi:
                return b"noap"
            if self.ntp != "ok":
                return self.ntp.encode()
            return str(int(time.time()) - EPOCH_2000).encode()
        if cmd == "cost":  # a blocking native call starts (or the driver's own time)
            ms = cost_ms(words[1], self.speed)
            if words[1] != "wifi_assoc":
                self.events.append((time.time(), f"blocking {words[1]} {ms} ms"))
            return str(ms).encode()
        if cmd == "dns":
            return b"ok" if self.dns_ok else b"fail"
        if cmd == "settime":
            self.clock_offset = int(words[1]) + EPOCH_2000 - int(time.time())
            return b""
        if cmd == "mac":
            return self.mac.hex().encode()
        if cmd == "uart":  # UART.init() changed the line speed
            if words[1] == str(self.board.scan_engine["uart"]):
                self._scan_baud = int(words[3])
                if self.uart_line is not None:
                    self.uart_line.baud = self._scan_baud
            return b""
        if cmd == "reset_cause":
            return str(self.reset_cause).encode()
        if cmd.startswith("i2c"):
            addr = self.board.display.get("address")
            return str(addr).encode() if addr else b""
        if cmd == "wdt":
            timeout = max(int(words[1]), 1) / 1000
            self._wdt = (timeout, time.monotonic() + timeout)
            self.events.append((time.time(), f"watchdog {words[1]} ms"))
            return b""
        if cmd == "exit":
            self._exit_request = int(words[1])
            self._kill_for_restart()
            return None
        return b""

    # ----------------------------------------------------------------- flash: NVS, RTC ----
    def _journal(self, path: str, what: str) -> None:
        self.writes.append((time.time(), path, what))

    def _xcall(self, name: str, arg: bytes) -> bytes:
        if name == "rtc_get":
            path = self.state / "rtc.bin"
            return path.read_bytes() if path.exists() else b""
        if name == "rtc_set":
            (self.state / "rtc.bin").write_bytes(arg)
            self._journal("rtc.bin", f"RTC memory: {len(arg)} bytes")
            return b""
        if name.startswith("nvs_"):
            ns, _, rest = arg.partition(b"\0")
            key, _, value = rest.partition(b"\0")
            return self._nvs(name[4:], ns.decode(), key.decode(), value)
        raise OSError(errno.EINVAL, name)

    def _nvs(self, op: str, ns: str, key: str, value: bytes) -> bytes:
        if not ns.replace("_", "").isalnum():
            raise OSError(errno.EINVAL, ns)
        path = self.state / "nvs" / f"{ns}.nvs"
        entries = read_nvs(path)
        rel = f"nvs/{ns}.nvs"
        if op == "get":
            if key not in entries:
                raise OSError(-4354, "ESP_ERR_NVS_NOT_FOUND")  # as ESP32 MicroPython raises it
            return entries[key]
        if op == "set":
            entries[key] = value
            write_nvs(path, entries)
            self._journal(rel, f"set {key!r}: {len(value) - 1} bytes")
            return b""
        if op == "erase":
            if key not in entries:
                raise OSError(-4354, "ESP_ERR_NVS_NOT_FOUND")  # as ESP32 MicroPython raises it
            del entries[key]
            write_nvs(path, entries)
            self._journal(rel, f"erase {key!r}")
            return b""
        if op == "commit":
            return b""
        raise OSError(errno.EINVAL, op)

    # ----------------------------------------------------------------- network ------------
    def _net_open(self, conn: _Conn) -> None:
        # Connecting may take a while (an address nobody answers): not on the loop thread.
        line, _, rest = bytes(conn.buf).partition(b"\n")
        conn.buf = bytearray()
        conn.kind = "net-pending"
        threading.Thread(target=self._net_connect, args=(conn, line, rest), daemon=True,
                         name=f"sealsim-{self.name}-connect").start()

    def _net_connect(self, conn: _Conn, line: bytes, rest: bytes) -> None:
        self.net_connects += 1
        try:
            host, port = line.decode().split()
            if not self._wifi:
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
        with self._cond:
            if conn not in self._conns or not self._wifi:  # gone meanwhile
                out.close()
                conn.send(b"118\n")
                return
            peer = _Conn(out, self._sel)
            peer.kind = "net-out"
            conn.peer, peer.peer = peer, conn
            conn.kind = "net"
            self._conns.add(peer)
            self._sel.register(out, selectors.EVENT_READ, peer)
            conn.send(b"0\n")
            if rest:
                peer.send(rest)

    # ----------------------------------------------------------------- harness API --------
    def _net_forward(self, to: _Conn, data: bytes) -> None:
        if self.net_delay <= 0 and not self._delayed:
            to.send(data)
            return
        with self._cond:
            self._delayed.append((time.monotonic() + self.net_delay, to, data))
            if self._delay_thread is None:
                self._delay_thread = threading.Thread(target=self._delay_loop, daemon=True,
                                                      name=f"sealsim-{self.name}-delay")
                self._delay_thread.start()
            self._cond.notify_all()

    def _delay_loop(self) -> None:
        # One FIFO for every relayed byte: order is kept whatever the delay does meanwhile.
        while not self._stop:
            with self._cond:
                if not self._delayed:
                    self._cond.wait(0.1)
                    continue
                due, to, data = self._delayed[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(min(wait, 0.1))
                    continue
                self._delayed.pop(0)
            to.send(data)

    def set_net_delay(self, seconds: float) -> None:
        """Latency added to every byte relayed between the device and the network (each
        way), as a slow uplink or a slow upstream would add it."""
        self.net_delay = max(0.0, float(seconds))
        self.events.append((time.time(), f"network delay {self.net_delay:g} s"))

    def set_wifi(self, on: bool) -> None:
        """Access point in range (True) or gone (False). Off tears down every connection."""
        with self._cond:
            if on == self._wifi:
                return
            self._wifi = on
            self._wifi_gen += 1
            self.events.append((time.time(), f"wifi {'on' if on else 'off'}"))
            if not on:
                for c in list(self._conns):
                    if c.kind in ("net", "net-out", "net-pending"):
                        self._drop(c)

    @property
    def wifi(self) -> bool:
        return self._wifi

    def set_clock(self, unix_time: float) -> None:
        self.clock_offset = int(unix_time - time.time())

    def skew_clock(self, seconds: float) -> None:
        self.clock_offset += int(seconds)

    def scan(self, code: str | bytes) -> None:
        """Hold a code in front of the scan engine (it reads it as the real module would)."""
        self.gm65.scan(code)

    def scan_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the scan engine's TX line."""
        self.gm65.raw(data)

    def hold_key(self, key: str) -> None:
        self._key(key)
        self.keys_down.add(key)

    def release_key(self, key: str) -> None:
        self._key(key)
        self.keys_down.discard(key)

    def press(self, key: str, hold: float = 0.1) -> None:
        """Press a key (`ok` or `back`); release it `hold` seconds after the firmware has
        read it pressed (at most 10 s later), so a busy device does not miss it."""
        self._keys_seen.discard(key)
        self.hold_key(key)

        def release() -> None:
            deadline = time.monotonic() + 10
            while key not in self._keys_seen and time.monotonic() < deadline and self.running:
                time.sleep(0.01)
            time.sleep(hold)
            self.release_key(key)

        threading.Thread(target=release, daemon=True).start()

    def _key(self, key: str) -> None:
        if f"key_{key}" not in self.board.pins:
            raise DeviceError(f"board {self.board.name} has no key {key!r} (ok, back)")

    def write_console(self, data: bytes) -> None:
        """Type on the console (as a terminal on the USB port would)."""
        if self.running:
            self._type(data)

    def wait_for(self, pattern: bytes | str, timeout: float = 20, *, since: int = 0) -> int:
        """Wait until the console output (from offset `since`) contains `pattern`;
        return the offset just after it."""
        pat = pattern.encode() if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                i = self.output.find(pat, since)
                if i >= 0:
                    return i + len(pat)
                if self.halted:
                    raise DeviceError(f"{self.name}: {self.halted}")
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = bytes(self.output[-600:]).decode("utf-8", "replace")
                    raise DeviceError(f"{self.name}: no {pat!r} on the console within "
                                      f"{timeout} s; last output:\n{tail}")
                self._cond.wait(min(left, 0.1))

    def exec(self, code: str, timeout: float = 20) -> str:
        """Run `code` on the device through its raw REPL (interrupting main.py first, as
        mpremote does) and return what it printed; a device-side exception raises
        DeviceError with MicroPython's traceback. The REPL globals persist between calls."""
        mark = len(self.output)
        self.write_console(b"\r\x03\x03\x01")
        try:
            mark = self.wait_for(RAW_BANNER + b">", min(5, timeout), since=mark)
        except DeviceError:  # still booting when the keys arrived: once more, as mpremote
            mark = len(self.output)
            self.write_console(b"\r\x03\x03\x01")
            mark = self.wait_for(RAW_BANNER + b">", timeout, since=mark)
        self.write_console(code.encode() + b"\x04")
        end = self.wait_for(b"\x04>", timeout, since=mark)
        reply = bytes(self.output[mark:end - 2])
        self.write_console(b"\x02")  # back to the friendly REPL
        if not reply.startswith(b"OK"):
            raise DeviceError(f"{self.name}: raw REPL refused the code: {reply[:200]!r}")
        out, _, err = reply[2:].partition(b"\x04")
        if err.strip(b"\x04"):
            raise DeviceError(err.decode("utf-8", "replace").strip())
        return out.decode("utf-8", "replace").replace("\r\n", "\n")

    def wait_until(self, predicate: Callable[[], object], timeout: float = 20,
                   what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                if time.monotonic() > deadline:
                    raise DeviceError(f"{self.name}: {what} not reached within {timeout} s")
                self._cond.wait(0.05)

    def wait_boots(self, n: int, timeout: float = 20) -> None:
        self.wait_until(lambda: self.boots >= n and self.running, timeout, f"boot #{n}")

    # screen
    def frame(self, index: int = -1):
        """A captured frame (PIL image); -1 is the latest."""
        if not self.panel.frames:
            raise DeviceError(f"{self.name}: the display has not shown a frame yet")
        return self.panel.frames[index]

    def wait_frames(self, n: int, timeout: float = 20) -> None:
        self.wait_until(lambda: self.panel.frame_count >= n, timeout, f"{n} display frames")

    def save_frames(self, directory: Path | str) -> list[Path]:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        first = self.panel.frame_count - len(self.panel.frames)
        paths = []
        for i, img in enumerate(list(self.panel.frames)):
            path = out / f"{self.name}-frame{first + i:05d}.png"
            img.save(path)
            paths.append(path)
        return paths

    def screen_lines(self) -> list[str]:
        """The screen rendered for a terminal (half-block characters)."""
        return terminal_lines(self.panel)

    def screen_text(self) -> list[str]:
        """Text drawn on the screen with framebuf.text(), line by line."""
        from sealsim.screen import read_text
        return read_text(self.panel.mono())

    def deploy(self, files: dict[str, bytes | str | Path]) -> None:
        """Copy files into the device filesystem (like `mpremote fs cp`, without a cable)."""
        root = (self.state / "fs").resolve()
        for name, content in files.items():
            dest = (root / name.lstrip("/")).resolve()
            if not dest.is_relative_to(root):
                raise DeviceError(f"{name}: outside the device filesystem")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                content = content.read_bytes()
            dest.write_bytes(content.encode() if isinstance(content, str) else content)


def _misclocked(data: bytes, sent_baud: int, read_baud: int) -> bytes:
    """What a UART at `read_baud` makes of bytes sent at `sent_baud`: garbage of about the
    length ratio, deterministic so tests can rely on it never being the original text."""
    n = max(1, len(data) * read_baud // sent_baud) if data else 0
    return bytes(((data[i * len(data) // n] * 7) ^ 0xA5) & 0xFF | 0x80 for i in range(n))


def read_nvs(path: Path) -> dict[str, bytes]:
    """An NVS namespace file: repeated [key length u8][key][value length u32le][value]; the
    value's first byte is its type (b"i" i32, b"b" blob)."""
    entries: dict[str, bytes] = {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return entries
    i = 0
    while i < len(data):
        n = data[i]
        key = data[i + 1:i + 1 + n].decode("utf-8", "replace")
        (m,) = struct.unpack_from("<I", data, i + 1 + n)
        start = i + 5 + n
        entries[key] = data[start:start + m]
        i = start + m
    return entries


def write_nvs(path: Path, entries: dict[str, bytes]) -> None:
    out = bytearray()
    for key, value in entries.items():
        k = key.encode()
        out += bytes([len(k)]) + k + struct.pack("<I", len(value)) + value
    path.write_bytes(bytes(out))
