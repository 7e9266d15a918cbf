/* Unit tests: a round trip through common/wire for every message of
 * proto/pufa.proto, and its size caps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "testlib.h"
#include "wire.h"

/* A report with every field set, and counters that differ from each other
 * (so that a swapped field shows). */
static void full_report(pufa_report *r, int seed) {
    pufa_report_init(r);
    char id[40];
    snprintf(id, sizeof id, "7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e%03d", seed % 1000);
    r->report_id = pufa_strdup(id);
    r->revision = 3 + seed;
    r->retracted = seed % 2;
    r->county_code = pufa_strdup("150821");
    r->township = pufa_strdup("隆兴昌镇");
    r->unit_code = pufa_strdup("SFJ");
    r->unit_name = pufa_strdup("司法局");
    r->occurred_on = pufa_strdup("2026-11-20");
    r->ended_on = pufa_strdup("2026-11-21");
    r->theme = 2;
    r->venue = 3;
    r->form = 1;
    r->campaign = pufa_strdup("宪法宣传周");
    r->title = pufa_strdup("宪法进社区");
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        r->counters[c] = 1000 * (c + 1) + seed;
    r->counters[PUFA_C_FUNDS_FEN] = INT64_MAX - seed;
    r->received_at_ms = 1795000000000LL + seed;
}

static void assert_str_eq_opt(const char *a, const char *b) {
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_report_eq(const pufa_report *a, const pufa_report *b) {
    assert_str_eq_opt(a->report_id, b->report_id);
    assert_int_equal(a->revision, b->revision);
    assert_int_equal(a->retracted, b->retracted);
    assert_str_eq_opt(a->county_code, b->county_code);
    assert_str_eq_opt(a->township, b->township);
    assert_str_eq_opt(a->unit_code, b->unit_code);
    assert_str_eq_opt(a->unit_name, b->unit_name);
    assert_str_eq_opt(a->occurred_on, b->occurred_on);
    assert_str_eq_opt(a->ended_on, b->ended_on);
    assert_int_equal(a->theme, b->theme);
    assert_int_equal(a->venue, b->venue);
    assert_int_equal(a->form, b->form);
    assert_str_eq_opt(a->campaign, b->campaign);
    assert_str_eq_opt(a->title, b->title);
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        assert_int_equal(a->counters[c], b->counters[c]);
    assert_int_equal(a->received_at_ms, b->received_at_ms);
}

static void test_report_round_trip(void **state) {
    (void)state;
    pufa_report a, b, empty;
    full_report(&a, 7);
    size_t len;
    uint8_t *buf = pufa_report_encode(&a, &len);
    pufa_report_init(&b);
    assert_int_equal(pufa_report_decode(buf, len, &b), 0);
    assert_report_eq(&a, &b);

    /* Each counter sits in the ActivityReport field of its name. */
    Pufa__ActivityReport m = PUFA__ACTIVITY_REPORT__INIT;
    pufa_report_to_pb(&a, &m);
    for (int c = 0; c < PUFA_NCOUNTERS; c++) {
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(
            &pufa__activity_report__descriptor, pufa_counter_names[c]);
        assert_non_null(fd);
        assert_int_equal(*(const int64_t *)((const char *)&m + fd->offset), a.counters[c]);
    }

    char id[64];
    uint32_t rev;
    int64_t recv;
    assert_int_equal(pufa_report_peek(buf, len, id, sizeof id, &rev, &recv), 0);
    assert_string_equal(id, a.report_id);
    assert_int_equal(rev, a.revision);
    assert_int_equal(recv, a.received_at_ms);
    free(buf);

    /* Absent stays absent (NULL strings, zero counters). */
    pufa_report_init(&empty);
    buf = pufa_report_encode(&empty, &len);
    pufa_report_clear(&b);
    assert_int_equal(pufa_report_decode(buf, len, &b), 0);
    assert_report_eq(&empty, &b);
    free(buf);

    static const uint8_t junk[] = {0xFF, 0xFF, 0xFF};
    assert_int_equal(pufa_report_decode(junk, sizeof junk, &b), PUFA_EPARSE);
    assert_int_equal(pufa_report_peek(junk, sizeof junk, id, sizeof id, &rev, &recv), PUFA_EPARSE);
    assert_string_equal(id, "");
    pufa_report_clear(&a);
    pufa_report_clear(&b);
}

static void test_batch_round_trip(void **state) {
    (void)state;
    enum { N = 5 };
    pufa_report r[N];
    pufa_buf frame;
    pufa_buf_init(&frame);
    pufa_batch_begin(&frame, "collector-150821", 42, 1795000000123LL);
    for (int i = 0; i < N; i++) {
        full_report(&r[i], i);
        size_t len;
        uint8_t *buf = pufa_report_encode(&r[i], &len);
        pufa_batch_add(&frame, buf, len);
        free(buf);
    }
    Pufa__ReportBatch *b = NULL;
    assert_int_equal(pufa_batch_decode((const uint8_t *)frame.data, frame.len, &b), 0);
    assert_string_equal(b->collector_id, "collector-150821");
    assert_true(b->has_batch_seq);
    assert_int_equal(b->batch_seq, 42);
    assert_int_equal(b->sent_at_ms, 1795000000123LL);
    assert_int_equal(b->n_reports, N);
    for (int i = 0; i < N; i++) {
        pufa_report back;
        pufa_report_init(&back);
        pufa_report_from_pb(b->reports[i], &back);
        assert_report_eq(&r[i], &back);
        pufa_report_clear(&back);
        pufa_report_clear(&r[i]);
    }
    pufa_batch_destroy(&b);
    assert_null(b);
    pufa_batch_destroy(&b); /* harmless */

    /* A batch with no reports is still a batch. */
    pufa_batch_begin(&frame, "c", 1, 2);
    assert_int_equal(pufa_batch_decode((const uint8_t *)frame.data, frame.len, &b), 0);
    assert_false(b->has_as_of_seq);
    assert_false(b->has_pending);
    pufa_batch_destroy(&b);

    /* A heartbeat: no reports, the sender's link fields. */
    pufa_batch_link link = {.has_as_of = true,
                            .as_of_seq = 77,
                            .as_of_ms = 1795000000000LL,
                            .has_pending = true,
                            .pending = 5,
                            .oldest_pending_ms = 1794999999000LL};
    pufa_batch_begin_link(&frame, "150800", 3, 4, &link);
    assert_int_equal(pufa_batch_decode((const uint8_t *)frame.data, frame.len, &b), 0);
    assert_int_equal(b->n_reports, 0);
    assert_true(b->has_as_of_seq && b->has_as_of_ms && b->has_pending);
    assert_int_equal(b->as_of_seq, 77);
    assert_int_equal(b->as_of_ms, 1795000000000LL);
    assert_int_equal(b->pending, 5);
    assert_true(b->has_oldest_pending_ms);
    assert_int_equal(b->oldest_pending_ms, 1794999999000LL);
    pufa_batch_destroy(&b);

    /* Nothing waiting: no oldest. */
    link = (pufa_batch_link){.has_pending = true};
    pufa_batch_begin_link(&frame, "c", 5, 6, &link);
    assert_int_equal(pufa_batch_decode((const uint8_t *)frame.data, frame.len, &b), 0);
    assert_true(b->has_pending);
    assert_int_equal(b->pending, 0);
    assert_false(b->has_oldest_pending_ms);
    assert_false(b->has_as_of_seq);
    assert_int_equal(b->n_reports, 0);
    pufa_batch_destroy(&b);
    pufa_buf_free(&frame);
}

static void test_batch_caps(void **state) {
    (void)state;
    static const uint8_t junk[] = {0x1A, 0xFF, 0xFF, 0xFF, 0x0F};
    Pufa__ReportBatch *b = NULL;
    assert_int_equal(pufa_batch_decode(junk, sizeof junk, &b), PUFA_EPARSE);
    assert_int_equal(pufa_batch_decode(junk, PUFA_MAX_FRAME_BYTES + 1, &b), PUFA_ETOOBIG);
    /* One report more than the cap, each an empty message. */
    pufa_buf frame;
    pufa_buf_init(&frame);
    pufa_batch_begin(&frame, "c", 1, 2);
    for (unsigned i = 0; i <= PUFA_MAX_BATCH_REPORTS; i++)
        pufa_batch_add(&frame, (const uint8_t *)"", 0);
    assert_int_equal(pufa_batch_decode((const uint8_t *)frame.data, frame.len, &b), PUFA_ETOOBIG);
    assert_null(b);
    pufa_buf_free(&frame);
}

static void test_ack_round_trip(void **state) {
    (void)state;
    const pufa_ack_result res[3] = {
        {"7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e001", 1, PUFA__REPORT_STATUS__STATUS_COMMITTED, NULL},
        {"7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e002", 4, PUFA__REPORT_STATUS__STATUS_STALE, NULL},
        {"7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e003", 2, PUFA__REPORT_STATUS__STATUS_REJECTED,
         "participants: must be >= 0 (got -5)"},
    };
    size_t len;
    uint8_t *buf = pufa_ack_encode(99, res, 3, NULL, &len);
    Pufa__BatchAck *a = NULL;
    assert_int_equal(pufa_ack_decode(buf, len, &a), 0);
    free(buf);
    assert_true(a->has_batch_seq);
    assert_int_equal(a->batch_seq, 99);
    assert_null(a->error);
    assert_int_equal(a->n_results, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(a->results[i]->report_id, res[i].report_id);
        assert_int_equal(a->results[i]->revision, res[i].revision);
        assert_int_equal(a->results[i]->status, res[i].status);
        assert_str_eq_opt(a->results[i]->reason, res[i].reason);
    }
    pufa_ack_destroy(&a);
    assert_null(a);

    /* The refusal of a whole frame carries the reason and no results. */
    buf = pufa_ack_encode(0, NULL, 0, "not a ReportBatch", &len);
    assert_int_equal(pufa_ack_decode(buf, len, &a), 0);
    free(buf);
    assert_string_equal(a->error, "not a ReportBatch");
    assert_int_equal(a->n_results, 0);
    pufa_ack_destroy(&a);

    static const uint8_t junk[] = {0x12, 0x05, 0x00};
    assert_int_equal(pufa_ack_decode(junk, sizeof junk, &a), PUFA_EPARSE);
    assert_int_equal(pufa_ack_decode(junk, PUFA_MAX_FRAME_BYTES + 1, &a), PUFA_ETOOBIG);
}

static void test_delta_round_trip(void **state) {
    (void)state;
    pufa_cell cells[2] = {
        {.county = "150821",
         .theme = 2,
         .venue = 3,
         .form = 1,
         .unit_code = "SFJ",
         .campaign = "宪法宣传周",
         .township = "隆兴昌镇"},
        {.county = "150822",
         .theme = 16,
         .venue = 13,
         .form = 10,
         .unit_code = "FY",
         .campaign = ""},
    };
    assert_int_equal(pufa_date_parse("2026-11-20", &cells[0].day), 0);
    assert_int_equal(pufa_date_parse("2000-01-01", &cells[1].day), 0);
    for (int f = 0; f < PUFA_NFIGURES; f++) {
        cells[0].fig[f] = f + 1;
        cells[1].fig[f] = f % 2 ? 0 : -(f + 100); /* negative: a retraction */
    }
    pufa_receipt rc[1] = {{.county = "150821", .unit_code = "SFJ", .reports = 12}};
    assert_int_equal(pufa_date_parse("2026-11-27", &rc[0].day), 0);
    pufa_delta d = {.seq = 1234567890123ULL,
                    .committed_at_ms = 1795000000999LL,
                    .cells = cells,
                    .n_cells = 2,
                    .receipts = rc,
                    .n_receipts = 1};
    size_t len;
    uint8_t *buf = pufa_delta_encode(&d, &len);
    pufa_delta back;
    assert_int_equal(pufa_delta_decode(buf, len, &back), 0);
    free(buf);
    assert_int_equal(back.seq, d.seq);
    assert_int_equal(back.committed_at_ms, d.committed_at_ms);
    assert_int_equal(back.skipped, 0);
    assert_int_equal(back.n_cells, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(back.cells[i].day, cells[i].day);
        assert_string_equal(back.cells[i].county, cells[i].county);
        assert_int_equal(back.cells[i].theme, cells[i].theme);
        assert_int_equal(back.cells[i].venue, cells[i].venue);
        assert_int_equal(back.cells[i].form, cells[i].form);
        assert_string_equal(back.cells[i].unit_code, cells[i].unit_code);
        assert_string_equal(back.cells[i].campaign, cells[i].campaign);
        /* Field 9; a cell without a township decodes as "" (none). */
        assert_string_equal(back.cells[i].township, cells[i].township ? cells[i].township : "");
        for (int f = 0; f < PUFA_NFIGURES; f++)
            assert_int_equal(back.cells[i].fig[f], cells[i].fig[f]);
    }
    assert_int_equal(back.n_receipts, 1);
    assert_int_equal(back.receipts[0].day, rc[0].day);
    assert_string_equal(back.receipts[0].county, "150821");
    assert_string_equal(back.receipts[0].unit_code, "SFJ");
    assert_int_equal(back.receipts[0].reports, 12);
    pufa_delta_free(&back);

    /* The heartbeat: a delta without cells. */
    pufa_delta hb = {.seq = 77, .committed_at_ms = 5};
    buf = pufa_delta_encode(&hb, &len);
    assert_int_equal(pufa_delta_decode(buf, len, &back), 0);
    free(buf);
    assert_int_equal(back.seq, 77);
    assert_int_equal(back.n_cells + back.n_receipts + back.skipped, 0);
    pufa_delta_free(&back);
}

/* Receipt.month (field 5): the activity month round-trips; a receipt
 * without one (an older sender, a retraction) decodes as 0, not known; a
 * malformed one is skipped, not fatal. */
static void test_receipt_month(void **state) {
    (void)state;
    assert_int_equal(pufa_month_parse("2026-11"), 2026 * 12 + 10);
    assert_int_equal(pufa_month_parse("2000-01"), 2000 * 12);
    static const char *const bad[] = {"1999-12", "2026-13",    "2026-00", "2026-1",
                                      "2026/11", "2026-11-01", "",        "abcd-ef"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(pufa_month_parse(bad[i]), 0);
    char m[8];
    pufa_month_format(2024 * 12 + 1, m);
    assert_string_equal(m, "2024-02");
    pufa_month_format(0, m);
    assert_string_equal(m, "");
    pufa_receipt rc[2] = {
        {.county = "150821", .unit_code = "SFJ", .reports = 3, .month = 2024 * 12 + 1},
        {.county = "150821", .unit_code = "SFJ", .reports = 1}};
    assert_int_equal(pufa_date_parse("2024-03-05", &rc[0].day), 0);
    rc[1].day = rc[0].day;
    pufa_delta d = {.seq = 9, .receipts = rc, .n_receipts = 2};
    size_t len;
    uint8_t *buf = pufa_delta_encode(&d, &len);
    pufa_delta back;
    assert_int_equal(pufa_delta_decode(buf, len, &back), 0);
    free(buf);
    assert_int_equal(back.n_receipts, 2);
    assert_int_equal(back.skipped, 0);
    assert_int_equal(back.receipts[0].month, 2024 * 12 + 1);
    assert_string_equal(back.msg->receipts[0]->month, "2024-02");
    assert_int_equal(back.receipts[1].month, 0);
    assert_null(back.msg->receipts[1]->month);
    pufa_delta_free(&back);

    /* A malformed month: that receipt is left out and counted. */
    Pufa__CommitDelta msg = PUFA__COMMIT_DELTA__INIT;
    Pufa__Receipt r = PUFA__RECEIPT__INIT, *rp = &r;
    msg.has_seq = 1;
    msg.seq = 10;
    r.day = "2024-03-05";
    r.county_code = "150821";
    r.unit_code = "SFJ";
    r.month = "2024-13";
    msg.n_receipts = 1;
    msg.receipts = &rp;
    len = pufa__commit_delta__get_packed_size(&msg);
    buf = pufa_malloc(len);
    pufa__commit_delta__pack(&msg, buf);
    assert_int_equal(pufa_delta_decode(buf, len, &back), 0);
    free(buf);
    assert_int_equal(back.n_receipts, 0);
    assert_int_equal(back.skipped, 1);
    pufa_delta_free(&back);
}

/* PeriodState in a CommitDelta (field 5) and a ReportBatch (field 9);
 * an invalid one is skipped, not fatal. */
static void test_period_round_trip(void **state) {
    (void)state;
    pufa_period p[2] = {
        {.org_code = "150821",
         .year = 2026,
         .month = 10,
         .state = PUFA_PERIOD_APPROVED,
         .set_by = "bayannur-sfj",
         .set_by_org = "150800",
         .set_at_ms = 1795000000123LL,
         .reason = ""},
        {.org_code = "150800",
         .year = 2026,
         .month = 2,
         .state = PUFA_PERIOD_OPEN,
         .set_by = "bayannur-sfj",
         .set_by_org = "150800",
         .set_at_ms = 5,
         .reason = "五原县补报讲座",
         .exception_open = true},
    };
    pufa_delta d = {.seq = 9, .committed_at_ms = 10, .periods = p, .n_periods = 2};
    size_t len;
    uint8_t *buf = pufa_delta_encode(&d, &len);
    pufa_delta back;
    assert_int_equal(pufa_delta_decode(buf, len, &back), 0);
    free(buf);
    assert_int_equal(back.n_periods, 2);
    assert_int_equal(back.skipped, 0);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(back.periods[i].org_code, p[i].org_code);
        assert_int_equal(back.periods[i].year, p[i].year);
        assert_int_equal(back.periods[i].month, p[i].month);
        assert_int_equal(back.periods[i].state, p[i].state);
        assert_string_equal(back.periods[i].set_by, p[i].set_by);
        assert_string_equal(back.periods[i].set_by_org, p[i].set_by_org);
        assert_int_equal(back.periods[i].set_at_ms, p[i].set_at_ms);
        assert_string_equal(back.periods[i].reason, p[i].reason);
        assert_int_equal(back.periods[i].exception_open, p[i].exception_open);
    }
    pufa_delta_free(&back);

    /* In a batch, after its reports. */
    pufa_buf frame = {0};
    pufa_batch_begin(&frame, "aggregator-150800", 3, 4);
    pufa_batch_add_period(&frame, &p[0]);
    pufa_batch_add_period(&frame, &p[1]);
    Pufa__ReportBatch *b = NULL;
    assert_int_equal(pufa_batch_decode((const uint8_t *)frame.data, frame.len, &b), 0);
    assert_int_equal(b->n_reports, 0);
    assert_int_equal(b->n_periods, 2);
    pufa_period q;
    assert_int_equal(pufa_period_from_pb(b->periods[1], &q), 0);
    assert_string_equal(q.org_code, "150800");
    assert_int_equal(q.month, 2);
    assert_int_equal(q.state, PUFA_PERIOD_OPEN);
    assert_string_equal(q.reason, "五原县补报讲座");
    pufa_batch_destroy(&b);
    pufa_buf_free(&frame);

    /* Bad periods are skipped and counted. */
    static const char *const bad_months[] = {"2026-13", "1999-12", "2026-1", "2026/10", NULL};
    for (int i = 0; i < 5; i++) {
        Pufa__PeriodState m = PUFA__PERIOD_STATE__INIT;
        m.org_code = (char *)(i == 4 ? "15082" : "150821");
        m.month = (char *)(i < 4 ? bad_months[i] : "2026-10");
        m.has_state = 1;
        m.state = PUFA__PERIOD_STATUS__PERIOD_SUBMITTED;
        pufa_period out;
        assert_int_equal(pufa_period_from_pb(&m, &out), -1);
    }
    /* and a delta that holds one is still decoded, the period counted */
    Pufa__PeriodState bad = PUFA__PERIOD_STATE__INIT;
    bad.org_code = "150821";
    bad.month = "2026-13";
    bad.has_state = 1;
    bad.state = PUFA__PERIOD_STATUS__PERIOD_SUBMITTED;
    Pufa__PeriodState *bp = &bad;
    Pufa__CommitDelta cd = PUFA__COMMIT_DELTA__INIT;
    cd.has_seq = 1;
    cd.seq = 2;
    cd.n_periods = 1;
    cd.periods = &bp;
    uint8_t raw[256];
    size_t rlen = pufa__commit_delta__pack(&cd, raw);
    assert_int_equal(pufa_delta_decode(raw, rlen, &back), 0);
    assert_int_equal(back.n_periods, 0);
    assert_int_equal(back.skipped, 1);
    pufa_delta_free(&back);
    Pufa__PeriodState m = PUFA__PERIOD_STATE__INIT;
    m.org_code = "150821";
    m.month = "2026-10";
    pufa_period out;
    assert_int_equal(pufa_period_from_pb(&m, &out), -1); /* no state */
    m.has_state = 1;
    m.state = (Pufa__PeriodStatus)9;
    assert_int_equal(pufa_period_from_pb(&m, &out), -1); /* unknown state */
    assert_string_equal(pufa_period_state_name(PUFA_PERIOD_SUBMITTED), "submitted");
    assert_int_equal(pufa_period_state_parse("accepted"), PUFA_PERIOD_ACCEPTED);
    assert_int_equal(pufa_period_state_parse("locked"), PUFA_PERIOD_UNSPECIFIED);
    assert_null(pufa_period_state_name((pufa_period_state)7));
}

static void test_delta_bad(void **state) {
    (void)state;
    pufa_delta back;
    /* No seq: not a feed message. */
    Pufa__CommitDelta m = PUFA__COMMIT_DELTA__INIT;
    uint8_t buf[64];
    size_t len = pufa__commit_delta__pack(&m, buf);
    assert_int_equal(pufa_delta_decode(buf, len, &back), PUFA_EPARSE);
    static const uint8_t junk[] = {0x1A, 0x09, 0x01};
    assert_int_equal(pufa_delta_decode(junk, sizeof junk, &back), PUFA_EPARSE);
    assert_int_equal(pufa_delta_decode(junk, PUFA_MAX_FEED_BYTES + 1, &back), PUFA_ETOOBIG);

    /* Cells without a valid day or county are left out and counted. */
    pufa_cell cells[3] = {
        {.county = "150821", .unit_code = "", .campaign = ""},
        {.county = NULL, .unit_code = "", .campaign = ""},
        {.county = "150822", .unit_code = "", .campaign = ""},
    };
    cells[0].fig[0] = 1;
    pufa_delta d = {.seq = 3, .cells = cells, .n_cells = 3};
    uint8_t *enc = pufa_delta_encode(&d, &len);
    assert_int_equal(pufa_delta_decode(enc, len, &back), 0);
    free(enc);
    assert_int_equal(back.n_cells, 2);
    assert_int_equal(back.skipped, 1);
    assert_string_equal(back.cells[1].county, "150822");
    pufa_delta_free(&back);
}

static void test_dashboard_round_trip(void **state) {
    (void)state;
    pufa_dash_row counties[2] = {{.key = "150821", .label = "五原县"},
                                 {.key = "150822", .label = "磴口县"}};
    pufa_dash_row themes[1] = {{.key = "2", .label = "宪法"}};
    for (int f = 0; f < PUFA_NFIGURES; f++) {
        counties[0].fig[f] = 10 + f;
        counties[1].fig[f] = 0; /* zeros are sent, not left out */
        themes[0].fig[f] = 100 * f;
    }
    pufa_dash_window w[2] = {{.window = "today", .has_totals = true}, {.window = "7d"}};
    assert_int_equal(pufa_date_parse("2026-11-27", &w[0].from), 0);
    w[0].to = w[0].from;
    w[1].from = w[0].from - 6;
    w[1].to = w[0].from;
    for (int f = 0; f < PUFA_NFIGURES; f++)
        w[0].totals[f] = 1000 + f;
    w[0].by[PUFA_BY_COUNTY] = counties;
    w[0].n_by[PUFA_BY_COUNTY] = 2;
    w[0].by[PUFA_BY_THEME] = themes;
    w[0].n_by[PUFA_BY_THEME] = 1;
    pufa_dashboard d = {.scope = "city",
                        .seq = 9,
                        .generated_at_ms = 1795000000000LL,
                        .windows = w,
                        .n_windows = 2};
    size_t len;
    uint8_t *buf = pufa_dashboard_encode(&d, &len);
    Pufa__Dashboard *m = NULL;
    assert_int_equal(pufa_dashboard_decode(buf, len, &m), 0);
    free(buf);
    assert_string_equal(m->scope, "city");
    assert_int_equal(m->seq, 9);
    assert_int_equal(m->generated_at_ms, 1795000000000LL);
    assert_int_equal(m->n_windows, 2);
    const Pufa__DashboardWindow *a = m->windows[0], *b = m->windows[1];
    assert_string_equal(a->window, "today");
    assert_string_equal(a->from_day, "2026-11-27");
    assert_string_equal(a->to_day, "2026-11-27");
    assert_non_null(a->totals);
    int64_t fig[PUFA_NFIGURES];
    pufa_figures_from_pb(a->totals, fig);
    for (int f = 0; f < PUFA_NFIGURES; f++)
        assert_int_equal(fig[f], 1000 + f);
    assert_int_equal(a->n_by_county, 2);
    assert_string_equal(a->by_county[1]->key, "150822");
    assert_string_equal(a->by_county[1]->label, "磴口县");
    assert_true(a->by_county[1]->figures->has_funds_fen);
    pufa_figures_from_pb(a->by_county[0]->figures, fig);
    for (int f = 0; f < PUFA_NFIGURES; f++)
        assert_int_equal(fig[f], 10 + f);
    assert_int_equal(a->n_by_theme, 1);
    pufa_figures_from_pb(a->by_theme[0]->figures, fig);
    for (int f = 0; f < PUFA_NFIGURES; f++)
        assert_int_equal(fig[f], 100 * f);
    assert_int_equal(a->n_by_venue + a->n_by_form + a->n_by_unit + a->n_by_campaign, 0);
    assert_string_equal(b->window, "7d");
    assert_string_equal(b->from_day, "2026-11-21");
    assert_null(b->totals);
    assert_int_equal(b->n_by_county, 0);
    pufa_dashboard_destroy(&m);
    assert_null(m);

    static const uint8_t junk[] = {0x22, 0x7F};
    assert_int_equal(pufa_dashboard_decode(junk, sizeof junk, &m), PUFA_EPARSE);
    assert_int_equal(pufa_dashboard_decode(junk, PUFA_MAX_FEED_BYTES + 1, &m), PUFA_ETOOBIG);
}

/* Every figure lands in its own protobuf field: a figure array with
 * distinct values survives Figures both ways, and the names of the fields
 * set follow pufa_figure_names. */
static void test_figures_map(void **state) {
    (void)state;
    int64_t fig[PUFA_NFIGURES], back[PUFA_NFIGURES];
    for (int f = 0; f < PUFA_NFIGURES; f++)
        fig[f] = (int64_t)1 << (2 * f + 3);
    Pufa__Figures g;
    pufa_figures_to_pb(fig, false, &g);
    pufa_figures_from_pb(&g, back);
    for (int f = 0; f < PUFA_NFIGURES; f++)
        assert_int_equal(back[f], fig[f]);
    const ProtobufCMessageDescriptor *desc = &pufa__figures__descriptor;
    assert_int_equal(desc->n_fields, PUFA_NFIGURES);
    for (int f = 0; f < PUFA_NFIGURES; f++) {
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(desc, pufa_figure_names[f]);
        assert_non_null(fd);
        assert_int_equal(*(const int64_t *)((const char *)&g + fd->offset), fig[f]);
    }
    /* Zeros are left out unless all are asked for. */
    memset(fig, 0, sizeof fig);
    pufa_figures_to_pb(fig, false, &g);
    assert_false(g.has_reports || g.has_sessions || g.has_funds_fen);
    pufa_figures_to_pb(fig, true, &g);
    assert_true(g.has_reports && g.has_sessions && g.has_funds_fen);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_round_trip), cmocka_unit_test(test_batch_round_trip),
        cmocka_unit_test(test_batch_caps),        cmocka_unit_test(test_ack_round_trip),
        cmocka_unit_test(test_delta_round_trip),  cmocka_unit_test(test_period_round_trip),
        cmocka_unit_test(test_delta_bad),         cmocka_unit_test(test_dashboard_round_trip),
        cmocka_unit_test(test_figures_map),       cmocka_unit_test(test_receipt_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
