/*
 * Validation of ingest request bodies, independent of nginx so that the
 * unit tests and fuzzers link it alone.
 */

#ifndef HOOKD_VALIDATE_H
#define HOOKD_VALIDATE_H

#include <stddef.h>
#include <jansson.h>

#define HOOKD_MAX_JSON_DEPTH       64
#define HOOKD_MAX_OBJECT_KEYS      1000
#define HOOKD_MAX_EVENT_TYPE_LEN   128
#define HOOKD_MAX_LABELS           32
#define HOOKD_MAX_LABEL_KEY_LEN    64
#define HOOKD_MAX_LABEL_VALUE_LEN  256
#define HOOKD_MAX_IDEMPOTENCY_LEN  255
/* what PostgreSQL's numeric (and so jsonb) stores at most */
#define HOOKD_NUMERIC_MAX_SCALE    16383    /* digits after the point */
#define HOOKD_NUMERIC_MAX_WEIGHT   131072   /* digits before it */

typedef enum {
    HOOKD_VALID = 0,
    HOOKD_INVALID_JSON,     /* 400 invalid_json */
    HOOKD_INVALID_EVENT     /* 400 invalid_event */
} hookd_verdict_e;

typedef struct {
    hookd_verdict_e  verdict;
    char             message[256];
    char             hint[320];      /* what to send instead (docs/assist.md) */
} hookd_validation_t;

/*
 * Checks an ingest body: well-formed UTF-8 JSON, nesting at most
 * HOOKD_MAX_JSON_DEPTH, at most HOOKD_MAX_OBJECT_KEYS keys per object, no
 * duplicate keys, and the event shape {"event_type", "payload", "labels"}.
 */
hookd_verdict_e hookd_validate_event(const char *body, size_t len,
    hookd_validation_t *out);

/*
 * The same, and when the body is valid and tree is not NULL, *tree is its
 * parsed document, for the caller to json_decref().
 */
hookd_verdict_e hookd_validate_event_tree(const char *body, size_t len,
    hookd_validation_t *out, json_t **tree);

/*
 * The offset of the first number in well-formed JSON text that PostgreSQL's
 * numeric cannot store (more than HOOKD_NUMERIC_MAX_SCALE digits after the
 * point once its exponent is applied, or HOOKD_NUMERIC_MAX_WEIGHT before
 * it), or -1 when every number can be stored.
 */
long hookd_json_unstorable_number(const char *text, size_t len);

/* Returns the nesting depth of JSON text, or -1 past max (strings aware). */
int hookd_json_depth(const char *text, size_t len, int max);

int hookd_valid_event_type(const char *s, size_t len);

/*
 * Levenshtein distance between a and b, counting at most max (a larger
 * distance is max + 1); names longer than 64 bytes are max + 1 away.
 */
int hookd_edit_distance(const char *a, const char *b, int max);
int hookd_valid_idempotency_key(const char *s, size_t len);

#endif /* HOOKD_VALIDATE_H */
