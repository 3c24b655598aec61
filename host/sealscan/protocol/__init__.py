"""sealscan sealed record protocol v1, host side (docs/protocol.md is the normative spec).

Every failure on bad input raises a subclass of `ProtocolError`.
"""

from sealscan.protocol.batch import (
    MAX_RECORDS,
    VERDICTS,
    Answer,
    Batch,
    answer_mac,
    decode_answer,
    decode_batch,
    encode_answer,
    encode_batch,
)
from sealscan.protocol.errors import (
    AuthenticationFailed,
    BadAckMac,
    InvalidDeviceId,
    InvalidKey,
    MalformedAnswer,
    MalformedBatch,
    MalformedRecord,
    ProtocolError,
    SessionExhausted,
)
from sealscan.protocol.keys import (
    check_device_id,
    generate_device_key,
    generate_upstream_keypair,
    upstream_public_key,
)
from sealscan.protocol.record import Record
from sealscan.protocol.revocation import decode_revocation, revocation_mac
from sealscan.protocol.session import MAX_SESSION_RECORDS, ReceiverSession, SenderSession

__all__ = [
    "MAX_RECORDS", "MAX_SESSION_RECORDS", "VERDICTS", "Answer", "AuthenticationFailed",
    "BadAckMac", "Batch", "InvalidDeviceId", "InvalidKey", "MalformedAnswer", "MalformedBatch",
    "MalformedRecord", "ProtocolError", "ReceiverSession", "Record", "SenderSession",
    "SessionExhausted", "answer_mac", "check_device_id", "decode_answer",
    "decode_revocation", "revocation_mac", "decode_batch",
    "encode_answer", "encode_batch", "generate_device_key", "generate_upstream_keypair",
    "upstream_public_key",
]
