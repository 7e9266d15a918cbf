/* The aggregator's PostgreSQL side: one transaction applies a range of
 * validated reports idempotently (insert / duplicate / stale / replace /
 * retract), writes superseded revisions to report_history, folds the rollup
 * changes, advances the feed sequence, and commits.  Only the writer thread
 * touches a store. */
#ifndef AGG_STORE_H
#define AGG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "periods.h"
#include "report.h"

/* One valid report waiting for its transaction. */
typedef struct agg_item {
    pufa_report report;
    int status;               /* 0 = undecided, else a Pufa__ReportStatus */
    char reason[256];         /* for STATUS_REJECTED and STATUS_LOCKED */
    const char *collector_id; /* who sent it (owned by its batch) */
    uint32_t slot;            /* its index in the batch */
    bool from_link;           /* forwarded by a lower aggregator: its own lock map decided */
} agg_item;

/* What one committed transaction produced. */
typedef struct store_commit {
    uint64_t seq;   /* 0 when nothing changed (all duplicates/stale) */
    uint8_t *delta; /* encoded CommitDelta (caller frees), NULL when seq == 0 */
    size_t delta_len;
    size_t committed, duplicate, stale, rejected, locked;
    size_t journal_rows; /* rollup_journal rows appended */
    double seconds;      /* BEGIN to COMMIT */
} store_commit;

typedef struct store store;

store *store_new(const char *conninfo);
void store_destroy(store **s);
/* Connects if not connected and checks the schema; 0, PUFA_EDBDOWN, or
 * PUFA_ECONFIG (schema too old: run pufa migrate).  err is filled. */
int store_connect(store *s, char *err, size_t errsize);
bool store_connected(const store *s);
void store_disconnect(store *s);
/* A cheap round trip ("SELECT 1") to notice a dead server while idle. */
int store_ping(store *s, char *err, size_t errsize);

/* entry_deadline_days: a county-month locks by itself this many days after
 * its end unless a lock exception is open; 0 = never (before connecting). */
void store_set_deadline(store *s, int days);

/* Runs one approval action on the writer's connection (periods_apply),
 * refreshing the lock map the next store_apply consults.  0 with res
 * filled; PUFA_EDBDOWN/PUFA_EDB when the database failed. */
int store_approve(store *s, const approval_req *req, approval_res *res, char *err, size_t errsize);

/* Applies states a lower aggregator sent up (periods_apply_remote) on the
 * writer's connection; the same contract as store_approve. */
int store_apply_remote(store *s, const char *via, const char *bound, const char *home,
                       int64_t src_seq, const remote_period *v, size_t n, approval_res *res,
                       char *err, size_t errsize);

/* Applies items[0..n) in one transaction.  On 0 every item has a status
 * and *out describes the commit.  PUFA_EDB: a data error (a poison row);
 * nothing was written and statuses are unset: split and retry.
 * PUFA_EDBDOWN: the connection or server failed; nothing decided. */
int store_apply(store *s, agg_item **items, size_t n, store_commit *out, char *err, size_t errsize);

/* What store_apply_all committed, in commit order (a value: init/free). */
typedef struct store_commits {
    store_commit *c;
    size_t n, cap;
} store_commits;
void store_commits_init(store_commits *cs);
/* Frees the deltas still held and the array; cs is then empty. */
void store_commits_free(store_commits *cs);

/* Applies items, splitting on data errors until the poison rows are alone;
 * those are rejected with the database's reason.  Appends one entry to out
 * per committed transaction (and per poison row).  Returns 0 when every
 * item has a status, or PUFA_EDBDOWN (the undecided items keep status 0;
 * out holds what was committed before). */
int store_apply_all(store *s, agg_item **items, size_t n, store_commits *out, char *err,
                    size_t errsize);

/* Row i of a result whose columns start as REPORT_SELECT_TEXT's
 * (store_sql.h) into r (initialised here; the caller clears it). */
void store_parse_row(const PGresult *res, int i, pufa_report *r);

#endif
