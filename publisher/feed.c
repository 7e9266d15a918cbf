#include "feed.h"

#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "pg.h"
#include "pufa.pb-c.h"

struct pub_feed {
    pub_feed_config cfg;
    pub_model *m;
    pub_stats *st;
    void *sub, *pub;
    char pub_endpoint[256];
    pthread_t thread;
    _Atomic bool stopping;
    bool need_resync;
    int64_t last_publish_ms, last_heartbeat_ms;
    bool dirty;
};

static const char *const FIGS =
    "reports, sessions, participants, materials, consultations, banners, led_messages,"
    " online_posts, online_views, volunteers, funds_fen";

static void row_figs(const PGresult *r, int row, int col, int64_t fig[NFIG]) {
    for (int k = 0; k < NFIG; k++)
        fig[k] = atoll(PQgetvalue(r, row, col + k));
}

/* A rollup_dim row: day, county, dim, key, figures.  0, or -1 if unknown. */
static int dim_row(pub_feed *f, const PGresult *r, int i) {
    int dim = pub_dim_parse(PQgetvalue(r, i, 2));
    if (dim < 0 || dim >= NDIM)
        return -1;
    int64_t fig[NFIG];
    row_figs(r, i, 4, fig);
    return pub_model_add_dim(f->m, atoi(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1),
                             (pub_dim)dim, PQgetvalue(r, i, 3), fig);
}

/* A rollup_journal row: day, county, theme, venue, form, unit, campaign,
 * figures. */
static int journal_row(pub_feed *f, const PGresult *r, int i) {
    int64_t fig[NFIG];
    row_figs(r, i, 7, fig);
    pub_model_add(f->m, atoi(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1),
                  atoi(PQgetvalue(r, i, 2)), atoi(PQgetvalue(r, i, 3)), atoi(PQgetvalue(r, i, 4)),
                  PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), fig);
    return 0;
}

/* Declares a cursor (declare_sql) and feeds every row to fn, a slice at a
 * time, so memory stays bounded however many rows there are.  *rows counts
 * them, *bad those fn refused. */
static int fetch_all(PGconn *c, const char *declare_sql, const char *cursor,
                     int (*fn)(pub_feed *, const PGresult *, int), pub_feed *f, long long *rows,
                     long long *bad, char *err, size_t errsize) {
    int rc = pufa_pg_exec(c, declare_sql, err, errsize);
    if (rc)
        return rc;
    char fetch[64];
    snprintf(fetch, sizeof fetch, "FETCH 20000 FROM %s", cursor);
    for (;;) {
        PGresult *r = PQexec(c, fetch);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            pufa_pg_errcopy(err, errsize, "snapshot: ", PQresultErrorMessage(r));
            PQclear(r);
            return PUFA_EDB;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n; i++)
            if (fn(f, r, i))
                (*bad)++;
        *rows += n;
        PQclear(r);
        if (n == 0)
            return 0;
    }
}

/* Loads everything from PostgreSQL into the model (wrlock taken here). */
static int snapshot(pub_feed *f, char *err, size_t errsize) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    PGconn *c = NULL;
    int rc = pufa_pg_connect(f->cfg.db, &c, err, errsize);
    if (rc)
        return rc;
    PGresult *seq = NULL, *seen = NULL, *ou = NULL, *units = NULL;
    if ((rc = pufa_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errsize)))
        goto out;
    seq = PQexec(c, "SELECT seq FROM feed_state");
    seen = PQexec(c, "SELECT max(day) - DATE '1970-01-01', county_code, unit_code"
                     " FROM receipt_daily GROUP BY county_code, unit_code");
    ou = PQexec(c, "SELECT code, name FROM org_units WHERE level = 'county' ORDER BY code");
    units = PQexec(c, "SELECT unit_code, unit_name FROM units ORDER BY unit_code");
    PGresult *all[] = {seq, seen, ou, units};
    for (int i = 0; i < 4; i++) {
        if (PQresultStatus(all[i]) != PGRES_TUPLES_OK) {
            pufa_pg_errcopy(err, errsize, "snapshot: ", PQresultErrorMessage(all[i]));
            rc = PUFA_EDB;
            goto out;
        }
    }
    pub_model_wrlock(f->m);
    pub_model_clear(f->m);
    for (int i = 0; i < PQntuples(ou); i++)
        pub_model_set_county_name(f->m, PQgetvalue(ou, i, 0), PQgetvalue(ou, i, 1));
    for (int i = 0; i < PQntuples(units); i++)
        pub_model_set_unit_name(f->m, PQgetvalue(units, i, 0), PQgetvalue(units, i, 1));
    /* The totals per dimension (bounded by days x counties x dimension
     * values), then the journal rows not yet folded into them (bounded by
     * the aggregator's compaction threshold): the snapshot's size does not
     * grow with the number of reports. */
    char *sql = pufa_asprintf("DECLARE dims NO SCROLL CURSOR FOR SELECT day - DATE '1970-01-01',"
                              " county_code, dim, key, %s FROM rollup_dim",
                              FIGS);
    long long ndims = 0, njournal = 0, nbad = 0;
    rc = fetch_all(c, sql, "dims", dim_row, f, &ndims, &nbad, err, errsize);
    free(sql);
    if (rc == 0) {
        sql = pufa_asprintf("DECLARE journal NO SCROLL CURSOR FOR SELECT day - DATE '1970-01-01',"
                            " county_code, theme, venue, form, unit_code, campaign, %s"
                            " FROM rollup_journal",
                            FIGS);
        rc = fetch_all(c, sql, "journal", journal_row, f, &njournal, &nbad, err, errsize);
        free(sql);
    }
    long long ncells = ndims + njournal;
    if (rc) {
        pub_model_unlock(f->m);
        goto out;
    }
    for (int i = 0; i < PQntuples(seen); i++)
        pub_model_receipt(f->m, atoi(PQgetvalue(seen, i, 0)), PQgetvalue(seen, i, 1),
                          PQgetvalue(seen, i, 2));
    pufa_pg_exec(c, "COMMIT", err, errsize);
    uint64_t s = (uint64_t)atoll(PQgetvalue(seq, 0, 0));
    pub_model_set_seq(f->m, s);
    pub_model_unlock(f->m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    PLOG_INFO("PUB-SNAPSHOT", "seq=%llu cells=%lld dim_rows=%lld journal_rows=%lld seconds=%.3f",
              (unsigned long long)s, ncells, ndims, njournal, secs);
    if (nbad)
        PLOG_WARN("PUB-SNAPSHOT-SKIPPED", "rows=%lld msg=\"rollup rows with an unknown "
                  "dimension or key were left out\"", nbad);
    pthread_mutex_lock(&f->st->mu);
    f->st->last_snapshot_seconds = secs;
    pthread_mutex_unlock(&f->st->mu);
out:
    PQclear(seq);
    PQclear(seen);
    PQclear(ou);
    PQclear(units);
    PQfinish(c);
    return rc;
}

static void apply_delta(pub_feed *f, const Pufa__CommitDelta *d) {
    pub_model_wrlock(f->m);
    for (size_t i = 0; i < d->n_rollups; i++) {
        const Pufa__RollupDelta *r = d->rollups[i];
        pufa_day day;
        if (!r->day || pufa_date_parse(r->day, &day) || !r->county_code || !r->delta)
            continue;
        const Pufa__Figures *g = r->delta;
        int64_t fig[NFIG] = {g->reports,      g->sessions,     g->participants, g->materials,
                             g->consultations, g->banners,      g->led_messages, g->online_posts,
                             g->online_views, g->volunteers,   g->funds_fen};
        pub_model_add(f->m, day, r->county_code, (int)r->theme, (int)r->venue, (int)r->form,
                      r->unit_code ? r->unit_code : "", r->campaign ? r->campaign : "", fig);
    }
    for (size_t i = 0; i < d->n_receipts; i++) {
        const Pufa__Receipt *r = d->receipts[i];
        pufa_day day;
        if (r->day && !pufa_date_parse(r->day, &day) && r->county_code)
            pub_model_receipt(f->m, day, r->county_code, r->unit_code ? r->unit_code : "");
    }
    pub_model_set_seq(f->m, d->seq);
    pub_model_unlock(f->m);
}

char *pub_event_json(pub_model *m, const pub_windows *w) {
    json_t *o = json_object();
    json_t *wins = json_object();
    pufa_day today = pufa_city_day(pufa_now_ms());
    pub_model_rdlock(m);
    json_object_set_new(o, "seq", json_integer((json_int_t)pub_model_seq(m)));
    for (size_t i = 0; i < pub_n_standard_windows; i++) {
        pub_window win;
        if (pub_window_resolve(w, pub_standard_windows[i], today, &win))
            continue;
        pub_row *rows;
        int64_t tot[NFIG];
        size_t n = pub_model_query(m, win.from, win.to, DIM_TOTAL, NULL, &rows, tot);
        (void)n;
        free(rows);
        json_t *t = json_object();
        static const char *const names[NFIG] = {"reports", "sessions", "participants",
                                                "materials", "consultations", "banners",
                                                "led_messages", "online_posts", "online_views",
                                                "volunteers", "funds_fen"};
        for (int k = 0; k < NFIG; k++)
            json_object_set_new(t, names[k], json_integer(tot[k]));
        json_object_set_new(wins, pub_standard_windows[i], t);
    }
    pub_model_unlock(m);
    json_object_set_new(o, "generated_at_ms", json_integer(pufa_now_ms()));
    json_object_set_new(o, "totals", wins);
    char *s = json_dumps(o, JSON_COMPACT | JSON_ESCAPE_SLASH);
    json_decref(o);
    return s;
}

static void notify_change(pub_feed *f) {
    char *ev = pub_event_json(f->m, f->cfg.windows);
    pthread_mutex_lock(&f->st->mu);
    free(f->st->event_json);
    f->st->event_json = ev;
    f->st->version++;
    pthread_cond_broadcast(&f->st->changed);
    pthread_mutex_unlock(&f->st->mu);
    f->dirty = true;
}

/* ---- Dashboards on our PUB socket ---- */

static void fill_figures(Pufa__Figures *g, const int64_t fig[NFIG]) {
    pufa__figures__init(g);
    int64_t *dst[NFIG] = {&g->reports,      &g->sessions,     &g->participants, &g->materials,
                          &g->consultations, &g->banners,      &g->led_messages, &g->online_posts,
                          &g->online_views, &g->volunteers,   &g->funds_fen};
    protobuf_c_boolean *has[NFIG] = {
        &g->has_reports,       &g->has_sessions,     &g->has_participants,
        &g->has_materials,     &g->has_consultations, &g->has_banners,
        &g->has_led_messages,  &g->has_online_posts, &g->has_online_views,
        &g->has_volunteers,    &g->has_funds_fen};
    for (int k = 0; k < NFIG; k++) {
        *dst[k] = fig[k];
        *has[k] = 1;
    }
}

/* Builds and sends the Dashboard of one scope (NULL = city). */
static void publish_scope(pub_feed *f, const char *county, pufa_day today) {
    Pufa__Dashboard dash = PUFA__DASHBOARD__INIT;
    dash.scope = (char *)(county ? county : "city");
    dash.has_seq = 1;
    dash.seq = pub_model_seq(f->m);
    dash.has_generated_at_ms = 1;
    dash.generated_at_ms = pufa_now_ms();
    size_t nw = pub_n_standard_windows;
    Pufa__DashboardWindow *wins = pufa_calloc(nw, sizeof *wins);
    dash.windows = pufa_calloc(nw, sizeof *dash.windows);
    /* Everything allocated for this message, freed at the end. */
    void **owned = NULL;
    size_t nowned = 0, owned_cap = 0;
#define OWN(p)                                                               \
    do {                                                                     \
        if (nowned == owned_cap) {                                           \
            owned_cap = owned_cap ? owned_cap * 2 : 64;                      \
            owned = pufa_realloc(owned, owned_cap * sizeof *owned);          \
        }                                                                    \
        owned[nowned++] = (p);                                               \
    } while (0)
    char days[2 * 8][11];
    for (size_t i = 0; i < nw; i++) {
        pub_window win;
        Pufa__DashboardWindow *w = &wins[i];
        pufa__dashboard_window__init(w);
        if (pub_window_resolve(f->cfg.windows, pub_standard_windows[i], today, &win))
            continue;
        w->window = (char *)pub_standard_windows[i];
        pufa_date_format(win.from, days[2 * i]);
        pufa_date_format(win.to, days[2 * i + 1]);
        w->from_day = days[2 * i];
        w->to_day = days[2 * i + 1];
        const pub_dim dims[] = {DIM_COUNTY, DIM_THEME, DIM_VENUE, DIM_FORM, DIM_UNIT,
                                DIM_CAMPAIGN};
        for (size_t k = 0; k < 6; k++) {
            if (county && dims[k] == DIM_COUNTY)
                continue;
            pub_row *rows;
            int64_t tot[NFIG];
            size_t n = pub_model_query(f->m, win.from, win.to, dims[k], county, &rows, tot);
            Pufa__DashboardRow **rp = pufa_calloc(n ? n : 1, sizeof *rp);
            Pufa__DashboardRow *rv = pufa_calloc(n ? n : 1, sizeof *rv);
            Pufa__Figures *fv = pufa_calloc(n ? n : 1, sizeof *fv);
            OWN(rp);
            OWN(rv);
            OWN(fv);
            for (size_t j = 0; j < n; j++) {
                pufa__dashboard_row__init(&rv[j]);
                rv[j].key = (char *)pub_model_key(f->m, dims[k], rows[j].value);
                rv[j].label = (char *)pub_model_label(f->m, dims[k], rows[j].value);
                fill_figures(&fv[j], rows[j].fig);
                rv[j].figures = &fv[j];
                rp[j] = &rv[j];
            }
            free(rows);
            if (!w->totals) {
                Pufa__Figures *t = pufa_calloc(1, sizeof *t);
                OWN(t);
                fill_figures(t, tot);
                w->totals = t;
            }
            switch (dims[k]) {
            case DIM_COUNTY:
                w->by_county = rp;
                w->n_by_county = n;
                break;
            case DIM_THEME:
                w->by_theme = rp;
                w->n_by_theme = n;
                break;
            case DIM_VENUE:
                w->by_venue = rp;
                w->n_by_venue = n;
                break;
            case DIM_FORM:
                w->by_form = rp;
                w->n_by_form = n;
                break;
            case DIM_UNIT:
                w->by_unit = rp;
                w->n_by_unit = n;
                break;
            default:
                w->by_campaign = rp;
                w->n_by_campaign = n;
                break;
            }
        }
        dash.windows[dash.n_windows++] = w;
    }
    size_t len = pufa__dashboard__get_packed_size(&dash);
    uint8_t *buf = pufa_malloc(len);
    pufa__dashboard__pack(&dash, buf);
    char topic[32];
    snprintf(topic, sizeof topic, county ? "county.%s" : "city", county);
    zmq_send(f->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(f->pub, buf, len, ZMQ_DONTWAIT);
    free(buf);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(dash.windows);
    free(wins);
#undef OWN
}

static void publish_dashboards(pub_feed *f) {
    if (!f->pub)
        return;
    pufa_day today = pufa_city_day(pufa_now_ms());
    pub_model_rdlock(f->m);
    publish_scope(f, NULL, today);
    size_t n = pub_model_counties(f->m);
    for (size_t i = 0; i < n; i++) {
        char code[16];
        pufa_copy(code, sizeof code, pub_model_key(f->m, DIM_COUNTY, (uint32_t)i));
        publish_scope(f, code, today);
    }
    pub_model_unlock(f->m);
}

static bool resync(pub_feed *f) {
    char err[512];
    int backoff = 200;
    while (!f->stopping) {
        if (snapshot(f, err, sizeof err) == 0) {
            pthread_mutex_lock(&f->st->mu);
            f->st->ready = true;
            f->st->resyncs++;
            f->st->db_error[0] = '\0';
            pthread_mutex_unlock(&f->st->mu);
            notify_change(f);
            return true;
        }
        char q[600];
        PLOG_WARN("PUB-SNAPSHOT-RETRY", "msg=%s retry_ms=%d", pufa_log_quote(q, sizeof q, err),
                  backoff);
        pthread_mutex_lock(&f->st->mu);
        pufa_copy(f->st->db_error, sizeof f->st->db_error, err);
        pthread_mutex_unlock(&f->st->mu);
        for (int slept = 0; slept < backoff && !f->stopping; slept += 50) {
            struct timespec ts = {0, 50000000L};
            nanosleep(&ts, NULL);
        }
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return false;
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
    Pufa__CommitDelta *d = zmq_msg_size(&body) <= 64u * 1024 * 1024
                               ? pufa__commit_delta__unpack(NULL, zmq_msg_size(&body),
                                                            zmq_msg_data(&body))
                               : NULL;
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    if (!d || !d->has_seq) {
        PLOG_WARN("PUB-FEED-BAD", "msg=\"undecodable feed message ignored\"");
        if (d)
            pufa__commit_delta__free_unpacked(d, NULL);
        return true;
    }
    pub_model_rdlock(f->m);
    uint64_t have = pub_model_seq(f->m);
    pub_model_unlock(f->m);
    if (is_delta) {
        if (d->seq <= have) {
            pthread_mutex_lock(&f->st->mu);
            f->st->deltas_dropped++;
            pthread_mutex_unlock(&f->st->mu);
        } else if (d->seq == have + 1) {
            apply_delta(f, d);
            pthread_mutex_lock(&f->st->mu);
            f->st->deltas_applied++;
            pthread_mutex_unlock(&f->st->mu);
            notify_change(f);
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
    if (f->need_resync) {
        pthread_mutex_lock(&f->st->mu);
        f->st->gaps++;
        pthread_mutex_unlock(&f->st->mu);
    }
    pufa__commit_delta__free_unpacked(d, NULL);
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
        int64_t now = pufa_now_ms();
        if ((f->dirty && now - f->last_publish_ms >= f->cfg.publish_min_ms) ||
            now - f->last_heartbeat_ms >= f->cfg.heartbeat_ms) {
            publish_dashboards(f);
            f->last_publish_ms = f->last_heartbeat_ms = now;
            f->dirty = false;
        }
    }
    return NULL;
}

int pub_feed_start(const pub_feed_config *cfg, void *zctx, pub_model *m, pub_stats *st,
                   pub_feed **out, char *err, size_t errsize) {
    pub_feed *f = pufa_calloc(1, sizeof *f);
    f->cfg = *cfg;
    f->m = m;
    f->st = st;
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
    if (cfg->pub && *cfg->pub) {
        f->pub = zmq_socket(zctx, ZMQ_PUB);
        zmq_setsockopt(f->pub, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_bind(f->pub, cfg->pub) != 0) {
            snprintf(err, errsize, "cannot bind %s: %s", cfg->pub, zmq_strerror(zmq_errno()));
            zmq_close(f->pub);
            zmq_close(f->sub);
            free(f);
            return PUFA_EZMQ;
        }
        size_t len = sizeof f->pub_endpoint;
        zmq_getsockopt(f->pub, ZMQ_LAST_ENDPOINT, f->pub_endpoint, &len);
        PLOG_INFO("PUB-PUB", "endpoint=%s", f->pub_endpoint);
    }
    if (pthread_create(&f->thread, NULL, feed_main, f) != 0) {
        snprintf(err, errsize, "cannot start the feed thread");
        if (f->pub)
            zmq_close(f->pub);
        zmq_close(f->sub);
        free(f);
        return PUFA_ESYS;
    }
    *out = f;
    return 0;
}

void pub_feed_stop(pub_feed **pf) {
    if (!pf || !*pf)
        return;
    pub_feed *f = *pf;
    f->stopping = true;
    pthread_join(f->thread, NULL);
    zmq_close(f->sub);
    if (f->pub)
        zmq_close(f->pub);
    free(f);
    *pf = NULL;
}
