/* status=approved: the totals of the approved (or accepted) county-months
 * only, from the live model and its approval states (periods.h), read
 * under the same rdlock, so figures and states are of one feed sequence.
 * A window is cut at month boundaries; each month's days are summed over
 * the counties whose period of that month is official.  Cost: the days x
 * dimensions of the plain read, plus months x counties to find the
 * official ones. */
#ifndef PUB_APPROVED_H
#define PUB_APPROVED_H

#include <jansson.h>
#include <stdbool.h>

#include "model.h"

/* pub_model_query, or with approved its official county-months only. */
size_t pub_query_status(const pub_model *m, bool approved, pufa_day from, pufa_day to, pub_dim dim,
                        const pub_scope *s, pub_row **rows, int64_t totals[NFIG]);
/* pub_model_sum, or with approved its official county-months only. */
void pub_sum_status(const pub_model *m, bool approved, pufa_day from, pufa_day to,
                    const pub_scope *s, int64_t fig[NFIG]);
/* Which months of [from, to] were counted: per month {"month","counties":
 * in scope, "approved":[codes counted], "provisional": the number left
 * out, "counted": "all"|"part"|"none"}, in order.  Caller owns it. */
json_t *pub_approved_months(const pub_model *m, pufa_day from, pufa_day to, const pub_scope *s);
/* The state of county code in the month of day (PUFA_PERIOD_OPEN when the
 * store has none). */
pufa_period_state pub_county_state(const pub_model *m, const char *code, pufa_day day);

/* The Chinese label of a state: 未报送 (open), 已报送 (submitted), 已审核
 * (approved), 已确认 (accepted); "" for anything else. */
const char *pub_period_state_label(pufa_period_state s);
/* The export's 审核状态 of county code over [from, to]: the label of its
 * month's state when the window is one month, else "已审核 k/n 个月". */
void pub_county_state_label(const pub_model *m, const char *code, pufa_day from, pufa_day to,
                            char *out, size_t size);

#endif
