/*
 * The rule set's tables (hookd_classify_rules.c), for hookd_classify.c:
 * the named sources, the providers' fingerprints, the naming keys and the
 * vocabulary. Private to the classifier.
 */

#ifndef HOOKD_CLASSIFY_RULES_H
#define HOOKD_CLASSIFY_RULES_H

#include <stddef.h>

#include "hookd_classify.h"


typedef struct {
    const char     *word;
    unsigned char   weights[4];    /* category, weight, category, weight */
} hookd_word_t;

/* a clue: the string or value at a JSON pointer; value NULL: present */
typedef struct {
    const char  *pointer;
    const char  *prefix;
} hookd_clue_t;

typedef struct {
    const char        *name;
    int                category;      /* -1: none implied */
    hookd_clue_t       clues[2];
    const char        *inner;         /* a string whose words are keys */
} hookd_fingerprint_t;

typedef struct {
    const char  *name;
    int          category;
} hookd_source_rule_t;

extern const hookd_source_rule_t  hookd_sources[];
extern const hookd_fingerprint_t  hookd_providers[];
extern const char *const          hookd_naming_keys[];
extern const hookd_word_t         hookd_words[];
extern const size_t  hookd_nsources, hookd_nproviders, hookd_nnaming_keys,
                     hookd_nwords;

#endif /* HOOKD_CLASSIFY_RULES_H */
