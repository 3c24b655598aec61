import waybill as wb

VALID = {
    "SF": ["SF1234567890123", "SFA123456789012", "123456789012"],
    "YTO": ["YT1234567890123"],
    "ZTO": ["73123456789012", "78123456789012"],
    "STO": ["77123456789012", "4312345678901234"],
    "YUNDA": ["312345678901234", "5123456789012"],
    "EMS": ["1123456789012", "EA123456785CN", "EB000717595HK"],
    "JD": ["JDAB12345678901", "JD0112345678901"],
    "JT": ["JT1234567890123"],
    "DEPPON": ["DPK123456789012"],
}


def test_valid_numbers_for_their_carrier():
    for carrier, numbers in VALID.items():
        for n in numbers:
            assert wb.check(carrier, n) == wb.OK, (carrier, n)


def _accepting(n):
    return [c for c in wb.CARRIERS if wb.check(c, n) == wb.OK]


def test_each_number_fits_only_its_carrier():
    for carrier, numbers in VALID.items():
        for n in numbers:
            assert _accepting(n) == [carrier], (n, _accepting(n))


def test_overlapping_number_is_judged_by_provisioned_carrier():
    # 15 digits starting 43 fits both STO and Yunda: valid on either device, and the
    # record carries the provisioned carrier, never a guess.
    assert _accepting("431234567890123") == ["STO", "YUNDA"]
    assert wb.check("ZTO", "431234567890123") == wb.OTHER_CARRIER  # the courier is told so
    assert wb.check("SF", "EA123456785CN") == wb.OTHER_CARRIER  # UPU S10: EMS only
    assert wb.check("ZTO", "12345678") == wb.BAD_FORMAT


def test_check_digits():
    assert wb.check("EMS", "EA123456784CN") == wb.BAD_CHECK_DIGIT
    assert wb.check("JD", "106141411928374657") == wb.OK  # SSCC-18
    assert wb.check("JD", "106141411928374658") == wb.BAD_CHECK_DIGIT


def test_bad_input():
    assert wb.check("SF", "") == wb.BAD_FORMAT
    assert wb.check("SF", "sf1234567890123") == wb.BAD_CHARS
    assert wb.check("SF", "SF12345\r67890123") == wb.BAD_CHARS
    assert wb.check("SF", "SF123456789012\u4e2d") == wb.BAD_CHARS
    assert wb.check("SF", "9" * 200) == wb.BAD_FORMAT
    assert wb.check("UPS", "1Z9999999999999999") == wb.UNKNOWN_CARRIER
