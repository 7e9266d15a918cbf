/* Integration test of official figures on the publisher (issue 17, "Live
 * and visible", "Audit"): the real pufa, pufa-aggregator and pufa-publisher
 * against a throwaway PostgreSQL (with-pg.sh).
 * argv: PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN.
 *
 * Approvals go through the publisher's POST /v1/approvals (forwarded to the
 * aggregator); the publisher's live states (/v1/approvals), status=approved
 * totals and their months, the exports' 审核状态 and the official workbook,
 * /v1/reports/{id}/history and /v1/audit are each compared with SQL; the
 * states survive a publisher restart (snapshot); bad input is refused
 * naming the field. */
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "wire.h"

static const char *pufa_bin, *agg_bin, *pub_bin;
static pufa_proc agg, pub;
static char agg_ep[128], feed_ep[128], agg_http[16], pub_port[16];
static void *zctx, *dealer;
static PGconn *db;
static uint64_t batch_seq = 1;
static char tmpdir[64];
static char month0[8], month1[8], month2[8], month3[8]; /* this month and 1..3 before */
static char revised_id[48];

static const char *const city_counties[] = {"150802", "150821", "150822", "150823",
                                            "150824", "150825", "150826"};
#define NCITY   7
#define HTTP_MS 30000 /* the time a request may take */
#define SQL_FIGS                                                                                   \
    "count(*), coalesce(sum(sessions), 0), coalesce(sum(participants), 0),"                        \
    " coalesce(sum(materials), 0), coalesce(sum(consultations), 0), coalesce(sum(banners), 0),"    \
    " coalesce(sum(led_messages), 0), coalesce(sum(online_posts), 0),"                             \
    " coalesce(sum(online_views), 0), coalesce(sum(volunteers), 0), coalesce(sum(funds_fen), 0)"
/* The reports of approved or accepted county-months. */
#define SQL_OFFICIAL_REPORTS                                                                       \
    " FROM reports r JOIN periods p ON p.org_code = r.county_code"                                 \
    " AND p.month = date_trunc('month', r.occurred_on)::date"                                      \
    " AND p.state IN ('approved', 'accepted') WHERE NOT r.retracted"

/* ---- processes ---- */

static void start_publisher(void) {
    char *url = pufa_asprintf("http://127.0.0.1:%s", agg_http);
    const char *extra[] = {
        "--pub", "", "--home", "150800", "--approvals-url", url, "--approvals-timeout", "5s", NULL};
    bool ok = pufa_itest_pub_start(&pub, pub_bin, feed_ep, extra, pub_port, NULL);
    free(url);
    if (!ok)
        fail_msg("publisher did not start");
}

/* n reports over the 4 months (this one and 3 before), in the city's
 * counties and 210402 (outside the publisher's home); with revise, the
 * first n/4 again at revision 2 with other figures. */
static void generate(size_t n, unsigned seed, bool revise) {
    pufa_report *r = pufa_calloc(n, sizeof *r);
    pufa_day today = pufa_city_day(pufa_now_ms());
    int y, mo, d;
    pufa_date_to_ymd(today, &y, &mo, &d);
    pufa_day first = pufa_date_from_ymd(mo > 3 ? y : y - 1, mo > 3 ? mo - 3 : mo + 9, 1);
    for (size_t i = 0; i < n; i++) {
        pufa_report_init(&r[i]);
        char ids[48], date[11];
        snprintf(ids, sizeof ids, "%08x-0000-4000-8000-%012zx", seed, i);
        r[i].report_id = pufa_strdup(ids);
        r[i].revision = revise ? 2 : 1;
        unsigned s = seed + (unsigned)i * 7919u + (revise ? 1u : 0u);
        r[i].county_code = pufa_strdup(i % 8 == 7 ? "210402" : city_counties[i % 8]);
        r[i].unit_code = pufa_strdup("SFJ");
        pufa_date_format(first + (pufa_day)(rand_r(&s) % (unsigned)(today - first + 1)), date);
        r[i].occurred_on = pufa_strdup(date);
        r[i].received_at_ms = pufa_now_ms() - 60000;
        r[i].theme = 1 + (int)(rand_r(&s) % PUFA_THEME_MAX);
        r[i].venue = r[i].form = 1;
        r[i].title = pufa_strdup("普法活动");
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            r[i].counters[c] = rand_r(&s) % 500;
        if (revise && i == 0)
            snprintf(revised_id, sizeof revised_id, "%s", ids);
    }
    /* Generous: the whole suite runs beside this test on a loaded machine. */
    pufa_itest_send_reports(dealer, &batch_seq, r, n, 500, 0, 120000, &agg);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
}

/* ---- HTTP ---- */

static int http(const char *method, const char *path, const char *headers, const char *body,
                size_t len, pufa_buf *out) {
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", pub_port, path);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request(method, url, headers, body, len, 30000, &r, err, sizeof err);
    free(url);
    if (rc)
        fail_msg("%s %s: %s", method, path, err);
    if (out)
        *out = r.body;
    else
        pufa_buf_free(&r.body);
    return r.status;
}

/* POST /v1/approvals to the PUBLISHER as office; the status, *out the
 * answer (the aggregator's, passed through). */
static int act(const char *office, const char *wrong, const char *action, const char *org,
               const char *month, const char *reason, json_t **out) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "action", action, "org", org, "month", month);
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *h = pufa_itest_office_auth(tmpdir, office, wrong);
    pufa_buf b;
    int st = http("POST", "/v1/approvals", h, body, strlen(body), &b);
    free(h);
    free(body);
    json_error_t jerr;
    json_t *ans = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
    if (!ans)
        fail_msg("POST /v1/approvals: %d, not JSON: %.*s", st, (int)b.len, b.data ? b.data : "");
    pufa_buf_free(&b);
    if (out)
        *out = ans;
    else
        json_decref(ans);
    return st;
}

static void act_ok(const char *office, const char *action, const char *org, const char *month,
                   const char *reason) {
    json_t *ans;
    int st = act(office, NULL, action, org, month, reason, &ans);
    if (st != 200)
        fail_msg("%s %s %s %s: HTTP %d %s", office, action, org, month, st, json_dumps(ans, 0));
    json_decref(ans);
}

/* ---- SQL ---- */

/* Until the publisher has applied every commit so far (20 s). */
static void wait_caught_up(void) {
    pufa_itest_wait_caught_up(db, pub_port, 20000);
}

static PGresult *sql(const char *q, int n, const char *const *p) {
    PGresult *r = PQexecParams(db, q, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQresultErrorMessage(r));
    return r;
}

static char *fig_line(const char *key, json_t *figs) {
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_printf(&b, "%s:", key);
    for (int k = 0; k < 11; k++)
        pufa_buf_printf(
            &b, "%s%lld", k ? "," : "",
            (long long)json_integer_value(json_object_get(figs, pufa_itest_figures[k])));
    return pufa_buf_steal(&b);
}

static char *api_lines(json_t *doc) {
    json_t *rows = json_object_get(doc, "rows");
    size_t n = json_array_size(rows);
    char **lines = pufa_calloc(n + 2, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(rows, i);
        lines[i] = fig_line(json_string_value(json_object_get(row, "key")),
                            json_object_get(row, "figures"));
    }
    lines[n] = fig_line("TOTAL", json_object_get(doc, "totals"));
    return pufa_itest_join_sorted(lines, n + 1);
}

/* The same from SQL over the official reports: key an expression, the
 * counties under org, [from, to]; rows with every figure 0 left out as the
 * API does, and a TOTAL line. */
static char *sql_lines(const char *key, const char *org, const char *from, const char *to) {
    char *q = pufa_asprintf("WITH x AS (SELECT %s AS k, r.*" SQL_OFFICIAL_REPORTS
                            " AND r.occurred_on BETWEEN $2::date AND $3::date AND r.county_code IN"
                            " (SELECT code FROM org_units WHERE code = $1 OR parent_code = $1))"
                            " SELECT k, " SQL_FIGS
                            " FROM x GROUP BY k UNION ALL SELECT 'TOTAL', " SQL_FIGS " FROM x",
                            key);
    const char *p[3] = {org, from, to};
    PGresult *r = sql(q, 3, p);
    free(q);
    size_t n = (size_t)PQntuples(r);
    char **lines = pufa_calloc(n + 1, sizeof *lines);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        pufa_buf b;
        pufa_buf_init(&b);
        bool zero = true;
        pufa_buf_printf(&b, "%s:", PQgetvalue(r, (int)i, 0));
        for (int f = 1; f <= 11; f++) {
            pufa_buf_printf(&b, "%s%s", f > 1 ? "," : "", PQgetvalue(r, (int)i, f));
            zero = zero && !strcmp(PQgetvalue(r, (int)i, f), "0");
        }
        if (zero && strcmp(PQgetvalue(r, (int)i, 0), "TOTAL") != 0) {
            pufa_buf_free(&b);
            continue;
        }
        lines[m++] = pufa_buf_steal(&b);
    }
    PQclear(r);
    return pufa_itest_join_sorted(lines, m);
}

/* ---- setup ---- */

static int group_setup(void **state) {
    (void)state;
    if (sodium_init() < 0 || pufa_test_tmpdir(tmpdir, sizeof tmpdir, "offpage"))
        return -1;
    pufa_itest_month_back(0, month0);
    pufa_itest_month_back(1, month1);
    pufa_itest_month_back(2, month2);
    pufa_itest_month_back(3, month3);
    if (pufa_itest_setup_db(NULL, 0, NULL, pufa_bin, pufa_test_demo_tree_path(),
                            pufa_test_data_path("units.csv"), &db))
        return -1;
    for (int i = 0; i < NCITY; i++) {
        char name[32];
        snprintf(name, sizeof name, "county-%s", city_counties[i]);
        pufa_itest_add_office(pufa_bin, NULL, tmpdir, name, city_counties[i], "submitter");
    }
    pufa_itest_add_office(pufa_bin, NULL, tmpdir, "city-150800", "150800", "approver");
    pufa_itest_add_office(pufa_bin, NULL, tmpdir, "province-150000", "150000", "acceptor");
    zctx = zmq_ctx_new();
    const char *extra[] = {"--insecure", "--heartbeat", "200ms", "--home", PUFA_TEST_HOME, NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, NULL);
    if (!pufa_itest_agg_wait(&agg, agg_ep, feed_ep, agg_http, 5000, 10000))
        return -1;
    start_publisher();
    dealer = pufa_itest_dealer(zctx, agg_ep, NULL, NULL, NULL);
    unsigned seed = (unsigned)pufa_now_ms();
    printf("# 3000 reports and 750 revisions over %s..%s, seed %u\n", month3, month0, seed);
    generate(3000, seed, false);
    generate(750, seed, true);
    wait_caught_up();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (pub.pid > 0)
        pufa_proc_stop(&pub, SIGTERM, 15000);
    zmq_close(dealer);
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 15000);
    zmq_ctx_term(zctx);
    PQfinish(db);
    pufa_test_rm_rf(tmpdir);
    return 0;
}

/* ---- the live states ---- */

/* /v1/approvals?period=month&org=org equals the periods table: the unit and
 * each child, state and who set it. */
static void check_approvals(const char *org, const char *month) {
    char *path = pufa_asprintf("/v1/approvals?period=%s&org=%s", month, org);
    json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    char date[11];
    snprintf(date, sizeof date, "%s-01", month);
    const char *p[2] = {org, date};
    PGresult *r = sql("SELECT o.code, coalesce(p.state, 'open'), coalesce(p.set_by, ''),"
                      " coalesce(p.reason, ''), coalesce(p.exception_open, false)::text"
                      " FROM org_units o LEFT JOIN periods p ON p.org_code = o.code"
                      " AND p.month = $2::date WHERE o.code = $1 OR o.parent_code = $1"
                      " ORDER BY o.code = $1 DESC, o.code",
                      2, p);
    json_t *kids = json_object_get(doc, "children");
    assert_int_equal((size_t)PQntuples(r), 1 + json_array_size(kids));
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *u = i == 0 ? json_object_get(doc, "org") : json_array_get(kids, (size_t)i - 1);
        const char *set_by = json_string_value(json_object_get(u, "set_by"));
        char got[400], want[400];
        snprintf(got, sizeof got, "%s %s %s %s %s", json_string_value(json_object_get(u, "code")),
                 json_string_value(json_object_get(u, "state")), set_by ? set_by : "",
                 json_string_value(json_object_get(u, "reason")),
                 json_is_true(json_object_get(u, "exception_open")) ? "true" : "false");
        snprintf(want, sizeof want, "%s %s %s %s %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                 PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
        assert_string_equal(got, want);
    }
    PQclear(r);
    json_decref(doc);
}

static const char *state_of(const char *org, const char *month) {
    static char buf[16];
    char *path = pufa_asprintf("/v1/approvals?period=%s&org=%s", month, org);
    json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    snprintf(buf, sizeof buf, "%s",
             json_string_value(json_object_get(json_object_get(doc, "org"), "state")));
    json_decref(doc);
    return buf;
}

/* The cycle through the publisher's proxy; after every step the live
 * states equal SQL once the publisher has the feed's sequence. */
static void approvals_through_the_proxy_are_live(void **state) {
    (void)state;
    check_approvals("150800", month1);
    assert_string_equal(state_of("150821", month1), "open");
    /* month1: every county submits, the city approves, the province accepts. */
    for (int i = 0; i < NCITY; i++) {
        char name[32];
        snprintf(name, sizeof name, "county-%s", city_counties[i]);
        act_ok(name, "submit", city_counties[i], month1, NULL);
        act_ok(name, "submit", city_counties[i], month2, NULL);
    }
    wait_caught_up();
    check_approvals("150800", month1);
    assert_string_equal(state_of("150821", month1), "submitted");
    act_ok("city-150800", "approve", "150800", month1, NULL);
    act_ok("city-150800", "approve", "150800", month2, NULL);
    wait_caught_up();
    check_approvals("150800", month1);
    assert_string_equal(state_of("150822", month1), "approved");
    act_ok("province-150000", "accept", "150000", month1, NULL);
    /* month2: 150821 reopened with a reason (a lock exception). */
    act_ok("city-150800", "unlock", "150821", month2, "五原县更正参与人数");
    /* month3: one county submitted only. */
    act_ok("county-150823", "submit", "150823", month3, NULL);
    wait_caught_up();
    check_approvals("150800", month1);
    check_approvals("150800", month2);
    check_approvals("150800", month3);
    check_approvals("150821", month2);
    assert_string_equal(state_of("150824", month1), "accepted");
    assert_string_equal(state_of("150821", month2), "open");
    assert_string_equal(state_of("150822", month2), "approved");
    /* The aggregator's refusals come back as they are. */
    json_t *ans;
    assert_int_equal(act("city-150800", "not-the-secret", "approve", "150800", month3, NULL, &ans),
                     401);
    json_decref(ans);
    assert_int_equal(act("county-150821", NULL, "approve", "150800", month3, NULL, &ans), 403);
    json_decref(ans);
    assert_int_equal(act("city-150800", NULL, "approve", "150800", month3, NULL, &ans), 409);
    assert_contains(json_string_value(json_object_get(ans, "error")), "150821");
    json_decref(ans);
    /* Bounded: a body over 16 KiB is refused by the publisher itself. */
    char *big = pufa_malloc(20000);
    memset(big, ' ', 19999);
    big[19999] = '\0';
    big[0] = '{';
    big[19998] = '}';
    char *h = pufa_itest_office_auth(tmpdir, "city-150800", NULL);
    pufa_buf b;
    assert_int_equal(http("POST", "/v1/approvals", h, big, strlen(big), &b), 413);
    assert_contains(b.data, "body: at most 16384 bytes");
    pufa_buf_free(&b);
    free(h);
    free(big);
    assert_int_equal(http("PUT", "/v1/approvals", NULL, "{}", 2, &b), 405);
    pufa_buf_free(&b);
    assert_int_equal(http("POST", "/v1/totals", NULL, "{}", 2, &b), 405);
    pufa_buf_free(&b);
    wait_caught_up();
    check_approvals("150800", month3);
    /* A restart: the states come back from the snapshot, equal to SQL. */
    int st = pufa_proc_stop(&pub, SIGTERM, 15000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    start_publisher();
    wait_caught_up();
    check_approvals("150800", month1);
    check_approvals("150800", month2);
    check_approvals("150821", month2);
    assert_string_equal(state_of("150800", month1), "accepted");
}

/* status=approved: the official county-months only, equal to SQL, and the
 * months counted named. */
static void approved_totals_equal_sql(void **state) {
    (void)state;
    wait_caught_up();
    char from[11], to[11], range[32];
    snprintf(from, sizeof from, "%s-01", month3);
    pufa_date_format(pufa_city_day(pufa_now_ms()), to);
    snprintf(range, sizeof range, "%s..%s", from, to);
    /* A window starting mid-month too. */
    char from2[11], range2[32], to2[11];
    snprintf(from2, sizeof from2, "%s-10", month2);
    snprintf(to2, sizeof to2, "%s-20", month1);
    snprintf(range2, sizeof range2, "%s..%s", from2, to2);
    const char *windows[][3] = {{range, from, to}, {range2, from2, to2}};
    const char *bys[][2] = {{"county", "r.county_code"},
                            {"unit", "r.unit_code"},
                            {"none", "'all'"},
                            {"month", "to_char(r.occurred_on, 'YYYY-MM')"}};
    const char *orgs[] = {"150800", "150821", "150822"};
    int checked = 0;
    for (int w = 0; w < 2; w++)
        for (int b = 0; b < 4; b++)
            for (int o = 0; o < 3; o++) {
                if (b == 0 && o > 0)
                    continue;
                char *path = pufa_asprintf("/v1/totals?window=%s&by=%s&org=%s&status=approved",
                                           windows[w][0], bys[b][0], orgs[o]);
                json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
                assert_string_equal(json_string_value(json_object_get(doc, "status")), "approved");
                char *got = api_lines(doc);
                char *want = sql_lines(bys[b][1], orgs[o], windows[w][1], windows[w][2]);
                if (b == 3) { /* a trend's rows are zero-filled: drop its zero rows */
                    free(got);
                    json_t *rows = json_object_get(doc, "rows");
                    size_t n = json_array_size(rows), m = 0;
                    char **lines = pufa_calloc(n + 2, sizeof *lines);
                    for (size_t i = 0; i < n; i++) {
                        json_t *row = json_array_get(rows, i);
                        json_t *f = json_object_get(row, "figures");
                        if (json_integer_value(json_object_get(f, "reports")) == 0)
                            continue;
                        lines[m++] = fig_line(json_string_value(json_object_get(row, "key")), f);
                    }
                    lines[m++] = fig_line("TOTAL", json_object_get(doc, "totals"));
                    got = pufa_itest_join_sorted(lines, m);
                }
                assert_lines_equal(got, want, path);
                checked++;
                free(got);
                free(want);
                json_decref(doc);
                free(path);
            }
    /* The months named: approved county codes per month equal SQL. */
    char *path = pufa_asprintf("/v1/totals?window=%s&by=none&status=approved", range);
    json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    json_t *months = json_object_get(doc, "months");
    assert_int_equal(json_array_size(months), 4);
    for (size_t i = 0; i < json_array_size(months); i++) {
        json_t *mo = json_array_get(months, i);
        char date[11];
        snprintf(date, sizeof date, "%s-01", json_string_value(json_object_get(mo, "month")));
        const char *p[1] = {date};
        PGresult *r = sql("SELECT coalesce(string_agg(org_code, ',' ORDER BY org_code), '')"
                          " FROM periods WHERE month = $1::date AND state IN ('approved',"
                          " 'accepted') AND org_code IN (SELECT code FROM org_units"
                          " WHERE parent_code = '150800')",
                          1, p);
        pufa_buf got;
        pufa_buf_init(&got);
        pufa_buf_puts(&got, "");
        json_t *codes = json_object_get(mo, "approved");
        for (size_t k = 0; k < json_array_size(codes); k++)
            pufa_buf_printf(&got, "%s%s", k ? "," : "",
                            json_string_value(json_array_get(codes, k)));
        assert_string_equal(got.data, PQgetvalue(r, 0, 0));
        assert_int_equal(json_integer_value(json_object_get(mo, "provisional")),
                         NCITY - (long long)json_array_size(codes));
        pufa_buf_free(&got);
        PQclear(r);
    }
    printf("# status=approved: %d answers equal SQL; months %s\n", checked,
           json_dumps(months, JSON_COMPACT));
    json_decref(doc);
    /* Without status, the same request counts every county-month. */
    path = pufa_asprintf("/v1/totals?window=%s&by=none", range);
    doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    assert_true(json_is_null(json_object_get(doc, "months")));
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "all");
    json_decref(doc);
}

/* ---- exports ---- */

/* Does the CSV line starting with head end with tail? */
static bool row_ends_with(const char *csv, const char *head, const char *tail) {
    const char *line = strstr(csv, head);
    const char *end = line ? strstr(line, "\r\n") : NULL;
    size_t n = strlen(tail);
    return end && (size_t)(end - line) >= n && !memcmp(end - n, tail, n);
}

static void exports_carry_the_state_and_the_official_workbook_says_so(void **state) {
    (void)state;
    wait_caught_up();
    /* by=county over month2: the 审核状态 column per county. */
    char *path = pufa_asprintf("/v1/export.csv?window=%s-01..%s-28&by=county", month2, month2);
    pufa_buf b;
    assert_int_equal(http("GET", path, NULL, NULL, 0, &b), 200);
    free(path);
    assert_contains(b.data, "审核状态");
    assert_contains(b.data, "150821,五原县,");
    assert_true(row_ends_with(b.data, "150821,五原县,", ",未报送"));
    assert_true(row_ends_with(b.data, "150822,磴口县,", ",已审核"));
    pufa_buf_free(&b);
    /* The official report list: exactly the reports of approved months. */
    char from[11], to[11];
    snprintf(from, sizeof from, "%s-01", month3);
    pufa_date_format(pufa_city_day(pufa_now_ms()), to);
    path = pufa_asprintf("/v1/export.csv?window=%s..%s&detail=reports&status=approved", from, to);
    assert_int_equal(http("GET", path, NULL, NULL, 0, &b), 200);
    free(path);
    long long lines = 0, approved = 0, accepted = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    for (const char *p = b.data; (p = strstr(p, "已审核\r\n")); p++)
        approved++;
    for (const char *p = b.data; (p = strstr(p, "已确认\r\n")); p++)
        accepted++;
    pufa_buf_free(&b);
    const char *p2[2] = {from, to};
    PGresult *r = sql("SELECT count(*) FILTER (WHERE p.state = 'approved'),"
                      " count(*) FILTER (WHERE p.state = 'accepted')" SQL_OFFICIAL_REPORTS
                      " AND r.occurred_on BETWEEN $1::date AND $2::date AND r.county_code IN"
                      " (SELECT code FROM org_units WHERE parent_code = '150800')",
                      2, p2);
    printf("# official report list: %lld lines (%lld approved, %lld accepted); SQL %s + %s\n",
           lines - 1, approved, accepted, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    assert_int_equal(approved, atoll(PQgetvalue(r, 0, 0)));
    assert_int_equal(accepted, atoll(PQgetvalue(r, 0, 1)));
    assert_int_equal(lines - 1, approved + accepted);
    assert_true(accepted > 0 && approved > 0);
    PQclear(r);
    /* The official workbook: its title row says what it holds, its county
     * rows equal SQL over the approved months. */
    char *want = sql_lines("r.county_code", "150800", from, to);
    char *wfile = pufa_asprintf("%s/want.txt", tmpdir);
    FILE *f = fopen(wfile, "w");
    assert_non_null(f);
    fputs(want, f);
    fclose(f);
    free(want);
    char *cmd = pufa_asprintf(
        "curl -sf -o '%s/official.xlsx' "
        "'http://127.0.0.1:%s/v1/export.xlsx?window=%s..%s&by=county&status=approved' && "
        "/usr/bin/python3 - '%s/official.xlsx' '%s' <<'PY'\n"
        "import sys, openpyxl\n"
        "ws = openpyxl.load_workbook(sys.argv[1]).worksheets[0]\n"
        "title = ws['A1'].value\n"
        "assert '正式数据' in title and '仅含已审核' in title, title\n"
        "heads = [c.value for c in ws[2]]\n"
        "assert heads[-1] == '审核状态', heads\n"
        "got = []\n"
        "for row in ws.iter_rows(min_row=3, values_only=True):\n"
        "    key = row[0] or 'TOTAL'\n"
        "    figs = [int(round(v * 100)) if i == 10 else int(v) for i, v in "
        "enumerate(row[2:13])]\n"
        "    got.append(key + ':' + ','.join(str(v) for v in figs))\n"
        "want = [l for l in open(sys.argv[2]).read().split('\\n') if l]\n"
        "assert sorted(got) == sorted(want), (sorted(got), sorted(want))\n"
        "print('# official xlsx:', title, '-', len(got) - 1, 'county rows equal SQL')\n"
        "PY",
        tmpdir, pub_port, from, to, tmpdir, wfile);
    assert_int_equal(pufa_sh(cmd), 0);
    free(cmd);
    free(wfile);
}

/* ---- audit ---- */

static void history_and_audit_equal_sql(void **state) {
    (void)state;
    char *path = pufa_asprintf("/v1/reports/%s/history", revised_id);
    json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    const char *p[1] = {revised_id};
    PGresult *r = sql("SELECT revision, participants, collector_id,"
                      " to_char(committed_at AT TIME ZONE 'UTC',"
                      " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM (SELECT revision, participants,"
                      " collector_id, committed_at FROM reports WHERE report_id = $1::uuid"
                      " UNION ALL SELECT revision, participants, collector_id, committed_at"
                      " FROM report_history WHERE report_id = $1::uuid) h ORDER BY revision",
                      1, p);
    json_t *revs = json_object_get(doc, "revisions");
    assert_int_equal(json_array_size(revs), 2);
    assert_int_equal((size_t)PQntuples(r), json_array_size(revs));
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *v = json_array_get(revs, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(v, "revision")),
                         atoll(PQgetvalue(r, i, 0)));
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(v, "figures"), "participants")),
            atoll(PQgetvalue(r, i, 1)));
        assert_string_equal(json_string_value(json_object_get(v, "collector_id")),
                            PQgetvalue(r, i, 2));
        assert_string_equal(json_string_value(json_object_get(v, "committed_at")),
                            PQgetvalue(r, i, 3));
        assert_true(json_is_string(json_object_get(v, "received_at")));
        assert_int_equal(json_is_true(json_object_get(v, "current")), i == 1);
    }
    PQclear(r);
    json_decref(doc);
    /* The audit of month2 over the city and its counties, in order. */
    char date[11];
    snprintf(date, sizeof date, "%s-01", month2);
    path = pufa_asprintf("/v1/audit?org=150800&period=%s", month2);
    doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    const char *pa[1] = {date};
    r = sql("SELECT id, org_code, action, outcome, actor, reason FROM period_audit"
            " WHERE month = $1::date AND (org_code = '150800' OR org_code IN"
            " (SELECT code FROM org_units WHERE parent_code = '150800')) ORDER BY id",
            1, pa);
    json_t *rows = json_object_get(doc, "audit");
    printf("# audit 150800 %s: %zu rows, SQL %d\n", month2, json_array_size(rows), PQntuples(r));
    assert_int_equal((size_t)PQntuples(r), json_array_size(rows));
    assert_true(PQntuples(r) >= NCITY + 2);
    bool saw_unlock = false;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *a = json_array_get(rows, (size_t)i);
        char got[600], want[600];
        snprintf(got, sizeof got, "%lld %s %s %s %s %s",
                 (long long)json_integer_value(json_object_get(a, "id")),
                 json_string_value(json_object_get(a, "org")),
                 json_string_value(json_object_get(a, "action")),
                 json_string_value(json_object_get(a, "outcome")),
                 json_string_value(json_object_get(a, "actor")),
                 json_string_value(json_object_get(a, "reason")));
        snprintf(want, sizeof want, "%s %s %s %s %s %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                 PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                 PQgetvalue(r, i, 5));
        assert_string_equal(got, want);
        saw_unlock = saw_unlock || strstr(got, "unlock done city-150800 五原县更正参与人数");
    }
    assert_true(saw_unlock);
    PQclear(r);
    json_decref(doc);
}

/* ---- bad input ---- */

static void bad_input_is_refused_naming_the_field(void **state) {
    (void)state;
    char future[8];
    pufa_itest_month_back(-1, future);
    char *fut_appr = pufa_asprintf("/v1/approvals?period=%s", future);
    char *fut_audit = pufa_asprintf("/v1/audit?org=150821&period=%s", future);
    const char *cases[][3] = {
        {"/v1/approvals", "400", "period: required"},
        {"/v1/approvals?period=2026-13", "400", "period: must be YYYY-MM"},
        {"/v1/approvals?period=26-01", "400", "period: must be YYYY-MM"},
        {"/v1/approvals?period=1999-12", "400", "period: must be YYYY-MM, 2000-01 or later"},
        {fut_appr, "400", "period: must not be in the future"},
        {"/v1/approvals?period=2026-01&org=999999", "400", "org: 999999 is not an org unit"},
        {"/v1/approvals?period=2026-01&org=210400", "400",
         "org: 210400 抚顺市 is not under this publisher's home 150800"},
        {"/v1/approvals?period=2026-01&org=15080", "400", "org: a six-digit org-unit code"},
        {"/v1/approvals?period=2026-01&month=2026-01", "400", "period, month: give one"},
        {"/v1/audit?org=150821", "400", "period: required"},
        {fut_audit, "400", "period: must not be in the future"},
        {"/v1/audit?org=210402&period=2026-01", "400", "org: 210402 新抚区 is not under"},
        {"/v1/totals?status=official", "400", "status: unknown (got official)"},
        {"/v1/export.xlsx?status=yes", "400", "status: unknown (got yes)"},
        {"/v1/reports/not-a-uuid/history", "400", "id: must be a report id"},
        {"/v1/reports/7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e6f7/history", "404", "id: no report"},
        {"/v1/reports/7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e6f7", "404", "unknown API path"},
        {"/v1/office", "400", "name: an office name"},
        {"/v1/office?name=city%20150800", "400", "name: an office name"},
        {"/v1/office?name=nobody", "404", "name: no office nobody"},
        {"/v1/office?name=province-150000", "404", "name: no office province-150000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc;
        int st = pufa_itest_get_json(pub_port, HTTP_MS, cases[i][0], &doc);
        const char *err = json_string_value(json_object_get(doc, "error"));
        if (st != atoi(cases[i][1]) || !err || !strstr(err, cases[i][2]))
            fail_msg("GET %s: %d %s; want %s '%s'", cases[i][0], st, err ? err : "(none)",
                     cases[i][1], cases[i][2]);
        json_decref(doc);
    }
    /* The sign-in's office: its unit and role, never its hash (the
     * publisher's role cannot read that column). */
    json_t *off = pufa_itest_get_ok(pub_port, HTTP_MS, "/v1/office?name=county-150821");
    assert_string_equal(json_string_value(json_object_get(off, "role")), "submitter");
    assert_string_equal(json_string_value(json_object_get(json_object_get(off, "org"), "code")),
                        "150821");
    assert_null(json_object_get(off, "secret_hash"));
    json_decref(off);
    char *pubdb = pufa_itest_dbinfo("pufa_publisher");
    PGconn *pc = PQconnectdb(pubdb);
    free(pubdb);
    PGresult *denied = PQexec(pc, "SELECT secret_hash FROM offices");
    assert_int_equal(PQresultStatus(denied), PGRES_FATAL_ERROR);
    assert_contains(PQresultErrorMessage(denied), "permission denied");
    PQclear(denied);
    denied = PQexec(pc, "SELECT name, org_code, role FROM offices");
    assert_int_equal(PQresultStatus(denied), PGRES_TUPLES_OK);
    PQclear(denied);
    PQfinish(pc);
    /* A report of a county outside the home is not shown. */
    PGresult *r =
        sql("SELECT report_id FROM reports WHERE county_code = '210402' LIMIT 1", 0, NULL);
    char *path = pufa_asprintf("/v1/reports/%s/history", PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *doc;
    assert_int_equal(pufa_itest_get_json(pub_port, HTTP_MS, path, &doc), 404);
    json_decref(doc);
    free(path);
    free(fut_appr);
    free(fut_audit);
}

/* A publisher whose approvals_url is unset, or names nothing listening:
 * 503 and 502 of its own, naming approvals_url, and nothing written. */
static void proxy_without_an_aggregator_says_so(void **state) {
    (void)state;
    const char *urls[] = {"", "http://127.0.0.1:1"};
    const int want[] = {503, 502};
    const char *says[] = {"approvals_url is not set", "127.0.0.1:1 cannot be reached"};
    long long before = pufa_itest_sql_ll(db, "SELECT seq FROM feed_state");
    for (int i = 0; i < 2; i++) {
        pufa_proc p2;
        char port[16];
        const char *extra[] = {"--pub", "", "--home", "150800", "--approvals-url", urls[i], NULL};
        if (!pufa_itest_pub_start(&p2, pub_bin, feed_ep, extra, port, NULL))
            fail_msg("second publisher did not start");
        char *url = pufa_asprintf("http://127.0.0.1:%s/v1/approvals", port);
        char *h = pufa_itest_office_auth(tmpdir, "county-150821", NULL);
        const char *body = "{\"action\":\"submit\",\"org\":\"150821\",\"month\":\"2026-01\"}";
        pufa_http_response r;
        char err[256];
        assert_int_equal(
            pufa_http_request("POST", url, h, body, strlen(body), 20000, &r, err, sizeof err), 0);
        printf("# approvals_url '%s': %d %.*s\n", urls[i], r.status, (int)r.body.len, r.body.data);
        assert_int_equal(r.status, want[i]);
        assert_contains(r.body.data, says[i]);
        pufa_buf_free(&r.body);
        free(h);
        free(url);
        int st = pufa_proc_stop(&p2, SIGTERM, 15000);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT seq FROM feed_state"), before);
    /* The publisher that served every test exits 0 (under ASan: no leak). */
    int st = pufa_proc_stop(&pub, SIGTERM, 15000);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        pufa_proc_dump(&pub);
        fail_msg("publisher exit status %d", st);
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh official_page_test PUFA_BIN AGGREGATOR_BIN "
                        "PUBLISHER_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    pub_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(approvals_through_the_proxy_are_live),
        cmocka_unit_test(approved_totals_equal_sql),
        cmocka_unit_test(exports_carry_the_state_and_the_official_workbook_says_so),
        cmocka_unit_test(history_and_audit_equal_sql),
        cmocka_unit_test(bad_input_is_refused_naming_the_field),
        cmocka_unit_test(proxy_without_an_aggregator_says_so),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
