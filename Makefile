# sealscan: every target bootstraps .venv from the pinned requirements first.
#   make demo   the end-to-end demo        make test   lint + the whole test suite
#   make lint   ruff + firmware checks     make bench  measurements (not tests)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sealscan-installed
FW_DIR ?= firmware
PYTEST_ARGS ?=

.PHONY: setup system-deps interp demo test lint lint-host lint-firmware bench hil lock clean

INTERP := build/interp/.built

setup: system-deps $(STAMP) $(INTERP)

# The simulator's interpreter and mpy-cross: MicroPython v1.28.0 (tag v1.28.0, commit
# e0e9fbb17e) built from the vendored source release, pinned by sha256 in
# simulator/interp/build.sh (MPY_TARBALL=... for another copy of it; MPY_SRC_DIR=<checkout>
# for a git clone of the tag, see that script). Unix port, esp32sim variant (32-bit, split
# heap, epoch 2000, RAM budget, device clock): docs/simulator.md. Rebuilt only when the
# variant, its patches or the tarball change.
MPY_TARBALL ?= ../shared/vendor/micropython-1.28.0-src.tar.xz
export MPY_TARBALL

interp: $(INTERP)

$(INTERP): $(wildcard simulator/interp/build.sh simulator/interp/esp32sim/* simulator/interp/patches/*) $(wildcard $(MPY_TARBALL))
	bash simulator/interp/build.sh
	@touch $@

# promtool (Debian's prometheus package) checks the shipped alert rules in the tests. As
# root (CI, a fresh machine) it is installed with apt; otherwise say how. PostgreSQL needs
# nothing here: the pgserver wheel in requirements.lock bundles the server the tests start.
# xfonts-wqy is the source of the committed font asset (sealscan firmware font,
# firmware/assets): installed the same way so that the byte-for-byte regeneration test runs
# (without it that test skips and says why).
FONT_SRC := /usr/share/fonts/X11/misc/wenquanyi_9pt.pcf

system-deps:
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends prometheus >/dev/null; \
	  else echo "promtool missing: sudo apt-get install --no-install-recommends prometheus" >&2; \
	  fi; }
	@test -e $(FONT_SRC) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends xfonts-wqy >/dev/null; \
	  else echo "xfonts-wqy missing (the font asset test will skip): sudo apt-get install xfonts-wqy" >&2; \
	  fi; }

$(STAMP): requirements.lock requirements-typings.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sealscan needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -rf $(VENV)/typings
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/typings -r requirements-typings.txt
	@touch $@

demo: setup
	$(BIN)/python -m sealsim.e2edemo

lint: lint-host lint-firmware

lint-host: setup
	$(BIN)/ruff check host simulator tests bench

# mpy-cross compiles every firmware module; mypy checks them against the ESP32 stubs.
lint-firmware: setup
	$(BIN)/sealscan firmware check --src $(FW_DIR)

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench

# The hardware smoke kit on a scanner on the bench (sealscan.hil); without PORT it says what
# it needs: make hil PORT=/dev/ttyUSB0 [BOARD=...] [WIFI_SSID=...] [UPSTREAM_HOST=...]
hil: setup
	$(BIN)/sealscan hil $(if $(PORT),--port $(PORT)) $(if $(BOARD),--board $(BOARD)) \
		$(if $(WIFI_SSID),--wifi-ssid $(WIFI_SSID)) \
		$(if $(UPSTREAM_HOST),--upstream-host $(UPSTREAM_HOST))

# Re-pin: resolve requirements.in in a scratch venv and freeze it into requirements.lock.
lock:
	rm -rf build/lockvenv && $(PYTHON) -m venv build/lockvenv
	build/lockvenv/bin/python -m pip install --quiet -r requirements.in
	{ sed -n '1,2p' requirements.lock; build/lockvenv/bin/python -m pip freeze --all | grep -v '^pip=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf build .pytest_cache .ruff_cache
