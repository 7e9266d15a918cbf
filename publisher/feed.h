/* The publisher's feed: subscribes to the aggregator's committed deltas
 * FIRST, then loads a snapshot (snapshot.h), drops deltas at or below the
 * snapshot's sequence and applies the rest in order; a gap in the sequence
 * (or a heartbeat announcing a sequence we never saw) triggers a resync
 * from PostgreSQL, retried with backoff while the database is down.  The
 * next delta goes to the live state (live.h), which adds it to the model
 * and wakes the readers. */
#ifndef PUB_FEED_H
#define PUB_FEED_H

#include <stddef.h>

#include "date.h"
#include "live.h"
#include "model.h"

typedef struct pub_feed_config {
    const char *feed; /* aggregator PUB endpoint */
    const char *db;   /* conninfo (read-only role) */
    /* CURVE client (all Z85), or server_public NULL: plaintext. */
    const char *server_public, *public_key, *secret;
    const char *model_file; /* "" or NULL: none (snapshot.h) */
} pub_feed_config;

typedef struct pub_feed pub_feed;

/* Subscribes and starts the feed thread; 0, or PUFA_ECONFIG/PUFA_ESYS with
 * err filled.  live must outlive the feed. */
int pub_feed_open(const pub_feed_config *cfg, void *zctx, pub_live *live, pub_feed **out, char *err,
                  size_t errsize);
/* Stops the thread, closes the socket and frees; accepts NULL and sets *f
 * to NULL. */
void pub_feed_close(pub_feed **f);

/* What one feed message did. */
typedef enum pub_feed_verdict {
    PUB_FEED_UNDECODABLE, /* not a CommitDelta with a seq: ignored */
    PUB_FEED_HEARTBEAT,   /* a heartbeat at our seq: nothing to do */
    PUB_FEED_BEHIND,      /* a heartbeat below our seq: stale, or the aggregator's
                           * database went back (a restore); the feed thread
                           * asks PostgreSQL which */
    PUB_FEED_DROPPED,     /* a delta at or below our seq: already in the model */
    PUB_FEED_APPLIED,     /* the next delta, applied whole */
    PUB_FEED_GAP,         /* a delta or heartbeat past the next one: resync */
    PUB_FEED_REFUSED,     /* the next delta, malformed or overflowing a figure:
                           * nothing of it applied; resync */
} pub_feed_verdict;

/* Decodes one feed message (topic "delta" or "hb", and its body) and, when
 * it is the next delta and well formed, applies it to l whole or not at
 * all (pub_live_apply).  today: a delta's days may run at most a week past it.  *seq
 * gets the message's seq (0 if undecodable); why (for REFUSED) names the
 * rollup or receipt and its field.  Separate from the socket for the
 * fuzzer (tests/fuzz/fuzz_feed.c). */
pub_feed_verdict pub_feed_apply(pub_live *l, const void *topic, size_t topic_len, const void *body,
                                size_t body_len, pufa_day today, uint64_t *seq, char *why,
                                size_t whysize);

#endif
