#include "forward.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "log.h"
#include "pg.h"
#include "store.h"
#include "store_sql.h"
#include "wire.h"

/* The window: batches in flight at once, bounded both in batches (slots)
 * and in reports, so that small batches still keep the upper level's group
 * commit busy while acks travel back and the cursor is written, and large
 * ones do not pile up beyond its max_pending (default 100000). */
#define FWD_WINDOW         16
#define FWD_WINDOW_REPORTS 16384
/* A frame stays under the upper level's default max_frame (4 MiB). */
#define FWD_MAX_FRAME (3u * 1024u * 1024u)
/* First resend of an unacknowledged batch, and the cap of its backoff. */
#define FWD_ACK_TIMEOUT_MS 10000
#define FWD_BACKOFF_MAX_MS 60000
/* The database connection is retried with backoff up to this. */
#define FWD_DB_BACKOFF_MAX_MS 5000
/* The pending count is re-counted at most this often while disconnected,
 * and while catching up (a count(*) over the whole backlog, in the
 * forwarder's own thread: between counts, the count less what was read). */
#define FWD_COUNT_EVERY_MS   1000
#define FWD_COUNT_CATCHUP_MS 5000
/* Period rows in one batch at most (cut at a commit's end). */
#define FWD_MAX_PERIODS      4096
#define FWD_MAX_PERIODS_TEXT "4097"
/* One forwarder per database (the writer has its own lock). */
#define FORWARD_LOCK_KEY "4930671529"
/* "Every row of this sequence": the cursor's report id when it is NULL. */
#define UUID_MAX "ffffffff-ffff-ffff-ffff-ffffffffffff"

/* Column positions after REPORT_SELECT_TEXT's. */
#define COL_COMMIT_SEQ (REPORT_COL_COUNTER0 + PUFA_NCOUNTERS + 2)
#define COL_COMMIT_MS  (COL_COMMIT_SEQ + 1)

/* The reports' part of a batch that carries period changes: only those
 * before the next period change ($4), so that every change goes up in
 * commit order with the reports around it. */
#define SQL_READ_BEFORE                                                                            \
    REPORT_SELECT_TEXT ", commit_seq, (extract(epoch FROM committed_at) * 1000)::int8"             \
                       " FROM reports WHERE (commit_seq, report_id) > ($1::int8, $2::uuid)"        \
                       " AND commit_seq < $4::int8"                                                \
                       " ORDER BY commit_seq, report_id LIMIT $3::int8"
/* The first report still to send. */
#define SQL_FIRST_REPORT                                                                           \
    "SELECT min(commit_seq) FROM reports WHERE (commit_seq, report_id) > ($1::int8, $2::uuid)"
/* The period changes committed after $1 and before $2 (the first report
 * still to send): they go first in the batch (the upper level applies a
 * batch's periods before its reports). */
#define SQL_READ_PERIODS                                                                           \
    "SELECT org_code, extract(year FROM month)::int, extract(month FROM month)::int, state,"       \
    " set_by, set_by_org, (extract(epoch FROM set_at) * 1000)::int8, reason, exception_open,"      \
    " commit_seq FROM periods WHERE commit_seq > $1::int8 AND commit_seq < $2::int8"               \
    " ORDER BY commit_seq, month, org_code COLLATE \"C\" LIMIT " FWD_MAX_PERIODS_TEXT
/* The first period change at or after $1. */
#define SQL_NEXT_PERIOD "SELECT min(commit_seq) FROM periods WHERE commit_seq >= $1::int8"
#define SQL_COUNT_AFTER                                                                            \
    "SELECT count(*) FROM reports WHERE (commit_seq, report_id) > ($1::int8, $2::uuid)"
/* Idle: the feed's position, the cursor as stored, and whether anything
 * waits after the read position, in one snapshot. */
#define SQL_IDLE                                                                                   \
    "SELECT f.seq, (extract(epoch FROM f.updated_at) * 1000)::int8, c.acked_seq,"                  \
    " coalesce(c.acked_report_id::text, ''), EXISTS (SELECT 1 FROM reports"                        \
    "  WHERE (commit_seq, report_id) > ($1::int8, $2::uuid))"                                      \
    "  OR EXISTS (SELECT 1 FROM periods WHERE commit_seq > $1::int8)"                              \
    " FROM feed_state f, forward_cursor c"
#define SQL_CURSOR                                                                                 \
    "SELECT acked_seq, coalesce(acked_report_id::text, ''), upstream FROM forward_cursor"
/* Moves the cursor from where this forwarder left it ($4, $5), or not at
 * all when someone else moved it. */
#define SQL_CURSOR_MOVE                                                                            \
    "UPDATE forward_cursor SET acked_seq = $1::int8, acked_report_id = nullif($2, '')::uuid,"      \
    " upstream = $3, updated_at = now() WHERE acked_seq = $4::int8"                                \
    " AND coalesce(acked_report_id::text, '') = $5"
#define SQL_REFUSED                                                                                \
    "INSERT INTO forward_refused (report_id, revision, status, reason, upstream)"                  \
    " SELECT i, r, s, m, $5 FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::text[])"           \
    " AS x(i, r, s, m)"                                                                            \
    " ON CONFLICT (report_id, revision) DO UPDATE SET status = EXCLUDED.status,"                   \
    " reason = EXCLUDED.reason, upstream = EXCLUDED.upstream, at = now()"

/* A position in commit order: (seq, id); id "" = every row of seq. */
typedef struct fwd_pos {
    uint64_t seq;
    char id[37];
} fwd_pos;

typedef struct fwd_refusal {
    char id[37];
    uint32_t revision;
    int status;
    char *reason;
} fwd_refusal;

/* One batch in flight (n == 0: a heartbeat). */
typedef struct fwd_batch {
    uint64_t seq; /* batch_seq */
    size_t n;
    size_t nperiods; /* period changes in it (n == nperiods == 0: a heartbeat) */
    char (*ids)[37];
    uint32_t *revs;
    fwd_pos end;      /* the position after this batch */
    int64_t first_ms; /* commit time of its first row */
    uint8_t *frame;
    size_t frame_len;
    int64_t due_ms;
    int attempts;
    bool acked;
    fwd_refusal *refused;
    size_t nrefused;
} fwd_batch;

struct forward {
    forward_config cfg;
    char collector_id[64];
    void *dealer, *monitor;
    char monitor_ep[64];
    PGconn *conn;
    int pipefd[2];
    pthread_t thread;
    bool started;
    _Atomic bool stopping;
    pthread_mutex_t mu; /* guards stats */
    forward_stats stats;
    fwd_batch win[FWD_WINDOW];
    size_t head, count;
    fwd_pos acked; /* the cursor as this forwarder last wrote or read it */
    fwd_pos read;  /* the position after the last batch read */
    bool more;     /* rows may wait after read */
    uint64_t next_seq;
    int64_t last_sent_ms;
    int64_t db_retry_ms;
    int db_backoff_ms;
    int64_t counted_ms; /* when pending was last counted */
    uint64_t pending_counted, read_since_count;
    int64_t last_auth_log_ms;
    int timeouts;                /* ack timeouts in a row (the resend backoff) */
    bool connected;              /* handshake with the upper level done */
    uint64_t pending_after_read; /* rows after f->read (estimate while catching up) */
    bool fault_kill_after_ack;
};

static void batch_free(fwd_batch *b) {
    for (size_t i = 0; i < b->nrefused; i++)
        free(b->refused[i].reason);
    free(b->refused);
    free(b->ids);
    free(b->revs);
    free(b->frame);
    memset(b, 0, sizeof *b);
}

static fwd_batch *slot(forward *f, size_t k) {
    return &f->win[(f->head + k) % FWD_WINDOW];
}

/* Reports in the window (sent or not, acked or not). */
static size_t window_reports(forward *f) {
    size_t n = 0;
    for (size_t k = 0; k < f->count; k++)
        n += slot(f, k)->n;
    return n;
}

static void drop_window(forward *f) {
    for (size_t k = 0; k < f->count; k++)
        batch_free(slot(f, k));
    f->head = f->count = 0;
}

int forward_new(const forward_config *cfg, void *zctx, forward **out, char *err, size_t errsize) {
    if (cfg->batch < 1 || cfg->batch > (int64_t)PUFA_MAX_BATCH_REPORTS) {
        snprintf(err, errsize, "forward_batch: must be 1 .. %u (got %lld)", PUFA_MAX_BATCH_REPORTS,
                 (long long)cfg->batch);
        return PUFA_ECONFIG;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errsize, "cannot create the forwarder's wake-up pipe: %s", strerror(errno));
        return PUFA_ESYS;
    }
    forward *f = pufa_calloc(1, sizeof *f);
    f->cfg = *cfg;
    f->pipefd[0] = fds[0];
    f->pipefd[1] = fds[1];
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    snprintf(f->collector_id, sizeof f->collector_id, "aggregator-%s", cfg->home);
    f->next_seq = (uint64_t)pufa_now_ms() * 1000; /* distinct from an earlier run's */
    f->more = true;
    f->db_backoff_ms = 100;
    pthread_mutex_init(&f->mu, NULL);
    const char *fault = getenv("PUFA_FAULT");
    f->fault_kill_after_ack = fault && !strcmp(fault, "fwd_kill_after_ack");

    f->dealer = zmq_socket(zctx, ZMQ_DEALER);
    int immediate = 1, linger = 0, hb = 2000, hbt = 6000, hwm = FWD_WINDOW * 4 + 16;
    int reconnect = 200, reconnect_max = 5000;
    zmq_setsockopt(f->dealer, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(f->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(f->dealer, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
    zmq_setsockopt(f->dealer, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof hbt);
    zmq_setsockopt(f->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(f->dealer, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt(f->dealer, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    int rc = PUFA_ECONFIG;
    if (cfg->server_key && *cfg->server_key &&
        (zmq_setsockopt(f->dealer, ZMQ_CURVE_SERVERKEY, cfg->server_key, 40) ||
         zmq_setsockopt(f->dealer, ZMQ_CURVE_PUBLICKEY, cfg->public_key, 40) ||
         zmq_setsockopt(f->dealer, ZMQ_CURVE_SECRETKEY, cfg->secret_key, 40))) {
        snprintf(err, errsize, "upstream: CURVE keys refused by libzmq: %s",
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    snprintf(f->monitor_ep, sizeof f->monitor_ep, "inproc://forward-monitor-%p", (void *)f);
    zmq_socket_monitor(f->dealer, f->monitor_ep,
                       ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    f->monitor = zmq_socket(zctx, ZMQ_PAIR);
    zmq_setsockopt(f->monitor, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(f->monitor, f->monitor_ep);
    if (zmq_connect(f->dealer, cfg->upstream) != 0) {
        snprintf(err, errsize, "upstream: bad endpoint %s: %s", cfg->upstream,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    *out = f;
    return 0;
fail:
    if (f->monitor) {
        zmq_socket_monitor(f->dealer, NULL, 0);
        zmq_close(f->monitor);
    }
    zmq_close(f->dealer);
    close(fds[0]);
    close(fds[1]);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return rc;
}

void forward_note(forward *f) {
    if (!f)
        return;
    char c = 1;
    ssize_t r = write(f->pipefd[1], &c, 1);
    (void)r; /* a full pipe already means "wake up" */
}

/* Drops the unacknowledged batches (and any acked after them) and reads
 * again from the last acknowledged position: what goes up again is the
 * rows as they are now, so a revision committed meanwhile replaces the one
 * the dropped batch held (only the latest revision travels).  The upper
 * level is idempotent, so whatever of the dropped batches it did apply
 * comes back as duplicate. */
static void rewind_window(forward *f, const char *why) {
    size_t k = 0;
    while (k < f->count && slot(f, k)->acked)
        k++;
    if (k == f->count)
        return;
    size_t dropped = f->count - k;
    for (size_t j = k; j < f->count; j++)
        batch_free(slot(f, j));
    f->count = k;
    f->read = k ? slot(f, k - 1)->end : f->acked;
    f->more = true;
    pthread_mutex_lock(&f->mu);
    f->stats.batches_resent += dropped;
    pthread_mutex_unlock(&f->mu);
    PLOG_DEBUG("AGG-FWD-REWIND", "why=%s batches=%zu from_seq=%llu", why, dropped,
               (unsigned long long)f->read.seq);
}

/* ---- PostgreSQL ---- */

static void db_down(forward *f, const char *what, const char *err) {
    char q[600];
    PLOG_WARN("AGG-FWD-DB", "what=%s msg=%s retry_ms=%d", what, pufa_log_quote(q, sizeof q, err),
              f->db_backoff_ms);
    if (f->conn)
        PQfinish(f->conn);
    f->conn = NULL;
    f->db_retry_ms = pufa_now_ms() + f->db_backoff_ms;
    f->db_backoff_ms =
        f->db_backoff_ms * 2 > FWD_DB_BACKOFF_MAX_MS ? FWD_DB_BACKOFF_MAX_MS : f->db_backoff_ms * 2;
    pthread_mutex_lock(&f->mu);
    f->stats.db_up = false;
    pthread_mutex_unlock(&f->mu);
}

static void set_acked(forward *f, const fwd_pos *p) {
    f->acked = *p;
    pthread_mutex_lock(&f->mu);
    f->stats.acked_seq = p->seq;
    pthread_mutex_unlock(&f->mu);
}

/* Reads the stored cursor into *p; 0 or a PUFA_E* code. */
static int read_cursor(forward *f, fwd_pos *p, char *upstream, size_t upsize, char *err,
                       size_t errsize) {
    PGresult *r = PQexec(f->conn, SQL_CURSOR);
    int rc = pufa_pg_check(f->conn, r, PGRES_TUPLES_OK, "forward_cursor", err, errsize);
    if (rc == 0 && PQntuples(r) != 1) {
        snprintf(err, errsize, "forward_cursor: want one row, found %d", PQntuples(r));
        rc = PUFA_EDB;
    }
    if (rc == 0) {
        p->seq = (uint64_t)atoll(PQgetvalue(r, 0, 0));
        pufa_copy(p->id, sizeof p->id, PQgetvalue(r, 0, 1));
        if (upstream)
            pufa_copy(upstream, upsize, PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return rc;
}

/* Connects, takes the forwarder's lock and, with nothing in flight, starts
 * reading at the stored cursor.  0, or not connected (retry later). */
static int db_connect(forward *f) {
    char err[512];
    if (pufa_pg_connect(f->cfg.db, &f->conn, err, sizeof err) != 0) {
        f->conn = NULL;
        db_down(f, "connect", err);
        return PUFA_EDBDOWN;
    }
    PGresult *r = PQexec(f->conn, "SELECT pg_try_advisory_lock(" FORWARD_LOCK_KEY ")");
    bool got = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!got) {
        db_down(f, "lock", "another forwarder holds this database's forwarding lock; waiting");
        return PUFA_EDBDOWN;
    }
    pufa_pg_exec(f->conn, "SET jit = off", err, sizeof err);
    fwd_pos cur;
    char upstream[256];
    if (read_cursor(f, &cur, upstream, sizeof upstream, err, sizeof err) != 0) {
        db_down(f, "cursor", err);
        return PUFA_EDBDOWN;
    }
    if (f->count == 0) {
        set_acked(f, &cur);
        f->read = cur;
        f->more = true;
    }
    if (*upstream && strcmp(upstream, f->cfg.upstream) != 0)
        PLOG_INFO("AGG-FWD-UPSTREAM",
                  "msg=\"the cursor was acknowledged by another endpoint; "
                  "going on from it (reset the cursor to send everything "
                  "again)\" was=%s now=%s acked_seq=%llu",
                  upstream, f->cfg.upstream, (unsigned long long)cur.seq);
    PLOG_INFO("AGG-FWD-DB-UP", "acked_seq=%llu acked_report_id=%s", (unsigned long long)cur.seq,
              *cur.id ? cur.id : "-");
    f->db_backoff_ms = 100;
    pthread_mutex_lock(&f->mu);
    f->stats.db_up = true;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static void pos_params(const fwd_pos *p, char seqtext[24], const char **params) {
    snprintf(seqtext, 24, "%llu", (unsigned long long)p->seq);
    params[0] = seqtext;
    params[1] = *p->id ? p->id : UUID_MAX;
}

/* Counts the rows after pos (at most once a second while catching up;
 * between counts, the last count less what was read since). */
static uint64_t pending_after(forward *f, const fwd_pos *pos, size_t just_read) {
    int64_t now = pufa_now_ms();
    f->read_since_count += just_read;
    if (now - f->counted_ms < (f->connected ? FWD_COUNT_CATCHUP_MS : FWD_COUNT_EVERY_MS))
        return f->pending_counted > f->read_since_count ? f->pending_counted - f->read_since_count
                                                        : 1;
    char seqtext[24];
    const char *params[2];
    pos_params(pos, seqtext, params);
    PGresult *r = PQexecParams(f->conn, SQL_COUNT_AFTER, 2, NULL, params, NULL, NULL, 0);
    uint64_t n = 1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        n = (uint64_t)atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    f->counted_ms = now;
    f->pending_counted = n;
    f->read_since_count = 0;
    return n;
}

/* One statement of read_batch's snapshot; NULL (and disconnected) on error. */
static PGresult *read_query(forward *f, const char *sql, int n, const char *const *params,
                            const char *what) {
    PGresult *r = PQexecParams(f->conn, sql, n, NULL, params, NULL, NULL, 0);
    char err[512];
    if (pufa_pg_check(f->conn, r, PGRES_TUPLES_OK, what, err, sizeof err) != 0) {
        PQclear(r);
        PQclear(PQexec(f->conn, "ROLLBACK"));
        db_down(f, what, err);
        return NULL;
    }
    return r;
}

#define SEQ_INFINITY "9223372036854775807"

/* Reads the next batch after f->read into a new window slot: the period
 * changes committed before the first report still to send (they go first:
 * the upper level applies a batch's periods before its reports), then the
 * reports up to the next period change, all in one snapshot.  false when
 * nothing waits (or the database failed: then disconnected). */
static bool read_batch(forward *f) {
    char seqtext[24], limit[24], first[24], next[24];
    const char *params[4];
    pos_params(&f->read, seqtext, params);
    snprintf(limit, sizeof limit, "%lld", (long long)f->cfg.batch + 1);
    params[2] = limit;
    char err[512];
    if (pufa_pg_exec(f->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, sizeof err) !=
        0) {
        db_down(f, "read", err);
        return false;
    }
    PGresult *r = read_query(f, SQL_FIRST_REPORT, 2, params, "read");
    if (!r)
        return false;
    pufa_copy(first, sizeof first, PQgetisnull(r, 0, 0) ? SEQ_INFINITY : PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *pp[2] = {seqtext, first};
    PGresult *rp = read_query(f, SQL_READ_PERIODS, 2, pp, "read periods");
    if (!rp)
        return false;
    int nper = PQntuples(rp);
    bool cut = nper > FWD_MAX_PERIODS;
    if (cut) {
        /* Whole commits only: leave out the last one's rows. */
        const char *last = PQgetvalue(rp, nper - 1, 9);
        int k = nper;
        while (k > 0 && !strcmp(PQgetvalue(rp, k - 1, 9), last))
            k--;
        nper = k > 0 ? k : nper;
    }
    r = NULL;
    pufa_copy(next, sizeof next, SEQ_INFINITY);
    if (!cut) {
        if (strcmp(first, SEQ_INFINITY) != 0) {
            const char *pn[1] = {first};
            PGresult *rn = read_query(f, SQL_NEXT_PERIOD, 1, pn, "read periods");
            if (!rn) {
                PQclear(rp);
                return false;
            }
            if (!PQgetisnull(rn, 0, 0))
                pufa_copy(next, sizeof next, PQgetvalue(rn, 0, 0));
            PQclear(rn);
        }
        params[3] = next;
        if (!(r = read_query(f, SQL_READ_BEFORE, 4, params, "read"))) {
            PQclear(rp);
            return false;
        }
    }
    PQclear(PQexec(f->conn, "COMMIT"));
    int rows = r ? PQntuples(r) : 0;
    if (rows == 0 && nper == 0) {
        PQclear(r);
        PQclear(rp);
        f->more = false;
        return false;
    }
    fwd_batch *b = slot(f, f->count);
    memset(b, 0, sizeof *b);
    size_t cap = (size_t)f->cfg.batch;
    b->ids = pufa_calloc(cap, sizeof *b->ids);
    b->revs = pufa_calloc(cap, sizeof *b->revs);
    pufa_buf frame;
    pufa_buf_init(&frame);
    /* The header's as_of fields name the last row, which is known only at
     * the end: encode the reports first, then the frame. */
    pufa_buf body;
    pufa_buf_init(&body);
    size_t *offs = pufa_calloc(cap + 1, sizeof *offs);
    int64_t last_ms = 0;
    for (int k = 0; k < nper; k++) {
        b->end.seq = (uint64_t)atoll(PQgetvalue(rp, k, 9));
        b->end.id[0] = '\0'; /* every row of that commit (it has no reports) */
        last_ms = atoll(PQgetvalue(rp, k, 6));
        if (k == 0)
            b->first_ms = last_ms;
    }
    int i;
    for (i = 0; i < rows && b->n < cap; i++) {
        pufa_report rep;
        store_parse_row(r, i, &rep);
        size_t len;
        uint8_t *enc = pufa_report_encode(&rep, &len);
        if (b->n > 0 && body.len + len + 64 * (b->n + 1) > FWD_MAX_FRAME) {
            free(enc);
            pufa_report_clear(&rep);
            break;
        }
        offs[b->n] = body.len;
        pufa_buf_append(&body, enc, len);
        free(enc);
        pufa_copy(b->ids[b->n], sizeof b->ids[b->n], rep.report_id);
        b->revs[b->n] = (uint32_t)rep.revision;
        pufa_report_clear(&rep);
        b->end.seq = (uint64_t)atoll(PQgetvalue(r, i, COL_COMMIT_SEQ));
        pufa_copy(b->end.id, sizeof b->end.id, b->ids[b->n]);
        last_ms = atoll(PQgetvalue(r, i, COL_COMMIT_MS));
        if (b->n == 0 && nper == 0)
            b->first_ms = last_ms;
        b->n++;
    }
    offs[b->n] = body.len;
    bool more = i < rows || cut || strcmp(next, SEQ_INFINITY) != 0;
    int64_t next_ms = i < rows ? atoll(PQgetvalue(r, i, COL_COMMIT_MS)) : 0;
    PQclear(r);
    pufa_batch_link link = {.has_as_of = true,
                            .as_of_seq = b->end.seq,
                            .as_of_ms = last_ms,
                            .has_pending = true,
                            .pending = more ? pending_after(f, &b->end, b->n) : 0,
                            .oldest_pending_ms = next_ms};
    if (!more) {
        f->counted_ms = 0; /* caught up: count afresh next time */
        f->read_since_count = 0;
    }
    b->seq = f->next_seq++;
    pufa_batch_begin_link(&frame, f->collector_id, b->seq, pufa_now_ms(), &link);
    for (int k = 0; k < nper; k++) {
        pufa_period per = {
            .org_code = PQgetvalue(rp, k, 0),
            .year = atoi(PQgetvalue(rp, k, 1)),
            .month = atoi(PQgetvalue(rp, k, 2)),
            .state = pufa_period_state_parse(PQgetvalue(rp, k, 3)),
            .set_by = PQgetvalue(rp, k, 4),
            .set_by_org = PQgetvalue(rp, k, 5),
            .set_at_ms = atoll(PQgetvalue(rp, k, 6)),
            .reason = PQgetvalue(rp, k, 7),
            .exception_open = PQgetvalue(rp, k, 8)[0] == 't',
        };
        pufa_batch_add_period(&frame, &per);
    }
    b->nperiods = (size_t)nper;
    PQclear(rp);
    for (size_t k = 0; k < b->n; k++)
        pufa_batch_add(&frame, (const uint8_t *)body.data + offs[k], offs[k + 1] - offs[k]);
    free(offs);
    pufa_buf_free(&body);
    b->frame_len = frame.len;
    b->frame = (uint8_t *)pufa_buf_steal(&frame);
    f->read = b->end;
    f->more = more;
    f->count++;
    f->pending_after_read = link.pending;
    if (nper)
        PLOG_DEBUG("AGG-FWD-PERIODS", "periods=%d reports=%zu as_of_seq=%llu", nper, b->n,
                   (unsigned long long)b->end.seq);
    return true;
}

/* Idle: either something waits after all (read it) or a heartbeat goes up
 * with the feed's position.  Notices a cursor moved by an operator. */
static void idle_check(forward *f) {
    char seqtext[24];
    const char *params[2];
    pos_params(&f->read, seqtext, params);
    PGresult *r = PQexecParams(f->conn, SQL_IDLE, 2, NULL, params, NULL, NULL, 0);
    char err[512];
    if (pufa_pg_check(f->conn, r, PGRES_TUPLES_OK, "idle", err, sizeof err) != 0 ||
        PQntuples(r) != 1) {
        PQclear(r);
        db_down(f, "idle", err);
        return;
    }
    uint64_t feed_seq = (uint64_t)atoll(PQgetvalue(r, 0, 0));
    int64_t feed_ms = atoll(PQgetvalue(r, 0, 1));
    fwd_pos stored = {.seq = (uint64_t)atoll(PQgetvalue(r, 0, 2))};
    pufa_copy(stored.id, sizeof stored.id, PQgetvalue(r, 0, 3));
    bool waiting = PQgetvalue(r, 0, 4)[0] == 't';
    PQclear(r);
    if (stored.seq != f->acked.seq || strcmp(stored.id, f->acked.id) != 0) {
        PLOG_WARN("AGG-FWD-CURSOR-MOVED",
                  "msg=\"the cursor was moved outside this forwarder; going on from it\" "
                  "was=%llu now=%llu",
                  (unsigned long long)f->acked.seq, (unsigned long long)stored.seq);
        set_acked(f, &stored);
        f->read = stored;
        f->more = true;
        pthread_mutex_lock(&f->mu);
        f->stats.cursor_resets++;
        pthread_mutex_unlock(&f->mu);
        return;
    }
    if (waiting) {
        f->more = true;
        return;
    }
    f->pending_after_read = 0;
    fwd_batch *b = slot(f, f->count);
    memset(b, 0, sizeof *b);
    b->seq = f->next_seq++;
    b->end = f->read;
    pufa_batch_link link = {.has_as_of = true,
                            .as_of_seq = feed_seq,
                            .as_of_ms = feed_ms,
                            .has_pending = true,
                            .pending = 0};
    pufa_buf frame;
    pufa_buf_init(&frame);
    pufa_batch_begin_link(&frame, f->collector_id, b->seq, pufa_now_ms(), &link);
    b->frame_len = frame.len;
    b->frame = (uint8_t *)pufa_buf_steal(&frame);
    f->count++;
    pthread_mutex_lock(&f->mu);
    f->stats.heartbeats++;
    pthread_mutex_unlock(&f->mu);
}

/* Writes the refusals of the acknowledged batches at the head of the window
 * and moves the cursor past them, in one transaction; then drops them. */
static void commit_acked(forward *f) {
    size_t k = 0, nrows = 0, nref = 0;
    while (k < f->count && slot(f, k)->acked) {
        nrows += slot(f, k)->n;
        nref += slot(f, k)->nrefused;
        k++;
    }
    if (k == 0)
        return;
    size_t nper = 0;
    for (size_t j = 0; j < k; j++)
        nper += slot(f, j)->nperiods;
    if (nrows == 0 && nper == 0) { /* heartbeats only */
        for (size_t j = 0; j < k; j++)
            batch_free(slot(f, j));
        f->head = (f->head + k) % FWD_WINDOW;
        f->count -= k;
        return;
    }
    if (f->fault_kill_after_ack) {
        /* PUFA_FAULT=fwd_kill_after_ack (tests): die after the upper level
         * committed and acked, before the cursor moves - the worst moment. */
        PLOG_WARN("AGG-FAULT", "msg=\"PUFA_FAULT: killing myself after an upward ack\"");
        raise(SIGKILL);
    }
    fwd_pos end = slot(f, k - 1)->end;
    char err[512];
    int rc = pufa_pg_exec(f->conn, "BEGIN", err, sizeof err);
    if (rc == 0 && nref) {
        pufa_buf a[4];
        for (int i = 0; i < 4; i++) {
            pufa_buf_init(&a[i]);
            pufa_pgarr_open(&a[i]);
        }
        for (size_t j = 0; j < k; j++) {
            fwd_batch *b = slot(f, j);
            for (size_t i = 0; i < b->nrefused; i++) {
                fwd_refusal *x = &b->refused[i];
                pufa_pgarr_text(&a[0], x->id);
                pufa_pgarr_int(&a[1], x->revision);
                pufa_pgarr_text(
                    &a[2], x->status == PUFA__REPORT_STATUS__STATUS_LOCKED ? "locked" : "rejected");
                pufa_pgarr_text(&a[3], x->reason);
            }
        }
        const char *params[5];
        for (int i = 0; i < 4; i++) {
            pufa_pgarr_close(&a[i]);
            params[i] = a[i].data;
        }
        params[4] = f->cfg.upstream;
        PGresult *r = PQexecParams(f->conn, SQL_REFUSED, 5, NULL, params, NULL, NULL, 0);
        rc = pufa_pg_check(f->conn, r, PGRES_COMMAND_OK, "forward_refused", err, sizeof err);
        PQclear(r);
        for (int i = 0; i < 4; i++)
            pufa_buf_free(&a[i]);
    }
    bool moved_elsewhere = false;
    if (rc == 0) {
        char s1[24], s2[24];
        snprintf(s1, sizeof s1, "%llu", (unsigned long long)end.seq);
        snprintf(s2, sizeof s2, "%llu", (unsigned long long)f->acked.seq);
        const char *params[5] = {s1, end.id, f->cfg.upstream, s2, f->acked.id};
        PGresult *r = PQexecParams(f->conn, SQL_CURSOR_MOVE, 5, NULL, params, NULL, NULL, 0);
        rc = pufa_pg_check(f->conn, r, PGRES_COMMAND_OK, "forward_cursor", err, sizeof err);
        if (rc == 0 && atoi(PQcmdTuples(r)) != 1)
            moved_elsewhere = true;
        PQclear(r);
    }
    if (rc == 0 && !moved_elsewhere)
        rc = pufa_pg_exec(f->conn, "COMMIT", err, sizeof err);
    if (rc != 0) {
        /* Not moved: the batches stay acked here and are written again once
         * the database is back (or resent after a restart: duplicates). */
        db_down(f, "cursor", err);
        return;
    }
    if (moved_elsewhere) {
        pufa_pg_exec(f->conn, "ROLLBACK", err, sizeof err);
        fwd_pos stored;
        if (read_cursor(f, &stored, NULL, 0, err, sizeof err) != 0) {
            db_down(f, "cursor", err);
            return;
        }
        PLOG_WARN("AGG-FWD-CURSOR-MOVED",
                  "msg=\"the cursor was moved outside this forwarder; going on from it\" "
                  "was=%llu now=%llu",
                  (unsigned long long)f->acked.seq, (unsigned long long)stored.seq);
        drop_window(f);
        set_acked(f, &stored);
        f->read = stored;
        f->more = true;
        pthread_mutex_lock(&f->mu);
        f->stats.cursor_resets++;
        pthread_mutex_unlock(&f->mu);
        return;
    }
    for (size_t j = 0; j < k; j++)
        batch_free(slot(f, j));
    f->head = (f->head + k) % FWD_WINDOW;
    f->count -= k;
    set_acked(f, &end);
    PLOG_DEBUG("AGG-FWD-CURSOR", "acked_seq=%llu reports=%zu refused=%zu",
               (unsigned long long)end.seq, nrows, nref);
}

/* ---- ZeroMQ ---- */

static int64_t resend_after(int timeouts) {
    int64_t t = FWD_ACK_TIMEOUT_MS;
    for (int i = 0; i < timeouts && t < FWD_BACKOFF_MAX_MS; i++)
        t *= 2;
    return t > FWD_BACKOFF_MAX_MS ? FWD_BACKOFF_MAX_MS : t;
}

/* Sends the batches not sent yet; an ack overdue rewinds the window (the
 * same rows go again, as they are now), with a growing timeout. */
static void send_due(forward *f) {
    int64_t now = pufa_now_ms();
    for (size_t k = 0; k < f->count; k++) {
        fwd_batch *b = slot(f, k);
        if (!b->acked && b->attempts && b->due_ms <= now) {
            f->timeouts++;
            PLOG_WARN("AGG-FWD-TIMEOUT", "upstream=%s msg=\"no ack; sending again\" timeouts=%d",
                      f->cfg.upstream, f->timeouts);
            rewind_window(f, "timeout");
            return; /* read and sent afresh on the next turn */
        }
    }
    for (size_t k = 0; k < f->count; k++) {
        fwd_batch *b = slot(f, k);
        if (b->acked || b->attempts || b->due_ms > now)
            continue;
        if (zmq_send(f->dealer, b->frame, b->frame_len, ZMQ_DONTWAIT) < 0) {
            b->due_ms = now + 100; /* not connected (ZMQ_IMMEDIATE): soon again */
            continue;
        }
        pthread_mutex_lock(&f->mu);
        f->stats.batches_sent++;
        pthread_mutex_unlock(&f->mu);
        b->attempts++;
        b->due_ms = now + resend_after(f->timeouts);
        f->last_sent_ms = now;
    }
}

static void handle_ack(forward *f, const uint8_t *data, size_t len) {
    Pufa__BatchAck *a = NULL;
    if (pufa_ack_decode(data, len, &a) != 0) {
        PLOG_WARN("AGG-FWD-ACK-BAD", "msg=\"undecodable ack ignored\" bytes=%zu", len);
        return;
    }
    if (a->error) {
        /* The whole frame refused (e.g. this key left the upper level's
         * allow-list): nothing moves; resent with backoff. */
        char q[300];
        PLOG_ERROR("AGG-FWD-FRAME-REFUSED", "upstream=%s msg=%s", f->cfg.upstream,
                   pufa_log_quote(q, sizeof q, a->error));
        pthread_mutex_lock(&f->mu);
        f->stats.frames_refused++;
        pthread_mutex_unlock(&f->mu);
        pufa_ack_destroy(&a);
        return;
    }
    fwd_batch *b = NULL;
    for (size_t k = 0; k < f->count; k++)
        if (!slot(f, k)->acked && slot(f, k)->seq == a->batch_seq) {
            b = slot(f, k);
            break;
        }
    if (!b || a->n_results != b->n) {
        pufa_ack_destroy(&a); /* an answer to a resend already acked, or a previous run's */
        return;
    }
    uint64_t counts[6] = {0};
    for (size_t i = 0; i < b->n; i++) {
        const Pufa__ReportResult *res = a->results[i];
        int st = res->has_status ? (int)res->status : 0;
        if (st == PUFA__REPORT_STATUS__STATUS_COMMITTED ||
            st == PUFA__REPORT_STATUS__STATUS_DUPLICATE ||
            st == PUFA__REPORT_STATUS__STATUS_STALE) {
            counts[st]++;
            continue;
        }
        /* Refused (or an answer this forwarder does not know: recorded as
         * rejected rather than retried forever). */
        if (st != PUFA__REPORT_STATUS__STATUS_LOCKED)
            st = PUFA__REPORT_STATUS__STATUS_REJECTED;
        counts[st]++;
        const char *why = res->reason && *res->reason ? res->reason : "no reason given";
        if (!b->refused)
            b->refused = pufa_calloc(b->n, sizeof *b->refused);
        fwd_refusal *x = &b->refused[b->nrefused++];
        pufa_copy(x->id, sizeof x->id, b->ids[i]);
        x->revision = b->revs[i];
        x->status = st;
        x->reason = pufa_strdup(why);
        char q[400];
        PLOG_WARN("AGG-FWD-REFUSED", "report_id=%s revision=%u status=%s reason=%s", b->ids[i],
                  b->revs[i], st == PUFA__REPORT_STATUS__STATUS_LOCKED ? "locked" : "rejected",
                  pufa_log_quote(q, sizeof q, why));
    }
    b->acked = true;
    f->timeouts = 0;
    pthread_mutex_lock(&f->mu);
    f->stats.batches_acked++;
    for (int s = 0; s < 6; s++)
        f->stats.results[s] += counts[s];
    pthread_mutex_unlock(&f->mu);
    pufa_ack_destroy(&a);
}

static void handle_monitor(forward *f) {
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    if (zmq_msg_recv(&ev, f->monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ev);
        return;
    }
    zmq_msg_init(&addr);
    zmq_msg_recv(&addr, f->monitor, 0);
    uint16_t event = 0;
    if (zmq_msg_size(&ev) >= 2)
        memcpy(&event, zmq_msg_data(&ev), 2);
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
    pthread_mutex_lock(&f->mu);
    bool was = f->stats.connected;
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        f->stats.connected = true;
    else if (event == ZMQ_EVENT_DISCONNECTED)
        f->stats.connected = false;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        f->stats.auth_failures++;
    pthread_mutex_unlock(&f->mu);
    int64_t now = pufa_now_ms();
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        f->connected = true;
    else if (event == ZMQ_EVENT_DISCONNECTED)
        f->connected = false;
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        PLOG_INFO("AGG-FWD-CONNECTED", "upstream=%s", f->cfg.upstream);
        /* Whatever was in flight may have died with the old connection:
         * those rows again, as they are now (the upper level is
         * idempotent). */
        rewind_window(f, "reconnect");
    } else if (event == ZMQ_EVENT_DISCONNECTED && was) {
        PLOG_WARN("AGG-FWD-DISCONNECTED", "upstream=%s", f->cfg.upstream);
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && now - f->last_auth_log_ms >= 60000) {
        f->last_auth_log_ms = now;
        PLOG_ERROR("AGG-FWD-AUTH",
                   "upstream=%s home=%s msg=\"the upper level refused this "
                   "aggregator's key: is its public key on the upper allow-list, "
                   "bound to this home?\"",
                   f->cfg.upstream, f->cfg.home);
    }
}

static void update_gauges(forward *f) {
    int64_t oldest = 0;
    uint64_t in_window = 0;
    for (size_t k = 0; k < f->count; k++) {
        in_window += slot(f, k)->n;
        if (!oldest && slot(f, k)->n)
            oldest = slot(f, k)->first_ms;
    }
    pthread_mutex_lock(&f->mu);
    f->stats.oldest_unacked_ms = oldest;
    f->stats.pending = in_window + f->pending_after_read;
    pthread_mutex_unlock(&f->mu);
}

/* Not connected: nothing is read (what goes up on reconnection is read
 * then, as it is then), but the backlog is still counted for /metrics. */
static void count_backlog(forward *f) {
    if (f->count == 0)
        f->pending_after_read = pending_after(f, &f->read, 0);
}

static void *forward_main(void *arg) {
    forward *f = arg;
    PLOG_INFO("AGG-FWD-START", "upstream=%s collector_id=%s batch=%lld heartbeat_ms=%lld",
              f->cfg.upstream, f->collector_id, (long long)f->cfg.batch,
              (long long)f->cfg.heartbeat_ms);
    while (!f->stopping) {
        int64_t now = pufa_now_ms();
        if (!f->conn && now >= f->db_retry_ms)
            db_connect(f);
        if (f->conn) {
            commit_acked(f);
            /* Each batch goes up as soon as it is read, so the upper level
             * works on it while the next one is read. */
            while (f->conn && f->connected && f->more && f->count < FWD_WINDOW &&
                   window_reports(f) < FWD_WINDOW_REPORTS) {
                if (!read_batch(f))
                    break;
                send_due(f);
            }
            if (f->conn && f->connected && f->count == 0 &&
                now - f->last_sent_ms >= f->cfg.heartbeat_ms)
                idle_check(f);
            if (f->conn && !f->connected)
                count_backlog(f);
        }
        send_due(f);
        update_gauges(f);
        zmq_pollitem_t items[3] = {
            {.socket = f->dealer, .events = ZMQ_POLLIN},
            {.socket = f->monitor, .events = ZMQ_POLLIN},
            {.fd = f->pipefd[0], .events = ZMQ_POLLIN},
        };
        int r = zmq_poll(items, 3, 100);
        if (r < 0 && zmq_errno() != EINTR)
            break;
        if (items[2].revents & ZMQ_POLLIN) {
            char buf[64];
            while (read(f->pipefd[0], buf, sizeof buf) > 0) {
            }
            f->more = true;
        }
        if (items[1].revents & ZMQ_POLLIN)
            handle_monitor(f);
        if (items[0].revents & ZMQ_POLLIN) {
            for (int i = 0; i < 100; i++) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, f->dealer, ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                handle_ack(f, zmq_msg_data(&m), zmq_msg_size(&m));
                zmq_msg_close(&m);
            }
        }
    }
    return NULL;
}

int forward_start(forward *f) {
    if (pthread_create(&f->thread, NULL, forward_main, f) != 0)
        return PUFA_ESYS;
    f->started = true;
    return 0;
}

void forward_stop(forward *f) {
    if (!f)
        return;
    f->stopping = true;
    if (f->started) {
        pthread_join(f->thread, NULL);
        f->started = false;
    }
}

void forward_destroy(forward **pf) {
    if (!pf || !*pf)
        return;
    forward *f = *pf;
    forward_stop(f);
    drop_window(f);
    if (f->conn)
        PQfinish(f->conn);
    zmq_socket_monitor(f->dealer, NULL, 0);
    zmq_close(f->monitor);
    zmq_close(f->dealer);
    close(f->pipefd[0]);
    close(f->pipefd[1]);
    pthread_mutex_destroy(&f->mu);
    free(f);
    *pf = NULL;
}

void forward_get_stats(forward *f, forward_stats *st) {
    pthread_mutex_lock(&f->mu);
    *st = f->stats;
    pthread_mutex_unlock(&f->mu);
}
