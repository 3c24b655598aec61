#!/usr/bin/env bash
# Build the simulator's interpreter: MicroPython v1.28.0's unix port in the esp32sim variant
# (this folder) and mpy-cross, from the vendored source release. Called by `make setup`
# (cached by a stamp there); run by hand it rebuilds what changed.
#
#   MPY_TARBALL  the v1.28.0 source tarball (default ../shared/vendor/...), pinned by sha256
#   MPY_SRC_DIR  instead of the tarball: a checkout of tag v1.28.0 (commit e0e9fbb17e) with
#                submodules lib/mbedtls, lib/micropython-lib, lib/berkeley-db-1.xx, as a
#                user with internet gets it:
#                  git clone --branch v1.28.0 https://github.com/micropython/micropython
#                  git -C micropython submodule update --init lib/mbedtls lib/micropython-lib
#   OUT          where the build goes (default build/interp); executables in $OUT/bin
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=simulator/interp
VERSION=1.28.0
COMMIT=e0e9fbb17e
SHA256=24226840f155076a5346898bed4da0a9e7a918ec8c836c2e528c8d07687c205b
TARBALL=${MPY_TARBALL:-../shared/vendor/micropython-$VERSION-src.tar.xz}
OUT=${OUT:-build/interp}
SRC=$OUT/micropython-$VERSION
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
say() { echo "interp: $*" >&2; }

# A 32-bit build needs gcc-multilib; extracting and patching need xz and patch (CI: root on a
# fresh Debian 12, where some of these may be missing).
need=()
echo 'int main(void){return 0;}' | gcc -m32 -x c - -o /dev/null 2>/dev/null || need+=(gcc-multilib)
command -v xz >/dev/null || need+=(xz-utils)
command -v patch >/dev/null || need+=(patch)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        say "missing ${need[*]}: install them (sudo apt-get install ${need[*]})"
        exit 1
    fi
fi

mkdir -p "$OUT"
patches=$(cat "$HERE"/patches/*.patch | sha256sum | cut -c1-16)
want="tarball $SHA256 patches $patches"
[ -n "${MPY_SRC_DIR:-}" ] && want="checkout $(realpath "$MPY_SRC_DIR") patches $patches"
if [ ! -f "$SRC/.sealsim-source" ] || [ "$(cat "$SRC/.sealsim-source")" != "$want" ]; then
    rm -rf "$SRC"
    if [ -n "${MPY_SRC_DIR:-}" ]; then
        if [ -d "$MPY_SRC_DIR/.git" ] || [ -f "$MPY_SRC_DIR/.git" ]; then
            head=$(git -C "$MPY_SRC_DIR" rev-parse HEAD)
            case $head in $COMMIT*) ;; *) say "$MPY_SRC_DIR is at $head, not v$VERSION ($COMMIT)"; exit 1;; esac
        fi
        say "copying $MPY_SRC_DIR"
        mkdir -p "$SRC" && cp -a "$MPY_SRC_DIR/." "$SRC/"
    else
        if [ ! -f "$TARBALL" ]; then
            say "no MicroPython source at $TARBALL (set MPY_TARBALL, or MPY_SRC_DIR to a v$VERSION checkout)"
            exit 1
        fi
        got=$(sha256sum "$TARBALL" | cut -d' ' -f1)
        if [ "$got" != "$SHA256" ]; then
            say "$TARBALL: sha256 $got, expected $SHA256 (MicroPython v$VERSION source)"
            exit 1
        fi
        say "extracting $TARBALL"
        tar -xJf "$TARBALL" -C "$OUT"
    fi
    for p in "$HERE"/patches/*.patch; do
        patch -s -p1 -d "$SRC" < "$p"
    done
    echo "$want" > "$SRC/.sealsim-source"
fi

# The source sits inside this repository: keep makeversionhdr.py from describing *our* git
# history (it would name a sealscan commit as the MicroPython version).
export GIT_CEILING_DIRECTORIES="$(realpath "$OUT")"
say "building mpy-cross and the unix port (esp32sim variant), -j$JOBS"
make -s -C "$SRC/mpy-cross" -j"$JOBS" >/dev/null
make -s -C "$SRC/ports/unix" -j"$JOBS" VARIANT_DIR="$(realpath "$HERE/esp32sim")" \
    BUILD="$(realpath "$OUT")/unix-esp32sim" >/dev/null
mkdir -p "$OUT/bin"
cp "$OUT/unix-esp32sim/micropython" "$OUT/bin/micropython.new" && mv "$OUT/bin/micropython.new" "$OUT/bin/micropython"
cp "$SRC/mpy-cross/build/mpy-cross" "$OUT/bin/mpy-cross.new" && mv "$OUT/bin/mpy-cross.new" "$OUT/bin/mpy-cross"
"$OUT/bin/micropython" -c 'import sys; print("interp:", sys.version, "maxsize", sys.maxsize)' >&2
