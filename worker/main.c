/*
 * hookd: the operator CLI and (hookd run) the delivery daemon.
 *
 *   hookd migrate
 *   hookd apps create <name>
 *   hookd keys create [--app <name|id>] --scope ingest|admin [--scope …]
 *   hookd keys revoke <key id>
 *   hookd endpoints create --app <name|id> --url <url> [--types …]
 *                          [--label k=v]… [--secret whsec_…]
 *   hookd run [--config <file>] [--allow-network <cidr>]…
 *
 * Every command takes --database <conninfo> (default: $DATABASE_URL).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "cli.h"
#include "daemon.h"
#include "util.h"




static const char  hookd_usage[] =
    "usage: hookd <command> [--database <conninfo>] …\n"
    "  migrate                              apply sql/ migrations\n"
    "  apps create <name>                   create an application\n"
    "  keys create [--app <app>] --scope ingest|admin [--scope …]\n"
    "  keys revoke <key id>\n"
    "  endpoints create --app <app> --url <url> [--types 'a.*,b']\n"
    "                   [--label key=value]… [--secret whsec_…]\n"
    "  endpoints rotate-secret <endpoint id> [--secret whsec_…] [--grace 24h]\n"
    "  run [--config <hookd.conf>] [--allow-network <cidr>]…\n"
    "                                       the delivery daemon\n"
    "  version\n"
    "Output is JSON; errors are JSON on stderr with a non-zero exit.\n";


static int
hookd_parse_args(int argc, char **argv, hookd_args_t *a)
{
    int          i;
    const char  *opt, *val;

    memset(a, 0, sizeof(*a));

    for (i = 2; i < argc; i++) {
        opt = argv[i];

        if (strncmp(opt, "--", 2) != 0) {
            if (a->nargs == (int) (sizeof(a->args) / sizeof(a->args[0]))) {
                hookd_fail("usage", "too many arguments");
                return -1;
            }

            a->args[a->nargs++] = opt;
            continue;
        }

        if (i + 1 >= argc) {
            hookd_fail("usage", "%s needs a value", opt);
            return -1;
        }

        val = argv[++i];

#define HOOKD_MULTI(name, list, n)                                          \
        if (strcmp(opt, name) == 0) {                                       \
            if (a->n == HOOKD_MAX_MULTI) {                                  \
                hookd_fail("usage", "too many %s", name);                   \
                return -1;                                                  \
            }                                                               \
            a->list[a->n++] = val;                                          \
            continue;                                                       \
        }

        HOOKD_MULTI("--scope", scopes, nscopes)
        HOOKD_MULTI("--label", labels, nlabels)
        HOOKD_MULTI("--allow-network", networks, nnetworks)

        if (strcmp(opt, "--database") == 0) {
            a->database = val;
        } else if (strcmp(opt, "--config") == 0) {
            a->config = val;
        } else if (strcmp(opt, "--secret-key-file") == 0) {
            a->secret_key_file = val;
        } else if (strcmp(opt, "--app") == 0) {
            a->app = val;
        } else if (strcmp(opt, "--url") == 0) {
            a->url = val;
        } else if (strcmp(opt, "--types") == 0) {
            a->types = val;
        } else if (strcmp(opt, "--secret") == 0) {
            a->secret = val;
        } else if (strcmp(opt, "--grace") == 0) {
            a->grace = val;
        } else {
            hookd_fail("usage", "unknown option %s", opt);
            return -1;
        }
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int            rc;
    hookd_args_t   a;
    const char    *cmd;

    if (argc < 2 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "help") == 0)
    {
        fputs(hookd_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }

    cmd = argv[1];

    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("{\"version\":\"%s\"}\n", HOOKD_VERSION);
        return 0;
    }

    if (hookd_parse_args(argc, argv, &a) != 0) {
        return 2;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (strcmp(cmd, "migrate") == 0) {
        rc = hookd_cli_migrate(&a);
    } else if (strcmp(cmd, "apps") == 0) {
        rc = hookd_cli_apps(&a);
    } else if (strcmp(cmd, "keys") == 0) {
        rc = hookd_cli_keys(&a);
    } else if (strcmp(cmd, "endpoints") == 0) {
        rc = hookd_cli_endpoints(&a);
    } else if (strcmp(cmd, "run") == 0) {
        rc = hookd_run(&a);
    } else {
        hookd_fail("usage", "unknown command \"%s\"; see hookd --help", cmd);
        rc = 2;
    }

    curl_global_cleanup();

    return rc;
}
