// mbedTLS for the esp32sim variant: the unix port's configuration (ports/unix/mbedtls/
// mbedtls_config_port.h) plus what the esp32 port's ESP-IDF build does differently:
// - allocations come from the board's internal RAM (sdkconfig.base
//   CONFIG_MBEDTLS_DEFAULT_MEM_ALLOC): here through the simulated budget (sealsim.c);
// - time is the device clock (CONFIG_MBEDTLS_PLATFORM_TIME_ALT, main.c platform_mbedtls_time).
// Record sizes are the common MicroPython ones, as ESP-IDF's defaults with
// CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN=y: 16384 in, 4096 out.
#ifndef SEALSIM_MBEDTLS_CONFIG_H
#define SEALSIM_MBEDTLS_CONFIG_H

#define MBEDTLS_CIPHER_MODE_CTR
#define MBEDTLS_TIMING_C

#include "extmod/mbedtls/mbedtls_config_common.h"

#include <stddef.h>
#include <time.h>
void *sealsim_tls_calloc(size_t n, size_t size);
void sealsim_tls_free(void *ptr);
time_t sealsim_mbedtls_time(time_t *timer);

#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_STD_CALLOC sealsim_tls_calloc
#define MBEDTLS_PLATFORM_STD_FREE sealsim_tls_free
#define MBEDTLS_PLATFORM_TIME_ALT
#define MBEDTLS_PLATFORM_STD_TIME sealsim_mbedtls_time

#endif
