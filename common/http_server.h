/* The one way the services run libmicrohttpd: an event loop (epoll) on a
 * few threads instead of a thread per connection, and limits that keep it
 * answering when clients misbehave:
 *   - per_ip: connections from one address at most (more are closed at
 *     accept, before a byte is read);
 *   - max_connections: all connections at most, sized to the fd limit (the
 *     soft RLIMIT_NOFILE is raised to the hard one first);
 *   - head_timeout: the request head must be complete this long after the
 *     connection opened or the previous answer finished;
 *   - body_timeout: the request body must be complete this long after the
 *     head.  Both are deadlines, not idle timeouts: a client trickling a
 *     byte a second is closed at them all the same;
 *   - idle_timeout: microhttpd's own inactivity timeout (also for writes).
 * The deadlines end once the request is in: a long answer (SSE) is not cut
 * by them (the idle timeout still closes a reader that stalls).  Handlers run on the loop threads:
 * one that blocks stalls the other connections of its thread. */
#ifndef PUFA_HTTP_SERVER_H
#define PUFA_HTTP_SERVER_H

#include <microhttpd.h>
#include <stdint.h>

#include "alloc.h"
#include "config.h"

typedef struct pufa_http_limits {
    int64_t threads;         /* event-loop threads, >= 1 */
    int64_t max_connections; /* 0: the fd limit less a reserve */
    int64_t per_ip;          /* 0: no limit per address */
    int64_t head_timeout_ms; /* > 0 */
    int64_t body_timeout_ms; /* > 0 */
    int64_t idle_timeout_ms; /* > 0; microhttpd counts whole seconds */
    int64_t conn_memory;     /* bytes of microhttpd memory per connection; 0: its default */
} pufa_http_limits;

/* The config-table rows of the limits (common/config.h), the same names in
 * every service: http_threads, http_max_connections, http_per_ip,
 * http_head_timeout, http_body_timeout, http_idle_timeout,
 * http_conn_memory.  THREADS, PER_IP and MEM are the service's defaults. */
#define PUFA_HTTP_CFG_OPTS(lim, THREADS, PER_IP, MEM)                                              \
    {"http_threads",                                                                               \
     PUFA_CFG_INT,                                                                                 \
     &(lim).threads,                                                                               \
     THREADS,                                                                                      \
     1,                                                                                            \
     64,                                                                                           \
     "HTTP event-loop threads (epoll; no thread per connection)",                                  \
     0},                                                                                           \
        {"http_max_connections",                                                                   \
         PUFA_CFG_INT,                                                                             \
         &(lim).max_connections,                                                                   \
         "0",                                                                                      \
         0,                                                                                        \
         10000000,                                                                                 \
         "HTTP connections at most; 0: the open-file limit (raised to its hard limit) less 256",   \
         0},                                                                                       \
        {"http_per_ip",                                                                            \
         PUFA_CFG_INT,                                                                             \
         &(lim).per_ip,                                                                            \
         PER_IP,                                                                                   \
         0,                                                                                        \
         10000000,                                                                                 \
         "HTTP connections from one address at most (more are closed at once); 0: no limit, "      \
         "e.g. behind a proxy",                                                                    \
         0},                                                                                       \
        {"http_head_timeout",                                                                      \
         PUFA_CFG_MS,                                                                              \
         &(lim).head_timeout_ms,                                                                   \
         "10s",                                                                                    \
         100,                                                                                      \
         3600000,                                                                                  \
         "deadline for a request head, from the connection or the previous answer",                \
         0},                                                                                       \
        {"http_body_timeout",                                                                      \
         PUFA_CFG_MS,                                                                              \
         &(lim).body_timeout_ms,                                                                   \
         "60s",                                                                                    \
         100,                                                                                      \
         3600000,                                                                                  \
         "deadline for a request body, from its head",                                             \
         0},                                                                                       \
        {"http_idle_timeout",                                                                      \
         PUFA_CFG_MS,                                                                              \
         &(lim).idle_timeout_ms,                                                                   \
         "30s",                                                                                    \
         1000,                                                                                     \
         3600000,                                                                                  \
         "an HTTP connection without traffic either way for this long is closed",                  \
         0},                                                                                       \
    {                                                                                              \
        "http_conn_memory", PUFA_CFG_SIZE, &(lim).conn_memory, MEM, 0, 16777216,                   \
            "buffer memory per HTTP connection (head, answer); 0: microhttpd's 32 KiB", 0          \
    }

typedef struct pufa_http_stats {
    uint64_t open;            /* connections open now */
    uint64_t opened;          /* connections accepted since start */
    uint64_t deadline_closed; /* closed at the head or body deadline */
    uint64_t max_connections; /* the cap in force */
    uint64_t per_ip;          /* the per-address limit in force (0: none) */
} pufa_http_stats;

typedef struct pufa_http pufa_http;

/* Starts a server on addr ("HOST:PORT", port 0 picks one).  fn is the
 * access handler (cls its argument); done, when not NULL, is called when a
 * request ends (done_cls its argument).  *port gets the bound port.  0,
 * PUFA_EINVAL (bad address or limits) or PUFA_EIO (cannot listen), with err
 * filled.  Stop with pufa_http_stop. */
int pufa_http_start(const char *addr, const pufa_http_limits *lim, MHD_AccessHandlerCallback fn,
                    void *cls, MHD_RequestCompletedCallback done, void *done_cls, pufa_http **out,
                    int *port, char *err, size_t errsize);
/* Stops the server and frees it; accepts NULL and sets *h to NULL. */
void pufa_http_stop(pufa_http **h);

void pufa_http_get_stats(pufa_http *h, pufa_http_stats *out);
/* Writes the server's gauges and counters as PREFIX_http_connections ...
 * into b (Prometheus text). */
void pufa_http_metrics(pufa_http *h, pufa_buf *b, const char *prefix);

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit
 * in force afterwards. */
uint64_t pufa_raise_nofile(void);

#endif
