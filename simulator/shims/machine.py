# machine for the sealsim simulator: the ESP32 MicroPython API, backed by host peripherals.
# Pins, PWM, I2C and SPI traffic goes to the host over the bus link (_simlink); a UART is its
# own stream socket, pollable like the real one (asyncio.StreamReader(uart) works).
import io
import struct
import sys
import time

import _simlink

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
SLEEP = 2
DEEPSLEEP = 4
PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6

# Exit codes the supervisor reads (see sealsim.device).
_EXIT_RESET = 90
_EXIT_SOFT = 91
_EXIT_SLEEP = 92
_EXIT_WDT = 93

_freq = 160000000


def _hard_exit(code):
    # The supervisor ends this process and restarts the device (nothing firmware can catch).
    _simlink.send(ord("Q"), ("exit %d" % code).encode())
    while True:
        time.sleep(1)


def reset():
    _hard_exit(_EXIT_RESET)


def soft_reset():
    _hard_exit(_EXIT_SOFT)


def deepsleep(time_ms=0):
    _simlink.event("deepsleep %d" % time_ms)
    _hard_exit(_EXIT_SLEEP)


def lightsleep(time_ms=0):
    if time_ms:
        time.sleep_ms(time_ms)


def sleep():
    lightsleep()


def idle():
    time.sleep_ms(1)


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq
    if hz not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _freq = hz


def unique_id():
    return bytes.fromhex(_simlink.query("mac"))


def reset_cause():
    return int(_simlink.query("reset_cause"))


def wake_reason():
    return TIMER_WAKE if reset_cause() == DEEPSLEEP_RESET else 0


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    return -2


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None, alt=-1):
        self._id = id
        self._mode = self.IN
        self._pull = None
        self._out = 0
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None, alt=-1):
        if mode != -1:
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if value is not None:
            self.value(value)

    def value(self, x=None):
        if x is None:
            if self._mode == self.OUT:
                return self._out
            return _simlink.call(ord("R"), struct.pack("<B", self._id))[0]
        self._out = 1 if x else 0
        _simlink.send(ord("W"), struct.pack("<BB", self._id, self._out))

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(not self._out)

    def irq(self, handler=None, trigger=3, *, priority=1, wake=None, hard=False):
        # Interrupts are not delivered in the simulator: poll keys with value(). The supervisor
        # logs the registration so a scenario that waits for one knows why nothing comes.
        self._irq = handler
        if handler is not None:
            _simlink.event("pin %d irq registered (not delivered in the simulator)" % self._id)
        return None

    def mode(self, mode=None):
        if mode is None:
            return self._mode
        self._mode = mode

    def pull(self, pull=None):
        if pull is None:
            return self._pull
        self._pull = pull

    def drive(self, drive=None):
        return 0 if drive is None else None

    def __repr__(self):
        return "Pin(%d)" % self._id


def _pin_id(p):
    return p if isinstance(p, int) else p._id


class Signal:
    # Signal(pin_obj, invert=False) or Signal(id, mode, pull, *, invert=..., value=...)
    def __init__(self, pin_obj, *args, invert=False, **kwargs):
        if isinstance(pin_obj, int):
            pin_obj = Pin(pin_obj, *args, **kwargs)
        elif args:
            invert = args[0]
        self._pin = pin_obj
        self._inv = bool(invert)

    def value(self, x=None):
        if x is None:
            return self._pin.value() ^ self._inv
        self._pin.value(bool(x) ^ self._inv)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class PWM:
    def __init__(self, dest, *, freq=5000, duty=None, duty_u16=None, duty_ns=None,
                 invert=False):
        self._pin = _pin_id(dest)
        self._freq = freq
        self._duty = 32768
        self.init(freq=freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns)

    def _send(self):
        _simlink.send(ord("M"), struct.pack("<BII", self._pin, self._freq, self._duty))

    def init(self, *, freq=None, duty=None, duty_u16=None, duty_ns=None, invert=False):
        if freq is not None:
            self._freq = freq
        if duty is not None:
            self._duty = duty * 65535 // 1023
        if duty_u16 is not None:
            self._duty = duty_u16
        if duty_ns is not None and self._freq:
            self._duty = min(65535, duty_ns * self._freq * 65535 // 1000000000)
        self._send()

    def freq(self, value=None):
        if value is None:
            return self._freq
        self._freq = value
        self._send()

    def duty(self, value=None, *args):
        if value is None:
            return self._duty * 1023 // 65535
        self._duty = value * 65535 // 1023
        self._send()

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self._duty = value
        self._send()

    def duty_ns(self, value=None):
        if value is None:
            return self._duty * 1000000000 // (65535 * self._freq) if self._freq else 0
        self.init(duty_ns=value)

    def deinit(self):
        self._freq = 0
        self._duty = 0
        self._send()


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
        self._rx = rxbuf
        if id == 0:
            # UART0 is the console on an ESP32: writes share the REPL's stream (and order).
            self._s = None
        else:
            # The line speed goes with the channel name: a module at another speed sees
            # garbage.
            self._s = _simlink.connect("uart%d %d" % (id, baudrate))
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
        # "may return 1 even if there is more than one character available" (the docs)
        return 1 if self._s is not None and self._wait(0) else 0

    def read(self, nbytes=-1):
        if self._s is None:
            return None
        if not self.any() and not (self._timeout and self._wait(self._timeout)):
            return None
        buf = bytearray(nbytes if nbytes is not None and nbytes >= 0 else self._rx)
        n = self.readinto(buf)
        return bytes(buf[:n]) if n else None

    def readinto(self, buf, nbytes=-1):
        if self._s is None:
            return None
        if nbytes < 0:
            nbytes = len(buf)
        if not self.any() and not (self._timeout and self._wait(self._timeout)):
            return None
        try:
            n = self._s.readinto(memoryview(buf)[:nbytes])
        except OSError:
            return None
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
            return (arg & 1 if self.any() else 0) | (arg & 4)
        return 0


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self._id = id

    def init(self, *, scl=None, sda=None, freq=400000):
        pass

    def deinit(self):
        pass

    def scan(self):
        return [int(a) for a in _simlink.query("i2c%d" % self._id).split()]

    def writeto(self, addr, buf, stop=True):
        _simlink.send(ord("I"), struct.pack("<BB", self._id, addr) + bytes(buf))
        return 1

    def writevto(self, addr, vector, stop=True):
        data = b"".join(bytes(b) for b in vector)
        return self.writeto(addr, data)

    def readfrom(self, addr, nbytes, stop=True):
        return bytes(nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        pass

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self.writeto(addr, bytes([memaddr]) + bytes(buf))

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        return bytes(nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        pass

    def start(self):
        pass

    def stop(self):
        pass

    def readinto(self, buf, nack=True):
        pass

    def write(self, buf):
        return len(buf)


class SoftI2C(I2C):
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        super().__init__(0, scl=scl, sda=sda, freq=freq)


class SPI:
    MSB = 0
    LSB = 1

    def __init__(self, id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self._id = id

    def init(self, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None,
             mosi=None, miso=None):
        pass

    def deinit(self):
        pass

    def write(self, buf):
        _simlink.send(ord("S"), struct.pack("<B", self._id) + bytes(buf))

    def read(self, nbytes, write=0x00):
        return bytes(nbytes)

    def readinto(self, buf, write=0x00):
        pass

    def write_readinto(self, write_buf, read_buf):
        self.write(write_buf)


class SoftSPI(SPI):
    def __init__(self, baudrate=500000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None,
                 mosi=None, miso=None):
        super().__init__(-1)


class RTC:
    # RTC memory lives in <state>/rtc.bin (flash audit scans it); the clock is the host's
    # simulated clock (settable and skewable from the harness; datetime() sets it too).
    def __init__(self, id=0):
        pass

    def init(self, datetime):
        self.datetime(datetime)

    def datetime(self, datetimetuple=None):
        import time as t
        if datetimetuple is None:
            y, mo, d, h, mi, s, wd, yd = t.localtime()
            return (y, mo, d, wd, h, mi, s, 0)
        y, mo, d, wd, h, mi, s, sub = datetimetuple
        secs = t.mktime((y, mo, d, h, mi, s, 0, 0))
        _simlink.query("settime %d" % secs)

    def memory(self, data=None):
        if data is None:
            return _simlink.xcall("rtc_get", b"")
        if len(data) > 2048:
            raise ValueError("buffer too long")
        _simlink.xcall("rtc_set", bytes(data))


class WDT:
    def __init__(self, *, id=0, timeout=5000):
        self._timeout = timeout
        _simlink.query("wdt %d" % timeout)

    def feed(self):
        _simlink.send(ord("E"), b"feed")
