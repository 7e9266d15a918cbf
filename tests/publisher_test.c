/* Integration test: pufa-publisher against the real aggregator and a
 * throwaway PostgreSQL.  Between the aggregator's feed and the publisher
 * sits a forwarder owned by this test, which can withhold a delta to force
 * a sequence gap.  argv: PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN. */
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
#include <zmq.h>

#include "alloc.h"
#include "calendar.h"
#include "enums.h"
#include "httpc.h"
#include "itest.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin, *pub_bin;
static pufa_proc agg, pub;
static char agg_ep[128], feed_ep[128], pub_port[16], pub_zmq[128];
static char fwd_ep[64];
static void *zctx;
static PGconn *db;
static pthread_t fwd_thread;
static _Atomic int fwd_drop_next, fwd_stop;
static _Atomic int fwd_dropped;

/* ---- the windows this test expects (tests/support/calendar.c) ---- */

/* The city: Asia/Shanghai, +08:00, no daylight saving. */
#define CITY_TZ         "Asia/Shanghai"
#define CITY_OFFSET_MIN 480

static pufa_campaign_windows camps;

/* 02-29 does not exist every year: the moving windows step past it. */
static pufa_civil not_leap_day(pufa_civil c) {
    return c.m == 2 && c.d == 29 ? pufa_civil_plus_days(c, 1) : c;
}

/* The campaign windows this test configures: the README's defaults, one
 * that starts today, one that starts tomorrow (so still last year's), and
 * one across the new year. */
static void configure_campaigns(void) {
    pufa_civil today = pufa_civil_today(CITY_OFFSET_MIN);
    pufa_civil tomorrow = not_leap_day(pufa_civil_plus_days(today, 1));
    pufa_civil today_end = not_leap_day(pufa_civil_plus_days(today, 6));
    pufa_civil tomorrow_end = not_leap_day(pufa_civil_plus_days(tomorrow, 6));
    pufa_campaign_windows_add(&camps, "宪法宣传周", 12, 1, 12, 7);
    pufa_campaign_windows_add(&camps, "民法典宣传月", 5, 1, 5, 31);
    pufa_campaign_windows_add(&camps, "国家安全教育日", 4, 15, 4, 15);
    pufa_campaign_windows_add(&camps, "今日起", today.m, today.d, today_end.m, today_end.d);
    pufa_campaign_windows_add(&camps, "明日起", tomorrow.m, tomorrow.d, tomorrow_end.m,
                              tomorrow_end.d);
    pufa_campaign_windows_add(&camps, "跨年", 12, 20, 1, 10);
}

/* ---- the feed forwarder ---- */

static void *forwarder(void *arg) {
    (void)arg;
    void *in = zmq_socket(zctx, ZMQ_SUB), *out = zmq_socket(zctx, ZMQ_PUB);
    int linger = 0, hwm = 1000000;
    zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(in, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(out, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(in, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(in, feed_ep);
    zmq_bind(out, fwd_ep);
    while (!fwd_stop) {
        zmq_pollitem_t it = {.socket = in, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        zmq_msg_t t, b;
        zmq_msg_init(&t);
        zmq_msg_init(&b);
        zmq_msg_recv(&t, in, 0);
        zmq_msg_recv(&b, in, 0);
        bool delta = zmq_msg_size(&t) == 5 && !memcmp(zmq_msg_data(&t), "delta", 5);
        if (delta && fwd_drop_next) {
            fwd_drop_next = 0;
            fwd_dropped++;
        } else {
            zmq_msg_send(&t, out, ZMQ_SNDMORE);
            zmq_msg_send(&b, out, 0);
        }
        zmq_msg_close(&t);
        zmq_msg_close(&b);
    }
    zmq_close(in);
    zmq_close(out);
    return NULL;
}

/* ---- processes ---- */

/* More flags for the publishers started next (NULL-ended; a nation's). */
static char *pub_extra[8];

/* Starts a publisher on the forwarder's feed in the given time zone. */
static void start_publisher_in(pufa_proc *p, const char *tz, char *http_port, char *zmq_ep) {
    const char *args[32] = {"--pub", "tcp://127.0.0.1:0",  "--heartbeat", "500ms",  "--timezone",
                            tz,      "--campaign-windows", camps.spec,    "--home", PUFA_TEST_HOME};
    size_t n = 10;
    for (size_t i = 0; pub_extra[i]; i++)
        args[n++] = pub_extra[i];
    args[n] = NULL;
    if (!pufa_itest_pub_start(p, pub_bin, fwd_ep, args, http_port, zmq_ep))
        fail_msg("publisher did not start");
}

static void start_publisher(void) {
    start_publisher_in(&pub, CITY_TZ, pub_port, pub_zmq);
}

static void stop_publisher(void) {
    int st = pufa_proc_stop(&pub, SIGTERM, 15000);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        pufa_proc_dump(&pub);
        fail_msg("publisher did not exit 0 on SIGTERM");
    }
}

/* ---- sending reports through the aggregator ---- */

static void *dealer;
static uint64_t batch_seq = 1;

/* Corrections may come back DUPLICATE; 120 s an ack: a loaded machine. */
static void send_reports(pufa_report *r, size_t n) {
    pufa_itest_send_reports(dealer, &batch_seq, r, n, 500, PUFA_ITEST_ACK_DUPLICATE, 120000, NULL);
}

/* Until the publisher has applied every commit so far (20 s). */
static void wait_caught_up(void) {
    pufa_itest_wait_caught_up(db, pub_port, 20000);
}

static void load_file(const char *name) {
    size_t len;
    char *buf = pufa_test_read_file(pufa_test_data_path(name), &len);
    pufa_report *r = pufa_calloc(64, sizeof *r);
    size_t n = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        pufa_errors errs;
        pufa_errors_init(&errs);
        pufa_report_init(&r[n]);
        pufa_report_from_json(o, &r[n], &errs);
        json_decref(o);
        n++;
    }
    send_reports(r, n);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
    free(buf);
}

static const char *const counties[] = {"150802", "150821", "150822", "150823", "150824",
                                       "150825", "150826", "210402", "210403", "210404",
                                       "210411", "210421", "210422", "210423"};
static const char *const units[] = {"SFJ", "FY",   "JCY",  "GAJ", "SWJ",  "JYJ",
                                    "WJW", "SCJG", "YJGL", "NMJ", "MZZJ", "XCB"};
static const char *const campaigns[] = {"", "宪法宣传周", "民法典宣传月", "4·15国家安全教育日",
                                        "6·26国际禁毒日"};

/* n random reports dated from first to first + days - 1. */
static void generate_between(size_t n, unsigned seed, pufa_day first, unsigned days) {
    pufa_report *r = pufa_calloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        pufa_report_init(&r[i]);
        uint8_t id[16];
        pufa_uuid_v7(id);
        char ids[37], date[11];
        pufa_uuid_format(id, ids);
        r[i].report_id = pufa_strdup(ids);
        r[i].revision = 1 + rand_r(&seed) % 3;
        r[i].retracted = rand_r(&seed) % 50 == 0;
        r[i].county_code = pufa_strdup(counties[rand_r(&seed) % 14]);
        r[i].unit_code = pufa_strdup(units[rand_r(&seed) % 12]);
        pufa_date_format(first + (pufa_day)(rand_r(&seed) % days), date);
        r[i].occurred_on = pufa_strdup(date);
        r[i].theme = 1 + (int)(rand_r(&seed) % PUFA_THEME_MAX);
        r[i].venue = 1 + (int)(rand_r(&seed) % PUFA_VENUE_MAX);
        r[i].form = 1 + (int)(rand_r(&seed) % PUFA_FORM_MAX);
        r[i].campaign = pufa_strdup(campaigns[rand_r(&seed) % 5]);
        r[i].title = pufa_strdup("普法活动");
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            r[i].counters[c] = rand_r(&seed) % 500;
    }
    send_reports(r, n);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
}

static void generate(size_t n, unsigned seed) {
    /* From 800 days ago to tomorrow (the latest date a report may carry). */
    generate_between(n, seed, pufa_city_day(pufa_now_ms()) - 799, 801);
}

/* ---- comparing with SQL ---- */

static json_t *get_json_from(const char *port, const char *path) {
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", port, path);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err);
    free(url);
    if (rc)
        fail_msg("GET %s: %s", path, err);
    if (r.status != 200)
        fail_msg("GET %s: status %d: %s", path, r.status, r.body.data);
    json_error_t jerr;
    json_t *o = json_loadb(r.body.data, r.body.len, 0, &jerr);
    pufa_buf_free(&r.body);
    assert_non_null(o);
    return o;
}

static json_t *get_json(const char *path) {
    return get_json_from(pub_port, path);
}

/* Fails unless the reply's window is name with the test's own bounds
 * (computed for the city's today at offset_min); fills from/to with them. */
static void check_window(json_t *doc, const char *name, int offset_min,
                         char from[PUFA_CIVIL_STRLEN], char to[PUFA_CIVIL_STRLEN]) {
    pufa_civil f = {0, 0, 0}, t = {0, 0, 0};
    if (!pufa_window_bounds(name, offset_min, &camps, &f, &t))
        fail_msg("window %s: the test has no rule for it", name);
    pufa_civil_format(f, from);
    pufa_civil_format(t, to);
    json_t *win = json_object_get(doc, "window");
    const char *got_name = json_string_value(json_object_get(win, "name"));
    const char *got_from = json_string_value(json_object_get(win, "from"));
    const char *got_to = json_string_value(json_object_get(win, "to"));
    if (!got_name || strcmp(got_name, name) || !got_from || strcmp(got_from, from) || !got_to ||
        strcmp(got_to, to))
        fail_msg("window %s: the publisher says %s %s..%s, the calendar %s..%s", name,
                 got_name ? got_name : "?", got_from ? got_from : "?", got_to ? got_to : "?", from,
                 to);
}

/* "key:f1,f2,...\n" lines, sorted by key. */
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sql_rows(const char *by, const char *from, const char *to) {
    const char *key = !strcmp(by, "county")     ? "county_code"
                      : !strcmp(by, "theme")    ? "theme::text"
                      : !strcmp(by, "venue")    ? "venue::text"
                      : !strcmp(by, "form")     ? "form::text"
                      : !strcmp(by, "unit")     ? "unit_code"
                      : !strcmp(by, "campaign") ? "campaign"
                                                : "'all'";
    char *sql = pufa_asprintf(
        "SELECT %s, count(*), sum(sessions), sum(participants), sum(materials),"
        " sum(consultations), sum(banners), sum(led_messages), sum(online_posts),"
        " sum(online_views), sum(volunteers), sum(funds_fen) FROM reports"
        " WHERE NOT retracted AND occurred_on BETWEEN $1::date AND $2::date GROUP BY 1",
        key);
    const char *p[2] = {from, to};
    PGresult *res = PQexecParams(db, sql, 2, NULL, p, NULL, NULL, 0);
    free(sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(res));
    size_t n = (size_t)PQntuples(res);
    char **lines = pufa_calloc(n + 1, sizeof *lines);
    pufa_enum_kind kind = !strcmp(by, "theme")   ? PUFA_ENUM_THEME
                          : !strcmp(by, "venue") ? PUFA_ENUM_VENUE
                                                 : PUFA_ENUM_FORM;
    bool is_enum = !strcmp(by, "theme") || !strcmp(by, "venue") || !strcmp(by, "form");
    for (size_t i = 0; i < n; i++) {
        pufa_buf b;
        pufa_buf_init(&b);
        const char *k = PQgetvalue(res, (int)i, 0);
        pufa_buf_printf(&b, "%s:", is_enum ? pufa_enum_code(kind, atoi(k)) : k);
        for (int f = 1; f <= 11; f++)
            pufa_buf_printf(&b, "%s%s", f > 1 ? "," : "", PQgetvalue(res, (int)i, f));
        lines[i] = pufa_buf_steal(&b);
    }
    PQclear(res);
    return pufa_itest_join_sorted(lines, n);
}

static const char *const STANDARD_WINDOWS[] = {"today",   "7d",  "30d",  "month",
                                               "quarter", "ytd", "plan", "all"};
/* Explicit ranges: a half year, one across the new year, one over a leap day. */
static const char *const RANGES[] = {"2025-01-01..2025-06-30", "2025-12-25..2026-01-05",
                                     "2024-02-28..2024-03-01"};
static const char *const BYS[] = {"county", "theme", "venue", "form", "unit", "campaign", "none"};

/* Every window x breakdown: the publisher's bounds are the test's own, and
 * its rows equal SQL over the reports table between those bounds.  Returns
 * the number of combinations compared. */
static int compare_all(bool verbose) {
    char names[32][96];
    size_t nw = 0;
    for (size_t i = 0; i < sizeof STANDARD_WINDOWS / sizeof *STANDARD_WINDOWS; i++)
        snprintf(names[nw++], sizeof names[0], "%s", STANDARD_WINDOWS[i]);
    for (size_t i = 0; i < camps.n; i++)
        snprintf(names[nw++], sizeof names[0], "campaign:%s", camps.c[i].name);
    for (size_t i = 0; i < sizeof RANGES / sizeof *RANGES; i++)
        snprintf(names[nw++], sizeof names[0], "%s", RANGES[i]);
    int compared = 0;
    for (size_t w = 0; w < nw; w++) {
        for (size_t b = 0; b < sizeof BYS / sizeof *BYS; b++) {
            char *path = pufa_asprintf("/v1/totals?window=%s&by=%s", names[w], BYS[b]);
            char *enc = pufa_itest_url_encode(path);
            json_t *doc = NULL;
            char from[PUFA_CIVIL_STRLEN], to[PUFA_CIVIL_STRLEN];
            /* The city's midnight between the reply and the calendar: ask again. */
            for (int attempt = 0; attempt < 2; attempt++) {
                pufa_civil before = pufa_civil_today(CITY_OFFSET_MIN);
                json_decref(doc);
                doc = get_json(enc);
                if (pufa_civil_cmp(before, pufa_civil_today(CITY_OFFSET_MIN)) == 0)
                    break;
            }
            check_window(doc, names[w], CITY_OFFSET_MIN, from, to);
            char *api = pufa_itest_api_rows(doc);
            char *sql = sql_rows(BYS[b], from, to);
            if (strcmp(api, sql) != 0)
                fail_msg("%s: API and SQL differ (%s..%s)\nAPI:\n%s\nSQL:\n%s", path, from, to, api,
                         sql);
            if (verbose && !strcmp(BYS[b], "none"))
                printf("# %-28s %s..%s %s", names[w], from, to, *api ? api : "(none)\n");
            free(api);
            free(sql);
            free(path);
            free(enc);
            json_decref(doc);
            compared++;
        }
    }
    return compared;
}

/* 8 standard windows, 6 campaigns, 3 ranges, by 7 breakdowns. */
#define COMBINATIONS ((8 + 6 + 3) * 7)

static long long metric(const char *name) {
    return pufa_http_metric(pub_port, name);
}

/* ---- setup ---- */

static int group_setup(void **state) {
    (void)state;
    if (pufa_itest_setup_db(NULL, 0, NULL, pufa_bin, pufa_test_demo_tree_path(),
                            pufa_test_data_path("units.csv"), &db))
        return -1;
    zctx = zmq_ctx_new();
    const char *extra[] = {"--insecure",         "--heartbeat", "200ms",  "--compact-rows", "2000",
                           "--compact-interval", "1h",          "--home", PUFA_TEST_HOME,   NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, NULL);
    if (!pufa_itest_agg_wait(&agg, agg_ep, feed_ep, NULL, 0, 10000))
        return -1;
    snprintf(fwd_ep, sizeof fwd_ep, "inproc://unused");
    /* The forwarder's PUB side: a free loopback port found by binding 0. */
    void *probe = zmq_socket(zctx, ZMQ_PUB);
    zmq_bind(probe, "tcp://127.0.0.1:0");
    size_t len = sizeof fwd_ep;
    zmq_getsockopt(probe, ZMQ_LAST_ENDPOINT, fwd_ep, &len);
    zmq_close(probe);
    pufa_sleep_ms(50);
    pthread_create(&fwd_thread, NULL, forwarder, NULL);
    dealer = pufa_itest_dealer(zctx, agg_ep, NULL, NULL, NULL);
    configure_campaigns();
    start_publisher();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (pub.pid > 0)
        pufa_proc_stop(&pub, SIGTERM, 15000);
    fwd_stop = 1;
    pthread_join(fwd_thread, NULL);
    zmq_close(dealer);
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 15000);
    zmq_ctx_term(zctx);
    PQfinish(db);
    return 0;
}

/* ---- tests ---- */

static void totals_equal_sql_for_every_window_and_breakdown(void **state) {
    (void)state;
    load_file("sample_reports.jsonl");
    load_file("sample_corrections.jsonl");
    unsigned seed = (unsigned)pufa_now_ms();
    printf("# generating 10000 reports, seed %u\n", seed);
    generate(10000, seed);
    wait_caught_up();
    int n = compare_all(true);
    printf("# %d window x breakdown combinations equal SQL\n", n);
    assert_int_equal(n, COMBINATIONS);
}

/* ---- trends and comparisons ---- */

/* "all:f1,...,f11\n" of a figures object, or "" when every figure is 0
 * (as sql_rows("none") has no row for an empty span). */
static char *sum_line(json_t *figs) {
    pufa_buf b;
    pufa_buf_init(&b);
    bool zero = true;
    pufa_buf_printf(&b, "all:");
    for (int k = 0; k < 11; k++) {
        long long v = (long long)json_integer_value(json_object_get(figs, pufa_itest_figures[k]));
        zero = zero && v == 0;
        pufa_buf_printf(&b, "%s%lld", k ? "," : "", v);
    }
    pufa_buf_printf(&b, "\n");
    if (zero) {
        b.len = 0;
        b.data[0] = '\0';
    }
    return pufa_buf_steal(&b);
}

static pufa_civil civil_of_json(json_t *o, const char *field) {
    pufa_civil c = {0, 0, 0};
    const char *s = json_string_value(json_object_get(o, field));
    if (!s || !pufa_civil_parse(s, &c))
        fail_msg("%s: not a date (%s)", field, s ? s : "missing");
    return c;
}

/* Fails unless the figures of o equal SQL over from..to. */
static void figures_equal_sql(const char *what, json_t *figs, pufa_civil from, pufa_civil to) {
    char a[PUFA_CIVIL_STRLEN], b[PUFA_CIVIL_STRLEN];
    pufa_civil_format(from, a);
    pufa_civil_format(to, b);
    char *api = sum_line(figs), *sql = sql_rows("none", a, b);
    if (strcmp(api, sql) != 0)
        fail_msg("%s (%s..%s): API %s, SQL %s", what, a, b, *api ? api : "0\n", *sql ? sql : "0\n");
    free(api);
    free(sql);
}

/* Fails unless cmp (a row's or the totals' "compare") has the test's own
 * base bounds for from..to, base figures equal to SQL over them (when
 * city_sql: the whole city's), and the change and per cent of cur against
 * them. */
static void check_compare(const char *what, json_t *cmp, json_t *cur, const char *kind, int months,
                          pufa_civil from, pufa_civil to, bool city_sql) {
    if (!json_is_object(cmp))
        fail_msg("%s: no compare object", what);
    pufa_civil bf, bt;
    pufa_compare_bounds(kind, months, from, to, &bf, &bt);
    if (pufa_civil_cmp(civil_of_json(cmp, "from"), bf) ||
        pufa_civil_cmp(civil_of_json(cmp, "to"), bt)) {
        char a[PUFA_CIVIL_STRLEN], b[PUFA_CIVIL_STRLEN];
        pufa_civil_format(bf, a);
        pufa_civil_format(bt, b);
        fail_msg("%s: base %s..%s, the calendar says %s..%s", what,
                 json_string_value(json_object_get(cmp, "from")),
                 json_string_value(json_object_get(cmp, "to")), a, b);
    }
    json_t *base = json_object_get(cmp, "base");
    if (city_sql)
        figures_equal_sql(what, base, bf, bt);
    for (int k = 0; k < 11; k++) {
        long long c = (long long)json_integer_value(json_object_get(cur, pufa_itest_figures[k]));
        long long v = (long long)json_integer_value(json_object_get(base, pufa_itest_figures[k]));
        long long d = (long long)json_integer_value(
            json_object_get(json_object_get(cmp, "change"), pufa_itest_figures[k]));
        json_t *pct = json_object_get(json_object_get(cmp, "pct"), pufa_itest_figures[k]);
        if (d != c - v)
            fail_msg("%s %s: change %lld, want %lld - %lld", what, pufa_itest_figures[k], d, c, v);
        if (v == 0 ? !json_is_null(pct) : !json_is_number(pct))
            fail_msg("%s %s: pct must be %s (base %lld)", what, pufa_itest_figures[k],
                     v == 0 ? "null" : "a number", v);
        double want = v ? 100.0 * (double)(c - v) / (double)v : 0;
        if (v && (json_number_value(pct) - want > 0.0501 || want - json_number_value(pct) > 0.0501))
            fail_msg("%s %s: pct %g, want %.3f", what, pufa_itest_figures[k],
                     json_number_value(pct), want);
    }
}

/* The key the test expects for a period row starting on first. */
static void period_key(const char *by, pufa_civil first, char key[PUFA_CIVIL_STRLEN]) {
    if (!strcmp(by, "week"))
        pufa_civil_iso_week(first, key);
    else if (!strcmp(by, "month"))
        snprintf(key, PUFA_CIVIL_STRLEN, "%04d-%02d", first.y, first.m);
    else
        pufa_civil_format(first, key);
}

/* Does day b start a new period after day a? */
static bool new_period(const char *by, pufa_civil a, pufa_civil b) {
    char ka[PUFA_CIVIL_STRLEN], kb[PUFA_CIVIL_STRLEN];
    period_key(by, a, ka);
    period_key(by, b, kb);
    return strcmp(ka, kb) != 0;
}

/* A trend: rows cover the window day by day with no gap or overlap, in
 * order, one per period with the test's key for it, each equal to SQL over
 * its days; they sum to the totals, and the totals equal SQL.  With a
 * comparison, every row's and the totals' base is the test's own.
 * Returns the number of rows. */
static size_t check_trend(json_t *doc, const char *path, const char *by, const char *compare,
                          int window_months, pufa_civil from, pufa_civil to) {
    json_t *rows = json_object_get(doc, "rows");
    size_t n = json_array_size(rows);
    long long sum[11] = {0};
    pufa_civil next = from;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        pufa_civil rf = civil_of_json(r, "from"), rt = civil_of_json(r, "to");
        char key[PUFA_CIVIL_STRLEN], what[256];
        snprintf(what, sizeof what, "%s row %zu", path, i);
        if (pufa_civil_cmp(rf, next) != 0)
            fail_msg("%s: starts %s, want the day after the row before", what,
                     json_string_value(json_object_get(r, "from")));
        if (pufa_civil_cmp(rt, rf) < 0 || pufa_civil_cmp(rt, to) > 0)
            fail_msg("%s: ends %s, outside the window", what,
                     json_string_value(json_object_get(r, "to")));
        /* Every day of the row is in its period, and the day after is not. */
        for (pufa_civil d = rf; pufa_civil_cmp(d, rt) < 0; d = pufa_civil_plus_days(d, 1))
            if (new_period(by, d, pufa_civil_plus_days(d, 1)))
                fail_msg("%s: spans two periods", what);
        next = pufa_civil_plus_days(rt, 1);
        if (pufa_civil_cmp(rt, to) < 0 && !new_period(by, rt, next))
            fail_msg("%s: ends inside its period", what);
        period_key(by, rf, key);
        assert_string_equal(json_string_value(json_object_get(r, "key")), key);
        json_t *figs = json_object_get(r, "figures");
        figures_equal_sql(what, figs, rf, rt);
        for (int k = 0; k < 11; k++)
            sum[k] += (long long)json_integer_value(json_object_get(figs, pufa_itest_figures[k]));
        if (compare)
            check_compare(what, json_object_get(r, "compare"), figs, compare,
                          !strcmp(by, "month") ? 1 : 0, rf, rt, true);
    }
    if (pufa_civil_cmp(next, pufa_civil_plus_days(to, 1)) != 0)
        fail_msg("%s: the rows stop before the window's end", path);
    json_t *tot = json_object_get(doc, "totals");
    for (int k = 0; k < 11; k++)
        if (sum[k] != (long long)json_integer_value(json_object_get(tot, pufa_itest_figures[k])))
            fail_msg("%s: the rows' %s sum to %lld, the totals say %lld", path,
                     pufa_itest_figures[k], sum[k],
                     (long long)json_integer_value(json_object_get(tot, pufa_itest_figures[k])));
    figures_equal_sql(path, tot, from, to);
    if (compare)
        check_compare(path, json_object_get(doc, "compare"), tot, compare, window_months, from, to,
                      true);
    return n;
}

/* A breakdown by county with a comparison: the rows' figures and their
 * bases equal SQL by county over the window and over the test's base. */
static void check_compared_breakdown(json_t *doc, const char *path, const char *compare,
                                     int window_months, pufa_civil from, pufa_civil to) {
    pufa_civil bf, bt;
    pufa_compare_bounds(compare, window_months, from, to, &bf, &bt);
    char a[PUFA_CIVIL_STRLEN], b[PUFA_CIVIL_STRLEN], c[PUFA_CIVIL_STRLEN], d[PUFA_CIVIL_STRLEN];
    pufa_civil_format(from, a);
    pufa_civil_format(to, b);
    pufa_civil_format(bf, c);
    pufa_civil_format(bt, d);
    /* Lines "key:figures" of the current and the base figures, all-zero ones left out. */
    json_t *rows = json_object_get(doc, "rows");
    char **cur = pufa_calloc(json_array_size(rows) + 1, sizeof *cur);
    char **base = pufa_calloc(json_array_size(rows) + 1, sizeof *base);
    size_t nc = 0, nb = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        const char *key = json_string_value(json_object_get(r, "key"));
        char *fl = sum_line(json_object_get(r, "figures"));
        char *bl = sum_line(json_object_get(json_object_get(r, "compare"), "base"));
        if (*fl)
            cur[nc++] = pufa_asprintf("%s:%s", key, fl + 4);
        if (*bl)
            base[nb++] = pufa_asprintf("%s:%s", key, bl + 4);
        free(fl);
        free(bl);
        char what[256];
        snprintf(what, sizeof what, "%s row %s", path, key);
        /* Its base figures are checked against SQL by county below. */
        check_compare(what, json_object_get(r, "compare"), json_object_get(r, "figures"), compare,
                      window_months, from, to, false);
    }
    check_compare(path, json_object_get(doc, "compare"), json_object_get(doc, "totals"), compare,
                  window_months, from, to, true);
    char **lists[2] = {cur, base};
    size_t counts[2] = {nc, nb};
    char *sql[2] = {sql_rows("county", a, b), sql_rows("county", c, d)};
    for (int l = 0; l < 2; l++) {
        qsort(lists[l], counts[l], sizeof *lists[l], cmp_str);
        pufa_buf all;
        pufa_buf_init(&all);
        for (size_t i = 0; i < counts[l]; i++) {
            pufa_buf_printf(&all, "%s", lists[l][i]);
            free(lists[l][i]);
        }
        if (strcmp(all.data ? all.data : "", sql[l]) != 0)
            fail_msg("%s: %s rows differ from SQL\nAPI:\n%s\nSQL:\n%s", path,
                     l ? "base" : "current", all.data ? all.data : "", sql[l]);
        pufa_buf_free(&all);
        free(sql[l]);
        free(lists[l]);
    }
}

/* Windows for trends and comparisons: rolling ones, a month-end and a leap
 * February (03-31 -> 02-29 / 02-28 for the months, 02-29 -> 02-28 a year
 * earlier), the leap day alone, and ISO weeks across a new year. */
static const char *const TREND_WINDOWS[] = {"30d",
                                            "month",
                                            "quarter",
                                            "ytd",
                                            "2024-01-01..2024-03-31",
                                            "2026-01-01..2026-03-31",
                                            "2024-02-29..2024-02-29",
                                            "2024-02-15..2024-03-15",
                                            "2025-12-25..2026-01-05"};

static void trends_and_comparisons_equal_sql(void **state) {
    (void)state;
    /* The generated reports reach 800 days back; these add the months a
     * year before the leap February, and a few on the days that matter. */
    unsigned seed = (unsigned)pufa_now_ms() ^ 0x5eedu;
    printf("# generating 1500 reports in 2023-01..2024-03, seed %u\n", seed);
    pufa_day first;
    assert_int_equal(pufa_date_parse("2023-01-01", &first), 0);
    generate_between(1500, seed, first, 456);
    static const char *const days[] = {"2023-02-28", "2023-03-01", "2024-02-28", "2024-02-29",
                                       "2024-03-31", "2026-02-28", "2026-03-31"};
    for (size_t i = 0; i < sizeof days / sizeof *days; i++) {
        assert_int_equal(pufa_date_parse(days[i], &first), 0);
        generate_between(3, seed + (unsigned)i, first, 1);
    }
    wait_caught_up();
    static const char *const bys[] = {"day", "week", "month", "county"};
    static const char *const compares[] = {NULL, "prev", "yoy"};
    size_t checked = 0, rows = 0;
    for (size_t w = 0; w < sizeof TREND_WINDOWS / sizeof *TREND_WINDOWS; w++) {
        const char *name = TREND_WINDOWS[w];
        int months = !strcmp(name, "month") ? 1 : !strcmp(name, "quarter") ? 3 : 0;
        for (size_t b = 0; b < sizeof bys / sizeof *bys; b++) {
            for (size_t k = 0; k < sizeof compares / sizeof *compares; k++) {
                bool trend = strcmp(bys[b], "county") != 0;
                if (!trend && !compares[k])
                    continue; /* compare_all covers it */
                char *path = compares[k]
                                 ? pufa_asprintf("/v1/totals?window=%s&by=%s&compare=%s", name,
                                                 bys[b], compares[k])
                                 : pufa_asprintf("/v1/totals?window=%s&by=%s", name, bys[b]);
                json_t *doc = NULL;
                pufa_civil from = {0, 0, 0}, to = {0, 0, 0};
                /* The city's midnight between the reply and the calendar: ask again. */
                for (int attempt = 0; attempt < 2; attempt++) {
                    pufa_civil before = pufa_civil_today(CITY_OFFSET_MIN);
                    json_decref(doc);
                    doc = get_json(path);
                    if (pufa_civil_cmp(before, pufa_civil_today(CITY_OFFSET_MIN)) == 0)
                        break;
                }
                char f[PUFA_CIVIL_STRLEN], t[PUFA_CIVIL_STRLEN];
                check_window(doc, name, CITY_OFFSET_MIN, f, t);
                assert_true(pufa_civil_parse(f, &from) && pufa_civil_parse(t, &to));
                assert_string_equal(json_string_value(json_object_get(doc, "by")), bys[b]);
                if (!compares[k])
                    assert_true(json_is_null(json_object_get(doc, "compare")));
                if (trend)
                    rows += check_trend(doc, path, bys[b], compares[k], months, from, to);
                else
                    check_compared_breakdown(doc, path, compares[k], months, from, to);
                json_decref(doc);
                free(path);
                checked++;
            }
        }
    }
    printf("# %zu trend/comparison answers (%zu period rows) equal SQL\n", checked, rows);
    assert_int_equal(checked, 9 * (3 * 3 + 2));
}

static void withheld_delta_leads_to_a_resync(void **state) {
    (void)state;
    long long gaps = metric("pufa_publisher_gaps_total ");
    fwd_drop_next = 1;
    generate(300, 7);
    /* The forwarder thread sees the delta a moment after our ack. */
    long long deadline = pufa_mono_ms() + 10000;
    while (fwd_dropped == 0 && pufa_mono_ms() < deadline)
        pufa_sleep_ms(10);
    assert_int_equal(fwd_dropped, 1);
    wait_caught_up();
    assert_true(metric("pufa_publisher_gaps_total ") > gaps);
    assert_true(pufa_proc_count_log(&pub, "PUB-GAP") >= 1);
    compare_all(false);
}

/* The status of GET path on port, or -1 when nothing answered. */
static int http_status(const char *port, const char *path) {
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", port, path);
    pufa_http_response r;
    char err[256];
    int status = -1;
    if (pufa_http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err) == 0) {
        status = r.status;
        pufa_buf_free(&r.body);
    }
    free(url);
    return status;
}

/* A resync that fails after the model was cleared (here: the journal is
 * unreadable to the publisher's role) leaves the model holding a part of the
 * snapshot: it must not be served, only 503 until a snapshot loads whole. */
static void a_resync_failing_midway_is_not_served(void **state) {
    (void)state;
    PQclear(PQexec(db, "REVOKE SELECT ON rollup_journal FROM pufa_publisher"));
    int dropped = fwd_dropped;
    fwd_drop_next = 1;
    generate(40, 13);
    long long deadline = pufa_mono_ms() + 10000;
    while (fwd_dropped == dropped && pufa_mono_ms() < deadline)
        pufa_sleep_ms(10);
    assert_int_equal(fwd_dropped, dropped + 1);
    /* The gap shows at the next delta or heartbeat; the resync then fails. */
    int ready = 0;
    deadline = pufa_mono_ms() + 15000;
    while (pufa_mono_ms() < deadline && !(pufa_proc_count_log(&pub, "PUB-SNAPSHOT-RETRY") >= 1 &&
                                          (ready = http_status(pub_port, "/readyz")) == 503))
        pufa_sleep_ms(50);
    int totals = http_status(pub_port, "/v1/totals?window=all&by=county");
    PQclear(PQexec(db, "GRANT SELECT ON rollup_journal TO pufa_publisher"));
    printf("# the snapshot half loaded: /readyz %d, /v1/totals %d\n", ready, totals);
    assert_int_equal(ready, 503);
    assert_int_equal(totals, 503);
    /* The journal readable again: the retry loads whole, the totals are exact. */
    wait_caught_up();
    deadline = pufa_mono_ms() + 20000;
    while (http_status(pub_port, "/readyz") != 200 && pufa_mono_ms() < deadline)
        pufa_sleep_ms(50);
    assert_int_equal(compare_all(false), COMBINATIONS);
}

static long long db_count(const char *sql) {
    PGresult *r = PQexec(db, sql);
    long long v = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

static void restart_gives_the_same_totals(void **state) {
    (void)state;
    /* The aggregator compacts every 2,000 journal rows: a few more reports
     * stay in the journal, so the snapshot reads both halves. */
    generate(50, 11);
    wait_caught_up();
    assert_true(db_count("SELECT count(*) FROM rollup_dim") > 0);
    assert_true(db_count("SELECT count(*) FROM rollup_journal") > 0);
    json_t *before = get_json("/v1/totals?window=all&by=county");
    json_t *before_t = get_json("/v1/totals?window=plan&by=theme");
    stop_publisher();
    start_publisher();
    wait_caught_up();
    json_t *after = get_json("/v1/totals?window=all&by=county");
    json_t *after_t = get_json("/v1/totals?window=plan&by=theme");
    assert_true(json_equal(json_object_get(before, "rows"), json_object_get(after, "rows")));
    assert_true(json_equal(json_object_get(before_t, "rows"), json_object_get(after_t, "rows")));
    assert_true(json_equal(json_object_get(before, "totals"), json_object_get(after, "totals")));
    json_decref(before);
    json_decref(after);
    json_decref(before_t);
    json_decref(after_t);
    assert_int_equal(compare_all(false), COMBINATIONS);
}

/* A nation's settings (README: a nation's publisher): this year per day,
 * the years before per year (their cut windows read from PostgreSQL), a
 * model file.  Every window x breakdown equals SQL after the full load,
 * after live deltas, and after a restart from the file while reports and
 * corrections of old days were committed. */
static void a_publisher_with_a_model_file_catches_up(void **state) {
    (void)state;
    char dir[] = "/tmp/pufa-model-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *file = pufa_asprintf("%s/model.bin", dir);
    stop_publisher();
    pub_extra[0] = "--detail-years";
    pub_extra[1] = "1";
    pub_extra[2] = "--model-file";
    pub_extra[3] = file;
    pub_extra[4] = NULL;
    start_publisher();
    wait_caught_up();
    assert_int_equal(compare_all(false), COMBINATIONS);
    assert_true(pufa_proc_wait_log(&pub, "id=PUB-MODEL-FILE", NULL, NULL, 0, 20000));
    /* Live: new reports over three years, and corrections moving reports of
     * the last test to other days (old ones among them). */
    generate(300, 31);
    wait_caught_up();
    assert_int_equal(compare_all(false), COMBINATIONS);
    stop_publisher(); /* writes the file again */
    pufa_day today = pufa_city_day(pufa_now_ms());
    generate_between(200, 37, today - 700, 400); /* old days only, while it is down */
    PGresult *r = PQexec(db, "SELECT report_id, revision, county_code, unit_code FROM reports"
                             " WHERE NOT retracted ORDER BY report_id LIMIT 40");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int nc = PQntuples(r);
    pufa_report *c = pufa_calloc((size_t)nc, sizeof *c);
    for (int i = 0; i < nc; i++) {
        char date[11];
        pufa_report_init(&c[i]);
        c[i].report_id = pufa_strdup(PQgetvalue(r, i, 0));
        c[i].revision = atoi(PQgetvalue(r, i, 1)) + 1;
        c[i].retracted = i % 10 == 0;
        c[i].county_code = pufa_strdup(PQgetvalue(r, i, 2));
        c[i].unit_code = pufa_strdup(PQgetvalue(r, i, 3));
        pufa_date_format(today - 500 + i * 9, date); /* another day, some of them old */
        c[i].occurred_on = pufa_strdup(date);
        c[i].theme = 1 + i % PUFA_THEME_MAX;
        c[i].venue = 1 + i % PUFA_VENUE_MAX;
        c[i].form = 1 + i % PUFA_FORM_MAX;
        c[i].campaign = pufa_strdup("");
        c[i].title = pufa_strdup("更正");
        for (int k = 0; k < PUFA_NCOUNTERS; k++)
            c[i].counters[k] = (uint32_t)(7 * i + k);
    }
    PQclear(r);
    send_reports(c, (size_t)nc);
    for (int i = 0; i < nc; i++)
        pufa_report_clear(&c[i]);
    free(c);
    start_publisher();
    assert_true(pufa_proc_count_log(&pub, "source=model_file") == 1);
    wait_caught_up();
    assert_int_equal(compare_all(false), COMBINATIONS);
    /* A file ahead of the database (as after restoring an older backup):
     * set aside, a full snapshot.  Its seq is the header's uint64 at byte
     * 32 (model.c: model_head). */
    stop_publisher();
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    uint64_t ahead = 1ull << 40;
    assert_int_equal(fseek(f, 32, SEEK_SET), 0);
    assert_int_equal(fwrite(&ahead, sizeof ahead, 1, f), 1);
    fclose(f);
    start_publisher();
    assert_true(pufa_proc_count_log(&pub, "past the database's") == 1);
    assert_true(pufa_proc_count_log(&pub, "source=model_file") == 0);
    wait_caught_up();
    assert_int_equal(compare_all(false), COMBINATIONS);
    stop_publisher();
    pub_extra[0] = NULL;
    start_publisher();
    wait_caught_up(); /* served before the next test asks */
    unlink(file);
    rmdir(dir);
    free(file);
}

/* Opens /v1/stream on a raw socket. */
static int open_stream(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(pub_port))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /v1/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    return fd;
}

/* Reads until an "update" event whose all-time report total is >= want. */
static long long wait_event(int fd, pufa_buf *acc, long long want, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (pufa_mono_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            char chunk[8192];
            ssize_t n = recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0)
                return -1;
            pufa_buf_append(acc, chunk, (size_t)n);
        }
        char *d;
        while (acc->data && (d = strstr(acc->data, "data: "))) {
            char *end = strchr(d, '\n');
            if (!end)
                break;
            json_error_t jerr;
            json_t *o = json_loadb(d + 6, (size_t)(end - d - 6), 0, &jerr);
            long long total =
                o ? (long long)json_integer_value(json_object_get(
                        json_object_get(json_object_get(o, "totals"), "all"), "reports"))
                  : -1;
            json_decref(o);
            memmove(acc->data, end + 1, acc->len - (size_t)(end + 1 - acc->data) + 1);
            acc->len -= (size_t)(end + 1 - acc->data);
            if (total >= want)
                return total;
        }
    }
    return -1;
}

static void sse_client_sees_a_commit_within_a_second(void **state) {
    (void)state;
    json_t *t = get_json("/v1/totals?window=all&by=none");
    long long before = json_integer_value(json_object_get(json_object_get(t, "totals"), "reports"));
    json_decref(t);
    int fd = open_stream();
    pufa_buf acc;
    pufa_buf_init(&acc);
    assert_true(wait_event(fd, &acc, before, 5000) >= before); /* the initial event */
    long long t0 = pufa_mono_ms();
    generate(1, 99);
    long long got = wait_event(fd, &acc, before + 1, 5000);
    long long ms = pufa_mono_ms() - t0;
    printf("# SSE saw the commit %lld ms after the send\n", ms);
    assert_int_equal(got, before + 1);
    assert_true(ms <= 1000);
    close(fd);
    pufa_buf_free(&acc);
}

/* One figure set as api_rows writes it: "f1,...,f11". */
static void figures_line(pufa_buf *b, const Pufa__Figures *f) {
    if (!f) {
        pufa_buf_puts(b, "(no figures)");
        return;
    }
    const int64_t v[11] = {f->reports,       f->sessions,   f->participants, f->materials,
                           f->consultations, f->banners,    f->led_messages, f->online_posts,
                           f->online_views,  f->volunteers, f->funds_fen};
    for (int k = 0; k < 11; k++)
        pufa_buf_printf(b, "%s%lld", k ? "," : "", (long long)v[k]);
}

/* Dashboard rows as api_rows writes them ("key:f1,...,f11\n", sorted). */
static char *dashboard_rows(Pufa__DashboardRow **rows, size_t n) {
    char **lines = pufa_calloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        pufa_buf b;
        pufa_buf_init(&b);
        pufa_buf_printf(&b, "%s:", rows[i]->key ? rows[i]->key : "(null)");
        figures_line(&b, rows[i]->figures);
        lines[i] = pufa_buf_steal(&b);
    }
    return pufa_itest_join_sorted(lines, n);
}

/* The API's "totals" object as "f1,...,f11". */
static char *api_totals(json_t *doc) {
    pufa_buf b;
    pufa_buf_init(&b);
    json_t *t = json_object_get(doc, "totals");
    for (int k = 0; k < 11; k++)
        pufa_buf_printf(&b, "%s%lld", k ? "," : "",
                        (long long)json_integer_value(json_object_get(t, pufa_itest_figures[k])));
    return pufa_buf_steal(&b);
}

/* Receives one Dashboard of topic (the city, or "county.CODE") and compares
 * every window it carries, its bounds, totals and every breakdown on every
 * figure, with the API (for the county with &county=CODE). */
static void compare_dashboard(const char *topic, const char *county) {
    void *s = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    zmq_connect(s, pub_zmq);
    Pufa__Dashboard *d = NULL;
    long long deadline = pufa_mono_ms() + 10000;
    while (!d && pufa_mono_ms() < deadline) {
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 500) != 1)
            continue;
        zmq_msg_t t, body;
        zmq_msg_init(&t);
        zmq_msg_init(&body);
        zmq_msg_recv(&t, s, 0);
        zmq_msg_recv(&body, s, 0);
        /* Subscriptions match prefixes: "city" only, not "city..." */
        if (zmq_msg_size(&t) == strlen(topic) && !memcmp(zmq_msg_data(&t), topic, strlen(topic)))
            d = pufa__dashboard__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
        zmq_msg_close(&t);
        zmq_msg_close(&body);
    }
    zmq_close(s);
    if (!d)
        fail_msg("no Dashboard on topic %s within 10 s", topic);
    assert_string_equal(d->scope, county ? county : "city");
    static const char *const dims[] = {"county", "theme", "venue", "form", "unit", "campaign"};
    bool seen[8] = {false};
    int compared = 0;
    for (size_t i = 0; i < d->n_windows; i++) {
        const Pufa__DashboardWindow *w = d->windows[i];
        size_t k = 0;
        while (k < 8 && (!w->window || strcmp(w->window, STANDARD_WINDOWS[k])))
            k++;
        if (k == 8)
            fail_msg("%s: a window the README does not list: %s", topic,
                     w->window ? w->window : "(null)");
        assert_false(seen[k]);
        seen[k] = true;
        Pufa__DashboardRow **const by[] = {w->by_county, w->by_theme, w->by_venue,
                                           w->by_form,   w->by_unit,  w->by_campaign};
        const size_t n_by[] = {w->n_by_county, w->n_by_theme, w->n_by_venue,
                               w->n_by_form,   w->n_by_unit,  w->n_by_campaign};
        for (size_t b = county ? 1 : 0; b < 6; b++) {
            char *path = pufa_asprintf("/v1/totals?window=%s&by=%s%s%s", w->window, dims[b],
                                       county ? "&county=" : "", county ? county : "");
            json_t *api = get_json(path);
            char from[PUFA_CIVIL_STRLEN], to[PUFA_CIVIL_STRLEN];
            check_window(api, w->window, CITY_OFFSET_MIN, from, to);
            if (!w->from_day || strcmp(w->from_day, from) || !w->to_day || strcmp(w->to_day, to))
                fail_msg("%s %s: the Dashboard says %s..%s, the calendar %s..%s", topic, w->window,
                         w->from_day ? w->from_day : "?", w->to_day ? w->to_day : "?", from, to);
            assert_int_equal(d->seq, json_integer_value(json_object_get(api, "seq")));
            pufa_buf tot;
            pufa_buf_init(&tot);
            figures_line(&tot, w->totals);
            char *want_tot = api_totals(api);
            if (strcmp(tot.data, want_tot))
                fail_msg("%s %s: Dashboard totals %s, API %s", topic, w->window, tot.data,
                         want_tot);
            char *got = dashboard_rows(by[b], n_by[b]);
            char *want = pufa_itest_api_rows(api);
            if (strcmp(got, want))
                fail_msg("%s: the Dashboard's by_%s differs\nDashboard:\n%s\nAPI:\n%s", path,
                         dims[b], got, want);
            free(got);
            free(want);
            free(want_tot);
            pufa_buf_free(&tot);
            json_decref(api);
            free(path);
            compared++;
        }
    }
    for (size_t k = 0; k < 8; k++)
        if (!seen[k])
            fail_msg("%s: the Dashboard carries no window %s", topic, STANDARD_WINDOWS[k]);
    printf("# %s: %d Dashboard window x breakdown lists equal the API\n", topic, compared);
    pufa__dashboard__free_unpacked(d, NULL);
}

static void zeromq_dashboards_match_the_api(void **state) {
    (void)state;
    wait_caught_up();
    compare_dashboard("city", NULL);
    compare_dashboard("county.150821", "150821");
}

/* A publisher in another zone: its windows follow that zone's today.  The
 * zone is one whose date differs from the default zone's (Asia/Shanghai)
 * now, and from UTC's too when that can be had. */
static void windows_follow_the_configured_zone(void **state) {
    (void)state;
    struct tm utc;
    time_t now = time(NULL);
    gmtime_r(&now, &utc);
    const char *tz = utc.tm_hour >= 16 ? "-12:00" : utc.tm_hour >= 10 ? "+14:00" : "-12:00";
    int offset = tz[0] == '-' ? -720 : 840;
    pufa_proc other;
    char port[16], ep[128];
    start_publisher_in(&other, tz, port, ep);
    /* Ready and caught up before asking: right after its snapshot, a publisher
     * may still resync (a delta published while it subscribed), answering 503. */
    long long want = pufa_itest_sql_ll(db, "SELECT seq FROM feed_state"),
              deadline = pufa_mono_ms() + 20000;
    char *readyz = pufa_asprintf("http://127.0.0.1:%s/readyz", port);
    int ready = 0;
    while (!ready && pufa_mono_ms() < deadline) {
        pufa_http_response r;
        char err[256];
        if (pufa_http_request("GET", readyz, NULL, NULL, 0, 5000, &r, err, sizeof err) == 0) {
            ready = r.status == 200 && pufa_http_metric(port, "pufa_publisher_seq ") == want;
            pufa_buf_free(&r.body);
        }
        if (!ready)
            pufa_sleep_ms(50);
    }
    free(readyz);
    if (!ready)
        fail_msg("the publisher in zone %s was not ready at seq %lld within 20 s", tz, want);
    pufa_civil here = pufa_civil_today(offset), city = pufa_civil_today(CITY_OFFSET_MIN);
    assert_int_not_equal(pufa_civil_cmp(here, city), 0);
    char today[PUFA_CIVIL_STRLEN];
    pufa_civil_format(here, today);
    printf("# zone %s: today is %s\n", tz, today);
    for (size_t w = 0; w < sizeof STANDARD_WINDOWS / sizeof *STANDARD_WINDOWS; w++) {
        char *path = pufa_asprintf("/v1/totals?window=%s&by=none", STANDARD_WINDOWS[w]);
        json_t *doc = get_json_from(port, path);
        char from[PUFA_CIVIL_STRLEN], to[PUFA_CIVIL_STRLEN];
        if (pufa_civil_cmp(here, pufa_civil_today(offset)) == 0) { /* not across its midnight */
            check_window(doc, STANDARD_WINDOWS[w], offset, from, to);
            char *api = pufa_itest_api_rows(doc), *sql = sql_rows("none", from, to);
            if (strcmp(api, sql))
                fail_msg("zone %s, %s: API %s, SQL %s", tz, path, api, sql);
            free(api);
            free(sql);
        }
        json_decref(doc);
        free(path);
    }
    int st = pufa_proc_stop(&other, SIGTERM, 15000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void exports_are_guarded_and_open(void **state) {
    (void)state;
    /* Titles carrying a formula, HTML and SQL are stored verbatim. */
    pufa_report r[3];
    const char *titles[3] = {"=1+1", "<script>alert(1)</script>", "'); DROP TABLE reports;--"};
    for (int i = 0; i < 3; i++) {
        pufa_report_init(&r[i]);
        uint8_t id[16];
        pufa_uuid_v7(id);
        char ids[37], date[11];
        pufa_uuid_format(id, ids);
        pufa_date_format(pufa_city_day(pufa_now_ms()), date);
        r[i].report_id = pufa_strdup(ids);
        r[i].revision = 1;
        r[i].county_code = pufa_strdup("150821");
        r[i].unit_code = pufa_strdup("SFJ");
        r[i].occurred_on = pufa_strdup(date);
        r[i].theme = r[i].venue = r[i].form = 1;
        r[i].title = pufa_strdup(titles[i]);
    }
    send_reports(r, 3);
    for (int i = 0; i < 3; i++)
        pufa_report_clear(&r[i]);
    wait_caught_up();
    char *url =
        pufa_asprintf("http://127.0.0.1:%s/v1/export.csv?window=today&detail=reports", pub_port);
    pufa_http_response resp;
    char err[256];
    assert_int_equal(pufa_http_request("GET", url, NULL, NULL, 0, 10000, &resp, err, sizeof err),
                     0);
    free(url);
    assert_int_equal(resp.status, 200);
    assert_true(resp.body.len > 3 && !memcmp(resp.body.data, "\xEF\xBB\xBF", 3));
    /* Every line ends with CRLF. */
    for (size_t i = 0; i < resp.body.len; i++)
        if (resp.body.data[i] == '\n')
            assert_true(i > 0 && resp.body.data[i - 1] == '\r');
    assert_contains(resp.body.data, "\"'=1+1\"");
    assert_contains(resp.body.data, "<script>alert(1)</script>"); /* verbatim in CSV */
    assert_contains(resp.body.data, "'); DROP TABLE reports;--");
    assert_contains(resp.body.data, "报告编号");
    pufa_buf_free(&resp.body);
    /* The title round-trips verbatim through PostgreSQL. */
    PGresult *q = PQexec(db, "SELECT count(*) FROM reports WHERE title IN ('=1+1',"
                             " '<script>alert(1)</script>', '''); DROP TABLE reports;--')");
    assert_string_equal(PQgetvalue(q, 0, 0), "3");
    PQclear(q);
    /* XLSX: written, then read back with openpyxl. */
    const char *sheets[] = {"window=all&by=county", "window=today&detail=reports"};
    for (int s = 0; s < 2; s++) {
        char *cmd = pufa_asprintf(
            "curl -sf -o /tmp/pufa-test-%d.xlsx 'http://127.0.0.1:%s/v1/export.xlsx?%s' && "
            "/usr/bin/python3 - /tmp/pufa-test-%d.xlsx <<'PY'\n"
            "import sys, openpyxl\n"
            "wb = openpyxl.load_workbook(sys.argv[1])\n"
            "ws = wb.worksheets[0]\n"
            "heads = [c.value for c in ws[2]]\n"
            "assert ws.freeze_panes == 'A3', ws.freeze_panes\n"
            "assert '受教育人次' in heads, heads\n"
            "vals = [c.value for row in ws.iter_rows(min_row=3) for c in row]\n"
            "assert any(isinstance(v, (int, float)) for v in vals)\n"
            "if 'detail' in sys.argv[0] or ws.title == '明细':\n"
            "    assert '=1+1' in vals, 'formula title not stored as text'\n"
            "    assert all(ws.cell(row=r, column=14).data_type == 's' for r in range(3, "
            "ws.max_row + 1))\n"
            "print('xlsx ok', ws.title, ws.max_row, 'rows')\n"
            "PY",
            (int)getpid() + s, pub_port, sheets[s], (int)getpid() + s);
        assert_int_equal(pufa_sh(cmd), 0);
        free(cmd);
    }
}

/* /v1/silent?days=N: every county's silent flag and last receipt day equal
 * what the aggregator recorded (receipt_daily, days in the city's calendar),
 * the window being the test's own last N days. */
static void check_silent(int days) {
    char *path = pufa_asprintf("/v1/silent?days=%d", days);
    json_t *s = get_json(path);
    pufa_civil today = pufa_civil_today(CITY_OFFSET_MIN);
    char since[PUFA_CIVIL_STRLEN], t[PUFA_CIVIL_STRLEN];
    pufa_civil_format(pufa_civil_plus_days(today, 1 - days), since);
    pufa_civil_format(today, t);
    assert_string_equal(json_string_value(json_object_get(s, "today")), t);
    char *sql = pufa_asprintf(
        "SELECT o.code, coalesce(max(r.day)::text, ''), coalesce(max(r.day) < DATE '%s', true)"
        " FROM org_units o LEFT JOIN receipt_daily r ON r.county_code = o.code"
        " WHERE o.level = 'county' GROUP BY 1 ORDER BY 1",
        since);
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(r));
    json_t *listed = json_object_get(s, "counties");
    assert_int_equal(json_array_size(listed), PQntuples(r));
    long long silent = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *code = PQgetvalue(r, i, 0);
        json_t *c = NULL;
        for (size_t k = 0; k < json_array_size(listed) && !c; k++)
            if (!strcmp(json_string_value(json_object_get(json_array_get(listed, k), "code")),
                        code))
                c = json_array_get(listed, k);
        if (!c)
            fail_msg("%s: county %s missing", path, code);
        const char *last = json_string_value(json_object_get(c, "last_report"));
        bool want_silent = PQgetvalue(r, i, 2)[0] == 't';
        if (strcmp(last ? last : "", PQgetvalue(r, i, 1)) ||
            json_is_true(json_object_get(c, "silent")) != want_silent)
            fail_msg("%s: county %s last_report %s silent %d, SQL %s %d", path, code,
                     last ? last : "null", json_is_true(json_object_get(c, "silent")),
                     PQgetvalue(r, i, 1), want_silent);
        silent += want_silent;
    }
    assert_int_equal(json_integer_value(json_object_get(s, "silent_listed")), silent);
    PQclear(r);
    free(sql);
    free(path);
    json_decref(s);
}

static void bad_requests_get_clear_errors(void **state) {
    (void)state;
    const char *paths[] = {"/v1/totals?window=fortnight",
                           "/v1/totals?by=colour",
                           "/v1/totals?county=abc",
                           "/v1/silent?days=0",
                           "/v1/nope",
                           "/v1/export.csv?detail=everything"};
    int want[] = {400, 400, 400, 400, 404, 400};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        char *url = pufa_asprintf("http://127.0.0.1:%s%s", pub_port, paths[i]);
        pufa_http_response r;
        char err[256];
        assert_int_equal(pufa_http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err),
                         0);
        if (r.status != want[i])
            fail_msg("%s: %d, want %d", paths[i], r.status, want[i]);
        assert_contains(r.body.data, "\"error\"");
        pufa_buf_free(&r.body);
        free(url);
    }
    /* Trends and comparisons: the parameter named, the valid values listed. */
    const struct {
        const char *path, *want;
    } named[] = {
        {"/v1/totals?by=fortnight",
         "by: unknown (got fortnight); use county, theme, venue, form, unit, campaign, township, "
         "none, day, week or month"},
        {"/v1/totals?by=day&compare=mom", "compare: unknown (got mom); use prev or yoy"},
        {"/v1/totals?by=county&compare=PREV", "compare: unknown (got PREV); use prev or yoy"},
        {"/v1/export.csv?by=week", "by: day, week and month are trends of /v1/totals"},
        {"/v1/export.xlsx?by=county&compare=yoy", "compare: only /v1/totals compares"},
    };
    for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
        char *url = pufa_asprintf("http://127.0.0.1:%s%s", pub_port, named[i].path);
        pufa_http_response r;
        char err[256];
        assert_int_equal(pufa_http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err),
                         0);
        if (r.status != 400)
            fail_msg("%s: %d, want 400", named[i].path, r.status);
        json_error_t jerr;
        json_t *doc = json_loadb(r.body.data, r.body.len, 0, &jerr);
        const char *msg = json_string_value(json_object_get(doc, "error"));
        assert_contains(msg ? msg : r.body.data, named[i].want);
        json_decref(doc);
        pufa_buf_free(&r.body);
        free(url);
    }
    /* Nothing writes through the publisher. */
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/totals", pub_port);
    pufa_http_response r;
    char err[256];
    assert_int_equal(pufa_http_request("POST", url, NULL, "{}", 2, 5000, &r, err, sizeof err), 0);
    assert_int_equal(r.status, 405);
    pufa_buf_free(&r.body);
    free(url);
    check_silent(7);
    check_silent(1);
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh publisher_test PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    pub_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(totals_equal_sql_for_every_window_and_breakdown),
        cmocka_unit_test(trends_and_comparisons_equal_sql),
        cmocka_unit_test(withheld_delta_leads_to_a_resync),
        cmocka_unit_test(a_resync_failing_midway_is_not_served),
        cmocka_unit_test(restart_gives_the_same_totals),
        cmocka_unit_test(a_publisher_with_a_model_file_catches_up),
        cmocka_unit_test(sse_client_sees_a_commit_within_a_second),
        cmocka_unit_test(zeromq_dashboards_match_the_api),
        cmocka_unit_test(windows_follow_the_configured_zone),
        cmocka_unit_test(exports_are_guarded_and_open),
        cmocka_unit_test(bad_requests_get_clear_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
