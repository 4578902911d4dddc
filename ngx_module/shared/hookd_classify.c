/*
 * The rule set of docs/assist.md, "Classification". Two steps:
 *
 * 1. The provider: the source's, when it is one hookd verifies by name;
 *    otherwise the first fingerprint of hookd_providers whose clues all hold
 *    (the tables are in hookd_classify_rules.c)
 *    (keys a provider always sends, a prefix its ids carry); else "custom".
 *    A provider may imply a category (Stripe: billing), scored as a prior.
 * 2. The category: the event type's words, the payload's keys (three levels
 *    down, the first element of an array) and the values of a few naming
 *    keys (type, object, topic, …) are cut into words (at punctuation and
 *    camelCase, lower-cased, a plural's s dropped) and looked up in
 *    hookd_words (by hash); each distinct word scores once per place it
 *    was found, three times over in the type, twice in a naming value. The best score
 *    of at least HOOKD_CLASSIFY_MIN wins; a tie goes to the provider's
 *    category, else to "other". An envelope (AWS SNS) has its message's
 *    keys counted (or its first words, when not JSON): its own keys say
 *    only that it is a message.
 *
 * Tuned on tests/classify/tuning.jsonl only; the unit test reports the
 * accuracy on the held-out half.
 */

#include <stdint.h>
#include <string.h>

#include "hookd_classify_rules.h"


#define HOOKD_CLASSIFY_MIN         3
#define HOOKD_CLASSIFY_PRIOR       8
#define HOOKD_CLASSIFY_DEPTH       3
#define HOOKD_CLASSIFY_MAX_KEYS    256
#define HOOKD_CLASSIFY_WORD_LEN    32
#define HOOKD_CLASSIFY_SEEN        512     /* a power of two */
#define HOOKD_CLASSIFY_TABLE       1024    /* a power of two, 3x the words */
#define HOOKD_CLASSIFY_NAMING      64      /* a power of two, 2x the keys */
#define HOOKD_CLASSIFY_LONGEST     16      /* no word or naming key is longer */
#define HOOKD_CLASSIFY_INNER       1024    /* words of a text message */
#define HOOKD_CLASSIFY_INNER_JSON  65536   /* a JSON message parsed */

/* where a word was found, and what it weighs there */
#define HOOKD_IN_KEY    1
#define HOOKD_IN_VALUE  2
#define HOOKD_IN_TYPE   3


typedef struct {
    int       score[HOOKD_CATEGORY_N];
    uint32_t  seen[HOOKD_CLASSIFY_SEEN];
    int       keys;
} hookd_tally_t;


static const char *hookd_category_names[HOOKD_CATEGORY_N] = {
    "other", "billing", "code", "alerts", "identity", "commerce",
    "messaging", "infrastructure"
};



const char *
hookd_category_name(hookd_category_e category)
{
    return (unsigned) category < HOOKD_CATEGORY_N
           ? hookd_category_names[category] : "other";
}


int
hookd_category_parse(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < HOOKD_CATEGORY_N; i++) {
        if (strlen(hookd_category_names[i]) == len
            && memcmp(hookd_category_names[i], name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


int
hookd_classify_check_tables(void)
{
    size_t  i;

    for (i = 0; i < hookd_nwords; i++) {
        if ((i > 0 && strcmp(hookd_words[i - 1].word, hookd_words[i].word) >= 0)
            || strlen(hookd_words[i].word) > HOOKD_CLASSIFY_LONGEST)
        {
            return -1;
        }
    }

    if (3 * i > HOOKD_CLASSIFY_TABLE) {
        return -1;
    }

    for (i = 1; i < hookd_nnaming_keys; i++) {
        if (strcmp(hookd_naming_keys[i - 1], hookd_naming_keys[i]) >= 0) {
            return -1;
        }
    }

    return 0;
}


/* the value at a JSON pointer of plain segments (no ~ escapes) */
static json_t *
hookd_pointer(json_t *v, const char *pointer)
{
    char         seg[64];
    size_t       n;
    const char  *next;

    while (v != NULL && *pointer == '/') {
        pointer++;
        next = strchr(pointer, '/');
        n = next ? (size_t) (next - pointer) : strlen(pointer);

        if (n >= sizeof(seg)) {
            return NULL;
        }

        memcpy(seg, pointer, n);
        seg[n] = '\0';
        pointer += n;

        if (json_is_array(v)) {
            v = (seg[0] >= '0' && seg[0] <= '9' && seg[1] == '\0')
                ? json_array_get(v, seg[0] - '0') : NULL;

        } else {
            v = json_object_get(v, seg);
        }
    }

    return v;
}


static int
hookd_clue_holds(json_t *payload, const hookd_clue_t *clue)
{
    json_t  *v;

    if (clue->pointer == NULL) {
        return 1;
    }

    v = hookd_pointer(payload, clue->pointer);

    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    if (clue->prefix == NULL) {
        return 1;
    }

    return json_is_string(v)
           && strncmp(json_string_value(v), clue->prefix,
                      strlen(clue->prefix)) == 0;
}


/*
 * hookd_words by the FNV-1a hash of each word, built on first use (nginx's
 * workers and hookd's loop are single-threaded; the table is the same for
 * whoever builds it): a word costs a hash, not a binary search.
 */
static uint32_t        hookd_word_hashes[HOOKD_CLASSIFY_TABLE];
static unsigned short  hookd_word_slots[HOOKD_CLASSIFY_TABLE];
static uint32_t        hookd_naming_hashes[HOOKD_CLASSIFY_NAMING];
static int             hookd_word_table_built;


static uint32_t
hookd_word_hash(const char *word, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;
    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) word[i]) * 16777619u;
    }

    return h;
}


static void
hookd_word_table(void)
{
    size_t    i, slot;
    uint32_t  h;

    for (i = 0; i < hookd_nnaming_keys; i++) {
        h = hookd_word_hash(hookd_naming_keys[i], strlen(hookd_naming_keys[i]))
            | 1;

        for (slot = h & (HOOKD_CLASSIFY_NAMING - 1); hookd_naming_hashes[slot];
             slot = (slot + 1) & (HOOKD_CLASSIFY_NAMING - 1))
        {
            /* probe */
        }

        hookd_naming_hashes[slot] = h;
    }

    for (i = 0; i < hookd_nwords; i++) {
        h = hookd_word_hash(hookd_words[i].word, strlen(hookd_words[i].word));

        for (slot = h & (HOOKD_CLASSIFY_TABLE - 1); hookd_word_slots[slot];
             slot = (slot + 1) & (HOOKD_CLASSIFY_TABLE - 1))
        {
            /* probe */
        }

        hookd_word_hashes[slot] = h;
        hookd_word_slots[slot] = (unsigned short) (i + 1);
    }
}


/* a key of hookd_naming_keys, by hash (and then by name) */
static int
hookd_naming_key(const char *key)
{
    size_t    i, slot, len;
    uint32_t  h;

    len = strlen(key);
    if (len > HOOKD_CLASSIFY_LONGEST) {
        return 0;
    }

    h = hookd_word_hash(key, len) | 1;

    for (slot = h & (HOOKD_CLASSIFY_NAMING - 1); hookd_naming_hashes[slot];
         slot = (slot + 1) & (HOOKD_CLASSIFY_NAMING - 1))
    {
        if (hookd_naming_hashes[slot] != h) {
            continue;
        }

        for (i = 0; i < hookd_nnaming_keys; i++) {
            if (strcmp(key, hookd_naming_keys[i]) == 0) {
                return 1;
            }
        }
    }

    return 0;
}


static const hookd_word_t *
hookd_word_find(const char *word, size_t len, uint32_t h)
{
    size_t              slot;
    const hookd_word_t  *w;

    for (slot = h & (HOOKD_CLASSIFY_TABLE - 1); hookd_word_slots[slot];
         slot = (slot + 1) & (HOOKD_CLASSIFY_TABLE - 1))
    {
        w = &hookd_words[hookd_word_slots[slot] - 1];

        if (hookd_word_hashes[slot] == h && strncmp(w->word, word, len) == 0
            && w->word[len] == '\0')
        {
            return w;
        }
    }

    return NULL;
}


/* a word found where it weighs `place`: scored once per place */
static void
hookd_tally_word(hookd_tally_t *t, char *word, size_t len, int place)
{
    size_t               i;
    uint32_t             h, seen;
    const hookd_word_t  *w;

    if (len < 2) {
        return;
    }

    /* plurals: orders, alerts, identities; not status, address, analysis */
    if (len > 4 && word[len - 1] == 's' && word[len - 2] == 'e'
        && word[len - 3] == 'i')
    {
        word[len - 3] = 'y';
        len -= 2;

    } else if (len > 3 && word[len - 1] == 's' && word[len - 2] != 's'
               && word[len - 2] != 'u' && word[len - 2] != 'i')
    {
        len--;
    }

    if (len > HOOKD_CLASSIFY_LONGEST) {
        return;
    }

    h = hookd_word_hash(word, len);

    /* seen once per place; 0 marks an empty slot */
    seen = ((h * 31u) + (uint32_t) place) | 1;

    for (i = seen & (HOOKD_CLASSIFY_SEEN - 1); t->seen[i] != 0;
         i = (i + 1) & (HOOKD_CLASSIFY_SEEN - 1))
    {
        if (t->seen[i] == seen) {
            return;
        }
    }

    t->seen[i] = seen;

    w = hookd_word_find(word, len, h);
    if (w == NULL) {
        return;
    }

    t->score[w->weights[0]] += w->weights[1] * place;
    t->score[w->weights[2]] += w->weights[3] * place;
}


/* cuts s at punctuation and at camelCase humps into lower-case words */
static void
hookd_tally_words(hookd_tally_t *t, const char *s, size_t len, int place)
{
    char    word[HOOKD_CLASSIFY_WORD_LEN + 1];
    size_t  i, n;
    int     c, prev_lower;

    n = 0;
    prev_lower = 0;

    for (i = 0; i <= len; i++) {
        c = i < len ? (unsigned char) s[i] : 0;

        if ((c >= 'A' && c <= 'Z') && prev_lower && n > 0) {
            hookd_tally_word(t, word, n, place);
            n = 0;
        }

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            prev_lower = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

            if (n < HOOKD_CLASSIFY_WORD_LEN) {
                word[n++] = (char) (c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            continue;
        }

        prev_lower = 0;

        if (n > 0) {
            hookd_tally_word(t, word, n, place);
            n = 0;
        }
    }
}


static void
hookd_tally_keys(hookd_tally_t *t, json_t *v, int depth)
{
    json_t      *child;
    const char  *key;

    if (json_is_array(v)) {
        v = json_array_get(v, 0);
    }

    if (!json_is_object(v) || depth > HOOKD_CLASSIFY_DEPTH) {
        return;
    }

    json_object_foreach(v, key, child) {
        if (++t->keys > HOOKD_CLASSIFY_MAX_KEYS) {
            return;
        }

        hookd_tally_words(t, key, strlen(key), HOOKD_IN_KEY);

        if (json_is_string(child)) {
            if (json_string_length(child) <= 64 && hookd_naming_key(key)) {
                hookd_tally_words(t, json_string_value(child),
                                  json_string_length(child), HOOKD_IN_VALUE);
            }

        } else {
            hookd_tally_keys(t, child, depth + 1);
        }
    }
}


/* an envelope's message: its keys when it is JSON, else its first words */
static void
hookd_tally_inner(hookd_tally_t *t, const char *text, size_t len)
{
    json_t  *doc;

    doc = len <= HOOKD_CLASSIFY_INNER_JSON && len > 0 && text[0] == '{'
          ? json_loadb(text, len, JSON_DECODE_INT_AS_REAL, NULL) : NULL;

    if (doc != NULL) {
        hookd_tally_keys(t, doc, 1);
        json_decref(doc);
        return;
    }

    hookd_tally_words(t, text, len < HOOKD_CLASSIFY_INNER
                               ? len : HOOKD_CLASSIFY_INNER, HOOKD_IN_KEY);
}


void
hookd_classify_event(const char *source, const char *event_type, size_t type_len,
    json_t *payload, hookd_event_class_t *out)
{
    int            i, best, prior;
    size_t         k;
    json_t        *inner;
    hookd_tally_t  t;

    if (!hookd_word_table_built) {
        hookd_word_table();
        hookd_word_table_built = 1;
    }

    out->provider = "custom";
    prior = -1;
    inner = NULL;

    for (k = 0; source && k < hookd_nsources;
         k++)
    {
        if (strcmp(source, hookd_sources[k].name) == 0) {
            out->provider = hookd_sources[k].name;
            prior = hookd_sources[k].category;
            break;
        }
    }

    if (prior < 0 && json_is_object(payload)) {
        for (k = 0; k < hookd_nproviders;
             k++)
        {
            if (hookd_clue_holds(payload, &hookd_providers[k].clues[0])
                && hookd_clue_holds(payload, &hookd_providers[k].clues[1]))
            {
                out->provider = hookd_providers[k].name;
                prior = hookd_providers[k].category;
                inner = hookd_providers[k].inner
                        ? hookd_pointer(payload, hookd_providers[k].inner)
                        : NULL;
                break;
            }
        }
    }

    memset(&t, 0, sizeof(t));

    if (prior >= 0) {
        t.score[prior] += HOOKD_CLASSIFY_PRIOR;
    }

    hookd_tally_words(&t, event_type, type_len, HOOKD_IN_TYPE);
    hookd_tally_keys(&t, payload, 1);

    if (json_is_string(inner)) {
        hookd_tally_inner(&t, json_string_value(inner),
                          json_string_length(inner));
    }

    best = HOOKD_CATEGORY_OTHER;

    for (i = 1; i < HOOKD_CATEGORY_N; i++) {
        if (t.score[i] > t.score[best]
            || (t.score[i] == t.score[best] && i == prior))
        {
            best = i;
        }
    }

    /* a tie with the best that is not the provider's: nobody wins */
    for (i = 0; i < HOOKD_CATEGORY_N; i++) {
        if (i != best && best != prior && t.score[i] == t.score[best]) {
            best = prior >= 0 ? prior : HOOKD_CATEGORY_OTHER;
            break;
        }
    }

    if (t.score[best] < HOOKD_CLASSIFY_MIN) {
        best = HOOKD_CATEGORY_OTHER;
    }

    out->category = (hookd_category_e) best;
}
