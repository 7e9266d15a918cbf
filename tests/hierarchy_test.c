/* Integration test: the org-unit hierarchy at the aggregator.  The whole
 * country's units (deploy/data/divisions/nation.csv) in PostgreSQL; keys
 * bound to a province, a city and a county; the home unit.
 * argv: PUFA_BIN AGGREGATOR_BIN. */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "itest.h"
#include "keyfile.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin;
static pufa_proc agg;
static char dir[64], agg_ep[128], agg_http[16];
static char agg_pub[41], agg_sec[41];
static char prov_pub[41], prov_sec[41], city_pub[41], city_sec[41], cnty_pub[41], cnty_sec[41];
static void *zctx;
static PGconn *db;

static void write_allow_list(const char *text) {
    char *path = pufa_asprintf("%s/allow.list", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* Starts the aggregator on the test database with CURVE and the allow-list
 * (or --insecure) and home (NULL: none given). */
static void start_agg_proc(pufa_proc *p, const char *conninfo, bool curve, const char *home) {
    char *sec = pufa_asprintf("%s/aggregator.key", dir),
         *allow = pufa_asprintf("%s/allow.list", dir);
    const char *extra[8];
    int n = 0;
    if (curve) {
        extra[n++] = "--curve-secret-file";
        extra[n++] = sec;
        extra[n++] = "--allow-list";
        extra[n++] = allow;
    } else {
        extra[n++] = "--insecure";
    }
    if (home) {
        extra[n++] = "--home";
        extra[n++] = home;
    }
    extra[n] = NULL;
    pufa_itest_agg_start(p, agg_bin, extra, &(pufa_itest_agg_opts){.db = conninfo});
    free(sec);
    free(allow);
}

static void start_agg(bool curve, const char *home) {
    start_agg_proc(&agg, getenv("PUFA_TEST_DB"), curve, home);
    if (!pufa_itest_agg_wait(&agg, agg_ep, NULL, agg_http, 1000, 10000))
        fail_msg("aggregator did not start");
}

static void stop_agg(void) {
    int st = pufa_proc_stop(&agg, SIGTERM, 10000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Starts an aggregator that must refuse to start: exit 78 with want in its
 * log. */
static void refuses_to_start(const char *conninfo, bool curve, const char *home, const char *want) {
    pufa_proc p;
    start_agg_proc(&p, conninfo, curve, home);
    if (!pufa_proc_wait_log(&p, want, NULL, NULL, 0, 20000)) {
        pufa_proc_dump(&p);
        fail_msg("no '%s' in the aggregator's log", want);
    }
    int st = pufa_proc_stop(&p, SIGTERM, 10000);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 78);
}

static void *dealer(const char *pub, const char *sec) {
    return pufa_itest_dealer(zctx, agg_ep, agg_pub, pub, sec);
}

/* Sends one report for county through d; returns its status and copies the
 * reason (when rejected) into why. */
static int send_for(void *d, const char *county, char *why, size_t whysize) {
    pufa_report r = pufa_itest_report(county, 100);
    Pufa__BatchAck *a = pufa_itest_send_one(d, &r, 1, 10000);
    pufa_report_clear(&r);
    if (!a)
        fail_msg("no ack for a report for %s", county);
    assert_int_equal(a->n_results, 1);
    int status = a->results[0]->status;
    snprintf(why, whysize, "%s", a->results[0]->reason ? a->results[0]->reason : "");
    pufa__batch_ack__free_unpacked(a, NULL);
    return status;
}

/* A report for county through d is committed: one more row. */
static void accepted(void *d, const char *county) {
    long long before = pufa_itest_sql_ll(db, "SELECT count(*) FROM reports");
    char why[512];
    int status = send_for(d, county, why, sizeof why);
    if (status != PUFA__REPORT_STATUS__STATUS_COMMITTED)
        fail_msg("report for %s: status %d (%s)", county, status, why);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"), before + 1);
}

/* A report for county through d is rejected with a reason holding want,
 * and nothing is written. */
static void rejected(void *d, const char *county, const char *want) {
    long long before = pufa_itest_sql_ll(db, "SELECT count(*) FROM reports");
    char why[512];
    int status = send_for(d, county, why, sizeof why);
    if (status != PUFA__REPORT_STATUS__STATUS_REJECTED)
        fail_msg("report for %s: status %d, want rejected", county, status);
    assert_contains(why, want);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"), before);
}

static int group_setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pufa-hier-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    const char *src = getenv("PUFA_SOURCE_DIR");
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' --org-units '%s/deploy/data/divisions/"
                              "nation.csv' >/dev/null",
                              pufa_bin, getenv("PUFA_TEST_DB"), src ? src : ".");
    int rc = pufa_sh(cmd);
    free(cmd);
    db = PQconnectdb(getenv("PUFA_TEST_DB"));
    if (rc || PQstatus(db) != CONNECTION_OK)
        return -1;
    zctx = zmq_ctx_new();
    pufa_itest_keygen(pufa_bin, dir, "aggregator", agg_pub, agg_sec);
    pufa_itest_keygen(pufa_bin, dir, "province-150000", prov_pub, prov_sec);
    pufa_itest_keygen(pufa_bin, dir, "city-150800", city_pub, city_sec);
    pufa_itest_keygen(pufa_bin, dir, "county-150821", cnty_pub, cnty_sec);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 10000);
    zmq_ctx_term(zctx);
    PQfinish(db);
    pufa_test_rm_rf(dir);
    return 0;
}

/* At the nation: a province key reports for every county of its province
 * and none of another; a city key for its city's counties; a county key for
 * its county.  Each refusal is counted. */
static void keys_report_for_the_counties_under_their_unit(void **state) {
    (void)state;
    char *list = pufa_asprintf("# pufa allow-list\n%s 150000  # 内蒙古自治区\n"
                               "%s 150800  # 巴彦淖尔市\n%s 150821  # 五原县\n",
                               prov_pub, city_pub, cnty_pub);
    write_allow_list(list);
    free(list);
    start_agg(true, "100000");
    assert_int_equal(pufa_proc_count_log(&agg, "id=AGG-HOME home=100000"), 1);
    void *p = dealer(prov_pub, prov_sec), *c = dealer(city_pub, city_sec),
         *k = dealer(cnty_pub, cnty_sec);
    accepted(p, "150821"); /* 五原县, 巴彦淖尔市 */
    accepted(p, "150921"); /* 卓资县, 乌兰察布市: another city of the province */
    rejected(p, "210402",  /* 新抚区, 辽宁省 */
             "county_code: this key may only report for the counties under province 150000 "
             "内蒙古自治区 (got 210402)");
    accepted(c, "150802");
    rejected(c, "150921", "the counties under city 150800 巴彦淖尔市 (got 150921)");
    accepted(k, "150821");
    rejected(k, "150802", "this collector's key may only report for county 150821 (got 150802)");
    zmq_close(p);
    zmq_close(c);
    zmq_close(k);
    assert_int_equal(pufa_http_metric(agg_http, "pufa_aggregator_county_mismatch_total "), 3);
    assert_int_equal(pufa_http_metric(agg_http, "pufa_aggregator_outside_home_total "), 0);
    assert_int_equal(pufa_proc_count_log(&agg, "id=AGG-COUNTY-MISMATCH key_unit=150000"), 1);
    stop_agg();
}

/* At a city: a county of another city is refused with the county and the
 * home named, even through a province key that covers both. */
static void a_county_outside_home_is_refused(void **state) {
    (void)state;
    char *list = pufa_asprintf("%s 150000\n", prov_pub);
    write_allow_list(list);
    free(list);
    start_agg(true, "150800");
    void *p = dealer(prov_pub, prov_sec);
    accepted(p, "150802");
    rejected(p, "150921",
             "county_code: county 150921 卓资县 is not under this aggregator's home 150800 "
             "巴彦淖尔市");
    zmq_close(p);
    assert_int_equal(pufa_http_metric(agg_http, "pufa_aggregator_outside_home_total "), 1);
    assert_int_equal(pufa_http_metric(agg_http, "pufa_aggregator_county_mismatch_total "), 0);
    stop_agg();
    /* Without keys (insecure), the home alone decides. */
    start_agg(false, "150800");
    void *d = dealer(NULL, NULL);
    rejected(d, "210402", "county 210402 新抚区 is not under this aggregator's home 150800");
    accepted(d, "150826");
    zmq_close(d);
    assert_int_equal(pufa_http_metric(agg_http, "pufa_aggregator_outside_home_total "), 1);
    stop_agg();
}

/* The home must be known and above the counties; with many cities it must
 * be given; an allow-list unit that cannot meet the home is refused. */
static void home_and_allow_list_are_checked_at_start(void **state) {
    (void)state;
    const char *ci = getenv("PUFA_TEST_DB");
    refuses_to_start(ci, false, NULL, "home: required, since org_units holds 342 cities");
    refuses_to_start(ci, false, "150821", "home: 150821 五原县 is a county");
    refuses_to_start(ci, false, "990100", "home: 990100 is not in org_units");
    char *list = pufa_asprintf("%s 150000\n%s 210400\n", prov_pub, city_pub);
    write_allow_list(list);
    free(list);
    refuses_to_start(ci, true, "150800",
                     "line 2: 210400 抚顺市 is neither under this aggregator's home 150800 "
                     "巴彦淖尔市 nor above it");
    list = pufa_asprintf("# x\n\n%s 990100\n", city_pub);
    write_allow_list(list);
    free(list);
    refuses_to_start(ci, true, "100000", "line 3: 990100 is not an org unit of this aggregator");
}

/* A database with one city: that city is the home, no setting needed. */
static void the_one_city_is_the_default_home(void **state) {
    (void)state;
    PQclear(PQexec(db, "DROP DATABASE IF EXISTS pufa_one"));
    PGresult *r = PQexec(db, "CREATE DATABASE pufa_one");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    char *ci = pufa_asprintf("%s dbname=pufa_one", getenv("PUFA_TEST_DB"));
    char *file = pufa_asprintf("%s/one.csv", dir);
    FILE *f = fopen(file, "w");
    fputs("code,name,level,parent_code\n210402,新抚区,county,210400\n210400,抚顺市,city,\n", f);
    fclose(f);
    char *cmd =
        pufa_asprintf("'%s' migrate --db '%s' --org-units '%s' >/dev/null", pufa_bin, ci, file);
    assert_int_equal(pufa_sh(cmd), 0);
    free(cmd);
    start_agg_proc(&agg, ci, false, NULL);
    if (!pufa_proc_wait_log(&agg, "id=AGG-READY", NULL, NULL, 0, 20000)) {
        pufa_proc_dump(&agg);
        fail_msg("aggregator did not start");
    }
    assert_int_equal(pufa_proc_count_log(&agg, "id=AGG-HOME home=210400 name=\"抚顺市\" "
                                               "level=city counties=1"),
                     1);
    stop_agg();
    free(file);
    free(ci);
}

int main(int argc, char **argv) {
    if (argc < 3 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh hierarchy_test PUFA_BIN AGGREGATOR_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_report_for_the_counties_under_their_unit),
        cmocka_unit_test(a_county_outside_home_is_refused),
        cmocka_unit_test(home_and_allow_list_are_checked_at_start),
        cmocka_unit_test(the_one_city_is_the_default_home),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
