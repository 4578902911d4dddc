/*
 * libFuzzer: the filter compiler on any JSON an application may send must
 * never crash, leak or write past its buffers, and what it accepts stays
 * within its bounds.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hookd_filter.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char          why[512], *out;
    json_t       *f;
    json_error_t  err;

    f = json_loadb((const char *) data, size, 0, &err);
    if (f == NULL) {
        return 0;
    }

    if (hookd_filter_compile(f, &out, why, sizeof(why)) == 0) {
        free(out);
    }

    json_decref(f);

    return 0;
}
