/* pufa migrate: applies the schema migrations and loads org units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "error.h"
#include "file.h"
#include "migrate.h"
#include "pg.h"
#include "targets.h"

/* Prints an error text of one or more lines, each after the prefix. */
static void print_lines(const char *prefix, const char *text) {
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(stderr, "%s%.*s\n", prefix, len, p);
        p += len + (nl ? 1 : 0);
    }
}

/* Loads the file, resolves its parents within it or in the database, and
 * upserts it: every bad line is named, and then nothing is written. */
static int load_org_units(PGconn *conn, const char *path) {
    char err[8192];
    char *prefix = pufa_asprintf("pufa migrate: %s: ", path);
    pufa_orgunits *ou = NULL, *db = NULL;
    int rc = EX_DATAERR_;
    int changed = 0;
    if (pufa_db_load_orgunits(conn, &db, err, sizeof err)) {
        fprintf(stderr, "pufa migrate: %s\n", err);
        rc = EX_UNAVAILABLE_;
        goto out;
    }
    if (pufa_orgunits_load_csv_within(path, db, &ou, err, sizeof err)) {
        print_lines(prefix, err);
        goto out;
    }
    if (pufa_db_store_orgunits(conn, ou, &changed, err, sizeof err)) {
        fprintf(stderr, "pufa migrate: %s\n", err);
        goto out;
    }
    size_t per_level[4] = {0};
    for (size_t i = 0; i < ou->count; i++)
        per_level[pufa_orgunit_level_rank(ou->units[i].level)]++;
    printf("org units: %zu in %s (nation %zu, provinces %zu, cities %zu, counties %zu), "
           "%d written\n",
           ou->count, path, per_level[0], per_level[1], per_level[2], per_level[3], changed);
    rc = EX_OK_;
out:
    pufa_orgunits_destroy(&ou);
    pufa_orgunits_destroy(&db);
    free(prefix);
    return rc;
}

/* Loads the targets file against the org units and responsible units the
 * database holds: every bad line is named, and then nothing is written;
 * otherwise the years it names are replaced whole. */
static int load_targets(PGconn *conn, const char *path) {
    char err[8192];
    char *prefix = pufa_asprintf("pufa migrate: %s: ", path);
    pufa_orgunits *ou = NULL;
    PGresult *units = NULL;
    char *text = NULL, **codes = NULL;
    size_t len = 0;
    pufa_targets t;
    pufa_targets_init(&t);
    int rc = EX_UNAVAILABLE_;
    if (pufa_db_load_orgunits(conn, &ou, err, sizeof err)) {
        fprintf(stderr, "pufa migrate: %s\n", err);
        goto out;
    }
    units = PQexec(conn, "SELECT unit_code FROM units");
    if (PQresultStatus(units) != PGRES_TUPLES_OK) {
        fprintf(stderr, "pufa migrate: units: %s", PQresultErrorMessage(units));
        goto out;
    }
    rc = EX_DATAERR_;
    if (pufa_read_file(path, 64u << 20, &text, &len, err, sizeof err)) {
        fprintf(stderr, "pufa migrate: %s\n", err);
        goto out;
    }
    size_t nunits = (size_t)PQntuples(units);
    codes = pufa_calloc(nunits + 1, sizeof *codes);
    for (size_t i = 0; i < nunits; i++)
        codes[i] = PQgetvalue(units, (int)i, 0);
    if (pufa_targets_parse(text, len, ou, (const char *const *)codes, nunits, &t, err,
                           sizeof err)) {
        print_lines(prefix, err);
        goto out;
    }
    int years = 0;
    if (pufa_db_store_targets(conn, &t, &years, err, sizeof err)) {
        fprintf(stderr, "pufa migrate: %s\n", err);
        goto out;
    }
    printf("targets: %zu from %s, replacing those of %d year%s\n", t.n, path, years,
           years == 1 ? "" : "s");
    rc = EX_OK_;
out:
    pufa_targets_free(&t);
    free(codes);
    free(text);
    PQclear(units);
    pufa_orgunits_destroy(&ou);
    free(prefix);
    return rc;
}

int cmd_migrate(int argc, char **argv) {
    char *db = NULL, *org_units = NULL, *units = NULL, *targets = NULL;
    pufa_cfg_opt opts[] = {
        {"db", PUFA_CFG_STRING, &db, "", 0, 0,
         "PostgreSQL conninfo of an owner role (passwords: use ~/.pgpass or PGPASSFILE)", 0},
        {"org_units", PUFA_CFG_STRING, &org_units, "", 0, 0,
         "CSV of org units to load (code,name,level,parent_code; levels nation, province, "
         "city, county; any depth, any line order)",
         0},
        {"units", PUFA_CFG_STRING, &units, "", 0, 0,
         "CSV of responsible units (unit_code,unit_name,kind) to load", 0},
        {"targets", PUFA_CFG_STRING, &targets, "", 0, 0,
         "CSV of yearly targets (year,org_code,unit_code,figure,target; unit_code empty for "
         "the org unit itself) replacing those of the years it names",
         0},
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
        rc = load_org_units(conn, org_units);
        if (rc)
            goto out;
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
    if (*targets)
        rc = load_targets(conn, targets);
out:
    if (conn)
        PQfinish(conn);
    pufa_cfg_free(&cfg);
    return rc;
}
