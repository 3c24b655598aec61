# Every screen text (texts.py ids, the words read from the font asset) in both languages,
# drawn with display.py on both displays at its widest fill: nothing may run past the screen's
# edge, and a message is at most two rows (what happened, what to do).
import framebuf

_DISPLAYS = ((12, 128), (16, 240))  # (font asset, screen width): SSD1306, ST7789
_NAMES = ("欧阳***", "J******", "买**·**")  # masked names as view.fit leaves them (widest)
_FILL = {"%d": "999", "%s": "DEPPON"}  # the longest carrier code, a three-digit queue


def _font(size, lang):
    import display

    display.open_font("../../firmware/assets/font%d.bin" % size, lang)
    return display


def _fill(text, tid):
    import texts

    if tid == texts.COURIER:
        return text.replace("%s", "courier-1234567")
    if tid == texts.SENDER:
        return [text.replace("%s", n) for n in _NAMES]
    if tid == texts.ID_NUMBER:
        return text.replace("%s", "1******2X")
    if tid == texts.WAYBILL:
        return text.replace("%s", "******0123")
    for k, v in _FILL.items():
        text = text.replace(k, v)
    return text


def _width_ok(t, line, width):
    # draw on a wider buffer so that overflow is measured, not clipped away
    height = 18
    buf = bytearray((width + 64) * height // 8 + 8)
    fb = framebuf.FrameBuffer(buf, width + 64, height, framebuf.MONO_HLSB)
    x = t.draw(fb, line, 0, 0, None)
    for y in range(height):
        for px in range(width, width + 64):
            assert not fb.pixel(px, y), (line, "drawn past", width)
    return x <= width or (line, x, width)


def test_every_text_in_both_languages_fits_both_displays():
    import texts

    for size, width in _DISPLAYS:
        for lang in range(len(texts.LANGS)):
            t = _font(size, lang)
            for tid in range(texts.COUNT):
                text = t.text(tid)
                assert text, (size, lang, tid)
                filled = _fill(text, tid)
                for one in filled if isinstance(filled, list) else [filled]:
                    rows = one.split("\n")
                    assert len(rows) <= 2, (lang, tid, one)
                    for row in rows:
                        assert _width_ok(t, row, width) is True, (lang, tid, row)


def test_the_small_screen_row_of_a_capture_and_its_state_fits():
    import texts

    states = (texts.REC_SENDING, texts.REC_ACCEPTED, texts.REC_REJECTED, texts.REC_ID_EXPIRED,
              texts.REC_ID_NOT_VERIFIED)
    for lang in range(len(texts.LANGS)):
        t = _font(12, lang)
        for name in _NAMES:
            for tid in states:
                row = name + "  " + t.text(tid)
                assert _width_ok(t, row, 128) is True, (lang, row)


def test_both_languages_differ_and_chinese_is_chinese():
    import texts

    zh = _font(12, 0)
    for tid in range(texts.COUNT):
        words = zh.text(tid)
        assert words != zh.text(tid, texts.EN), tid
        assert any(ord(c) > 0x2E80 for c in words), (tid, words)


def test_a_missing_or_damaged_font_asset_is_a_clear_refusal_to_start():
    import bootload
    import config
    from mpytest import raises

    with raises(config.ConfigError) as e:  # this directory has no font.bin
        bootload.font("zh")
    assert "font.bin missing or damaged: run sealscan deploy" in e.value.args[0]
    with open("/tmp/sealscan-not-a-font.bin", "wb") as f:
        f.write(b"NOT A FONT" * 4)
    import display

    with raises(ValueError):
        display.open_font("/tmp/sealscan-not-a-font.bin", 0)
