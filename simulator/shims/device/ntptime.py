# ntptime for the sealsim simulator (frozen into ESP32 images): the "NTP server" is the host's
# true clock. The harness decides whether it answers (Device.ntp): with no Wi-Fi the
# lookup fails at once (OSError(-202)); with Wi-Fi but no answer, time() blocks for its
# timeout as the board's does (ESP32 speed model: "ntp_timeout") and raises ETIMEDOUT.
import errno

import _simlink

host = "pool.ntp.org"
timeout = 1


def time():
    # NTP time in the ESP32 epoch (2000-01-01), as the board's ntptime returns it.
    reply = _simlink.query("ntp")
    if not reply or reply == "noap":
        raise OSError(-202)  # no Wi-Fi: getaddrinfo for the NTP host fails, as on an ESP32
    if reply == "lost":
        _simlink.block("ntp_timeout")
        raise OSError(errno.ETIMEDOUT)
    if reply == "hang":  # a call that never returns (a watchdog test's hung task)
        import utime

        while True:
            utime.sleep_ms(1000)
    _simlink.block("ntp")
    return int(reply)


def settime():
    _simlink.query("settime %d" % time())
