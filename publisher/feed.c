#include "feed.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "snapshot.h"
#include "wire.h"

struct pub_feed {
    pub_feed_config cfg;
    pub_live *live;
    pub_model *m;
    void *sub;
    pthread_t thread;
    _Atomic bool stopping;
    bool need_resync;
};

/* Adds one committed transaction's changes to the model. */
static void apply_delta(pub_model *m, const pufa_delta *d) {
    pub_model_wrlock(m);
    for (size_t i = 0; i < d->n_cells; i++) {
        const pufa_cell *c = &d->cells[i];
        pub_model_add(m, c->day, c->county, c->theme, c->venue, c->form, c->unit_code, c->campaign,
                      c->fig);
    }
    for (size_t i = 0; i < d->n_receipts; i++) {
        const pufa_receipt *r = &d->receipts[i];
        pub_model_receipt(m, r->day, r->county, r->unit_code);
    }
    pub_model_set_seq(m, d->seq);
    pub_model_unlock(m);
}

/* Loads a snapshot, retrying with backoff until it succeeds; false when
 * stopped first. */
static bool resync(pub_feed *f) {
    char err[512];
    int backoff = 200;
    while (!f->stopping) {
        pub_snapshot_info info;
        if (pub_snapshot_load(f->cfg.db, f->m, &info, err, sizeof err) == 0) {
            pub_live_snapshot_loaded(f->live, info.seconds);
            return true;
        }
        char q[600];
        PLOG_WARN("PUB-SNAPSHOT-RETRY", "msg=%s retry_ms=%d", pufa_log_quote(q, sizeof q, err),
                  backoff);
        pub_live_snapshot_failed(f->live, err);
        for (int slept = 0; slept < backoff && !f->stopping; slept += 50) {
            struct timespec ts = {0, 50000000L};
            nanosleep(&ts, NULL);
        }
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return false;
}

/* Applies, drops or flags a gap for one decoded message. */
static void sequence(pub_feed *f, const pufa_delta *d, bool is_delta) {
    pub_model_rdlock(f->m);
    uint64_t have = pub_model_seq(f->m);
    pub_model_unlock(f->m);
    if (is_delta) {
        if (d->seq <= have) {
            pub_live_delta_dropped(f->live);
        } else if (d->seq == have + 1) {
            apply_delta(f->m, d);
            pub_live_delta_applied(f->live);
        } else {
            PLOG_WARN("PUB-GAP", "have=%llu got=%llu msg=\"resync from PostgreSQL\"",
                      (unsigned long long)have, (unsigned long long)d->seq);
            f->need_resync = true;
        }
    } else if (d->seq > have) {
        /* A heartbeat announcing a delta we never got. */
        PLOG_WARN("PUB-GAP", "have=%llu heartbeat=%llu msg=\"resync from PostgreSQL\"",
                  (unsigned long long)have, (unsigned long long)d->seq);
        f->need_resync = true;
    }
    if (f->need_resync)
        pub_live_gap(f->live);
}

/* Handles one feed message; false when none was waiting. */
static bool handle_message(pub_feed *f) {
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    if (zmq_msg_recv(&topic, f->sub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&topic);
        return false;
    }
    zmq_msg_init(&body);
    if (!zmq_msg_more(&topic) || zmq_msg_recv(&body, f->sub, 0) < 0) {
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        return true;
    }
    bool is_delta = zmq_msg_size(&topic) == 5 && !memcmp(zmq_msg_data(&topic), "delta", 5);
    pufa_delta d;
    int rc = pufa_delta_decode(zmq_msg_data(&body), zmq_msg_size(&body), &d);
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    if (rc) {
        PLOG_WARN("PUB-FEED-BAD", "msg=\"undecodable feed message ignored\"");
        return true;
    }
    sequence(f, &d, is_delta);
    pufa_delta_free(&d);
    return true;
}

static void *feed_main(void *arg) {
    pub_feed *f = arg;
    /* Subscribed already (in start): now the snapshot. */
    if (!resync(f))
        return NULL;
    while (!f->stopping) {
        zmq_pollitem_t it = {.socket = f->sub, .events = ZMQ_POLLIN};
        int r = zmq_poll(&it, 1, 100);
        if (r < 0 && zmq_errno() != EINTR)
            break;
        for (int i = 0; i < 1000 && !f->need_resync; i++)
            if (!handle_message(f))
                break;
        if (f->need_resync) {
            f->need_resync = false;
            if (!resync(f))
                break;
        }
    }
    return NULL;
}

int pub_feed_open(const pub_feed_config *cfg, void *zctx, pub_live *live, pub_feed **out, char *err,
                  size_t errsize) {
    pub_feed *f = pufa_calloc(1, sizeof *f);
    f->cfg = *cfg;
    f->live = live;
    f->m = pub_live_model(live);
    f->sub = zmq_socket(zctx, ZMQ_SUB);
    int hwm = 1000000, linger = 0;
    zmq_setsockopt(f->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(f->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(f->sub, ZMQ_SUBSCRIBE, "delta", 5);
    zmq_setsockopt(f->sub, ZMQ_SUBSCRIBE, "hb", 2);
    if (zmq_connect(f->sub, cfg->feed) != 0) {
        snprintf(err, errsize, "bad feed endpoint %s: %s", cfg->feed, zmq_strerror(zmq_errno()));
        zmq_close(f->sub);
        free(f);
        return PUFA_ECONFIG;
    }
    if (pthread_create(&f->thread, NULL, feed_main, f) != 0) {
        snprintf(err, errsize, "cannot start the feed thread");
        zmq_close(f->sub);
        free(f);
        return PUFA_ESYS;
    }
    *out = f;
    return 0;
}

void pub_feed_close(pub_feed **pf) {
    if (!pf || !*pf)
        return;
    pub_feed *f = *pf;
    f->stopping = true;
    pthread_join(f->thread, NULL);
    zmq_close(f->sub);
    free(f);
    *pf = NULL;
}
