/* libFuzzer: the ingest body validator must never crash, leak or hang. */

#include <stddef.h>
#include <stdint.h>

#include "hookd_validate.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hookd_validation_t  v;

    hookd_validate_event((const char *) data, size, &v);
    hookd_json_depth((const char *) data, size, HOOKD_MAX_JSON_DEPTH);
    hookd_json_unstorable_number((const char *) data, size);
    hookd_valid_idempotency_key((const char *) data, size);

    return 0;
}
