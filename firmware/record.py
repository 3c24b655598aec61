# Record plaintext (sealscan protocol v1): a deterministic CBOR map, keys 1..5 in order
#
#   a5                                   map(5)
#   01 <uint>   capture time, Unix seconds UTC
#   02 <tstr>   carrier code
#   03 <tstr>   waybill
#   04 <bstr>   identity token: the scanned text, prefix included, UTF-8
#   05 <tstr>   courier id
import cborenc
from cborenc import BSTR, TSTR, UINT


def encoded_len(capture_time, carrier, waybill, token, courier_id):
    return (1 + 1 + cborenc.head_len(capture_time) + 1 + cborenc.string_len(carrier) +
            1 + cborenc.string_len(waybill) + 1 + cborenc.string_len(token) +
            1 + cborenc.string_len(courier_id))


def encode_into(buf, capture_time, carrier, waybill, token, courier_id):
    """Write the plaintext map at buf[0]; returns its length. Check encoded_len() first."""
    if not isinstance(capture_time, int) or capture_time < 0:
        raise cborenc.CborError("capture time must be a non-negative int")
    for s in (carrier, waybill, courier_id):
        if not isinstance(s, str):
            raise cborenc.CborError("carrier, waybill and courier id must be str")
    buf[0] = 0xA5
    buf[1] = 0x01
    off = cborenc.put_head(buf, 2, UINT, capture_time)
    buf[off] = 0x02
    off = cborenc.put_string(buf, off + 1, TSTR, carrier)
    buf[off] = 0x03
    off = cborenc.put_string(buf, off + 1, TSTR, waybill)
    buf[off] = 0x04
    off = cborenc.put_string(buf, off + 1, BSTR, token)
    buf[off] = 0x05
    return cborenc.put_string(buf, off + 1, TSTR, courier_id)
