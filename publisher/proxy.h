/* POST /v1/approvals on the publisher, forwarded as is to the aggregator
 * (config approvals_url): the page is served by the publisher, so its
 * office buttons post to their own origin and the aggregator needs no CORS
 * (its approval API stays same-origin only, with no preflight or
 * credentialed cross-origin requests to get right).  The publisher writes
 * nothing: the aggregator checks the office's credential (HTTP Basic,
 * passed through untouched and never logged), decides and writes, and its
 * answer comes back with its status.  Bounded: the body at most
 * PROXY_MAX_BODY bytes (413 past it), one forward at most timeout_ms (504;
 * 502 when the aggregator cannot be reached).  The forward blocks one HTTP
 * thread for at most that long. */
#ifndef PUB_PROXY_H
#define PUB_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_MAX_BODY 16384

/* One request's body as it arrives (per connection). */
typedef struct pub_proxy_body {
    char data[PROXY_MAX_BODY + 1];
    size_t len;
    bool too_big;
} pub_proxy_body;

/* Appends a chunk (past PROXY_MAX_BODY: too_big, the rest dropped). */
void pub_proxy_body_add(pub_proxy_body *b, const char *data, size_t len);

/* Forwards body to url + "/v1/approvals" with the Authorization header
 * (basic: the client's "Basic ..." value, or NULL).  Returns the HTTP
 * status to answer and *answer (heap, caller frees; the aggregator's body,
 * or {"error":..} of the publisher's own), *answer_len. */
int pub_proxy_forward(const char *url, int64_t timeout_ms, const char *basic, const char *body,
                      size_t len, char **answer, size_t *answer_len);

#endif
