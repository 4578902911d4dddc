#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd_headers.h"
#include "hookd_seal.h"


/* what the delivery protocol or HTTP itself owns (a prefix when it ends in -) */
static const char  *hookd_reserved[] = {
    "host", "content-length", "content-type", "transfer-encoding",
    "connection", "keep-alive", "te", "trailer", "upgrade", "expect",
    "user-agent", "proxy-", "webhook-"
};


static int
hookd_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}


/* a value may hold tabs and visible characters, not what ends a header */
static int
hookd_value_ok(const char *v, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return 0;
        }
    }

    return 1;
}


int
hookd_headers_check(const json_t *headers, json_t **names, char *why,
    size_t why_size)
{
    size_t       i, n, total;
    json_t      *v;
    const char  *name, *r;

    *names = NULL;

    if (!json_is_object(headers)) {
        snprintf(why, why_size, "headers must be an object of names and "
                 "string values");
        return -1;
    }

    *names = json_array();
    total = 0;

    json_object_foreach((json_t *) headers, name, v) {
        n = strlen(name);

        for (i = 0; i < n && hookd_token_char((unsigned char) name[i]); i++) {
            /* a token */
        }

        if (n == 0 || n > 256 || i < n) {
            snprintf(why, why_size, "headers: \"%.64s\" is not a header name "
                     "(letters, digits and !#$%%&'*+-.^_`|~)", name);
            goto fail;
        }

        for (i = 0; i < sizeof(hookd_reserved) / sizeof(char *); i++) {
            r = hookd_reserved[i];
            if (r[strlen(r) - 1] == '-'
                ? strncasecmp(name, r, strlen(r)) == 0
                : strcasecmp(name, r) == 0)
            {
                snprintf(why, why_size, "headers: %s is set by hookd or by "
                         "HTTP itself, not by an endpoint", name);
                goto fail;
            }
        }

        if (!json_is_string(v)
            || !hookd_value_ok(json_string_value(v), json_string_length(v)))
        {
            snprintf(why, why_size, "headers.%s must be a string without CR, "
                     "LF, NUL or other control characters", name);
            goto fail;
        }

        total += n + json_string_length(v);
        if (total > HOOKD_HEADERS_MAX_BYTES) {
            snprintf(why, why_size, "headers are at most %d bytes of names "
                     "and values in all", HOOKD_HEADERS_MAX_BYTES);
            goto fail;
        }

        json_array_append_new(*names, json_string(name));
    }

    return 0;

fail:

    json_decref(*names);
    *names = NULL;
    return -1;
}


int
hookd_auth_value(const json_t *auth, char **out, char *why, size_t why_size)
{
    char        *plain, *p;
    size_t       ul, pl, n;
    const char  *type, *user, *pass, *token;

    *out = NULL;
    type = json_string_value(json_object_get(auth, "type"));

    if (type && strcmp(type, "bearer") == 0) {
        token = json_string_value(json_object_get(auth, "token"));

        if (json_object_size(auth) != 2 || token == NULL || token[0] == '\0'
            || strlen(token) > 4096 || strpbrk(token, " \t") != NULL
            || !hookd_value_ok(token, strlen(token)))
        {
            snprintf(why, why_size, "auth of type bearer takes a token: 1 "
                     "to 4096 visible characters, no spaces");
            return -1;
        }

        n = strlen(token) + sizeof("Bearer ");
        if ((*out = malloc(n)) == NULL) {
            return -1;
        }
        snprintf(*out, n, "Bearer %s", token);
        return 0;
    }

    if (type && strcmp(type, "basic") == 0) {
        user = json_string_value(json_object_get(auth, "username"));
        pass = json_string_value(json_object_get(auth, "password"));

        if (json_object_size(auth) != 3 || user == NULL || pass == NULL
            || strchr(user, ':') != NULL || strlen(user) + strlen(pass) > 2048
            || !hookd_value_ok(user, strlen(user))
            || !hookd_value_ok(pass, strlen(pass)))
        {
            snprintf(why, why_size, "auth of type basic takes a username "
                     "(without ':') and a password, visible characters");
            return -1;
        }

        ul = strlen(user);
        pl = strlen(pass);
        plain = malloc(ul + pl + 2);
        p = malloc(sizeof("Basic ") + 4 * ((ul + pl + 3) / 3) + 1);

        if (plain == NULL || p == NULL) {
            free(plain);
            free(p);
            return -1;
        }

        memcpy(plain, user, ul);
        plain[ul] = ':';
        memcpy(plain + ul + 1, pass, pl);

        memcpy(p, "Basic ", 6);
        n = hookd_base64((const unsigned char *) plain, ul + pl + 1, p + 6);
        p[6 + n] = '\0';

        memset(plain, 0, ul + pl + 1);
        free(plain);
        *out = p;
        return 0;
    }

    snprintf(why, why_size, "auth is {\"type\": \"basic\", \"username\", "
             "\"password\"} or {\"type\": \"bearer\", \"token\"}");
    return -1;
}
