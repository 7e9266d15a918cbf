#include "status_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"
#include "http_server.h"

typedef struct api_route {
    char prefix[32];
    size_t max_body;
    pufa_api_fn fn;
    void *ctx;
} api_route;

struct pufa_status_http {
    pufa_http *srv;
    pufa_status_fn fn;
    void *ctx;
    _Atomic(api_route *) api; /* set once, read by the server's thread */
};

/* One API request in progress: its body so far. */
typedef struct api_call {
    pufa_buf body;
    bool too_big;
} api_call;

int pufa_parse_hostport(const char *addr, struct sockaddr_storage *ss, unsigned *len) {
    char host[128];
    const char *port;
    memset(ss, 0, sizeof *ss);
    if (!addr)
        return PUFA_EINVAL;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof host)
            return PUFA_EINVAL;
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= sizeof host)
            return PUFA_EINVAL;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return PUFA_EINVAL;
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *len = sizeof *v6;
        return 0;
    }
    return PUFA_EINVAL;
}

const char *pufa_http_arg(const pufa_http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result reply(struct MHD_Connection *conn, int status, pufa_buf *body,
                             const char *ctype) {
    size_t len = body->len;
    char *data = pufa_buf_steal(body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result on_api(api_route *api, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
    api_call *call = *con_cls;
    if (call == NULL) {
        call = pufa_calloc(1, sizeof *call);
        pufa_buf_init(&call->body);
        *con_cls = call;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (call->body.len + *upload_data_size > api->max_body)
            call->too_big = true; /* read and dropped: the answer is 413 */
        else
            pufa_buf_append(&call->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    pufa_buf out;
    pufa_buf_init(&out);
    const char *ctype = "application/json; charset=utf-8";
    int status;
    if (call->too_big) {
        pufa_buf_printf(&out, "{\"error\":\"body: larger than %zu bytes\"}\n", api->max_body);
        status = 413;
    } else {
        pufa_buf_putc(&call->body, '\0');
        call->body.len--;
        pufa_http_request req = {.method = method,
                                 .path = url,
                                 .authorization = MHD_lookup_connection_value(
                                     conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                                 .content_type = MHD_lookup_connection_value(
                                     conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                                 .body = call->body.data ? call->body.data : "",
                                 .body_len = call->body.len,
                                 .conn = conn};
        status = api->fn(api->ctx, &req, &out, &ctype);
    }
    return reply(conn, status, &out, ctype);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    pufa_status_http *h = cls;
    if (*con_cls && *con_cls != h) {
        api_call *call = *con_cls;
        pufa_buf_free(&call->body);
        free(call);
    }
    *con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    pufa_status_http *h = cls;
    api_route *api = atomic_load(&h->api);
    if (api && (*con_cls == NULL || *con_cls != h) &&
        !strncmp(url, api->prefix, strlen(api->prefix)))
        return on_api(api, conn, url, method, upload_data, upload_data_size, con_cls);
    if (*con_cls == NULL) {
        *con_cls = h; /* first call: headers only */
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* ignore bodies */
        return MHD_YES;
    }
    pufa_buf body;
    pufa_buf_init(&body);
    const char *ctype = "text/plain; charset=utf-8";
    int status = h->fn(h->ctx, method, url, &body, &ctype);
    return reply(conn, status, &body, ctype);
}

int pufa_status_http_open(const char *addr, pufa_status_fn fn, void *ctx, pufa_status_http **out,
                          int *bound_port, char *err, size_t errsize) {
    pufa_status_http *h = pufa_calloc(1, sizeof *h);
    h->fn = fn;
    h->ctx = ctx;
    /* Status pages are small and read by a scraper or two: one loop
     * thread, few connections, short deadlines. */
    pufa_http_limits lim = {.threads = 1,
                            .max_connections = 64,
                            .per_ip = 32,
                            .head_timeout_ms = 10000,
                            .body_timeout_ms = 10000,
                            .idle_timeout_ms = 10000};
    int rc = pufa_http_start(addr, &lim, on_request, h, on_completed, h, &h->srv, bound_port, err,
                             errsize);
    if (rc) {
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void pufa_status_http_set_api(pufa_status_http *h, const char *prefix, size_t max_body,
                              pufa_api_fn fn, void *ctx) {
    api_route *r = pufa_calloc(1, sizeof *r);
    pufa_copy(r->prefix, sizeof r->prefix, prefix);
    r->max_body = max_body;
    r->fn = fn;
    r->ctx = ctx;
    api_route *none = NULL;
    if (!atomic_compare_exchange_strong(&h->api, &none, r))
        free(r); /* set once: the first route stays (requests may be using it) */
}

void pufa_status_http_close(pufa_status_http **ph) {
    if (!ph || !*ph)
        return;
    pufa_http_stop(&(*ph)->srv);
    free(atomic_load(&(*ph)->api));
    free(*ph);
    *ph = NULL;
}
