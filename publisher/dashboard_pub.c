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
#include "pufa.pb-c.h"

struct pub_dashboard_pub {
    pub_dashboard_pub_config cfg;
    pub_live *live;
    void *sock;
    pthread_t thread;
    _Atomic bool stopping;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Everything allocated for one message, freed together. */
typedef struct owned {
    void **p;
    size_t n, cap;
} owned;

static void *own(owned *o, void *p) {
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->p = pufa_realloc(o->p, o->cap * sizeof *o->p);
    }
    o->p[o->n++] = p;
    return p;
}

static void owned_free(owned *o) {
    for (size_t i = 0; i < o->n; i++)
        free(o->p[i]);
    free(o->p);
}

static void fill_figures(Pufa__Figures *g, const int64_t fig[NFIG]) {
    pufa__figures__init(g);
    g->reports = fig[PUB_FIG_REPORTS];
    g->has_reports = 1;
#define FIG_SET_(up, low, label, max)                                                                          \
    g->low = fig[PUB_FIG_COUNTER(PUFA_C_##up)];                                                    \
    g->has_##low = 1;
    PUFA_COUNTER_MAP(FIG_SET_)
#undef FIG_SET_
}

static void set_breakdown(Pufa__DashboardWindow *w, pub_dim dim, Pufa__DashboardRow **rows,
                          size_t n) {
    switch (dim) {
    case DIM_COUNTY:
        w->by_county = rows;
        w->n_by_county = n;
        break;
    case DIM_THEME:
        w->by_theme = rows;
        w->n_by_theme = n;
        break;
    case DIM_VENUE:
        w->by_venue = rows;
        w->n_by_venue = n;
        break;
    case DIM_FORM:
        w->by_form = rows;
        w->n_by_form = n;
        break;
    case DIM_UNIT:
        w->by_unit = rows;
        w->n_by_unit = n;
        break;
    case DIM_CAMPAIGN:
        w->by_campaign = rows;
        w->n_by_campaign = n;
        break;
    default:
        break;
    }
}

/* Fills one window of a Dashboard: totals and a breakdown per dimension
 * (no county breakdown within a county).  rdlock held. */
static void fill_window(pub_model *m, const pub_window *win, const char *county,
                        Pufa__DashboardWindow *w, char from[11], char to[11], owned *o) {
    static const pub_dim dims[] = {DIM_COUNTY, DIM_THEME, DIM_VENUE,
                                   DIM_FORM,   DIM_UNIT,  DIM_CAMPAIGN};
    w->window = (char *)win->name;
    pufa_date_format(win->from, from);
    pufa_date_format(win->to, to);
    w->from_day = from;
    w->to_day = to;
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        if (county && dims[k] == DIM_COUNTY)
            continue;
        pub_row *rows;
        int64_t tot[NFIG];
        size_t n = pub_model_query(m, win->from, win->to, dims[k], county, &rows, tot);
        Pufa__DashboardRow **rp = own(o, pufa_calloc(n ? n : 1, sizeof *rp));
        Pufa__DashboardRow *rv = own(o, pufa_calloc(n ? n : 1, sizeof *rv));
        Pufa__Figures *fv = own(o, pufa_calloc(n ? n : 1, sizeof *fv));
        for (size_t j = 0; j < n; j++) {
            pufa__dashboard_row__init(&rv[j]);
            rv[j].key = (char *)pub_model_key(m, dims[k], rows[j].value);
            rv[j].label = (char *)pub_model_label(m, dims[k], rows[j].value);
            fill_figures(&fv[j], rows[j].fig);
            rv[j].figures = &fv[j];
            rp[j] = &rv[j];
        }
        free(rows);
        if (!w->totals) {
            Pufa__Figures *t = own(o, pufa_calloc(1, sizeof *t));
            fill_figures(t, tot);
            w->totals = t;
        }
        set_breakdown(w, dims[k], rp, n);
    }
}

/* Builds and sends the Dashboard of one scope (NULL = city).  rdlock held. */
static void publish_scope(pub_dashboard_pub *d, pub_model *m, const char *county,
                          pufa_day today) {
    enum { NWIN = 16 };
    Pufa__Dashboard dash = PUFA__DASHBOARD__INIT;
    dash.scope = (char *)(county ? county : "city");
    dash.has_seq = 1;
    dash.seq = pub_model_seq(m);
    dash.has_generated_at_ms = 1;
    dash.generated_at_ms = pufa_now_ms();
    pub_window wins[NWIN];
    Pufa__DashboardWindow dw[NWIN];
    Pufa__DashboardWindow *dwp[NWIN];
    char days[NWIN][2][11];
    owned o = {0};
    dash.windows = dwp;
    for (size_t i = 0; i < pub_n_standard_windows && i < NWIN; i++) {
        if (pub_window_resolve(d->cfg.windows, pub_standard_windows[i], today, &wins[i]))
            continue;
        Pufa__DashboardWindow *w = &dw[dash.n_windows];
        pufa__dashboard_window__init(w);
        fill_window(m, &wins[i], county, w, days[i][0], days[i][1], &o);
        dwp[dash.n_windows++] = w;
    }
    size_t len = pufa__dashboard__get_packed_size(&dash);
    uint8_t *buf = pufa_malloc(len);
    pufa__dashboard__pack(&dash, buf);
    char topic[32];
    snprintf(topic, sizeof topic, county ? "county.%s" : "city", county);
    zmq_send(d->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(d->sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    owned_free(&o);
}

/* The city's Dashboard, then each county's. */
static void publish_all(pub_dashboard_pub *d) {
    pub_model *m = pub_live_model(d->live);
    pufa_day today = pufa_city_day(pufa_now_ms());
    pub_model_rdlock(m);
    publish_scope(d, m, NULL, today);
    size_t n = pub_model_counties(m);
    for (size_t i = 0; i < n; i++) {
        char code[16];
        pufa_copy(code, sizeof code, pub_model_key(m, DIM_COUNTY, (uint32_t)i));
        publish_scope(d, m, code, today);
    }
    pub_model_unlock(m);
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
        if (r == PUB_LIVE_CHANGED)
            dirty = true;
        if (!ready && !(ready = pub_live_ready(d->live)))
            continue;
        now = mono_ms();
        if ((dirty && now - last >= d->cfg.publish_min_ms) ||
            now - last >= d->cfg.heartbeat_ms) {
            publish_all(d);
            last = now;
            dirty = false;
        }
    }
    return NULL;
}

int pub_dashboard_pub_start(const pub_dashboard_pub_config *cfg, void *zctx, pub_live *live,
                            pub_dashboard_pub **out, char *err, size_t errsize) {
    pub_dashboard_pub *d = pufa_calloc(1, sizeof *d);
    d->cfg = *cfg;
    d->live = live;
    d->sock = zmq_socket(zctx, ZMQ_PUB);
    int linger = 0;
    zmq_setsockopt(d->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(d->sock, cfg->endpoint) != 0) {
        snprintf(err, errsize, "cannot bind %s: %s", cfg->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(d->sock);
        free(d);
        return PUFA_EZMQ;
    }
    char endpoint[256];
    size_t len = sizeof endpoint;
    if (zmq_getsockopt(d->sock, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0)
        PLOG_INFO("PUB-PUB", "endpoint=%s", endpoint);
    if (pthread_create(&d->thread, NULL, dashboard_main, d) != 0) {
        snprintf(err, errsize, "cannot start the Dashboard thread");
        zmq_close(d->sock);
        free(d);
        return PUFA_ESYS;
    }
    *out = d;
    return 0;
}

void pub_dashboard_pub_stop(pub_dashboard_pub **pd) {
    if (!pd || !*pd)
        return;
    pub_dashboard_pub *d = *pd;
    d->stopping = true;
    pthread_join(d->thread, NULL);
    zmq_close(d->sock);
    free(d);
    *pd = NULL;
}
