/* The publisher's feed thread: subscribes to the aggregator's committed
 * deltas FIRST, then loads a snapshot of the rollups and the feed sequence
 * from PostgreSQL in one REPEATABLE READ transaction, drops deltas at or
 * below that sequence and applies the rest; a gap in the sequence (or a
 * heartbeat announcing a sequence we never saw) triggers a resync from
 * PostgreSQL.  After changes it wakes the SSE streams and publishes
 * Dashboards on its own PUB socket (topics "city" and "county.CODE"), at
 * most a few times a second, and as a heartbeat. */
#ifndef PUB_FEED_H
#define PUB_FEED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "windows.h"

typedef struct pub_stats {
    pthread_mutex_t mu;
    pthread_cond_t changed;   /* broadcast when version changes */
    uint64_t version;         /* bumps on every applied change or resync */
    char *event_json;         /* the latest SSE payload (heap) */
    uint64_t deltas_applied, deltas_dropped, resyncs, gaps;
    bool ready;               /* a snapshot is loaded */
    bool stopping;
    double last_snapshot_seconds;
    char db_error[256];
} pub_stats;

typedef struct pub_feed_config {
    const char *feed;        /* aggregator PUB endpoint */
    const char *db;          /* conninfo (read-only role) */
    const char *pub;         /* our PUB endpoint ("" = none) */
    int64_t publish_min_ms;  /* coalescing of dashboard publications */
    int64_t heartbeat_ms;
    const pub_windows *windows;
} pub_feed_config;

typedef struct pub_feed pub_feed;

int pub_feed_start(const pub_feed_config *cfg, void *zctx, pub_model *m, pub_stats *st,
                   pub_feed **out, char *err, size_t errsize);
void pub_feed_stop(pub_feed **f);

/* Builds the SSE payload: seq and the city totals of every standard window
 * (rdlock taken inside).  Caller frees. */
char *pub_event_json(pub_model *m, const pub_windows *w);

#endif
