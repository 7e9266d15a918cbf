#include "migrate.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "pg.h"

/* Any fixed number: serialises concurrent migrators. */
#define MIGRATE_LOCK_KEY 7351029184LL

static const char *const bootstrap_sql = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                         " version integer PRIMARY KEY,"
                                         " name text NOT NULL,"
                                         " applied_at timestamptz NOT NULL DEFAULT now())";

static int max_version(PGconn *conn, char *err, size_t errsize) {
    PGresult *r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pufa_pg_errcopy(err, errsize, "database: ", PQresultErrorMessage(r));
        PQclear(r);
        return PUFA_EDB;
    }
    int v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

int pufa_schema_version(PGconn *conn, char *err, size_t errsize) {
    PGresult *r = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pufa_pg_errcopy(err, errsize, "database: ", PQresultErrorMessage(r));
        PQclear(r);
        return PUFA_EDB;
    }
    bool exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return exists ? max_version(conn, err, errsize) : 0;
}

static void rollback(PGconn *conn) {
    PQclear(PQexec(conn, "ROLLBACK"));
}

int pufa_migrate(PGconn *conn, int *applied, char *err, size_t errsize) {
    int n_applied = 0;
    if (applied)
        *applied = 0;
    for (int i = 0; i < pufa_migration_count; i++) {
        const pufa_migration *m = &pufa_migrations[i];
        int rc = pufa_pg_exec(conn, "BEGIN", err, errsize);
        if (rc)
            return rc;
        char lock[96];
        snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", MIGRATE_LOCK_KEY);
        if ((rc = pufa_pg_exec(conn, lock, err, errsize)) ||
            (rc = pufa_pg_exec(conn, bootstrap_sql, err, errsize))) {
            rollback(conn);
            return rc;
        }
        int have = max_version(conn, err, errsize);
        if (have < 0) {
            rollback(conn);
            return have;
        }
        if (have >= m->version) {
            rollback(conn);
            continue;
        }
        /* Migration files are static SQL shipped with the binary. */
        PGresult *r = PQexec(conn, m->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            char prefix[96];
            snprintf(prefix, sizeof prefix, "migration %s: ", m->name);
            pufa_pg_errcopy(err, errsize, prefix, PQresultErrorMessage(r));
            PQclear(r);
            rollback(conn);
            return PUFA_EDB;
        }
        PQclear(r);
        char version[16];
        snprintf(version, sizeof version, "%d", m->version);
        const char *params[2] = {version, m->name};
        r = PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                         NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            pufa_pg_errcopy(err, errsize, "database: ", PQresultErrorMessage(r));
            PQclear(r);
            rollback(conn);
            return PUFA_EDB;
        }
        PQclear(r);
        if ((rc = pufa_pg_exec(conn, "COMMIT", err, errsize)))
            return rc;
        n_applied++;
    }
    if (applied)
        *applied = n_applied;
    return 0;
}

static int upsert_orgunit_level(PGconn *conn, const pufa_orgunits *ou, const char *level,
                                int *changed, char *err, size_t errsize) {
    pufa_buf codes, names, levels, parents;
    pufa_buf_init(&codes);
    pufa_buf_init(&names);
    pufa_buf_init(&levels);
    pufa_buf_init(&parents);
    pufa_pgarr_open(&codes);
    pufa_pgarr_open(&names);
    pufa_pgarr_open(&levels);
    pufa_pgarr_open(&parents);
    int n = 0;
    for (size_t i = 0; i < ou->count; i++) {
        const pufa_orgunit *u = &ou->units[i];
        if (strcmp(u->level, level) != 0)
            continue;
        pufa_pgarr_text(&codes, u->code);
        pufa_pgarr_text(&names, u->name);
        pufa_pgarr_text(&levels, u->level);
        pufa_pgarr_text(&parents, u->parent_code[0] ? u->parent_code : NULL);
        n++;
    }
    pufa_pgarr_close(&codes);
    pufa_pgarr_close(&names);
    pufa_pgarr_close(&levels);
    pufa_pgarr_close(&parents);
    int rc = 0;
    if (n > 0) {
        const char *params[4] = {codes.data, names.data, levels.data, parents.data};
        PGresult *r = PQexecParams(
            conn,
            "INSERT INTO org_units (code, name, level, parent_code)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,"
            "  parent_code = coalesce(EXCLUDED.parent_code, org_units.parent_code)"
            " WHERE (org_units.name, org_units.level, org_units.parent_code)"
            "  IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level,"
            "   coalesce(EXCLUDED.parent_code, org_units.parent_code))",
            4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            pufa_pg_errcopy(err, errsize, "org units: ", PQresultErrorMessage(r));
            rc = PUFA_EDB;
        } else {
            *changed += atoi(PQcmdTuples(r));
        }
        PQclear(r);
    }
    pufa_buf_free(&codes);
    pufa_buf_free(&names);
    pufa_buf_free(&levels);
    pufa_buf_free(&parents);
    return rc;
}

int pufa_db_store_orgunits(PGconn *conn, const pufa_orgunits *ou, int *changed, char *err,
                           size_t errsize) {
    int n = 0;
    int rc = pufa_pg_exec(conn, "BEGIN", err, errsize);
    if (rc)
        return rc;
    /* Parents first: the foreign keys want each level before the next. */
    static const char *const levels[] = {"nation", "province", "city", "county"};
    for (int i = 0; i < 4; i++)
        if ((rc = upsert_orgunit_level(conn, ou, levels[i], &n, err, errsize))) {
            rollback(conn);
            return rc;
        }
    if ((rc = pufa_pg_exec(conn, "COMMIT", err, errsize)))
        return rc;
    if (changed)
        *changed = n;
    return 0;
}

typedef struct {
    char *f[4];
    int n;
    long line;
    int rc;
    char *err;
    size_t errsize;
    pufa_buf codes, names, kinds;
} units_state;

static void units_field(void *s, size_t len, void *data) {
    units_state *st = data;
    if (st->n < 4)
        st->f[st->n] = pufa_strndup(s ? s : "", len);
    st->n++;
}

static void units_record(int c, void *data) {
    (void)c;
    units_state *st = data;
    st->line++;
    if (st->rc == 0) {
        if (st->line == 1) {
            const char *h = st->f[0] ? st->f[0] : "";
            if (!strncmp(h, "\xEF\xBB\xBF", 3))
                h += 3;
            if (st->n != 3 || strcmp(h, "unit_code") || strcmp(st->f[1], "unit_name") ||
                strcmp(st->f[2], "kind")) {
                snprintf(st->err, st->errsize, "line 1: header must be unit_code,unit_name,kind");
                st->rc = PUFA_EPARSE;
            }
        } else if (st->n != 3 || !*st->f[0] || !*st->f[1]) {
            snprintf(st->err, st->errsize,
                     "line %ld: expected unit_code,unit_name,kind with code and name set",
                     st->line);
            st->rc = PUFA_EPARSE;
        } else {
            pufa_pgarr_text(&st->codes, st->f[0]);
            pufa_pgarr_text(&st->names, st->f[1]);
            pufa_pgarr_text(&st->kinds, st->f[2]);
        }
    }
    for (int i = 0; i < st->n && i < 4; i++)
        free(st->f[i]);
    st->n = 0;
}

int pufa_db_store_units_csv(PGconn *conn, const char *path, int *changed, char *err,
                            size_t errsize) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "cannot open %s", path);
        return PUFA_EIO;
    }
    units_state st;
    memset(&st, 0, sizeof st);
    st.err = err;
    st.errsize = errsize;
    pufa_buf_init(&st.codes);
    pufa_buf_init(&st.names);
    pufa_buf_init(&st.kinds);
    pufa_pgarr_open(&st.codes);
    pufa_pgarr_open(&st.names);
    pufa_pgarr_open(&st.kinds);
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    char buf[4096];
    size_t n;
    while (st.rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, n, units_field, units_record, &st) != n && st.rc == 0) {
            snprintf(err, errsize, "%s: %s", path, csv_strerror(csv_error(&p)));
            st.rc = PUFA_EPARSE;
        }
    if (st.rc == 0 && csv_fini(&p, units_field, units_record, &st) != 0) {
        snprintf(err, errsize, "%s: %s", path, csv_strerror(csv_error(&p)));
        st.rc = PUFA_EPARSE;
    }
    for (int i = 0; i < st.n && i < 4; i++)
        free(st.f[i]);
    csv_free(&p);
    fclose(f);
    pufa_pgarr_close(&st.codes);
    pufa_pgarr_close(&st.names);
    pufa_pgarr_close(&st.kinds);
    int rc = st.rc;
    if (rc == 0) {
        const char *params[3] = {st.codes.data, st.names.data, st.kinds.data};
        PGresult *r =
            PQexecParams(conn,
                         "INSERT INTO units (unit_code, unit_name, kind)"
                         " SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
                         " ON CONFLICT (unit_code) DO UPDATE SET unit_name = EXCLUDED.unit_name,"
                         "  kind = EXCLUDED.kind"
                         " WHERE (units.unit_name, units.kind) IS DISTINCT FROM"
                         "  (EXCLUDED.unit_name, EXCLUDED.kind)",
                         3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            pufa_pg_errcopy(err, errsize, "units: ", PQresultErrorMessage(r));
            rc = PUFA_EDB;
        } else if (changed) {
            *changed = atoi(PQcmdTuples(r));
        }
        PQclear(r);
    }
    pufa_buf_free(&st.codes);
    pufa_buf_free(&st.names);
    pufa_buf_free(&st.kinds);
    return rc;
}

int pufa_db_load_orgunits(PGconn *conn, pufa_orgunits **out, char *err, size_t errsize) {
    PGresult *r = PQexec(conn, "SELECT code, name, level, coalesce(parent_code, '')"
                               " FROM org_units ORDER BY code");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pufa_pg_errcopy(err, errsize, "org units: ", PQresultErrorMessage(r));
        PQclear(r);
        return PUFA_EDB;
    }
    pufa_orgunits *ou = pufa_orgunits_new();
    for (int i = 0; i < PQntuples(r); i++)
        pufa_orgunits_add(ou, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                          PQgetvalue(r, i, 3));
    PQclear(r);
    *out = ou;
    return 0;
}
