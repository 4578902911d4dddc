/*
 * hookd.conf: `key = value` lines, # comments. Flags of `hookd run`
 * override the file. The table in config.c is the reference; docs/hookd.md
 * describes each key.
 */

#ifndef HOOKD_CONFIG_H
#define HOOKD_CONFIG_H

#include "cli.h"
#include "log.h"
#include "ssrf.h"

#define HOOKD_MAX_ALLOW  64
#define HOOKD_MAX_RCPT   16

typedef struct {
    char               database[1024];
    char               secret_key_file[1024];
    char               worker_id[128];
    int                concurrency;         /* deliveries in flight, at most */
    int                claim_batch;         /* rows per claim */
    double             lease_seconds;
    double             poll_interval;       /* seconds */
    double             drain_timeout;       /* seconds */
    double             replan_interval;     /* seconds; read at start */
    int                allow_private_networks;
    hookd_cidr_t       allow[HOOKD_MAX_ALLOW];
    int                nallow;
    char               proxy[512];          /* empty: none, whatever the env */
    char               ca_file[1024];       /* empty: the system's CAs */
    char               metrics_listen[128]; /* empty: no metrics endpoint */
    hookd_log_level_e  log_level;

    /* housekeeping: notifications to operators, retention */
    double             housekeeping_interval;   /* seconds */
    char               notify_url[1024];        /* a JSON POST, signed */
    char               notify_secret[128];      /* whsec_…, signs it */
    char               notify_smtp_url[1024];   /* smtp:// or smtps:// */
    char               notify_smtp_from[256];
    char               notify_smtp_to[HOOKD_MAX_RCPT][256];
    int                nnotify_smtp_to;
    int                notify_smtp_insecure;    /* smtp:// without TLS */
    int                dead_letter_threshold;   /* 0: no such notice */
    double             dead_letter_window;      /* seconds */
    double             retention;               /* seconds; 0 keeps all */
    /* the assist backend (docs/assist.md); assist_url empty: none */
    char               assist_url[1024];        /* …/v1: chat/completions */
    char               assist_model[128];
    char               assist_key_file[1024];   /* its bearer token */
    int                assist_requests_per_hour;
    int                assist_send_values;      /* payloads, not shapes */
    double             assist_timeout;          /* seconds */
} hookd_config_t;

/*
 * Defaults, then the file (if any), then the flags. 0 on success; on error
 * prints why and leaves *out untouched.
 */
int hookd_config_load(const hookd_args_t *a, hookd_config_t *out);

#endif /* HOOKD_CONFIG_H */
