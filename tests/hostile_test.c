/* Integration test: HTTP that survives hostile clients (common/http_server.h,
 * publisher/sse.h), on the real collector and publisher: more streams than
 * the cap get 503, a reader that stops reading is dropped and counted, a
 * request head or body trickled past its deadline is closed, one address
 * over its limit is refused while another is served, and what was accepted
 * before is still there.  No timings are asserted beyond generous bounds.
 * argv: PUFA_BIN COLLECTOR_BIN PUBLISHER_BIN. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "itest.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"

static const char *pufa_bin, *col_bin, *pub_bin;
static pufa_proc pub, col;
static char pub_port[16], col_port[16];
static char spool_dir[] = "/tmp/pufa-hostile-XXXXXX";

/* ---- raw clients ---- */

/* A TCP connection from address src (127.0.0.x) to 127.0.0.1:port;
 * rcvbuf > 0 shrinks the receive buffer first. */
static int connect_from(const char *src, const char *port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    a.sin_port = htons((uint16_t)atoi(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_text(int fd, const char *s) {
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Reads what arrives within timeout_ms into acc until it holds needle;
 * returns 1 when found, 0 on timeout, -1 when the server closed first. */
static int read_until(int fd, pufa_buf *acc, const char *needle, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (!(acc->data && strstr(acc->data, needle))) {
        long long left = deadline - pufa_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            return -1;
        pufa_buf_append(acc, chunk, (size_t)n);
    }
    return 1;
}

/* True when the server closes fd within timeout_ms (what it sends first is
 * read and dropped). */
static bool closed_within(int fd, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (pufa_mono_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        char chunk[4096];
        if (recv(fd, chunk, sizeof chunk, 0) <= 0)
            return true;
    }
    return false;
}

/* GET path from address src; returns the status (-1: no answer) and the
 * body in *body when not NULL (the caller frees). */
static int get_from(const char *src, const char *port, const char *path, char **body) {
    int fd = connect_from(src, port, 0);
    char *req = pufa_asprintf("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    send_text(fd, req);
    free(req);
    pufa_buf acc;
    pufa_buf_init(&acc);
    long long deadline = pufa_mono_ms() + 5000;
    while (pufa_mono_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        pufa_buf_append(&acc, chunk, (size_t)n);
    }
    close(fd);
    int status = -1;
    if (acc.data && !strncmp(acc.data, "HTTP/1.", 7))
        status = atoi(acc.data + 9);
    if (body) {
        const char *b = acc.data ? strstr(acc.data, "\r\n\r\n") : NULL;
        *body = pufa_strdup(b ? b + 4 : "");
    }
    pufa_buf_free(&acc);
    return status;
}

/* One metric line's value, read from address src; -1 when absent. */
static long long metric_from(const char *src, const char *port, const char *name) {
    char *body;
    long long v = -1;
    if (get_from(src, port, "/metrics", &body) == 200) {
        const char *at = strstr(body, name);
        while (at && at != body && at[-1] != '\n')
            at = strstr(at + 1, name);
        if (at)
            v = atoll(at + strlen(name));
    }
    free(body);
    return v;
}

/* Polls a metric until it equals want (at most 10 s); returns the last value. */
static long long wait_metric(const char *port, const char *name, long long want) {
    long long v = -1, deadline = pufa_mono_ms() + 10000;
    while (pufa_mono_ms() < deadline && (v = metric_from("127.0.0.2", port, name)) != want)
        pufa_sleep_ms(50);
    return v;
}

/* ---- processes ---- */

static void start_publisher(void) {
    /* Small limits after the home, so that the tests reach them. */
    const char *extra[] = {"--pub",
                           "",
                           "--home",
                           PUFA_TEST_HOME,
                           "--max-streams",
                           "2",
                           "--keepalive",
                           "100ms",
                           "--stream-stall",
                           "1s",
                           "--stream-buffer",
                           "4KiB",
                           "--http-per-ip",
                           "0",
                           "--http-head-timeout",
                           "1s",
                           "--http-body-timeout",
                           "1s",
                           NULL};
    if (!pufa_itest_pub_start(&pub, pub_bin, "tcp://127.0.0.1:1", extra, pub_port, NULL))
        fail_msg("publisher did not start");
}

static void start_collector(void) {
    const char *extra[] = {"--insecure", "--http-per-ip",       "4",  "--http-head-timeout",
                           "60s",        "--http-body-timeout", "1s", NULL};
    pufa_itest_col_start(&col, col_bin, "150821", "tcp://127.0.0.1:1", spool_dir, extra, NULL);
    if (!pufa_itest_col_wait(&col, col_port))
        fail_msg("collector did not start");
}

static int group_setup(void **state) {
    (void)state;
    int rc = pufa_itest_migrate(pufa_bin, NULL, pufa_test_demo_tree_path(),
                                pufa_test_data_path("units.csv"));
    if (rc || !mkdtemp(spool_dir))
        return -1;
    start_publisher();
    start_collector();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    int a = pufa_proc_stop(&pub, SIGTERM, 15000), b = pufa_proc_stop(&col, SIGTERM, 15000);
    pufa_test_rm_rf(spool_dir);
    /* Both stop cleanly with every kind of connection left open. */
    return WIFEXITED(a) && WEXITSTATUS(a) == 0 && WIFEXITED(b) && WEXITSTATUS(b) == 0 ? 0 : -1;
}

/* ---- the publisher ---- */

static int open_stream(const char *src, int rcvbuf, pufa_buf *acc) {
    int fd = connect_from(src, pub_port, rcvbuf);
    send_text(fd, "GET /v1/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
    pufa_buf_init(acc);
    return fd;
}

static void streams_over_the_cap_get_503(void **state) {
    (void)state;
    pufa_buf a, b, c;
    int fa = open_stream("127.0.0.1", 0, &a), fb = open_stream("127.0.0.1", 0, &b);
    assert_int_equal(read_until(fa, &a, "event: update", 5000), 1);
    assert_int_equal(read_until(fb, &b, "event: update", 5000), 1);
    assert_int_equal(strncmp(a.data, "HTTP/1.1 200", 12), 0);
    int fc = open_stream("127.0.0.1", 0, &c);
    assert_int_equal(read_until(fc, &c, "too many live streams", 5000), 1);
    assert_int_equal(strncmp(c.data, "HTTP/1.1 503", 12), 0);
    assert_int_equal(
        metric_from("127.0.0.2", pub_port, "pufa_publisher_streams_total{fate=\"refused\"} "), 1);
    /* The two open streams go on (keep-alives every 100 ms). */
    assert_int_equal(read_until(fa, &a, ": keepalive", 5000), 1);
    close(fa);
    close(fb);
    close(fc);
    assert_int_equal(wait_metric(pub_port, "pufa_publisher_streams ", 0), 0);
    pufa_buf_free(&a);
    pufa_buf_free(&b);
    pufa_buf_free(&c);
}

static void a_stream_that_stops_reading_is_dropped_and_counted(void **state) {
    (void)state;
    long long before =
        metric_from("127.0.0.2", pub_port, "pufa_publisher_streams_total{fate=\"dropped_slow\"} ");
    pufa_buf live, stalled;
    int fl = open_stream("127.0.0.1", 0, &live);
    int fs = open_stream("127.0.0.1", 1024, &stalled);
    assert_int_equal(read_until(fs, &stalled, "event: update", 5000), 1);
    /* From here fs is never read: its buffers fill with keep-alives. */
    long long dropped = before, deadline = pufa_mono_ms() + 60000;
    while (pufa_mono_ms() < deadline && dropped == before) {
        pufa_buf_free(&live);
        pufa_buf_init(&live);
        assert_int_equal(read_until(fl, &live, ": keepalive", 5000), 1);
        dropped = metric_from("127.0.0.2", pub_port,
                              "pufa_publisher_streams_total{fate=\"dropped_slow\"} ");
    }
    printf("# stalled stream dropped: %lld -> %lld\n", before, dropped);
    assert_int_equal(dropped, before + 1);
    /* The reader that reads stays, and keeps receiving. */
    assert_int_equal(wait_metric(pub_port, "pufa_publisher_streams ", 1), 1);
    pufa_buf_free(&live);
    pufa_buf_init(&live);
    assert_int_equal(read_until(fl, &live, ": keepalive", 5000), 1);
    close(fl);
    close(fs);
    assert_int_equal(wait_metric(pub_port, "pufa_publisher_streams ", 0), 0);
    pufa_buf_free(&live);
    pufa_buf_free(&stalled);
}

static void a_trickled_request_head_is_closed_at_its_deadline(void **state) {
    (void)state;
    long long before =
        metric_from("127.0.0.2", pub_port, "pufa_publisher_http_deadline_closed_total ");
    int fd = connect_from("127.0.0.1", pub_port, 0);
    send_text(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    /* A header line every 200 ms: never idle for microhttpd's 30 s, but
     * the head is not complete 1 s after the connection opened. */
    bool closed = false;
    for (int i = 0; i < 50 && !closed; i++) {
        closed = send(fd, "X-Slow: y\r\n", 11, MSG_NOSIGNAL) < 0 || closed_within(fd, 200);
    }
    assert_true(closed);
    close(fd);
    assert_int_equal(
        metric_from("127.0.0.2", pub_port, "pufa_publisher_http_deadline_closed_total "),
        before + 1);
}

/* ---- the collector ---- */

static char *reports_body(size_t n, char (*ids)[37]) {
    size_t len;
    char *buf = pufa_test_read_file(pufa_test_data_path("sample_reports.jsonl"), &len);
    char *nl = strchr(buf, '\n');
    *nl = '\0';
    json_error_t jerr;
    json_t *tmpl = json_loads(buf, 0, &jerr), *arr = json_array();
    free(buf);
    assert_non_null(tmpl);
    json_object_set_new(tmpl, "county_code", json_string("150821"));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_deep_copy(tmpl);
        uint8_t id[16];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, ids[i]);
        json_object_set_new(o, "report_id", json_string(ids[i]));
        json_array_append_new(arr, o);
    }
    json_decref(tmpl);
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

/* POSTs n fresh reports from src; returns the status. */
static int post_from(const char *src, size_t n, char (*ids)[37]) {
    char *body = reports_body(n, ids);
    char *req = pufa_asprintf("POST /v1/reports HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                              strlen(body), body);
    int fd = connect_from(src, col_port, 0);
    send_text(fd, req);
    pufa_buf acc;
    pufa_buf_init(&acc);
    int found = read_until(fd, &acc, "\r\n\r\n", 10000);
    int status = found == 1 ? atoi(acc.data + 9) : -1;
    close(fd);
    pufa_buf_free(&acc);
    free(req);
    free(body);
    return status;
}

static void one_address_over_its_limit_is_refused_while_another_is_served(void **state) {
    (void)state;
    char before[3][37], during[2][37];
    assert_int_equal(post_from("127.0.0.1", 3, before), 202);
    /* That connection is gone (the server counts it until it is cleaned up). */
    assert_int_equal(wait_metric(col_port, "pufa_collector_http_connections ", 1), 1);
    /* 127.0.0.1 opens 5 connections with half-sent heads: one of them (the
     * last accepted: with several loop threads not always the last opened)
     * is closed at once, without an answer; 4 are held. */
    int fds[5], held[4], nheld = 0, closed = -1;
    for (int i = 0; i < 5; i++) {
        fds[i] = connect_from("127.0.0.1", col_port, 0);
        send_text(fds[i], "POST /v1/reports HTTP/1.1\r\nHost: x\r\n");
    }
    for (long long deadline = pufa_mono_ms() + 10000; closed < 0 && pufa_mono_ms() < deadline;)
        for (int i = 0; i < 5 && closed < 0; i++)
            if (closed_within(fds[i], 10))
                closed = i;
    assert_true(closed >= 0);
    close(fds[closed]);
    for (int i = 0; i < 5; i++)
        if (i != closed)
            held[nheld++] = fds[i];
    /* Another address is served: health, intake, and what was accepted
     * before is still known. */
    assert_int_equal(get_from("127.0.0.2", col_port, "/healthz", NULL), 200);
    assert_int_equal(post_from("127.0.0.2", 2, during), 202);
    for (int i = 0; i < 3; i++) {
        char *path = pufa_asprintf("/v1/reports/%s", before[i]), *body;
        assert_int_equal(get_from("127.0.0.2", col_port, path, &body), 200);
        assert_non_null(strstr(body, before[i]));
        free(body);
        free(path);
    }
    /* The held ones are still open (their head deadline is 60 s). */
    for (int i = 0; i < 4; i++) {
        assert_false(closed_within(held[i], 10));
        close(held[i]);
    }
    /* Once they are gone, 127.0.0.1 is served again. */
    assert_int_equal(wait_metric(col_port, "pufa_collector_http_connections ", 1), 1);
    assert_int_equal(get_from("127.0.0.1", col_port, "/healthz", NULL), 200);
}

static void a_body_sent_too_slowly_is_closed_at_its_deadline(void **state) {
    (void)state;
    long long before =
        metric_from("127.0.0.2", col_port, "pufa_collector_http_deadline_closed_total ");
    int fd = connect_from("127.0.0.2", col_port, 0);
    send_text(fd, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: 1000\r\n\r\n[");
    bool closed = false;
    for (int i = 0; i < 50 && !closed; i++)
        closed = send(fd, " ", 1, MSG_NOSIGNAL) < 0 || closed_within(fd, 200);
    assert_true(closed);
    close(fd);
    assert_int_equal(
        metric_from("127.0.0.2", col_port, "pufa_collector_http_deadline_closed_total "),
        before + 1);
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh hostile_test PUFA_BIN COLLECTOR_BIN PUBLISHER_BIN\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pufa_json_init();
    pufa_bin = argv[1];
    col_bin = argv[2];
    pub_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(streams_over_the_cap_get_503),
        cmocka_unit_test(a_stream_that_stops_reading_is_dropped_and_counted),
        cmocka_unit_test(a_trickled_request_head_is_closed_at_its_deadline),
        cmocka_unit_test(one_address_over_its_limit_is_refused_while_another_is_served),
        cmocka_unit_test(a_body_sent_too_slowly_is_closed_at_its_deadline),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
