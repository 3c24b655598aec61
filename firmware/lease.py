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
# (transient.py); the state lives in the app as one list, App.lease (new_state()):
#
#   0 lease_s  1 wipe_s  2 last ticks_ms  3 monotonic age ms  4 wall-clock renewal (Unix) or -1
#   5 state (-1 before the first check)   6 why identities are refused (for flow.py), or 0
#   7 renewal due (an empty batch)        8 an authenticated answer came since the last check
import time

import texts as T
from micropython import const

OK = const(0)
REFUSE = const(1)
WIPE = const(2)
_CLOCK_SET_UNIX = const(1704067200)  # 2024-01-01: before that the wall clock is not set


def new_state():
    return [0, 0, 0, 0, -1, -1, 0, 0, 0]


def start(length_s, wipe_s, unix, now_ms, ls=None):
    """The lease from its lengths (at boot)."""
    ls = ls or new_state()
    ls[0] = length_s
    ls[1] = wipe_s
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
    if app.flow.badge_key is None:  # wiped already (revoke.py)
        return
    now = time.ticks_ms()
    ls = app.lease
    if ls[5] < 0:  # the first check: the lengths came from NVS at boot (bootload.py)
        start(ls[0], ls[1], unix, now, ls)
    if ls[8]:
        ls[8] = 0
        renew(ls, unix, now)
    st, due = state(ls, unix, now)
    ls[7] = 1 if due and app.sealer.enc is not None else 0  # an empty batch needs a session
    if st == WIPE:
        import revoke

        revoke.wipe_device(app, revoke.LEASE_OVER)
    elif (st == REFUSE) != bool(ls[6]):
        ls[6] = T.LEASE_NO_ID if st else 0  # the reason flow.py shows for a refused identity
        print("sealscan: lease", "expired: identities refused" if st else "renewed")
        app.alarm = T.LEASE_ALARM if st else None
        f = app.flow
        if st:
            f.message = T.LEASE_NO_ID
        elif f.message == T.LEASE_NO_ID:
            f.message = T.SCAN_BOTH
        app.dirty = True
    elif st and app.alarm is None:  # the overdue alarm cleared over ours
        app.alarm = T.LEASE_ALARM
        app.dirty = True
