"""The receive side of an ESP32 UART as a board has it, between a scan engine's TX pin and
the firmware's `UART.read`.

    engine TX --(baud: 10 bits a byte)--> RX FIFO (128 B) --ISR--> ring buffer (rxbuf) --> read
                                                  \\--> stash (<= 120 B) when the ring is full

- Bytes arrive one at a time at the configured baud rate (8N1: 10 bit times each), never
  faster, however fast the model hands them over.
- The IDF driver (`uart_rx_intr_handler_default`, ESP-IDF v5 `driver/uart/uart.c`) moves them
  from the 128-byte hardware FIFO into the ring buffer of `rxbuf` bytes (MicroPython's
  `UART(..., rxbuf=)`, default 256). When the ring is full it keeps what it already read
  out of the FIFO (the stash, up to the 120-byte RX-full threshold), stops reading, and the
  FIFO fills; a byte arriving to a full FIFO overflows it: the FIFO is reset, its 128 bytes
  and that byte are gone (UART_FIFO_OVF). Reading makes room: the stash goes into the ring
  when it fits whole, then the FIFO drains into it again.
- So a firmware that does not read for a while (C code holding the interpreter: a TLS
  handshake, a DNS lookup, ntptime's wait) loses a middle stretch of what was sent and gets
  the ring's and the stash's bytes and the FIFO's last ones: a line with a hole in it.
  `dropped` counts every lost byte and `overflows` the FIFO resets; tests read them.

The firmware's reads are reported by the UART shim (bus op `U`: n bytes taken), in order
with everything else, so the model knows how full the ring is. Times are the supervisor's
monotonic clock; `tick` delivers what has arrived by then (the owner calls it every few ms
while `busy`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

FIFO = 128  # SOC_UART_FIFO_LEN (ESP32, ESP32-S3)
STASH = 120  # the driver's RX-full threshold: what one interrupt reads out of the FIFO


class UartLine:
    def __init__(self, baud: int, rxbuf: int, deliver: Callable[[bytes], None],
                 clock: Callable[[], float] = time.monotonic):
        self.baud = baud
        self.rxbuf = rxbuf
        self.deliver = deliver  # bytes the firmware can now read (into the ring)
        self.clock = clock
        self.ring = 0  # bytes in the ring buffer, not read yet
        self.stash = bytearray()
        self.fifo = bytearray()
        self.wire: deque[tuple[float, bytes]] = deque()  # (time its first byte arrives, data)
        self.line_free = 0.0  # when the TX line finishes what it was given
        self.dropped = 0
        self.overflows = 0
        self.received = 0  # bytes that reached the RX pin
        self.lock = threading.RLock()  # the engine sends from the harness's thread

    @property
    def byte_time(self) -> float:
        return 10 / self.baud

    @property
    def busy(self) -> bool:
        return bool(self.wire)

    def send(self, data: bytes) -> None:
        """The engine puts `data` on its TX line now (after whatever it sent before)."""
        if not data:
            return
        with self.lock:
            start = max(self.clock(), self.line_free)
            self.wire.append((start, bytes(data)))
            self.line_free = start + len(data) * self.byte_time

    def tick(self) -> None:
        """Deliver every byte that has arrived by now."""
        with self.lock:
            self._tick()

    def _tick(self) -> None:
        now = self.clock()
        out = bytearray()
        while self.wire:
            start, data = self.wire[0]
            # byte i is in once its 10 bit times are over: start + (i + 1) * byte_time
            n = min(len(data), int((now - start) / self.byte_time + 1e-9)) if now > start else 0
            for b in data[:n]:
                self._arrive(b, out)
            if n < len(data):
                if n:
                    self.wire[0] = (start + n * self.byte_time, data[n:])
                break
            self.wire.popleft()
        if out:
            self.deliver(bytes(out))

    def took(self, n: int) -> None:
        """The firmware read `n` bytes out of the ring."""
        with self.lock:
            self._took(n)

    def _took(self, n: int) -> None:
        self._tick()  # what arrived before the read was judged against the fuller ring
        self.ring = max(0, self.ring - n)
        out = bytearray()
        if self.stash and self.ring + len(self.stash) <= self.rxbuf:
            self.ring += len(self.stash)
            out += self.stash
            self.stash.clear()
        if not self.stash:
            k = min(len(self.fifo), self.rxbuf - self.ring)
            out += self.fifo[:k]
            self.ring += k
            del self.fifo[:k]
            if self.fifo:  # the ring is full again: the ISR stashes what it read
                k = min(STASH, len(self.fifo))
                self.stash += self.fifo[:k]
                del self.fifo[:k]
        if out:
            self.deliver(bytes(out))

    def _arrive(self, b: int, out: bytearray) -> None:
        self.received += 1
        if not self.stash and not self.fifo and self.ring < self.rxbuf:
            self.ring += 1
            out.append(b)
            return
        if len(self.stash) < STASH and not self.fifo:
            self.stash.append(b)
            return
        if len(self.fifo) < FIFO:
            self.fifo.append(b)
            return
        # UART_RXFIFO_OVF: the driver resets the FIFO; its bytes and this one are lost
        self.dropped += len(self.fifo) + 1
        self.overflows += 1
        self.fifo.clear()
