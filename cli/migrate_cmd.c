/* pufa migrate: applies the schema migrations and loads org units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "error.h"
#include "migrate.h"
#include "pg.h"

int cmd_migrate(int argc, char **argv) {
    char *db = NULL, *org_units = NULL, *units = NULL;
    pufa_cfg_opt opts[] = {
        {"db", PUFA_CFG_STRING, &db, "", 0, 0,
         "PostgreSQL conninfo of an owner role (passwords: use ~/.pgpass or PGPASSFILE)", 0},
        {"org_units", PUFA_CFG_STRING, &org_units, "", 0, 0,
         "CSV of the city's org units (code,name,level,parent_code) to load", 0},
        {"units", PUFA_CFG_STRING, &units, "", 0, 0,
         "CSV of responsible units (unit_code,unit_name,kind) to load", 0},
    };
    pufa_cfg cfg = {.program = "pufa migrate",
                    .summary = "create or upgrade the pufa schema; safe to run again",
                    .section = "migrate",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int ex = pufa_cfg_load(&cfg, argc, argv);
    if (ex) {
        pufa_cfg_free(&cfg);
        return ex - 1;
    }
    int rc = EX_OK_;
    char err[512];
    PGconn *conn = NULL;
    if (!*db) {
        fprintf(stderr, "pufa migrate: --db CONNINFO is required\n");
        rc = EX_USAGE_;
        goto out;
    }
    if (pufa_pg_connect(db, &conn, err, sizeof err)) {
        fprintf(stderr, "pufa migrate: %s\n", err);
        rc = EX_UNAVAILABLE_;
        goto out;
    }
    int applied = 0;
    if (pufa_migrate(conn, &applied, err, sizeof err)) {
        fprintf(stderr, "pufa migrate: %s\n", err);
        rc = EX_SOFTWARE_;
        goto out;
    }
    int version = pufa_schema_version(conn, err, sizeof err);
    printf("schema: version %d (%d migration%s applied now)\n", version, applied,
           applied == 1 ? "" : "s");
    if (*org_units) {
        pufa_orgunits *ou = NULL;
        int changed = 0;
        if (pufa_orgunits_load_csv(org_units, &ou, err, sizeof err)) {
            fprintf(stderr, "pufa migrate: %s: %s\n", org_units, err);
            rc = EX_DATAERR_;
            goto out;
        }
        int r = pufa_db_store_orgunits(conn, ou, &changed, err, sizeof err);
        size_t count = ou->count;
        pufa_orgunits_destroy(&ou);
        if (r) {
            fprintf(stderr, "pufa migrate: %s\n", err);
            rc = EX_DATAERR_;
            goto out;
        }
        printf("org units: %zu in %s, %d written\n", count, org_units, changed);
    }
    if (*units) {
        int changed = 0;
        if (pufa_db_store_units_csv(conn, units, &changed, err, sizeof err)) {
            fprintf(stderr, "pufa migrate: %s\n", err);
            rc = EX_DATAERR_;
            goto out;
        }
        printf("responsible units: %d written from %s\n", changed, units);
    }
out:
    if (conn)
        PQfinish(conn);
    pufa_cfg_free(&cfg);
    return rc;
}
