#include "compact.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "pg.h"
#include "store_sql.h"

/* The journal's cells summed per day x county x dimension: one GROUPING SET
 * per dimension; the set a row came from names its dimension.  Moved in one
 * statement: the DELETE sees only committed rows, and what it deletes is
 * added to rollup_dim in the same transaction. */
#define FIG_SUMS                                                                           \
    "sum(reports)::int8, sum(sessions)::int8, sum(participants)::int8,"                   \
    " sum(materials)::int8, sum(consultations)::int8, sum(banners)::int8,"               \
    " sum(led_messages)::int8, sum(online_posts)::int8, sum(online_views)::int8,"        \
    " sum(volunteers)::int8, sum(funds_fen)::int8"

#define FIG_ADD(f) " " f " = d." f " + EXCLUDED." f

static const char SQL_COMPACT[] =
    "WITH moved AS (DELETE FROM rollup_journal RETURNING day, county_code, theme, venue, form,"
    " unit_code, campaign, reports, sessions, participants, materials, consultations, banners,"
    " led_messages, online_posts, online_views, volunteers, funds_fen),"
    " folded AS (SELECT day, county_code,"
    " CASE WHEN GROUPING(theme) = 0 THEN 'theme' WHEN GROUPING(venue) = 0 THEN 'venue'"
    " WHEN GROUPING(form) = 0 THEN 'form' WHEN GROUPING(unit_code) = 0 THEN 'unit'"
    " WHEN GROUPING(campaign) = 0 THEN 'campaign' ELSE 'total' END AS dim,"
    " coalesce(theme::text, venue::text, form::text, unit_code, campaign, '') AS key, " FIG_SUMS
    " FROM moved GROUP BY GROUPING SETS ((day, county_code), (day, county_code, theme),"
    " (day, county_code, venue), (day, county_code, form), (day, county_code, unit_code),"
    " (day, county_code, campaign))),"
    " written AS (INSERT INTO rollup_dim AS d SELECT * FROM folded"
    " ON CONFLICT (day, county_code, dim, key) DO UPDATE SET" FIG_ADD("reports") ","
    FIG_ADD("sessions") "," FIG_ADD("participants") "," FIG_ADD("materials") ","
    FIG_ADD("consultations") "," FIG_ADD("banners") "," FIG_ADD("led_messages") ","
    FIG_ADD("online_posts") "," FIG_ADD("online_views") "," FIG_ADD("volunteers") ","
    FIG_ADD("funds_fen") " RETURNING 1)"
    " SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM written)";

int compact_once(PGconn *conn, long long *moved, long long *written, char *err,
                 size_t errsize) {
    *moved = *written = 0;
    PGresult *r = PQexec(conn, SQL_COMPACT);
    int rc = store_check(conn, r, PGRES_TUPLES_OK, "compaction", err, errsize);
    if (rc == 0) {
        *moved = atoll(PQgetvalue(r, 0, 0));
        *written = atoll(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

struct compactor {
    char *conninfo;
    int64_t interval_ms, rows;
    pthread_t thread;
    bool started, stopping;
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

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    int64_t last = mono_ms();
    char err[512];
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        int64_t since = mono_ms() - last;
        bool due = first || c->st.pending >= (uint64_t)c->rows ||
                   (c->st.pending > 0 && since >= c->interval_ms);
        if (!due) {
            int64_t left = c->interval_ms - since;
            wait_ms(c, left < 10 ? 10 : left > 1000 ? 1000 : left);
            continue;
        }
        uint64_t noted = c->st.pending;
        pthread_mutex_unlock(&c->mu);

        int64_t t0 = mono_ms();
        long long moved = 0, written = 0;
        int rc = conn ? 0 : pufa_pg_connect(c->conninfo, &conn, err, sizeof err);
        if (rc == 0)
            rc = compact_once(conn, &moved, &written, err, sizeof err);
        double secs = (double)(mono_ms() - t0) / 1000.0;
        if (rc == 0) {
            PLOG_DEBUG("AGG-COMPACT", "moved=%lld written=%lld seconds=%.3f", moved, written,
                       secs);
        } else {
            char q[600];
            PLOG_WARN("AGG-COMPACT-FAIL", "msg=%s retry_ms=%lld",
                      pufa_log_quote(q, sizeof q, err), (long long)c->interval_ms);
            if (conn && PQstatus(conn) != CONNECTION_OK) {
                PQfinish(conn);
                conn = NULL;
            }
        }

        pthread_mutex_lock(&c->mu);
        last = mono_ms();
        if (rc == 0) {
            first = false;
            c->st.runs++;
            c->st.moved += (uint64_t)moved;
            c->st.written += (uint64_t)written;
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
