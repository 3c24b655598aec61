"""Revocation reaches the device (docs/protocol.md 6.1): a revoked handheld verifies the
upstream's authenticated 403, wipes its keys from NVS, drops its queue and refuses every scan;
a forged revocation through a TLS man in the middle, a plain 403 and a revocation replayed
from another device change nothing."""

import os
import time

import cbor2
from test_e2e_capture import login
from test_e2e_faults import capture, text

from sealscan.fonttool import words
from sealsim.endtoend import WAYBILLS, AnswerTamperer, sealscan
from sealsim.supervisor import SimDeviceError

REGISTRY_BOUND = 2.5  # the upstream's registry_ttl (2 s) and a margin
REVOKED, DEPOT = words("REVOKED").split("\n")  # the alarm's two lines
WIPED = ("device_key", "badge_key", "config_key", "provisioned")


def nvs(dev):
    return dev.nvs()  # the live keys of namespace sealscan in flash.bin


def screen(dev):
    try:
        return text(dev)
    except SimDeviceError:  # no frame yet since the power came back
        return ""


def raw_flash(dev):
    return b"".join(p.read_bytes() for p in dev.state.rglob("*") if p.is_file())


def test_revoked_device_wipes_its_keys_drops_its_queue_and_refuses_every_scan(scanner,
                                                                               upstream):
    dev, keys = scanner()
    login(dev, keys)
    mark = len(dev.output)
    capture(dev, upstream, WAYBILLS[0])
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    assert keys.device_key in raw_flash(dev) and keys.badge_key in raw_flash(dev)
    sealscan("upstream", "revoke", "-d", str(upstream.dir), keys.device_id)
    time.sleep(REGISTRY_BOUND)  # docs/upstream.md: a revocation holds on every node after this
    mark = len(dev.output)
    capture(dev, upstream, WAYBILLS[1])
    dev.wait_for("REVOKED - RETURN TO DEPOT", 30, since=mark)
    dev.wait_until(lambda: REVOKED in text(dev) and DEPOT in text(dev), 10, "the revoked screen")
    assert words("ONLINE").replace("%d", "0") in text(dev)  # the queued record is dropped
    stored = nvs(dev)
    assert not set(WIPED) & set(stored) and stored["revoked"] == 1
    flash = raw_flash(dev)
    for secret in (keys.device_key, keys.badge_key, keys.config_key):
        assert secret not in flash
    # every scan is refused: a badge, an identity, a waybill
    for code in (keys.badge(), upstream.identity(), WAYBILLS[2]):
        mark = len(dev.output)
        dev.scan(code)
        dev.wait_for("scan refused: Return it to the depot", 20, since=mark)
    assert [r.index for _, r in upstream.records(keys.device_id)] == [0]
    # after a power cycle it still does not start as a scanner
    mark = len(dev.output)
    dev.power_cut()
    dev.power_on()
    dev.wait_for("cannot start: REVOKED - RETURN TO DEPOT", 30, since=mark)
    dev.wait_until(lambda: REVOKED in screen(dev) and DEPOT in screen(dev), 10,
                   "the revoked screen after a power cycle")


def test_forged_plain_and_replayed_revocations_change_nothing(scanner, upstream):
    mitm = AnswerTamperer(upstream)
    mitm.mode = None
    try:
        # another device, revoked: its real revocation is captured on the way
        other, other_keys = scanner(url=mitm.url)
        login(other, other_keys)
        sealscan("upstream", "revoke", "-d", str(upstream.dir), other_keys.device_id)
        time.sleep(REGISTRY_BOUND)
        capture(other, upstream, WAYBILLS[0])
        other.wait_for("REVOKED - RETURN TO DEPOT", 30)
        revocation = next(b for s, b in mitm.answers if s == 403)
        assert cbor2.loads(revocation)["error"] == "revoked-device"

        dev, keys = scanner(url=mitm.url)
        login(dev, keys)
        before = nvs(dev)
        forged = bytearray(revocation)
        forged[7:39] = os.urandom(32)
        mitm.mode = "replace"
        for body in (revocation, bytes(forged), cbor2.dumps({"error": "revoked-device"})):
            mitm.replacement = (403, body)
            n = len(mitm.seen)
            mark = len(dev.output)
            if not len(upstream.records(keys.device_id)):
                capture(dev, upstream, WAYBILLS[1])
            dev.wait_until(lambda n=n: mitm.seen[n:].count("replace") >= 2, 30,
                           "refused batches")
            out = dev.output[mark:].decode()
            assert "upload answered 403" in out and "REVOKED" not in out
            assert REVOKED not in text(dev)
            assert nvs(dev) == before
        mitm.mode = None
        dev.wait_for("record 0 verdict ok", 30)
        assert "REVOKED" not in dev.output.decode()
    finally:
        mitm.close()
