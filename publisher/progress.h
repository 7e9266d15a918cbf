/* Targets against the live totals (责任清单 progress): what each target's
 * org unit or responsible unit has done in the target's year so far, the
 * per cent of the target, and the pro-rata expectation for today in the
 * city's calendar (target x days elapsed / days of the year).  Pure: the
 * model (read-locked by the caller) and the targets are given. */
#ifndef PUB_PROGRESS_H
#define PUB_PROGRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "date.h"
#include "model.h"
#include "orgunits.h"
#include "targets.h"

/* Days of year elapsed by today, today included: 0 before the year, the
 * year's length after it. */
int pub_year_elapsed(int year, pufa_day today);
int pub_year_days(int year);
/* The expectation of target after elapsed of days: target x elapsed /
 * days, rounded down (exact in 128 bits). */
int64_t pub_pro_rata(int64_t target, int elapsed, int days);

typedef struct pub_progress {
    const pufa_target *t;
    int64_t actual;   /* the figure from Jan 1 to min(today, Dec 31) */
    int64_t expected; /* pub_pro_rata */
    bool behind;      /* actual < expected */
} pub_progress;

/* Fills out[i] for t[i], i < n.  A county's target: the county's figure;
 * a unit's (inside a county): that unit's figure there; a city's or any
 * higher unit's: the sum of the counties ou puts under it.  Cost: days x
 * cells, once per county with unit targets, plus once for the counties. */
void pub_progress_compute(const pub_model *m, const pufa_orgunits *ou, const pufa_target *t,
                          size_t n, int year, pufa_day today, pub_progress *out);

/* The /v1/targets answer for the targets t[0..n) of year (already the
 * year's, within the org asked for; org NULL: all). */
json_t *pub_progress_json(const pub_model *m, const pufa_orgunits *ou, const pufa_target *t,
                          size_t n, int year, const char *org, pufa_day today, uint64_t version);

#endif
