/* The publisher's feed: subscribes to the aggregator's committed deltas
 * FIRST, then loads a snapshot (snapshot.h), drops deltas at or below the
 * snapshot's sequence and applies the rest in order; a gap in the sequence
 * (or a heartbeat announcing a sequence we never saw) triggers a resync
 * from PostgreSQL, retried with backoff while the database is down.  Every
 * change is told to the live state (live.h), which wakes the readers. */
#ifndef PUB_FEED_H
#define PUB_FEED_H

#include <stddef.h>

#include "live.h"

typedef struct pub_feed_config {
    const char *feed; /* aggregator PUB endpoint */
    const char *db;   /* conninfo (read-only role) */
} pub_feed_config;

typedef struct pub_feed pub_feed;

/* Subscribes and starts the feed thread; 0, or PUFA_ECONFIG/PUFA_ESYS with
 * err filled.  live must outlive the feed. */
int pub_feed_open(const pub_feed_config *cfg, void *zctx, pub_live *live, pub_feed **out, char *err,
                  size_t errsize);
/* Stops the thread, closes the socket and frees; accepts NULL and sets *f
 * to NULL. */
void pub_feed_close(pub_feed **f);

#endif
