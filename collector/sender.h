/* The collector's sender thread: reads durable records from the spool in
 * order, sends them to the aggregator as ReportBatch frames on a DEALER
 * socket, keeps a window of unacknowledged batches, resends on timeout with
 * capped exponential backoff and jitter (forever: it never gives up), and
 * on each ack updates delivery states and advances the spool's ack cursor.
 * Reports the aggregator rejects go to the dead-letter list, not back.
 * Every batch says how many reports wait behind it and since when
 * (ReportBatch pending, oldest_pending_ms); when nothing was sent for
 * link_heartbeat_ms, a batch without reports (a heartbeat) says the same,
 * and its ack tells that the link is up. */
#ifndef COL_SENDER_H
#define COL_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "spool.h"
#include "states.h"

typedef struct sender_config {
    const char *endpoint;
    const char *collector_id;
    int64_t batch_max;         /* reports per batch */
    int64_t window;            /* unacknowledged batches */
    int64_t ack_timeout_ms;    /* first resend after this */
    int64_t backoff_max_ms;    /* resend interval cap */
    int64_t heartbeat_ms;      /* ZeroMQ heartbeats */
    int64_t link_heartbeat_ms; /* idle: an empty ReportBatch this often */
    /* CURVE (all three set, or none for an insecure deployment) */
    const char *curve_server_key; /* Z85, 40 chars */
    const char *curve_public_key;
    const char *curve_secret_key;
} sender_config;

typedef struct sender_stats {
    uint64_t batches_sent, batches_resent, batches_acked;
    uint64_t committed, duplicate, stale, rejected, locked;
    uint64_t in_flight_reports;
    int64_t oldest_unacked_ms; /* received_at of the oldest unacked report, 0 if none */
    bool connected;
    /* The link as the aggregator answers it (Unix ms, 0: never). */
    int64_t last_ack_ms;              /* last BatchAck of a batch with reports */
    int64_t last_heartbeat_ms;        /* last heartbeat sent */
    int64_t last_heartbeat_answer_ms; /* last BatchAck of a heartbeat */
    uint64_t heartbeats_sent, heartbeats_answered;
} sender_stats;

typedef struct sender sender;

int sender_new(const sender_config *cfg, spool *sp, states *st, void *zctx, sender **out, char *err,
               size_t errsize);
int sender_start(sender *s);
/* Stops the thread; unacked batches stay in the spool for the next start. */
void sender_stop(sender *s);
void sender_destroy(sender **s);
void sender_get_stats(sender *s, sender_stats *st);

#endif
