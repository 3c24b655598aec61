"""The chip's USB serial port: a pty, the ROM's auto-baud, SLIP framing, unplugging.

The baud rate is simulated: the ROM locks on to the host's rate at the first byte after a
reset, CHANGE_BAUDRATE switches the chip, and bytes arriving at any other rate are line noise
the chip drops (so a host that forgets to switch gets no answer, as on a real UART). A pty
has no line rate of its own, so the host's setting is sampled when the chip reads the bytes.
When the host closes the port the chip resets to the ROM.

`UsbPort` is the port half of `sealsim.rom.chip.SimulatedChip` (a mixin).
"""

from __future__ import annotations

import os
import pty
import select
import termios
import time
import tty

from sealsim.rom import slip

SEND_TIMEOUT = 5.0  # a host that stops reading for this long is gone

_SPEEDS = {getattr(termios, name): int(name[1:]) for name in dir(termios)
           if name.startswith("B") and name[1:].isdigit()}


class _Gone(Exception):
    """The host end of the port is gone (closed, or the port was dropped)."""


class UsbPort:
    """The pty, its reader thread's loop and the SLIP frames in and out."""

    def _plug_in(self) -> None:
        """A new pty for the host (at power-on and when the cable is plugged back in)."""
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.tty = os.ttyname(slave)
        os.close(slave)  # the host opens it; while nobody has it open the master sees HUP
        os.set_blocking(master, False)
        self._master = master
        self._poll = select.poll()
        self._poll.register(master, select.POLLIN)
        if self.link is not None:
            fresh = self.link.with_name(self.link.name + ".new")
            fresh.unlink(missing_ok=True)
            fresh.symlink_to(self.tty)
            fresh.replace(self.link)  # atomic: the name never points nowhere
            self.port = str(self.link)
        else:
            self.port = self.tty

    def _close_master(self) -> None:
        if self._master >= 0:
            os.close(self._master)
            self._master = -1

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self._next_frame(0.1)
                if frame is not None:
                    try:
                        self._handle(frame)
                    except _Gone:
                        self._host_gone()
        except Exception as e:  # keep the failure for whoever runs the chip
            self.error = e
            self.events.append(f"error {type(e).__name__}: {e}")

    def _host_gone(self) -> None:
        if self._host_present:
            self._host_present = False
            self._reset_state()
            self.events.append("reset")

    def _next_frame(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while not self._frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stop.is_set() or self._master < 0:
                return None
            ready = self._poll.poll(min(remaining, 0.1) * 1000)
            if not ready:
                continue
            revents = ready[0][1]
            if revents & select.POLLIN:
                try:
                    chunk = os.read(self._master, 65536)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: the host closed its end
                    chunk = b""
                if chunk:
                    self._host_present = True
                    self._receive(chunk)
                    continue
            # POLLHUP (nobody has the port open) or a read that found the host gone
            self._host_gone()
            time.sleep(0.02)
        return self._frames.popleft()

    def _port_speed(self) -> int | None:
        try:
            return _SPEEDS.get(termios.tcgetattr(self._master)[5])
        except termios.error:
            return None

    def _receive(self, chunk: bytes) -> None:
        speed = self._port_speed()
        if self.baud is None:
            self.baud = speed or 115200
        elif speed is not None and speed != self.baud:
            self._decoder.reset()  # line noise at the wrong baud rate
            self.events.append("garbled")
            return
        if self.mode != "app":
            self._frames.extend(self._decoder.feed(chunk))

    def _send(self, payload: bytes) -> None:
        data = slip.encode(payload)
        deadline = time.monotonic() + SEND_TIMEOUT
        while data:
            if self._master < 0 or time.monotonic() > deadline:
                raise _Gone()
            try:
                n = os.write(self._master, data)
                data = data[n:]
            except BlockingIOError:
                select.select([], [self._master], [], 0.05)
            except OSError:
                raise _Gone() from None

    def _drop(self) -> None:
        self._dropped = True
        self.events.append("dropped")
        self._close_master()
        if self.link is not None:  # udev removes the by-id name with the device
            self.link.unlink(missing_ok=True)
        if self.faults.replug_after is None:
            self._stop.set()
        elif not self._stop.wait(self.faults.replug_after):
            self._host_present = False
            self._reset_state()  # the unplug power-cycled the chip
            self._plug_in()
            self.events.append("replugged")
        raise _Gone()
