// sealsim "esp32sim": the MicroPython v1.28.0 unix port configured like the esp32 port
// (ports/esp32/mpconfigport.h) and its ESP32_GENERIC board, for the sealscan simulator.
// Every choice and every remaining difference is listed in docs/simulator.md.

// esp32: MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES, single-precision float, mpz big ints.
// (16-bit mpz digits come from the unix Makefile's -DMPZ_DIG_SIZE=16 with a frozen
// manifest; on a 32-bit build that is also mpz.h's default, as on esp32.)
#define MICROPY_CONFIG_ROM_LEVEL       (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)
#define MICROPY_FLOAT_IMPL             (MICROPY_FLOAT_IMPL_FLOAT)
#define MICROPY_LONGINT_IMPL           (MICROPY_LONGINT_IMPL_MPZ)

// The unix features the simulator relies on (posix VFS for the state dir, sockets, termios).
#include "variants/mpconfigvariant_common.h"

// esp32: normal error reporting (unix "common" turns on the detailed one).
#undef MICROPY_ERROR_REPORTING
#define MICROPY_ERROR_REPORTING        (MICROPY_ERROR_REPORTING_NORMAL)

// esp32: the epoch is 2000-01-01 (unix forces 1970; sealsim patches that define to be
// overridable, see simulator/interp/patches/).
#define MICROPY_EPOCH_IS_1970          (0)
#define MICROPY_EPOCH_IS_2000          (1)

// esp32's time module: time() an int from the device clock, gmtime/localtime/mktime on the
// 2000 epoch. The device clock is the harness's (devclock.c), not the host's.
#undef MICROPY_PY_TIME_INCLUDEFILE
#define MICROPY_PY_TIME_INCLUDEFILE    "modtime_device.h"
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)

// esp32: a GC heap that starts small and grows on demand out of the internal RAM that
// mbedTLS and Wi-Fi also use (ramsim.c holds that budget).
#define MICROPY_GC_SPLIT_HEAP          (1)
#define MICROPY_GC_SPLIT_HEAP_AUTO     (1)
#define MICROPY_GC_SPLIT_HEAP_N_HEAPS  (1)
#include <stddef.h>
void *sealsim_heap_alloc(size_t size);
void sealsim_heap_free(void *ptr);
#define MP_PLAT_ALLOC_HEAP(size)       sealsim_heap_alloc(size)
#define MP_PLAT_FREE_HEAP(ptr)         sealsim_heap_free(ptr)
// The shims' heap (credited by the supervisor) is not counted when the next area is sized.
#include <stdint.h>
uint32_t sealsim_shim_credit(void);
#define MP_PLAT_GC_SPLIT_UNCOUNTED     (sealsim_shim_credit())

// esp32 has these on.
#define MICROPY_PY_TIME_TIME_TIME_NS   (1)
#define MICROPY_PY_OS_UNAME            (1)
#define MICROPY_PY_IO_BUFFEREDWRITER   (1)
#define MICROPY_PY_ALL_INPLACE_SPECIAL_METHODS (1)

// esp32: time_ns() counts from 2000 (ports/esp32/mphalport.c); here on the device clock.
#include <stdint.h>
uint64_t sealsim_time_ns_2000(void);
#define mp_hal_time_ns sealsim_time_ns_2000

// os.uname().machine / sys.implementation._machine, "<board> with <MCU>" as on esp32. It must
// not name a chip: the same interpreter simulates every board, and the depot tools read the
// chip from this string (sealscan.device.deploy.chip_of_machine).
#define MICROPY_HW_BOARD_NAME "sealsim simulator (unix port)"
#define MICROPY_HW_MCU_NAME "a simulated board"

// ticks_ms/us: the host's monotonic clock, plus what the harness lets pass at once (it only
// ever moves forward, so ticks stay monotonic).
unsigned long sealsim_ticks_ms(void);
unsigned long sealsim_ticks_us(void);
#define mp_hal_ticks_ms sealsim_ticks_ms
#define mp_hal_ticks_us sealsim_ticks_us
