"""A simulated sealscan handheld: the MicroPython unix port plus host-side parts.

`Device` is the harness facade: one board, built from parts that each stand for a piece of
the ESP32 and its board (see docs/simulator.md, "Parts"):

    supervisor   sealsim/supervisor.py   the MicroPython process, resets, power
    console      sealsim/console.py      the USB serial port (a pty), raw REPL, soft reboot
    link         sealsim/link.py         the shims' unix socket: channels and bus framing
    peripherals  sealsim/peripherals.py  LED, buzzer, keys, scan engine, display by bus/pin
    hands        sealsim/hands.py        keys and console as a technician uses them
    storage      sealsim/storage.py      flash.bin (boot image, NVS, LittleFS), RTC memory
    relay        sealsim/netrelay.py     the Wi-Fi access point and relayed TCP

The **state directory** holds the flash: `flash.bin` is the device's whole SPI flash (what
the ROM bootloader simulator writes is what boots; LittleFS and NVS live in it, every NVS
write journaled in `Device.writes`), `rtc.bin` the RTC memory. The **run directory**
(`link.sock`) is RAM and wires, lost on a power cut; `power_on()` boots from the flash.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sealscan.boards import Board, load_board
from sealsim import micropython as mp
from sealsim.console import RAW_BANNER, SOFT_REBOOT, Console
from sealsim.display import Panel, terminal_lines
from sealsim.hands import DeviceHands
from sealsim.link import Link
from sealsim.netrelay import EPOCH_2000, NetRelay
from sealsim.peripherals import SCAN_ENGINES, Peripherals
from sealsim.ramclock import DeviceClockAndMemory, DeviceRecord
from sealsim.speed import SpeedModel
from sealsim.storage import FlashStorage
from sealsim.supervisor import (
    DEEPSLEEP_RESET,
    HARD_RESET,
    PWRON_RESET,
    SOFT_RESET,
    WDT_RESET,
    SimDeviceError,
    Supervisor,
    shim_heap_bytes,
)

__all__ = ["DEEPSLEEP_RESET", "EPOCH_2000", "HARD_RESET", "PWRON_RESET", "RAW_BANNER",
           "SCAN_ENGINES", "SOFT_REBOOT", "SOFT_RESET", "WDT_RESET", "Device", "SimDeviceError",
           "shim_heap_bytes"]


class Device(DeviceHands, DeviceClockAndMemory):
    """One simulated board. Use as a context manager, or call `start()` and `close()`."""

    def __init__(self, board: Board | str, state_dir: Path | str, *, name: str | None = None,
                 mac: bytes | None = None, wifi: bool = True):
        self.board = load_board(board) if isinstance(board, str) else board
        self.state = Path(state_dir)
        self.name = name or self.state.name
        self.storage = FlashStorage(self.board, self.state)
        self.mac = mac or bytes([0x24, 0x0A, 0xC4]) + os.urandom(3)
        self.run_dir = Path(tempfile.mkdtemp(prefix="sealsim-"))
        self.link_path = str(self.run_dir / "link.sock")
        # Shared with the interpreter: the device clock and the RAM budget's high-water marks.
        self.record = DeviceRecord(self.run_dir / "device.rec")
        self.events: list[tuple[float, str]] = []  # buzzer, LED, resets, watchdog, ...
        self.speed_model = SpeedModel(self._event)  # blocking native calls take ESP32 time
        self.clock_offset = 0  # device clock = host clock + offset (seconds), in self.record
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.link = Link(self.link_path, self._event)
        self.console = Console(self.link, self._cond, lambda: self.supervisor.pid())
        self.supervisor = Supervisor(link=self.link, console=self.console,
                                     storage=self.storage,
                                     heap_bytes=self.board.memory.initial_heap_bytes
                                     + shim_heap_bytes(),
                                     cond=self._cond, event=self._event,
                                     env={**mp.board_env(self.board, self.record.path),
                                          "SEALSIM_SHIM_CREDIT": str(shim_heap_bytes())})
        self.peripherals = Peripherals.build(self.board, self.link, self._event)
        self.relay = NetRelay(self.link, self._cond, self._event, wifi=wifi, name=self.name)
        p, s = self.peripherals, self.supervisor
        self.link.bus_ops.update({
            "W": p.pin_write, "R": p.pin_read, "M": p.pwm, "I": p.i2c_write, "S": p.spi_write,
            "E": self._bus_event, "Q": self._query, "X": self._call, "U": p.uart_took,
        })
        self.queries: dict[str, Callable[[list[str]], bytes | None]] = {
            "wifi": self.relay.query_wifi, "ntp": self.relay.query_ntp,
            "clock": lambda w: str(self.clock_offset).encode(), "settime": self._settime,
            "mac": lambda w: self.mac.hex().encode(), "uart": p.query_uart,
            "i2c": p.query_i2c, "reset_cause": s.query_reset_cause, "wdt": s.query_wdt,
            "exit": s.query_exit, "dns": self.relay.query_dns, "cost": self.speed_model.query_cost,
        }

    # -- the parts' shared state, under the names tests and tools use ----------------------
    port = property(lambda self: self.console.port)
    output = property(lambda self: self.console.output)  # everything printed on the console
    writes = property(lambda self: self.storage.writes)  # (time, state path, what)
    boots = property(lambda self: self.supervisor.boots)
    reset_cause = property(lambda self: self.supervisor.reset_cause)
    halted = property(lambda self: self.supervisor.halted)
    running = property(lambda self: self.supervisor.running)
    gm65 = property(lambda self: self.peripherals.scan_engine.model)
    wifi = property(lambda self: self.relay.wifi)
    net_delay = property(lambda self: self.relay.delay)
    net_connects = property(lambda self: self.relay.connects)  # TCP connections asked for
    uart_line = property(lambda self: self.peripherals.scan_engine.line)  # drops, overflows
    # NTP ("ok", "lost", "hang"), the resolver, the speed model's scale: docs/simulator.md
    ntp = property(lambda s: s.relay.ntp, lambda s, v: setattr(s.relay, "ntp", v))
    dns_ok = property(lambda s: s.relay.dns_ok, lambda s, v: setattr(s.relay, "dns_ok", v))
    speed = property(lambda s: s.speed_model.scale, lambda s, v: s.speed_model.set(v))

    @property
    def heap_bytes(self) -> int:
        """The GC heap's first area at the next boot (the board's, plus the shims' own heap,
        credited); it grows on demand from the board's RAM budget, which mbedTLS shares
        (simulator/interp, docs/simulator.md "Memory")."""
        return self.supervisor.heap_bytes

    @heap_bytes.setter
    def heap_bytes(self, value: int) -> None:
        self.supervisor.heap_bytes = value

    @property
    def panel(self) -> Panel:
        assert self.peripherals.panel is not None
        return self.peripherals.panel

    def _event(self, text: str) -> None:
        self.events.append((time.time(), text))

    # -- lifecycle --------------------------------------------------------------------------
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
            self.supervisor.power_on()

    def power_cut(self) -> None:
        """Pull the plug: the process dies (RAM lost), the state directory stays as it is."""
        with self._cond:
            self.supervisor.power_cut()
            self.peripherals.power_cut()
            self._event("power cut")

    def reboot(self) -> None:
        """Power cycle."""
        self.power_cut()
        self.power_on()

    def close(self) -> None:
        with self._cond:
            self.supervisor.powered = False
            self.supervisor.kill()
            self._stop = True
            self.relay.stopped = True
        if self._thread:
            self._thread.join(timeout=5)
        self.link.close()
        self.console.close()
        self.storage.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def _loop(self) -> None:
        wait = 0.05
        while not self._stop:
            self.link.poll(wait)
            wait = self.peripherals.tick()  # UART bytes at their baud rate
            with self._cond:
                self.supervisor.tick()
                self.console.flush_port()
                self._cond.notify_all()

    # -- the bus ops that are not a peripheral's ---------------------------------------------
    def _bus_event(self, p: bytes) -> None:
        text = p.decode("utf-8", "replace")
        if text == "booted":
            self.console.boot_done()
        elif not self.supervisor.on_event(text):
            self._event(text)

    def _query(self, p: bytes) -> bytes | None:
        words = p.decode("utf-8", "replace").split()
        cmd = words[0] if words else ""
        handler = self.queries.get(cmd) or self.queries.get(cmd.rstrip("0123456789"))
        return handler(words) if handler is not None else b""

    def _settime(self, words: list[str]) -> bytes:
        self.set_clock(int(words[1]) + EPOCH_2000)
        return b""

    def _call(self, p: bytes) -> bytes:
        name, _, arg = p.partition(b"\0")
        try:
            return b"+" + self.storage.call(name.decode(), arg)
        except OSError as e:
            return b"!" + str(e.errno or 5).encode()

    # -- harness API ------------------------------------------------------------------------
    def set_net_delay(self, seconds: float) -> None:
        """Latency added to every byte relayed between the device and the network (each
        way), as a slow uplink or a slow upstream would add it."""
        self.relay.set_delay(seconds)

    def set_wifi(self, on: bool) -> None:
        """Access point in range (True) or gone (False). Off tears down every connection."""
        self.relay.set_wifi(on)

    def scan(self, code: str | bytes) -> None:
        """Hold a code in front of the scan engine (it reads it as the real module would)."""
        self.gm65.scan(code)

    def scan_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the scan engine's TX line."""
        self.gm65.raw(data)

    @property
    def keys_down(self) -> set[str]:
        return {name for name, k in self.peripherals.keys.items() if k.down}

    # screen
    def frame(self, index: int = -1):
        """A captured frame (PIL image); -1 is the latest."""
        if not self.panel.frames:
            raise SimDeviceError(f"{self.name}: the display has not shown a frame yet")
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
        """Write files into the device's LittleFS in flash.bin (like `mpremote fs cp`,
        without a cable). Only while the device is off: the running interpreter has the
        filesystem mounted."""
        if self.running:
            raise SimDeviceError(f"{self.name}: deploy() writes flash.bin directly; power the "
                              "device off first (or use mpremote on its port)")
        data = {}
        for name, content in files.items():
            if ".." in name.split("/"):
                raise SimDeviceError(f"{name}: outside the device filesystem")
            if isinstance(content, Path):
                content = content.read_bytes()
            data[name] = content.encode() if isinstance(content, str) else content
        self.storage.deploy(data)

    @contextlib.contextmanager
    def download_mode(self, **chip_kwargs) -> Iterator[str]:
        """The chip reset into its ROM bootloader (BOOT held, EN pulsed), as esptool's reset
        does on a board: the interpreter stops and the ROM answers on a pty, over this
        device's flash.bin; yields that port. The device stays off afterwards: power_on()."""
        from sealsim.rom import SimulatedChip

        self.power_cut()
        chip = SimulatedChip(self.board, self.state, **chip_kwargs)
        port = chip.start()
        try:
            yield port
        finally:
            chip.stop()

    def nvs(self, namespace: str = "sealscan") -> dict[str, int | bytes]:
        """The live keys of an NVS namespace, read from the nvs partition of flash.bin."""
        from sealscan.flashimage.layout import read_layout
        from sealscan.flashimage.nvs import read_nvs

        flash = self.storage.flash.flash.read(0, self.board.flash_size)
        part = read_layout(flash).get("nvs")
        return {key: value for (ns, key), value in
                read_nvs(flash[part.offset:part.end]).items().items() if ns == namespace}

    def files(self) -> dict[str, bytes]:
        """Every file in the device's LittleFS (absolute path -> bytes), read from flash.bin
        (what the interpreter has written so far)."""
        return self.storage.files()
