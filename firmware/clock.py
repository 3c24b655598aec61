# The device clock against the pinned certificate (docs/design.md, "Time"). An ESP32 reads
# 2000-01-01 after power-on, and its mbedTLS checks the upstream certificate's dates against
# that clock: until the clock is right no handshake can succeed, and a record
# sealed meanwhile would carry a false capture time. So the app asks here before it seals or
# uploads (handheld.App.keep_clock, which loads this module only while the clock is not OK,
# and releases it after), and tries NTP with backoff meanwhile:
#
#   state       device clock (Unix s)                 screen
#   NOT_SET     before 2024-01-01                     CLOCK NOT SET
#   EARLY       before the certificate's notBefore    CERT: NOT YET
#               (the clock is behind, or the certificate was issued for later)
#   LATE        after the certificate's notAfter      CERT: EXPIRED
#               (expired, or the clock is ahead: NTP corrects it, or the depot re-pins)
#   OK          inside the certificate's validity     -
#
# NTP (ntptime.settime) is tried while Wi-Fi is up, first at once, then 1, 2, 4 ... 32 s
# apart (backoff even after an answer: a state still not OK is then the certificate's). It
# blocks: up to its 1 s timeout when nothing answers (the UART ring buffer holds the scan
# engine's bytes meanwhile: bootload sizes it). Records are sealed only while the clock is
# OK, so a step here moves no capture time; a record's overdue latch (sealq.py) keeps an
# alarm raised by a clock that was ahead until its ack.
#
# Only OK seals and uploads: any other state holds a capture (the courier sees WAIT_TEXT; a
# held capture is not a record yet, so no overdue alarm runs for it) and holds uploads of
# records sealed before (their overdue alarm runs as always).
#
# The certificate's validity is read from its DER once at boot (bootload.cert_validity).
import time

from micropython import const

NOT_SET = const(0)
EARLY = const(1)
LATE = const(2)
OK = const(3)
# Screen texts by state (the alarm line; an overdue alarm takes precedence), and why a
# capture waits. Kept here as one table for the screen-text owner to adopt.
TEXTS = ("CLOCK NOT SET", "CERT: NOT YET", "CERT: EXPIRED", None)

_FLOOR = const(1704067200)  # 2024-01-01T00:00:00Z: an earlier clock was never set
_NTP_MIN_MS = const(1000)
_NTP_MAX_MS = const(32000)


def state(now, not_before, not_after):
    """The clock's state at Unix time `now` for a certificate valid [not_before, not_after]."""
    if now < _FLOOR:
        return NOT_SET
    if now < not_before:
        return EARLY
    if now > not_after:
        return LATE
    return OK


def keep(app, now, log):
    """Update `app.clock` ([state, screen text, ticks_ms of the next NTP try, backoff ms])
    against `app.cfg.cert` and try NTP when due (Wi-Fi up: `app.online`); True once OK."""
    c = app.clock
    cert = app.cfg.cert
    st = state(now, cert[0], cert[1])
    if st != c[0]:
        c[0] = st
        c[1] = TEXTS[st]
        log("clock:", TEXTS[st] or "OK")
        app.dirty = True
    if st == OK:
        c[3] = 0
        return True
    if not app.online or time.ticks_diff(time.ticks_ms(), c[2]) < 0:
        return False
    c[3] = min(max(c[3] * 2, _NTP_MIN_MS), _NTP_MAX_MS)
    try:
        import ntptime

        ntptime.settime()
    except (OSError, ImportError) as e:
        log("NTP failed:", type(e).__name__)
        log("NTP: next try in", c[3] // 1000, "s")
    else:
        log("clock set by NTP")
    c[2] = time.ticks_add(time.ticks_ms(), c[3])
    return False
