/*
 * Ingest body validation. jansson parses (it rejects invalid UTF-8, NUL
 * escapes and lone surrogates, as PostgreSQL's jsonb does); the depth is
 * measured on the raw text first so that a hostile body never recurses.
 */

#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "hookd_validate.h"


static size_t hookd_skip_string(const char *text, size_t len, size_t i);
static int hookd_count_keys(json_t *v, int depth, hookd_validation_t *out);
static int hookd_validate_labels(json_t *labels, hookd_validation_t *out);
static int hookd_label_key_char(int c);


/* the index of the quote closing the string that opens at text[i] */
static size_t
hookd_skip_string(const char *text, size_t len, size_t i)
{
    for (i++; i < len && text[i] != '"'; i++) {
        if (text[i] == '\\') {
            i++;
        }
    }

    return i;
}


int
hookd_json_depth(const char *text, size_t len, int max)
{
    int     depth, deepest;
    size_t  i;

    depth = 0;
    deepest = 0;

    for (i = 0; i < len; i++) {
        switch (text[i]) {
        case '"':
            i = hookd_skip_string(text, len, i);
            break;

        case '{':
        case '[':
            if (++depth > max) {
                return -1;
            }

            if (depth > deepest) {
                deepest = depth;
            }
            break;

        case '}':
        case ']':
            depth--;
            break;
        }
    }

    return deepest;
}


long
hookd_json_unstorable_number(const char *text, size_t len)
{
    int     exp_negative;
    long    exp, scale, weight, int_digits, frac_digits;
    size_t  i, start;

    for (i = 0; i < len; i++) {
        char c = text[i];

        if (c == '"') {
            i = hookd_skip_string(text, len, i);
            continue;
        }

        if (c != '-' && (c < '0' || c > '9')) {
            continue;
        }

        start = i;
        int_digits = 0;
        frac_digits = 0;
        exp = 0;
        exp_negative = 0;

        if (text[i] == '-') {
            i++;
        }

        /* leading zeros are no digits of the value */
        while (i < len && text[i] == '0') {
            i++;
        }

        while (i < len && text[i] >= '0' && text[i] <= '9') {
            int_digits++;
            i++;
        }

        if (i < len && text[i] == '.') {
            for (i++; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
                frac_digits++;
            }
        }

        if (i < len && (text[i] == 'e' || text[i] == 'E')) {
            i++;
            if (i < len && (text[i] == '+' || text[i] == '-')) {
                exp_negative = text[i] == '-';
                i++;
            }

            /* saturated: past a million the number is refused anyway */
            for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
                if (exp < 1000000) {
                    exp = exp * 10 + (text[i] - '0');
                }
            }

            if (exp_negative) {
                exp = -exp;
            }
        }

        scale = frac_digits - exp;
        weight = int_digits + exp;

        if (scale > HOOKD_NUMERIC_MAX_SCALE
            || (int_digits > 0 && weight > HOOKD_NUMERIC_MAX_WEIGHT))
        {
            return (long) start;
        }

        i--;
    }

    return -1;
}


int
hookd_valid_event_type(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > HOOKD_MAX_EVENT_TYPE_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '_' || c == '.' || c == ':' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
hookd_valid_idempotency_key(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > HOOKD_MAX_IDEMPOTENCY_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c < 0x21 || c > 0x7e) {
            return 0;
        }
    }

    return 1;
}


static int
hookd_label_key_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
}


static int
hookd_count_keys(json_t *v, int depth, hookd_validation_t *out)
{
    size_t       i;
    json_t      *child;
    const char  *key;

    if (json_is_object(v)) {
        if (json_object_size(v) > HOOKD_MAX_OBJECT_KEYS) {
            snprintf(out->message, sizeof(out->message),
                     "an object has more than %d keys",
                     HOOKD_MAX_OBJECT_KEYS);
            return -1;
        }

        json_object_foreach(v, key, child) {
            if (hookd_count_keys(child, depth + 1, out) != 0) {
                return -1;
            }
        }

    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            if (hookd_count_keys(child, depth + 1, out) != 0) {
                return -1;
            }
        }
    }

    return 0;
}


static int
hookd_validate_labels(json_t *labels, hookd_validation_t *out)
{
    size_t       klen;
    json_t      *value;
    const char  *key, *p;

    if (!json_is_object(labels)) {
        snprintf(out->message, sizeof(out->message),
                 "labels must be an object of string values");
        return -1;
    }

    if (json_object_size(labels) > HOOKD_MAX_LABELS) {
        snprintf(out->message, sizeof(out->message),
                 "labels has more than %d entries", HOOKD_MAX_LABELS);
        return -1;
    }

    json_object_foreach(labels, key, value) {
        klen = strlen(key);

        for (p = key; *p && hookd_label_key_char((unsigned char) *p); p++) {
            /* scan */
        }

        if (klen == 0 || klen > HOOKD_MAX_LABEL_KEY_LEN || *p != '\0') {
            snprintf(out->message, sizeof(out->message),
                     "label keys must match [A-Za-z0-9_.:/-]{1,%d}",
                     HOOKD_MAX_LABEL_KEY_LEN);
            return -1;
        }

        if (!json_is_string(value)) {
            snprintf(out->message, sizeof(out->message),
                     "labels.%s must be a string", key);
            return -1;
        }

        if (json_string_length(value) > HOOKD_MAX_LABEL_VALUE_LEN) {
            snprintf(out->message, sizeof(out->message),
                     "labels.%s is longer than %d characters", key,
                     HOOKD_MAX_LABEL_VALUE_LEN);
            return -1;
        }
    }

    return 0;
}


hookd_verdict_e
hookd_validate_event(const char *body, size_t len, hookd_validation_t *out)
{
    long           number;
    json_t        *root, *type, *payload, *labels, *value;
    const char    *key;
    json_error_t   err;

    out->verdict = HOOKD_INVALID_JSON;
    out->message[0] = '\0';

    if (hookd_json_depth(body, len, HOOKD_MAX_JSON_DEPTH) < 0) {
        snprintf(out->message, sizeof(out->message),
                 "JSON is nested deeper than %d levels",
                 HOOKD_MAX_JSON_DEPTH);
        return out->verdict;
    }

    root = json_loadb(body, len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &err);
    if (root == NULL) {
        snprintf(out->message, sizeof(out->message),
                 "malformed JSON at line %d, column %d: %s",
                 err.line, err.column, err.text);
        return out->verdict;
    }

    if (hookd_count_keys(root, 0, out) != 0) {
        goto done;
    }

    number = hookd_json_unstorable_number(body, len);
    if (number >= 0) {
        snprintf(out->message, sizeof(out->message),
                 "the number at byte %ld has more digits than PostgreSQL "
                 "stores (%d after the decimal point, %d before it, its "
                 "exponent counted); send it as a string", number + 1,
                 HOOKD_NUMERIC_MAX_SCALE, HOOKD_NUMERIC_MAX_WEIGHT);
        goto done;
    }

    out->verdict = HOOKD_INVALID_EVENT;

    if (!json_is_object(root)) {
        snprintf(out->message, sizeof(out->message),
                 "the body must be a JSON object with event_type and payload");
        goto done;
    }

    json_object_foreach(root, key, value) {
        if (strcmp(key, "event_type") != 0 && strcmp(key, "payload") != 0
            && strcmp(key, "labels") != 0)
        {
            snprintf(out->message, sizeof(out->message),
                     "unknown field \"%.64s\": expected event_type, payload"
                     " and optional labels", key);
            goto done;
        }
    }

    type = json_object_get(root, "event_type");
    if (!json_is_string(type)
        || !hookd_valid_event_type(json_string_value(type),
                                   json_string_length(type)))
    {
        snprintf(out->message, sizeof(out->message),
                 "event_type must be a string matching [A-Za-z0-9_.:-]{1,%d}",
                 HOOKD_MAX_EVENT_TYPE_LEN);
        goto done;
    }

    payload = json_object_get(root, "payload");
    if (!json_is_object(payload)) {
        snprintf(out->message, sizeof(out->message),
                 "payload must be a JSON object");
        goto done;
    }

    labels = json_object_get(root, "labels");
    if (labels != NULL && !json_is_null(labels)
        && hookd_validate_labels(labels, out) != 0)
    {
        goto done;
    }

    out->verdict = HOOKD_VALID;

done:

    json_decref(root);
    return out->verdict;
}
