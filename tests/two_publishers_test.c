/* Integration test: two publishers on one aggregator feed give identical
 * answers, so that a stock load balancer may send any request to either
 * (deploy/nginx/pufa-publisher.conf, deploy/RUNBOOK.md).  One aggregator,
 * two publishers on free loopback ports, a few thousand reports over two
 * years; then every API answer of the list below from both, compared after
 * dropping the fields that tell the time of the answer itself
 * (generated_at_ms, *_age_ms), and the first SSE event of each.
 * With --nginx, also Debian's nginx (/usr/sbin/nginx; the test exits 77,
 * skipped, when it is not installed) as a user other than root, with the
 * shipped site config rewritten to a free loopback port and the two
 * publishers: every answer through it equals the publishers' own, and an
 * SSE stream through it carries its first event and then a new one.
 * argv: PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN [--nginx]. */
#include <arpa/inet.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "enums.h"
#include "httpc.h"
#include "itest.h"
#include "proc.h"
#include "report.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

#define NGINX_BIN "/usr/sbin/nginx"

static const char *pufa_bin, *agg_bin, *pub_bin;
static pufa_proc agg, pubs[2], nginx;
static char agg_ep[128], feed_ep[128], pub_port[2][16], nginx_port[16];
static char tmp_dir[] = "/tmp/pufa-twopub-XXXXXX";
static void *zctx, *dealer;
static PGconn *db;
static uint64_t batch_seq = 1;

/* ---- reports through the aggregator ---- */

static void send_reports(pufa_report *r, size_t n) {
    for (size_t off = 0; off < n; off += 500) {
        size_t cnt = n - off < 500 ? n - off : 500;
        pufa_buf frame;
        pufa_buf_init(&frame);
        pufa_batch_begin(&frame, NULL, batch_seq++, pufa_now_ms());
        for (size_t i = 0; i < cnt; i++) {
            size_t len;
            uint8_t *rep = pufa_report_encode(&r[off + i], &len);
            pufa_batch_add(&frame, rep, len);
            free(rep);
        }
        assert_int_equal(zmq_send(dealer, frame.data, frame.len, 0), (int)frame.len);
        pufa_buf_free(&frame);
        zmq_pollitem_t it = {.socket = dealer, .events = ZMQ_POLLIN};
        assert_int_equal(zmq_poll(&it, 1, 120000), 1); /* generous: a loaded machine */
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, dealer, 0);
        Pufa__BatchAck *a = NULL;
        assert_int_equal(pufa_ack_decode(zmq_msg_data(&m), zmq_msg_size(&m), &a), 0);
        for (size_t i = 0; i < a->n_results; i++)
            if (a->results[i]->status != PUFA__REPORT_STATUS__STATUS_COMMITTED)
                fail_msg("report %zu not committed: %s", off + i,
                         a->results[i]->reason ? a->results[i]->reason : "?");
        pufa_ack_destroy(&a);
        zmq_msg_close(&m);
    }
}

static const char *const counties[] = {"150802", "150821", "150822", "150823", "150824",
                                       "150825", "150826", "210402", "210403", "210404",
                                       "210411", "210421", "210422", "210423"};
static const char *const units[] = {"SFJ", "FY",   "JCY",  "GAJ", "SWJ",  "JYJ",
                                    "WJW", "SCJG", "YJGL", "NMJ", "MZZJ", "XCB"};
static const char *const campaigns[] = {"", "宪法宣传周", "民法典宣传月", "4·15国家安全教育日"};
static const char *const townships[] = {"", "城关镇", "东胜街道", "新华街道"};

/* n random reports over the last two years (to tomorrow). */
static void generate(size_t n, unsigned seed) {
    pufa_day first = pufa_city_day(pufa_now_ms()) - 729;
    pufa_report *r = pufa_calloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        pufa_report_init(&r[i]);
        uint8_t id[16];
        char ids[37], date[11];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, ids);
        r[i].report_id = pufa_strdup(ids);
        r[i].revision = 1;
        r[i].county_code = pufa_strdup(counties[rand_r(&seed) % 14]);
        r[i].unit_code = pufa_strdup(units[rand_r(&seed) % 12]);
        pufa_date_format(first + (pufa_day)(rand_r(&seed) % 731), date);
        r[i].occurred_on = pufa_strdup(date);
        r[i].theme = 1 + (int)(rand_r(&seed) % PUFA_THEME_MAX);
        r[i].venue = 1 + (int)(rand_r(&seed) % PUFA_VENUE_MAX);
        r[i].form = 1 + (int)(rand_r(&seed) % PUFA_FORM_MAX);
        r[i].campaign = pufa_strdup(campaigns[rand_r(&seed) % 4]);
        r[i].township = pufa_strdup(townships[rand_r(&seed) % 4]);
        r[i].title = pufa_strdup("普法活动");
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            r[i].counters[c] = rand_r(&seed) % 500;
    }
    send_reports(r, n);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
}

/* Until both publishers hold the feed's last sequence (20 s at most). */
static void wait_caught_up(void) {
    long long deadline = pufa_mono_ms() + 20000;
    for (int i = 0; i < 2; i++)
        pufa_itest_wait_caught_up(db, pub_port[i], (int)(deadline - pufa_mono_ms()));
}

/* ---- answers ---- */

/* The paths compared: totals over windows and every breakdown (home
 * 100000: the nation), below a city and a county, trends, children,
 * completeness, meta, silent and the CSV export. */
static char **paths;
static size_t npaths;

static void add_path(const char *fmt, const char *a, const char *b) {
    paths = pufa_realloc(paths, (npaths + 1) * sizeof *paths);
    paths[npaths++] = pufa_asprintf(fmt, a, b);
}

static void make_paths(void) {
    static const char *const windows[] = {"today", "7d",   "30d", "month",
                                          "ytd",   "plan", "all", "2025-01-01..2025-06-30"};
    static const char *const bys[] = {"none",  "province", "city", "county",  "theme",
                                      "venue", "form",     "unit", "campaign"};
    for (size_t w = 0; w < sizeof windows / sizeof *windows; w++)
        for (size_t b = 0; b < sizeof bys / sizeof *bys; b++)
            add_path("/v1/totals?window=%s&by=%s", windows[w], bys[b]);
    add_path("/v1/totals?window=ytd&by=%s%s", "county&org=150800", "");
    add_path("/v1/totals?window=all&by=%s%s", "unit&org=150821", "");
    add_path("/v1/totals?window=all&by=%s%s", "township&org=150821", "");
    add_path("/v1/totals?window=%s&by=%s", "all", "county&rank=participants");
    add_path("/v1/totals?window=%s&by=%s", "30d", "day&compare=prev");
    add_path("/v1/totals?window=%s&by=%s", "ytd", "week");
    add_path("/v1/totals?window=%s&by=%s", "all", "month&compare=yoy");
    add_path("/v1/children%s%s", "", "");
    add_path("/v1/children?org=%s%s", "150800", "");
    add_path("/v1/completeness?window=%s%s", "ytd", "");
    add_path("/v1/completeness?window=%s&org=%s", "30d", "150800");
    add_path("/v1/meta%s%s", "", "");
    add_path("/v1/meta?org=%s%s", "150821", "");
    add_path("/v1/silent?days=%s%s", "30", "");
    add_path("/v1/export.csv?window=%s&by=%s", "all", "county");
}

/* Drops what tells the time of the answer itself, at any depth. */
static void strip_clock(json_t *j) {
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            strip_clock(json_array_get(j, i));
        return;
    }
    if (!json_is_object(j))
        return;
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(j, tmp, key, v) {
        size_t len = strlen(key);
        if (!strcmp(key, "generated_at_ms") || (len > 7 && !strcmp(key + len - 7, "_age_ms")))
            json_object_del(j, key);
        else
            strip_clock(v);
    }
}

/* "STATUS\nBODY" of GET path on port, JSON bodies normalised (caller
 * frees). */
static char *answer(const char *port, const char *path) {
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", port, path);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err);
    free(url);
    if (rc)
        fail_msg("GET %s on port %s: %s", path, port, err);
    char *out;
    json_error_t jerr;
    json_t *o =
        r.body.data && r.body.data[0] == '{' ? json_loadb(r.body.data, r.body.len, 0, &jerr) : NULL;
    if (o) {
        strip_clock(o);
        char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        out = pufa_asprintf("%d\n%s", r.status, s);
        free(s);
        json_decref(o);
    } else {
        out = pufa_asprintf("%d\n%s", r.status, r.body.data ? r.body.data : "");
    }
    pufa_buf_free(&r.body);
    return out;
}

/* Every path answered 200 by the first port and the same by the second
 * (both strings of the first, in *got, for the caller to free with
 * free_answers). */
static char **compare_ports(const char *a, const char *b) {
    char **got = pufa_calloc(npaths, sizeof *got);
    for (size_t i = 0; i < npaths; i++) {
        char *x = answer(a, paths[i]), *y = answer(b, paths[i]);
        if (strncmp(x, "200\n", 4))
            fail_msg("GET %s on port %s: %.300s", paths[i], a, x);
        if (strcmp(x, y)) {
            fprintf(stderr, "# GET %s differs between ports %s and %s\n", paths[i], a, b);
            assert_lines_equal(y, x, paths[i]);
            fail_msg("GET %s differs", paths[i]);
        }
        free(y);
        got[i] = x;
    }
    return got;
}

static void free_answers(char **got) {
    for (size_t i = 0; i < npaths; i++)
        free(got[i]);
    free(got);
}

/* ---- SSE ---- */

static int connect_port(const char *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* An SSE client: the raw bytes, the HTTP head (checked: 200,
 * text/event-stream) and the body, de-chunked when the answer is chunked
 * (microhttpd's and nginx's chunks need not fall on event boundaries). */
typedef struct sse_reader {
    int fd;
    pufa_buf raw, body;
    bool head_done, chunked;
} sse_reader;

static void stream_open(sse_reader *r, const char *port) {
    memset(r, 0, sizeof *r);
    r->fd = connect_port(port);
    pufa_buf_init(&r->raw);
    pufa_buf_init(&r->body);
    const char *req = "GET /v1/stream HTTP/1.1\r\nHost: pufa\r\nAccept: text/event-stream\r\n\r\n";
    assert_int_equal(send(r->fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
}

static void stream_close(sse_reader *r) {
    close(r->fd);
    pufa_buf_free(&r->raw);
    pufa_buf_free(&r->body);
}

static void consume(pufa_buf *b, size_t n) {
    memmove(b->data, b->data + n, b->len - n + 1);
    b->len -= n;
}

/* Moves what raw holds into body: the head first, then whole chunks. */
static void dechunk(sse_reader *r) {
    if (!r->head_done) {
        char *end = r->raw.data ? strstr(r->raw.data, "\r\n\r\n") : NULL;
        if (!end)
            return;
        *end = '\0';
        for (char *p = r->raw.data; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        if (strncmp(r->raw.data, "http/1.1 200", 12) || !strstr(r->raw.data, "text/event-stream"))
            fail_msg("not an SSE answer: %.300s", r->raw.data);
        r->chunked = strstr(r->raw.data, "transfer-encoding: chunked") != NULL;
        r->head_done = true;
        consume(&r->raw, (size_t)(end + 4 - r->raw.data));
    }
    if (!r->chunked) {
        pufa_buf_append(&r->body, r->raw.data, r->raw.len);
        consume(&r->raw, r->raw.len);
        return;
    }
    for (;;) {
        char *eol = r->raw.data ? strstr(r->raw.data, "\r\n") : NULL;
        if (!eol)
            return;
        size_t size = strtoul(r->raw.data, NULL, 16), line = (size_t)(eol + 2 - r->raw.data);
        if (r->raw.len < line + size + 2)
            return;
        if (size == 0)
            fail_msg("the SSE stream ended");
        pufa_buf_append(&r->body, r->raw.data + line, size);
        consume(&r->raw, line + size + 2);
    }
}

/* The data of the next event, normalised (caller frees); NULL after
 * timeout_ms. */
static char *try_next_event(sse_reader *r, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    for (;;) {
        pufa_buf *b = &r->body;
        char *d = b->data ? strstr(b->data, "data: ") : NULL;
        char *end = d ? strchr(d + 6, '\n') : NULL;
        if (end) {
            json_error_t jerr;
            json_t *o = json_loadb(d + 6, (size_t)(end - d - 6), 0, &jerr);
            if (!o)
                fail_msg("an SSE event that is not JSON: %.200s", d + 6);
            consume(b, (size_t)(end + 1 - b->data));
            strip_clock(o);
            char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(o);
            return s;
        }
        long long left = deadline - pufa_mono_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char chunk[4096];
        ssize_t n = recv(r->fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            fail_msg("the SSE stream closed; unparsed: %.300s", b->data ? b->data : "");
        pufa_buf_append(&r->raw, chunk, (size_t)n);
        dechunk(r);
    }
}

/* try_next_event, failing on a timeout. */
static char *next_event(sse_reader *r, int timeout_ms) {
    char *ev = try_next_event(r, timeout_ms);
    if (!ev)
        fail_msg("no SSE event within %d ms; unparsed: %.300s", timeout_ms,
                 r->body.data ? r->body.data : "");
    return ev;
}

/* The first event whose data holds needle, within timeout_ms; fails
 * naming the last event seen. */
static char *event_with(sse_reader *r, const char *needle, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    char *last = NULL;
    while (!last || !strstr(last, needle)) {
        long long left = deadline - pufa_mono_ms();
        char *ev = left > 0 ? try_next_event(r, (int)left) : NULL;
        if (!ev)
            fail_msg("no SSE event with %s within %d ms; the last: %.300s", needle, timeout_ms,
                     last ? last : "(none)");
        free(last);
        last = ev;
    }
    return last;
}

static char *first_event(const char *port) {
    sse_reader r;
    stream_open(&r, port);
    char *ev = next_event(&r, 10000);
    stream_close(&r);
    return ev;
}

/* ---- the tests ---- */

static void two_publishers_agree(void **state) {
    (void)state;
    char **got = compare_ports(pub_port[0], pub_port[1]);
    printf("# %zu answers identical on both publishers\n", npaths);
    char *e0 = first_event(pub_port[0]), *e1 = first_event(pub_port[1]);
    assert_string_equal(e0, e1);
    assert_contains(e0, "\"reports\":3000");
    printf("# first SSE event identical: %.160s\n", e0);
    free(e0);
    free(e1);
    free_answers(got);
}

/* Reports sent after the streams opened reach both, and both agree again. */
static void agree_after_more(void **state) {
    (void)state;
    sse_reader rd[2];
    long long fanouts[2];
    for (int i = 0; i < 2; i++) {
        stream_open(&rd[i], pub_port[i]);
        free(next_event(&rd[i], 10000));
        fanouts[i] = pufa_http_metric(pub_port[i], "pufa_publisher_stream_fanout_seconds_count ");
        assert_true(fanouts[i] >= 0);
    }
    generate(500, 7);
    wait_caught_up();
    for (int i = 0; i < 2; i++) {
        /* Events may coalesce: the one that shows all 3,500. */
        free(event_with(&rd[i], "\"reports\":3500", 10000));
        /* The stream took the new events: a fan-out that reached it was timed
         * once every stream it woke (closed ones of the test above too) was
         * done with it. */
        const char *name = "pufa_publisher_stream_fanout_seconds_count ";
        long long deadline = pufa_mono_ms() + 5000;
        while (pufa_http_metric(pub_port[i], name) <= fanouts[i] && pufa_mono_ms() < deadline)
            pufa_sleep_ms(20);
        assert_true(pufa_http_metric(pub_port[i], name) > fanouts[i]);
        stream_close(&rd[i]);
    }
    free_answers(compare_ports(pub_port[0], pub_port[1]));
}

/* ---- nginx ---- */

/* The shipped site config with its listen port and upstream servers
 * replaced by the test's, inside a minimal nginx.conf of the temp folder
 * (which the user running nginx owns). */
static void write_nginx_conf(const char *dir, const char *port) {
    size_t len;
    const char *src = getenv("PUFA_SOURCE_DIR");
    char *site_path = pufa_asprintf("%s/deploy/nginx/pufa-publisher.conf", src ? src : ".");
    char *site = pufa_test_read_file(site_path, &len);
    if (!site)
        fail_msg("cannot read %s", site_path);
    free(site_path);
    pufa_buf out;
    pufa_buf_init(&out);
    pufa_buf_printf(
        &out,
        "daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log stderr notice;\n"
        "events { worker_connections 1024; }\nhttp {\n  access_log off;\n"
        "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
        "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
        "  scgi_temp_path %s/scgi;\n",
        dir, dir, dir, dir, dir, dir);
    bool servers_done = false;
    int listens = 0, upstream_servers = 0;
    for (char *line = strtok(site, "\n"); line; line = strtok(NULL, "\n")) {
        const char *t = line + strspn(line, " \t");
        if (!strncmp(t, "listen ", 7)) {
            pufa_buf_printf(&out, "    listen 127.0.0.1:%s;\n", port);
            listens++;
        } else if (!strncmp(t, "server 127.0.0.1:", 17)) {
            upstream_servers++;
            if (!servers_done)
                for (int i = 0; i < 2; i++)
                    pufa_buf_printf(&out, "    server 127.0.0.1:%s max_fails=3 fail_timeout=10s;\n",
                                    pub_port[i]);
            servers_done = true;
        } else {
            pufa_buf_printf(&out, "  %s\n", line);
        }
    }
    pufa_buf_printf(&out, "}\n");
    if (listens != 1 || upstream_servers < 1)
        fail_msg("deploy/nginx/pufa-publisher.conf: want one listen line and upstream servers "
                 "\"server 127.0.0.1:PORT ...\" (got %d and %d)",
                 listens, upstream_servers);
    char *path = pufa_asprintf("%s/nginx.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(out.data, f);
    fclose(f);
    free(path);
    pufa_buf_free(&out);
    free(site);
}

/* A free loopback port (bound, read, closed: nginx binds it next). */
static void free_port(char *port, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &alen);
    snprintf(port, size, "%d", ntohs(a.sin_port));
    close(fd);
}

static void start_nginx(void) {
    free_port(nginx_port, sizeof nginx_port);
    write_nginx_conf(tmp_dir, nginx_port);
    char *conf = pufa_asprintf("%s/nginx.conf", tmp_dir);
    char *argv[16];
    int n = 0;
    if (geteuid() == 0) {
        /* Not as root: nobody, who gets the temp folder. */
        struct passwd *pw = getpwnam("nobody");
        assert_non_null(pw);
        assert_int_equal(chown(tmp_dir, pw->pw_uid, pw->pw_gid), 0);
        argv[n++] = "/usr/bin/setpriv";
        argv[n++] = "--reuid=nobody";
        argv[n++] = "--regid=nogroup";
        argv[n++] = "--clear-groups";
    }
    argv[n++] = NGINX_BIN;
    argv[n++] = "-p";
    argv[n++] = tmp_dir;
    argv[n++] = "-e";
    argv[n++] = "stderr";
    argv[n++] = "-c";
    argv[n++] = conf;
    argv[n] = NULL;
    pufa_proc_start(&nginx, argv, NULL);
    free(conf);
    /* Up when /healthz answers through it (10 s at most). */
    char *url = pufa_asprintf("http://127.0.0.1:%s/healthz", nginx_port);
    long long deadline = pufa_mono_ms() + 10000;
    int status = 0;
    while (pufa_mono_ms() < deadline && pufa_proc_alive(&nginx)) {
        pufa_http_response r;
        char err[256];
        if (pufa_http_request("GET", url, NULL, NULL, 0, 2000, &r, err, sizeof err) == 0) {
            status = r.status;
            pufa_buf_free(&r.body);
            if (status == 200)
                break;
        }
        pufa_sleep_ms(100);
    }
    free(url);
    if (status != 200) {
        pufa_proc_dump(&nginx);
        fail_msg("nginx did not answer /healthz with 200 on port %s (last %d)", nginx_port, status);
    }
}

static void through_nginx(void **state) {
    (void)state;
    start_nginx();
    /* Each path twice through nginx (round robin: both publishers), equal
     * to the publisher's own answer. */
    char **direct = compare_ports(pub_port[0], pub_port[1]);
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < npaths; i++) {
            char *via = answer(nginx_port, paths[i]);
            if (strcmp(via, direct[i])) {
                assert_lines_equal(via, direct[i], paths[i]);
                fail_msg("GET %s through nginx differs", paths[i]);
            }
            free(via);
        }
    printf("# %zu answers through nginx, twice each, equal to the publishers'\n", npaths);
    /* An SSE stream through nginx: its first event equals the publishers',
     * and a new report reaches it unbuffered. */
    char *direct_ev = first_event(pub_port[0]);
    sse_reader rd;
    stream_open(&rd, nginx_port);
    char *ev = next_event(&rd, 10000);
    assert_string_equal(ev, direct_ev);
    free(ev);
    generate(1, 9);
    ev = event_with(&rd, "\"reports\":3501", 10000);
    printf("# SSE through nginx: first event equal, the next report arrived\n");
    free(ev);
    free(direct_ev);
    stream_close(&rd);
    free_answers(direct);
    assert_int_equal(pufa_proc_stop(&nginx, SIGTERM, 10000) >= 0, 1);
}

/* ---- setup ---- */

static void start_publisher(int i) {
    const char *extra[] = {"--pub",         "",  "--home",
                           PUFA_TEST_HOME, /* Behind a proxy every client has its address. */
                           "--http-per-ip", "0", NULL};
    if (!pufa_itest_pub_start(&pubs[i], pub_bin, feed_ep, extra, pub_port[i], NULL))
        fail_msg("publisher %d did not start", i);
}

static int group_setup(void **state) {
    (void)state;
    if (!mkdtemp(tmp_dir))
        return -1;
    if (pufa_itest_setup_db(NULL, 0, NULL, pufa_bin, pufa_test_demo_tree_path(),
                            pufa_test_data_path("units.csv"), &db))
        return -1;
    zctx = zmq_ctx_new();
    const char *extra[] = {"--insecure", "--home", PUFA_TEST_HOME, NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, NULL);
    if (!pufa_itest_agg_wait(&agg, agg_ep, feed_ep, NULL, 0, 10000))
        return -1;
    dealer = pufa_itest_dealer(zctx, agg_ep, NULL, NULL, NULL);
    /* One publisher loads its snapshot before the reports, the other after
     * them: both ways of filling the model must give the same answers. */
    start_publisher(0);
    generate(3000, 1);
    start_publisher(1);
    wait_caught_up();
    make_paths();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (nginx.pid > 0)
        pufa_proc_stop(&nginx, SIGTERM, 10000);
    for (int i = 0; i < 2; i++)
        if (pubs[i].pid > 0)
            pufa_proc_stop(&pubs[i], SIGTERM, 15000);
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 15000);
    if (dealer)
        zmq_close(dealer);
    if (zctx)
        zmq_ctx_term(zctx);
    PQfinish(db);
    for (size_t i = 0; i < npaths; i++)
        free(paths[i]);
    free(paths);
    pufa_test_rm_rf(tmp_dir);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh two_publishers_test PUFA_BIN AGGREGATOR_BIN "
                        "PUBLISHER_BIN [--nginx]\n");
        return 2;
    }
    pufa_bin = argv[1];
    agg_bin = argv[2];
    pub_bin = argv[3];
    bool with_nginx = argc > 4 && !strcmp(argv[4], "--nginx");
    if (with_nginx && access(NGINX_BIN, X_OK) != 0) {
        printf("SKIP: %s is not installed (Debian package nginx-light or nginx): the two "
               "publishers behind nginx are not tested here; two_publishers_test still compares "
               "them directly\n",
               NGINX_BIN);
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest direct[] = {
        cmocka_unit_test(two_publishers_agree),
        cmocka_unit_test(agree_after_more),
    };
    const struct CMUnitTest proxied[] = {
        cmocka_unit_test(two_publishers_agree),
        cmocka_unit_test(agree_after_more),
        cmocka_unit_test(through_nginx),
    };
    if (with_nginx)
        return cmocka_run_group_tests_name("two publishers behind nginx", proxied, group_setup,
                                           group_teardown);
    return cmocka_run_group_tests_name("two publishers", direct, group_setup, group_teardown);
}
