"""`sealscan sim run`'s courier device: the product firmware on a simulated handheld, deployed
and provisioned (carrier SF, screen language zh) against a reference upstream of its own on
loopback, with the codes a courier scans one key away: a badge, senders' identity QR codes
(several names, one expired, one with a surname outside the font), waybills of this carrier
and of another one, and a settings code that switches the screen language.

The sample names are made up; the view never prints them (the device's screen shows them
masked, as it must). Everything lives under one work directory; close() stops the device and
the upstream, and removes the directory unless the caller keeps it."""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sealscan import codes
from sealscan.boards import Board
from sealsim import endtoend as kit
from sealsim.device import Device

# key -> (what the key help says, identity claims)
IDENTITIES = {
    "1": ("ID: 2-char name", dict(name="张伟", id_number="11010519491231002X")),
    "2": ("ID: compound surname", dict(name="欧阳娜娜", id_number="440524188001010014")),
    "3": ("ID: name with ·", dict(name="买买提·艾力", id_number="11010519491231002X")),
    "4": ("ID: expired", dict(name="王芳", id_number="440524188001010014", expired=True)),
    "5": ("ID: rare surname", dict(name="訾晓燕", id_number="11010519491231002X")),
}
HELP = ("l badge  1-3 sender ID  4 expired ID  5 rare surname  y waybill  x YTO's",
        "c settings (zh/en)  o OK  b BACK  w Wi-Fi  p power  s PNG  g junk  q quit")


@dataclass
class CourierDevice:
    dev: Device
    upstream: kit.Upstream
    keys: kit.Keys
    work: Path
    keep: bool
    serial: int = 0
    lang: str = "zh"

    @classmethod
    def start(cls, board: Board, work: Path, keep: bool = False) -> CourierDevice:
        work.mkdir(parents=True, exist_ok=True)
        up = kit.Upstream(work / "upstream").start()
        try:
            fw = kit.build_firmware(work / "firmware")
            keys = kit.provision(work / "device", board, fw, up, device_id="sim-courier")
            dev = kit.device(board, work / "device")
        except BaseException:
            up.stop()
            raise
        return cls(dev, up, keys, work, keep)

    def code(self, key: str) -> tuple[str, str] | None:
        """(what was scanned, the code) for a key of HELP; None for other keys."""
        if key == "l":
            return "the courier's badge", self.keys.badge()
        if key in IDENTITIES:
            label, claims = IDENTITIES[key]
            now = int(time.time())
            expired = bool(claims.get("expired"))
            token = codes.make_identity_token(
                self.upstream.issuer, id_type=11, id_number=str(claims["id_number"]),
                name=str(claims["name"]), phone="13800000000", issued_at=now - 86400,
                expires_at=now - 60 if expired else now + 86400)
            return f"a sender's {label[4:]}", token
        if key == "y":
            return f"an {kit.CARRIER} waybill", f"SF{random.randrange(10 ** 13):013d}"
        if key == "x":
            return "a YTO waybill (another carrier)", f"YT{random.randrange(10 ** 13):013d}"
        if key == "c":
            self.serial += 1
            self.lang = "en" if self.lang == "zh" else "zh"
            code = codes.make_config(self.keys.config_key, ssid="depot", password="depot-secret",
                                     upstream_url=self.upstream.url,
                                     expires_at=int(time.time()) + 600, serial=self.serial,
                                     lang=self.lang)
            return f"a settings code (screen language {self.lang})", code
        return None

    def close(self) -> None:
        try:
            self.dev.close()
        finally:
            self.upstream.stop()
            if not self.keep:
                shutil.rmtree(self.work, ignore_errors=True)
