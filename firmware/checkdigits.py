# Check characters of the codes a courier scans: a wrong digit is a misread, not a parcel.
#
#   resident_id(s)  GB 11643 (ISO 7064 MOD 11-2) over 17 digits, check char 0-9 or X;
#                   also HK/Macau/Taiwan residence permits (810000/820000/830000 + ...)
#                   and the new foreign permanent residence ID (18 chars, starts with 9)
#   upu_s10(s)      UPU S10 item id, e.g. EA123456785CN: weights 8 6 4 2 3 5 9 7
#   sscc18(s)       GS1 SSCC-18, mod-10 with weights 3,1,3,... from the right

_ID_WEIGHTS = b"\x07\x09\x0a\x05\x08\x04\x02\x01\x06\x03\x07\x09\x0a\x05\x08\x04\x02"
_ID_CHECK = "10X98765432"  # index = sum mod 11
_S10_WEIGHTS = b"\x08\x06\x04\x02\x03\x05\x09\x07"


def _code(c):
    # a character of a str, or a byte of a bytes-like object (identity numbers are checked in
    # the buffer they were decoded into, never copied into a str: see idtoken.py)
    return c if isinstance(c, int) else ord(c)


def _all_digits(s):
    for c in s:
        c = _code(c)
        if c < 48 or c > 57:
            return False
    return True


def _id_sum(first17):
    total = 0
    for i in range(17):
        total += (_code(first17[i]) - 48) * _ID_WEIGHTS[i]
    return total % 11


def resident_id_check_char(first17):
    return _ID_CHECK[_id_sum(first17)]


def resident_id(s):
    """True if s (str, or ASCII bytes-like) is 18 characters with a valid MOD 11-2 check
    character."""
    if len(s) != 18 or not _all_digits(s[:17]):
        return False
    c = _code(s[17])
    if c == 120:  # "x"
        c = 88
    return c == ord(_ID_CHECK[_id_sum(s)])


def upu_s10(s):
    if len(s) != 13 or not s[:2].isalpha() or not s[11:].isalpha():
        return False
    if not (s[:2].upper() == s[:2] and s[11:].upper() == s[11:]) or not _all_digits(s[2:11]):
        return False
    total = 0
    for i in range(8):
        total += (ord(s[2 + i]) - 48) * _S10_WEIGHTS[i]
    check = 11 - total % 11
    if check == 10:
        check = 0
    elif check == 11:
        check = 5
    return ord(s[10]) - 48 == check


def sscc18(s):
    if len(s) != 18 or not _all_digits(s):
        return False
    total = 0
    for i in range(17):
        total += (ord(s[16 - i]) - 48) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10 == ord(s[17]) - 48
