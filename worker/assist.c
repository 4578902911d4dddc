#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "assist.h"
#include "hookd_classify.h"
#include "http.h"
#include "log.h"
#include "util.h"


#define HOOKD_ASSIST_TICK        2.0
#define HOOKD_ASSIST_RUNNING     4          /* requests under way at most */
#define HOOKD_ASSIST_MAX_ANSWER  (256 * 1024)
#define HOOKD_ASSIST_KEY_LEN     4096


typedef enum {
    HOOKD_ASK_CLASS = 0,    /* app, event type, fingerprint, event ids */
    HOOKD_ASK_WORDS,        /* app, kind, subject, input hash */
    HOOKD_ASK_SAMPLE        /* the same */
} hookd_ask_e;

typedef struct {
    hookd_assist_t      *as;
    CURL                *easy;
    struct curl_slist   *headers;
    char                *request;
    char                *answer;
    size_t               len;
    hookd_ask_e          ask;
    char                *fields[4];
    char                 errbuf[CURL_ERROR_SIZE];
} hookd_ask_t;

struct hookd_assist_s {
    struct ev_loop         *loop;
    hookd_store_t          *store;
    const hookd_config_t   *conf;
    hookd_http_t           *http;
    ev_timer                tick;
    char                    key[HOOKD_ASSIST_KEY_LEN];
    /* when each request of the last hour was sent, oldest first */
    ev_tstamp              *sent;
    int                     budget, head, count;
    int                     running;
    int                     busy;
    int                     stopped;
};


static const char  hookd_ask_class_prompt[] =
    "You classify webhook events for a webhook router. You are given an "
    "event's type, its sender when known, and the structure of its payload "
    "(keys with their types and sizes). Reply with a JSON object "
    "{\"category\": C} where C is exactly one of: billing, code, alerts, "
    "identity, commerce, messaging, infrastructure, other.";

static const char  hookd_ask_words_prompt[] =
    "You explain webhook delivery problems to the people who run the "
    "receiving service. Rewrite the report below in two to four plain "
    "sentences: what is failing, since when, what it costs, what to do. "
    "Keep every number and every fix exact and invent nothing. Reply with a "
    "JSON object {\"text\": T}.";

static const char  hookd_ask_sample_prompt[] =
    "You write realistic example payloads for webhook event types. Reply "
    "with a JSON object {\"sample\": S} where S is a payload valid against "
    "the JSON Schema given, with values a real event would carry.";


static void hookd_assist_tick(struct ev_loop *loop, ev_timer *w, int revents);
static void hookd_assist_done(CURL *easy, CURLcode result, void *data);


static void
hookd_assist_read_key(hookd_assist_t *as)
{
    FILE    *f;
    size_t   n;

    OPENSSL_cleanse(as->key, sizeof(as->key));

    if (as->conf->assist_key_file[0] == '\0') {
        return;
    }

    f = fopen(as->conf->assist_key_file, "r");
    if (f == NULL) {
        hookd_log(HOOKD_LOG_WARN, "assist: cannot read assist_key_file %s",
                  as->conf->assist_key_file);
        return;
    }

    n = fread(as->key, 1, sizeof(as->key) - 1, f);
    fclose(f);

    while (n > 0 && isspace((unsigned char) as->key[n - 1])) {
        n--;
    }
    as->key[n] = '\0';
}


/* the budget: room for the configured requests in any hour */
static int
hookd_assist_budget(hookd_assist_t *as)
{
    int        want;
    ev_tstamp  now, *sent;

    want = as->conf->assist_requests_per_hour;

    if (want != as->budget) {
        sent = calloc((size_t) want, sizeof(ev_tstamp));
        if (sent == NULL) {
            return 0;
        }

        /* a changed budget starts from what was sent, as far as it fits */
        while (as->count > want) {
            as->head = (as->head + 1) % as->budget;
            as->count--;
        }
        for (int i = 0; i < as->count; i++) {
            sent[i] = as->sent[(as->head + i) % as->budget];
        }

        free(as->sent);
        as->sent = sent;
        as->budget = want;
        as->head = 0;
    }

    now = ev_now(as->loop);

    while (as->count > 0 && as->sent[as->head] <= now - 3600) {
        as->head = (as->head + 1) % as->budget;
        as->count--;
    }

    return as->budget - as->count;
}


static void
hookd_assist_spend(hookd_assist_t *as)
{
    as->sent[(as->head + as->count) % as->budget] = ev_now(as->loop);
    as->count++;
}


hookd_assist_t *
hookd_assist_new(struct ev_loop *loop, hookd_store_t *store,
    const hookd_config_t *conf, int *failed)
{
    hookd_assist_t  *as;

    *failed = 0;

    if (conf->assist_url[0] == '\0') {
        return NULL;
    }

    as = calloc(1, sizeof(*as));
    if (as == NULL) {
        *failed = 1;
        return NULL;
    }

    as->loop = loop;
    as->store = store;
    as->conf = conf;

    /* a multi handle of its own: its requests are not deliveries */
    as->http = hookd_http_new(loop, hookd_assist_done, as);
    if (as->http == NULL) {
        free(as);
        *failed = 1;
        return NULL;
    }

    hookd_assist_read_key(as);

    ev_timer_init(&as->tick, hookd_assist_tick, 0.5, HOOKD_ASSIST_TICK);
    as->tick.data = as;
    ev_timer_start(loop, &as->tick);

    hookd_log(HOOKD_LOG_INFO, "assist: backend %s, model %s, %d requests an "
              "hour, %s", conf->assist_url, conf->assist_model,
              conf->assist_requests_per_hour,
              conf->assist_send_values ? "payload values sent"
                                       : "payload structure only");
    return as;
}


void
hookd_assist_reset(hookd_assist_t *as)
{
    if (as) {
        hookd_assist_read_key(as);
    }
}


void
hookd_assist_stop(hookd_assist_t *as)
{
    if (as) {
        as->stopped = 1;
        ev_timer_stop(as->loop, &as->tick);
    }
}


void
hookd_assist_free(hookd_assist_t *as)
{
    if (as == NULL) {
        return;
    }

    ev_timer_stop(as->loop, &as->tick);
    hookd_http_free(as->http);
    OPENSSL_cleanse(as->key, sizeof(as->key));
    free(as->sent);
    free(as);
}


static void
hookd_ask_free(hookd_ask_t *q)
{
    int  i;

    if (q->easy) {
        curl_easy_cleanup(q->easy);
    }

    curl_slist_free_all(q->headers);
    free(q->request);
    free(q->answer);

    for (i = 0; i < 4; i++) {
        free(q->fields[i]);
    }

    free(q);
}


static size_t
hookd_ask_write(char *buf, size_t size, size_t nitems, void *userdata)
{
    char         *grown;
    size_t        n;
    hookd_ask_t  *q = userdata;

    n = size * nitems;
    if (q->len + n > HOOKD_ASSIST_MAX_ANSWER) {
        return 0;                       /* too long an answer: dropped */
    }

    grown = realloc(q->answer, q->len + n + 1);
    if (grown == NULL) {
        return 0;
    }

    memcpy(grown + q->len, buf, n);
    q->answer = grown;
    q->len += n;
    q->answer[q->len] = '\0';

    return n;
}


/* Starts one chat-completions request: the system prompt and the user's
 * message (JSON, stolen). 0 if it runs. */
static int
hookd_ask_start(hookd_assist_t *as, hookd_ask_t *q, const char *prompt,
    json_t *message)
{
    char     url[1100], auth[HOOKD_ASSIST_KEY_LEN + 32], *text;
    size_t   n;
    json_t  *req;

    text = message ? json_dumps(message, JSON_COMPACT) : NULL;
    json_decref(message);

    req = text ? json_pack("{s:s, s:i, s:{s:s}, s:[{s:s, s:s}, {s:s, s:s}]}",
                           "model", as->conf->assist_model,
                           "temperature", 0,
                           "response_format", "type", "json_object",
                           "messages", "role", "system", "content", prompt,
                           "role", "user", "content", text)
               : NULL;
    free(text);

    q->request = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);

    q->easy = q->request ? curl_easy_init() : NULL;
    if (q->easy == NULL) {
        return -1;
    }

    n = strlen(as->conf->assist_url);
    while (n > 0 && as->conf->assist_url[n - 1] == '/') {
        n--;
    }
    snprintf(url, sizeof(url), "%.*s/chat/completions", (int) n,
             as->conf->assist_url);

    q->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (as->key[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", as->key);
        q->headers = curl_slist_append(q->headers, auth);
        OPENSSL_cleanse(auth, sizeof(auth));
    }

    curl_easy_setopt(q->easy, CURLOPT_URL, url);
    curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
    curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->headers);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->request);
    curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, hookd_ask_write);
    curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS,
                     (long) (as->conf->assist_timeout * 1000));
    curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(q->easy, CURLOPT_USERAGENT, "hookd/" HOOKD_VERSION);
    /* the operator's own address: no SSRF guard, but no environment proxy */
    curl_easy_setopt(q->easy, CURLOPT_PROXY, as->conf->proxy);
    if (as->conf->ca_file[0]) {
        curl_easy_setopt(q->easy, CURLOPT_CAINFO, as->conf->ca_file);
    }

    if (hookd_http_start(as->http, q->easy) != 0) {
        return -1;
    }

    hookd_assist_spend(as);
    as->running++;
    return 0;
}


/*
 * The JSON object the model wrote: choices[0].message.content, parsed
 * (a Markdown fence around it is taken off). NULL and *why when there is
 * none.
 */
static json_t *
hookd_ask_content(hookd_ask_t *q, const char **why)
{
    char        *s, *end;
    json_t      *doc, *content, *out;
    const char  *text;

    doc = q->answer ? json_loads(q->answer, 0, NULL) : NULL;
    content = json_object_get(json_object_get(json_array_get(
                  json_object_get(doc, "choices"), 0), "message"), "content");
    text = json_string_value(content);

    if (text == NULL) {
        *why = "no choices[0].message.content in the answer";
        json_decref(doc);
        return NULL;
    }

    s = strdup(text);
    json_decref(doc);
    if (s == NULL) {
        *why = "out of memory";
        return NULL;
    }

    text = s;
    if (strncmp(text, "```", 3) == 0) {
        text = strchr(text, '\n') ? strchr(text, '\n') + 1 : text + 3;
        end = strstr(text, "```");
        if (end) {
            *end = '\0';
        }
    }

    out = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    free(s);

    if (!json_is_object(out)) {
        *why = "the content is not a JSON object";
        json_decref(out);
        return NULL;
    }

    return out;
}


static void
hookd_ask_stored(void *data, PGresult *res)
{
    char  *what = data;

    if (res == NULL || PQntuples(res) != 1) {
        hookd_log(HOOKD_LOG_WARN, "assist: storing the answer about %s failed",
                  what);

    } else if (strcmp(PQgetvalue(res, 0, 0), "f") == 0
               || strcmp(PQgetvalue(res, 0, 0), "-1") == 0)
    {
        hookd_log(HOOKD_LOG_WARN, "assist: the answer about %s did not hold "
                  "and was not kept", what);

    } else {
        hookd_log(HOOKD_LOG_INFO, "assist: the answer about %s was kept (%s)",
                  what, PQgetvalue(res, 0, 0));
    }

    free(what);
}


static void
hookd_assist_done(CURL *easy, CURLcode result, void *data)
{
    long             status;
    char            *what, word[40];
    json_t          *answer, *v;
    const char      *why, *params[6];
    hookd_ask_t     *q;
    hookd_assist_t  *as = data;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &q);
    as->running--;

    status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

    why = NULL;
    answer = NULL;

    if (result != CURLE_OK) {
        why = curl_easy_strerror(result);
    } else if (status != 200) {
        why = "an HTTP status other than 200";
    } else {
        answer = hookd_ask_content(q, &why);
    }

    if (why) {
        hookd_log(HOOKD_LOG_WARN, "assist: the backend's answer about %s %s "
                  "is unusable: %s%s%s (HTTP %ld)", q->fields[1], q->fields[2],
                  why, q->errbuf[0] ? ": " : "", q->errbuf, status);
    }

    what = malloc(strlen(q->fields[1]) + strlen(q->fields[2]) + 2);
    if (what) {
        sprintf(what, "%s %s", q->fields[1], q->fields[2]);
    }

    if (q->ask == HOOKD_ASK_CLASS) {
        /* no usable category is stored as none: not asked again soon */
        v = json_object_get(answer, "category");
        params[3] = NULL;
        if (json_is_string(v)
            && hookd_category_parse(json_string_value(v),
                                    json_string_length(v)) >= 0)
        {
            params[3] = json_string_value(v);
        } else if (answer) {
            snprintf(word, sizeof(word), "%s",
                     json_is_string(v) ? json_string_value(v) : "(none)");
            hookd_printable(word, strlen(word), 0);
            hookd_log(HOOKD_LOG_WARN, "assist: \"%s\" is no category; %s "
                      "stays \"other\"", word, what ? what : "");
        }

        params[0] = q->fields[0];
        params[1] = q->fields[1];
        params[2] = q->fields[2];
        params[4] = as->conf->assist_model;
        params[5] = q->fields[3];

        if (what == NULL
            || hookd_store_exec(as->store, "hookd_assist_classified", 6,
                                params, hookd_ask_stored, what) != 0)
        {
            free(what);
        }

    } else if (answer) {
        params[0] = q->fields[0];
        params[1] = q->fields[1];
        params[2] = q->fields[2];
        params[3] = q->fields[3];
        params[4] = json_dumps(answer, JSON_COMPACT);
        params[5] = as->conf->assist_model;

        if (params[4] == NULL || what == NULL
            || hookd_store_exec(as->store, "hookd_assist_answered", 6,
                                params, hookd_ask_stored, what) != 0)
        {
            free(what);
        }
        free((char *) params[4]);

    } else {
        free(what);
    }

    json_decref(answer);
    hookd_ask_free(q);
}


static hookd_ask_t *
hookd_ask_new(hookd_assist_t *as, hookd_ask_e ask, PGresult *res, int row,
    const int cols[4])
{
    int           i;
    hookd_ask_t  *q;

    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return NULL;
    }

    q->as = as;
    q->ask = ask;

    for (i = 0; i < 4; i++) {
        q->fields[i] = strdup(PQgetvalue(res, row, cols[i]));
        if (q->fields[i] == NULL) {
            hookd_ask_free(q);
            return NULL;
        }
    }

    return q;
}


static void hookd_assist_wanted(void *data, PGresult *res);


/* how many requests the budget and those under way leave room for */
static int
hookd_assist_room(hookd_assist_t *as)
{
    int  room, free_slots;

    room = hookd_assist_budget(as);
    free_slots = HOOKD_ASSIST_RUNNING - as->running;

    room = room < free_slots ? room : free_slots;
    return room > 0 ? room : 0;
}


/* takes up to room things to ask about with stmt, for cb */
static void
hookd_assist_take(hookd_assist_t *as, const char *stmt, int room,
    hookd_store_result_pt cb)
{
    char         n[16];
    const char  *params[2];

    snprintf(n, sizeof(n), "%d", room);
    params[0] = n;
    params[1] = as->conf->assist_send_values ? "true" : "false";

    if (hookd_store_exec(as->store, stmt, 2, params, cb, as) != 0) {
        as->busy = 0;
    }
}


static void
hookd_assist_take_wanted(hookd_assist_t *as)
{
    int  room;

    room = hookd_assist_room(as);

    if (room == 0 || as->stopped) {
        as->busy = 0;
        return;
    }

    hookd_assist_take(as, "hookd_assist_take_wanted", room,
                      hookd_assist_wanted);
}


/* events' shapes to classify: o_app_id, o_event_type, o_fingerprint,
 * o_provider, o_structure, o_payload, o_event_ids */
static void
hookd_assist_events(void *data, PGresult *res)
{
    int              i;
    json_t          *msg;
    hookd_ask_t     *q;
    hookd_assist_t  *as = data;
    const int        cols[4] = { 0, 1, 2, 6 };

    for (i = 0; res && !as->stopped && i < PQntuples(res); i++) {
        q = hookd_ask_new(as, HOOKD_ASK_CLASS, res, i, cols);
        if (q == NULL) {
            break;
        }

        msg = json_pack("{s:s, s:s*, s:o*, s:o*}",
                        "event_type", PQgetvalue(res, i, 1),
                        "provider", PQgetisnull(res, i, 3)
                                    ? NULL : PQgetvalue(res, i, 3),
                        "payload_structure",
                        json_loads(PQgetvalue(res, i, 4), 0, NULL),
                        "payload", PQgetisnull(res, i, 5) ? NULL
                                   : json_loads(PQgetvalue(res, i, 5), 0, NULL));

        if (hookd_ask_start(as, q, hookd_ask_class_prompt, msg) != 0) {
            hookd_ask_free(q);
        }
    }

    hookd_assist_take_wanted(as);
}


/* words and samples to ask for: o_app_id, o_kind, o_subject, o_input,
 * o_input_hash */
static void
hookd_assist_wanted(void *data, PGresult *res)
{
    int              i, sample;
    json_t          *msg;
    hookd_ask_t     *q;
    hookd_assist_t  *as = data;
    const int        cols[4] = { 0, 1, 2, 4 };

    for (i = 0; res && !as->stopped && i < PQntuples(res); i++) {
        sample = strcmp(PQgetvalue(res, i, 1), "sample") == 0;
        q = hookd_ask_new(as, sample ? HOOKD_ASK_SAMPLE : HOOKD_ASK_WORDS,
                          res, i, cols);
        if (q == NULL) {
            break;
        }

        msg = json_loads(PQgetvalue(res, i, 3), 0, NULL);

        if (hookd_ask_start(as, q, sample ? hookd_ask_sample_prompt
                                          : hookd_ask_words_prompt, msg) != 0)
        {
            hookd_ask_free(q);
        }
    }

    as->busy = 0;
}


static void
hookd_assist_alive(void *data, PGresult *res)
{
    hookd_assist_t  *as = data;

    if (res == NULL || as->stopped) {
        as->busy = 0;
        return;
    }

    /* 0 still applies the answers already known to what is queued */
    hookd_assist_take(as, "hookd_assist_take_events", hookd_assist_room(as),
                      hookd_assist_events);
}


static void
hookd_assist_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    hookd_assist_t  *as = w->data;

    if (as->busy || as->stopped || !hookd_store_ready(as->store)) {
        return;
    }

    as->busy = 1;

    if (hookd_store_exec(as->store, "hookd_assist_alive", 0, NULL,
                         hookd_assist_alive, as) != 0)
    {
        as->busy = 0;
    }
}
