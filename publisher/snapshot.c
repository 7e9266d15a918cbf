#include "snapshot.h"

#include <libpq-fe.h>
#include <pthread.h>
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

/* A receipt_daily row: day, county, unit. */
static int receipt_row(pub_model *m, const PGresult *r, int i) {
    pub_model_receipt(m, atoi(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
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

/* One SQL statement with parameters into r; 0 or PUFA_EDB with err. */
static int query(PGconn *c, const char *sql, int n, const char *const *params, PGresult **r,
                 char *err, size_t errsize) {
    *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*r) == PGRES_TUPLES_OK)
        return 0;
    pufa_pg_errcopy(err, errsize, "snapshot: ", PQresultErrorMessage(*r));
    PQclear(*r);
    *r = NULL;
    return PUFA_EDB;
}

/* The (county, day) cells that changed after seq: every report whose current
 * revision was committed after it, on its day now and on the days of its
 * earlier revisions (a correction may move a report to another day).
 * Through reports_commit_order and report_history's primary key. */
#define CHANGED_SQL                                                                                \
    "SELECT DISTINCT county_code, occurred_on - DATE '1970-01-01' FROM (SELECT county_code,"       \
    " occurred_on FROM reports WHERE commit_seq > $1::bigint UNION ALL SELECT h.county_code,"      \
    " h.occurred_on FROM report_history h JOIN reports r USING (report_id)"                        \
    " WHERE r.commit_seq > $1::bigint) ch"

/* The journal per dimension (as rollup_live has it, without summing it
 * with rollup_dim: the model adds the rows up). */
#define JOURNAL_DIMS_SQL                                                                           \
    "jd AS (SELECT day, county_code, CASE WHEN GROUPING(theme) = 0 THEN 'theme'"                   \
    " WHEN GROUPING(venue) = 0 THEN 'venue' WHEN GROUPING(form) = 0 THEN 'form'"                   \
    " WHEN GROUPING(unit_code) = 0 THEN 'unit' WHEN GROUPING(campaign) = 0 THEN 'campaign'"        \
    " WHEN GROUPING(township) = 0 THEN 'township' ELSE 'total' END AS dim,"                        \
    " coalesce(theme::text, venue::text, form::text, unit_code, campaign, township, '') AS key,"   \
    " sum(reports) AS reports, sum(sessions) AS sessions, sum(participants) AS participants,"      \
    " sum(materials) AS materials, sum(consultations) AS consultations, sum(banners) AS banners,"  \
    " sum(led_messages) AS led_messages, sum(online_posts) AS online_posts,"                       \
    " sum(online_views) AS online_views, sum(volunteers) AS volunteers,"                           \
    " sum(funds_fen) AS funds_fen FROM rollup_journal GROUP BY GROUPING SETS ((day, county_code)," \
    " (day, county_code, theme), (day, county_code, venue), (day, county_code, form),"             \
    " (day, county_code, unit_code), (day, county_code, campaign), (day, county_code, township)))"

/* rollup_dim rows and journal rows (tables r and jd) whose county x day is
 * one of the arrays $1 x $2 (paired): every dimension from $3 on, the
 * totals before. */
#define DAY_ROWS(t)                                                                                \
    "SELECT t.day - DATE '1970-01-01', t.county_code, t.dim, t.key, " PUFA_FIGURE_COLS " FROM " t  \
    " t JOIN x ON t.county_code = x.c AND t.day = x.d"                                             \
    " WHERE t.day >= $3::date OR t.dim = 'total'"
/* ... whose county x year (a January 1) is one of $1 x $2: the other
 * dimensions than total, dated the year's January 1. */
#define YEAR_ROWS(t)                                                                               \
    "SELECT y.y0 - DATE '1970-01-01', t.county_code, t.dim, t.key, " PUFA_FIGURE_COLS              \
    " FROM y JOIN " t " t ON t.county_code = y.c AND t.day >= y.y0"                                \
    " AND t.day < (y.y0 + INTERVAL '1 year')::date WHERE t.dim <> 'total'"

/* A PostgreSQL array literal of n strings (codes and dates: no quoting
 * needed); the caller frees. */
static char *array_of(char **v, size_t n) {
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *out = pufa_malloc(len), *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", v[i]);
    *p++ = '}';
    *p = 0;
    return out;
}

/* Brings a model that holds the snapshot of seq from (a model file, or the
 * state before a gap) to the database's state now: the cells of every
 * changed county x day are zeroed and read again, and for a day before the
 * horizon its county's year of other dimensions too; the receipts of the
 * changed reports are added (a set: adding one again changes nothing).
 * Inside the caller's REPEATABLE READ transaction; wrlock held. */
static int catch_up(PGconn *c, pub_model *m, uint64_t from, pub_snapshot_info *info, char *err,
                    size_t errsize) {
    char seqs[24], hday[16];
    snprintf(seqs, sizeof seqs, "%llu", (unsigned long long)from);
    snprintf(hday, sizeof hday, "%d-01-01", pub_model_horizon(m));
    const char *p1[] = {seqs};
    PGresult *ch = NULL, *rows = NULL, *years = NULL, *recv = NULL;
    int rc = query(c, CHANGED_SQL, 1, p1, &ch, err, errsize);
    size_t n = rc ? 0 : (size_t)PQntuples(ch), ny = 0;
    char **cs = pufa_calloc(n + 1, sizeof *cs), **ds = pufa_calloc(n + 1, sizeof *ds);
    char **ycs = pufa_calloc(n + 1, sizeof *ycs), **yds = pufa_calloc(n + 1, sizeof *yds);
    int hyear = pub_model_horizon(m);
    for (size_t i = 0; i < n; i++) {
        pufa_day day = atoi(PQgetvalue(ch, (int)i, 1));
        int y, mo, d;
        pufa_date_to_ymd(day, &y, &mo, &d);
        cs[i] = PQgetvalue(ch, (int)i, 0);
        ds[i] = pufa_malloc(16);
        pufa_date_format(day, ds[i]);
        pub_model_forget_day(m, day, cs[i]);
        if (y >= hyear)
            continue;
        /* Each old county x year once. */
        bool seen = false;
        for (size_t k = 0; k < ny && !seen; k++)
            seen = !strcmp(ycs[k], cs[i]) && atoi(yds[k]) == y;
        if (seen)
            continue;
        pub_model_forget_year(m, y, cs[i]);
        ycs[ny] = cs[i];
        yds[ny] = pufa_asprintf("%04d-01-01", y);
        ny++;
    }
    char *ca = array_of(cs, n), *da = array_of(ds, n), *yca = array_of(ycs, ny),
         *yda = array_of(yds, ny);
    const char *p2[] = {ca, da, hday}, *p3[] = {yca, yda};
    if (rc == 0 && n)
        rc = query(
            c,
            "WITH x AS (SELECT * FROM unnest($1::text[], $2::date[]) AS x(c, d)), " JOURNAL_DIMS_SQL
            " " DAY_ROWS("rollup_dim") " UNION ALL " DAY_ROWS("jd"),
            3, p2, &rows, err, errsize);
    if (rc == 0 && ny)
        rc = query(c,
                   "WITH y AS (SELECT * FROM unnest($1::text[], $2::date[]) AS y(c, "
                   "y0)), " JOURNAL_DIMS_SQL
                   " " YEAR_ROWS("rollup_dim") " UNION ALL " YEAR_ROWS("jd"),
                   2, p3, &years, err, errsize);
    if (rc == 0 && n)
        rc =
            query(c,
                  "SELECT rd.day - DATE '1970-01-01', rd.county_code, rd.unit_code FROM "
                  "receipt_daily rd JOIN (SELECT DISTINCT county_code, unit_code FROM reports "
                  "WHERE commit_seq > $1::bigint) x USING (county_code, unit_code) WHERE rd.day >= "
                  "(SELECT min(received_at)::date - 1 FROM reports WHERE commit_seq > $1::bigint)",
                  1, p1, &recv, err, errsize);
    if (rc == 0) {
        load l = {.m = m};
        for (int i = 0; rows && i < PQntuples(rows); i++)
            l.bad += dim_row(m, rows, i) != 0;
        for (int i = 0; years && i < PQntuples(years); i++)
            l.bad += dim_row(m, years, i) != 0;
        for (int i = 0; recv && i < PQntuples(recv); i++)
            pub_model_receipt(m, atoi(PQgetvalue(recv, i, 0)), PQgetvalue(recv, i, 1),
                              PQgetvalue(recv, i, 2));
        info->changed = (long long)n;
        info->dim_rows = (rows ? PQntuples(rows) : 0) + (years ? PQntuples(years) : 0);
        info->skipped = l.bad;
    }
    for (size_t i = 0; i < n; i++)
        free(ds[i]);
    for (size_t i = 0; i < ny; i++)
        free(yds[i]);
    free(cs);
    free(ds);
    free(ycs);
    free(yds);
    free(ca);
    free(da);
    free(yca);
    free(yda);
    PQclear(ch);
    PQclear(rows);
    PQclear(years);
    PQclear(recv);
    return rc;
}

/* The model file into m when it matches the database (its schema version,
 * a seq not ahead of the database's) and is whole: true, the model at the
 * file's seq.  false: m was cleared (why logged). */
static bool load_file(const char *path, pub_model *m, uint64_t stamp, uint64_t db_seq) {
    char err[512], q[600];
    int rc = pub_model_load(m, path, err, sizeof err);
    if (rc == 0 && pub_model_stamp(m) != stamp)
        snprintf(err, sizeof err, "model file %s: made at schema version %llu, not %llu", path,
                 (unsigned long long)pub_model_stamp(m), (unsigned long long)stamp);
    else if (rc == 0 && pub_model_seq(m) > db_seq)
        snprintf(err, sizeof err,
                 "model file %s: at seq %llu, past the database's %llu (a restored database?)",
                 path, (unsigned long long)pub_model_seq(m), (unsigned long long)db_seq);
    else if (rc == 0)
        return true;
    if (rc != PUFA_ENOTFOUND)
        PLOG_WARN("PUB-MODEL-FILE", "msg=%s action=\"full snapshot\"",
                  pufa_log_quote(q, sizeof q, err));
    pub_model_clear(m);
    return false;
}

int pub_snapshot_load(const char *db, const pub_snapshot_opts *o, pub_model *m, pub_firsts *firsts,
                      pub_snapshot_info *info, char *err, size_t errsize) {
    static const pub_snapshot_opts none = {0};
    if (!o)
        o = &none;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *info = (pub_snapshot_info){0};
    PGconn *c = NULL;
    int rc = pufa_pg_connect(db, &c, err, errsize);
    if (rc)
        return rc;
    PGresult *seq = NULL, *units = NULL, *firstr = NULL, *periods = NULL;
    pufa_orgunits *ou = NULL;
    bool file = o->model_file && o->model_file[0];
    if ((rc = pufa_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errsize)))
        goto out;
    /* Every level: names, and each county's city and province. */
    if ((rc = pufa_db_load_orgunits(c, &ou, err, errsize)))
        goto out;
    seq = PQexec(c, "SELECT seq FROM feed_state");
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
    PGresult *all[] = {seq, units, firstr, periods};
    for (int i = 0; i < 4; i++) {
        if (PQresultStatus(all[i]) != PGRES_TUPLES_OK) {
            pufa_pg_errcopy(err, errsize, "snapshot: ", PQresultErrorMessage(all[i]));
            rc = PUFA_EDB;
            goto out;
        }
    }
    uint64_t db_seq = (uint64_t)atoll(PQgetvalue(seq, 0, 0));
    int schema = file ? pufa_schema_version(c, err, errsize) : 0;
    if (schema < 0) {
        rc = schema;
        goto out;
    }
    pub_model_wrlock(m);
    /* A model that holds a whole snapshot plus deltas (a resync after a
     * gap), or the model file, only catches up. */
    bool warm = file && o->incremental && pub_model_seq(m) <= db_seq &&
                pub_model_stamp(m) == (uint64_t)schema;
    if (file && !warm) {
        struct timespec f0, f1;
        clock_gettime(CLOCK_MONOTONIC, &f0);
        warm = load_file(o->model_file, m, (uint64_t)schema, db_seq);
        info->from_file = warm;
        clock_gettime(CLOCK_MONOTONIC, &f1);
        info->file_seconds =
            (double)(f1.tv_sec - f0.tv_sec) + (double)(f1.tv_nsec - f0.tv_nsec) / 1e9;
    }
    if (!warm)
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
    if (warm) {
        info->caught_up = true;
        info->caught_up_from = pub_model_seq(m);
        rc = catch_up(c, m, pub_model_seq(m), info, err, errsize);
    } else {
        rc = load_rollups(c, m, info, err, errsize);
        /* Bounded by received days x counties x units, like the rollups;
         * through a cursor too (a nation has millions). */
        load rl = {.m = m};
        if (rc == 0)
            rc = fetch_all(c,
                           "DECLARE receipts NO SCROLL CURSOR FOR SELECT day - DATE '1970-01-01',"
                           " county_code, unit_code FROM receipt_daily",
                           "receipts", receipt_row, &rl, err, errsize);
        pub_model_shrink(m);
    }
    if (rc) {
        pub_model_unlock(m);
        goto out;
    }
    /* The first receipts, all of them, whichever way the figures came (a
     * model file does not hold them): counties x units x months. */
    for (int i = 0; i < PQntuples(firstr); i++)
        pub_firsts_add(firsts, PQgetvalue(firstr, i, 0), PQgetvalue(firstr, i, 1),
                       atoi(PQgetvalue(firstr, i, 2)),
                       pufa_city_day(atoll(PQgetvalue(firstr, i, 3))));
    /* The approval states: all of them, whichever way the figures came
     * (a model file does not hold them). */
    pub_periods_clear(pub_model_periods(m));
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
    info->seq = db_seq;
    pub_model_set_seq(m, info->seq);
    pub_model_set_stamp(m, (uint64_t)schema);
    pub_model_unlock(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    info->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (warm)
        PLOG_INFO("PUB-SNAPSHOT",
                  "seq=%llu from_seq=%llu source=%s file_seconds=%.3f changed_county_days=%lld "
                  "rows=%lld seconds=%.3f",
                  (unsigned long long)info->seq, (unsigned long long)info->caught_up_from,
                  info->from_file ? "model_file" : "model", info->file_seconds, info->changed,
                  info->dim_rows, info->seconds);
    else
        PLOG_INFO("PUB-SNAPSHOT",
                  "seq=%llu cells=%lld dim_rows=%lld journal_rows=%lld seconds=%.3f",
                  (unsigned long long)info->seq, info->dim_rows + info->journal_rows,
                  info->dim_rows, info->journal_rows, info->seconds);
    if (info->skipped)
        PLOG_WARN("PUB-SNAPSHOT-SKIPPED",
                  "rows=%lld msg=\"rollup rows with an unknown dimension or key were left out\"",
                  info->skipped);
out:
    PQclear(seq);
    PQclear(firstr);
    pufa_orgunits_destroy(&ou);
    PQclear(units);
    PQclear(periods);
    PQfinish(c);
    return rc;
}

int pub_snapshot_save(const char *path, pub_model *m) {
    char err[512], q[600];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pub_model_rdlock(m);
    uint64_t seq = pub_model_seq(m);
    int rc = pub_model_save(m, path, err, sizeof err);
    pub_model_unlock(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc)
        PLOG_WARN("PUB-MODEL-FILE", "msg=%s", pufa_log_quote(q, sizeof q, err));
    else
        PLOG_INFO("PUB-MODEL-FILE", "path=%s seq=%llu seconds=%.3f msg=\"written\"", path,
                  (unsigned long long)seq, s);
    return rc;
}

/* ---- days before the horizon, read on demand ---- */

/* The sums per county x key of one dimension over [$1, $2] in table t
 * (rollup_dim through its primary key's day range, or the journal: the
 * model adds the two up; not through rollup_live, whose GROUP BY over both
 * would first sum every cell of those days). */
#define COLD_ROWS(t)                                                                               \
    "SELECT county_code, key, sum(reports), sum(sessions), sum(participants), sum(materials),"     \
    " sum(consultations), sum(banners), sum(led_messages), sum(online_posts), sum(online_views),"  \
    " sum(volunteers), sum(funds_fen) FROM " t " WHERE day BETWEEN $1::date AND $2::date"          \
    " AND dim = $3 GROUP BY 1, 2"

struct pub_cold {
    char *db;
    pthread_mutex_t mu;
    PGconn *c;
};

pub_cold *pub_cold_new(const char *db) {
    pub_cold *k = pufa_calloc(1, sizeof *k);
    k->db = pufa_strdup(db);
    pthread_mutex_init(&k->mu, NULL);
    return k;
}

void pub_cold_destroy(pub_cold **pk) {
    if (!pk || !*pk)
        return;
    PQfinish((*pk)->c);
    pthread_mutex_destroy(&(*pk)->mu);
    free((*pk)->db);
    free(*pk);
    *pk = NULL;
}

int pub_cold_read(void *ctx, pufa_day from, pufa_day to, pub_dim dim, pub_cold_emit emit,
                  void *ectx) {
    pub_cold *k = ctx;
    char a[11], b[11], err[512], q[600];
    pufa_date_format(from, a);
    pufa_date_format(to, b);
    const char *params[] = {a, b, pub_dim_names[dim]};
    pthread_mutex_lock(&k->mu);
    int rc = 0;
    if (!k->c || PQstatus(k->c) != CONNECTION_OK) {
        PQfinish(k->c);
        k->c = NULL;
        rc = pufa_pg_connect(k->db, &k->c, err, sizeof err);
    }
    PGresult *r = NULL;
    if (rc == 0)
        rc = query(k->c,
                   "WITH " JOURNAL_DIMS_SQL
                   " " COLD_ROWS("rollup_dim") " UNION ALL " COLD_ROWS("jd"),
                   3, params, &r, err, sizeof err);
    if (rc == 0) {
        for (int i = 0; i < PQntuples(r); i++) {
            int64_t fig[NFIG];
            row_figs(r, i, 2, fig);
            emit(ectx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), fig);
        }
    } else {
        PLOG_WARN("PUB-COLD-READ", "from=%s to=%s dim=%s msg=%s", a, b, pub_dim_names[dim],
                  pufa_log_quote(q, sizeof q, err));
    }
    PQclear(r);
    pthread_mutex_unlock(&k->mu);
    return rc;
}
