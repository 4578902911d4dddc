/*
 * The operator CLI: hookd migrate | apps | keys | endpoints | sources. JSON
 * out. cli.c migrates and makes applications and keys, cli_endpoints.c and
 * cli_sources.c endpoints and sources, cli_read.c lists and gets.
 */

#ifndef HOOKD_CLI_H
#define HOOKD_CLI_H

#include <libpq-fe.h>

#define HOOKD_MAX_MULTI  64

typedef struct {
    const char  *database;
    const char  *config;
    const char  *secret_key_file;
    const char  *app;
    const char  *url;
    const char  *event_types;
    const char  *filter;
    const char  *auth;
    const char  *signature;
    const char  *headers[HOOKD_MAX_MULTI];
    int          nheaders;
    const char  *secret;
    const char  *grace;
    const char  *name;
    const char  *provider;
    const char  *tolerance;
    const char  *options[HOOKD_MAX_MULTI];
    int          noptions;
    const char  *scopes[HOOKD_MAX_MULTI];
    int          nscopes;
    const char  *labels[HOOKD_MAX_MULTI];
    int          nlabels;
    const char  *networks[HOOKD_MAX_MULTI];
    int          nnetworks;
    const char  *args[8];
    int          nargs;
} hookd_args_t;

/* exit codes: 0 done, 1 refused or failed, 2 usage */
int hookd_cli_migrate(hookd_args_t *a);
int hookd_cli_apps(hookd_args_t *a);
int hookd_cli_keys(hookd_args_t *a);
int hookd_cli_endpoints(hookd_args_t *a);
int hookd_cli_sources(hookd_args_t *a);
int hookd_cli_diagnose(hookd_args_t *a);

/* what cli.c and cli_read.c share */
/* NULL after printing the error (a unique violation is "conflict") */
PGresult *hookd_cli_query(PGconn *pg, const char *sql, int n,
    const char *const *params);
/* the id of an application given by id or by name, malloc'ed */
char *hookd_cli_resolve_app(PGconn *pg, const char *app);
/* "24h", "30m", "90s", "3600": seconds, or -1 */
double hookd_cli_duration(const char *s);
typedef int (*hookd_cli_command_pt)(PGconn *pg, hookd_args_t *a);
/* endpoints and sources: create, rotate-secret, list and get */
int hookd_cli_secreted(hookd_args_t *a, const char *resource,
    hookd_cli_command_pt create, hookd_cli_command_pt rotate);
/* apps, keys, endpoints or sources: list and get (a->args[0]) */
int hookd_cli_read(PGconn *pg, hookd_args_t *a, const char *resource);

#endif /* HOOKD_CLI_H */
