"""`sealscan sim run`: one simulated device in the terminal.

The screen is drawn with half-block characters (one character = 1x2 pixels), followed by the
text the firmware wrote on it, the board's status (Wi-Fi, power, LED, buzzer, frames) and the
console's last lines. Keys: 1-4 scan a sample code, g garbage bytes on the scan engine line,
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

from sealsim.device import Device
from sealsim.display import terminal_lines
from sealsim.scenario import SAMPLE_CODES

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


def render(dev: Device, note: str = "") -> str:
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


def handle_key(dev: Device, key: str, png_dir: Path) -> str:
    if key in SAMPLE_CODES:
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


def run(dev: Device, png_dir: Path) -> int:
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
                sys.stdout.write(render(dev, note))
                sys.stdout.flush()
                last, shown = state, time.monotonic()
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            ch = os.read(fd, 1).decode("utf-8", "replace")
            if ch in ("q", "", "\x03"):
                return 0
            note = handle_key(dev, ch, png_dir) or note
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
