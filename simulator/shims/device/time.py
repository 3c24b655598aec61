# time for the sealsim simulator: ESP32 semantics. The epoch is 2000-01-01 (ESP32 ports),
# localtime is UTC, and the wall clock is the harness's simulated clock (set/skew; RTC.datetime
# sets it too). ticks_* and sleeps are the host's monotonic clock.
import utime as _t  # the built-in module under its u-name (this file shadows `time`)

import _simlink

_EPOCH = 946684800  # 2000-01-01 in Unix time
sleep = _t.sleep
sleep_ms = _t.sleep_ms
sleep_us = _t.sleep_us
ticks_ms = _t.ticks_ms
ticks_us = _t.ticks_us
ticks_cpu = _t.ticks_cpu
ticks_add = _t.ticks_add
ticks_diff = _t.ticks_diff


def _offset():
    return int(_simlink.query("clock"))


def time():
    return int(_t.time()) + _offset() - _EPOCH  # an int, as on the ESP32


def time_ns():
    return _t.time_ns() + (_offset() - _EPOCH) * 1000000000


def gmtime(secs=None):
    if secs is None:
        secs = time()
    return _t.gmtime(secs + _EPOCH)


localtime = gmtime


def mktime(local_time):
    return _t.mktime(tuple(local_time)) - _EPOCH
