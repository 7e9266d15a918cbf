#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "copy.h"
#include "error.h"
#include "log.h"
#include "migrate.h"
#include "pg.h"
#include "pufa.pb-c.h"
#include "rollup.h"
#include "store_sql.h"
#include "uuid.h"
#include "wire.h"

#define NARRAYS (NREPORT_PARAMS + 1)
/* The session advisory lock that makes the aggregator the only writer. */
#define WRITER_LOCK_KEY "4930671528"
/* The prepared lock probe (store_connect). */
#define LOCK_STMT "pufa_lock"

struct store {
    char *conninfo;
    char *sql_upsert, *sql_history; /* built once: see store_sql.h */
    PGconn *conn;
    rollup_set rs;
    pufa_buf arr[NARRAYS];
    pufa_buf copybuf;
    lockmap locks; /* locked county-months: loaded at connect, swapped by store_approve */
};

/* A row to write: a report, who sent it, and (history only) the revision
 * that superseded it. */
typedef struct row_ref {
    const pufa_report *r;
    const char *collector_id;
    int64_t superseded_by;
} row_ref;

/* The current state of one report id within the transaction. */
typedef struct id_state {
    const char *id;
    bool was_stored;        /* a row existed before this transaction */
    const pufa_report *cur; /* NULL: not stored */
    const char *cur_collector;
    const agg_item *final; /* the item whose row must be written, if any */
} id_state;

/* "$1::uuid[], $2::int4[], ..." for the report arrays, then extra. */
static char *report_arrays(const char *extra) {
    static const char *const types[NREPORT_PARAMS] = {REPORT_ARRAY_TYPES};
    pufa_buf b;
    pufa_buf_init(&b);
    for (int i = 0; i < NREPORT_PARAMS; i++)
        pufa_buf_printf(&b, "%s$%d::%s[]", i ? ", " : "", i + 1, types[i]);
    pufa_buf_puts(&b, extra);
    return pufa_buf_steal(&b);
}

store *store_new(const char *conninfo) {
    store *s = pufa_calloc(1, sizeof *s);
    s->conninfo = pufa_strdup(conninfo);
    char *arrays = report_arrays("");
    char seq_param[32];
    snprintf(seq_param, sizeof seq_param, "$%d::int8", NREPORT_PARAMS + 1);
    s->sql_upsert = pufa_asprintf(SQL_REPORTS_UPSERT_FMT, seq_param, arrays);
    free(arrays);
    char superseded[32];
    snprintf(superseded, sizeof superseded, ", $%d::int4[]", NREPORT_PARAMS + 1);
    arrays = report_arrays(superseded);
    s->sql_history = pufa_asprintf(SQL_HISTORY_INSERT_FMT, arrays);
    free(arrays);
    rollup_set_init(&s->rs);
    for (int i = 0; i < NARRAYS; i++)
        pufa_buf_init(&s->arr[i]);
    pufa_buf_init(&s->copybuf);
    return s;
}

void store_destroy(store **ps) {
    if (!ps || !*ps)
        return;
    store *s = *ps;
    store_disconnect(s);
    rollup_set_free(&s->rs);
    for (int i = 0; i < NARRAYS; i++)
        pufa_buf_free(&s->arr[i]);
    pufa_buf_free(&s->copybuf);
    free(s->sql_upsert);
    free(s->sql_history);
    lockmap_free(&s->locks);
    free(s->conninfo);
    free(s);
    *ps = NULL;
}

bool store_connected(const store *s) {
    return s->conn && PQstatus(s->conn) == CONNECTION_OK;
}

void store_disconnect(store *s) {
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
}

int store_connect(store *s, char *err, size_t errsize) {
    if (store_connected(s))
        return 0;
    store_disconnect(s);
    int rc = pufa_pg_connect(s->conninfo, &s->conn, err, errsize);
    if (rc)
        return rc;
    int v = pufa_schema_version(s->conn, err, errsize);
    if (v < 0) {
        store_disconnect(s);
        return PUFA_EDBDOWN;
    }
    int want = pufa_migrations[pufa_migration_count - 1].version;
    if (v < want) {
        snprintf(err, errsize,
                 "database schema is version %d, this aggregator needs %d: run pufa migrate", v,
                 want);
        store_disconnect(s);
        return PUFA_ECONFIG;
    }
    /* One writer per database: the COPY fast path ("not stored, so insert")
     * and the feed's gapless sequence rely on it.  A second aggregator waits
     * here (not ready, retrying) until the first one's session ends. */
    PGresult *r = PQexec(s->conn, "SELECT pg_try_advisory_lock(" WRITER_LOCK_KEY ")");
    bool got = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!got) {
        snprintf(err, errsize,
                 "another aggregator is writing to this database; waiting for it "
                 "to stop");
        store_disconnect(s);
        return PUFA_EDBDOWN;
    }
    /* Group commits wait for durability: the ack promise depends on it. */
    pufa_pg_exec(s->conn, "SET synchronous_commit = on", err, errsize);
    /* This session only ever looks rows up by key.  Given 10,000 ids, the
     * planner would rather scan the whole reports table (measured: 120 ms at
     * 800,000 rows, and growing with it) than probe the primary key 10,000
     * times (25-40 ms, whatever the size). */
    pufa_pg_exec(s->conn, "SET enable_seqscan = off", err, errsize);
    /* Nor does JIT compilation ever pay for itself on these short statements;
     * and with seq scans priced out, the one-row feed_state UPDATE (which
     * has no other plan) would cross jit_above_cost and be compiled, with
     * inlining and optimisation, in every transaction (measured: +80 ms). */
    pufa_pg_exec(s->conn, "SET jit = off", err, errsize);
    /* The lock probe's plan does not depend on which ids it is given (the
     * primary key, seq scans being off), but a custom plan is made for each
     * set: the planner estimates every element of the array, and the
     * statement carried the ids as text (36 bytes each, parsed).  Prepared
     * once with a binary uuid[] and a generic plan, measured on 7,000 ids:
     * 33-50 ms of planning and 20-30 ms of parsing per transaction saved
     * (bench/README.md).  The other statements of this session insert from
     * unnested arrays, whose plans have one shape whatever the values. */
    pufa_pg_exec(s->conn, "SET plan_cache_mode = force_generic_plan", err, errsize);
    const Oid uuid_array = 2951; /* uuid[] (pg_type.h) */
    PGresult *pr = PQprepare(s->conn, LOCK_STMT, SQL_REPORTS_LOCK, 1, &uuid_array);
    int prc = pufa_pg_check(s->conn, pr, PGRES_COMMAND_OK, "prepare lock", err, errsize);
    PQclear(pr);
    if (prc) {
        store_disconnect(s);
        return PUFA_EDBDOWN;
    }
    /* The locked periods, read after taking the writer lock: from here on
     * only this session changes them (store_approve). */
    int lrc = lockmap_load(s->conn, &s->locks, err, errsize);
    if (lrc) {
        store_disconnect(s);
        return PUFA_EDBDOWN;
    }
    return 0;
}

void store_set_deadline(store *s, int days) {
    s->locks.deadline_days = days;
}

int store_approve(store *s, const approval_req *req, approval_res *res, char *err, size_t errsize) {
    if (!store_connected(s)) {
        snprintf(err, errsize, "not connected");
        return PUFA_EDBDOWN;
    }
    return periods_apply(s->conn, &s->locks, req, pufa_city_day(pufa_now_ms()), res, err, errsize);
}

int store_apply_remote(store *s, const char *via, const char *bound, const char *home,
                       int64_t src_seq, const remote_period *v, size_t n, approval_res *res,
                       char *err, size_t errsize) {
    if (!store_connected(s)) {
        snprintf(err, errsize, "not connected");
        return PUFA_EDBDOWN;
    }
    return periods_apply_remote(s->conn, &s->locks, via, bound, home, src_seq, v, n, res, err,
                                errsize);
}

/* Is it refused because a period it touches is locked?  A new report
 * touches its own month; a revision or retraction also the month of the
 * revision it replaces (moving a report out of a locked month changes that
 * month's total just as much). */
static const pufa_report *locked_report(const store *s, const pufa_report *r,
                                        const pufa_report *cur, pufa_day today, char *reason,
                                        size_t rsize) {
    if (lockmap_locked(&s->locks, r->county_code, r->occurred_day, today, reason, rsize))
        return r;
    if (cur && cur->occurred_day != r->occurred_day &&
        lockmap_locked(&s->locks, cur->county_code, cur->occurred_day, today, reason, rsize))
        return cur;
    return NULL;
}

/* A report refused LOCKED, for period_audit: the period that locked it. */
typedef struct refusal {
    const agg_item *it;
    char county[7];
    int32_t month;
    int state;
} refusal;

int store_ping(store *s, char *err, size_t errsize) {
    if (!store_connected(s))
        return PUFA_EDBDOWN;
    PGresult *r = PQexec(s->conn, "SELECT 1");
    int rc = pufa_pg_check(s->conn, r, PGRES_TUPLES_OK, "ping", err, errsize);
    PQclear(r);
    if (rc)
        store_disconnect(s);
    return rc ? PUFA_EDBDOWN : 0;
}

static int exec_simple(store *s, const char *sql, char *err, size_t errsize) {
    PGresult *r = PQexec(s->conn, sql);
    int rc = pufa_pg_check(s->conn, r, PGRES_COMMAND_OK, sql, err, errsize);
    PQclear(r);
    return rc;
}

static int cmp_id_state(const void *a, const void *b) {
    return strcmp(((const id_state *)a)->id, ((const id_state *)b)->id);
}

static id_state *find_state(id_state *st, size_t n, const char *id) {
    id_state key = {.id = id};
    return bsearch(&key, st, n, sizeof *st, cmp_id_state);
}

static void put_be32(pufa_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    pufa_buf_append(b, x, 4);
}

/* The ids as a one-dimensional uuid[] in PostgreSQL's binary format (array_recv):
 * dimensions, no-null flag, element type, length, lower bound, then each
 * element's length and 16 bytes. */
static void uuid_array_binary(pufa_buf *b, const id_state *st, size_t n) {
    pufa_buf_reset(b);
    put_be32(b, 1);
    put_be32(b, 0);
    put_be32(b, 2950); /* uuid */
    put_be32(b, (uint32_t)n);
    put_be32(b, 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t id[16] = {0};
        pufa_uuid_parse(st[i].id, id); /* validated at intake */
        put_be32(b, 16);
        pufa_buf_append(b, id, 16);
    }
}

static void open_arrays(store *s, int count) {
    for (int i = 0; i < count; i++)
        pufa_pgarr_open(&s->arr[i]);
}

/* One period_audit row per refused report, in the batch's transaction. */
#define SQL_AUDIT_REFUSED                                                                          \
    "INSERT INTO period_audit (org_code, month, action, outcome, from_state, to_state, actor,"     \
    " actor_org, reason, report_id, revision)"                                                     \
    " SELECT o, m, 'refuse_report', 'refused', st, st, a, o, why, id, rev"                         \
    " FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::uuid[],"         \
    " $7::int4[]) AS x(o, m, st, a, why, id, rev)"

static int audit_refusals(store *s, const refusal *v, size_t n, char *err, size_t errsize) {
    if (n == 0)
        return 0;
    pufa_buf *a = s->arr;
    open_arrays(s, 7);
    for (size_t i = 0; i < n; i++) {
        char ms[8], day[11];
        period_month_format(v[i].month, ms);
        snprintf(day, sizeof day, "%s-01", ms);
        const agg_item *it = v[i].it;
        pufa_pgarr_text(&a[0], v[i].county);
        pufa_pgarr_text(&a[1], day);
        pufa_pgarr_text(&a[2], period_state_name(v[i].state));
        pufa_pgarr_text(&a[3], it->collector_id ? it->collector_id : "");
        pufa_pgarr_text(&a[4], it->reason);
        pufa_pgarr_text(&a[5], it->report.report_id);
        pufa_pgarr_int(&a[6], it->report.revision);
    }
    const char *params[7];
    for (int i = 0; i < 7; i++) {
        pufa_pgarr_close(&a[i]);
        params[i] = a[i].data;
    }
    PGresult *r = PQexecParams(s->conn, SQL_AUDIT_REFUSED, 7, NULL, params, NULL, NULL, 0);
    int rc = pufa_pg_check(s->conn, r, PGRES_COMMAND_OK, "period_audit refusals", err, errsize);
    PQclear(r);
    return rc;
}

static void add_row(store *s, const row_ref *row, bool history) {
    const pufa_report *r = row->r;
    pufa_buf *a = s->arr;
    pufa_pgarr_text(&a[0], r->report_id);
    pufa_pgarr_int(&a[1], r->revision);
    pufa_pgarr_bool(&a[2], r->retracted);
    pufa_pgarr_text(&a[3], r->county_code);
    pufa_pgarr_text(&a[4], r->township ? r->township : "");
    pufa_pgarr_text(&a[5], r->unit_code);
    pufa_pgarr_text(&a[6], r->unit_name ? r->unit_name : "");
    pufa_pgarr_text(&a[7], r->occurred_on);
    pufa_pgarr_text(&a[8], r->ended_on && *r->ended_on ? r->ended_on : NULL);
    pufa_pgarr_int(&a[9], r->theme);
    pufa_pgarr_int(&a[10], r->venue);
    pufa_pgarr_int(&a[11], r->form);
    pufa_pgarr_text(&a[12], r->campaign ? r->campaign : "");
    pufa_pgarr_text(&a[13], r->title);
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        pufa_pgarr_int(&a[REPORT_COL_COUNTER0 + c], r->counters[c]);
    pufa_pgarr_int(&a[REPORT_COL_COUNTER0 + PUFA_NCOUNTERS], r->received_at_ms);
    pufa_pgarr_text(&a[REPORT_COL_COUNTER0 + PUFA_NCOUNTERS + 1],
                    row->collector_id ? row->collector_id : "");
    if (history)
        pufa_pgarr_int(&a[NREPORT_PARAMS], row->superseded_by);
}

/* Writes rows to report_history (history) or upserts them into reports
 * under commit sequence seq. */
static int write_rows(store *s, const row_ref *rows, size_t n, bool history, uint64_t seq,
                      char *err, size_t errsize) {
    if (n == 0)
        return 0;
    int count = history ? NREPORT_PARAMS + 1 : NREPORT_PARAMS;
    open_arrays(s, count);
    for (size_t i = 0; i < n; i++)
        add_row(s, &rows[i], history);
    const char *params[NARRAYS + 1];
    for (int i = 0; i < count; i++) {
        pufa_pgarr_close(&s->arr[i]);
        params[i] = s->arr[i].data;
    }
    char seqtext[24];
    if (!history) {
        snprintf(seqtext, sizeof seqtext, "%llu", (unsigned long long)seq);
        params[count++] = seqtext;
    }
    PGresult *r = PQexecParams(s->conn, history ? s->sql_history : s->sql_upsert, count, NULL,
                               params, NULL, NULL, 0);
    int rc =
        pufa_pg_check(s->conn, r, PGRES_COMMAND_OK, history ? "history" : "reports", err, errsize);
    PQclear(r);
    return rc;
}

void store_parse_row(const PGresult *res, int i, pufa_report *r) {
    {
        pufa_report_init(r);
        r->report_id = pufa_strdup(PQgetvalue(res, i, 0));
        r->revision = atoll(PQgetvalue(res, i, 1));
        r->retracted = PQgetvalue(res, i, 2)[0] == 't';
        r->county_code = pufa_strdup(PQgetvalue(res, i, 3));
        r->township = pufa_strdup(PQgetvalue(res, i, 4));
        r->unit_code = pufa_strdup(PQgetvalue(res, i, 5));
        r->unit_name = pufa_strdup(PQgetvalue(res, i, 6));
        r->occurred_on = pufa_strdup(PQgetvalue(res, i, 7));
        const char *ended = PQgetvalue(res, i, 8);
        r->ended_on = *ended ? pufa_strdup(ended) : NULL;
        r->theme = atoi(PQgetvalue(res, i, 9));
        r->venue = atoi(PQgetvalue(res, i, 10));
        r->form = atoi(PQgetvalue(res, i, 11));
        r->campaign = pufa_strdup(PQgetvalue(res, i, 12));
        r->title = pufa_strdup(PQgetvalue(res, i, 13));
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            r->counters[c] = atoll(PQgetvalue(res, i, REPORT_COL_COUNTER0 + c));
        r->received_at_ms = atoll(PQgetvalue(res, i, REPORT_COL_COUNTER0 + PUFA_NCOUNTERS));
        pufa_date_parse(r->occurred_on, &r->occurred_day);
        r->ended_day = r->occurred_day;
    }
}

/* Parses the locked rows into reports (owned by the caller). */
static void parse_stored(PGresult *res, pufa_report *rows, char **collectors) {
    for (int i = 0; i < PQntuples(res); i++) {
        store_parse_row(res, i, &rows[i]);
        collectors[i] = pufa_strdup(PQgetvalue(res, i, REPORT_COL_COUNTER0 + PUFA_NCOUNTERS + 1));
    }
}

/* The folded rollup set: its cells appended to rollup_journal under feed
 * sequence seq, its receipts upserted. */
static int write_rollups(store *s, uint64_t seq, char *err, size_t errsize) {
    const rollup_set *rs = &s->rs;
    int rc = 0;
    if (rs->n) {
        /* The journal is append-only: COPY, no index to update, no conflict
         * to resolve.  The compactor folds it into rollup_dim later. */
        copy_begin(&s->copybuf);
        for (size_t i = 0; i < rs->n; i++)
            copy_journal_row(&s->copybuf, seq, &rs->cells[i]);
        copy_end(&s->copybuf);
        rc = pufa_pg_copy_in(s->conn, SQL_JOURNAL_COPY, s->copybuf.data, s->copybuf.len,
                             "rollup journal", err, errsize);
        if (rc)
            return rc;
    }
    if (rs->nr) {
        pufa_buf *a = s->arr;
        open_arrays(s, 7);
        for (size_t i = 0; i < rs->nr; i++) {
            const pufa_receipt *c = &rs->receipts[i];
            char day[11], month[8], first[11];
            pufa_date_format(c->day, day);
            pufa_pgarr_text(&a[0], day);
            pufa_pgarr_text(&a[1], c->county);
            pufa_pgarr_text(&a[2], c->unit_code);
            pufa_pgarr_int(&a[3], c->reports);
            pufa_pgarr_int(&a[4], c->last_ms);
            pufa_month_format(c->month, month); /* "" when not known: NULL */
            snprintf(first, sizeof first, "%s-01", month);
            pufa_pgarr_text(&a[5], month[0] ? first : NULL);
            pufa_pgarr_int(&a[6], c->first_ms);
        }
        const char *params[7];
        for (int i = 0; i < 7; i++) {
            pufa_pgarr_close(&a[i]);
            params[i] = a[i].data;
        }
        PGresult *r = PQexecParams(s->conn, SQL_RECEIPT_UPSERT, 7, NULL, params, NULL, NULL, 0);
        rc = pufa_pg_check(s->conn, r, PGRES_COMMAND_OK, "receipts", err, errsize);
        PQclear(r);
    }
    return rc;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int store_apply(store *s, agg_item **items, size_t n, store_commit *out, char *err,
                size_t errsize) {
    memset(out, 0, sizeof *out);
    if (!store_connected(s)) {
        snprintf(err, errsize, "not connected");
        return PUFA_EDBDOWN;
    }
    double t0 = now_seconds();
    int rc;
    PGresult *res = NULL;
    pufa_report *stored = NULL;
    char **stored_collectors = NULL;
    int nstored = 0;
    id_state *st = pufa_calloc(n, sizeof *st);
    row_ref *history = pufa_calloc(n, sizeof *history);
    row_ref *finals = pufa_calloc(n, sizeof *finals);
    refusal *refused = NULL;
    size_t nhistory = 0, nfinals = 0, nst = 0, ncopy = 0, nrefused = 0;
    rollup_set_reset(&s->rs);

    double tp[6] = {0};
    if ((rc = exec_simple(s, "BEGIN", err, errsize)))
        goto fail;

    /* The distinct ids, sorted. */
    for (size_t i = 0; i < n; i++)
        st[nst++].id = items[i]->report.report_id;
    qsort(st, nst, sizeof *st, cmp_id_state);
    size_t u = 0;
    for (size_t i = 0; i < nst; i++)
        if (u == 0 || strcmp(st[u - 1].id, st[i].id) != 0)
            st[u++] = st[i];
    nst = u;

    /* Lock and read what is stored for them. */
    uuid_array_binary(&s->arr[0], st, nst);
    const char *p[1] = {s->arr[0].data};
    const int plen[1] = {(int)s->arr[0].len}, pfmt[1] = {1};
    res = PQexecPrepared(s->conn, LOCK_STMT, 1, p, plen, pfmt, 0);
    if ((rc = pufa_pg_check(s->conn, res, PGRES_TUPLES_OK, "lock", err, errsize)))
        goto fail;
    tp[0] = now_seconds();
    nstored = PQntuples(res);
    stored = pufa_calloc((size_t)nstored + 1, sizeof *stored);
    stored_collectors = pufa_calloc((size_t)nstored + 1, sizeof(char *));
    parse_stored(res, stored, stored_collectors);
    PQclear(res);
    res = NULL;
    for (int i = 0; i < nstored; i++) {
        id_state *e = find_state(st, nst, stored[i].report_id);
        if (e) {
            e->cur = &stored[i];
            e->cur_collector = stored_collectors[i];
            e->was_stored = true;
        }
    }

    /* Decide each report in arrival order. */
    pufa_day today = pufa_city_day(pufa_now_ms());
    for (size_t i = 0; i < n; i++) {
        agg_item *it = items[i];
        pufa_report *r = &it->report;
        id_state *e = find_state(st, nst, r->report_id);
        bool changes = !e->cur || (strcmp(e->cur->county_code, r->county_code) == 0 &&
                                   r->revision > e->cur->revision);
        /* A forwarded report was decided against the lower level's own
         * locks when it entered there (where the lock is enforced, README
         * "Official figures"): the figures it committed are the ones it
         * froze, so it is not judged again against this level's mirror of
         * those states, which may be a commit ahead or behind. */
        const pufa_report *lk =
            changes && !it->from_link
                ? locked_report(s, r, e->cur, today, it->reason, sizeof it->reason)
                : NULL;
        if (lk) {
            it->status = PUFA__REPORT_STATUS__STATUS_LOCKED;
            out->locked++;
            if (!refused)
                refused = pufa_calloc(n, sizeof *refused);
            refusal *x = &refused[nrefused++];
            x->it = it;
            pufa_copy(x->county, sizeof x->county, lk->county_code);
            x->month = period_month_of(lk->occurred_day);
            x->state = lockmap_state(&s->locks, x->county, x->month);
            continue;
        }
        if (!e->cur) {
            it->status = PUFA__REPORT_STATUS__STATUS_COMMITTED;
        } else if (strcmp(e->cur->county_code, r->county_code) != 0) {
            it->status = PUFA__REPORT_STATUS__STATUS_REJECTED;
            snprintf(it->reason, sizeof it->reason,
                     "report_id: already used by a report of another county");
            out->rejected++;
            continue;
        } else if (r->revision == e->cur->revision) {
            it->status = PUFA__REPORT_STATUS__STATUS_DUPLICATE;
            out->duplicate++;
            continue;
        } else if (r->revision < e->cur->revision) {
            it->status = PUFA__REPORT_STATUS__STATUS_STALE;
            out->stale++;
            continue;
        } else {
            it->status = PUFA__REPORT_STATUS__STATUS_COMMITTED;
            history[nhistory++] = (row_ref){e->cur, e->cur_collector, r->revision};
            if (!e->cur->retracted)
                rollup_add_report(&s->rs, e->cur, -1);
        }
        if (!r->retracted)
            rollup_add_report(&s->rs, r, +1);
        rollup_add_receipt(&s->rs, r, r->received_at_ms ? r->received_at_ms : pufa_now_ms());
        e->cur = r;
        e->cur_collector = it->collector_id;
        e->final = it;
        out->committed++;
    }
    /* The feed's next number first: the rows (their commit_seq, the
     * forwarder's order) and the journal rows carry it. */
    if (out->committed) {
        res = PQexec(s->conn, SQL_FEED_NEXT);
        if ((rc = pufa_pg_check(s->conn, res, PGRES_TUPLES_OK, "feed", err, errsize)))
            goto fail;
        out->seq = (uint64_t)atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
        res = NULL;
    }
    /* New ids go in by COPY (nothing can conflict: the stored rows are
     * locked and this is the only writer); replaced ones by upsert. */
    copy_begin(&s->copybuf);
    for (size_t i = 0; i < nst; i++) {
        if (!st[i].final)
            continue;
        if (st[i].was_stored) {
            finals[nfinals++] = (row_ref){&st[i].final->report, st[i].final->collector_id, 0};
        } else {
            copy_row_seq(&s->copybuf, &st[i].final->report, st[i].final->collector_id, out->seq);
            ncopy++;
        }
    }
    copy_end(&s->copybuf);

    tp[1] = now_seconds();
    if ((rc = write_rows(s, history, nhistory, true, 0, err, errsize)) ||
        (rc = write_rows(s, finals, nfinals, false, out->seq, err, errsize)) ||
        (ncopy && (rc = pufa_pg_copy_in(s->conn, SQL_REPORTS_COPY, s->copybuf.data, s->copybuf.len,
                                        "copy", err, errsize))))
        goto fail;
    tp[2] = now_seconds();
    rollup_fold(&s->rs);
    if ((rc = write_rollups(s, out->seq, err, errsize)))
        goto fail;
    out->journal_rows = s->rs.n;
    if ((rc = audit_refusals(s, refused, nrefused, err, errsize)))
        goto fail;
    tp[3] = now_seconds();
    if ((rc = exec_simple(s, "COMMIT", err, errsize))) {
        /* The outcome of a COMMIT whose connection broke is unknown: leave
         * everything unacked; the resend finds it duplicate if it landed. */
        out->seq = 0;
        goto fail;
    }
    out->seconds = now_seconds() - t0;
    tp[4] = now_seconds();
    PLOG_DEBUG("AGG-TXN",
               "reports=%zu cells=%zu lock_s=%.3f decide_s=%.3f rows_s=%.3f "
               "rollups_s=%.3f commit_s=%.3f",
               n, s->rs.n, tp[0] - t0, tp[1] - tp[0], tp[2] - tp[1], tp[3] - tp[2], tp[4] - tp[3]);
    if (out->seq) {
        pufa_delta d;
        rollup_delta(&s->rs, out->seq, pufa_now_ms(), &d);
        out->delta = pufa_delta_encode(&d, &out->delta_len);
    }
    rc = 0;
    goto done;

fail:
    if (res)
        PQclear(res);
    if (PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    for (size_t i = 0; i < n; i++) {
        items[i]->status = 0;
        items[i]->reason[0] = '\0';
    }
    out->committed = out->duplicate = out->stale = out->rejected = out->locked = 0;
    out->journal_rows = 0;
    out->seq = 0;
done:
    for (int i = 0; i < nstored; i++) {
        pufa_report_clear(&stored[i]);
        free(stored_collectors[i]);
    }
    free(stored);
    free(stored_collectors);
    free(st);
    free(history);
    free(finals);
    free(refused);
    return rc;
}

void store_commits_init(store_commits *cs) {
    memset(cs, 0, sizeof *cs);
}

void store_commits_free(store_commits *cs) {
    for (size_t i = 0; i < cs->n; i++)
        free(cs->c[i].delta);
    free(cs->c);
    memset(cs, 0, sizeof *cs);
}

static void commits_add(store_commits *cs, const store_commit *c) {
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 4;
        cs->c = pufa_realloc(cs->c, cs->cap * sizeof *cs->c);
    }
    cs->c[cs->n++] = *c;
}

int store_apply_all(store *s, agg_item **items, size_t n, store_commits *out, char *err,
                    size_t errsize) {
    if (n == 0)
        return 0;
    store_commit c;
    int rc = store_apply(s, items, n, &c, err, errsize);
    if (rc == 0) {
        commits_add(out, &c);
        return 0;
    }
    if (rc != PUFA_EDB)
        return rc;
    if (n == 1) {
        /* The poison row: reject it alone, with the database's reason. */
        items[0]->status = PUFA__REPORT_STATUS__STATUS_REJECTED;
        snprintf(items[0]->reason, sizeof items[0]->reason, "refused by the database: %s", err);
        char q[300];
        PLOG_WARN("AGG-POISON", "report_id=%s reason=%s", items[0]->report.report_id,
                  pufa_log_quote(q, sizeof q, err));
        store_commit r = {.rejected = 1};
        commits_add(out, &r);
        return 0;
    }
    size_t half = n / 2;
    rc = store_apply_all(s, items, half, out, err, errsize);
    if (rc)
        return rc;
    return store_apply_all(s, items + half, n - half, out, err, errsize);
}
