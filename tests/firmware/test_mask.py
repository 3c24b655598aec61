# Masking (GB/T 41833-2022) as the courier's screen shows it. Property tests: whatever comes
# in, the output never reveals more than the rules allow.
import mask as rules


class mask:  # the rules take UTF-8 bytes (the device masks from its decode buffer)
    @staticmethod
    def name(s):
        return rules.name(s.encode())

    @staticmethod
    def phone(s):
        return rules.phone(s.encode())

    @staticmethod
    def id_number(s):
        return rules.id_number(s.encode())

    waybill = rules.waybill
    COMPOUND_SURNAMES = rules.COMPOUND_SURNAMES


def _hidden(masked):
    return masked.count("*")


def test_name_examples():
    assert mask.name("张三") == "张*"
    assert mask.name("张小明") == "张**"
    assert mask.name("欧阳娜娜") == "欧阳**"
    assert mask.name("诸葛亮") == "诸葛*"
    assert mask.name("李") == "*"
    assert mask.name("") == "*"
    assert mask.name("John Smith") == "J********"


def test_name_always_hides_at_least_one_character():
    for full in ("王", "王五", "欧阳", "欧阳锋", "Ann", "Li Wei", " 赵四 ", "A" * 40):
        masked = mask.name(full)
        assert _hidden(masked) >= 1, (full, masked)
        assert masked != full.strip()
        # only the first one or two characters of the name can survive
        visible = masked.replace("*", "")
        assert len(visible) <= 2 and full.strip().startswith(visible), (full, masked)


def test_phone_examples():
    assert mask.phone("13812345678") == "1******5678"
    assert mask.phone("+86 138 1234 5678").count("*") >= 6


def test_phone_hides_at_least_six_digits():
    for number in ("13812345678", "010-87654321", "87654321", "1234567", "12", "",
                   "+8613812345678", "0085291234567"):
        masked = mask.phone(number)
        digits = sum(1 for c in number if "0" <= c <= "9")
        assert _hidden(masked) >= min(6, digits), (number, masked)
        shown = sum(1 for c in masked if "0" <= c <= "9")
        assert shown <= 5, (number, masked)


def test_id_number_keeps_first_one_and_last_two():
    assert mask.id_number("11010519491231002X") == "1" + "*" * 15 + "2X"
    assert mask.id_number("E12345678") == "E******78"
    assert mask.id_number("12345") == "*****"
    for n in ("440524188001010014", "810000199408230021", "G12345678"):
        masked = mask.id_number(n)
        assert len(masked.replace("*", "")) == 3 and len(masked) == len(n)


def test_waybill_tail_only():
    assert mask.waybill("SF1234567890123") == "*" * 11 + "0123"


def test_compound_surnames_keep_two_and_names_in_parts_keep_their_dots():
    assert mask.name("司马相如") == "司马**" and mask.name("慕容复") == "慕容*"
    assert mask.name("阳司明") == "阳**"  # "阳司" straddles 欧阳|司马: not a surname
    assert mask.name("买买提·艾力") == "买**·**"
    assert mask.name("·艾力") == "***"
    for i in range(0, len(mask.COMPOUND_SURNAMES), 2):
        pair = mask.COMPOUND_SURNAMES[i:i + 2]
        assert mask.name(pair + "某某") == pair + "**", pair
