/* Integration test: the real pufa-aggregator against a throwaway
 * PostgreSQL (with-pg.sh).  argv: PUFA_BIN AGGREGATOR_BIN. */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zmq.h>

#include "alloc.h"
#include "cells.h"
#include "error.h"
#include "intake.h"
#include "itest.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"
#include "wire.h"

static const char *pufa_bin, *agg_bin;
static pufa_proc agg;
static char listen_ep[128], feed_ep[128], http_port[16];
static void *zctx, *sub;
static PGconn *db;
static uint64_t last_feed_seq, feed_deltas;
static int feed_gaps;
/* The feed's deltas summed per day x county, all eleven figures, since the
 * last subscribe(). */
typedef struct {
    char day[11], county[7];
    long long fig[11];
} feed_sum;
static feed_sum *feed_sums;
static size_t n_feed_sums, feed_sums_cap;

/* ---- reports ---- */

typedef struct {
    pufa_report *r;
    size_t n, cap;
} report_list;

static void collect(void *ctx, const pufa_intake_item *item) {
    report_list *l = ctx;
    if (!item->ok)
        fail_msg("sample invalid: %s", item->message);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->r = pufa_realloc(l->r, l->cap * sizeof *l->r);
    }
    pufa_report_init(&l->r[l->n]);
    pufa_report_copy(&l->r[l->n++], item->report);
}

static report_list load(const char *name) {
    report_list l = {0};
    size_t len;
    char *buf = pufa_test_read_file(pufa_test_data_path(name), &len);
    assert_non_null(buf);
    pufa_validate_ctx v = {.orgunits = pufa_test_orgunits(), .today = pufa_city_day(pufa_now_ms())};
    char err[256];
    assert_int_equal(pufa_intake_parse(PUFA_FMT_JSON, buf, len, &v, collect, &l, err, sizeof err),
                     0);
    free(buf);
    return l;
}

static void free_list(report_list *l) {
    for (size_t i = 0; i < l->n; i++)
        pufa_report_clear(&l->r[i]);
    free(l->r);
    memset(l, 0, sizeof *l);
}

/* ---- a minimal collector: send batches, resend until acked ---- */

static void *new_dealer(void) {
    return pufa_itest_dealer(zctx, listen_ep, NULL, NULL, NULL);
}

static void send_batch(void *dealer, uint64_t seq, const pufa_report *r, size_t n) {
    pufa_itest_send_batch(dealer, "test-collector", seq, r, n, 0);
}

static Pufa__BatchAck *recv_ack(void *dealer, int timeout_ms) {
    zmq_pollitem_t it = {.socket = dealer, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, dealer, 0) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    Pufa__BatchAck *a = pufa__batch_ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    return a;
}

static uint64_t next_seq = 1;

/* Sends r[0..n) in batches of bsize, resending unacked batches every
 * resend_ms, until every batch is acked or timeout_ms passes.  Fills
 * status[i] for every report. */
static bool deliver(const pufa_report *r, size_t n, size_t bsize, int *status, int resend_ms,
                    int timeout_ms, void (*between)(int round)) {
    void *d = new_dealer();
    size_t nb = (n + bsize - 1) / bsize;
    uint64_t *seq = pufa_calloc(nb, sizeof *seq);
    bool *acked = pufa_calloc(nb, sizeof *acked);
    long long *sent_at = pufa_calloc(nb, sizeof *sent_at);
    for (size_t b = 0; b < nb; b++)
        seq[b] = next_seq++;
    size_t left = nb;
    long long deadline = pufa_mono_ms() + timeout_ms;
    int round = 0;
    while (left && pufa_mono_ms() < deadline) {
        long long now = pufa_mono_ms();
        for (size_t b = 0; b < nb; b++) {
            if (acked[b] || (sent_at[b] && now - sent_at[b] < resend_ms))
                continue;
            size_t first = b * bsize, cnt = n - first < bsize ? n - first : bsize;
            send_batch(d, seq[b], r + first, cnt);
            sent_at[b] = now;
        }
        if (between)
            between(round++);
        Pufa__BatchAck *a = recv_ack(d, 100);
        if (!a)
            continue;
        for (size_t b = 0; b < nb; b++) {
            if (acked[b] || !a->has_batch_seq || a->batch_seq != seq[b])
                continue;
            size_t first = b * bsize;
            for (size_t i = 0; i < a->n_results; i++)
                status[first + i] = a->results[i]->status;
            acked[b] = true;
            left--;
        }
        pufa__batch_ack__free_unpacked(a, NULL);
    }
    zmq_close(d);
    free(seq);
    free(acked);
    free(sent_at);
    return left == 0;
}

/* ---- SQL ---- */

/* 0 when NULL or no row. */
static long long scalar_ll(const char *sql) {
    return pufa_itest_sql_ll_or(db, sql, 0);
}

/* The totals per county and theme the effective reports must sum to. */
static void expected_totals(report_list *sets[], int nsets, pufa_buf *out) {
    /* The effective report per id: highest revision wins. */
    size_t total = 0;
    for (int s = 0; s < nsets; s++)
        total += sets[s]->n;
    const pufa_report **eff = pufa_calloc(total + 1, sizeof *eff);
    size_t ne = 0;
    for (int s = 0; s < nsets; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            const pufa_report *r = &sets[s]->r[i];
            size_t k;
            for (k = 0; k < ne; k++)
                if (!strcmp(eff[k]->report_id, r->report_id))
                    break;
            if (k == ne)
                eff[ne++] = r;
            else if (r->revision > eff[k]->revision)
                eff[k] = r;
        }
    /* Group by county, theme in SQL's order (county_code, theme). */
    typedef struct {
        char county[7];
        int theme;
        long long fig[PUFA_NCOUNTERS + 1];
    } row;
    row *rows = pufa_calloc(ne + 1, sizeof *rows);
    size_t nr = 0;
    for (size_t i = 0; i < ne; i++) {
        if (eff[i]->retracted)
            continue;
        size_t k;
        for (k = 0; k < nr; k++)
            if (!strcmp(rows[k].county, eff[i]->county_code) && rows[k].theme == eff[i]->theme)
                break;
        if (k == nr) {
            snprintf(rows[nr].county, 7, "%s", eff[i]->county_code);
            rows[nr++].theme = eff[i]->theme;
        }
        rows[k].fig[0]++;
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            rows[k].fig[1 + c] += eff[i]->counters[c];
    }
    for (size_t a = 0; a < nr; a++) /* sort */
        for (size_t b = a + 1; b < nr; b++) {
            int c = strcmp(rows[a].county, rows[b].county);
            if (c > 0 || (c == 0 && rows[a].theme > rows[b].theme)) {
                row t = rows[a];
                rows[a] = rows[b];
                rows[b] = t;
            }
        }
    pufa_buf_reset(out);
    for (size_t k = 0; k < nr; k++) {
        pufa_buf_printf(out, "%s/%d", rows[k].county, rows[k].theme);
        for (int f = 0; f <= PUFA_NCOUNTERS; f++)
            pufa_buf_printf(out, ",%lld", rows[k].fig[f]);
        pufa_buf_putc(out, '\n');
    }
    free(rows);
    free(eff);
}

#define FIG_SUMS                                                                                   \
    "sum(reports)::text, sum(sessions)::text, sum(participants)::text,"                            \
    " sum(materials)::text, sum(consultations)::text, sum(banners)::text,"                         \
    " sum(led_messages)::text, sum(online_posts)::text, sum(online_views)::text,"                  \
    " sum(volunteers)::text, sum(funds_fen)::text"

/* A cell is left out of a comparison only when every figure is zero (what a
 * retraction leaves): one with reports = 0 but a figure left must show. */
#define ZERO                                                                                       \
    "(sessions = 0 AND participants = 0 AND materials = 0 AND consultations = 0 AND"               \
    " banners = 0 AND led_messages = 0 AND online_posts = 0 AND online_views = 0 AND"              \
    " volunteers = 0 AND funds_fen = 0)"
#define ANY_FIGURE                                                                                 \
    "bool_or(reports <> 0 OR sessions <> 0 OR participants <> 0 OR materials <> 0 OR"              \
    " consultations <> 0 OR banners <> 0 OR led_messages <> 0 OR online_posts <> 0 OR"             \
    " online_views <> 0 OR volunteers <> 0 OR funds_fen <> 0)"

static void sql_totals(const char *sql, pufa_buf *out) {
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    pufa_buf_reset(out);
    for (int i = 0; i < PQntuples(r); i++) {
        pufa_buf_printf(out, "%s/%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        for (int f = 2; f < PQnfields(r); f++)
            pufa_buf_printf(out, ",%s", PQgetvalue(r, i, f));
        pufa_buf_putc(out, '\n');
    }
    PQclear(r);
}

/* Rollups == the expected sums == a query over the reports table. */
static void assert_totals(report_list *sets[], int nsets) {
    pufa_buf want, rollup, reports;
    pufa_buf_init(&want);
    pufa_buf_init(&rollup);
    pufa_buf_init(&reports);
    expected_totals(sets, nsets, &want);
    sql_totals("SELECT county_code, key::int, " FIG_SUMS " FROM rollup_live WHERE dim = 'theme'"
               " GROUP BY 1, 2 HAVING " ANY_FIGURE " ORDER BY 1, 2",
               &rollup);
    sql_totals("SELECT county_code, theme, count(*)::text, sum(sessions)::text,"
               " sum(participants)::text, sum(materials)::text, sum(consultations)::text,"
               " sum(banners)::text, sum(led_messages)::text, sum(online_posts)::text,"
               " sum(online_views)::text, sum(volunteers)::text, sum(funds_fen)::text"
               " FROM reports WHERE NOT retracted GROUP BY 1, 2 ORDER BY 1, 2",
               &reports);
    /* Every cell of every dimension, per day, on every figure. */
    assert_cells_equal_reports(db, "rollup_live");
    assert_int_equal(scalar_ll("SELECT count(*) FROM rollup_live WHERE reports = 0 AND NOT " ZERO),
                     0);
    assert_string_equal(rollup.data ? rollup.data : "", want.data ? want.data : "");
    assert_string_equal(reports.data ? reports.data : "", want.data ? want.data : "");
    /* Every dimension sums to the same county totals. */
    assert_int_equal(scalar_ll("SELECT count(*) FROM (SELECT DISTINCT county_code, sum(reports),"
                               " sum(participants), sum(funds_fen) FROM rollup_live"
                               " GROUP BY county_code, dim) AS x"),
                     scalar_ll("SELECT count(DISTINCT county_code) FROM rollup_live"));
    pufa_buf_free(&want);
    pufa_buf_free(&rollup);
    pufa_buf_free(&reports);
}

static void add_feed_sum(const Pufa__RollupDelta *r) {
    size_t k = 0;
    while (k < n_feed_sums && (strcmp(feed_sums[k].day, r->day ? r->day : "") ||
                               strcmp(feed_sums[k].county, r->county_code ? r->county_code : "")))
        k++;
    if (k == n_feed_sums) {
        if (n_feed_sums == feed_sums_cap) {
            feed_sums_cap = feed_sums_cap ? feed_sums_cap * 2 : 64;
            feed_sums = pufa_realloc(feed_sums, feed_sums_cap * sizeof *feed_sums);
        }
        memset(&feed_sums[k], 0, sizeof feed_sums[k]);
        snprintf(feed_sums[k].day, sizeof feed_sums[k].day, "%s", r->day ? r->day : "");
        snprintf(feed_sums[k].county, sizeof feed_sums[k].county, "%s",
                 r->county_code ? r->county_code : "");
        n_feed_sums++;
    }
    const Pufa__Figures *f = r->delta;
    if (!f)
        return;
    const int64_t v[11] = {f->reports,       f->sessions,   f->participants, f->materials,
                           f->consultations, f->banners,    f->led_messages, f->online_posts,
                           f->online_views,  f->volunteers, f->funds_fen};
    for (int i = 0; i < 11; i++)
        feed_sums[k].fig[i] += v[i];
}

static int cmp_lines(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The feed's sums as "day/county,f1,...,f11" lines, sorted, cells whose
 * figures are all zero left out. */
static void feed_sum_lines(pufa_buf *out) {
    char **lines = pufa_calloc(n_feed_sums + 1, sizeof *lines);
    size_t n = 0;
    for (size_t k = 0; k < n_feed_sums; k++) {
        bool any = false;
        for (int i = 0; i < 11; i++)
            any = any || feed_sums[k].fig[i] != 0;
        if (!any)
            continue;
        pufa_buf b;
        pufa_buf_init(&b);
        pufa_buf_printf(&b, "%s/%s", feed_sums[k].day, feed_sums[k].county);
        for (int i = 0; i < 11; i++)
            pufa_buf_printf(&b, ",%lld", feed_sums[k].fig[i]);
        lines[n++] = pufa_buf_steal(&b);
    }
    qsort(lines, n, sizeof *lines, cmp_lines);
    pufa_buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        pufa_buf_printf(out, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
}

/* Reads every feed message so far and checks the sequence has no gap. */
static void drain_feed(void) {
    for (;;) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return;
        }
        zmq_msg_init(&body);
        zmq_msg_recv(&body, sub, 0);
        bool is_delta = zmq_msg_size(&topic) == 5 && !memcmp(zmq_msg_data(&topic), "delta", 5);
        Pufa__CommitDelta *d =
            pufa__commit_delta__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
        assert_non_null(d);
        if (is_delta) {
            if (last_feed_seq && d->seq != last_feed_seq + 1)
                feed_gaps++;
            last_feed_seq = d->seq;
            feed_deltas++;
            for (size_t i = 0; i < d->n_rollups; i++)
                add_feed_sum(d->rollups[i]);
        }
        pufa__commit_delta__free_unpacked(d, NULL);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
}

/* ---- the aggregator process ---- */

static void start_aggregator(const char *fault) {
    const char *extra[] = {"--insecure", "--max-frame", "256KiB",       "--compact-interval",
                           "300ms",      "--home",      PUFA_TEST_HOME, NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, &(pufa_itest_agg_opts){.env = fault});
    if (!pufa_itest_agg_wait(&agg, listen_ep, feed_ep, http_port, 5000, 10000))
        fail_msg("aggregator did not start");
}

static void subscribe(void) {
    if (sub)
        zmq_close(sub);
    n_feed_sums = 0;
    sub = zmq_socket(zctx, ZMQ_SUB);
    int hwm = 100000, linger = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "delta", 5);
    assert_int_equal(zmq_connect(sub, feed_ep), 0);
    /* PUB/SUB joins asynchronously: wait for a heartbeat to know we are on. */
    void *hb = zmq_socket(zctx, ZMQ_SUB);
    zmq_setsockopt(hb, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(hb, ZMQ_SUBSCRIBE, "hb", 2);
    zmq_connect(hb, feed_ep);
    zmq_pollitem_t it = {.socket = hb, .events = ZMQ_POLLIN};
    assert_true(zmq_poll(&it, 1, 5000) == 1);
    zmq_close(hb);
    pufa_sleep_ms(100); /* the delta subscription travelled with the same handshake */
}

static int group_setup(void **state) {
    (void)state;
    int rc = pufa_itest_migrate(pufa_bin, NULL, pufa_test_demo_tree_path(),
                                pufa_test_data_path("units.csv"));
    if (rc != 0)
        return -1;
    db = PQconnectdb(getenv("PUFA_TEST_DB"));
    if (PQstatus(db) != CONNECTION_OK)
        return -1;
    zctx = zmq_ctx_new();
    start_aggregator(NULL);
    subscribe();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (agg.pid > 0) {
        int st = pufa_proc_stop(&agg, SIGTERM, 15000);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            pufa_proc_dump(&agg);
            fprintf(stderr, "aggregator did not exit 0 on SIGTERM\n");
            return -1;
        }
    }
    if (sub)
        zmq_close(sub);
    zmq_ctx_term(zctx);
    PQfinish(db);
    return 0;
}

/* ---- the tests ---- */

static report_list samples, corrections;

static void samples_commit_and_totals_match(void **state) {
    (void)state;
    samples = load("sample_reports.jsonl");
    assert_int_equal(samples.n, 24);
    int status[24] = {0};
    assert_true(deliver(samples.r, samples.n, 5, status, 2000, 30000, NULL));
    for (int i = 0; i < 24; i++)
        assert_int_equal(status[i], PUFA__REPORT_STATUS__STATUS_COMMITTED);
    report_list *sets[] = {&samples};
    assert_totals(sets, 1);
    assert_int_equal(scalar_ll("SELECT count(*) FROM reports"), 24);
}

static void same_batches_again_are_duplicates(void **state) {
    (void)state;
    int status[24] = {0};
    assert_true(deliver(samples.r, samples.n, 7, status, 2000, 30000, NULL));
    for (int i = 0; i < 24; i++)
        assert_int_equal(status[i], PUFA__REPORT_STATUS__STATUS_DUPLICATE);
    report_list *sets[] = {&samples};
    assert_totals(sets, 1);
}

static void corrections_replace_and_retract(void **state) {
    (void)state;
    corrections = load("sample_corrections.jsonl");
    assert_int_equal(corrections.n, 2);
    int status[2] = {0};
    assert_true(deliver(corrections.r, corrections.n, 2, status, 2000, 30000, NULL));
    assert_int_equal(status[0], PUFA__REPORT_STATUS__STATUS_COMMITTED);
    assert_int_equal(status[1], PUFA__REPORT_STATUS__STATUS_COMMITTED);
    report_list *sets[] = {&samples, &corrections};
    assert_totals(sets, 2);
    /* The superseded revisions are kept. */
    assert_int_equal(scalar_ll("SELECT count(*) FROM report_history WHERE revision = 1 AND"
                               " superseded_by = 2 AND report_id IN"
                               " ('3ceaaf30-8142-48ea-91d9-3080f9b439fc',"
                               "  '2bd8a1e6-047a-4387-8dde-8d516301bbfc')"),
                     2);
    assert_int_equal(scalar_ll("SELECT participants FROM report_history WHERE"
                               " report_id = '3ceaaf30-8142-48ea-91d9-3080f9b439fc'"),
                     671);
    assert_int_equal(scalar_ll("SELECT participants FROM reports WHERE"
                               " report_id = '3ceaaf30-8142-48ea-91d9-3080f9b439fc'"),
                     771);
    /* A late copy of revision 1 is stale and changes nothing. */
    int st1[1] = {0};
    assert_true(deliver(&samples.r[0], 1, 1, st1, 2000, 30000, NULL));
    assert_int_equal(st1[0], PUFA__REPORT_STATUS__STATUS_STALE);
    assert_totals(sets, 2);
    /* Revision 2 again: duplicate. */
    assert_true(deliver(&corrections.r[0], 1, 1, st1, 2000, 30000, NULL));
    assert_int_equal(st1[0], PUFA__REPORT_STATUS__STATUS_DUPLICATE);
    assert_totals(sets, 2);
    /* The compactor folds the journal (corrections' negative rows too) into
     * rollup_dim: once it is empty, rollup_dim alone holds the totals. */
    bool compacted = false;
    for (int i = 0; i < 100 && !compacted; i++) {
        compacted = scalar_ll("SELECT count(*) FROM rollup_journal") == 0;
        if (!compacted)
            pufa_sleep_ms(100);
    }
    assert_true(compacted);
    pufa_buf want, dims;
    pufa_buf_init(&want);
    pufa_buf_init(&dims);
    expected_totals(sets, 2, &want);
    sql_totals("SELECT county_code, key::int, " FIG_SUMS " FROM rollup_dim WHERE dim = 'theme'"
               " GROUP BY 1, 2 HAVING " ANY_FIGURE " ORDER BY 1, 2",
               &dims);
    assert_string_equal(dims.data ? dims.data : "", want.data ? want.data : "");
    assert_cells_equal_reports(db, "rollup_dim");
    pufa_buf_free(&want);
    pufa_buf_free(&dims);
    assert_true(pufa_http_metric(http_port, "pufa_aggregator_compactions_total{outcome=\"ok\"}") >=
                1);
}

/* A report id owned by one county cannot be overwritten from another. */
static void another_countys_report_id_is_rejected(void **state) {
    (void)state;
    pufa_report r;
    pufa_report_init(&r);
    pufa_report_copy(&r, &samples.r[2]); /* 150822 */
    free(r.county_code);
    r.county_code = pufa_strdup("210402");
    r.revision = 9;
    int st[1] = {0};
    assert_true(deliver(&r, 1, 1, st, 2000, 30000, NULL));
    assert_int_equal(st[0], PUFA__REPORT_STATUS__STATUS_REJECTED);
    pufa_report_clear(&r);
    report_list *sets[] = {&samples, &corrections};
    assert_totals(sets, 2);
}

static void send_raw(void *d, const void *data, size_t len) {
    zmq_send(d, data, len, 0);
}

static void malformed_and_oversized_frames_between_valid_batches(void **state) {
    (void)state;
    report_list extra = load("sample_reports.jsonl");
    /* New ids, so they commit. */
    for (size_t i = 0; i < extra.n; i++) {
        uint8_t id[16];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, extra.r[i].report_id);
    }
    int st[24] = {0};
    /* Batch 1 */
    assert_true(deliver(extra.r, 12, 12, st, 2000, 30000, NULL));
    void *d = new_dealer();
    send_raw(d, "\xff\xff\xff\xff\x0f garbage", 13);
    Pufa__BatchAck *a = recv_ack(d, 5000);
    assert_non_null(a);
    assert_non_null(a->error);
    assert_contains(a->error, "not a ReportBatch");
    pufa__batch_ack__free_unpacked(a, NULL);
    /* Over ZMQ_MAXMSGSIZE (256 KiB here): libzmq drops the connection. */
    size_t big = 300 * 1024;
    char *junk = pufa_calloc(1, big);
    send_raw(d, junk, big);
    free(junk);
    zmq_close(d);
    /* Batch 2, with resends, as a collector does after a dropped link. */
    assert_true(deliver(extra.r + 12, 12, 12, st + 12, 1000, 30000, NULL));
    for (int i = 0; i < 24; i++)
        assert_int_equal(st[i], PUFA__REPORT_STATUS__STATUS_COMMITTED);
    assert_true(pufa_proc_alive(&agg));
    char *url = pufa_asprintf("curl -sf http://127.0.0.1:%s/metrics | grep -q "
                              "'pufa_aggregator_frame_errors_total{reason=\"malformed\"} 1'",
                              http_port);
    assert_int_equal(pufa_sh(url), 0);
    free(url);
    assert_int_equal(scalar_ll("SELECT count(*) FROM reports"), 48);
    free_list(&extra);
}

static void feed_is_gapless_and_matches_the_database(void **state) {
    (void)state;
    pufa_sleep_ms(300);
    drain_feed();
    assert_int_equal(feed_gaps, 0);
    assert_true(feed_deltas > 0);
    assert_int_equal((long long)last_feed_seq, scalar_ll("SELECT seq FROM feed_state"));
    /* Every commit since the subscription went out on the feed: summed per
     * day and county, the deltas are the totals, on every figure. */
    pufa_buf feed, rollup;
    pufa_buf_init(&feed);
    pufa_buf_init(&rollup);
    feed_sum_lines(&feed);
    sql_totals("SELECT day::text, county_code, " FIG_SUMS " FROM rollup_live WHERE dim = 'total'"
               " GROUP BY 1, 2 HAVING " ANY_FIGURE " ORDER BY 1, 2",
               &rollup);
    assert_true(feed.len > 0);
    assert_lines_equal(feed.data, rollup.data, "the feed's sums and rollup_live");
    pufa_buf_free(&feed);
    pufa_buf_free(&rollup);
}

/* PostgreSQL is stopped before the sending starts, and started again
 * about three seconds (30 polling rounds) into it. */
static int readyz_while_down = -1;

static void pg_restart(int round) {
    if (round == 20) {
        char *cmd = pufa_asprintf("curl -s -o /dev/null -w '%%{http_code}' "
                                  "http://127.0.0.1:%s/readyz | grep -q 503",
                                  http_port);
        readyz_while_down = pufa_sh(cmd);
        free(cmd);
    }
    if (round == 30)
        assert_int_equal(pufa_sh(getenv("PUFA_TEST_PG_START")), 0);
}

static void postgres_restart_while_sending(void **state) {
    (void)state;
    /* 300 new reports, sent while PostgreSQL goes down and comes back. */
    size_t n = 300;
    pufa_report *r = pufa_calloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        pufa_report_copy(&r[i], &samples.r[i % samples.n]);
        uint8_t id[16];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, r[i].report_id);
    }
    long long before = scalar_ll("SELECT count(*) FROM reports");
    PQfinish(db);
    assert_int_equal(pufa_sh(getenv("PUFA_TEST_PG_STOP")), 0);
    int *st = pufa_calloc(n, sizeof *st);
    bool ok = deliver(r, n, 20, st, 1000, 90000, pg_restart);
    db = PQconnectdb(getenv("PUFA_TEST_DB"));
    for (int i = 0; i < 200 && PQstatus(db) != CONNECTION_OK; i++) {
        pufa_sleep_ms(100);
        PQfinish(db);
        db = PQconnectdb(getenv("PUFA_TEST_DB"));
    }
    if (!ok)
        pufa_proc_dump(&agg);
    assert_true(ok);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(st[i], PUFA__REPORT_STATUS__STATUS_COMMITTED);
    assert_int_equal(scalar_ll("SELECT count(*) FROM reports"), before + (long long)n);
    assert_true(
        pufa_proc_count_log(&agg, "AGG-DB-RETRY") + pufa_proc_count_log(&agg, "AGG-DB-DOWN") > 0);
    assert_int_equal(readyz_while_down, 0); /* /readyz said 503 while PostgreSQL was down */
    char *ready = pufa_asprintf("curl -sf http://127.0.0.1:%s/readyz | grep -q ready", http_port);
    assert_int_equal(pufa_sh(ready), 0);
    free(ready);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
    free(st);
    subscribe(); /* the feed may have missed nothing, but start a fresh count */
    last_feed_seq = 0;
}

static void sigkill_after_commit_before_ack_gives_duplicates_on_resend(void **state) {
    (void)state;
    /* Restart the aggregator with the fault hook. */
    int st0 = pufa_proc_stop(&agg, SIGTERM, 15000);
    assert_true(WIFEXITED(st0) && WEXITSTATUS(st0) == 0);
    start_aggregator("PUFA_FAULT=agg_kill_after_commit");
    size_t n = 10;
    pufa_report *r = pufa_calloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        pufa_report_copy(&r[i], &samples.r[i]);
        uint8_t id[16];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, r[i].report_id);
    }
    long long before = scalar_ll("SELECT count(*) FROM reports");
    void *d = new_dealer();
    send_batch(d, 999, r, n);
    Pufa__BatchAck *a = recv_ack(d, 3000);
    assert_null(a); /* it died before acking */
    zmq_close(d);
    int status = 0;
    long long deadline = pufa_mono_ms() + 10000;
    while (pufa_proc_alive(&agg) && pufa_mono_ms() < deadline)
        pufa_sleep_ms(20);
    assert_false(pufa_proc_alive(&agg));
    (void)status;
    assert_true(pufa_proc_count_log(&agg, "AGG-FAULT") == 1);
    /* Committed, though never acked. */
    assert_int_equal(scalar_ll("SELECT count(*) FROM reports"), before + (long long)n);
    start_aggregator(NULL);
    subscribe();
    int *st = pufa_calloc(n, sizeof *st);
    assert_true(deliver(r, n, 10, st, 2000, 30000, NULL));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(st[i], PUFA__REPORT_STATUS__STATUS_DUPLICATE);
    assert_int_equal(scalar_ll("SELECT count(*) FROM reports"), before + (long long)n);
    /* Totals are exact: rollups equal the reports table. */
    pufa_buf a1, a2;
    pufa_buf_init(&a1);
    pufa_buf_init(&a2);
    sql_totals("SELECT county_code, key::int, " FIG_SUMS " FROM rollup_live WHERE dim = 'theme'"
               " GROUP BY 1, 2 HAVING " ANY_FIGURE " ORDER BY 1, 2",
               &a1);
    sql_totals("SELECT county_code, theme, count(*)::text, sum(sessions)::text,"
               " sum(participants)::text, sum(materials)::text, sum(consultations)::text,"
               " sum(banners)::text, sum(led_messages)::text, sum(online_posts)::text,"
               " sum(online_views)::text, sum(volunteers)::text, sum(funds_fen)::text"
               " FROM reports WHERE NOT retracted GROUP BY 1, 2 ORDER BY 1, 2",
               &a2);
    assert_string_equal(a1.data, a2.data);
    assert_cells_equal_reports(db, "rollup_live");
    pufa_buf_free(&a1);
    pufa_buf_free(&a2);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    free(r);
    free(st);
}

/* A second aggregator on the same database waits, not ready, while the
 * first one writes: one writer per database. */
static void a_second_aggregator_waits_for_the_first(void **state) {
    (void)state;
    pufa_proc second;
    const char *extra[] = {"--insecure", "--home", PUFA_TEST_HOME, NULL};
    pufa_itest_agg_start(&second, agg_bin, extra, NULL);
    char port[16];
    assert_true(pufa_proc_wait_log(&second, "id=AGG-HTTP", "port", port, sizeof port, 20000));
    assert_true(pufa_proc_wait_log(&second, "another aggregator is writing", NULL, NULL, 0, 20000));
    char *cmd = pufa_asprintf("curl -s -o /dev/null -w '%%{http_code}' "
                              "http://127.0.0.1:%s/readyz | grep -q 503",
                              port);
    assert_int_equal(pufa_sh(cmd), 0);
    free(cmd);
    /* The first one goes on committing. */
    pufa_report r;
    pufa_report_init(&r);
    pufa_report_copy(&r, &samples.r[5]);
    uint8_t id[16];
    pufa_uuid_v7(id);
    pufa_uuid_format(id, r.report_id);
    int st[1] = {0};
    assert_true(deliver(&r, 1, 1, st, 2000, 30000, NULL));
    assert_int_equal(st[0], PUFA__REPORT_STATUS__STATUS_COMMITTED);
    pufa_report_clear(&r);
    int ex = pufa_proc_stop(&second, SIGTERM, 15000);
    assert_true(WIFEXITED(ex) && WEXITSTATUS(ex) == 0);
}

static void invalid_reports_are_rejected_with_reasons(void **state) {
    (void)state;
    pufa_report r;
    pufa_report_init(&r);
    pufa_report_copy(&r, &samples.r[0]);
    r.counters[PUFA_C_PARTICIPANTS] = -5;
    void *d = new_dealer();
    send_batch(d, 4242, &r, 1);
    Pufa__BatchAck *a = recv_ack(d, 5000);
    assert_non_null(a);
    assert_int_equal(a->batch_seq, 4242);
    assert_int_equal(a->n_results, 1);
    assert_int_equal(a->results[0]->status, PUFA__REPORT_STATUS__STATUS_REJECTED);
    assert_contains(a->results[0]->reason, "participants: must be >= 0 (got -5)");
    pufa__batch_ack__free_unpacked(a, NULL);
    zmq_close(d);
    pufa_report_clear(&r);
    drain_feed();
    assert_int_equal(feed_gaps, 0);
}

/* A journal far larger than one compaction slice and with more distinct
 * keys than the compactor folds at once (as a long database outage of the
 * compactor alone would leave it): after compaction rollup_dim holds exactly
 * what PostgreSQL's own GROUPING SETS fold of the journal (rollup_live)
 * said before. */
static void compaction_of_a_large_journal_equals_sql(void **state) {
    (void)state;
    /* The journal rows and PostgreSQL's own fold of them (as rollup_live
     * does it), in one transaction: the compactor cannot take them between. */
    const char *setup[] = {
        "BEGIN",
        "INSERT INTO rollup_journal SELECT 0, DATE '2000-01-01' + i % 5000, 'T' || (i % 37),"
        " 1 + i % 16, 1 + i % 13, 1 + i % 10, 'U' || (i % 11),"
        " CASE WHEN i % 3 = 0 THEN '' ELSE 'C' || (i % 4) END, 1, i % 7, i, i % 100,"
        " 0, 0, 0, 0, 0, 0, i * 3 FROM generate_series(1, 60000) AS i",
        "CREATE TEMP TABLE want AS SELECT * FROM rollup_live WHERE county_code LIKE 'T%'",
        "COMMIT",
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        PGresult *r = PQexec(db, setup[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", setup[i], PQresultErrorMessage(r));
        PQclear(r);
    }
    assert_true(scalar_ll("SELECT count(*) FROM want") > 300000);
    long long moved_before =
        pufa_http_metric(http_port, "pufa_aggregator_journal_rows_compacted_total ");
    /* The compactor runs after a commit: one more report. */
    pufa_report extra = samples.r[3];
    extra.report_id = "019a0000-0000-7000-8000-00000000c0de";
    int st[1] = {0};
    assert_true(deliver(&extra, 1, 1, st, 2000, 30000, NULL));
    assert_int_equal(st[0], PUFA__REPORT_STATUS__STATUS_COMMITTED);
    bool empty = false;
    for (int i = 0; i < 300 && !empty; i++) {
        empty = scalar_ll("SELECT count(*) FROM rollup_journal") == 0;
        if (!empty)
            pufa_sleep_ms(100);
    }
    assert_true(empty);
    assert_int_equal(scalar_ll("SELECT count(*) FROM ((SELECT * FROM want EXCEPT SELECT * FROM"
                               " rollup_dim) UNION ALL (SELECT * FROM rollup_dim WHERE"
                               " county_code LIKE 'T%' EXCEPT SELECT * FROM want)) AS diff"),
                     0);
    assert_true(pufa_http_metric(http_port, "pufa_aggregator_journal_rows_compacted_total ") >=
                moved_before + 60000);
}

int main(int argc, char **argv) {
    if (argc < 3 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh aggregator_test PUFA_BIN AGGREGATOR_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(samples_commit_and_totals_match),
        cmocka_unit_test(same_batches_again_are_duplicates),
        cmocka_unit_test(corrections_replace_and_retract),
        cmocka_unit_test(another_countys_report_id_is_rejected),
        cmocka_unit_test(malformed_and_oversized_frames_between_valid_batches),
        cmocka_unit_test(feed_is_gapless_and_matches_the_database),
        cmocka_unit_test(postgres_restart_while_sending),
        cmocka_unit_test(sigkill_after_commit_before_ack_gives_duplicates_on_resend),
        cmocka_unit_test(a_second_aggregator_waits_for_the_first),
        cmocka_unit_test(invalid_reports_are_rejected_with_reasons),
        cmocka_unit_test(compaction_of_a_large_journal_equals_sql),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    free_list(&samples);
    free_list(&corrections);
    free(feed_sums);
    return rc;
}
