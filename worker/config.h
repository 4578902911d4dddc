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

typedef struct {
    char               database[1024];
    char               secret_key_file[1024];
    char               worker_id[128];
    int                concurrency;         /* deliveries in flight, at most */
    int                claim_batch;         /* rows per claim */
    double             lease_seconds;
    double             poll_interval;       /* seconds */
    double             drain_timeout;       /* seconds */
    int                allow_private_networks;
    hookd_cidr_t       allow[HOOKD_MAX_ALLOW];
    int                nallow;
    char               proxy[512];          /* empty: none, whatever the env */
    char               metrics_listen[128]; /* empty: no metrics endpoint */
    hookd_log_level_e  log_level;
} hookd_config_t;

/*
 * Defaults, then the file (if any), then the flags. 0 on success; on error
 * prints why and leaves *out untouched.
 */
int hookd_config_load(const hookd_args_t *a, hookd_config_t *out);

#endif /* HOOKD_CONFIG_H */
