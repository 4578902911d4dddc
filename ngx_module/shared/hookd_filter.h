/*
 * Endpoint payload filters (docs/routing.md): the JSON filter language of
 * Convoy and Hookdeck ($eq $ne $gt $gte $lt $lte $in $nin $exists $regex
 * $and $or $not, dotted paths into the payload, a bare value meaning $eq)
 * compiled once, when the endpoint is written, to a PostgreSQL jsonpath
 * predicate that the ingest fan-out evaluates (`payload @@ filter_path`).
 * Used by nginx's admin API and hookd's CLI alike.
 *
 * Semantics are MongoDB's: numbers compare as numbers (the string "150" is
 * not 150); a missing path fails $eq $gt… $in $regex and satisfies $ne $nin
 * and $exists: false; on an array, $eq and $in match when an element does,
 * $ne and $nin when no element does. Every clause compiles to exists() over
 * a jsonpath filter, true or false, never unknown, so $not and $nor-like
 * negations mean what they say.
 */

#ifndef HOOKD_FILTER_H
#define HOOKD_FILTER_H

#include <stddef.h>
#include <jansson.h>

#define HOOKD_FILTER_MAX_BYTES      4096   /* the filter as compact JSON */
#define HOOKD_FILTER_MAX_OPERATORS  64
#define HOOKD_FILTER_MAX_IN         256
#define HOOKD_FILTER_MAX_REGEX      256

/*
 * 0 and *out, the jsonpath (malloc'ed; NULL for {}, which matches every
 * payload); -1 and why: the path that is wrong and what to fix.
 */
int hookd_filter_compile(const json_t *filter, char **out, char *why,
    size_t why_size);

#endif /* HOOKD_FILTER_H */
