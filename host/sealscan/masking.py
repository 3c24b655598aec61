"""What a person may see of an identity on the host: exactly the device's rules.

The policy (GB/T 41833-2022: a name hides >= 1 character, a phone >= 6 digits, an id number
shows its first 1 and last 2 characters) is written once, in `firmware/mask.py`; the host runs
that same file, so host output and the scanner's screen cannot disagree.
"""

from sealscan import fwshared

_rules = fwshared.load("mask")

waybill = _rules.waybill


# The device's rules take UTF-8 bytes (it masks from its decode buffer): the host's values are
# strs.
def name(full: str) -> str:
    return _rules.name(full.encode())


def phone(number: str) -> str:
    return _rules.phone(number.encode())


def id_number(number: str) -> str:
    return _rules.id_number(number.encode())
