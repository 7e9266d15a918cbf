/* Reporting rate and timeliness (DHIS2's completeness), from receipt
 * times, never from a manual "complete" click.  The expected reporters of
 * a county are the responsible units with a target there in the year (the
 * duty list).  For a window:
 *   reporting rate = expected units with a report received in the window
 *                    / expected units;
 *   timeliness     = months on time / months due, where a unit is on time
 *                    for month M when its first report of activities in M
 *                    (occurred_on in M) was received by M's last day +
 *                    timely_days, and M is due once that deadline has
 *                    passed (or it is on time already).  A report for M
 *                    received after the deadline does not make M on time,
 *                    nor does a report for another month received in time.
 *                    Months are those the window touches.
 * Receipts are kept per received day (the model) and the first one per
 * county x unit x activity month (firsts.h), so the cost is days x
 * counties x units, never the number of reports.  Pure: the model (and
 * with it firsts) is read-locked by the caller. */
#ifndef PUB_COMPLETENESS_H
#define PUB_COMPLETENESS_H

#include <jansson.h>

#include "firsts.h"
#include "model.h"
#include "orgunits.h"
#include "targets.h"
#include "windows.h"

/* The /v1/completeness answer for win: t[0..n) are the targets of the
 * duty year under org (org NULL: every county the model knows). */
json_t *pub_completeness_json(const pub_model *m, const pub_firsts *firsts, const pufa_orgunits *ou,
                              const pufa_target *t, size_t n, const pub_window *win, int year,
                              const char *org, pufa_day today, int timely_days);

#endif
