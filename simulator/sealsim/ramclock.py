"""The record a simulated device's interpreter shares with its supervisor (`$SEALSIM_SHM`):
the device clock and the board's RAM budget with its high-water marks.

Layout (little-endian, simulator/interp/esp32sim/sealsim.h `sealsim_shm_t`):

    u32 magic 'SSIM'  u32 version=1  i64 clock_offset_ns
    u32 budget  reserved  used  used_peak  heap  heap_peak  tls  tls_peak
        shim_credit  peak_ms  refused  heap_at_peak
    u32 ticks_offset_ms

The interpreter charges the budget and keeps the peaks at every allocation (continuous, not
sampled); the harness sets and steps the clock, which the interpreter's time module and
mbedTLS's certificate checks read (device Unix time = host time + clock_offset_ns).
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from dataclasses import asdict, dataclass
from pathlib import Path

MAGIC = 0x4D495353
_HEAD = struct.Struct("<IIq")
_MEM = struct.Struct("<12I")
_TICKS = struct.Struct("<I")
_TICKS_AT = _HEAD.size + _MEM.size
SIZE = 4096
EPOCH_2000 = 946684800


@dataclass(frozen=True)
class MemoryMarks:
    """High-water marks, in bytes, as the firmware sees them: the simulator's Python shims
    (which stand for native modules a board keeps outside this RAM) are taken out."""
    budget: int          # what the board offers (ram_kib)
    reserved: int        # Wi-Fi/lwIP share
    used: int            # charged now: reserved + GC heap + mbedTLS
    used_peak: int       # the most ever charged at once
    heap: int            # GC heap now (all areas)
    heap_peak: int
    tls: int             # mbedTLS blocks now
    tls_peak: int
    free_min: int        # budget - used_peak: the lowest free point
    peak_ms: int         # device ticks_ms at the peak
    refused: int         # allocations refused for lack of RAM (mbedTLS, heap areas)
    heap_at_peak: int
    shim_heap: int       # heap the shims hold (not charged to the firmware)

    @property
    def demand_ratio(self) -> float:
        """Peak demand / offer: the board's headroom at the worst moment is 1 - this."""
        return self.used_peak / self.budget if self.budget else 0.0

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "demand_ratio": round(self.demand_ratio, 4)}


class DeviceRecord:
    """The shared record, created by the supervisor before the interpreter starts."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SIZE:
                os.ftruncate(fd, SIZE)
            self._map = mmap.mmap(fd, SIZE)
        finally:
            os.close(fd)
        magic, version, _ = _HEAD.unpack_from(self._map, 0)
        if magic != MAGIC or version != 1:
            self._map[:_TICKS_AT + _TICKS.size] = bytes(_TICKS_AT + _TICKS.size)
            _HEAD.pack_into(self._map, 0, MAGIC, 1, 0)

    def close(self) -> None:
        self._map.close()

    # ---- clock ----
    @property
    def clock_offset_ns(self) -> int:
        return _HEAD.unpack_from(self._map, 0)[2]

    @clock_offset_ns.setter
    def clock_offset_ns(self, value: int) -> None:
        struct.pack_into("<q", self._map, 8, int(value))

    def device_time(self) -> float:
        """The device's Unix time now."""
        return time.time() + self.clock_offset_ns / 1e9

    def set_clock(self, unix_time: float) -> None:
        self.clock_offset_ns = int((unix_time - time.time()) * 1e9)

    def step_clock(self, seconds: float) -> None:
        self.clock_offset_ns = self.clock_offset_ns + int(seconds * 1e9)

    def pass_time(self, seconds: float) -> None:
        """Let `seconds` pass at once for the device: its monotonic clock (ticks_ms/us, asyncio
        timers) and its wall clock move forward together."""
        if seconds < 0:
            raise ValueError("time only passes forward")
        (ticks,) = _TICKS.unpack_from(self._map, _TICKS_AT)
        _TICKS.pack_into(self._map, _TICKS_AT, ticks + int(seconds * 1000))
        self.step_clock(seconds)

    def power_on_clock(self) -> None:
        """An ESP32's clock after power-on: 2000-01-01 00:00:00 UTC."""
        self.set_clock(EPOCH_2000)

    # ---- memory ----
    def marks(self) -> MemoryMarks:
        (budget, reserved, used, used_peak, heap, heap_peak, tls, tls_peak, shim, peak_ms,
         refused, heap_at_peak) = _MEM.unpack_from(self._map, _HEAD.size)
        return MemoryMarks(
            budget=budget, reserved=reserved, used=used - shim,
            used_peak=max(0, used_peak - shim), heap=heap - shim,
            heap_peak=max(0, heap_peak - shim), tls=tls, tls_peak=tls_peak,
            free_min=budget - max(0, used_peak - shim), peak_ms=peak_ms, refused=refused,
            heap_at_peak=max(0, heap_at_peak - shim), shim_heap=shim)

    def reset_peaks(self) -> None:
        """Start the high-water marks again from what is charged now."""
        vals = list(_MEM.unpack_from(self._map, _HEAD.size))
        vals[3], vals[5], vals[7], vals[11], vals[10] = vals[2], vals[4], vals[6], vals[4], 0
        _MEM.pack_into(self._map, _HEAD.size, *vals)


class DeviceClockAndMemory:
    """The harness's side of the record, as `Device` methods (Device sets `self.record`)."""

    record: DeviceRecord

    @property
    def clock_offset(self) -> int:
        """Device clock - host clock, in seconds. The interpreter reads it natively
        (time.time()/localtime() and mbedTLS's certificate date checks)."""
        return round(self.record.clock_offset_ns / 1e9)

    @clock_offset.setter
    def clock_offset(self, seconds: int) -> None:
        self.record.clock_offset_ns = int(seconds) * 1_000_000_000

    def set_clock(self, unix_time: float) -> None:
        self.record.set_clock(unix_time)

    def skew_clock(self, seconds: float) -> None:
        self.record.step_clock(seconds)

    def pass_time(self, seconds: float) -> None:
        """Let `seconds` pass at once for the device (its ticks, asyncio timers and wall clock
        together): session rotation after an hour, without waiting an hour."""
        self.record.pass_time(seconds)

    def power_on_clock(self) -> None:
        """Set the device clock to what an ESP32 reads after power-on: 2000-01-01."""
        self.record.power_on_clock()

    def memory(self) -> MemoryMarks:
        """The board RAM budget's high-water marks, kept by the interpreter at every
        allocation since the device was made (or since `reset_memory_marks()`)."""
        return self.record.marks()

    def reset_memory_marks(self) -> None:
        self.record.reset_peaks()


def budget_env(ram_bytes: int, wifi_bytes: int, record: Path | str | None = None
               ) -> dict[str, str]:
    """Environment that gives an interpreter the board's RAM budget (and the shared record)."""
    env = {"SEALSIM_RAM_BYTES": str(ram_bytes), "SEALSIM_RAM_RESERVED": str(wifi_bytes)}
    if record is not None:
        env["SEALSIM_SHM"] = str(record)
    return env
