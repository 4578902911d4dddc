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


int
hookd_edit_distance(const char *a, const char *b, int max)
{
    int     row[65], diag, up, best, cost;
    size_t  i, j, la, lb;

    la = strlen(a);
    lb = strlen(b);

    if (la > 64 || lb > 64) {
        return max + 1;
    }

    for (j = 0; j <= lb; j++) {
        row[j] = (int) j;
    }

    for (i = 1; i <= la; i++) {
        diag = row[0];
        row[0] = (int) i;
        best = row[0];

        for (j = 1; j <= lb; j++) {
            up = row[j];
            cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = diag + cost;
            if (up + 1 < row[j]) {
                row[j] = up + 1;
            }
            if (row[j - 1] + 1 < row[j]) {
                row[j] = row[j - 1] + 1;
            }
            diag = up;
            best = row[j] < best ? row[j] : best;
        }

        if (best > max) {
            return max + 1;
        }
    }

    return row[lb] <= max ? row[lb] : max + 1;
}


/* s in the alphabet of types and label keys: others become _, cut to max */
static void
hookd_sanitize(const char *s, size_t len, size_t max, int slash, char *out)
{
    size_t  i;

    len = len < max ? len : max;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        out[i] = (char) (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                          || (c >= '0' && c <= '9') || c == '_' || c == '.'
                          || c == ':' || c == '-' || (slash && c == '/'))
                         ? c : '_');
    }

    out[len] = '\0';
}


/* a number or boolean as the producer wrote it (integers are read as reals) */
static int
hookd_scalar_text(json_t *v, char *buf, size_t size)
{
    double  d;

    if (json_is_boolean(v)) {
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
        return 0;
    }

    if (!json_is_number(v)) {
        return -1;
    }

    d = json_number_value(v);

    if (d == (double) (long long) d && d > -1e15 && d < 1e15) {
        snprintf(buf, size, "%lld", (long long) d);
    } else {
        snprintf(buf, size, "%.17g", d);
    }

    return 0;
}


/* what a top-level field of the body was probably meant to be, or NULL */
static const char *
hookd_meant_field(const char *key)
{
    size_t       i;
    const char  *fields[] = { "event_type", "payload", "labels" };
    const char  *synonyms[][2] = {
        { "type", "event_type" }, { "event", "event_type" },
        { "eventType", "event_type" }, { "name", "event_type" },
        { "data", "payload" }, { "body", "payload" }, { "tags", "labels" },
        { "metadata", "labels" },
    };

    for (i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++) {
        if (strcmp(key, synonyms[i][0]) == 0) {
            return synonyms[i][1];
        }
    }

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (hookd_edit_distance(key, fields[i], 3) <= 3) {
            return fields[i];
        }
    }

    return NULL;
}


/* jansson's complaint, said as what to change */
static void
hookd_json_hint(const json_error_t *err, size_t len, hookd_validation_t *out)
{
    const char  *hint;

    if (len == 0) {
        hint = "send a JSON object: {\"event_type\": \"invoice.paid\", "
               "\"payload\": {}}";

    } else if (strstr(err->text, "duplicate object key")) {
        hint = "send each key once in an object";

    } else if (strstr(err->text, "unable to decode byte")
               || strstr(err->text, "Unicode")
               || strstr(err->text, "\\u0000"))
    {
        hint = "encode the body as UTF-8; \\u0000 and unpaired surrogates "
               "(\\ud800 alone) cannot be stored";

    } else if (strstr(err->text, "end of file expected")) {
        hint = "send one JSON object; there is more text after it";

    } else if (strstr(err->text, "string or '}' expected")) {
        hint = "quote every key with double quotes, and remove a comma "
               "before a closing brace";

    } else if (strstr(err->text, "end of file")
               || strstr(err->text, "premature end of input"))
    {
        hint = "the body ends early: close every { and [ and send the "
               "whole document";

    } else if (strstr(err->text, "overflow")) {
        hint = "send a number this large in quotes, as a string";

    } else if (strstr(err->text, "control character")) {
        hint = "escape control characters in strings (\\n, \\t, \\u001f)";

    } else if (strstr(err->text, "invalid token")) {
        hint = "quote strings with double quotes and write true, false and "
               "null in lower case; JSON has no comments";

    } else {
        snprintf(out->hint, sizeof(out->hint),
                 "correct the JSON at line %d, column %d", err->line,
                 err->column);
        return;
    }

    snprintf(out->hint, sizeof(out->hint), "%s", hint);
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
            snprintf(out->hint, sizeof(out->hint),
                     "send a map this large as an array of entries, or split "
                     "the event");
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

    char         text[32], fixed[HOOKD_MAX_LABEL_KEY_LEN + 1];

    if (!json_is_object(labels)) {
        snprintf(out->message, sizeof(out->message),
                 "labels must be an object of string values");
        snprintf(out->hint, sizeof(out->hint),
                 "send labels as an object of strings, such as "
                 "{\"owner_id\": \"acme\"}");
        return -1;
    }

    if (json_object_size(labels) > HOOKD_MAX_LABELS) {
        snprintf(out->message, sizeof(out->message),
                 "labels has more than %d entries", HOOKD_MAX_LABELS);
        snprintf(out->hint, sizeof(out->hint),
                 "keep at most %d labels, the ones endpoints route on, and "
                 "move the others into the payload", HOOKD_MAX_LABELS);
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
            if (klen == 0) {
                snprintf(out->hint, sizeof(out->hint),
                         "give the label a name, such as \"owner_id\"");
            } else {
                hookd_sanitize(key, klen, HOOKD_MAX_LABEL_KEY_LEN, 1, fixed);
                snprintf(out->hint, sizeof(out->hint),
                         "use the key \"%s\"", fixed);
            }
            return -1;
        }

        if (!json_is_string(value)) {
            snprintf(out->message, sizeof(out->message),
                     "labels.%s must be a string", key);
            if (hookd_scalar_text(value, text, sizeof(text)) == 0) {
                snprintf(out->hint, sizeof(out->hint),
                         "send \"%s\": \"%s\"", key, text);
            } else {
                snprintf(out->hint, sizeof(out->hint),
                         "labels hold strings only; move \"%s\" into the "
                         "payload", key);
            }
            return -1;
        }

        if (json_string_length(value) > HOOKD_MAX_LABEL_VALUE_LEN) {
            snprintf(out->message, sizeof(out->message),
                     "labels.%s is longer than %d characters", key,
                     HOOKD_MAX_LABEL_VALUE_LEN);
            snprintf(out->hint, sizeof(out->hint),
                     "shorten labels.%s to %d characters, or move it into "
                     "the payload", key, HOOKD_MAX_LABEL_VALUE_LEN);
            return -1;
        }
    }

    return 0;
}


static void
hookd_event_type_hint(json_t *type, hookd_validation_t *out)
{
    char  text[32], fixed[HOOKD_MAX_EVENT_TYPE_LEN + 1];

    if (type == NULL || (json_is_string(type) && json_string_length(type) == 0)) {
        snprintf(out->hint, sizeof(out->hint),
                 "add \"event_type\": a name such as \"invoice.paid\" "
                 "(resource, a dot, what happened)");

    } else if (json_is_string(type)) {
        hookd_sanitize(json_string_value(type), json_string_length(type),
                       HOOKD_MAX_EVENT_TYPE_LEN, 0, fixed);
        snprintf(out->hint, sizeof(out->hint), "send \"event_type\": \"%s\"",
                 fixed);

    } else if (json_is_number(type)
               && hookd_scalar_text(type, text, sizeof(text)) == 0)
    {
        snprintf(out->hint, sizeof(out->hint),
                 "send the type as a string: \"event_type\": \"%s\"",
                 text);

    } else {
        snprintf(out->hint, sizeof(out->hint),
                 "event_type is one string, such as \"invoice.paid\"");
    }
}


static void
hookd_payload_hint(json_t *payload, hookd_validation_t *out)
{
    json_t  *inner;

    if (payload == NULL || json_is_null(payload)) {
        snprintf(out->hint, sizeof(out->hint),
                 "add \"payload\": {…} with the event's data (an object, "
                 "{} when there is none)");
        return;
    }

    if (json_is_string(payload)) {
        inner = json_loads(json_string_value(payload), 0, NULL);
        if (json_is_object(inner)) {
            snprintf(out->hint, sizeof(out->hint),
                     "send the object itself as payload, not a string that "
                     "holds its JSON text");
            json_decref(inner);
            return;
        }
        json_decref(inner);
    }

    snprintf(out->hint, sizeof(out->hint),
             "wrap the value in an object, such as \"payload\": "
             "{\"%s\": …}", json_is_array(payload) ? "items" : "value");
}


hookd_verdict_e
hookd_validate_event(const char *body, size_t len, hookd_validation_t *out)
{
    return hookd_validate_event_tree(body, len, out, NULL);
}


hookd_verdict_e
hookd_validate_event_tree(const char *body, size_t len,
    hookd_validation_t *out, json_t **tree)
{
    long           number;
    size_t         span;
    json_t        *root, *type, *payload, *labels, *value;
    const char    *key, *meant;
    json_error_t   err;

    out->verdict = HOOKD_INVALID_JSON;
    out->message[0] = '\0';
    out->hint[0] = '\0';

    if (hookd_json_depth(body, len, HOOKD_MAX_JSON_DEPTH) < 0) {
        snprintf(out->message, sizeof(out->message),
                 "JSON is nested deeper than %d levels",
                 HOOKD_MAX_JSON_DEPTH);
        snprintf(out->hint, sizeof(out->hint),
                 "flatten the payload to at most %d levels, or send its "
                 "deepest part as a JSON string", HOOKD_MAX_JSON_DEPTH);
        return out->verdict;
    }

    root = json_loadb(body, len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &err);
    if (root == NULL) {
        snprintf(out->message, sizeof(out->message),
                 "malformed JSON at line %d, column %d: %s",
                 err.line, err.column, err.text);
        hookd_json_hint(&err, len, out);
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
        for (span = 0; (size_t) number + span < len
                       && strchr("-+.eE0123456789", body[number + span])
                       && body[number + span] != '\0'; span++)
        {
            /* the number's characters */
        }
        snprintf(out->hint, sizeof(out->hint),
                 "send the number in quotes, as \"%.*s%s\"",
                 (int) (span > 40 ? 40 : span), body + number,
                 span > 40 ? "…" : "");
        goto done;
    }

    out->verdict = HOOKD_INVALID_EVENT;

    if (!json_is_object(root)) {
        snprintf(out->message, sizeof(out->message),
                 "the body must be a JSON object with event_type and payload");
        snprintf(out->hint, sizeof(out->hint),
                 "send {\"event_type\": \"invoice.paid\", \"payload\": "
                 "{…}}, with the event's data in payload");
        goto done;
    }

    json_object_foreach(root, key, value) {
        if (strcmp(key, "event_type") != 0 && strcmp(key, "payload") != 0
            && strcmp(key, "labels") != 0)
        {
            snprintf(out->message, sizeof(out->message),
                     "unknown field \"%.64s\": expected event_type, payload"
                     " and optional labels", key);
            meant = hookd_meant_field(key);
            if (meant != NULL && json_object_get(root, meant) == NULL) {
                snprintf(out->hint, sizeof(out->hint),
                         "rename \"%.64s\" to \"%s\"", key, meant);
            } else {
                snprintf(out->hint, sizeof(out->hint),
                         "move \"%.64s\" into payload, or leave it out", key);
            }
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
        hookd_event_type_hint(type, out);
        goto done;
    }

    payload = json_object_get(root, "payload");
    if (!json_is_object(payload)) {
        snprintf(out->message, sizeof(out->message),
                 "payload must be a JSON object");
        hookd_payload_hint(payload, out);
        goto done;
    }

    labels = json_object_get(root, "labels");
    if (labels != NULL && !json_is_null(labels)
        && hookd_validate_labels(labels, out) != 0)
    {
        goto done;
    }

    out->verdict = HOOKD_VALID;

    if (tree != NULL) {
        *tree = root;
        return out->verdict;
    }

done:

    json_decref(root);
    return out->verdict;
}
