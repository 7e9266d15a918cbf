/* CURVE on the feeds (the aggregator's commit feed, the publisher's
 * Dashboard PUB): which endpoints may stay plaintext, the socket options of
 * a CURVE server (with ZAP) and client, and the rebind that makes every
 * subscriber handshake again after a key was revoked (zap.h). */
#ifndef PUFA_ZMQAUTH_H
#define PUFA_ZMQAUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Does endpoint stay on this host: ipc://, inproc://, or tcp:// on
 * 127.0.0.0/8, [::1] or localhost?  Only those may carry a feed in
 * plaintext without an explicit `insecure`. */
bool pufa_endpoint_local(const char *endpoint);

/* Makes sock a CURVE server with secret (Z85) whose peers ZAP domain
 * `domain` must admit (ZMQ_ZAP_ENFORCE_DOMAIN: no handler, nobody in).
 * Before zmq_bind.  0, or PUFA_EZMQ with err. */
int pufa_zmq_curve_server(void *sock, const char *secret, const char *domain, char *err,
                          size_t errsize);

/* Makes sock a CURVE client of server_public with the pair public/secret
 * (all Z85).  Before zmq_connect.  0, or PUFA_EZMQ with err. */
int pufa_zmq_curve_client(void *sock, const char *server_public, const char *public_key,
                          const char *secret, char *err, size_t errsize);

/* Unbinds sock's bound endpoint `bound` (as ZMQ_LAST_ENDPOINT gave it: the
 * port resolved) and binds it again, retried for up to 2 s while the old
 * listener closes: every connection through it is dropped and its peer
 * handshakes again.  0, or PUFA_EZMQ with err. */
int pufa_zmq_rebind(void *sock, const char *bound, char *err, size_t errsize);

#endif
