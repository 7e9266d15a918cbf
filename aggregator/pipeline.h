/* The hand-off between the I/O thread (ZeroMQ) and the writer thread
 * (PostgreSQL).  The I/O thread submits decoded batches; the writer takes
 * everything submitted so far as one group (so the commit rate never limits
 * the report rate: whatever arrives during a commit goes into the next
 * one), applies it, sends each committed delta on the feed (delta_pub.h)
 * and hands back finished batches, waking the I/O thread through a pipe. */
#ifndef AGG_PIPELINE_H
#define AGG_PIPELINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compact.h"
#include "delta_pub.h"
#include "forward.h"
#include "stats.h"
#include "store.h"

typedef struct agg_batch {
    uint8_t identity[256]; /* ZeroMQ routing id of the sender */
    size_t identity_len;
    uint64_t batch_seq;
    char collector_id[64];
    size_t n_reports; /* reports in the frame */
    int *status;      /* per report (0 = undecided) */
    char **reason;    /* per report, heap or NULL */
    char **ids;       /* per report id as sent (heap or NULL) */
    uint32_t *revisions;
    agg_item *items; /* the valid reports, waiting for the store */
    size_t n_items;
    /* A forwarding aggregator's period changes (ReportBatch.periods),
     * checked: applied in their own transaction before this batch's
     * reports, after the batches before it. */
    remote_period *periods;
    size_t n_periods;
    bool periods_done;
    char link_unit[7]; /* the sender's bound unit */
    char home[7];      /* this aggregator's home */
    int64_t link_seq;  /* the sender's commit sequence (as_of_seq) */
    size_t undecided;
    struct agg_batch *next;
} agg_batch;

agg_batch *agg_batch_new(size_t n_reports);
void agg_batch_destroy(agg_batch **b);

typedef struct pipeline pipeline;

/* max_pending: reports queued before the I/O thread stops reading;
 * max_group: reports in one transaction at most.  0, or PUFA_ESYS (no pipe
 * for the wake-ups) with err filled. */
int pipeline_new(store *st, delta_pub *pub, agg_stats *stats, size_t max_pending, size_t max_group,
                 pipeline **out, char *err, size_t errsize);
/* Tells c of every journal row committed (before pipeline_start). */
void pipeline_set_compactor(pipeline *p, compactor *c);
/* Wakes f after every commit that changed reports (before pipeline_start;
 * f may be NULL: no forwarding). */
void pipeline_set_forwarder(pipeline *p, forward *f);
int pipeline_start(pipeline *p);
/* The fd the I/O thread polls for "something is done". */
int pipeline_notify_fd(const pipeline *p);
/* Takes ownership of b (I/O thread). */
void pipeline_submit(pipeline *p, agg_batch *b);
bool pipeline_full(pipeline *p);
/* Moves finished batches to the caller (who destroys them), in commit
 * order. */
void pipeline_take_done(pipeline *p, agg_batch **batches);
/* Hands an approval action to the writer thread and waits (at most
 * timeout_ms) for its answer, so that it is ordered with the report
 * transactions.  0 with res filled (res->json: the caller frees);
 * PUFA_ETIMEDOUT (the action may still run: the audit says) or PUFA_EDBDOWN
 * with err filled.  Any thread but the writer. */
int pipeline_approve(pipeline *p, const approval_req *req, int timeout_ms, approval_res *res,
                     char *err, size_t errsize);
/* Lets the current transaction finish, then stops the writer; batches not
 * yet applied are destroyed unacknowledged (their senders resend). */
void pipeline_stop(pipeline *p);
void pipeline_destroy(pipeline **p);

#endif
