"""Identity verdicts for the ingest path, with a bounded memo of the expensive part.

A sender's identity token is scanned again for every parcel that sender hands over, so the
upstream sees the same token text many times. Parsing it (base45, zlib, strict COSE) and
verifying its Ed25519 signature give the same answer every time for the same bytes and the
same trusted issuers; only expiry depends on the clock. `TokenVerdicts` therefore remembers,
per SHA-256 of the token bytes, the time-independent result of `codes.check_identity_token`
("unknown-issuer" / "bad-signature" / "signed" + expiry, or "malformed") and applies the
clock at every use (`codes.verdict_at`): a remembered token that has expired since is
"expired", exactly as a fresh verify would say.

The issuers are copied when the memo is made, so a memo can never answer for another issuer
set. The memo is an LRU of at most `size` entries (0 turns it off); an entry is a 32-byte
digest and a verdict word, never identity data.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sealscan.codes import ScannedCodeError, check_identity_token, verdict_at


class TokenVerdicts:
    def __init__(self, issuers: dict[bytes, Ed25519PublicKey], size: int):
        self.issuers = dict(issuers)
        self.size = size
        self.memo: OrderedDict[bytes, tuple[str, int]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def check(self, token: bytes) -> tuple[str, int]:
        """The time-independent result for these token bytes ("malformed" if they do not
        parse), from the memo when it has them."""
        key = hashlib.sha256(token).digest()
        entry = self.memo.get(key)
        if entry is not None:
            self.hits += 1
            self.memo.move_to_end(key)
            return entry
        self.misses += 1
        try:
            entry = check_identity_token(token.decode("utf-8"), self.issuers)
        except (ScannedCodeError, UnicodeDecodeError):
            entry = ("malformed", 0)
        if self.size > 0:
            self.memo[key] = entry
            if len(self.memo) > self.size:
                self.memo.popitem(last=False)
        return entry

    def verdict(self, token: bytes, now: int) -> str:
        """"ok", "expired", "bad-signature", "unknown-issuer" or "malformed" at `now`."""
        return verdict_at(*self.check(token), now)
