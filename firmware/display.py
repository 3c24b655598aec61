# The handheld's screen through framebuf: SSD1306 over I2C (128x64 mono, ssd1306.py) or
# ST7789 over SPI (RGB565, st7789.py). Only the board's driver is imported. Text is drawn with
# the font asset (font.py: glyphs read from flash one at a time), one row per cell height.


def open_display(cfg):
    if cfg["driver"] == "st7789":
        import st7789

        return st7789.ST7789(cfg)
    import ssd1306

    return ssd1306.SSD1306(cfg)


def rows(d, font):
    """How many text rows fit on display `d` with `font`."""
    return d.height // font.height


def draw_lines(d, font, lines):
    d.fill(0)
    y = 0
    for line in lines:
        font.draw(d, line, 0, y, d.ink)
        y += font.height
    d.show()
