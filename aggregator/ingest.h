/* The aggregator's I/O thread: the ROUTER socket collectors send batches
 * to (decoded and validated here, handed to the writer, acked when
 * decided) and the feed's heartbeats (the deltas go out from the writer). */
#ifndef AGG_INGEST_H
#define AGG_INGEST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "links.h"
#include "orgunits.h"
#include "pipeline.h"
#include "zap.h"

typedef struct ingest_config {
    const char *listen;       /* ROUTER endpoint */
    int64_t max_frame;        /* bytes */
    int64_t hwm;              /* ZeroMQ high-water marks */
    int64_t heartbeat_ms;     /* feed heartbeat period */
    bool insecure;            /* no CURVE (explicitly configured) */
    const char *curve_secret; /* server secret key (Z85) or NULL */
    zap *zap;                 /* the allow-list, with CURVE */
    const char *home;         /* org unit code: reports only for counties under it */
    links *links;             /* child_links: each key-bound sender's freshness */
} ingest_config;

typedef struct ingest ingest;

/* Binds the ROUTER; logs the bound endpoint.  pub: the feed the heartbeats
 * go to (outlives the ingest).  0 or PUFA_EZMQ. */
int ingest_open(const ingest_config *cfg, void *zctx, pipeline *pl, delta_pub *pub,
                agg_stats *stats, const pufa_orgunits *orgunits, ingest **out, char *err,
                size_t errsize);
/* Runs until *stop becomes non-zero (or the ZAP handler died: returns
 * PUFA_EAUTH); *reload (SIGHUP) re-reads the allow-lists, and the feed
 * rebinds if that dropped a feed key (delta_pub_revoke).  The caller stops
 * the pipeline between ingest_run and ingest_flush. */
int ingest_run(ingest *in, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);
void ingest_flush(ingest *in);
void ingest_close(ingest **in);

#endif
