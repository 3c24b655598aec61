"""Typed errors of the sealed record protocol. Every failure the library can raise on bad
input is one of these; callers catch `ProtocolError` and never see a cbor2, cryptography or
index error."""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every protocol failure."""


class MalformedRecord(ProtocolError):
    """A sealed record or a record plaintext is not the exact structure v1 defines."""


class AuthenticationFailed(ProtocolError):
    """A well-formed sealed record does not open under this session, index and device key."""


class MalformedBatch(ProtocolError):
    """A batch body (device -> upstream) is not the exact structure v1 defines."""


class MalformedAnswer(ProtocolError):
    """An answer body (upstream -> device) is not the exact structure v1 defines."""


class BadAckMac(ProtocolError):
    """An answer's MAC does not verify under the session's ack key."""


class InvalidDeviceId(ProtocolError):
    """A device id is not 1-32 characters of A-Z a-z 0-9 . _ -"""


class SessionExhausted(ProtocolError):
    """The session has sealed its 1024 records; start a new session."""


class InvalidKey(ProtocolError):
    """A key has the wrong length or is unusable (e.g. a low-order X25519 public key)."""
