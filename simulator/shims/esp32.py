# esp32 for the sealsim simulator. NVS namespaces live on the host in <state>/nvs/ (one file
# per namespace, written at commit(); every write is journaled by the supervisor).
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
