# sealsim device-side link to the host (simulator only; firmware never imports this).
#
# One unix-domain stream socket per channel, path $SEALSIM_LINK. The first line names the
# channel: b"bus\n" (framed peripheral traffic) or b"uartN\n" (raw UART bytes).
# Bus frames, device -> host:  op:u8  len:u32le  payload
#   b"W" pin write   <BBI pin value t_us  b"R" pin read   <B pin     -> reply
#   b"M" pwm         <BII pin freq duty   b"I" i2c write  <BB bus addr + bytes
#   b"S" spi write   <BI bus t_us + bytes b"Q" query      key text   -> reply
#   b"E" event       text (reset, wdt, nvs commit, ...)
#   b"U" uart read   <BH uart n: the firmware took n bytes out of the driver's ring buffer
# t_us: the device's ticks_us() & 0x3FFFFFFF when the write happened (for timing models).
# Replies, host -> device: len:u32le payload.
import os
import usocket as _socket  # the built-in (u-name), never the socket shim
import utime as _utime  # the built-in, never the time shim
import struct

_PATH = os.getenv("SEALSIM_LINK")
_bus = None
_hdr = bytearray(5)


def connect(channel):
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.connect(struct.pack("<H", _socket.AF_UNIX) + _PATH.encode() + b"\0")  # sockaddr_un
    s.send(channel.encode() + b"\n")
    if channel != "net" and s.recv(1) != b"+":  # the host has wired the channel
        raise OSError(5)
    return s


def _b():
    global _bus
    if _bus is None:
        if not _PATH:
            raise OSError(19)  # ENODEV: not running under the simulator supervisor
        _bus = connect("bus")
    return _bus


def _sendall(s, data):
    mv = memoryview(data)
    while mv:
        n = s.send(mv)
        mv = mv[n:]


def _drop():
    # An exception (Ctrl-C's KeyboardInterrupt, say) in the middle of a frame or before its
    # reply would leave the link out of step: start a fresh connection instead. Forget the
    # socket before closing it, so a second interrupt here cannot leave a closed one in use.
    global _bus
    s, _bus = _bus, None
    if s is not None:
        s.close()


def send(op, payload):
    s = _b()
    struct.pack_into("<BI", _hdr, 0, op, len(payload))
    try:
        _sendall(s, _hdr)
        if payload:
            _sendall(s, payload)
    except BaseException:
        _drop()
        raise


def _recv_exact(s, n):
    buf = bytearray(n)
    mv = memoryview(buf)
    got = 0
    while got < n:
        k = s.readinto(mv[got:])
        if not k:
            raise OSError(5)  # EIO: host went away
        got += k
    return buf


def call(op, payload):
    # One try around request and reply: an exception anywhere between them (an interrupt,
    # say) must not leave a reply unread for the next call to take as its own.
    try:
        send(op, payload)
        s = _b()
        n = struct.unpack("<I", _recv_exact(s, 4))[0]
        return bytes(_recv_exact(s, n))
    except BaseException:
        _drop()
        raise


def query(key):
    return call(ord("Q"), key.encode()).decode()


def event(text):
    send(ord("E"), text.encode())


def block(op):
    # ESP32 speed model: hold this process as long as the board's C code would hold the
    # interpreter for `op` (sealsim/speed.py; the supervisor scales it, 0 = nothing)
    ms = int(query("cost " + op) or 0)
    if ms:
        _utime.sleep_ms(ms)


def xcall(name, arg):
    # b"X" binary RPC: name, NUL, argument -> reply bytes; a reply starting b"!" is an error.
    r = call(ord("X"), name.encode() + b"\0" + arg)
    if r[:1] == b"!":
        raise OSError(int(r[1:]))
    return r[1:]
