#include "snapshot.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "migrate.h"
#include "pg.h"

typedef struct load {
    pub_model *m;
    long long rows, bad;
} load;

static void row_figs(const PGresult *r, int row, int col, int64_t fig[NFIG]) {
    for (int k = 0; k < NFIG; k++)
        fig[k] = atoll(PQgetvalue(r, row, col + k));
}

/* A rollup_dim row: day, county, dim, key, figures.  0, or -1 if unknown. */
static int dim_row(pub_model *m, const PGresult *r, int i) {
    int dim = pub_dim_parse(PQgetvalue(r, i, 2));
    if (dim < 0 || dim >= NDIM)
        return -1;
    int64_t fig[NFIG];
    row_figs(r, i, 4, fig);
    return pub_model_add_dim(m, atoi(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1), (pub_dim)dim,
                             PQgetvalue(r, i, 3), fig);
}

/* A rollup_journal row: day, county, theme, venue, form, unit, campaign,
 * township, figures. */
static int journal_row(pub_model *m, const PGresult *r, int i) {
    int64_t fig[NFIG];
    row_figs(r, i, 8, fig);
    pub_model_add(m, atoi(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1), atoi(PQgetvalue(r, i, 2)),
                  atoi(PQgetvalue(r, i, 3)), atoi(PQgetvalue(r, i, 4)), PQgetvalue(r, i, 5),
                  PQgetvalue(r, i, 6), PQgetvalue(r, i, 7), fig);
    return 0;
}

/* Declares a cursor (declare_sql) and feeds every row to fn, a slice at a
 * time, so memory stays bounded however many rows there are.  l->rows
 * counts them, l->bad those fn refused. */
static int fetch_all(PGconn *c, const char *declare_sql, const char *cursor,
                     int (*fn)(pub_model *, const PGresult *, int), load *l, char *err,
                     size_t errsize) {
    int rc = pufa_pg_exec(c, declare_sql, err, errsize);
    if (rc)
        return rc;
    char fetch[64];
    snprintf(fetch, sizeof fetch, "FETCH 20000 FROM %s", cursor);
    for (;;) {
        PGresult *r = PQexec(c, fetch);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            pufa_pg_errcopy(err, errsize, "snapshot: ", PQresultErrorMessage(r));
            PQclear(r);
            return PUFA_EDB;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n; i++)
            if (fn(l->m, r, i))
                l->bad++;
        l->rows += n;
        PQclear(r);
        if (n == 0)
            return 0;
    }
}

/* The totals per dimension (bounded by days x counties x dimension values),
 * then the journal rows not yet folded into them (bounded by the
 * aggregator's compaction threshold).  wrlock held. */
static int load_rollups(PGconn *c, pub_model *m, pub_snapshot_info *info, char *err,
                        size_t errsize) {
    load dims = {.m = m}, journal = {.m = m};
    int rc = fetch_all(c,
                       "DECLARE dims NO SCROLL CURSOR FOR SELECT day - DATE '1970-01-01',"
                       " county_code, dim, key, " PUFA_FIGURE_COLS " FROM rollup_dim",
                       "dims", dim_row, &dims, err, errsize);
    if (rc == 0)
        rc = fetch_all(
            c,
            "DECLARE journal NO SCROLL CURSOR FOR SELECT day - DATE '1970-01-01',"
            " county_code, theme, venue, form, unit_code, campaign, township, " PUFA_FIGURE_COLS
            " FROM rollup_journal",
            "journal", journal_row, &journal, err, errsize);
    info->dim_rows = dims.rows;
    info->journal_rows = journal.rows;
    info->skipped = dims.bad + journal.bad;
    return rc;
}

int pub_snapshot_load(const char *db, pub_model *m, pub_firsts *firsts, pub_snapshot_info *info,
                      char *err, size_t errsize) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *info = (pub_snapshot_info){0};
    PGconn *c = NULL;
    int rc = pufa_pg_connect(db, &c, err, errsize);
    if (rc)
        return rc;
    PGresult *seq = NULL, *seen = NULL, *units = NULL, *firstr = NULL, *periods = NULL;
    pufa_orgunits *ou = NULL;
    if ((rc = pufa_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errsize)))
        goto out;
    /* Every level: names, and each county's city and province. */
    if ((rc = pufa_db_load_orgunits(c, &ou, err, errsize)))
        goto out;
    seq = PQexec(c, "SELECT seq FROM feed_state");
    /* Bounded by received days x counties x units, like the rollups. */
    seen = PQexec(c, "SELECT day - DATE '1970-01-01', county_code, unit_code FROM receipt_daily");
    units = PQexec(c, "SELECT unit_code, unit_name FROM units ORDER BY unit_code");
    /* Counties x units x months; the month as year * 12 + month - 1. */
    firstr = PQexec(c, "SELECT county_code, unit_code, (extract(year FROM month) * 12"
                       " + extract(month FROM month) - 1)::int,"
                       " (extract(epoch FROM first_received_at) * 1000)::int8 FROM receipt_first");
    /* The approval states, of the same sequence as the figures (bounded by
     * org units x months; in the store's order, so loading only appends). */
    periods = PQexec(c, "SELECT org_code, extract(year FROM month)::int,"
                        " extract(month FROM month)::int, state, set_by,"
                        " (extract(epoch FROM set_at) * 1000)::bigint, reason, exception_open"
                        " FROM periods ORDER BY org_code COLLATE \"C\", month");
    PGresult *all[] = {seq, seen, units, firstr, periods};
    for (int i = 0; i < 5; i++) {
        if (PQresultStatus(all[i]) != PGRES_TUPLES_OK) {
            pufa_pg_errcopy(err, errsize, "snapshot: ", PQresultErrorMessage(all[i]));
            rc = PUFA_EDB;
            goto out;
        }
    }
    pub_model_wrlock(m);
    pub_model_clear(m);
    pub_firsts_clear(firsts);
    info->model_cleared = true;
    for (size_t i = 0; i < ou->count; i++)
        if (!strcmp(ou->units[i].level, "county"))
            pub_model_set_county_name(m, ou->units[i].code, ou->units[i].name);
    pub_model_set_orgunits(m, ou); /* the model owns it now */
    ou = NULL;
    for (int i = 0; i < PQntuples(units); i++)
        pub_model_set_unit_name(m, PQgetvalue(units, i, 0), PQgetvalue(units, i, 1));
    if ((rc = load_rollups(c, m, info, err, errsize))) {
        pub_model_unlock(m);
        goto out;
    }
    for (int i = 0; i < PQntuples(seen); i++)
        pub_model_receipt(m, atoi(PQgetvalue(seen, i, 0)), PQgetvalue(seen, i, 1),
                          PQgetvalue(seen, i, 2));
    for (int i = 0; i < PQntuples(firstr); i++)
        pub_firsts_add(firsts, PQgetvalue(firstr, i, 0), PQgetvalue(firstr, i, 1),
                       atoi(PQgetvalue(firstr, i, 2)),
                       pufa_city_day(atoll(PQgetvalue(firstr, i, 3))));
    for (int i = 0; i < PQntuples(periods); i++) {
        pufa_period p = {.org_code = PQgetvalue(periods, i, 0),
                         .year = atoi(PQgetvalue(periods, i, 1)),
                         .month = atoi(PQgetvalue(periods, i, 2)),
                         .state = pufa_period_state_parse(PQgetvalue(periods, i, 3)),
                         .set_by = PQgetvalue(periods, i, 4),
                         .set_at_ms = atoll(PQgetvalue(periods, i, 5)),
                         .reason = PQgetvalue(periods, i, 6),
                         .exception_open = PQgetvalue(periods, i, 7)[0] == 't'};
        if (pub_periods_set(pub_model_periods(m), &p))
            info->skipped++;
    }
    pufa_pg_exec(c, "COMMIT", err, errsize);
    info->seq = (uint64_t)atoll(PQgetvalue(seq, 0, 0));
    pub_model_set_seq(m, info->seq);
    pub_model_unlock(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    info->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    PLOG_INFO("PUB-SNAPSHOT", "seq=%llu cells=%lld dim_rows=%lld journal_rows=%lld seconds=%.3f",
              (unsigned long long)info->seq, info->dim_rows + info->journal_rows, info->dim_rows,
              info->journal_rows, info->seconds);
    if (info->skipped)
        PLOG_WARN("PUB-SNAPSHOT-SKIPPED",
                  "rows=%lld msg=\"rollup rows with an unknown dimension or key were left out\"",
                  info->skipped);
out:
    PQclear(seq);
    PQclear(seen);
    PQclear(firstr);
    pufa_orgunits_destroy(&ou);
    PQclear(units);
    PQclear(periods);
    PQfinish(c);
    return rc;
}
