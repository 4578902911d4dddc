#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "secret.h"
#include "util.h"


static int
hookd_master_key_path(const char *path, char *out, size_t size)
{
    const char  *env;

    if (path == NULL || path[0] == '\0') {
        path = getenv("HOOKD_SECRET_KEY_FILE");
    }

    if (path && path[0]) {
        return snprintf(out, size, "%s", path) < (int) size ? 0 : -1;
    }

    env = getenv("XDG_CONFIG_HOME");
    if (env && env[0]) {
        return snprintf(out, size, "%s/hookd/secret.key", env) < (int) size
               ? 0 : -1;
    }

    env = getenv("HOME");
    if (env == NULL || env[0] == '\0') {
        return -1;
    }

    return snprintf(out, size, "%s/.config/hookd/secret.key", env)
           < (int) size ? 0 : -1;
}


static int
hookd_master_key_create(const char *file)
{
    int            fd;
    char           dir[4096], *slash, hex[2 * HOOKD_MASTER_KEY_LEN + 2];
    unsigned char  raw[HOOKD_MASTER_KEY_LEN];
    size_t         i;

    snprintf(dir, sizeof(dir), "%s", file);
    slash = strrchr(dir, '/');

    if (slash && slash != dir) {
        *slash = '\0';
        /* the parent of ~/.config/hookd may be missing too */
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            mkdir(dir, 0700);
            *slash = '/';
        }
        mkdir(dir, 0700);
    }

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }

    for (i = 0; i < sizeof(raw); i++) {
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    }
    hex[2 * HOOKD_MASTER_KEY_LEN] = '\n';

    fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        return errno == EEXIST ? 0 : -1;
    }

    if (write(fd, hex, sizeof(hex) - 1) != (ssize_t) sizeof(hex) - 1) {
        close(fd);
        unlink(file);
        return -1;
    }

    return close(fd);
}


int
hookd_master_key_load(const char *path, int create,
    unsigned char key[HOOKD_MASTER_KEY_LEN])
{
    FILE    *f;
    char     file[4096], hex[2 * HOOKD_MASTER_KEY_LEN + 2];
    size_t   i;

    if (hookd_master_key_path(path, file, sizeof(file)) != 0) {
        hookd_fail("no_master_key", "cannot locate the master key: set "
                   "HOOKD_SECRET_KEY_FILE or secret_key_file");
        return -1;
    }

    if (create && access(file, F_OK) != 0
        && hookd_master_key_create(file) != 0)
    {
        hookd_fail("no_master_key", "cannot create the master key %s: %s",
                   file, strerror(errno));
        return -1;
    }

    f = fopen(file, "r");
    if (f == NULL) {
        hookd_fail("no_master_key", "cannot read the master key %s: %s",
                   file, strerror(errno));
        return -1;
    }

    i = fread(hex, 1, sizeof(hex) - 1, f);
    fclose(f);

    if (hookd_master_key_parse(hex, i, key) != 0) {
        hookd_fail("bad_master_key", "%s must hold %d hex digits", file,
                   2 * HOOKD_MASTER_KEY_LEN);
        return -1;
    }

    return 0;
}
