/* The report rules (DOMAIN.md), the same at every intake: HTTP, CSV, drop
 * folder, CLI and the aggregator's ZeroMQ socket.  Every error names the
 * field and the rule, e.g. "participants: must be >= 0 (got -5)". */
#ifndef PUFA_VALIDATE_H
#define PUFA_VALIDATE_H

#include "date.h"
#include "orgunits.h"
#include "report.h"

typedef struct pufa_validate_ctx {
    const pufa_orgunits *orgunits; /* known counties; required */
    pufa_day today;                /* the city's today */
} pufa_validate_ctx;

/* Checks every rule, adding one error per broken field to errs.  On
 * success canonicalises report_id (lower case) and fills occurred_day /
 * ended_day.  Returns 0 or PUFA_EVALIDATE. */
int pufa_report_validate(pufa_report *r, const pufa_validate_ctx *ctx, pufa_errors *errs);

#endif
