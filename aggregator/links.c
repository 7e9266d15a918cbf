#include "links.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "log.h"
#include "pg.h"
#include "utf8.h"

/* 2000-01-01T00:00:00Z: nothing this system handles is older. */
#define LINKS_MIN_MS 946684800000LL
#define FLUSH_MS     1000

typedef struct link_entry {
    char sender[LINKS_MAX_SENDER + 1];
    char org[7];
    bool forwarder;
    int64_t seen_ms;
    int64_t report_ms; /* 0: no batch with reports since start */
    bool has_as_of, has_lag;
    int64_t as_of_seq, as_of_ms, lag_ms;
    bool has_pending;
    int64_t pending, oldest_ms;
    bool dirty;
    bool refused; /* the name belongs to another unit in child_links */
} link_entry;

struct links {
    char *conninfo;
    PGconn *conn;
    pthread_t thread;
    bool started, stopping;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    link_entry **by_name; /* sorted by sender */
    size_t n, cap;
    links_stats stats;
    int64_t last_log_ms;
    uint64_t unlogged;
};

/* ---- checking ---- */

static void add_why(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_why(char *why, size_t whysize, const char *fmt, ...) {
    size_t used = strlen(why);
    if (used && used + 2 < whysize) {
        memcpy(why + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= whysize)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + used, whysize - used, fmt, ap);
    va_end(ap);
}

/* A Unix-ms time from the network: 0 and the time (skew ahead of now
 * counts as now), or -1 with why told. */
static int check_time(const char *field, int64_t v, int64_t now_ms, int64_t *out, char *why,
                      size_t whysize) {
    if (v < LINKS_MIN_MS || v > now_ms + LINKS_MAX_AHEAD_MS) {
        add_why(why, whysize,
                "%s: must be a Unix time in ms from 2000-01-01 to %lld s ahead of ours (got "
                "%lld)",
                field, LINKS_MAX_AHEAD_MS / 1000, (long long)v);
        return -1;
    }
    *out = v > now_ms ? now_ms : v;
    return 0;
}

int links_check(const Pufa__ReportBatch *pb, int64_t now_ms, link_obs *o, char *why,
                size_t whysize) {
    memset(o, 0, sizeof *o);
    why[0] = '\0';
    const char *id = pb->collector_id ? pb->collector_id : "";
    size_t len = strlen(id);
    if (len == 0) {
        add_why(why, whysize, "collector_id: required to keep the link's freshness (empty)");
        return -1;
    }
    if (len > LINKS_MAX_SENDER) {
        add_why(why, whysize, "collector_id: at most %d bytes (got %zu)", LINKS_MAX_SENDER, len);
        return -1;
    }
    if (!pufa_utf8_valid(id, len, NULL) || pufa_has_control(id, len)) {
        add_why(why, whysize, "collector_id: must be UTF-8 without control characters");
        return -1;
    }
    memcpy(o->sender, id, len + 1);
    o->seen_ms = now_ms;
    o->with_reports = pb->n_reports > 0;
    int dropped = 0;
    if (pb->has_as_of_seq != pb->has_as_of_ms) {
        add_why(why, whysize, "as_of_seq, as_of_ms: sent together or not at all (got only %s)",
                pb->has_as_of_seq ? "as_of_seq" : "as_of_ms");
        dropped = 1;
    } else if (pb->has_as_of_seq) {
        if (pb->as_of_seq > (uint64_t)INT64_MAX) {
            add_why(why, whysize, "as_of_seq: must be <= %" PRId64 " (got %" PRIu64 ")", INT64_MAX,
                    pb->as_of_seq);
            dropped = 1;
        } else if (check_time("as_of_ms", pb->as_of_ms, now_ms, &o->as_of_ms, why, whysize)) {
            dropped = 1;
        } else {
            o->has_as_of = true;
            o->as_of_seq = (int64_t)pb->as_of_seq;
        }
    }
    if (pb->has_pending) {
        if (pb->pending > (uint64_t)LINKS_MAX_PENDING) {
            add_why(why, whysize, "pending: must be <= %lld (got %" PRIu64 ")", LINKS_MAX_PENDING,
                    pb->pending);
            dropped = 1;
        } else {
            o->has_pending = true;
            o->pending = (int64_t)pb->pending;
        }
    }
    /* The oldest waiting report's time means something only with reports
     * waiting; without them it is ignored. */
    if (o->has_pending && o->pending > 0 && pb->has_oldest_pending_ms &&
        pb->oldest_pending_ms != 0 &&
        check_time("oldest_pending_ms", pb->oldest_pending_ms, now_ms, &o->oldest_ms, why, whysize))
        dropped = 1;
    return dropped;
}

/* ---- the table in memory ---- */

static size_t find_slot(const links *l, const char *sender, bool *found) {
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(l->by_name[mid]->sender, sender);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Logs a refusal at most once a second, with how many went unlogged.
 * Called with mu held. */
static void log_refusal(links *l, const char *id, const char *sender, const char *unit,
                        const char *why, int64_t now_ms) {
    if (now_ms - l->last_log_ms < 1000) {
        l->unlogged++;
        return;
    }
    char s[LINKS_MAX_SENDER * 4 + 1], qs[300], qw[700];
    pufa_utf8_escape(s, sizeof s, sender, strnlen(sender, LINKS_MAX_SENDER * 4));
    PLOG_WARN(id, "sender=%s key_unit=%s reason=%s unlogged_since=%llu",
              pufa_log_quote(qs, sizeof qs, s), unit, pufa_log_quote(qw, sizeof qw, why),
              (unsigned long long)l->unlogged);
    l->last_log_ms = now_ms;
    l->unlogged = 0;
}

void links_note(links *l, const Pufa__ReportBatch *pb, const char *unit, bool forwarder,
                int64_t now_ms) {
    link_obs o;
    char why[600];
    int rc = links_check(pb, now_ms, &o, why, sizeof why);
    const char *raw = pb->collector_id ? pb->collector_id : "";
    pthread_mutex_lock(&l->mu);
    if (rc < 0) {
        l->stats.refused++;
        log_refusal(l, "AGG-LINK-REFUSED", raw, unit, why, now_ms);
        pthread_mutex_unlock(&l->mu);
        return;
    }
    if (rc > 0) {
        l->stats.fields_dropped++;
        log_refusal(l, "AGG-LINK-FIELD", raw, unit, why, now_ms);
    }
    bool found;
    size_t at = find_slot(l, o.sender, &found);
    link_entry *e;
    if (found) {
        e = l->by_name[at];
        if (strcmp(e->org, unit) != 0 || e->refused) {
            snprintf(why, sizeof why,
                     "collector_id: already used by a sender bound to %s (this key is bound to "
                     "%s): not recorded",
                     e->org, unit);
            l->stats.refused++;
            log_refusal(l, "AGG-LINK-REFUSED", raw, unit, why, now_ms);
            pthread_mutex_unlock(&l->mu);
            return;
        }
    } else {
        if (l->n >= LINKS_MAX_SENDERS) {
            snprintf(why, sizeof why, "collector_id: more than %d senders: not recorded",
                     LINKS_MAX_SENDERS);
            l->stats.refused++;
            log_refusal(l, "AGG-LINK-REFUSED", raw, unit, why, now_ms);
            pthread_mutex_unlock(&l->mu);
            return;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->by_name = pufa_realloc(l->by_name, l->cap * sizeof *l->by_name);
        }
        e = pufa_calloc(1, sizeof *e);
        memcpy(e->sender, o.sender, sizeof e->sender);
        pufa_copy(e->org, sizeof e->org, unit);
        memmove(&l->by_name[at + 1], &l->by_name[at], (l->n - at) * sizeof *l->by_name);
        l->by_name[at] = e;
        l->n++;
        l->stats.senders = l->n;
    }
    e->forwarder = forwarder;
    e->seen_ms = o.seen_ms;
    if (o.with_reports)
        e->report_ms = o.seen_ms;
    if (o.has_as_of) {
        e->has_as_of = true;
        e->as_of_seq = o.as_of_seq;
        e->as_of_ms = o.as_of_ms;
        if (o.with_reports) {
            e->has_lag = true;
            e->lag_ms = o.seen_ms - o.as_of_ms;
        }
    }
    if (o.has_pending) {
        e->has_pending = true;
        e->pending = o.pending;
        e->oldest_ms = o.oldest_ms;
    }
    e->dirty = true;
    pthread_mutex_unlock(&l->mu);
}

/* ---- writing ---- */

static const char upsert_sql[] =
    "INSERT INTO child_links AS c (sender, org_code, kind, last_seen_at, last_report_at, "
    "as_of_seq, as_of_at, lag_ms, pending, oldest_pending_at) "
    "SELECT s, o, k, to_timestamp(seen / 1000.0), to_timestamp(rep / 1000.0), aseq, "
    "to_timestamp(aof / 1000.0), lag, pend, to_timestamp(old / 1000.0) "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], "
    "$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[]) "
    "AS u(s, o, k, seen, rep, aseq, aof, lag, pend, old) "
    "ON CONFLICT (sender) DO UPDATE SET kind = EXCLUDED.kind, "
    "last_seen_at = EXCLUDED.last_seen_at, "
    "last_report_at = COALESCE(EXCLUDED.last_report_at, c.last_report_at), "
    "as_of_seq = COALESCE(EXCLUDED.as_of_seq, c.as_of_seq), "
    "as_of_at = COALESCE(EXCLUDED.as_of_at, c.as_of_at), "
    "lag_ms = COALESCE(EXCLUDED.lag_ms, c.lag_ms), "
    "pending = COALESCE(EXCLUDED.pending, c.pending), "
    "oldest_pending_at = CASE WHEN EXCLUDED.pending IS NULL THEN c.oldest_pending_at "
    "ELSE EXCLUDED.oldest_pending_at END "
    /* A name stays with the unit it was first seen from: another key
     * cannot take over its row. */
    "WHERE c.org_code = EXCLUDED.org_code RETURNING sender";

enum { NCOLS = 10 };

static void arr_opt(pufa_buf *b, bool has, int64_t v) {
    if (has)
        pufa_pgarr_int(b, v);
    else
        pufa_pgarr_text(b, NULL);
}

/* Writes rows[0..n) (copies, taken under the lock).  0, or an error code
 * with err filled. */
static int write_rows(links *l, const link_entry *rows, size_t n, char *err, size_t errsize) {
    pufa_buf cols[NCOLS];
    for (int c = 0; c < NCOLS; c++) {
        pufa_buf_init(&cols[c]);
        pufa_pgarr_open(&cols[c]);
    }
    for (size_t i = 0; i < n; i++) {
        const link_entry *e = &rows[i];
        pufa_pgarr_text(&cols[0], e->sender);
        pufa_pgarr_text(&cols[1], e->org);
        pufa_pgarr_text(&cols[2], e->forwarder ? "forwarder" : "collector");
        pufa_pgarr_int(&cols[3], e->seen_ms);
        arr_opt(&cols[4], e->report_ms != 0, e->report_ms);
        arr_opt(&cols[5], e->has_as_of, e->as_of_seq);
        arr_opt(&cols[6], e->has_as_of, e->as_of_ms);
        arr_opt(&cols[7], e->has_lag, e->lag_ms);
        arr_opt(&cols[8], e->has_pending, e->pending);
        arr_opt(&cols[9], e->has_pending && e->oldest_ms != 0, e->oldest_ms);
    }
    const char *params[NCOLS];
    for (int c = 0; c < NCOLS; c++) {
        pufa_pgarr_close(&cols[c]);
        params[c] = cols[c].data;
    }
    PGresult *r = PQexecParams(l->conn, upsert_sql, NCOLS, NULL, params, NULL, NULL, 0);
    int rc = pufa_pg_check(l->conn, r, PGRES_TUPLES_OK, "child_links", err, errsize);
    if (rc == 0 && (size_t)PQntuples(r) < n) {
        /* A name already bound to another unit in the table: stop trying. */
        pthread_mutex_lock(&l->mu);
        for (size_t i = 0; i < n; i++) {
            bool kept = false;
            for (int t = 0; t < PQntuples(r) && !kept; t++)
                kept = !strcmp(PQgetvalue(r, t, 0), rows[i].sender);
            if (kept)
                continue;
            bool found;
            size_t at = find_slot(l, rows[i].sender, &found);
            if (found)
                l->by_name[at]->refused = true;
            char why[200];
            snprintf(why, sizeof why,
                     "collector_id: child_links binds this name to another unit (this key is "
                     "bound to %s): not recorded",
                     rows[i].org);
            l->last_log_ms = 0;
            log_refusal(l, "AGG-LINK-REFUSED", rows[i].sender, rows[i].org, why, pufa_now_ms());
        }
        pthread_mutex_unlock(&l->mu);
    }
    PQclear(r);
    for (int c = 0; c < NCOLS; c++)
        pufa_buf_free(&cols[c]);
    return rc;
}

/* One flush: every sender that changed, written at once. */
static void flush(links *l) {
    pthread_mutex_lock(&l->mu);
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->by_name[i]->dirty && !l->by_name[i]->refused;
    link_entry *rows = n ? pufa_malloc(n * sizeof *rows) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        link_entry *e = l->by_name[i];
        if (!e->dirty || e->refused)
            continue;
        rows[k++] = *e;
        e->dirty = false;
    }
    pthread_mutex_unlock(&l->mu);
    if (!n)
        return;
    char err[512];
    int rc = 0;
    if (!l->conn)
        rc = pufa_pg_connect(l->conninfo, &l->conn, err, sizeof err);
    if (rc == 0)
        rc = write_rows(l, rows, n, err, sizeof err);
    pthread_mutex_lock(&l->mu);
    if (rc == 0) {
        l->stats.rows_written += n;
    } else {
        l->stats.write_errors++;
        /* Written next time, with whatever is newest by then. */
        for (size_t i = 0; i < n; i++) {
            bool found;
            size_t at = find_slot(l, rows[i].sender, &found);
            if (found)
                l->by_name[at]->dirty = true;
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (rc) {
        char q[600];
        PLOG_WARN("AGG-LINKS-WRITE", "msg=%s senders=%zu", pufa_log_quote(q, sizeof q, err), n);
        if (rc != PUFA_EDB && l->conn) {
            PQfinish(l->conn);
            l->conn = NULL;
        }
    }
    free(rows);
}

static void *links_main(void *arg) {
    links *l = arg;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += FLUSH_MS / 1000;
        pthread_mutex_lock(&l->mu);
        if (!l->stopping)
            pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        bool stop = l->stopping;
        pthread_mutex_unlock(&l->mu);
        flush(l);
        if (stop)
            break;
    }
    return NULL;
}

links *links_new(const char *conninfo) {
    links *l = pufa_calloc(1, sizeof *l);
    l->conninfo = pufa_strdup(conninfo);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    return l;
}

int links_start(links *l) {
    if (pthread_create(&l->thread, NULL, links_main, l) != 0)
        return PUFA_ESYS;
    l->started = true;
    return 0;
}

void links_get_stats(links *l, links_stats *out) {
    pthread_mutex_lock(&l->mu);
    *out = l->stats;
    pthread_mutex_unlock(&l->mu);
}

void links_destroy(links **pl) {
    if (!pl || !*pl)
        return;
    links *l = *pl;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stopping = true;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    if (l->conn)
        PQfinish(l->conn);
    for (size_t i = 0; i < l->n; i++)
        free(l->by_name[i]);
    free(l->by_name);
    free(l->conninfo);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
    *pl = NULL;
}
