/* hookd run: the delivery daemon. */

#ifndef HOOKD_DAEMON_H
#define HOOKD_DAEMON_H

#include "cli.h"

/* Runs until SIGTERM/SIGINT; 0 after a drain. */
int hookd_run(const hookd_args_t *a);

#endif /* HOOKD_DAEMON_H */
