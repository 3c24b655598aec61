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
