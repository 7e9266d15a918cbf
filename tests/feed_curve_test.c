/* Integration test: CURVE on the feeds.  The aggregator's commit feed and
 * the publisher's Dashboard PUB admit the subscriber keys of their
 * allow-lists only (ZAP domain pufa-feed, zap.h); a key removed + SIGHUP
 * stops its feed; a publisher subscribing with its key pair gives the same
 * totals as PostgreSQL; plaintext off loopback needs `insecure`.
 * argv: PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN. */
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static const char *pufa_bin, *agg_bin, *pub_bin;
static pufa_proc agg;
static char dir[64], agg_ep[128], feed_ep[128], agg_http[16];
static char agg_pub[41], agg_sec[41], col_pub[41], col_sec[41];
static char p_pub[41], p_sec[41], q_pub[41], q_sec[41], s_pub[41], s_sec[41];
static void *zctx, *col;
static PGconn *db;

/* The feed's allow-list: the given keys, bound to the test's home. */
static void write_feed_list(const char *k1, const char *k2) {
    char *text = pufa_asprintf("# feed subscribers\n%s%s%s%s%s", k1 ? k1 : "",
                               k1 ? " " PUFA_TEST_HOME "\n" : "", k2 ? k2 : "",
                               k2 ? " " PUFA_TEST_HOME : "", k2 ? "\n" : "");
    pufa_itest_write_file(dir, "feed-allow.list", text);
    free(text);
}

/* The subscribers still open: a failed assertion leaves its test's open,
 * and zmq_ctx_term would wait for them forever; the teardown closes them. */
static void *open_subs[16];

static void unsub(void *s) {
    for (size_t i = 0; i < sizeof open_subs / sizeof *open_subs; i++)
        if (open_subs[i] == s)
            open_subs[i] = NULL;
    zmq_close(s);
}

/* A SUB of endpoint ep: CURVE client with pub/sec (NULL: plaintext). */
static void *subscriber(const char *ep, const char *server, const char *pub, const char *sec,
                        const char *topic) {
    void *s = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (pub) {
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    assert_int_equal(zmq_connect(s, ep), 0);
    for (size_t i = 0; i < sizeof open_subs / sizeof *open_subs; i++)
        if (!open_subs[i]) {
            open_subs[i] = s;
            break;
        }
    return s;
}

/* Messages (multipart counted once) whose topic starts with prefix, read
 * from s for ms milliseconds. */
static int count_messages(void *s, const char *prefix, int ms) {
    int n = 0;
    long long end = pufa_mono_ms() + ms;
    for (long long now = pufa_mono_ms(); now < end; now = pufa_mono_ms()) {
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, (long)(end - now)) != 1)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, s, 0);
        bool match =
            zmq_msg_size(&m) >= strlen(prefix) && !memcmp(zmq_msg_data(&m), prefix, strlen(prefix));
        while (zmq_msg_more(&m)) {
            zmq_msg_close(&m);
            zmq_msg_init(&m);
            zmq_msg_recv(&m, s, 0);
        }
        zmq_msg_close(&m);
        n += match;
    }
    return n;
}

/* n reports for 150821 through the collector key; every one acked. */
static void send_reports(int n) {
    for (int i = 0; i < n; i++) {
        pufa_report r = pufa_itest_report("150821", 100 + i);
        static uint64_t seq = 1;
        /* One report a batch; 30 s an ack: a loaded machine, generous. */
        pufa_itest_send_reports(col, &seq, &r, 1, 1, 0, 30000, &agg);
        pufa_report_clear(&r);
    }
}

/* A publisher subscribing to the feed with key NAME (its .key file); its
 * HTTP port into port; extra options (NULL-terminated list) appended. */
static void start_pub(pufa_proc *p, const char *name, char *port, const char *const *extra) {
    char *sec = pufa_asprintf("%s/%s.key", dir, name),
         *srv = pufa_asprintf("%s/aggregator.pub", dir);
    const char *args[32] = {
        "--home", PUFA_TEST_HOME, "--curve-secret-file", sec, "--feed-server-public-file", srv};
    int n = 6;
    for (; extra && *extra; extra++)
        args[n++] = *extra;
    if (n == 6) {
        args[n++] = "--pub";
        args[n++] = "";
    }
    args[n] = NULL;
    if (!pufa_itest_pub_start(p, pub_bin, feed_ep, args, port, NULL))
        fail_msg("publisher %s did not start", name);
    free(sec);
    free(srv);
}

static long long pub_reports(const char *port) {
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/totals?window=all&by=none", port);
    pufa_http_response r;
    char err[256];
    assert_int_equal(pufa_http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err), 0);
    free(url);
    assert_int_equal(r.status, 200);
    json_t *o = json_loadb(r.body.data, r.body.len, 0, NULL);
    pufa_buf_free(&r.body);
    assert_non_null(o);
    long long v = json_integer_value(json_object_get(json_object_get(o, "totals"), "reports"));
    json_decref(o);
    return v;
}

static long long feed_seq(void) {
    return pufa_http_metric(agg_http, "pufa_aggregator_feed_seq ");
}

/* Waits up to ms for the publisher's seq to reach the aggregator's. */
static bool pub_caught_up(const char *port, int ms) {
    for (long long end = pufa_mono_ms() + ms; pufa_mono_ms() < end; pufa_sleep_ms(50))
        if (pufa_http_metric(port, "pufa_publisher_seq ") == feed_seq())
            return true;
    return false;
}

static int group_setup(void **state) {
    (void)state;
    if (pufa_itest_setup_db(dir, sizeof dir, "feedc", pufa_bin, pufa_test_demo_tree_path(), NULL,
                            &db))
        return -1;
    zctx = zmq_ctx_new();
    pufa_itest_keygen(pufa_bin, dir, "aggregator", agg_pub, agg_sec);
    pufa_itest_keygen(pufa_bin, dir, "collector", col_pub, col_sec);
    pufa_itest_keygen(pufa_bin, dir, "publisher", p_pub, p_sec);
    pufa_itest_keygen(pufa_bin, dir, "publisher2", q_pub, q_sec);
    pufa_itest_keygen(pufa_bin, dir, "stranger", s_pub, s_sec);
    char *list = pufa_asprintf("%s 150821\n", col_pub);
    pufa_itest_write_file(dir, "allow.list", list);
    free(list);
    write_feed_list(p_pub, q_pub);
    char *sec = pufa_asprintf("%s/aggregator.key", dir),
         *allow = pufa_asprintf("%s/allow.list", dir),
         *feed_allow = pufa_asprintf("%s/feed-allow.list", dir);
    const char *extra[] = {"--curve-secret-file",
                           sec,
                           "--allow-list",
                           allow,
                           "--feed-allow-list",
                           feed_allow,
                           "--home",
                           PUFA_TEST_HOME,
                           NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, NULL);
    free(sec);
    free(allow);
    free(feed_allow);
    if (!pufa_itest_agg_wait(&agg, agg_ep, feed_ep, agg_http, 5000, 10000))
        return -1;
    col = pufa_itest_dealer(zctx, agg_ep, agg_pub, col_pub, col_sec);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof open_subs / sizeof *open_subs; i++)
        if (open_subs[i])
            unsub(open_subs[i]);
    zmq_close(col);
    int rc = pufa_proc_stop(&agg, SIGTERM, 20000);
    zmq_ctx_term(zctx);
    PQfinish(db);
    pufa_test_rm_rf(dir);
    return rc == 0 ? 0 : -1;
}

static void feed_admits_listed_keys_only(void **state) {
    (void)state;
    int denied_before = pufa_proc_count_log(&agg, "domain=pufa-feed key=");
    void *listed = subscriber(feed_ep, agg_pub, p_pub, p_sec, "");
    void *stranger = subscriber(feed_ep, agg_pub, s_pub, s_sec, "");
    void *plain = subscriber(feed_ep, NULL, NULL, NULL, "");
    pufa_sleep_ms(500);
    send_reports(5);
    /* Deltas, and heartbeats (1 s) for 2.5 s. */
    int got_listed = count_messages(listed, "", 2500);
    int got_stranger = count_messages(stranger, "", 100);
    int got_plain = count_messages(plain, "", 100);
    printf("# feed messages in 2.5 s after 5 reports: listed key %d, unlisted key %d, "
           "plaintext %d; ZAP refusals on the feed: %d\n",
           got_listed, got_stranger, got_plain,
           pufa_proc_count_log(&agg, "domain=pufa-feed key=") - denied_before);
    unsub(listed);
    unsub(stranger);
    unsub(plain);
    assert_true(got_listed >= 3); /* at least one delta and two heartbeats */
    assert_int_equal(got_stranger, 0);
    assert_int_equal(got_plain, 0);
    assert_true(pufa_proc_count_log(&agg, "domain=pufa-feed key=") > denied_before);
}

static void publisher_with_its_key_gives_the_same_totals(void **state) {
    (void)state;
    pufa_proc p, s;
    char p_port[16], s_port[16];
    start_pub(&p, "publisher", p_port, NULL);
    start_pub(&s, "stranger", s_port, NULL);
    long long s_seq = pufa_http_metric(s_port, "pufa_publisher_seq ");
    send_reports(10);
    assert_true(pub_caught_up(p_port, 10000));
    long long applied = pufa_http_metric(p_port, "pufa_publisher_deltas_total{fate=\"applied\"} ");
    long long sql = pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"),
              got = pub_reports(p_port);
    pufa_sleep_ms(1500); /* heartbeats included: the stranger hears nothing */
    long long s_seq_after = pufa_http_metric(s_port, "pufa_publisher_seq ");
    printf("# publisher with its key: seq %lld = feed seq, %lld deltas applied, reports %lld "
           "(SQL %lld); unlisted publisher: seq %lld -> %lld, feed at %lld\n",
           pufa_http_metric(p_port, "pufa_publisher_seq "), applied, got, sql, s_seq, s_seq_after,
           feed_seq());
    assert_true(applied >= 1);
    assert_int_equal(got, sql);
    assert_int_equal(s_seq_after, s_seq);
    assert_true(s_seq_after < feed_seq());
    assert_int_equal(pufa_proc_stop(&p, SIGTERM, 10000), 0);
    assert_int_equal(pufa_proc_stop(&s, SIGTERM, 10000), 0);
}

static void removed_key_and_sighup_stop_its_feed(void **state) {
    (void)state;
    void *p = subscriber(feed_ep, agg_pub, p_pub, p_sec, "delta");
    void *q = subscriber(feed_ep, agg_pub, q_pub, q_sec, "delta");
    pufa_sleep_ms(500);
    send_reports(2);
    int before_p = count_messages(p, "delta", 1000), before_q = count_messages(q, "delta", 200);
    write_feed_list(q_pub, NULL);
    int rebinds = pufa_proc_count_log(&agg, "id=AGG-FEED-REBIND");
    kill(agg.pid, SIGHUP);
    for (int i = 0; i < 100 && pufa_proc_count_log(&agg, "id=AGG-FEED-REBIND") == rebinds; i++)
        pufa_sleep_ms(50);
    int rebound = pufa_proc_count_log(&agg, "id=AGG-FEED-REBIND") - rebinds;
    pufa_sleep_ms(1000); /* q reconnects and handshakes again */
    count_messages(p, "delta", 100);
    count_messages(q, "delta", 100);
    send_reports(3);
    int got_p = count_messages(p, "delta", 1500), got_q = count_messages(q, "delta", 100);
    printf("# before: both keys %d and %d deltas; after the key was removed + SIGHUP (%d "
           "rebind), 3 reports: removed key %d deltas, still listed key %d\n",
           before_p, before_q, rebound, got_p, got_q);
    unsub(p);
    unsub(q);
    write_feed_list(p_pub, q_pub);
    kill(agg.pid, SIGHUP);
    assert_true(before_p >= 1 && before_q >= 1);
    assert_int_equal(rebound, 1);
    assert_int_equal(got_p, 0);
    assert_true(got_q >= 1);
}

static void dashboard_pub_admits_listed_keys_only(void **state) {
    (void)state;
    char *list = pufa_asprintf("%s %s\n%s %s\n", p_pub, PUFA_TEST_HOME, q_pub, PUFA_TEST_HOME);
    pufa_itest_write_file(dir, "subscribers.list", list);
    free(list);
    char *subs = pufa_asprintf("%s/subscribers.list", dir);
    const char *extra[] = {
        "--pub", "tcp://127.0.0.1:0", "--pub-allow-list", subs, "--heartbeat", "200ms", NULL};
    pufa_proc pub;
    char port[16], ep[128], pub_key[41];
    start_pub(&pub, "publisher2", port, extra);
    assert_true(pufa_proc_wait_log(&pub, "id=PUB-PUB", "endpoint", ep, sizeof ep, 5000));
    assert_true(
        pufa_proc_wait_log(&pub, "id=PUB-CURVE", "public_key", pub_key, sizeof pub_key, 1000));
    assert_string_equal(pub_key, q_pub);
    void *p = subscriber(ep, q_pub, p_pub, p_sec, "city");
    void *s = subscriber(ep, q_pub, s_pub, s_sec, "city");
    void *plain = subscriber(ep, NULL, NULL, NULL, "city");
    int got_p = count_messages(p, "city", 1500), got_s = count_messages(s, "city", 100),
        got_plain = count_messages(plain, "city", 100);
    /* p removed from the list, SIGHUP: its Dashboards stop. */
    list = pufa_asprintf("%s %s\n", q_pub, PUFA_TEST_HOME);
    pufa_itest_write_file(dir, "subscribers.list", list);
    free(list);
    kill(pub.pid, SIGHUP);
    bool rebound = pufa_proc_wait_log(&pub, "id=PUB-PUB-REBIND", NULL, NULL, 0, 5000);
    pufa_sleep_ms(300);
    count_messages(p, "city", 100);
    int got_p_after = count_messages(p, "city", 1500);
    printf("# Dashboard PUB in 1.5 s (heartbeat 200 ms): listed key %d, unlisted key %d, "
           "plaintext %d; the listed key after its removal + SIGHUP: %d\n",
           got_p, got_s, got_plain, got_p_after);
    unsub(p);
    unsub(s);
    unsub(plain);
    free(subs);
    assert_int_equal(pufa_proc_stop(&pub, SIGTERM, 10000), 0);
    assert_true(rebound);
    assert_true(got_p >= 3);
    assert_int_equal(got_s, 0);
    assert_int_equal(got_plain, 0);
    assert_int_equal(got_p_after, 0);
}

/* Off loopback, plaintext needs `insecure`; loopback does not. */
static void plaintext_off_loopback_needs_insecure(void **state) {
    (void)state;
    struct {
        const char *bin, *args;
        int want;
    } cases[] = {
        {agg_bin, "--feed tcp://0.0.0.0:7601", 78},
        {agg_bin, "--feed tcp://0.0.0.0:7601 --insecure", 0},
        {agg_bin, "--feed tcp://127.0.0.1:7601", 0},
        {agg_bin, "--feed tcp://0.0.0.0:7601 --feed-allow-list FEEDLIST", 0},
        {pub_bin, "--feed tcp://10.1.2.3:7601 --pub ''", 78},
        {pub_bin, "--feed tcp://10.1.2.3:7601 --pub '' --insecure", 0},
        {pub_bin,
         "--feed tcp://10.1.2.3:7601 --pub '' --curve-secret-file DIR/publisher.key "
         "--feed-server-public-file DIR/aggregator.pub",
         0},
        {pub_bin, "--pub tcp://0.0.0.0:7801", 78},
        {pub_bin, "--pub tcp://[::1]:7801", 0},
        {pub_bin, "--pub tcp://0.0.0.0:7801 --pub-allow-list FEEDLIST", 78}, /* no key pair */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bool agg_case = cases[i].bin == agg_bin;
        char *args = pufa_strdup(cases[i].args);
        for (char *m; (m = strstr(args, "DIR")) || (m = strstr(args, "FEEDLIST"));) {
            char *fixed = pufa_asprintf("%.*s%s%s", (int)(m - args), args,
                                        m[0] == 'D' ? dir : "/dev/null", m + (m[0] == 'D' ? 3 : 8));
            free(args);
            args = fixed;
        }
        char *cmd =
            agg_case ? pufa_asprintf("'%s' --curve-secret-file %s/aggregator.key "
                                     "--allow-list %s/allow.list %s --check-config "
                                     ">/dev/null 2>&1",
                                     cases[i].bin, dir, dir, args)
                     : pufa_asprintf("'%s' %s --check-config >/dev/null 2>&1", cases[i].bin, args);
        int rc = pufa_sh(cmd);
        if (rc != cases[i].want)
            fail_msg("%s exited %d, want %d", cmd, rc, cases[i].want);
        free(cmd);
        free(args);
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr,
                "usage: with-pg.sh feed_curve_test PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    pub_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(feed_admits_listed_keys_only),
        cmocka_unit_test(publisher_with_its_key_gives_the_same_totals),
        cmocka_unit_test(removed_key_and_sighup_stop_its_feed),
        cmocka_unit_test(dashboard_pub_admits_listed_keys_only),
        cmocka_unit_test(plaintext_off_loopback_needs_insecure),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
