# What a person may see of an identity (GB/T 41833-2022 privacy waybill rules; I4 in
# docs/design.md).
#
#   name("张三")              -> "张*"          hide at least one character
#   name("欧阳娜娜")          -> "欧阳**"       compound surnames keep two characters
#   phone("13812345678")      -> "1******5678"  hide at least 6 digits
#   id_number("11010519491231002X") -> "1***************2X"  first 1 and last 2 only
#
# Every function returns a new str and never the input unchanged: if a value is too short to
# keep anything and still hide enough, all of it is hidden.
#
# name, phone and id_number take the value's UTF-8 bytes (above: the bytes of those strs): the
# device masks an identity straight from the buffer it was decoded into, so the full value
# never becomes a str (an object it could not wipe). Only what stays visible is decoded. The
# host (sealscan.masking) encodes its strs and calls these same functions.

_COMPOUND_UTF8 = (  # compound surnames, 2 characters (6 UTF-8 bytes) each
    b"\xe6\xac\xa7\xe9\x98\xb3\xe5\x8f\xb8\xe9\xa9\xac"  # 欧阳 司马
    b"\xe4\xb8\x8a\xe5\xae\x98\xe8\xaf\xb8\xe8\x91\x9b"  # 上官 诸葛
    b"\xe4\xb8\x9c\xe6\x96\xb9\xe7\x9a\x87\xe7\x94\xab"  # 东方 皇甫
    b"\xe5\xb0\x89\xe8\xbf\x9f\xe5\x85\xac\xe5\xad\x99"  # 尉迟 公孙
    b"\xe6\x85\x95\xe5\xae\xb9\xe9\x95\xbf\xe5\xad\x99"  # 慕容 长孙
    b"\xe5\xae\x87\xe6\x96\x87\xe5\x8f\xb8\xe5\xbe\x92"  # 宇文 司徒
    b"\xe5\xa4\x8f\xe4\xbe\xaf\xe8\xbd\xa9\xe8\xbe\x95"  # 夏侯 轩辕
    b"\xe4\xbb\xa4\xe7\x8b\x90\xe7\xab\xaf\xe6\x9c\xa8"  # 令狐 端木
    b"\xe7\x8b\xac\xe5\xad\xa4\xe5\x8d\x97\xe5\xae\xab"  # 独孤 南宫
    b"\xe8\xa5\xbf\xe9\x97\xa8\xe7\x99\xbe\xe9\x87\x8c"  # 西门 百里
)
_SPACE = b" \t\n\r\x0b\x0c"


def _stars(n):
    return "*" * n


def _starts(b, start, end):
    # where each character of the UTF-8 bytes b[start:end] starts
    return [i for i in range(start, end) if b[i] & 0xC0 != 0x80]


def _visible(b, start, end):
    return str(b[start:end], "utf-8")


def _compound(b, start):
    for s in range(0, len(_COMPOUND_UTF8), 6):
        if b[start:start + 6] == _COMPOUND_UTF8[s:s + 6]:
            return True
    return False


def name(b):
    start = 0
    end = len(b)
    while start < end and b[start] in _SPACE:
        start += 1
    while end > start and b[end - 1] in _SPACE:
        end -= 1
    offs = _starts(b, start, end)
    n = len(offs)
    if n <= 1:
        return "*"
    if b[start] < 0x80:
        # Latin-script names (foreign documents): initial of the first word only.
        return chr(b[start]) + _stars(min(n - 1, 8))
    keep = 2 if n >= 3 and _compound(b, start) else 1
    return _visible(b, start, offs[keep]) + _stars(n - keep)


def phone(b):
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


def id_number(b):
    end = len(b)
    offs = _starts(b, 0, end)
    n = len(offs)
    if n <= 6:
        return _stars(n if n else 1)
    return _visible(b, 0, offs[1]) + _stars(n - 3) + _visible(b, offs[n - 2], end)


def waybill(number):
    # A waybill is not identity data, but the screen only needs enough to match the label.
    n = len(number)
    if n <= 4:
        return number
    return _stars(n - 4) + number[n - 4:]
