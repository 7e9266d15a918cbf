/* Dashboards on the publisher's own ZeroMQ PUB socket: topic "city" and
 * "county.CODE" for each county, each a Dashboard (proto/pufa.proto) with
 * the totals and breakdowns of every standard window.  Its thread publishes
 * after the live state changes (at most once per publish_min) and at least
 * once per heartbeat, from the first snapshot on.  With CURVE, only the
 * subscribers on the zap's ZAP_DOMAIN_FEED list get in, and a reload that
 * drops one rebinds the socket (zap.h): its feed stops. */
#ifndef PUB_DASHBOARD_PUB_H
#define PUB_DASHBOARD_PUB_H

#include <stddef.h>
#include <stdint.h>

#include "live.h"
#include "windows.h"
#include "zap.h"

typedef struct pub_dashboard_pub_config {
    const char *endpoint;   /* where to bind, e.g. tcp://127.0.0.1:7801 */
    int64_t publish_min_ms; /* least time between two publications */
    int64_t heartbeat_ms;   /* most time between two publications */
    const pub_windows *windows;
    const char *curve_secret; /* CURVE server secret (Z85), or NULL: plaintext */
    zap *zap;                 /* with curve_secret: its ZAP_DOMAIN_FEED list admits */
} pub_dashboard_pub_config;

typedef struct pub_dashboard_pub pub_dashboard_pub;

/* Binds the socket and starts the thread; 0, or PUFA_EZMQ/PUFA_ESYS with
 * err filled.  live and cfg->windows must outlive it. */
int pub_dashboard_pub_open(const pub_dashboard_pub_config *cfg, void *zctx, pub_live *live,
                           pub_dashboard_pub **out, char *err, size_t errsize);
/* Stops the thread, closes the socket and frees; accepts NULL and sets *d
 * to NULL. */
void pub_dashboard_pub_close(pub_dashboard_pub **d);

#endif
