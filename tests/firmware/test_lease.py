# The key lease (lease.py, docs/protocol.md 6.2) under MicroPython, on a fake monotonic clock:
# the later of the monotonic and the wall-clock age counts, states latch until a renewal, a
# clock stepped back never extends it, and the monotonic age survives ticks_ms wrapping.
import time

T0 = 1796000000  # a set wall clock (after 2024)
H = 3600
MASK = time.ticks_add(0, -1)  # ticks_ms wraps at this


def test_wall_clock_age_ends_the_lease_then_the_wipe_limit():
    import lease

    ls = lease.start(72 * H, 336 * H, T0, 0)
    assert lease.state(ls, T0 + 36 * H - 1, 0) == (lease.OK, False)
    assert lease.state(ls, T0 + 36 * H, 0) == (lease.OK, True)  # half gone: ask for an ack
    assert lease.state(ls, T0 + 72 * H, 0) == (lease.REFUSE, True)
    assert lease.state(ls, T0 + 336 * H, 0)[0] == lease.WIPE


def test_a_clock_stepped_back_never_extends_it_and_states_latch():
    import lease

    ls = lease.start(72 * H, 336 * H, T0, 0)
    ms = (72 * H * 1000) & MASK  # the monotonic clock ran the whole lease...
    assert lease.state(ls, T0 - 1000 * H, ms) == (lease.REFUSE, True)  # ...the wall went back
    assert lease.state(ls, T0, ms)[0] == lease.REFUSE  # latched
    lease.renew(ls, T0 + 72 * H, ms)
    assert lease.state(ls, T0 + 72 * H, ms) == (lease.OK, False)


def test_monotonic_age_survives_ticks_wrapping():
    import lease

    ls = lease.start(10 * 24 * H, 20 * 24 * H, T0, 0)
    ms = 0
    for _ in range(20 * 24):  # 20 days in hours (the app checks every 5 s)
        ms = (ms + H * 1000) & MASK
        st, _ = lease.state(ls, T0 - H, ms)  # a wall clock that never moves forward
    assert st == lease.WIPE


def test_no_lease_never_refuses_and_an_unset_clock_is_ignored():
    import lease

    ls = lease.start(0, 0, T0, 0)
    assert lease.state(ls, T0 + 10000 * H, 1000) == (lease.OK, False)
    unset = lease.start(H, 2 * H, 100, 0)  # booted with the clock at 2000
    assert lease.state(unset, T0 + 100 * H, 0)[0] == lease.OK  # the clock set later: no jump
    assert lease.state(unset, T0 + 100 * H, H * 1000)[0] == lease.REFUSE
