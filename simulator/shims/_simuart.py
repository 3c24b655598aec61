# machine.UART for the sealsim simulator (re-exported by machine; firmware imports machine).
# A UART is its own stream socket to the host (channel b"uartN"), pollable like the real one:
# asyncio.StreamReader(uart) works. UART0 writes go to the console (stdout), as on a board.
import io
import struct
import sys

import _simlink


class UART(io.IOBase):
    INV_TX = 32
    INV_RX = 4
    INV_RTS = 64
    INV_CTS = 8
    RTS = 1
    CTS = 2
    IRQ_RX = 1
    IRQ_BREAK = 2
    IRQ_RXIDLE = 4096

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, *, tx=None, rx=None,
                 rts=None, cts=None, txbuf=256, rxbuf=256, timeout=0, timeout_char=0,
                 invert=0, flow=0):
        self._id = id
        self._baud = baudrate
        self._rxbuf = rxbuf
        if id == 0:
            # UART0 is the console on an ESP32: writes share the REPL's stream (and order).
            self._s = None
        else:
            # The line speed and the driver's ring buffer size go with the channel name: a
            # module at another speed sees garbage; the supervisor's model of the line
            # (sealsim.uartline) delivers bytes at the baud rate into a ring of `rxbuf` bytes
            # (plus the hardware FIFO) and drops what does not fit, as the IDF driver does.
            # Every read is reported (bus op U) so the model knows how full the ring is.
            if rxbuf <= 128:
                raise OSError(-258)  # uart_driver_install: ESP_ERR_INVALID_ARG (> FIFO)
            self._s = _simlink.connect("uart%d %d %d" % (id, baudrate, rxbuf))
            self._s.setblocking(False)
        self.init(baudrate, bits, parity, stop, timeout=timeout, timeout_char=timeout_char)

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, *, tx=None, rx=None,
             rts=None, cts=None, txbuf=None, rxbuf=None, timeout=0, timeout_char=0,
             invert=0, flow=0):
        if baudrate != self._baud and self._id:
            _simlink.query("uart %d baud %d" % (self._id, baudrate))  # a call: in order
        self._baud = baudrate
        self._timeout = timeout
        self._timeout_char = timeout_char

    def _took(self, n):
        # the firmware took n bytes out of the driver's ring buffer
        if n:
            _simlink.send(ord("U"), struct.pack("<BH", self._id, n))

    def deinit(self):
        if self._s:
            self._s.close()
            self._s = None

    def _wait(self, ms):
        import select
        p = select.poll()
        p.register(self._s, select.POLLIN)
        return bool(p.poll(ms))

    # Received bytes go straight from the link into the caller's buffer (readinto): never
    # into a bytes object per poll, so a scanned identity token leaves no copies in the
    # MicroPython heap that the firmware cannot wipe. (On a board the IDF driver's rx ring
    # buffer keeps the last bytes received, outside the heap: sealsim.memdump's docstring.)
    def any(self):
        # "may return 1 even if there is more than one character available" (the docs): no
        # peek, which would copy what is pending (a scanned token) into the heap
        return 1 if self._s is not None and self._wait(0) else 0

    def _ready(self):
        # whether a byte is there (a 1-byte peek: no heap worth speaking of per poll)
        try:
            return bool(self._s.recv(1, _simlink._socket.MSG_PEEK))
        except OSError:
            return False

    def read(self, nbytes=-1):
        if self._s is None:
            return None
        if not self._ready() and not (self._timeout and self._wait(self._timeout)):
            return None
        buf = bytearray(nbytes if nbytes is not None and nbytes >= 0 else self._rxbuf)
        n = self.readinto(buf)
        return bytes(buf[:n]) if n else None

    def readinto(self, buf, nbytes=-1):
        # Straight into the caller's buffer, as the native driver does: no heap per read.
        if self._s is None:
            return None
        if nbytes < 0 or nbytes > len(buf):
            nbytes = len(buf)
        if not self._ready() and not (self._timeout and self._wait(self._timeout)):
            return None
        try:
            n = self._s.readinto(buf, nbytes)
        except OSError:
            return None
        self._took(n or 0)  # the line model frees that much of the driver's ring
        return n or None

    def readline(self):
        if not self.any():
            return None
        out = bytearray()
        one = bytearray(1)
        while self.readinto(one):
            out += one
            if one[0] == 10:
                break
        return bytes(out) or None

    def write(self, buf):
        if self._id == 0:
            sys.stdout.buffer.write(buf)
            return len(buf)
        _simlink._sendall(self._s, buf)
        return len(buf)

    def sendbreak(self):
        pass

    def flush(self):
        pass

    def txdone(self):
        return True

    def irq(self, handler=None, trigger=0, hard=False):
        self._irq = handler
        return None

    def ioctl(self, req, arg):
        # MP_STREAM_GET_FILENO: let select.poll (and asyncio) wait on the socket itself.
        if req == 10:
            return self._s.fileno() if self._s else 1
        if req == 3:  # MP_STREAM_POLL
            return (arg & 1 if self._ready() else 0) | (arg & 4)
        return 0
