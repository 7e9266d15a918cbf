/* bench --swarm N: N collectors on one aggregator.
 * N CURVE DEALER sockets in this one process, each with its own key pair
 * (zmq_curve_keypair) on the aggregator's allow-list, bound to a real county
 * of deploy/data/divisions/nation.csv (cycled when N exceeds the counties);
 * the aggregator's home is the nation 100000.  Each sends a small batch of
 * valid reports every few seconds and resends it when no ack came.
 * Measured: the time until all N are acked at first, the aggregator's CPU
 * share, RSS and ack latency over a steady window, then a restart (SIGTERM,
 * start again on the same port) and the time until every one of the N is
 * acked again; at the end every report acked must be in PostgreSQL once. */
#include "swarm.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "keyfile.h"
#include "proc.h"
#include "uuid.h"
#include "wire.h"

typedef struct member {
    void *sock;
    char pub[41], sec[41];
    const char *county;
    char id[32];
    uint64_t seq;         /* of the batch in flight (or the last one) */
    uint8_t *frame;       /* the batch in flight, NULL when none */
    size_t len, reports;  /* its size and report count */
    long long first_sent; /* mono ms the batch in flight was first sent */
    long long last_sent;  /* and last (re)sent */
    long long next_due;   /* mono ms the next batch is due */
    long long last_ack;   /* mono ms of the last ack */
} member;

typedef struct swarm {
    const char *build;
    size_t n, batch;
    int period_ms, resend_ms;
    member *m;
    char **counties;
    size_t ncounties;
    void *zctx;
    char keydir[64], agg_pub[41], listen[128];
    pufa_proc agg;
    /* counts */
    unsigned long long committed, duplicate, other, resent, acks, frame_errors;
    /* ack latencies (first send -> ack) while recording */
    long long *lat;
    size_t nlat, caplat;
    int recording;
} swarm;

static const char *const UNITS[] = {"SFJ", "FY", "JCY", "GAJ", "SWJ", "JYJ"};

static void die(const char *what) {
    fprintf(stderr, "bench --swarm: %s\n", what);
    exit(1);
}

/* The county codes of nation.csv (code,name,level,parent_code). */
static void load_counties(swarm *s) {
    const char *path = PUFA_SOURCE_DIR "/deploy/data/divisions/nation.csv";
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open deploy/data/divisions/nation.csv");
    char line[512];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (!c2 || strncmp(c2 + 1, "county,", 7) != 0 || c1 - line != 6)
            continue;
        if (s->ncounties == cap) {
            cap = cap ? cap * 2 : 1024;
            s->counties = pufa_realloc(s->counties, cap * sizeof *s->counties);
        }
        s->counties[s->ncounties++] = pufa_strndup(line, 6);
    }
    fclose(f);
    if (!s->ncounties)
        die("no county in nation.csv");
}

static void setup_keys(swarm *s) {
    char *cmd = pufa_asprintf("'%s/cli/pufa' keygen --out %s --name aggregator >/dev/null",
                              s->build, s->keydir);
    if (pufa_sh(cmd) != 0)
        die("pufa keygen failed");
    free(cmd);
    char err[256], *p = pufa_asprintf("%s/aggregator.pub", s->keydir);
    if (pufa_read_curve_key(p, 0, s->agg_pub, err, sizeof err))
        die(err);
    free(p);
    p = pufa_asprintf("%s/allow", s->keydir);
    FILE *f = fopen(p, "w");
    if (!f)
        die("cannot write the allow-list");
    for (size_t i = 0; i < s->n; i++) {
        member *m = &s->m[i];
        if (zmq_curve_keypair(m->pub, m->sec) != 0)
            die("zmq_curve_keypair failed (libzmq without CURVE?)");
        m->county = s->counties[i % s->ncounties];
        snprintf(m->id, sizeof m->id, "swarm-%05zu", i);
        fprintf(f, "%s %s\n", m->pub, m->county);
    }
    fclose(f);
    free(p);
}

static void start_agg(swarm *s) {
    char *db = pufa_asprintf("%s user=pufa_aggregator", getenv("PUFA_TEST_DB"));
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", s->build);
    char *sec = pufa_asprintf("%s/aggregator.key", s->keydir);
    char *allow = pufa_asprintf("%s/allow", s->keydir);
    /* The first start binds port 0; the restart binds the port it got. */
    char *listen = s->listen[0] ? s->listen : "tcp://127.0.0.1:0";
    char *argv[] = {bin,
                    "--listen",
                    listen,
                    "--feed",
                    "tcp://127.0.0.1:0",
                    "--http",
                    "127.0.0.1:0",
                    "--db",
                    db,
                    "--home",
                    "100000",
                    "--log-level",
                    "info",
                    "--curve-secret-file",
                    sec,
                    "--allow-list",
                    allow,
                    NULL};
    pufa_proc_start(&s->agg, argv, NULL);
    free(db);
    free(bin);
    free(sec);
    free(allow);
}

static long long stat_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces */
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ") ": state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

static long long status_kb(pid_t pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            v = atoll(line + strlen(field));
    if (f)
        fclose(f);
    return v;
}

/* The kernel's count of connections dropped because a listener's accept
 * queue was full (TcpExt ListenOverflows, the whole machine's). */
static long long listen_overflows(void) {
    FILE *f = fopen("/proc/net/netstat", "r");
    char names[4096], values[4096];
    long long v = -1;
    while (f && fgets(names, sizeof names, f) && fgets(values, sizeof values, f)) {
        if (strncmp(names, "TcpExt:", 7) != 0)
            continue;
        char *sn, *sv, *n = strtok_r(names, " \n", &sn), *x = strtok_r(values, " \n", &sv);
        while (n && x && strcmp(n, "ListenOverflows") != 0) {
            n = strtok_r(NULL, " \n", &sn);
            x = strtok_r(NULL, " \n", &sv);
        }
        if (n && x)
            v = atoll(x);
    }
    if (f)
        fclose(f);
    return v;
}

static double loadavg(void) {
    FILE *f = fopen("/proc/loadavg", "r");
    double v = -1;
    if (f && fscanf(f, "%lf", &v) != 1)
        v = -1;
    if (f)
        fclose(f);
    return v;
}

static void open_sockets(swarm *s) {
    for (size_t i = 0; i < s->n; i++) {
        member *m = &s->m[i];
        m->sock = zmq_socket(s->zctx, ZMQ_DEALER);
        if (!m->sock)
            die(zmq_strerror(zmq_errno()));
        int linger = 0, ivl = 100, ivl_max = 2000;
        zmq_setsockopt(m->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(m->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(m->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
        zmq_setsockopt(m->sock, ZMQ_CURVE_SERVERKEY, s->agg_pub, 40);
        zmq_setsockopt(m->sock, ZMQ_CURVE_PUBLICKEY, m->pub, 40);
        zmq_setsockopt(m->sock, ZMQ_CURVE_SECRETKEY, m->sec, 40);
        if (zmq_connect(m->sock, s->listen) != 0)
            die(zmq_strerror(zmq_errno()));
    }
}

/* A new batch of s->batch valid reports for m's county. */
static void make_batch(swarm *s, member *m, unsigned *seed) {
    pufa_buf frame;
    pufa_buf_init(&frame);
    m->seq++;
    pufa_batch_link link = {.has_pending = true, .pending = 0, .oldest_pending_ms = 0};
    pufa_batch_begin_link(&frame, m->id, m->seq, pufa_now_ms(), &link);
    pufa_day today = pufa_city_day(pufa_now_ms());
    for (size_t k = 0; k < s->batch; k++) {
        pufa_report r;
        pufa_report_init(&r);
        uint8_t id[16];
        char ids[37], date[11];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, ids);
        pufa_date_format(today - (pufa_day)(rand_r(seed) % 28), date);
        r.report_id = pufa_strdup(ids);
        r.revision = 1;
        r.county_code = pufa_strdup(m->county);
        r.township = pufa_strdup("");
        r.unit_code = pufa_strdup(UNITS[rand_r(seed) % 6]);
        r.unit_name = pufa_strdup("司法局");
        r.occurred_on = pufa_strdup(date);
        pufa_date_parse(date, &r.occurred_day);
        r.theme = 1 + (int)(rand_r(seed) % 16);
        r.venue = 1 + (int)(rand_r(seed) % 13);
        r.form = 1 + (int)(rand_r(seed) % 10);
        r.campaign = pufa_strdup("");
        r.title = pufa_strdup("“宪法进社区”宣讲活动");
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            r.counters[c] = rand_r(seed) % 1000;
        r.received_at_ms = pufa_now_ms();
        size_t len;
        uint8_t *enc = pufa_report_encode(&r, &len);
        pufa_batch_add(&frame, enc, len);
        free(enc);
        pufa_report_clear(&r);
    }
    m->len = frame.len;
    m->reports = s->batch;
    m->frame = (uint8_t *)pufa_buf_steal(&frame);
    m->first_sent = 0;
}

static void on_ack(swarm *s, member *m, long long now) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, m->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return;
    }
    Pufa__BatchAck *a = NULL;
    if (pufa_ack_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &a) != 0 || !a) {
        zmq_msg_close(&msg);
        s->frame_errors++;
        return;
    }
    zmq_msg_close(&msg);
    if (a->error && *a->error) {
        s->frame_errors++;
        if (s->frame_errors <= 3)
            fprintf(stderr, "bench --swarm: %s: %s\n", m->id, a->error);
    } else if (m->frame && a->batch_seq == m->seq) {
        for (size_t i = 0; i < a->n_results; i++) {
            int st = a->results[i]->status;
            if (st == PUFA__REPORT_STATUS__STATUS_COMMITTED)
                s->committed++;
            else if (st == PUFA__REPORT_STATUS__STATUS_DUPLICATE)
                s->duplicate++;
            else
                s->other++;
        }
        if (s->recording) {
            if (s->nlat == s->caplat) {
                s->caplat = s->caplat ? s->caplat * 2 : 65536;
                s->lat = pufa_realloc(s->lat, s->caplat * sizeof *s->lat);
            }
            s->lat[s->nlat++] = now - m->last_sent;
        }
        s->acks++;
        free(m->frame);
        m->frame = NULL;
        m->last_ack = now;
    }
    pufa_ack_destroy(&a);
}

/* Runs the swarm until mono ms `until`, or (when until_all_acked_after > 0)
 * until every member's last ack is at or after that time.  new_batches:
 * whether due members start new batches.  Returns the mono ms it stopped. */
static long long run(swarm *s, zmq_pollitem_t *items, long long until, long long all_acked_after,
                     int new_batches, unsigned *seed) {
    for (;;) {
        long long now = pufa_mono_ms();
        if (now >= until)
            return now;
        if (all_acked_after > 0) {
            size_t i = 0;
            while (i < s->n && s->m[i].last_ack >= all_acked_after)
                i++;
            if (i == s->n)
                return now;
        } else if (!new_batches) {
            size_t i = 0;
            while (i < s->n && !s->m[i].frame)
                i++;
            if (i == s->n)
                return now;
        }
        for (size_t i = 0; i < s->n; i++) {
            member *m = &s->m[i];
            if (!m->frame && new_batches && now >= m->next_due) {
                make_batch(s, m, seed);
                m->next_due += s->period_ms;
                if (m->next_due < now)
                    m->next_due = now + s->period_ms;
            } else if (m->frame && now - m->last_sent >= s->resend_ms) {
                s->resent++; /* no ack: the aggregator may have gone */
            } else {
                continue;
            }
            if (zmq_send(m->sock, m->frame, m->len, ZMQ_DONTWAIT) < 0)
                continue; /* not connected yet: tried again at resend_ms */
            if (!m->first_sent)
                m->first_sent = now;
            m->last_sent = now;
        }
        int r = zmq_poll(items, (int)s->n, 20);
        if (r < 0)
            die(zmq_strerror(zmq_errno()));
        now = pufa_mono_ms();
        for (size_t i = 0; r > 0 && i < s->n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                for (int k = 0; k < 8; k++) { /* bounded: a few acks queued at most */
                    int ev = 0;
                    size_t el = sizeof ev;
                    zmq_getsockopt(s->m[i].sock, ZMQ_EVENTS, &ev, &el);
                    if (!(ev & ZMQ_POLLIN))
                        break;
                    on_ack(s, &s->m[i], now);
                }
    }
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static long long pct(const long long *v, size_t n, int p) {
    if (!n)
        return -1;
    size_t i = (n * (size_t)p) / 100;
    return v[i >= n ? n - 1 : i];
}

int swarm_main(const char *build, size_t n, size_t batch, int period_ms, int steady_s) {
    swarm s = {
        .build = build, .n = n, .batch = batch, .period_ms = period_ms, .resend_ms = period_ms};
    /* Two descriptors per DEALER (its TCP connection and its mailbox). */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = (rlim_t)n * 2 + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want) {
        fprintf(stderr,
                "bench --swarm: %zu sockets need %llu descriptors; the hard limit is %llu\n", n,
                (unsigned long long)want, (unsigned long long)rl.rlim_max);
        return 1;
    }
    char *cmd = pufa_asprintf("'%s/cli/pufa' migrate --db '%s' --org-units '%s' --units '%s'"
                              " >/dev/null",
                              build, getenv("PUFA_TEST_DB"),
                              PUFA_SOURCE_DIR "/deploy/data/divisions/nation.csv",
                              PUFA_SOURCE_DIR "/deploy/data/units.csv");
    if (pufa_sh(cmd) != 0)
        die("pufa migrate --org-units nation.csv failed");
    free(cmd);
    load_counties(&s);
    s.m = pufa_calloc(n, sizeof *s.m);
    snprintf(s.keydir, sizeof s.keydir, "/tmp/pufa-swarm-XXXXXX");
    if (!mkdtemp(s.keydir))
        die("mkdtemp");
    setup_keys(&s);
    printf("pufa benchmark --swarm: %zu CURVE collectors (%zu distinct counties of"
           " nation.csv), a batch of %zu reports each every %d ms, %ld cores\n",
           n, n < s.ncounties ? n : s.ncounties, batch, period_ms, sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);

    start_agg(&s);
    if (!pufa_proc_wait_log(&s.agg, "id=AGG-LISTEN", "endpoint", s.listen, sizeof s.listen,
                            20000) ||
        !pufa_proc_wait_log(&s.agg, "id=AGG-READY", NULL, NULL, 0, 60000)) {
        pufa_proc_dump(&s.agg);
        return 1;
    }
    s.zctx = zmq_ctx_new();
    zmq_ctx_set(s.zctx, ZMQ_MAX_SOCKETS, (int)n + 64);
    zmq_ctx_set(s.zctx, ZMQ_IO_THREADS, 1);
    open_sockets(&s);
    zmq_pollitem_t *items = pufa_calloc(n, sizeof *items);
    unsigned seed = 7;
    long long overflows0 = listen_overflows();
    long long t0 = pufa_mono_ms();
    for (size_t i = 0; i < n; i++) {
        items[i] = (zmq_pollitem_t){.socket = s.m[i].sock, .events = ZMQ_POLLIN};
        /* spread over one period */
        s.m[i].next_due = t0 + (long long)((i * (size_t)period_ms) / n);
    }

    /* 1. everybody connected and acked once */
    long long t_first = run(&s, items, t0 + 300000, t0, 1, &seed);
    double first_s = (double)(t_first - t0) / 1000.0;
    size_t missing = 0;
    for (size_t i = 0; i < n; i++)
        missing += s.m[i].last_ack < t0;
    if (missing) {
        fprintf(stderr, "bench --swarm: %zu of %zu never acked in 300 s\n", missing, n);
        pufa_proc_dump(&s.agg);
        return 1;
    }

    /* 2. a steady window: warm up one period, then record */
    run(&s, items, pufa_mono_ms() + period_ms, 0, 1, &seed);
    s.recording = 1;
    unsigned long long acks0 = s.acks, comm0 = s.committed;
    long long ticks0 = stat_ticks(s.agg.pid), w0 = pufa_mono_ms();
    long long w1 = run(&s, items, w0 + steady_s * 1000LL, 0, 1, &seed);
    long long ticks1 = stat_ticks(s.agg.pid);
    s.recording = 0;
    double load = loadavg();
    long long rss = status_kb(s.agg.pid, "VmRSS:"), hwm = status_kb(s.agg.pid, "VmHWM:");
    double wsec = (double)(w1 - w0) / 1000.0;
    double cpu = (double)(ticks1 - ticks0) / (double)sysconf(_SC_CLK_TCK) / wsec;
    unsigned long long wacks = s.acks - acks0, wcomm = s.committed - comm0;
    qsort(s.lat, s.nlat, sizeof *s.lat, cmp_ll);
    long long p50 = pct(s.lat, s.nlat, 50), p99 = pct(s.lat, s.nlat, 99),
              pmax = s.nlat ? s.lat[s.nlat - 1] : -1;

    /* 3. restart */
    long long tk = pufa_mono_ms();
    int st = pufa_proc_stop(&s.agg, SIGTERM, 30000);
    long long t_down = pufa_mono_ms();
    start_agg(&s);
    long long t_up = pufa_mono_ms();
    unsigned long long resent0 = s.resent;
    /* Every collector has reports waiting by now (spooled during the
     * outage): each sends, or resends, one batch at once, queued in its
     * DEALER until the connection is back.  The figure is then reconnect,
     * ZAP and delivery, not the sending period. */
    for (size_t i = 0; i < n; i++) {
        if (s.m[i].frame)
            s.m[i].last_sent = t_up - s.resend_ms;
        else
            s.m[i].next_due = t_up;
    }
    long long t_all = run(&s, items, t_up + 300000, t_up, 1, &seed);
    missing = 0;
    long long first_ack = -1;
    for (size_t i = 0; i < n; i++) {
        missing += s.m[i].last_ack < t_up;
        if (s.m[i].last_ack >= t_up && (first_ack < 0 || s.m[i].last_ack < first_ack))
            first_ack = s.m[i].last_ack;
    }
    long long rss_after = status_kb(s.agg.pid, "VmRSS:");
    long long overflows = listen_overflows() - overflows0;

    /* 4. drain: no new batches; every one in flight acked */
    long long t_drained = run(&s, items, pufa_mono_ms() + 120000, 0, 0, &seed);
    size_t inflight = 0;
    for (size_t i = 0; i < n; i++)
        inflight += s.m[i].frame != NULL;
    PGconn *db = PQconnectdb(getenv("PUFA_TEST_DB"));
    PGresult *r = PQexec(db, "SELECT count(*), count(DISTINCT report_id) FROM reports");
    long long rows = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
    long long distinct = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 1)) : -1;
    PQclear(r);
    PQfinish(db);
    (void)t_drained;

    printf("\n| measure (%zu collectors) | figure |\n| --- | --- |\n", n);
    printf("| all %zu connected, past ZAP and acked once (from the first connect) | %.1f s |\n", n,
           first_s);
    printf("| steady window | %.1f s: %llu batches acked (%.0f/s), %llu reports committed"
           " (%.0f/s) |\n",
           wsec, wacks, (double)wacks / wsec, wcomm, (double)wcomm / wsec);
    printf("| ack latency at steady state (send → ack), %zu acks | p50 %lld ms, p99 %lld ms,"
           " max %lld ms |\n",
           s.nlat, p50, p99, pmax);
    printf("| aggregator CPU over the window (utime+stime / wall) | %.1f %% of one core |\n",
           cpu * 100.0);
    printf("| machine load average (1 min) at the end of the window | %.1f on %ld cores |\n", load,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("| aggregator RSS at the end of the window / peak | %lld / %lld KiB |\n", rss, hwm);
    printf("| restart: SIGTERM → exited | %.2f s (exit status %d) |\n",
           (double)(t_down - tk) / 1000.0, st);
    printf("| restart: start again → every one of the %zu acked again | %.1f s (first ack at"
           " %.1f s; %zu not acked; %llu resends) |\n",
           n, (double)(t_all - t_up) / 1000.0,
           first_ack < 0 ? -1.0 : (double)(first_ack - t_up) / 1000.0, missing, s.resent - resent0);
    printf("| aggregator RSS after the reconnection | %lld KiB |\n", rss_after);
    printf("| connections dropped by a full accept queue (TcpExt ListenOverflows, whole machine,"
           " both connection storms) | %lld |\n",
           overflows);
    printf("| reports acked committed / duplicate / other | %llu / %llu / %llu (%llu frame"
           " errors) |\n",
           s.committed, s.duplicate, s.other, s.frame_errors);
    printf("| rows in reports (distinct ids) after the drain | %lld (%lld); %zu batches still in"
           " flight |\n",
           rows, distinct, inflight);
    /* A duplicate is a resent batch whose first ack was lost in the restart:
     * each batch is counted once, by the ack that ended it. */
    int ok = !missing && !inflight && !s.other && rows == (long long)(s.committed + s.duplicate) &&
             distinct == rows;
    printf("| every acked report in PostgreSQL exactly once | %s |\n", ok ? "yes" : "NO");
    fflush(stdout);

    for (size_t i = 0; i < n; i++) {
        zmq_close(s.m[i].sock);
        free(s.m[i].frame);
    }
    zmq_ctx_term(s.zctx);
    pufa_proc_stop(&s.agg, SIGTERM, 30000);
    for (size_t i = 0; i < s.ncounties; i++)
        free(s.counties[i]);
    free(s.counties);
    free(s.m);
    free(s.lat);
    free(items);
    cmd = pufa_asprintf("rm -rf %s", s.keydir);
    pufa_sh(cmd);
    free(cmd);
    return ok ? 0 : 1;
}
