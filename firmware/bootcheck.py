# Boot check (main.py calls it before the app is imported): every file firmware.json names
# must be on the device with its sha256. A deploy cut short (a power cut, a pulled cable)
# leaves a device that says so and refuses to start, never one that runs a mix of old and new
# modules. `sealscan deploy` removes firmware.json before it changes the first file, writes
# main.py first and firmware.json last (host/sealscan/device/deploy.py). This module checks
# itself too: an old copy finds no firmware.json during a deploy and refuses; a missing one is
# an ImportError main.py answers the same way (main.py is written first: a deploy cut short on
# an empty device). Loaded for the check and released after. main.py stays short: the
# simulator's boot holds its source text while the app runs.
#
#   firmware.json = {"version": "...", "files": {name: sha256 hex, ...}}

def check():
    """None if the files match firmware.json; otherwise a short reason for the screen."""
    import hashlib
    import json
    from binascii import hexlify

    try:
        with open("firmware.json") as f:
            files = json.load(f)["files"]
        names = sorted(files)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "NO FIRMWARE.JSON"
    buf = bytearray(512)
    for name in names:
        h = hashlib.sha256()
        try:
            with open(name, "rb") as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    h.update(memoryview(buf)[:n])
        except OSError:
            return "MISSING FILE"
        if hexlify(h.digest()).decode() != files[name]:
            return "FILE CHANGED"
    return None


def refuse(why):
    """The reason on the screen, if the display code can run at all: drawn with the font asset
    (in English), or, when font.bin is missing or unusable (a deploy cut short before it was
    written, an older display.py), with framebuf's built-in 8x8 ASCII font, which needs no
    file. If even the screen cannot be opened, the console's line is all there is."""
    lines = ["FIRMWARE", "INCOMPLETE", why[:16], "", "RUN DEPOT", "DEPLOY"]
    try:
        import json

        import display

        with open("board.json") as f:
            d = display.open_display(json.load(f)["display"])
    except Exception as e:  # noqa: BLE001  (nothing more to try: the console said it)
        print("sealscan: no screen:", type(e).__name__)
        return
    try:
        display.open_font("font.bin", 1)  # English (texts.EN): ASCII is in every strike
        display.draw_lines(d, lines)
        return
    except Exception as e:  # noqa: BLE001
        print("sealscan: no font asset:", type(e).__name__)
    try:
        d.fill(0)
        for i, s in enumerate(lines):
            d.text(s, 0, 10 * i, d.ink)
        d.show()
    except Exception as e:  # noqa: BLE001
        print("sealscan: no screen:", type(e).__name__)
