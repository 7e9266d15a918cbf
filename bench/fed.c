/* The benchmark's federation rows: a city aggregator (home 150800) forwarding
 * to the nation's (home 100000), each with its database on the same server
 * (pufa_city, pufa_upper).
 *   catch-up: n reports committed at the city while the upper level is down
 *             (the partition), then the time until all n are at the upper
 *             level; against a raw COPY of n rows of the same kind into a
 *             twin of the upper level's reports table.
 *   lag:      a steady 1,000 reports/s posted over HTTP to a county's
 *             collector (20 reports every 20 ms); for each request, from its
 *             202 to the first SSE event of the upper publisher whose
 *             all-time total includes it. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "alloc.h"
#include "bench.h"
#include "date.h"
#include "httpc.h"
#include "proc.h"
#include "report_json.h"
#include "wire.h"

static const char *build;
static pufa_proc city, upper, upper_pub, col;
static char up_listen[128], up_feed[128], up_http[16], city_ep[128], pub_port[16], col_port[16];

static char *conninfo(const char *dbname) {
    return pufa_asprintf("%s dbname=%s", getenv("PUFA_TEST_DB"), dbname);
}

static long long ll(PGconn *c, const char *q) {
    PGresult *r = PQexec(c, q);
    long long v = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

static bool exec_ok(PGconn *c, const char *q) {
    PGresult *r = PQexec(c, q);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "bench: %s: %s", q, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

static bool make_db(PGconn *admin, const char *name) {
    char *q = pufa_asprintf("CREATE DATABASE %s", name);
    bool ok = exec_ok(admin, q);
    free(q);
    char *ci = conninfo(name);
    char *cmd = pufa_asprintf("'%s/cli/pufa' migrate --db '%s' --org-units '%s/deploy/data/"
                              "demo_tree.csv' --units '%s/deploy/data/units.csv' >/dev/null",
                              build, ci, PUFA_SOURCE_DIR, PUFA_SOURCE_DIR);
    ok = ok && pufa_sh(cmd) == 0;
    free(cmd);
    free(ci);
    return ok;
}

/* The upper aggregator, on the endpoints of its first start. */
static bool start_upper(void) {
    char *db = conninfo("pufa_upper user=pufa_aggregator");
    char *listen = pufa_strdup(up_listen[0] ? up_listen : "tcp://127.0.0.1:0");
    char *feed = pufa_strdup(up_feed[0] ? up_feed : "tcp://127.0.0.1:0");
    char *http = pufa_asprintf("127.0.0.1:%s", up_http[0] ? up_http : "0");
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    char *argv[] = {bin,  "--insecure", "--listen", listen,   "--feed", feed, "--http",
                    http, "--db",       db,         "--home", "100000", NULL};
    pufa_proc_start(&upper, argv, NULL);
    bool ok =
        pufa_proc_wait_log(&upper, "id=AGG-LISTEN", "endpoint", up_listen, sizeof up_listen,
                           20000) &&
        pufa_proc_wait_log(&upper, "id=AGG-FEED", "endpoint", up_feed, sizeof up_feed, 5000) &&
        pufa_proc_wait_log(&upper, "id=AGG-HTTP", "port", up_http, sizeof up_http, 5000);
    if (!ok)
        pufa_proc_dump(&upper);
    free(db);
    free(listen);
    free(feed);
    free(http);
    free(bin);
    return ok;
}

static bool start_city(void) {
    char *db = conninfo("pufa_city user=pufa_aggregator");
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    char *argv[] = {bin,          "--insecure",
                    "--listen",   "tcp://127.0.0.1:0",
                    "--feed",     "tcp://127.0.0.1:0",
                    "--http",     "127.0.0.1:0",
                    "--db",       db,
                    "--home",     "150800",
                    "--upstream", up_listen,
                    NULL};
    pufa_proc_start(&city, argv, NULL);
    bool ok =
        pufa_proc_wait_log(&city, "id=AGG-LISTEN", "endpoint", city_ep, sizeof city_ep, 20000) &&
        pufa_proc_wait_log(&city, "id=AGG-READY", NULL, NULL, 0, 20000);
    if (!ok)
        pufa_proc_dump(&city);
    free(db);
    free(bin);
    return ok;
}

static bool start_upper_pub(void) {
    char *db = conninfo("pufa_upper user=pufa_publisher");
    char *bin = pufa_asprintf("%s/publisher/pufa-publisher", build);
    char *argv[] = {bin,           "--feed", up_feed, "--db",   db,       "--http",
                    "127.0.0.1:0", "--pub",  "",      "--home", "100000", NULL};
    pufa_proc_start(&upper_pub, argv, NULL);
    bool ok =
        pufa_proc_wait_log(&upper_pub, "id=PUB-HTTP", "port", pub_port, sizeof pub_port, 10000) &&
        pufa_proc_wait_log(&upper_pub, "id=PUB-SNAPSHOT", NULL, NULL, 0, 600000);
    if (!ok)
        pufa_proc_dump(&upper_pub);
    free(db);
    free(bin);
    return ok;
}

static bool start_col(const char *spool) {
    char *bin = pufa_asprintf("%s/collector/pufa-collector", build);
    char *argv[] = {bin,     "--insecure", "--county",    "150802", "--aggregator",
                    city_ep, "--spool",    (char *)spool, "--http", "127.0.0.1:0",
                    NULL};
    pufa_proc_start(&col, argv, NULL);
    bool ok = pufa_proc_wait_log(&col, "id=COL-HTTP", "port", col_port, sizeof col_port, 10000) &&
              pufa_proc_wait_log(&col, "id=COL-READY", NULL, NULL, 0, 60000);
    if (!ok)
        pufa_proc_dump(&col);
    free(bin);
    return ok;
}

/* r[0..n) to the city aggregator as batches of 1,000, 16 in flight, until
 * every batch is acked; false if an ack did not come within a minute. */
static bool send_to_city(void *zctx, pufa_report *r, size_t n) {
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, hwm = 100000, timeout = 60000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(d, city_ep);
    const size_t B = 1000, WINDOW = 16;
    size_t nb = (n + B - 1) / B, sent = 0, acked = 0;
    bool ok = true;
    while (acked < nb && ok) {
        while (sent < nb && sent - acked < WINDOW) {
            size_t cnt = n - sent * B < B ? n - sent * B : B;
            pufa_buf frame;
            pufa_buf_init(&frame);
            pufa_batch_begin(&frame, NULL, sent, pufa_now_ms());
            for (size_t i = 0; i < cnt; i++) {
                size_t len;
                uint8_t *rep = pufa_report_encode(&r[sent * B + i], &len);
                pufa_batch_add(&frame, rep, len);
                free(rep);
            }
            zmq_send(d, frame.data, frame.len, 0);
            pufa_buf_free(&frame);
            sent++;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        ok = zmq_msg_recv(&m, d, 0) >= 0;
        zmq_msg_close(&m);
        acked += ok;
    }
    zmq_close(d);
    return ok;
}

/* The lag row: posts 20 reports every 20 ms for lag_s seconds; per request,
 * 202 time and the cumulative count; then matches them with the upper
 * publisher's SSE events. */
static void lag_row(int lag_s, long long base, bench_fed_result *out) {
    const size_t PER = 20;
    size_t nreq = (size_t)lag_s * 50;
    pufa_report *r = bench_make_reports(nreq * PER, 77);
    char **bodies = pufa_calloc(nreq, sizeof *bodies);
    for (size_t q = 0; q < nreq; q++) {
        json_t *arr = json_array();
        for (size_t i = 0; i < PER; i++) {
            free(r[q * PER + i].county_code);
            r[q * PER + i].county_code = pufa_strdup("150802");
            json_array_append_new(arr, pufa_report_to_json(&r[q * PER + i]));
        }
        bodies[q] = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
    }
    bench_free_reports(r, nreq * PER);
    bench_sse_probe *probe = pufa_calloc(1, sizeof *probe);
    snprintf(probe->port, sizeof probe->port, "%s", pub_port);
    pthread_t th;
    pthread_create(&th, NULL, bench_sse_main, probe);
    pufa_sleep_ms(300);
    long long *t202 = pufa_calloc(nreq, sizeof *t202), *cum = pufa_calloc(nreq, sizeof *cum);
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports", col_port);
    long long accepted = 0, t0 = pufa_mono_ms();
    size_t done = 0;
    for (size_t q = 0; q < nreq; q++) {
        long long due = t0 + (long long)q * 20, now = pufa_mono_ms();
        if (due > now)
            pufa_sleep_ms((int)(due - now));
        pufa_http_response resp;
        char err[256];
        int rc = pufa_http_request("POST", url, "Content-Type: application/json\r\n", bodies[q],
                                   strlen(bodies[q]), 30000, &resp, err, sizeof err);
        long long at = pufa_mono_ms();
        if (rc == 0)
            pufa_buf_free(&resp.body);
        if (rc != 0 || resp.status != 202) {
            fprintf(stderr, "bench: lag row: POST %s\n", rc ? err : "not answered 202");
            continue;
        }
        accepted += (long long)PER;
        t202[done] = at;
        cum[done++] = accepted;
    }
    out->lag_rate = (double)accepted / bench_secs_since(t0);
    /* Until the upper level shows them all (at most a minute). */
    long long deadline = pufa_mono_ms() + 60000;
    while (pufa_mono_ms() < deadline &&
           (probe->n == 0 || probe->counts[probe->n - 1] < base + accepted))
        pufa_sleep_ms(100);
    probe->stop = 1;
    pthread_join(th, NULL);
    long long *lat = pufa_calloc(done ? done : 1, sizeof *lat);
    size_t nl = 0, e = 0;
    for (size_t q = 0; q < done; q++) {
        while (e < probe->n && probe->counts[e] < base + cum[q])
            e++;
        if (e < probe->n)
            lat[nl++] = probe->times[e] > t202[q] ? probe->times[e] - t202[q] : 0;
    }
    qsort(lat, nl, sizeof *lat, bench_cmp_ll);
    out->lag_samples = nl;
    out->lag_p50 = nl ? (double)lat[nl / 2] : -1;
    out->lag_p99 = nl ? (double)lat[(nl * 99) / 100 >= nl ? nl - 1 : (nl * 99) / 100] : -1;
    if (nl < done)
        fprintf(stderr, "bench: lag row: %zu of %zu requests never showed at the upper level\n",
                done - nl, done);
    for (size_t q = 0; q < nreq; q++)
        free(bodies[q]);
    free(bodies);
    free(t202);
    free(cum);
    free(lat);
    free(url);
    free(probe);
}

int bench_fed(const char *build_dir, size_t n, int lag_s, bench_fed_result *out) {
    build = build_dir;
    memset(out, 0, sizeof *out);
    PGconn *admin = PQconnectdb(getenv("PUFA_TEST_DB"));
    if (!make_db(admin, "pufa_city") || !make_db(admin, "pufa_upper"))
        return -1;
    PQfinish(admin);
    char *ci = conninfo("pufa_upper"), *cc = conninfo("pufa_city");
    PGconn *up = PQconnectdb(ci), *cdb = PQconnectdb(cc);
    free(ci);
    free(cc);
    void *zctx = zmq_ctx_new();
    char tmp[] = "/tmp/pufa-bench-fed-XXXXXX";
    int rc = -1;
    if (!mkdtemp(tmp))
        goto out;

    /* The partition: the upper level's endpoints are known, but it is down
     * while the city commits n reports. */
    if (!start_upper())
        goto out;
    pufa_proc_stop(&upper, SIGTERM, 20000);
    if (!start_city())
        goto out;
    pufa_report *r = bench_make_reports(n, 31);
    bool sent = send_to_city(zctx, r, n);
    bench_free_reports(r, n);
    if (!sent) {
        fprintf(stderr, "bench: the city aggregator did not ack every batch\n");
        goto out;
    }
    printf("  federation: %lld reports committed at the city while the upper level is down\n",
           ll(cdb, "SELECT count(*) FROM reports"));
    fflush(stdout);

    /* Raw COPY at the upper level, same kind and number of rows, into a
     * twin of its (empty) reports table. */
    if (!exec_ok(up, "CREATE TABLE bench_raw (LIKE reports INCLUDING ALL)") ||
        !exec_ok(up, "ALTER TABLE bench_raw ADD FOREIGN KEY (county_code) REFERENCES org_units"
                     " (code)"))
        goto out;
    r = bench_make_reports(n, 32);
    PGconn *before = bench_use_db(up);
    out->copy_rate = bench_copy("bench_raw", r, n);
    bench_use_db(before);
    bench_free_reports(r, n);
    exec_ok(up, "DROP TABLE bench_raw");
    exec_ok(up, "CHECKPOINT");

    /* Healed: the upper level back, the city catches up. */
    long long t0 = pufa_mono_ms();
    if (!start_upper())
        goto out;
    while (ll(up, "SELECT count(*) FROM reports") < (long long)n && bench_secs_since(t0) < 3600)
        pufa_sleep_ms(100);
    out->catchup_s = bench_secs_since(t0);
    out->caught_up = ll(up, "SELECT count(*) FROM reports");
    printf("  federation: catch-up of %zu reports in %.1f s; raw COPY at the upper level %.0f "
           "rows/s\n",
           n, out->catchup_s, out->copy_rate);
    fflush(stdout);

    if (lag_s > 0) {
        char *spool = pufa_asprintf("%s/spool", tmp);
        bool up_ok = start_upper_pub() && start_col(spool);
        free(spool);
        if (!up_ok)
            goto out;
        long long base = ll(up, "SELECT count(*) FROM reports WHERE NOT retracted");
        lag_row(lag_s, base, out);
    }
    rc = 0;
out:
    pufa_proc_stop(&col, SIGTERM, 20000);
    pufa_proc_stop(&upper_pub, SIGTERM, 20000);
    pufa_proc_stop(&city, SIGTERM, 20000);
    pufa_proc_stop(&upper, SIGTERM, 20000);
    zmq_ctx_term(zctx);
    PQfinish(up);
    PQfinish(cdb);
    char *cmd = pufa_asprintf("rm -rf %s", tmp);
    pufa_sh(cmd);
    free(cmd);
    return rc;
}
