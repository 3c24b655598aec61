# Sealed records waiting for an authenticated ack, packed into one preallocated bytearray
# (no per-record objects: the heap cost of a queued record is its bytes plus a 6-byte header).
#
#   entry = u16 length of the entry (header included), big-endian
#           u8  session slot
#           u8  flags (1 = live; 0 = dropped, space reclaimed by the next compaction)
#           u16 record index within its session, big-endian
#           ... the sealed record (COSE_Encrypt0 bytes)
#
# Entries are appended at the end of the used area; dropping marks them; when an append does
# not fit, live entries are slid down over dropped ones (one pass, in order). Sealed records
# are not secret, so nothing here needs wiping; dropped bytes are zeroed anyway so a heap dump
# shows only what is still queued.
from micropython import const

from wipe import wipe

HEADER = const(6)
_LIVE = const(1)


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

    def commit(self, slot, index, n):
        """Append the record written into the last reserve() (n bytes) -> memoryview of it."""
        b = self._buf
        off = self._end
        total = HEADER + n
        if off + total > len(b):
            raise QueueFull("commit beyond the reserved room")
        b[off] = total >> 8
        b[off + 1] = total & 0xFF
        b[off + 2] = slot
        b[off + 3] = _LIVE
        b[off + 4] = index >> 8
        b[off + 5] = index & 0xFF
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

    def count(self, slot):
        """Live records of one session slot."""
        return sum(1 for s, _, _ in self.entries() if s == slot)
