"""No plaintext residue in RAM (issue 14): after a capture, a refusal, a cancel and a logout,
the simulated device's memory (every writable mapping of its interpreter process, freed heap
blocks included: sealsim.memdump) holds no canary in any encoding we can predict. While an
identity is held (scanned, waiting for its waybill) the same search finds the token: the dump
does see the heap."""

import time
import zlib

import cbor2

from sealscan import codes
from sealsim import memdump
from sealsim.endtoend import CANARY_ID, CANARY_NAME, CANARY_PHONE, WAYBILLS


def needles(token: str) -> dict[str, bytes]:
    """The canary identity in every form the device could hold: the scanned text, its base45
    body, the zlib stream, the COSE_Sign1 and its CBOR claims, each claim in UTF-8."""
    body = token[len("RNID1:"):]
    z = codes.b45decode(body)
    sign1 = zlib.decompress(z)
    claims = cbor2.loads(sign1)[2]
    mid = len(body) // 2
    out = {"token text": token.encode()[:40], "base45 body": body[mid:mid + 24].encode(),
           "zlib stream": z[len(z) // 2:len(z) // 2 + 16],
           "COSE_Sign1": sign1[len(sign1) // 2:len(sign1) // 2 + 16],
           "claims CBOR": claims[len(claims) // 2:len(claims) // 2 + 16]}
    for label, value in (("id number", CANARY_ID), ("name", CANARY_NAME),
                         ("phone", CANARY_PHONE)):
        out[label + " UTF-8"] = value.encode()
        out[label + " CBOR"] = cbor2.dumps(value)
    return out


def ram(dev) -> list[memdump.Region]:
    pid = dev.supervisor.pid()
    assert pid is not None, "the device is not running"
    return memdump.dump(pid)  # the device's process session (start_new_session: sid = pid)


def settle(dev, since, text):
    dev.wait_for(text, 30, since=since)
    time.sleep(0.5)  # the tasks finish what they do after the console line


def login(dev, keys):
    dev.wait_for("session started", 30)
    mark = len(dev.output)
    dev.scan(keys.badge())
    settle(dev, mark, "courier logged in")


def test_no_identity_in_ram_after_capture_refusal_cancel_and_logout(scanner, upstream):
    dev, keys = scanner()
    dev.wait_for("ready", 30)
    login(dev, keys)
    token = upstream.identity()
    forms = needles(token)

    # held: the dump sees the scanned token (the flow keeps it until it is sealed)
    mark = len(dev.output)
    dev.scan(token)
    settle(dev, mark, "held, waiting for the other code")
    assert memdump.find(ram(dev), {"token text": forms["token text"]}), \
        "the dump does not see the held token: it would not see residue either"

    # capture: sealed and acked
    mark = len(dev.output)
    dev.scan(WAYBILLS[0])
    settle(dev, mark, "record 0 verdict ok")
    assert memdump.find(ram(dev), forms) == [], "after capture"

    # refusal: an expired token
    now = int(time.time())
    expired = upstream.identity(issued_at=now - 7200, expires_at=now - 3600)
    mark = len(dev.output)
    dev.scan(expired)
    settle(dev, mark, "scan refused")
    assert memdump.find(ram(dev), {**forms, **needles(expired)}) == [], "after refusal"

    # cancel: identity held, BACK
    mark = len(dev.output)
    dev.scan(token)
    settle(dev, mark, "held, waiting for the other code")
    dev.press("back")
    time.sleep(0.5)
    assert memdump.find(ram(dev), forms) == [], "after cancel"

    # logout: identity held, BACK twice (cancel, then log out)
    mark = len(dev.output)
    dev.scan(token)
    settle(dev, mark, "held, waiting for the other code")
    dev.press("back")
    time.sleep(0.3)
    dev.press("back")
    time.sleep(0.5)
    assert memdump.find(ram(dev), forms) == [], "after logout"
