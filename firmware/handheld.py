# The handheld: asyncio tasks around one Flow and one Sealer (docs/design.md).
#
#   wifi      network.WLAN with the NVS credentials, connected once (the IDF driver
#             reconnects by itself); the upstream's name is looked up when Wi-Fi comes up and
#             every 10 min, so no upload waits for DNS (netkeep.py, loaded for each use)
#   watchdog  machine.WDT (_WDT_MS, 10 s) fed by the ui task every 50 ms: a loop held by a
#             hung native call resets the board (RAM lost; nothing of a record on flash)
#   clock     checked every 0.25 s with the alarms against the pinned certificate's validity:
#             while it is outside (an ESP32 after power-on reads 2000-01-01), nothing is
#             sealed or uploaded, the screen says why and NTP is tried with backoff (clock.py,
#             loaded only then)
#   session   HPKE sessions start only once Wi-Fi is up (esp_random needs the radio on), and
#             rotate early (before 1024 records / 60 min) so a capture never waits for one
#   scanner   GM65 lines from the UART (scanline.py) -> flow.py -> seal at once on capture
#   uplink    batches to the upstream over pinned HTTPS; settled only on a verified answer
#   alarm     a record without an authenticated ack OVERDUE_S after capture (by the later of
#             the monotonic and the wall clock, latched in the queue: sealq.py): screen +
#             buzzer, and no new identity scans until the backlog clears
#   ui        keys (OK drives the scan engine's trigger, BACK cancels / logs out), screen
#
# The console gets events only (counts, indices, courier id): never identity data (I6).
import asyncio
import errno
import gc
import time

import config
import display
import flow
import mask
import scanline
import sealer
import texts as T
import transient
import uplink
import view
from micropython import const

OVERDUE_S = const(30)
_OVERDUE_MS = const(OVERDUE_S * 1000)
_READ_CHUNK = const(64)
_BACKOFF_MIN_MS = const(500)
_BACKOFF_MAX_MS = const(8000)
_SPARE_RECORDS = const(16)
_SPARE_MS = const(300_000)
_WDT_MS = const(10000)  # > the longest blocking call (TLS handshake ~1 s, NTP 1 s, DNS ~5 s)
_CLOCK_OK = const(3)  # clock.OK
_CLOCK_FLOOR = const(1704067200)  # 2024-01-01: clock.py's floor
_SHOW_S = const(60)  # a masked identity (held or the last capture's) leaves the screen after
_LEASE_TICKS = const(20)  # the key lease is checked every 20 alarm ticks (5 s)


def log(*args):
    print("sealscan:", *args)


class App:
    """The handheld: a Config, the Sealer (which owns every sealed record until it is
    settled), the Flow, and the board's peripherals as bootload.wire() returns them."""

    def __init__(self, cfg, sealer_, flow_, io):
        self.cfg = cfg
        self.sealer = sealer_
        self.flow = flow_
        (self.disp, self.uart, self.buzzer, self.led, self.key_back, self.key_ok,
         self.trigger, self.wlan) = io
        self.ctx = uplink.ssl_context(cfg.tls_cert)
        cfg.tls_cert = None  # mbedTLS holds its own parsed copy: the DER's heap comes back
        self.lines = scanline.LineSplitter()
        self.kick = asyncio.Event()  # set when there is something to upload
        self.last = None  # (masked name, masked id, masked waybill, state text id), latest
        # when the screen's identity (held or the last capture's) changed, by ticks_ms and by
        # unix time: either clock reaching _SHOW_S clears it
        self.shown_ms = time.ticks_ms()
        self.shown_at = 0
        self.last_key = None  # (enc, index) of the latest capture
        self.overdue = False
        self.alarm = None  # text id of the alarm on screen
        self.waiting = False  # a capture is held until a session, queue space or the clock
        self.dirty = True
        # the key lease (lease.py): [6] why identities are refused, [7] renewal due, [8] an
        # authenticated answer came
        self.lease = [cfg.lease[0], cfg.lease[1], 0, 0, -1, -1, 0, 0, 0]
        self.online = False  # Wi-Fi up, as the wifi task last saw it (the one reader)
        # [state (clock.NOT_SET/EARLY/LATE/OK; -1 not read yet: nothing sealed), why not OK
        # for the screen, ticks_ms of the next NTP try, NTP backoff ms] (clock.py)
        self.clock: list = [-1, None, 0, 0]
        self.addr = None  # the upstream's address (netkeep.resolve), None until it answered

    # -- scanning and capture --------------------------------------------------------------

    async def scanner(self):
        reader = asyncio.StreamReader(self.uart)  # type: ignore[arg-type]  # stub: int
        buf = bytearray(_READ_CHUNK)
        mv = memoryview(buf)
        while True:
            n = await reader.readinto(buf)  # type: ignore[attr-defined]  # stub lacks it
            if n:
                self.lines.feed(mv[:n], self.on_line)

    def on_line(self, line):
        f = self.flow
        block = self.lease[6] or self.overdue  # why identities are refused now, or False
        try:
            r = f.on_line(line, sealer.unix_time(), block)
        except MemoryError:  # a TLS handshake may hold the heap for a moment: try once more
            gc.collect()
            try:
                r = f.on_line(line, sealer.unix_time(), block)
            except MemoryError:
                f.message = T.BUSY
                r = flow.REFUSED
        except Exception as e:  # never lose the rest of the UART chunk to one odd line
            log("line not understood:", type(e).__name__)
            f.message = T.UNREADABLE
            r = flow.REFUSED
        self.dirty = True
        self.shown_ms = time.ticks_ms()  # the screen's identity changed (timeout: ui)
        self.shown_at = sealer.unix_time()
        if r == flow.LOGIN:
            self.last = None  # a new courier never sees the previous one's capture
            log("courier logged in:", f.courier)
        elif r == flow.CAPTURE:
            self.capture()
        elif r == flow.CONFIG:
            self.apply_config()
        elif r == flow.REFUSED:
            # the console is the technician's: the English words (never identity data)
            log("scan refused:", display.text(f.message, T.EN).replace("\n", " / ")
                .replace("%s", f.carrier))
            self.beep_later(2)
        elif r == flow.HELD:
            log("held, waiting for the other code")

    def capture(self):
        f = self.flow
        s = self.sealer
        if self.clock[0] != _CLOCK_OK:
            self.waiting = True
            f.message = self.clock[1] or T.WAIT_CLOCK  # held: the clock's state (clock.py)
            return
        if s.needs_session():
            self.waiting = True
            f.message = T.WAIT_NETWORK
            return
        tok, wb = f.take()
        ident = f.identity
        if ident is None or wb is None:
            return
        try:
            index = s.seal(sealer.unix_time(), self.cfg.carrier, wb, tok, f.courier)
        except (sealer.NoSession, sealer.QueueFull):
            self.waiting = True
            f.message = T.WAIT_QUEUE
            return
        except sealer.InvalidRecord:
            f.sealed()
            f.message = T.CANNOT_SEAL
            return
        self.waiting = False
        self.last_key = (s.enc, index)
        self.last = (ident.name_masked, ident.id_masked, mask.waybill(wb), T.REC_SENDING)
        self.shown_ms = time.ticks_ms()
        self.shown_at = sealer.unix_time()
        f.sealed()
        log("sealed record", index, "queued", len(s.queue))
        self.kick.set()

    def apply_config(self):
        values = self.flow.config_values
        self.flow.config_values = None
        if values is None:
            return
        ssid, password, url, serial, lang = values
        try:
            self.cfg.apply_config(ssid, password, url, serial, lang)
        except config.ConfigError:
            self.flow.message = T.CONFIG_BAD_URL
            return
        self.flow.config_serial = serial
        if lang is not None:
            display.lang = T.EN if lang == "en" else T.ZH
        log("config applied, serial", serial)
        self.addr = None  # another upstream, perhaps: look it up again
        self.wlan.disconnect()
        self.net("connect")

    # -- upload ----------------------------------------------------------------------------

    async def uplink(self):
        backoff = _BACKOFF_MIN_MS
        while True:
            # no upload without records or a lease renewal due, Wi-Fi, the upstream's address
            # (no DNS on this path) or a clock inside the pin's validity (mbedTLS would refuse
            # the pin anyway)
            if not (len(self.sealer.queue) or self.lease[7]) or not self.online or \
                    self.addr is None or self.clock[0] != _CLOCK_OK:
                self.kick.clear()
                try:
                    await asyncio.wait_for(self.kick.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass
                continue
            ok = await self.upload_once()
            if ok:
                backoff = _BACKOFF_MIN_MS
                continue
            await asyncio.sleep(backoff / 1000)
            backoff = min(backoff * 2, _BACKOFF_MAX_MS)

    async def upload_once(self):
        cfg = self.cfg
        with self.sealer.batch() as b:
            if not b.items:
                b.enc = self.sealer.enc  # no records: a lease renewal (protocol 6.2)
                if not self.lease[7] or b.enc is None:
                    return True
            enc = b.enc
            n = len(b.items)
            gc.collect()
            t0 = time.ticks_ms()
            try:
                status, body, tls_ms = await uplink.post_batch(self.addr, cfg.host,
                                                               cfg.port, self.ctx, b)
            except Exception as e:  # network, TLS, timeout, a broken answer: keep everything
                log("upload failed:", type(e).__name__)
                if out_of_memory(e):  # mbedTLS found no RAM: say so, it will not pass alone
                    self.low_memory()
                return False
        if status == 403 and self.rare(enc, body):
            return False
        if status != 200:
            log("upload answered", status)
            return False
        res = self.sealer.settle(enc, body)
        if res is None:
            log("answer refused (malformed or MAC wrong): nothing dropped")
            return False
        self.settled(enc, *res)
        self.lease[8] = 1  # the lease check renews it at once
        log("batch of", n, "acked", len(res[0]), "rejected", len(res[1]), "in",
            time.ticks_diff(time.ticks_ms(), t0), "ms, tls", tls_ms, "ms")
        return True

    def settled(self, enc, ack, rej, ver):
        # the sealer has dropped the records: what is left is the latest capture's status
        if self.last_key and self.last_key[0] == enc and self.last is not None:
            i = self.last_key[1]
            v = ver.get(i)
            if i in rej:
                status = T.REC_REJECTED
            elif v == "ok":
                status = T.REC_ACCEPTED
            elif v == "expired":
                status = T.REC_ID_EXPIRED
            elif v is not None:
                status = T.REC_ID_NOT_VERIFIED
            else:
                status = None
            if status is not None:
                self.last = self.last[:3] + (status,)
                log("record", i, "verdict", v or "rejected")
        if rej:
            self.beep_later(3)
        self.dirty = True

    def rare(self, *args):
        # lease.py (a check every few seconds) and revoke.py (a 403) run rarely: loaded for
        # the call and released after (transient.py), as the HPKE setup is
        fresh = transient.loading("lease", "revoke")
        try:
            if args:
                import revoke

                return revoke.revoked(self, *args)
            import lease

            return lease.check(self, sealer.unix_time())
        finally:
            transient.release(fresh)

    # -- sessions, Wi-Fi, alarm, keys, screen ----------------------------------------------

    async def session(self):
        while True:
            if self.online:
                try:
                    if await self.sealer.ensure_session(_SPARE_RECORDS, _SPARE_MS):
                        gc.collect()  # the released HPKE modules and the setup's garbage
                        log("session started, free", gc.mem_free())
                        if self.waiting and self.flow.identity is not None:
                            self.capture()
                            self.dirty = True
                except sealer.QueueFull:
                    pass
            if self.waiting and self.flow.identity is not None and \
                    not self.sealer.needs_session():
                self.capture()
                self.dirty = True
            await asyncio.sleep(0.25)

    async def wifi(self):
        w = self.wlan
        w.active(True)
        self.net("connect")
        up = False
        looked_up = time.ticks_ms()
        wait = 0  # ms until the next lookup
        while True:
            now = w.isconnected()
            if now != up:
                up = self.online = now
                log("wifi", "up" if up else "down")
                self.dirty = True
                if up:
                    self.clock[2] = time.ticks_ms()  # NTP may be tried at once
                    wait = 0 if self.addr is None else wait
                    self.kick.set()
            if up and time.ticks_diff(time.ticks_ms(), looked_up) >= wait:
                wait = self.net("resolve")
                looked_up = time.ticks_ms()
            await asyncio.sleep(0.2)

    def net(self, step):
        fresh = transient.loading("netkeep")
        try:
            import netkeep

            return getattr(netkeep, step)(self, log)
        finally:
            transient.release(fresh)

    def keep_clock(self):
        now = sealer.unix_time()
        c = self.cfg.cert
        if now >= _CLOCK_FLOOR and c[0] <= now <= c[1] and self.clock[0] in (-1, _CLOCK_OK):
            self.clock[0] = _CLOCK_OK  # right from the start: clock.py is never loaded
            return
        import clock  # stays loaded while the clock is not OK; released once it is

        if clock.keep(self, now, log):
            transient.release(("clock",))
            self.kick.set()

    async def alarms(self):
        tick = 0
        while True:
            self.keep_clock()
            if self.lease[0] and (tick % _LEASE_TICKS == 0 or self.lease[8]):
                self.rare()  # (no lease: lease.py is never loaded)
            over = self.sealer.overdue(_OVERDUE_MS)
            if over != self.overdue:
                self.overdue = over
                self.alarm = T.OVERDUE if over else None  # (lease.py puts its own back)
                log("alarm", "overdue" if over else "cleared")
                self.dirty = True
                if not over:
                    self.buzzer.duty_u16(0)
                    if self.flow.message == T.OVERDUE_NO_ID:
                        self.flow.message = T.SCAN_BOTH
            if over:
                self.buzzer.duty_u16(32768 if tick % 4 == 0 else 0)
            self.led.value(1 if len(self.sealer.queue) else 0)
            tick += 1
            await asyncio.sleep(0.25)

    def beep_later(self, n):
        asyncio.create_task(self.beep(n))

    async def beep(self, n):
        for _ in range(n):
            self.buzzer.duty_u16(32768)
            await asyncio.sleep(0.06)
            self.buzzer.duty_u16(0)
            await asyncio.sleep(0.06)

    async def ui(self):
        from machine import WDT

        wdt = WDT(timeout=_WDT_MS)  # started here and fed only here: the loop is alive
        held = False
        while True:
            f = self.flow
            pressed = self.key_back.value() == 0
            if pressed and not held:
                f.cancel()
                self.waiting = False
                self.last = None  # BACK never brings back an earlier capture's verdict
                self.dirty = True
            if (self.last is not None or f.identity is not None or f.waybill is not None) \
                    and not self.waiting and (
                        time.ticks_diff(time.ticks_ms(), self.shown_ms) > _SHOW_S * 1000 or
                        sealer.unix_time() - self.shown_at > _SHOW_S):
                # a timeout: no masked identity stays on screen
                if f.identity is not None or f.waybill is not None:
                    f.cancel()
                    f.message = T.ID_TIMED_OUT
                self.last = None
                self.dirty = True
            held = pressed
            wdt.feed()
            ok = self.key_ok.value() == 0
            if ok != (self.trigger.value() == 0):
                self.trigger.value(0 if ok else 1)
            if self.dirty:
                self.dirty = False
                self.draw()
            await asyncio.sleep(0.05)

    def draw(self):
        display.hold(True)  # one open font file for the words and the glyphs of this screen
        display.draw_lines(self.disp, view.lines(
            self.flow, self.online, len(self.sealer.queue), self.last, self.alarm,
            display.rows(self.disp)))

    async def run(self):
        self.draw()
        gc.collect()
        log("ready, device", self.cfg.device_id, "free", gc.mem_free())
        await asyncio.gather(*(guard(self, t) for t in (
            self.wifi, self.session, self.scanner, self.uplink, self.alarms, self.ui)))

    def low_memory(self):
        # The board's RAM ran out (the heap cannot grow, or mbedTLS found none): the courier
        # must see it, not a screen that looks normal while nothing works.
        self.flow.message = T.LOW_MEMORY
        self.dirty = True


def out_of_memory(e):
    return isinstance(e, MemoryError) or (isinstance(e, OSError) and e.errno == errno.ENOMEM)


async def guard(hh, task):
    # A task that fails is logged (its type only: messages could carry data) and restarted.
    while True:
        try:
            await task()
        except Exception as e:
            log("task", task.__name__, "failed:", type(e).__name__)
            if out_of_memory(e):
                hh.low_memory()
            await asyncio.sleep(0.5)
