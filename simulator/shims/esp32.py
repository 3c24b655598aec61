# esp32 for the sealsim simulator. The device's flash is <state>/flash.bin (sealsim.flashstore):
# NVS calls go to the supervisor, which keeps the nvs partition in the ESP-IDF format; a
# Partition reads and writes flash.bin itself, through the file _simboot opened (_flash),
# with the esp32 port's semantics (esp32_partition.c): 4 KiB blocks, writeblocks without an
# offset erases the blocks first, with an offset it programs (bits only clear: NOR flash).
import struct

import _simlink

HEAP_DATA = 4
HEAP_EXEC = 1
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True


class NVS:
    def __init__(self, namespace):
        if not 0 < len(namespace) <= 15:
            raise ValueError("namespace")
        self._ns = namespace.encode()

    def _x(self, op, key, value=b""):
        return _simlink.xcall(op, self._ns + b"\0" + key.encode() + b"\0" + value)

    def set_i32(self, key, value):
        self._x("nvs_set", key, b"i" + struct.pack("<i", value))

    def get_i32(self, key):
        r = self._x("nvs_get", key)
        if r[:1] != b"i":
            raise OSError(-4354)  # ESP_ERR_NVS_NOT_FOUND
        return struct.unpack("<i", r[1:])[0]

    def set_blob(self, key, value):
        self._x("nvs_set", key, b"b" + bytes(value))

    def get_blob(self, key, buffer):
        r = self._x("nvs_get", key)
        if r[:1] != b"b":
            raise OSError(-4354)  # ESP_ERR_NVS_NOT_FOUND
        n = len(r) - 1
        if len(buffer) < n:
            raise OSError(-4364)  # ESP_ERR_NVS_INVALID_LENGTH
        buffer[:n] = r[1:]
        return n

    def erase_key(self, key):
        self._x("nvs_erase", key)

    def commit(self):
        _simlink.xcall("nvs_commit", self._ns)


_flash = None  # flash.bin, opened by _simboot before the host filesystem goes away
_parts = []  # (label, type, subtype, offset, size) from SEALSIM_PARTS
_BLOCK = 4096
_FF = None
_SCRATCH = None


def _attach(f, table):
    global _flash, _FF, _SCRATCH
    _flash = f
    _FF = b"\xff" * _BLOCK
    _SCRATCH = bytearray(_BLOCK)
    for row in table.split(","):
        if row:
            label, t, st, off, size = row.split(":")
            _parts.append((label, int(t), int(st), int(off), int(size)))


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=4096):
        if id in (Partition.BOOT, Partition.RUNNING):
            row = [p for p in _parts if p[1] == Partition.TYPE_APP][0]
        else:
            rows = [p for p in _parts if p[0] == id]
            if not rows:
                raise ValueError("partition not found")
            row = rows[0]
        self._row = row
        self._off = row[3]
        self._size = row[4]
        self._bs = block_size

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=4096):
        return [Partition(p[0], block_size) for p in _parts
                if p[1] == type and (subtype == 0xFF or p[2] == subtype)
                and (label is None or p[0] == label)]

    def info(self):
        label, t, st, off, size = self._row
        return (t, st, off, size, label, False)

    def readblocks(self, block_num, buf, offset=0):
        _flash.seek(self._off + block_num * self._bs + offset)
        _flash.readinto(buf)

    def writeblocks(self, block_num, buf, offset=None):
        # No allocation here: LittleFS writes from a file's finaliser while the GC runs.
        addr = self._off + block_num * self._bs
        if offset is None:
            n = (len(buf) + _BLOCK - 1) // _BLOCK
            _flash.seek(addr)
            for _ in range(n):
                _flash.write(_FF)
        else:
            addr += offset
            if isinstance(buf, bytes):
                buf = bytearray(buf)
            _flash.seek(addr)
            _flash.readinto(_SCRATCH)
            for i in range(len(buf)):
                buf[i] &= _SCRATCH[i]  # NOR flash: programming only clears bits
        _flash.seek(addr)
        _flash.write(buf)

    def ioctl(self, op, arg=None):
        if op == 4:  # BLOCK_COUNT
            return self._size // self._bs
        if op == 5:  # BLOCK_SIZE
            return self._bs
        if op == 6:  # BLOCK_ERASE
            _flash.seek(self._off + arg * _BLOCK)
            _flash.write(_FF)
        if op == 3:  # SYNC
            _flash.flush()
        return 0

    def set_boot(self):
        pass

    def get_next_update(self):
        raise OSError(-261)  # ESP_ERR_NOT_FOUND: the factory-only table has no OTA slot

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        pass


def raw_temperature():
    return 120


def mcu_temperature():
    return 45


def idf_heap_info(capabilities):
    # One region: the board's RAM budget as the interpreter charges it (total, free, largest
    # free block = free, lowest free so far). The Python shims' own heap is not counted.
    import _sealsim
    m = _sealsim.mem()
    total = m[0] + m[8]
    return [(m[0], total - m[2], total - m[2], total - m[3])]


def wake_on_ext0(pin, level):
    pass


def wake_on_ext1(pins, level):
    pass


def wake_on_touch(wake):
    pass
