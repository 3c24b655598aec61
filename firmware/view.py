# What the screen shows (8 lines of 16 characters on the 128x64 SSD1306). Identity text is
# already masked (flow.py keeps nothing else); this module only fits it to the font: the
# built-in 8x8 font is ASCII, so other characters become '?', and long runs of '*' are
# shortened (still hidden, never revealed).
from micropython import const

import flow
import mask

_COLS = const(16)


def ascii_fit(text, cols=_COLS):
    out = []
    stars = 0
    for c in text:
        if c == "*":
            stars += 1
            if stars > 6:
                continue
        else:
            stars = 0
        out.append(c if " " <= c <= "~" else "?")
    s = "".join(out)
    if len(s) > cols:
        s = s[:cols]
    return s


def lines(f, wifi, queued, last, alarm):
    """Screen lines for Flow `f`; `last` is (masked name, masked id, masked waybill, status)
    of the latest capture or None; `alarm` a short text or None."""
    head = "SEALSCAN " + ("W+" if wifi else "W-") + " Q%d" % queued
    out = [ascii_fit(head)]
    if f.state == flow.LOGGED_OUT:
        out.append("LOGGED OUT")
    else:
        out.append(ascii_fit("C " + f.courier))
    if f.identity is not None or f.waybill is not None:
        i = f.identity
        out.append(ascii_fit("ID " + (i.name_masked if i else "-")))
        out.append(ascii_fit(i.id_masked if i else "-"))
        out.append(ascii_fit("WB " + (mask.waybill(f.waybill) if f.waybill else "-")))
        out.append("")
    elif last is not None:
        out.append(ascii_fit("ID " + last[0]))
        out.append(ascii_fit(last[1]))
        out.append(ascii_fit("WB " + last[2]))
        out.append(ascii_fit(last[3]))
    else:
        out.extend(("", "", "", ""))
    out.append(ascii_fit(alarm) if alarm else "")
    out.append(ascii_fit(f.message))
    return out
