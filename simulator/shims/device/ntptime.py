# ntptime for the sealsim simulator (frozen into ESP32 images): the "NTP server" is the host's
# true clock, reached only while the harness has Wi-Fi on. It corrects a skewed device clock.
import _simlink

host = "pool.ntp.org"
timeout = 1


def time():
    # NTP time in the ESP32 epoch (2000-01-01), as the board's ntptime returns it.
    reply = _simlink.query("ntp")
    if not reply:
        raise OSError(-202)  # no Wi-Fi: getaddrinfo for the NTP host fails, as on an ESP32
    return int(reply)


def settime():
    _simlink.query("settime %d" % time())
