// sealsim esp32sim: the simulated board's internal RAM budget and device clock.
#ifndef SEALSIM_H
#define SEALSIM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

// Shared with the supervisor (simulator/sealsim/ramclock.py reads and writes the same bytes):
// one little-endian record at the start of the file named by $SEALSIM_SHM.
typedef struct _sealsim_shm_t {
    uint32_t magic;           // 'SSIM'
    uint32_t version;         // 1
    int64_t clock_offset_ns;  // device Unix time = host CLOCK_REALTIME + this
    uint32_t budget;          // internal RAM the board offers at MicroPython start (bytes)
    uint32_t reserved;        // of which Wi-Fi/lwIP hold (charged from power-on)
    uint32_t used;            // charged now: reserved + GC heap areas + mbedTLS blocks
    uint32_t used_peak;       // highest `used` seen (continuous: checked at every charge)
    uint32_t heap;            // GC heap now (initial area + growth areas)
    uint32_t heap_peak;
    uint32_t tls;             // mbedTLS blocks now (with a per-block header)
    uint32_t tls_peak;
    uint32_t shim_credit;     // heap the simulator's Python shims hold (added to budget)
    uint32_t peak_ms;         // device ticks_ms when used_peak was reached
    uint32_t refused;         // allocations refused for lack of budget
    uint32_t heap_at_peak;    // GC heap size at the moment of used_peak
    uint32_t ticks_offset_ms; // added to ticks_ms/us: the harness lets time pass at once
} sealsim_shm_t;

#define SEALSIM_MAGIC (0x4d495353u)  // "SSIM"

sealsim_shm_t *sealsim_state(void);
void *sealsim_heap_alloc(size_t size);
void sealsim_heap_free(void *ptr);
void *sealsim_tls_calloc(size_t n, size_t size);
void sealsim_tls_free(void *ptr);
time_t sealsim_mbedtls_time(time_t *timer);
int64_t sealsim_device_unix_ns(void);
uint32_t sealsim_raw_ticks_ms(void);

#endif
