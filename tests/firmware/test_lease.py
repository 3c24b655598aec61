# The key lease (lease.py, docs/protocol.md 6.2) under MicroPython, on a fake monotonic clock:
# the later of the monotonic and the wall-clock age counts, states latch until a renewal, a
# clock stepped back never extends it, and the monotonic age survives ticks_ms wrapping.
import time

T0 = 1796000000  # a set wall clock (after 2024)
H = 3600


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms & (time.ticks_add(0, -1))  # wraps like ticks_ms

    def advance(self, s):
        self.ms += int(s * 1000)


def _lease(length=72 * H, wipe=336 * H):
    import lease

    c = Clock()
    return lease.Lease(length, wipe, T0, clock=c), c


def test_wall_clock_age_ends_the_lease_then_the_wipe_limit():
    import lease

    ls, c = _lease()
    assert ls.check(T0 + 72 * H - 1) == lease.OK
    assert not ls.wants_renewal(T0 + 36 * H - 1) and ls.wants_renewal(T0 + 36 * H)
    assert ls.check(T0 + 72 * H) == lease.REFUSE
    assert ls.check(T0 + 336 * H) == lease.WIPE


def test_a_clock_stepped_back_never_extends_it_and_states_latch():
    import lease

    ls, c = _lease()
    c.advance(72 * H)  # the monotonic clock ran the whole lease
    assert ls.check(T0 - 1000 * H) == lease.REFUSE  # while the wall clock went back
    assert ls.check(T0) == lease.REFUSE  # latched
    assert ls.wants_renewal(T0 - 1000 * H)  # an expired lease always asks
    ls.renew(T0 + 72 * H)
    assert ls.check(T0 + 72 * H) == lease.OK


def test_monotonic_age_survives_ticks_wrapping():
    import lease

    ls, c = _lease(length=10 * 24 * H, wipe=20 * 24 * H)
    for _ in range(20 * 24):  # 20 days in hours, checked every hour (the alarm task: 0.25 s)
        c.advance(H)
        ls.check(T0 - H)  # a wall clock that never moves forward
    assert ls.check(T0 - H) == lease.WIPE


def test_no_lease_never_refuses_and_an_unset_clock_is_ignored():
    import lease

    ls, c = _lease(length=0, wipe=0)
    c.advance(10000 * H)
    assert ls.check(T0 + 10000 * H) == lease.OK and not ls.wants_renewal(T0)
    unset = lease.Lease(H, 2 * H, 100, clock=c)  # booted with the clock at 2000
    assert unset.check(T0 + 100 * H) == lease.OK  # the wall clock set later: no jump
    c.advance(H)
    assert unset.check(T0 + 100 * H) == lease.REFUSE
