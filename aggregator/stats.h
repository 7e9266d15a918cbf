/* The aggregator's counters, shared by its threads and read by /metrics:
 * the I/O thread (ingest.c) counts frames and batches, the writer
 * (pipeline.c) transactions and outcomes, main.c initialises them and
 * reports them.  Every field is guarded by mu. */
#ifndef AGG_STATS_H
#define AGG_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"

typedef struct agg_stats {
    pthread_mutex_t mu;
    uint64_t reports[6];   /* by Pufa__ReportStatus */
    uint64_t approvals[2]; /* approval actions: [0] done, [1] refused */
    uint64_t batches;
    uint64_t frames_malformed;
    uint64_t frames_oversize;
    uint64_t county_mismatch; /* reports for a county outside the sender key's unit */
    uint64_t outside_home;    /* reports for a county outside this aggregator's home */
    uint64_t key_refused;     /* batches from a key no longer on the allow-list */
    uint64_t periods_refused; /* period changes from a link refused (not its units) */
    uint64_t acks_dropped;
    uint64_t transactions;
    uint64_t poison_splits;
    uint64_t feed_seq;
    uint64_t pending_reports;
    bool db_up;
    bool receiving; /* false while the queue is full */
    pufa_histogram commit_latency;
    char db_error[256];
} agg_stats;

#endif
