# What the screen shows: rows of text in the device's language, drawn with the font asset
# (display.py). Identity text is already masked (flow.py keeps nothing else); here long runs of
# '*' are shortened (still hidden, never revealed) and the words come from texts.py by id.
#
#   small screen (SSD1306, 5 rows)        large screen (ST7789)
#   status bar                            status bar, courier, then sender, ID, waybill,
#   sender (+ verdict) / not logged in    the last capture's state, the message and the
#   ID number (or waybill)                alarm, each on its own rows
#   message: what happened
#   message: what to do  (the alarm instead while it is up)
import display
import flow
import mask
import texts as T
from micropython import const

_STARS = const(6)
_SMALL = const(5)


def fit(text):
    """`text` with runs of '*' longer than _STARS shortened."""
    out = []
    stars = 0
    for c in text:
        stars = stars + 1 if c == "*" else 0
        if stars <= _STARS:
            out.append(c)
    return "".join(out)


def words(tid, f):
    """Text `tid` with the flow's carrier filled in (%s), as its rows."""
    return display.text(tid).replace("%s", f.carrier).split("\n")


def lines(f, wifi, queued, last, alarm, rows):
    """Screen rows for Flow `f` (words from display's font); `last` is (masked name, masked
    id, masked waybill, text id of its state) of the latest capture or None; `alarm` a text id
    or None; `rows` how many rows the screen has (display.rows)."""
    bar = display.text(T.ONLINE if wifi else T.OFFLINE).replace("%d", str(queued))
    if f.state == flow.LOGGED_OUT:
        who = display.text(T.NOT_LOGGED_IN)
    else:
        who = display.text(T.COURIER).replace("%s", fit(f.courier))
    ident = []
    status = None
    i = f.identity
    if i is not None or f.waybill is not None:
        if i is not None:
            ident.append(display.text(T.SENDER).replace("%s", fit(i.name_masked)))
            ident.append(display.text(T.ID_NUMBER).replace("%s", fit(i.id_masked)))
        if f.waybill is not None:
            ident.append(display.text(T.WAYBILL).replace("%s", fit(mask.waybill(f.waybill))))
    elif last is not None:
        status = display.text(last[3])
        ident.append(display.text(T.SENDER).replace("%s", fit(last[0])))
        ident.append(display.text(T.ID_NUMBER).replace("%s", fit(last[1])))
        ident.append(display.text(T.WAYBILL).replace("%s", fit(last[2])))
    msg = words(f.message, f)
    if rows <= _SMALL:
        if status is not None:
            ident[0] = fit(last[0]) + "  " + status
        ident = ident[:2]
        while len(ident) < 2:
            ident.append("")
        if alarm is not None:
            msg = words(alarm, f)
        if f.state == flow.LOGGED_OUT:
            ident[0] = who
        return [bar] + ident + (msg + [""])[:2]
    out = [bar, who, ""] + ident
    if status is not None:
        out.append(status)
    while len(out) < 8:
        out.append("")
    out.extend(msg)
    if alarm is not None:
        out.append("")
        out.extend(words(alarm, f))
    return out[:rows]
