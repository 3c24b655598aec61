"""The display models keep the datasheets' start-up rules (issue 10): an ST7789 shows a frame
only after a reset pulse, 120 ms after SWRESET and after SLPOUT, with its backlight on; a
command sent early is lost and the panel stays dark. An SSD1306 needs its charge pump."""

from sealscan.boards import load_board
from sealsim.display import SSD1306, ST7789, make_panel

WIRING = dict(load_board("esp32s3-devkitc-st7789").display)
RED = b"\xf8\x00"  # RGB565 big-endian


def show(panel: ST7789, t: float) -> None:
    w, h = panel.width - 1, panel.height - 1
    for op, args in ((0x2A, bytes((0, 0, w >> 8, w & 255))),
                     (0x2B, bytes((0, 0, h >> 8, h & 255)))):
        panel.spi_write(bytes((op,)), 0, t)
        panel.spi_write(args, 1, t)
    panel.spi_write(b"\x2c", 0, t)
    panel.spi_write(RED * (panel.width * panel.height), 1, t)


def init(panel: ST7789, *, reset_pin=True, settle=0.150, after_swreset=None,
         backlight=True) -> float:
    """The firmware's start-up with knobs for each rule; returns the device time at the end."""
    t = 0.0
    if reset_pin:
        panel.pin("rst", 0, t)
        t += 0.001
        panel.pin("rst", 1, t)
        t += settle
    for op in (0x01, 0x11):
        panel.spi_write(bytes((op,)), 0, t)
        t += settle if op != 0x01 or after_swreset is None else after_swreset
    panel.spi_write(b"\x3a", 0, t)
    panel.spi_write(b"\x55", 1, t)
    panel.spi_write(b"\x21", 0, t)
    panel.spi_write(b"\x29", 0, t)
    if backlight:
        panel.pin("backlight", 1, t)
    return t


def red_pixels(panel) -> int:
    colors = panel.image().convert("RGB").getcolors(maxcolors=1 << 20)
    return dict((c, n) for n, c in colors).get((255, 0, 0), 0)


def test_st7789_with_the_datasheet_timing_shows_the_first_frame():
    panel = make_panel(WIRING)
    assert isinstance(panel, ST7789)
    show(panel, init(panel))
    assert panel.lit and not panel.rejected
    assert red_pixels(panel) == 240 * 320


def test_st7789_init_without_delays_leaves_the_panel_dark():
    panel = make_panel(WIRING)
    show(panel, init(panel, settle=0.0))  # the driver before issue 10: no waits
    assert not panel.lit
    assert red_pixels(panel) == 0
    assert any("too early after hardware reset" in r for r in panel.rejected)


def test_st7789_slpout_50_ms_after_swreset_is_lost():
    panel = make_panel(WIRING)
    show(panel, init(panel, after_swreset=0.050))
    assert not panel.lit and red_pixels(panel) == 0
    assert any("0x11" in r and "too early after SWRESET" in r for r in panel.rejected)


def test_st7789_a_command_100_ms_after_slpout_is_lost():
    panel = make_panel(WIRING)
    show(panel, init(panel, settle=0.100))
    assert not panel.lit and red_pixels(panel) == 0


def test_st7789_reset_pin_never_driven_holds_the_controller_in_reset():
    panel = make_panel(WIRING)
    show(panel, init(panel, reset_pin=False))
    assert panel.in_reset and not panel.lit and red_pixels(panel) == 0
    assert any("held in reset" in r for r in panel.rejected)


def test_st7789_without_its_backlight_shows_nothing():
    panel = make_panel(WIRING)
    show(panel, init(panel, backlight=False))
    assert red_pixels(panel) == 0
    panel.pin("backlight", 1, 10.0)
    assert red_pixels(panel) == 240 * 320  # the picture was there, unlit
    panel.pwm("backlight", 0)
    assert red_pixels(panel) == 0


def test_st7789_a_board_without_reset_or_backlight_pins_needs_only_the_delays():
    panel = ST7789(240, 320, {})
    show(panel, init(panel, reset_pin=False, backlight=False))
    assert panel.lit and red_pixels(panel) == 240 * 320


def test_ssd1306_without_the_charge_pump_stays_dark():
    panel = SSD1306(128, 64)
    panel.i2c_write(b"\x00\xae\x20\x00\xaf")  # on, but no 0x8D 0x14
    panel.i2c_write(b"\x40" + b"\xff" * 1024)
    assert not any(any(row) for row in panel.mono())
    assert panel.rejected
    panel.i2c_write(b"\x00\x8d\x14\xaf")
    panel.i2c_write(b"\x40" + b"\xff" * 1024)
    assert all(all(row) for row in panel.mono())
