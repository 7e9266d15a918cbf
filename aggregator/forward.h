/* The forwarder: a thread of pufa-aggregator that sends every committed
 * revision up to the aggregator of the level above (a city's to its
 * province, a province's to the nation).
 *
 * Its outbox is the reports table: each row carries the feed sequence of
 * the commit that wrote its current revision (commit_seq), and the rows
 * after the cursor (forward_cursor) in (commit_seq, report_id) order are
 * what is still to send.  It reads them in that order, sends them as
 * ReportBatch frames (collector_id "aggregator-HOME", as_of_seq/as_of_ms =
 * the last commit included, pending = the rows still after the batch) on a
 * CURVE DEALER to the upper aggregator's listen endpoint, keeps a few
 * batches in flight, resends on timeout (with backoff) and on reconnect,
 * and moves the cursor in PostgreSQL only after the BatchAck, in the same
 * transaction as the refusals of that batch (forward_refused).  The upper
 * level applies with the same idempotent rules, so a resend or a replay
 * from any cursor changes no total there.  REJECTED and LOCKED results are
 * recorded, counted and logged, and the stream goes on.  Idle, it sends a
 * heartbeat (a batch without reports, with the as_of fields) every
 * heartbeat_ms.  The writer wakes it after every commit (forward_note).
 * The upper level down for days: nothing here blocks the city; the
 * forwarder retries and catches up. */
#ifndef AGG_FORWARD_H
#define AGG_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct forward_config {
    const char *db;         /* conninfo (role pufa_aggregator) */
    const char *upstream;   /* the upper aggregator's listen endpoint */
    const char *server_key; /* its CURVE public key (Z85), or NULL: plaintext */
    const char *public_key; /* this aggregator's key pair (Z85), with server_key */
    const char *secret_key;
    const char *home;     /* this aggregator's home code: collector_id "aggregator-HOME" */
    int64_t batch;        /* reports per batch at most */
    int64_t heartbeat_ms; /* idle heartbeat period */
} forward_config;

typedef struct forward_stats {
    uint64_t batches_sent, batches_acked, heartbeats;
    uint64_t batches_resent;   /* dropped unacknowledged (timeout, reconnect) and read again */
    uint64_t results[6];       /* reports acknowledged by the upper level, by Pufa__ReportStatus */
    uint64_t frames_refused;   /* acks refusing a whole frame (e.g. key not on the allow-list) */
    uint64_t auth_failures;    /* CURVE handshakes the upper level refused */
    uint64_t cursor_resets;    /* the cursor was moved by someone else (an operator) */
    uint64_t acked_seq;        /* the cursor: commit sequence acknowledged so far */
    uint64_t pending;          /* rows after the cursor (estimate while catching up) */
    int64_t oldest_unacked_ms; /* commit time of the oldest row not yet acked, 0: none */
    bool connected;            /* handshake with the upper level done */
    bool db_up;
} forward_stats;

typedef struct forward forward;

/* Checks the configuration and makes the DEALER; 0 or PUFA_ECONFIG (err
 * filled).  Destroy with forward_destroy. */
int forward_new(const forward_config *cfg, void *zctx, forward **out, char *err, size_t errsize);
int forward_start(forward *f);
/* Wakes the forwarder: something was committed (writer thread; cheap). */
void forward_note(forward *f);
/* Halts and joins the thread; unacknowledged batches are sent again by the
 * next start (the cursor did not move for them). */
void forward_stop(forward *f);
void forward_destroy(forward **f);
void forward_get_stats(forward *f, forward_stats *st);

#endif
