# What a person may see of an identity (GB/T 41833-2022 privacy waybill rules; I4 in
# docs/design.md).
#
#   name("张三")              -> "张*"          hide at least one character
#   name("欧阳娜娜")          -> "欧阳**"       compound surnames keep two characters
#   name("买买提·艾力")       -> "买**·**"      names in parts: the first character only
#   phone("13812345678")      -> "1******5678"  hide at least 6 digits
#   id_number("32010219800808441X") -> "3***************1X"  first 1 and last 2 only
#
# Every function returns a new str and never the input unchanged: if a value is too short to
# keep anything and still hide enough, all of it is hidden.
#
# name, phone and id_number take the value's UTF-8 bytes (above: the bytes of those strs): the
# device masks an identity straight from the buffer it was decoded into, so the full value
# never becomes a str (an object it could not wipe). Only what stays visible is decoded. The
# host (sealscan.masking) encodes its strs and calls these same functions.

# What stays visible of a Chinese name is its surname (two characters for these, pairs in one
# string: one object on the heap, not fifty), the rest is hidden; the screen shows visible
# characters as glyphs (the font asset has these surnames).
COMPOUND_SURNAMES = (
    "欧阳司马上官诸葛东方皇甫尉迟公孙慕容长孙宇文司徒夏侯轩辕令狐端木独孤南宫西门百里"
    "呼延澹台公冶太史申屠闻人赫连濮阳钟离宗政拓跋万俟完颜第五东郭司空司寇巫马公西漆雕"
    "乐正仲孙叔孙单于段干谷梁左丘梁丘羊舌微生"
)
_COMPOUND_UTF8 = COMPOUND_SURNAMES.encode()  # the pairs as the name's bytes: 6 bytes each
# Separators of names in parts (transliterated names: 买买提·艾力); they stay visible as "·".
# In UTF-8: · • ・ ‧ ﹒ ．
_DOTS = (b"\xc2\xb7", b"\xe2\x80\xa2", b"\xe3\x83\xbb", b"\xe2\x80\xa7", b"\xef\xb9\x92",
         b"\xef\xbc\x8e")
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
    offs.append(end)
    if b[offs[0]:offs[1]] in _DOTS:
        return _stars(n)
    keep = 2 if n >= 3 and _compound(b, start) else 1
    out = [_visible(b, start, offs[keep])]
    for i in range(keep, n):
        out.append("·" if b[offs[i]:offs[i + 1]] in _DOTS else "*")
    return "".join(out)


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
