# ruff: noqa: F821 - a MicroPython manifest: include/require are given by tools/manifestfile.py
# What the ESP32_GENERIC v1.28.0 image freezes (ports/esp32/boards/manifest.py), where it runs
# on the unix port. Left out: $(PORT_DIR)/modules (_boot.py, inisetup.py, flashbdev.py,
# espnow.py, apa106.py, machine.py): they wrap esp32-only native modules (esp32.Partition,
# espnow, machine.bitstream) and the simulator's boot and shims stand in for them; and
# aioespnow, which needs espnow.
include("$(MPY_DIR)/extmod/asyncio")

require("bundle-networking")  # mip, ntptime, ssl, requests, webrepl, urequests

require("dht")
require("ds18x20")
require("neopixel")
require("onewire")
require("umqtt.robust")
require("umqtt.simple")
require("upysh")
