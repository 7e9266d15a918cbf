/* Integration test of official figures (issue 17): the real pufa, a
 * pufa-aggregator and a pufa-collector against a throwaway PostgreSQL
 * (with-pg.sh).  argv: PUFA_BIN AGGREGATOR_BIN COLLECTOR_BIN.
 *
 * The state machine through the CLI and the HTTP API, locking at ingest
 * seen from the collector's status API and dead letters, lock exceptions,
 * the entry deadline, 401/403, bad bodies, the audit trail, and a lock that
 * lands while reports stream in (checked against a ledger). */
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "httpc.h"
#include "intake.h"
#include "itest.h"
#include "official.h"
#include "proc.h"
#include "pufa.pb-c.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin, *col_bin;
static pufa_proc agg, col;
static char agg_http[16], agg_listen[128], col_port[16];
static char tmpdir[64];
static PGconn *db;
static char month1[8], month2[8], month3[8]; /* 1, 2 and 3 months before this one */

static const char *const counties[] = {"150802", "150821", "150822", "150823",
                                       "150824", "150825", "150826"};
#define NCOUNTIES 7

/* ---- processes ---- */

/* env: "NAME=value" for the process (a PUFA_FAULT), or NULL. */
static void start_aggregator(const char *deadline_days, const char *env) {
    const char *extra[] = {"--insecure",  "--home", PUFA_TEST_HOME, "--entry-deadline-days",
                           deadline_days, NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, &(pufa_itest_agg_opts){.env = env});
    char ep[128];
    if (!pufa_proc_wait_log(&agg, "id=AGG-HTTP", "port", agg_http, sizeof agg_http, 20000) ||
        !pufa_proc_wait_log(&agg, "id=AGG-LISTEN", "endpoint", ep, sizeof ep, 20000) ||
        !pufa_proc_wait_log(&agg, "id=AGG-READY", NULL, NULL, 0, 10000)) {
        pufa_proc_dump(&agg);
        fail_msg("aggregator did not start");
    }
    snprintf(agg_listen, sizeof agg_listen, "%s", ep);
}

static void stop_aggregator(void) {
    int st = pufa_proc_stop(&agg, SIGTERM, 15000);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        pufa_proc_dump(&agg);
        fail_msg("aggregator did not exit 0 on SIGTERM (status %d)", st);
    }
}

static void start_collector(void) {
    char *spool = pufa_asprintf("%s/spool", tmpdir);
    const char *extra[] = {"--insecure", "--ack-timeout", "1s", "--backoff-max", "2s", NULL};
    pufa_itest_col_start(&col, col_bin, "150821", agg_listen, spool, extra, NULL);
    if (!pufa_itest_col_wait(&col, col_port))
        fail_msg("collector did not start");
    free(spool);
}

/* ---- HTTP ---- */

static int http(const char *method, const char *port, const char *path, const char *headers,
                const char *body, json_t **out) {
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", port, path);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request(method, url, headers, body, body ? strlen(body) : 0, 30000, &r, err,
                               sizeof err);
    free(url);
    if (rc)
        fail_msg("%s %s: %s", method, path, err);
    if (out) {
        json_error_t jerr;
        *out = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
        if (!*out)
            fail_msg("%s %s answered %d, not JSON: %.*s", method, path, r.status, (int)r.body.len,
                     r.body.data ? r.body.data : "");
    }
    pufa_buf_free(&r.body);
    return r.status;
}

static char *secret_path(const char *office) {
    return pufa_asprintf("%s/%s.secret", tmpdir, office);
}

/* POST /v1/approvals as office; returns the status, *out the answer. */
static int act(const char *office, const char *action, const char *org, const char *month,
               const char *reason, json_t **out) {
    json_t *o = json_object();
    json_object_set_new(o, "action", json_string(action));
    json_object_set_new(o, "org", json_string(org));
    json_object_set_new(o, "month", json_string(month));
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *h = pufa_itest_office_auth(tmpdir, office, NULL);
    json_t *ans = NULL;
    int st = http("POST", agg_http, "/v1/approvals", h, body, &ans);
    free(h);
    free(body);
    if (out)
        *out = ans;
    else
        json_decref(ans);
    return st;
}

static void act_ok(const char *office, const char *action, const char *org, const char *month,
                   const char *reason) {
    json_t *ans;
    int st = act(office, action, org, month, reason, &ans);
    if (st != 200) {
        char *s = json_dumps(ans, 0);
        fail_msg("%s %s %s %s: HTTP %d %s", office, action, org, month, st, s);
    }
    json_decref(ans);
}

/* The state of org's period, from GET /v1/periods. */
static char *period_state(const char *org, const char *month, json_t **full) {
    char *path = pufa_asprintf("/v1/periods?org=%s&month=%s", org, month);
    json_t *o;
    assert_int_equal(http("GET", agg_http, path, NULL, NULL, &o), 200);
    free(path);
    char *s = pufa_strdup(json_string_value(json_object_get(o, "state")));
    if (full)
        *full = o;
    else
        json_decref(o);
    return s;
}

static void assert_state(const char *org, const char *month, const char *want) {
    char *s = period_state(org, month, NULL);
    if (strcmp(s, want) != 0)
        fail_msg("period %s %s is %s, want %s", org, month, s, want);
    free(s);
}

/* ---- SQL ---- */

static long long scalarf(const char *fmt, const char *a, const char *b) {
    char *sql = pufa_asprintf(fmt, a, b);
    long long v = pufa_itest_sql_ll(db, sql);
    free(sql);
    return v;
}

/* ---- reports through the collector ---- */

/* A report of county in month (day 15) as JSON. */
static char *report_json(const char *id, int revision, const char *county, const char *month,
                         int participants, bool retracted) {
    return pufa_asprintf("{\"report_id\":\"%s\",\"revision\":%d,\"county_code\":\"%s\","
                         "\"unit_code\":\"SFJ\",\"occurred_on\":\"%s-15\",\"theme\":\"宪法\","
                         "\"venue\":\"社区\",\"form\":\"讲座\",\"title\":\"宪法进社区\","
                         "\"sessions\":1,\"participants\":%d%s}",
                         id, revision, county, month, participants,
                         retracted ? ",\"retracted\":true" : "");
}

static void new_id(char out[37]) {
    uint8_t id[16];
    pufa_uuid_v7(id);
    pufa_uuid_format(id, out);
}

/* Posts one report to the collector and waits for a final state at its
 * status API; returns it (caller frees) and the reason. */
static char *send_and_wait(const char *json, const char *id, int revision, char *reason,
                           size_t rsize) {
    assert_int_equal(
        http("POST", col_port, "/v1/reports", "Content-Type: application/json\r\n", json, NULL),
        202);
    char *path = pufa_asprintf("/v1/reports/%s", id);
    long long deadline = pufa_mono_ms() + 20000;
    char *state = NULL;
    while (pufa_mono_ms() < deadline) {
        json_t *o;
        int st = http("GET", col_port, path, NULL, NULL, &o);
        const char *s = json_string_value(json_object_get(o, "state"));
        if (st == 200 && json_integer_value(json_object_get(o, "revision")) == revision && s &&
            strcmp(s, "spooled") && strcmp(s, "in_flight")) {
            state = pufa_strdup(s);
            const char *r = json_string_value(json_object_get(o, "reason"));
            snprintf(reason, rsize, "%s", r ? r : "");
        }
        json_decref(o);
        if (state)
            break;
        pufa_sleep_ms(50);
    }
    free(path);
    if (!state) {
        pufa_proc_dump(&col);
        fail_msg("report %s revision %d got no final state", id, revision);
    }
    return state;
}

static void expect_locked(const char *json, const char *id, int revision, const char *need1,
                          const char *need2) {
    char reason[512];
    char *st = send_and_wait(json, id, revision, reason, sizeof reason);
    if (strcmp(st, "locked") != 0)
        fail_msg("report %s revision %d: %s, want locked", id, revision, st);
    assert_contains(reason, need1);
    assert_contains(reason, need2);
    free(st);
}

static void expect_committed(const char *json, const char *id, int revision) {
    char reason[512];
    char *st = send_and_wait(json, id, revision, reason, sizeof reason);
    if (strcmp(st, "committed") != 0)
        fail_msg("report %s revision %d: %s (%s), want committed", id, revision, st, reason);
    free(st);
}

static long long participants_of(const char *county, const char *month) {
    return scalarf("SELECT coalesce(sum(participants), 0) FROM reports WHERE county_code = '%s'"
                   " AND NOT retracted AND to_char(occurred_on, 'YYYY-MM') = '%s'",
                   county, month);
}

static long long live_participants(const char *county, const char *month) {
    return scalarf("SELECT coalesce(sum(participants), 0) FROM rollup_live WHERE dim = 'total'"
                   " AND county_code = '%s' AND to_char(day, 'YYYY-MM') = '%s'",
                   county, month);
}

/* ---- setup ---- */

static int group_setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pufa-appr-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    pufa_itest_month_back(1, month1);
    pufa_itest_month_back(2, month2);
    pufa_itest_month_back(3, month3);
    if (pufa_itest_setup_db(NULL, 0, NULL, pufa_bin, pufa_test_demo_tree_path(),
                            pufa_test_data_path("units.csv"), &db))
        return -1;
    for (int i = 0; i < NCOUNTIES; i++) {
        char name[32];
        snprintf(name, sizeof name, "county-%s", counties[i]);
        pufa_itest_add_office(pufa_bin, NULL, tmpdir, name, counties[i], "submitter");
    }
    pufa_itest_add_office(pufa_bin, NULL, tmpdir, "city-150800", "150800", "approver");
    pufa_itest_add_office(pufa_bin, NULL, tmpdir, "province-150000", "150000", "acceptor");
    start_aggregator("0", NULL);
    start_collector();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (col.pid > 0)
        pufa_proc_stop(&col, SIGTERM, 15000);
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 15000);
    PQfinish(db);
    pufa_test_rm_rf(tmpdir);
    return 0;
}

/* ---- tests ---- */

/* One county-month's whole cycle: submit, approve, a revision refused
 * LOCKED (seen at the collector), unlock with a reason, the revision
 * accepted, approve again; the audit lists it all in order. */
static void whole_cycle_for_one_county_month(void **state) {
    (void)state;
    const char *M = month1;
    char id[37], id2[37];
    new_id(id);
    new_id(id2);
    char *j = report_json(id, 1, "150821", M, 100, false);
    expect_committed(j, id, 1);
    free(j);
    assert_int_equal(participants_of("150821", M), 100);

    /* The county submits: its month is locked at ingest. */
    act_ok("county-150821", "submit", "150821", M, NULL);
    assert_state("150821", M, "submitted");
    j = report_json(id, 2, "150821", M, 999, false);
    char need[64];
    snprintf(need, sizeof need, "period %s of 150821", M);
    expect_locked(j, id, 2, need, "is submitted (set by county-150821");
    free(j);
    j = report_json(id2, 1, "150821", M, 50, false);
    expect_locked(j, id2, 1, need, "submitted");
    free(j);
    j = report_json(id, 3, "150821", M, 0, true);
    expect_locked(j, id, 3, need, "submitted");
    free(j);
    /* pufa submit --wait says locked, with the reason, and exits 65. */
    char *file = pufa_asprintf("%s/late.jsonl", tmpdir);
    char id3[37];
    new_id(id3);
    j = report_json(id3, 1, "150821", M, 60, false);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", j);
    fclose(f);
    free(j);
    char *cmd = pufa_asprintf("'%s' submit --quiet --url http://127.0.0.1:%s --wait 20s '%s' 2>&1",
                              pufa_bin, col_port, file);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096];
    size_t nread = fread(out, 1, sizeof out - 1, p);
    out[nread] = 0;
    int st = pclose(p);
    assert_contains(out, "late.jsonl:1: locked: occurred_on: period");
    assert_contains(out, "answers: 0 committed, 0 unchanged (duplicate or stale), 1 locked");
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 65);
    free(cmd);
    free(file);
    assert_int_equal(participants_of("150821", M), 100);
    assert_int_equal(live_participants("150821", M), 100);
    /* The dead letters say locked, with the reason. */
    char *dl = pufa_asprintf("%s/spool/dead-letter.jsonl", tmpdir);
    size_t len;
    char *dead = pufa_test_read_file(dl, &len);
    free(dl);
    assert_non_null(dead);
    assert_contains(dead, "\"status\":\"locked\"");
    assert_contains(dead, need);
    free(dead);

    /* The city cannot approve while counties are open: refused naming them,
     * nothing changes. */
    long long periods_before = pufa_itest_sql_ll(db, "SELECT count(*) FROM periods");
    json_t *ans;
    assert_int_equal(act("city-150800", "approve", "150800", M, NULL, &ans), 409);
    const char *err = json_string_value(json_object_get(ans, "error"));
    assert_contains(err, "150802 临河区 (open)");
    assert_contains(err, "150826 杭锦后旗 (open)");
    json_decref(ans);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM periods"), periods_before);
    assert_state("150800", M, "open");

    for (int i = 0; i < NCOUNTIES; i++) {
        if (!strcmp(counties[i], "150821"))
            continue;
        char name[32];
        snprintf(name, sizeof name, "county-%s", counties[i]);
        act_ok(name, "submit", counties[i], M, NULL);
    }
    /* A county credential cannot approve its city (403, nothing changes). */
    assert_int_equal(act("county-150821", "approve", "150800", M, NULL, &ans), 403);
    assert_contains(json_string_value(json_object_get(ans, "error")),
                    "needs the approver of 150800");
    json_decref(ans);
    assert_state("150800", M, "open");

    /* The city approves: its counties are approved with it. */
    act_ok("city-150800", "approve", "150800", M, "一季度数据已核");
    assert_state("150800", M, "approved");
    assert_state("150821", M, "approved");
    j = report_json(id, 4, "150821", M, 777, false);
    expect_locked(j, id, 4, need, "is approved (set by city-150800");
    free(j);
    json_t *full;
    free(period_state("150800", M, &full));
    assert_true(json_is_true(json_object_get(full, "frozen")));
    json_t *totals = json_object_get(full, "totals");
    assert_int_equal(json_integer_value(json_object_get(totals, "participants")),
                     scalarf("SELECT coalesce(sum(participants), 0) FROM reports r JOIN org_units o"
                             " ON o.code = r.county_code WHERE o.parent_code = '%s' AND NOT"
                             " r.retracted AND to_char(occurred_on, 'YYYY-MM') = '%s'",
                             "150800", M));
    json_decref(full);

    /* A county cannot reopen an approved month; the city can, with a
     * reason, and the reopening walks up. */
    assert_int_equal(act("county-150821", "unlock", "150821", M, "late fix", NULL), 403);
    assert_int_equal(act("city-150800", "unlock", "150821", M, NULL, &ans), 400);
    assert_contains(json_string_value(json_object_get(ans, "error")), "reason:");
    json_decref(ans);
    act_ok("city-150800", "unlock", "150821", M, "五原县更正参与人数");
    assert_state("150821", M, "open");
    assert_state("150800", M, "open");
    assert_state("150822", M, "approved");
    j = report_json(id, 5, "150821", M, 120, false);
    expect_committed(j, id, 5);
    free(j);
    assert_int_equal(participants_of("150821", M), 120);
    assert_int_equal(live_participants("150821", M), 120);

    act_ok("county-150821", "submit", "150821", M, NULL);
    act_ok("city-150800", "approve", "150800", M, NULL);
    assert_state("150821", M, "approved");

    /* The audit of 五原县's month, in order. */
    char *path = pufa_asprintf("/v1/audit?org=150821&month=%s", M);
    assert_int_equal(http("GET", agg_http, path, NULL, NULL, &ans), 200);
    free(path);
    pufa_buf got;
    pufa_buf_init(&got);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(ans, "audit"), i, row) {
        pufa_buf_printf(&got, "%s %s %s->%s %s\n",
                        json_string_value(json_object_get(row, "action")),
                        json_string_value(json_object_get(row, "outcome")),
                        json_string_value(json_object_get(row, "from_state")),
                        json_string_value(json_object_get(row, "to_state")),
                        json_string_value(json_object_get(row, "actor")));
    }
    pufa_buf_putc(&got, '\0');
    /* The reports refused LOCKED are in it too, each with its id and
     * revision, in order with the actions (migration 008). */
    assert_lines_equal(got.data,
                       "submit done open->submitted county-150821\n"
                       "refuse_report refused submitted->submitted collector-150821\n"
                       "refuse_report refused submitted->submitted collector-150821\n"
                       "refuse_report refused submitted->submitted collector-150821\n"
                       "refuse_report refused submitted->submitted collector-150821\n"
                       "approve done submitted->approved city-150800\n"
                       "refuse_report refused approved->approved collector-150821\n"
                       "unlock refused approved->approved county-150821\n"
                       "unlock done approved->open city-150800\n"
                       "submit done open->submitted county-150821\n"
                       "approve done submitted->approved city-150800\n",
                       "audit of 150821");
    pufa_buf_free(&got);
    int with_id = 0;
    json_array_foreach(json_object_get(ans, "audit"), i, row) {
        if (strcmp(json_string_value(json_object_get(row, "action")), "refuse_report") != 0)
            continue;
        const char *rid = json_string_value(json_object_get(row, "report_id"));
        assert_non_null(rid);
        assert_int_equal(strlen(rid), 36);
        assert_true(json_integer_value(json_object_get(row, "revision")) >= 1);
        if (!strcmp(rid, id))
            with_id++;
        assert_contains(json_string_value(json_object_get(row, "reason")), need);
    }
    assert_int_equal(with_id, 3); /* revisions 2, 3, 4; the others are id2 and id3 */
    json_decref(ans);

    /* The province accepts; a city reopening one of its counties
     * un-accepts the province's month on the way up. */
    assert_int_equal(act("city-150800", "accept", "150000", M, NULL, NULL), 403);
    act_ok("province-150000", "accept", "150000", M, NULL);
    assert_state("150000", M, "accepted");
    assert_state("150800", M, "accepted");
    assert_state("150821", M, "accepted");
    j = report_json(id, 6, "150821", M, 1, false);
    expect_locked(j, id, 6, need, "is accepted (set by province-150000");
    free(j);
    act_ok("city-150800", "unlock", "150821", M, "省级验收后更正");
    assert_state("150821", M, "open");
    assert_state("150800", M, "open");
    assert_state("150000", M, "open");
    assert_state("150822", M, "accepted");
    act_ok("county-150821", "submit", "150821", M, NULL);
    act_ok("city-150800", "approve", "150800", M, NULL);
    assert_state("150821", M, "approved");
    assert_int_equal(participants_of("150821", M), 120);

    /* The publisher's official figures (as its read-only role): the
     * approved counties' totals apart from the provisional ones. */
    char *pubdb = pufa_itest_dbinfo("pufa_publisher");
    char msg[300];
    json_t *off = NULL;
    assert_int_equal(pub_official(pubdb, "150800", M, &off, msg, sizeof msg), 200);
    json_t *appr = json_object_get(off, "approved");
    assert_int_equal(json_array_size(json_object_get(appr, "counties")), NCOUNTIES);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(appr, "totals"), "participants")),
        scalarf("SELECT coalesce(sum(participants), 0) FROM reports r JOIN org_units o"
                " ON o.code = r.county_code WHERE o.parent_code = '%s' AND NOT"
                " r.retracted AND to_char(occurred_on, 'YYYY-MM') = '%s'",
                "150800", M));
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(off, "provisional"), "counties")), 0);
    json_decref(off);
    assert_int_equal(pub_official(pubdb, "150800", month2, &off, msg, sizeof msg), 200);
    assert_int_equal(json_array_size(json_object_get(json_object_get(off, "approved"), "counties")),
                     0);
    json_decref(off);
    assert_int_equal(pub_official(pubdb, "159999", M, &off, msg, sizeof msg), 400);
    assert_contains(msg, "org: unknown org unit");
    assert_int_equal(pub_official(pubdb, "150800", "2026-13", &off, msg, sizeof msg), 400);
    assert_contains(msg, "month: must be YYYY-MM");
    assert_int_equal(pub_official(pubdb, "150800", NULL, &off, msg, sizeof msg), 400);
    free(pubdb);

    /* Append-only, for every role: even the superuser cannot rewrite it. */
    PGresult *r = PQexec(db, "DELETE FROM period_audit");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_contains(PQresultErrorMessage(r), "append-only");
    PQclear(r);
    r = PQexec(db, "SET ROLE pufa_aggregator; UPDATE period_audit SET reason = ''");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    PQclear(PQexec(db, "RESET ROLE"));
}

/* Wrong credentials get 401; hostile bodies 400/405/413 naming the field;
 * none of them changes or audits anything. */
static void bad_credentials_and_bodies_change_nothing(void **state) {
    (void)state;
    long long audit_before = pufa_itest_sql_ll(db, "SELECT count(*) FROM period_audit");
    long long periods_before = pufa_itest_sql_ll(db, "SELECT count(*) FROM periods");
    char body[256];
    snprintf(body, sizeof body, "{\"action\":\"submit\",\"org\":\"150825\",\"month\":\"%s\"}",
             month2);
    json_t *ans;
    /* 401: no credential, a wrong secret, an unknown office, bad base64. */
    assert_int_equal(http("POST", agg_http, "/v1/approvals", NULL, body, &ans), 401);
    json_decref(ans);
    char *h = pufa_itest_office_auth(tmpdir, "county-150825", "0123456789abcdef");
    assert_int_equal(http("POST", agg_http, "/v1/approvals", h, body, &ans), 401);
    assert_contains(json_string_value(json_object_get(ans, "error")), "credentials:");
    json_decref(ans);
    free(h);
    h = pufa_itest_office_auth(tmpdir, "nobody", "x");
    assert_int_equal(http("POST", agg_http, "/v1/approvals", h, body, &ans), 401);
    json_decref(ans);
    free(h);
    assert_int_equal(http("POST", agg_http, "/v1/approvals",
                          "Authorization: Basic %%%not-base64\r\n", body, &ans),
                     401);
    json_decref(ans);
    /* The secret never reaches the log. */
    char *secret_file = secret_path("county-150825");
    size_t len;
    char *secret = pufa_test_read_file(secret_file, &len);
    free(secret_file);
    secret[strcspn(secret, "\n")] = '\0';
    char *log = pufa_test_read_file(agg.log, &len);
    assert_null(strstr(log, secret));
    free(log);
    free(secret);

    /* 400 naming the field. */
    struct {
        const char *body, *field;
    } bad[] = {
        {"not json", "body:"},
        {"[1]", "body: must be a JSON object"},
        {"{\"action\":\"submit\",\"org\":\"150825\"}", "month: required"},
        {"{\"action\":\"submit\",\"month\":\"2026-01\"}", "org: required"},
        {"{\"org\":\"150825\",\"month\":\"2026-01\"}", "action: required"},
        {"{\"action\":\"submit\",\"org\":\"150825\",\"month\":\"2026-01\",\"x\":\"1\"}",
         "x: unknown field"},
        {"{\"action\":\"submit\",\"action\":\"approve\",\"org\":\"150825\",\"month\":\"2026-01\"}",
         "body: not JSON"},
        {"{\"action\":\"submit\",\"org\":150825,\"month\":\"2026-01\"}", "org: must be a string"},
        {"{\"action\":\"seal\",\"org\":\"150825\",\"month\":\"2026-01\"}", "action: must be"},
        {"{\"action\":\"submit\",\"org\":\"15082\",\"month\":\"2026-01\"}", "org: must be a six"},
        {"{\"action\":\"submit\",\"org\":\"159999\",\"month\":\"2026-01\"}", "org: unknown"},
        {"{\"action\":\"submit\",\"org\":\"150825\",\"month\":\"2026-13\"}", "month: must be"},
        {"{\"action\":\"submit\",\"org\":\"150825\",\"month\":\"2026-1\"}", "month: must be"},
        {"{\"action\":\"submit\",\"org\":\"150825\",\"month\":\"1999-12\"}", "month: must be"},
        {"{\"action\":\"submit\",\"org\":\"150825\",\"month\":\"2999-01\"}",
         "month: must not be in the future"},
        {"{\"action\":\"unlock\",\"org\":\"150825\",\"month\":\"2026-01\"}", "reason: required"},
        {"{\"action\":\"unlock\",\"org\":\"150825\",\"month\":\"2026-01\",\"reason\":\"a\\u0007\"}",
         "reason: must not hold control"},
    };
    h = pufa_itest_office_auth(tmpdir, "county-150825", NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = http("POST", agg_http, "/v1/approvals", h, bad[i].body, &ans);
        const char *e = json_string_value(json_object_get(ans, "error"));
        if (st != 400 || !e || !strstr(e, bad[i].field))
            fail_msg("body %s: HTTP %d %s, want 400 with '%s'", bad[i].body, st, e ? e : "",
                     bad[i].field);
        json_decref(ans);
    }
    /* An oversized reason: 501 characters. */
    pufa_buf big;
    pufa_buf_init(&big);
    pufa_buf_printf(
        &big, "{\"action\":\"unlock\",\"org\":\"150825\",\"month\":\"%s\",\"reason\":\"", month2);
    for (int i = 0; i < 501; i++)
        pufa_buf_puts(&big, "改");
    pufa_buf_puts(&big, "\"}");
    pufa_buf_putc(&big, '\0');
    assert_int_equal(http("POST", agg_http, "/v1/approvals", h, big.data, &ans), 400);
    assert_contains(json_string_value(json_object_get(ans, "error")),
                    "reason: at most 500 characters (got 501)");
    json_decref(ans);
    /* A body over 16 KiB: 413. */
    pufa_buf_reset(&big);
    for (int i = 0; i < 20000; i++)
        pufa_buf_putc(&big, ' ');
    pufa_buf_putc(&big, '\0');
    assert_int_equal(http("POST", agg_http, "/v1/approvals", h, big.data, &ans), 413);
    assert_contains(json_string_value(json_object_get(ans, "error")), "body:");
    json_decref(ans);
    pufa_buf_free(&big);
    free(h);
    assert_int_equal(http("GET", agg_http, "/v1/approvals", NULL, NULL, &ans), 405);
    json_decref(ans);
    assert_int_equal(http("GET", agg_http, "/v1/periods?org=150825", NULL, NULL, &ans), 400);
    assert_contains(json_string_value(json_object_get(ans, "error")), "month: required");
    json_decref(ans);
    assert_int_equal(http("GET", agg_http, "/v1/periods?org=abc&month=2026-01", NULL, NULL, &ans),
                     400);
    assert_contains(json_string_value(json_object_get(ans, "error")), "org:");
    json_decref(ans);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM period_audit"), audit_before);
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM periods"), periods_before);
    /* The aggregator still works. */
    assert_true(pufa_proc_alive(&agg));
    assert_state("150825", month2, "open");
}

/* ---- the race: a lock lands while reports stream in ---- */

typedef struct {
    pthread_mutex_t mu;
    size_t acked_batches;
    int http_status;
    char month[8];
} locker;

static void *lock_when_streaming(void *arg) {
    locker *l = arg;
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&l->mu);
        size_t n = l->acked_batches;
        pthread_mutex_unlock(&l->mu);
        if (n >= 5)
            break;
        pufa_sleep_ms(5);
    }
    int st = act("county-150824", "submit", "150824", l->month, "streaming", NULL);
    pthread_mutex_lock(&l->mu);
    l->http_status = st;
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void collect(void *ctx, const pufa_intake_item *item) {
    pufa_report *r = ctx;
    if (!item->ok)
        fail_msg("report invalid: %s", item->message);
    pufa_report_copy(r, item->report);
}

static void send_batch(void *dealer, uint64_t seq, const pufa_report *r, size_t n) {
    pufa_itest_send_batch(dealer, "race-test", seq, r, n, 0);
}

/* Reports for 150824 stream in batches (4 in flight) while its office
 * submits the month: every report is either committed (and in the frozen
 * total, committed before the lock) or LOCKED, none both, none lost. */
static void lock_landing_mid_stream_loses_and_double_counts_nothing(void **state) {
    (void)state;
    /* Batches go on until 10 more were acked after the lock's answer. */
    enum { MAXB = 400, BS = 20, WINDOW = 4 };
    const char *M = month3;
    pufa_report *reps = pufa_calloc(MAXB * BS, sizeof *reps);
    char(*ids)[37] = pufa_calloc(MAXB * BS, sizeof *ids);
    pufa_validate_ctx v = {.orgunits = pufa_test_orgunits(), .today = pufa_city_day(pufa_now_ms())};
    int *status = pufa_calloc(MAXB * BS, sizeof *status);
    locker l = {.mu = PTHREAD_MUTEX_INITIALIZER};
    pufa_copy(l.month, sizeof l.month, M);
    pthread_t t;
    pthread_create(&t, NULL, lock_when_streaming, &l);

    void *zctx = zmq_ctx_new();
    void *d = pufa_itest_dealer(zctx, agg_listen, NULL, NULL, NULL);
    size_t sent = 0, acked = 0, nb = MAXB, after_lock = 0;
    long long deadline = pufa_mono_ms() + 120000;
    while (acked < nb && pufa_mono_ms() < deadline) {
        while (sent < nb && sent - acked < WINDOW) {
            for (size_t i = sent * BS; i < (sent + 1) * BS; i++) {
                new_id(ids[i]);
                char *j = report_json(ids[i], 1, "150824", M, (int)i + 1, false);
                pufa_report_init(&reps[i]);
                char err[256];
                assert_int_equal(pufa_intake_parse(PUFA_FMT_JSON, j, strlen(j), &v, collect,
                                                   &reps[i], err, sizeof err),
                                 0);
                free(j);
            }
            send_batch(d, 1000 + sent, reps + sent * BS, BS);
            sent++;
        }
        zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 200) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        Pufa__BatchAck *a = pufa__batch_ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(a);
        size_t b = a->batch_seq - 1000;
        assert_true(b < sent && a->n_results == BS);
        for (size_t i = 0; i < BS; i++)
            status[b * BS + i] = a->results[i]->status;
        pufa__batch_ack__free_unpacked(a, NULL);
        acked++;
        pthread_mutex_lock(&l.mu);
        l.acked_batches = acked;
        bool landed = l.http_status != 0;
        pthread_mutex_unlock(&l.mu);
        if (landed && ++after_lock == 10 && sent < nb)
            nb = sent; /* the ones in flight are the last */
    }
    const int N = (int)(nb * BS);
    zmq_close(d);
    zmq_ctx_term(zctx);
    pthread_join(t, NULL);
    assert_int_equal(acked, nb);
    assert_int_equal(l.http_status, 200);

    /* The ledger: committed ones are stored with their figures, locked
     * ones are not; nothing else. */
    long long committed = 0, locked = 0, sum = 0;
    pufa_buf cids, lids;
    pufa_buf_init(&cids);
    pufa_buf_init(&lids);
    pufa_buf_putc(&cids, '{');
    pufa_buf_putc(&lids, '{');
    for (int i = 0; i < N; i++) {
        if (status[i] == PUFA__REPORT_STATUS__STATUS_COMMITTED) {
            pufa_buf_printf(&cids, "%s%s", committed ? "," : "", ids[i]);
            committed++;
            sum += i + 1;
        } else if (status[i] == PUFA__REPORT_STATUS__STATUS_LOCKED) {
            pufa_buf_printf(&lids, "%s%s", locked ? "," : "", ids[i]);
            locked++;
        } else {
            fail_msg("report %d: status %d, want committed or locked", i, status[i]);
        }
    }
    pufa_buf_puts(&cids, "}");
    pufa_buf_puts(&lids, "}");
    pufa_buf_putc(&cids, '\0');
    pufa_buf_putc(&lids, '\0');
    print_message("race: %lld committed before the lock, %lld locked\n", committed, locked);
    assert_true(committed > 0);
    assert_true(locked > 0);
    const char *p1[1] = {cids.data};
    PGresult *r = PQexecParams(db,
                               "SELECT count(*), coalesce(sum(participants), 0),"
                               " count(*) FILTER (WHERE committed_at > (SELECT set_at FROM periods"
                               " WHERE org_code = '150824' AND month = date_trunc('month',"
                               " r.occurred_on)))"
                               " FROM reports r WHERE report_id = ANY($1::uuid[])",
                               1, NULL, p1, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(atoll(PQgetvalue(r, 0, 0)), committed);
    assert_int_equal(atoll(PQgetvalue(r, 0, 1)), sum);
    assert_int_equal(atoll(PQgetvalue(r, 0, 2)), 0); /* none committed after the lock */
    PQclear(r);
    const char *p2[1] = {lids.data};
    r = PQexecParams(db, "SELECT count(*) FROM reports WHERE report_id = ANY($1::uuid[])", 1, NULL,
                     p2, NULL, NULL, 0);
    assert_int_equal(atoll(PQgetvalue(r, 0, 0)), 0);
    PQclear(r);
    /* Each report refused LOCKED left exactly one audit row (a resend may
     * add one more of the same id: none here, every ack arrived). */
    r = PQexecParams(db,
                     "SELECT count(*), count(DISTINCT report_id) FROM period_audit"
                     " WHERE action = 'refuse_report' AND org_code = '150824'"
                     " AND report_id = ANY($1::uuid[])",
                     1, NULL, p2, NULL, NULL, 0);
    assert_int_equal(atoll(PQgetvalue(r, 0, 0)), locked);
    assert_int_equal(atoll(PQgetvalue(r, 0, 1)), locked);
    PQclear(r);
    /* The frozen total is the ledger's, in SQL, the rollups and the API. */
    assert_int_equal(participants_of("150824", M), sum);
    assert_int_equal(live_participants("150824", M), sum);
    json_t *full;
    free(period_state("150824", M, &full));
    assert_true(json_is_true(json_object_get(full, "frozen")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(full, "totals"), "participants")), sum);
    json_decref(full);
    pufa_buf_free(&cids);
    pufa_buf_free(&lids);
    for (size_t i = 0; i < sent * BS; i++)
        pufa_report_clear(&reps[i]);
    free(reps);
    free(ids);
    free(status);
}

/* kill -9 of the aggregator in the middle of an approval (rows written, no
 * COMMIT) and right after its COMMIT (no answer sent): after a restart the
 * period is exactly before, resp. after, and the audit agrees. */
static void kill_9_during_an_approval_leaves_before_or_after(void **state) {
    (void)state;
    char *done_sql = pufa_asprintf("SELECT count(*) FROM period_audit WHERE org_code = '150826'"
                                   " AND month = '%s-01' AND outcome = 'done'",
                                   month3);
    static const char *const faults[] = {"PUFA_FAULT=agg_kill_in_approval",
                                         "PUFA_FAULT=agg_kill_after_approval"};
    for (int k = 0; k < 2; k++) {
        stop_aggregator();
        start_aggregator("0", faults[k]);
        assert_state("150826", month3, "open");
        long long done_before = pufa_itest_sql_ll(db, done_sql);
        long long seq_before = pufa_itest_sql_ll(db, "SELECT seq FROM feed_state");
        char body[128];
        snprintf(body, sizeof body, "{\"action\":\"submit\",\"org\":\"150826\",\"month\":\"%s\"}",
                 month3);
        char *h = pufa_itest_office_auth(tmpdir, "county-150826", NULL);
        char *url = pufa_asprintf("http://127.0.0.1:%s/v1/approvals", agg_http);
        pufa_http_response r;
        char err[256];
        int rc = pufa_http_request("POST", url, h, body, strlen(body), 20000, &r, err, sizeof err);
        if (rc == 0) {
            pufa_buf_free(&r.body);
            fail_msg("the aggregator answered %d: it should have died first", r.status);
        }
        free(url);
        free(h);
        int st = pufa_proc_stop(&agg, SIGKILL, 5000);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        assert_int_equal(pufa_proc_count_log(&agg, "id=AGG-FAULT"), 1);
        start_aggregator("0", NULL);
        assert_state("150826", month3, k == 0 ? "open" : "submitted");
        assert_int_equal(pufa_itest_sql_ll(db, done_sql), done_before + k);
        /* The feed number went with the approval's transaction: taken
         * only if it committed, and the row carries it (the forwarder's
         * order). */
        assert_int_equal(pufa_itest_sql_ll(db, "SELECT seq FROM feed_state"), seq_before + k);
        if (k == 1)
            assert_int_equal(scalarf("SELECT commit_seq FROM periods WHERE org_code = '%s'"
                                     " AND month = '%s-01'",
                                     "150826", month3),
                             seq_before + 1);
    }
    free(done_sql);
}

/* entry_deadline_days: a month past its deadline is locked without anyone
 * submitting it; a county cannot lift that, its city can (an exception). */
static void deadline_locks_and_an_exception_reopens(void **state) {
    (void)state;
    stop_aggregator();
    start_aggregator("1", NULL);
    const char *M = month2;
    /* The new aggregator listens on a new port: a collector that knows it. */
    pufa_proc_stop(&col, SIGTERM, 15000);
    start_collector();
    char id[37];
    new_id(id);
    char need[80];
    snprintf(need, sizeof need, "period %s of 150825 is past its entry deadline", M);
    char *j = report_json(id, 1, "150825", M, 40, false);
    expect_locked(j, id, 1, need, "entry_deadline_days");
    json_t *ans;
    assert_int_equal(act("county-150825", "unlock", "150825", M, "补报", &ans), 403);
    json_decref(ans);
    act_ok("city-150800", "unlock", "150825", M, "乌拉特后旗补报");
    free(j);
    j = report_json(id, 2, "150825", M, 40, false);
    expect_committed(j, id, 2);
    free(j);
    /* The locks approved before this aggregator started are in its map. */
    char id4[37];
    new_id(id4);
    j = report_json(id4, 1, "150821", month1, 5, false);
    snprintf(need, sizeof need, "period %s of 150821", month1);
    expect_locked(j, id4, 1, need, "is approved (set by city-150800");
    free(j);
    assert_int_equal(participants_of("150825", M), 40);
    /* Submitting closes the exception: the deadline locks again, and the
     * month is submitted anyway. */
    act_ok("county-150825", "submit", "150825", M, NULL);
    j = report_json(id, 3, "150825", M, 41, false);
    expect_locked(j, id, 3, "150825", "submitted");
    free(j);
    assert_int_equal(participants_of("150825", M), 40);
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh approvals_test PUFA_BIN AGGREGATOR_BIN COLLECTOR_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    col_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_cycle_for_one_county_month),
        cmocka_unit_test(bad_credentials_and_bodies_change_nothing),
        cmocka_unit_test(lock_landing_mid_stream_loses_and_double_counts_nothing),
        cmocka_unit_test(kill_9_during_an_approval_leaves_before_or_after),
        cmocka_unit_test(deadline_locks_and_an_exception_reopens),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
