# What a person may see of an identity (GB/T 41833-2022 privacy waybill rules; I4 in
# docs/design.md).
#
#   name("张三")              -> "张*"          hide at least one character
#   name("欧阳娜娜")          -> "欧阳**"       compound surnames keep two characters
#   name("买买提·艾力")       -> "买**·**"      names in parts: the first character only
#   phone("13812345678")      -> "1******5678"  hide at least 6 digits
#   id_number("11010519491231002X") -> "1***************2X"  first 1 and last 2 only
#
# Every function returns a new str and never the input unchanged: if a value is too short to
# keep anything and still hide enough, all of it is hidden.

# What stays visible of a Chinese name is its surname (two characters for these, pairs in one
# string: one object on the heap, not fifty), the rest is hidden; the screen shows visible
# characters as glyphs (the font asset has these surnames).
COMPOUND_SURNAMES = (
    "欧阳司马上官诸葛东方皇甫尉迟公孙慕容长孙宇文司徒夏侯轩辕令狐端木独孤南宫西门百里"
    "呼延澹台公冶太史申屠闻人赫连濮阳钟离宗政拓跋万俟完颜第五东郭司空司寇巫马公西漆雕"
    "乐正仲孙叔孙单于段干谷梁左丘梁丘羊舌微生"
)
# Separators of names in parts (transliterated names: 买买提·艾力); they stay visible as "·".
_DOTS = "·•・‧﹒．"


def _stars(n):
    return "*" * n


def _compound(two):
    i = COMPOUND_SURNAMES.find(two)
    while i >= 0 and i % 2:  # a match across two pairs is not one
        i = COMPOUND_SURNAMES.find(two, i + 1)
    return i >= 0


def name(full):
    full = full.strip()
    n = len(full)
    if n <= 1:
        return "*"
    keep = 1
    if n >= 3 and _compound(full[:2]):
        keep = 2
    if full[0] < "\u0080":
        # Latin-script names (foreign documents): initial of the first word only.
        return full[0] + _stars(min(n - 1, 8))
    if full[0] in _DOTS:
        return _stars(n)
    out = [full[:keep]]
    for c in full[keep:]:
        out.append("·" if c in _DOTS else "*")
    return "".join(out)


def phone(number):
    digits = 0
    for c in number:
        if "0" <= c <= "9":
            digits += 1
    if digits <= 8:
        return _stars(digits if digits else 1)
    # Keep the first digit and the last four; everything between (>= 6 digits when the number
    # has 11) is hidden. Shorter numbers keep fewer so that at least 6 stay hidden.
    keep_tail = min(4, digits - 7)
    out = []
    seen = 0
    for c in number:
        if "0" <= c <= "9":
            seen += 1
            out.append(c if seen == 1 or seen > digits - keep_tail else "*")
    return "".join(out)


def id_number(number):
    n = len(number)
    if n <= 6:
        return _stars(n if n else 1)
    return number[0] + _stars(n - 3) + number[n - 2:]


def waybill(number):
    # A waybill is not identity data, but the screen only needs enough to match the label.
    n = len(number)
    if n <= 4:
        return number
    return _stars(n - 4) + number[n - 4:]
