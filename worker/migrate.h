/*
 * Schema migrations and function files, compiled in from sql/ (see
 * conf/scripts/embed-sql.sh and docs/architecture.md, "The schema").
 */

#ifndef HOOKD_MIGRATE_H
#define HOOKD_MIGRATE_H

#include <libpq-fe.h>

typedef struct {
    const char  *version;
    const char  *sql;
} hookd_migration_t;

typedef struct {
    const char  *name;
    const char  *checksum;          /* hex SHA-256 of sql */
    int          before_migrations;
    const char  *sql;
} hookd_function_file_t;

extern const hookd_migration_t      hookd_migrations[];
extern const hookd_function_file_t  hookd_function_files[];

/*
 * Under an advisory lock: applies the function files that migrations need,
 * the migrations not yet applied, each in its own transaction, then every
 * function file whose text changed (all of them when a migration ran), in
 * one transaction. 0 on success.
 */
int hookd_migrate(PGconn *pg);

#endif /* HOOKD_MIGRATE_H */
