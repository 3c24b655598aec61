// Included by extmod/modtime.c (MICROPY_PY_TIME_INCLUDEFILE): the esp32 port's time module
// (ports/esp32/modtime.c) on the simulated device clock. time() is an int counting from
// 2000-01-01; localtime/gmtime/mktime come from extmod with the 2000 epoch; ticks_* and
// sleep stay on the host's monotonic clock (unix_mphal.c / the unix port's sleep below).
#include <errno.h>
#include <math.h>
#include <sys/select.h>
#include "py/obj.h"
#include "py/runtime.h"
#include "shared/timeutils/timeutils.h"
#include "sealsim.h"

static int64_t sealsim_device_secs_2000(void) {
    int64_t ns = sealsim_device_unix_ns();
    int64_t s = ns / 1000000000LL;
    if (ns < 0 && s * 1000000000LL != ns) {
        s -= 1;
    }
    return s - TIMEUTILS_SECONDS_1970_TO_2000;
}

static void mp_time_localtime_get(timeutils_struct_time_t *tm) {
    timeutils_seconds_since_epoch_to_struct_time(sealsim_device_secs_2000(), tm);
}

static mp_obj_t mp_time_time_get(void) {
    return timeutils_obj_from_timestamp(sealsim_device_secs_2000());
}

// MICROPY_PY_TIME_CUSTOM_SLEEP (unix): sleep in select() so signals (Ctrl-C) interrupt it.
static void mp_time_sleep(mp_obj_t arg) {
    mp_float_t val = mp_obj_get_float(arg);
    if (val < 0) {
        val = 0;
    }
    mp_float_t ipart;
    struct timeval tv;
    tv.tv_usec = (suseconds_t)MICROPY_FLOAT_C_FUN(round)(MICROPY_FLOAT_C_FUN(modf)(val, &ipart) * MICROPY_FLOAT_CONST(1000000.));
    tv.tv_sec = (time_t)ipart;
    int res;
    for (;;) {
        mp_handle_pending(MP_HANDLE_PENDING_CALLBACKS_AND_EXCEPTIONS);
        MP_THREAD_GIL_EXIT();
        res = select(0, NULL, NULL, NULL, &tv);
        MP_THREAD_GIL_ENTER();
        if (res != -1 || errno != EINTR) {
            break;
        }
    }
    if (res == -1) {
        mp_raise_OSError(errno);
    }
}
