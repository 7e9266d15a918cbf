/* The ZAP handler (ZeroMQ RFC 27) of the aggregator and the publisher: admits CURVE clients whose
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
 * nobody gets in; if the handler's thread ends, the service stops.
 *
 * One handler per ZeroMQ context serves several ZAP domains, each with an
 * allow-list of its own in the same format: ZAP_DOMAIN for the collectors,
 * ZAP_DOMAIN_FEED for the subscribers of a feed (the aggregator's commit
 * feed, the publisher's Dashboard PUB).  A request for a domain without a
 * list is refused.  A PUB socket cannot refuse one message to one peer, so
 * its owner watches zap_revocations() and rebinds (pufa_zmq_rebind) when a
 * reload dropped a key: every subscriber handshakes again. */
#ifndef AGG_ZAP_H
#define AGG_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgunits.h"

#define ZAP_DOMAIN      "pufa"
#define ZAP_DOMAIN_FEED "pufa-feed"

typedef struct zap zap;

/* Loads the allow-list and starts the handler thread; close with zap_close
 * (stops and joins it, frees, sets *z to NULL; accepts NULL).  orgunits
 * (kept, not copied: it must outlive the handler) and home, when given,
 * check every code of the list: an org unit whose counties overlap the
 * home's. */
int zap_open(void *zctx, const char *allow_list, const pufa_orgunits *orgunits, const char *home,
             zap **out, char *err, size_t errsize);
/* Like zap_open, for the requests of ZAP domain `domain` only. */
int zap_open_domain(void *zctx, const char *domain, const char *allow_list,
                    const pufa_orgunits *orgunits, const char *home, zap **out, char *err,
                    size_t errsize);
/* Adds domain `domain` with its own allow-list (same checks); before any
 * socket of that domain binds.  0, or PUFA_ECONFIG/PUFA_EIO with err. */
int zap_add_domain(zap *z, const char *domain, const char *allow_list, char *err, size_t errsize);
/* Re-reads every domain's allow-list; a list with an error keeps its old
 * keys (err names it; the others are reloaded). */
int zap_reload(zap *z, char *err, size_t errsize);
/* Is key (Z85) still allowed, bound to this org unit? (the first domain) */
bool zap_allowed(zap *z, const char *key, const char *county);
bool zap_alive(zap *z);
/* Keys of the first domain; of domain `domain` (0 without one). */
size_t zap_keys(zap *z);
size_t zap_domain_keys(zap *z, const char *domain);
/* How many reloads of domain's list dropped a key that the list before held. */
uint64_t zap_revocations(zap *z, const char *domain);
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
