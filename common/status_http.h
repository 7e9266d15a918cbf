/* A small HTTP server on its own thread (microhttpd) for /metrics, /healthz
 * and /readyz of services whose main loop is not libuv. */
#ifndef PUFA_STATUS_HTTP_H
#define PUFA_STATUS_HTTP_H

#include <stddef.h>

#include "alloc.h"

/* Fills body and returns the HTTP status; *content_type is static text.
 * Called on the server's thread. */
typedef int (*pufa_status_fn)(void *ctx, const char *method, const char *path, pufa_buf *body,
                              const char **content_type);

typedef struct pufa_status_http pufa_status_http;

/* A request to an API path (see pufa_status_http_set_api).  Valid only
 * during the call. */
typedef struct pufa_http_request {
    const char *method, *path;
    const char *authorization; /* the Authorization header, or NULL */
    const char *content_type;  /* or NULL */
    const char *body;          /* NUL-terminated; body_len bytes (may hold NULs) */
    size_t body_len;
    void *conn; /* for pufa_http_arg */
} pufa_http_request;
/* A query argument of req ("org" in ?org=150821), or NULL. */
const char *pufa_http_arg(const pufa_http_request *req, const char *name);
/* Fills body and returns the HTTP status, like pufa_status_fn; the body of
 * a request over max_body never reaches it (413). */
typedef int (*pufa_api_fn)(void *ctx, const pufa_http_request *req, pufa_buf *body,
                           const char **content_type);

/* addr is "HOST:PORT" ("127.0.0.1:0", "[::1]:9100"); port 0 picks a free
 * port.  *bound_port gets the port.  0, PUFA_EINVAL (bad address) or
 * PUFA_EIO (cannot listen), with err filled. */
int pufa_status_http_open(const char *addr, pufa_status_fn fn, void *ctx, pufa_status_http **out,
                          int *bound_port, char *err, size_t errsize);
/* Sends every request whose path starts with prefix ("/v1/") to fn, with
 * its body (at most max_body bytes).  Once per server (a second call
 * changes nothing); until then such paths go to the status function. */
void pufa_status_http_set_api(pufa_status_http *h, const char *prefix, size_t max_body,
                              pufa_api_fn fn, void *ctx);
/* Stops the server, frees it and sets *h to NULL; accepts NULL. */
void pufa_status_http_close(pufa_status_http **h);

/* Parses "HOST:PORT" / "[V6]:PORT" into a sockaddr_storage; 0 or PUFA_EINVAL. */
struct sockaddr_storage;
int pufa_parse_hostport(const char *addr, struct sockaddr_storage *ss, unsigned *len);

#endif
