#include "httpc.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"

static int wait_fd(int fd, short events, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r;
}

int pufa_http_request(const char *method, const char *url, const char *headers, const char *body,
                      size_t len, int timeout_ms, pufa_http_response *resp, char *err,
                      size_t errsize) {
    pufa_buf_init(&resp->body);
    resp->status = 0;
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, errsize, "URL must start with http:// (got %s)", url);
        return PUFA_EINVAL;
    }
    const char *hp = url + 7;
    const char *slash = strchr(hp, '/');
    const char *path = slash ? slash : "/";
    size_t hplen = slash ? (size_t)(slash - hp) : strlen(hp);
    char host[256], port[16] = "80";
    if (hplen >= sizeof host) {
        snprintf(err, errsize, "host name too long");
        return PUFA_EINVAL;
    }
    memcpy(host, hp, hplen);
    host[hplen] = '\0';
    char *h = host;
    if (h[0] == '[') {
        char *end = strchr(h, ']');
        if (!end) {
            snprintf(err, errsize, "bad IPv6 address in %s", url);
            return PUFA_EINVAL;
        }
        *end = '\0';
        if (end[1] == ':')
            snprintf(port, sizeof port, "%s", end + 2);
        h++;
    } else {
        char *colon = strrchr(h, ':');
        if (colon) {
            *colon = '\0';
            snprintf(port, sizeof port, "%s", colon + 1);
        }
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(h, port, &hints, &ai);
    if (gai) {
        snprintf(err, errsize, "cannot resolve %s: %s", h, gai_strerror(gai));
        return PUFA_EIO;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errsize, "cannot connect to %s:%s: %s", h, port, strerror(errno));
        return PUFA_EIO;
    }
    pufa_buf req;
    pufa_buf_init(&req);
    pufa_buf_printf(&req,
                    "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                    "User-Agent: pufa/%s\r\nContent-Length: %zu\r\n%s\r\n",
                    method, path, host, PUFA_VERSION, len, headers ? headers : "");
    if (len)
        pufa_buf_append(&req, body, len);
    size_t sent = 0;
    int rc = 0;
    while (sent < req.len) {
        if (wait_fd(fd, POLLOUT, timeout_ms) <= 0) {
            rc = PUFA_ETIMEDOUT;
            break;
        }
        ssize_t w = send(fd, req.data + sent, req.len - sent, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may have answered early (e.g. 413): read it */
        sent += (size_t)w;
    }
    pufa_buf_free(&req);
    pufa_buf raw;
    pufa_buf_init(&raw);
    while (rc == 0) {
        int r = wait_fd(fd, POLLIN, timeout_ms);
        if (r <= 0) {
            rc = PUFA_ETIMEDOUT;
            break;
        }
        char chunk[16384];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0) {
            if (raw.len == 0)
                rc = PUFA_EIO;
            break;
        }
        if (n == 0)
            break;
        pufa_buf_append(&raw, chunk, (size_t)n);
    }
    close(fd);
    if (rc) {
        snprintf(err, errsize, "%s %s: %s", method, url,
                 rc == PUFA_ETIMEDOUT ? "timed out" : "connection failed");
        pufa_buf_free(&raw);
        return rc;
    }
    const char *end = raw.data ? strstr(raw.data, "\r\n\r\n") : NULL;
    if (!end || sscanf(raw.data, "HTTP/1.%*d %d", &resp->status) != 1) {
        snprintf(err, errsize, "%s %s: not an HTTP response", method, url);
        pufa_buf_free(&raw);
        return PUFA_EIO;
    }
    pufa_buf_append(&resp->body, end + 4, raw.len - (size_t)(end + 4 - raw.data));
    pufa_buf_free(&raw);
    return 0;
}
