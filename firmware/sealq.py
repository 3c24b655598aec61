# Sealed records waiting for an authenticated ack, packed into one preallocated bytearray
# (no per-record objects: the heap cost of a queued record is its bytes plus a 14-byte
# header). The queue owns a record's life: sealed (committed) -> overdue (latched) -> settled
# (dropped on a verified ack or rejection).
#
#   entry = u16 length of the entry (header included), big-endian
#           u8  session slot (0-3; bits 2-7 spare)
#           u8  flags  bit 0  live (0 = dropped, space reclaimed by the next compaction)
#                      bit 1  overdue: latched once the record is OVERDUE_S old by either
#                             clock, cleared only with the record (a clock stepped back by
#                             NTP never clears the alarm; only the ack does)
#                      bits 2-7 spare
#           u16 record index within its session, big-endian
#           u32 capture time by the monotonic clock: time.ticks_ms() mod 2**30 (the ESP32's
#               ticks period; ages are taken mod 2**30 too, so a port with a longer period
#               gives the same answers), big-endian
#           u32 capture time by the wall clock: seconds since 2000-01-01 UTC (the ESP32's
#               epoch, so a small int there until 2034), big-endian
#           ... the sealed record (COSE_Encrypt0 bytes)
#
# Entries are appended at the end of the used area; dropping marks them; when an append does
# not fit, live entries are slid down over dropped ones (one pass, in order). Sealed records
# are not secret, so nothing here needs wiping; dropped bytes are zeroed anyway so a heap dump
# shows only what is still queued.
import struct

from micropython import const

from wipe import wipe

HEADER = const(14)
_LIVE = const(1)
_OVERDUE = const(2)
_TICKS_MASK = const(0x3FFFFFFF)
_TICKS_HALF = const(0x20000000)

def _get32(b, off):
    return (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]


class QueueFull(Exception):
    pass


def _move(mv, dst, src, n):
    # Slide n bytes down (dst < src) in pieces that never overlap: slice assignment may copy
    # with memcpy.
    gap = src - dst
    done = 0
    while done < n:
        k = min(gap, n - done)
        mv[dst + done:dst + done + k] = mv[src + done:src + done + k]
        done += k


class SealQueue:
    def __init__(self, capacity):
        if not HEADER < capacity <= 0xFFFF * 16:
            raise ValueError("queue capacity")
        self._buf = bytearray(capacity)
        self._end = 0  # bytes in use (live and dropped entries)
        self._count = 0  # live entries
        self.pinned = 0  # while > 0 entries never move (views of them are being sent)

    def __len__(self):
        return self._count

    @property
    def capacity(self):
        return len(self._buf)

    @property
    def used(self):
        return self._end

    def _entry_len(self, off):
        b = self._buf
        return (b[off] << 8) | b[off + 1]

    def compact(self):
        b = self._buf
        mv = memoryview(b)
        src = dst = 0
        end = self._end
        while src < end:
            n = self._entry_len(src)
            if b[src + 3] & _LIVE:
                if dst != src:
                    _move(mv, dst, src, n)
                dst += n
            src += n
        wipe(b, dst, end)
        self._end = dst

    def reserve(self, n):
        """Room for a record of up to n bytes at the tail -> memoryview to write it into.

        Raises QueueFull if it does not fit even after compaction. Call commit() next."""
        need = HEADER + n
        if need > 0xFFFF:
            raise QueueFull("record too large for a queue entry")
        if self._end + need > len(self._buf):
            if not self.pinned:
                self.compact()
            if self._end + need > len(self._buf):
                raise QueueFull("sealed-record queue is full")
        off = self._end + HEADER
        return memoryview(self._buf)[off:off + n]

    def commit(self, slot, index, n, ticks, wall):
        """Append the record written into the last reserve() (n bytes), captured at `ticks`
        (time.ticks_ms) and `wall` (seconds since 2000) -> memoryview of it."""
        b = self._buf
        off = self._end
        total = HEADER + n
        if off + total > len(b):
            raise QueueFull("commit beyond the reserved room")
        struct.pack_into(">HBBHII", b, off, total, slot, _LIVE, index, ticks & _TICKS_MASK,
                         wall)
        self._end = off + total
        self._count += 1
        return memoryview(b)[off + HEADER:off + total]

    def entries(self):
        """Yield (slot, index, memoryview of the sealed record) for every live entry, oldest
        first. The views are valid until the next reserve()."""
        b = self._buf
        mv = memoryview(b)
        off = 0
        while off < self._end:
            n = self._entry_len(off)
            if b[off + 3] & _LIVE:
                yield b[off + 2], (b[off + 4] << 8) | b[off + 5], mv[off + HEADER:off + n]
            off += n

    def drop(self, slot, index):
        """Drop the live record (slot, index); returns whether there was one."""
        b = self._buf
        off = 0
        while off < self._end:
            n = self._entry_len(off)
            if b[off + 3] & _LIVE and b[off + 2] == slot and \
                    (b[off + 4] << 8) | b[off + 5] == index:
                b[off + 3] = 0
                wipe(b, off + HEADER, off + n)
                self._count -= 1
                return True
            off += n
        return False

    def overdue(self, now_ticks, now_wall, limit_ms):
        """Whether any queued record is overdue: latches every live record whose age by the
        monotonic clock (ticks_ms) or by the wall clock (seconds since 2000), whichever is
        later, reached limit_ms. A latched record stays overdue until it is dropped."""
        b = self._buf
        now_ticks &= _TICKS_MASK
        off = 0
        over = False
        while off < self._end:
            f = b[off + 3]
            if f & _LIVE:
                age = (now_ticks - _get32(b, off + 6)) & _TICKS_MASK
                if age >= _TICKS_HALF:  # before the capture (as time.ticks_diff would say)
                    age -= _TICKS_MASK + 1
                if not f & _OVERDUE and (
                        age >= limit_ms or (now_wall - _get32(b, off + 10)) * 1000 >= limit_ms):
                    f |= _OVERDUE
                    b[off + 3] = f
                over = over or bool(f & _OVERDUE)
            off += self._entry_len(off)
        return over

    def count(self, slot):
        """Live records of one session slot."""
        return sum(1 for s, _, _ in self.entries() if s == slot)
