"""ESP-IDF NVS (format version 2, multi-page blobs): a reader that also sees what the device
no longer does (erased entries, leftovers in free slots), and a writer with the library's
write, erase and page-reclaim rules, for the simulated device's `esp32.NVS`.

    page (4096 B)   header 32 B  [state u32][seq u32][version u8 = FE][reserved 19 FF][crc32 u32]
                                 crc32 over bytes 4..27
                    state: FFFFFFFF empty, FFFFFFFE active, FFFFFFFC full, FFFFFFF8 freeing,
                           FFFFFFF0 corrupt (bits only ever clear: NOR flash)
                    bitmap 32 B  2 bits per entry, entry i at byte i//4, bit 2*(i%4):
                                 11 empty, 10 written, 00 erased
                    126 entries of 32 B from offset 64
    entry (32 B)    [ns u8][type u8][span u8][chunk u8][crc32 u32][key 16, NUL padded][data 8]
                    crc32 over bytes 0..3 and 8..31; chunk FF unless blob data
    data            i8..u64: the value, little-endian, FF padded
                    SZ 0x21, BLOB_DATA 0x42: [size u16][FFFF][crc32 of the value u32]; the value
                      fills the span-1 entries after the header, FF padded
                    BLOB_IDX 0x48: [size u32][chunk count u8][chunk start u8][FFFF]; its chunks
                      are BLOB_DATA entries of the same key with chunk = start + n, start
                      alternating 0 / 128 between versions
    namespaces      namespace 0 holds them: type U8, key = name, data[0] = index (1..254)

CRCs are zlib's crc32 seeded with FFFFFFFF, as esp_rom_crc32_le(0xFFFFFFFF, ...) computes.
The writer keeps one page free, as the library does: when the active page is full and only
that page is left, the full page with the most erased entries is copied (live entries only)
to it and then erased.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sealscan.flashimage import FlashImageError

PAGE = 4096
ENTRIES = 126
ENTRY = 32
FIRST_ENTRY = 64

EMPTY = 0xFFFFFFFF
ACTIVE = 0xFFFFFFFE
FULL = 0xFFFFFFFC
FREEING = 0xFFFFFFF8
CORRUPT = 0xFFFFFFF0
PAGE_STATES = {EMPTY: "empty", ACTIVE: "active", FULL: "full", FREEING: "freeing",
               CORRUPT: "corrupt"}
VERSION2 = 0xFE

E_EMPTY, E_WRITTEN, E_ERASED = 3, 2, 0

U8, I8, U16, I16, U32, I32, U64, I64 = 0x01, 0x11, 0x02, 0x12, 0x04, 0x14, 0x08, 0x18
SZ, BLOB, BLOB_DATA, BLOB_IDX = 0x21, 0x41, 0x42, 0x48
CHUNK_ANY = 0xFF
_INT_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", U64: "<Q",
                I64: "<q"}
_VARLEN = (SZ, BLOB, BLOB_DATA)
KEY_MAX = 15


class NvsError(FlashImageError):
    """A set/erase the partition cannot take (no room, bad key), or an unreadable partition."""


def crc32(data: bytes) -> int:
    return zlib.crc32(data, 0xFFFFFFFF) & 0xFFFFFFFF


def entry_crc(raw: bytes | bytearray) -> int:
    return crc32(bytes(raw[0:4]) + bytes(raw[8:32]))


@dataclass
class Entry:
    """One entry header (and its value entries) as found in a page."""

    page: int  # page index in the partition
    slot: int  # entry index in the page
    offset: int  # byte offset of the header in the partition
    state: str  # written, erased, leftover (bitmap says empty, bytes say otherwise)
    ns: int
    type: int
    span: int
    chunk: int
    key: str
    data: bytes  # the 8 data bytes
    payload: bytes = b""  # SZ / BLOB_DATA: the value (as long as its size field says)
    crc_ok: bool = True

    @property
    def end(self) -> int:
        return self.offset + ENTRY * max(self.span, 1)

    def value(self) -> int | bytes | None:
        fmt = _INT_FORMATS.get(self.type)
        if fmt is not None:
            return struct.unpack_from(fmt, self.data)[0]
        if self.type in _VARLEN:
            return self.payload
        return None


@dataclass
class Page:
    index: int
    state: int
    seq: int
    version: int
    header_ok: bool
    bitmap: bytes

    @property
    def state_name(self) -> str:
        return PAGE_STATES.get(self.state, f"{self.state:#010x}")

    def entry_state(self, slot: int) -> int:
        return (self.bitmap[slot // 4] >> ((slot % 4) * 2)) & 3


@dataclass
class NvsView:
    """Everything in an NVS partition: pages, every entry (erased ones too), namespaces."""

    size: int
    pages: list[Page] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    namespaces: dict[int, str] = field(default_factory=dict)  # from written entries
    old_namespaces: dict[int, str] = field(default_factory=dict)  # from erased ones

    def ns_name(self, index: int) -> str:
        return self.namespaces.get(index) or self.old_namespaces.get(index) or f"#{index}"

    def entry_at(self, offset: int) -> Entry | None:
        """The entry (header or value slots) covering byte `offset` of the partition."""
        for e in self.entries:
            if e.offset <= offset < e.end:
                return e
        return None

    def items(self) -> dict[tuple[str, str], int | bytes]:
        """The live values: (namespace, key) -> int or bytes (blobs assembled, strings as
        their bytes with the NUL)."""
        out: dict[tuple[str, str], int | bytes] = {}
        chunks: dict[tuple[int, str, int], bytes] = {}
        for e in self.entries:
            if e.state == "written" and e.type == BLOB_DATA:
                chunks[(e.ns, e.key, e.chunk)] = e.payload
        for e in self.entries:
            if e.state != "written" or e.ns in (0, 0xFF) or e.type == BLOB_DATA:
                continue
            name = (self.ns_name(e.ns), e.key)
            if e.type == BLOB_IDX:
                size, count, start = struct.unpack_from("<IBB", e.data)
                parts = [chunks.get((e.ns, e.key, start + n)) for n in range(count)]
                if all(p is not None for p in parts):
                    out[name] = b"".join(p for p in parts if p is not None)[:size]
                continue
            value = e.value()
            if value is not None:
                out[name] = value
        return out

    def keys(self) -> dict[str, list[str]]:
        """{namespace: sorted key names} of every written entry (a key whose value is
        damaged or incomplete is still there)."""
        out: dict[str, set[str]] = {}
        for e in self.entries:
            if e.state == "written" and e.ns not in (0, 0xFF) and e.type != BLOB_DATA:
                out.setdefault(self.ns_name(e.ns), set()).add(e.key)
        return {ns: sorted(k) for ns, k in sorted(out.items())}


def _key(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _parse_entry(buf: bytes, page: int, slot: int, base: int, state: str) -> Entry:
    off = base + FIRST_ENTRY + ENTRY * slot
    raw = buf[off:off + ENTRY]
    ns, typ, span, chunk = raw[0], raw[1], raw[2], raw[3]
    (crc,) = struct.unpack_from("<I", raw, 4)
    e = Entry(page, slot, off, state, ns, typ, span, chunk,
              _key(raw[8:24]), bytes(raw[24:32]), crc_ok=crc == entry_crc(raw))
    if typ in _VARLEN and 1 < span <= ENTRIES - slot:
        (size,) = struct.unpack_from("<H", raw, 24)
        size = min(size, (span - 1) * ENTRY)
        e.payload = bytes(buf[off + ENTRY:off + ENTRY + size])
    else:
        e.span = 1
    return e


def read_nvs(data: bytes | bytearray | memoryview) -> NvsView:
    """Parse a whole NVS partition. Never fails on content: damaged pages and entries are
    reported as such (page.header_ok, entry.crc_ok, state "leftover"); only a size that is
    not a whole number of pages raises NvsError."""
    buf = bytes(data)
    if not buf or len(buf) % PAGE:
        raise NvsError(f"an NVS partition is whole 4 KiB pages; this one is {len(buf)} bytes")
    view = NvsView(len(buf))
    for index in range(len(buf) // PAGE):
        base = index * PAGE
        state, seq, version = struct.unpack_from("<IIB", buf, base)
        (hcrc,) = struct.unpack_from("<I", buf, base + 28)
        page = Page(index, state, seq, version, hcrc == crc32(buf[base + 4:base + 28]),
                    buf[base + 32:base + 64])
        view.pages.append(page)
        if state == EMPTY and buf[base:base + PAGE].count(0xFF) == PAGE:
            continue
        slot = 0
        while slot < ENTRIES:
            bits = page.entry_state(slot)
            off = base + FIRST_ENTRY + ENTRY * slot
            raw = buf[off:off + ENTRY]
            if bits == E_EMPTY or state == EMPTY:
                if raw.count(0xFF) != ENTRY:
                    view.entries.append(_parse_entry(buf, index, slot, base, "leftover"))
                    view.entries[-1].span = 1
                    view.entries[-1].payload = b""
                slot += 1
                continue
            e = _parse_entry(buf, index, slot, base,
                             "written" if bits == E_WRITTEN else "erased")
            view.entries.append(e)
            if e.ns == 0 and e.type == U8 and e.crc_ok:
                target = view.namespaces if e.state == "written" else view.old_namespaces
                target[e.data[0]] = e.key
            slot += max(e.span, 1)
    return view


# ------------------------------------------------------------------ writer -----------------

def _pack_entry(ns: int, typ: int, span: int, chunk: int, key: str, data: bytes) -> bytearray:
    raw = bytearray(b"\xff" * ENTRY)
    raw[0], raw[1], raw[2], raw[3] = ns, typ, span, chunk
    kb = key.encode()
    raw[8:24] = kb + b"\0" * (16 - len(kb))
    raw[24:32] = data.ljust(8, b"\xff")
    struct.pack_into("<I", raw, 4, entry_crc(raw))
    return raw


class NvsPartition:
    """Read/write access to one NVS partition held in `buf` (a bytearray, or a writable
    memoryview over the device's flash.bin). Every change lands in `buf` at once, with NOR
    semantics: erased areas are written, bits are only cleared, pages are erased whole."""

    def __init__(self, buf: Any):
        self.buf = buf
        self.size = len(buf)
        self._moved: dict[tuple[int, int], tuple[int, int]] = {}  # reclaimed entries
        if self.size % PAGE or self.size < 2 * PAGE:
            raise NvsError(f"an NVS partition needs 2 or more 4 KiB pages; {self.size} bytes")
        self._load()

    # -- state ----------------------------------------------------------------------------
    def _load(self) -> None:
        view = read_nvs(self.buf)
        bad = [p for p in view.pages if p.state not in (EMPTY, ACTIVE, FULL, FREEING)
               or (p.state != EMPTY and (not p.header_ok or p.version != VERSION2))]
        if bad:  # nvs_flash_init fails; MicroPython's startup then erases the partition
            self._erase_all()
            view = read_nvs(self.buf)
        self.view = view
        self.ns_index = {name: idx for idx, name in view.namespaces.items()}
        live = [p for p in view.pages if p.state in (ACTIVE, FULL, FREEING)]
        self.seq = max((p.seq for p in live), default=-1)
        active = [p for p in live if p.state == ACTIVE]
        self.active = max(active, key=lambda p: p.seq).index if active else None

    def _erase_all(self) -> None:
        self.buf[0:self.size] = b"\xff" * self.size

    def _page_state(self, index: int) -> int:
        return int(struct.unpack_from("<I", self.buf, index * PAGE)[0])

    def _set_page_state(self, index: int, state: int) -> None:
        struct.pack_into("<I", self.buf, index * PAGE, state & self._page_state(index))

    def _slot_state(self, index: int, slot: int) -> int:
        return (self.buf[index * PAGE + 32 + slot // 4] >> ((slot % 4) * 2)) & 3

    def _set_slot_state(self, index: int, slot: int, state: int) -> None:
        at = index * PAGE + 32 + slot // 4
        shift = (slot % 4) * 2
        self.buf[at] = self.buf[at] & ~(3 << shift) & 0xFF | (state << shift)

    def _free_slots(self, index: int) -> int:
        used = 0
        for slot in range(ENTRIES):
            if self._slot_state(index, slot) != E_EMPTY:
                used = slot + 1
        return ENTRIES - used

    def _first_free_slot(self, index: int) -> int:
        return ENTRIES - self._free_slots(index)

    def _erased_slots(self, index: int) -> int:
        return sum(1 for s in range(ENTRIES) if self._slot_state(index, s) == E_ERASED)

    def _init_page(self, index: int) -> None:
        self.seq += 1
        header = bytearray(b"\xff" * 32)
        struct.pack_into("<IIB", header, 0, ACTIVE, self.seq, VERSION2)
        struct.pack_into("<I", header, 28, crc32(bytes(header[4:28])))
        self.buf[index * PAGE:index * PAGE + 32] = bytes(header)
        self.active = index

    def _empty_pages(self) -> list[int]:
        return [i for i in range(self.size // PAGE) if self._page_state(i) == EMPTY]

    def _new_page(self) -> None:
        """Make a new active page: a free one while more than one is left, else reclaim."""
        if self.active is not None:
            self._set_page_state(self.active, FULL)
            self.active = None
        empty = self._empty_pages()
        if len(empty) > 1 or (empty and not self._full_pages()):
            self._init_page(empty[0])
            return
        if not empty:
            raise NvsError("NVS partition has no free page left")
        victims = [(self._erased_slots(i), i) for i in self._full_pages()]
        count, victim = max(victims)
        if count == 0:
            raise NvsError("NVS partition is full (no erased entries to reclaim)")
        self._set_page_state(victim, FREEING)
        self._init_page(empty[0])
        target, slot = empty[0], 0
        base = victim * PAGE
        while slot < ENTRIES:
            state = self._slot_state(victim, slot)
            if state != E_WRITTEN:
                slot += 1
                continue
            span = max(self.buf[base + FIRST_ENTRY + ENTRY * slot + 2], 1)
            span = min(span, ENTRIES - slot)
            at = self._first_free_slot(target)
            src = base + FIRST_ENTRY + ENTRY * slot
            dst = target * PAGE + FIRST_ENTRY + ENTRY * at
            self.buf[dst:dst + ENTRY * span] = bytes(self.buf[src:src + ENTRY * span])
            for n in range(span):
                self._set_slot_state(target, at + n, E_WRITTEN)
            self._moved[(victim, slot)] = (target, at)
            slot += span
        self.buf[base:base + PAGE] = b"\xff" * PAGE  # sector erase

    def _full_pages(self) -> list[int]:
        return [i for i in range(self.size // PAGE) if self._page_state(i) in (FULL, FREEING)]

    def _room(self, entries: int) -> int:
        """The active page, made or changed so that it has `entries` free slots."""
        if self.active is None or self._free_slots(self.active) < entries:
            self._new_page()
            assert self.active is not None
            if self._free_slots(self.active) < entries:
                raise NvsError("NVS partition is full")
        return self.active

    def _write(self, raw: bytes | bytearray, payload: bytes = b"") -> None:
        span = 1 + (len(payload) + ENTRY - 1) // ENTRY
        page = self._room(span)
        slot = self._first_free_slot(page)
        at = page * PAGE + FIRST_ENTRY + ENTRY * slot
        self.buf[at:at + ENTRY] = bytes(raw)
        if payload:
            self.buf[at + ENTRY:at + ENTRY + len(payload)] = payload
        for n in range(span):
            self._set_slot_state(page, slot + n, E_WRITTEN)

    # -- items -----------------------------------------------------------------------------
    def _live(self, ns: int, key: str) -> list[Entry]:
        """The written entries of a key, before a change (reclaims during the change are
        followed through self._moved)."""
        self._moved.clear()
        view = read_nvs(self.buf)
        return [e for e in view.entries if e.state == "written" and e.ns == ns and
                e.key == key and e.crc_ok]

    def _erase_entry(self, e: Entry) -> None:
        page, slot = e.page, e.slot
        while (page, slot) in self._moved:
            page, slot = self._moved[(page, slot)]
        for n in range(max(e.span, 1)):
            self._set_slot_state(page, slot + n, E_ERASED)

    def _namespace(self, name: str, create: bool) -> int | None:
        if name in self.ns_index:
            return self.ns_index[name]
        if not create:
            return None
        if not 0 < len(name.encode()) <= KEY_MAX:
            raise NvsError(f"namespace name must be 1-{KEY_MAX} bytes")
        used = set(self.ns_index.values())
        index = next((i for i in range(1, 255) if i not in used), None)
        if index is None:
            raise NvsError("no namespace index left")
        self._write(_pack_entry(0, U8, 1, CHUNK_ANY, name, bytes([index])))
        self.ns_index[name] = index
        return index

    @staticmethod
    def _check_key(key: str) -> None:
        if not 0 < len(key.encode()) <= KEY_MAX:
            raise NvsError(f"NVS key must be 1-{KEY_MAX} bytes")

    def set_int(self, namespace: str, key: str, value: int, typ: int = I32) -> None:
        self._check_key(key)
        if self.get_typed(namespace, key) == (typ, value):
            return  # the library compares first and leaves an equal value alone
        ns = self._namespace(namespace, True)
        assert ns is not None
        old = self._live(ns, key)
        self._write(_pack_entry(ns, typ, 1, CHUNK_ANY, key, struct.pack(_INT_FORMATS[typ],
                                                                          value)))
        for e in old:
            self._erase_entry(e)

    def set_blob(self, namespace: str, key: str, value: bytes) -> None:
        self._check_key(key)
        if self.get_typed(namespace, key) == (BLOB_IDX, bytes(value)):
            return  # the library compares first and leaves an equal value alone
        ns = self._namespace(namespace, True)
        assert ns is not None
        old = self._live(ns, key)
        old_start = next((e.data[5] for e in old if e.type == BLOB_IDX), 128)
        start = 0 if old_start == 128 else 128
        data, count = bytes(value), 0
        while True:
            if self.active is None or self._free_slots(self.active) < 2:
                self._new_page()
            assert self.active is not None
            room = (self._free_slots(self.active) - 1) * ENTRY
            chunk = data[:room]
            head = struct.pack("<HHI", len(chunk), 0xFFFF, crc32(chunk))
            span = 1 + (len(chunk) + ENTRY - 1) // ENTRY
            self._write(_pack_entry(ns, BLOB_DATA, span, start + count, key, head), chunk)
            data = data[len(chunk):]
            count += 1
            if not data:
                break
        self._write(_pack_entry(ns, BLOB_IDX, 1, CHUNK_ANY, key,
                                struct.pack("<IBBH", len(value), count, start, 0xFFFF)))
        for e in old:
            self._erase_entry(e)

    def erase_key(self, namespace: str, key: str) -> bool:
        ns = self._namespace(namespace, False)
        if ns is None:
            return False
        old = self._live(ns, key)
        for e in old:
            self._erase_entry(e)
        return bool(old)

    def get(self, namespace: str, key: str) -> int | bytes | None:
        return read_nvs(self.buf).items().get((namespace, key))

    def get_typed(self, namespace: str, key: str) -> tuple[int, int | bytes] | None:
        """(entry type, value) of a live key: BLOB_IDX for a blob, SZ for a string, else
        the integer type (I32, U8, ...). None if the key is not there."""
        view = read_nvs(self.buf)
        value = view.items().get((namespace, key))
        if value is None:
            return None
        typ = next(e.type for e in view.entries if e.state == "written" and e.key == key
                   and e.type != BLOB_DATA and view.ns_name(e.ns) == namespace)
        return typ, value

    def namespaces(self) -> Iterator[str]:
        return iter(sorted(self.ns_index))
