/* Integration test: CURVE + ZAP bound to counties, key revocation, the
 * collector's bearer token, secrets kept out of logs.
 * argv: PUFA_BIN AGGREGATOR_BIN COLLECTOR_BIN. */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "httpc.h"
#include "itest.h"
#include "keyfile.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin, *col_bin;
static pufa_proc agg, agg2, agg_before, col;
static char dir[64], agg_ep[128], agg_http[16];
static char agg_pub[41], agg_sec[41], a_pub[41], a_sec[41], b_pub[41], b_sec[41];
static void *zctx;
static PGconn *db;

static void write_allow_list(const char *text) {
    char *path = pufa_asprintf("%s/allow.list", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(path);
}

static void start_agg(pufa_proc *p, const char *fault, char *ep, size_t epsize) {
    char *sec = pufa_asprintf("%s/aggregator.key", dir),
         *allow = pufa_asprintf("%s/allow.list", dir);
    const char *extra[] = {"--curve-secret-file", sec, "--allow-list", allow, "--home",
                           PUFA_TEST_HOME,        NULL};
    pufa_itest_agg_start(p, agg_bin, extra, &(pufa_itest_agg_opts){.env = fault});
    if (!pufa_proc_wait_log(p, "id=AGG-LISTEN", "endpoint", ep, epsize, 20000) ||
        !pufa_proc_wait_log(p, "id=AGG-READY", NULL, NULL, 0, 10000)) {
        pufa_proc_dump(p);
        fail_msg("aggregator did not start");
    }
    if (p == &agg)
        pufa_proc_wait_log(p, "id=AGG-HTTP", "port", agg_http, sizeof agg_http, 1000);
    free(sec);
    free(allow);
}

/* A key pair in dir; the secret key's file is the owner's alone (0600). */
static void keygen(const char *name, char pub[41], char sec[41]) {
    pufa_itest_keygen(pufa_bin, dir, name, pub, sec);
    char *s = pufa_asprintf("%s/%s.key", dir, name);
    struct stat st;
    assert_int_equal(stat(s, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(s);
}

static void *dealer(const char *ep, const char *pub, const char *sec) {
    return pufa_itest_dealer(zctx, ep, agg_pub, pub, sec);
}

static pufa_report report_for(const char *county) {
    return pufa_itest_report(county, 100);
}

/* Sends one report; returns the ack (NULL if none came within timeout). */
static Pufa__BatchAck *send_one(void *d, pufa_report *r, int timeout_ms) {
    return pufa_itest_send_one(d, r, 1, timeout_ms);
}

static long long agg_metric(const char *name) {
    return pufa_http_metric(agg_http, name);
}

static int group_setup(void **state) {
    (void)state;
    if (pufa_itest_setup_db(dir, sizeof dir, "sec", pufa_bin, pufa_test_demo_tree_path(), NULL,
                            &db))
        return -1;
    zctx = zmq_ctx_new();
    keygen("aggregator", agg_pub, agg_sec);
    keygen("collector-150821", a_pub, a_sec);
    keygen("stranger", b_pub, b_sec);
    char *list = pufa_asprintf("# pufa allow-list\n%s 150821  # 五原县\n", a_pub);
    write_allow_list(list);
    free(list);
    start_agg(&agg, NULL, agg_ep, sizeof agg_ep);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (col.pid > 0)
        pufa_proc_stop(&col, SIGTERM, 10000);
    if (agg2.pid > 0)
        pufa_proc_stop(&agg2, SIGTERM, 10000);
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 10000);
    zmq_ctx_term(zctx);
    PQfinish(db);
    pufa_test_rm_rf(dir);
    return 0;
}

static void listed_key_delivers_for_its_county(void **state) {
    (void)state;
    void *d = dealer(agg_ep, a_pub, a_sec);
    pufa_report r = report_for("150821");
    Pufa__BatchAck *a = send_one(d, &r, 10000);
    assert_non_null(a);
    assert_int_equal(a->n_results, 1);
    assert_int_equal(a->results[0]->status, PUFA__REPORT_STATUS__STATUS_COMMITTED);
    pufa__batch_ack__free_unpacked(a, NULL);
    pufa_report_clear(&r);
    zmq_close(d);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"), 1);
}

static void unknown_key_and_plaintext_are_refused(void **state) {
    (void)state;
    long long before = pufa_itest_sql_ll(db, "SELECT count(*) FROM reports");
    void *stranger = dealer(agg_ep, b_pub, b_sec);
    void *plain = dealer(agg_ep, NULL, NULL);
    pufa_report r = report_for("150821");
    assert_null(send_one(stranger, &r, 2000));
    assert_null(send_one(plain, &r, 2000));
    pufa_report_clear(&r);
    zmq_close(stranger);
    zmq_close(plain);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"), before);
    assert_true(agg_metric("pufa_aggregator_zap_total{verdict=\"denied\"} ") >= 1);
    assert_true(pufa_proc_count_log(&agg, "AGG-ZAP-DENY") >= 1);
}

static void county_a_key_cannot_report_for_county_b(void **state) {
    (void)state;
    long long before = pufa_itest_sql_ll(db, "SELECT count(*) FROM reports");
    void *d = dealer(agg_ep, a_pub, a_sec);
    pufa_report r = report_for("210402");
    Pufa__BatchAck *a = send_one(d, &r, 10000);
    assert_non_null(a);
    assert_int_equal(a->results[0]->status, PUFA__REPORT_STATUS__STATUS_REJECTED);
    assert_contains(a->results[0]->reason, "may only report for county 150821 (got 210402)");
    pufa__batch_ack__free_unpacked(a, NULL);
    pufa_report_clear(&r);
    zmq_close(d);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"), before);
    assert_int_equal(agg_metric("pufa_aggregator_county_mismatch_total "), 1);
}

static void removed_key_cannot_deliver_after_sighup(void **state) {
    (void)state;
    void *d = dealer(agg_ep, a_pub, a_sec);
    pufa_report r = report_for("150821");
    Pufa__BatchAck *a = send_one(d, &r, 10000); /* the connection is up and works */
    assert_non_null(a);
    pufa__batch_ack__free_unpacked(a, NULL);
    pufa_report_clear(&r);
    long long before = pufa_itest_sql_ll(db, "SELECT count(*) FROM reports");
    write_allow_list("# everyone removed\n");
    int reloads = pufa_proc_count_log(&agg, "AGG-RELOAD");
    kill(agg.pid, SIGHUP);
    long long deadline = pufa_mono_ms() + 5000;
    while (pufa_proc_count_log(&agg, "AGG-RELOAD") == reloads && pufa_mono_ms() < deadline)
        pufa_sleep_ms(20);
    assert_true(pufa_proc_count_log(&agg, "AGG-RELOAD keys=0") == 1);
    /* The same, already open connection: refused. */
    r = report_for("150821");
    a = send_one(d, &r, 10000);
    assert_non_null(a);
    assert_non_null(a->error);
    assert_contains(a->error, "not authorised");
    pufa__batch_ack__free_unpacked(a, NULL);
    /* A new connection: the handshake itself is refused. */
    void *d2 = dealer(agg_ep, a_pub, a_sec);
    assert_null(send_one(d2, &r, 2000));
    zmq_close(d2);
    zmq_close(d);
    pufa_report_clear(&r);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"), before);
    assert_true(agg_metric("pufa_aggregator_key_refused_total ") >= 1);
    /* Back on the list for the collector test. */
    char *list = pufa_asprintf("%s 150821\n", a_pub);
    write_allow_list(list);
    free(list);
    kill(agg.pid, SIGHUP);
    deadline = pufa_mono_ms() + 5000;
    while (pufa_proc_count_log(&agg, "AGG-RELOAD keys=1") == 0 && pufa_mono_ms() < deadline)
        pufa_sleep_ms(20);
    assert_int_equal(pufa_proc_count_log(&agg, "AGG-RELOAD keys=1"), 1);
}

/* How many advisory locks sessions of the aggregator's role hold. */
static long long aggregator_locks(void) {
    PGresult *r = PQexec(db, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                             " WHERE l.locktype = 'advisory' AND l.granted"
                             " AND a.usename = 'pufa_aggregator'");
    long long v = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

/* Without a ZAP handler nobody gets in.  The case runs against an
 * aggregator that could commit and ack: the first one is stopped, so this
 * one holds the database's writer lock, and a key let in would get its
 * report stored and acknowledged. */
static void missing_zap_handler_refuses_everyone(void **state) {
    (void)state;
    int st = pufa_proc_stop(&agg, SIGTERM, 10000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    agg_before = agg; /* its log, for the secrets check */
    char ep[128];
    start_agg(&agg2, "PUFA_FAULT=agg_no_zap", ep, sizeof ep);
    assert_int_equal(pufa_proc_count_log(&agg2, "PUFA_FAULT: no ZAP handler"), 1);
    if (!pufa_proc_wait_log(&agg2, "id=AGG-DB-UP", NULL, NULL, 0, 10000)) {
        pufa_proc_dump(&agg2);
        fail_msg("the aggregator without ZAP never connected to PostgreSQL");
    }
    assert_int_equal(pufa_proc_count_log(&agg2, "another aggregator is writing"), 0);
    assert_int_equal(aggregator_locks(), 1); /* the writer lock, its own */
    long long before = pufa_itest_sql_ll(db, "SELECT count(*) FROM reports");
    void *d = dealer(ep, a_pub, a_sec);
    pufa_report r = report_for("150821");
    Pufa__BatchAck *a = send_one(d, &r, 3000);
    if (a) {
        fail_msg("a listed key got an answer without a ZAP handler: error=%s, %zu results%s",
                 a->error ? a->error : "(none)", a->n_results,
                 a->n_results && a->results[0]->status == PUFA__REPORT_STATUS__STATUS_COMMITTED
                     ? ", the first committed"
                     : "");
    }
    pufa_report_clear(&r);
    zmq_close(d);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"), before);
    st = pufa_proc_stop(&agg2, SIGTERM, 10000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The normal aggregator again, for the cases after this one. */
    start_agg(&agg, NULL, agg_ep, sizeof agg_ep);
}

static void collector_uses_curve_and_a_token(void **state) {
    (void)state;
    char *token_path = pufa_asprintf("%s/intake.token", dir);
    FILE *f = fopen(token_path, "w");
    fputs("s3cret-token-for-test\n", f);
    fclose(f);
    chmod(token_path, 0600);
    char *spool = pufa_asprintf("%s/spool", dir);
    char *srv = pufa_asprintf("%s/aggregator.pub", dir);
    char *pub = pufa_asprintf("%s/collector-150821.pub", dir);
    char *sec = pufa_asprintf("%s/collector-150821.key", dir);
    const char *extra[] = {"--token-file",
                           token_path,
                           "--curve-server-public-file",
                           srv,
                           "--curve-public-file",
                           pub,
                           "--curve-secret-file",
                           sec,
                           NULL};
    pufa_itest_col_start(&col, col_bin, "150821", agg_ep, spool, extra, NULL);
    char port[16];
    if (!pufa_proc_wait_log(&col, "id=COL-HTTP", "port", port, sizeof port, 10000)) {
        pufa_proc_dump(&col);
        fail_msg("collector did not start");
    }
    pufa_report r = report_for("150821");
    json_t *arr = json_array();
    json_array_append_new(arr, pufa_report_to_json(&r));
    char *body = json_dumps(arr, JSON_COMPACT);
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports", port);
    pufa_http_response resp;
    char err[256];
    assert_int_equal(pufa_http_request("POST", url, "Content-Type: application/json\r\n", body,
                                       strlen(body), 5000, &resp, err, sizeof err),
                     0);
    assert_int_equal(resp.status, 401);
    pufa_buf_free(&resp.body);
    assert_int_equal(pufa_http_request("POST", url,
                                       "Content-Type: application/json\r\n"
                                       "Authorization: Bearer wrong\r\n",
                                       body, strlen(body), 5000, &resp, err, sizeof err),
                     0);
    assert_int_equal(resp.status, 401);
    pufa_buf_free(&resp.body);
    assert_int_equal(pufa_http_request("POST", url,
                                       "Content-Type: application/json\r\n"
                                       "Authorization: Bearer s3cret-token-for-test\r\n",
                                       body, strlen(body), 5000, &resp, err, sizeof err),
                     0);
    assert_int_equal(resp.status, 202);
    pufa_buf_free(&resp.body);
    /* Delivered over CURVE. */
    char *q = pufa_asprintf("SELECT count(*) FROM reports WHERE report_id = '%s'", r.report_id);
    long long deadline = pufa_mono_ms() + 15000;
    long long n = 0;
    while (pufa_mono_ms() < deadline) {
        PGresult *res = PQexec(db, q);
        n = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (n == 1)
            break;
        pufa_sleep_ms(100);
    }
    assert_int_equal(n, 1);
    free(q);
    /* Secrets are never logged: neither the token nor any secret key. */
    const pufa_proc *procs[] = {&agg_before, &agg2, &agg, &col};
    for (int i = 0; i < 4; i++) {
        assert_true(procs[i]->log[0] != '\0');
        assert_int_equal(pufa_proc_count_log(procs[i], "s3cret-token-for-test"), 0);
        assert_int_equal(pufa_proc_count_log(procs[i], a_sec), 0);
        assert_int_equal(pufa_proc_count_log(procs[i], agg_sec), 0);
    }
    int st = pufa_proc_stop(&col, SIGTERM, 10000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    json_decref(arr);
    free(body);
    free(url);
    pufa_report_clear(&r);
    free(token_path);
    free(spool);
    free(srv);
    free(pub);
    free(sec);
}

static void insecure_needs_to_be_explicit(void **state) {
    (void)state;
    char *cmd = pufa_asprintf("'%s' --db x --check-config >/dev/null 2>&1", agg_bin);
    assert_int_equal(pufa_sh(cmd), 78);
    free(cmd);
    cmd = pufa_asprintf("'%s' --county 150821 --check-config >/dev/null 2>&1", col_bin);
    assert_int_equal(pufa_sh(cmd), 78);
    free(cmd);
    /* A world-readable secret key is refused. */
    char *sec = pufa_asprintf("%s/aggregator.key", dir);
    chmod(sec, 0644);
    cmd = pufa_asprintf("'%s' --curve-secret-file %s --allow-list %s/allow.list --check-config "
                        ">/dev/null 2>&1",
                        agg_bin, sec, dir);
    assert_int_equal(pufa_sh(cmd), 78);
    chmod(sec, 0600);
    free(cmd);
    free(sec);
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh security_test PUFA_BIN AGGREGATOR_BIN COLLECTOR_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    col_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listed_key_delivers_for_its_county),
        cmocka_unit_test(unknown_key_and_plaintext_are_refused),
        cmocka_unit_test(county_a_key_cannot_report_for_county_b),
        cmocka_unit_test(removed_key_cannot_deliver_after_sighup),
        cmocka_unit_test(missing_zap_handler_refuses_everyone),
        cmocka_unit_test(collector_uses_curve_and_a_token),
        cmocka_unit_test(insecure_needs_to_be_explicit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
