/* The aggregator's feed of committed deltas: a PUB socket with topic
 * "delta" (one encoded CommitDelta per transaction, in commit order) and
 * topic "hb" (a CommitDelta without cells repeating the last sequence number
 * sent).  The writer thread sends each delta right after its COMMIT; the I/O
 * thread sends the heartbeats.  Thread-safe: one mutex around the socket,
 * so a heartbeat never announces a sequence number before its delta. */
#ifndef AGG_DELTA_PUB_H
#define AGG_DELTA_PUB_H

#include <stddef.h>
#include <stdint.h>

#include "zap.h"

typedef struct delta_pub delta_pub;

/* Binds endpoint and logs the bound one (id=AGG-FEED).  With curve_secret
 * (Z85, this aggregator's key), a CURVE server whose subscribers zap's
 * ZAP_DOMAIN_FEED list in z must admit (z's handler must already run: no
 * handler, nobody in); NULL: plaintext (z unused).  0, or PUFA_EZMQ with
 * err filled. */
int delta_pub_open(void *zctx, const char *endpoint, int64_t hwm, const char *curve_secret, zap *z,
                   delta_pub **out, char *err, size_t errsize);
/* Sends one committed delta (seq, its encoded bytes, heap: taken over and
 * freed by the feed, sent or not); never blocks. */
void delta_pub_delta(delta_pub *p, uint64_t seq, uint8_t *data, size_t len);
/* Sends a heartbeat with the last sequence number sent (0 before any). */
void delta_pub_heartbeat(delta_pub *p);
/* After a reload of zap: if a feed key was removed since the last bind,
 * unbinds and binds the feed again (under the mutex: no delta goes out
 * meanwhile), so every subscriber handshakes again against the new list (a
 * PUB cannot refuse one peer a message); the admitted ones reconnect and
 * see a gap: they resync.  Logs AGG-FEED-REBIND.  No-op in plaintext. */
void delta_pub_revoke(delta_pub *p);
/* Closes the socket and frees; accepts NULL and sets *p to NULL. */
void delta_pub_close(delta_pub **p);

#endif
