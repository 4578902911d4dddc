/* The operator CLI: hookd migrate | apps | keys | endpoints. JSON out. */

#ifndef HOOKD_CLI_H
#define HOOKD_CLI_H

#define HOOKD_MAX_MULTI  64

typedef struct {
    const char  *database;
    const char  *config;
    const char  *secret_key_file;
    const char  *app;
    const char  *url;
    const char  *types;
    const char  *secret;
    const char  *grace;
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

#endif /* HOOKD_CLI_H */
