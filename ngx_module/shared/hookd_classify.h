/*
 * Classification at ingest (docs/assist.md): the labels hookd.provider and
 * hookd.category of an event, from its source's provider, the words of its
 * type and the keys of its payload. A rule set, deterministic and cheap
 * enough for the ingest path; independent of nginx so that hookd, the unit
 * tests and the fuzzers link it alone.
 */

#ifndef HOOKD_CLASSIFY_H
#define HOOKD_CLASSIFY_H

#include <stddef.h>
#include <jansson.h>

typedef enum {
    HOOKD_CATEGORY_OTHER = 0,
    HOOKD_CATEGORY_BILLING,
    HOOKD_CATEGORY_CODE,
    HOOKD_CATEGORY_ALERTS,
    HOOKD_CATEGORY_IDENTITY,
    HOOKD_CATEGORY_COMMERCE,
    HOOKD_CATEGORY_MESSAGING,
    HOOKD_CATEGORY_INFRASTRUCTURE,
    HOOKD_CATEGORY_N
} hookd_category_e;

typedef struct {
    const char        *provider;   /* static: "stripe", … or "custom" */
    hookd_category_e   category;
} hookd_event_class_t;

/*
 * source: the provider of the hookd source the event came through
 * ("stripe", "github", "hmac", …), or NULL for POST /v1/events.
 * payload: the event's payload (an object; anything else is "other").
 */
void hookd_classify_event(const char *source, const char *event_type,
    size_t type_len, json_t *payload, hookd_event_class_t *out);

const char *hookd_category_name(hookd_category_e category);

/* the category named name (of len bytes), or -1 */
int hookd_category_parse(const char *name, size_t len);

/* 0 when the rule tables are in the order hookd_classify relies on */
int hookd_classify_check_tables(void);

#endif /* HOOKD_CLASSIFY_H */
