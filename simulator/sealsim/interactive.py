"""`sealscan sim run`: one simulated device in the terminal.

A courier's device (sealsim.courier: the product firmware, provisioned, its own upstream) is
shown in 80x24: the text on its screen in a box (read back from the pixels, so what a person
would see), the board's status (Wi-Fi, power, LED, buzzer), the keys, what the last key did
and the console's last lines. With --pixels the screen is drawn with half-block characters
(one character = 1x2 pixels, 130 columns and more). The simulator's test app (--firmware)
keeps its own keys: 1-4 scan a sample code. Always: g garbage bytes on the scan engine line,
o / b press OK / BACK, w Wi-Fi on/off, p power cut / power on, s save the screen as PNG, q quit.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from pathlib import Path

from sealsim.courier import HELP, CourierDevice
from sealsim.device import Device
from sealsim.display import terminal_lines
from sealsim.scenario import SAMPLE_CODES
from sealsim.screen import term_pad, term_width

COLS, ROWS = 80, 24

KEYS_HELP = ("keys: 1-4 scan sample code  g garbage  o OK  b BACK  w Wi-Fi  p power  "
             "s save PNG  q quit")


def _status(dev: Device) -> str:
    led = buzzer = "off"
    for _, ev in dev.events:
        if ev.startswith("led "):
            led = ev[4:]
        elif ev.startswith("buzzer"):
            buzzer = "off" if ev == "buzzer off" else "on"
    return (f"wifi: {'on' if dev.wifi else 'off'}   power: {'on' if dev.running else 'off'}"
            f"   led: {led}   buzzer: {buzzer}   frames: {dev.panel.frame_count}")


def render(dev: Device, note: str = "", courier: CourierDevice | None = None,
           pixels: bool = False) -> str:
    if pixels:
        return _render_pixels(dev, note)
    try:
        text = dev.screen_text()
    except Exception as e:  # never let the reader take the view down
        text = [f"({e})"]
    while text and not text[-1]:
        text.pop()
    if len(text) > 10:  # a tall screen: its blank rows go, so that 80x24 holds it
        text = [ln for ln in text if ln]
    width = max([22] + [term_width(ln) for ln in text])
    out = [f"sealscan sim  {dev.board.name}  console {dev.port}",
           "+" + "-" * width + "+"]
    out += ["|" + term_pad(ln, width) + "|" for ln in text]
    out.append("+" + "-" * width + "+")
    out.append(_status(dev))
    out += ["keys: " + ln for ln in (HELP if courier else (KEYS_HELP[6:],))]
    out.append(note)
    console = bytes(dev.output[-2000:]).decode("utf-8", "replace").replace("\r", "")
    room = ROWS - len(out) - 1
    out += ["  " + ln for ln in console.split("\n")[-room:]] if room > 0 else []
    return "\x1b[H\x1b[2J" + "\r\n".join(_fit(ln) for ln in out[:ROWS]) + "\r\n"


def _fit(line: str) -> str:
    while term_width(line) > COLS:
        line = line[:-1]
    return line


def _render_pixels(dev: Device, note: str) -> str:
    panel = dev.panel
    lines = terminal_lines(panel)
    step = max(1, -(-panel.width // 128))
    lines = [ln[::step] for ln in lines[::step]]
    width = len(lines[0]) if lines else 0
    out = [f"sealscan sim  {dev.board.name}  console {dev.port}", "+" + "-" * width + "+"]
    out += ["|" + ln + "|" for ln in lines]
    out.append("+" + "-" * width + "+")
    try:
        text = " | ".join(dev.screen_text())
    except Exception as e:  # never let the reader take the view down
        text = f"({e})"
    out.append("screen text: " + text)
    out.append(_status(dev))
    out.append(KEYS_HELP)
    console = bytes(dev.output[-2000:]).decode("utf-8", "replace").replace("\r", "")
    out.append("console:")
    out += ["  " + ln for ln in console.split("\n")[-6:]]
    if note:
        out.append(note)
    return "\x1b[H\x1b[2J" + "\r\n".join(out) + "\r\n"


def handle_key(dev: Device, key: str, png_dir: Path,
               courier: CourierDevice | None = None) -> str:
    if courier is not None:
        scanned = courier.code(key)
        if scanned is not None:
            dev.scan(scanned[1])
            return "scanned " + scanned[0]
    elif key in SAMPLE_CODES:
        dev.scan(SAMPLE_CODES[key])
        return f"scanned {SAMPLE_CODES[key]}"
    if key == "g":
        dev.scan_raw(os.urandom(24))
        return "sent 24 random bytes on the scan engine line"
    if key in ("o", "b"):
        dev.press("ok" if key == "o" else "back")
        return f"pressed {'OK' if key == 'o' else 'BACK'}"
    if key == "w":
        dev.set_wifi(not dev.wifi)
        return f"Wi-Fi {'on' if dev.wifi else 'off'}"
    if key == "p":
        if dev.running:
            dev.power_cut()
            return "power cut"
        dev.power_on()
        return "power on"
    if key == "s":
        paths = dev.save_frames(png_dir)
        return f"saved {len(paths)} frame(s) to {png_dir}" if paths else "no frame yet"
    return ""


def run(dev: Device, png_dir: Path, courier: CourierDevice | None = None,
        pixels: bool = False) -> int:
    fd = sys.stdin.fileno()
    is_tty = os.isatty(fd)
    saved = termios.tcgetattr(fd) if is_tty else None
    if is_tty:
        tty.setcbreak(fd)
    note, last, shown = "", None, 0.0
    try:
        while True:
            state = (dev.panel.frame_count, dev.wifi, dev.running, len(dev.events),
                     len(dev.output), note)
            if state != last or time.monotonic() - shown > 2:
                sys.stdout.write(render(dev, note, courier, pixels))
                sys.stdout.flush()
                last, shown = state, time.monotonic()
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            ch = os.read(fd, 1).decode("utf-8", "replace")
            if ch in ("q", "", "\x03"):
                return 0
            note = handle_key(dev, ch, png_dir, courier) or note
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
