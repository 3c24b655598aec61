"""Writes data/app_codes.json: scanned codes for the firmware application's tests
(tests/firmware/test_app_*.py), made with the host's sealscan.codes from fixed keys and a
TEST issuer with a fixed seed, so the file is deterministic:

    .venv/bin/python tests/firmware/make_app_codes.py

Identity data in here is canary data (it must never appear on a screen or console)."""

import json
from pathlib import Path

from sealscan import codes

NOW = 1_800_000_000
LATER = NOW + 86_400
BADGE_KEY = bytes(range(32))
CONFIG_KEY = bytes(range(32, 64))
OTHER_KEY = bytes(32)
ISSUER = codes.new_test_issuer(seed=bytes(range(100, 132)))


def identity(**kw: object) -> str:
    args = dict(id_type=11, id_number="11010519491231002X", name="欧阳金丝雀",
                phone="13912345678", issued_at=NOW - 60, expires_at=LATER)
    args.update(kw)
    return codes.make_identity_token(ISSUER, **args)  # type: ignore[arg-type]


def main() -> None:
    badge = dict(courier_id="courier-7", display_name="Li", carrier="SF", expires_at=LATER)
    cfg = dict(ssid="depot-2", password="new-secret-pass", upstream_url="https://10.0.0.5:8443",
               expires_at=LATER, serial=5)
    data = {
        "now": NOW,
        "badge_key": BADGE_KEY.hex(),
        "config_key": CONFIG_KEY.hex(),
        "badge": codes.make_badge(BADGE_KEY, **badge),  # type: ignore[arg-type]
        "badge_yto": codes.make_badge(BADGE_KEY, **{**badge, "carrier": "YTO"}),  # type: ignore[arg-type]
        "badge_expired": codes.make_badge(BADGE_KEY, **{**badge, "expires_at": NOW - 1}),  # type: ignore[arg-type]
        "badge_other_key": codes.make_badge(OTHER_KEY, **badge),  # type: ignore[arg-type]
        "id": identity(),
        "id_passport": identity(id_type=18, id_number="E99887766", name="CANARYBIRDSON",
                                phone="85298765432"),
        "id_expired": identity(expires_at=NOW - 1),
        "id_bad_check": identity(id_number="110105194912310021", allow_invalid_id=True),
        "config": codes.make_config(CONFIG_KEY, **cfg),  # type: ignore[arg-type]
        "config_other_key": codes.make_config(OTHER_KEY, **cfg),  # type: ignore[arg-type]
        "config_http": codes.make_config(CONFIG_KEY, **{**cfg, "upstream_url": "http://x:80"}),  # type: ignore[arg-type]
        "config_en": codes.make_config(CONFIG_KEY, **{**cfg, "serial": 6, "lang": "en"}),  # type: ignore[arg-type]
        "id_dot": identity(name="买买提·艾力"),
    }
    out = Path(__file__).parent / "data" / "app_codes.json"
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
