/* Integration test: link freshness (child_links) and the collector's link
 * status, against the real aggregator, collector and PostgreSQL.
 * argv: PUFA_BIN AGGREGATOR_BIN COLLECTOR_BIN. */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "httpc.h"
#include "itest.h"
#include "keyfile.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin, *col_bin;
static pufa_proc agg, col;
static char dir[64], agg_port[16], agg_http[16], col_port[16];
static char agg_pub[41], agg_sec[41], city_pub[41], city_sec[41], k21_pub[41], k21_sec[41],
    k22_pub[41], k22_sec[41];
static void *zctx;
static void *sockets[8]; /* open dealers, closed by the teardown after a failure */
static PGconn *db;

/* The aggregator with CURVE, on the port of its first start. */
static void start_agg(void) {
    char *listen = pufa_asprintf("tcp://127.0.0.1:%s", agg_port[0] ? agg_port : "0");
    char *sec = pufa_asprintf("%s/aggregator.key", dir), *allow = pufa_asprintf("%s/allow", dir);
    const char *extra[] = {
        "--home", PUFA_TEST_HOME, "--curve-secret-file", sec, "--allow-list", allow, NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, &(pufa_itest_agg_opts){.listen = listen});
    char ep[128];
    if (!pufa_itest_agg_wait(&agg, ep, NULL, agg_http, 1000, 10000))
        fail_msg("aggregator did not start");
    snprintf(agg_port, sizeof agg_port, "%s", strrchr(ep, ':') + 1);
    free(listen);
    free(sec);
    free(allow);
}

static void stop_agg(void) {
    int st = pufa_proc_stop(&agg, SIGTERM, 15000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The county 150821's collector with its CURVE key, heartbeats every
 * 300 ms. */
static void start_col(void) {
    char *aggr = pufa_asprintf("tcp://127.0.0.1:%s", agg_port);
    char *spool = pufa_asprintf("%s/spool", dir), *server = pufa_asprintf("%s/aggregator.pub", dir),
         *pub = pufa_asprintf("%s/county-150821.pub", dir),
         *sec = pufa_asprintf("%s/county-150821.key", dir);
    const char *argv[] = {col_bin,
                          "--insecure", /* no HTTP token; CURVE to the aggregator */
                          "--county",
                          "150821",
                          "--aggregator",
                          aggr,
                          "--spool",
                          spool,
                          "--http",
                          "127.0.0.1:0",
                          "--org-units",
                          pufa_test_data_path("org_units.csv"),
                          "--curve-server-public-file",
                          server,
                          "--curve-public-file",
                          pub,
                          "--curve-secret-file",
                          sec,
                          "--ack-timeout",
                          "1s",
                          "--backoff-max",
                          "2s",
                          "--heartbeat",
                          "500ms",
                          "--heartbeat-ms",
                          "300",
                          NULL};
    pufa_proc_start(&col, (char *const *)argv, NULL);
    if (!pufa_proc_wait_log(&col, "id=COL-HTTP", "port", col_port, sizeof col_port, 10000) ||
        !pufa_proc_wait_log(&col, "id=COL-READY", NULL, NULL, 0, 10000)) {
        pufa_proc_dump(&col);
        fail_msg("collector did not start");
    }
    free(aggr);
    free(spool);
    free(server);
    free(pub);
    free(sec);
}

/* GET /v1/status of the collector (caller decrefs). */
static json_t *col_status(void) {
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/status", col_port);
    pufa_http_response r;
    char err[256];
    assert_int_equal(pufa_http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err), 0);
    free(url);
    assert_int_equal(r.status, 200);
    json_error_t jerr;
    json_t *o = json_loadb(r.body.data, r.body.len, 0, &jerr);
    pufa_buf_free(&r.body);
    assert_non_null(o);
    return o;
}

static const char *jstr(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Waits until the collector's link is in state (up, down, unanswered). */
static json_t *wait_link(const char *state, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    for (;;) {
        json_t *o = col_status();
        if (!strcmp(jstr(o, "link"), state))
            return o;
        if (pufa_mono_ms() > deadline) {
            pufa_proc_dump(&agg);
            pufa_proc_dump(&col);
            char *text = json_dumps(o, 0);
            fail_msg("collector link never became %s: %s", state, text);
        }
        json_decref(o);
        pufa_sleep_ms(100);
    }
}

/* One child_links row. */
typedef struct row {
    bool found;
    char org[8], kind[16];
    long long seen_ms, as_of_seq, as_of_ms, lag_ms, pending;
    bool has_report, has_as_of, has_lag, has_pending, has_oldest;
} row;

static row get_row(const char *sender) {
    const char *p[1] = {sender};
    PGresult *r = PQexecParams(
        db,
        "SELECT org_code, kind, round(extract(epoch FROM last_seen_at) * 1000)::bigint, "
        "last_report_at IS NOT NULL, as_of_seq, round(extract(epoch FROM as_of_at) * "
        "1000)::bigint, "
        "lag_ms, pending, oldest_pending_at IS NOT NULL FROM child_links WHERE sender = $1",
        1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("child_links: %s", PQresultErrorMessage(r));
    row w;
    memset(&w, 0, sizeof w);
    if (PQntuples(r) == 1) {
        w.found = true;
        snprintf(w.org, sizeof w.org, "%s", PQgetvalue(r, 0, 0));
        snprintf(w.kind, sizeof w.kind, "%s", PQgetvalue(r, 0, 1));
        w.seen_ms = atoll(PQgetvalue(r, 0, 2));
        w.has_report = PQgetvalue(r, 0, 3)[0] == 't';
        w.has_as_of = !PQgetisnull(r, 0, 4);
        w.as_of_seq = atoll(PQgetvalue(r, 0, 4));
        w.as_of_ms = atoll(PQgetvalue(r, 0, 5));
        w.has_lag = !PQgetisnull(r, 0, 6);
        w.lag_ms = atoll(PQgetvalue(r, 0, 6));
        w.has_pending = !PQgetisnull(r, 0, 7);
        w.pending = atoll(PQgetvalue(r, 0, 7));
        w.has_oldest = PQgetvalue(r, 0, 8)[0] == 't';
    }
    PQclear(r);
    return w;
}

/* Waits until sender's row satisfies ok. */
static row wait_row(const char *sender, bool (*ok)(const row *), int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    for (;;) {
        row w = get_row(sender);
        if (w.found && ok(&w))
            return w;
        if (pufa_mono_ms() > deadline) {
            pufa_proc_dump(&agg);
            pufa_proc_dump(&col);
            fail_msg("child_links row of %s never reached the expected state (found %d org %s "
                     "pending %lld as_of_seq %lld)",
                     sender, w.found, w.org, w.pending, w.as_of_seq);
        }
        pufa_sleep_ms(100);
    }
}

static void *dealer(const char *pub, const char *sec) {
    char *ep = pufa_asprintf("tcp://127.0.0.1:%s", agg_port);
    void *d = pufa_itest_dealer(zctx, ep, agg_pub, pub, sec);
    free(ep);
    for (int i = 0; i < 8; i++)
        if (!sockets[i]) {
            sockets[i] = d;
            break;
        }
    return d;
}

static void close_dealer(void *d) {
    for (int i = 0; i < 8; i++)
        if (sockets[i] == d)
            sockets[i] = NULL;
    zmq_close(d);
}

/* Sends b (with one fresh report for county, unless county is NULL) and
 * returns the ack (caller frees). */
static Pufa__BatchAck *send_batch(void *d, Pufa__ReportBatch *b, const char *county) {
    pufa_report r;
    pufa_report_init(&r);
    Pufa__ActivityReport m = PUFA__ACTIVITY_REPORT__INIT, *mp = &m;
    if (county) {
        r = pufa_itest_report(county, 100);
        pufa_report_to_pb(&r, &m);
        b->n_reports = 1;
        b->reports = &mp;
    }
    size_t len = pufa__report_batch__get_packed_size(b);
    uint8_t *buf = pufa_malloc(len);
    pufa__report_batch__pack(b, buf);
    assert_true(zmq_send(d, buf, len, 0) >= 0);
    free(buf);
    pufa_report_clear(&r);
    b->n_reports = 0;
    b->reports = NULL;
    zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, 10000) != 1)
        fail_msg("no ack for batch %llu", (unsigned long long)b->batch_seq);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    zmq_msg_recv(&msg, d, 0);
    Pufa__BatchAck *a = NULL;
    assert_int_equal(pufa_ack_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &a), 0);
    zmq_msg_close(&msg);
    assert_int_equal(a->batch_seq, b->batch_seq);
    assert_null(a->error);
    return a;
}

/* A batch with one report is committed (nothing lost to a bad link field). */
static void committed(void *d, Pufa__ReportBatch *b, const char *county) {
    Pufa__BatchAck *a = send_batch(d, b, county);
    assert_int_equal(a->n_results, 1);
    if (a->results[0]->status != PUFA__REPORT_STATUS__STATUS_COMMITTED)
        fail_msg("status %d: %s", a->results[0]->status,
                 a->results[0]->reason ? a->results[0]->reason : "");
    pufa_ack_destroy(&a);
}

static void wait_log(pufa_proc *p, const char *pattern) {
    if (pufa_proc_wait_log(p, pattern, NULL, NULL, 0, 10000))
        return;
    pufa_proc_dump(p);
    fail_msg("no '%s' in the log", pattern);
}

/* ---- tests ---- */

static bool idle_row(const row *w) {
    return w->has_pending && w->pending == 0;
}

/* An idle collector's heartbeats advance last_seen_at, are answered, and
 * cost at most about one row write a second. */
static void idle_heartbeats_keep_the_link_fresh(void **state) {
    (void)state;
    start_agg();
    start_col();
    row w = wait_row("collector-150821", idle_row, 10000);
    assert_string_equal(w.org, "150821");
    assert_string_equal(w.kind, "collector");
    assert_false(w.has_report || w.has_as_of || w.has_lag || w.has_oldest);
    long long seen = w.seen_ms;
    json_t *st = wait_link("up", 5000);
    assert_true(json_is_true(json_object_get(st, "connected")));
    assert_int_equal(json_integer_value(json_object_get(st, "pending")), 0);
    assert_true(json_is_null(json_object_get(st, "oldest_pending_at")));
    assert_true(json_is_string(json_object_get(st, "last_heartbeat_answer_at")));
    json_decref(st);
    long long hb0 =
        pufa_http_metric(col_port, "pufa_collector_heartbeats_total{event=\"answered\"} ");
    long long wr0 = pufa_http_metric(agg_http, "pufa_aggregator_link_rows_written_total ");
    long long t0 = pufa_mono_ms();
    long long deadline = t0 + 5000;
    while (get_row("collector-150821").seen_ms <= seen && pufa_mono_ms() < deadline)
        pufa_sleep_ms(100);
    assert_true(get_row("collector-150821").seen_ms > seen);
    pufa_sleep_ms(3000); /* a span to count heartbeats and writes over */
    long long hb =
        pufa_http_metric(col_port, "pufa_collector_heartbeats_total{event=\"answered\"} ");
    long long wr = pufa_http_metric(agg_http, "pufa_aggregator_link_rows_written_total ");
    long long secs = (pufa_mono_ms() - t0) / 1000 + 1;
    /* Heartbeats every 300 ms, rows written at most once a second. */
    if (hb - hb0 < 2 * secs || wr - wr0 > secs + 1)
        fail_msg("over %lld s: %lld heartbeats answered, %lld rows written", secs, hb - hb0,
                 wr - wr0);
}

static bool caught_up(const row *w) {
    return w->has_report && w->has_pending && w->pending == 0 && !w->has_oldest;
}

/* The aggregator down: the collector says so, with the backlog and the
 * oldest's age; back: child_links shows the backlog delivered. */
static void a_down_link_shows_its_backlog_then_catches_up(void **state) {
    (void)state;
    stop_agg();
    json_decref(wait_link("down", 10000));
    json_t *tmpl = NULL;
    {
        size_t len;
        char *buf = pufa_test_read_file(pufa_test_data_path("sample_reports.jsonl"), &len);
        *strchr(buf, '\n') = '\0';
        json_error_t jerr;
        tmpl = json_loads(buf, 0, &jerr);
        free(buf);
    }
    json_object_set_new(tmpl, "county_code", json_string("150821"));
    json_t *arr = json_array();
    char ids[25][37];
    for (int i = 0; i < 25; i++) {
        json_t *o = json_deep_copy(tmpl);
        uint8_t id[16];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, ids[i]);
        json_object_set_new(o, "report_id", json_string(ids[i]));
        json_array_append_new(arr, o);
    }
    json_decref(tmpl);
    char *body = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports", col_port);
    pufa_http_response r;
    char err[256];
    assert_int_equal(pufa_http_request("POST", url, "Content-Type: application/json\r\n", body,
                                       strlen(body), 30000, &r, err, sizeof err),
                     0);
    assert_int_equal(r.status, 202);
    pufa_buf_free(&r.body);
    free(url);
    free(body);
    /* The oldest's time is the sender's, known once its thread has read
     * the new records (a moment after the 202 on a loaded machine). */
    json_t *st = col_status();
    for (int i = 0; i < 100 && !json_is_string(json_object_get(st, "oldest_pending_at")); i++) {
        json_decref(st);
        pufa_sleep_ms(50);
        st = col_status();
    }
    assert_string_equal(jstr(st, "link"), "down");
    assert_false(json_is_true(json_object_get(st, "connected")));
    assert_int_equal(json_integer_value(json_object_get(st, "pending")), 25);
    assert_true(json_is_string(json_object_get(st, "oldest_pending_at")));
    double age0 = json_number_value(json_object_get(st, "oldest_pending_age_s"));
    json_decref(st);
    pufa_sleep_ms(300); /* the age grows while nothing moves */
    st = col_status();
    assert_int_equal(json_integer_value(json_object_get(st, "pending")), 25);
    assert_true(json_number_value(json_object_get(st, "oldest_pending_age_s")) > age0);
    json_decref(st);
    assert_true(pufa_http_metric(col_port, "pufa_collector_link_up ") == 0);
    assert_true(pufa_http_metric(col_port, "pufa_collector_oldest_pending_seconds ") >= 0);

    start_agg();
    row w = wait_row("collector-150821", caught_up, 20000);
    assert_string_equal(w.kind, "collector");
    PGresult *q = PQexec(db, "SELECT count(*) FROM reports WHERE county_code = '150821'");
    assert_int_equal(atoll(PQgetvalue(q, 0, 0)), 25);
    PQclear(q);
    st = wait_link("up", 5000);
    assert_int_equal(json_integer_value(json_object_get(st, "pending")), 0);
    assert_true(json_is_string(json_object_get(st, "last_ack_at")));
    assert_true(json_is_null(json_object_get(st, "oldest_pending_age_s")));
    json_decref(st);
    int s = pufa_proc_stop(&col, SIGTERM, 15000);
    assert_true(WIFEXITED(s) && WEXITSTATUS(s) == 0);
}

static bool as_of_42(const row *w) {
    return w->has_as_of && w->as_of_seq == 42;
}

static bool as_of_43(const row *w) {
    return w->has_as_of && w->as_of_seq == 43;
}

/* A city's forwarder: its as_of fields make "data as of" and the lag; an
 * idle heartbeat is answered with an empty ack and moves as_of. */
static void a_forwarder_is_stored_with_its_data_as_of(void **state) {
    (void)state;
    void *d = dealer(city_pub, city_sec);
    int64_t now = pufa_now_ms();
    Pufa__ReportBatch b = PUFA__REPORT_BATCH__INIT;
    b.collector_id = "aggregator-150800";
    b.has_batch_seq = b.has_sent_at_ms = 1;
    b.batch_seq = 1001;
    b.sent_at_ms = now;
    b.has_as_of_seq = b.has_as_of_ms = b.has_pending = b.has_oldest_pending_ms = 1;
    b.as_of_seq = 42;
    b.as_of_ms = now - 1500;
    b.pending = 7;
    b.oldest_pending_ms = now - 3000;
    committed(d, &b, "150821");
    row w = wait_row("aggregator-150800", as_of_42, 5000);
    assert_string_equal(w.org, "150800");
    assert_string_equal(w.kind, "forwarder");
    assert_int_equal(w.as_of_ms, now - 1500);
    assert_true(w.has_lag && w.lag_ms >= 1500 && w.lag_ms < 1500 + 5000);
    assert_true(w.has_pending && w.pending == 7 && w.has_oldest && w.has_report);
    long long lag = w.lag_ms;

    b.batch_seq = 1002;
    b.as_of_seq = 43;
    b.as_of_ms = pufa_now_ms() - 100;
    b.pending = 0;
    b.has_oldest_pending_ms = 0;
    Pufa__BatchAck *a = send_batch(d, &b, NULL);
    assert_int_equal(a->batch_seq, 1002);
    assert_int_equal(a->n_results, 0);
    pufa_ack_destroy(&a);
    w = wait_row("aggregator-150800", as_of_43, 5000);
    assert_int_equal(w.pending, 0);
    assert_false(w.has_oldest);
    assert_int_equal(w.lag_ms, lag); /* the lag is of the newest batch with reports */
    close_dealer(d);
}

static bool has_pending_null(const row *w) {
    return !w->has_pending;
}

/* Hostile link fields: refused or dropped with the field named; the
 * reports go on; another key cannot take over a sender's row. */
static void hostile_link_fields_are_named_and_nothing_else_is_lost(void **state) {
    (void)state;
    void *d = dealer(k22_pub, k22_sec);
    Pufa__ReportBatch b = PUFA__REPORT_BATCH__INIT;
    b.has_batch_seq = 1;
    b.batch_seq = 1;
    b.collector_id = "col\xff\xfe";
    committed(d, &b, "150822");
    wait_log(&agg, "collector_id: must be UTF-8 without control characters");
    pufa_sleep_ms(1100); /* refusals are logged at most once a second */
    char longname[201];
    memset(longname, 'x', 200);
    longname[200] = '\0';
    b.collector_id = longname;
    b.batch_seq = 2;
    committed(d, &b, "150822");
    wait_log(&agg, "collector_id: at most 63 bytes (got 200)");
    pufa_sleep_ms(1100);
    /* 150822's key claiming 150821's collector. */
    b.collector_id = "collector-150821";
    b.batch_seq = 3;
    committed(d, &b, "150822");
    wait_log(&agg, "collector_id: already used by a sender bound to 150821 (this key is bound "
                   "to 150822)");
    pufa_sleep_ms(1100);
    b.collector_id = "collector-150822";
    b.batch_seq = 4;
    b.has_as_of_seq = b.has_as_of_ms = b.has_pending = b.has_oldest_pending_ms = 1;
    b.as_of_seq = 1;
    b.as_of_ms = -1;
    b.pending = UINT64_MAX;
    b.oldest_pending_ms = INT64_MAX;
    committed(d, &b, "150822");
    wait_log(&agg, "id=AGG-LINK-FIELD sender=\"collector-150822\" key_unit=150822 "
                   "reason=\"as_of_ms: must be a Unix time in ms from 2000-01-01 to 600 s ahead "
                   "of ours (got -1); pending: must be <= 1000000000000 (got "
                   "18446744073709551615)\"");
    row w = wait_row("collector-150822", has_pending_null, 5000);
    assert_string_equal(w.kind, "collector");
    assert_false(w.has_as_of || w.has_oldest);
    assert_string_equal(get_row("collector-150821").org, "150821");
    assert_int_equal(pufa_http_metric(agg_http, "pufa_aggregator_link_refused_total "), 3);
    assert_int_equal(pufa_http_metric(agg_http, "pufa_aggregator_link_fields_dropped_total "), 1);
    PGresult *q = PQexec(db, "SELECT count(*) FROM reports WHERE county_code = '150822'");
    assert_int_equal(atoll(PQgetvalue(q, 0, 0)), 4);
    PQclear(q);
    /* The reports keep their sender's name, made storable. */
    q = PQexec(db, "SELECT count(*) FROM reports WHERE collector_id = 'col\\xFF\\xFE'");
    assert_int_equal(atoll(PQgetvalue(q, 0, 0)), 1);
    PQclear(q);
    /* After a restart (nothing in memory) the table itself keeps the name
     * with its unit. */
    stop_agg();
    start_agg();
    close_dealer(d);
    d = dealer(k22_pub, k22_sec);
    b = (Pufa__ReportBatch)PUFA__REPORT_BATCH__INIT;
    b.collector_id = "collector-150821";
    b.has_batch_seq = 1;
    b.batch_seq = 5;
    Pufa__BatchAck *a = send_batch(d, &b, NULL);
    pufa_ack_destroy(&a);
    wait_log(&agg, "child_links binds this name to another unit (this key is bound to 150822)");
    assert_string_equal(get_row("collector-150821").org, "150821");
    assert_true(pufa_proc_alive(&agg));
    close_dealer(d);
    stop_agg();
}

/* The collector refuses a sender name the aggregator would refuse. */
static void a_bad_collector_id_stops_the_collector(void **state) {
    (void)state;
    const char *bad[] = {"collector-150821-with-a-name-far-longer-than-sixty-three-bytes-xxx",
                         "col\xff"};
    for (int i = 0; i < 2; i++) {
        char *cmd = pufa_asprintf("'%s' --insecure --county 150821 --org-units '%s' "
                                  "--collector-id '%s' --check-config >%s/out 2>&1",
                                  col_bin, pufa_test_data_path("org_units.csv"), bad[i], dir);
        assert_int_equal(pufa_sh(cmd), 78);
        free(cmd);
        char *path = pufa_asprintf("%s/out", dir);
        char *out = pufa_test_read_file(path, NULL);
        assert_contains(out, "collector_id: at most 63 bytes of UTF-8 without control characters");
        free(out);
        free(path);
    }
}

static int group_setup(void **state) {
    (void)state;
    if (pufa_itest_setup_db(dir, sizeof dir, "links", pufa_bin, pufa_test_demo_tree_path(),
                            pufa_test_data_path("units.csv"), &db))
        return -1;
    zctx = zmq_ctx_new();
    pufa_itest_keygen(pufa_bin, dir, "aggregator", agg_pub, agg_sec);
    pufa_itest_keygen(pufa_bin, dir, "city-150800", city_pub, city_sec);
    pufa_itest_keygen(pufa_bin, dir, "county-150821", k21_pub, k21_sec);
    pufa_itest_keygen(pufa_bin, dir, "county-150822", k22_pub, k22_sec);
    char *path = pufa_asprintf("%s/allow", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s 150800\n%s 150821\n%s 150822\n", city_pub, k21_pub, k22_pub);
    fclose(f);
    free(path);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (col.pid > 0)
        pufa_proc_stop(&col, SIGKILL, 5000);
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 15000);
    for (int i = 0; i < 8; i++)
        if (sockets[i])
            zmq_close(sockets[i]);
    zmq_ctx_term(zctx);
    PQfinish(db);
    pufa_test_rm_rf(dir);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh links_test PUFA_BIN AGGREGATOR_BIN COLLECTOR_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    col_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_heartbeats_keep_the_link_fresh),
        cmocka_unit_test(a_down_link_shows_its_backlog_then_catches_up),
        cmocka_unit_test(a_forwarder_is_stored_with_its_data_as_of),
        cmocka_unit_test(hostile_link_fields_are_named_and_nothing_else_is_lost),
        cmocka_unit_test(a_bad_collector_id_stops_the_collector),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
