#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "hookd_seal.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "sign.h"


#define HOOKD_NOTIFY_TIMEOUT_MS  30000


typedef struct {
    hookd_notify_t      *n;
    CURL                *easy;
    struct curl_slist   *list;      /* headers, or mail recipients */
    char                *payload;
    size_t               len, sent;
    int                  smtp;
    char                 errbuf[CURL_ERROR_SIZE];
} hookd_notify_transfer_t;

struct hookd_notify_s {
    hookd_http_t          *http;
    int                    pending;
    char                   error[512];
    hookd_notify_done_pt   done;
    void                  *data;
};


static void hookd_notify_finished(CURL *easy, CURLcode result, void *data);


hookd_notify_t *
hookd_notify_new(struct ev_loop *loop)
{
    hookd_notify_t  *n;

    n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return NULL;
    }

    /* a multi handle of its own: its transfers are not deliveries */
    n->http = hookd_http_new(loop, hookd_notify_finished, n);
    if (n->http == NULL) {
        free(n);
        return NULL;
    }

    return n;
}


void
hookd_notify_free(hookd_notify_t *n)
{
    if (n) {
        hookd_http_free(n->http);
        free(n);
    }
}


int
hookd_notify_configured(const hookd_config_t *conf)
{
    return conf->notify_url[0] || conf->notify_smtp_url[0];
}


static void
hookd_notify_transfer_free(hookd_notify_transfer_t *t)
{
    if (t->easy) {
        curl_easy_cleanup(t->easy);
    }

    curl_slist_free_all(t->list);
    free(t->payload);
    free(t);
}


static void
hookd_notify_finished(CURL *easy, CURLcode result, void *data)
{
    long                      status;
    hookd_notify_t           *n = data;
    hookd_notify_transfer_t  *t;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);

    status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

    if (result != CURLE_OK) {
        snprintf(n->error, sizeof(n->error), "%s: %s%s%s",
                 t->smtp ? "notify_smtp_url" : "notify_url",
                 curl_easy_strerror(result), t->errbuf[0] ? ": " : "",
                 t->errbuf);

    } else if (!t->smtp && (status < 200 || status > 299)) {
        snprintf(n->error, sizeof(n->error), "notify_url answered HTTP %ld",
                 status);
    }

    hookd_notify_transfer_free(t);

    if (--n->pending == 0) {
        if (n->error[0]) {
            hookd_log(HOOKD_LOG_WARN, "notification not sent: %s", n->error);
        }

        n->done(n->data, n->error[0] ? n->error : NULL);
    }
}


static size_t
hookd_notify_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    size_t                    len;
    hookd_notify_transfer_t  *t = userdata;

    len = t->len - t->sent;
    if (len > size * nitems) {
        len = size * nitems;
    }

    memcpy(buf, t->payload + t->sent, len);
    t->sent += len;

    return len;
}


static hookd_notify_transfer_t *
hookd_notify_transfer(hookd_notify_t *n, const hookd_config_t *conf,
    const char *url, char *payload)
{
    hookd_notify_transfer_t  *t;

    t = calloc(1, sizeof(*t));
    if (t == NULL || payload == NULL || (t->easy = curl_easy_init()) == NULL) {
        free(payload);
        free(t);
        return NULL;
    }

    t->n = n;
    t->payload = payload;
    t->len = strlen(payload);

    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS,
                     (long) HOOKD_NOTIFY_TIMEOUT_MS);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
    /* the operator's own address: no SSRF guard, but no environment proxy */
    curl_easy_setopt(t->easy, CURLOPT_PROXY, conf->proxy);
    if (conf->ca_file[0]) {
        curl_easy_setopt(t->easy, CURLOPT_CAINFO, conf->ca_file);
    }

    return t;
}


/* text for people: one line per notification */
static char *
hookd_notify_text(PGresult *rows, int *count)
{
    int      i, n, repeats;
    char    *text, *p;
    size_t   size;

    n = PQntuples(rows);
    size = 64;

    for (i = 0; i < n; i++) {
        size += PQgetlength(rows, i, 4) + 64;
    }

    text = malloc(size);
    if (text == NULL) {
        return NULL;
    }

    p = text;
    p += sprintf(p, "hookd: %d notification%s", n, n == 1 ? "" : "s");

    for (i = 0; i < n; i++) {
        repeats = atoi(PQgetvalue(rows, i, 5));
        p += sprintf(p, "\n- %s", PQgetvalue(rows, i, 4));

        if (repeats) {
            p += sprintf(p, " (and %d more like it)", repeats);
        }
    }

    *count = n;
    return text;
}


static char *
hookd_notify_json(PGresult *rows, const char *text)
{
    int      i;
    char    *out;
    json_t  *list, *doc;

    list = json_array();

    for (i = 0; i < PQntuples(rows); i++) {
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
            "id", PQgetvalue(rows, i, 0), "kind", PQgetvalue(rows, i, 1),
            "app_id", PQgetvalue(rows, i, 2),
            "endpoint_id", PQgetvalue(rows, i, 3),
            "message", PQgetvalue(rows, i, 4),
            "repeats", atoi(PQgetvalue(rows, i, 5)),
            "created_at", PQgetvalue(rows, i, 6)));
    }

    doc = json_pack("{s:s, s:o}", "text", text, "notifications", list);
    out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);

    return out;
}


static int
hookd_notify_post(hookd_notify_t *n, const hookd_config_t *conf,
    const char *id, const char *json)
{
    char                      sigs[HOOKD_SIGNATURES_LEN + 1];
    long                      len;
    long long                 ts;
    hookd_signing_key_t       key;
    hookd_notify_transfer_t  *t;

    len = hookd_secret_bytes(conf->notify_secret, key.bytes);
    key.len = (size_t) len;
    key.ed25519 = 0;
    ts = (long long) time(NULL);

    if (len < 0 || hookd_sign_all(&key, 1, id, ts, json, strlen(json), sigs)
                   != 0)
    {
        OPENSSL_cleanse(&key, sizeof(key));
        return -1;
    }

    OPENSSL_cleanse(&key, sizeof(key));

    t = hookd_notify_transfer(n, conf, conf->notify_url, strdup(json));
    if (t == NULL) {
        return -1;
    }

    t->list = hookd_sign_headers(id, ts, sigs);

    curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->payload);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long) t->len);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->list);
    curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");

    if (t->list == NULL || hookd_http_start(n->http, t->easy) != 0) {
        hookd_notify_transfer_free(t);
        return -1;
    }

    n->pending++;
    return 0;
}


static int
hookd_notify_mail(hookd_notify_t *n, const hookd_config_t *conf,
    const char *id, const char *text, int count)
{
    int                       i, r;
    char                      date[64], addr[300], *mail;
    size_t                    size;
    time_t                    now;
    const char               *p;
    struct tm                 tm;
    hookd_notify_transfer_t  *t;

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);

    size = strlen(text) * 2 + 1024 + HOOKD_MAX_RCPT * 260;
    mail = malloc(size);
    if (mail == NULL) {
        return -1;
    }

    /* headers, then the text with CRLF line ends (curl dot-stuffs it) */
    i = snprintf(mail, size, "Date: %s\r\nFrom: <%s>\r\nTo: ", date,
                 conf->notify_smtp_from);

    for (r = 0; r < conf->nnotify_smtp_to; r++) {
        i += snprintf(mail + i, size - i, "%s<%s>", r ? ", " : "",
                      conf->notify_smtp_to[r]);
    }

    i += snprintf(mail + i, size - i,
                  "\r\nSubject: hookd: %d notification%s\r\n"
                  "Message-ID: <%s@hookd>\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n\r\n",
                  count, count == 1 ? "" : "s", id);

    for (p = text; *p && (size_t) i < size - 3; p++) {
        if (*p == '\n') {
            mail[i++] = '\r';
        }
        mail[i++] = *p;
    }

    memcpy(mail + i, "\r\n", 3);

    t = hookd_notify_transfer(n, conf, conf->notify_smtp_url, mail);
    if (t == NULL) {
        return -1;
    }

    t->smtp = 1;

    for (i = 0; i < conf->nnotify_smtp_to; i++) {
        snprintf(addr, sizeof(addr), "<%s>", conf->notify_smtp_to[i]);
        t->list = curl_slist_append(t->list, addr);
    }

    snprintf(addr, sizeof(addr), "<%s>", conf->notify_smtp_from);
    curl_easy_setopt(t->easy, CURLOPT_MAIL_FROM, addr);
    curl_easy_setopt(t->easy, CURLOPT_MAIL_RCPT, t->list);
    curl_easy_setopt(t->easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(t->easy, CURLOPT_READFUNCTION, hookd_notify_read);
    curl_easy_setopt(t->easy, CURLOPT_READDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_INFILESIZE, (long) t->len);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    /*
     * smtp:// upgrades with STARTTLS, or sends nothing: mail names the
     * failing endpoints of every application, and the URL may hold the
     * server's password. Only notify_smtp_insecure sends it in clear text.
     */
    curl_easy_setopt(t->easy, CURLOPT_USE_SSL, conf->notify_smtp_insecure
                     ? (long) CURLUSESSL_TRY : (long) CURLUSESSL_ALL);

    if (t->list == NULL || hookd_http_start(n->http, t->easy) != 0) {
        hookd_notify_transfer_free(t);
        return -1;
    }

    n->pending++;
    return 0;
}


int
hookd_notify_send(hookd_notify_t *n, const hookd_config_t *conf,
    PGresult *rows, hookd_notify_done_pt done, void *data)
{
    int          count, failed;
    char        *text, *json;
    const char  *id;

    if (n->pending || PQntuples(rows) == 0) {
        return -1;
    }

    text = hookd_notify_text(rows, &count);
    json = text ? hookd_notify_json(rows, text) : NULL;

    if (json == NULL) {
        free(text);
        return -1;
    }

    /* the first notification names the message: webhook-id, Message-ID */
    id = PQgetvalue(rows, 0, 0);
    n->error[0] = '\0';
    n->done = done;
    n->data = data;
    failed = 0;

    if (conf->notify_url[0] && hookd_notify_post(n, conf, id, json) != 0) {
        failed = 1;
    }

    if (conf->notify_smtp_url[0]
        && hookd_notify_mail(n, conf, id, text, count) != 0)
    {
        failed = 1;
    }

    free(text);
    free(json);

    if (failed && n->pending == 0) {
        return -1;
    }

    if (failed) {
        snprintf(n->error, sizeof(n->error), "a channel could not be started");
    }

    return 0;
}
