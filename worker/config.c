#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "hookd_seal.h"
#include "util.h"


typedef enum {
    HOOKD_T_STR, HOOKD_T_INT, HOOKD_T_SECONDS, HOOKD_T_BOOL, HOOKD_T_CIDR,
    HOOKD_T_LEVEL, HOOKD_T_RCPT
} hookd_type_e;

typedef struct {
    const char    *key;
    hookd_type_e   type;
    size_t         offset;
    size_t         size;       /* strings */
    double         min, max;   /* numbers */
} hookd_param_t;

#define HOOKD_OFF(f)  offsetof(hookd_config_t, f)

static const hookd_param_t  hookd_params[] = {
    { "database", HOOKD_T_STR, HOOKD_OFF(database), 1024, 0, 0 },
    { "secret_key_file", HOOKD_T_STR, HOOKD_OFF(secret_key_file), 1024, 0, 0 },
    { "worker_id", HOOKD_T_STR, HOOKD_OFF(worker_id), 128, 0, 0 },
    { "concurrency", HOOKD_T_INT, HOOKD_OFF(concurrency), 0, 1, 100000 },
    { "claim_batch", HOOKD_T_INT, HOOKD_OFF(claim_batch), 0, 1, 1000 },
    { "lease", HOOKD_T_SECONDS, HOOKD_OFF(lease_seconds), 0, 1, 86400 },
    { "poll_interval", HOOKD_T_SECONDS, HOOKD_OFF(poll_interval), 0, 0.01, 3600 },
    { "drain_timeout", HOOKD_T_SECONDS, HOOKD_OFF(drain_timeout), 0, 0, 3600 },
    { "replan_interval", HOOKD_T_SECONDS, HOOKD_OFF(replan_interval), 0, 0.1,
      86400 },
    { "allow_private_networks", HOOKD_T_BOOL,
      HOOKD_OFF(allow_private_networks), 0, 0, 0 },
    { "allow_network", HOOKD_T_CIDR, 0, 0, 0, 0 },
    { "proxy", HOOKD_T_STR, HOOKD_OFF(proxy), 512, 0, 0 },
    { "ca_file", HOOKD_T_STR, HOOKD_OFF(ca_file), 1024, 0, 0 },
    { "metrics_listen", HOOKD_T_STR, HOOKD_OFF(metrics_listen), 128, 0, 0 },
    { "log_level", HOOKD_T_LEVEL, HOOKD_OFF(log_level), 0, 0, 0 },
    { "housekeeping_interval", HOOKD_T_SECONDS,
      HOOKD_OFF(housekeeping_interval), 0, 0.1, 86400 },
    { "notify_url", HOOKD_T_STR, HOOKD_OFF(notify_url), 1024, 0, 0 },
    { "notify_secret", HOOKD_T_STR, HOOKD_OFF(notify_secret), 128, 0, 0 },
    { "notify_smtp_url", HOOKD_T_STR, HOOKD_OFF(notify_smtp_url), 1024, 0, 0 },
    { "notify_smtp_from", HOOKD_T_STR, HOOKD_OFF(notify_smtp_from), 256, 0, 0 },
    { "notify_smtp_to", HOOKD_T_RCPT, 0, 256, 0, 0 },
    { "notify_smtp_insecure", HOOKD_T_BOOL, HOOKD_OFF(notify_smtp_insecure),
      0, 0, 0 },
    { "dead_letter_threshold", HOOKD_T_INT, HOOKD_OFF(dead_letter_threshold),
      0, 0, 100000000 },
    { "dead_letter_window", HOOKD_T_SECONDS, HOOKD_OFF(dead_letter_window),
      0, 1, 30 * 86400 },
    { "retention", HOOKD_T_SECONDS, HOOKD_OFF(retention), 0, 0,
      100 * 365 * 86400.0 },
    { "assist_url", HOOKD_T_STR, HOOKD_OFF(assist_url), 1024, 0, 0 },
    { "assist_model", HOOKD_T_STR, HOOKD_OFF(assist_model), 128, 0, 0 },
    { "assist_key_file", HOOKD_T_STR, HOOKD_OFF(assist_key_file), 1024, 0, 0 },
    { "assist_requests_per_hour", HOOKD_T_INT,
      HOOKD_OFF(assist_requests_per_hour), 0, 1, 10000 },
    { "assist_send_values", HOOKD_T_BOOL, HOOKD_OFF(assist_send_values), 0, 0,
      0 },
    { "assist_timeout", HOOKD_T_SECONDS, HOOKD_OFF(assist_timeout), 0, 0.1,
      300 },
};


static void
hookd_config_defaults(hookd_config_t *c)
{
    char  host[64];

    memset(c, 0, sizeof(*c));
    c->concurrency = 256;
    c->claim_batch = 50;
    c->lease_seconds = 60;
    c->poll_interval = 1;
    c->drain_timeout = 30;
    c->replan_interval = 10;
    c->log_level = HOOKD_LOG_INFO;
    c->housekeeping_interval = 60;
    c->dead_letter_threshold = 100;
    c->dead_letter_window = 3600;
    c->assist_requests_per_hour = 60;
    c->assist_timeout = 10;

    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "hookd");
    }
    host[sizeof(host) - 1] = '\0';
    snprintf(c->worker_id, sizeof(c->worker_id), "%s:%d", host, (int) getpid());
}


static int
hookd_config_set(hookd_config_t *c, const char *key, const char *val,
    const char *where)
{
    char                 *end;
    double                d;
    size_t                i;
    const hookd_param_t  *p;

    for (i = 0; i < sizeof(hookd_params) / sizeof(hookd_params[0]); i++) {
        p = &hookd_params[i];

        if (strcmp(p->key, key) != 0) {
            continue;
        }

        switch (p->type) {

        case HOOKD_T_STR:
            if (strlen(val) >= p->size) {
                hookd_fail("bad_config", "%s: %s is too long", where, key);
                return -1;
            }
            strcpy((char *) c + p->offset, val);
            return 0;

        case HOOKD_T_INT:
        case HOOKD_T_SECONDS:
            errno = 0;
            d = strtod(val, &end);
            if (p->type == HOOKD_T_SECONDS && strcmp(end, "ms") == 0) {
                d /= 1000;
                end += 2;
            } else if (p->type == HOOKD_T_SECONDS && *end && end[1] == '\0'
                       && strchr("smhd", *end))
            {
                d *= (*end == 'm') ? 60 : (*end == 'h') ? 3600
                     : (*end == 'd') ? 86400 : 1;
                end++;
            }
            if (errno || end == val || *end != '\0' || d < p->min
                || d > p->max
                || (p->type == HOOKD_T_INT && d != (double) (int) d))
            {
                hookd_fail("bad_config", "%s: %s takes a %s from %g to %g, "
                           "not \"%s\"", where, key,
                           p->type == HOOKD_T_INT ? "whole number"
                           : "duration in seconds (500ms, 5s, 10m, 2h, 30d)",
                           p->min, p->max, val);
                return -1;
            }
            if (p->type == HOOKD_T_INT) {
                *(int *) ((char *) c + p->offset) = (int) d;
            } else {
                *(double *) ((char *) c + p->offset) = d;
            }
            return 0;

        case HOOKD_T_BOOL:
            if (strcmp(val, "on") == 0 || strcmp(val, "true") == 0
                || strcmp(val, "yes") == 0)
            {
                *(int *) ((char *) c + p->offset) = 1;
            } else if (strcmp(val, "off") == 0 || strcmp(val, "false") == 0
                       || strcmp(val, "no") == 0)
            {
                *(int *) ((char *) c + p->offset) = 0;
            } else {
                hookd_fail("bad_config", "%s: %s is on or off, not \"%s\"",
                           where, key, val);
                return -1;
            }
            return 0;

        case HOOKD_T_CIDR:
            if (c->nallow == HOOKD_MAX_ALLOW
                || hookd_cidr_parse(val, &c->allow[c->nallow]) != 0)
            {
                hookd_fail("bad_config", "%s: allow_network takes an address "
                           "or CIDR such as 127.0.0.1/32 or fd00::/8 (at most "
                           "%d), not \"%s\"", where, HOOKD_MAX_ALLOW, val);
                return -1;
            }
            c->nallow++;
            return 0;

        case HOOKD_T_RCPT:
            if (c->nnotify_smtp_to == HOOKD_MAX_RCPT
                || strlen(val) >= p->size || strchr(val, '@') == NULL
                || strpbrk(val, "<>\r\n ,") != NULL)
            {
                hookd_fail("bad_config", "%s: notify_smtp_to takes one mail "
                           "address per line (at most %d), not \"%s\"",
                           where, HOOKD_MAX_RCPT, val);
                return -1;
            }
            strcpy(c->notify_smtp_to[c->nnotify_smtp_to++], val);
            return 0;

        case HOOKD_T_LEVEL:
            if (hookd_log_level_parse(val,
                    (hookd_log_level_e *) ((char *) c + p->offset)) != 0)
            {
                hookd_fail("bad_config", "%s: log_level is error, warn, info "
                           "or debug, not \"%s\"", where, val);
                return -1;
            }
            return 0;
        }
    }

    hookd_fail("bad_config", "%s: unknown key \"%s\"", where, key);
    return -1;
}


/* notifications go out signed, and mail needs a sender and recipients */
static int
hookd_config_check_notify(const hookd_config_t *c)
{
    unsigned char  raw[HOOKD_SECRET_MAX];

    if (c->notify_url[0]
        && strncasecmp(c->notify_url, "http://", 7) != 0
        && strncasecmp(c->notify_url, "https://", 8) != 0)
    {
        hookd_fail("bad_config", "notify_url must be an http:// or https:// "
                   "URL");
        return -1;
    }

    if (c->notify_url[0] && hookd_secret_bytes(c->notify_secret, raw) < 0) {
        hookd_fail("bad_config", "notify_url needs notify_secret, a whsec_ "
                   "secret (whsec_ and the base64 of 24 to 64 random bytes) "
                   "that signs notifications like deliveries");
        return -1;
    }

    if (c->notify_smtp_url[0]
        && ((strncasecmp(c->notify_smtp_url, "smtp://", 7) != 0
             && strncasecmp(c->notify_smtp_url, "smtps://", 8) != 0)
            || c->notify_smtp_from[0] == '\0' || c->nnotify_smtp_to == 0))
    {
        hookd_fail("bad_config", "notify_smtp_url takes smtp:// or smtps:// "
                   "and needs notify_smtp_from and at least one "
                   "notify_smtp_to");
        return -1;
    }

    return 0;
}


/* a backend is a URL and a model; its key file must be readable */
static int
hookd_config_check_assist(const hookd_config_t *c)
{
    FILE  *f;

    if (c->assist_url[0] == '\0') {
        return 0;
    }

    if ((strncasecmp(c->assist_url, "http://", 7) != 0
         && strncasecmp(c->assist_url, "https://", 8) != 0)
        || c->assist_model[0] == '\0')
    {
        hookd_fail("bad_config", "assist_url must be an http:// or https:// "
                   "URL of an OpenAI-compatible API (…/v1), with "
                   "assist_model naming the model");
        return -1;
    }

    if (c->assist_key_file[0]) {
        f = fopen(c->assist_key_file, "r");
        if (f == NULL) {
            hookd_fail("bad_config", "cannot read assist_key_file %s: %s",
                       c->assist_key_file, strerror(errno));
            return -1;
        }
        fclose(f);
    }

    return 0;
}


static char *
hookd_trim(char *s)
{
    char  *end;

    while (isspace((unsigned char) *s)) {
        s++;
    }

    end = s + strlen(s);
    while (end > s && isspace((unsigned char) end[-1])) {
        *--end = '\0';
    }

    return s;
}


static int
hookd_config_file(hookd_config_t *c, const char *path)
{
    int    line, rc;
    char   buf[2048], where[1200], *key, *val, *eq, *hash;
    FILE  *f;

    f = fopen(path, "r");
    if (f == NULL) {
        hookd_fail("bad_config", "cannot read %s: %s", path, strerror(errno));
        return -1;
    }

    rc = 0;

    for (line = 1; fgets(buf, sizeof(buf), f); line++) {
        hash = strchr(buf, '#');
        if (hash) {
            *hash = '\0';
        }

        key = hookd_trim(buf);
        if (*key == '\0') {
            continue;
        }

        snprintf(where, sizeof(where), "%s:%d", path, line);

        eq = strchr(key, '=');
        if (eq == NULL) {
            hookd_fail("bad_config", "%s: expected key = value", where);
            rc = -1;
            break;
        }

        *eq = '\0';
        val = hookd_trim(eq + 1);
        key = hookd_trim(key);

        if (hookd_config_set(c, key, val, where) != 0) {
            rc = -1;
            break;
        }
    }

    fclose(f);
    return rc;
}


int
hookd_config_load(const hookd_args_t *a, hookd_config_t *out)
{
    int             i;
    hookd_config_t  c;
    const char     *env;

    hookd_config_defaults(&c);

    env = getenv("DATABASE_URL");
    if (env && hookd_config_set(&c, "database", env, "DATABASE_URL") != 0) {
        return -1;
    }

    if (a->config && hookd_config_file(&c, a->config) != 0) {
        return -1;
    }

    if (a->database
        && hookd_config_set(&c, "database", a->database, "--database") != 0)
    {
        return -1;
    }

    if (a->secret_key_file
        && hookd_config_set(&c, "secret_key_file", a->secret_key_file,
                            "--secret-key-file") != 0)
    {
        return -1;
    }

    for (i = 0; i < a->nnetworks; i++) {
        if (hookd_config_set(&c, "allow_network", a->networks[i],
                             "--allow-network") != 0)
        {
            return -1;
        }
    }

    if (c.database[0] == '\0') {
        hookd_fail("bad_config", "no database: set database in hookd.conf, "
                   "--database or DATABASE_URL");
        return -1;
    }

    if (hookd_config_check_notify(&c) != 0
        || hookd_config_check_assist(&c) != 0)
    {
        return -1;
    }

    /* now rather than as every HTTPS delivery fails */
    if (c.ca_file[0] && access(c.ca_file, R_OK) != 0) {
        hookd_fail("bad_config", "ca_file: cannot read %s: %s", c.ca_file,
                   strerror(errno));
        return -1;
    }

    *out = c;
    return 0;
}
