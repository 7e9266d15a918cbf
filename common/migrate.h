/* Versioned schema migrations (common/sql/NNN_name.sql, embedded at build
 * time).  pufa_migrate() applies the missing ones in order, each in its own
 * transaction with its version row, under an advisory lock: safe to run
 * twice and from two processes at once. */
#ifndef PUFA_MIGRATE_H
#define PUFA_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "orgunits.h"

typedef struct pufa_migration {
    int version;
    const char *name;
    const char *sql;
} pufa_migration;

extern const pufa_migration pufa_migrations[];
extern const int pufa_migration_count;

/* Applies pending migrations; *applied gets how many ran (may be NULL).
 * 0, or PUFA_EDB with err filled. */
int pufa_migrate(PGconn *conn, int *applied, char *err, size_t errsize);
/* The highest applied version (0 when none), or a negative PUFA_E*. */
int pufa_schema_version(PGconn *conn, char *err, size_t errsize);

/* Upserts org units in one transaction, a level at a time from the nation
 * down; rows already equal are left alone, so a second run changes nothing.
 * A unit without a parent keeps the parent the database already gives it
 * (a file's root never detaches a unit).  *changed gets rows written. */
int pufa_db_store_orgunits(PGconn *conn, const pufa_orgunits *ou, int *changed, char *err,
                           size_t errsize);
/* Upserts responsible units from a CSV with header unit_code,unit_name,kind. */
int pufa_db_store_units_csv(PGconn *conn, const char *path, int *changed, char *err,
                            size_t errsize);
/* Reads org_units from the database into a new set (caller destroys). */
int pufa_db_load_orgunits(PGconn *conn, pufa_orgunits **out, char *err, size_t errsize);

#endif
