/*
 * Notifications to operators: one message that lists a batch of
 * notifications, sent to each configured channel, a JSON POST
 * (Slack-compatible {"text": …}, signed like a delivery) and/or an email
 * over SMTP, both through libcurl on the daemon's loop.
 */

#ifndef HOOKD_NOTIFY_H
#define HOOKD_NOTIFY_H

#include <ev.h>
#include <libpq-fe.h>

#include "config.h"

typedef struct hookd_notify_s  hookd_notify_t;

/* error is NULL when every channel took the message */
typedef void (*hookd_notify_done_pt)(void *data, const char *error);

hookd_notify_t *hookd_notify_new(struct ev_loop *loop);
void hookd_notify_free(hookd_notify_t *n);

/* whether hookd.conf names a channel at all */
int hookd_notify_configured(const hookd_config_t *conf);

/*
 * Sends the rows of hookd.take_notifications() as one message; done is
 * called once, later, unless this returns -1 (nothing was started).
 */
int hookd_notify_send(hookd_notify_t *n, const hookd_config_t *conf,
    PGresult *rows, hookd_notify_done_pt done, void *data);

#endif /* HOOKD_NOTIFY_H */
