/*
 * The master key that seals endpoint secrets, kept in a file of its own;
 * the secrets themselves are in ngx_module/shared/hookd_seal.h.
 */

#ifndef HOOKD_SECRET_H
#define HOOKD_SECRET_H

#include <stddef.h>

#include "hookd_seal.h"

/*
 * The master key file: path given, else $HOOKD_SECRET_KEY_FILE, else
 * $XDG_CONFIG_HOME/hookd/secret.key (~/.config/…). With create, a missing
 * file is made (mode 0600) with a new random key.
 */
int hookd_master_key_load(const char *path, int create,
    unsigned char key[HOOKD_MASTER_KEY_LEN]);

#endif /* HOOKD_SECRET_H */
