/* Unit tests: the publisher's approval states (publisher/periods.c), kept
 * from synthetic CommitDelta.periods through the feed (feed.c, live.c), and
 * status=approved over them (approved.c): official county-months only,
 * checked against sums of the cells put in. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approved.h"
#include "audit.h"
#include "date.h"
#include "error.h"
#include "feed.h"
#include "live.h"
#include "periods.h"
#include "testlib.h"
#include "wire.h"

static pufa_day day(const char *s) {
    pufa_day d;
    if (pufa_date_parse(s, &d))
        fail_msg("bad date in the test: %s", s);
    return d;
}

static int month(const char *s) {
    int m;
    if (pub_month_parse(s, &m))
        fail_msg("bad month in the test: %s", s);
    return m;
}

static pufa_period period(const char *org, const char *ym, pufa_period_state st, const char *by) {
    return (pufa_period){.org_code = org,
                         .year = atoi(ym),
                         .month = atoi(ym + 5),
                         .state = st,
                         .set_by = by,
                         .set_at_ms = 1764000000000LL,
                         .reason = "",
                         .exception_open = false};
}

static void store_keeps_one_state_per_unit_and_month(void **state) {
    (void)state;
    pub_periods *p = pub_periods_new();
    /* Out of order on purpose: the store sorts. */
    const char *orgs[] = {"150821", "150800", "150822", "150821"};
    const char *months[] = {"2026-10", "2026-10", "2026-09", "2026-09"};
    for (int i = 0; i < 4; i++) {
        pufa_period in = period(orgs[i], months[i], PUFA_PERIOD_SUBMITTED, "county");
        assert_int_equal(pub_periods_set(p, &in), 0);
    }
    assert_int_equal(pub_periods_count(p), 4);
    pufa_period up = period("150821", "2026-10", PUFA_PERIOD_APPROVED, "city-150800");
    up.reason = "ok";
    assert_int_equal(pub_periods_set(p, &up), 0);
    assert_int_equal(pub_periods_count(p), 4);
    const pub_pstate *e = pub_periods_get(p, "150821", month("2026-10"));
    assert_non_null(e);
    assert_int_equal(e->state, PUFA_PERIOD_APPROVED);
    assert_string_equal(e->set_by, "city-150800");
    assert_string_equal(e->reason, "ok");
    assert_int_equal(pub_periods_state(p, "150821", month("2026-09")), PUFA_PERIOD_SUBMITTED);
    assert_int_equal(pub_periods_state(p, "150823", month("2026-10")), PUFA_PERIOD_OPEN);
    assert_true(pub_period_official(PUFA_PERIOD_ACCEPTED));
    assert_false(pub_period_official(PUFA_PERIOD_SUBMITTED));
    /* Refused whole: a bad code, month or state. */
    pufa_period bad = period("15082", "2026-10", PUFA_PERIOD_OPEN, "x");
    assert_int_equal(pub_periods_set(p, &bad), PUFA_EINVAL);
    bad = period("150821", "2026-13", PUFA_PERIOD_OPEN, "x");
    assert_int_equal(pub_periods_set(p, &bad), PUFA_EINVAL);
    bad = period("150821", "2026-10", (pufa_period_state)9, "x");
    assert_int_equal(pub_periods_set(p, &bad), PUFA_EINVAL);
    assert_int_equal(pub_periods_count(p), 4);
    int m;
    assert_int_equal(pub_month_parse("1999-12", &m), -1);
    assert_int_equal(pub_month_parse("2026-1", &m), -1);
    assert_int_equal(pub_month_parse("2026-00", &m), -1);
    assert_int_equal(pub_month_parse("2026-1x", &m), -1);
    char out[8];
    pub_month_format(month("2026-12"), out);
    assert_string_equal(out, "2026-12");
    pub_periods_clear(p);
    assert_int_equal(pub_periods_count(p), 0);
    pub_periods_destroy(&p);
    assert_null(p);
}

/* ---- through the feed ---- */

static uint64_t seq;

/* Sends one delta (cells, periods) as the aggregator would; the verdict. */
static pub_feed_verdict send(pub_live *l, pufa_cell *cells, size_t nc, pufa_period *ps, size_t np) {
    pufa_delta d = {.seq = ++seq,
                    .committed_at_ms = pufa_now_ms(),
                    .cells = cells,
                    .n_cells = nc,
                    .periods = ps,
                    .n_periods = np};
    size_t len;
    uint8_t *buf = pufa_delta_encode(&d, &len);
    uint64_t got;
    char why[200];
    pub_feed_verdict v =
        pub_feed_apply(l, "delta", 5, buf, len, day("2026-11-27"), &got, why, sizeof why);
    free(buf);
    if (v != PUB_FEED_APPLIED)
        seq--;
    return v;
}

static pufa_cell cell(const char *d, const char *county, int theme, int64_t participants) {
    pufa_cell c = {.day = day(d),
                   .county = county,
                   .theme = (int16_t)theme,
                   .venue = 1,
                   .form = 1,
                   .unit_code = "SFJ",
                   .campaign = "",
                   .township = ""};
    c.fig[PUFA_FIG_REPORTS] = 1;
    c.fig[PUFA_FIG(PUFA_C_PARTICIPANTS)] = participants;
    return c;
}

static int64_t approved_participants(pub_live *l, const char *from, const char *to,
                                     const pub_scope *s, pub_dim dim, size_t *nrows) {
    pub_model *m = pub_live_model(l);
    pub_row *rows;
    int64_t tot[NFIG], sum[NFIG];
    pub_model_rdlock(m);
    *nrows = pub_query_status(m, true, day(from), day(to), dim, s, &rows, tot);
    pub_sum_status(m, true, day(from), day(to), s, sum);
    pub_model_unlock(m);
    int64_t rows_sum = 0;
    for (size_t i = 0; i < *nrows; i++)
        rows_sum += rows[i].fig[PUFA_FIG(PUFA_C_PARTICIPANTS)];
    free(rows);
    assert_int_equal(rows_sum, tot[PUFA_FIG(PUFA_C_PARTICIPANTS)]);
    assert_int_equal(sum[PUFA_FIG(PUFA_C_PARTICIPANTS)], tot[PUFA_FIG(PUFA_C_PARTICIPANTS)]);
    return tot[PUFA_FIG(PUFA_C_PARTICIPANTS)];
}

static void feed_states_and_approved_totals(void **state) {
    (void)state;
    seq = 0;
    pub_live *l = pub_live_new();
    pub_model *m = pub_live_model(l);
    pub_model_wrlock(m);
    pufa_orgunits *ou = pufa_orgunits_new();
    pufa_orgunits_add(ou, "150800", "巴彦淖尔市", "city", "");
    pufa_orgunits_add(ou, "150821", "五原县", "county", "150800");
    pufa_orgunits_add(ou, "150822", "磴口县", "county", "150800");
    pub_model_set_county_name(m, "150821", "五原县");
    pub_model_set_county_name(m, "150822", "磴口县");
    pub_model_set_orgunits(m, ou);
    pub_model_set_home(m, "150800");
    pub_model_unlock(m);
    pub_live_snapshot_loaded(l, 0);
    /* Two months x two counties, two themes. */
    pufa_cell cells[] = {
        cell("2026-09-03", "150821", 1, 10),    cell("2026-09-30", "150821", 2, 20),
        cell("2026-09-15", "150822", 1, 300),   cell("2026-10-01", "150821", 1, 4000),
        cell("2026-10-31", "150822", 2, 50000),
    };
    assert_int_equal(send(l, cells, 5, NULL, 0), PUB_FEED_APPLIED);
    size_t n;
    assert_int_equal(approved_participants(l, "2026-09-01", "2026-10-31", NULL, DIM_TOTAL, &n), 0);
    /* 150821 September approved by the city, 150822 October accepted. */
    pufa_period ps[] = {period("150821", "2026-09", PUFA_PERIOD_APPROVED, "city-150800"),
                        period("150822", "2026-10", PUFA_PERIOD_ACCEPTED, "province-150000"),
                        period("150822", "2026-09", PUFA_PERIOD_SUBMITTED, "county-150822")};
    assert_int_equal(send(l, NULL, 0, ps, 3), PUB_FEED_APPLIED);
    assert_int_equal(approved_participants(l, "2026-09-01", "2026-10-31", NULL, DIM_TOTAL, &n),
                     10 + 20 + 50000);
    assert_int_equal(approved_participants(l, "2026-09-01", "2026-10-31", NULL, DIM_COUNTY, &n),
                     10 + 20 + 50000);
    assert_int_equal(n, 2);
    assert_int_equal(approved_participants(l, "2026-09-01", "2026-10-31", NULL, DIM_THEME, &n),
                     10 + 20 + 50000);
    assert_int_equal(n, 2); /* theme 1: 10; theme 2: 20 + 50000 */
    /* A window cut inside a month counts that month's days in it only. */
    assert_int_equal(approved_participants(l, "2026-09-10", "2026-10-30", NULL, DIM_TOTAL, &n), 20);
    pub_scope one;
    pub_model_rdlock(m);
    assert_int_equal(pub_model_scope(m, "150822", &one), 0);
    pub_model_unlock(m);
    assert_int_equal(approved_participants(l, "2026-09-01", "2026-10-31", &one, DIM_TOTAL, &n),
                     50000);
    /* Which months were counted. */
    pub_model_rdlock(m);
    json_t *months = pub_approved_months(m, day("2026-09-01"), day("2026-10-31"), NULL);
    pub_model_unlock(m);
    char *text = json_dumps(months, JSON_COMPACT);
    assert_string_equal(text, "[{\"month\":\"2026-09\",\"counties\":2,\"counted\":\"part\","
                              "\"approved\":[\"150821\"],\"provisional\":1},"
                              "{\"month\":\"2026-10\",\"counties\":2,\"counted\":\"part\","
                              "\"approved\":[\"150822\"],\"provisional\":1}]");
    free(text);
    json_decref(months);
    /* An unlock in feed order: 150821 September provisional again. */
    pufa_period un = period("150821", "2026-09", PUFA_PERIOD_OPEN, "city-150800");
    un.reason = "更正";
    un.exception_open = true;
    assert_int_equal(send(l, NULL, 0, &un, 1), PUB_FEED_APPLIED);
    assert_int_equal(approved_participants(l, "2026-09-01", "2026-10-31", NULL, DIM_TOTAL, &n),
                     50000);
    pub_model_rdlock(m);
    const pub_pstate *e = pub_periods_get(pub_model_periods_c(m), "150821", month("2026-09"));
    assert_non_null(e);
    assert_true(e->exception_open);
    assert_string_equal(e->reason, "更正");
    pub_model_unlock(m);
    /* A delta with a malformed period is refused whole: neither its figures
     * nor its other periods are applied. */
    pufa_cell more = cell("2026-10-02", "150822", 1, 7);
    pufa_period bad[] = {period("150821", "2026-10", PUFA_PERIOD_APPROVED, "city-150800"),
                         period("15082", "2026-10", PUFA_PERIOD_APPROVED, "city-150800")};
    assert_int_equal(send(l, &more, 1, bad, 2), PUB_FEED_REFUSED);
    pufa_period long_by = period("150821", "2026-10", PUFA_PERIOD_APPROVED,
                                 "an-office-name-that-is-longer-than-sixty-four-bytes-is-"
                                 "never-an-office");
    assert_int_equal(send(l, &more, 1, &long_by, 1), PUB_FEED_REFUSED);
    assert_int_equal(approved_participants(l, "2026-09-01", "2026-10-31", NULL, DIM_TOTAL, &n),
                     50000);
    pub_model_rdlock(m);
    assert_int_equal(pub_periods_state(pub_model_periods_c(m), "150821", month("2026-10")),
                     PUFA_PERIOD_OPEN);
    /* The approvals view: the unit and each child. */
    pub_model_unlock(m);
    json_t *v = pub_approvals_json(m, "150800", month("2026-10"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "org"), "state")),
                        "open");
    json_t *kids = json_object_get(v, "children");
    assert_int_equal(json_array_size(kids), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 1), "state")),
                        "accepted");
    assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 1), "set_by")),
                        "province-150000");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "summary"), "open")), 1);
    json_decref(v);
    pub_live_destroy(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_keeps_one_state_per_unit_and_month),
        cmocka_unit_test(feed_states_and_approved_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
