#include "live.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "windows.h"

struct pub_live {
    pub_model *m;
    pub_firsts *firsts; /* guarded by m's lock */
    pthread_mutex_t mu;
    pthread_cond_t changed; /* broadcast when version changes or on stop */
    pub_live_stats st;
    char *event_json; /* the SSE payload of st.version (heap) */
    bool stopping;
};

pub_live *pub_live_new(void) {
    pub_live *l = pufa_calloc(1, sizeof *l);
    l->m = pub_model_new();
    l->firsts = pub_firsts_new();
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->changed, NULL);
    return l;
}

void pub_live_destroy(pub_live **pl) {
    if (!pl || !*pl)
        return;
    pub_live *l = *pl;
    free(l->event_json);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->changed);
    pub_model_destroy(&l->m);
    pub_firsts_destroy(&l->firsts);
    free(l);
    *pl = NULL;
}

pub_model *pub_live_model(pub_live *l) {
    return l->m;
}

pub_firsts *pub_live_firsts(pub_live *l) {
    return l->firsts;
}

/* The SSE payload: the sequence and the all-time city totals (the page
 * only reads seq; scripts and the tests read totals.all).  Takes the
 * model's rdlock; the caller frees. */
static char *event_json(pub_model *m) {
    pub_window all;
    pub_window_resolve(NULL, "all", pufa_city_day(pufa_now_ms()), &all);
    pub_row *rows;
    int64_t tot[NFIG];
    pub_model_rdlock(m);
    uint64_t seq = pub_model_seq(m);
    pub_model_query(m, all.from, all.to, DIM_TOTAL, NULL, &rows, tot);
    pub_model_unlock(m);
    free(rows);
    json_t *figures = json_object();
    for (int k = 0; k < NFIG; k++)
        json_object_set_new(figures, pufa_figure_names[k], json_integer(tot[k]));
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    json_object_set_new(o, "generated_at_ms", json_integer(pufa_now_ms()));
    json_object_set_new(o, "totals", json_pack("{s:o}", "all", figures));
    char *s = json_dumps(o, JSON_COMPACT | JSON_ESCAPE_SLASH);
    json_decref(o);
    return s;
}

/* A new version with a new event; mu held. */
static void bump(pub_live *l, char *event) {
    free(l->event_json);
    l->event_json = event;
    l->st.version++;
    pthread_cond_broadcast(&l->changed);
}

void pub_live_snapshot_loaded(pub_live *l, double seconds) {
    char *ev = event_json(l->m);
    pthread_mutex_lock(&l->mu);
    l->st.ready = true;
    l->st.snapshots++;
    l->st.last_snapshot_seconds = seconds;
    l->st.db_error[0] = '\0';
    bump(l, ev);
    pthread_mutex_unlock(&l->mu);
}

void pub_live_snapshot_failed(pub_live *l, const char *err, bool model_incomplete) {
    pthread_mutex_lock(&l->mu);
    /* A model holding part of a snapshot is never served: not ready (the API
     * answers 503) until a snapshot loads whole.  One untouched by the failed
     * attempt is behind by the gap that asked for it, but whole: it stays. */
    if (model_incomplete)
        l->st.ready = false;
    pufa_copy(l->st.db_error, sizeof l->st.db_error, err);
    pthread_mutex_unlock(&l->mu);
}

uint64_t pub_live_seq(pub_live *l) {
    pub_model_rdlock(l->m);
    uint64_t seq = pub_model_seq(l->m);
    pub_model_unlock(l->m);
    return seq;
}

static int cell_add(pub_model *m, const pufa_cell *c, int sign) {
    int64_t fig[NFIG];
    for (int k = 0; k < NFIG; k++)
        fig[k] = sign * c->fig[k];
    return pub_model_add(m, c->day, c->county, c->theme, c->venue, c->form, c->unit_code,
                         c->campaign, c->township, fig);
}

int pub_live_apply(pub_live *l, const pufa_delta *d, char *why, size_t whysize) {
    pub_model *m = l->m;
    pub_model_wrlock(m);
    for (size_t i = 0; i < d->n_cells; i++) {
        if (cell_add(m, &d->cells[i], 1) == 0)
            continue;
        snprintf(why, whysize, "rollups[%zu].delta: a figure would overflow its cell", i);
        /* What was added is taken back under the same lock. */
        while (i-- > 0)
            cell_add(m, &d->cells[i], -1);
        pub_model_unlock(m);
        return PUFA_ETOOBIG;
    }
    for (size_t i = 0; i < d->n_receipts; i++) {
        const pufa_receipt *r = &d->receipts[i];
        pub_model_receipt(m, r->day, r->county, r->unit_code);
        if (r->month)
            pub_firsts_add(l->firsts, r->county, r->unit_code, r->month, r->day);
    }
    /* Approval states in feed order, under the same lock as the figures
     * they freeze (the feed checked them: feed.c). */
    for (size_t i = 0; i < d->n_periods; i++)
        pub_periods_set(pub_model_periods(m), &d->periods[i]);
    pub_model_set_seq(m, d->seq);
    pub_model_unlock(m);
    char *ev = event_json(m);
    pthread_mutex_lock(&l->mu);
    l->st.deltas_applied++;
    bump(l, ev);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

void pub_live_delta_dropped(pub_live *l) {
    pthread_mutex_lock(&l->mu);
    l->st.deltas_dropped++;
    pthread_mutex_unlock(&l->mu);
}

void pub_live_gap(pub_live *l) {
    pthread_mutex_lock(&l->mu);
    l->st.gaps++;
    pthread_mutex_unlock(&l->mu);
}

void pub_live_get_stats(pub_live *l, pub_live_stats *out) {
    pthread_mutex_lock(&l->mu);
    *out = l->st;
    pthread_mutex_unlock(&l->mu);
}

bool pub_live_ready(pub_live *l) {
    pthread_mutex_lock(&l->mu);
    bool ready = l->st.ready;
    pthread_mutex_unlock(&l->mu);
    return ready;
}

static char *event_copy(const pub_live *l) {
    return pufa_strdup(l->event_json ? l->event_json : "{}");
}

pub_live_wait_result pub_live_wait(pub_live *l, uint64_t *version, int64_t timeout_ms,
                                   char **event) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (timeout_ms < 0)
        timeout_ms = 0;
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    while (!l->stopping && (!version || l->st.version == *version))
        if (pthread_cond_timedwait(&l->changed, &l->mu, &deadline) != 0)
            break;
    pub_live_wait_result r = PUB_LIVE_TIMEOUT;
    if (l->stopping) {
        r = PUB_LIVE_STOPPED;
    } else if (version && l->st.version != *version) {
        r = PUB_LIVE_CHANGED;
        *version = l->st.version;
        if (event)
            *event = event_copy(l);
    }
    pthread_mutex_unlock(&l->mu);
    return r;
}

char *pub_live_event(pub_live *l, uint64_t *version) {
    pthread_mutex_lock(&l->mu);
    *version = l->st.version;
    char *ev = event_copy(l);
    pthread_mutex_unlock(&l->mu);
    return ev;
}

void pub_live_stop(pub_live *l) {
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->mu);
}
