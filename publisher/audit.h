/* The audit views of official figures, read-only (the publisher's role
 * may only SELECT):
 *   GET /v1/reports/{id}/history  every revision of a report, oldest
 *       first, with its figures, received and committed times and
 *       collector (reports + report_history);
 *   GET /v1/audit?org=CODE&period=YYYY-MM  every approval action and
 *       refusal of that month for the unit and the units under it, in
 *       order (period_audit).
 *   GET /v1/approvals?period=YYYY-MM[&org=CODE]  the live state of the
 *       unit and of each child, from the model (no database).
 * Each answer is bounded (AUDIT_MAX_ROWS rows, "truncated": true past
 * it); bad input is refused naming the field. */
#ifndef PUB_AUDIT_H
#define PUB_AUDIT_H

#include <jansson.h>
#include <stddef.h>

#include "model.h"

#define AUDIT_MAX_ROWS 1000

/* "period" (or, when given instead, "month") of a request: "YYYY-MM",
 * 2000-01 or later, not after this month.  0 with *month set (year * 12 +
 * month - 1), or -1 with msg naming the field. */
int pub_period_arg(const char *field, const char *text, int *month, char *msg, size_t msize);

/* The answers: an HTTP status; on 200 *out is the body (caller owns it),
 * else msg says why.  org: a code already checked against the home. */
int pub_report_history(const char *db, pub_model *m, const char *id, json_t **out, char *msg,
                       size_t msize);
int pub_audit(const char *db, const char *org, int month, json_t **out, char *msg, size_t msize);
/* rdlock taken inside. */
json_t *pub_approvals_json(pub_model *m, const char *org, int month);
/* GET /v1/office?name=NAME: the unit and role of an office (offices; never
 * its secret), so the page shows it its buttons.  404 for an office that
 * does not exist or whose unit is not under the home (the same answer). */
int pub_office(const char *db, pub_model *m, const char *name, json_t **out, char *msg,
               size_t msize);

#endif
