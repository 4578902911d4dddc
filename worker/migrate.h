/* Schema migrations, compiled in from sql/ (see conf/scripts/embed-sql.sh). */

#ifndef HOOKD_MIGRATE_H
#define HOOKD_MIGRATE_H

#include <libpq-fe.h>

typedef struct {
    const char  *version;
    const char  *sql;
} hookd_migration_t;

extern const hookd_migration_t  hookd_migrations[];

/* Applies what is missing, in order, under an advisory lock. 0 on success. */
int hookd_migrate(PGconn *pg);

#endif /* HOOKD_MIGRATE_H */
