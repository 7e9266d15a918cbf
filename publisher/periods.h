/* The approval state of every period (org unit x month) the aggregator
 * wrote: loaded with the snapshot, in its transaction, and kept current
 * from CommitDelta.periods in feed order, so a state and the figures it
 * covers are always of the same feed sequence.  A period without an entry
 * is open.  Owned by the model and guarded by its lock (model.h). */
#ifndef PUB_PERIODS_H
#define PUB_PERIODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* One period's state; strings owned by the store. */
typedef struct pub_pstate {
    char org[7];
    int month; /* year * 12 + month - 1 */
    pufa_period_state state;
    char *set_by;
    int64_t set_at_ms;
    char *reason;
    bool exception_open;
} pub_pstate;

typedef struct pub_periods pub_periods;

pub_periods *pub_periods_new(void);
/* Accepts NULL; sets *p to NULL. */
void pub_periods_destroy(pub_periods **p);
/* Forgets every entry (before a snapshot). */
void pub_periods_clear(pub_periods *p);
/* Sets one period's state (a snapshot row or a delta's PeriodState); the
 * strings are copied.  PUFA_EINVAL, nothing changed, when org is not a
 * six-digit code or the month or state is out of range. */
int pub_periods_set(pub_periods *p, const pufa_period *in);
/* The entry of org x month, or NULL (open). */
const pub_pstate *pub_periods_get(const pub_periods *p, const char *org, int month);
/* The state of org x month (PUFA_PERIOD_OPEN when there is no entry). */
pufa_period_state pub_periods_state(const pub_periods *p, const char *org, int month);
/* true when that state makes the figures official (approved or accepted). */
bool pub_period_official(pufa_period_state s);
size_t pub_periods_count(const pub_periods *p);

/* "YYYY-MM" to year * 12 + month - 1: 0, or -1 when malformed or before
 * 2000-01. */
int pub_month_parse(const char *text, int *month);
/* year * 12 + month - 1 to "YYYY-MM". */
void pub_month_format(int month, char out[8]);

#endif
