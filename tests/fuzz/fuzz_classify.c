/*
 * libFuzzer: the classifier over any payload a producer or provider may
 * send (an SNS envelope's message parsed too) must never crash, read past
 * its buffers or leak, and always names a category and a provider.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hookd_classify.h"


static const char *sources[] = { NULL, "stripe", "github", "hmac", "slack" };


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          type_len;
    json_t         *p;
    const char     *nl;
    hookd_event_class_t   c;

    /* the first line is the event type, the rest the payload */
    nl = memchr(data, '\n', size);
    type_len = nl ? (size_t) (nl - (const char *) data) : 0;

    p = json_loadb(nl ? nl + 1 : (const char *) data,
                   nl ? size - type_len - 1 : size, 0, NULL);
    if (p == NULL) {
        return 0;
    }

    hookd_classify_event(sources[size % 5], (const char *) data, type_len, p, &c);

    if (c.provider == NULL || (unsigned) c.category >= HOOKD_CATEGORY_N) {
        abort();
    }

    json_decref(p);
    return 0;
}
