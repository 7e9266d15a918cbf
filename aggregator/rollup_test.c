/* Unit tests: folding rollup cells and receipts (aggregator/rollup.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "rollup.h"
#include "testlib.h"

static void make(pufa_report *r, const char *county, const char *day, int theme, const char *unit,
                 const char *campaign, int64_t participants) {
    pufa_report_init(r);
    r->county_code = pufa_strdup(county);
    r->occurred_on = pufa_strdup(day);
    assert_int_equal(pufa_date_parse(day, &r->occurred_day), 0);
    r->ended_day = r->occurred_day;
    r->theme = theme;
    r->venue = 3;
    r->form = 1;
    r->unit_code = pufa_strdup(unit);
    r->campaign = campaign ? pufa_strdup(campaign) : NULL;
    r->counters[PUFA_C_SESSIONS] = 1;
    r->counters[PUFA_C_PARTICIPANTS] = participants;
    r->counters[PUFA_C_FUNDS_FEN] = 100 * participants;
}

static const pufa_cell *find(const rollup_set *s, const char *county, const char *day, int theme) {
    pufa_day d;
    pufa_date_parse(day, &d);
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->cells[i].county, county) && s->cells[i].day == d &&
            s->cells[i].theme == theme)
            return &s->cells[i];
    return NULL;
}

/* Reports of one cell add up into one cell; other cells stay apart; the
 * result is sorted (day, county, ...). */
static void test_fold_merges_equal_cells(void **state) {
    (void)state;
    pufa_report r[4];
    make(&r[0], "150821", "2026-11-20", 2, "SFJ", "宪法宣传周", 120);
    make(&r[1], "150821", "2026-11-20", 2, "SFJ", "宪法宣传周", 30);
    make(&r[2], "150821", "2026-11-20", 3, "SFJ", "宪法宣传周", 7); /* other theme */
    make(&r[3], "150822", "2026-11-19", 2, "SFJ", NULL, 5);         /* other county, day */
    rollup_set s;
    rollup_set_init(&s);
    for (int i = 0; i < 4; i++)
        rollup_add_report(&s, &r[i], +1);
    rollup_fold(&s);
    assert_int_equal(s.n, 3);
    const pufa_cell *c = find(&s, "150821", "2026-11-20", 2);
    assert_non_null(c);
    assert_int_equal(c->fig[PUFA_FIG_REPORTS], 2);
    assert_int_equal(c->fig[PUFA_FIG(PUFA_C_SESSIONS)], 2);
    assert_int_equal(c->fig[PUFA_FIG(PUFA_C_PARTICIPANTS)], 150);
    assert_int_equal(c->fig[PUFA_FIG(PUFA_C_FUNDS_FEN)], 15000);
    assert_string_equal(c->campaign, "宪法宣传周");
    c = find(&s, "150821", "2026-11-20", 3);
    assert_non_null(c);
    assert_int_equal(c->fig[PUFA_FIG(PUFA_C_PARTICIPANTS)], 7);
    c = find(&s, "150822", "2026-11-19", 2);
    assert_non_null(c);
    assert_string_equal(c->campaign, ""); /* absent campaign: the empty key */
    for (size_t i = 1; i < s.n; i++)
        assert_true(s.cells[i - 1].day <= s.cells[i].day);
    assert_int_equal(s.cells[0].day + 1, s.cells[1].day);
    rollup_set_free(&s);
    for (int i = 0; i < 4; i++)
        pufa_report_clear(&r[i]);
}

/* A correction is the old figures out and the new ones in: the same
 * figures cancel out (no cell), others leave the difference. */
static void test_fold_corrections(void **state) {
    (void)state;
    pufa_report old, same, bigger, moved;
    make(&old, "150821", "2026-11-20", 2, "SFJ", "", 120);
    make(&same, "150821", "2026-11-20", 2, "SFJ", "", 120);
    make(&bigger, "150821", "2026-11-20", 2, "SFJ", "", 150);
    make(&moved, "150821", "2026-11-21", 2, "SFJ", "", 120);
    rollup_set s;
    rollup_set_init(&s);

    rollup_add_report(&s, &old, -1);
    rollup_add_report(&s, &same, +1);
    rollup_fold(&s);
    assert_int_equal(s.n, 0);

    rollup_set_reset(&s);
    rollup_add_report(&s, &old, -1);
    rollup_add_report(&s, &bigger, +1);
    rollup_fold(&s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.cells[0].fig[PUFA_FIG_REPORTS], 0);
    assert_int_equal(s.cells[0].fig[PUFA_FIG(PUFA_C_PARTICIPANTS)], 30);
    assert_int_equal(s.cells[0].fig[PUFA_FIG(PUFA_C_FUNDS_FEN)], 3000);

    /* Moved to another day: one cell loses the report, the other gains it. */
    rollup_set_reset(&s);
    rollup_add_report(&s, &old, -1);
    rollup_add_report(&s, &moved, +1);
    rollup_fold(&s);
    assert_int_equal(s.n, 2);
    assert_int_equal(find(&s, "150821", "2026-11-20", 2)->fig[PUFA_FIG_REPORTS], -1);
    assert_int_equal(find(&s, "150821", "2026-11-21", 2)->fig[PUFA_FIG_REPORTS], 1);
    assert_int_equal(find(&s, "150821", "2026-11-20", 2)->fig[PUFA_FIG(PUFA_C_PARTICIPANTS)], -120);
    rollup_set_free(&s);
    pufa_report_clear(&old);
    pufa_report_clear(&same);
    pufa_report_clear(&bigger);
    pufa_report_clear(&moved);
}

/* Townships are keys once normalised: spellings of one township fold into
 * one cell (the set owns the normalised copies until its reset), another
 * township stays apart, and a correction that only respells the township
 * changes nothing. */
static void test_fold_townships(void **state) {
    (void)state;
    pufa_report r[5];
    const char *const names[5] = {"隆兴昌镇", " 隆兴昌镇 ", "隆兴昌\xE3\x80\x80\xE3\x80\x80镇",
                                  "ＸＨ街道", "XH街道"};
    for (int i = 0; i < 5; i++) {
        make(&r[i], "150821", "2026-11-20", 2, "SFJ", "", 10);
        r[i].township = pufa_strdup(names[i]);
    }
    rollup_set s;
    rollup_set_init(&s);
    for (int i = 0; i < 5; i++)
        rollup_add_report(&s, &r[i], +1);
    rollup_fold(&s);
    assert_int_equal(s.n, 3);
    const char *want[3] = {"XH街道", "隆兴昌 镇", "隆兴昌镇"}; /* sorted bytewise */
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(s.cells[i].township, want[i]);
    assert_int_equal(s.cells[0].fig[PUFA_FIG_REPORTS], 2);
    assert_int_equal(s.cells[1].fig[PUFA_FIG_REPORTS], 1);
    assert_int_equal(s.cells[2].fig[PUFA_FIG_REPORTS], 2);
    /* A correction from " 隆兴昌镇 " to "隆兴昌镇": no change at all. */
    rollup_set_reset(&s);
    rollup_add_report(&s, &r[1], -1);
    rollup_add_report(&s, &r[0], +1);
    rollup_fold(&s);
    assert_int_equal(s.n, 0);
    rollup_set_free(&s);
    for (int i = 0; i < 5; i++)
        pufa_report_clear(&r[i]);
}

/* Receipts per received day x county x unit: counts add up, the latest
 * time is kept. */
static void test_fold_receipts(void **state) {
    (void)state;
    pufa_report a, b, c;
    make(&a, "150821", "2026-11-20", 2, "SFJ", "", 1);
    make(&b, "150821", "2026-11-01", 5, "SFJ", "", 1); /* occurred_on does not matter */
    make(&c, "150821", "2026-11-20", 2, "FY", "", 1);
    /* 2026-11-27 10:00 and 11:00 in Shanghai; the next day at 00:30. */
    const int64_t t1 = 1795744800000LL, t2 = t1 + 3600000, t3 = t1 + 52200000;
    rollup_set s;
    rollup_set_init(&s);
    rollup_add_receipt(&s, &a, t2);
    rollup_add_receipt(&s, &b, t1);
    rollup_add_receipt(&s, &c, t1);
    rollup_add_receipt(&s, &a, t3);
    rollup_fold(&s);
    assert_int_equal(s.nr, 3);
    assert_int_equal(s.receipts[0].day, pufa_city_day(t1));
    assert_string_equal(s.receipts[0].unit_code, "FY");
    assert_int_equal(s.receipts[0].reports, 1);
    assert_string_equal(s.receipts[1].unit_code, "SFJ");
    assert_int_equal(s.receipts[1].reports, 2);
    assert_int_equal(s.receipts[1].last_ms, t2);
    assert_int_equal(s.receipts[2].day, pufa_city_day(t1) + 1);
    assert_int_equal(s.receipts[2].reports, 1);
    rollup_set_free(&s);
    pufa_report_clear(&a);
    pufa_report_clear(&b);
    pufa_report_clear(&c);
}

/* Receipts carry the activity month of the report (none for a
 * retraction): one receipt per day x county x unit x month, each with the
 * earliest and the latest time received. */
static void test_receipt_months(void **state) {
    (void)state;
    pufa_report a, b, c;
    make(&a, "150821", "2026-10-31", 2, "SFJ", "", 1);
    make(&b, "150821", "2026-11-01", 2, "SFJ", "", 1);
    make(&c, "150821", "2026-10-02", 2, "SFJ", "", 1);
    c.retracted = true;
    const int64_t t1 = 1795744800000LL, t2 = t1 + 60000, t3 = t1 + 120000;
    rollup_set s;
    rollup_set_init(&s);
    rollup_add_receipt(&s, &a, t2);
    rollup_add_receipt(&s, &b, t2);
    rollup_add_receipt(&s, &a, t1);
    rollup_add_receipt(&s, &c, t3);
    rollup_add_receipt(&s, &a, t3);
    rollup_fold(&s);
    assert_int_equal(s.nr, 3);
    assert_int_equal(s.receipts[0].month, 0); /* the retraction */
    assert_int_equal(s.receipts[0].reports, 1);
    assert_int_equal(s.receipts[1].month, 2026 * 12 + 9);
    assert_int_equal(s.receipts[1].reports, 3);
    assert_int_equal(s.receipts[1].first_ms, t1);
    assert_int_equal(s.receipts[1].last_ms, t3);
    assert_int_equal(s.receipts[2].month, 2026 * 12 + 10);
    assert_int_equal(s.receipts[2].first_ms, t2);
    rollup_set_free(&s);
    pufa_report_clear(&a);
    pufa_report_clear(&b);
    pufa_report_clear(&c);
}

/* The delta view points at the folded set and round-trips through wire. */
static void test_delta_view(void **state) {
    (void)state;
    pufa_report a;
    make(&a, "150821", "2026-11-20", 2, "SFJ", "", 9);
    rollup_set s;
    rollup_set_init(&s);
    for (int i = 0; i < 300; i++) /* past the first growth of the arrays */
        rollup_add_report(&s, &a, +1);
    rollup_add_receipt(&s, &a, 1795744800000LL);
    rollup_fold(&s);
    pufa_delta d;
    rollup_delta(&s, 17, 1795744800123LL, &d);
    assert_int_equal(d.seq, 17);
    assert_int_equal(d.n_cells, 1);
    assert_ptr_equal(d.cells, s.cells);
    assert_int_equal(d.n_receipts, 1);
    size_t len;
    uint8_t *buf = pufa_delta_encode(&d, &len);
    pufa_delta back;
    assert_int_equal(pufa_delta_decode(buf, len, &back), 0);
    free(buf);
    assert_int_equal(back.n_cells, 1);
    assert_int_equal(back.cells[0].fig[PUFA_FIG_REPORTS], 300);
    assert_int_equal(back.cells[0].fig[PUFA_FIG(PUFA_C_PARTICIPANTS)], 2700);
    assert_int_equal(back.receipts[0].reports, 1);
    pufa_delta_free(&back);
    rollup_set_free(&s);
    pufa_report_clear(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_merges_equal_cells), cmocka_unit_test(test_fold_corrections),
        cmocka_unit_test(test_fold_receipts),           cmocka_unit_test(test_receipt_months),
        cmocka_unit_test(test_fold_townships),          cmocka_unit_test(test_delta_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
