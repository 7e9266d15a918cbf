#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "pufa.pb-c.h"

/* One approval waiting for the writer; lives on the asking thread's stack
 * while it waits, or on the heap once the asker gave up (abandoned). */
typedef struct approval_job {
    approval_req req;
    approval_res res;
    int rc;
    bool done, abandoned;
    char err[256];
    struct approval_job *next;
} approval_job;

struct pipeline {
    store *st;
    delta_pub *pub;       /* where committed deltas go */
    compactor *compactor; /* told of journal rows appended; may be NULL */
    forward *forwarder;   /* woken after each commit; may be NULL */
    agg_stats *stats;
    size_t max_pending, max_group;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    agg_batch *pending, *pending_tail;
    size_t pending_reports;
    agg_batch *done, *done_tail;
    bool stopping;
    int pipefd[2];
    approval_job *approvals, *approvals_tail; /* waiting for the writer */
    pthread_cond_t approval_cv;               /* signalled when one is done */
};

agg_batch *agg_batch_new(size_t n) {
    agg_batch *b = pufa_calloc(1, sizeof *b);
    b->n_reports = n;
    b->status = pufa_calloc(n ? n : 1, sizeof *b->status);
    b->reason = pufa_calloc(n ? n : 1, sizeof *b->reason);
    b->ids = pufa_calloc(n ? n : 1, sizeof *b->ids);
    b->revisions = pufa_calloc(n ? n : 1, sizeof *b->revisions);
    b->items = pufa_calloc(n ? n : 1, sizeof *b->items);
    return b;
}

void agg_batch_destroy(agg_batch **pb) {
    if (!pb || !*pb)
        return;
    agg_batch *b = *pb;
    for (size_t i = 0; i < b->n_reports; i++) {
        free(b->reason[i]);
        free(b->ids[i]);
    }
    for (size_t i = 0; i < b->n_items; i++)
        pufa_report_clear(&b->items[i].report);
    for (size_t i = 0; i < b->n_periods; i++)
        free(b->periods[i].reason);
    free(b->periods);
    free(b->status);
    free(b->reason);
    free(b->ids);
    free(b->revisions);
    free(b->items);
    free(b);
    *pb = NULL;
}

int pipeline_new(store *st, delta_pub *pub, agg_stats *stats, size_t max_pending, size_t max_group,
                 pipeline **out, char *err, size_t errsize) {
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errsize, "cannot create the writer's wake-up pipe: %s", strerror(errno));
        return PUFA_ESYS;
    }
    pipeline *p = pufa_calloc(1, sizeof *p);
    p->pipefd[0] = fds[0];
    p->pipefd[1] = fds[1];
    p->st = st;
    p->pub = pub;
    p->stats = stats;
    p->max_pending = max_pending;
    p->max_group = max_group;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->approval_cv, NULL);
    fcntl(p->pipefd[0], F_SETFL, O_NONBLOCK);
    fcntl(p->pipefd[1], F_SETFL, O_NONBLOCK);
    *out = p;
    return 0;
}

void pipeline_set_compactor(pipeline *p, compactor *c) {
    p->compactor = c;
}

void pipeline_set_forwarder(pipeline *p, forward *f) {
    p->forwarder = f;
}

int pipeline_notify_fd(const pipeline *p) {
    return p->pipefd[0];
}

static void notify(pipeline *p) {
    char c = 1;
    ssize_t r = write(p->pipefd[1], &c, 1);
    (void)r; /* a full pipe already means "wake up" */
}

void pipeline_submit(pipeline *p, agg_batch *b) {
    pthread_mutex_lock(&p->mu);
    b->next = NULL;
    if (p->pending_tail)
        p->pending_tail->next = b;
    else
        p->pending = b;
    p->pending_tail = b;
    p->pending_reports += b->n_items;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

bool pipeline_full(pipeline *p) {
    pthread_mutex_lock(&p->mu);
    bool full = p->pending_reports >= p->max_pending;
    pthread_mutex_unlock(&p->mu);
    return full;
}

void pipeline_take_done(pipeline *p, agg_batch **batches) {
    char buf[64];
    while (read(p->pipefd[0], buf, sizeof buf) > 0) {
    }
    pthread_mutex_lock(&p->mu);
    *batches = p->done;
    p->done = p->done_tail = NULL;
    pthread_mutex_unlock(&p->mu);
}

/* Fault injection for the tests (tests/aggregator_test.c): with
 * PUFA_FAULT=agg_kill_after_commit the process kills itself right after a
 * COMMIT, before any ack leaves - the worst moment for a crash. */
static bool fault_kill_after_commit(void) {
    static int cached = -1;
    if (cached < 0) {
        const char *f = getenv("PUFA_FAULT");
        cached = f && !strcmp(f, "agg_kill_after_commit");
    }
    return cached == 1;
}

/* After the store's transactions (writer thread): counts them, tells the
 * compactor, and sends each delta on the feed, in commit order. */
static void committed(pipeline *p, store_commits *cs) {
    for (size_t i = 0; i < cs->n; i++) {
        store_commit *c = &cs->c[i];
        if (c->seq && fault_kill_after_commit()) {
            PLOG_WARN("AGG-FAULT", "msg=\"PUFA_FAULT: killing myself after commit\" seq=%llu",
                      (unsigned long long)c->seq);
            raise(SIGKILL);
        }
        pthread_mutex_lock(&p->stats->mu);
        p->stats->reports[PUFA__REPORT_STATUS__STATUS_COMMITTED] += c->committed;
        p->stats->reports[PUFA__REPORT_STATUS__STATUS_DUPLICATE] += c->duplicate;
        p->stats->reports[PUFA__REPORT_STATUS__STATUS_STALE] += c->stale;
        p->stats->reports[PUFA__REPORT_STATUS__STATUS_REJECTED] += c->rejected;
        p->stats->reports[PUFA__REPORT_STATUS__STATUS_LOCKED] += c->locked;
        if (c->seconds > 0) {
            p->stats->transactions++;
            pufa_histogram_observe(&p->stats->commit_latency, c->seconds);
        }
        if (c->seq)
            p->stats->feed_seq = c->seq;
        pthread_mutex_unlock(&p->stats->mu);
        compactor_note(p->compactor, c->journal_rows);
        if (c->seq)
            forward_note(p->forwarder);
        if (c->delta) {
            delta_pub_delta(p->pub, c->seq, c->delta, c->delta_len);
            c->delta = NULL; /* the feed's now */
        }
    }
    store_commits_free(cs);
}

static void set_db_state(pipeline *p, bool up, const char *err) {
    pthread_mutex_lock(&p->stats->mu);
    p->stats->db_up = up;
    pufa_copy(p->stats->db_error, sizeof p->stats->db_error, up ? "" : err);
    pthread_mutex_unlock(&p->stats->mu);
}

/* Sleeps up to ms, returning early when stopping. */
static void backoff_wait(pipeline *p, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    if (!p->stopping)
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    pthread_mutex_unlock(&p->mu);
}

static bool is_stopping(pipeline *p) {
    pthread_mutex_lock(&p->mu);
    bool s = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return s;
}

int pipeline_approve(pipeline *p, const approval_req *req, int timeout_ms, approval_res *res,
                     char *err, size_t errsize) {
    approval_job *j = pufa_calloc(1, sizeof *j);
    j->req = *req;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    if (p->stopping || !p->started) {
        pthread_mutex_unlock(&p->mu);
        free(j);
        snprintf(err, errsize, "the writer is not running");
        return PUFA_EDBDOWN;
    }
    if (p->approvals_tail)
        p->approvals_tail->next = j;
    else
        p->approvals = j;
    p->approvals_tail = j;
    pthread_cond_broadcast(&p->cv);
    int w = 0;
    while (!j->done && w == 0)
        w = pthread_cond_timedwait(&p->approval_cv, &p->mu, &ts);
    if (!j->done) {
        /* The writer frees it when it gets to it (or at destroy). */
        j->abandoned = true;
        pthread_mutex_unlock(&p->mu);
        snprintf(err, errsize, "the writer did not answer within %d ms (database down?)",
                 timeout_ms);
        return PUFA_ETIMEDOUT;
    }
    pthread_mutex_unlock(&p->mu);
    int rc = j->rc;
    *res = j->res;
    if (rc)
        snprintf(err, errsize, "%s", j->err);
    free(j);
    return rc;
}

/* Runs every waiting approval (writer thread), each in its own
 * transaction, between two report transactions. */
static void run_approvals(pipeline *p) {
    for (;;) {
        pthread_mutex_lock(&p->mu);
        approval_job *j = p->approvals;
        if (j) {
            p->approvals = j->next;
            if (!p->approvals)
                p->approvals_tail = NULL;
        }
        bool abandoned = j && j->abandoned;
        pthread_mutex_unlock(&p->mu);
        if (!j)
            return;
        if (abandoned) {
            /* Its asker timed out and was told so: do not act on it late. */
            free(j);
            continue;
        }
        approval_res res = {0};
        char err[256] = "";
        int rc = store_approve(p->st, &j->req, &res, err, sizeof err);
        pthread_mutex_lock(&p->stats->mu);
        if (rc == 0)
            p->stats->approvals[res.http_status == 200 ? 0 : 1]++;
        if (rc == 0 && res.seq)
            p->stats->feed_seq = res.seq;
        pthread_mutex_unlock(&p->stats->mu);
        if (rc == 0 && res.seq) {
            /* Committed under the next feed number, on this thread between
             * two report transactions: published here, in commit order, as
             * committed() does for the reports; the forwarder takes the
             * change up with them. */
            forward_note(p->forwarder);
            if (res.delta)
                delta_pub_delta(p->pub, res.seq, res.delta, res.delta_len);
            res.delta = NULL; /* the feed's now */
        }
        pthread_mutex_lock(&p->mu);
        if (j->abandoned) {
            free(res.json);
            free(j);
        } else {
            j->res = res;
            j->rc = rc;
            pufa_copy(j->err, sizeof j->err, err);
            j->done = true;
            pthread_cond_broadcast(&p->approval_cv);
        }
        pthread_mutex_unlock(&p->mu);
        if (rc)
            store_disconnect(p->st);
    }
}

/* Applies the period changes a lower aggregator sent with b (writer
 * thread) and publishes them, as run_approvals does.  0 or PUFA_EDBDOWN /
 * PUFA_EDB (nothing applied: retried). */
static int apply_remote(pipeline *p, agg_batch *b, char *err, size_t errsize) {
    approval_res res = {0};
    int rc = store_apply_remote(p->st, b->collector_id, b->link_unit, b->home, b->link_seq,
                                b->periods, b->n_periods, &res, err, errsize);
    if (rc)
        return rc;
    b->periods_done = true;
    if (res.seq) {
        pthread_mutex_lock(&p->stats->mu);
        p->stats->feed_seq = res.seq;
        pthread_mutex_unlock(&p->stats->mu);
        forward_note(p->forwarder);
        if (res.delta)
            delta_pub_delta(p->pub, res.seq, res.delta, res.delta_len);
        res.delta = NULL;
    }
    free(res.json);
    return 0;
}

static void *writer_main(void *arg) {
    pipeline *p = arg;
    char err[512];
    int backoff_ms = 100;
    agg_item **items = NULL;
    size_t items_cap = 0;
    for (;;) {
        /* Keep the connection up even when idle, so /readyz tells the truth. */
        if (!store_connected(p->st)) {
            int rc = store_connect(p->st, err, sizeof err);
            if (rc) {
                set_db_state(p, false, err);
                char q[600];
                PLOG_WARN("AGG-DB-DOWN", "msg=%s retry_ms=%d", pufa_log_quote(q, sizeof q, err),
                          backoff_ms);
                if (is_stopping(p))
                    break;
                backoff_wait(p, backoff_ms);
                backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
                continue;
            }
            backoff_ms = 100;
            set_db_state(p, true, "");
            PLOG_INFO("AGG-DB-UP", "msg=\"connected to PostgreSQL\"");
        }
        run_approvals(p);

        /* Take a group: every batch submitted so far, up to max_group reports. */
        pthread_mutex_lock(&p->mu);
        while (!p->pending && !p->approvals && !p->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
            if (!p->pending)
                break; /* periodic: re-check the connection, run approvals */
        }
        if (p->stopping) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        agg_batch *group = NULL, *tail = NULL;
        size_t nreports = 0;
        /* A batch carrying period changes starts a group of its own: its
         * periods go in before its reports and after everything before it
         * (the lower level's commit order). */
        while (p->pending && (nreports == 0 || nreports + p->pending->n_items <= p->max_group) &&
               !(group && p->pending->n_periods && !p->pending->periods_done)) {
            agg_batch *b = p->pending;
            p->pending = b->next;
            if (!p->pending)
                p->pending_tail = NULL;
            b->next = NULL;
            if (tail)
                tail->next = b;
            else
                group = b;
            tail = b;
            nreports += b->n_items;
        }
        pthread_mutex_unlock(&p->mu);
        if (!group) {
            pthread_mutex_lock(&p->mu);
            bool approvals = p->approvals != NULL;
            pthread_mutex_unlock(&p->mu);
            if (!approvals && store_ping(p->st, err, sizeof err) != 0)
                set_db_state(p, false, err);
            continue;
        }

        if (nreports > items_cap) {
            items_cap = nreports * 2;
            items = pufa_realloc(items, items_cap * sizeof *items);
        }
        /* Apply until every report has a status (or we are told to stop):
         * first the period changes the group's first batch carries. */
        for (;;) {
            if (group->n_periods && !group->periods_done) {
                int rc = store_connect(p->st, err, sizeof err);
                if (rc == 0)
                    rc = apply_remote(p, group, err, sizeof err);
                if (rc == PUFA_EDB) {
                    /* Refused by the database (checked in the I/O thread, so
                     * not expected): logged and left out, never retried
                     * forever; the reports still go on. */
                    char q[600];
                    PLOG_ERROR("AGG-PERIODS-REFUSED", "via=%s periods=%zu msg=%s",
                               group->collector_id, group->n_periods,
                               pufa_log_quote(q, sizeof q, err));
                    group->periods_done = true;
                    rc = 0;
                }
                if (rc) {
                    set_db_state(p, false, err);
                    char q[600];
                    PLOG_WARN("AGG-DB-RETRY", "msg=%s periods=%zu retry_ms=%d",
                              pufa_log_quote(q, sizeof q, err), group->n_periods, backoff_ms);
                    store_disconnect(p->st);
                    if (is_stopping(p))
                        break;
                    backoff_wait(p, backoff_ms);
                    backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
                    continue;
                }
            }
            size_t n = 0;
            for (agg_batch *b = group; b; b = b->next)
                for (size_t i = 0; i < b->n_items; i++)
                    if (b->items[i].status == 0)
                        items[n++] = &b->items[i];
            if (n == 0)
                break;
            int rc = store_connect(p->st, err, sizeof err);
            store_commits cs;
            store_commits_init(&cs);
            if (rc == 0)
                rc = store_apply_all(p->st, items, n, &cs, err, sizeof err);
            committed(p, &cs);
            if (rc == 0) {
                backoff_ms = 100;
                break;
            }
            set_db_state(p, false, err);
            char q[600];
            PLOG_WARN("AGG-DB-RETRY", "msg=%s reports=%zu retry_ms=%d",
                      pufa_log_quote(q, sizeof q, err), n, backoff_ms);
            store_disconnect(p->st);
            if (is_stopping(p))
                break;
            backoff_wait(p, backoff_ms);
            backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
            if (store_connect(p->st, err, sizeof err) == 0)
                set_db_state(p, true, "");
        }

        /* Hand back what is decided. */
        pthread_mutex_lock(&p->mu);
        p->pending_reports -= nreports;
        for (agg_batch *b = group, *next; b; b = next) {
            next = b->next;
            b->next = NULL;
            bool decided = true;
            for (size_t i = 0; i < b->n_items; i++) {
                agg_item *it = &b->items[i];
                if (it->status == 0) {
                    decided = false;
                    continue;
                }
                b->status[it->slot] = it->status;
                if (it->reason[0] && !b->reason[it->slot])
                    b->reason[it->slot] = pufa_strdup(it->reason);
            }
            if (b->n_periods && !b->periods_done)
                decided = false;
            if (!decided) {
                agg_batch_destroy(&b); /* stopping: unacked, the sender resends */
                continue;
            }
            if (p->done_tail)
                p->done_tail->next = b;
            else
                p->done = b;
            p->done_tail = b;
        }
        pthread_mutex_unlock(&p->mu);
        notify(p);
    }
    free(items);
    store_disconnect(p->st);
    notify(p);
    return NULL;
}

int pipeline_start(pipeline *p) {
    pthread_mutex_lock(&p->mu);
    int rc = pthread_create(&p->thread, NULL, writer_main, p);
    p->started = rc == 0;
    pthread_mutex_unlock(&p->mu);
    return rc == 0 ? 0 : PUFA_ESYS;
}

void pipeline_stop(pipeline *p) {
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    bool started = p->started;
    pthread_mutex_unlock(&p->mu);
    if (started)
        pthread_join(p->thread, NULL);
    /* Approvals still waiting are answered "not done": nothing ran them. */
    pthread_mutex_lock(&p->mu);
    p->started = false;
    while (p->approvals) {
        approval_job *j = p->approvals;
        p->approvals = j->next;
        if (j->abandoned) {
            free(j);
            continue;
        }
        j->rc = PUFA_EDBDOWN;
        pufa_copy(j->err, sizeof j->err, "the aggregator is stopping; nothing was changed");
        j->done = true;
    }
    p->approvals_tail = NULL;
    pthread_cond_broadcast(&p->approval_cv);
    pthread_mutex_unlock(&p->mu);
}

void pipeline_destroy(pipeline **pp) {
    if (!pp || !*pp)
        return;
    pipeline *p = *pp;
    pipeline_stop(p);
    agg_batch *b, *done;
    pipeline_take_done(p, &done);
    for (b = p->pending; b;) {
        agg_batch *next = b->next;
        agg_batch_destroy(&b);
        b = next;
    }
    for (b = done; b;) {
        agg_batch *next = b->next;
        agg_batch_destroy(&b);
        b = next;
    }
    close(p->pipefd[0]);
    close(p->pipefd[1]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->approval_cv);
    free(p);
    *pp = NULL;
}
