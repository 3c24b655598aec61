// sealsim esp32sim: one internal-RAM budget for the simulated board and its device clock.
//
// On an ESP32 (MicroPython v1.21+) the GC heap starts at MICROPY_GC_INITIAL_HEAP_SIZE and
// grows by areas taken from the ESP-IDF heap (ports/esp32/gccollect.c:
// gc_get_max_new_split() = largest free IDF block), the same internal RAM that Wi-Fi, lwIP
// and mbedTLS allocate from (sdkconfig.base: CONFIG_MBEDTLS_DEFAULT_MEM_ALLOC). Here that
// RAM is a number: $SEALSIM_RAM_BYTES offered at MicroPython start, $SEALSIM_RAM_RESERVED of
// it held by Wi-Fi/lwIP. The initial heap, every growth area and every mbedTLS block are
// charged to it; what does not fit is refused (the GC raises MemoryError, mbedTLS fails with
// MBEDTLS_ERR_SSL_ALLOC_FAILED / MBEDTLS_ERR_MPI_ALLOC_FAILED). High-water marks are kept at
// every charge in a record the supervisor maps ($SEALSIM_SHM), and module _sealsim reads.
//
// The device clock: device Unix time = host CLOCK_REALTIME + clock_offset_ns from the same
// record, which the harness sets and steps; time.time()/localtime()/time_ns() and mbedTLS's
// certificate date checks read it (ports/esp32/main.c: platform_mbedtls_time).

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "py/gc.h"
#include "py/mphal.h"
#include "py/runtime.h"
#include "sealsim.h"

extern long heap_size;  // ports/unix/main.c: -X heapsize, the initial GC area

static sealsim_shm_t local_state;
static sealsim_shm_t *state;
static uint32_t initial_heap;

static uint32_t env_u32(const char *name, uint32_t dflt) {
    const char *v = getenv(name);
    return (v && *v) ? (uint32_t)strtoul(v, NULL, 0) : dflt;
}

static void note_peaks(void) {
    sealsim_shm_t *s = state;
    if (s->heap > s->heap_peak) {
        s->heap_peak = s->heap;
    }
    if (s->tls > s->tls_peak) {
        s->tls_peak = s->tls;
    }
    if (s->used > s->used_peak) {
        s->used_peak = s->used;
        s->peak_ms = sealsim_raw_ticks_ms();
        s->heap_at_peak = s->heap;
    }
}

sealsim_shm_t *sealsim_state(void) {
    if (state) {
        return state;
    }
    state = &local_state;
    const char *path = getenv("SEALSIM_SHM");
    if (path && *path) {
        int fd = open(path, O_RDWR | O_CREAT, 0600);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) == 0 && (st.st_size >= 4096 || ftruncate(fd, 4096) == 0)) {
                void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (m != MAP_FAILED) {
                    state = m;
                }
            }
            close(fd);
        }
    }
    sealsim_shm_t *s = state;
    if (s->magic != SEALSIM_MAGIC || s->version != 1) {
        // A fresh record: no clock offset (host time), no peaks yet.
        memset(s, 0, sizeof(*s));
        s->version = 1;
        s->magic = SEALSIM_MAGIC;
    }
    // Per boot: the budget from the environment, nothing charged but the reservation and
    // the initial heap; peaks carry over until the supervisor (or reset_peaks()) clears them.
    s->budget = env_u32("SEALSIM_RAM_BYTES", 64u << 20);  // unset: 64 MiB, "plenty"
    s->reserved = env_u32("SEALSIM_RAM_RESERVED", 0);
    // The simulator's Python shims stand for native modules, which a board keeps in flash and
    // static RAM outside this budget. The supervisor measures the heap they take at boot and
    // gives it here: the initial heap is that much larger (-X heapsize), the budget offers
    // that much more, and the next area is sized without it (MP_PLAT_GC_SPLIT_UNCOUNTED,
    // patches/gc-split-uncounted.patch), so the firmware's heap grows in the board's steps.
    s->shim_credit = env_u32("SEALSIM_SHIM_CREDIT", 0);
    s->tls = 0;
    initial_heap = (uint32_t)heap_size;
    s->heap = initial_heap;
    s->used = s->reserved + s->heap;
    note_peaks();
    return s;
}

static uint32_t budget_free(void) {
    sealsim_shm_t *s = sealsim_state();
    uint64_t offer = (uint64_t)s->budget + s->shim_credit;
    return offer > s->used ? (uint32_t)(offer - s->used) : 0;
}

static void *charge(size_t total, uint32_t *field) {
    sealsim_shm_t *s = sealsim_state();
    if (total > budget_free()) {
        s->refused += 1;
        return NULL;
    }
    void *p = malloc(total);
    if (p == NULL) {
        return NULL;
    }
    *(size_t *)p = total;
    s->used += (uint32_t)total;
    *field += (uint32_t)total;
    note_peaks();
    return p;
}

static void discharge(void *p, uint32_t *field) {
    sealsim_shm_t *s = sealsim_state();
    size_t total = *(size_t *)p;
    s->used -= (uint32_t)total;
    *field -= (uint32_t)total;
    free(p);
}

// A block header of 8 bytes keeps the size (and stands for the IDF heap's own block header).
#define HDR (8)

// The GC's growth hook (py/gc.c gc_try_add_heap): the largest new area the board could
// give. The IDF's largest free block is modelled as all the free budget (no fragmentation).
size_t gc_get_max_new_split(void) {
    uint32_t f = budget_free();
    return f > HDR ? f - HDR : 0;
}

void *sealsim_heap_alloc(size_t size) {
    uint8_t *p = charge(size + HDR, &sealsim_state()->heap);
    return p ? p + HDR : NULL;
}

void sealsim_heap_free(void *ptr) {
    if (ptr) {
        discharge((uint8_t *)ptr - HDR, &sealsim_state()->heap);
    }
}

void *sealsim_tls_calloc(size_t n, size_t size) {
    if (size && n > (SIZE_MAX - HDR) / size) {
        return NULL;
    }
    uint8_t *p = charge(n * size + HDR, &sealsim_state()->tls);
    if (p == NULL) {
        return NULL;
    }
    memset(p + HDR, 0, n * size);
    return p + HDR;
}

void sealsim_tls_free(void *ptr) {
    if (ptr) {
        discharge((uint8_t *)ptr - HDR, &sealsim_state()->tls);
    }
}

// ---- device clock ----

uint32_t sealsim_raw_ticks_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

unsigned long sealsim_ticks_ms(void) {
    return (unsigned long)sealsim_raw_ticks_ms() + sealsim_state()->ticks_offset_ms;
}

unsigned long sealsim_ticks_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u
        + (uint64_t)sealsim_state()->ticks_offset_ms * 1000u);
}

int64_t sealsim_device_unix_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + sealsim_state()->clock_offset_ns;
}

uint64_t sealsim_time_ns_2000(void) {
    return (uint64_t)(sealsim_device_unix_ns() - 946684800LL * 1000000000LL);
}

// mbedTLS's time (MBEDTLS_PLATFORM_STD_TIME): Unix seconds on the device clock.
time_t sealsim_mbedtls_time(time_t *timer) {
    int64_t ns = sealsim_device_unix_ns();
    time_t t = (time_t)(ns / 1000000000LL - (ns < 0 && ns % 1000000000LL ? 1 : 0));
    if (timer) {
        *timer = t;
    }
    return t;
}

// ---- module _sealsim ----

// mem(): (budget, reserved, used, used_peak, heap, heap_peak, tls, tls_peak, shim_credit,
//         peak_ms, refused, heap_at_peak)
static mp_obj_t sealsim_mem(void) {
    sealsim_shm_t *s = sealsim_state();
    uint32_t v[12] = {s->budget, s->reserved, s->used, s->used_peak, s->heap, s->heap_peak,
                      s->tls, s->tls_peak, s->shim_credit, s->peak_ms, s->refused, s->heap_at_peak};
    mp_obj_t items[12];
    for (int i = 0; i < 12; i++) {
        items[i] = mp_obj_new_int_from_uint(v[i]);
    }
    return mp_obj_new_tuple(12, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(sealsim_mem_obj, sealsim_mem);

uint32_t sealsim_shim_credit(void) {
    return sealsim_state()->shim_credit;
}

static mp_obj_t sealsim_reset_peaks(void) {
    sealsim_shm_t *s = sealsim_state();
    s->used_peak = s->used;
    s->heap_peak = s->heap;
    s->tls_peak = s->tls;
    s->heap_at_peak = s->heap;
    s->peak_ms = sealsim_raw_ticks_ms();
    s->refused = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(sealsim_reset_peaks_obj, sealsim_reset_peaks);

// clock([unix_seconds]): read or set the device clock (what machine.RTC().datetime() sets).
static mp_obj_t sealsim_clock(size_t n_args, const mp_obj_t *args) {
    if (n_args == 0) {
        return mp_obj_new_int_from_ll(sealsim_device_unix_ns() / 1000000000LL);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t host = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    int64_t want = (int64_t)mp_obj_get_ll(args[0]) * 1000000000LL;
    sealsim_state()->clock_offset_ns = want - host;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(sealsim_clock_obj, 0, 1, sealsim_clock);

static const mp_rom_map_elem_t sealsim_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__sealsim) },
    { MP_ROM_QSTR(MP_QSTR_mem), MP_ROM_PTR(&sealsim_mem_obj) },
    { MP_ROM_QSTR(MP_QSTR_reset_peaks), MP_ROM_PTR(&sealsim_reset_peaks_obj) },
    { MP_ROM_QSTR(MP_QSTR_clock), MP_ROM_PTR(&sealsim_clock_obj) },
};
static MP_DEFINE_CONST_DICT(sealsim_module_globals, sealsim_module_globals_table);

const mp_obj_module_t mp_module_sealsim = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&sealsim_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__sealsim, mp_module_sealsim);
