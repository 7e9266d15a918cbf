/* pufa benchmark: one run, one table, ratios measured in that run.
 * Run by bench/run.sh under tests/with-pg.sh (a throwaway PostgreSQL with
 * default durability: fsync on, synchronous_commit on).
 *   bench BUILD_DIR [--reports N] [--backlog N] [--big] [--fed-reports N] [--fed-lag S]
 *                   [--no-federation] */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include <zmq.h>

#include "alloc.h"
#include "bench.h"
#include "copy.h"
#include "enums.h"
#include "httpc.h"
#include "keyfile.h"
#include "pg.h"
#include "proc.h"
#include "report_json.h"
#include "swarm.h"
#include "uuid.h"
#include "wire.h"

static const char *build;
static PGconn *db;
static void *zctx;
static size_t N = 200000, BACKLOG = 1000000;
static bool big;
static size_t FED_N = 1000000;             /* --fed-reports: the federation catch-up */
static int fed_lag_s = 20;                 /* --fed-lag: seconds of the federation lag row */
static bool fed = true;                    /* --no-federation skips both */
static bool only_fed;                      /* --only-federation: those two rows alone */
static int sse_streams, hostile_conns;     /* --sse N, --hostile N */
static bool http_only;                     /* --http-only: those scenarios alone */
static bool trend_only;                    /* --trend-only: the trend row alone */
static const char *agg_log_level = "info"; /* --profile: debug, per-transaction timings */
static const char *compact_rows = "100000", *compact_interval = "5s"; /* the defaults */

static const char *const COUNTIES[] = {"150802", "150821", "150822", "150823"};
/* --curve: CURVE and an allow-list, as deployed (each collector's key bound to
 * its county, the benchmark's own sender's to the nation), so that the
 * per-sender work of a secure aggregator is in the figures. */
static bool curve;
static char keydir[64], bench_pub[41], bench_sec[41], agg_pubkey[41];

static void keygen(const char *name, char pub[41], char sec[41]) {
    char *cmd =
        pufa_asprintf("'%s/cli/pufa' keygen --out %s --name %s >/dev/null", build, keydir, name);
    if (pufa_sh(cmd) != 0)
        exit(1);
    free(cmd);
    char err[256];
    char *p = pufa_asprintf("%s/%s.pub", keydir, name),
         *k = pufa_asprintf("%s/%s.key", keydir, name);
    if (pufa_read_curve_key(p, 0, pub, err, sizeof err) ||
        (sec && pufa_read_curve_key(k, 1, sec, err, sizeof err)))
        exit(1);
    free(p);
    free(k);
}

static void setup_curve(const char *tmp) {
    snprintf(keydir, sizeof keydir, "%s", tmp);
    char sec[41];
    keygen("aggregator", agg_pubkey, sec);
    keygen("bench", bench_pub, bench_sec);
    char *path = pufa_asprintf("%s/allow", keydir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s 100000\n", bench_pub);
    for (int i = 0; i < 4; i++) {
        char name[32], pub[41];
        snprintf(name, sizeof name, "col-%d", i);
        keygen(name, pub, sec);
        fprintf(f, "%s %s\n", pub, COUNTIES[i]);
    }
    fclose(f);
    free(path);
}

/* The aggregator's security flags, appended at argv[n]: returns the new n.
 * The strings live as long as the process. */
static int agg_security(char **argv, int n) {
    static char *sec, *allow;
    if (!curve) {
        argv[n++] = "--insecure";
        return n;
    }
    if (!sec) {
        sec = pufa_asprintf("%s/aggregator.key", keydir);
        allow = pufa_asprintf("%s/allow", keydir);
    }
    argv[n++] = "--curve-secret-file";
    argv[n++] = sec;
    argv[n++] = "--allow-list";
    argv[n++] = allow;
    return n;
}
static const char *const UNITS[] = {"SFJ", "FY", "JCY", "GAJ", "SWJ", "JYJ"};

/* ---- helpers ---- */

double bench_secs_since(long long t0) {
    return (double)(pufa_mono_ms() - t0) / 1000.0;
}

PGconn *bench_use_db(PGconn *c) {
    PGconn *before = db;
    db = c;
    return before;
}

static void sql(const char *q) {
    PGresult *r = PQexec(db, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench: %s: %s", q, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

static long long sql_ll(const char *q) {
    PGresult *r = PQexec(db, q);
    long long v = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

bool bench_ids_v4;

static void make_report(pufa_report *r, unsigned *seed, pufa_day today) {
    pufa_report_init(r);
    uint8_t id[16];
    char ids[37], date[11];
    if (bench_ids_v4) /* as some county systems send them: random (v4) */
        uuid_generate_random(id);
    else
        pufa_uuid_v7(id);
    pufa_uuid_format(id, ids);
    pufa_date_format(today - (pufa_day)(rand_r(seed) % 365), date);
    r->report_id = pufa_strdup(ids);
    r->revision = 1;
    r->county_code = pufa_strdup(COUNTIES[rand_r(seed) % 4]);
    r->township = pufa_strdup("");
    r->unit_code = pufa_strdup(UNITS[rand_r(seed) % 6]);
    r->unit_name = pufa_strdup("司法局");
    r->occurred_on = pufa_strdup(date);
    pufa_date_parse(date, &r->occurred_day);
    r->theme = 1 + (int)(rand_r(seed) % 16);
    r->venue = 1 + (int)(rand_r(seed) % 13);
    r->form = 1 + (int)(rand_r(seed) % 10);
    r->campaign = pufa_strdup(rand_r(seed) % 3 ? "" : "宪法宣传周");
    r->title = pufa_strdup("“宪法进社区”宣讲活动");
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        r->counters[c] = rand_r(seed) % 1000;
    r->received_at_ms = pufa_now_ms();
}

pufa_report *bench_make_reports(size_t n, unsigned seed) {
    pufa_report *r = pufa_calloc(n, sizeof *r);
    pufa_day today = pufa_city_day(pufa_now_ms());
    for (size_t i = 0; i < n; i++)
        make_report(&r[i], &seed, today);
    return r;
}

void bench_free_reports(pufa_report *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
}

long long rss_kb(pid_t pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            v = atoll(line + strlen(field) + 1);
    if (f)
        fclose(f);
    return v;
}

/* ---- 1. raw binary COPY (the aggregator's own encoder) ---- */

double bench_copy(const char *table, pufa_report *r, size_t n) {
    char *copy_sql = pufa_asprintf("COPY %s (" REPORT_COLS ") FROM STDIN (FORMAT binary)", table);
    long long t0 = pufa_mono_ms();
    pufa_buf b;
    pufa_buf_init(&b);
    for (size_t off = 0; off < n; off += 10000) {
        size_t cnt = n - off < 10000 ? n - off : 10000;
        copy_begin(&b);
        for (size_t i = 0; i < cnt; i++)
            copy_row(&b, &r[off + i], "bench");
        copy_end(&b);
        char err[512];
        sql("BEGIN");
        if (pufa_pg_copy_in(db, copy_sql, b.data, b.len, "copy", err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            exit(1);
        }
        sql("COMMIT");
    }
    pufa_buf_free(&b);
    free(copy_sql);
    return (double)n / bench_secs_since(t0);
}

/* ---- 2. naive: one INSERT per report, autocommit ---- */

static double bench_naive(pufa_report *r, size_t n) {
    enum { NFIXED = 11, NPARAM = NFIXED + PUFA_NCOUNTERS };
    pufa_buf q;
    pufa_buf_init(&q);
    pufa_buf_puts(&q, "INSERT INTO reports (report_id, revision, county_code, unit_code, unit_name,"
                      " occurred_on, theme, venue, form, campaign, title" PUFA_COUNTER_COLS
                      ") VALUES (");
    for (int i = 1; i <= NPARAM; i++)
        pufa_buf_printf(&q, "%s$%d", i > 1 ? "," : "", i);
    pufa_buf_puts(&q, ")");
    PGresult *p = PQprepare(db, "ins", q.data, NPARAM, NULL);
    PQclear(p);
    pufa_buf_free(&q);
    long long t0 = pufa_mono_ms();
    for (size_t i = 0; i < n; i++) {
        char num[3 + PUFA_NCOUNTERS][24];
        const char *v[NPARAM] = {r[i].report_id,   "1",
                                 r[i].county_code, r[i].unit_code,
                                 r[i].unit_name,   r[i].occurred_on};
        snprintf(num[0], 24, "%d", r[i].theme);
        snprintf(num[1], 24, "%d", r[i].venue);
        snprintf(num[2], 24, "%d", r[i].form);
        v[6] = num[0];
        v[7] = num[1];
        v[8] = num[2];
        v[9] = r[i].campaign;
        v[10] = r[i].title;
        for (int c = 0; c < PUFA_NCOUNTERS; c++) {
            snprintf(num[3 + c], 24, "%lld", (long long)r[i].counters[c]);
            v[NFIXED + c] = num[3 + c];
        }
        PGresult *res = PQexecPrepared(db, "ins", NPARAM, v, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "INSERT: %s", PQresultErrorMessage(res));
            exit(1);
        }
        PQclear(res);
    }
    return (double)n / bench_secs_since(t0);
}

/* ---- the stack ---- */

static pufa_proc agg, pub, col[4];
static char agg_ep[128], feed_ep[128];
static char agg_port[16], pub_port[16], col_port[4][16];

static void start_agg(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_aggregator", getenv("PUFA_TEST_DB"));
    char *listen = agg_port[0] ? pufa_asprintf("tcp://127.0.0.1:%s", agg_port)
                               : pufa_strdup("tcp://127.0.0.1:0");
    char *feed = feed_ep[0] ? pufa_strdup(feed_ep) : pufa_strdup("tcp://127.0.0.1:0");
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    char *argv[24] = {bin,      "--listen",    listen,  "--feed", feed,
                      "--http", "127.0.0.1:0", "--db",  dbinfo,   "--log-level",
                      "warn",   "--home",      "100000"};
    argv[agg_security(argv, 13)] = NULL;
    /* The endpoints are those of the first start (start_agg_info). */
    pufa_proc_start(&agg, argv, NULL);
    free(dbinfo);
    free(listen);
    free(feed);
    free(bin);
}

static void start_agg_info(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_aggregator", getenv("PUFA_TEST_DB"));
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    char *argv[24] = {bin,
                      "--listen",
                      "tcp://127.0.0.1:0",
                      "--feed",
                      "tcp://127.0.0.1:0",
                      "--http",
                      "127.0.0.1:0",
                      "--db",
                      dbinfo,
                      "--log-level",
                      (char *)agg_log_level,
                      "--compact-rows",
                      (char *)compact_rows,
                      "--compact-interval",
                      (char *)compact_interval,
                      "--home",
                      "100000"};
    argv[agg_security(argv, 17)] = NULL;
    pufa_proc_start(&agg, argv, NULL);
    if (!pufa_proc_wait_log(&agg, "id=AGG-LISTEN", "endpoint", agg_ep, sizeof agg_ep, 20000) ||
        !pufa_proc_wait_log(&agg, "id=AGG-FEED", "endpoint", feed_ep, sizeof feed_ep, 5000) ||
        !pufa_proc_wait_log(&agg, "id=AGG-READY", NULL, NULL, 0, 20000)) {
        pufa_proc_dump(&agg);
        exit(1);
    }
    snprintf(agg_port, sizeof agg_port, "%s", strrchr(agg_ep, ':') + 1);
    free(dbinfo);
    free(bin);
}

static void start_pub(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_publisher", getenv("PUFA_TEST_DB"));
    char *bin = pufa_asprintf("%s/publisher/pufa-publisher", build);
    char *argv[] = {bin,           "--feed", feed_ep, "--db",   dbinfo,   "--http",
                    "127.0.0.1:0", "--pub",  "",      "--home", "100000", NULL};
    pufa_proc_start(&pub, argv, NULL);
    if (!pufa_proc_wait_log(&pub, "id=PUB-HTTP", "port", pub_port, sizeof pub_port, 10000) ||
        !pufa_proc_wait_log(&pub, "id=PUB-SNAPSHOT", NULL, NULL, 0, 600000)) {
        pufa_proc_dump(&pub);
        exit(1);
    }
    free(dbinfo);
    free(bin);
}

static void start_col_info(int i, const char *spool) {
    char *bin = pufa_asprintf("%s/collector/pufa-collector", build);
    char *argv[24] = {
        bin,          "--insecure",  "--county", (char *)COUNTIES[i], "--aggregator",  agg_ep,
        "--spool",    (char *)spool, "--http",   "127.0.0.1:0",       "--spool-quota", "4GiB",
        "--max-body", "64MiB"};
    int n = 14;
    char *server = NULL, *cpub = NULL, *csec = NULL;
    if (curve) { /* --insecure stays: no HTTP token */
        server = pufa_asprintf("%s/aggregator.pub", keydir);
        cpub = pufa_asprintf("%s/col-%d.pub", keydir, i);
        csec = pufa_asprintf("%s/col-%d.key", keydir, i);
        argv[n++] = "--curve-server-public-file";
        argv[n++] = server;
        argv[n++] = "--curve-public-file";
        argv[n++] = cpub;
        argv[n++] = "--curve-secret-file";
        argv[n++] = csec;
    }
    argv[n] = NULL;
    pufa_proc_start(&col[i], argv, NULL);
    free(server);
    free(cpub);
    free(csec);
    if (!pufa_proc_wait_log(&col[i], "id=COL-HTTP", "port", col_port[i], sizeof col_port[i],
                            10000) ||
        !pufa_proc_wait_log(&col[i], "id=COL-READY", NULL, NULL, 0, 60000)) {
        pufa_proc_dump(&col[i]);
        exit(1);
    }
    free(bin);
}

static long long col_metric(int i, const char *name) {
    return pufa_http_metric(col_port[i], name);
}

/* ---- 3. end to end: HTTP to 4 collectors at once ---- */

typedef struct poster {
    int col;
    pufa_report *r;
    size_t n;
    size_t per_request;
    size_t accepted;
    char **bodies;
    size_t *counts, nbodies;
} poster;

/* The request bodies of one poster, encoded before the clock starts: a
 * county system encodes its JSON on its own machine, not on this one. */
static void encode_bodies(poster *p) {
    size_t nb = (p->n + p->per_request - 1) / p->per_request;
    p->bodies = pufa_calloc(nb ? nb : 1, sizeof *p->bodies);
    p->counts = pufa_calloc(nb ? nb : 1, sizeof *p->counts);
    for (size_t off = 0; off < p->n; off += p->per_request) {
        size_t cnt = p->n - off < p->per_request ? p->n - off : p->per_request;
        json_t *arr = json_array();
        for (size_t i = 0; i < cnt; i++) {
            free(p->r[off + i].county_code);
            p->r[off + i].county_code = pufa_strdup(COUNTIES[p->col]);
            json_array_append_new(arr, pufa_report_to_json(&p->r[off + i]));
        }
        p->bodies[p->nbodies] = json_dumps(arr, JSON_COMPACT);
        p->counts[p->nbodies++] = cnt;
        json_decref(arr);
    }
}

static void *post_all(void *arg) {
    poster *p = arg;
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports", col_port[p->col]);
    for (size_t b = 0; b < p->nbodies; b++) {
        const char *body = p->bodies[b];
        for (;;) {
            pufa_http_response resp;
            char err[256];
            int rc = pufa_http_request("POST", url, "Content-Type: application/json\r\n", body,
                                       strlen(body), 120000, &resp, err, sizeof err);
            int st = rc ? 0 : resp.status;
            if (!rc)
                pufa_buf_free(&resp.body);
            if (st == 202) {
                p->accepted += p->counts[b];
                break;
            }
            if (st != 503 && st != 0) {
                fprintf(stderr, "bench: POST answered %d\n", st);
                exit(1);
            }
            pufa_sleep_ms(100);
        }
    }
    free(url);
    return NULL;
}

/* Posts r[0..n) to ncol collectors at once; *started gets the time the
 * first request left (after the bodies were encoded).  Returns the seconds
 * until the last was accepted. */
static double post_parallel(pufa_report *r, size_t n, int ncol, size_t per_request,
                            long long *started) {
    pthread_t t[4];
    poster p[4];
    size_t share = n / (size_t)ncol;
    for (int i = 0; i < ncol; i++) {
        p[i] = (poster){.col = i,
                        .r = r + (size_t)i * share,
                        .n = i == ncol - 1 ? n - share * (size_t)(ncol - 1) : share,
                        .per_request = per_request};
        encode_bodies(&p[i]);
    }
    long long t0 = pufa_mono_ms();
    if (started)
        *started = t0;
    for (int i = 0; i < ncol; i++)
        pthread_create(&t[i], NULL, post_all, &p[i]);
    for (int i = 0; i < ncol; i++)
        pthread_join(t[i], NULL);
    double secs = bench_secs_since(t0);
    for (int i = 0; i < ncol; i++) {
        for (size_t b = 0; b < p[i].nbodies; b++)
            free(p[i].bodies[b]);
        free(p[i].bodies);
        free(p[i].counts);
    }
    return secs;
}

static void wait_reports(long long want, int timeout_s) {
    long long deadline = pufa_mono_ms() + timeout_s * 1000LL;
    while (pufa_mono_ms() < deadline && sql_ll("SELECT count(*) FROM reports") < want)
        pufa_sleep_ms(50);
}

/* ---- 4 + 5. aggregator alone, with commit -> SSE latency ---- */

void *bench_sse_main(void *arg) {
    bench_sse_probe *s = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(s->port))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return NULL;
    const char *req = "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, req, strlen(req), 0);
    pufa_buf acc;
    pufa_buf_init(&acc);
    while (!s->stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        char chunk[65536];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        long long now = pufa_mono_ms();
        pufa_buf_append(&acc, chunk, (size_t)n);
        char *d;
        while ((d = strstr(acc.data, "data: ")) && strchr(d, '\n')) {
            char *end = strchr(d, '\n');
            json_error_t jerr;
            json_t *o = json_loadb(d + 6, (size_t)(end - d - 6), 0, &jerr);
            long long c = json_integer_value(
                json_object_get(json_object_get(json_object_get(o, "totals"), "all"), "reports"));
            json_decref(o);
            if (s->n < 200000) {
                s->times[s->n] = now;
                s->counts[s->n] = c;
                s->n++;
            }
            size_t used = (size_t)(end + 1 - acc.data);
            memmove(acc.data, end + 1, acc.len - used + 1);
            acc.len -= used;
        }
    }
    pufa_buf_free(&acc);
    close(fd);
    return NULL;
}

int bench_cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static double bench_aggregator(pufa_report *r, size_t n, double *p50, double *p99) {
    bench_sse_probe *probe = pufa_calloc(1, sizeof *probe);
    snprintf(probe->port, sizeof probe->port, "%s", pub_port);
    pthread_t th;
    pthread_create(&th, NULL, bench_sse_main, probe);
    pufa_sleep_ms(300);
    long long base = sql_ll("SELECT count(*) FROM reports WHERE NOT retracted");
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, hwm = 100000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (curve) {
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, agg_pubkey, 40);
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, bench_pub, 40);
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, bench_sec, 40);
    }
    zmq_connect(d, agg_ep);
    const size_t B = 1000, WINDOW = 16;
    size_t nb = (n + B - 1) / B, sent = 0, acked = 0;
    /* Pre-encode every batch (the collector does the same from its spool). */
    uint8_t **frames = pufa_calloc(nb, sizeof *frames);
    size_t *lens = pufa_calloc(nb, sizeof *lens);
    for (size_t b = 0; b < nb; b++) {
        size_t cnt = n - b * B < B ? n - b * B : B;
        pufa_buf frame;
        pufa_buf_init(&frame);
        /* Shaped like a forwarder's: a name and the link fields. */
        pufa_batch_link link = {.has_as_of = true,
                                .as_of_seq = b + 1,
                                .as_of_ms = pufa_now_ms(),
                                .has_pending = true,
                                .pending = nb - b - 1,
                                .oldest_pending_ms = b + 1 < nb ? pufa_now_ms() : 0};
        pufa_batch_begin_link(&frame, "bench-forwarder", b, pufa_now_ms(), &link);
        for (size_t i = 0; i < cnt; i++) {
            size_t len;
            uint8_t *rep = pufa_report_encode(&r[b * B + i], &len);
            pufa_batch_add(&frame, rep, len);
            free(rep);
        }
        lens[b] = frame.len;
        frames[b] = (uint8_t *)pufa_buf_steal(&frame);
    }
    long long *ack_t = pufa_calloc(nb, sizeof *ack_t);
    long long *ack_count = pufa_calloc(nb, sizeof *ack_count);
    long long committed = base;
    long long t0 = pufa_mono_ms();
    while (acked < nb) {
        while (sent < nb && sent - acked < WINDOW) {
            zmq_send(d, frames[sent], lens[sent], 0);
            sent++;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, d, 0);
        Pufa__BatchAck *a = NULL;
        pufa_ack_decode(zmq_msg_data(&m), zmq_msg_size(&m), &a);
        for (size_t i = 0; a && i < a->n_results; i++)
            committed += a->results[i]->status == PUFA__REPORT_STATUS__STATUS_COMMITTED;
        ack_t[acked] = pufa_mono_ms();
        ack_count[acked] = committed;
        acked++;
        pufa_ack_destroy(&a);
        zmq_msg_close(&m);
    }
    double rate = (double)n / bench_secs_since(t0);
    pufa_sleep_ms(1500);
    probe->stop = 1;
    pthread_join(th, NULL);
    /* Latency: the first SSE event showing each ack's count, minus the ack. */
    long long *lat = pufa_calloc(nb, sizeof *lat);
    size_t nl = 0, e = 0;
    for (size_t b = 0; b < nb; b++) {
        while (e < probe->n && probe->counts[e] < ack_count[b])
            e++;
        if (e < probe->n)
            lat[nl++] = probe->times[e] > ack_t[b] ? probe->times[e] - ack_t[b] : 0;
    }
    qsort(lat, nl, sizeof *lat, bench_cmp_ll);
    *p50 = nl ? (double)lat[nl / 2] : -1;
    *p99 = nl ? (double)lat[(nl * 99) / 100 >= nl ? nl - 1 : (nl * 99) / 100] : -1;
    for (size_t b = 0; b < nb; b++)
        free(frames[b]);
    free(frames);
    free(lens);
    free(ack_t);
    free(ack_count);
    free(lat);
    free(probe);
    zmq_close(d);
    return rate;
}

/* ---- 6. publisher start-up over a large reports table ---- */

static void grow_reports_to(long long target) {
    long long have = sql_ll("SELECT count(*) FROM reports");
    if (have >= target)
        return;
    char *q = pufa_asprintf(
        "INSERT INTO reports (report_id, revision, county_code, unit_code, occurred_on, theme,"
        " venue, form, campaign, title, sessions, participants, materials, township)"
        " SELECT gen_random_uuid(), 1, (ARRAY['150802','150821','150822','150823','150824',"
        "'150825','150826','210402','210403','210404','210411','210421','210422','210423'])"
        "[1 + (i %% 14)], (ARRAY['SFJ','FY','JCY','GAJ','SWJ','JYJ'])[1 + (i %% 6)],"
        " current_date - (i %% 1826), 1 + (i %% 16), 1 + (i %% 13), 1 + (i %% 10),"
        " CASE WHEN i %% 7 = 0 THEN '宪法宣传周' ELSE '' END, '普法活动', 1, i %% 800, i %% 3000,"
        " (ARRAY['', '隆兴昌镇', '新公中镇', '城关镇', '巴彦高勒镇'])[1 + (i %% 5)]"
        " FROM generate_series(1, %lld) AS i",
        target - have);
    sql(q);
    free(q);
    /* The rollups, as the aggregator's compactor would have left them. */
#define BENCH_SUM_(up, low, label, max) ", sum(" #low ")"
    sql("TRUNCATE rollup_dim, rollup_journal");
    sql("INSERT INTO rollup_dim SELECT occurred_on, county_code,"
        " CASE WHEN GROUPING(theme) = 0 THEN 'theme' WHEN GROUPING(venue) = 0 THEN 'venue'"
        " WHEN GROUPING(form) = 0 THEN 'form' WHEN GROUPING(unit_code) = 0 THEN 'unit'"
        " WHEN GROUPING(campaign) = 0 THEN 'campaign' ELSE 'total' END,"
        " coalesce(theme::text, venue::text, form::text, unit_code, campaign, ''),"
        " count(*)" PUFA_COUNTER_MAP(BENCH_SUM_) " FROM reports WHERE NOT retracted"
                                                 " GROUP BY GROUPING SETS ((1, 2), (1, 2, theme), "
                                                 "(1, 2, venue), (1, 2, form),"
                                                 " (1, 2, unit_code), (1, 2, campaign))");
    sql("INSERT INTO rollup_dim SELECT occurred_on, county_code, 'township',"
        " pufa_township_norm(township), count(*)" PUFA_COUNTER_MAP(
            BENCH_SUM_) " FROM reports WHERE NOT retracted GROUP BY 1, 2, 4");
    sql("VACUUM ANALYZE rollup_dim");
}

/* The cost rule of the publisher's queries: /v1/totals by=day over the
 * 365 days to today with compare=yoy (366 rows, each with its base), n
 * requests one after the other; p50 and p99 in ms. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void trend_latency(int n, double *p50, double *p99) {
    char from[11], to[11];
    pufa_day today = pufa_city_day(pufa_now_ms());
    pufa_date_format(today - 364, from);
    pufa_date_format(today, to);
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/totals?window=%s..%s&by=day&compare=yoy",
                              pub_port, from, to);
    double *ms = pufa_calloc((size_t)n, sizeof *ms);
    int got = 0;
    for (int i = 0; i < n; i++) {
        pufa_http_response r;
        char err[256];
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rc = pufa_http_request("GET", url, NULL, NULL, 0, 10000, &r, err, sizeof err);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (rc == 0 && r.status == 200)
            ms[got++] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        if (rc == 0)
            pufa_buf_free(&r.body);
    }
    qsort(ms, (size_t)got, sizeof *ms, cmp_double);
    *p50 = got ? ms[got / 2] : -1;
    *p99 = got ? ms[(got * 99) / 100 >= got ? got - 1 : (got * 99) / 100] : -1;
    if (got != n)
        fprintf(stderr, "bench: %d of %d trend requests failed\n", n - got, n);
    free(ms);
    free(url);
}

static double publisher_startup(long long *cells) {
    pufa_proc_stop(&pub, SIGTERM, 10000);
    long long t0 = pufa_mono_ms();
    start_pub();
    double s = bench_secs_since(t0);
    *cells = sql_ll("SELECT (SELECT count(*) FROM rollup_dim) +"
                    " (SELECT count(*) FROM rollup_journal)");
    return s;
}

/* ---- --profile: the aggregator's own timings, summed from its log ---- */

static double field(const char *line, const char *key) {
    const char *at = strstr(line, key);
    return at ? atof(at + strlen(key)) : 0;
}

void bench_print_profile(const char *log) {
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    double txn[6] = {0}, comp[3] = {0}, phase[5] = {0};
    long ntxn = 0, ncomp = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "id=AGG-TXN ")) {
            txn[0] += field(line, " reports=");
            txn[1] += field(line, " lock_s=");
            txn[2] += field(line, " decide_s=");
            txn[3] += field(line, " rows_s=");
            txn[4] += field(line, " rollups_s=");
            txn[5] += field(line, " commit_s=");
            ntxn++;
        } else if (strstr(line, "id=AGG-COMPACT-PHASES ")) {
            phase[0] += field(line, " delete_s=");
            phase[1] += field(line, " fold_s=");
            phase[2] += field(line, " copy_s=");
            phase[3] += field(line, " update_s=") + field(line, " apply_s=");
            phase[4] += field(line, " insert_s=");
        } else if (strstr(line, "id=AGG-COMPACT ")) {
            comp[0] += field(line, " moved=");
            comp[1] += field(line, " written=");
            comp[2] += field(line, " seconds=");
            ncomp++;
        }
    }
    fclose(f);
    if (ntxn && txn[0] > 0) {
        double k = 10000.0 / txn[0];
        printf("  profile: %ld transactions, %.0f reports; seconds per 10,000 reports: lock %.3f,"
               " decide %.3f, report rows (COPY) %.3f, journal + receipts %.3f, commit %.3f\n",
               ntxn, txn[0], txn[1] * k, txn[2] * k, txn[3] * k, txn[4] * k, txn[5] * k);
    }
    if (ncomp)
        printf("  profile: %ld compactions moved %.0f journal rows into %.0f rollup_dim rows in"
               " %.2f s (off the commit path): delete %.2f, fold %.2f, copy %.2f, update (or"
               " upsert) %.2f, insert %.2f\n",
               ncomp, comp[0], comp[1], comp[2], phase[0], phase[1], phase[2], phase[3], phase[4]);
}

/* The federation rows of the table (fed.c measured them). */
static void print_fed_rows(int rc, const bench_fed_result *fr) {
    if (rc != 0) {
        printf("| federation catch-up and lag | failed (see above) | |\n");
        return;
    }
    double fed_rate = (double)FED_N / fr->catchup_s;
    printf("| federation catch-up: %zu reports city → upper level after a partition | %.1f s"
           " (%.0f reports/s, %lld at the upper level) | %.3f × raw COPY at the upper level"
           " (%.0f rows/s) |\n",
           FED_N, fr->catchup_s, fed_rate, fr->caught_up, fed_rate / fr->copy_rate, fr->copy_rate);
    if (fed_lag_s > 0)
        printf("| federation lag: county's 202 → upper publisher's SSE event, steady %.0f"
               " reports/s for %d s | p50 %.0f ms, p99 %.0f ms (%zu requests of 20) | |\n",
               fr->lag_rate, fed_lag_s, fr->lag_p50, fr->lag_p99, fr->lag_samples);
}

/* ---- the run ---- */

int main(int argc, char **argv) {
    if (argc < 2 || !getenv("PUFA_TEST_DB")) {
        fprintf(
            stderr,
            "usage: with-pg.sh bench BUILD_DIR [--reports N] [--backlog N] [--big] [--curve]\n");
        return 64;
    }
    build = argv[1];
    size_t swarm = 0, swarm_batch = 5;
    int national = 0, detail_years = 2;
    int swarm_period = 5000, swarm_steady = 30;
    bench_bigdb_opts bigdb = {.rounds = 3};
    bool bigdb_run = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--reports") && i + 1 < argc)
            N = (size_t)atoll(argv[++i]);
        else if (!strcmp(argv[i], "--backlog") && i + 1 < argc)
            BACKLOG = (size_t)atoll(argv[++i]);
        else if (!strcmp(argv[i], "--curve"))
            curve = true;
        else if (!strcmp(argv[i], "--big"))
            big = true;
        else if (!strcmp(argv[i], "--profile"))
            agg_log_level = "debug";
        else if (!strcmp(argv[i], "--compact-rows") && i + 1 < argc)
            compact_rows = argv[++i];
        else if (!strcmp(argv[i], "--compact-interval") && i + 1 < argc)
            compact_interval = argv[++i];
        else if (!strcmp(argv[i], "--fed-reports") && i + 1 < argc)
            FED_N = (size_t)atoll(argv[++i]);
        else if (!strcmp(argv[i], "--fed-lag") && i + 1 < argc)
            fed_lag_s = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-federation"))
            fed = false;
        else if (!strcmp(argv[i], "--only-federation"))
            only_fed = true;
        else if (!strcmp(argv[i], "--sse") && i + 1 < argc)
            sse_streams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hostile") && i + 1 < argc)
            hostile_conns = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--http-only"))
            http_only = true;
        else if (!strcmp(argv[i], "--trend-only"))
            trend_only = true;

        else if (!strcmp(argv[i], "--stored") && i + 1 < argc)
            bigdb.stored = (size_t)atoll(argv[++i]), bigdb_run = true;
        else if (!strcmp(argv[i], "--ids") && i + 1 < argc) {
            const char *ids = argv[++i];
            if (strcmp(ids, "v4") && strcmp(ids, "v7")) {
                fprintf(stderr, "bench: --ids: want v4 or v7, not %s\n", ids);
                return 64;
            }
            bigdb.v4 = !strcmp(ids, "v4");
            bigdb_run = true;
        } else if (!strcmp(argv[i], "--agg-bins") && i + 1 < argc)
            bigdb.agg_bins = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            bigdb.rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--swarm") && i + 1 < argc)
            swarm = (size_t)atoll(argv[++i]);
        else if (!strcmp(argv[i], "--swarm-batch") && i + 1 < argc)
            swarm_batch = (size_t)atoll(argv[++i]);
        else if (!strcmp(argv[i], "--swarm-period-ms") && i + 1 < argc)
            swarm_period = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--swarm-steady-s") && i + 1 < argc)
            swarm_steady = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--national") && i + 1 < argc)
            national = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--detail-years") && i + 1 < argc)
            detail_years = atoi(argv[++i]);
    }
    if (national > 0) /* its own scenario: a nation's publisher, nothing else */
        return national_main(build, national, detail_years);
    if (swarm) /* its own scenario: N collectors on one aggregator, nothing else */
        return swarm_main(build, swarm, swarm_batch, swarm_period, swarm_steady);
    pufa_json_init();
    signal(SIGPIPE, SIG_IGN);
    char *cmd = pufa_asprintf("'%s/cli/pufa' migrate --db '%s' --org-units '%s/../deploy/data/"
                              "demo_tree.csv' --units '%s/../deploy/data/units.csv' >/dev/null",
                              build, getenv("PUFA_TEST_DB"), PUFA_SOURCE_DIR "/bench",
                              PUFA_SOURCE_DIR "/bench");
    if (pufa_sh(cmd) != 0)
        return 1;
    free(cmd);
    db = PQconnectdb(getenv("PUFA_TEST_DB"));
    zctx = zmq_ctx_new();
    char tmp[] = "/tmp/pufa-bench-XXXXXX";
    mkdtemp(tmp);
    if (curve)
        setup_curve(tmp);
    printf("pufa benchmark: %zu reports, backlog %zu, PostgreSQL fsync=%s synchronous_commit=%s,"
           " %ld cores\n",
           N, BACKLOG, PQparameterStatus(db, "server_version") ? "on" : "?", "on",
           sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
    if (bigdb_run) { /* --stored N --ids v4|v7: its own scenario (bigdb.c) */
        bigdb.n = N;
        bigdb.profile = !strcmp(agg_log_level, "debug");
        int brc = bench_bigdb(build, db, zctx, &bigdb);
        zmq_ctx_term(zctx);
        PQfinish(db);
        return brc;
    }
    if (only_fed) {
        bench_fed_result fr;
        int frc = bench_fed(build, FED_N, fed_lag_s, &fr);
        printf("\n| measure | figure | ratio |\n| --- | --- | --- |\n");
        print_fed_rows(frc, &fr);
        zmq_ctx_term(zctx);
        PQfinish(db);
        return frc ? 1 : 0;
    }

    if (http_only) {
        start_agg_info();
        if (sse_streams)
            bench_sse(&(bench_http_env){build, zctx, agg_ep, feed_ep}, sse_streams);
        if (hostile_conns)
            bench_hostile(&(bench_http_env){build, zctx, agg_ep, feed_ep}, hostile_conns);
        pufa_proc_stop(&agg, SIGTERM, 20000);
        zmq_ctx_term(zctx);
        PQfinish(db);
        return 0;
    }

    if (trend_only) { /* the trend row alone: 1,000,000 reports generated in SQL */
        start_agg_info();
        grow_reports_to(1000000);
        start_pub();
        long long cells = sql_ll("SELECT (SELECT count(*) FROM rollup_dim) +"
                                 " (SELECT count(*) FROM rollup_journal)");
        double p50, p99;
        trend_latency(1000, &p50, &p99);
        printf("| /v1/totals by=day, 365 days, compare=yoy, 1,000 requests, %lld reports (%lld"
               " cells) | p50 %.2f ms, p99 %.2f ms | goal p99 <= 20 ms |\n",
               sql_ll("SELECT count(*) FROM reports"), cells, p50, p99);
        pufa_proc_stop(&pub, SIGTERM, 20000);
        pufa_proc_stop(&agg, SIGTERM, 20000);
        zmq_ctx_term(zctx);
        PQfinish(db);
        return 0;
    }

    /* 1 and 2 */
    pufa_report *rows = bench_make_reports(N, 1);
    double copy_rate = bench_copy("reports", rows, N);
    sql("TRUNCATE reports");
    size_t naive_n = N / 10 > 20000 ? 20000 : N / 10;
    double naive_rate = bench_naive(rows, naive_n);
    sql("TRUNCATE reports");
    bench_free_reports(rows, N);
    printf("  raw COPY (binary, 10,000-row transactions): %.0f rows/s\n", copy_rate);
    printf("  naive (one INSERT per report, autocommit):  %.0f rows/s (%zu rows)\n", naive_rate,
           naive_n);
    fflush(stdout);

    /* 3: end to end */
    start_agg_info();
    start_pub();
    for (int i = 0; i < 4; i++) {
        char *spool = pufa_asprintf("%s/spool-%d", tmp, i);
        start_col_info(i, spool);
        free(spool);
    }
    pufa_report *e2e = bench_make_reports(N, 2);
    long long t0 = 0;
    double post_s = post_parallel(e2e, N, 4, 1000, &t0);
    wait_reports((long long)N, 600);
    double e2e_s = bench_secs_since(t0);
    double e2e_rate = (double)N / e2e_s;
    long long got = sql_ll("SELECT count(*) FROM reports");
    bench_free_reports(e2e, N);
    printf("  pufa end to end (4 collectors, HTTP -> spool fsync -> ZeroMQ -> group commit):"
           " %.0f reports/s (accepted at %.0f/s; %lld of %zu committed)\n",
           e2e_rate, (double)N / post_s, got, N);
    fflush(stdout);

    /* 4 and 5: rounds of (raw COPY of N fresh rows, then N fresh reports through the
     * aggregator alone), so that each ratio compares the two on the same table size and
     * the same moment's machine; the median round counts. */
    enum { ROUNDS = 3 };
    /* The raw rows go to a twin of reports (same columns, constraints,
     * foreign key and indexes), growing as reports does, so that the publisher's totals
     * keep matching the reports table. */
    sql("CREATE TABLE bench_raw (LIKE reports INCLUDING ALL)");
    /* LIKE leaves out foreign keys; the county's is checked per row. */
    sql("ALTER TABLE bench_raw ADD FOREIGN KEY (county_code) REFERENCES org_units (code)");
    sql("INSERT INTO bench_raw SELECT * FROM reports"); /* the same size to start with */
    sql("VACUUM ANALYZE bench_raw");
    double agg_rates[ROUNDS], round_copy[ROUNDS], round_ratio[ROUNDS], p50s[ROUNDS], p99s[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        pufa_report *raw = bench_make_reports(N, 10 + (unsigned)k);
        round_copy[k] = bench_copy("bench_raw", raw, N);
        bench_free_reports(raw, N);
        pufa_report *direct = bench_make_reports(N, 20 + (unsigned)k);
        agg_rates[k] = bench_aggregator(direct, N, &p50s[k], &p99s[k]);
        bench_free_reports(direct, N);
        round_ratio[k] = agg_rates[k] / round_copy[k];
        printf("  round %d: raw COPY %.0f rows/s, aggregator alone (batches of 1,000, window 16)"
               " %.0f reports/s = %.3f x COPY; freshness p50 %.0f ms, p99 %.0f ms\n",
               k + 1, round_copy[k], agg_rates[k], round_ratio[k], p50s[k], p99s[k]);
        fflush(stdout);
    }
    int med = 0; /* the round with the median ratio */
    for (int k = 0; k < ROUNDS; k++) {
        int below = 0, above = 0;
        for (int j = 0; j < ROUNDS; j++) {
            below += round_ratio[j] < round_ratio[k];
            above += round_ratio[j] > round_ratio[k];
        }
        if (below <= ROUNDS / 2 && above <= ROUNDS / 2)
            med = k;
    }
    double agg_rate = agg_rates[med], agg_copy = round_copy[med];
    double p50 = p50s[med], p99 = p99s[0];
    for (int k = 1; k < ROUNDS; k++)
        p99 = p99s[k] > p99 ? p99s[k] : p99; /* the worst round's */
    if (!strcmp(agg_log_level, "debug"))
        bench_print_profile(agg.log);
    printf("  freshness, commit -> SSE at full rate: p50 %.0f ms, p99 %.0f ms\n", p50, p99);
    fflush(stdout);

    /* Scale of HTTP (scale_http.c), on this aggregator and feed. */
    if (sse_streams)
        bench_sse(&(bench_http_env){build, zctx, agg_ep, feed_ep}, sse_streams);
    if (hostile_conns)
        bench_hostile(&(bench_http_env){build, zctx, agg_ep, feed_ep}, hostile_conns);

    /* 7: memory of the services after all that */
    long long agg_rss = rss_kb(agg.pid, "VmHWM:"), pub_rss = rss_kb(pub.pid, "VmHWM:");
    long long col_rss = 0;
    for (int i = 0; i < 4; i++) {
        long long v = rss_kb(col[i].pid, "VmHWM:");
        col_rss = v > col_rss ? v : col_rss;
    }

    /* 6: publisher start-up */
    long long cells_now;
    double start_now = publisher_startup(&cells_now);
    long long have = sql_ll("SELECT count(*) FROM reports");
    double tr_p50[3] = {-1, -1, -1}, tr_p99[3] = {-1, -1, -1};
    trend_latency(1000, &tr_p50[0], &tr_p99[0]);
    grow_reports_to(1000000);
    long long cells_1m;
    double start_1m = publisher_startup(&cells_1m);
    trend_latency(1000, &tr_p50[1], &tr_p99[1]);
    double start_10m = -1;
    long long cells_10m = 0;
    if (big) {
        grow_reports_to(10000000);
        start_10m = publisher_startup(&cells_10m);
        trend_latency(1000, &tr_p50[2], &tr_p99[2]);
    }
    long long pub_rss_1m = rss_kb(pub.pid, "VmHWM:");

    /* 7 + 8: a collector with a backlog, then catch-up */
    pufa_proc_stop(&agg, SIGTERM, 20000);
    for (int i = 0; i < 4; i++)
        pufa_proc_stop(&col[i], SIGTERM, 20000);
    char *spool = pufa_asprintf("%s/spool-backlog", tmp);
    start_col_info(0, spool);
    pufa_report *bl = bench_make_reports(BACKLOG, 4);
    for (size_t i = 0; i < BACKLOG; i++) {
        free(bl[i].county_code);
        bl[i].county_code = pufa_strdup(COUNTIES[0]);
    }
    double bl_post = post_parallel(bl, BACKLOG, 1, 2000, NULL);
    bench_free_reports(bl, BACKLOG);
    long long col_backlog_rss = rss_kb(col[0].pid, "VmRSS:");
    long long col_backlog_hwm = rss_kb(col[0].pid, "VmHWM:");
    long long before = sql_ll("SELECT count(*) FROM reports");
    long long tc = pufa_mono_ms();
    start_agg();
    while (col_metric(0, "pufa_collector_spool_reports ") != 0 && bench_secs_since(tc) < 1800)
        pufa_sleep_ms(100);
    double catchup = bench_secs_since(tc);
    long long after = sql_ll("SELECT count(*) FROM reports");
    free(spool);
    pufa_proc_stop(&col[0], SIGTERM, 20000);
    pufa_proc_stop(&agg, SIGTERM, 20000);
    pufa_proc_stop(&pub, SIGTERM, 20000);

    /* 9 + 10: federation, city -> upper level */
    bench_fed_result fr = {0};
    int fed_rc = fed ? bench_fed(build, FED_N, fed_lag_s, &fr) : 0;

    printf("\n| measure | figure | ratio |\n| --- | --- | --- |\n");
    printf("| raw COPY (binary, 10,000-row transactions) | %.0f rows/s | 1 |\n", copy_rate);
    printf("| naive INSERT per report, autocommit | %.0f rows/s | %.3f × COPY |\n", naive_rate,
           naive_rate / copy_rate);
    printf("| pufa end to end (4 collectors) | %.0f reports/s | %.3f × COPY, %.1f × naive |\n",
           e2e_rate, e2e_rate / copy_rate, e2e_rate / naive_rate);
    printf("| aggregator alone (median of %d rounds) | %.0f reports/s | %.3f × COPY (%.0f rows/s"
           " in that round) |\n",
           ROUNDS, agg_rate, agg_rate / agg_copy, agg_copy);
    printf("| freshness commit → SSE | p50 %.0f ms, p99 %.0f ms (worst round) | |\n", p50, p99);
    printf("| publisher start-up, %lld reports (%lld rollup cells) | %.2f s | |\n", have, cells_now,
           start_now);
    printf("| publisher start-up, 1,000,000 reports (%lld rollup cells) | %.2f s | |\n", cells_1m,
           start_1m);
    if (big)
        printf("| publisher start-up, 10,000,000 reports (%lld rollup cells) | %.2f s | |\n",
               cells_10m, start_10m);
    else
        printf("| publisher start-up, 10,000,000 reports | not run (--big) | |\n");
    printf("| /v1/totals by=day, 365 days, compare=yoy, 1,000 requests, %lld reports | p50 %.2f ms,"
           " p99 %.2f ms | |\n",
           have, tr_p50[0], tr_p99[0]);
    printf("| the same, 1,000,000 reports | p50 %.2f ms, p99 %.2f ms | |\n", tr_p50[1], tr_p99[1]);
    if (big)
        printf("| the same, 10,000,000 reports | p50 %.2f ms, p99 %.2f ms | |\n", tr_p50[2],
               tr_p99[2]);
    printf("| peak RSS: aggregator / publisher / collector (after the runs above) | %lld / %lld /"
           " %lld KiB | |\n",
           agg_rss, pub_rss, col_rss);
    printf("| peak RSS: publisher after the 1M start-up | %lld KiB | |\n", pub_rss_1m);
    printf("| collector RSS with %zu reports backlogged (aggregator down) | %lld KiB (peak %lld)"
           " | |\n",
           BACKLOG, col_backlog_rss, col_backlog_hwm);
    printf("| backlog intake (1 collector, HTTP, aggregator down) | %.0f reports/s | |\n",
           (double)BACKLOG / bl_post);
    printf("| catch-up: %zu backlogged reports drained | %.1f s (%.0f reports/s, %lld committed)"
           " | |\n",
           BACKLOG, catchup, (double)BACKLOG / catchup, after - before);
    if (!fed)
        printf("| federation catch-up and lag | not run (--no-federation) | |\n");
    else
        print_fed_rows(fed_rc, &fr);
    zmq_ctx_term(zctx);
    PQfinish(db);
    cmd = pufa_asprintf("rm -rf %s", tmp);
    pufa_sh(cmd);
    free(cmd);
    return 0;
}
