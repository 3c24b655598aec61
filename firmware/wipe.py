# Overwrite secrets in place. Slice assignment from a zero buffer is far faster in MicroPython
# than a Python loop over the bytes.
from micropython import const

_CHUNK = const(256)
_ZEROS = bytes(_CHUNK)


def wipe(buf, start=0, end=-1):
    """Zero buf[start:end] (end -1 = to the end) in place; buf is a bytearray or memoryview."""
    if end < 0:
        end = len(buf)
    mv = memoryview(buf)
    z = memoryview(_ZEROS)
    while start < end:
        n = min(_CHUNK, end - start)
        mv[start:start + n] = z[:n]
        start += n


def wipe_stream(stream, n):
    """Overwrite the first n bytes of a seekable in-memory stream (io.BytesIO copies what it
    is given) with zeros, in place."""
    stream.seek(0)
    z = memoryview(_ZEROS)
    while n > 0:
        k = min(_CHUNK, n)
        stream.write(z[:k])
        n -= k


def scrub(size, count=2):
    """Zero free heap where a just-freed buffer of `size` bytes was (a decompression window,
    say: native code allocated it, so it cannot be wiped in place). Call right after
    gc.collect(): the allocator gives out the lowest free run that fits, which is where that
    buffer was unless a lower one fits too, so `count` zeroed buffers of its size cover it.
    A heap too full to give them is left as it is."""
    held = []
    try:
        for _ in range(count):
            held.append(bytearray(size))
    except MemoryError:
        pass

