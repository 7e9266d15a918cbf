/* The publisher's live state: the model (the totals the page and the API
 * read), the feed's progress (ready, counters, the last database error) and
 * the payload of the SSE "update" event, with a version that bumps on every
 * change.  The feed writes it; the HTTP threads, the SSE streams and the
 * Dashboard publisher read it and wait on it.  Thread-safe. */
#ifndef PUB_LIVE_H
#define PUB_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firsts.h"
#include "model.h"
#include "wire.h"

typedef struct pub_live pub_live;

/* The feed's progress, as /metrics and /readyz show it. */
typedef struct pub_live_stats {
    uint64_t version; /* bumps on every applied change or snapshot */
    uint64_t deltas_applied, deltas_dropped, snapshots, gaps;
    bool ready; /* a snapshot is loaded */
    double last_snapshot_seconds;
    char db_error[256]; /* why the last snapshot failed; "" after a success */
} pub_live_stats;

/* A live state with an empty model. */
pub_live *pub_live_new(void);
/* Frees it and its model (every thread using it stopped); accepts NULL and
 * sets *l to NULL. */
void pub_live_destroy(pub_live **l);

/* The model (lock it with pub_model_rdlock/wrlock to use it). */
pub_model *pub_live_model(pub_live *l);
/* The first receipts per county x unit x activity month (firsts.h),
 * guarded by the model's lock as the model is. */
pub_firsts *pub_live_firsts(pub_live *l);

/* ---- the feed's side ---- */
/* A snapshot was loaded into the model: ready, a new event. */
void pub_live_snapshot_loaded(pub_live *l, double seconds);
/* A snapshot failed: err is what /readyz shows until one succeeds; with
 * model_incomplete (the model was cleared first) also not ready. */
void pub_live_snapshot_failed(pub_live *l, const char *err, bool model_incomplete);
/* The sequence number the model holds. */
uint64_t pub_live_seq(pub_live *l);
/* Adds one committed transaction's changes (a decoded, validated delta) to
 * the model whole, or - a figure would overflow - not at all (PUFA_ETOOBIG,
 * why names the rollup); on 0 the model's seq is d's and there is a new
 * event. */
int pub_live_apply(pub_live *l, const pufa_delta *d, char *why, size_t whysize);
/* A delta already contained in the model was dropped. */
void pub_live_delta_dropped(pub_live *l);
/* A gap in the sequence was seen (a resync follows). */
void pub_live_gap(pub_live *l);

/* ---- the readers' side ---- */
void pub_live_get_stats(pub_live *l, pub_live_stats *out);
bool pub_live_ready(pub_live *l);

typedef enum pub_live_wait_result {
    PUB_LIVE_CHANGED, /* a new version (and event) */
    PUB_LIVE_TIMEOUT,
    PUB_LIVE_STOPPED, /* pub_live_stop was called */
} pub_live_wait_result;

/* Waits at most timeout_ms for a version other than *version.  version
 * NULL: waits for the timeout or a stop only.  On PUB_LIVE_CHANGED, *version
 * is the new version and, when event is not NULL, *event a copy of its SSE
 * payload (the caller frees). */
pub_live_wait_result pub_live_wait(pub_live *l, uint64_t *version, int64_t timeout_ms,
                                   char **event);
/* The current version and a copy of its SSE payload (the caller frees):
 * {"seq":N,"generated_at_ms":T,"totals":{"all":{"reports":..,...}}}. */
char *pub_live_event(pub_live *l, uint64_t *version);
/* Ends every wait, now and later (before the HTTP server stops). */
void pub_live_stop(pub_live *l);

#endif
