#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd_filter.h"


typedef struct {
    char    *buf;
    size_t   len, size;
    int      failed;            /* out of memory */
    int      operators;
    char    *why;
    size_t   why_size;
} hookd_jp_t;


static int hookd_filter_object(hookd_jp_t *jp, const json_t *f,
    const char *where);


/* where a clause is, for messages: cut short past the buffer */
static void
hookd_where(char *here, size_t size, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(here, size, fmt, args);
    va_end(args);
}


static void
hookd_put(hookd_jp_t *jp, const char *s, size_t n)
{
    char    *grown;
    size_t   size;

    if (jp->failed) {
        return;
    }

    if (jp->len + n + 1 > jp->size) {
        size = (jp->len + n + 1) * 2;
        grown = realloc(jp->buf, size);
        if (grown == NULL) {
            jp->failed = 1;
            return;
        }
        jp->buf = grown;
        jp->size = size;
    }

    memcpy(jp->buf + jp->len, s, n);
    jp->len += n;
    jp->buf[jp->len] = '\0';
}


static void
hookd_puts(hookd_jp_t *jp, const char *s)
{
    hookd_put(jp, s, strlen(s));
}


static int
hookd_wrong(hookd_jp_t *jp, const char *where, const char *fmt, ...)
{
    int      n;
    va_list  args;

    n = snprintf(jp->why, jp->why_size, "%s: ", where);

    va_start(args, fmt);
    vsnprintf(jp->why + (n > 0 && (size_t) n < jp->why_size ? n : 0),
              (n > 0 && (size_t) n < jp->why_size) ? jp->why_size - n
                                                   : jp->why_size, fmt, args);
    va_end(args);

    return -1;
}


/* a JSON string, as jsonpath's string literal takes it (the same escapes) */
static void
hookd_put_string(hookd_jp_t *jp, const char *s, size_t n)
{
    char    *dumped;
    json_t  *v;

    v = json_stringn(s, n);
    dumped = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_ESCAPE_SLASH) : NULL;
    json_decref(v);

    if (dumped == NULL) {
        jp->failed = 1;
        return;
    }

    hookd_puts(jp, dumped);
    free(dumped);
}


/*
 * A literal: a string, a number (the shortest text that reads back as the
 * same double: 0.1 is 0.1, not 0.1000000000000000055…), true, false, null.
 */
static int
hookd_put_literal(hookd_jp_t *jp, const json_t *v, const char *where,
    const char *op)
{
    int     p;
    char    num[64];
    double  d;

    switch (json_typeof(v)) {

    case JSON_STRING:
        hookd_put_string(jp, json_string_value(v), json_string_length(v));
        return 0;

    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        hookd_puts(jp, num);
        return 0;

    case JSON_REAL:
        d = json_real_value(v);
        for (p = 1; p <= 17; p++) {
            snprintf(num, sizeof(num), "%.*g", p, d);
            if (strtod(num, NULL) == d) {
                break;
            }
        }
        hookd_puts(jp, num);
        return 0;

    case JSON_TRUE:
        hookd_puts(jp, "true");
        return 0;

    case JSON_FALSE:
        hookd_puts(jp, "false");
        return 0;

    case JSON_NULL:
        hookd_puts(jp, "null");
        return 0;

    default:
        return hookd_wrong(jp, where, "%s takes a string, a number, true, "
                           "false or null", op);
    }
}


/* "a.b\.c" as $."a"."b.c": a backslash escapes a dot or itself */
static int
hookd_put_path(hookd_jp_t *jp, const char *path, const char *where)
{
    char        *seg;
    size_t       n, i;
    const char  *p;

    seg = malloc(strlen(path) + 1);
    if (seg == NULL) {
        jp->failed = 1;
        return 0;
    }

    hookd_puts(jp, "$");
    p = path;

    for ( ;; ) {
        n = 0;

        for (i = 0; p[i] && p[i] != '.'; i++) {
            if (p[i] == '\\' && (p[i + 1] == '.' || p[i + 1] == '\\')) {
                i++;
            }
            seg[n++] = p[i];
        }

        if (n == 0) {
            free(seg);
            return hookd_wrong(jp, where, "a path is keys joined by dots, "
                               "none empty (a dot inside a key is \\.)");
        }

        hookd_puts(jp, ".");
        hookd_put_string(jp, seg, n);

        if (p[i] == '\0') {
            break;
        }

        p += i + 1;
    }

    free(seg);
    return 0;
}


static int
hookd_count(hookd_jp_t *jp, const char *where)
{
    if (++jp->operators > HOOKD_FILTER_MAX_OPERATORS) {
        return hookd_wrong(jp, where, "a filter holds at most %d operators",
                           HOOKD_FILTER_MAX_OPERATORS);
    }

    return 0;
}


/* one operator on the path: a predicate, true or false, never unknown */
static int
hookd_operator(hookd_jp_t *jp, const char *path, const char *op,
    const json_t *v, const char *where)
{
    size_t        i;
    const char   *cmp;
    const json_t  *x;

    if (hookd_count(jp, where) != 0) {
        return -1;
    }

    if (strcmp(op, "$exists") == 0) {
        if (!json_is_boolean(v)) {
            return hookd_wrong(jp, where, "$exists takes true or false");
        }

        hookd_puts(jp, json_is_true(v) ? "exists(" : "!(exists(");
        if (hookd_put_path(jp, path, where) != 0) {
            return -1;
        }
        hookd_puts(jp, json_is_true(v) ? ")" : "))");
        return 0;
    }

    cmp = strcmp(op, "$eq") == 0 || strcmp(op, "$ne") == 0 ? "=="
          : strcmp(op, "$gt") == 0 ? ">" : strcmp(op, "$gte") == 0 ? ">="
          : strcmp(op, "$lt") == 0 ? "<" : strcmp(op, "$lte") == 0 ? "<="
          : NULL;

    if (cmp == NULL && strcmp(op, "$in") != 0 && strcmp(op, "$nin") != 0
        && strcmp(op, "$regex") != 0)
    {
        return hookd_wrong(jp, where, "unknown operator %s (the operators: "
                           "$eq $ne $gt $gte $lt $lte $in $nin $exists $regex "
                           "$not)", op);
    }

    if (cmp && cmp[0] != '=' && !json_is_number(v) && !json_is_string(v)) {
        return hookd_wrong(jp, where, "%s takes a number or a string", op);
    }

    if ((strcmp(op, "$in") == 0 || strcmp(op, "$nin") == 0)
        && (!json_is_array(v) || json_array_size(v) == 0
            || json_array_size(v) > HOOKD_FILTER_MAX_IN))
    {
        return hookd_wrong(jp, where, "%s takes an array of 1 to %d values",
                           op, HOOKD_FILTER_MAX_IN);
    }

    if (strcmp(op, "$regex") == 0
        && (!json_is_string(v) || json_string_length(v) == 0
            || json_string_length(v) > HOOKD_FILTER_MAX_REGEX))
    {
        return hookd_wrong(jp, where, "$regex takes a regular expression of "
                           "1 to %d characters", HOOKD_FILTER_MAX_REGEX);
    }

    hookd_puts(jp, op[1] == 'n' ? "!(exists(" : "exists(");

    if (hookd_put_path(jp, path, where) != 0) {
        return -1;
    }

    hookd_puts(jp, " ? (");

    if (cmp) {
        hookd_puts(jp, "@ ");
        hookd_puts(jp, cmp);
        hookd_puts(jp, " ");
        if (hookd_put_literal(jp, v, where, op) != 0) {
            return -1;
        }

    } else if (op[1] == 'r') {
        hookd_puts(jp, "@ like_regex ");
        hookd_put_string(jp, json_string_value(v), json_string_length(v));

    } else {
        for (i = 0; i < json_array_size(v); i++) {
            x = json_array_get(v, i);
            hookd_puts(jp, i ? " || @ == " : "@ == ");
            if (hookd_put_literal(jp, x, where, op) != 0) {
                return -1;
            }
        }
    }

    hookd_puts(jp, op[1] == 'n' ? ")))" : "))");

    return 0;
}


/* the operators of one path, all of them true: {"$gt": 1, "$lt": 9} */
static int
hookd_operators(hookd_jp_t *jp, const char *path, const json_t *ops,
    const char *where)
{
    int          first;
    char         here[512];
    const char  *op;
    json_t      *v;

    if (json_object_size(ops) == 0) {
        return hookd_wrong(jp, where, "give an operator such as $eq, or a "
                           "value to equal");
    }

    first = 1;
    hookd_puts(jp, "(");

    json_object_foreach((json_t *) ops, op, v) {
        hookd_where(here, sizeof(here), "%s.%s", where, op);

        if (op[0] != '$') {
            return hookd_wrong(jp, here, "inside a path's operators, %s is "
                               "not one; write nested keys as a dotted path",
                               op);
        }

        hookd_puts(jp, first ? "" : " && ");
        first = 0;

        if (strcmp(op, "$not") == 0) {
            if (!json_is_object(v)) {
                return hookd_wrong(jp, here, "$not takes an object of "
                                   "operators");
            }

            if (hookd_count(jp, here) != 0) {
                return -1;
            }

            hookd_puts(jp, "!");
            if (hookd_operators(jp, path, v, here) != 0) {
                return -1;
            }
            continue;
        }

        if (hookd_operator(jp, path, op, v, here) != 0) {
            return -1;
        }
    }

    hookd_puts(jp, ")");

    return 0;
}


/* $and / $or: an array of filters */
static int
hookd_logical(hookd_jp_t *jp, const char *op, const json_t *list,
    const char *where)
{
    size_t   i;
    char     here[512];

    if (!json_is_array(list) || json_array_size(list) == 0) {
        return hookd_wrong(jp, where, "%s takes an array of filters", op);
    }

    if (hookd_count(jp, where) != 0) {
        return -1;
    }

    hookd_puts(jp, "(");

    for (i = 0; i < json_array_size(list); i++) {
        hookd_where(here, sizeof(here), "%s[%zu]", where, i);
        hookd_puts(jp, i == 0 ? "" : op[1] == 'a' ? " && " : " || ");

        if (!json_is_object(json_array_get(list, i))
            || json_object_size(json_array_get(list, i)) == 0)
        {
            return hookd_wrong(jp, here, "each filter of %s is an object "
                               "with at least one condition", op);
        }

        if (hookd_filter_object(jp, json_array_get(list, i), here) != 0) {
            return -1;
        }
    }

    hookd_puts(jp, ")");

    return 0;
}


/* an object of conditions, all of them true */
static int
hookd_filter_object(hookd_jp_t *jp, const json_t *f, const char *where)
{
    int          first;
    char         here[512];
    const char  *key;
    json_t      *v;

    first = 1;
    hookd_puts(jp, "(");

    json_object_foreach((json_t *) f, key, v) {
        hookd_where(here, sizeof(here), "%s.%s", where, key);
        hookd_puts(jp, first ? "" : " && ");
        first = 0;

        if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0) {
            if (hookd_logical(jp, key, v, here) != 0) {
                return -1;
            }

        } else if (strcmp(key, "$not") == 0) {
            if (!json_is_object(v) || json_object_size(v) == 0) {
                return hookd_wrong(jp, here, "$not takes a filter object");
            }

            if (hookd_count(jp, here) != 0) {
                return -1;
            }

            hookd_puts(jp, "!");
            if (hookd_filter_object(jp, v, here) != 0) {
                return -1;
            }

        } else if (key[0] == '$') {
            return hookd_wrong(jp, here, "%s goes inside a path: "
                               "{\"amount\": {\"%s\": …}}", key, key);

        } else if (json_is_object(v)) {
            if (hookd_operators(jp, key, v, here) != 0) {
                return -1;
            }

        } else if (json_is_array(v)) {
            return hookd_wrong(jp, here, "to match one of several values, "
                               "use {\"$in\": [...]}");

        } else if (hookd_operator(jp, key, "$eq", v, here) != 0) {
            return -1;
        }
    }

    hookd_puts(jp, ")");

    return 0;
}


int
hookd_filter_compile(const json_t *filter, char **out, char *why,
    size_t why_size)
{
    char        *text;
    size_t       len;
    hookd_jp_t   jp;

    *out = NULL;
    why[0] = '\0';

    memset(&jp, 0, sizeof(jp));
    jp.why = why;
    jp.why_size = why_size;

    if (!json_is_object(filter)) {
        return hookd_wrong(&jp, "filter", "a filter is a JSON object");
    }

    text = json_dumps(filter, JSON_COMPACT);
    len = text ? strlen(text) : 0;
    free(text);

    if (len > HOOKD_FILTER_MAX_BYTES) {
        return hookd_wrong(&jp, "filter", "a filter is at most %d bytes of "
                           "JSON", HOOKD_FILTER_MAX_BYTES);
    }

    if (json_object_size(filter) == 0) {
        return 0;
    }

    if (hookd_filter_object(&jp, filter, "filter") != 0 || jp.failed) {
        free(jp.buf);
        if (jp.failed) {
            snprintf(why, why_size, "filter: out of memory");
        }
        return -1;
    }

    *out = jp.buf;

    return 0;
}
