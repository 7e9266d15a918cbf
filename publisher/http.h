/* The publisher's HTTP API (common/http_server.h: microhttpd's epoll loop
 * on http_threads threads; SSE streams suspend between events, sse.h).
 *   GET /                     the web dashboard (embedded files)
 *   GET /v1/totals            ?window=7d&by=county[&org=CODE][&rank=FIGURE]
 *   GET /v1/children          [?org=CODE]: each child's link and 数据截至
 *   GET /v1/stream            Server-Sent Events: "update" on every change
 *   GET /v1/silent            ?days=N: who has not reported
 *   GET /v1/meta              windows, counties, labels for the page
 *   GET /v1/export.csv|.xlsx  ?window=..&by=.. (totals) or &detail=reports
 *   GET /v1/targets           ?year=YYYY[&org=CODE]: 责任清单 progress
 *   GET /v1/completeness      ?window=W[&org=CODE]: reporting rate and timeliness
 *   GET /v1/approvals         ?period=YYYY-MM[&org=CODE]: live approval states (audit.h)
 *   POST /v1/approvals        forwarded to the aggregator (proxy.h)
 *   GET /v1/audit, /v1/reports/{id}/history   (audit.h)
 *   GET /metrics, /healthz, /readyz
 * The publisher never writes PostgreSQL. */
#ifndef PUB_HTTP_H
#define PUB_HTTP_H

#include <stdint.h>

#include "http_server.h"
#include "live.h"
#include "targets_cache.h"
#include "windows.h"

typedef struct pub_http_config {
    const char *addr;
    const char *db;    /* for the report-level exports */
    const char *token; /* when set, the /v1 API needs it */
    int64_t max_streams;
    int64_t export_limit; /* reports in a detail export at most */
    int64_t keepalive_ms;
    int64_t link_timeout_ms;    /* /v1/children: a child unheard for longer is down */
    int64_t stream_stall_ms;    /* sse.h */
    int64_t stream_buffer;      /* bytes */
    int64_t stream_interval_ms; /* fan-outs at most this often */
    const char *approvals_url;  /* POST /v1/approvals goes there (proxy.h); NULL/"": 503 */
    int64_t approvals_timeout_ms;
    pufa_http_limits limits;
} pub_http_config;

typedef struct pub_http pub_http;

/* live and w must outlive the server. */
int pub_http_open(const pub_http_config *cfg, pub_live *live, const pub_windows *w, pub_http **out,
                  int *port, char *err, size_t errsize);
/* Serves /v1/targets and /v1/completeness (a unit's month is on time when
 * something of it was received by the month's end + timely_days) from t
 * (must outlive the server; set before requests). */
void pub_http_set_targets(pub_http *h, pub_targets *t, int timely_days);
/* Ends every stream (pub_live_stop), then stops the server and frees;
 * accepts NULL and sets *h to NULL. */
void pub_http_close(pub_http **h);

#endif
