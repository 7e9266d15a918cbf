/* The first receipt of each county x responsible unit x activity month:
 * the day (city calendar) the first report of activities in that month
 * arrived, from the snapshot (receipt_first) and the feed's receipts
 * (Receipt.month).  Exact timeliness reads it (completeness.h).  Its size
 * is counties x units x months, never the number of reports.  Not locked
 * itself: the publisher guards it with the model's lock (write-locked to
 * change it, read-locked to read it). */
#ifndef PUB_FIRSTS_H
#define PUB_FIRSTS_H

#include "date.h"

typedef struct pub_firsts pub_firsts;

pub_firsts *pub_firsts_new(void);
/* Accepts NULL; sets *f to NULL. */
void pub_firsts_destroy(pub_firsts **f);
/* Forgets every receipt (before a snapshot). */
void pub_firsts_clear(pub_firsts *f);
/* A report of county/unit for month (year * 12 + month - 1) received on
 * day: kept if it is the earliest seen. */
void pub_firsts_add(pub_firsts *f, const char *county, const char *unit, int month, pufa_day day);
/* The day of the first receipt of county/unit for month, or -1 if none. */
pufa_day pub_firsts_get(const pub_firsts *f, const char *county, const char *unit, int month);

#endif
