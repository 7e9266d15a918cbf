/* Unit test: the SSE fan-out (publisher/sse.c) on a real microhttpd loop
 * with one thread and a real live state.  The test holds that thread in a
 * request handler, so that streams woken for a fan-out wait to be served:
 * a change made meanwhile is what they get (the newest event, once each,
 * never the one the fan-out began with), and the next fan-out wakes only
 * the streams still behind. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_server.h"
#include "live.h"
#include "sse.h"
#include "testlib.h"

typedef struct ctx {
    pub_sse *sse;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int held;     /* times the loop thread entered /hold */
    int released; /* times the test let it go on */
} ctx;

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *text) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls) {
    (void)method, (void)version, (void)upload_data, (void)upload_size;
    ctx *x = cls;
    if (*con_cls == NULL) {
        *con_cls = x; /* the head is in; answered on the next call */
        return MHD_YES;
    }
    if (!strcmp(url, "/v1/stream")) {
        enum MHD_Result ret = MHD_NO;
        if (!pub_sse_open(x->sse, c, &ret))
            return answer(c, 503, "too many live streams\n");
        return ret;
    }
    if (!strcmp(url, "/hold")) {
        /* The loop's only thread waits here until the test releases it. */
        pthread_mutex_lock(&x->mu);
        int round = x->held++;
        pthread_cond_broadcast(&x->cv);
        while (x->released <= round)
            pthread_cond_wait(&x->cv, &x->mu);
        pthread_mutex_unlock(&x->mu);
        return answer(c, 200, "released\n");
    }
    return answer(c, 404, "no such path\n");
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_get(int port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

/* The ids of the events in text ("id: N" lines), in order; returns how
 * many (at most max). */
static int event_ids(const char *text, long long *ids, int max) {
    int n = 0;
    for (const char *p = text; n < max && (p = strstr(p, "\nid: ")); p++)
        ids[n++] = atoll(p + 5);
    return n;
}

/* Reads fd into b until it holds `want` events (wait_ms at most). */
static int read_events(int fd, pufa_buf *b, int want, int64_t wait_ms) {
    long long ids[16];
    int64_t until = now_ms() + wait_ms;
    for (;;) {
        pufa_buf_reserve(b, 1);
        b->data[b->len] = '\0';
        int have = event_ids(b->data, ids, 16);
        if (have >= want || now_ms() >= until)
            return have;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) == 1) {
            pufa_buf_reserve(b, 4096);
            ssize_t k = recv(fd, b->data + b->len, 4096, 0);
            if (k <= 0)
                return have;
            b->len += (size_t)k;
        }
    }
}

enum { N = 3 };

static long long metric(pub_sse *s, const char *name) {
    pufa_buf b;
    pufa_buf_init(&b);
    pub_sse_metrics(s, &b);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(b.data, key);
    long long v = at ? atoll(at + strlen(key)) : -1;
    pufa_buf_free(&b);
    return v;
}

/* Polls the metric until it is want (10 s at most); returns its value. */
static long long wait_metric(pub_sse *s, const char *name, long long want) {
    int64_t until = now_ms() + 10000;
    long long v;
    while ((v = metric(s, name)) != want && now_ms() < until) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    return v;
}

/* Once every stream is idle (caught up, suspended), holds the loop's
 * thread in /hold; returns the connection, to close after release(). */
static int hold(ctx *x, int port) {
    assert_int_equal(wait_metric(x->sse, "pufa_publisher_streams_idle", N), N);
    pthread_mutex_lock(&x->mu);
    int round = x->held;
    pthread_mutex_unlock(&x->mu);
    int fd = connect_get(port, "/hold");
    pthread_mutex_lock(&x->mu);
    while (x->held == round)
        pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
    return fd;
}

static void release(ctx *x) {
    pthread_mutex_lock(&x->mu);
    x->released++;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static void a_change_mid_fanout_reaches_the_streams_not_yet_served(void **state) {
    (void)state;
    pub_live *l = pub_live_new();
    pub_live_snapshot_loaded(l, 0.0);
    uint64_t v0;
    free(pub_live_event(l, &v0));
    ctx x = {0};
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv, NULL);
    pub_sse_config cfg = {.max_streams = 16,
                          .keepalive_ms = 60000,
                          .stall_ms = 60000,
                          .buffer_bytes = 0,
                          .min_interval_ms = 0};
    x.sse = pub_sse_new(l, &cfg);
    pufa_http_limits lim = {.threads = 1,
                            .head_timeout_ms = 60000,
                            .body_timeout_ms = 60000,
                            .idle_timeout_ms = 600000};
    pufa_http *h = NULL;
    int port = 0;
    char err[256];
    assert_int_equal(
        pufa_http_start("127.0.0.1:0", &lim, on_access, &x, NULL, NULL, &h, &port, err, sizeof err),
        0);

    int fd[N];
    pufa_buf got[N];
    long long ids[16];
    for (int i = 0; i < N; i++) {
        pufa_buf_init(&got[i]);
        fd[i] = connect_get(port, "/v1/stream");
        assert_int_equal(read_events(fd[i], &got[i], 1, 10000), 1);
        assert_int_equal(strncmp(got[i].data, "HTTP/1.1 200", 12), 0);
        event_ids(got[i].data, ids, 16);
        assert_int_equal(ids[0], (long long)v0);
    }
    assert_int_equal(metric(x.sse, "pufa_publisher_stream_fanouts_total"), 0);

    /* Hold the loop: from now on woken streams wait to be served. */
    int held = hold(&x, port);

    /* v1: a fan-out begins and wakes the three streams. */
    pub_live_snapshot_loaded(l, 0.0);
    assert_int_equal(wait_metric(x.sse, "pufa_publisher_stream_fanouts_total", 1), 1);
    assert_int_equal(metric(x.sse, "pufa_publisher_stream_events_total"), 1);
    /* v2 while that fan-out has served none of them. */
    pub_live_snapshot_loaded(l, 0.0);
    uint64_t v2;
    free(pub_live_event(l, &v2));
    assert_int_equal(wait_metric(x.sse, "pufa_publisher_stream_events_total", 2), 2);
    assert_int_equal(metric(x.sse, "pufa_publisher_stream_events_mid_fanout_total"), 1);

    release(&x);
    close(held);
    /* Each stream gets v2 once, never v1: the newest when it is served. */
    for (int i = 0; i < N; i++) {
        assert_int_equal(read_events(fd[i], &got[i], 2, 10000), 2);
        assert_int_equal(event_ids(got[i].data, ids, 16), 2);
        assert_int_equal(ids[1], (long long)v2);
    }
    /* The fan-out is done when its streams have the newer event. */
    assert_int_equal(wait_metric(x.sse, "pufa_publisher_stream_fanout_seconds_count", 1), 1);

    /* v3: one more fan-out, which wakes all three (held again, so that
     * each is suspended); the pass for v2 found none behind and woke none,
     * so two in all. */
    held = hold(&x, port);
    pub_live_snapshot_loaded(l, 0.0);
    uint64_t v3;
    free(pub_live_event(l, &v3));
    assert_int_equal(wait_metric(x.sse, "pufa_publisher_stream_fanouts_total", 2), 2);
    release(&x);
    close(held);
    for (int i = 0; i < N; i++) {
        assert_int_equal(read_events(fd[i], &got[i], 3, 10000), 3);
        assert_int_equal(event_ids(got[i].data, ids, 16), 3);
        assert_int_equal(ids[2], (long long)v3);
    }
    assert_int_equal(wait_metric(x.sse, "pufa_publisher_stream_fanout_seconds_count", 2), 2);
    assert_int_equal(metric(x.sse, "pufa_publisher_stream_fanouts_total"), 2);
    assert_int_equal(metric(x.sse, "pufa_publisher_stream_events_total"), 3);
    assert_int_equal(metric(x.sse, "pufa_publisher_stream_fanouts_cut_total"), 0);
    /* Only v2 came during a fan-out (v3 after the streams had v2). */
    assert_int_equal(metric(x.sse, "pufa_publisher_stream_events_mid_fanout_total"), 1);
    /* Nothing more was sent to any stream (none is due: keep-alives are a
     * minute apart). */
    for (int i = 0; i < N; i++) {
        assert_int_equal(read_events(fd[i], &got[i], 4, 200), 3);
        assert_int_equal(event_ids(got[i].data, ids, 16), 3);
    }

    for (int i = 0; i < N; i++) {
        close(fd[i]);
        pufa_buf_free(&got[i]);
    }
    pub_sse_stop(x.sse);
    pufa_http_stop(&h);
    pub_sse_destroy(&x.sse);
    pub_live_destroy(&l);
    pthread_cond_destroy(&x.cv);
    pthread_mutex_destroy(&x.mu);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_change_mid_fanout_reaches_the_streams_not_yet_served),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
