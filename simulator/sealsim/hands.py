"""The hands at the bench: what a technician (or a test) does with a simulated scanner's keys
and console, the way they would with a board on the bench. A mixin of `Device`.

- keys: hold, release, press (released once the firmware has read it pressed);
- maintenance mode: power on holding BACK (the app keeps the console locked otherwise);
- console: type (after whatever a port client such as mpremote already wrote), wait for
  output, run code through the raw REPL as mpremote does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from sealscan.boards import Board
from sealsim.console import RAW_BANNER, Console
from sealsim.peripherals import Peripherals
from sealsim.supervisor import SimDeviceError


class DeviceHands:
    name: str
    board: Board
    console: Console
    peripherals: Peripherals
    output: bytearray
    halted: str | None
    running: bool
    boots: int
    _cond: threading.Condition
    power_cut: Callable[[], None]
    power_on: Callable[[], None]

    def hold_key(self, key: str) -> None:
        self._key(key).down = True

    def release_key(self, key: str) -> None:
        self._key(key).down = False

    def press(self, key: str, hold: float = 0.1) -> None:
        """Press a key (`ok` or `back`); release it `hold` seconds after the firmware has
        read it pressed (at most 10 s later), so a busy device does not miss it."""
        k = self._key(key)
        k.seen = False
        k.down = True

        def release() -> None:
            deadline = time.monotonic() + 10
            while not k.seen and time.monotonic() < deadline and self.running:
                time.sleep(0.01)
            time.sleep(hold)
            k.down = False

        threading.Thread(target=release, daemon=True).start()

    def _key(self, key: str):
        k = self.peripherals.key(key)
        if k is None:
            raise SimDeviceError(f"board {self.board.name} has no key {key!r} (ok, back)")
        return k

    def maintenance(self, timeout: float = 30) -> None:
        """What a depot technician does to reach the console of a scanner whose app runs (the
        app keeps it locked): power off, hold BACK, power on, let go once the screen says
        maintenance mode. Returns at the friendly REPL's prompt."""
        self.power_cut()
        self.hold_key("back")
        mark = len(self.output)
        try:
            self.power_on()
            mark = self.wait_for("maintenance mode", timeout, since=mark)
        finally:
            self.release_key("back")
        self.wait_for(">>> ", 10, since=mark)

    def write_console(self, data: bytes) -> None:
        """Type on the console (as a terminal on the USB port would)."""
        if self.running:
            self.console.type_after_port(data)

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
                    raise SimDeviceError(f"{self.name}: {self.halted}")
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = bytes(self.output[-600:]).decode("utf-8", "replace")
                    raise SimDeviceError(f"{self.name}: no {pat!r} on the console within "
                                      f"{timeout} s; last output:\n{tail}")
                self._cond.wait(min(left, 0.1))

    def exec(self, code: str, timeout: float = 20) -> str:
        """Run `code` on the device through its raw REPL (interrupting main.py first, as
        mpremote does) and return what it printed; a device-side exception raises
        SimDeviceError with MicroPython's traceback. The REPL globals persist between calls."""
        mark = len(self.output)
        self.write_console(b"\r\x03\x03\x01")
        try:
            mark = self.wait_for(RAW_BANNER + b">", min(5, timeout), since=mark)
        except SimDeviceError:  # still booting when the keys arrived: once more, as mpremote
            mark = len(self.output)
            self.write_console(b"\r\x03\x03\x01")
            mark = self.wait_for(RAW_BANNER + b">", timeout, since=mark)
        self.write_console(code.encode() + b"\x04")
        end = self.wait_for(b"\x04>", timeout, since=mark)
        # The reply follows the last raw-REPL prompt: the banner waited for above may have
        # been a port client's (input is ordered, but its echo can come after `mark`).
        reply = bytes(self.output[mark:end - 2]).rpartition(RAW_BANNER + b">")[2]
        back = len(self.output)
        self.write_console(b"\x02")  # back to the friendly REPL, and wait until it is there:
        with contextlib.suppress(SimDeviceError):  # its banner must not come after a power cut
            self.wait_for(b">>> ", 5, since=back)
        if not reply.startswith(b"OK"):
            raise SimDeviceError(f"{self.name}: raw REPL refused the code: {reply[:200]!r}")
        out, _, err = reply[2:].partition(b"\x04")
        if err.strip(b"\x04"):
            raise SimDeviceError(err.decode("utf-8", "replace").strip())
        return out.decode("utf-8", "replace").replace("\r\n", "\n")

    def wait_until(self, predicate: Callable[[], object], timeout: float = 20,
                   what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                if time.monotonic() > deadline:
                    raise SimDeviceError(f"{self.name}: {what} not reached within {timeout} s")
                self._cond.wait(0.05)

    def wait_boots(self, n: int, timeout: float = 20) -> None:
        self.wait_until(lambda: self.boots >= n and self.running, timeout, f"boot #{n}")

