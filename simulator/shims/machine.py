# machine for the sealsim simulator: the ESP32 MicroPython API, backed by host peripherals.
# Pins, PWM, I2C and SPI traffic goes to the host over the bus link (_simlink); a UART (in
# _simuart, re-exported here) is its own stream socket, pollable like the real one
# (asyncio.StreamReader(uart) works).
import struct
import sys
import time

import _simlink
from _simuart import UART  # noqa: F401 (machine.UART)

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

# Exit codes the supervisor reads (see sealsim.supervisor).
_EXIT_RESET = 90
_EXIT_SOFT = 91
_EXIT_SLEEP = 92
_EXIT_WDT = 93

_freq = 160000000


def _now():
    # the device's clock for the supervisor's timing models (displays: reset and sleep-out
    # delays), in us, 30 bits (a small int on a 32-bit port too; the host unwraps it)
    return time.ticks_us() & 0x3FFFFFFF


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
        _simlink.send(ord("W"), struct.pack("<BBI", self._id, self._out, _now()))

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
        _simlink.send(ord("S"), struct.pack("<BI", self._id, _now()) + bytes(buf))

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
    # RTC memory lives in <state>/rtc.bin (flash audit scans it); the clock is the device
    # clock the interpreter keeps natively (the harness sets and steps it; datetime() sets
    # it through the supervisor, which owns it).
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
    # No state on the object: it lives on the firmware's heap here (a board's is native),
    # and the supervisor keeps the timeout. Like the esp32 port's, it outlives a soft reset.
    def __init__(self, *, id=0, timeout=5000):
        if id != 0:
            raise ValueError
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        _simlink.query("wdt %d" % timeout)

    def feed(self):
        _simlink.send(ord("E"), b"feed")
