"""Sessions of protocol v1: the HPKE mode_psk key schedule, the record chain and the
COSE_Encrypt0 wrapping of one record.

    SetupPSKS/R(pkR, info="sealscan/v1", psk=device key, psk_id=device id)
      suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / export-only (0x0020, 0x0001, 0xFFFF)
    chain_0 = Export("sealscan/v1 chain", 32)     ack_key = Export("sealscan/v1 ack", 32)
    K_i = HMAC-SHA256(chain_i, 01)[0:16]          chain_{i+1} = HMAC-SHA256(chain_i, 02)
    nonce_i = I2OSP(i, 13)
    sealed_i = [h'a101181e', {5: nonce_i}, AES-CCM-16-128-128(K_i, nonce_i, pt, AAD_i)]
    AAD_i = ["Encrypt0", h'a101181e', bstr(CBOR [device id, enc, i])]

HPKE comes from pyhpke (checked against RFC 9180 A.7.2 in the tests), AES-CCM and HMAC
from pyca/cryptography.
"""

from __future__ import annotations

import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

from sealscan.protocol import cbor
from sealscan.protocol.batch import Answer, answer_body, answer_mac, check_answer
from sealscan.protocol.errors import (
    AuthenticationFailed,
    BadAckMac,
    InvalidKey,
    MalformedRecord,
    SessionExhausted,
)
from sealscan.protocol.keys import check_device_id
from sealscan.protocol.record import MAX_PLAINTEXT, Record
from sealscan.protocol.revocation import revocation_body, verify_revocation

INFO = b"sealscan/v1"
EXPORT_CHAIN = b"sealscan/v1 chain"
EXPORT_ACK = b"sealscan/v1 ack"
MAX_SESSION_RECORDS = 1024
PROTECTED = bytes.fromhex("a101181e")  # {1: 30} AES-CCM-16-128-128
NONCE_LEN = 13
TAG_LEN = 16
MAX_SEALED = 1 + (1 + 4) + (1 + 1 + 1 + NONCE_LEN) + (3 + MAX_PLAINTEXT + TAG_LEN)
# 83 (array of 3), 44 a101181e (protected), a1 05 4d (unprotected {5: bstr(13)})
_SEALED_HEAD = b"\x83\x44" + PROTECTED + b"\xa1\x05\x4d"
_IV_AT = len(_SEALED_HEAD)  # 9
_CT_AT = _IV_AT + NONCE_LEN  # 22

SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.EXPORT_ONLY)


def _key32(value: object, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise InvalidKey(f"{name}: must be 32 bytes")
    return bytes(value)


def _step(chain: bytes) -> tuple[bytes, bytes]:
    """(K_i, chain_{i+1}) from chain_i."""
    return (hmac.digest(chain, b"\x01", "sha256")[:16], hmac.digest(chain, b"\x02", "sha256"))


def nonce(index: int) -> bytes:
    return index.to_bytes(NONCE_LEN, "big")


_AAD_HEAD = cbor.dumps(["Encrypt0", PROTECTED, b""])[:-1]  # 83 68 "Encrypt0" 44 a101181e


def _aad_prefix(device_id: str, enc: bytes) -> bytes:
    return b"\x83" + cbor.dumps(device_id) + cbor.dumps(enc)


def _aad(prefix: bytes, index: int) -> bytes:
    external = prefix + cbor.head(0, index)  # index: a uint (checked by the callers)
    return b"".join((_AAD_HEAD, cbor.head(2, len(external)), external))


def aad(device_id: str, enc: bytes, index: int) -> bytes:
    """The Enc_structure of RFC 9052 section 5.3 that AES-CCM authenticates:
    CBOR ["Encrypt0", h'a101181e', bstr(CBOR [device id, enc, index])]."""
    return _aad(_aad_prefix(device_id, enc), index)


def _check_index(index: object) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise MalformedRecord("record index: must be an integer")
    if not 0 <= index < MAX_SESSION_RECORDS:
        raise MalformedRecord(f"record index {index}: outside 0..{MAX_SESSION_RECORDS - 1}")
    return index


class SenderSession:
    """The device side, on the host: used by tests, vectors and load generators."""

    def __init__(self, device_id: str, enc: bytes, chain: bytes, ack_key: bytes):
        self.device_id = device_id
        self.enc = enc
        self.ack_key = ack_key
        self.next_index = 0
        self._chain: bytes | None = chain  # only chain_{next_index}: earlier ones are gone
        self._aad_prefix = _aad_prefix(device_id, enc)

    @classmethod
    def start(cls, upstream_pk: bytes, device_id: str, device_key: bytes,
              ikmE: bytes | None = None) -> SenderSession:  # noqa: N803 (RFC 9180 name)
        check_device_id(device_id)
        pk = _key32(upstream_pk, "upstream public key")
        psk = _key32(device_key, "device key")
        ikm = os.urandom(32) if ikmE is None else _key32(ikmE, "ikmE")
        try:
            eks = SUITE.kem.derive_key_pair(ikm)
            enc, ctx = SUITE.create_sender_context(
                SUITE.kem.deserialize_public_key(pk), INFO, psk=psk,
                psk_id=device_id.encode(), eks=eks)
        except Exception as e:  # low-order point: X25519 refuses an all-zero shared secret
            raise InvalidKey(f"upstream public key unusable ({type(e).__name__})") from None
        return cls(device_id, enc, ctx.export(EXPORT_CHAIN, 32), ctx.export(EXPORT_ACK, 32))

    def seal(self, record: Record | bytes) -> tuple[int, bytes]:
        """Seal the next record (a Record or raw plaintext bytes): (index, sealed bytes)."""
        plaintext = record.encode() if isinstance(record, Record) else bytes(record)
        if not 1 <= len(plaintext) <= MAX_PLAINTEXT:
            raise MalformedRecord(f"plaintext: must be 1-{MAX_PLAINTEXT} bytes")
        if self._chain is None or self.next_index >= MAX_SESSION_RECORDS:
            raise SessionExhausted(f"session sealed {MAX_SESSION_RECORDS} records")
        i = self.next_index
        key, self._chain = _step(self._chain)
        ct = AESCCM(key, tag_length=TAG_LEN).encrypt(nonce(i), plaintext,
                                                     _aad(self._aad_prefix, i))
        self.next_index = i + 1
        if self.next_index == MAX_SESSION_RECORDS:
            self._chain = None
        return i, cbor.dumps([PROTECTED, {5: nonce(i)}, ct])

    def verify_answer(self, answer: Answer) -> None:
        """Raise BadAckMac unless `answer.mac` is the MAC of its ack/rej/ver for this session."""
        check_answer(answer)
        expected = answer_mac(self.ack_key, self.enc, answer.ack, answer.rej, answer.ver)
        if not hmac.compare_digest(expected, answer.mac):
            raise BadAckMac("answer MAC does not verify under this session's ack key")

    def verify_revocation(self, body: bytes) -> None:
        """Raise MalformedAnswer/BadAckMac unless `body` (a 403 body) revokes this device in
        this session (docs/protocol.md 6.1)."""
        verify_revocation(self.ack_key, self.enc, self.device_id, body)


class ReceiverSession:
    """The upstream side: opens any record of one (device, session) in any order."""

    def __init__(self, upstream_sk: bytes, device_id: str, device_key: bytes, enc: bytes):
        check_device_id(device_id)
        sk = _key32(upstream_sk, "upstream private key")
        psk = _key32(device_key, "device key")
        if not isinstance(enc, bytes | bytearray) or len(enc) != 32:
            raise MalformedRecord("session enc: must be 32 bytes")
        self.device_id = device_id
        self.enc = bytes(enc)
        try:
            ctx = SUITE.create_recipient_context(
                self.enc, SUITE.kem.deserialize_private_key(sk), INFO, psk=psk,
                psk_id=device_id.encode())
        except Exception as e:  # a low-order enc point makes X25519 fail
            raise AuthenticationFailed(f"session enc unusable ({type(e).__name__})") from None
        self.ack_key = ctx.export(EXPORT_ACK, 32)
        self._chain = ctx.export(EXPORT_CHAIN, 32)
        self._keys: list[bytes] = []  # K_0, K_1, ... derived on demand
        self._aad_prefix = _aad_prefix(device_id, self.enc)

    def _key(self, index: int) -> bytes:
        while len(self._keys) <= index:
            key, self._chain = _step(self._chain)
            self._keys.append(key)
        return self._keys[index]

    def open_record(self, index: int, sealed: bytes) -> bytes:
        """The plaintext of record `index` (checked to be a v1 Record map)."""
        plaintext = self._decrypt(index, sealed)
        Record.decode(plaintext)
        return plaintext

    def open(self, index: int, sealed: bytes) -> Record:
        """Record `index`, opened and decoded strictly (once)."""
        return Record.decode(self._decrypt(index, sealed))

    def _decrypt(self, index: int, sealed: bytes) -> bytes:
        """Steps 1-4 of protocol 4.4: the authenticated plaintext, not yet checked."""
        index = _check_index(index)
        # The deterministic encoding of a v1 sealed record is fixed up to the nonce and the
        # ciphertext, so it is read as that layout: _SEALED_HEAD, 13 nonce bytes at 9..21,
        # the ciphertext's shortest-form bstr head at 22, the ciphertext up to the last byte.
        if not isinstance(sealed, bytes | bytearray | memoryview):
            raise MalformedRecord(f"sealed record: expected bytes, got {type(sealed).__name__}")
        sealed = bytes(sealed)
        n = len(sealed)
        if n > MAX_SEALED:
            raise MalformedRecord(f"sealed record: more than {MAX_SEALED} bytes")
        if n < _CT_AT + 1 or sealed[:_IV_AT] != _SEALED_HEAD:
            raise MalformedRecord("sealed record: not a v1 COSE_Encrypt0 (header)")
        ct_head = sealed[_CT_AT]
        if ct_head < 0x58:  # bstr with the length in the head byte (below 24)
            start, length = _CT_AT + 1, ct_head - 0x40
        elif ct_head == 0x58 and n > _CT_AT + 1 and sealed[_CT_AT + 1] >= 24:
            start, length = _CT_AT + 2, sealed[_CT_AT + 1]
        elif ct_head == 0x59 and n > _CT_AT + 2:
            start, length = _CT_AT + 3, int.from_bytes(sealed[_CT_AT + 1:_CT_AT + 3], "big")
            if length < 0x100:
                raise MalformedRecord("sealed record: ciphertext head not in shortest form")
        else:
            raise MalformedRecord("sealed record: ciphertext is not a byte string")
        if not TAG_LEN + 1 <= length <= MAX_PLAINTEXT + TAG_LEN or start + length != n:
            raise MalformedRecord("sealed record: ciphertext length wrong or trailing bytes")
        iv, ct = sealed[_IV_AT:_CT_AT], sealed[start:]
        if iv != nonce(index):
            raise AuthenticationFailed(f"record {index}: nonce belongs to another index")
        try:
            plaintext = AESCCM(self._key(index), tag_length=TAG_LEN).decrypt(
                iv, ct, _aad(self._aad_prefix, index))
        except InvalidTag:
            raise AuthenticationFailed(f"record {index}: does not open") from None
        return plaintext

    def answer_mac(self, ack: list[int], rej: dict[int, str], ver: dict[int, str]) -> bytes:
        return answer_mac(self.ack_key, self.enc, ack, rej, ver)

    def revocation_body(self) -> bytes:
        """The authenticated 403 answer telling this device, in this session, it is revoked."""
        return revocation_body(self.ack_key, self.enc, self.device_id)

    def answer_body(self, ack: list[int], rej: dict[int, str], ver: dict[int, str]) -> bytes:
        """The encoded, MAC'd answer (ack sorted ascending), ready to send."""
        return answer_body(self.ack_key, self.enc, sorted(set(ack)), rej, ver)

    def answer(self, ack: list[int], rej: dict[int, str], ver: dict[int, str]) -> Answer:
        """A MAC'd Answer (ack sorted ascending, as v1 requires)."""
        ack = sorted(set(ack))
        return Answer(ack=ack, rej=dict(rej), ver=dict(ver), mac=self.answer_mac(ack, rej, ver))
