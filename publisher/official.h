/* Official figures on the read-only publisher: GET /v1/official?org=&month=
 * splits a period's totals into the counties whose month is approved (or
 * accepted: frozen, the agreed figures) and the others (provisional), read
 * from PostgreSQL (periods written by the aggregator, rollup_live). */
#ifndef PUB_OFFICIAL_H
#define PUB_OFFICIAL_H

#include <jansson.h>
#include <stddef.h>

/* org: a unit code (its counties are summed); month: "YYYY-MM".  Returns
 * the HTTP status: 200 with *out (caller decrefs), 400 with msg naming the
 * field, 503 with msg when the database fails. */
int pub_official(const char *db, const char *org, const char *month, json_t **out, char *msg,
                 size_t msize);

#endif
