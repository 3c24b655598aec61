# Parcel waybill numbers, checked against the carrier this device is provisioned for.
#
# Domestic patterns overlap (one number can match STO and Yunda), so the carrier is never
# guessed from the number: the device knows its carrier, and the number must fit that
# carrier's formats. Formats with a check digit (UPU S10, GS1 SSCC-18) have it verified.
#
#   carrier  formats (d = digit, A = A-Z, X = A-Z or digit)
#   SF       "SF" X d{12} | d{12}
#   YTO      "YT" d{13}
#   ZTO      "7" [34568] d{12}
#   STO      ("77" | "43") d{12..15}
#   YUNDA    [34] d{14} | "5" d{12}
#   EMS      [189] d{12} | UPU S10 (AA d{8} d AA, check digit)
#   JD       "JD" XX d{11}
#   JT       "JT" d{13}
#   DEPPON   "DPK" d{12}
#   any      GS1 SSCC-18 (18 digits, check digit): carrier-neutral logistic unit label
import checkdigits

OK = 0
BAD_CHARS = 1
BAD_FORMAT = 2
BAD_CHECK_DIGIT = 3
UNKNOWN_CARRIER = 4
OTHER_CARRIER = 5  # not this carrier's, but fits another carrier's format

CARRIERS = ("SF", "YTO", "ZTO", "STO", "YUNDA", "EMS", "JD", "JT", "DEPPON")


def _digits(s):
    if not s:
        return False
    for c in s:
        if c < "0" or c > "9":
            return False
    return True


def _alnum_upper(c):
    return ("0" <= c <= "9") or ("A" <= c <= "Z")


def _fits(carrier, s):
    n = len(s)
    if carrier == "SF":
        return (n == 15 and s[:2] == "SF" and _alnum_upper(s[2]) and _digits(s[3:])) or \
            (n == 12 and _digits(s))
    if carrier == "YTO":
        return n == 15 and s[:2] == "YT" and _digits(s[2:])
    if carrier == "ZTO":
        return n == 14 and s[0] == "7" and s[1] in "34568" and _digits(s)
    if carrier == "STO":
        return 14 <= n <= 17 and s[:2] in ("77", "43") and _digits(s)
    if carrier == "YUNDA":
        return _digits(s) and ((n == 15 and s[0] in "34") or (n == 13 and s[0] == "5"))
    if carrier == "EMS":
        return n == 13 and _digits(s) and s[0] in "189"
    if carrier == "JD":
        return n == 15 and s[:2] == "JD" and _alnum_upper(s[2]) and _alnum_upper(s[3]) and \
            _digits(s[4:])
    if carrier == "JT":
        return n == 15 and s[:2] == "JT" and _digits(s[2:])
    if carrier == "DEPPON":
        return n == 15 and s[:3] == "DPK" and _digits(s[3:])
    return False


def _looks_s10(s):
    return len(s) == 13 and "A" <= s[0] <= "Z" and "A" <= s[1] <= "Z" and _digits(s[2:11]) \
        and "A" <= s[11] <= "Z" and "A" <= s[12] <= "Z"


def check(carrier, s):
    """OK or the reason the scanned text is not a waybill of `carrier`."""
    if carrier not in CARRIERS:
        return UNKNOWN_CARRIER
    if not 8 <= len(s) <= 32:
        return BAD_FORMAT
    if len(s.encode()) != len(s):
        # Not ASCII: refused before any character is looked at. Taking a non-ASCII character
        # out of a str (for c in s) interns it as a qstr, which is never freed: scans of ever
        # new characters would eat the heap for good.
        return BAD_CHARS
    for c in s:
        if not _alnum_upper(c):
            return BAD_CHARS
    if len(s) == 18 and _digits(s):
        # SSCC-18 is accepted for every carrier; an 18-digit number is judged as SSCC.
        return OK if checkdigits.sscc18(s) else BAD_CHECK_DIGIT
    if _looks_s10(s):
        if carrier != "EMS":
            return OTHER_CARRIER
        return OK if checkdigits.upu_s10(s) else BAD_CHECK_DIGIT
    if _fits(carrier, s):
        return OK
    for other in CARRIERS:
        if _fits(other, s):
            return OTHER_CARRIER
    return BAD_FORMAT
