# sealsim "esp32sim" unix variant: build with
#   make -C <micropython>/ports/unix VARIANT_DIR=<this dir>
# 32-bit like the ESP32 (needs gcc-multilib); no libffi for 32-bit, no btree (the vendored
# berkeley-db is not the tag's pin and sealscan does not use it).
MICROPY_FORCE_32BIT = 1
MICROPY_PY_FFI = 0
MICROPY_PY_BTREE = 0
MICROPY_VFS_LFS2 = 1

FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py

# mbedTLS configured as the esp32 port's (allocations through the RAM budget, time from the
# device clock): see mbedtls_config_esp32sim.h.
MBEDTLS_CONFIG_FILE = \"mbedtls_config_esp32sim.h\"

# py/gc.c does arithmetic on a void * in the split-heap-auto path (gc_try_add_heap); the unix
# port's -Wpointer-arith -Werror rejects that, so that one file is built without it.
$(BUILD)/py/gc.o: CFLAGS += -Wno-pointer-arith
