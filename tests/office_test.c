/* Integration test: what the city office reads beyond the totals, against
 * the real aggregator and publisher and a throwaway PostgreSQL: the
 * drill-down inside a county (by=township, by=unit with org=COUNTY) and the
 * targets of the duty lists (pufa migrate --targets, /v1/targets), each
 * answer compared with SQL over the reports table.
 * argv: PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN. */
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "calendar.h"
#include "cells.h"
#include "enums.h"
#include "httpc.h"
#include "itest.h"
#include "pg.h"
#include "proc.h"
#include "report.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

#define CITY_OFFSET_MIN 480   /* the publisher's default zone, Asia/Shanghai */
#define HTTP_MS         20000 /* the time a GET may take */

static const char *pufa_bin, *agg_bin, *pub_bin;
static pufa_proc agg, pub;
static char agg_ep[128], feed_ep[128], pub_port[16];
static void *zctx, *dealer;
static PGconn *db;
static uint64_t batch_seq = 1;
static char tmpdir[64];

/* ---- reports in ---- */

/* Revisions may come back STALE or DUPLICATE; 120 s an ack: a loaded machine. */
static void send_reports(pufa_report *r, size_t n) {
    pufa_itest_send_reports(dealer, &batch_seq, r, n, 500,
                            PUFA_ITEST_ACK_DUPLICATE | PUFA_ITEST_ACK_STALE, 120000, &agg);
}

static const char *const counties[] = {"150802", "150821", "150822", "150823", "150824",
                                       "150825", "150826", "210402", "210403", "210404"};
static const char *const units[] = {"SFJ", "FY", "JCY", "GAJ", "SWJ", "JYJ"};
/* One township typed in several ways, others, and none. */
static const char *const townships[] = {
    "隆兴昌镇", " 隆兴昌镇",  "隆兴昌镇  ",     "\xE3\x80\x80隆兴昌镇",
    "新公中镇", "新公中　镇", "ＸＨ街道（东）", "XH街道(东)",
    "",         "  ",
};
#define NTOWNSHIPS (sizeof townships / sizeof *townships)

/* n random reports from 800 days ago to today, ids and townships from the
 * seed, each received 0-20 days after it happened (never in the future);
 * with revise, the same ids again at revision 2 with a township, unit,
 * figures and receipt of their own (figures move between townships). */
static void generate(size_t n, unsigned seed, bool revise) {
    pufa_report *r = pufa_calloc(n, sizeof *r);
    unsigned idseed = seed;
    pufa_day today = pufa_city_day(pufa_now_ms());
    for (size_t i = 0; i < n; i++) {
        pufa_report_init(&r[i]);
        char ids[48], date[11];
        snprintf(ids, sizeof ids, "%08x-0000-4000-8000-%012llx", (unsigned)rand_r(&idseed),
                 (unsigned long long)i & 0xffffffffffffULL);
        r[i].report_id = pufa_strdup(ids);
        r[i].revision = revise ? 2 : 1;
        unsigned s = seed + (unsigned)i * 7919u + (revise ? 1u : 0u);
        r[i].retracted = revise && rand_r(&s) % 20 == 0;
        r[i].county_code = pufa_strdup(counties[i % 10]);
        r[i].unit_code = pufa_strdup(units[rand_r(&s) % 6]);
        r[i].township = pufa_strdup(townships[rand_r(&s) % NTOWNSHIPS]);
        pufa_day occurred = today - (pufa_day)(rand_r(&s) % 800);
        pufa_date_format(occurred, date);
        r[i].occurred_on = pufa_strdup(date);
        /* The city's midnight of the day it happened (UTC+8), plus a lag. */
        int64_t received = (int64_t)occurred * 86400000 - 8 * 3600000LL +
                           (int64_t)(rand_r(&s) % (21 * 24)) * 3600000 + rand_r(&s) % 3600000;
        int64_t now = pufa_now_ms() - 60000;
        r[i].received_at_ms = received < now ? received : now;
        r[i].theme = 1 + (int)(rand_r(&s) % PUFA_THEME_MAX);
        r[i].venue = 1 + (int)(rand_r(&s) % PUFA_VENUE_MAX);
        r[i].form = 1 + (int)(rand_r(&s) % PUFA_FORM_MAX);
        r[i].title = pufa_strdup("普法活动");
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            r[i].counters[c] = rand_r(&s) % 500;
    }
    send_reports(r, n);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
}

/* ---- HTTP ---- */

/* The same lines from SQL: key is an expression over reports. */
static char *sql_rows(const char *key, const char *county, const char *from, const char *to) {
    char *q = pufa_asprintf(
        "SELECT %s, count(*), sum(sessions), sum(participants), sum(materials),"
        " sum(consultations), sum(banners), sum(led_messages), sum(online_posts),"
        " sum(online_views), sum(volunteers), sum(funds_fen) FROM reports WHERE NOT retracted"
        " AND county_code = $1 AND occurred_on BETWEEN $2::date AND $3::date GROUP BY 1",
        key);
    const char *p[3] = {county, from, to};
    PGresult *res = PQexecParams(db, q, 3, NULL, p, NULL, NULL, 0);
    free(q);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(res));
    size_t n = (size_t)PQntuples(res);
    char **lines = pufa_calloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        pufa_buf b;
        pufa_buf_init(&b);
        pufa_buf_printf(&b, "%s:", PQgetvalue(res, (int)i, 0));
        for (int f = 1; f <= 11; f++)
            pufa_buf_printf(&b, "%s%s", f > 1 ? "," : "", PQgetvalue(res, (int)i, f));
        lines[i] = pufa_buf_steal(&b);
    }
    PQclear(res);
    return pufa_itest_join_sorted(lines, n);
}

/* Until the publisher has applied every commit so far (20 s). */
static void wait_caught_up(void) {
    pufa_itest_wait_caught_up(db, pub_port, 20000);
}

/* ---- setup ---- */

/* The publisher, on a new port, once its snapshot is loaded: 0, or -1. */
static int start_pub(void) {
    const char *extra[] = {"--pub", "", "--targets-poll", "200ms", "--home", PUFA_TEST_HOME, NULL};
    return pufa_itest_pub_start(&pub, pub_bin, feed_ep, extra, pub_port, NULL) ? 0 : -1;
}

static int group_setup(void **state) {
    (void)state;
    if (pufa_itest_setup_db(tmpdir, sizeof tmpdir, "office", pufa_bin, pufa_test_demo_tree_path(),
                            pufa_test_data_path("units.csv"), &db))
        return -1;
    zctx = zmq_ctx_new();
    const char *extra[] = {"--insecure",         "--heartbeat", "200ms",  "--compact-rows", "1000",
                           "--compact-interval", "1h",          "--home", PUFA_TEST_HOME,   NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, NULL);
    if (!pufa_itest_agg_wait(&agg, agg_ep, feed_ep, NULL, 0, 10000))
        return -1;
    if (start_pub())
        return -1;
    dealer = pufa_itest_dealer(zctx, agg_ep, NULL, NULL, NULL);
    unsigned seed = (unsigned)pufa_now_ms();
    printf("# generating 4000 reports and 1500 revisions, seed %u\n", seed);
    generate(4000, seed, false);
    generate(1500, seed, true);
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

/* ---- drill-down inside a county ---- */

static const char *const WINDOWS[] = {"all", "ytd", "30d", "2025-02-27..2025-03-02"};

/* by=township and by=unit with org=COUNTY equal SQL over the reports of
 * that county (townships keyed by the schema's pufa_township_norm, the
 * same rule as the aggregator's C), and the county's drill-down totals
 * equal its row in the city's ranking.  The rollups, townships included,
 * equal the reports cell by cell after the compactor has run. */
static void township_and_unit_inside_a_county_equal_sql(void **state) {
    (void)state;
    int compared = 0;
    for (size_t w = 0; w < sizeof WINDOWS / sizeof *WINDOWS; w++) {
        char *path = pufa_asprintf("/v1/totals?window=%s&by=county", WINDOWS[w]);
        json_t *city = pufa_itest_get_ok(pub_port, HTTP_MS, path);
        free(path);
        const char *from =
            json_string_value(json_object_get(json_object_get(city, "window"), "from"));
        const char *to = json_string_value(json_object_get(json_object_get(city, "window"), "to"));
        for (size_t c = 0; c < 10; c++) {
            static const struct {
                const char *by, *key;
            } bys[] = {{"township", "pufa_township_norm(township)"}, {"unit", "unit_code"}};
            for (size_t b = 0; b < 2; b++) {
                path = pufa_asprintf("/v1/totals?window=%s&by=%s&org=%s", WINDOWS[w], bys[b].by,
                                     counties[c]);
                json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
                char *api = pufa_itest_api_rows(doc),
                     *sql = sql_rows(bys[b].key, counties[c], from, to);
                if (strcmp(api, sql) != 0)
                    fail_msg("%s: API and SQL differ\nAPI:\n%s\nSQL:\n%s", path, api, sql);
                /* The county's totals here = its row in the city's ranking. */
                json_t *rows = json_object_get(city, "rows"), *want = NULL;
                for (size_t i = 0; i < json_array_size(rows); i++)
                    if (!strcmp(json_string_value(json_object_get(json_array_get(rows, i), "key")),
                                counties[c]))
                        want = json_object_get(json_array_get(rows, i), "figures");
                json_t *got = json_object_get(doc, "totals");
                for (int k = 0; k < 11; k++)
                    assert_int_equal(
                        json_integer_value(json_object_get(got, pufa_itest_figures[k])),
                        want ? json_integer_value(json_object_get(want, pufa_itest_figures[k]))
                             : 0);
                free(api);
                free(sql);
                free(path);
                json_decref(doc);
                compared++;
            }
        }
        json_decref(city);
    }
    printf("# %d county x window x breakdown answers equal SQL\n", compared);
    /* Four spellings of 隆兴昌镇 and two of XH街道(东) give one row each; 新公中镇 and
     * 新公中 镇 stay two (a space inside a name is kept); none and blanks are one. */
    json_t *doc =
        pufa_itest_get_ok(pub_port, HTTP_MS, "/v1/totals?window=all&by=township&org=150821");
    json_t *rows = json_object_get(doc, "rows");
    char **keys = pufa_calloc(json_array_size(rows) + 1, sizeof *keys);
    size_t nk = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        keys[nk++] = pufa_asprintf("%s=%s", json_string_value(json_object_get(r, "key")),
                                   json_string_value(json_object_get(r, "label")));
    }
    char *all = pufa_itest_join_sorted(keys, nk);
    assert_string_equal(all,
                        "=(未填)\nXH街道(东)=XH街道(东)\n新公中 镇=新公中 镇\n新公中镇=新公中镇\n"
                        "隆兴昌镇=隆兴昌镇\n");
    free(all);
    json_decref(doc);
    /* The compactor folded the journal (1,000 rows at a time): every
     * dimension, townships too, equals the reports in both tables. */
    long long deadline = pufa_mono_ms() + 20000;
    PGresult *r = NULL;
    while (pufa_mono_ms() < deadline) {
        r = PQexec(db, "SELECT count(*) FROM rollup_journal");
        bool small = atoll(PQgetvalue(r, 0, 0)) < 1000;
        PQclear(r);
        if (small)
            break;
        pufa_sleep_ms(100);
    }
    r = PQexec(db, "SELECT count(*) FROM rollup_dim WHERE dim = 'township'");
    assert_true(atoll(PQgetvalue(r, 0, 0)) > 0);
    PQclear(r);
    assert_cells_equal_reports(db, "rollup_live");
}

/* ---- targets ---- */

static int migrate_targets(const char *csv, char **output) {
    char *path = pufa_asprintf("%s/targets.csv", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(csv, f);
    fclose(f);
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' --targets '%s' 2>&1", pufa_bin,
                              getenv("PUFA_TEST_DB"), path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_puts(&b, "");
    char chunk[1024];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        pufa_buf_append(&b, chunk, n);
    int st = pclose(p);
    free(cmd);
    free(path);
    *output = pufa_buf_steal(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Waits until /v1/targets?year=Y serves targets_state.version v; returns
 * the answer and how long it took. */
static json_t *wait_targets(int year, long long version, long long *waited_ms) {
    long long t0 = pufa_mono_ms(), deadline = t0 + 10000;
    char *path = pufa_asprintf("/v1/targets?year=%d", year);
    json_t *doc = NULL;
    while (pufa_mono_ms() < deadline) {
        json_decref(doc);
        int status = pufa_itest_get_json(pub_port, HTTP_MS, path, &doc);
        if (status == 200 && json_integer_value(json_object_get(doc, "version")) == version)
            break;
        pufa_sleep_ms(20);
    }
    free(path);
    *waited_ms = pufa_mono_ms() - t0;
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), version);
    return doc;
}

/* SQL's actual for a target: the figure over Jan 1 .. min(today, Dec 31)
 * of the counties at or under org (and of the unit, when given). */
static long long sql_actual(const char *org, const char *unit, const char *figure, const char *from,
                            const char *to) {
    char *q = pufa_asprintf(
        "SELECT coalesce(sum(%s), 0) FROM reports WHERE NOT retracted"
        " AND occurred_on BETWEEN $1::date AND $2::date AND ($4 = '' OR unit_code = $4)"
        " AND county_code IN (WITH RECURSIVE under(code) AS (SELECT $3::text UNION"
        "  SELECT o.code FROM org_units AS o JOIN under AS u ON o.parent_code = u.code)"
        "  SELECT code FROM under)",
        !strcmp(figure, "reports") ? "1" : figure);
    const char *p[4] = {from, to, org, unit};
    PGresult *r = PQexecParams(db, q, 4, NULL, p, NULL, NULL, 0);
    free(q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(r));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Every row of a /v1/targets answer against SQL and the test's own
 * calendar: actual, per cent done, pro-rata expectation, behind; and the
 * behind list holds exactly the rows behind.  Returns the rows checked. */
static size_t check_targets(json_t *doc, int year) {
    pufa_civil today = pufa_civil_today(CITY_OFFSET_MIN);
    pufa_civil first = {year, 1, 1}, last = {year, 12, 31}, next = {year + 1, 1, 1};
    int days = 0, elapsed = 0;
    for (pufa_civil c = first; pufa_civil_cmp(c, next) < 0; c = pufa_civil_plus_days(c, 1)) {
        days++;
        elapsed += pufa_civil_cmp(c, today) <= 0;
    }
    char from[PUFA_CIVIL_STRLEN], to[PUFA_CIVIL_STRLEN];
    pufa_civil_format(first, from);
    pufa_civil_format(pufa_civil_cmp(today, last) < 0 ? today : last, to);
    assert_int_equal(json_integer_value(json_object_get(doc, "year_days")), days);
    assert_int_equal(json_integer_value(json_object_get(doc, "elapsed_days")), elapsed);
    json_t *rows = json_object_get(doc, "rows");
    size_t behind = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        const char *org = json_string_value(json_object_get(r, "org_code"));
        const char *unit = json_string_value(json_object_get(r, "unit_code"));
        const char *fig = json_string_value(json_object_get(r, "figure"));
        long long target = json_integer_value(json_object_get(r, "target"));
        long long actual = json_integer_value(json_object_get(r, "actual"));
        long long want = sql_actual(org, unit ? unit : "", fig, from, to);
        if (actual != want)
            fail_msg("%d %s/%s %s: actual %lld, SQL %lld", year, org, unit ? unit : "", fig, actual,
                     want);
        long long expected = (long long)((__int128)target * elapsed / days);
        assert_int_equal(json_integer_value(json_object_get(r, "expected")), expected);
        bool is_behind = actual < expected;
        assert_int_equal(json_is_true(json_object_get(r, "behind")), is_behind);
        double pct = json_real_value(json_object_get(r, "pct_done"));
        double want_pct =
            (double)(long long)((double)actual * 1000.0 / (double)target + 0.5) / 10.0;
        if (pct != want_pct)
            fail_msg("%s/%s %s: pct_done %.1f, want %.1f", org, unit ? unit : "", fig, pct,
                     want_pct);
        behind += is_behind;
    }
    assert_int_equal(json_integer_value(json_object_get(doc, "behind_count")), behind);
    assert_int_equal(json_array_size(json_object_get(doc, "behind")), behind);
    return json_array_size(rows);
}

/* A targets file: the city, two counties and units inside them, this year
 * and last year; targets sized so that some are behind and some ahead. */
static char *targets_csv(int year, long long scale) {
    return pufa_asprintf("year,org_code,unit_code,figure,target\r\n"
                         "%d,150800,,reports,%lld\r\n"
                         "%d,100000,,participants,%lld\r\n"
                         "%d,150821,,participants,%lld\r\n"
                         "%d,150821,SFJ,sessions,%lld\r\n"
                         "%d,150821,FY,reports,%lld\r\n"
                         "%d,150822,GAJ,materials,%lld\r\n"
                         "%d,150822,JYJ,funds_fen,%lld\r\n"
                         "%d,210402,,reports,1\r\n"
                         "%d,150821,SFJ,sessions,%lld\r\n",
                         year, 400 * scale, year, 900000 * scale, year, 20000 * scale, year,
                         30 * scale, year, 10 * scale, year, 3000 * scale, year, 500000 * scale,
                         year, year - 1, 100 * scale);
}

static void targets_equal_sql_and_reload_without_a_restart(void **state) {
    (void)state;
    int year = pufa_civil_today(CITY_OFFSET_MIN).y;
    char *csv = targets_csv(year, 1), *out = NULL;
    int ex = migrate_targets(csv, &out);
    if (ex != 0)
        fail_msg("pufa migrate --targets: exit %d: %s", ex, out);
    assert_contains(out, "targets: 9 from");
    free(out);
    free(csv);
    long long waited;
    json_t *doc = wait_targets(year, 1, &waited);
    size_t n = check_targets(doc, year);
    assert_int_equal(n, 8);
    printf("# %zu targets of %d equal SQL, %lld behind; served %lld ms after the load\n", n, year,
           (long long)json_integer_value(json_object_get(doc, "behind_count")), waited);
    json_decref(doc);
    /* Last year: over, so the expectation is the whole target. */
    char *path = pufa_asprintf("/v1/targets?year=%d", year - 1);
    doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    assert_int_equal(check_targets(doc, year - 1), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "elapsed_days")),
                     json_integer_value(json_object_get(doc, "year_days")));
    json_decref(doc);
    /* org=150821: the county's own target and its units' only. */
    path = pufa_asprintf("/v1/targets?year=%d&org=150821", year);
    doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    assert_int_equal(check_targets(doc, year), 3);
    json_t *rows = json_object_get(doc, "rows");
    for (size_t i = 0; i < json_array_size(rows); i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(rows, i), "org_code")),
                            "150821");
    json_decref(doc);
    /* A new load (targets a thousand times as high) reaches the running
     * publisher: no restart. */
    csv = targets_csv(year, 1000);
    ex = migrate_targets(csv, &out);
    assert_int_equal(ex, 0);
    free(out);
    free(csv);
    doc = wait_targets(year, 2, &waited);
    assert_int_equal(check_targets(doc, year), 8);
    printf("# the second load served %lld ms after it (targets_poll 200ms), %lld behind\n", waited,
           (long long)json_integer_value(json_object_get(doc, "behind_count")));
    json_decref(doc);
}

/* A bad file: every bad line named with its field, exit 65, and nothing of
 * it loaded (the version and the rows stay). */
static void a_bad_targets_file_loads_nothing(void **state) {
    (void)state;
    PGresult *r = PQexec(db, "SELECT (SELECT version FROM targets_state) || '/' ||"
                             " (SELECT count(*) FROM targets)");
    char *before = pufa_strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    char *out = NULL;
    int ex = migrate_targets("year,org_code,unit_code,figure,target\n"
                             "2026,150821,SFJ,sessions,120\n"
                             "1999,150821,SFJ,sessions,10\n"
                             "2026,159999,,reports,10\n"
                             "2026,150800,SFJ,reports,10\n"
                             "2026,150821,XYZ,reports,10\n"
                             "2026,150821,FY,people,10\n"
                             "2026,150821,FY,participants,-5\n"
                             "2026,150821,SFJ,sessions,130\n"
                             "2026,150821,FY\n",
                             &out);
    assert_int_equal(ex, 65);
    assert_contains(out, "line 3: year: a year from 2000 to 2100 (got '1999')");
    assert_contains(out, "line 4: org_code: unknown org unit; load it with --org-units first "
                         "(got '159999')");
    assert_contains(out, "line 5: unit_code: a responsible unit's target is inside a county, and "
                         "org_code 150800 is a city (got 'SFJ')");
    assert_contains(out, "line 6: unit_code: unknown responsible unit; load it with --units first "
                         "(got 'XYZ')");
    assert_contains(out, "line 7: figure: unknown figure; use reports, sessions,");
    assert_contains(out, "line 8: target: a whole number from 1 to 9223372036854775807 (got '-5')");
    assert_contains(out, "line 9: line: the same year, org_code, unit_code and figure as line 2");
    assert_contains(out, "line 10: line: 5 fields year,org_code,unit_code,figure,target (got 3)");
    assert_true(strstr(out, "line 2:") == NULL);
    free(out);
    ex = migrate_targets("year,org,unit,figure,target\n2026,150821,,reports,1\n", &out);
    assert_int_equal(ex, 65);
    assert_contains(out, "line 1: header: must be year,org_code,unit_code,figure,target");
    free(out);
    ex = migrate_targets("year,org_code,unit_code,figure,target\n", &out);
    assert_int_equal(ex, 65);
    assert_contains(out, "file: no targets");
    free(out);
    r = PQexec(db, "SELECT (SELECT version FROM targets_state) || '/' ||"
                   " (SELECT count(*) FROM targets)");
    assert_string_equal(PQgetvalue(r, 0, 0), before);
    PQclear(r);
    free(before);
}

/* ---- completeness ---- */

/* SQL over every committed revision (reports and report_history): per
 * expected unit "county/unit:reported,months_due,months_on_time" lines.
 * Reported: any revision received in the window.  On time for month M:
 * the first revision that is not a retraction with occurred_on in M was
 * received by M's last day + 5 (timely_days). */
static char *sql_completeness(const char *counties_arr, const char *units_arr, const char *from,
                              const char *to, const char *today) {
    const char *q =
        "WITH exp AS (SELECT * FROM unnest($1::text[], $2::text[]) AS e(county, unit)),"
        " r AS (SELECT county_code, unit_code, (received_at AT TIME ZONE 'Asia/Shanghai')::date"
        "  AS d, date_trunc('month', occurred_on)::date AS mo, retracted FROM reports UNION ALL"
        "  SELECT county_code, unit_code, (received_at AT TIME ZONE 'Asia/Shanghai')::date,"
        "  date_trunc('month', occurred_on)::date, retracted FROM report_history),"
        " months AS (SELECT m::date AS ms, (m + interval '1 month')::date - 1 + 5 AS dl"
        "  FROM generate_series(date_trunc('month', $3::date), $4::date, interval '1 month') m),"
        " per AS (SELECT e.county, e.unit, mo.dl, coalesce((SELECT min(r.d) FROM r WHERE"
        "  r.county_code = e.county AND r.unit_code = e.unit AND NOT r.retracted"
        "  AND r.mo = mo.ms) <= mo.dl, false) AS ok FROM exp e CROSS JOIN months mo)"
        " SELECT e.county || '/' || e.unit || ':' || (EXISTS (SELECT 1 FROM r WHERE"
        "  r.county_code = e.county AND r.unit_code = e.unit AND r.d BETWEEN $3::date AND"
        "  $4::date))::text || ',' || (SELECT count(*) FROM per p WHERE p.county = e.county AND"
        "  p.unit = e.unit AND (p.ok OR p.dl < $5::date)) || ',' || (SELECT count(*) FROM per p"
        "  WHERE p.county = e.county AND p.unit = e.unit AND p.ok) FROM exp e";
    const char *p[5] = {counties_arr, units_arr, from, to, today};
    PGresult *res = PQexecParams(db, q, 5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(res));
    size_t n = (size_t)PQntuples(res);
    char **lines = pufa_calloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++)
        lines[i] = pufa_strdup(PQgetvalue(res, (int)i, 0));
    PQclear(res);
    return pufa_itest_join_sorted(lines, n);
}

static const char *const COMPLETENESS_WINDOWS[] = {"ytd", "month", "30d", "quarter"};

/* The duty list: every generated unit in three counties, and one unit
 * that never reports.  Per window, every expected unit's reported flag,
 * months due and months on time equal SQL over the receipt times of every
 * committed revision; the counties' and the totals' rates add up. */
static void completeness_equals_sql_over_receipt_times(void **state) {
    (void)state;
    int year = pufa_civil_today(CITY_OFFSET_MIN).y;
    pufa_buf csv;
    pufa_buf_init(&csv);
    pufa_buf_puts(&csv, "year,org_code,unit_code,figure,target\n");
    static const char *const duty[] = {"150802", "150821", "150822"};
    for (int c = 0; c < 3; c++)
        for (int u = 0; u < 6; u++)
            pufa_buf_printf(&csv, "%d,%s,%s,reports,%d\n", year, duty[c], units[u], 10 + u);
    pufa_buf_printf(&csv, "%d,150821,WJW,reports,5\n", year);
    char *out = NULL;
    int ex = migrate_targets(csv.data, &out);
    if (ex)
        fail_msg("%s", out);
    free(out);
    pufa_buf_free(&csv);
    long long waited;
    json_decref(wait_targets(year, 3, &waited));
    char today[PUFA_CIVIL_STRLEN];
    pufa_civil_format(pufa_civil_today(CITY_OFFSET_MIN), today);
    for (size_t w = 0; w < sizeof COMPLETENESS_WINDOWS / sizeof *COMPLETENESS_WINDOWS; w++) {
        char *path = pufa_asprintf("/v1/completeness?window=%s", COMPLETENESS_WINDOWS[w]);
        json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
        const char *from =
            json_string_value(json_object_get(json_object_get(doc, "window"), "from"));
        const char *to = json_string_value(json_object_get(json_object_get(doc, "window"), "to"));
        json_t *units_j = json_object_get(doc, "units");
        size_t n = json_array_size(units_j);
        assert_int_equal(n, 19);
        char **lines = pufa_calloc(n + 1, sizeof *lines);
        pufa_buf ca, ua;
        pufa_buf_init(&ca);
        pufa_buf_init(&ua);
        pufa_pgarr_open(&ca);
        pufa_pgarr_open(&ua);
        long long late = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *u = json_array_get(units_j, i);
            const char *county = json_string_value(json_object_get(u, "county"));
            const char *unit = json_string_value(json_object_get(u, "unit_code"));
            pufa_pgarr_text(&ca, county);
            pufa_pgarr_text(&ua, unit);
            lines[i] =
                pufa_asprintf("%s/%s:%s,%lld,%lld", county, unit,
                              json_is_true(json_object_get(u, "reported")) ? "true" : "false",
                              (long long)json_integer_value(json_object_get(u, "months_due")),
                              (long long)json_integer_value(json_object_get(u, "months_on_time")));
            late += json_is_true(json_object_get(u, "late"));
        }
        pufa_pgarr_close(&ca);
        pufa_pgarr_close(&ua);
        char *api = pufa_itest_join_sorted(lines, n);
        char *sql = sql_completeness(ca.data, ua.data, from, to, today);
        if (strcmp(api, sql) != 0)
            fail_msg("%s: API and SQL differ\nAPI:\n%s\nSQL:\n%s", path, api, sql);
        /* WJW never reported: late, not reported. */
        assert_contains(api, "150821/WJW:false,");
        json_t *tot = json_object_get(doc, "totals");
        assert_int_equal(json_integer_value(json_object_get(tot, "expected")), 19);
        assert_int_equal(json_integer_value(json_object_get(tot, "late_units")), late);
        long long reported = 0;
        json_t *cs = json_object_get(doc, "counties");
        for (size_t i = 0; i < json_array_size(cs); i++)
            reported += json_integer_value(json_object_get(json_array_get(cs, i), "reported"));
        assert_int_equal(json_integer_value(json_object_get(tot, "reported")), reported);
        printf("# completeness %s (%s..%s): %lld of 19 reported, timeliness %.1f%%, %lld late\n",
               COMPLETENESS_WINDOWS[w], from, to, reported,
               json_real_value(json_object_get(tot, "timeliness")), late);
        free(api);
        free(sql);
        pufa_buf_free(&ca);
        pufa_buf_free(&ua);
        free(path);
        json_decref(doc);
    }
    /* org=150821: its county row and its seven units only. */
    json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, "/v1/completeness?window=ytd&org=150821");
    assert_int_equal(json_array_size(json_object_get(doc, "counties")), 1);
    assert_int_equal(json_array_size(json_object_get(doc, "units")), 7);
    json_decref(doc);
}

/* The API's "county/unit:reported,due,on_time[missed months]" of county's
 * units for window, and SQL's lines (without the missed months) for it. */
static char *completeness_lines(const char *window, const char *county, bool missed, pufa_buf *ca,
                                pufa_buf *ua) {
    char *path = pufa_asprintf("/v1/completeness?window=%s&org=%s", window, county);
    json_t *doc = pufa_itest_get_ok(pub_port, HTTP_MS, path);
    free(path);
    json_t *units_j = json_object_get(doc, "units");
    size_t n = json_array_size(units_j);
    char **lines = pufa_calloc(n + 1, sizeof *lines);
    pufa_pgarr_open(ca);
    pufa_pgarr_open(ua);
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_array_get(units_j, i);
        pufa_pgarr_text(ca, json_string_value(json_object_get(u, "county")));
        pufa_pgarr_text(ua, json_string_value(json_object_get(u, "unit_code")));
        char *m = json_dumps(json_object_get(u, "missed_months"), JSON_COMPACT);
        lines[i] = pufa_asprintf(
            "%s/%s:%s,%lld,%lld%s", json_string_value(json_object_get(u, "county")),
            json_string_value(json_object_get(u, "unit_code")),
            json_is_true(json_object_get(u, "reported")) ? "true" : "false",
            (long long)json_integer_value(json_object_get(u, "months_due")),
            (long long)json_integer_value(json_object_get(u, "months_on_time")), missed ? m : "");
        free(m);
    }
    pufa_pgarr_close(ca);
    pufa_pgarr_close(ua);
    json_decref(doc);
    return pufa_itest_join_sorted(lines, n);
}

/* One report of county/unit that happened on occurred, received at
 * hh:mm of the city's day received (UTC+8). */
static void report_received(unsigned n, const char *unit, const char *occurred,
                            const char *received, int hh, int mm) {
    pufa_report r;
    pufa_report_init(&r);
    char id[48];
    snprintf(id, sizeof id, "7e000000-0000-4000-8000-%012u", n);
    r.report_id = pufa_strdup(id);
    r.revision = 1;
    r.county_code = pufa_strdup("150823");
    r.unit_code = pufa_strdup(unit);
    r.occurred_on = pufa_strdup(occurred);
    pufa_day d;
    assert_int_equal(pufa_date_parse(received, &d), 0);
    r.received_at_ms = (int64_t)d * 86400000 - 8 * 3600000LL + (int64_t)(hh * 60 + mm) * 60000;
    r.theme = r.venue = r.form = 1;
    r.title = pufa_strdup("普法活动");
    r.counters[PUFA_C_SESSIONS] = 1;
    send_reports(&r, 1);
    pufa_report_clear(&r);
}

/* Timeliness counts the first report of activities in each month, by the
 * month's last day + timely_days (5): on the deadline's last minute is on
 * time, a minute later is not; a late report for an earlier month makes
 * neither that month nor the month it arrived in on time.  The same over
 * the feed and after a restart (the snapshot reads receipt_first), equal to
 * SQL; and receipt_first, written with the reports, equals what the
 * migration's backfill computes from reports and report_history. */
static void timeliness_counts_the_first_report_of_each_month(void **state) {
    (void)state;
    int y = pufa_civil_today(CITY_OFFSET_MIN).y - 1; /* last year: every deadline passed */
    char *csv = pufa_asprintf("year,org_code,unit_code,figure,target\n"
                              "%d,150823,MZZJ,reports,10\n%d,150823,XCB,reports,10\n",
                              y, y);
    char *out = NULL;
    int ex = migrate_targets(csv, &out);
    if (ex)
        fail_msg("%s", out);
    free(out);
    free(csv);
    long long waited;
    json_decref(wait_targets(y, 4, &waited));
    char d[8][24];
    static const char *const md[8] = {"03-15", "04-05", "04-10", "05-06",
                                      "03-20", "05-20", "06-02", "05-31"};
    for (int i = 0; i < 8; i++)
        snprintf(d[i], sizeof d[i], "%04d-%s", y, md[i]);
    report_received(1, "MZZJ", d[0], d[1], 23, 59); /* March: on its deadline's last minute */
    report_received(2, "MZZJ", d[2], d[3], 0, 1);   /* April: a minute after its deadline */
    report_received(3, "MZZJ", d[4], d[5], 10, 0);  /* March again, late: March stays on time */
    report_received(4, "MZZJ", d[6], d[6], 9, 0);   /* June: the same day */
    report_received(5, "XCB", d[7], d[1], 12, 0);   /* May 31 received 5 days too early: fine */
    char june5[24];
    snprintf(june5, sizeof june5, "%04d-06-05", y);
    report_received(6, "XCB", d[7], june5, 12, 0); /* May, again */
    wait_caught_up();
    char window[64], from[24], to[24], today[PUFA_CIVIL_STRLEN];
    snprintf(from, sizeof from, "%04d-03-01", y);
    snprintf(to, sizeof to, "%04d-06-30", y);
    snprintf(window, sizeof window, "%s..%s", from, to);
    pufa_civil_format(pufa_civil_today(CITY_OFFSET_MIN), today);
    char *want = pufa_asprintf("150823/MZZJ:true,4,2[\"%d-04\",\"%d-05\"]\n"
                               "150823/XCB:true,4,1[\"%d-03\",\"%d-04\",\"%d-06\"]\n",
                               y, y, y, y, y);
    for (int pass = 0; pass < 2; pass++) {
        pufa_buf ca, ua;
        pufa_buf_init(&ca);
        pufa_buf_init(&ua);
        char *api = completeness_lines(window, "150823", true, &ca, &ua);
        if (strcmp(api, want) != 0)
            fail_msg("%s %s:\ngot\n%s\nwant\n%s", pass ? "after a restart" : "live", window, api,
                     want);
        free(api);
        pufa_buf_free(&ca);
        pufa_buf_free(&ua);
        api = completeness_lines(window, "150823", false, &ca, &ua);
        char *sql = sql_completeness(ca.data, ua.data, from, to, today);
        if (strcmp(api, sql) != 0)
            fail_msg("API and SQL differ\nAPI:\n%s\nSQL:\n%s", api, sql);
        free(api);
        free(sql);
        pufa_buf_free(&ca);
        pufa_buf_free(&ua);
        if (pass == 0) { /* the snapshot's path */
            pufa_proc_stop(&pub, SIGTERM, 15000);
            assert_int_equal(start_pub(), 0);
            wait_caught_up();
        }
    }
    free(want);
    /* receipt_first against the backfill over every revision kept (to the
     * millisecond: the aggregator writes it from Unix milliseconds). */
    const char *backfill =
        "SELECT county_code, unit_code, date_trunc('month', occurred_on)::date AS month,"
        " date_trunc('milliseconds', min(coalesce(received_at, committed_at))) AS first"
        " FROM (SELECT county_code, unit_code, occurred_on, received_at, committed_at, retracted"
        " FROM reports UNION ALL SELECT county_code, unit_code, occurred_on, received_at,"
        " committed_at, retracted FROM report_history) AS r"
        " WHERE NOT retracted AND occurred_on >= DATE '2000-01-01' GROUP BY 1, 2, 3";
    char *q = pufa_asprintf("WITH b AS (%s), f AS (SELECT county_code, unit_code, month,"
                            " date_trunc('milliseconds', first_received_at) FROM receipt_first)"
                            " SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM b),"
                            " (SELECT count(*) FROM (SELECT * FROM f EXCEPT SELECT * FROM b) x),"
                            " (SELECT count(*) FROM (SELECT * FROM b EXCEPT SELECT * FROM f) y)",
                            backfill);
    PGresult *res = PQexec(db, q);
    free(q);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(res));
    printf("# receipt_first: %s rows, backfill %s rows, %s and %s differ\n", PQgetvalue(res, 0, 0),
           PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
    assert_true(atoll(PQgetvalue(res, 0, 0)) > 100);
    assert_string_equal(PQgetvalue(res, 0, 2), "0");
    assert_string_equal(PQgetvalue(res, 0, 3), "0");
    PQclear(res);
}

/* ---- the printable 统计表 ---- */

static int get_text(const char *path, pufa_buf *body) {
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", pub_port, path);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err);
    free(url);
    if (rc)
        fail_msg("GET %s: %s", path, err);
    *body = r.body;
    return r.status;
}

/* The rows of the print page: "label:f1,...,f11" (funds in fen, as the
 * page shows yuan with two decimals) in page order, "合计" last. */
static size_t print_rows(const char *html, char ***out) {
    size_t n = 0;
    char **rows = NULL;
    for (const char *p = strstr(html, "<th scope=\"row\">"); p;
         p = strstr(p, "<th scope=\"row\">")) {
        p += strlen("<th scope=\"row\">");
        const char *end = strstr(p, "</th>");
        pufa_buf b;
        pufa_buf_init(&b);
        pufa_buf_append(&b, p, (size_t)(end - p));
        pufa_buf_putc(&b, ':');
        const char *q = end;
        for (int k = 0; k < 11; k++) {
            q = strstr(q, "<td data-figure=");
            q = strchr(q, '>') + 1;
            if (k)
                pufa_buf_putc(&b, ',');
            for (; *q != '<'; q++)
                if (*q != ',' && *q != '.')
                    pufa_buf_putc(&b, *q);
        }
        rows = pufa_realloc(rows, (n + 1) * sizeof *rows);
        rows[n++] = pufa_buf_steal(&b);
        p = q;
    }
    *out = rows;
    return n;
}

/* "name:f1,...,f11" from SQL for each county of city over [from, to],
 * in code order (the page's order of a city's children), then 合计. */
static char *sql_print(const char *city, const char *from, const char *to) {
    const char *p[3] = {city, from, to};
    PGresult *r = PQexecParams(
        db,
        "SELECT o.name || ':' || concat_ws(',', count(x.*), coalesce(sum(sessions), 0),"
        " coalesce(sum(participants), 0), coalesce(sum(materials), 0),"
        " coalesce(sum(consultations), 0), coalesce(sum(banners), 0),"
        " coalesce(sum(led_messages), 0), coalesce(sum(online_posts), 0),"
        " coalesce(sum(online_views), 0), coalesce(sum(volunteers), 0),"
        " coalesce(sum(funds_fen), 0)) FROM org_units o LEFT JOIN reports x ON"
        " x.county_code = o.code AND NOT x.retracted AND x.occurred_on BETWEEN $2::date AND"
        " $3::date WHERE o.parent_code = $1 GROUP BY o.code, o.name"
        " UNION ALL SELECT '合计:' || concat_ws(',', count(*), coalesce(sum(sessions), 0),"
        " coalesce(sum(participants), 0), coalesce(sum(materials), 0),"
        " coalesce(sum(consultations), 0), coalesce(sum(banners), 0),"
        " coalesce(sum(led_messages), 0), coalesce(sum(online_posts), 0),"
        " coalesce(sum(online_views), 0), coalesce(sum(volunteers), 0),"
        " coalesce(sum(funds_fen), 0)) FROM reports WHERE NOT retracted AND occurred_on"
        " BETWEEN $2::date AND $3::date AND county_code IN (SELECT code FROM org_units WHERE"
        " parent_code = $1)",
        3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(r));
    pufa_buf b;
    pufa_buf_init(&b);
    for (int i = 0; i < PQntuples(r); i++)
        pufa_buf_printf(&b, "%s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    return pufa_buf_steal(&b);
}

/* The print page of a city over a window equals SQL row by row (the
 * city's counties, zeros too, and 合计), with its title, period and 同比;
 * a county's page lists its townships; the XLSX holds the same numbers
 * with merged title and unit rows, thousands separators, yuan with two
 * decimals, and a totals row that is the sum of the rows. */
static void print_page_and_xlsx_equal_sql(void **state) {
    (void)state;
    json_t *ref = pufa_itest_get_ok(pub_port, HTTP_MS,
                                    "/v1/totals?window=ytd&by=none&org=150821&compare=yoy");
    const char *from = json_string_value(json_object_get(json_object_get(ref, "window"), "from"));
    const char *to = json_string_value(json_object_get(json_object_get(ref, "window"), "to"));
    pufa_buf page;
    assert_int_equal(get_text("/print?window=ytd&org=150800", &page), 200);
    char **rows;
    size_t n = print_rows(page.data, &rows);
    pufa_buf got;
    pufa_buf_init(&got);
    for (size_t i = 0; i < n; i++) {
        pufa_buf_printf(&got, "%s\n", rows[i]);
        free(rows[i]);
    }
    free(rows);
    char *want = sql_print("150800", from, to);
    if (strcmp(got.data, want) != 0)
        fail_msg("print page and SQL differ\npage:\n%s\nSQL:\n%s", got.data, want);
    assert_int_equal(n, 8); /* seven counties and 合计 */
    /* The title's period: ytd is January 1 to today. */
    pufa_civil f = {0}, t = {0};
    assert_true(pufa_civil_parse(from, &f));
    assert_true(pufa_civil_parse(to, &t));
    bool month_end = pufa_civil_plus_days(t, 1).d == 1;
    char period[64];
    if (month_end && t.m == 1)
        snprintf(period, sizeof period, "%d年1月", f.y);
    else if (month_end)
        snprintf(period, sizeof period, "%d年1—%d月", f.y, t.m);
    else
        snprintf(period, sizeof period, "%d年1月1日—%d月%d日", f.y, t.m, t.d);
    char *title = pufa_asprintf("<h1 id=\"title\">巴彦淖尔市普法工作统计表（%s）</h1>", period);
    assert_contains(page.data, title);
    assert_contains(page.data, "填报单位：巴彦淖尔市普法办");
    assert_contains(page.data, "<th scope=\"col\">普法经费(元)</th>");
    /* 同比 of 五原县's sessions, as /v1/totals?compare=yoy gives it. */
    json_t *pct =
        json_object_get(json_object_get(json_object_get(ref, "compare"), "pct"), "sessions");
    char yoy[32];
    if (json_is_null(pct)) {
        snprintf(yoy, sizeof yoy, "—");
    } else {
        double v = json_real_value(pct);
        snprintf(yoy, sizeof yoy, "%s%.1f%%", v < 0 ? "-" : v > 0 ? "+" : "", v < 0 ? -v : v);
    }
    const char *wy = strstr(page.data, "五原县</th>");
    assert_non_null(wy);
    const char *cell = strstr(wy, "<td class=\"yoy\">");
    assert_non_null(cell);
    if (strncmp(cell + strlen("<td class=\"yoy\">"), yoy, strlen(yoy)) != 0)
        fail_msg("五原县 场次同比: page %.20s, API %s", cell + strlen("<td class=\"yoy\">"), yoy);
    pufa_buf_free(&page);
    pufa_buf_free(&got);
    free(title);
    /* A county's page: its townships, as by=township lists them. */
    assert_int_equal(get_text("/print?window=all&org=150821", &page), 200);
    n = print_rows(page.data, &rows);
    json_t *tw =
        pufa_itest_get_ok(pub_port, HTTP_MS, "/v1/totals?window=all&by=township&org=150821");
    assert_int_equal(n, json_array_size(json_object_get(tw, "rows")) + 1);
    for (size_t i = 0; i < n; i++)
        free(rows[i]);
    free(rows);
    assert_contains(page.data, "<th scope=\"col\">乡镇(街道)</th>");
    assert_contains(page.data, "五原县普法工作统计表");
    json_decref(tw);
    pufa_buf_free(&page);
    /* A township named like markup and like a formula: escaped on the
     * page, a string cell in the workbook. */
    pufa_report r;
    pufa_report_init(&r);
    r.report_id = pufa_strdup("0badc0de-0000-4000-8000-000000000001");
    r.revision = 1;
    r.county_code = pufa_strdup("150822");
    r.unit_code = pufa_strdup("SFJ");
    r.township = pufa_strdup("=1+1<script>x</script>");
    char today[PUFA_CIVIL_STRLEN];
    pufa_civil_format(pufa_civil_today(CITY_OFFSET_MIN), today);
    r.occurred_on = pufa_strdup(today);
    r.theme = r.venue = r.form = 1;
    r.title = pufa_strdup("t");
    r.received_at_ms = pufa_now_ms();
    send_reports(&r, 1);
    pufa_report_clear(&r);
    wait_caught_up();
    assert_int_equal(get_text("/print?window=today&org=150822", &page), 200);
    assert_contains(page.data, "<th scope=\"row\">=1+1&lt;script&gt;x&lt;/script&gt;</th>");
    assert_true(strstr(page.data, "<script>x") == NULL);
    pufa_buf_free(&page);
    char *cmd0 = pufa_asprintf(
        "curl -sf -o '%s/t.xlsx' 'http://127.0.0.1:%s/print.xlsx?window=today&org=150822' && "
        "/usr/bin/python3 -c \"import openpyxl; ws = openpyxl.load_workbook('%s/t.xlsx').active;"
        " c = [ws.cell(row=r, column=1) for r in range(4, ws.max_row + 1)];"
        " assert any(x.value == '=1+1<script>x</script>' and x.data_type == 's' for x in c),"
        " [(x.value, x.data_type) for x in c]\"",
        tmpdir, pub_port, tmpdir);
    assert_int_equal(pufa_sh(cmd0), 0);
    free(cmd0);
    /* The XLSX: the same rows as SQL (that report included). */
    free(want);
    want = sql_print("150800", from, to);
    char *xlsx = pufa_asprintf("%s/stat.xlsx", tmpdir),
         *wantf = pufa_asprintf("%s/want.txt", tmpdir);
    FILE *wf = fopen(wantf, "w");
    assert_non_null(wf);
    fputs(want, wf);
    fclose(wf);
    char *cmd = pufa_asprintf(
        "curl -sf -o '%s' 'http://127.0.0.1:%s/print.xlsx?window=ytd&org=150800' && "
        "/usr/bin/python3 - '%s' '%s' <<'PY'\n"
        "import sys, openpyxl\n"
        "wb = openpyxl.load_workbook(sys.argv[1])\n"
        "ws = wb.worksheets[0]\n"
        "merged = sorted(str(r) for r in ws.merged_cells.ranges)\n"
        "assert merged == ['A1:N1', 'A2:F2', 'G2:N2'], merged\n"
        "assert ws['A1'].value.startswith('巴彦淖尔市普法工作统计表（'), ws['A1'].value\n"
        "assert ws['A2'].value == '填报单位：巴彦淖尔市普法办', ws['A2'].value\n"
        "assert ws['L3'].value == '普法经费(元)' and ws['M3'].value == '场次同比'\n"
        "want = open(sys.argv[2]).read().split()\n"
        "got = []\n"
        "for r in range(4, ws.max_row + 1):\n"
        "    name = ws.cell(row=r, column=1).value\n"
        "    assert ws.cell(row=r, column=1).data_type == 's'\n"
        "    vals = [ws.cell(row=r, column=c).value for c in range(2, 13)]\n"
        "    assert ws.cell(row=r, column=2).number_format == '#,##0'\n"
        "    assert ws.cell(row=r, column=12).number_format == '#,##0.00'\n"
        "    vals[10] = round(vals[10] * 100)\n"
        "    got.append(name + ':' + ','.join(str(int(v)) for v in vals))\n"
        "assert got == want, (got, want)\n"
        "last = ws.max_row\n"
        "assert ws.cell(row=last, column=1).value == '合计' and ws.cell(row=last, "
        "column=2).font.b\n"
        "for c in range(2, 13):\n"
        "    s = sum(ws.cell(row=r, column=c).value for r in range(4, last))\n"
        "    assert abs(s - ws.cell(row=last, column=c).value) < 0.005, (c, s)\n"
        "print('# print.xlsx:', ws.max_row - 4, 'rows and 合计 equal SQL')\n"
        "PY",
        xlsx, pub_port, xlsx, wantf);
    assert_int_equal(pufa_sh(cmd), 0);
    free(cmd);
    free(xlsx);
    free(wantf);
    free(want);
    json_decref(ref);
}

/* ---- bad requests ---- */

static void bad_requests_name_the_parameter(void **state) {
    (void)state;
    const struct {
        const char *path, *want;
    } cases[] = {
        {"/v1/totals?by=township", "by: township is a breakdown inside a county; add org=COUNTY"},
        {"/v1/totals?by=township&org=150800",
         "by: township is a breakdown inside a county; add org=COUNTY"},
        {"/v1/targets?year=26", "year: a year from 2000 to 2100 (got 26)"},
        {"/v1/targets?year=1999", "year: a year from 2000 to 2100 (got 1999)"},
        {"/v1/targets?year=2026&org=159999", "org: unknown org unit (got 159999)"},
        {"/v1/completeness?window=fortnight", "window: unknown (got fortnight)"},
        {"/v1/completeness?org=159999", "org: unknown org unit (got 159999)"},
        {"/print?window=fortnight", "window: unknown (got fortnight)"},
        {"/print.xlsx?org=159999", "org: unknown org unit (got 159999)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *doc;
        int status = pufa_itest_get_json(pub_port, HTTP_MS, cases[i].path, &doc);
        if (status != 400)
            fail_msg("%s: %d, want 400", cases[i].path, status);
        const char *msg = json_string_value(json_object_get(doc, "error"));
        assert_contains(msg ? msg : "", cases[i].want);
        json_decref(doc);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: office_test PUFA_BIN AGGREGATOR_BIN PUBLISHER_BIN\n");
        return 2;
    }
    pufa_bin = argv[1];
    agg_bin = argv[2];
    pub_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(township_and_unit_inside_a_county_equal_sql),
        cmocka_unit_test(a_bad_targets_file_loads_nothing),
        cmocka_unit_test(targets_equal_sql_and_reload_without_a_restart),
        cmocka_unit_test(completeness_equals_sql_over_receipt_times),
        cmocka_unit_test(timeliness_counts_the_first_report_of_each_month),
        cmocka_unit_test(print_page_and_xlsx_equal_sql),
        cmocka_unit_test(bad_requests_name_the_parameter),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
