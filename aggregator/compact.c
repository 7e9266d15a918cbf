#include "compact.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "copy.h"
#include "error.h"
#include "log.h"
#include "pg.h"
#include "report.h"

/* A compaction, in one transaction:
 *   1. DELETE journal rows (a slice at a time) RETURNING them; only
 *      committed rows are visible, so what a commit in flight appends waits
 *      for the next compaction;
 *   2. fold them here, per day x county x dimension (seven entries per row,
 *      equal keys merged: PostgreSQL's GROUPING SETS took 5x as long);
 *   3. COPY the folded rows into a temporary table and apply them to
 *      rollup_dim with one UPDATE ... FROM and one INSERT of the new keys.
 * The fold is flushed whenever it holds FOLD_FLUSH entries, which bounds
 * this thread's memory whatever the journal holds. */
#define SLICE      20000
#define FOLD_FLUSH 100000
#define STR_(x)    #x
#define STR(x)     STR_(x)
#define NDIMS      7
static const char *const DIMS[NDIMS] = {"total", "theme",    "venue",   "form",
                                        "unit",  "campaign", "township"};

static const char SQL_SLICE[] =
    "DELETE FROM rollup_journal WHERE ctid = ANY (ARRAY(SELECT ctid FROM rollup_journal"
    " LIMIT " STR(SLICE) ")) RETURNING day - DATE '1970-01-01', county_code, theme, venue,"
                         " form, unit_code, campaign, township, " PUFA_FIGURE_COLS;

#define FIG_ADD_(up, low, label, max) ", " #low " = d." #low " + f." #low

static const char SQL_APPLY_UPDATE[] =
    "UPDATE rollup_dim AS d SET reports = d.reports + f.reports" PUFA_COUNTER_MAP(
        FIG_ADD_) " FROM compact_fold AS f WHERE d.day = f.day AND d.county_code = f.county_code"
                  " AND d.dim = f.dim AND d.key = f.key";

static const char SQL_APPLY_INSERT[] =
    "INSERT INTO rollup_dim SELECT * FROM compact_fold AS f WHERE NOT EXISTS (SELECT 1"
    " FROM rollup_dim AS d WHERE d.day = f.day AND d.county_code = f.county_code"
    " AND d.dim = f.dim AND d.key = f.key)";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Interned strings (counties, units, campaigns, enumeration numbers): few
 * distinct ones, so entries compare and hash them as pointers. */
typedef struct strpool {
    char **slot;
    size_t cap, n;
} strpool;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static const char *intern(strpool *p, const char *s) {
    if (2 * (p->n + 1) > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        char **slot = pufa_calloc(cap, sizeof *slot);
        for (size_t i = 0; i < p->cap; i++) {
            if (!p->slot[i])
                continue;
            size_t j = hash_str(p->slot[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = p->slot[i];
        }
        free(p->slot);
        p->slot = slot;
        p->cap = cap;
    }
    size_t j = hash_str(s) & (p->cap - 1);
    for (; p->slot[j]; j = (j + 1) & (p->cap - 1))
        if (!strcmp(p->slot[j], s))
            return p->slot[j];
    p->slot[j] = pufa_strdup(s);
    p->n++;
    return p->slot[j];
}

static void strpool_free(strpool *p) {
    for (size_t i = 0; i < p->cap; i++)
        free(p->slot[i]);
    free(p->slot);
    memset(p, 0, sizeof *p);
}

typedef struct fold_entry {
    const char *county, *key; /* interned */
    pufa_day day;
    int32_t dim; /* index into DIMS */
    int64_t fig[PUFA_NFIGURES];
} fold_entry;

typedef struct fold {
    fold_entry *v;
    size_t n, cap;
    uint32_t *index; /* slot -> entry + 1; size 2 * cap */
    strpool strings;
} fold;

static uint64_t entry_hash(const char *county, const char *key, pufa_day day, int32_t dim) {
    uint64_t h = (uint64_t)(uintptr_t)county * 0x9E3779B97F4A7C15ULL;
    h ^= (uint64_t)(uintptr_t)key * 0xC2B2AE3D27D4EB4FULL;
    h ^= ((uint64_t)(uint32_t)day << 8 | (uint32_t)dim) * 0x165667B19E3779F9ULL;
    return h ^ (h >> 29);
}

static void fold_reindex(fold *f) {
    size_t size = 2 * f->cap;
    free(f->index);
    f->index = pufa_calloc(size, sizeof *f->index);
    for (size_t i = 0; i < f->n; i++) {
        const fold_entry *e = &f->v[i];
        size_t j = entry_hash(e->county, e->key, e->day, e->dim) & (size - 1);
        while (f->index[j])
            j = (j + 1) & (size - 1);
        f->index[j] = (uint32_t)i + 1;
    }
}

static void fold_add(fold *f, const char *county, const char *key, pufa_day day, int32_t dim,
                     const int64_t fig[PUFA_NFIGURES]) {
    if (f->cap) {
        size_t mask = 2 * f->cap - 1;
        for (size_t j = entry_hash(county, key, day, dim) & mask; f->index[j]; j = (j + 1) & mask) {
            fold_entry *e = &f->v[f->index[j] - 1];
            if (e->county == county && e->key == key && e->day == day && e->dim == dim) {
                for (int k = 0; k < PUFA_NFIGURES; k++)
                    e->fig[k] += fig[k];
                return;
            }
        }
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4096;
        f->v = pufa_realloc(f->v, f->cap * sizeof *f->v);
        fold_reindex(f); /* the index doubles with the entries */
    }
    fold_entry *e = &f->v[f->n++];
    e->county = county;
    e->key = key;
    e->day = day;
    e->dim = dim;
    memcpy(e->fig, fig, sizeof e->fig);
    size_t mask = 2 * f->cap - 1, j = entry_hash(county, key, day, dim) & mask;
    while (f->index[j])
        j = (j + 1) & mask;
    f->index[j] = (uint32_t)f->n;
}

static void fold_reset(fold *f) {
    f->n = 0;
    if (f->index)
        memset(f->index, 0, 2 * f->cap * sizeof *f->index);
}

static void fold_free(fold *f) {
    free(f->v);
    free(f->index);
    strpool_free(&f->strings);
    memset(f, 0, sizeof *f);
}

/* NDIMS entries per journal row of r. */
static void fold_rows(fold *f, const PGresult *r) {
    char num[16];
    for (int i = 0; i < PQntuples(r); i++) {
        pufa_day day = atoi(PQgetvalue(r, i, 0));
        const char *county = intern(&f->strings, PQgetvalue(r, i, 1));
        int64_t fig[PUFA_NFIGURES];
        for (int k = 0; k < PUFA_NFIGURES; k++)
            fig[k] = atoll(PQgetvalue(r, i, 8 + k));
        const char *keys[NDIMS];
        keys[0] = intern(&f->strings, "");
        for (int d = 1; d <= 3; d++) {
            snprintf(num, sizeof num, "%d", atoi(PQgetvalue(r, i, 1 + d)));
            keys[d] = intern(&f->strings, num);
        }
        keys[4] = intern(&f->strings, PQgetvalue(r, i, 5));
        keys[5] = intern(&f->strings, PQgetvalue(r, i, 6));
        keys[6] = intern(&f->strings, PQgetvalue(r, i, 7));
        for (int d = 0; d < NDIMS; d++)
            fold_add(f, county, keys[d], day, d, fig);
    }
}

/* Applies the fold to rollup_dim (inside the compaction's transaction). */
static int fold_flush(PGconn *conn, fold *f, pufa_buf *buf, long long *written, double phase[3],
                      char *err, size_t errsize) {
    if (f->n == 0)
        return 0;
    double t0 = now_s();
    copy_begin(buf);
    for (size_t i = 0; i < f->n; i++) {
        const fold_entry *e = &f->v[i];
        copy_tuple(buf, 4 + PUFA_NFIGURES);
        copy_date(buf, e->day);
        copy_text(buf, e->county);
        copy_text(buf, DIMS[e->dim]);
        copy_text(buf, e->key);
        for (int k = 0; k < PUFA_NFIGURES; k++)
            copy_int8(buf, e->fig[k]);
    }
    copy_end(buf);
    int rc = pufa_pg_exec(conn, "TRUNCATE compact_fold", err, errsize);
    if (rc == 0)
        rc = pufa_pg_copy_in(conn,
                             "COPY compact_fold (day, county_code, dim, key, " PUFA_FIGURE_COLS
                             ") FROM STDIN (FORMAT binary)",
                             buf->data, buf->len, "compaction", err, errsize);
    phase[0] += now_s() - t0;
    const char *steps[] = {SQL_APPLY_UPDATE, SQL_APPLY_INSERT};
    for (int s = 0; s < 2 && rc == 0; s++) {
        double ts = now_s();
        PGresult *r = PQexec(conn, steps[s]);
        phase[1 + s] += now_s() - ts;
        rc = pufa_pg_check(conn, r, PGRES_COMMAND_OK, "compaction", err, errsize);
        if (rc == 0)
            *written += atoll(PQcmdTuples(r));
        PQclear(r);
    }
    fold_reset(f);
    return rc;
}

int compact_once(PGconn *conn, long long *moved, long long *written, char *err, size_t errsize) {
    *moved = *written = 0;
    double phase[5] = {0}; /* delete, fold, copy, update, insert: for the debug log */
    int rc = pufa_pg_exec(conn, "BEGIN", err, errsize);
    if (rc)
        return PUFA_EDBDOWN;
    fold f;
    memset(&f, 0, sizeof f);
    pufa_buf buf;
    pufa_buf_init(&buf);
    rc = pufa_pg_exec(conn, "SET LOCAL client_min_messages = warning", err, errsize);
    if (rc == 0)
        rc = pufa_pg_exec(conn,
                          "CREATE TEMP TABLE IF NOT EXISTS compact_fold (LIKE rollup_dim)"
                          " ON COMMIT DELETE ROWS",
                          err, errsize);
    while (rc == 0) {
        double t0 = now_s();
        PGresult *r = PQexec(conn, SQL_SLICE);
        double t1 = now_s();
        rc = pufa_pg_check(conn, r, PGRES_TUPLES_OK, "compaction", err, errsize);
        int n = rc == 0 ? PQntuples(r) : 0;
        if (rc == 0)
            fold_rows(&f, r);
        PQclear(r);
        double t2 = now_s();
        phase[0] += t1 - t0;
        phase[1] += t2 - t1;
        *moved += n;
        if (rc == 0 && f.n >= FOLD_FLUSH)
            rc = fold_flush(conn, &f, &buf, written, phase + 2, err, errsize);
        if (n < SLICE)
            break;
    }
    if (rc == 0)
        rc = fold_flush(conn, &f, &buf, written, phase + 2, err, errsize);
    PLOG_DEBUG("AGG-COMPACT-PHASES",
               "delete_s=%.3f fold_s=%.3f copy_s=%.3f update_s=%.3f "
               "insert_s=%.3f",
               phase[0], phase[1], phase[2], phase[3], phase[4]);
    if (rc == 0)
        rc = pufa_pg_exec(conn, "COMMIT", err, errsize) ? PUFA_EDBDOWN : 0;
    else if (PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
    if (rc)
        *moved = *written = 0;
    fold_free(&f);
    pufa_buf_free(&buf);
    return rc;
}

struct compactor {
    char *conninfo;
    int64_t interval_ms, rows;
    pthread_t thread;
    bool started, stopping;
    /* The running compaction's cancel handle (NULL between runs): a stop
     * cancels it rather than wait, since on a national database it can run
     * for tens of seconds and a killed aggregator leaves its backend holding
     * the locks the next start needs.  The rolled-back journal rows are
     * folded by the next run. */
    PGcancel *cancel;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    compact_stats st;
};

compactor *compactor_new(const char *conninfo, int64_t interval_ms, int64_t rows) {
    compactor *c = pufa_calloc(1, sizeof *c);
    c->conninfo = pufa_strdup(conninfo);
    c->interval_ms = interval_ms;
    c->rows = rows;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    return c;
}

/* Waits on cv for up to ms (mu held). */
static void wait_ms(compactor *c, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

static void *compactor_main(void *arg) {
    compactor *c = arg;
    PGconn *conn = NULL;
    bool first = true; /* whatever an earlier run left in the journal */
    double last = now_s();
    char err[512];
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        int64_t since = (int64_t)((now_s() - last) * 1000);
        bool due = first || c->st.pending >= (uint64_t)c->rows ||
                   (c->st.pending > 0 && since >= c->interval_ms);
        if (!due) {
            int64_t left = c->interval_ms - since;
            wait_ms(c, left < 10 ? 10 : left > 1000 ? 1000 : left);
            continue;
        }
        uint64_t noted = c->st.pending;
        pthread_mutex_unlock(&c->mu);

        double t0 = now_s();
        long long moved = 0, written = 0;
        int rc = 0;
        if (!conn && (rc = pufa_pg_connect(c->conninfo, &conn, err, sizeof err)) == 0)
            rc = pufa_pg_exec(conn, "SET jit = off", err, sizeof err); /* never pays here */
        if (rc == 0) {
            PGcancel *cancel = PQgetCancel(conn);
            pthread_mutex_lock(&c->mu);
            bool go = !c->stopping;
            c->cancel = go ? cancel : NULL;
            pthread_mutex_unlock(&c->mu);
            if (go)
                rc = compact_once(conn, &moved, &written, err, sizeof err);
            pthread_mutex_lock(&c->mu);
            c->cancel = NULL;
            pthread_mutex_unlock(&c->mu);
            PQfreeCancel(cancel);
        }
        double secs = now_s() - t0;
        pthread_mutex_lock(&c->mu);
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (rc == 0 && stopping && !moved && !written) {
            PLOG_INFO("AGG-COMPACT-STOP", "msg=\"stopping: the journal is folded at the next "
                                          "start\"");
        } else if (rc == 0) {
            PLOG_DEBUG("AGG-COMPACT", "moved=%lld written=%lld seconds=%.3f", moved, written, secs);
        } else if (stopping) {
            PLOG_INFO("AGG-COMPACT-STOP", "msg=\"compaction cancelled by the stop: the journal "
                                          "is folded at the next start\"");
        } else {
            char q[600];
            PLOG_WARN("AGG-COMPACT-FAIL", "msg=%s retry_ms=%lld", pufa_log_quote(q, sizeof q, err),
                      (long long)c->interval_ms);
            if (conn && PQstatus(conn) != CONNECTION_OK) {
                PQfinish(conn);
                conn = NULL;
            }
        }

        pthread_mutex_lock(&c->mu);
        last = now_s();
        if (rc == 0) {
            first = false;
            c->st.runs++;
            c->st.moved += (uint64_t)moved;
            c->st.last_seconds = secs;
            c->st.pending -= noted < c->st.pending ? noted : c->st.pending;
        } else {
            c->st.failures++;
            if (!c->stopping)
                wait_ms(c, c->interval_ms);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (conn)
        PQfinish(conn);
    return NULL;
}

int compactor_start(compactor *c) {
    if (pthread_create(&c->thread, NULL, compactor_main, c) != 0)
        return PUFA_ESYS;
    c->started = true;
    return 0;
}

void compactor_note(compactor *c, size_t n) {
    if (!c || n == 0)
        return;
    pthread_mutex_lock(&c->mu);
    c->st.pending += n;
    if (c->st.pending >= (uint64_t)c->rows)
        pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void compactor_stats(compactor *c, compact_stats *out) {
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}

void compactor_stop(compactor *c) {
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->cv);
    /* Cancels the statement running now; a compaction between statements
     * is cancelled again, every 100 ms for up to 10 s (then joined). */
    for (int i = 0; c->cancel && i < 100; i++) {
        char e[256];
        PQcancel(c->cancel, e, sizeof e);
        wait_ms(c, 100);
    }
    pthread_mutex_unlock(&c->mu);
    if (c->started) {
        pthread_join(c->thread, NULL);
        c->started = false;
    }
}

void compactor_destroy(compactor **pc) {
    if (!pc || !*pc)
        return;
    compactor *c = *pc;
    compactor_stop(c);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->conninfo);
    free(c);
    *pc = NULL;
}
