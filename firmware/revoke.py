# Revocation and key wipe (docs/protocol.md §6.1). A batch from a revoked device is answered
# 403 with a body MAC'd with that batch's session ack key, so only the device that set the
# session up can verify it (a plain 403, a forged or another device's body change nothing):
#
#   403 body = a2                               map(2), keys in deterministic order
#                63 "mac" 58 20 <32 bytes>
#                65 "error" 6e "revoked-device"
#   mac      = HMAC-SHA256(ack_key, 83 67 "revoked" 58 20 <enc> <tstr device id>)
#
# On a verified revocation (or a key lease past its wipe limit: lease.py) the keys go from
# NVS; `revoked` (i32 = 1) says why the device no longer starts.
import cborenc
import hmac256
import texts as T
from micropython import const
from wipe import wipe as zero

_HEAD = b"\xa2\x63mac\x58\x20"
_TAIL = b"\x65error\x6erevoked-device"
_BODY_LEN = const(60)  # 7 + 32 + 21
_MSG = b"\x83\x67revoked\x58\x20"
# What a wiped device no longer holds (config.py names every NVS key)
_KEYS = ("device_key", "badge_key", "config_key", "provisioned")
NOT_FOUND = const(-4354)  # ESP_ERR_NVS_NOT_FOUND
REVOKED = const(1)
LEASE_OVER = const(2)


def mac_of(body):
    """The 32-byte MAC of a revocation body, or None if it is not exactly that layout."""
    if body is None or len(body) != _BODY_LEN or body[:7] != _HEAD or body[39:] != _TAIL:
        return None
    return bytes(body[7:39])


def mac_input(h, enc, device_id):
    """Feed CBOR ["revoked", enc, device id] to a sha256 object (hmac256.Hmac.begin())."""
    d = device_id.encode()
    h.update(_MSG)
    h.update(enc)
    h.update(cborenc.head(cborenc.TSTR, len(d)))
    h.update(d)


# The sealer's revocation path lives here, not in sealer.py, so that its code is on the heap
# only for a 403 (handheld.App.rare): it reads the session's ack key and, on a wipe, ends the
# sealer's sessions, as sealer.py's own methods would.

def verify(sealer, enc, body, device_id):
    """Whether a 403 `body` revokes `device_id` in session `enc` (the MAC with that session's
    ack key, compared in constant time)."""
    mac = mac_of(body)
    slot = sealer._slot_of(enc)
    if mac is None or slot < 0:
        return False
    hm = hmac256.Hmac()
    hm.key(memoryview(sealer._ack_keys)[32 * slot:32 * slot + 32])
    h = hm.begin()
    mac_input(h, enc, device_id)
    ok = hmac256.equal(hm.finish(h), mac)
    hm.wipe()
    return ok


def revoked(app, enc, body):
    """The handheld's 403 (handheld.App.rare): wipe (REVOKED) if it is a verified
    revocation; whether it was."""
    ok = verify(app.sealer, enc, body, app.cfg.device_id)
    if ok:
        wipe_device(app, REVOKED)
    return ok


def forget(s):
    """The sealer drops every queued record and wipes every key; no session starts again."""
    q = s.queue
    for slot, index in [(e[0], e[1]) for e in q.entries()]:
        q.drop(slot, index)
    s._end_session()  # the chain; and, with no records left, every slot's enc and ack key
    zero(s._psk)
    # A wiped device never starts a session again. The rules of that terminal state are set
    # on the instances here, so that the resident sealer.py and flow.py carry no code for it.
    s.needs_session = _never


def _never(*_args):
    return False


def _refuse_all(line, now, block=False):
    import flow  # resident already

    return flow.REFUSED  # the message stays RETURN TO DEPOT


def wipe_keys(nvs, why, secrets=()):
    """Erase the device key, badge key, config key and `provisioned` from NVS; record why
    (REVOKED or LEASE_OVER) in `revoked`; then zero every copy of `secrets` (the key values)
    still in the nvs partition."""
    for k in _KEYS:
        try:
            nvs.erase_key(k)
        except OSError:  # already gone
            pass
    nvs.set_i32("revoked", why)
    nvs.commit()
    scrub(secrets)


def scrub(secrets):
    # NVS only marks an erased entry erased: its bytes stay in flash until the page is
    # reclaimed. NOR flash lets a write clear bits without an erase, so each copy of a secret
    # in the nvs partition is overwritten with zeros in place (the entries holding them are
    # erased already: NVS skips them).
    import esp32

    parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="nvs")
    if not parts or not secrets:
        return
    p = parts[0]
    buf = bytearray(4096)
    for block in range(p.ioctl(4, 0)):  # BLOCK_COUNT
        p.readblocks(block, buf)
        data = bytes(buf)
        for s in secrets:
            if len(s) < 16:
                continue
            i = data.find(s)
            while i >= 0:
                p.writeblocks(block, bytes(len(s)), i)
                i = data.find(s, i + 1)


def wipe_device(app, why):
    """The handheld after a verified revocation (REVOKED) or a lease past its wipe limit
    (LEASE_OVER): keys out of NVS and RAM, every queued record dropped, and every scan
    refused from now on (handheld.App.on_line)."""
    cfg = app.cfg
    wipe_keys(cfg.nvs, why, (cfg.device_key, cfg.badge_key, cfg.config_key))
    forget(app.sealer)
    f = app.flow
    f.logout()
    f.badge_key = f.config_key = None
    f.on_line = _refuse_all  # every scan, with the reason on the screen
    f.cancel = _never  # BACK changes nothing: RETURN TO DEPOT stays
    cfg.device_key = cfg.badge_key = cfg.config_key = b""
    app.last = app.last_key = None
    app.overdue = False
    app.alarm = T.REVOKED if why == REVOKED else T.LEASE_OVER
    f.message = T.RETURN_TO_DEPOT
    app.buzzer.duty_u16(0)
    print("sealscan:", "REVOKED - RETURN TO DEPOT" if why == REVOKED else
          "KEY LEASE OVER - RETURN TO DEPOT", "(keys wiped)")
    app.dirty = True
