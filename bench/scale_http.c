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
#include <time.h>
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
    /* PUFA_BENCH_PUBLISHER: another build's publisher (a before/after). */
    const char *other = getenv("PUFA_BENCH_PUBLISHER");
    char *bin = other ? pufa_strdup(other) : pufa_asprintf("%s/publisher/pufa-publisher", build);
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

/* Wall-clock milliseconds (fractional): the kernel's receive timestamps
 * (SO_TIMESTAMPNS) are on this clock. */
static double real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* CPU milliseconds of this thread (the one reading every stream). */
static double thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* CPU milliseconds (user + system) of process pid so far, -1 if unknown. */
static double proc_cpu_ms(pid_t pid) {
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the command may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

typedef struct sse_client {
    int fd;
    char buf[4096];
    size_t len;
    long long count; /* totals.all.reports of the last event, -1 before one */
    int status;
} sse_client;

/* The commits being timed: for commit k (in ack order), the all-time
 * report count that shows it (want, non-decreasing in k), its ack's time,
 * and over the streams: how many have shown it, the first and the last
 * user-space read of that event and the last kernel arrival of it at the
 * client's socket (SO_TIMESTAMPNS: the server's share, before the client
 * got round to reading).  An event read before its commit's ack counts at
 * the ack's time. */
enum { MAX_COMMITS = 1024 };
typedef struct sse_track {
    size_t n;
    long long want[MAX_COMMITS];
    double ack[MAX_COMMITS], first[MAX_COMMITS], last[MAX_COMMITS], klast[MAX_COMMITS];
    double gen[MAX_COMMITS]; /* generated_at_ms of the first event showing it */
    int seen[MAX_COMMITS];
} sse_track;

static sse_track *trk;

static void track_seen(size_t k, double at, double kat, double gen) {
    if (gen > 0 && (trk->gen[k] == 0 || gen < trk->gen[k]))
        trk->gen[k] = gen;
    at = at < trk->ack[k] ? trk->ack[k] : at;
    kat = kat < trk->ack[k] ? trk->ack[k] : kat;
    if (!trk->seen[k]++ || at < trk->first[k])
        trk->first[k] = at;
    trk->last[k] = at > trk->last[k] ? at : trk->last[k];
    trk->klast[k] = kat > trk->klast[k] ? kat : trk->klast[k];
}

/* A stream's count went from prev to now (arrival at, kernel time kat, the
 * event's generated_at_ms gen). */
static void track_event(long long prev, long long now, double at, double kat, double gen) {
    if (!trk)
        return;
    /* The commits with prev < want <= now: a range, want being sorted. */
    size_t lo = 0, hi = trk->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (trk->want[mid] <= prev)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k < trk->n && trk->want[k] <= now; k++)
        track_seen(k, at, kat, gen);
}

/* A commit acked at ack: from now on the streams showing want count. */
static void track_commit(sse_client *cl, int n, long long want, double ack) {
    if (trk->n == MAX_COMMITS)
        return;
    size_t k = trk->n++;
    trk->want[k] = want;
    trk->ack[k] = ack;
    trk->seen[k] = 0;
    trk->first[k] = trk->last[k] = trk->klast[k] = trk->gen[k] = 0;
    for (int i = 0; i < n; i++)
        if (cl[i].status == 200 && cl[i].count >= want)
            track_seen(k, ack, ack, 0);
}

/* Reads what fd has; parses complete events. */
static void sse_read(sse_client *c) {
    for (;;) {
        if (c->len == sizeof c->buf - 1)
            c->len = 0; /* no event is this long: resynchronise */
        union {
            char buf[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {c->buf + c->len, sizeof c->buf - 1 - c->len};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.buf,
                            .msg_controllen = sizeof ctl.buf};
        ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
        if (n <= 0)
            return;
        double now = real_ms(), kat = now;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                kat = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
            }
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        if (!c->status && !strncmp(c->buf, "HTTP/1.", 7))
            c->status = atoi(c->buf + 9);
        char *end;
        while ((end = strstr(c->buf, "\n\n"))) {
            *end = '\0';
            char *all = strstr(c->buf, "\"all\":");
            char *r = all ? strstr(all, "\"reports\":") : NULL;
            char *g = strstr(c->buf, "\"generated_at_ms\":");
            if (r) {
                long long prev = c->count;
                c->count = atoll(r + 10);
                if (c->status == 200 && c->count > prev)
                    track_event(prev, c->count, now, kat, g ? atof(g + 18) : 0);
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

/* Sends batch k (reports k * per .. k * per + per - 1 of r) to d. */
static void send_batch(void *d, pufa_report *r, size_t k, size_t per) {
    pufa_buf frame;
    pufa_buf_init(&frame);
    pufa_batch_begin(&frame, NULL, (uint64_t)k + 1, pufa_now_ms());
    for (size_t i = 0; i < per; i++) {
        size_t len;
        uint8_t *rep = pufa_report_encode(&r[k * per + i], &len);
        pufa_batch_add(&frame, rep, len);
        free(rep);
    }
    zmq_send(d, frame.data, frame.len, 0);
    pufa_buf_free(&frame);
}

/* An ack waiting on d, if any: 1 and *committed, else 0. */
static int recv_ack(void *d, long long *committed) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, d, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    Pufa__BatchAck *a = NULL;
    pufa_ack_decode(zmq_msg_data(&m), zmq_msg_size(&m), &a);
    *committed = 0;
    for (size_t i = 0; a && i < a->n_results; i++)
        *committed += a->results[i]->status == PUFA__REPORT_STATUS__STATUS_COMMITTED;
    pufa_ack_destroy(&a);
    zmq_msg_close(&m);
    return 1;
}

/* The first and last stream's delays of the commits [from, to) seen by
 * every stream, in ms: user-space read (first, last) and kernel arrival
 * of the last; gen (when not NULL): from the ack to the generated_at_ms of
 * the first event showing it (the publisher's live state had it; 0 when
 * the event came before the ack); returns how many. */
static size_t track_delays(size_t from, size_t to, int ok, double *first, double *last,
                           double *klast, double *gen) {
    size_t m = 0;
    for (size_t k = from; k < to; k++) {
        if (trk->seen[k] < ok)
            continue;
        first[m] = trk->first[k] - trk->ack[k];
        last[m] = trk->last[k] - trk->ack[k];
        klast[m] = trk->klast[k] - trk->ack[k];
        if (gen)
            gen[m] = trk->gen[k] > trk->ack[k] ? trk->gen[k] - trk->ack[k] : 0;
        m++;
    }
    if (gen)
        qsort(gen, m, sizeof *gen, cmp_d);
    qsort(first, m, sizeof *first, cmp_d);
    qsort(last, m, sizeof *last, cmp_d);
    qsort(klast, m, sizeof *klast, cmp_d);
    return m;
}

/* Pumps the streams until every commit in [from, trk->n) is on every
 * stream (timeout_ms at most after the last ack). */
static void track_drain(int ep, sse_client *cl, size_t from, int ok, int timeout_ms) {
    long long t0 = pufa_mono_ms();
    while (pufa_mono_ms() - t0 < timeout_ms) {
        size_t k = from;
        while (k < trk->n && trk->seen[k] >= ok)
            k++;
        if (k == trk->n)
            break;
        sse_pump(ep, cl, 5);
    }
}

static double fanout_mean_ms(const char *port, long long *count) {
    *count = metric_from(port, "pufa_publisher_stream_fanout_seconds_count ");
    char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", *body;
    double ms, sum = -1;
    if (timed_request("127.0.0.2", port, req, strlen(req), &ms, &body) == 200) {
        const char *at = strstr(body, "\npufa_publisher_stream_fanout_seconds_sum ");
        if (at)
            sum = atof(at + strlen("\npufa_publisher_stream_fanout_seconds_sum "));
    }
    free(body);
    return sum;
}

/* One publisher with threads loop threads (NULL: its default) and n
 * streams: the rows. */
static void sse_run(int n, const char *threads) {
    pufa_proc p = {0};
    char port[16], nbuf[16];
    snprintf(nbuf, sizeof nbuf, "%d", n);
    char *extra[] = {"--max-streams", nbuf, "--http-per-ip", "0", threads ? "--http-threads" : NULL,
                     (char *)threads, NULL};
    char tdesc[48];
    snprintf(tdesc, sizeof tdesc, "%s loop threads", threads ? threads : "default");
    start_publisher(&p, port, sizeof port, extra);
    pufa_sleep_ms(500);
    long long rss0 = rss_kb(p.pid, "VmRSS:");
    sse_client *cl = pufa_calloc((size_t)n, sizeof *cl);
    int ep = epoll_create1(0);
    const char *req = "GET /v1/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    int connected = 0, one = 1;
    long long t0 = pufa_mono_ms();
    for (int i = 0; i < n; i++) {
        cl[i].count = -1;
        cl[i].fd = connect_from("127.0.0.1", port);
        if (cl[i].fd < 0)
            continue;
        connected++;
        setsockopt(cl[i].fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
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
    trk = pufa_calloc(1, sizeof *trk);
    long long want = -1;
    for (int i = 0; i < n; i++)
        if (cl[i].count > want)
            want = cl[i].count;
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(d, agg_ep);

    /* 1. Paced commits: a batch of 100 reports every 250 ms, each timed
     * alone. */
    enum { ROUNDS = 40, PER = 100, FULL = 200, FULL_PER = 1000, WINDOW = 16 };
    pufa_report *r = bench_make_reports(ROUNDS * PER, 77);
    long long fan_n0;
    double fan_s0 = fanout_mean_ms(port, &fan_n0);
    double ccpu0 = thread_cpu_ms(), pcpu0 = proc_cpu_ms(p.pid);
    for (int k = 0; k < ROUNDS; k++) {
        send_batch(d, r, (size_t)k, PER);
        long long committed = 0;
        while (!recv_ack(d, &committed))
            sse_pump(ep, cl, 1);
        want += committed;
        track_commit(cl, n, want, real_ms());
        track_drain(ep, cl, trk->n - 1, ok, 5000);
        long long pace = pufa_mono_ms() + 250;
        while (pufa_mono_ms() < pace)
            sse_pump(ep, cl, 10);
    }
    double ccpu1 = thread_cpu_ms(), pcpu1 = proc_cpu_ms(p.pid);
    long long fan_n1;
    double fan_s1 = fanout_mean_ms(port, &fan_n1);
    bench_free_reports(r, ROUNDS * PER);
    size_t paced = trk->n;
    double first[MAX_COMMITS], last[MAX_COMMITS], klast[MAX_COMMITS], gen[MAX_COMMITS];
    size_t nr = track_delays(0, paced, ok, first, last, klast, NULL);
    long long dropped = metric_from(port, "pufa_publisher_streams_total{fate=\"dropped_slow\"} ");
    long long hwm = rss_kb(p.pid, "VmHWM:");
    printf("| SSE streams held (%d asked, one publisher with %s, one client process) | %d open "
           "with an event (publisher gauge %lld), %d refused 503, %d not connected; all open in "
           "%.1f s | |\n",
           n, tdesc, ok, gauge, refused, n - connected, open_s);
    printf("| publisher memory per SSE stream | %.1f KiB (RSS %lld → %lld KiB with them open, peak "
           "%lld) | |\n",
           ok ? (double)(rss1 - rss0) / ok : -1.0, rss0, rss1, hwm);
    printf("| commit (ack) → event read on the first / last of %d streams (%s), %zu commits of "
           "%d reports 250 ms apart | p50 %.0f / %.0f ms, p99 %.0f / %.0f ms; %lld dropped as "
           "slow | |\n",
           ok, tdesc, nr, PER, pct(first, nr, 50), pct(last, nr, 50), pct(first, nr, 99),
           pct(last, nr, 99), dropped);
    printf("| the same, arrival at the last stream's socket (kernel timestamp: the server's share) "
           "| p50 %.0f ms, p99 %.0f ms; publisher fan-outs %lld, event built → last socket mean "
           "%.0f ms | |\n",
           pct(klast, nr, 50), pct(klast, nr, 99), fan_n1 - fan_n0,
           fan_n1 > fan_n0 ? (fan_s1 - fan_s0) * 1000.0 / (double)(fan_n1 - fan_n0) : -1.0);
    printf("| CPU per paced commit: publisher / this client's reading thread | %.0f / %.0f ms |"
           " |\n",
           nr ? (pcpu1 - pcpu0) / (double)paced : -1.0,
           nr ? (ccpu1 - ccpu0) / (double)paced : -1.0);
    fflush(stdout);

    /* 2. Full ingest rate: FULL batches of FULL_PER reports, WINDOW in
     * flight, as fast as the aggregator acks them; every ack timed to the
     * last stream. */
    r = bench_make_reports((size_t)FULL * FULL_PER, 78);
    size_t from = trk->n, sent = 0, acked = 0;
    dropped = metric_from(port, "pufa_publisher_streams_total{fate=\"dropped_slow\"} ");
    long long ev0 = metric_from(port, "pufa_publisher_stream_events_total "),
              mid0 = metric_from(port, "pufa_publisher_stream_events_mid_fanout_total ");
    fan_s0 = fanout_mean_ms(port, &fan_n0);
    ccpu0 = thread_cpu_ms(), pcpu0 = proc_cpu_ms(p.pid);
    long long tf = pufa_mono_ms();
    while (acked < FULL && pufa_mono_ms() - tf < 300000) {
        while (sent < FULL && sent - acked < WINDOW)
            send_batch(d, r, sent++, FULL_PER);
        long long committed;
        while (recv_ack(d, &committed)) {
            acked++;
            want += committed;
            track_commit(cl, n, want, real_ms());
        }
        sse_pump(ep, cl, 1);
    }
    double full_s = (double)(pufa_mono_ms() - tf) / 1000.0;
    track_drain(ep, cl, from, ok, 10000);
    ccpu1 = thread_cpu_ms(), pcpu1 = proc_cpu_ms(p.pid);
    fan_s1 = fanout_mean_ms(port, &fan_n1);
    long long ev1 = metric_from(port, "pufa_publisher_stream_events_total "),
              mid1 = metric_from(port, "pufa_publisher_stream_events_mid_fanout_total ");
    bench_free_reports(r, (size_t)FULL * FULL_PER);
    nr = track_delays(from, trk->n, ok, first, last, klast, gen);
    long long dropped2 = metric_from(port, "pufa_publisher_streams_total{fate=\"dropped_slow\"} ");
    printf("| commit (ack) → event on the last of %d streams (%s) at full ingest rate (%d "
           "batches of "
           "%d, %d in flight: %.0f reports/s, %zu acks, %lld fan-outs) | read p50 %.0f ms, p99 "
           "%.0f ms; socket arrival p50 %.0f ms, p99 %.0f ms; first stream p50 %.0f ms, p99 %.0f "
           "ms; ack → the live state has it (the event's generated_at_ms) p50 %.0f ms, p99 %.0f "
           "ms; event built → last socket mean %.0f ms; %zu of %zu acks seen by all; %lld "
           "dropped as slow | |\n",
           ok, tdesc, FULL, FULL_PER, WINDOW, (double)acked * FULL_PER / full_s, trk->n - from,
           fan_n1 - fan_n0, pct(last, nr, 50), pct(last, nr, 99), pct(klast, nr, 50),
           pct(klast, nr, 99), pct(first, nr, 50), pct(first, nr, 99), pct(gen, nr, 50),
           pct(gen, nr, 99),
           fan_n1 > fan_n0 ? (fan_s1 - fan_s0) * 1000.0 / (double)(fan_n1 - fan_n0) : -1.0, nr,
           trk->n - from, dropped2 - dropped);
    printf("| CPU during the full-rate phase (%.1f s): publisher / this client's reading thread |"
           " %.0f / %.0f ms | |\n",
           full_s, pcpu1 - pcpu0, ccpu1 - ccpu0);
    if (ev0 >= 0 && mid0 >= 0) /* a publisher with these metrics */
        printf("| events built during the full-rate phase / of them while a fan-out was under way "
               "| %lld / %lld | |\n",
               ev1 - ev0, mid1 - mid0);
    fflush(stdout);
    zmq_close(d);
    free(trk);
    trk = NULL;
    for (int i = 0; i < n; i++)
        if (cl[i].fd >= 0)
            close(cl[i].fd);
    close(ep);
    free(cl);
    pufa_proc_stop(&p, SIGTERM, 30000);
}

void bench_sse(const bench_http_env *env, int n) {
    use_env(env);
    raise_nofile();
    /* PUFA_BENCH_HTTP_THREADS: the publisher's loop threads, e.g. "2 4"
     * for one publisher of each, one after the other. */
    const char *list = getenv("PUFA_BENCH_HTTP_THREADS");
    if (!list || !*list) {
        sse_run(n, NULL);
        return;
    }
    char *copy = pufa_strdup(list), *save = NULL;
    for (char *t = strtok_r(copy, " ,", &save); t; t = strtok_r(NULL, " ,", &save))
        sse_run(n, t);
    free(copy);
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
