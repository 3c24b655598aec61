"""Scanned codes: sender identity tokens, courier badges and configuration codes.

    RNID1: + base45(zlib(COSE_Sign1))   Ed25519 (alg -8), kid in the unprotected header
        COSE_Sign1 = [h'a10127', {4: kid}, bstr(claims), signature(64)]   (untagged)
        claims = {1: issuer, 4: expiry, 6: issued-at, -65537: id type, -65538: id number,
                  -65539: name, -65540: phone}
    RNCB1: + base45(COSE_Mac0)          HMAC 256/256 (alg 5), fleet badge key
        payload = {1: courier id, 2: display name, 3: carrier code, 4: expiry}
    RNCF1: + base45(COSE_Mac0)          HMAC 256/256 (alg 5), config key
        payload = {1: Wi-Fi SSID, 2: Wi-Fi password, 3: upstream URL, 4: expiry, 5: serial}
        COSE_Mac0 = [h'a10105', {}, bstr(payload), tag(32)]   (untagged)

All CBOR is deterministic (RFC 8949 4.2.1) and decoded strictly; base45 is RFC 9285.
Everything malformed raises `MalformedCode`; nothing here logs or prints identity data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sealscan import fwshared, masking
from sealscan.errors import file_problem
from sealscan.protocol import cbor
from sealscan.protocol.errors import ProtocolError

IDENTITY_PREFIX = "RNID1:"
BADGE_PREFIX = "RNCB1:"
CONFIG_PREFIX = "RNCF1:"
SIGN1_PROTECTED = bytes.fromhex("a10127")  # {1: -8} EdDSA
MAC0_PROTECTED = bytes.fromhex("a10105")  # {1: 5} HMAC 256/256
TEST_ISSUER_NAME = "TEST ISSUER - NOT FOR REAL IDENTITIES"
ISSUER_FILE_FORMAT = "sealscan-test-issuer-v1"
ISSUER_PUBLIC_FORMAT = "sealscan-issuer-public-v1"
VERDICTS = ("ok", "bad-signature", "expired", "unknown-issuer")
MAX_CODE_TEXT = 1200  # characters of scanned text; a token is ~300
MAX_DECOMPRESSED = 1024

ID_TYPES = {
    11: "resident ID",
    12: "temporary resident ID",
    16: "HK/Macau home-return permit",
    17: "Taiwan permit",
    18: "foreign passport",
    19: "Chinese passport",
    20: "HK/Macau/Taiwan residence permit",
    21: "foreign permanent residence ID",
}

CLAIM_ISSUER, CLAIM_EXPIRY, CLAIM_ISSUED_AT = 1, 4, 6
CLAIM_ID_TYPE, CLAIM_ID_NUMBER, CLAIM_NAME, CLAIM_PHONE = -65537, -65538, -65539, -65540


class ScannedCodeError(Exception):
    """Base of every scanned-code failure."""


class MalformedCode(ScannedCodeError):
    """Not a well-formed code of the expected kind (garbage, truncated, wrong structure)."""


class CodeRefused(ScannedCodeError):
    """A well-formed badge or config code that must not be used; `.reason` says why:
    "bad-mac", "expired" or "replayed"."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class InvalidIdNumber(ScannedCodeError):
    """The id number fails its check character (GB 11643 MOD 11-2) or its format."""


# --- base45 (RFC 9285) ---------------------------------------------------------------------

_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_INDEX = {c: i for i, c in enumerate(_B45)}


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, n = divmod(n, 45 * 45)
        d, c = divmod(n, 45)
        out += [_B45[c], _B45[d], _B45[e]]
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += [_B45[c], _B45[d]]
    return "".join(out)


# Decoding is on the upstream's hot path (one identity token per record), so it works on
# whole strings in C where it can: one translate() maps every character to its value (255 =
# not in the alphabet), zip over three strided slices forms the 16-bit words, struct packs
# them. tests/host/test_fast_paths.py checks it against the RFC 9285 definition on mutated
# inputs.
_B45_VALUES = bytes(_B45_INDEX.get(chr(c), 255) for c in range(256))


def b45decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise MalformedCode("base45: expected text")
    n = len(text)
    if n % 3 == 1:
        raise MalformedCode("base45: length leaves a lone character")
    try:
        v = text.encode("ascii").translate(_B45_VALUES)
    except UnicodeEncodeError:
        raise MalformedCode("base45: character outside the base45 alphabet") from None
    if 255 in v:
        raise MalformedCode("base45: character outside the base45 alphabet")
    full = n - n % 3
    words = [a + 45 * b + 2025 * c for a, b, c in zip(v[0:full:3], v[1:full:3],
                                                       v[2:full:3], strict=True)]
    if words and max(words) > 0xFFFF:
        raise MalformedCode("base45: triple out of range")
    out = struct.pack(f">{len(words)}H", *words)
    if n % 3:
        last = v[-2] + 45 * v[-1]
        if last > 0xFF:
            raise MalformedCode("base45: pair out of range")
        out += bytes((last,))
    return out


# --- id numbers ----------------------------------------------------------------------------

_checkdigits = fwshared.load("checkdigits")


def check_id_number(id_type: int, id_number: str) -> None:
    """Raise InvalidIdNumber unless id_number is plausible for id_type (check char where the
    document has one: resident ID 11, residence permit 20 (81/82/83...), new foreign permanent
    residence ID 21 (9...))."""
    if id_type not in ID_TYPES:
        raise InvalidIdNumber(f"id type {id_type}: unknown (known: {sorted(ID_TYPES)})")
    if not isinstance(id_number, str) or not 1 <= len(id_number) <= 32 \
            or not id_number.isascii() or not id_number.isalnum():
        raise InvalidIdNumber("id number: must be 1-32 ASCII letters or digits")
    if id_type in (11, 20, 21):
        if not _checkdigits.resident_id(id_number):
            raise InvalidIdNumber("id number: check character (GB 11643 MOD 11-2) is wrong")
        if id_type == 20 and id_number[:2] not in ("81", "82", "83"):
            raise InvalidIdNumber("residence permit number must start with 81, 82 or 83")
        if id_type == 21 and id_number[0] != "9":
            raise InvalidIdNumber("foreign permanent residence ID must start with 9")


# --- masking (GB/T 41833-2022) -------------------------------------------------------------

# Masked display uses the device's own rules (firmware/mask.py), so host and screen agree.
mask_name = masking.name
mask_phone = masking.phone
mask_id = masking.id_number


# --- COSE helpers --------------------------------------------------------------------------

def _strict(data: bytes, what: str) -> Any:
    try:
        return cbor.loads_strict(data, ProtocolError, what)
    except ProtocolError as e:
        raise MalformedCode(str(e)) from None


def _uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= limit


def _body(text: object, prefix: str) -> str:
    if not isinstance(text, str):
        raise MalformedCode("code: expected text")
    text = text.strip("\r\n")
    if len(text) > MAX_CODE_TEXT:
        raise MalformedCode("code: too long")
    if not text.startswith(prefix):
        raise MalformedCode(f"code: does not start with {prefix}")
    return text[len(prefix):]


# --- identity tokens -----------------------------------------------------------------------

@dataclass(frozen=True)
class IdentityClaims:
    issuer: str
    issued_at: int
    expires_at: int
    id_type: int
    id_number: str
    name: str
    phone: str

    def __repr__(self) -> str:  # identity data never reaches a log or a traceback
        return (f"IdentityClaims(issuer={self.issuer!r}, id_type={self.id_type}, "
                f"id_number={mask_id(self.id_number)!r}, expires_at={self.expires_at})")

    def masked(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "issued_at": self.issued_at,
                "expires_at": self.expires_at, "id_type": self.id_type,
                "id_type_name": ID_TYPES.get(self.id_type, "?"),
                "id_number": mask_id(self.id_number), "name": mask_name(self.name),
                "phone": mask_phone(self.phone)}


@dataclass(frozen=True)
class IdentityToken:
    kid: bytes
    claims: IdentityClaims
    signed: bytes  # the Sig_structure the signature covers
    signature: bytes

    def __repr__(self) -> str:
        return f"IdentityToken(kid={self.kid!r}, claims={self.claims!r})"


def _claims_map(c: IdentityClaims) -> dict[int, Any]:
    return {CLAIM_ISSUER: c.issuer, CLAIM_EXPIRY: c.expires_at, CLAIM_ISSUED_AT: c.issued_at,
            CLAIM_ID_TYPE: c.id_type, CLAIM_ID_NUMBER: c.id_number, CLAIM_NAME: c.name,
            CLAIM_PHONE: c.phone}


_CLAIM_KEYS = sorted([CLAIM_ISSUER, CLAIM_EXPIRY, CLAIM_ISSUED_AT, CLAIM_ID_TYPE,
                      CLAIM_ID_NUMBER, CLAIM_NAME, CLAIM_PHONE], key=cbor.dumps)


def _sig_structure(payload: bytes) -> bytes:
    return cbor.dumps(["Signature1", SIGN1_PROTECTED, b"", payload])


def parse_identity_token(text: str) -> IdentityToken:
    """Structure only (no signature check): MalformedCode for anything not a v1 token."""
    compressed = b45decode(_body(text, IDENTITY_PREFIX))
    d = zlib.decompressobj()
    try:
        raw = d.decompress(compressed, MAX_DECOMPRESSED)
    except zlib.error:
        raise MalformedCode("identity token: not zlib data") from None
    if not d.eof or d.unconsumed_tail or d.unused_data:
        raise MalformedCode("identity token: zlib stream truncated, too long or followed by data")
    obj = _strict(raw, "identity token")
    if not isinstance(obj, list) or len(obj) != 4:
        raise MalformedCode("identity token: COSE_Sign1 must be a 4-element array")
    protected, unprotected, payload, signature = obj
    if protected != SIGN1_PROTECTED:
        raise MalformedCode("identity token: protected header must be {1: -8}")
    if not isinstance(unprotected, dict) or list(unprotected) != [4] \
            or not isinstance(unprotected[4], bytes) or not 1 <= len(unprotected[4]) <= 16:
        raise MalformedCode("identity token: unprotected header must be {4: kid}")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes) \
            or len(signature) != 64:
        raise MalformedCode("identity token: payload or signature malformed")
    m = _strict(payload, "identity claims")
    if not isinstance(m, dict) or sorted(m, key=cbor.dumps) != _CLAIM_KEYS:
        raise MalformedCode("identity claims: must have exactly keys 1, 4, 6, -65537..-65540")
    if not (_text(m[CLAIM_ISSUER], 64) and _uint(m[CLAIM_EXPIRY]) and _uint(m[CLAIM_ISSUED_AT])
            and _uint(m[CLAIM_ID_TYPE]) and m[CLAIM_ID_TYPE] in ID_TYPES
            and _text(m[CLAIM_ID_NUMBER], 32) and _text(m[CLAIM_NAME], 64)
            and _text(m[CLAIM_PHONE], 20)):
        raise MalformedCode("identity claims: a claim has the wrong type or length")
    claims = IdentityClaims(issuer=m[CLAIM_ISSUER], issued_at=m[CLAIM_ISSUED_AT],
                            expires_at=m[CLAIM_EXPIRY], id_type=m[CLAIM_ID_TYPE],
                            id_number=m[CLAIM_ID_NUMBER], name=m[CLAIM_NAME],
                            phone=m[CLAIM_PHONE])
    return IdentityToken(kid=unprotected[4], claims=claims, signed=_sig_structure(payload),
                         signature=signature)


def check_identity_token(text: str, issuers: dict[bytes, Ed25519PublicKey]) -> tuple[str, int]:
    """The time-independent part of the verdict: ("unknown-issuer" | "bad-signature" |
    "signed", expiry). It depends only on the text and the issuers, so a caller may keep it
    for a token it sees again (the upstream does); `verdict_at` then applies the clock.
    MalformedCode for garbage."""
    token = parse_identity_token(text)
    key = issuers.get(token.kid)
    if key is None:
        return "unknown-issuer", token.claims.expires_at
    try:
        key.verify(token.signature, token.signed)
    except InvalidSignature:
        return "bad-signature", token.claims.expires_at
    return "signed", token.claims.expires_at


def verdict_at(status: str, expires_at: int, now: int) -> str:
    """The verdict at `now` from `check_identity_token`'s result: expiry is checked last,
    and only for a token whose signature verified."""
    if status != "signed":
        return status
    return "expired" if now >= expires_at else "ok"


def verify_identity_token(text: str, issuers: dict[bytes, Ed25519PublicKey], now: int) -> str:
    """The verdict for a scanned identity token: "ok", "unknown-issuer", "bad-signature" or
    "expired" (checked in that order after the structure). MalformedCode for garbage."""
    return verdict_at(*check_identity_token(text, issuers), now)


@dataclass(frozen=True)
class Issuer:
    """A signing issuer (the TEST issuer: never for real identities)."""

    name: str
    kid: bytes
    private_key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"Issuer(name={self.name!r}, kid={self.kid!r})"

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes_raw()


def new_test_issuer(seed: bytes | None = None) -> Issuer:
    """A fresh TEST issuer (seed: 32 bytes for a deterministic one, e.g. in vectors)."""
    sk = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()
    kid = b"TEST-" + hashlib.sha256(sk.public_key().public_bytes_raw()).hexdigest()[:8].encode()
    return Issuer(TEST_ISSUER_NAME, kid, sk)


def save_issuer(issuer: Issuer, path: Path) -> None:
    """Write the issuer key file (mode 0600, refuses to overwrite)."""
    data = {"format": ISSUER_FILE_FORMAT, "issuer": issuer.name, "kid": issuer.kid.hex(),
            "ed25519_public": issuer.public_bytes.hex(),
            "ed25519_private": issuer.private_key.private_bytes_raw().hex()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def load_issuer(path: Path) -> Issuer:
    """Read an issuer key file; MalformedCode (with the file name) if it is not one."""
    text = _read_text(path)
    try:
        data = json.loads(text)
        if data.get("format") != ISSUER_FILE_FORMAT:
            raise ValueError(f"format is not {ISSUER_FILE_FORMAT}")
        sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(data["ed25519_private"]))
        kid = bytes.fromhex(data["kid"])
        if sk.public_key().public_bytes_raw().hex() != data["ed25519_public"]:
            raise ValueError("public key does not match the private key")
        return Issuer(str(data["issuer"]), kid, sk)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise MalformedCode(f"{path}: not an issuer key file ({e})") from None


def _read_text(path: Path | str) -> str:
    # a file that is missing says so ("not found"), not "not a key file"
    try:
        return Path(path).read_text()
    except OSError as e:
        raise MalformedCode(file_problem(path, e)) from None
    except UnicodeDecodeError:
        raise MalformedCode(f"{path}: not a text file") from None


def issuer_public_data(issuer: Issuer) -> dict[str, str]:
    """The public half of an issuer, as written by `codes issuer-public --out`."""
    return {"format": ISSUER_PUBLIC_FORMAT, "issuer": issuer.name, "kid": issuer.kid.hex(),
            "ed25519_public": issuer.public_bytes.hex()}


def load_trusted_issuers(*paths: Path) -> dict[bytes, Ed25519PublicKey]:
    """The `issuers` argument of verify_identity_token from issuer files: public files
    (`codes issuer-public --out`) or full issuer key files. MalformedCode names a bad file."""
    trusted: dict[bytes, Ed25519PublicKey] = {}
    for path in paths:
        text = _read_text(path)
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("format") == ISSUER_FILE_FORMAT:
                issuer = load_issuer(path)
                trusted[issuer.kid] = issuer.public_key
                continue
            if data.get("format") != ISSUER_PUBLIC_FORMAT:
                raise ValueError(f"format is neither {ISSUER_PUBLIC_FORMAT} nor "
                                 f"{ISSUER_FILE_FORMAT}")
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(data["ed25519_public"]))
            trusted[bytes.fromhex(data["kid"])] = key
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise MalformedCode(f"{path}: not an issuer file ({e})") from None
    return trusted


def issuer_public_keys(*issuers: Issuer) -> dict[bytes, Ed25519PublicKey]:
    """The `issuers` argument of verify_identity_token for these issuers."""
    return {i.kid: i.public_key for i in issuers}


def make_identity_token(issuer: Issuer, *, id_type: int, id_number: str, name: str,
                        phone: str, issued_at: int, expires_at: int,
                        allow_invalid_id: bool = False) -> str:
    """Sign an identity token. Refuses an id number that fails its check character unless
    allow_invalid_id (for negative tests)."""
    if not allow_invalid_id:
        check_id_number(id_type, id_number)
    claims = IdentityClaims(issuer=issuer.name, issued_at=issued_at, expires_at=expires_at,
                            id_type=id_type, id_number=id_number, name=name, phone=phone)
    m = _claims_map(claims)
    if not (_text(name, 64) and _text(phone, 20) and _text(id_number, 32)
            and _uint(issued_at) and _uint(expires_at) and id_type in ID_TYPES):
        raise MalformedCode("identity claims: a claim has the wrong type or length")
    payload = cbor.dumps(m)
    signature = issuer.private_key.sign(_sig_structure(payload))
    sign1 = cbor.dumps([SIGN1_PROTECTED, {4: issuer.kid}, payload, signature])
    return IDENTITY_PREFIX + b45encode(zlib.compress(sign1, 9))


# --- badges and config codes (COSE_Mac0) ---------------------------------------------------

def _mac0_tag(key: bytes, payload: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) != 32:
        raise ValueError("badge/config key must be 32 bytes")
    return hmac.new(key, cbor.dumps(["MAC0", MAC0_PROTECTED, b"", payload]),
                    hashlib.sha256).digest()


def _make_mac0(prefix: str, key: bytes, payload_map: dict[int, Any]) -> str:
    payload = cbor.dumps(payload_map)
    return prefix + b45encode(cbor.dumps([MAC0_PROTECTED, {}, payload,
                                          _mac0_tag(key, payload)]))


def _open_mac0(text: str, prefix: str, key: bytes, keys: list[int],
               optional: tuple[int, ...] = ()) -> dict[int, Any]:
    obj = _strict(b45decode(_body(text, prefix)), prefix)
    if not isinstance(obj, list) or len(obj) != 4 or obj[0] != MAC0_PROTECTED \
            or obj[1] != {} or not isinstance(obj[2], bytes) or not isinstance(obj[3], bytes) \
            or len(obj[3]) != 32:
        raise MalformedCode(f"{prefix} COSE_Mac0 must be [h'a10105', {{}}, payload, tag(32)]")
    m = _strict(obj[2], f"{prefix} payload")
    if not isinstance(m, dict) or [k for k in sorted(m, key=cbor.dumps)
                                   if k not in optional] != keys:
        raise MalformedCode(f"{prefix} payload: must have exactly keys {keys}"
                            + (f" (and optionally {list(optional)})" if optional else ""))
    if not hmac.compare_digest(_mac0_tag(key, obj[2]), obj[3]):
        raise CodeRefused("bad-mac", f"{prefix} MAC does not verify under this key")
    return m


@dataclass(frozen=True)
class Badge:
    courier_id: str
    display_name: str
    carrier: str
    expires_at: int


def make_badge(key: bytes, *, courier_id: str, display_name: str, carrier: str,
               expires_at: int) -> str:
    if not (_text(courier_id, 32) and _text(display_name, 32) and _text(carrier, 16)
            and _uint(expires_at)):
        raise MalformedCode("badge: a field has the wrong type or length")
    return _make_mac0(BADGE_PREFIX, key, {1: courier_id, 2: display_name, 3: carrier,
                                          4: expires_at})


def verify_badge(text: str, key: bytes, now: int) -> Badge:
    m = _open_mac0(text, BADGE_PREFIX, key, [1, 2, 3, 4])
    if not (_text(m[1], 32) and _text(m[2], 32) and _text(m[3], 16) and _uint(m[4])):
        raise MalformedCode("badge: a field has the wrong type or length")
    if now >= m[4]:
        raise CodeRefused("expired", "badge expired")
    return Badge(m[1], m[2], m[3], m[4])


@dataclass(frozen=True)
class ConfigCode:
    ssid: str
    password: str
    upstream_url: str
    expires_at: int
    serial: int
    lang: str | None = None  # UI language the device switches to ("zh", "en"), if any

    def __repr__(self) -> str:  # the Wi-Fi password is a secret
        return f"ConfigCode(ssid={self.ssid!r}, upstream_url={self.upstream_url!r}, " \
               f"serial={self.serial}, lang={self.lang!r})"


UI_LANGS = ("zh", "en")  # firmware/texts.py LANGS


def make_config(key: bytes, *, ssid: str, password: str, upstream_url: str, expires_at: int,
                serial: int, lang: str | None = None) -> str:
    if not (_text(ssid, 32) and isinstance(password, str) and len(password) <= 64
            and _text(upstream_url, 200) and _uint(expires_at) and _uint(serial)
            and (lang is None or lang in UI_LANGS)):
        raise MalformedCode("config: a field has the wrong type or length")
    payload: dict[int, Any] = {1: ssid, 2: password, 3: upstream_url, 4: expires_at, 5: serial}
    if lang is not None:
        payload[6] = lang
    return _make_mac0(CONFIG_PREFIX, key, payload)


def verify_config(text: str, key: bytes, now: int, last_serial: int | None = None) -> ConfigCode:
    m = _open_mac0(text, CONFIG_PREFIX, key, [1, 2, 3, 4, 5], optional=(6,))
    if not (_text(m[1], 32) and isinstance(m[2], str) and len(m[2]) <= 64
            and _text(m[3], 200) and _uint(m[4]) and _uint(m[5])
            and m.get(6, "zh") in UI_LANGS):
        raise MalformedCode("config: a field has the wrong type or length")
    if now >= m[4]:
        raise CodeRefused("expired", "config code expired")
    if last_serial is not None and m[5] <= last_serial:
        raise CodeRefused("replayed", f"config serial {m[5]} is not above {last_serial}")
    return ConfigCode(m[1], m[2], m[3], m[4], m[5], m.get(6))


def load_key_file(path: Path) -> bytes:
    """A 32-byte key stored as 64 hex characters (badge key, config key)."""
    text = _read_text(path)
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as e:
        raise MalformedCode(f"{path}: not a key file ({e})") from None
    if len(key) != 32:
        raise MalformedCode(f"{path}: key must be 32 bytes (64 hex characters)")
    return key


def save_key_file(key: bytes, path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")


def write_qr_png(text: str, path: Path) -> None:
    """A QR code PNG of `text` (base45 text fits QR alphanumeric mode)."""
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM)
                if all(c in _B45 for c in text) else text)
    qr.make(fit=True)
    qr.make_image().save(str(path))
