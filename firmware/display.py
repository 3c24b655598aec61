# The handheld's screen through framebuf: SSD1306 over I2C (128x64 mono, 16x8 characters of
# the built-in 8x8 font, ssd1306.py) or ST7789 over SPI (RGB565, st7789.py). Only the board's
# driver is imported. The font is ASCII only: callers pass ASCII (view.py replaces anything
# else).


def open_display(cfg):
    if cfg["driver"] == "st7789":
        import st7789

        return st7789.ST7789(cfg)
    import ssd1306

    return ssd1306.SSD1306(cfg)


def draw_lines(d, lines):
    d.fill(0)
    for i, line in enumerate(lines):
        d.text(line, 0, 8 * i, d.ink)
    d.show()
