# socket for the sealsim simulator: the unix port's socket, wrapped so that Wi-Fi state set by
# the harness applies. Stream connections go through the supervisor's relay ("the access
# point"): switching Wi-Fi off tears them down, and the wrapper then raises what an ESP32
# raises: getaddrinfo -> OSError(-202), connect -> EHOSTUNREACH, I/O on a socket that was up
# -> ECONNABORTED.
#
# The errors are ESP32's by name, numbered by this port's errno module: MicroPython folds
# `errno.EHOSTUNREACH` into a number when it compiles source (on the device, so with the
# board's numbering there), so firmware comparing against errno.NAME behaves the same on both;
# only literal numbers would differ (ESP32 newlib: EHOSTUNREACH 118, ECONNABORTED 113).
# getaddrinfo's -202 is ESP32's own literal (not an errno) and is kept.
import io

import usocket as _s  # the built-in module under its u-name (this file shadows `socket`)

import _simlink
import errno

AF_INET = _s.AF_INET
AF_INET6 = _s.AF_INET6
SOCK_STREAM = _s.SOCK_STREAM
SOCK_DGRAM = _s.SOCK_DGRAM
SOCK_RAW = _s.SOCK_RAW
SOL_SOCKET = _s.SOL_SOCKET
SO_REUSEADDR = _s.SO_REUSEADDR
SO_BROADCAST = _s.SO_BROADCAST
SO_KEEPALIVE = _s.SO_KEEPALIVE
IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17
TCP_NODELAY = 1
inet_ntop = _s.inet_ntop
inet_pton = _s.inet_pton
_EAI_FAIL = -202


def _wifi():
    # "1:<generation>" or "0:<generation>"; the generation changes on every on/off.
    return _simlink.query("wifi")


def _numeric(host):
    try:
        inet_pton(AF_INET, host)
        return True
    except (OSError, ValueError, TypeError):
        return False


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    if _wifi()[0] != "1":
        raise OSError(_EAI_FAIL)
    if not _numeric(host):
        # the access point's resolver (the harness may make it fail or go silent): lwIP's
        # lookup blocks the interpreter for its time (ESP32 speed model)
        r = _simlink.query("dns " + host)
        if r == "fail":
            _simlink.block("dns_timeout")
            raise OSError(_EAI_FAIL)
        _simlink.block("dns")
    try:
        res = _s.getaddrinfo(host, port, af, type, proto, flags)
    except OSError:
        raise OSError(_EAI_FAIL)
    # ESP32 form: (family, type, proto, canonname, (ip, port)), IPv4 stream first.
    out = []
    for fam, typ, pro, _, sa in res:
        if fam == AF_INET and typ in (SOCK_STREAM, SOCK_DGRAM) and (not type or typ == type):
            info = _s.sockaddr(sa)
            out.append((fam, typ, pro, "", (inet_ntop(AF_INET, info[1]), info[2])))
    return out


class socket(io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        self._af = af
        self._type = type
        self._gen = None
        self._timeout = None
        self._tls = 0  # 1: a TLS ClientHello went out, the handshake's C work is due; 2: done
        self._sock = _s.socket(af, type, proto) if type != SOCK_STREAM else None

    def _check(self):
        if self._gen is not None and _wifi() != self._gen:
            self.close()
            raise OSError(errno.ECONNABORTED)

    def _real(self):
        if self._sock is None:
            raise OSError(errno.ENOTCONN)
        return self._sock

    def connect(self, address):
        w = _wifi()
        if w[0] != "1":
            raise OSError(errno.EHOSTUNREACH)
        if self._type != SOCK_STREAM:
            self._gen = w
            ip, port = _decode_addr(address)
            return self._sock.connect(_s.getaddrinfo(ip, port)[0][-1])
        # The access point: ask the relay to connect to `address` for us.
        ip, port = _decode_addr(address)
        r = _simlink.connect("net")
        r.send(("%s %d\n" % (ip, port)).encode())
        status = r.recv(8)
        if status[:1] != b"0":
            r.close()
            raise OSError(int(status.split(b"\n")[0] or b"5"))
        self._sock = r
        self._gen = w
        if self._timeout is not None:
            r.settimeout(self._timeout)

    def _handshake(self, got):
        # ESP32 speed model: once the server's first flight is in, mbedTLS does the
        # handshake's public-key work in C (~1 s on an ESP32); the interpreter waits for it
        if got and self._tls == 1:
            self._tls = 2
            _simlink.block("tls_handshake")

    def send(self, data):
        self._check()
        if not self._tls:  # the first bytes: a TLS handshake record, or not TLS at all
            self._tls = 1 if len(data) and data[0] == 0x16 else 2
        try:
            return self._real().send(data)
        except OSError as e:
            self._check()
            raise

    def sendall(self, data):
        mv = memoryview(data)
        while mv:
            n = self.send(mv)
            if n is None:
                continue
            mv = mv[n:]

    def write(self, data):
        # Stream semantics (as the native socket): None, not EAGAIN, when it would block.
        try:
            return self.send(data)
        except OSError as e:
            if e.errno == errno.EAGAIN:
                return None
            raise

    def recv(self, bufsize):
        self._check()
        try:
            data = self._real().recv(bufsize)
        except OSError as e:
            self._check()
            raise
        if not data:
            self._check()  # the relay closed it because Wi-Fi went away
        self._handshake(data)
        return data

    def read(self, size=-1):
        self._check()
        try:
            data = self._real().read(size) if size >= 0 else self._real().read()
        except OSError as e:
            self._check()
            raise
        if not data:
            self._check()
        self._handshake(data)
        return data

    def readinto(self, buf, nbytes=-1):
        self._check()
        try:
            n = self._real().readinto(buf) if nbytes < 0 else self._real().readinto(buf, nbytes)
        except OSError as e:
            self._check()
            raise
        if n == 0:
            self._check()
        self._handshake(n)
        return n

    def readline(self):
        self._check()
        line = self._real().readline()
        if not line:
            self._check()
        return line

    def sendto(self, data, address):
        if _wifi()[0] != "1":
            raise OSError(errno.EHOSTUNREACH)
        ip, port = _decode_addr(address)
        return self._real().sendto(data, _s.getaddrinfo(ip, port)[0][-1])

    def recvfrom(self, bufsize):
        self._check()
        return self._real().recvfrom(bufsize)

    def bind(self, address):
        if self._sock is None:
            self._sock = _s.socket(self._af, self._type)
        ip, port = _decode_addr(address)
        return self._sock.bind(_s.getaddrinfo(ip or "0.0.0.0", port)[0][-1])

    def listen(self, backlog=0):
        return self._real().listen(backlog)

    def accept(self):
        conn, addr = self._real().accept()
        w = socket.__new__(socket)
        w._af, w._type, w._gen, w._timeout, w._sock = self._af, SOCK_STREAM, None, None, conn
        w._tls = 2
        return w, addr

    def setsockopt(self, level, optname, value):
        if self._sock is not None:
            try:
                self._sock.setsockopt(level, optname, value)
            except OSError:
                pass

    def settimeout(self, value):
        self._timeout = value
        if self._sock is not None:
            self._sock.settimeout(value)

    def setblocking(self, flag):
        self.settimeout(None if flag else 0)

    def makefile(self, mode="rb", buffering=0):
        return self

    def fileno(self):
        return self._real().fileno()

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def ioctl(self, req, arg):
        if req == 10:  # MP_STREAM_GET_FILENO: poll the real socket
            return self._real().fileno()
        if req == 3:  # MP_STREAM_POLL (asked through a TLS wrapper): the real socket's state
            import select
            p = select.poll()
            p.register(self._real(), arg)
            ready = p.poll(0)
            return ready[0][1] if ready else 0
        if req == 4:  # MP_STREAM_CLOSE
            self.close()
        return 0

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def _decode_addr(address):
    if isinstance(address, tuple):
        return address[0], address[1]
    info = _s.sockaddr(address)  # a unix-port sockaddr: (family, ip bytes, port)
    return inet_ntop(AF_INET, info[1]), info[2]
