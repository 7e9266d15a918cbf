/* The approval API on the aggregator's HTTP listener (common/status_http):
 *   POST /v1/approvals  {"action":"submit|approve|accept|unlock","org":CODE,
 *                        "month":"YYYY-MM","reason":TEXT}   (office credential)
 *   GET  /v1/periods?org=CODE&month=YYYY-MM   state, children, totals
 *   GET  /v1/audit?org=CODE&month=YYYY-MM     the audit trail, in order
 * Offices authenticate with HTTP Basic (office name : secret), checked
 * against the Argon2id hashes in the offices table (libsodium, constant
 * time; secrets are never logged).  Wrong credential: 401; the action
 * itself runs on the writer thread (pipeline_approve), which answers 403
 * (wrong unit or role), 409 (the state machine says no) or 200.  Runs on
 * the HTTP server's thread, with its own read-only use of PostgreSQL. */
#ifndef AGG_APPROVALS_H
#define AGG_APPROVALS_H

#include <stddef.h>

#include "date.h"
#include "orgunits.h"
#include "periods.h"
#include "pipeline.h"
#include "status_http.h"

typedef struct approvals approvals;

/* 0, or PUFA_ESYS when libsodium cannot start (err filled). */
int approvals_new(const char *conninfo, approvals **out, char *err, size_t errsize);
/* Makes the API live: until then it answers 503.  ou and home must outlive
 * approvals_detach. */
void approvals_attach(approvals *a, pipeline *pl, const pufa_orgunits *ou, const char *home);
/* Back to 503 (before the pipeline is destroyed). */
void approvals_detach(approvals *a);
void approvals_destroy(approvals **a);
/* The pufa_api_fn for pufa_status_http_set_api (ctx = the approvals). */
int approvals_serve(void *ctx, const pufa_http_request *req, pufa_buf *body,
                    const char **content_type);

/* Parses and checks a POST /v1/approvals body (len bytes, not
 * NUL-terminated) for an aggregator whose home is home: 0 with action,
 * org, month and reason of *q filled, or -1 with msg naming the field.
 * today: the city's day (no future month).  Pure: for the fuzzer. */
int approvals_parse_body(const pufa_orgunits *ou, const char *home, pufa_day today,
                         const char *body, size_t len, approval_req *q, char *msg, size_t msize);

#endif
