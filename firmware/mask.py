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

_COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里",
)


def _stars(n):
    return "*" * n


def name(full):
    full = full.strip()
    n = len(full)
    if n <= 1:
        return "*"
    keep = 1
    if n >= 3 and full[:2] in _COMPOUND_SURNAMES:
        keep = 2
    if full[0] < "\u0080":
        # Latin-script names (foreign documents): initial of the first word only.
        return full[0] + _stars(min(n - 1, 8))
    return full[:keep] + _stars(n - keep)


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
