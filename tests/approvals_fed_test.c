/* Integration test of approvals on the commit feed and up the federation
 * (issue 17), with the real pufa and pufa-aggregator and PostgreSQL: a
 * province (150000) and one of its cities (150800 巴彦淖尔市) forwarding to
 * it, over CURVE, each with its own database and offices; the counties'
 * collectors are played by direct ReportBatch senders with county keys.
 *
 * - the city's feed carries every approval as a CommitDelta with the rows
 *   it wrote, gapless and in order with the report commits;
 * - county submit + city approve at the city show at the province live;
 *   the province accepts; the city reopens a county: the province's month
 *   is unaccepted, the revision goes up and is counted once (ledger);
 * - a city key sending states of units that are not its own: refused,
 *   never applied.
 * argv: PUFA_BIN AGGREGATOR_BIN. */
#include <jansson.h>
#include <libpq-fe.h>
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
#include "itest.h"
#include "keyfile.h"
#include "proc.h"
#include "pufa.pb-c.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin;
static char dir[64];
static void *zctx;
static char M[8]; /* last month */

typedef struct level {
    const char *name, *home, *upper;
    char pub[41], sec[41];
    char conninfo[512];
    PGconn *db;
    pufa_proc proc;
    char listen[128], http[16], feed[128];
    bool running;
} level;

enum { PROV, CITY, NLEVELS };
static level lv[NLEVELS] = {
    {.name = "prov", .home = "150000"},
    {.name = "city", .home = "150800", .upper = "prov"},
};

static const char *const counties[] = {"150802", "150821", "150822", "150823",
                                       "150824", "150825", "150826"};
#define NCOUNTIES 7
static char county_pub[NCOUNTIES][41], county_sec[NCOUNTIES][41];

/* The ledger: each report as last acknowledged committed at the city. */
typedef struct entry {
    char id[37];
    int county;
    uint32_t revision;
    int64_t participants;
} entry;
static entry ledger[64];
static size_t nledger;

/* ---- processes ---- */

static void start_level(level *l) {
    char *sec = pufa_asprintf("%s/%s.key", dir, l->name);
    char *allow = pufa_asprintf("%s/%s.allow", dir, l->name);
    char *listen = *l->listen ? pufa_strdup(l->listen) : pufa_strdup("tcp://127.0.0.1:0");
    char *http = pufa_asprintf("127.0.0.1:%s", *l->http ? l->http : "0");
    const char *extra[32] = {"--curve-secret-file", sec, "--allow-list", allow, "--home", l->home};
    int n = 6;
    char *upub = NULL;
    if (l->upper) {
        upub = pufa_asprintf("%s/%s.pub", dir, lv[PROV].name);
        extra[n++] = "--upstream";
        extra[n++] = lv[PROV].listen;
        extra[n++] = "--upstream-server-public-file";
        extra[n++] = upub;
        extra[n++] = "--heartbeat-ms";
        extra[n++] = "200";
    }
    extra[n] = NULL;
    pufa_itest_agg_start(&l->proc, agg_bin, extra,
                         &(pufa_itest_agg_opts){.db = l->conninfo, .listen = listen, .http = http});
    if (!pufa_itest_agg_wait(&l->proc, l->listen, l->feed, l->http, 1000, 20000))
        fail_msg("aggregator %s did not start", l->name);
    l->running = true;
    free(sec);
    free(allow);
    free(listen);
    free(http);
    free(upub);
}

/* -1 when NULL or no row. */
static long long scalar_ll(PGconn *c, const char *sql) {
    return pufa_itest_sql_ll_or(c, sql, -1);
}

/* ---- offices and the approval API ---- */

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
    json_error_t jerr;
    *out = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
    if (!*out)
        fail_msg("%s %s answered %d, not JSON", method, path, r.status);
    pufa_buf_free(&r.body);
    return r.status;
}

/* POST /v1/approvals at level l as office; the HTTP status, *out the answer. */
static int act(level *l, const char *office, const char *action, const char *org,
               const char *reason, json_t **out) {
    char *h = pufa_itest_office_auth(dir, office, NULL);
    json_t *o = json_pack("{s:s, s:s, s:s}", "action", action, "org", org, "month", M);
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int st = http("POST", l->http, "/v1/approvals", h, body, out);
    free(body);
    free(h);
    return st;
}

/* Acts and wants 200; the feed sequence the action took. */
static long long act_ok(level *l, const char *office, const char *action, const char *org,
                        const char *reason) {
    json_t *ans;
    int st = act(l, office, action, org, reason, &ans);
    if (st != 200) {
        char *s = json_dumps(ans, 0);
        fail_msg("%s at %s: %s %s: HTTP %d %s", office, l->name, action, org, st, s);
    }
    long long seq = json_integer_value(json_object_get(ans, "seq"));
    json_decref(ans);
    return seq;
}

static char *state_at(level *l, const char *org) {
    char *path = pufa_asprintf("/v1/periods?org=%s&month=%s", org, M);
    json_t *o;
    assert_int_equal(http("GET", l->http, path, NULL, NULL, &o), 200);
    free(path);
    char *s = pufa_strdup(json_string_value(json_object_get(o, "state")));
    json_decref(o);
    return s;
}

/* Waits (at most timeout_ms) until org's state at l is want; prints the
 * time it took. */
static void wait_state(level *l, const char *org, const char *want, int timeout_ms) {
    long long t0 = pufa_mono_ms(), deadline = t0 + timeout_ms;
    char *got = NULL;
    do {
        free(got);
        got = state_at(l, org);
        if (!strcmp(got, want)) {
            print_message("%s %s %s at %s after %lld ms\n", org, M, want, l->name,
                          pufa_mono_ms() - t0);
            free(got);
            return;
        }
        pufa_sleep_ms(50);
    } while (pufa_mono_ms() < deadline);
    fail_msg("%s %s at %s: %s after %d ms, want %s", org, M, l->name, got, timeout_ms, want);
}

/* ---- reports from the counties' collectors ---- */

static void *dealer(const level *l, const char *pub, const char *sec) {
    return pufa_itest_dealer(zctx, l->listen, l->pub, pub, sec);
}

/* Sends frame on d until its ack arrives (at most 30 s); the ack. */
static Pufa__BatchAck *send_acked(void *d, const pufa_buf *frame, uint64_t seq) {
    Pufa__BatchAck *a = pufa_itest_send_until_acked(d, frame, seq, 30000, false);
    if (!a)
        fail_msg("no ack for batch %llu", (unsigned long long)seq);
    return a;
}

/* Sends ledger entry e (as it stands) from its county's collector to the
 * city; the status it got. */
static int send_entry(const entry *e, char *reason, size_t rsize) {
    static uint64_t seq = 1;
    void *d = dealer(&lv[CITY], county_pub[e->county], county_sec[e->county]);
    pufa_report r;
    pufa_report_init(&r);
    r.report_id = pufa_strdup(e->id);
    r.revision = e->revision;
    r.county_code = pufa_strdup(counties[e->county]);
    r.unit_code = pufa_strdup("SFJ");
    r.occurred_on = pufa_asprintf("%s-10", M);
    r.theme = 2;
    r.venue = 3;
    r.form = 1;
    r.title = pufa_strdup("宪法进社区");
    r.counters[PUFA_C_SESSIONS] = 1;
    r.counters[PUFA_C_PARTICIPANTS] = e->participants;
    r.received_at_ms = pufa_now_ms();
    pufa_buf frame;
    pufa_buf_init(&frame);
    uint64_t s = seq++;
    pufa_batch_begin(&frame, "approvals-fed-test", s, pufa_now_ms());
    size_t len;
    uint8_t *enc = pufa_report_encode(&r, &len);
    pufa_batch_add(&frame, enc, len);
    free(enc);
    pufa_report_clear(&r);
    Pufa__BatchAck *a = send_acked(d, &frame, s);
    pufa_buf_free(&frame);
    zmq_close(d);
    assert_int_equal(a->n_results, 1);
    int st = a->results[0]->status;
    if (reason)
        snprintf(reason, rsize, "%s", a->results[0]->reason ? a->results[0]->reason : "");
    pufa_ack_destroy(&a);
    return st;
}

static entry *new_entry(int county, int64_t participants) {
    entry *e = &ledger[nledger++];
    uint8_t id[16];
    pufa_uuid_v7(id);
    pufa_uuid_format(id, e->id);
    e->county = county;
    e->revision = 1;
    e->participants = participants;
    assert_int_equal(send_entry(e, NULL, 0), PUFA__REPORT_STATUS__STATUS_COMMITTED);
    return e;
}

/* The ledger's participants of the month, and the province's, must agree
 * report by report (id, revision) and in total, within timeout_ms. */
static void province_matches_ledger(int timeout_ms) {
    long long want = 0;
    pufa_buf ids;
    pufa_buf_init(&ids);
    for (size_t i = 0; i < nledger; i++) {
        want += ledger[i].participants;
        pufa_buf_printf(&ids, "%s('%s', %u)", i ? "," : "", ledger[i].id, ledger[i].revision);
    }
    char *sql_sum = pufa_asprintf("SELECT coalesce(sum(participants), 0) FROM reports"
                                  " WHERE to_char(occurred_on, 'YYYY-MM') = '%s'",
                                  M);
    char *sql_match = pufa_asprintf("SELECT count(*) FROM reports WHERE (report_id::text, revision)"
                                    " IN (VALUES %s)",
                                    ids.data);
    long long deadline = pufa_mono_ms() + timeout_ms, sum = -1, match = -1;
    while (pufa_mono_ms() < deadline) {
        sum = scalar_ll(lv[PROV].db, sql_sum);
        match = scalar_ll(lv[PROV].db, sql_match);
        if (sum == want && match == (long long)nledger)
            break;
        pufa_sleep_ms(100);
    }
    assert_int_equal(sum, want);
    assert_int_equal(match, (long long)nledger);
    /* Nothing more than the ledger: no report doubled, none extra. */
    char *sql_n = pufa_asprintf("SELECT count(*) FROM reports WHERE to_char(occurred_on,"
                                " 'YYYY-MM') = '%s'",
                                M);
    assert_int_equal(scalar_ll(lv[PROV].db, sql_n), (long long)nledger);
    assert_int_equal(scalar_ll(lv[CITY].db, sql_sum), want);
    free(sql_n);
    free(sql_sum);
    free(sql_match);
    pufa_buf_free(&ids);
}

/* ---- the feed ---- */

static void *subscribe(const level *l) {
    void *s = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "delta", 5);
    assert_int_equal(zmq_connect(s, l->feed), 0);
    return s;
}

/* Receives deltas on s until one with seq >= until (at most 10 s), in
 * out[0..*n) (decoded; the caller frees each). */
static void read_deltas(void *s, uint64_t until, pufa_delta *out, size_t *n, size_t max) {
    long long deadline = pufa_mono_ms() + 10000;
    while (pufa_mono_ms() < deadline && *n < max) {
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 200) != 1)
            continue;
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        zmq_msg_recv(&topic, s, 0);
        zmq_msg_recv(&body, s, 0);
        pufa_delta d;
        assert_int_equal(pufa_delta_decode(zmq_msg_data(&body), zmq_msg_size(&body), &d), 0);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        out[(*n)++] = d;
        if (d.seq >= until)
            return;
    }
    fail_msg("the feed did not reach seq %llu in 10 s", (unsigned long long)until);
}

/* The periods of delta d, as "org:state,..." sorted by org. */
static char *periods_of(const pufa_delta *d) {
    pufa_buf b;
    pufa_buf_init(&b);
    for (size_t i = 0; i < d->n_periods; i++) {
        char m[8];
        snprintf(m, sizeof m, "%04d-%02d", d->periods[i].year, d->periods[i].month);
        assert_string_equal(m, M);
        pufa_buf_printf(&b, "%s%s:%s", i ? "," : "", d->periods[i].org_code,
                        pufa_period_state_name(d->periods[i].state));
    }
    pufa_buf_putc(&b, '\0');
    return pufa_buf_steal(&b);
}

/* ---- setup ---- */

static int group_setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pufa-afed-XXXXXX");
    if (!mkdtemp(dir) || sodium_init() < 0)
        return -1;
    pufa_itest_month_back(1, M);
    const char *src = getenv("PUFA_SOURCE_DIR");
    PGconn *super = PQconnectdb(getenv("PUFA_TEST_DB"));
    if (PQstatus(super) != CONNECTION_OK)
        return -1;
    for (int i = 0; i < NLEVELS; i++) {
        level *l = &lv[i];
        char *name = pufa_asprintf("afed_%s", l->name);
        char *org_units =
            pufa_asprintf("%s/deploy/data/divisions/%s", src ? src : ".", "province-150000.csv");
        int rc = pufa_itest_level_db(super, pufa_bin, name, org_units, l->conninfo,
                                     sizeof l->conninfo, &l->db);
        free(name);
        free(org_units);
        if (rc)
            return -1;
        pufa_itest_keygen(pufa_bin, dir, l->name, l->pub, l->sec);
    }
    PQfinish(super);
    pufa_buf city, prov;
    pufa_buf_init(&city);
    pufa_buf_init(&prov);
    for (int k = 0; k < NCOUNTIES; k++) {
        char *name = pufa_asprintf("county-%s", counties[k]);
        pufa_itest_keygen(pufa_bin, dir, name, county_pub[k], county_sec[k]);
        pufa_buf_printf(&city, "%s %s\n", county_pub[k], counties[k]);
        pufa_itest_add_office(pufa_bin, lv[CITY].conninfo, dir, name, counties[k], "submitter");
        free(name);
    }
    pufa_buf_printf(&prov, "%s 150800\n", lv[CITY].pub);
    pufa_itest_write_file(dir, "city.allow", city.data);
    pufa_itest_write_file(dir, "prov.allow", prov.data);
    pufa_buf_free(&city);
    pufa_buf_free(&prov);
    pufa_itest_add_office(pufa_bin, lv[CITY].conninfo, dir, "city-150800", "150800", "approver");
    pufa_itest_add_office(pufa_bin, lv[PROV].conninfo, dir, "province-150000", "150000",
                          "acceptor");
    zctx = zmq_ctx_new();
    start_level(&lv[PROV]);
    start_level(&lv[CITY]);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    int rc = 0;
    for (int i = NLEVELS - 1; i >= 0; i--) {
        if (lv[i].running) {
            /* A clean exit: under ASan a leak or an error makes it non-zero. */
            int st = pufa_proc_stop(&lv[i].proc, SIGTERM, 15000);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                pufa_proc_dump(&lv[i].proc);
                fprintf(stderr, "aggregator %s: exit status %d\n", lv[i].name, st);
                rc = -1;
            }
        }
        PQfinish(lv[i].db);
    }
    zmq_ctx_term(zctx);
    pufa_test_rm_rf(dir);
    return rc;
}

/* ---- the tests ---- */

/* The city's feed: every approval is a delta of its own, numbered in
 * order with the report commits (no gap), holding the rows it wrote,
 * cascades included; the province sees the states live; it accepts; the
 * city reopens a county: the province's month is unaccepted, the revision
 * goes up and is counted once; approve and accept again. */
static void approvals_on_the_feed_and_up_the_levels(void **state) {
    (void)state;
    void *sub = subscribe(&lv[CITY]);
    pufa_sleep_ms(300); /* the subscription reaches the PUB */
    long long seq0 = scalar_ll(lv[CITY].db, "SELECT seq FROM feed_state");
    entry *e = new_entry(1, 100); /* 150821 */
    for (int k = 0; k < NCOUNTIES; k++)
        if (k != 1)
            new_entry(k, 10 + k);
    long long s_submit = 0;
    for (int k = 0; k < NCOUNTIES; k++) {
        char name[32];
        snprintf(name, sizeof name, "county-%s", counties[k]);
        long long s = act_ok(&lv[CITY], name, "submit", counties[k], NULL);
        assert_true(s > seq0);
        if (k == 1)
            s_submit = s;
    }
    /* A revision after the submit: refused LOCKED at the city. */
    e->revision = 2;
    e->participants = 120;
    char reason[512];
    assert_int_equal(send_entry(e, reason, sizeof reason), PUFA__REPORT_STATUS__STATUS_LOCKED);
    assert_non_null(strstr(reason, "is submitted"));
    e->revision = 1;
    e->participants = 100;
    long long s_approve = act_ok(&lv[CITY], "city-150800", "approve", "150800", "核实无误");
    pufa_delta ds[64];
    size_t nd = 0;
    read_deltas(sub, (uint64_t)s_approve, ds, &nd, 64);
    /* Gapless from the first delta after subscribing, reports and
     * approvals alike, up to the approval. */
    assert_true(nd >= 2);
    for (size_t i = 1; i < nd; i++)
        assert_int_equal(ds[i].seq, ds[i - 1].seq + 1);
    assert_int_equal(ds[nd - 1].seq, (uint64_t)s_approve);
    char *p = NULL;
    for (size_t i = 0; i < nd; i++) {
        if (ds[i].seq == (uint64_t)s_submit) {
            p = periods_of(&ds[i]);
            assert_string_equal(p, "150821:submitted");
            assert_int_equal(ds[i].n_cells, 0);
            assert_string_equal(ds[i].periods[0].set_by, "county-150821");
            assert_string_equal(ds[i].periods[0].set_by_org, "150821");
            free(p);
        }
    }
    p = periods_of(&ds[nd - 1]);
    assert_string_equal(p, "150800:approved,150802:approved,150821:approved,150822:approved,"
                           "150823:approved,150824:approved,150825:approved,150826:approved");
    free(p);
    assert_string_equal(ds[nd - 1].periods[0].reason, "核实无误");
    for (size_t i = 0; i < nd; i++)
        pufa_delta_free(&ds[i]);

    /* Live at the province, with who set it, marked as from the link. */
    wait_state(&lv[PROV], "150800", "approved", 15000);
    wait_state(&lv[PROV], "150821", "approved", 5000);
    char *sql = pufa_asprintf("SELECT count(*) FROM periods WHERE via = 'aggregator-150800'"
                              " AND set_by = 'city-150800' AND to_char(month, 'YYYY-MM') = '%s'",
                              M);
    assert_int_equal(scalar_ll(lv[PROV].db, sql), 8);
    free(sql);
    province_matches_ledger(15000);

    /* The province's own feed carries what arrived from the city. */
    void *psub = subscribe(&lv[PROV]);
    pufa_sleep_ms(300);
    /* The province accepts the city's month (the city approved it). */
    long long s_acc = act_ok(&lv[PROV], "province-150000", "accept", "150800", NULL);
    nd = 0;
    read_deltas(psub, (uint64_t)s_acc, ds, &nd, 64);
    p = periods_of(&ds[nd - 1]);
    assert_string_equal(p, "150800:accepted,150802:accepted,150821:accepted,150822:accepted,"
                           "150823:accepted,150824:accepted,150825:accepted,150826:accepted");
    free(p);
    for (size_t i = 0; i < nd; i++)
        pufa_delta_free(&ds[i]);
    json_t *ans;
    assert_int_equal(act(&lv[PROV], "province-150000", "accept", "150800", NULL, &ans), 409);
    assert_non_null(strstr(json_string_value(json_object_get(ans, "error")), "already accepted"));
    json_decref(ans);
    /* Inner Mongolia has more cities than this test runs; they are open, so
     * the province's own month cannot be accepted (refused naming one). */
    assert_int_equal(act(&lv[PROV], "province-150000", "accept", "150000", NULL, &ans), 409);
    assert_non_null(strstr(json_string_value(json_object_get(ans, "error")), "150900"));
    json_decref(ans);

    /* Accepted at the province: locked at every level below.  The city's
     * state is approved, so the city refuses the revision itself. */
    e->revision = 2;
    e->participants = 120;
    assert_int_equal(send_entry(e, reason, sizeof reason), PUFA__REPORT_STATUS__STATUS_LOCKED);
    assert_non_null(strstr(reason, "is approved"));

    /* The city reopens 五原县: the province's city month is unaccepted
     * (open), live; the revision then goes up and is counted once. */
    act_ok(&lv[CITY], "city-150800", "unlock", "150821", "更正参与人数");
    wait_state(&lv[PROV], "150821", "open", 15000);
    wait_state(&lv[PROV], "150800", "open", 5000);
    char *other = state_at(&lv[PROV], "150822");
    assert_string_equal(other, "accepted"); /* the other counties keep the province's word */
    free(other);
    assert_int_equal(send_entry(e, NULL, 0), PUFA__REPORT_STATUS__STATUS_COMMITTED);
    province_matches_ledger(15000);
    /* The province's audit of 五原县's month: the states from the city, in
     * order, each marked with the link. */
    /* (The submitted state goes up too when the forwarder reads it before
     * the approval overwrote it: timing, so left out here.) */
    sql = pufa_asprintf("SELECT string_agg(action || ':' || to_state || ':' || actor || ':' || via,"
                        " ',' ORDER BY id) FROM period_audit WHERE org_code = '150821' AND"
                        " to_char(month, 'YYYY-MM') = '%s' AND to_state <> 'submitted'",
                        M);
    PGresult *r = PQexec(lv[PROV].db, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "remote:approved:city-150800:aggregator-150800,"
                                             "accept:accepted:province-150000:,"
                                             "remote:open:city-150800:aggregator-150800");
    PQclear(r);
    free(sql);

    /* Submit and approve again: up again, accepted again. */
    act_ok(&lv[CITY], "county-150821", "submit", "150821", NULL);
    act_ok(&lv[CITY], "city-150800", "approve", "150800", NULL);
    wait_state(&lv[PROV], "150800", "approved", 15000);
    act_ok(&lv[PROV], "province-150000", "accept", "150800", NULL);
    wait_state(&lv[PROV], "150821", "accepted", 1000);
    province_matches_ledger(5000);
    zmq_close(psub);
    zmq_close(sub);
}

/* The province down while the city reopens a county, takes a revision
 * and approves again: only the latest states travel (the reopening is
 * never seen above), yet the revision, decided at the city under the
 * city's own lock, is counted at the province, not refused against the
 * province's stale "accepted"; the city's month comes back approved, to
 * be accepted again. */
static void a_reopening_not_seen_above_loses_nothing(void **state) {
    (void)state;
    int st = pufa_proc_stop(&lv[PROV].proc, SIGTERM, 15000);
    lv[PROV].running = false;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    entry *e = &ledger[0]; /* 150821's report */
    act_ok(&lv[CITY], "city-150800", "unlock", "150821", "再次更正");
    e->revision = 3;
    e->participants = 130;
    assert_int_equal(send_entry(e, NULL, 0), PUFA__REPORT_STATUS__STATUS_COMMITTED);
    act_ok(&lv[CITY], "county-150821", "submit", "150821", NULL);
    act_ok(&lv[CITY], "city-150800", "approve", "150800", NULL);
    start_level(&lv[PROV]);
    province_matches_ledger(30000);
    wait_state(&lv[PROV], "150800", "approved", 15000);
    wait_state(&lv[PROV], "150821", "approved", 1000);
    assert_int_equal(scalar_ll(lv[CITY].db, "SELECT count(*) FROM forward_refused"), 0);
    act_ok(&lv[PROV], "province-150000", "accept", "150800", NULL);
}

/* The city's key sending states of units that are not its own (another
 * city's county, the province itself): refused and logged, never applied;
 * its own units' states are applied. */
static void states_outside_the_senders_unit_are_refused(void **state) {
    (void)state;
    void *d = dealer(&lv[PROV], lv[CITY].pub, lv[CITY].sec);
    long long refused0 = pufa_http_metric(lv[PROV].http, "pufa_aggregator_periods_refused_total ");
    pufa_buf frame;
    pufa_buf_init(&frame);
    pufa_batch_link link = {
        .has_as_of = true, .as_of_seq = (uint64_t)1 << 40, .as_of_ms = pufa_now_ms()};
    pufa_batch_begin_link(&frame, "aggregator-150800", 77, pufa_now_ms(), &link);
    pufa_period bad1 = {.org_code = "150921", .state = PUFA_PERIOD_APPROVED, .set_by = "x"};
    pufa_period bad2 = {.org_code = "150000", .state = PUFA_PERIOD_ACCEPTED, .set_by = "x"};
    pufa_period bad3 = {.org_code = "150825", .state = PUFA_PERIOD_APPROVED, .set_by = ""};
    pufa_period good = {.org_code = "150826",
                        .state = PUFA_PERIOD_SUBMITTED,
                        .set_by = "county-150826",
                        .set_by_org = "150826"};
    pufa_period *all[4] = {&bad1, &bad2, &bad3, &good};
    int y = atoi(M), mo = atoi(M + 5);
    for (int i = 0; i < 4; i++) {
        all[i]->year = y + 1; /* a month nobody else touches */
        all[i]->month = mo;
        pufa_batch_add_period(&frame, all[i]);
    }
    Pufa__BatchAck *a = send_acked(d, &frame, 77);
    assert_null(a->error);
    pufa_ack_destroy(&a);
    /* The same states again (a resend), then an older state of 150826 (a
     * replay from an earlier cursor): neither is applied again. */
    pufa_batch_begin_link(&frame, "aggregator-150800", 78, pufa_now_ms(), &link);
    pufa_batch_add_period(&frame, &good);
    a = send_acked(d, &frame, 78);
    pufa_ack_destroy(&a);
    link.as_of_seq -= 5;
    pufa_period older = good;
    older.state = PUFA_PERIOD_OPEN;
    pufa_batch_begin_link(&frame, "aggregator-150800", 79, pufa_now_ms(), &link);
    pufa_batch_add_period(&frame, &older);
    a = send_acked(d, &frame, 79);
    pufa_ack_destroy(&a);
    pufa_buf_free(&frame);
    zmq_close(d);
    char *sqla = pufa_asprintf("SELECT count(*) FROM period_audit WHERE org_code = '150826'"
                               " AND extract(year FROM month) = %d",
                               y + 1);
    assert_int_equal(scalar_ll(lv[PROV].db, sqla), 1);
    free(sqla);
    assert_int_equal(
        pufa_http_metric(lv[PROV].http, "pufa_aggregator_periods_refused_total ") - refused0, 3);
    char *sql = pufa_asprintf("SELECT string_agg(org_code || ':' || state || ':' || via, ',')"
                              " FROM periods WHERE extract(year FROM month) = %d",
                              y + 1);
    PGresult *r = PQexec(lv[PROV].db, sql);
    assert_string_equal(PQgetvalue(r, 0, 0), "150826:submitted:aggregator-150800");
    PQclear(r);
    free(sql);
    assert_true(pufa_proc_wait_log(&lv[PROV].proc, "id=AGG-PERIOD-REFUSED", NULL, NULL, 0, 1000));
}

int main(int argc, char **argv) {
    if (argc < 3 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: approvals_fed_test PUFA_BIN AGGREGATOR_BIN (with-pg.sh)\n");
        return 2;
    }
    pufa_bin = argv[1];
    agg_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(approvals_on_the_feed_and_up_the_levels),
        cmocka_unit_test(a_reopening_not_seen_above_loses_nothing),
        cmocka_unit_test(states_outside_the_senders_unit_are_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
