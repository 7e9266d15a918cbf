#include "sender.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "log.h"
#include "wire.h"

typedef struct inflight {
    uint64_t seq;
    spool_lsn first, end; /* spool range [first, end) */
    size_t n;
    uint8_t *frame;
    size_t frame_len;
    char **ids;
    uint32_t *revs;
    uint8_t **payloads; /* kept for the dead-letter list */
    size_t *plens;
    int64_t oldest_ms;
    int64_t due_ms; /* send (again) at */
    int attempts;
    bool acked;
} inflight;

struct sender {
    sender_config cfg;
    spool *sp;
    states *st;
    void *zctx;
    void *dealer;
    void *monitor;
    char monitor_ep[64];
    pthread_t thread;
    bool started;
    _Atomic bool stopping;
    pthread_mutex_t mu; /* guards stats */
    sender_stats stats;
    inflight *win; /* ring of cfg.window slots, in spool order */
    size_t head, count;
    spool_lsn read_pos;
    uint64_t next_seq;
    uint64_t first_seq;   /* of this run */
    uint64_t last_hb_seq; /* the newest heartbeat's batch_seq, 0: none yet */
    int64_t last_send_ms; /* any frame, batch or heartbeat */
    unsigned rand_state;
};

static void inflight_free(inflight *f) {
    for (size_t i = 0; i < f->n; i++) {
        free(f->ids[i]);
        free(f->payloads[i]);
    }
    free(f->ids);
    free(f->revs);
    free(f->payloads);
    free(f->plens);
    free(f->frame);
    memset(f, 0, sizeof *f);
}

int sender_new(const sender_config *cfg, spool *sp, states *st, void *zctx, sender **out, char *err,
               size_t errsize) {
    sender *s = pufa_calloc(1, sizeof *s);
    s->cfg = *cfg;
    s->sp = sp;
    s->st = st;
    s->zctx = zctx;
    s->win = pufa_calloc((size_t)cfg->window, sizeof *s->win);
    s->next_seq = (uint64_t)pufa_now_ms() * 1000; /* distinct from an earlier run's */
    s->first_seq = s->next_seq;
    s->rand_state = (unsigned)pufa_now_ms();
    pthread_mutex_init(&s->mu, NULL);
    s->dealer = zmq_socket(zctx, ZMQ_DEALER);
    int immediate = 1, linger = 0, hb = (int)cfg->heartbeat_ms, hbt = (int)cfg->heartbeat_ms * 3;
    int hwm = (int)cfg->window * 2 + 16, reconnect = 200, reconnect_max = 5000;
    zmq_setsockopt(s->dealer, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(s->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->dealer, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
    zmq_setsockopt(s->dealer, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof hbt);
    zmq_setsockopt(s->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->dealer, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt(s->dealer, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    if (cfg->curve_server_key && *cfg->curve_server_key) {
        if (zmq_setsockopt(s->dealer, ZMQ_CURVE_SERVERKEY, cfg->curve_server_key, 40) ||
            zmq_setsockopt(s->dealer, ZMQ_CURVE_PUBLICKEY, cfg->curve_public_key, 40) ||
            zmq_setsockopt(s->dealer, ZMQ_CURVE_SECRETKEY, cfg->curve_secret_key, 40)) {
            snprintf(err, errsize, "CURVE keys refused by libzmq: %s", zmq_strerror(zmq_errno()));
            zmq_close(s->dealer);
            free(s->win);
            free(s);
            return PUFA_ECONFIG;
        }
    }
    snprintf(s->monitor_ep, sizeof s->monitor_ep, "inproc://sender-monitor-%p", (void *)s);
    zmq_socket_monitor(s->dealer, s->monitor_ep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED);
    s->monitor = zmq_socket(zctx, ZMQ_PAIR);
    zmq_setsockopt(s->monitor, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s->monitor, s->monitor_ep);
    if (zmq_connect(s->dealer, cfg->endpoint) != 0) {
        snprintf(err, errsize, "bad aggregator endpoint %s: %s", cfg->endpoint,
                 zmq_strerror(zmq_errno()));
        zmq_close(s->monitor);
        zmq_close(s->dealer);
        free(s->win);
        free(s);
        return PUFA_ECONFIG;
    }
    s->read_pos = spool_cursor(sp);
    *out = s;
    return 0;
}

static int64_t jittered(sender *s, int64_t ms) {
    /* +-20 % so that collectors restarted together do not resend together. */
    int64_t span = ms / 5;
    if (span <= 0)
        return ms;
    return ms - span + (int64_t)(rand_r(&s->rand_state) % (unsigned)(2 * span + 1));
}

static int64_t backoff(sender *s, int attempts) {
    int64_t t = s->cfg.ack_timeout_ms;
    for (int i = 1; i < attempts && t < s->cfg.backoff_max_ms; i++)
        t *= 2;
    if (t > s->cfg.backoff_max_ms)
        t = s->cfg.backoff_max_ms;
    return jittered(s, t);
}

/* The reports in the spool not yet acknowledged, less `ahead` of them
 * (those sent or being sent), and the received time of the first one at
 * or after pos (0 when none is waiting or it cannot be read). */
static void waiting_at(sender *s, spool_lsn pos, uint64_t ahead, uint64_t *pending,
                       int64_t *oldest_ms) {
    spool_stats ss;
    spool_get_stats(s->sp, &ss);
    *pending = ss.records > ahead ? ss.records - ahead : 0;
    *oldest_ms = 0;
    if (*pending == 0)
        return;
    uint8_t *data;
    size_t len;
    spool_lsn at, next;
    if (spool_read(s->sp, pos, &data, &len, &at, &next) != 0)
        return;
    char id[64];
    uint32_t rev;
    pufa_report_peek(data, len, id, sizeof id, &rev, oldest_ms);
    free(data);
}

/* Fills a new window slot from the spool; false when nothing is there. */
static bool fill_batch(sender *s, inflight *f) {
    size_t cap = (size_t)s->cfg.batch_max;
    f->ids = pufa_calloc(cap, sizeof *f->ids);
    f->revs = pufa_calloc(cap, sizeof *f->revs);
    f->payloads = pufa_calloc(cap, sizeof *f->payloads);
    f->plens = pufa_calloc(cap, sizeof *f->plens);
    spool_lsn pos = s->read_pos;
    f->first = pos;
    while (f->n < cap) {
        uint8_t *data;
        size_t len;
        spool_lsn at, next;
        if (spool_read(s->sp, pos, &data, &len, &at, &next) != 0)
            break;
        if (f->n == 0)
            f->first = at;
        char id[64];
        int64_t recv_ms;
        pufa_report_peek(data, len, id, sizeof id, &f->revs[f->n], &recv_ms);
        f->ids[f->n] = pufa_strdup(id);
        if (recv_ms && (!f->oldest_ms || recv_ms < f->oldest_ms))
            f->oldest_ms = recv_ms;
        f->payloads[f->n] = data;
        f->plens[f->n] = len;
        f->n++;
        pos = next;
    }
    if (f->n == 0) {
        inflight_free(f);
        return false;
    }
    /* The spool already holds the encoded reports: the frame is the batch
     * header, with what waits behind this batch, and each record as it is. */
    uint64_t ahead = f->n;
    for (size_t k = 0; k < s->count; k++)
        ahead += s->win[(s->head + k) % (size_t)s->cfg.window].n;
    pufa_batch_link link = {.has_pending = true};
    waiting_at(s, pos, ahead, &link.pending, &link.oldest_pending_ms);
    pufa_buf frame;
    pufa_buf_init(&frame);
    pufa_batch_begin_link(&frame, s->cfg.collector_id, s->next_seq, pufa_now_ms(), &link);
    for (size_t i = 0; i < f->n; i++)
        pufa_batch_add(&frame, f->payloads[i], f->plens[i]);
    f->end = pos;
    f->seq = s->next_seq++;
    f->frame_len = frame.len;
    f->frame = (uint8_t *)pufa_buf_steal(&frame);
    f->due_ms = 0;
    s->read_pos = pos;
    for (size_t i = 0; i < f->n; i++)
        states_set(s->st, f->ids[i], f->revs[i], DS_IN_FLIGHT);
    return true;
}

static void send_due(sender *s) {
    int64_t now = pufa_now_ms();
    for (size_t k = 0; k < s->count; k++) {
        inflight *f = &s->win[(s->head + k) % (size_t)s->cfg.window];
        if (f->acked || f->due_ms > now)
            continue;
        if (zmq_send(s->dealer, f->frame, f->frame_len, ZMQ_DONTWAIT) < 0) {
            /* Not connected (ZMQ_IMMEDIATE): try again shortly. */
            f->due_ms = now + 100;
            continue;
        }
        s->last_send_ms = now;
        pthread_mutex_lock(&s->mu);
        if (f->attempts)
            s->stats.batches_resent++;
        else
            s->stats.batches_sent++;
        pthread_mutex_unlock(&s->mu);
        f->attempts++;
        f->due_ms = now + backoff(s, f->attempts);
    }
}

static void handle_ack(sender *s, const uint8_t *data, size_t len) {
    Pufa__BatchAck *a = NULL;
    if (pufa_ack_decode(data, len, &a) != 0) {
        PLOG_WARN("COL-ACK-BAD", "msg=\"undecodable ack ignored\" bytes=%zu", len);
        return;
    }
    if (a->error) {
        char q[300];
        PLOG_ERROR("COL-BATCH-REFUSED", "msg=%s", pufa_log_quote(q, sizeof q, a->error));
        pufa_ack_destroy(&a);
        return;
    }
    inflight *f = NULL;
    for (size_t k = 0; k < s->count; k++) {
        inflight *g = &s->win[(s->head + k) % (size_t)s->cfg.window];
        if (!g->acked && g->seq == a->batch_seq) {
            f = g;
            break;
        }
    }
    if (!f && a->n_results == 0 && a->batch_seq >= s->first_seq && a->batch_seq <= s->last_hb_seq) {
        /* A heartbeat's answer: the aggregator hears us. */
        pthread_mutex_lock(&s->mu);
        s->stats.last_heartbeat_answer_ms = pufa_now_ms();
        s->stats.heartbeats_answered++;
        pthread_mutex_unlock(&s->mu);
        pufa_ack_destroy(&a);
        return;
    }
    if (!f || a->n_results != f->n) {
        /* An answer to a resend already acked, or from a previous run. */
        pufa_ack_destroy(&a);
        return;
    }
    uint64_t counts[6] = {0};
    for (size_t i = 0; i < f->n; i++) {
        Pufa__ReportResult *r = a->results[i];
        int st = r->has_status ? r->status : 0;
        delivery_state ds = st == PUFA__REPORT_STATUS__STATUS_COMMITTED   ? DS_COMMITTED
                            : st == PUFA__REPORT_STATUS__STATUS_DUPLICATE ? DS_DUPLICATE
                            : st == PUFA__REPORT_STATUS__STATUS_STALE     ? DS_STALE
                            : st == PUFA__REPORT_STATUS__STATUS_LOCKED    ? DS_LOCKED
                                                                          : DS_REJECTED;
        pufa_report rep;
        pufa_report_init(&rep);
        bool have_report = false;
        if (ds == DS_REJECTED || ds == DS_LOCKED) {
            /* The dead letter keeps the report as sent. */
            have_report = pufa_report_decode(f->payloads[i], f->plens[i], &rep) == 0;
            char q[400];
            PLOG_WARN(ds == DS_LOCKED ? "COL-LOCKED" : "COL-REJECTED",
                      "report_id=%s revision=%u reason=%s", f->ids[i], f->revs[i],
                      pufa_log_quote(q, sizeof q, r->reason ? r->reason : "no reason given"));
        }
        states_final(s->st, f->ids[i], f->revs[i], ds, r->reason, have_report ? &rep : NULL);
        pufa_report_clear(&rep);
        if (st >= 1 && st <= 5)
            counts[st]++;
        else
            counts[4]++;
    }
    f->acked = true;
    pthread_mutex_lock(&s->mu);
    s->stats.last_ack_ms = pufa_now_ms();
    s->stats.batches_acked++;
    s->stats.committed += counts[1];
    s->stats.duplicate += counts[2];
    s->stats.stale += counts[3];
    s->stats.rejected += counts[4];
    s->stats.locked += counts[5];
    pthread_mutex_unlock(&s->mu);
    pufa_ack_destroy(&a);

    /* Pop acknowledged batches from the head; the cursor follows. */
    uint64_t popped = 0;
    spool_lsn cursor = 0;
    while (s->count && s->win[s->head].acked) {
        inflight *g = &s->win[s->head];
        popped += g->n;
        cursor = g->end;
        inflight_free(g);
        s->head = (s->head + 1) % (size_t)s->cfg.window;
        s->count--;
    }
    if (popped)
        spool_ack_upto(s->sp, cursor, popped);
}

static void handle_monitor(sender *s) {
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    if (zmq_msg_recv(&ev, s->monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ev);
        return;
    }
    zmq_msg_init(&addr);
    zmq_msg_recv(&addr, s->monitor, 0);
    uint16_t event = 0;
    if (zmq_msg_size(&ev) >= 2)
        memcpy(&event, zmq_msg_data(&ev), 2);
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
    pthread_mutex_lock(&s->mu);
    bool was = s->stats.connected;
    s->stats.connected = event == ZMQ_EVENT_CONNECTED;
    pthread_mutex_unlock(&s->mu);
    if (event == ZMQ_EVENT_CONNECTED) {
        PLOG_INFO("COL-AGG-CONNECTED", "endpoint=%s", s->cfg.endpoint);
        /* Whatever was in flight may have died with the old connection. */
        for (size_t k = 0; k < s->count; k++) {
            inflight *f = &s->win[(s->head + k) % (size_t)s->cfg.window];
            if (!f->acked)
                f->due_ms = 0;
        }
    } else if (was) {
        PLOG_WARN("COL-AGG-DISCONNECTED", "endpoint=%s", s->cfg.endpoint);
    }
}

static void update_gauges(sender *s) {
    uint64_t n = 0;
    int64_t oldest = 0;
    for (size_t k = 0; k < s->count; k++) {
        inflight *f = &s->win[(s->head + k) % (size_t)s->cfg.window];
        if (f->acked)
            continue;
        n += f->n;
        if (f->oldest_ms && (!oldest || f->oldest_ms < oldest))
            oldest = f->oldest_ms;
    }
    pthread_mutex_lock(&s->mu);
    s->stats.in_flight_reports = n;
    s->stats.oldest_unacked_ms = oldest;
    pthread_mutex_unlock(&s->mu);
}

/* When nothing was sent for link_heartbeat_ms: a batch without reports,
 * saying how many wait in the spool and since when. */
static void heartbeat_if_idle(sender *s) {
    int64_t now = pufa_now_ms();
    if (s->cfg.link_heartbeat_ms <= 0 || now - s->last_send_ms < s->cfg.link_heartbeat_ms)
        return;
    pthread_mutex_lock(&s->mu);
    bool connected = s->stats.connected;
    pthread_mutex_unlock(&s->mu);
    if (!connected)
        return;
    uint64_t acked = 0;
    int64_t oldest = 0;
    for (size_t k = 0; k < s->count; k++) {
        inflight *f = &s->win[(s->head + k) % (size_t)s->cfg.window];
        if (f->acked)
            acked += f->n;
        else if (f->oldest_ms && (!oldest || f->oldest_ms < oldest))
            oldest = f->oldest_ms;
    }
    pufa_batch_link link = {.has_pending = true};
    /* Unacknowledged batches come first in the spool; with none, the
     * oldest waiting report is the next one to read. */
    waiting_at(s, s->read_pos, acked, &link.pending, &link.oldest_pending_ms);
    if (oldest && link.pending)
        link.oldest_pending_ms = oldest;
    pufa_buf frame;
    pufa_buf_init(&frame);
    uint64_t seq = s->next_seq;
    pufa_batch_begin_link(&frame, s->cfg.collector_id, seq, now, &link);
    if (zmq_send(s->dealer, frame.data, frame.len, ZMQ_DONTWAIT) >= 0) {
        s->next_seq++;
        s->last_hb_seq = seq;
        s->last_send_ms = now;
        pthread_mutex_lock(&s->mu);
        s->stats.last_heartbeat_ms = now;
        s->stats.heartbeats_sent++;
        pthread_mutex_unlock(&s->mu);
    }
    pufa_buf_free(&frame);
}

static void *sender_main(void *arg) {
    sender *s = arg;
    while (!s->stopping) {
        /* Fill the window from the spool. */
        while (s->count < (size_t)s->cfg.window) {
            inflight *f = &s->win[(s->head + s->count) % (size_t)s->cfg.window];
            if (!fill_batch(s, f))
                break;
            s->count++;
        }
        send_due(s);
        heartbeat_if_idle(s);
        update_gauges(s);
        zmq_pollitem_t items[3] = {
            {.socket = s->dealer, .events = ZMQ_POLLIN},
            {.socket = s->monitor, .events = ZMQ_POLLIN},
            {.fd = spool_notify_fd(s->sp), .events = ZMQ_POLLIN},
        };
        int r = zmq_poll(items, 3, 50);
        if (r < 0 && zmq_errno() != EINTR)
            break;
        if (items[2].revents & ZMQ_POLLIN)
            spool_drain_notify(s->sp);
        if (items[1].revents & ZMQ_POLLIN)
            handle_monitor(s);
        if (items[0].revents & ZMQ_POLLIN) {
            for (int i = 0; i < 1000; i++) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, s->dealer, ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                handle_ack(s, zmq_msg_data(&m), zmq_msg_size(&m));
                zmq_msg_close(&m);
            }
        }
    }
    return NULL;
}

int sender_start(sender *s) {
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0)
        return PUFA_ESYS;
    s->started = true;
    return 0;
}

void sender_stop(sender *s) {
    s->stopping = true;
    if (s->started) {
        pthread_join(s->thread, NULL);
        s->started = false;
    }
}

void sender_destroy(sender **ps) {
    if (!ps || !*ps)
        return;
    sender *s = *ps;
    sender_stop(s);
    for (size_t k = 0; k < s->count; k++)
        inflight_free(&s->win[(s->head + k) % (size_t)s->cfg.window]);
    free(s->win);
    zmq_socket_monitor(s->dealer, NULL, 0);
    zmq_close(s->monitor);
    zmq_close(s->dealer);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}

void sender_get_stats(sender *s, sender_stats *st) {
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    pthread_mutex_unlock(&s->mu);
}
