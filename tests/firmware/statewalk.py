# Helpers for firmware tests: every byte an object graph holds (MicroPython).
import sys


def _int_bytes(n):
    n = abs(n)
    size = 1
    while n >> (8 * size):
        size += 1
    return (n.to_bytes(size, "big"), n.to_bytes(size, "little"))


def buffers(root, modules=()):
    """Every bytes-like value reachable from `root` (instance attributes, containers) and
    from the globals of `modules`: a list of (path, buffer). Buffers are the live objects:
    search them before the state changes again."""
    import gc

    gc.collect()
    out = []
    seen = set()

    def walk(obj, path):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (bytes, bytearray)):
            out.append((path, obj))  # by reference: look, do not keep
        elif isinstance(obj, memoryview):
            out.append((path, bytes(obj)))
        elif isinstance(obj, str):
            out.append((path, obj.encode()))
        elif isinstance(obj, int) and not isinstance(obj, bool):
            for b in _int_bytes(obj):
                out.append((path, b))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, path + "[%d]" % i)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(k, path + ".key")
                walk(v, path + "[%r]" % (k,))
        elif hasattr(obj, "__dict__") and not callable(obj) and \
                type(obj).__name__ != "module":
            for k, v in obj.__dict__.items():
                walk(v, path + "." + k)

    walk(root, "state")
    for name in modules:
        mod = sys.modules[name]
        for k in dir(mod):
            v = getattr(mod, k)
            if not k.startswith("__") and not callable(v) and type(v).__name__ != "module":
                walk(v, name + "." + k)
    return out


def find(bufs, needle):
    """Paths of the buffers that contain `needle`."""
    needle = bytes(needle)
    return [p for p, b in bufs if needle in b]
