/* The collector's HTTP API (common/http_server.h: microhttpd's epoll loop
 * on http_threads threads; a POST waits for its fsync on one of them):
 *   POST /v1/reports        JSON object/array, JSON Lines, text/csv or XLSX
 *   GET  /v1/reports/{id}   delivery state
 *   GET  /v1/status         the link to the aggregator and the backlog
 *   GET  /v1/template.xlsx  the report template (template.h) for this county
 *   GET  /metrics, /healthz, /readyz */
#ifndef COL_HTTP_H
#define COL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "accept.h"
#include "http_server.h"
#include "sender.h"

typedef struct http_config {
    const char *addr;                               /* HOST:PORT */
    const char *token;                              /* bearer token; NULL or "" = none (insecure) */
    int64_t max_body;                               /* bytes */
    int64_t quota_bytes;                            /* for messages */
    const char *county, *collector_id, *aggregator; /* shown by /v1/status; county pre-filled in
                                                       the template */
    int64_t heartbeat_ms;    /* idle heartbeat period: 3 unanswered = link not answering */
    const char *county_name; /* may be NULL */
    const char *units_csv;   /* the template's responsible units; NULL or "" = none */
    pufa_http_limits limits;
} http_config;

typedef struct col_http col_http;

/* Starts the intake server (its own threads); *port gets the bound port.
 * Close with col_http_close, which stops it, frees it and sets *h to NULL. */
int col_http_open(const http_config *cfg, accept_ctx *actx, sender *snd, col_http **out, int *port,
                  char *err, size_t errsize);
void col_http_close(col_http **h);

#endif
