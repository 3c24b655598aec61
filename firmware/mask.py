# What a person may see of an identity (GB/T 41833-2022 privacy waybill rules, DESIGN I4).
#
#   name("张三")              -> "张*"          hide at least one character
#   name("欧阳娜娜")          -> "欧阳**"       compound surnames keep two characters
#   phone("13812345678")      -> "1******5678"  hide at least 6 digits
#   id_number("11010519491231002X") -> "1***************2X"  first 1 and last 2 only
#
# Every function returns a new str and never the input unchanged: if a value is too short to
# keep anything and still hide enough, all of it is hidden.
#
# The rules work on UTF-8 bytes (name_utf8, phone_utf8, id_number_utf8): the device masks an
# identity straight from the buffer it was decoded into, so the full value never becomes a
# str (an object it could not wipe). Only the characters that stay visible are decoded.
# name/phone/id_number take a str (the host, the screen tests) and apply the same rules.

_COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里",
)
_COMPOUND_UTF8 = "".join(_COMPOUND_SURNAMES).encode()  # 6 bytes each
_SPACE = b" \t\n\r\x0b\x0c"


def _stars(n):
    return "*" * n


def _is_char_start(b):
    return b & 0xC0 != 0x80


def _chars(b, start, end):
    n = 0
    for i in range(start, end):
        if _is_char_start(b[i]):
            n += 1
    return n


def _char_offset(b, start, end, k):
    # byte offset of character k (0-based) of b[start:end]; end if there are fewer
    n = -1
    for i in range(start, end):
        if _is_char_start(b[i]):
            n += 1
            if n == k:
                return i
    return end


def _visible(b, start, end):
    return str(bytes(b[start:end]), "utf-8")


def _compound(b, start, end):
    if end - start < 6:
        return False
    for s in range(0, len(_COMPOUND_UTF8), 6):
        for j in range(6):
            if b[start + j] != _COMPOUND_UTF8[s + j]:
                break
        else:
            return True
    return False


def name_utf8(b):
    start = 0
    end = len(b)
    while start < end and b[start] in _SPACE:
        start += 1
    while end > start and b[end - 1] in _SPACE:
        end -= 1
    n = _chars(b, start, end)
    if n <= 1:
        return "*"
    if b[start] < 0x80:
        # Latin-script names (foreign documents): initial of the first word only.
        return chr(b[start]) + _stars(min(n - 1, 8))
    keep = 2 if n >= 3 and _compound(b, start, end) else 1
    return _visible(b, start, _char_offset(b, start, end, keep)) + _stars(n - keep)


def phone_utf8(b):
    digits = 0
    for c in b:
        if 48 <= c <= 57:
            digits += 1
    if digits <= 8:
        return _stars(digits if digits else 1)
    # Keep the first digit and the last four; everything between (>= 6 digits when the number
    # has 11) is hidden. Shorter numbers keep fewer so that at least 6 stay hidden.
    keep_tail = min(4, digits - 7)
    out = []
    seen = 0
    for c in b:
        if 48 <= c <= 57:
            seen += 1
            out.append(chr(c) if seen == 1 or seen > digits - keep_tail else "*")
    return "".join(out)


def id_number_utf8(b):
    end = len(b)
    n = _chars(b, 0, end)
    if n <= 6:
        return _stars(n if n else 1)
    return _visible(b, 0, _char_offset(b, 0, end, 1)) + _stars(n - 3) + \
        _visible(b, _char_offset(b, 0, end, n - 2), end)


def name(full):
    return name_utf8(full.encode())


def phone(number):
    return phone_utf8(number.encode())


def id_number(number):
    return id_number_utf8(number.encode())


def waybill(number):
    # A waybill is not identity data, but the screen only needs enough to match the label.
    n = len(number)
    if n <= 4:
        return number
    return _stars(n - 4) + number[n - 4:]
