/* A minimal HTTP/1.1 client for the pufa tool (plain HTTP to a collector on
 * the county's network; one request per connection). */
#ifndef PUFA_HTTPC_H
#define PUFA_HTTPC_H

#include <stddef.h>

#include "alloc.h"

typedef struct pufa_http_response {
    int status;
    pufa_buf body;
} pufa_http_response;

/* url: http://HOST:PORT/path.  headers: extra "Name: value\r\n" lines or
 * NULL.  0, PUFA_EINVAL (bad URL), PUFA_EIO (connect/read failed) or
 * PUFA_ETIMEDOUT, with err filled.  Free resp->body. */
int pufa_http_request(const char *method, const char *url, const char *headers, const char *body,
                      size_t len, int timeout_ms, pufa_http_response *resp, char *err,
                      size_t errsize);

#endif
