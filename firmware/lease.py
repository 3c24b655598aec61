# Key lease (docs/protocol.md 6.2): every answer whose MAC verifies renews it. Its age is the
# later of the monotonic and the wall-clock time since the last renewal (or boot), so a wall
# clock stepped back never makes it younger; the monotonic part is accumulated check by check,
# so it outlives ticks_ms wrapping (checks come every few seconds). States latch until the
# next renewal:
#
#   OK      scanning as usual
#   REFUSE  age >= lease_s: new identities refused ("NO ACK FOR LEASE"), uploads go on
#   WIPE    age >= lease_wipe_s: the keys are wiped as on a revocation (revoke.py)
#
#   NVS  lease_s i32, lease_wipe_s i32: seconds, written by `sealscan provision`; absent or 0:
#        no lease (the device never refuses or wipes for want of an ack)
#
# Checked rarely, so the handheld loads this module for each check and releases it
# (transient.py); the state lives in the app as one list:
#
#   [lease_s, wipe_s, last ticks_ms, monotonic age ms, wall-clock renewal (Unix) or -1, state]
import time

from micropython import const

OK = const(0)
REFUSE = const(1)
WIPE = const(2)
_CLOCK_SET_UNIX = const(1704067200)  # 2024-01-01: before that the wall clock is not set


def start(length_s, wipe_s, unix, now_ms):
    """A new lease state (at boot)."""
    ls = [length_s, wipe_s, 0, 0, -1, OK]
    renew(ls, unix, now_ms)
    return ls


def renew(ls, unix, now_ms):
    """An authenticated answer arrived: the lease starts again."""
    ls[2] = now_ms
    ls[3] = 0
    ls[4] = unix if unix >= _CLOCK_SET_UNIX else -1
    ls[5] = OK


def age_s(ls, unix, now_ms):
    ls[3] += time.ticks_diff(now_ms, ls[2])
    ls[2] = now_ms
    age = ls[3] // 1000
    if ls[4] >= 0 and unix >= _CLOCK_SET_UNIX:
        age = max(age, unix - ls[4])
    return age


def state(ls, unix, now_ms):
    """OK, REFUSE or WIPE; a state reached stays until renew(). Also: whether to ask for a
    renewal (an empty batch) now: half the lease gone, or past it."""
    if ls[0] <= 0:
        return OK, False
    age = age_s(ls, unix, now_ms)
    if ls[1] > 0 and age >= ls[1]:
        ls[5] = WIPE
    elif age >= ls[0] and ls[5] == OK:
        ls[5] = REFUSE
    return ls[5], ls[5] != OK or age * 2 >= ls[0]


def check(app, unix):
    """The handheld's check (handheld.App.rare): starts the lease from NVS at the first call,
    renews it if an authenticated answer came since the last one, and acts on its state:
    REFUSE says why on the screen, WIPE wipes the keys (revoke.py)."""
    if app.revoked:
        return
    now = time.ticks_ms()
    ls = app.lease
    if ls is None:
        nvs = app.cfg.nvs
        try:
            length, wipe_s = nvs.get_i32("lease_s"), nvs.get_i32("lease_wipe_s")
        except OSError:  # provisioned before leases: none
            length = wipe_s = 0
        ls = app.lease = start(length, wipe_s, unix, now)
    if app.lease_ack:
        app.lease_ack = False
        renew(ls, unix, now)
    st, app.lease_due = state(ls, unix, now)
    if st == WIPE:
        import revoke

        revoke.wipe(app, revoke.LEASE_OVER)
    elif st != app.lease_state:
        app.lease_state = st
        print("sealscan: lease", "expired: identities refused" if st else "renewed")
        app.alarm = "CONNECT TO RENEW" if st else None
        f = app.flow
        if st:
            f.message = "NO ACK FOR LEASE"
        elif f.message == "NO ACK FOR LEASE":
            f.message = "SCAN ID+WAYBILL"
        app.dirty = True
