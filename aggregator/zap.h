/* The aggregator's ZAP handler (ZeroMQ RFC 27): admits CURVE clients whose
 * public key is in the allow-list file, one "PUBLICKEY CODE" line each (a
 * '#' at the start of a line or after white space starts a comment: Z85
 * keys may themselves contain '#').  CODE is the org unit the key is bound
 * to: a county, city, province or the nation; the key may report for every
 * county under it (ingest.c checks each report).  The reply's user id is
 * that code (read per message as the "User-Id" property), and the key itself travels as the
 * "X-Pufa-Key" property so every message can be checked against the
 * current list: a key removed from the file (then SIGHUP) can no longer
 * deliver, even on a connection opened before.  Started before the ROUTER
 * binds; the ROUTER sets ZMQ_ZAP_ENFORCE_DOMAIN so that without a handler
 * nobody gets in; if the handler's thread ends, the service stops. */
#ifndef AGG_ZAP_H
#define AGG_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgunits.h"

#define ZAP_DOMAIN "pufa"

typedef struct zap zap;

/* Loads the allow-list and starts the handler thread; close with zap_close
 * (stops and joins it, frees, sets *z to NULL; accepts NULL).  orgunits
 * (kept, not copied: it must outlive the handler) and home, when given,
 * check every code of the list: an org unit whose counties overlap the
 * home's. */
int zap_open(void *zctx, const char *allow_list, const pufa_orgunits *orgunits, const char *home,
             zap **out, char *err, size_t errsize);
/* Re-reads the allow-list; on error the old list stays. */
int zap_reload(zap *z, char *err, size_t errsize);
/* Is key (Z85) still allowed, bound to this org unit? */
bool zap_allowed(zap *z, const char *key, const char *county);
bool zap_alive(zap *z);
size_t zap_keys(zap *z);
void zap_counts(zap *z, uint64_t *accepted, uint64_t *denied);
void zap_close(zap **z);

/* The verdict on one ZAP request (frames as received: version, request id,
 * domain, address, routing id, mechanism, credentials...), against the
 * listed keys.  200 with county and key (Z85) filled, or 400 with why.
 * Pure: exposed for tests and the fuzzer. */
int zap_decide(const char (*keys)[41], const char (*counties)[7], size_t nkeys,
               const uint8_t *const *frames, const size_t *lens, int nframes, char county[7],
               char key[41], const char **why);

/* Parses an allow-list text; exposed for tests.  Returns the number of keys
 * or a negative PUFA_E* with err naming the line. */
int zap_parse_allow_list(const char *text, char (*keys)[41], char (*counties)[7], size_t max,
                         char *err, size_t errsize);

#endif
