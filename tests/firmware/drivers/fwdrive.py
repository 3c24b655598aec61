# MicroPython driver for host tests that check the firmware against independent CPython code
# (tests/host/test_fw_protocol_cross.py). Not a test module itself.
#
#   micropython fwdrive.py COMMAND IN_FILE
#
# Inputs are JSON lines (one case per line, so a big case file never sits in the 110 KB
# heap at once); bytes are lowercase hex. Each command prints one JSON line per case and
# a last line "@@DONE <n>".
import json
import sys
from binascii import hexlify, unhexlify

import sealtest  # tests/firmware/helpers, compiled beside the firmware

h = unhexlify


def hx(b):
    return hexlify(bytes(b)).decode()


def cases(path):
    with open(path) as f:
        while True:
            line = f.readline()
            if not line:
                return
            if line.strip():
                yield json.loads(line)


def cmd_ccm(path):
    # case: {key, nonce, aad, msg, tag_len}; out: {ct, back, tampered_refused}
    import aesccm
    import opener

    ccm = opener.Ccm(1100, 1100)
    out = bytearray(1200)
    back = bytearray(1100)
    for c in cases(path):
        key, nonce, aad, msg = h(c["key"]), h(c["nonce"]), h(c["aad"]), h(c["msg"])
        n = ccm.seal_into(key, nonce, aad, msg, out, c["tag_len"])
        ct = bytes(out[:n])
        m = ccm.open_into(key, nonce, aad, h(c["expected"]), back, c["tag_len"])
        opened = hx(back[:m])
        bad = bytearray(ct)
        bad[c["flip"] % len(bad)] ^= 0x01
        try:
            ccm.open_into(key, nonce, aad, bad, back, c["tag_len"])
            refused = False
        except aesccm.AuthError:
            refused = True
        print(json.dumps({"ct": hx(ct), "back": opened, "refused": refused}))


def _session(c):
    import gc

    import sealer

    gc.collect()

    s = sealer.Sealer(c["device_id"], h(c["psk"]), h(c["pkR"]), queue_bytes=c.get("queue", 2048))
    import asyncio

    import hpke

    ikm = c.get("ikmE")
    asyncio.run(s.start_session(hpke.fixed_encap(h(ikm)) if ikm else None))
    return s


def cmd_seal(path):
    # case: {device_id, psk, pkR, ikmE?, records: [[t, carrier, waybill, token hex, courier]]}
    # out: {enc, sealed: [hex, ...]}
    # The answer line is written piece by piece: no big string is built in the 110 KB heap.
    for c in cases(path):
        s = _session(c)
        sys.stdout.write('{"enc": "%s", "sealed": [' % hx(s.enc))
        for n, (t, carrier, waybill, token, courier) in enumerate(c["records"]):
            i = s.seal(t, carrier, waybill, bytearray(h(token)), courier)
            sealed = sealtest.sealed(s, i)
            sys.stdout.write('%s"%s"' % (", " if n else "", hx(sealed)))
            s.queue.drop(s._slot, i)
        sys.stdout.write("]}\n")
        s = sealed = None


def cmd_open(path):
    # The firmware as a receiver of host-sealed records: the same HPKE sender computation
    # with the same ikmE gives the same chain; each record is opened with K_i.
    # case: {device_id, psk, pkR, ikmE, enc, records: [[index, sealed hex]]}
    # out: {plaintexts: [hex or null]}
    import opener

    for c in cases(path):
        enc, keys = _chain_keys(c, max(i for i, _ in c["records"]))
        assert hx(enc) == c["enc"], "enc differs"
        out = []
        for i, sealed in c["records"]:
            try:
                out.append(hx(opener.open_record(keys[i], c["device_id"], enc, i, h(sealed))))
            except Exception as e:  # reported to the host, which expects the refusal
                out.append(type(e).__name__)
        print(json.dumps({"plaintexts": out}))


def cmd_ack(path):
    # case: {device_id, psk, pkR, ikmE, n, answers: [{enc, ack, rej, ver, mac, body}]}
    # out: {verified: [bool], settled: [records dropped, or -1 if the body was refused],
    #       left: int}
    for c in cases(path):
        s = _session(c)
        for i in range(c["n"]):
            s.seal(1700000000 + i, "SF", "SF100000000%03d" % i, b"RNID1:TOKEN", "courier-1")
        verified = []
        settled = []
        for a in c["answers"]:
            rej = {int(k): v for k, v in a["rej"].items()}
            ver = {int(k): v for k, v in a["ver"].items()}
            enc = h(a["enc"])
            verified.append(s.verify_ack(enc, a["ack"], rej, ver, h(a["mac"])))
            before = len(s.queue)
            res = s.settle(enc, h(a["body"]))
            settled.append(-1 if res is None else before - len(s.queue))
        print(json.dumps({"verified": verified, "settled": settled, "left": len(s.queue)}))


def _chain_keys(c, upto):
    # K_0..K_upto of the session in case `c`, recomputed from the HPKE export (receiver side)
    import asyncio

    import hmac256
    import hpke
    import sealer

    enc, exp = asyncio.run(hpke.setup_psk_sender(
        h(c["pkR"]), sealer.INFO, h(c["psk"]), c["device_id"].encode(), h(c["ikmE"])))
    chain = hpke.export(exp, sealer.EXPORT_CHAIN, 32)
    keys = []
    hm = hmac256.Hmac()
    for _ in range(upto + 1):
        hm.key(chain)
        keys.append(hm.digest(b"\x01")[:16])
        chain = hm.digest(b"\x02")
    return enc, keys


def cmd_vectors(path):
    # A project vector file, streamed as lines of one kind each:
    #   {"session": {device_id, psk, pkR, ikmE}}  -> {enc, chain_0, ack_key}
    #   {"record": [t, carrier, waybill, token hex, courier]}  -> {index, sealed}
    #   {"ack": {ack, rej, ver, mac}}  -> {verified}     (also "bad_ack")
    #   {"answer": body hex}  -> {decoded: [ack, rej, ver, mac hex] or error name, verified}
    #   {"invalid": [index, sealed hex]}  -> {refused: exception name or null}
    #   {"batch": 1}  -> {length, batch hex}   (session "keep": records stay queued)
    import aesccm
    import cose
    import opener

    s = c = None
    keys = []
    enc = b""
    for line in cases(path):
        if "session" in line:
            c = line["session"]
            s = None
            s = _session(dict(c, queue=4096 if c.get("keep") else 2048))
            enc = s.enc
            slot = s._slot
            print(json.dumps({"enc": hx(enc), "chain_0": hx(s._chain),
                              "ack_key": hx(s._ack_keys[32 * slot:32 * slot + 32])}))
            keys = []
        elif "record" in line:
            t, carrier, waybill, token, courier = line["record"]
            i = s.seal(t, carrier, waybill, bytearray(h(token)), courier)
            sealed = hx(sealtest.sealed(s, i))
            if not c.get("keep"):
                s.queue.drop(s._slot, i)
            print(json.dumps({"index": i, "sealed": sealed}))
        elif "batch" in line:
            with s.batch() as b:
                n = b.length()
                sys.stdout.write('{"length": %d, "batch": "' % n)
                for part in b.chunks():
                    sys.stdout.write(hx(part))
                sys.stdout.write('"}\n')
        elif "ack" in line or "bad_ack" in line:
            a = line.get("ack") or line["bad_ack"]
            rej = {int(k): v for k, v in a["rej"].items()}
            ver = {int(k): v for k, v in a["ver"].items()}
            print(json.dumps({"verified": s.verify_ack(enc, a["ack"], rej, ver, h(a["mac"]))}))
        elif "answer" in line:
            import answer

            try:
                ack, rej, ver, mac = answer.decode(h(line["answer"]))
            except answer.MalformedAnswer:
                print(json.dumps({"decoded": "MalformedAnswer", "verified": False}))
                continue
            print(json.dumps({"decoded": [ack, {str(k): v for k, v in rej.items()},
                                          {str(k): v for k, v in ver.items()}, hx(mac)],
                              "verified": s.verify_ack(enc, ack, rej, ver, mac)}))
        else:
            i, sealed = line["invalid"]
            try:
                if not 0 <= i < 1024:
                    raise cose.MalformedRecord("index out of range")
                if len(keys) <= i:
                    _, keys = _chain_keys(c, i)
                opener.open_record(keys[i], c["device_id"], enc, i, h(sealed))
                refused = None
            except (cose.MalformedRecord, aesccm.CcmError) as e:
                refused = type(e).__name__
            print(json.dumps({"refused": refused}))


def main():
    cmd = globals()["cmd_" + sys.argv[1]]
    n = 0
    cmd(sys.argv[2])
    print("@@DONE", n)


main()
