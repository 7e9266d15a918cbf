#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "log.h"
#include "service.h"
#include "utf8.h"
#include "validate.h"
#include "wire.h"

/* The option exists in libzmq 4.3 builds whether or not zmq.h shows it. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

struct ingest {
    ingest_config cfg;
    void *router;
    delta_pub *pub; /* for the heartbeats */
    pipeline *pl;
    agg_stats *stats;
    const pufa_orgunits *orgunits;
    int64_t last_heartbeat_ms;
    int64_t last_bad_log_ms;
    uint64_t bad_since_log;
};

static int zerr(char *err, size_t errsize, const char *what) {
    snprintf(err, errsize, "%s: %s", what, zmq_strerror(zmq_errno()));
    return PUFA_EZMQ;
}

int ingest_open(const ingest_config *cfg, void *zctx, pipeline *pl, delta_pub *pub,
                agg_stats *stats, const pufa_orgunits *orgunits, ingest **out, char *err,
                size_t errsize) {
    ingest *in = pufa_calloc(1, sizeof *in);
    in->cfg = *cfg;
    in->pl = pl;
    in->pub = pub;
    in->stats = stats;
    in->orgunits = orgunits;
    int rc = PUFA_EZMQ;
    in->router = zmq_socket(zctx, ZMQ_ROUTER);
    if (!in->router) {
        rc = zerr(err, errsize, "zmq_socket");
        goto fail;
    }
    int64_t maxmsg = cfg->max_frame;
    /* The kernel's accept queue for the listener: libzmq's default of 100
     * drops the SYNs of thousands of collectors reconnecting at once (after
     * a restart), and each dropped one waits out TCP's 1, 3, 7 s retries.
     * The kernel caps it at net.core.somaxconn. */
    int one = 1, hwm = (int)cfg->hwm, linger = 2000, backlog = 4096;
    /* A full peer is an error we can count, not a silent drop. */
    if (zmq_setsockopt(in->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(in->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) ||
        zmq_setsockopt(in->router, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(in->router, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(in->router, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(in->router, ZMQ_BACKLOG, &backlog, sizeof backlog)) {
        rc = zerr(err, errsize, "zmq_setsockopt");
        goto fail;
    }
    if (cfg->curve_secret) {
        /* CURVE with a ZAP handler that must exist: without one, libzmq
         * would admit anyone who knows the server key. */
        int server = 1, enforce = 1;
        if (zmq_setsockopt(in->router, ZMQ_CURVE_SERVER, &server, sizeof server) ||
            zmq_setsockopt(in->router, ZMQ_CURVE_SECRETKEY, cfg->curve_secret, 40) ||
            zmq_setsockopt(in->router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) ||
            zmq_setsockopt(in->router, ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce)) {
            rc = zerr(err, errsize, "CURVE/ZAP options");
            goto fail;
        }
    }
    if (zmq_bind(in->router, cfg->listen) != 0) {
        snprintf(err, errsize, "cannot bind %s: %s", cfg->listen, zmq_strerror(zmq_errno()));
        goto fail;
    }
    char ep[256];
    size_t len = sizeof ep;
    zmq_getsockopt(in->router, ZMQ_LAST_ENDPOINT, ep, &len);
    PLOG_INFO("AGG-LISTEN", "endpoint=%s", ep);
    *out = in;
    return 0;
fail:
    if (in->router)
        zmq_close(in->router);
    free(in);
    return rc;
}

static void count(ingest *in, uint64_t *field, uint64_t n) {
    pthread_mutex_lock(&in->stats->mu);
    *field += n;
    pthread_mutex_unlock(&in->stats->mu);
}

/* Logs a refused frame at most once a second, with how many were refused. */
static void bad_frame(ingest *in, const char *why, size_t len) {
    in->bad_since_log++;
    int64_t now = pufa_now_ms();
    if (now - in->last_bad_log_ms >= 1000) {
        PLOG_WARN("AGG-FRAME-BAD", "reason=\"%s\" bytes=%zu refused_since_last_log=%llu", why, len,
                  (unsigned long long)in->bad_since_log);
        in->last_bad_log_ms = now;
        in->bad_since_log = 0;
    }
}

static void send_to(ingest *in, const uint8_t *id, size_t idlen, const uint8_t *data, size_t len) {
    if (zmq_send(in->router, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(in->router, data, len, ZMQ_DONTWAIT) < 0) {
        /* Peer gone or its queue full: it resends and gets "duplicate". */
        count(in, &in->stats->acks_dropped, 1);
    }
}

static void send_ack(ingest *in, agg_batch *b) {
    pufa_ack_result *res = pufa_calloc(b->n_reports ? b->n_reports : 1, sizeof *res);
    for (size_t i = 0; i < b->n_reports; i++)
        res[i] = (pufa_ack_result){b->ids[i], b->revisions[i], b->status[i], b->reason[i]};
    size_t len;
    uint8_t *buf = pufa_ack_encode(b->batch_seq, res, b->n_reports, NULL, &len);
    send_to(in, b->identity, b->identity_len, buf, len);
    free(buf);
    free(res);
}

static void send_frame_error(ingest *in, const uint8_t *id, size_t idlen, const char *msg) {
    size_t len;
    uint8_t *buf = pufa_ack_encode(0, NULL, 0, msg, &len);
    send_to(in, id, idlen, buf, len);
    free(buf);
}

/* The period changes a forwarding aggregator sent (ReportBatch.periods):
 * each checked against the sender's bound unit (bound: NULL when the
 * sender is not a key bound to a city or province, then none is taken);
 * a refused one is logged and counted, never applied. */
static void take_periods(ingest *in, const Pufa__ReportBatch *pb, agg_batch *b, const char *bound) {
    size_t refused = 0;
    char why[256] = "";
    if (!pb->has_as_of_seq) {
        refused = pb->n_periods;
        snprintf(why, sizeof why, "as_of_seq: required with periods");
    } else {
        b->periods = pufa_calloc(pb->n_periods, sizeof *b->periods);
        for (size_t i = 0; i < pb->n_periods; i++) {
            char w[256];
            if (periods_check_remote(pb->periods[i], in->orgunits, bound, in->cfg.home,
                                     &b->periods[b->n_periods], w, sizeof w) == 0)
                b->n_periods++;
            else if (refused++ == 0)
                pufa_copy(why, sizeof why, w);
        }
        pufa_copy(b->link_unit, sizeof b->link_unit, bound ? bound : "");
        pufa_copy(b->home, sizeof b->home, in->cfg.home);
        b->link_seq = (int64_t)pb->as_of_seq;
    }
    if (refused) {
        count(in, &in->stats->periods_refused, refused);
        char q[300];
        PLOG_WARN("AGG-PERIOD-REFUSED", "sender=%s key_unit=%s refused=%zu of=%zu first=%s",
                  b->collector_id, bound ? bound : "-", refused, pb->n_periods,
                  pufa_log_quote(q, sizeof q, why));
    }
}

/* Decodes one batch frame and validates every report in it. */
static void handle_batch(ingest *in, const uint8_t *id, size_t idlen, zmq_msg_t *payload) {
    size_t len = zmq_msg_size(payload);
    Pufa__ReportBatch *pb = NULL;
    int rc = pufa_batch_decode(zmq_msg_data(payload), len, &pb);
    if (rc) {
        count(in, rc == PUFA_ETOOBIG ? &in->stats->frames_oversize : &in->stats->frames_malformed,
              1);
        const char *why =
            rc == PUFA_ETOOBIG ? "frame too large or too many reports" : "not a ReportBatch";
        bad_frame(in, why, len);
        send_frame_error(in, id, idlen, why);
        return;
    }
    /* With CURVE, the ZAP handler's user id is the org unit this key is
     * bound to: it may report for the counties under it. */
    const char *county_key = zmq_msg_gets(payload, "User-Id");
    if (county_key && !*county_key)
        county_key = NULL;
    if (in->cfg.curve_secret) {
        /* Re-checked per message: a key removed from the allow-list (and
         * SIGHUP) cannot go on delivering over a connection opened before. */
        const char *key = zmq_msg_gets(payload, "X-Pufa-Key");
        if (!county_key || !zap_allowed(in->cfg.zap, key, county_key)) {
            pufa_batch_destroy(&pb);
            count(in, &in->stats->key_refused, 1);
            bad_frame(in, "key no longer on the allow-list", len);
            send_frame_error(in, id, idlen,
                             "not authorised: this collector's key is not on the allow-list");
            return;
        }
    }

    /* Freshness per sender: only a key binds a sender to a unit. */
    if (in->cfg.links && county_key) {
        const pufa_orgunit *u = pufa_orgunits_find(in->orgunits, county_key);
        links_note(in->cfg.links, pb, county_key, u && strcmp(u->level, "county") != 0,
                   pufa_now_ms());
    }

    agg_batch *b = agg_batch_new(pb->n_reports);
    memcpy(b->identity, id, idlen);
    b->identity_len = idlen;
    b->batch_seq = pb->has_batch_seq ? pb->batch_seq : 0;
    /* Stored with each report: cut on a character boundary and with bytes
     * that are not UTF-8 written as \xNN, or PostgreSQL would refuse the
     * reports for their sender's name. */
    const char *cid = pb->collector_id ? pb->collector_id : "";
    pufa_utf8_escape(b->collector_id, sizeof b->collector_id, cid, strlen(cid));
    pufa_validate_ctx vctx = {.orgunits = in->orgunits, .today = pufa_city_day(pufa_now_ms())};
    size_t rejected = 0, mismatched = 0, outside = 0;
    for (size_t i = 0; i < pb->n_reports; i++) {
        const Pufa__ActivityReport *m = pb->reports[i];
        b->ids[i] = pufa_strdup(m->report_id ? m->report_id : "");
        b->revisions[i] = m->has_revision ? m->revision : 0;
        agg_item *it = &b->items[b->n_items];
        pufa_report_init(&it->report);
        pufa_report_from_pb(m, &it->report);
        pufa_errors errs;
        pufa_errors_init(&errs);
        if (pufa_report_validate(&it->report, &vctx, &errs) != 0) {
            char msg[1024];
            b->status[i] = PUFA__REPORT_STATUS__STATUS_REJECTED;
            b->reason[i] = pufa_strdup(pufa_errors_format(&errs, msg, sizeof msg));
            pufa_report_clear(&it->report);
            rejected++;
            continue;
        }
        const char *county = it->report.county_code;
        if (!pufa_orgunits_is_under(in->orgunits, county, in->cfg.home)) {
            const pufa_orgunit *h = pufa_orgunits_find(in->orgunits, in->cfg.home);
            const pufa_orgunit *c = pufa_orgunits_find(in->orgunits, county);
            b->status[i] = PUFA__REPORT_STATUS__STATUS_REJECTED;
            b->reason[i] =
                pufa_asprintf("county_code: county %s %s is not under this aggregator's home %s %s",
                              county, c ? c->name : "", in->cfg.home, h ? h->name : "");
            PLOG_WARN("AGG-OUTSIDE-HOME", "home=%s report_county=%s report_id=%s", in->cfg.home,
                      county, it->report.report_id);
            pufa_report_clear(&it->report);
            rejected++;
            outside++;
            continue;
        }
        if (county_key && !pufa_orgunits_is_under(in->orgunits, county, county_key)) {
            const pufa_orgunit *k = pufa_orgunits_find(in->orgunits, county_key);
            b->status[i] = PUFA__REPORT_STATUS__STATUS_REJECTED;
            if (!k || !strcmp(k->level, "county"))
                b->reason[i] = pufa_asprintf(
                    "county_code: this collector's key may only report for county %s (got %s)",
                    county_key, county);
            else
                b->reason[i] = pufa_asprintf(
                    "county_code: this key may only report for the counties under %s %s %s "
                    "(got %s)",
                    k->level, k->code, k->name, county);
            PLOG_WARN("AGG-COUNTY-MISMATCH", "key_unit=%s report_county=%s report_id=%s",
                      county_key, county, it->report.report_id);
            pufa_report_clear(&it->report);
            rejected++;
            mismatched++;
            continue;
        }
        it->collector_id = b->collector_id;
        it->slot = (uint32_t)i;
        b->n_items++;
    }
    bool forwarder = false;
    if (county_key) {
        const pufa_orgunit *u = pufa_orgunits_find(in->orgunits, county_key);
        forwarder = u && strcmp(u->level, "county") != 0;
    }
    for (size_t i = 0; i < b->n_items; i++)
        b->items[i].from_link = forwarder;
    if (pb->n_periods)
        take_periods(in, pb, b, forwarder ? county_key : NULL);
    pufa_batch_destroy(&pb);
    pthread_mutex_lock(&in->stats->mu);
    in->stats->batches++;
    in->stats->reports[PUFA__REPORT_STATUS__STATUS_REJECTED] += rejected;
    in->stats->county_mismatch += mismatched;
    in->stats->outside_home += outside;
    pthread_mutex_unlock(&in->stats->mu);
    if (b->n_items == 0 && b->n_periods == 0) {
        send_ack(in, b); /* nothing to write: answer now */
        agg_batch_destroy(&b);
        return;
    }
    pipeline_submit(in->pl, b);
}

/* Reads one multipart message: [identity][optional empty][payload]. */
static bool recv_one(ingest *in) {
    zmq_msg_t parts[4];
    int n = 0;
    bool more = true;
    bool got_any = false;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, in->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        got_any = true;
        more = zmq_msg_more(&m);
        if (n < 4)
            parts[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (!got_any)
        return false;
    if (n >= 2 && n <= 3 && (n == 2 || zmq_msg_size(&parts[1]) == 0) &&
        zmq_msg_size(&parts[0]) <= 255) {
        handle_batch(in, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), &parts[n - 1]);
    } else {
        count(in, &in->stats->frames_malformed, 1);
        bad_frame(in, "unexpected message shape (want one ReportBatch frame)",
                  n ? zmq_msg_size(&parts[n - 1]) : 0);
        if (n >= 1 && zmq_msg_size(&parts[0]) <= 255)
            send_frame_error(in, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]),
                             "unexpected message shape (want one ReportBatch frame)");
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
    return true;
}

static void deliver_done(ingest *in) {
    agg_batch *batches;
    pipeline_take_done(in->pl, &batches);
    for (agg_batch *b = batches, *next; b; b = next) {
        next = b->next;
        send_ack(in, b);
        agg_batch_destroy(&b);
    }
}

int ingest_run(ingest *in, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload) {
    while (!*stop) {
        pufa_service_watchdog();
        if (in->cfg.zap && !zap_alive(in->cfg.zap))
            return PUFA_EAUTH;
        if (*reload) {
            *reload = 0;
            char err[300];
            if (!in->cfg.zap)
                PLOG_INFO("AGG-RELOAD", "msg=\"SIGHUP: no allow-list to reload (insecure)\"");
            else if (zap_reload(in->cfg.zap, err, sizeof err) == 0)
                PLOG_INFO("AGG-RELOAD", "keys=%zu feed_keys=%zu", zap_keys(in->cfg.zap),
                          zap_domain_keys(in->cfg.zap, ZAP_DOMAIN_FEED));
            else
                PLOG_ERROR("AGG-RELOAD", "msg=\"%s; the previous list stays\"", err);
            if (in->cfg.zap)
                delta_pub_revoke(in->pub);
        }
        bool full = pipeline_full(in->pl);
        pthread_mutex_lock(&in->stats->mu);
        in->stats->receiving = !full;
        pthread_mutex_unlock(&in->stats->mu);
        zmq_pollitem_t items[2] = {
            {.socket = in->router, .events = full ? 0 : ZMQ_POLLIN},
            {.fd = pipeline_notify_fd(in->pl), .events = ZMQ_POLLIN},
        };
        int r = zmq_poll(items, 2, 200);
        if (r < 0 && zmq_errno() != EINTR) {
            PLOG_ERROR("AGG-POLL", "msg=\"%s\"", zmq_strerror(zmq_errno()));
            break;
        }
        if (r > 0 && (items[0].revents & ZMQ_POLLIN)) {
            /* Drain (bounded), so one busy peer cannot starve the acks. */
            for (int i = 0; i < 1000 && !pipeline_full(in->pl); i++)
                if (!recv_one(in))
                    break;
        }
        deliver_done(in);
        int64_t now = pufa_now_ms();
        if (now - in->last_heartbeat_ms >= in->cfg.heartbeat_ms) {
            delta_pub_heartbeat(in->pub);
            in->last_heartbeat_ms = now;
        }
    }
    return 0;
}

void ingest_flush(ingest *in) {
    deliver_done(in);
    delta_pub_heartbeat(in->pub);
}

void ingest_close(ingest **pin) {
    if (!pin || !*pin)
        return;
    ingest *in = *pin;
    zmq_close(in->router);
    free(in);
    *pin = NULL;
}
