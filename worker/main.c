/*
 * hookd: the operator CLI and (hookd run) the delivery daemon. Each
 * command's usage is in hookd_commands: `hookd help <command>` and
 * `hookd <command> --help` print it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "cli.h"
#include "daemon.h"
#include "util.h"


typedef struct {
    const char  *name;
    const char  *usage;
} hookd_command_t;


static const hookd_command_t  hookd_commands[] = {
    { "migrate",
      "hookd migrate\n"
      "    apply the migrations not yet applied and the function files that\n"
      "    changed (sql/); safe to run again\n" },
    { "apps",
      "hookd apps create <name>             create an application\n"
      "hookd apps list                      every application\n"
      "hookd apps get <name|id>\n" },
    { "keys",
      "hookd keys create [--app <name|id>] --scope ingest|admin [--scope …]\n"
      "    a new API key, shown once; without --app an operator key (admin)\n"
      "hookd keys revoke <key id>\n"
      "hookd keys list [--app <name|id>]    without --app: the operator keys\n"
      "hookd keys get <key id>\n" },
    { "endpoints",
      "hookd endpoints create --app <name|id> --url <url>\n"
      "                       [--event-types 'invoice.*,user.created']\n"
      "                       [--label key=value]… [--secret whsec_…]\n"
      "                       [--filter '{\"amount\": {\"$gte\": 100}}']\n"
      "                       [--header 'X-Api-Key: …']… "
      "[--auth basic:<user>:<password> | bearer:<token>]\n"
      "                       [--signature v1|v1a|v1,v1a]\n"
      "    subscribes to the event types given (default: every type), for\n"
      "    events carrying every label given and whose payload matches the\n"
      "    filter (docs/routing.md); the secret is shown once\n"
      "hookd endpoints rotate-secret <endpoint id> [--secret whsec_…]\n"
      "                              [--grace 24h]\n"
      "hookd endpoints list --app <name|id>\n"
      "hookd endpoints get <endpoint id>\n" },
    { "sources",
      "hookd sources create --app <name|id> --name <name> --provider "
      "stripe|github|shopify|slack|standard|hmac|basic|bearer\n"
      "      [--secret <the provider's secret>] [--tolerance <seconds>]\n"
      "      [--option key=value]...   (hmac, basic, bearer: "
      "docs/sources.md)\n"
      "hookd sources rotate-secret <source id> [--secret <secret>] "
      "[--grace 24h]\n"
      "hookd sources list --app <name|id>\n"
      "hookd sources get <source id>\n" },
    { "diagnose",
      "hookd diagnose <endpoint id>\n"
      "    what failed in the endpoint's recent attempts, ranked, with\n"
      "    evidence and what to do (docs/assist.md)\n" },
    { "run",
      "hookd run [--config <hookd.conf>] [--allow-network <cidr>]…\n"
      "    the delivery daemon (docs/hookd.md)\n" },
    { "version",
      "hookd version\n" },
    { "help",
      "hookd help [<command>]\n" },
    { NULL, NULL }
};


static const char  hookd_options[] =
    "Every command takes --database <conninfo> (default: $DATABASE_URL) and\n"
    "--secret-key-file <file> (default: $HOOKD_SECRET_KEY_FILE, else\n"
    "~/.config/hookd/secret.key). Output is JSON; errors are JSON on stderr\n"
    "with a non-zero exit.\n";


static int hookd_help(FILE *out, const char *command);


/* every command's usage, or one command's; 2 for a command that is none */
static int
hookd_help(FILE *out, const char *command)
{
    const hookd_command_t  *c;

    for (c = hookd_commands; c->name; c++) {
        if (command == NULL || strcmp(command, c->name) == 0) {
            fputs(c->usage, out);
            if (command) {
                break;
            }
        }
    }

    if (command && c->name == NULL) {
        hookd_fail("usage", "unknown command \"%s\"; see hookd help",
                   command);
        return 2;
    }

    fputs(hookd_options, out);
    return 0;
}


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
        HOOKD_MULTI("--option", options, noptions)
        HOOKD_MULTI("--header", headers, nheaders)

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
        } else if (strcmp(opt, "--event-types") == 0) {
            a->event_types = val;
        } else if (strcmp(opt, "--filter") == 0) {
            a->filter = val;
        } else if (strcmp(opt, "--auth") == 0) {
            a->auth = val;
        } else if (strcmp(opt, "--signature") == 0) {
            a->signature = val;
        } else if (strcmp(opt, "--secret") == 0) {
            a->secret = val;
        } else if (strcmp(opt, "--grace") == 0) {
            a->grace = val;
        } else if (strcmp(opt, "--name") == 0) {
            a->name = val;
        } else if (strcmp(opt, "--provider") == 0) {
            a->provider = val;
        } else if (strcmp(opt, "--tolerance") == 0) {
            a->tolerance = val;
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
    int            rc, i;
    hookd_args_t   a;
    const char    *cmd;

    if (argc < 2) {
        hookd_help(stderr, NULL);
        return 2;
    }

    cmd = argv[1];

    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
        return hookd_help(stdout, argc > 2 ? argv[2] : NULL);
    }

    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            return hookd_help(stdout, cmd);
        }
    }

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
    } else if (strcmp(cmd, "sources") == 0) {
        rc = hookd_cli_sources(&a);
    } else if (strcmp(cmd, "diagnose") == 0) {
        rc = hookd_cli_diagnose(&a);
    } else if (strcmp(cmd, "run") == 0) {
        rc = hookd_run(&a);
    } else {
        hookd_fail("usage", "unknown command \"%s\"; see hookd help", cmd);
        rc = 2;
    }

    curl_global_cleanup();

    return rc;
}
