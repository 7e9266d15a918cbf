#include "feed.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "enums.h"
#include "error.h"
#include "log.h"
#include "orgunits.h"
#include "pg.h"
#include "pufa.pb-c.h"
#include "snapshot.h"
#include "wire.h"
#include "zmqauth.h"

struct pub_feed {
    pub_feed_config cfg;
    pub_live *live;
    pub_model *m;
    void *sub;
    pthread_t thread;
    _Atomic bool stopping;
    bool need_resync;
    int64_t behind_checked_ms; /* the last PUB_FEED_BEHIND check of feed_state */
    bool whole;                /* the model holds a whole snapshot plus the deltas since */
};

#define FEED_DAYS_AHEAD 7
#define FEED_COUNTY_MAX 15 /* bytes; what the Dashboard topics' buffers hold */
/* bytes: a report's township is at most PUFA_NAME_MAX_CHARS characters */
#define FEED_TOWNSHIP_MAX (4 * PUFA_NAME_MAX_CHARS)

/* Checks a day of a delta: a date from PUFA_MIN_YEAR to a week past today. */
static bool delta_day(const char *text, pufa_day today) {
    pufa_day day;
    return text && !pufa_date_parse(text, &day) && day >= pufa_date_from_ymd(PUFA_MIN_YEAR, 1, 1) &&
           day <= today + FEED_DAYS_AHEAD;
}

static bool delta_county(const char *code) {
    return code && *code && strlen(code) <= FEED_COUNTY_MAX;
}

static bool delta_unit(const char *code) {
    return !code || strlen(code) <= PUFA_UNIT_CODE_MAX;
}

/* The first field of rollup r the model cannot take as it is, or NULL.
 * (On the message itself: the decoder leaves such rollups out, and casts
 * the enumerations to 16 bits.) */
static const char *rollup_fault(const Pufa__RollupDelta *r, pufa_day today) {
    if (!delta_day(r->day, today))
        return "day";
    if (!delta_county(r->county_code))
        return "county_code";
    if ((unsigned)r->theme > PUFA_THEME_MAX)
        return "theme";
    if ((unsigned)r->venue > PUFA_VENUE_MAX)
        return "venue";
    if ((unsigned)r->form > PUFA_FORM_MAX)
        return "form";
    if (!delta_unit(r->unit_code))
        return "unit_code";
    if (r->township && strlen(r->township) > FEED_TOWNSHIP_MAX)
        return "township";
    if (!r->delta)
        return "delta";
    int64_t fig[NFIG];
    pufa_figures_from_pb(r->delta, fig);
    for (int k = 0; k < NFIG; k++)
        if (fig[k] == INT64_MIN) /* no cell change is that, and it could not be undone */
            return "delta";
    return NULL;
}

static const char *receipt_fault(const Pufa__Receipt *r, pufa_day today) {
    if (!delta_day(r->day, today))
        return "day";
    if (!delta_county(r->county_code))
        return "county_code";
    if (!delta_unit(r->unit_code))
        return "unit_code";
    if (r->month && !pufa_month_parse(r->month))
        return "month";
    return NULL;
}

#define FEED_OFFICE_MAX 64 /* bytes: offices.name */
/* bytes: the aggregator takes 500 characters (under 2 KiB) and a cascade
 * prefixes what reopened it; twice that leaves room. */
#define FEED_REASON_MAX 4096

/* A decoded period (pufa_period_from_pb checked its org, month and state
 * shape) that the store can take: a six-digit code, bounded strings. */
static const char *period_fault(const pufa_period *p) {
    if (!pufa_orgunit_code_valid(p->org_code))
        return "org_code";
    if (p->set_by && strlen(p->set_by) > FEED_OFFICE_MAX)
        return "set_by";
    if (p->reason && strlen(p->reason) > FEED_REASON_MAX)
        return "reason";
    return NULL;
}

/* Every rollup and receipt of d well formed (so none was left out by the
 * decoder)?  Else why names the first that is not. */
static bool delta_valid(const pufa_delta *d, pufa_day today, char *why, size_t whysize) {
    const Pufa__CommitDelta *m = d->msg;
    const char *bad;
    for (size_t i = 0; i < m->n_rollups; i++)
        if ((bad = rollup_fault(m->rollups[i], today))) {
            snprintf(why, whysize, "rollups[%zu].%s: missing or out of range", i, bad);
            return false;
        }
    for (size_t i = 0; i < m->n_receipts; i++)
        if ((bad = receipt_fault(m->receipts[i], today))) {
            snprintf(why, whysize, "receipts[%zu].%s: missing or out of range", i, bad);
            return false;
        }
    if (d->n_periods != m->n_periods) {
        snprintf(why, whysize, "periods: %zu of %zu malformed (org_code, month or state)",
                 m->n_periods - d->n_periods, m->n_periods);
        return false;
    }
    for (size_t i = 0; i < d->n_periods; i++)
        if ((bad = period_fault(&d->periods[i]))) {
            snprintf(why, whysize, "periods[%zu].%s: missing or out of range", i, bad);
            return false;
        }
    return d->skipped == 0;
}

pub_feed_verdict pub_feed_apply(pub_live *l, const void *topic, size_t topic_len, const void *body,
                                size_t body_len, pufa_day today, uint64_t *seq, char *why,
                                size_t whysize) {
    *seq = 0;
    snprintf(why, whysize, "undecodable");
    bool is_delta = topic_len == 5 && !memcmp(topic, "delta", 5);
    pufa_delta d;
    if (pufa_delta_decode(body, body_len, &d) != 0)
        return PUB_FEED_UNDECODABLE;
    *seq = d.seq;
    why[0] = '\0';
    uint64_t have = pub_live_seq(l);
    pub_feed_verdict v;
    if (!is_delta)
        v = d.seq > have ? PUB_FEED_GAP : d.seq < have ? PUB_FEED_BEHIND : PUB_FEED_HEARTBEAT;
    else if (d.seq <= have)
        v = PUB_FEED_DROPPED;
    else if (d.seq != have + 1)
        v = PUB_FEED_GAP;
    else if (!delta_valid(&d, today, why, whysize) || pub_live_apply(l, &d, why, whysize) != 0)
        v = PUB_FEED_REFUSED;
    else
        v = PUB_FEED_APPLIED;
    pufa_delta_free(&d);
    return v;
}

/* Loads a snapshot, retrying with backoff until it succeeds; false when
 * stopped first. */
static bool resync(pub_feed *f) {
    char err[512];
    int backoff = 200;
    while (!f->stopping) {
        pub_snapshot_info info;
        pub_snapshot_opts o = {.model_file = f->cfg.model_file, .incremental = f->whole};
        if (pub_snapshot_load(f->cfg.db, &o, f->m, pub_live_firsts(f->live), &info, err,
                              sizeof err) == 0) {
            f->whole = true;
            pub_live_snapshot_loaded(f->live, info.seconds);
            /* After a full load or a long catch-up, the next start reads
             * the file instead (written after the model is served). */
            bool full = !info.caught_up;
            if (o.model_file && o.model_file[0] && (full || info.changed > 10000))
                pub_snapshot_save(o.model_file, f->m);
            return true;
        }
        if (info.model_cleared)
            f->whole = false;
        char q[600];
        PLOG_WARN("PUB-SNAPSHOT-RETRY", "msg=%s retry_ms=%d", pufa_log_quote(q, sizeof q, err),
                  backoff);
        pub_live_snapshot_failed(f->live, err, info.model_cleared);
        for (int slept = 0; slept < backoff && !f->stopping; slept += 50) {
            struct timespec ts = {0, 50000000L};
            nanosleep(&ts, NULL);
        }
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return false;
}

/* A heartbeat said seq, below ours (have).  A heartbeat sent before our
 * snapshot was taken can arrive after it; but if PostgreSQL's own feed
 * sequence is below ours too, the aggregator's database went back (restored
 * from a backup): deltas would be dropped as old until the sequence passed
 * ours and then applied over totals that still hold the lost commits.  Then
 * the model is reloaded.  At most one check every 5 s. */
static void check_behind(pub_feed *f, uint64_t have, uint64_t seq) {
    int64_t now = pufa_now_ms();
    if (now - f->behind_checked_ms < 5000)
        return;
    f->behind_checked_ms = now;
    char err[256], q[300];
    PGconn *c = NULL;
    if (pufa_pg_connect(f->cfg.db, &c, err, sizeof err)) {
        PLOG_WARN("PUB-FEED-BEHIND", "have=%llu heartbeat=%llu msg=%s", (unsigned long long)have,
                  (unsigned long long)seq, pufa_log_quote(q, sizeof q, err));
        return;
    }
    PGresult *r = PQexec(c, "SELECT seq FROM feed_state");
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "feed_state", err, sizeof err) || PQntuples(r) != 1) {
        PLOG_WARN("PUB-FEED-BEHIND", "have=%llu heartbeat=%llu msg=%s", (unsigned long long)have,
                  (unsigned long long)seq, pufa_log_quote(q, sizeof q, err));
    } else {
        unsigned long long db_seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        if (db_seq < have) {
            PLOG_WARN("PUB-FEED-REWOUND",
                      "have=%llu heartbeat=%llu database=%llu msg=\"the aggregator's database "
                      "is behind this publisher (restored?): reload from PostgreSQL\"",
                      (unsigned long long)have, (unsigned long long)seq, db_seq);
            f->need_resync = true;
            f->whole = false; /* a full load: no catch-up over lost commits, */
            if (f->cfg.model_file && f->cfg.model_file[0])
                unlink(f->cfg.model_file); /* nor from a file that may hold them */
        }
    }
    PQclear(r);
    PQfinish(c);
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
    uint64_t have = pub_live_seq(f->live);
    bool is_delta = zmq_msg_size(&topic) == 5 && !memcmp(zmq_msg_data(&topic), "delta", 5);
    uint64_t seq;
    char why[160], q[200];
    pub_feed_verdict v =
        pub_feed_apply(f->live, zmq_msg_data(&topic), zmq_msg_size(&topic), zmq_msg_data(&body),
                       zmq_msg_size(&body), pufa_city_day(pufa_now_ms()), &seq, why, sizeof why);
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    switch (v) {
    case PUB_FEED_UNDECODABLE:
        PLOG_WARN("PUB-FEED-BAD", "msg=\"undecodable feed message ignored\"");
        break;
    case PUB_FEED_HEARTBEAT:
        break;
    case PUB_FEED_BEHIND:
        check_behind(f, have, seq);
        break;
    case PUB_FEED_DROPPED:
        pub_live_delta_dropped(f->live);
        break;
    case PUB_FEED_APPLIED: /* the live state has it, and a new event */
        break;
    case PUB_FEED_GAP:
        /* A delta past the next, or a heartbeat announcing one we never got. */
        PLOG_WARN("PUB-GAP", "have=%llu %s=%llu msg=\"resync from PostgreSQL\"",
                  (unsigned long long)have, is_delta ? "got" : "heartbeat",
                  (unsigned long long)seq);
        f->need_resync = true;
        break;
    case PUB_FEED_REFUSED:
        /* Its figures are in PostgreSQL: take them from there. */
        PLOG_ERROR("PUB-FEED-REFUSED",
                   "seq=%llu why=%s msg=\"delta not applied; resync from "
                   "PostgreSQL\"",
                   (unsigned long long)seq, pufa_log_quote(q, sizeof q, why));
        f->need_resync = true;
        break;
    }
    if (f->need_resync)
        pub_live_gap(f->live);
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
    if (cfg->server_public && pufa_zmq_curve_client(f->sub, cfg->server_public, cfg->public_key,
                                                    cfg->secret, err, errsize)) {
        zmq_close(f->sub);
        free(f);
        return PUFA_EZMQ;
    }
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
    /* A clean stop leaves the model file at the last seq: the next start
     * catches up only from there. */
    if (f->whole && f->cfg.model_file && f->cfg.model_file[0])
        pub_snapshot_save(f->cfg.model_file, f->m);
    zmq_close(f->sub);
    free(f);
    *pf = NULL;
}
