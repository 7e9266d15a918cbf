/* Delivery state per report id, for GET /v1/reports/{id}: spooled, in
 * flight, committed, duplicate, stale, rejected (+ reason).  Memory is
 * bounded: two generations of hash tables, the older dropped when the newer
 * fills.  Final outcomes are also appended to files in the spool folder:
 * outcomes.log (informational) and dead-letter.jsonl (rejected reports with
 * their reasons and content, fsynced), which are searched on a miss. */
#ifndef COL_STATES_H
#define COL_STATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef enum delivery_state {
    DS_UNKNOWN = 0,
    DS_SPOOLED,
    DS_IN_FLIGHT,
    DS_COMMITTED,
    DS_DUPLICATE,
    DS_STALE,
    DS_REJECTED,
    DS_LOCKED, /* refused: the report's county-month is locked (final, like rejected) */
} delivery_state;

const char *delivery_state_name(delivery_state s);

typedef struct states states;

/* dir: where outcomes.log and dead-letter.jsonl live.  cap: entries kept in
 * memory (at least 1024). */
states *states_new(const char *dir, size_t cap);
void states_destroy(states **s);

/* Thread-safe. */
void states_set(states *s, const char *report_id, uint32_t revision, delivery_state st);
/* Records a final outcome (and appends it to outcomes.log); for
 * DS_REJECTED and DS_LOCKED, reason and the report (may be NULL) go to dead-letter.jsonl,
 * which is fsynced before this returns. */
void states_final(states *s, const char *report_id, uint32_t revision, delivery_state st,
                  const char *reason, const pufa_report *report);
/* Looks up an id; reason (may be NULL) gets the rejection reason. */
delivery_state states_get(states *s, const char *report_id, uint32_t *revision, char *reason,
                          size_t reason_size);
/* Rejected and locked reports so far (dead-letter count). */
uint64_t states_rejected(states *s);

#endif
