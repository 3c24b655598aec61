# sealsim demo/test app: show every scanned code, beep, blink, report keys and Wi-Fi.
import asyncio
import json

import network
from machine import PWM, UART, Pin

import display  # the product's own drivers (a link to firmware/display.py)

with open("board.json") as f:
    CFG = json.load(f)
SE = CFG["scan_engine"]
PINS = CFG["pins"]


class App:
    def __init__(self):
        self.disp = display.open_display(CFG["display"])
        self.uart = UART(SE["uart"], SE["baud"], tx=SE["tx"], rx=SE["rx"])
        self.led = Pin(PINS["led"], Pin.OUT, value=0)
        self.buzzer = PWM(Pin(PINS["buzzer"]), freq=2000, duty_u16=0)
        self.keys = {"OK": Pin(PINS["key_ok"], Pin.IN, Pin.PULL_UP),
                     "BACK": Pin(PINS["key_back"], Pin.IN, Pin.PULL_UP)}
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        self.wlan.connect("depot", "secret")
        self.last = "-"
        self.count = 0
        self.key = ""

    def draw(self):
        d = self.disp
        d.fill(0)
        c = d.ink
        d.text("sealsim", 0, 0, c)
        d.text("WIFI " + ("UP" if self.wlan.isconnected() else "DOWN"), 0, 16, c)
        d.text("SCANS %d" % self.count, 0, 32, c)
        d.text(self.last[:16], 0, 48, c)
        d.show()

    async def scans(self):
        # The GM65 ends every code with CR (no LF), so readline() would wait forever.
        reader = asyncio.StreamReader(self.uart)  # type: ignore[arg-type]  # stub says int
        buf = b""
        while True:
            buf += await reader.read(64)
            if len(buf) > 256:  # garbage without CR: drop it
                buf = buf[-64:]
            while b"\r" in buf:
                line, _, buf = buf.partition(b"\r")
                try:  # MicroPython has no errors="replace": bad bytes raise UnicodeError
                    text = line.decode()
                except UnicodeError:
                    text = "<%d bad bytes>" % len(line)
                await self.show(text)

    async def show(self, text):
        print("scan:", text)
        self.count += 1
        self.last = text
        self.draw()
        self.led.on()
        self.buzzer.duty_u16(32768)
        await asyncio.sleep(0.05)
        self.buzzer.duty_u16(0)
        self.led.off()

    async def ui(self):
        up = None
        while True:
            for name, pin in self.keys.items():
                if pin.value() == 0 and self.key != name:
                    print("key:", name)
                    self.key = name
                elif pin.value() == 1 and self.key == name:
                    self.key = ""
            now = self.wlan.isconnected()
            if now != up:
                up = now
                print("wifi:", "up" if up else "down")
                self.draw()
            await asyncio.sleep(0.02)


async def main():
    app = App()
    app.draw()
    print("app ready")
    await asyncio.gather(app.scans(), app.ui())


asyncio.run(main())
