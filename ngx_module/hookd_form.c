#include <stdlib.h>
#include <string.h>

#include "hookd_form.h"


static int
hookd_hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
           : -1;
}


/* percent-decoding, '+' as a space; returns the decoded length */
static size_t
hookd_form_decode(const char *s, size_t n, char *out)
{
    int     hi, lo;
    size_t  i, o;

    for (i = 0, o = 0; i < n; i++) {
        hi = lo = -1;

        if (s[i] == '%' && i + 2 < n) {
            hi = hookd_hex_digit(s[i + 1]);
            lo = hookd_hex_digit(s[i + 2]);
        }

        if (hi >= 0 && lo >= 0) {
            out[o++] = (char) (hi << 4 | lo);
            i += 2;

        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }

    return o;
}


json_t *
hookd_form_object(const char *s, size_t len)
{
    char        *name, *value;
    size_t       nlen, vlen, n;
    json_t      *obj, *v;
    const char  *p, *end, *amp, *eq;

    obj = json_object();
    name = malloc(len + 1);
    value = malloc(len + 1);

    if (obj == NULL || name == NULL || value == NULL) {
        goto fail;
    }

    for (p = s, end = s + len; p < end; p = amp + 1) {
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }

        n = (size_t) (amp - p);
        if (n == 0) {
            continue;
        }

        eq = memchr(p, '=', n);
        nlen = hookd_form_decode(p, eq ? (size_t) (eq - p) : n, name);
        vlen = eq ? hookd_form_decode(eq + 1, (size_t) (amp - eq - 1), value)
                  : 0;
        name[nlen] = '\0';

        /* names are keys: no NUL inside, none twice */
        if (nlen == 0 || memchr(name, '\0', nlen) != NULL
            || json_object_get(obj, name) != NULL)
        {
            goto fail;
        }

        v = json_stringn(value, vlen);
        if (v == NULL || json_object_set_new(obj, name, v) != 0) {
            goto fail;
        }
    }

    free(name);
    free(value);
    return obj;

fail:

    free(name);
    free(value);
    json_decref(obj);
    return NULL;
}
