# GM65 scan engine lines: decoded text terminated by CR (no LF). Bytes arrive in whatever
# pieces the UART gives; a line is complete at CR. A line longer than MAX_LINE is dropped up to
# its CR (counted, never half-delivered), empty lines and stray LF are ignored. The buffer is
# allocated once and wiped after each line (it may hold an identity token).
from micropython import const
from wipe import wipe

# the longest line any code the firmware takes can be: an identity token, RNID1: + 768
# characters (idtoken.MAX_TOKEN); badges, config codes and waybills are shorter
MAX_LINE = const(774)
_CR = const(13)
_LF = const(10)


class LineSplitter:
    def __init__(self, limit=MAX_LINE):
        self.buf = bytearray(limit)
        self.n = 0
        self.overlong = False
        self.dropped = 0  # over-long lines refused

    def feed(self, data, emit):
        """Split `data` into lines; emit(memoryview of one line) for each complete one. The
        view is only valid during the call."""
        buf = self.buf
        mv = memoryview(buf)
        for b in data:
            if b == _CR:
                n = self.n
                over = self.overlong
                self.n = 0  # reset first: a failing emit must not leave a stale line behind
                self.overlong = False
                if over:
                    self.dropped += 1
                elif n:
                    try:
                        emit(mv[:n])
                    finally:
                        wipe(buf, 0, n)
            elif b == _LF:
                continue
            elif self.overlong:
                continue
            elif self.n < len(buf):
                buf[self.n] = b
                self.n += 1
            else:
                self.overlong = True
