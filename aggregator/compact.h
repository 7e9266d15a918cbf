/* The rollup compactor: a thread with its own PostgreSQL session that folds
 * rollup_journal (the cells each commit changed, appended by the writer)
 * into rollup_dim (totals per day x county x one dimension), moving the
 * rows in one transaction so that any snapshot sees each change once.
 *
 * It runs when the journal holds `rows` rows, or `interval_ms` after the
 * last compaction when anything is waiting, and once at start.  It never
 * holds up the writer: group commits append while it folds.  Compaction is
 * safe to run concurrently (each journal row is deleted by exactly one
 * transaction), so it needs no coordination beyond that. */
#ifndef AGG_COMPACT_H
#define AGG_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

typedef struct compactor compactor;

/* Counters for /metrics. */
typedef struct compact_stats {
    uint64_t runs;  /* compactions committed */
    uint64_t moved; /* journal rows folded */
    uint64_t failures;
    uint64_t pending; /* journal rows appended since the last compaction (about) */
    double last_seconds;
} compact_stats;

compactor *compactor_new(const char *conninfo, int64_t interval_ms, int64_t rows);
int compactor_start(compactor *c);
/* The writer appended n journal rows (any thread). */
void compactor_note(compactor *c, size_t n);
void compactor_stats(compactor *c, compact_stats *out);
/* Finishes a compaction in progress, then stops the thread. */
void compactor_stop(compactor *c);
void compactor_destroy(compactor **c);

/* One compaction on conn (its own transaction): everything committed in the
 * journal moves into rollup_dim.  *moved and *written get the row counts.
 * 0, or PUFA_EDB / PUFA_EDBDOWN with err filled. */
int compact_once(PGconn *conn, long long *moved, long long *written, char *err, size_t errsize);

#endif
