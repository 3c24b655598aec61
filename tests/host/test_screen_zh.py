"""The courier's screen in Chinese, drawn by the real firmware (view.py, display.py
under MicroPython) on both displays and read back from its pixels.

For a corpus of names (single and compound surnames, two- to four-character given names,
names in parts with ·, characters the font asset lacks) the screen shows exactly the masking
policy's visible characters (firmware/mask.py) and never a hidden one; every visible glyph is
compared pixel by pixel with the source font (or, without the font package, the committed
asset), and a character without a glyph is the one placeholder, the same for every such
character. Each screen is kept as a PNG and as text (what a person sees, what tests read)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from sealscan import fonttool, masking
from sealscan.fonttool import PLACEHOLDER, STRIKES, Asset, words
from sealscan.paths import FIRMWARE_DIR
from sealsim import micropython as mp

# (full name, what the policy leaves visible in front of the stars)
CORPUS = [
    ("张伟", "张"), ("王小明", "王"), ("李", ""), ("赵四海", "赵"),
    ("欧阳娜娜", "欧阳"), ("司马相如", "司马"), ("诸葛亮", "诸葛"), ("上官婉儿", "上官"),
    ("东方明月亮", "东方"), ("慕容复", "慕容"),
    ("买买提·艾力", "买"), ("阿依古丽·买买提", "阿"),
    ("訾晓燕", "訾"),  # a real surname outside the asset: the placeholder
    ("\U00020bb7伟", "\U00020bb7"),  # outside the BMP: the placeholder
    ("JOHN SMITH", "J"),
]
DISPLAYS = {"ssd1306": (128, 64, 12), "st7789": (240, 320, 16)}
SENDER_ROW = {"ssd1306": 1, "st7789": 3}  # view.py's layouts

_RENDER = r"""
import sys, json, framebuf
import display, flow, idtoken, mask, view

class Panel(framebuf.FrameBuffer):
    # framebuf like ssd1306.SSD1306 / st7789.ST7789, without the bus
    def __init__(self, w, h, mono):
        self.width, self.height = w, h
        self.ink = 1 if mono else 0xFFFF
        self.buf = bytearray(w * h // 8 if mono else w * h * 2)
        super().__init__(self.buf, w, h, framebuf.MONO_VLSB if mono else framebuf.RGB565)
        self.pal = None
        if not mono:
            self.pal = framebuf.FrameBuffer(bytearray(4), 2, 1, framebuf.RGB565)
            self.pal.pixel(1, 0, self.ink)
    def show(self):
        pass

job = json.loads(JOB)
display.open_font(job["font"], 0)
d = Panel(job["w"], job["h"], job["mono"])
f = flow.Flow(b"", b"", "SF")
f.state = flow.READY
f.courier = "courier-7"
for name in job["names"]:
    f.identity = idtoken.Identity(11, mask.id_number(b"11010519491231002X"),
                                  mask.name(name.encode()), mask.phone(b"13912345678"), 0)
    display.draw_lines(d, view.lines(f, True, 0, None, None, display.rows(d)))
    print(bytes(d.buf).hex())
"""


def _render(display: str, names: list[str]) -> list[list[list[bool]]]:
    w, h, size = DISPLAYS[display]
    job = {"font": str(STRIKES[size].asset), "w": w, "h": h, "mono": display == "ssd1306",
           "names": names}
    code = "JOB = " + repr(json.dumps(job, ensure_ascii=False)) + "\n" + _RENDER
    proc = mp.run(["-c", code], heap_bytes=(110 if job["mono"] else 1024) * 1024,
                  path=mp.module_path(FIRMWARE_DIR), timeout=60)
    assert proc.returncode == 0, proc.stderr.decode() + proc.stdout.decode()
    screens = []
    for line in proc.stdout.decode().split():
        buf = bytes.fromhex(line)
        if display == "ssd1306":
            rows = [[bool(buf[(y // 8) * w + x] >> (y % 8) & 1) for x in range(w)]
                    for y in range(h)]
        else:
            rows = [[buf[2 * (y * w + x)] | buf[2 * (y * w + x) + 1] != 0 for x in range(w)]
                    for y in range(h)]
        screens.append(rows)
    return screens


def _image(rows: list[list[bool]]) -> Image.Image:
    img = Image.new("1", (len(rows[0]), len(rows)))
    img.putdata([1 if on else 0 for row in rows for on in row])
    return img


def _source_glyph(size: int, ch: str) -> tuple[int, list[int]]:
    """The glyph as the source font draws it (the installed font package), else the asset's."""
    strike = STRIKES[size]
    asset = Asset.load(size)
    if not asset.has(ch):
        ch = PLACEHOLDER
    if strike.path.exists():
        return fonttool.render(strike, ch)
    return asset.glyph(ch)


def _crop(rows: list[list[bool]], x: int, y: int, adv: int, height: int) -> list[int]:
    return [sum(1 << (15 - i) for i in range(adv) if rows[y + r][x + i]) for r in range(height)]


@pytest.mark.parametrize("display", sorted(DISPLAYS))
def test_masked_names_show_exactly_the_policys_visible_characters(display, tmp_path):
    w, h, size = DISPLAYS[display]
    asset = Asset.load(size)
    names = [name for name, _ in CORPUS]
    screens = _render(display, names + [_twin(name, visible) for name, visible in CORPUS])
    placeholders = []
    for i, ((name, visible), rows) in enumerate(zip(CORPUS, screens, strict=False)):
        masked = masking.name(name)
        assert masked.replace("*", "").replace("·", "") == visible, (name, masked)
        # nothing of the hidden part: another name with the same visible part and length
        # draws the very same pixels
        assert rows == screens[len(CORPUS) + i], name
        text = asset.read_lines(rows)
        img = _image(rows)
        img.save(tmp_path / f"{display}-{i}.png")
        (tmp_path / f"{display}-{i}.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
        assert Image.open(tmp_path / f"{display}-{i}.png").convert("1").tobytes() == \
            img.tobytes()
        shown = "".join(c if asset.has(c) or c == "*" else PLACEHOLDER for c in view_fit(masked))
        row = SENDER_ROW[display]
        assert text[row] == words("SENDER").replace("%s", shown), (name, text)
        # the visible glyphs, pixel for pixel, where the firmware drew them
        x = asset.width(words("SENDER").split("%s")[0])
        y = asset.height * row
        for c in shown:
            adv, want = _source_glyph(size, c)
            assert adv == asset.glyph(c)[0]
            assert _crop(rows, x, y, adv, asset.height) == \
                [r & (0xFFFF << (16 - adv) & 0xFFFF) for r in want], (name, c)
            if c == PLACEHOLDER:
                placeholders.append(_crop(rows, x, y, adv, asset.height))
            x += adv
    # two different missing characters look the same: no hint of which one it was
    assert len(placeholders) == 2 and placeholders[0] == placeholders[1]


def _twin(name: str, visible: str) -> str:
    """Another name with the same visible part, length and dots."""
    return visible + "".join(c if c == "·" else ("Q" if name.isascii() else "某")
                             for c in name[len(visible):])


def view_fit(masked: str) -> str:
    """view.fit: runs of more than six '*' shortened."""
    out, stars = [], 0
    for c in masked:
        stars = stars + 1 if c == "*" else 0
        if stars <= 6:
            out.append(c)
    return "".join(out)


def test_the_host_prints_names_with_the_device_policy():
    for name, visible in CORPUS:
        masked = masking.name(name)
        assert masked.startswith(visible) and set(masked[len(visible):]) <= {"*", "·"}
        assert masked.count("*") >= 1
