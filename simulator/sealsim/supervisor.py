"""The supervisor: the MicroPython process as the board's CPU, and what resets it.

It spawns the unix port (`-i shims/_simboot.py`, the board's heap plus the shims' own) on
the console's child pty, and turns the ways a process ends into the ESP32's resets:

    exit code 90 (machine.reset)        HARD_RESET, ROM banner, full boot
    exit code 93 / watchdog expiry      WDT_RESET, ROM banner, full boot
    exit code 92 (machine.deepsleep)    DEEPSLEEP_RESET after the requested sleep
    Ctrl-D at the REPL, 91, a crash     SOFT_RESET ("MPY: soft reboot"); three crashes in
                                        5 s halt the board
    power_cut()                         the process is killed, every wire cut, RAM lost

It stands for the ESP32's CPU reset logic, RTC watchdog and deep-sleep timer.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import signal
import subprocess
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sealscan.paths import SHIMS_DIR
from sealsim import micropython as mp
from sealsim.console import Console
from sealsim.link import Link
from sealsim.storage import FlashStorage

PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
# Exit codes of shims/machine.py's hard exits.
EXIT_RESET, EXIT_SOFT, EXIT_SLEEP, EXIT_WDT = 90, 91, 92, 93
_ROM_RESET = (b"\r\nets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 "
              b"(SPI_FAST_FLASH_BOOT)\r\n")
_ROM_BOOT = (b"\r\nets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 "
             b"(SPI_FAST_FLASH_BOOT)\r\n")
_ROM_WDT = (b"\r\nets Jun  8 2016 00:22:57\r\n\r\nrst:0x10 (RTCWDT_RTC_RESET),boot:0x13 "
            b"(SPI_FAST_FLASH_BOOT)\r\n")


class SimDeviceError(RuntimeError):
    """The simulated device could not do what was asked (not started, timed out, ...)."""


@functools.cache
def shim_heap_bytes() -> int:
    """Heap the shims take at boot (they stand for native modules that a board keeps in flash
    and static RAM). Measured once per process; the supervisor credits exactly this much to
    the initial heap and the RAM budget (docs/simulator.md, "Memory")."""
    from sealscan.boards import DEFAULT_BOARD, load_board
    from sealsim.storage import FlashStorage

    with tempfile.TemporaryDirectory() as tmp:
        storage = FlashStorage(load_board(DEFAULT_BOARD), Path(tmp))
        try:
            proc = mp.run([str(SHIMS_DIR / "_simboot.py")], heap_bytes=256 * 1024,
                          path=mp.module_path(), timeout=60,
                          env={"SEALSIM_CALIBRATE": "1", **storage.boot_env(),
                               "SEALSIM_SHIMS": str(SHIMS_DIR)})
        finally:
            storage.close()
    out = proc.stdout.decode()
    if "SHIMHEAP" not in out:
        raise SimDeviceError(f"cannot measure the shims' heap: {out}{proc.stderr.decode()}")
    used = int(out.split("SHIMHEAP")[1].split()[0])
    return -(-used * 1013 // 1000 // 256) * 256  # plus the GC's own ~1.25 %, in 256 B steps


class Supervisor:
    """Owns the MicroPython process. Callers hold `cond` around every method but `pid`."""

    def __init__(self, *, link: Link, console: Console, storage: FlashStorage, heap_bytes: int,
                 cond: threading.Condition, event: Callable[[str], None],
                 env: dict[str, str] | None = None):
        self.link = link
        self.console = console
        self.storage = storage
        self.heap_bytes = heap_bytes  # the GC heap's first area (it grows from the budget)
        self.env = dict(env or {})  # the board's RAM budget and the shared record
        self.cond = cond
        self.event = event
        self.proc: subprocess.Popen[bytes] | None = None
        self.powered = False
        self.boots = 0
        self.reset_cause = PWRON_RESET
        self.halted = ""
        self._exit_request: int | None = None
        self._sleep_ms = 0
        self._wake_at: float | None = None
        self._wdt: tuple[float, float] | None = None  # (timeout s, deadline)
        self._crashes: list[float] = []

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    # -- power ----------------------------------------------------------------------------
    def power_on(self) -> None:
        if self.powered:
            return
        self.powered = True
        self.reset_cause = PWRON_RESET
        self.halted = ""
        self._spawn()

    def power_cut(self) -> None:
        self.powered = False
        self.kill()
        self._wdt = None
        self._wake_at = None

    def kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.proc = None
        self.link.drop_all()  # every wire into the dead process goes with it

    def _spawn(self, *, nomain: bool = False) -> None:
        problem = self.storage.boot_problem()
        if problem is not None:  # the ROM finds no app to start: it stays in the bootloader
            self.console.hard_reset(_ROM_BOOT + problem.encode() + b"\r\n")
            self.halted = f"no bootable MicroPython image in flash ({problem})"
            self.event("halted: " + self.halted)
            return
        env = mp.environment(mp.module_path(), {
            **self.env,
            **self.storage.boot_env(),
            "SEALSIM_SHIMS": str(SHIMS_DIR),
            "SEALSIM_LINK": self.link.path,
            "TZ": "UTC",
        })
        env.pop("SEALSIM_NOMAIN", None)
        if nomain:
            env["SEALSIM_NOMAIN"] = "1"
        slave = self.console.fresh_child_tty()
        self.proc = subprocess.Popen(
            mp.command(["-i", str(SHIMS_DIR / "_simboot.py")], self.heap_bytes),
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=self.storage.state,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # the board's console
        )
        self._exit_request = None
        self.boots += 1

    def _kill_for_restart(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    # -- the supervisor thread's tick -----------------------------------------------------
    def tick(self) -> None:
        """Notice an ended process, an expired watchdog, a deep-sleep timer that fired."""
        proc = self.proc
        if proc is not None and proc.poll() is not None:
            self.console.drain_child()
            self._on_exit(proc.returncode)
        now = time.monotonic()
        if self._wdt and now > self._wdt[1] and self.running:
            self.event("watchdog reset")
            self._exit_request = EXIT_WDT
            self._kill_for_restart()
        if self._wake_at is not None and now >= self._wake_at and self.powered:
            self._wake_at = None
            self._spawn()

    def _on_exit(self, rc: int) -> None:
        """The MicroPython process ended on its own or at our request: reset the board."""
        request, self._exit_request = self._exit_request, None
        self.proc = None
        if request is None:
            self.event(f"MicroPython exited with code {rc}")
        self.link.drop_all()
        if not self.powered or request in (EXIT_SLEEP, EXIT_RESET, EXIT_WDT):
            self._wdt = None  # a chip reset stops the watchdog; a soft reset does not
        if not self.powered:
            return
        if request == EXIT_SLEEP:
            self.reset_cause = DEEPSLEEP_RESET
            self._wake_at = time.monotonic() + self._sleep_ms / 1000
            return
        if request in (EXIT_RESET, EXIT_WDT):
            self.reset_cause = HARD_RESET if request == EXIT_RESET else WDT_RESET
            self.console.hard_reset(_ROM_RESET if request == EXIT_RESET else _ROM_WDT)
            self._spawn()
            return
        # Ctrl-D at the REPL (rc 0), machine.soft_reset(), or a crash: a soft reboot.
        now = time.monotonic()
        if rc not in (0, EXIT_SOFT) and request is None:
            self._crashes = [t for t in self._crashes if now - t < 5] + [now]
            if len(self._crashes) >= 3:
                self.halted = f"MicroPython exited with code {rc} three times in 5 s"
                self.event("halted: " + self.halted)
                return
        self.reset_cause = SOFT_RESET
        self._spawn(nomain=self.console.soft_reboot())

    # -- from the shims -------------------------------------------------------------------
    def query_reset_cause(self, words: list[str]) -> bytes:
        return str(self.reset_cause).encode()

    def query_wdt(self, words: list[str]) -> bytes:
        timeout = max(int(words[1]), 1) / 1000
        self._wdt = (timeout, time.monotonic() + timeout)
        self.event(f"watchdog {words[1]} ms")
        return b""

    def query_exit(self, words: list[str]) -> None:
        self._exit_request = int(words[1])
        self._kill_for_restart()
        return None

    def on_event(self, text: str) -> bool:
        """`feed` and `deepsleep N` events; False for events that are only logged."""
        if text == "feed":
            if self._wdt:
                self._wdt = (self._wdt[0], time.monotonic() + self._wdt[0])
            return True
        if text.startswith("deepsleep"):
            self._sleep_ms = int(text.split()[1])
        return False
