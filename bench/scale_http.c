/* bench/run.sh --sse N and --hostile N: HTTP at scale (bench/README.md).
 * Every figure printed is measured here, on this machine, in this run. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "bench.h"
#include "enums.h"
#include "proc.h"
#include "report_json.h"
#include "wire.h"

/* The run's, set on entry. */
static const char *build, *agg_ep, *feed_ep;
static void *zctx;

static void use_env(const bench_http_env *env) {
    build = env->build;
    zctx = env->zctx;
    agg_ep = env->agg_ep;
    feed_ep = env->feed_ep;
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* A connection from src to 127.0.0.1:port, or -1 (2 s at most). */
static int connect_from(const char *src, const char *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* The port is picked at connect, per destination: 10,000s of
     * connections from one address after as many closed ones. */
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    a.sin_port = htons((uint16_t)atoi(port));
    if (bind(
            fd,
            (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET, .sin_addr = a.sin_addr},
            sizeof a) != 0) {
        close(fd);
        return -1;
    }
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends req from src and reads the answer until the server closes (5 s at
 * most); returns the status (-1: none) and the milliseconds taken. */
static int timed_request(const char *src, const char *port, const char *req, size_t len, double *ms,
                         char **body) {
    long long t0 = pufa_mono_ms();
    int fd = connect_from(src, port);
    if (fd < 0) {
        *ms = (double)(pufa_mono_ms() - t0);
        return -1;
    }
    send(fd, req, len, MSG_NOSIGNAL);
    pufa_buf acc;
    pufa_buf_init(&acc);
    while (pufa_mono_ms() - t0 < 5000) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char chunk[8192];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        pufa_buf_append(&acc, chunk, (size_t)n);
    }
    *ms = (double)(pufa_mono_ms() - t0);
    close(fd);
    int status = acc.data && !strncmp(acc.data, "HTTP/1.", 7) ? atoi(acc.data + 9) : -1;
    if (body) {
        const char *b = acc.data ? strstr(acc.data, "\r\n\r\n") : NULL;
        *body = pufa_strdup(b ? b + 4 : "");
    }
    pufa_buf_free(&acc);
    return status;
}

static long long metric_from(const char *port, const char *name) {
    char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", *body;
    double ms;
    long long v = -1;
    if (timed_request("127.0.0.2", port, req, strlen(req), &ms, &body) == 200) {
        const char *at = strstr(body, name);
        while (at && at != body && at[-1] != '\n')
            at = strstr(at + 1, name);
        if (at)
            v = atoll(at + strlen(name));
    }
    free(body);
    return v;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, int p) {
    if (!n)
        return -1;
    size_t i = n * (size_t)p / 100;
    return v[i >= n ? n - 1 : i];
}

static void start_publisher(pufa_proc *p, char *port, size_t psize, char *const *extra) {
    char *dbinfo = pufa_asprintf("%s user=pufa_publisher", getenv("PUFA_TEST_DB"));
    char *bin = pufa_asprintf("%s/publisher/pufa-publisher", build);
    char *argv[32] = {bin,     "--feed", (char *)feed_ep, "--db",  dbinfo, "--http", "127.0.0.1:0",
                      "--pub", "",       "--home",        "100000"};
    int n = 11;
    for (int i = 0; extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pufa_proc_start(p, argv, NULL);
    if (!pufa_proc_wait_log(p, "id=PUB-HTTP", "port", port, psize, 10000) ||
        !pufa_proc_wait_log(p, "id=PUB-SNAPSHOT", NULL, NULL, 0, 600000)) {
        pufa_proc_dump(p);
        exit(1);
    }
    free(dbinfo);
    free(bin);
}

/* ---- --sse N ---- */

typedef struct sse_client {
    int fd;
    char buf[4096];
    size_t len;
    long long count; /* totals.all.reports of the last event, -1 before one */
    long long at;    /* when it arrived */
    int status;
} sse_client;

/* Reads what fd has; parses complete events. */
static void sse_read(sse_client *c) {
    for (;;) {
        if (c->len == sizeof c->buf - 1)
            c->len = 0; /* no event is this long: resynchronise */
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, MSG_DONTWAIT);
        if (n <= 0)
            return;
        long long now = pufa_mono_ms();
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        if (!c->status && !strncmp(c->buf, "HTTP/1.", 7))
            c->status = atoi(c->buf + 9);
        char *end;
        while ((end = strstr(c->buf, "\n\n"))) {
            *end = '\0';
            char *all = strstr(c->buf, "\"all\":");
            char *r = all ? strstr(all, "\"reports\":") : NULL;
            if (r) {
                c->count = atoll(r + 10);
                c->at = now;
            }
            size_t used = (size_t)(end + 2 - c->buf);
            memmove(c->buf, end + 2, c->len - used + 1);
            c->len -= used;
        }
    }
}

static void sse_pump(int ep, sse_client *cl, int timeout_ms) {
    struct epoll_event evs[512];
    int k = epoll_wait(ep, evs, 512, timeout_ms);
    for (int i = 0; i < k; i++)
        sse_read(&cl[evs[i].data.u32]);
}

void bench_sse(const bench_http_env *env, int n) {
    use_env(env);
    raise_nofile();
    pufa_proc p = {0};
    char port[16], nbuf[16];
    snprintf(nbuf, sizeof nbuf, "%d", n);
    const char *threads = getenv("PUFA_BENCH_HTTP_THREADS"); /* default: the publisher's */
    char *extra[] = {"--max-streams", nbuf, "--http-per-ip", "0", threads ? "--http-threads" : NULL,
                     (char *)threads, NULL};
    start_publisher(&p, port, sizeof port, extra);
    pufa_sleep_ms(500);
    long long rss0 = rss_kb(p.pid, "VmRSS:");
    sse_client *cl = pufa_calloc((size_t)n, sizeof *cl);
    int ep = epoll_create1(0);
    const char *req = "GET /v1/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    int connected = 0;
    long long t0 = pufa_mono_ms();
    for (int i = 0; i < n; i++) {
        cl[i].count = -1;
        cl[i].fd = connect_from("127.0.0.1", port);
        if (cl[i].fd < 0)
            continue;
        connected++;
        send(cl[i].fd, req, strlen(req), MSG_NOSIGNAL);
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &e);
        if (i % 256 == 0)
            sse_pump(ep, cl, 0);
    }
    /* Until every stream has its first event (60 s at most). */
    int have = 0;
    while (pufa_mono_ms() - t0 < 60000) {
        sse_pump(ep, cl, 50);
        have = 0;
        for (int i = 0; i < n; i++)
            have += cl[i].count >= 0;
        if (have == connected)
            break;
    }
    double open_s = (double)(pufa_mono_ms() - t0) / 1000.0;
    for (int i = 0; i < 20; i++)
        sse_pump(ep, cl, 50);
    long long rss1 = rss_kb(p.pid, "VmRSS:");
    int ok = 0, refused = 0;
    for (int i = 0; i < n; i++) {
        ok += cl[i].status == 200 && cl[i].count >= 0;
        refused += cl[i].status == 503;
    }
    long long gauge = metric_from(port, "pufa_publisher_streams ");
    /* Paced commits: a batch of 100 reports every 250 ms; for each, from its
     * ack to the event showing it on the first and on the last stream. */
    enum { ROUNDS = 40, PER = 100 };
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(d, agg_ep);
    pufa_report *r = bench_make_reports(ROUNDS * PER, 77);
    double first[ROUNDS], last[ROUNDS];
    size_t nr = 0;
    long long base = -1;
    for (int i = 0; i < n; i++)
        if (cl[i].count > base)
            base = cl[i].count;
    long long want = base;
    for (int k = 0; k < ROUNDS; k++) {
        pufa_buf frame;
        pufa_buf_init(&frame);
        pufa_batch_begin(&frame, NULL, (uint64_t)k + 1, pufa_now_ms());
        for (int i = 0; i < PER; i++) {
            size_t len;
            uint8_t *rep = pufa_report_encode(&r[k * PER + i], &len);
            pufa_batch_add(&frame, rep, len);
            free(rep);
        }
        zmq_send(d, frame.data, frame.len, 0);
        pufa_buf_free(&frame);
        zmq_msg_t m;
        zmq_msg_init(&m);
        long long tack = 0, committed = 0;
        for (;;) {
            sse_pump(ep, cl, 0);
            zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
            if (zmq_poll(&it, 1, 5) == 1) {
                zmq_msg_recv(&m, d, 0);
                tack = pufa_mono_ms();
                Pufa__BatchAck *a = NULL;
                pufa_ack_decode(zmq_msg_data(&m), zmq_msg_size(&m), &a);
                for (size_t i = 0; a && i < a->n_results; i++)
                    committed += a->results[i]->status == PUFA__REPORT_STATUS__STATUS_COMMITTED;
                pufa_ack_destroy(&a);
                break;
            }
        }
        zmq_msg_close(&m);
        want += committed;
        long long lo = 0, hi = 0;
        while (pufa_mono_ms() - tack < 5000) {
            sse_pump(ep, cl, 5);
            int seen = 0;
            lo = 0, hi = 0;
            for (int i = 0; i < n; i++) {
                if (cl[i].status != 200)
                    continue;
                if (cl[i].count >= want) {
                    seen++;
                    lo = !lo || cl[i].at < lo ? cl[i].at : lo;
                    hi = cl[i].at > hi ? cl[i].at : hi;
                }
            }
            if (seen == ok)
                break;
            hi = 0;
        }
        if (hi) {
            first[nr] = (double)(lo - tack < 0 ? 0 : lo - tack);
            last[nr] = (double)(hi - tack < 0 ? 0 : hi - tack);
            nr++;
        }
        long long pace = pufa_mono_ms() + 250;
        while (pufa_mono_ms() < pace)
            sse_pump(ep, cl, 10);
    }
    bench_free_reports(r, ROUNDS * PER);
    zmq_close(d);
    qsort(first, nr, sizeof *first, cmp_d);
    qsort(last, nr, sizeof *last, cmp_d);
    long long dropped = metric_from(port, "pufa_publisher_streams_total{fate=\"dropped_slow\"} ");
    long long hwm = rss_kb(p.pid, "VmHWM:");
    for (int i = 0; i < n; i++)
        if (cl[i].fd >= 0)
            close(cl[i].fd);
    close(ep);
    free(cl);
    pufa_proc_stop(&p, SIGTERM, 30000);
    printf("| SSE streams held (%d asked, one publisher, one client process) | %d open with an "
           "event (publisher gauge %lld), %d refused 503, %d not connected; all open in %.1f s | "
           "|\n",
           n, ok, gauge, refused, n - connected, open_s);
    printf("| publisher memory per SSE stream | %.1f KiB (RSS %lld → %lld KiB with them open, peak "
           "%lld) | |\n",
           ok ? (double)(rss1 - rss0) / ok : -1.0, rss0, rss1, hwm);
    printf("| commit (ack) → event on the first / last of %d streams, %zu commits of %d reports "
           "250 ms apart | p50 %.0f / %.0f ms, p99 %.0f / %.0f ms; %lld dropped as slow | |\n",
           ok, nr, PER, pct(first, nr, 50), pct(last, nr, 50), pct(first, nr, 99),
           pct(last, nr, 99), dropped);
    fflush(stdout);
}

/* ---- --hostile N ---- */

/* n connections from 127.0.0.1 each sending half a request head; then 20
 * legitimate requests from 127.0.0.2.  Prints one row. */
static void hostile_against(const char *what, const char *port, const char *prefix, int n,
                            const char *legit, size_t legit_len, int want_status,
                            const pufa_buf *also, int *also_status) {
    int *fds = pufa_calloc((size_t)n, sizeof *fds);
    int connected = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = connect_from("127.0.0.1", port);
        if (fds[i] < 0)
            continue;
        connected++;
        send(fds[i], "POST /v1/reports HTTP/1.1\r\nHost: x\r\n", 36, MSG_NOSIGNAL);
    }
    pufa_sleep_ms(1000);
    int open = 0;
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        char c;
        ssize_t k = recv(fds[i], &c, 1, MSG_DONTWAIT | MSG_PEEK);
        open += k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    char name[128];
    snprintf(name, sizeof name, "%s_http_connections ", prefix);
    long long held = metric_from(port, name);
    double ms[20];
    int good = 0;
    for (int i = 0; i < 20; i++) {
        int st = timed_request("127.0.0.2", port, legit, legit_len, &ms[i], NULL);
        good += st == want_status;
    }
    qsort(ms, 20, sizeof *ms, cmp_d);
    double also_ms = 0;
    if (also)
        *also_status = timed_request("127.0.0.2", port, also->data, also->len, &also_ms, NULL);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    printf("| hostile: %d half-sent heads from 127.0.0.1 against the %s | %d connected, %d still "
           "open after 1 s, server holds %lld; 127.0.0.2: %d/20 answered %d, p50 %.0f ms, max "
           "%.0f ms | |\n",
           n, what, connected, open, held, good, want_status, ms[10], ms[19]);
    if (also)
        printf("| hostile, the %s: a POST of 200 reports from 127.0.0.2 meanwhile | %d in %.0f ms "
               "| |\n",
               what, *also_status, also_ms);
    fflush(stdout);
}

/* A POST of 200 fresh reports for county 150821, whole request in *out. */
static void post_request(pufa_buf *out, unsigned seed) {
    pufa_report *r = bench_make_reports(200, seed);
    json_t *arr = json_array();
    for (int i = 0; i < 200; i++) {
        free(r[i].county_code);
        r[i].county_code = pufa_strdup("150821");
        json_array_append_new(arr, pufa_report_to_json(&r[i]));
    }
    bench_free_reports(r, 200);
    char *body = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    pufa_buf_init(out);
    pufa_buf_printf(out,
                    "POST /v1/reports HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                    strlen(body), body);
    free(body);
}

void bench_hostile(const bench_http_env *env, int n) {
    use_env(env);
    raise_nofile();
    /* A collector with the default limits, then one holding everything
     * (no per-address limit, a long head deadline): the loop itself. */
    char tmp[] = "/tmp/pufa-hostile-XXXXXX";
    if (!mkdtemp(tmp))
        return;
    static const char *const variants[2][8] = {
        {NULL},
        {"--http-per-ip", "0", "--http-head-timeout", "120s", NULL},
    };
    for (int v = 0; v < 2; v++) {
        pufa_proc c = {0};
        char port[16];
        char *spool = pufa_asprintf("%s/spool-%d", tmp, v);
        char *bin = pufa_asprintf("%s/collector/pufa-collector", build);
        char *argv[24] = {
            bin,           "--insecure",   "--county",
            "150821",      "--aggregator", (char *)agg_ep,
            "--spool",     spool,          "--http",
            "127.0.0.1:0", "--org-units",  PUFA_SOURCE_DIR "/deploy/data/demo_tree.csv"};
        int k = 12;
        for (int i = 0; variants[v][i]; i++)
            argv[k++] = (char *)variants[v][i];
        argv[k] = NULL;
        pufa_proc_start(&c, argv, NULL);
        if (!pufa_proc_wait_log(&c, "id=COL-HTTP", "port", port, sizeof port, 10000) ||
            !pufa_proc_wait_log(&c, "id=COL-READY", NULL, NULL, 0, 10000)) {
            pufa_proc_dump(&c);
            exit(1);
        }
        /* Reports accepted before and during the attack must all be
         * committed after it. */
        pufa_buf req[2];
        for (int q = 0; q < 2; q++)
            post_request(&req[q], 900 + (unsigned)(v * 2 + q));
        double ms;
        int before = timed_request("127.0.0.2", port, req[0].data, req[0].len, &ms, NULL);
        const char *health = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        int during = 0;
        hostile_against(v ? "collector, per_ip 0 and head deadline 120 s (all held)"
                          : "collector, default limits",
                        port, "pufa_collector", n, health, strlen(health), 200, &req[1], &during);
        long long want = (before == 202 ? 200 : 0) + (during == 202 ? 200 : 0);
        long long got = 0, t0 = pufa_mono_ms();
        while (pufa_mono_ms() - t0 < 60000 &&
               (got = metric_from(port, "pufa_collector_reports_total{outcome=\"committed\"} ")) <
                   want)
            pufa_sleep_ms(200);
        printf("| hostile (%s): reports accepted (202) before and during, then committed | %lld "
               "of %lld | |\n",
               v ? "all held" : "defaults", got, want);
        fflush(stdout);
        for (int q = 0; q < 2; q++)
            pufa_buf_free(&req[q]);
        pufa_proc_stop(&c, SIGTERM, 20000);
        free(spool);
        free(bin);
    }
    pufa_proc p = {0};
    char port[16];
    char *extra[] = {"--http-per-ip", "0", "--http-head-timeout", "120s", NULL};
    start_publisher(&p, port, sizeof port, extra);
    const char *get = "GET /v1/totals?window=all&by=county HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n";
    hostile_against("publisher, per_ip 0 and head deadline 120 s (all held)", port,
                    "pufa_publisher", n, get, strlen(get), 200, NULL, NULL);
    pufa_proc_stop(&p, SIGTERM, 20000);
    char *cmd = pufa_asprintf("rm -rf %s", tmp);
    pufa_sh(cmd);
    free(cmd);
}
