#include "http_server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "metrics.h"
#include "status_http.h"

/* Connections waiting for a deadline sit in one of two FIFO lists (every
 * entry of a list got the same duration, so the front expires first). */
enum { WAIT_NONE, WAIT_HEAD, WAIT_BODY };

typedef struct conn {
    struct conn *prev, *next;
    int wait; /* WAIT_* */
    int64_t deadline_ms;
    int fd;
} conn;

typedef struct conn_list {
    conn *first, *last;
} conn_list;

struct pufa_http {
    struct MHD_Daemon *d;
    pufa_http_limits lim;
    MHD_AccessHandlerCallback fn;
    void *cls;
    MHD_RequestCompletedCallback done;
    void *done_cls;
    pthread_mutex_t mu; /* the lists, the counters and stop */
    pthread_cond_t cv;
    conn_list lists[3];
    uint64_t open, opened, deadline_closed, max_connections;
    bool stop;
    pthread_t reaper;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void unlink_conn(pufa_http *h, conn *k) {
    if (k->wait == WAIT_NONE)
        return;
    conn_list *l = &h->lists[k->wait];
    if (k->prev)
        k->prev->next = k->next;
    else
        l->first = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        l->last = k->prev;
    k->prev = k->next = NULL;
    k->wait = WAIT_NONE;
}

/* Under h->mu. */
static void arm(pufa_http *h, conn *k, int wait) {
    unlink_conn(h, k);
    if (wait == WAIT_NONE)
        return;
    k->wait = wait;
    k->deadline_ms =
        mono_ms() + (wait == WAIT_HEAD ? h->lim.head_timeout_ms : h->lim.body_timeout_ms);
    conn_list *l = &h->lists[wait];
    k->prev = l->last;
    if (l->last)
        l->last->next = k;
    else
        l->first = k;
    l->last = k;
}

/* Closes what missed its deadline: shutdown() makes the loop see the end of
 * the stream and close the connection on its own thread.  The fd is still
 * open here: microhttpd tells NOTIFY_CLOSED (which unlinks under h->mu)
 * before it closes the socket. */
static void *reaper_main(void *arg) {
    pufa_http *h = arg;
    int64_t tick = h->lim.head_timeout_ms < h->lim.body_timeout_ms ? h->lim.head_timeout_ms
                                                                   : h->lim.body_timeout_ms;
    tick = tick / 10 < 50 ? 50 : tick / 10 > 1000 ? 1000 : tick / 10;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        int64_t now = mono_ms();
        for (int w = WAIT_HEAD; w <= WAIT_BODY; w++) {
            conn *k;
            while ((k = h->lists[w].first) && k->deadline_ms <= now) {
                unlink_conn(h, k);
                shutdown(k->fd, SHUT_RDWR);
                h->deadline_closed++;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(tick % 1000) * 1000000L;
        ts.tv_sec += (time_t)(tick / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    pufa_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn *k = pufa_calloc(1, sizeof *k);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        pthread_mutex_lock(&h->mu);
        h->open++;
        h->opened++;
        if (k->fd >= 0)
            arm(h, k, WAIT_HEAD);
        pthread_mutex_unlock(&h->mu);
        *socket_context = k;
        return;
    }
    conn *k = *socket_context;
    if (!k)
        return;
    pthread_mutex_lock(&h->mu);
    unlink_conn(h, k);
    h->open--;
    pthread_mutex_unlock(&h->mu);
    free(k);
    *socket_context = NULL;
}

static conn *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls) {
    pufa_http *h = cls;
    conn *k = conn_of(c);
    if (k) {
        /* First call: the head is in, the body's deadline starts.  A call
         * without upload data after it: the request is complete. */
        pthread_mutex_lock(&h->mu);
        if (*con_cls == NULL)
            arm(h, k, WAIT_BODY);
        else if (*upload_size == 0)
            arm(h, k, WAIT_NONE);
        pthread_mutex_unlock(&h->mu);
    }
    return h->fn(h->cls, c, url, method, version, upload_data, upload_size, con_cls);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    pufa_http *h = cls;
    conn *k = conn_of(c);
    if (k) {
        /* Kept alive: the next request's head has its deadline from now. */
        pthread_mutex_lock(&h->mu);
        arm(h, k, WAIT_HEAD);
        pthread_mutex_unlock(&h->mu);
    }
    if (h->done)
        h->done(h->done_cls, c, con_cls, toe);
}

uint64_t pufa_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
        struct rlimit nr = {.rlim_cur = want, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nr) == 0)
            rl.rlim_cur = want;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1048576 : (uint64_t)rl.rlim_cur;
}

/* Descriptors kept back from the cap for the database, ZeroMQ, the spool
 * and log files. */
#define FD_RESERVE 256

int pufa_http_start(const char *addr, const pufa_http_limits *lim, MHD_AccessHandlerCallback fn,
                    void *cls, MHD_RequestCompletedCallback done, void *done_cls, pufa_http **out,
                    int *port, char *err, size_t errsize) {
    struct sockaddr_storage ss;
    unsigned sslen;
    if (pufa_parse_hostport(addr, &ss, &sslen)) {
        snprintf(err, errsize, "bad HTTP address '%s' (want HOST:PORT, e.g. 127.0.0.1:7800)",
                 addr ? addr : "");
        return PUFA_EINVAL;
    }
    if (lim->threads < 1 || lim->threads > 64 || lim->head_timeout_ms <= 0 ||
        lim->body_timeout_ms <= 0 || lim->idle_timeout_ms <= 0 || lim->per_ip < 0 ||
        lim->max_connections < 0 || lim->conn_memory < 0) {
        snprintf(err, errsize,
                 "http limits: threads 1..64, timeouts > 0, per_ip, max_connections and "
                 "conn_memory >= 0");
        return PUFA_EINVAL;
    }
    uint64_t nofile = pufa_raise_nofile();
    uint64_t fit = nofile > FD_RESERVE + 16 ? nofile - FD_RESERVE : 16;
    uint64_t cap = lim->max_connections ? (uint64_t)lim->max_connections : fit;
    if (cap > fit) {
        PLOG_WARN("HTTP-CAP", "addr=%s max_connections=%llu nofile=%llu using=%llu", addr,
                  (unsigned long long)cap, (unsigned long long)nofile, (unsigned long long)fit);
        cap = fit;
    }
    if (cap < (uint64_t)lim->threads)
        cap = (uint64_t)lim->threads;
    pufa_http *h = pufa_calloc(1, sizeof *h);
    h->lim = *lim;
    h->fn = fn;
    h->cls = cls;
    h->done = done;
    h->done_cls = done_cls;
    h->max_connections = cap;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned idle_s = (unsigned)((lim->idle_timeout_ms + 999) / 1000);
    /* Options microhttpd takes only when they differ from its defaults. */
    struct MHD_OptionItem ops[3];
    size_t nops = 0;
    if (lim->threads > 1)
        ops[nops++] =
            (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)lim->threads, NULL};
    if (lim->conn_memory)
        ops[nops++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                              (intptr_t)lim->conn_memory, NULL};
    ops[nops] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        h, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cap, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)lim->per_ip, MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_ARRAY, ops,
        MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errsize, "cannot listen on %s for HTTP", addr);
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return PUFA_EIO;
    }
    if (pthread_create(&h->reaper, NULL, reaper_main, h)) {
        snprintf(err, errsize, "cannot start the HTTP deadline thread");
        MHD_stop_daemon(h->d);
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return PUFA_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : 0;
    *out = h;
    return 0;
}

void pufa_http_stop(pufa_http **ph) {
    if (!ph || !*ph)
        return;
    pufa_http *h = *ph;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->reaper, NULL);
    MHD_stop_daemon(h->d);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    *ph = NULL;
}

void pufa_http_get_stats(pufa_http *h, pufa_http_stats *out) {
    pthread_mutex_lock(&h->mu);
    out->open = h->open;
    out->opened = h->opened;
    out->deadline_closed = h->deadline_closed;
    out->max_connections = h->max_connections;
    out->per_ip = (uint64_t)h->lim.per_ip;
    pthread_mutex_unlock(&h->mu);
}

void pufa_http_metrics(pufa_http *h, pufa_buf *b, const char *prefix) {
    pufa_http_stats st;
    pufa_http_get_stats(h, &st);
    char name[128];
    snprintf(name, sizeof name, "%s_http_connections", prefix);
    pufa_metric_help(b, name, "gauge", "HTTP connections open now.");
    pufa_metric_u64(b, name, NULL, st.open);
    snprintf(name, sizeof name, "%s_http_connections_max", prefix);
    pufa_metric_help(b, name, "gauge", "HTTP connections at most (sized to the fd limit).");
    pufa_metric_u64(b, name, NULL, st.max_connections);
    snprintf(name, sizeof name, "%s_http_connections_per_ip_max", prefix);
    pufa_metric_help(b, name, "gauge", "HTTP connections from one address at most (0: none).");
    pufa_metric_u64(b, name, NULL, st.per_ip);
    snprintf(name, sizeof name, "%s_http_connections_total", prefix);
    pufa_metric_help(b, name, "counter", "HTTP connections accepted.");
    pufa_metric_u64(b, name, NULL, st.opened);
    snprintf(name, sizeof name, "%s_http_deadline_closed_total", prefix);
    pufa_metric_help(b, name, "counter",
                     "HTTP connections closed for not sending the request head or body in time.");
    pufa_metric_u64(b, name, NULL, st.deadline_closed);
}
