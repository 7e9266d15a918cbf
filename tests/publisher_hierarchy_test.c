/* Integration test: pufa-publisher above a city, against the real
 * aggregator and a throwaway PostgreSQL.  The org units: the nation, two
 * provinces, and under 内蒙古自治区 two cities (巴彦淖尔市 and 乌兰察布市),
 * each with counties.  Publishers with the home at the province and at the
 * nation: by=city and by=province equal the sums of their counties and SQL;
 * org= for a province, a city and a county; a unit outside the home is a
 * 400 naming it; /v1/children tells up, down and never from child_links
 * rows this test writes.  argv: PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN. */
#include <arpa/inet.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "enums.h"
#include "httpc.h"
#include "itest.h"
#include "proc.h"
#include "pufa.pb-c.h"
#include "report.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin, *pub_bin;
static pufa_proc agg, province, nation;
static char agg_ep[128], feed_ep[128], province_port[16], nation_port[16];
static void *zctx, *dealer;
static PGconn *db;
static char extra_units[64];
static uint64_t batch_seq = 1;
#define HTTP_MS 20000 /* the time a GET may take */

/* The second city of 内蒙古自治区, so that the province has two. */
static const char EXTRA_UNITS[] = "code,name,level,parent_code\n"
                                  "150900,乌兰察布市,city,150000\n"
                                  "150921,卓资县,county,150900\n"
                                  "150922,化德县,county,150900\n";

static const char *const counties[] = {"150802", "150821", "150822", "150823", "150824", "150825",
                                       "150826", "150921", "150922", "210402", "210403", "210411"};
#define NCOUNTIES (sizeof counties / sizeof *counties)

/* ---- processes ---- */

/* Starts a publisher with the given home (NULL: none) and extra options
 * (NULL-terminated, or NULL); port gets its HTTP port unless it must fail. */
static void start_pub(pufa_proc *p, const char *home, char *port) {
    const char *extra[] = {"--pub", "",  "--link-timeout", "10s", home ? "--home" : NULL,
                           home,    NULL};
    if (!pufa_itest_pub_start(p, pub_bin, feed_ep, extra, port, NULL))
        fail_msg("publisher (home %s) did not start", home ? home : "none");
}

/* A publisher that must refuse to start: exit 78 with want in its log. */
static void refuses_to_start(const char *home, const char *want) {
    pufa_proc p;
    start_pub(&p, home, NULL);
    if (!pufa_proc_wait_log(&p, want, NULL, NULL, 0, 20000)) {
        pufa_proc_dump(&p);
        fail_msg("no '%s' in the publisher's log", want);
    }
    /* It exits by itself (signal 0: nothing sent, only waited for). */
    int st = pufa_proc_stop(&p, 0, 20000);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 78);
}

/* GET on a publisher: the body as JSON (the caller decrefs it), the status in *status. */
static json_t *get(const char *port, const char *path, int *status) {
    json_t *o;
    *status = pufa_itest_get_json(port, HTTP_MS, path, &o);
    return o;
}

/* ---- reports ---- */

/* n reports over the counties (each gets some), dated within 90 days. */
static void generate(size_t n, unsigned seed) {
    pufa_report *r = pufa_calloc(n, sizeof *r);
    pufa_day today = pufa_city_day(pufa_now_ms());
    for (size_t i = 0; i < n; i++) {
        pufa_report_init(&r[i]);
        uint8_t id[16];
        char ids[37], date[11];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, ids);
        r[i].report_id = pufa_strdup(ids);
        r[i].revision = 1;
        r[i].county_code = pufa_strdup(counties[i % NCOUNTIES]);
        r[i].unit_code = pufa_strdup(i % 3 ? "SFJ" : "JYJ");
        pufa_date_format(today - (pufa_day)(rand_r(&seed) % 90), date);
        r[i].occurred_on = pufa_strdup(date);
        r[i].theme = 1 + (int)(rand_r(&seed) % PUFA_THEME_MAX);
        r[i].venue = 1 + (int)(rand_r(&seed) % PUFA_VENUE_MAX);
        r[i].form = 1 + (int)(rand_r(&seed) % PUFA_FORM_MAX);
        r[i].campaign = pufa_strdup("");
        r[i].title = pufa_strdup("普法活动");
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            r[i].counters[c] = rand_r(&seed) % 500;
    }
    pufa_itest_send_reports(dealer, &batch_seq, r, n, n, 0, 120000, &agg);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
}

/* ---- HTTP ---- */

static long long fig(json_t *figures, const char *name) {
    return (long long)json_integer_value(json_object_get(figures, name));
}

static const char *const FIGS[] = {"reports", "sessions", "participants", "funds_fen"};

/* a == b, figure by figure (the four above). */
static void figures_equal(const char *what, json_t *a, json_t *b) {
    for (size_t k = 0; k < sizeof FIGS / sizeof *FIGS; k++)
        if (fig(a, FIGS[k]) != fig(b, FIGS[k]))
            fail_msg("%s: %s %lld != %lld", what, FIGS[k], fig(a, FIGS[k]), fig(b, FIGS[k]));
}

/* Σ rows[].figures of a reply, into an object. */
static json_t *sum_rows(json_t *doc) {
    long long s[4] = {0};
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "rows"), i, row) {
        for (size_t k = 0; k < 4; k++)
            s[k] += fig(json_object_get(row, "figures"), FIGS[k]);
    }
    return json_pack("{s:I, s:I, s:I, s:I}", FIGS[0], s[0], FIGS[1], s[1], FIGS[2], s[2], FIGS[3],
                     s[3]);
}

static json_t *row_of(json_t *doc, const char *key) {
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "rows"), i, row) {
        if (!strcmp(json_string_value(json_object_get(row, "key")), key))
            return row;
    }
    return NULL;
}

/* totals.all.reports of the first SSE event of the publisher at port (the
 * all-time figures of its home); -1 if none came within 5 s. */
static long long first_event_reports(const char *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /v1/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    pufa_buf acc;
    pufa_buf_init(&acc);
    long long total = -1, deadline = pufa_mono_ms() + 5000;
    char *d = NULL, *end = NULL;
    while (pufa_mono_ms() < deadline &&
           !(acc.data && (d = strstr(acc.data, "data: ")) && (end = strchr(d, '\n')))) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char chunk[8192];
        ssize_t n = poll(&p, 1, 50) > 0 ? recv(fd, chunk, sizeof chunk, 0) : 0;
        if (n < 0)
            break;
        pufa_buf_append(&acc, chunk, (size_t)n);
    }
    if (d && end) {
        json_error_t jerr;
        json_t *o = json_loadb(d + 6, (size_t)(end - d - 6), 0, &jerr);
        total = (long long)json_integer_value(
            json_object_get(json_object_get(json_object_get(o, "totals"), "all"), "reports"));
        json_decref(o);
    }
    close(fd);
    pufa_buf_free(&acc);
    return total;
}

/* The figures of the counties under unit, from the reports table. */
static json_t *sql_figures(const char *unit) {
    const char *p[1] = {unit};
    PGresult *r =
        PQexecParams(db,
                     "WITH RECURSIVE under(code) AS (SELECT $1::text UNION ALL"
                     " SELECT o.code FROM org_units o JOIN under u ON o.parent_code = u.code)"
                     " SELECT count(*), coalesce(sum(sessions), 0), coalesce(sum(participants), 0),"
                     " coalesce(sum(funds_fen), 0) FROM reports"
                     " WHERE NOT retracted AND county_code IN (SELECT code FROM under)",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(r));
    json_t *o = json_pack("{s:I, s:I, s:I, s:I}", FIGS[0], atoll(PQgetvalue(r, 0, 0)), FIGS[1],
                          atoll(PQgetvalue(r, 0, 1)), FIGS[2], atoll(PQgetvalue(r, 0, 2)), FIGS[3],
                          atoll(PQgetvalue(r, 0, 3)));
    PQclear(r);
    return o;
}

/* ---- setup ---- */

static int group_setup(void **state) {
    (void)state;
    snprintf(extra_units, sizeof extra_units, "/tmp/pufa-hier-units-%d.csv", (int)getpid());
    FILE *f = fopen(extra_units, "w");
    if (!f)
        return -1;
    fputs(EXTRA_UNITS, f);
    fclose(f);
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' --org-units '%s' --units '%s' >/dev/null &&"
                              " '%s' migrate --db '%s' --org-units '%s' >/dev/null",
                              pufa_bin, getenv("PUFA_TEST_DB"), pufa_test_demo_tree_path(),
                              pufa_test_data_path("units.csv"), pufa_bin, getenv("PUFA_TEST_DB"),
                              extra_units);
    int rc = pufa_sh(cmd);
    free(cmd);
    db = PQconnectdb(getenv("PUFA_TEST_DB"));
    if (rc || PQstatus(db) != CONNECTION_OK)
        return -1;
    zctx = zmq_ctx_new();
    const char *extra[] = {"--insecure", "--heartbeat", "200ms", "--home", PUFA_TEST_HOME, NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, NULL);
    if (!pufa_itest_agg_wait(&agg, agg_ep, feed_ep, NULL, 0, 10000))
        return -1;
    dealer = pufa_itest_dealer(zctx, agg_ep, NULL, NULL, NULL);
    start_pub(&province, "150000", province_port);
    start_pub(&nation, "100000", nation_port);
    generate(600, 7);
    generate(240, 11);
    return 0;
}

/* Stops a publisher: it must exit 0 (under ASan: no leak either). */
static bool stopped_clean(pufa_proc *p) {
    int st = pufa_proc_stop(p, SIGTERM, 15000);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return true;
    pufa_proc_dump(p);
    fprintf(stderr, "publisher did not exit 0 on SIGTERM (status %d)\n", st);
    return false;
}

static int group_teardown(void **state) {
    (void)state;
    bool clean = stopped_clean(&province);
    clean = stopped_clean(&nation) && clean;
    zmq_close(dealer);
    pufa_proc_stop(&agg, SIGTERM, 15000);
    zmq_ctx_term(zctx);
    PQfinish(db);
    unlink(extra_units);
    return clean ? 0 : -1;
}

/* ---- tests ---- */

/* The home must be known and above the counties; with several cities it
 * must be given. */
static void home_is_resolved_at_start(void **state) {
    (void)state;
    refuses_to_start(NULL, "home: required, since org_units holds 3 cities (150800 巴彦淖尔市, "
                           "150900 乌兰察布市, 210400 抚顺市)");
    refuses_to_start("150821", "home: 150821 五原县 is a county");
    refuses_to_start("990100", "home: 990100 is not in org_units");
    refuses_to_start("15080x", "home: must be a six-digit org-unit code (got '15080x')");
    assert_int_equal(pufa_proc_count_log(&province, "id=PUB-HOME home=150000 "), 1);
    assert_int_equal(pufa_proc_count_log(&province, "level=province counties=9"), 1);
}

/* At the province: by=city rows are the sums of by=county&org=CITY, their
 * sum the province's total, equal to SQL over its counties (Liaoning's
 * counties are left out); org= for the province, a city and a county. */
static void province_rows_are_the_sums_of_their_counties(void **state) {
    (void)state;
    pufa_itest_wait_caught_up(db, province_port, 20000);
    json_t *by_city = pufa_itest_get_ok(province_port, HTTP_MS, "/v1/totals?window=all&by=city");
    json_t *want = sql_figures("150000");
    figures_equal("province total == SQL", json_object_get(by_city, "totals"), want);
    json_t *sum = sum_rows(by_city);
    figures_equal("Σ by=city == total", sum, want);
    json_decref(sum);
    json_decref(want);
    assert_int_equal(json_array_size(json_object_get(by_city, "rows")), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(by_city, "org"), "name")),
                        "内蒙古自治区");
    const char *cities[][2] = {{"150800", "巴彦淖尔市"}, {"150900", "乌兰察布市"}};
    for (size_t c = 0; c < 2; c++) {
        json_t *row = row_of(by_city, cities[c][0]);
        if (!row)
            fail_msg("no row %s in by=city", cities[c][0]);
        assert_string_equal(json_string_value(json_object_get(row, "label")), cities[c][1]);
        char *path = pufa_asprintf("/v1/totals?window=all&by=county&org=%s", cities[c][0]);
        json_t *by_county = pufa_itest_get_ok(province_port, HTTP_MS, path);
        json_t *s = sum_rows(by_county);
        figures_equal(path, s, json_object_get(row, "figures"));
        figures_equal(path, json_object_get(by_county, "totals"), json_object_get(row, "figures"));
        json_t *q = sql_figures(cities[c][0]);
        figures_equal(path, q, json_object_get(row, "figures"));
        /* Every county of the city, and only those. */
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(by_county, "rows"), i, r) {
            const char *key = json_string_value(json_object_get(r, "key"));
            if (strncmp(key, cities[c][0], 4) != 0)
                fail_msg("%s: county %s is not under %s", path, key, cities[c][0]);
            /* org=COUNTY: its row. */
            char *cp = pufa_asprintf("/v1/totals?window=all&by=theme&org=%s", key);
            json_t *one = pufa_itest_get_ok(province_port, HTTP_MS, cp);
            figures_equal(cp, json_object_get(one, "totals"), json_object_get(r, "figures"));
            json_t *ts = sum_rows(one);
            figures_equal(cp, ts, json_object_get(r, "figures"));
            json_decref(ts);
            json_decref(one);
            free(cp);
        }
        /* A trend with a comparison inside the city: its periods sum to it. */
        char *tp = pufa_asprintf("/v1/totals?window=all&by=month&compare=yoy&org=%s", cities[c][0]);
        json_t *trend = pufa_itest_get_ok(province_port, HTTP_MS, tp);
        json_t *ts = sum_rows(trend);
        figures_equal(tp, ts, json_object_get(row, "figures"));
        figures_equal(tp, json_object_get(trend, "totals"), json_object_get(row, "figures"));
        json_decref(ts);
        json_decref(trend);
        free(tp);
        json_decref(q);
        json_decref(s);
        json_decref(by_county);
        free(path);
    }
    /* org= the home itself is the home. */
    json_t *home =
        pufa_itest_get_ok(province_port, HTTP_MS, "/v1/totals?window=all&by=none&org=150000");
    figures_equal("org=home", json_object_get(home, "totals"), json_object_get(by_city, "totals"));
    json_decref(home);
    /* by=county at the province: its nine counties' rows, none of Liaoning. */
    /* The SSE event carries the home's figures too (not the nation's). */
    json_t *q = sql_figures("150000");
    assert_int_equal(first_event_reports(province_port), fig(q, "reports"));
    json_decref(q);
    json_t *all = pufa_itest_get_ok(province_port, HTTP_MS, "/v1/totals?window=all&by=county");
    assert_int_equal(json_array_size(json_object_get(all, "rows")), 9);
    assert_null(row_of(all, "210402"));
    json_decref(all);
    json_decref(by_city);
}

/* At the nation: by=province; the province row equals the province
 * publisher's total. */
static void nation_ranks_provinces(void **state) {
    (void)state;
    pufa_itest_wait_caught_up(db, nation_port, 20000);
    pufa_itest_wait_caught_up(db, province_port, 20000);
    json_t *by_prov = pufa_itest_get_ok(nation_port, HTTP_MS, "/v1/totals?window=all&by=province");
    json_t *prov = pufa_itest_get_ok(province_port, HTTP_MS, "/v1/totals?window=all&by=none");
    json_t *row = row_of(by_prov, "150000");
    assert_non_null(row);
    assert_string_equal(json_string_value(json_object_get(row, "label")), "内蒙古自治区");
    figures_equal("nation's 150000 row == province's total", json_object_get(row, "figures"),
                  json_object_get(prov, "totals"));
    json_t *ln = row_of(by_prov, "210000");
    assert_non_null(ln);
    json_t *q = sql_figures("210000");
    figures_equal("nation's 210000 row == SQL", json_object_get(ln, "figures"), q);
    json_decref(q);
    q = sql_figures("100000");
    figures_equal("nation total == SQL", json_object_get(by_prov, "totals"), q);
    json_decref(q);
    /* by=city at the nation, inside a province with org=. */
    json_t *cities =
        pufa_itest_get_ok(nation_port, HTTP_MS, "/v1/totals?window=all&by=city&org=150000");
    json_t *pc = pufa_itest_get_ok(province_port, HTTP_MS, "/v1/totals?window=all&by=city");
    json_t *a = sum_rows(cities), *b = sum_rows(pc);
    figures_equal("by=city&org=150000 at the nation == at the province", a, b);
    json_decref(a);
    json_decref(b);
    json_decref(pc);
    json_decref(cities);
    /* The exports: a row per province and the 合计 row; org= in the detail. */
    char *url =
        pufa_asprintf("http://127.0.0.1:%s/v1/export.csv?window=all&by=province", nation_port);
    pufa_http_response r;
    char err[256];
    assert_int_equal(pufa_http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err), 0);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.data, "省份");
    assert_contains(r.body.data, "150000,内蒙古自治区,");
    assert_contains(r.body.data, "210000,辽宁省,");
    assert_contains(r.body.data, ",合计,");
    pufa_buf_free(&r.body);
    free(url);
    url = pufa_asprintf("http://127.0.0.1:%s/v1/export.csv?window=all&detail=reports&org=150900",
                        nation_port);
    assert_int_equal(pufa_http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err), 0);
    assert_int_equal(r.status, 200);
    long long lines = 0;
    for (size_t i = 0; i < r.body.len; i++)
        lines += r.body.data[i] == '\n';
    q = sql_figures("150900");
    printf("# detail export org=150900: %lld report lines, SQL %lld\n", lines - 1,
           fig(q, "reports"));
    assert_int_equal(lines - 1, fig(q, "reports"));
    assert_true(strstr(r.body.data, "150802") == NULL); /* no county of another city */
    json_decref(q);
    pufa_buf_free(&r.body);
    free(url);
    json_decref(prov);
    json_decref(by_prov);
}

/* Every new parameter refused with the parameter and the code named. */
static void org_outside_home_and_bad_by_are_refused(void **state) {
    (void)state;
    const struct {
        const char *path, *want;
    } bad[] = {
        {"/v1/totals?org=210400",
         "org: 210400 抚顺市 is not under this publisher's home 150000 内蒙古自治区"},
        {"/v1/totals?org=100000", "org: 100000 全国 is not under this publisher's home 150000"},
        {"/v1/totals?org=210402&by=theme", "org: 210402 新抚区 is not under this publisher's home"},
        {"/v1/totals?org=990100", "org: 990100 is not an org unit"},
        {"/v1/totals?org=15080", "org: a six-digit org-unit code (got 15080)"},
        {"/v1/totals?by=province", "by: province is not below 150000 内蒙古自治区 (a province); "
                                   "use city or county"},
        {"/v1/totals?by=city&org=150800", "by: city is not below 150800 巴彦淖尔市 (a city); use "
                                          "county"},
        {"/v1/totals?county=150800", "county: 150800 巴彦淖尔市 is a city, not a county; use "
                                     "org=150800"},
        {"/v1/totals?county=150821&org=150800", "org, county: give one"},
        {"/v1/totals?by=day&org=210400", "org: 210400 抚顺市 is not under"},
        {"/v1/export.csv?by=county&org=210400", "org: 210400 抚顺市 is not under"},
        {"/v1/export.xlsx?detail=reports&org=210400", "org: 210400 抚顺市 is not under"},
        {"/v1/silent?org=210400", "org: 210400 抚顺市 is not under"},
        {"/v1/children?org=210400", "org: 210400 抚顺市 is not under"},
        {"/v1/meta?org=210400", "org: 210400 抚顺市 is not under"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int status;
        char *enc = pufa_asprintf("%s", bad[i].path);
        json_t *o = get(province_port, enc, &status);
        free(enc);
        if (status != 400)
            fail_msg("%s: %d, want 400", bad[i].path, status);
        const char *msg = json_string_value(json_object_get(o, "error"));
        assert_contains(msg ? msg : "", bad[i].want);
        json_decref(o);
    }
}

static json_t *child(json_t *doc, const char *code) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "children"), i, c) {
        if (!strcmp(json_string_value(json_object_get(c, "code")), code))
            return c;
    }
    fail_msg("no child %s", code);
    return NULL;
}

static const char *link_of(json_t *doc, const char *code) {
    return json_string_value(json_object_get(child(doc, code), "link"));
}

/* Waits (the cache holds child_links up to a second) until child code of
 * org shows link state want; returns the document (caller decrefs). */
static json_t *wait_link(const char *org, const char *code, const char *want) {
    char *path = pufa_asprintf("/v1/children%s%s", org ? "?org=" : "", org ? org : "");
    json_t *doc = NULL;
    long long deadline = pufa_mono_ms() + 5000;
    do {
        json_decref(doc);
        doc = pufa_itest_get_ok(province_port, HTTP_MS, path);
        if (!strcmp(link_of(doc, code), want))
            break;
        pufa_sleep_ms(100);
    } while (pufa_mono_ms() < deadline);
    if (strcmp(link_of(doc, code), want) != 0)
        fail_msg("%s: %s is %s, want %s", path, code, link_of(doc, code), want);
    free(path);
    return doc;
}

/* child_links rows written here (the aggregator writes them in a
 * federation): a city forwarder heard from now, one silent for a minute
 * with a backlog, none for a county; then changes. */
static void children_show_up_down_and_never(void **state) {
    (void)state;
    pufa_itest_sql_exec(db, "DELETE FROM child_links");
    pufa_itest_sql_exec(
        db,
        "INSERT INTO child_links (sender, org_code, kind, last_seen_at, last_report_at, as_of_seq,"
        " as_of_at, lag_ms, pending, oldest_pending_at) VALUES"
        " ('aggregator-150800', '150800', 'forwarder', now(), now() - interval '4 s', 42,"
        "  now() - interval '3 s', 120, 0, NULL),"
        " ('aggregator-150900', '150900', 'forwarder', now() - interval '60 s',"
        "  now() - interval '70 s', 7, now() - interval '70 s', 900, 5, now() - interval '65 s')");
    json_t *doc = wait_link(NULL, "150900", "down");
    assert_string_equal(link_of(doc, "150800"), "up");
    json_t *up = child(doc, "150800"), *down = child(doc, "150900");
    assert_string_equal(json_string_value(json_object_get(up, "name")), "巴彦淖尔市");
    assert_string_equal(json_string_value(json_object_get(up, "kind")), "forwarder");
    assert_int_equal(json_integer_value(json_object_get(up, "lag_ms")), 120);
    assert_int_equal(json_integer_value(json_object_get(up, "pending")), 0);
    assert_true(json_is_null(json_object_get(up, "oldest_pending_age_ms")));
    assert_true(json_is_string(json_object_get(up, "as_of_at")));
    assert_contains(json_string_value(json_object_get(up, "as_of_at")), "+08:00");
    long long age = json_integer_value(json_object_get(up, "as_of_age_ms"));
    printf("# 150800: as_of_at %s (age %lld ms), link up\n",
           json_string_value(json_object_get(up, "as_of_at")), age);
    assert_true(age >= 3000 && age < 10000);
    assert_int_equal(json_integer_value(json_object_get(down, "pending")), 5);
    assert_true(json_integer_value(json_object_get(down, "oldest_pending_age_ms")) >= 65000);
    assert_true(json_integer_value(json_object_get(down, "as_of_age_ms")) >= 70000);
    assert_int_equal(json_integer_value(json_object_get(doc, "link_timeout_ms")), 10000);
    json_t *sum = json_object_get(doc, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "up")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "down")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "never")), 0);
    assert_true(json_is_null(json_object_get(up, "via")));
    json_decref(doc);

    /* The meta's summary and home. */
    json_t *meta = pufa_itest_get_ok(province_port, HTTP_MS, "/v1/meta");
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "home"), "name")),
                        "内蒙古自治区");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(meta, "children_summary"), "down")), 1);
    json_decref(meta);

    /* No row: never.  A row gone quiet: down. */
    pufa_itest_sql_exec(db, "DELETE FROM child_links WHERE org_code = '150900'");
    json_decref(wait_link(NULL, "150900", "never"));
    pufa_itest_sql_exec(db, "UPDATE child_links SET last_seen_at = now() - interval '11 s'"
                            " WHERE org_code = '150800'");
    json_decref(wait_link(NULL, "150800", "down"));

    /* One level down (org=150800): its counties; a collector heard from
     * now with nothing to report is up, with no report time; one silent
     * for a minute is down; the others never talked to this level. */
    pufa_itest_sql_exec(
        db,
        "INSERT INTO child_links (sender, org_code, kind, last_seen_at, last_report_at, pending)"
        " VALUES ('collector-150821', '150821', 'collector', now(), NULL, 0),"
        " ('collector-150822', '150822', 'collector', now() - interval '60 s',"
        "  now() - interval '2 h', 12)");
    doc = wait_link("150800", "150821", "up");
    assert_int_equal(json_array_size(json_object_get(doc, "children")), 7);
    json_t *idle = child(doc, "150821"), *stuck = child(doc, "150822");
    assert_string_equal(json_string_value(json_object_get(idle, "kind")), "collector");
    assert_true(json_is_null(json_object_get(idle, "last_report_at")));
    assert_true(json_is_null(json_object_get(idle, "as_of_at")));
    assert_string_equal(link_of(doc, "150822"), "down");
    assert_int_equal(json_integer_value(json_object_get(stuck, "pending")), 12);
    /* A county's 数据截至 is its last report received. */
    assert_true(json_is_string(json_object_get(stuck, "as_of_at")));
    assert_true(json_integer_value(json_object_get(stuck, "as_of_age_ms")) >= 7200000);
    /* A county with no sender of its own: its data comes through its
     * city's forwarder (down since the UPDATE above), and says so. */
    json_t *behind = child(doc, "150802");
    assert_string_equal(link_of(doc, "150802"), "down");
    assert_string_equal(json_string_value(json_object_get(json_object_get(behind, "via"), "code")),
                        "150800");
    assert_true(json_is_null(json_object_get(idle, "via")));
    json_decref(doc);
    /* Without the city's row: never. */
    pufa_itest_sql_exec(db, "DELETE FROM child_links WHERE org_code = '150800'");
    json_decref(wait_link("150800", "150802", "never"));
    pufa_itest_sql_exec(db, "DELETE FROM child_links");

    /* child_links unreadable: /v1/children says why (503); /v1/meta
     * stands without the children. */
    pufa_itest_sql_exec(db, "REVOKE SELECT ON child_links FROM pufa_publisher");
    int status = 0;
    json_t *o = NULL;
    long long deadline = pufa_mono_ms() + 5000;
    while (status != 503 && pufa_mono_ms() < deadline) {
        json_decref(o);
        o = get(province_port, "/v1/children", &status);
        if (status != 503)
            pufa_sleep_ms(100);
    }
    int meta_status;
    meta = get(province_port, "/v1/meta", &meta_status);
    pufa_itest_sql_exec(db, "GRANT SELECT ON child_links TO pufa_publisher");
    assert_int_equal(status, 503);
    assert_contains(json_string_value(json_object_get(o, "error")), "child_links");
    printf("# /v1/children with child_links unreadable: %d %s\n", status,
           json_string_value(json_object_get(o, "error")));
    json_decref(o);
    assert_int_equal(meta_status, 200);
    assert_true(json_is_null(json_object_get(meta, "children")));
    assert_contains(json_string_value(json_object_get(meta, "children_error")), "child_links");
    json_decref(meta);
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh publisher_hierarchy_test PUFA_BIN AGGREGATOR_BIN "
                        "PUBLISHER_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    pub_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(home_is_resolved_at_start),
        cmocka_unit_test(province_rows_are_the_sums_of_their_counties),
        cmocka_unit_test(nation_ranks_provinces),
        cmocka_unit_test(org_outside_home_and_bad_by_are_refused),
        cmocka_unit_test(children_show_up_down_and_never),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
