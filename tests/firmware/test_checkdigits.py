import checkdigits as cd


def test_resident_id_valid():
    assert cd.resident_id("11010519491231002X")
    assert cd.resident_id("11010519491231002x")
    assert cd.resident_id("440524188001010014")


def test_resident_id_invalid():
    assert not cd.resident_id("110105194912310021")  # wrong check char
    assert not cd.resident_id("11010519491231002")  # too short
    assert not cd.resident_id("1101051949123100XX")
    assert not cd.resident_id("")
    assert not cd.resident_id("\u4e2d" * 18)


def test_every_single_digit_error_detected():
    good = "440524188001010014"
    for pos in range(17):
        for d in "0123456789":
            if d != good[pos]:
                assert not cd.resident_id(good[:pos] + d + good[pos + 1:]), (pos, d)


def test_upu_s10():
    assert cd.upu_s10("EA123456785CN")
    assert cd.upu_s10("EB000717595HK")
    assert not cd.upu_s10("EA123456784CN")
    assert not cd.upu_s10("ea123456785cn")
    assert not cd.upu_s10("EA12345678CN")


def test_sscc18():
    assert cd.sscc18("106141411928374657")
    assert not cd.sscc18("106141411928374658")
    assert not cd.sscc18("10614141192837465A")
