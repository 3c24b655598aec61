"""The ESP32 UART receive path (sealsim.uartline, issue 10): bytes at the baud rate, a ring
buffer of the configured size, the hardware FIFO and the driver's stash, and the bytes the
IDF driver drops when the firmware does not read in time; the counters tests rely on."""

from sealsim.uartline import FIFO, STASH, UartLine


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def line(rxbuf, baud=9600):
    clock = Clock()
    got = bytearray()
    return UartLine(baud, rxbuf, got.extend, clock), clock, got


def run(u, clock, seconds, read_every=None, step=0.001):
    """Advance the clock; a firmware reading everything every `read_every` s (None: never)."""
    end = clock.t + seconds
    last_read = clock.t
    while clock.t < end:
        clock.t += step
        u.tick()
        if read_every is not None and clock.t - last_read >= read_every:
            last_read = clock.t
            u.took(u.ring)


TOKEN = bytes(range(256)) * 3  # 768 bytes, each position recognisable


def test_bytes_arrive_at_the_baud_rate_not_faster():
    u, clock, got = line(4096)
    u.send(TOKEN)
    run(u, clock, 0.100)
    assert 94 <= len(got) <= 96  # 9600 baud: 960 bytes/s
    run(u, clock, 0.75)
    assert bytes(got) == TOKEN and not u.busy


def test_a_firmware_that_reads_in_time_loses_nothing_with_the_default_buffer():
    u, clock, got = line(256)
    u.send(TOKEN)
    run(u, clock, 1.0, read_every=0.05)
    assert bytes(got) == TOKEN and u.dropped == 0


def test_a_one_second_block_with_the_default_buffer_drops_a_middle_stretch():
    u, clock, got = line(256)
    u.send(TOKEN + b"\r")
    run(u, clock, 1.0)  # a TLS handshake: nobody reads
    assert len(got) == 256  # the ring is full; stash and FIFO hold more
    run(u, clock, 0.2, read_every=0.01)
    assert u.dropped > 0 and u.overflows >= 1
    assert u.received == len(TOKEN) + 1
    assert len(got) + u.dropped == u.received  # every byte is either delivered or counted
    # the ring's and the stash's bytes come first, in order; then the FIFO's last ones,
    # ending with the CR: a line with a hole, not a short line
    assert bytes(got[:256 + STASH]) == TOKEN[:256 + STASH]
    assert got.endswith(b"\r") and len(got) <= 256 + STASH + FIFO
    assert bytes(got) != TOKEN + b"\r"


def test_a_ring_sized_for_the_longest_block_keeps_the_whole_token():
    u, clock, got = line(2048)
    u.send(TOKEN + b"\r")
    run(u, clock, 1.5)  # blocked longer than the token takes to arrive
    run(u, clock, 0.1, read_every=0.01)
    assert bytes(got) == TOKEN + b"\r" and u.dropped == 0


def test_bytes_sent_back_to_back_queue_on_the_line():
    u, clock, got = line(4096)
    u.send(b"A" * 96)
    u.send(b"B" * 96)
    run(u, clock, 0.1)
    assert got.count(b"A") >= 94 and b"B" not in got[:94]
    run(u, clock, 0.15)
    assert bytes(got) == b"A" * 96 + b"B" * 96
