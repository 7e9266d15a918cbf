/* The targets (责任清单) as the publisher serves them: a thread with its
 * own read-only PostgreSQL session polls targets_state.version every
 * poll_ms and, when it changed (a `pufa migrate --targets` committed),
 * re-reads the targets table and the org units in one transaction.  So a
 * new load reaches /v1/targets within poll_ms, without a restart; a poll
 * that finds the same version costs one one-row query.  Thread-safe. */
#ifndef PUB_TARGETS_CACHE_H
#define PUB_TARGETS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgunits.h"
#include "targets.h"

typedef struct pub_targets pub_targets;

/* Starts the poller (the first read happens at once).  0 or PUFA_ESYS. */
int pub_targets_open(const char *db, int64_t poll_ms, pub_targets **out);
/* Stops the poller and frees; accepts NULL and sets *t to NULL. */
void pub_targets_close(pub_targets **t);

/* A consistent copy of what was read last: the targets of year whose
 * org_code is org or under it (org NULL: all), in (org_code, unit_code,
 * figure) order, and the org units.  *version: targets_state.version (0
 * with nothing read yet: then *loaded is false).  The caller frees *out
 * (pufa_targets_free) and *ou (pufa_orgunits_destroy). */
void pub_targets_get(pub_targets *t, int year, const char *org, pufa_targets *out,
                     pufa_orgunits **ou, uint64_t *version, bool *loaded);
/* A copy of the org units last read (caller destroys). */
pufa_orgunits *pub_targets_orgunits(pub_targets *t);
/* Is code an org unit the last read knew? */
bool pub_targets_org_known(pub_targets *t, const char *code);

#endif
