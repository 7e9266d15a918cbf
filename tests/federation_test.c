/* Integration test: forwarding up the levels, with the real aggregator and
 * PostgreSQL.  Four databases in one server and four aggregators: two
 * cities of Inner Mongolia (150800 巴彦淖尔市, 150900 乌兰察布市) forward to
 * the province (150000), which forwards to the nation (100000).  Direct
 * ReportBatch senders with county keys play the counties' collectors; the
 * test keeps a ledger of every acknowledged report (latest revision,
 * retracted or not) and checks every level against it, per county and
 * figure, and the reports themselves (id, revision, retracted, received_at)
 * level by level.  Everything runs over CURVE with each level's allow-list.
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
#include "cells.h"
#include "itest.h"
#include "keyfile.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin;
static char dir[64];
static void *zctx;

/* One level: its database, key pair, aggregator and endpoints. */
typedef struct level {
    const char *name; /* database and key name */
    const char *home;
    const char *upper; /* name of the level above, or NULL */
    char pub[41], sec[41];
    char conninfo[512];
    PGconn *db;
    pufa_proc proc;
    char listen[128], http[16];
    bool running;
} level;

enum { NAT, PROV, C1, C2, NLEVELS };
static level lv[NLEVELS] = {
    {.name = "nat", .home = "100000"},
    {.name = "prov", .home = "150000", .upper = "nat"},
    {.name = "c1", .home = "150800", .upper = "prov"},
    {.name = "c2", .home = "150900", .upper = "prov"},
};

/* The county senders' keys. */
typedef struct county_key {
    const char *county;
    int city; /* C1 or C2 */
    char pub[41], sec[41];
} county_key;
static county_key ck[] = {
    {.county = "150802", .city = C1},
    {.county = "150821", .city = C1},
    {.county = "150902", .city = C2},
    {.county = "150921", .city = C2},
};
#define NCOUNTY (sizeof ck / sizeof ck[0])

/* The ledger: every report as last acknowledged. */
typedef struct entry {
    char id[37];
    size_t county; /* index into ck */
    uint32_t revision;
    bool retracted;
    int64_t sessions, participants, funds_fen;
    int64_t received_ms;
} entry;
static entry *ledger;
static size_t nledger;
static unsigned rnd = 12345;

static level *find(const char *name) {
    for (int i = 0; i < NLEVELS; i++)
        if (!strcmp(lv[i].name, name))
            return &lv[i];
    return NULL;
}

/* Each level's allow-list: the county keys at the cities, the cities' keys
 * at the province, the province's at the nation.  c1_unit binds city 1's
 * key at the province (normally 150800). */
static void write_allow_lists(const char *c1_unit) {
    for (int i = 0; i < NLEVELS; i++) {
        pufa_buf b;
        pufa_buf_init(&b);
        pufa_buf_puts(&b, "# federation_test\n");
        for (size_t k = 0; k < NCOUNTY; k++)
            if (ck[k].city == i)
                pufa_buf_printf(&b, "%s %s\n", ck[k].pub, ck[k].county);
        for (int j = 0; j < NLEVELS; j++)
            if (lv[j].upper && !strcmp(lv[j].upper, lv[i].name))
                pufa_buf_printf(&b, "%s %s\n", lv[j].pub, j == C1 ? c1_unit : lv[j].home);
        char *name = pufa_asprintf("%s.allow", lv[i].name);
        pufa_itest_write_file(dir, name, b.data);
        free(name);
        pufa_buf_free(&b);
    }
}

/* Starts level l (on its previous endpoints when it ran before, so that the
 * level below finds it again), with env_extra (or NULL) in its environment. */
static void start_level(level *l, const char *env_extra) {
    char *sec = pufa_asprintf("%s/%s.key", dir, l->name);
    char *allow = pufa_asprintf("%s/%s.allow", dir, l->name);
    char *listen = *l->listen ? pufa_strdup(l->listen) : pufa_strdup("tcp://127.0.0.1:0");
    char *http = pufa_asprintf("127.0.0.1:%s", *l->http ? l->http : "0");
    const char *extra[32] = {
        "--curve-secret-file", sec,    "--allow-list", allow, "--home", l->home,
        "--compact-interval",  "200ms"};
    int n = 8;
    char *upub = NULL;
    if (l->upper) {
        level *u = find(l->upper);
        assert_true(*u->listen);
        upub = pufa_asprintf("%s/%s.pub", dir, u->name);
        extra[n++] = "--upstream";
        extra[n++] = u->listen;
        extra[n++] = "--upstream-server-public-file";
        extra[n++] = upub;
        extra[n++] = "--forward-batch";
        extra[n++] = "100";
        extra[n++] = "--heartbeat-ms";
        extra[n++] = "200";
    }
    extra[n] = NULL;
    pufa_itest_agg_start(&l->proc, agg_bin, extra,
                         &(pufa_itest_agg_opts){
                             .db = l->conninfo, .listen = listen, .http = http, .env = env_extra});
    if (!pufa_itest_agg_wait(&l->proc, l->listen, NULL, l->http, 1000, 20000))
        fail_msg("aggregator %s did not start", l->name);
    l->running = true;
    free(sec);
    free(allow);
    free(listen);
    free(http);
    free(upub);
}

static void stop_level(level *l) {
    int st = pufa_proc_stop(&l->proc, SIGTERM, 15000);
    l->running = false;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        pufa_proc_dump(&l->proc);
        fail_msg("aggregator %s: exit status %d", l->name, st);
    }
}

static long long count_reports(level *l) {
    char *v = pufa_itest_sql_str(l->db, "SELECT count(*) FROM reports");
    long long n = atoll(v);
    free(v);
    return n;
}

static long long metric(level *l, const char *name) {
    return pufa_http_metric(l->http, name);
}

/* ---- sending reports as a county's collector would ---- */

static void to_report(const entry *e, pufa_report *r) {
    pufa_report_init(r);
    r->report_id = pufa_strdup(e->id);
    r->revision = e->revision;
    r->retracted = e->retracted;
    r->county_code = pufa_strdup(ck[e->county].county);
    r->unit_code = pufa_strdup("SFJ");
    r->occurred_on = pufa_strdup("2026-11-20");
    r->theme = 2;
    r->venue = 3;
    r->form = 1;
    r->title = pufa_strdup("宪法进社区");
    r->counters[PUFA_C_SESSIONS] = e->sessions;
    r->counters[PUFA_C_PARTICIPANTS] = e->participants;
    r->counters[PUFA_C_FUNDS_FEN] = e->funds_fen;
    r->received_at_ms = e->received_ms;
}

static void *dealer_to(const level *l, const char *pub, const char *sec) {
    return pufa_itest_dealer(zctx, l->listen, l->pub, pub, sec);
}

/* Sends ledger entries [from, to) (as they stand) through their counties'
 * keys, every report acknowledged committed, duplicate or stale.  false
 * when a batch got no ack in timeout_ms (must: fail the test then). */
static bool deliver_within(size_t from, size_t to, int timeout_ms, bool must) {
    static uint64_t batch_seq = 1;
    for (size_t k = 0; k < NCOUNTY; k++) {
        level *city = &lv[ck[k].city];
        void *d = dealer_to(city, ck[k].pub, ck[k].sec);
        size_t i = from;
        while (i < to) {
            pufa_buf frame;
            pufa_buf_init(&frame);
            uint64_t seq = batch_seq++;
            pufa_batch_begin(&frame, "federation-test", seq, pufa_now_ms());
            size_t n = 0;
            for (; i < to && n < 200; i++) {
                if (ledger[i].county != k)
                    continue;
                pufa_report r;
                to_report(&ledger[i], &r);
                size_t len;
                uint8_t *enc = pufa_report_encode(&r, &len);
                pufa_batch_add(&frame, enc, len);
                free(enc);
                pufa_report_clear(&r);
                n++;
            }
            if (n == 0) {
                pufa_buf_free(&frame);
                break;
            }
            Pufa__BatchAck *a = pufa_itest_send_until_acked(d, &frame, seq, timeout_ms, true);
            pufa_buf_free(&frame);
            if (!a && !must) {
                zmq_close(d);
                return false;
            }
            if (!a)
                fail_msg("no ack from city %s for %zu reports of %s", city->name, n, ck[k].county);
            assert_int_equal(a->n_results, n);
            for (size_t j = 0; j < n; j++) {
                int st = a->results[j]->status;
                if (st < PUFA__REPORT_STATUS__STATUS_COMMITTED ||
                    st > PUFA__REPORT_STATUS__STATUS_STALE)
                    fail_msg("city %s: report refused: %s", city->name,
                             a->results[j]->reason ? a->results[j]->reason : "?");
            }
            pufa_ack_destroy(&a);
        }
        zmq_close(d);
    }
    return true;
}

static void deliver(size_t from, size_t to) {
    deliver_within(from, to, 90000, true);
}

/* Adds n new reports spread over the counties. */
static size_t add_reports(size_t n) {
    size_t first = nledger;
    ledger = pufa_realloc(ledger, (nledger + n) * sizeof *ledger);
    for (size_t i = 0; i < n; i++) {
        entry *e = &ledger[nledger++];
        memset(e, 0, sizeof *e);
        uint8_t id[16];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, e->id);
        e->county = (size_t)(rand_r(&rnd) % NCOUNTY);
        e->revision = 1;
        e->sessions = 1 + rand_r(&rnd) % 5;
        e->participants = 10 + rand_r(&rnd) % 1000;
        e->funds_fen = rand_r(&rnd) % 100000;
        /* received by the county an hour ago: every level keeps that time */
        e->received_ms = pufa_now_ms() - 3600000 - (int64_t)(rand_r(&rnd) % 1000);
    }
    return first;
}

/* Corrects (a new revision with other figures) or retracts entries
 * [from, to) every step-th; returns how many changed. */
static size_t revise(size_t from, size_t to, size_t step, bool retract) {
    size_t n = 0;
    for (size_t i = from; i < to; i += step) {
        entry *e = &ledger[i];
        e->revision++;
        if (retract)
            e->retracted = true;
        else
            e->participants += 1000;
        n++;
    }
    return n;
}

/* Sends the changed entries (revision > 1) again: the ledger as it stands. */
static void deliver_revised(size_t from, size_t to) {
    /* Move the revised ones to a contiguous tail copy, send, drop the copy. */
    size_t base = nledger, extra = 0;
    for (size_t i = from; i < to; i++)
        if (ledger[i].revision > 1)
            extra++;
    ledger = pufa_realloc(ledger, (nledger + extra) * sizeof *ledger);
    for (size_t i = from; i < to; i++)
        if (ledger[i].revision > 1)
            ledger[nledger++] = ledger[i];
    deliver(base, nledger);
    nledger = base;
}

/* ---- the checks ---- */

/* "county reports sessions participants funds_fen" per county of the
 * ledger whose city is city (or any city for -1), sorted. */
static char *ledger_totals(int city) {
    pufa_buf b;
    pufa_buf_init(&b);
    for (size_t k = 0; k < NCOUNTY; k++) {
        size_t want = k;
        /* sorted by code: ck is in code order */
        if (city >= 0 && ck[want].city != city)
            continue;
        long long f[4] = {0};
        for (size_t i = 0; i < nledger; i++)
            if (ledger[i].county == want && !ledger[i].retracted) {
                f[0]++;
                f[1] += ledger[i].sessions;
                f[2] += ledger[i].participants;
                f[3] += ledger[i].funds_fen;
            }
        if (f[0])
            pufa_buf_printf(&b, "%s %lld %lld %lld %lld\n", ck[want].county, f[0], f[1], f[2],
                            f[3]);
    }
    return pufa_buf_steal(&b);
}

static char *level_totals(level *l) {
    pufa_buf b;
    pufa_buf_init(&b);
    PGresult *r = PQexec(l->db, "SELECT county_code, sum(reports), sum(sessions),"
                                " sum(participants), sum(funds_fen) FROM rollup_live"
                                " WHERE dim = 'total' GROUP BY county_code"
                                " HAVING sum(reports) <> 0 ORDER BY county_code");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s totals: %s", l->name, PQresultErrorMessage(r));
    for (int i = 0; i < PQntuples(r); i++)
        pufa_buf_printf(&b, "%s %s %s %s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                        PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
    PQclear(r);
    return pufa_buf_steal(&b);
}

/* The reports of level l under unit prefix (e.g. "1508"), as text:
 * id, revision, retracted, received_at ms. */
static char *level_reports(level *l, const char *prefix) {
    char *q = pufa_asprintf(
        "SELECT coalesce(md5(string_agg(report_id || ':' || revision || ':' || retracted || ':' ||"
        " (extract(epoch FROM received_at) * 1000)::int8, ',' ORDER BY report_id)), '') || '/' ||"
        " count(*) FROM reports WHERE county_code LIKE '%s%%'",
        prefix);
    char *v = pufa_itest_sql_str(l->db, q);
    free(q);
    return v;
}

/* Waits until the province and the nation hold exactly the cities'
 * reports (or fails after timeout_ms). */
static void wait_converged(int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    char *want1 = NULL, *want2 = NULL;
    for (;;) {
        free(want1);
        free(want2);
        want1 = level_reports(&lv[C1], "1508");
        want2 = level_reports(&lv[C2], "1509");
        bool ok = true;
        for (int i = NAT; i <= PROV && ok; i++) {
            char *g1 = level_reports(&lv[i], "1508"), *g2 = level_reports(&lv[i], "1509");
            ok = !strcmp(g1, want1) && !strcmp(g2, want2);
            free(g1);
            free(g2);
        }
        if (ok)
            break;
        if (pufa_mono_ms() > deadline)
            fail_msg("levels did not converge in %d ms: c1 %s c2 %s, prov %lld nat %lld reports",
                     timeout_ms, want1, want2, count_reports(&lv[PROV]), count_reports(&lv[NAT]));
        pufa_sleep_ms(100);
    }
    free(want1);
    free(want2);
}

/* Every level equals the ledger per county and figure, and its rollups
 * equal its own reports cell by cell. */
static void check_all_levels(void) {
    char *all = ledger_totals(-1), *t1 = ledger_totals(C1), *t2 = ledger_totals(C2);
    char *got;
    got = level_totals(&lv[C1]);
    assert_lines_equal(got, t1, "city 150800 totals vs the ledger");
    free(got);
    got = level_totals(&lv[C2]);
    assert_lines_equal(got, t2, "city 150900 totals vs the ledger");
    free(got);
    got = level_totals(&lv[PROV]);
    assert_lines_equal(got, all, "province totals vs the ledger (= the two cities)");
    free(got);
    got = level_totals(&lv[NAT]);
    assert_lines_equal(got, all, "nation totals vs the ledger");
    free(got);
    for (int i = 0; i < NLEVELS; i++)
        assert_cells_equal_reports(lv[i].db, "rollup_live");
    free(all);
    free(t1);
    free(t2);
}

/* ---- the tests ---- */

static int group_setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pufa-fed-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    const char *src = getenv("PUFA_SOURCE_DIR");
    PGconn *super = PQconnectdb(getenv("PUFA_TEST_DB"));
    if (PQstatus(super) != CONNECTION_OK)
        return -1;
    for (int i = 0; i < NLEVELS; i++) {
        level *l = &lv[i];
        char *name = pufa_asprintf("fed_%s", l->name);
        char *org_units = pufa_asprintf("%s/deploy/data/divisions/%s", src ? src : ".",
                                        i == NAT ? "nation.csv" : "province-150000.csv");
        int rc = pufa_itest_level_db(super, pufa_bin, name, org_units, l->conninfo,
                                     sizeof l->conninfo, &l->db);
        free(name);
        free(org_units);
        if (rc)
            return -1;
        pufa_itest_keygen(pufa_bin, dir, l->name, l->pub, l->sec);
    }
    PQfinish(super);
    for (size_t k = 0; k < NCOUNTY; k++) {
        char *name = pufa_asprintf("county-%s", ck[k].county);
        pufa_itest_keygen(pufa_bin, dir, name, ck[k].pub, ck[k].sec);
        free(name);
    }
    write_allow_lists("150800");
    zctx = zmq_ctx_new();
    /* Top down, so that each level knows the endpoint of the one above. */
    for (int i = 0; i < NLEVELS; i++)
        start_level(&lv[i], NULL);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    for (int i = NLEVELS - 1; i >= 0; i--) {
        if (lv[i].running)
            pufa_proc_stop(&lv[i].proc, SIGTERM, 15000);
        PQfinish(lv[i].db);
    }
    zmq_ctx_term(zctx);
    free(ledger);
    pufa_test_rm_rf(dir);
    return 0;
}

/* New reports, corrections and retractions at the cities reach the
 * province and the nation exactly once, latest revision, every total equal
 * to the ledger; the province's reports keep the county's received_at. */
static void three_levels_exactly_once(void **state) {
    (void)state;
    size_t first = add_reports(800);
    deliver(first, nledger);
    size_t fixed = revise(first, nledger, 7, false);
    size_t pulled = revise(first + 3, nledger, 11, true);
    deliver_revised(first, nledger);
    /* Old revisions sent again: stale at the city, nothing goes up. */
    size_t base = nledger;
    ledger = pufa_realloc(ledger, (nledger + 40) * sizeof *ledger);
    for (size_t i = first; i < first + 40; i++) {
        ledger[nledger] = ledger[i];
        ledger[nledger].revision = 1;
        ledger[nledger].retracted = false;
        nledger++;
    }
    deliver(base, nledger);
    nledger = base;
    wait_converged(60000);
    check_all_levels();
    assert_true(fixed > 100 && pulled > 50);
    char *v = pufa_itest_sql_str(lv[PROV].db,
                                 "SELECT string_agg(DISTINCT collector_id, ',') FROM reports");
    assert_string_equal(v, "aggregator-150800,aggregator-150900");
    free(v);
    v = pufa_itest_sql_str(lv[NAT].db,
                           "SELECT string_agg(DISTINCT collector_id, ',') FROM reports");
    assert_string_equal(v, "aggregator-150000");
    free(v);
    long long deadline = pufa_mono_ms() + 10000;
    while (metric(&lv[C1], "pufa_aggregator_forward_pending ") != 0 && pufa_mono_ms() < deadline)
        pufa_sleep_ms(50);
    assert_int_equal(metric(&lv[C1], "pufa_aggregator_forward_pending "), 0);
    assert_int_equal(metric(&lv[C1], "pufa_aggregator_forward_connected "), 1);
    assert_true(metric(&lv[PROV], "pufa_aggregator_forward_acked_seq ") > 0);
}

/* One report at a city reaches the nation promptly: the writer wakes the
 * forwarder at each level (prints the measured times). */
static void one_report_goes_up_promptly(void **state) {
    (void)state;
    long long worst_prov = 0, worst_nat = 0;
    for (int round = 0; round < 5; round++) {
        long long p0 = count_reports(&lv[PROV]), n0 = count_reports(&lv[NAT]);
        size_t first = add_reports(1);
        ledger[first].county = 0;
        long long t0 = pufa_mono_ms();
        deliver(first, nledger);
        long long acked = pufa_mono_ms(), at_prov = 0, at_nat = 0;
        while (pufa_mono_ms() - t0 < 10000 && (!at_prov || !at_nat)) {
            if (!at_prov && count_reports(&lv[PROV]) > p0)
                at_prov = pufa_mono_ms();
            if (!at_nat && count_reports(&lv[NAT]) > n0)
                at_nat = pufa_mono_ms();
        }
        assert_true(at_prov && at_nat);
        if (at_prov - acked > worst_prov)
            worst_prov = at_prov - acked;
        if (at_nat - acked > worst_nat)
            worst_nat = at_nat - acked;
    }
    fprintf(stderr, "lag from the city's ack, worst of 5: province %lld ms, nation %lld ms\n",
            worst_prov, worst_nat);
    assert_true(worst_nat < 2000);
}

/* The province down: the cities keep acknowledging their counties, and
 * catch up when it is back. */
static void upper_down_cities_keep_working_and_catch_up(void **state) {
    (void)state;
    stop_level(&lv[PROV]);
    long long before = count_reports(&lv[NAT]);
    char *hist_prov = pufa_itest_sql_str(lv[PROV].db, "SELECT count(*) FROM report_history");
    char *hist_c1 = pufa_itest_sql_str(lv[C1].db, "SELECT count(*) FROM report_history");
    size_t first = add_reports(400);
    deliver(first, nledger);
    revise(first, nledger, 5, false);
    deliver_revised(first, nledger);
    /* The cities hold them, waiting. */
    long long deadline = pufa_mono_ms() + 10000;
    while (metric(&lv[C1], "pufa_aggregator_forward_pending ") <= 0 && pufa_mono_ms() < deadline)
        pufa_sleep_ms(100);
    assert_true(metric(&lv[C1], "pufa_aggregator_forward_pending ") > 0);
    assert_int_equal(metric(&lv[C1], "pufa_aggregator_forward_connected "), 0);
    assert_int_equal(count_reports(&lv[NAT]), before);
    start_level(&lv[PROV], NULL);
    wait_converged(60000);
    check_all_levels();
    /* Revisions 1 and 2 of each corrected report both waited at the city:
     * only revision 2 went up, so the province superseded nothing. */
    char *v = pufa_itest_sql_str(lv[PROV].db, "SELECT count(*) FROM report_history");
    assert_string_equal(v, hist_prov);
    free(v);
    v = pufa_itest_sql_str(lv[C1].db, "SELECT count(*) FROM report_history");
    assert_true(atoll(v) > atoll(hist_c1));
    free(v);
    free(hist_prov);
    free(hist_c1);
}

/* City 1's cursor set back to zero: everything goes up again, all of it
 * duplicate, and no total moves. */
static void cursor_reset_changes_no_total(void **state) {
    (void)state;
    long long committed = metric(&lv[PROV], "pufa_aggregator_reports_total{status=\"committed\"} ");
    long long dup0 =
        metric(&lv[C1], "pufa_aggregator_forward_reports_total{status=\"duplicate\"} ");
    long long rows = count_reports(&lv[C1]);
    pufa_itest_sql_exec(lv[C1].db,
                        "UPDATE forward_cursor SET acked_seq = 0, acked_report_id = NULL");
    long long deadline = pufa_mono_ms() + 60000;
    while (metric(&lv[C1], "pufa_aggregator_forward_reports_total{status=\"duplicate\"} ") <
               dup0 + rows &&
           pufa_mono_ms() < deadline)
        pufa_sleep_ms(100);
    assert_int_equal(
        metric(&lv[C1], "pufa_aggregator_forward_reports_total{status=\"duplicate\"} "),
        dup0 + rows);
    assert_int_equal(metric(&lv[C1], "pufa_aggregator_forward_cursor_resets_total "), 1);
    assert_int_equal(metric(&lv[PROV], "pufa_aggregator_reports_total{status=\"committed\"} "),
                     committed);
    wait_converged(10000);
    check_all_levels();
}

/* kill -9 of city 2 after the province acked a batch and before the cursor
 * moved (PUFA_FAULT=fwd_kill_after_ack): after the restart the batch goes
 * up again, duplicate, and every total still equals the ledger. */
static void city_killed_mid_forward_exactly_once(void **state) {
    (void)state;
    stop_level(&lv[C2]);
    start_level(&lv[C2], "PUFA_FAULT=fwd_kill_after_ack");
    long long dup0 = metric(&lv[PROV], "pufa_aggregator_reports_total{status=\"duplicate\"} ");
    size_t first = add_reports(600);
    /* Deliver to city 1 first, then city 2 (whose aggregator dies at its
     * first upward ack; the sender resends until the restarted one acks). */
    pufa_proc *p = &lv[C2].proc;
    size_t k;
    for (k = 0; k < NCOUNTY && ck[k].city != C2; k++) {
    }
    /* City 1's part. */
    for (size_t i = first; i < nledger; i++)
        if (ck[ledger[i].county].city == C2)
            ledger[i].county = (ledger[i].county + 2) % NCOUNTY; /* city 1's counties first */
    deliver(first, nledger);
    /* Now reports for city 2. */
    size_t second = add_reports(300);
    for (size_t i = second; i < nledger; i++)
        ledger[i].county = k + i % 2; /* 150902, 150921 */
    /* Its forwarder dies at its first upward ack with reports; what the
     * sender had not got an answer for by then it sends again to the
     * restarted aggregator. */
    deliver_within(second, nledger, 8000, false);
    long long deadline = pufa_mono_ms() + 30000;
    while (pufa_proc_alive(p) && pufa_mono_ms() < deadline)
        pufa_sleep_ms(50);
    assert_false(pufa_proc_alive(p));
    assert_int_equal(pufa_proc_count_log(p, "id=AGG-FAULT"), 1);
    int st = pufa_proc_stop(p, SIGKILL, 5000);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    start_level(&lv[C2], NULL);
    deliver(second, nledger);
    wait_converged(60000);
    check_all_levels();
    /* The batch acked before the kill came again: duplicates above. */
    assert_true(metric(&lv[PROV], "pufa_aggregator_reports_total{status=\"duplicate\"} ") > dup0);
}

/* The province refuses some of city 1's reports (its key bound to one
 * county there): each is recorded at the city with the reason, counted,
 * logged, and the rest of the stream goes on.  With the binding fixed and
 * the cursor reset, they arrive. */
static void refusals_are_recorded_and_do_not_stall(void **state) {
    (void)state;
    stop_level(&lv[PROV]);
    write_allow_lists("150821");
    start_level(&lv[PROV], NULL);
    long long committed0 =
        metric(&lv[PROV], "pufa_aggregator_reports_total{status=\"committed\"} ");
    size_t first = add_reports(200);
    size_t refused = 0, through = 0;
    for (size_t i = first; i < nledger; i++) {
        ledger[i].county = i % 2; /* 150802, 150821: city 1 */
        if (ledger[i].county == 0)
            refused++;
        else
            through++;
    }
    deliver(first, nledger);
    long long deadline = pufa_mono_ms() + 30000;
    while (metric(&lv[C1], "pufa_aggregator_forward_refused_total{status=\"rejected\"} ") <
               (long long)refused &&
           pufa_mono_ms() < deadline)
        pufa_sleep_ms(100);
    assert_int_equal(metric(&lv[C1], "pufa_aggregator_forward_refused_total{status=\"rejected\"} "),
                     (long long)refused);
    /* The others went through: the stream did not stall. */
    while (metric(&lv[PROV], "pufa_aggregator_reports_total{status=\"committed\"} ") <
               committed0 + (long long)through &&
           pufa_mono_ms() < deadline)
        pufa_sleep_ms(100);
    assert_int_equal(metric(&lv[PROV], "pufa_aggregator_reports_total{status=\"committed\"} "),
                     committed0 + (long long)through);
    char *q = pufa_asprintf("SELECT count(*) || ' ' || count(DISTINCT reason) || ' ' ||"
                            " min(reason) FROM forward_refused WHERE status = 'rejected'");
    char *v = pufa_itest_sql_str(lv[C1].db, q);
    char *want = pufa_asprintf("%zu 1 county_code: this collector's key may only report for "
                               "county 150821 (got 150802)",
                               refused);
    assert_string_equal(v, want);
    free(v);
    free(want);
    free(q);
    assert_true(pufa_proc_count_log(&lv[C1].proc, "id=AGG-FWD-REFUSED") >= (int)refused);
    /* Fixed: the province binds the city's key to the city again, the
     * city's cursor goes back, and the refused reports arrive. */
    stop_level(&lv[PROV]);
    write_allow_lists("150800");
    start_level(&lv[PROV], NULL);
    pufa_itest_sql_exec(lv[C1].db,
                        "UPDATE forward_cursor SET acked_seq = 0, acked_report_id = NULL");
    wait_converged(60000);
    check_all_levels();
}

/* A city's key sending a county of the other city to the province: refused
 * with both codes named, counted, nothing written.  A county collector's
 * key at the province: refused by ZAP, counted, nothing written. */
static void keys_outside_their_unit_are_refused_at_the_province(void **state) {
    (void)state;
    level *prov = &lv[PROV];
    long long before = count_reports(prov);
    long long mismatch0 = metric(prov, "pufa_aggregator_county_mismatch_total ");
    void *d = dealer_to(prov, lv[C1].pub, lv[C1].sec);
    size_t first = add_reports(1);
    ledger[first].county = 3; /* 150921, 乌兰察布市 */
    pufa_report r;
    to_report(&ledger[first], &r);
    nledger--; /* not part of the ledger: it must not land */
    pufa_buf frame;
    pufa_buf_init(&frame);
    pufa_batch_begin(&frame, "aggregator-150800", 77, pufa_now_ms());
    size_t len;
    uint8_t *enc = pufa_report_encode(&r, &len);
    pufa_batch_add(&frame, enc, len);
    free(enc);
    pufa_report_clear(&r);
    Pufa__BatchAck *a = pufa_itest_send_until_acked(d, &frame, 77, 10000, true);
    assert_non_null(a);
    assert_int_equal(a->n_results, 1);
    assert_int_equal(a->results[0]->status, PUFA__REPORT_STATUS__STATUS_REJECTED);
    assert_string_equal(a->results[0]->reason,
                        "county_code: this key may only report for the counties under city "
                        "150800 巴彦淖尔市 (got 150921)");
    pufa_ack_destroy(&a);
    zmq_close(d);
    assert_int_equal(metric(prov, "pufa_aggregator_county_mismatch_total "), mismatch0 + 1);
    assert_int_equal(count_reports(prov), before);

    long long denied0 = metric(prov, "pufa_aggregator_zap_total{verdict=\"denied\"} ");
    d = dealer_to(prov, ck[1].pub, ck[1].sec); /* 150821's collector key */
    zmq_send(d, frame.data, frame.len, ZMQ_DONTWAIT);
    zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
    assert_int_equal(zmq_poll(&it, 1, 1500), 0); /* no answer: never let in */
    zmq_close(d);
    pufa_buf_free(&frame);
    assert_true(metric(prov, "pufa_aggregator_zap_total{verdict=\"denied\"} ") > denied0);
    assert_int_equal(count_reports(prov), before);
    check_all_levels();
}

/* Exit code and output of `pufa-aggregator FLAGS --check-config`. */
static int check_config(const char *flags, char *out, size_t outsize) {
    char *cmd = pufa_asprintf("'%s' %s --check-config 2>&1", agg_bin, flags);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outsize - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Forwarding settings that cannot work stop the start, naming the setting. */
static void forwarding_settings_are_checked(void **state) {
    (void)state;
    char out[1024];
    char *keyed = pufa_asprintf("--curve-secret-file %s/c1.key --allow-list %s/c1.allow", dir, dir);
    char *flags = pufa_asprintf("%s --upstream %s", keyed, lv[PROV].listen);
    assert_int_equal(check_config(flags, out, sizeof out), 78);
    assert_contains(out, "upstream: set upstream_server_public_file (the upper aggregator's "
                         "public key), or insecure = true for plaintext");
    free(flags);
    flags = pufa_asprintf("%s --upstream-server-public-file %s/prov.pub", keyed, dir);
    assert_int_equal(check_config(flags, out, sizeof out), 78);
    assert_contains(out, "upstream_server_public_file is set but upstream is not");
    free(flags);
    flags = pufa_asprintf("--insecure --upstream %s --upstream-server-public-file %s/prov.pub",
                          lv[PROV].listen, dir);
    assert_int_equal(check_config(flags, out, sizeof out), 78);
    assert_contains(out, "forwarding over CURVE needs this aggregator's curve_secret_file");
    free(flags);
    flags = pufa_asprintf("%s --upstream %s --upstream-server-public-file %s/nonexistent.pub",
                          keyed, lv[PROV].listen, dir);
    assert_int_equal(check_config(flags, out, sizeof out), 78);
    assert_contains(out, "upstream_server_public_file: ");
    free(flags);
    assert_int_equal(check_config("--insecure --forward-batch 5000", out, sizeof out), 64);
    assert_contains(out, "forward_batch: must be between 1 and 4096 (got '5000')");
    flags = pufa_asprintf("%s --upstream %s --upstream-server-public-file %s/prov.pub "
                          "--forward-batch 500 --heartbeat-ms 1000",
                          keyed, lv[PROV].listen, dir);
    assert_int_equal(check_config(flags, out, sizeof out), 0);
    assert_contains(out, "forward_batch = 500");
    assert_contains(out, "heartbeat_ms = 1000");
    free(flags);
    free(keyed);
}

int main(int argc, char **argv) {
    if (argc < 3 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh federation_test PUFA_BIN AGGREGATOR_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_levels_exactly_once),
        cmocka_unit_test(one_report_goes_up_promptly),
        cmocka_unit_test(upper_down_cities_keep_working_and_catch_up),
        cmocka_unit_test(cursor_reset_changes_no_total),
        cmocka_unit_test(city_killed_mid_forward_exactly_once),
        cmocka_unit_test(refusals_are_recorded_and_do_not_stall),
        cmocka_unit_test(keys_outside_their_unit_are_refused_at_the_province),
        cmocka_unit_test(forwarding_settings_are_checked),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
