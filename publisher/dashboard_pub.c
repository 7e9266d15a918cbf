#include "dashboard_pub.h"

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
#include "wire.h"
#include "zmqauth.h"

struct pub_dashboard_pub {
    pub_dashboard_pub_config cfg;
    pub_live *live;
    void *sock;
    char bound[256];      /* the endpoint, port resolved (for rebinding) */
    uint64_t revocations; /* zap_revocations() at the last bind */
    pthread_t thread;
    _Atomic bool stopping;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The breakdown of each dimension in a Dashboard window, in field order. */
static const pub_dim BY_DIM[PUFA_NBY] = {
    [PUFA_BY_COUNTY] = DIM_COUNTY, [PUFA_BY_THEME] = DIM_THEME, [PUFA_BY_VENUE] = DIM_VENUE,
    [PUFA_BY_FORM] = DIM_FORM,     [PUFA_BY_UNIT] = DIM_UNIT,   [PUFA_BY_CAMPAIGN] = DIM_CAMPAIGN};

/* Fills one window of a Dashboard: totals and a breakdown per dimension
 * (no county breakdown within a county).  The rows are allocated into
 * rows[k] (the caller frees); keys and labels are the model's (rdlock
 * held until encoded). */
static void fill_window(pub_model *m, const pub_window *win, const pub_scope *county,
                        pufa_dash_window *w, pufa_dash_row *rows[PUFA_NBY]) {
    *w = (pufa_dash_window){.window = win->name, .from = win->from, .to = win->to};
    for (int k = 0; k < PUFA_NBY; k++) {
        rows[k] = NULL;
        if (county && BY_DIM[k] == DIM_COUNTY)
            continue;
        pub_row *r;
        int64_t tot[NFIG];
        size_t n = pub_model_query(m, win->from, win->to, BY_DIM[k], county, &r, tot);
        rows[k] = pufa_calloc(n ? n : 1, sizeof *rows[k]);
        for (size_t j = 0; j < n; j++) {
            rows[k][j].key = pub_model_key(m, BY_DIM[k], r[j].value);
            rows[k][j].label = pub_model_label(m, BY_DIM[k], r[j].value);
            memcpy(rows[k][j].fig, r[j].fig, sizeof rows[k][j].fig);
        }
        free(r);
        w->by[k] = rows[k];
        w->n_by[k] = n;
        if (!w->has_totals) {
            memcpy(w->totals, tot, sizeof w->totals);
            w->has_totals = true;
        }
    }
}

/* Builds and sends the Dashboard of one scope (county NULL: the home, topic
 * "city"; else the county of code county_code).  rdlock held. */
static void publish_scope(pub_dashboard_pub *d, pub_model *m, const pub_scope *county,
                          const char *county_code, pufa_day today) {
    enum { NWIN = 16 };
    pub_window wins[NWIN];
    pufa_dash_window dw[NWIN];
    pufa_dash_row *rows[NWIN][PUFA_NBY];
    pufa_dashboard dash = {.scope = county ? county_code : "city",
                           .seq = pub_model_seq(m),
                           .generated_at_ms = pufa_now_ms(),
                           .windows = dw};
    for (size_t i = 0; i < pub_n_standard_windows && i < NWIN; i++) {
        if (pub_window_resolve(d->cfg.windows, pub_standard_windows[i], today, &wins[i]))
            continue;
        fill_window(m, &wins[i], county, &dw[dash.n_windows], rows[dash.n_windows]);
        dash.n_windows++;
    }
    size_t len;
    uint8_t *buf = pufa_dashboard_encode(&dash, &len);
    char topic[32];
    if (county)
        snprintf(topic, sizeof topic, "county.%s", county_code);
    else
        snprintf(topic, sizeof topic, "city");
    zmq_send(d->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(d->sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    for (size_t i = 0; i < dash.n_windows; i++)
        for (int k = 0; k < PUFA_NBY; k++)
            free(rows[i][k]);
}

/* The home's Dashboard (topic "city"), then each of its counties'. */
static void publish_all(pub_dashboard_pub *d) {
    pub_model *m = pub_live_model(d->live);
    pufa_day today = pufa_city_day(pufa_now_ms());
    pub_model_rdlock(m);
    publish_scope(d, m, NULL, NULL, today);
    size_t n = pub_model_counties(m);
    for (size_t i = 0; i < n; i++) {
        char code[16];
        pub_scope county;
        pufa_copy(code, sizeof code, pub_model_key(m, DIM_COUNTY, (uint32_t)i));
        /* Under the home, and named by the org units. */
        if (!pub_model_county_in(m, NULL, (uint32_t)i) || pub_model_scope(m, code, &county) != 0)
            continue;
        publish_scope(d, m, &county, code, today);
    }
    pub_model_unlock(m);
}

/* A subscriber key was dropped (SIGHUP): every subscriber handshakes again. */
static void check_revoked(pub_dashboard_pub *d) {
    if (!d->cfg.zap)
        return;
    uint64_t n = zap_revocations(d->cfg.zap, ZAP_DOMAIN_FEED);
    if (n == d->revocations)
        return;
    d->revocations = n;
    char err[300];
    if (pufa_zmq_rebind(d->sock, d->bound, err, sizeof err) == 0)
        PLOG_INFO("PUB-PUB-REBIND",
                  "endpoint=%s msg=\"a subscriber key was removed: every "
                  "subscriber handshakes again\"",
                  d->bound);
    else
        PLOG_ERROR("PUB-PUB-REBIND", "endpoint=%s msg=\"%s\"", d->bound, err);
}

static void *dashboard_main(void *arg) {
    pub_dashboard_pub *d = arg;
    const int64_t slice_ms = 100; /* how soon a stop is seen */
    uint64_t version = 0;
    int64_t last = 0;
    bool dirty = false, ready = false;
    while (!d->stopping) {
        int64_t now = mono_ms(), wait;
        if (!ready)
            wait = slice_ms;
        else if (dirty)
            wait = last + d->cfg.publish_min_ms - now;
        else
            wait = last + d->cfg.heartbeat_ms - now;
        wait = wait < 0 ? 0 : wait > slice_ms ? slice_ms : wait;
        /* While dirty only the clock matters: the publication to come
         * carries every change made meanwhile. */
        pub_live_wait_result r = pub_live_wait(d->live, dirty ? NULL : &version, wait, NULL);
        if (r == PUB_LIVE_STOPPED)
            break;
        check_revoked(d);
        if (r == PUB_LIVE_CHANGED)
            dirty = true;
        if (!ready && !(ready = pub_live_ready(d->live)))
            continue;
        now = mono_ms();
        if ((dirty && now - last >= d->cfg.publish_min_ms) || now - last >= d->cfg.heartbeat_ms) {
            publish_all(d);
            last = now;
            dirty = false;
        }
    }
    return NULL;
}

int pub_dashboard_pub_open(const pub_dashboard_pub_config *cfg, void *zctx, pub_live *live,
                           pub_dashboard_pub **out, char *err, size_t errsize) {
    pub_dashboard_pub *d = pufa_calloc(1, sizeof *d);
    d->cfg = *cfg;
    d->live = live;
    d->sock = zmq_socket(zctx, ZMQ_PUB);
    int linger = 0;
    zmq_setsockopt(d->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (cfg->curve_secret &&
        pufa_zmq_curve_server(d->sock, cfg->curve_secret, ZAP_DOMAIN_FEED, err, errsize)) {
        zmq_close(d->sock);
        free(d);
        return PUFA_EZMQ;
    }
    if (zmq_bind(d->sock, cfg->endpoint) != 0) {
        snprintf(err, errsize, "cannot bind %s: %s", cfg->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(d->sock);
        free(d);
        return PUFA_EZMQ;
    }
    size_t len = sizeof d->bound;
    if (zmq_getsockopt(d->sock, ZMQ_LAST_ENDPOINT, d->bound, &len) == 0)
        PLOG_INFO("PUB-PUB", "endpoint=%s curve=%s", d->bound,
                  cfg->curve_secret ? "true" : "false");
    if (cfg->zap)
        d->revocations = zap_revocations(cfg->zap, ZAP_DOMAIN_FEED);
    if (pthread_create(&d->thread, NULL, dashboard_main, d) != 0) {
        snprintf(err, errsize, "cannot start the Dashboard thread");
        zmq_close(d->sock);
        free(d);
        return PUFA_ESYS;
    }
    *out = d;
    return 0;
}

void pub_dashboard_pub_close(pub_dashboard_pub **pd) {
    if (!pd || !*pd)
        return;
    pub_dashboard_pub *d = *pd;
    d->stopping = true;
    pthread_join(d->thread, NULL);
    zmq_close(d->sock);
    free(d);
    *pd = NULL;
}
