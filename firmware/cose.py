# COSE_Encrypt0 (RFC 9052 §5) as sealscan protocol v1 uses it, untagged:
#
#   83                       array(3)
#   44 a1 01 18 1e           protected: bstr {1: 30}  (AES-CCM-16-128-128)
#   a1 05 4d <nonce 13>      unprotected: {5: nonce_i}, nonce_i = i, 13 bytes big-endian
#   <bstr> ciphertext | tag  AES-CCM(K_i, nonce_i, plaintext, AAD), 16-byte tag, L = 2
#
#   AAD (Enc_structure) = 83 68 "Encrypt0" 44 a1 01 18 1e <bstr external_aad>
#   external_aad        = 83 <tstr device id> 58 20 <enc 32> <uint i>
import cborenc
from cborenc import ARRAY, BSTR, TSTR, UINT
from micropython import const

PROTECTED = b"\xa1\x01\x18\x1e"
NONCE_LEN = const(13)
TAG_LEN = const(16)
PREFIX = b"\x83\x44\xa1\x01\x18\x1e\xa1\x05\x4d"  # up to the nonce bytes
_ENC_STRUCTURE = b"\x83\x68Encrypt0\x44\xa1\x01\x18\x1e"
HEADER_MAX = const(9 + 13 + 3)  # prefix, nonce, ciphertext head (ciphertext < 64 KiB)


class MalformedRecord(ValueError):
    pass


def nonce_into(buf, index):
    for i in range(NONCE_LEN - 1, -1, -1):
        buf[i] = index & 0xFF
        index >>= 8


def aad_len(device_id, index):
    ext = 1 + cborenc.string_len(device_id) + 34 + cborenc.head_len(index)
    return len(_ENC_STRUCTURE) + cborenc.head_len(ext) + ext


def aad_into(buf, device_id, enc, index):
    """Enc_structure for record `index` at buf[0]; returns its length."""
    if len(enc) != 32:
        raise MalformedRecord("enc must be 32 bytes")
    n = len(_ENC_STRUCTURE)
    buf[0:n] = _ENC_STRUCTURE
    ext = 1 + cborenc.string_len(device_id) + 34 + cborenc.head_len(index)
    off = cborenc.put_head(buf, n, BSTR, ext)
    off = cborenc.put_head(buf, off, ARRAY, 3)
    off = cborenc.put_string(buf, off, TSTR, device_id)
    off = cborenc.put_string(buf, off, BSTR, enc)
    return cborenc.put_head(buf, off, UINT, index)


def sealed_len(pt_len):
    ct = pt_len + TAG_LEN
    return len(PREFIX) + NONCE_LEN + cborenc.head_len(ct) + ct


def header_into(buf, off, index, pt_len):
    """Everything before the ciphertext at buf[off]; returns the ciphertext's offset."""
    n = len(PREFIX)
    buf[off:off + n] = PREFIX
    nonce_into(memoryview(buf)[off + n:off + n + NONCE_LEN], index)
    return cborenc.put_head(buf, off + n + NONCE_LEN, BSTR, pt_len + TAG_LEN)
