# Structure-aware fuzzing of every firmware decoder, under MicroPython (driven by the host test
# tests/sim/test_fuzz_decoders.py, which makes the seeds with the host's own encoders).
#
#   micropython -X heapsize=BOARD -c "$RUN" SEEDS.json RNG_SEED COUNT FREE_BYTES
#
# The heap is shaped like the app's steady state first: loading leaves it in small holes (the
# app allocates its big buffers at boot instead), so RUN (in the host test) holds a large
# block while this module loads and reads the seeds, main() gives the block back and holds
# its start as ballast, leaving about FREE_BYTES (the app's steady-state free heap) plus the
# harness's own share. Then COUNT inputs are made and fed to the
# decoders, each at one layer of its code:
#
#   scan lines   random UART chunks (CR/LF anywhere, over-long lines) -> LineSplitter -> Flow
#   base45       text from the alphabet and outside it, any length
#   zlib         the real compressed token with bytes flipped, cut, inserted (window, checksum)
#   CBOR         random item trees with valid and invalid heads (tags, floats, indefinite,
#                non-shortest, bad UTF-8, duplicate keys, deep nesting, long containers)
#   COSE         Sign1 / Mac0 arrays with any item in any field
#   identity     claims with any value for any key, then re-wrapped: zlib (stored block, right
#                checksum) -> base45 -> RNID1:, so the mutation reaches the claim checks
#   badge/config payloads mutated and MAC'd with the right key (firmware hmac256), so the
#                mutation reaches the field checks past the MAC
#   waybill      mutated numbers of every carrier, any characters
#   answers      canonical answers with fields replaced or bytes mutated
#
# Every decoder may raise only its documented error type; what it returns must hold no canary
# (masked text only). It prints counts and failures (target, exception type, input number;
# never the input), then "FUZZ-DONE ..." with the free heap after warm-up and at the end.
import gc
import json
import sys
import time
from binascii import unhexlify

import answer
import base45
import config
from micropython import const
import flow
import idtoken
import mac0
import scanline
import waybill
from ackmac import MalformedAnswer
from cbordec import CodeError, cose, decode

try:
    import random

    _bits = random.getrandbits
except (ImportError, AttributeError):
    _bits = None

_X = [0x2545F491]


def seed(n):
    if _bits is not None:
        random.seed(n)
    _X[0] = (n & 0xFFFFFFFF) or 1


def bits(k):
    if _bits is not None:
        return _bits(k)
    x = _X[0]
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    _X[0] = x
    return x & ((1 << k) - 1)


def below(n):
    return bits(16) % n if n < 65536 else (bits(16) << 16 | bits(16)) % n


def pick(seq):
    return seq[below(len(seq))]


# -- encoders (valid and deliberately invalid CBOR) --------------------------------------------

class Raw:
    def __init__(self, b):
        self.b = b


def head(major, n, short=True):
    """A CBOR head; with short=False sometimes one size too long (not shortest form)."""
    size = 0 if n < 24 else 1 if n < 256 else 2 if n < 65536 else 4
    if not short and size < 4 and bits(1):
        size = 1 if size == 0 else size * 2
    if size == 0:
        return bytes((major << 5 | n,))
    ai = {1: 24, 2: 25, 4: 26}[size]
    return bytes((major << 5 | ai,)) + n.to_bytes(size, "big")


def enc(v, short=True):
    if isinstance(v, Raw):
        return v.b
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        if v >= 0:
            if v > 0xFFFFFFFF:
                return b"\x1b" + v.to_bytes(8, "big")
            return head(0, v, short)
        return head(1, -1 - v, short)
    if isinstance(v, (bytes, bytearray)):
        return head(2, len(v), short) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b), short) + b
    if isinstance(v, (list, tuple)):
        out = head(4, len(v), short)
        for x in v:
            out += enc(x, short)
        return out
    if isinstance(v, dict):
        out = head(5, len(v), short)
        for k in v:
            out += enc(k, short) + enc(v[k], short)
        return out
    raise TypeError("cannot encode")


_ODD = (b"\xa1\x41k\x01", b"\xf6", b"\xf7", b"\xf9\x3c\x00", b"\xfb" + bytes(8), b"\xc0\x60", b"\xd8\x18\x40",
        b"\x5f\x41a\xff", b"\x7f\x61a\xff", b"\x9f\x01\xff", b"\xbf\x01\x02\xff", b"\x1c",
        b"\x3f", b"\xff", b"\x18\x05", b"\x19\x00\x10", b"\x62\xc3\x28", b"\x62\xed\xa0\x80",
        b"\x63\xef\xbf\xbf", b"\x61\x80", b"\x64\xf4\x90\x80\x80", b"\x62\xc0\xaf")
_INTS = (0, 1, 23, 24, 255, 256, 65535, 65536, 0xFFFFFFFF, 0x100000000, -1, -24, -25, -65537,
         -65538, -65539, -65540, 4, 6, 11, 18, 21, 1 << 40)


def rand_item(depth=0):
    r = below(12)
    if r == 0:
        return pick(_INTS)
    if r == 1:
        return below(1 << 16) - (1 << 15)
    if r == 2:
        return bytes(bits(8) for _ in range(below(70)))
    if r == 3:
        return pick(("", "a", "张三", "11010519491231002X", "x" * 70, "\u00e9" * 33,
                     "SF1234567890123", "https://a:1"))
    if r == 4:
        return Raw(pick(_ODD))
    if r == 5 and depth < 6:
        return [rand_item(depth + 1) for _ in range(below(5) if bits(3) else 17 + below(3))]
    if r == 6 and depth < 6:
        m = {}
        for _ in range(below(5)):
            m[pick(_INTS) if bits(1) else pick(("a", "b", "c"))] = rand_item(depth + 1)
        return m
    if r == 7 and depth < 6:
        return Raw(head(5, 2) + enc(1) + enc(2) + enc(1) + enc(3))  # duplicate keys
    if r == 8:
        return Raw(head(4, below(40) + 2))  # container longer than its data
    if r == 9:
        return Raw(bytes(bits(8) for _ in range(below(6))))
    if r == 10:
        return bool(bits(1))
    return below(100)


def mutate_map(m, n):
    """`m` with n of its keys (or new ones) given any value, or dropped."""
    for _ in range(n):
        k = pick(list(m) + [pick(_INTS)])
        if bits(3) == 0:
            m.pop(k, None)
        else:
            m[k] = rand_item(1)
    return m


def mutate(b, n=0):
    b = bytearray(b)
    for _ in range(n or 1 + below(4)):
        r = below(8)
        if not b:
            b.append(bits(8))
            continue
        i = below(len(b))
        if r == 0:
            b[i] ^= 1 << below(8)
        elif r == 1:
            b[i] = bits(8)
        elif r == 2:
            b = b[:i] + bytes((pick((0, 0xFF, 0x18, 0x19, 0x1A, 0x1B, 0x9F, 0xBF, 0x7F, 0x80)),)) + b[i:]
        elif r == 3:
            b = b[:i] + b[i + 1 + below(8):]
        elif r == 4:
            b = b[:i]
        elif r == 5:
            j = below(len(b))
            b = b[:i] + b[j:j + 1 + below(16)] + b[i:]
        elif r == 6:
            b[i] = (b[i] + pick((1, -1, 16, -16))) & 0xFF
        else:
            b += bytes(bits(8) for _ in range(below(8)))
    return bytes(b)


_B45 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b45(data):
    out = bytearray()
    for i in range(0, len(data) - 1, 2):
        v = data[i] << 8 | data[i + 1]
        out += bytes((_B45[v % 45], _B45[v // 45 % 45], _B45[v // 2025]))
    if len(data) % 2:
        v = data[-1]
        out += bytes((_B45[v % 45], _B45[v // 45]))
    return bytes(out)


def adler32(data):
    a, b = 1, 0
    for c in data:
        a = (a + c) % 65521
        b = (b + a) % 65521
    return b << 16 | a


def zlib_stored(data):
    n = len(data)
    return b"\x78\x01\x01" + bytes((n & 255, n >> 8, ~n & 255, (~n >> 8) & 255)) + data + \
        adler32(data).to_bytes(4, "big")


# -- targets -----------------------------------------------------------------------------------

IN = object()  # in call(): the input, taken from Fuzz.inp


class Fuzz:
    def __init__(self, seeds):
        self.s = seeds
        self.now = seeds["now"]
        self.canaries = [c.encode() for c in seeds["canaries"]]
        self.badge_key = unhexlify(seeds["badge_key"])
        self.config_key = unhexlify(seeds["config_key"])
        self.ids = [t.encode() for t in seeds["identities"]]
        self.id_zlib = [unhexlify(h) for h in seeds["identity_zlib"]]
        self.id_cose = [unhexlify(h) for h in seeds["identity_cose"]]
        self.id_claims = [unhexlify(h) for h in seeds["identity_claims"]]
        self.answers = [unhexlify(h) for h in seeds["answers"]]
        self.waybills = seeds["waybills"]
        self.codes = [c.encode() for c in seeds["codes"]]
        self.fl = flow.Flow(self.badge_key, self.config_key, "SF")
        self.lines = scanline.LineSplitter()
        # every target's key made now, so these dicts do not grow during the run
        names = ("identity", "badge", "config", "cbor", "cose", "base45", "waybill",
                 "answer", "url", "lines")
        self.counts = {t: 0 for t in names}
        self.oom = {t: 0 for t in names}
        self.inp = None
        self.inbuf = bytearray(2048)
        self.fails = 0
        self.slowest = 0
        self.n = 0

    # failures: what, which exception, which input; never the input itself
    def fail(self, target, what):
        self.fails += 1
        if self.fails <= 20:
            print("FUZZ-FAIL", target, what, "input", self.n)

    def no_canary(self, target, text):
        if text is None:
            return
        b = text.encode() if isinstance(text, str) else bytes(text)
        for c in self.canaries:
            if c in b:
                self.fail(target, "canary in output")

    def call(self, target, allowed, fn, *args):
        self.counts[target] = self.counts.get(target, 0) + 1
        if self.inp is not None:
            # the input goes into a buffer allocated once, as the app's scanned lines do
            # (scanline.py), so it does not split the free heap the decoder gets
            data = self.inp
            self.inp = None
            n = len(data)
            if n <= len(self.inbuf):
                self.inbuf[:n] = data
                data = memoryview(self.inbuf)[:n]
            args = tuple(data if a is IN else a for a in args)
            data = None
        gc.collect()  # the harness's own garbage gone: the decoder meets the steady state
        t0 = time.ticks_ms()
        try:
            r = fn(*args)
        except allowed as e:
            self.no_canary(target, e.args[0] if e.args and isinstance(e.args[0], str) else "")
            r = None
        except MemoryError:
            # the heap had no room for this decode: the app collects, retries once, then
            # asks to scan again (handheld.on_line); counted, and kept rare by the host test
            self.oom[target] = self.oom.get(target, 0) + 1
            r = None
        except Exception as e:  # noqa: BLE001  (the finding)
            self.fail(target, type(e).__name__)
            if self.fails <= 3:
                sys.print_exception(e)  # where, not what: the message is the decoder's
            r = None
        dt = time.ticks_diff(time.ticks_ms(), t0)
        if dt > self.slowest:
            self.slowest = dt
        return r

    # -- identity tokens at each layer ---------------------------------------------------------
    def identity_line(self):
        layer = below(6)
        if layer == 0:  # claims: any value for any key, or byte mutations
            claims = pick(self.id_claims)
            if bits(1):
                claims = enc(mutate_map(decode(claims), 1 + below(3)), bool(bits(3)))
            else:
                claims = mutate(claims)
            cose_b = enc([b"\xa1\x01\x27", {4: b"kid1"}, claims, bytes(64)])
            z = zlib_stored(cose_b)
        elif layer == 1:  # COSE: any item in any field
            parts = [b"\xa1\x01\x27", {4: b"kid1"}, pick(self.id_claims), bytes(64)]
            for _ in range(1 + below(2)):
                parts[below(4)] = rand_item(1)
            if bits(3) == 0:
                parts = parts[:below(4)] + [rand_item(1)] * below(3)
            z = zlib_stored(enc(parts))
        elif layer == 2:  # the COSE bytes mutated
            z = zlib_stored(mutate(pick(self.id_cose)))
        elif layer == 3:  # the zlib stream mutated (header, blocks, checksum)
            z = mutate(pick(self.id_zlib))
        elif layer == 4:  # random CBOR item as the whole COSE
            z = zlib_stored(enc(rand_item(), bool(bits(2))))
        else:  # the base45 text mutated
            t = bytearray(pick(self.ids)[6:])
            for _ in range(1 + below(3)):
                i = below(len(t))
                t[i] = pick(_B45) if bits(2) else bits(8)
            if bits(2) == 0:
                t = t[:below(len(t) + 1)]
            return b"RNID1:" + bytes(t)
        return b"RNID1:" + b45(z)

    def t_identity(self):
        line = self.identity_line()
        self.inp = line
        line = None
        r = self.call("identity", CodeError, idtoken.parse, IN, self.now)
        if r is not None:
            self.no_canary("identity", r.id_masked + r.name_masked + r.phone_masked)

    # -- badge and config codes: the MAC made right so the fields are reached ------------------
    def mac0_line(self, config_code):
        import cborenc
        import hmac256

        if config_code:
            m = {1: "depot", 2: "password", 3: "https://10.0.0.5:8443", 4: self.now + 9, 5: 7}
        else:
            m = {1: "courier-7", 2: "Li", 3: "SF", 4: self.now + 9}
        payload = enc(mutate_map(m, below(3)), bool(bits(3)))
        if bits(3) == 0:
            payload = mutate(payload)
        key = self.config_key if config_code else self.badge_key
        h = hmac256.Hmac().key(key)
        s = h.begin()
        s.update(cborenc.head(cborenc.ARRAY, 4))
        s.update(b"\x64MAC0\x43\xa1\x01\x05\x40")
        s.update(cborenc.head(cborenc.BSTR, len(payload)))
        s.update(payload)
        tag = h.finish(s)
        body = enc([b"\xa1\x01\x05", {}, payload, tag])
        if bits(3) == 0:
            body = mutate(body)
        return (b"RNCF1:" if config_code else b"RNCB1:") + b45(body)

    def t_mac0(self):
        if bits(1):
            self.inp = self.mac0_line(True)
            self.call("config", CodeError, mac0.config, IN, self.config_key,
                      self.now, 0)
        else:
            self.inp = self.mac0_line(False)
            self.call("badge", CodeError, mac0.badge, IN, self.badge_key,
                      self.now)

    def t_cbor(self):
        data = enc(rand_item(), bool(bits(2)))
        if bits(2) == 0:
            data = mutate(data)
        views = bool(bits(1))
        self.inp = data
        self.call("cbor", CodeError, decode, IN, views)
        self.inp = data
        data = None
        self.call("cose", CodeError, cose, IN, b"\xa1\x01\x27", 64, views)

    def t_base45(self):
        if bits(1):
            t = bytes(pick(_B45) for _ in range(below(40)))
        else:
            t = mutate(b45(bytes(bits(8) for _ in range(below(30)))))
        self.inp = t
        t = None
        self.call("base45", ValueError, base45.decode, IN)

    def cjk(self):
        cp = 0x4E00 + below(20000)
        return bytes((0xE0 | cp >> 12, 0x80 | (cp >> 6) & 0x3F, 0x80 | cp & 0x3F))

    def t_waybill(self):
        w = pick(self.waybills)
        if bits(2) == 0:
            # characters never seen before, made without interning them (chr() would): a
            # decoder that interns what it looks at leaks heap, which the leak check sees
            w = str(b"".join(self.cjk() for _ in range(8 + below(25))), "utf-8")
        elif bits(2):
            w = mutate(w.encode(), 1 + below(2))
            try:
                w = str(w, "utf-8")
            except UnicodeError:
                w = "".join(chr(c) for c in w)
        c = pick(waybill.CARRIERS + ("XX",))
        r = self.call("waybill", (), waybill.check, c, w)
        if r is not None and not 0 <= r <= 5:
            self.fail("waybill", "result")

    def t_answer(self):
        a = pick(self.answers)
        if bits(1):
            a = mutate(a)
        else:
            m = {"ack": [1, 2], "mac": bytes(32), "rej": {}, "ver": {1: "ok"}}
            m[pick(list(m))] = rand_item(1)
            a = enc(m, bool(bits(2)))
        self.inp = a
        a = None
        self.call("answer", MalformedAnswer, answer.decode, IN)

    def t_url(self):
        u = mutate(b"https://10.0.0.5:8443/", below(4))
        try:
            u = str(u, "utf-8")
        except UnicodeError:
            return
        self.call("url", config.ConfigError, config.parse_url, u)

    def t_lines(self):
        # whole scan path: UART chunks -> lines -> Flow (which must never raise)
        chunk = bytearray()
        for _ in range(1 + below(3)):
            r = below(6)
            if r == 0:
                chunk += self.identity_line()
            elif r == 1:
                chunk += pick(self.codes)
            elif r == 2:
                chunk += self.mac0_line(bool(bits(1)))
            elif r == 3:
                chunk += pick(self.waybills).encode()
            elif r == 4:
                chunk += bytes(bits(8) for _ in range(below(60))) if bits(1) else \
                    b"".join(self.cjk() for _ in range(1 + below(20)))
            else:
                chunk += b"A" * (1000 + below(60))
            chunk += pick((b"\r", b"\r\n", b"\n", b"", b"\r\r"))
        results = []

        def emit(mv):
            if len(mv) > scanline.MAX_LINE or any(c == 13 for c in mv):
                self.fail("lines", "line with CR or over-long")
            results.append(self.fl.on_line(mv, self.now, bits(4) == 0))

        step = 1 + below(80)
        for i in range(0, len(chunk), step):
            self.call("lines", (), self.lines.feed, memoryview(chunk)[i:i + step], emit)
        for r in results:
            if r not in (0, 1, 2, 3, 4, 5):
                self.fail("lines", "flow result")
        if 3 in results:
            self.fl.sealed()  # CAPTURE: the app seals, then the flow drops the token
        for v in (self.fl.message, self.fl.identity and self.fl.identity.name_masked,
                  self.fl.identity and self.fl.identity.id_masked,
                  self.fl.identity and self.fl.identity.phone_masked):
            self.no_canary("lines", v)
        if bits(4) == 0:
            self.fl.cancel()

    def step(self):
        # weights out of 20: identity 6, badge/config 2, CBOR/COSE 3, base45 2, waybill 2,
        # answers 2, URL 1, scan lines 2
        r = below(20)
        for limit, target in ((6, self.t_identity), (8, self.t_mac0), (11, self.t_cbor),
                              (13, self.t_base45), (15, self.t_waybill), (17, self.t_answer),
                              (18, self.t_url), (20, self.t_lines)):
            if r < limit:
                return target()


_HARNESS = const(4096)  # what the harness holds while a decoder runs (the input, ...)


def ballast(free):
    """Hold heap until about `free` bytes are left for the decoders (plus _HARNESS): the app's
    steady state. gc.mem_free() counts what the heap could still grow by (as on an ESP32),
    so it is taken in pieces until the count is down there."""
    held = []
    piece = 4096
    while piece >= 64:
        gc.collect()
        over = gc.mem_free() - free - _HARNESS
        if over < 64:
            break
        try:
            held.append(bytearray(min(piece, over)))
        except MemoryError:
            piece //= 2
    return held


def load():
    with open(sys.argv[1]) as f:
        return json.load(f)


def main(reserve, seeds):
    rng_seed = int(sys.argv[2])
    count = int(sys.argv[3])
    reserve.clear()
    gc.collect()
    fz = Fuzz(seeds)
    del seeds
    seed(rng_seed)
    held = ballast(int(sys.argv[4]))
    gc.collect()
    print("FUZZ-START free", gc.mem_free())
    warm = min(2000, count // 10)
    harness_oom = 0
    base = None
    low = None
    for i in range(count):
        fz.n = i
        try:
            fz.step()
        except MemoryError:  # making the input, not decoding it: not a finding
            harness_oom += 1
            gc.collect()
        if i + 1 == warm or (i + 1) % 10000 == 0 or i + 1 == count:
            fz.fl.logout()
            gc.collect()
            free = gc.mem_free()
            if i + 1 == warm:
                base = free
            elif low is None or free < low:
                low = free
    print("FUZZ-COUNTS", json.dumps(fz.counts))
    print("FUZZ-OOM", json.dumps(fz.oom))
    print("FUZZ-DONE inputs", count, "fails", fz.fails, "slowest_ms", fz.slowest,
          "free_after_warmup", base, "lowest_free_later", low, "ballast", len(held or b""), "harness_oom", harness_oom)

