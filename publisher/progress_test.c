/* Unit tests: targets against the totals (publisher/progress.c). */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "progress.h"
#include "stattable.h"
#include "testlib.h"

static pufa_day day(int y, int m, int d) {
    return pufa_date_from_ymd(y, m, d);
}

/* Days of the year elapsed, today included, in the city's calendar. */
static void test_elapsed(void **state) {
    (void)state;
    assert_int_equal(pub_year_days(2026), 365);
    assert_int_equal(pub_year_days(2024), 366);
    assert_int_equal(pub_year_days(2100), 365); /* not a leap year */
    assert_int_equal(pub_year_elapsed(2026, day(2025, 12, 31)), 0);
    assert_int_equal(pub_year_elapsed(2026, day(2026, 1, 1)), 1);
    assert_int_equal(pub_year_elapsed(2024, day(2024, 2, 29)), 60);
    assert_int_equal(pub_year_elapsed(2024, day(2024, 3, 1)), 61);
    assert_int_equal(pub_year_elapsed(2026, day(2026, 12, 31)), 365);
    assert_int_equal(pub_year_elapsed(2026, day(2027, 6, 1)), 365);
}

/* target x elapsed / days, rounded down, exact for any target. */
static void test_pro_rata(void **state) {
    (void)state;
    assert_int_equal(pub_pro_rata(365, 1, 365), 1);
    assert_int_equal(pub_pro_rata(1000, 60, 366), 163); /* 163.93 */
    assert_int_equal(pub_pro_rata(1000, 0, 365), 0);
    assert_int_equal(pub_pro_rata(1000, 365, 365), 1000);
    assert_int_equal(pub_pro_rata(1000, 400, 365), 1000);
    /* No overflow: INT64_MAX x 364 needs more than 64 bits. */
    assert_int_equal(pub_pro_rata(INT64_MAX, 364, 365), (int64_t)((__int128)INT64_MAX * 364 / 365));
    assert_int_equal(pub_pro_rata(1, 364, 365), 0);
}

/* A county's, a unit's and a city's targets take their figures from the
 * model over Jan 1 .. today; figures of another year, another county or
 * another unit do not count; behind = actual < expected. */
static void test_compute(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t one[NFIG] = {0};
    one[PUFA_FIG_REPORTS] = 1;
    one[PUFA_FIG(PUFA_C_SESSIONS)] = 10;
    pub_model_wrlock(m);
    pub_model_add(m, day(2026, 1, 1), "150821", 1, 1, 1, "SFJ", "", "隆兴昌镇", one);
    pub_model_add(m, day(2026, 3, 1), "150821", 1, 1, 1, "FY", "", "", one);
    pub_model_add(m, day(2026, 3, 2), "150822", 1, 1, 1, "SFJ", "", "", one);
    pub_model_add(m, day(2025, 12, 31), "150821", 1, 1, 1, "SFJ", "", "", one); /* last year */
    pub_model_add(m, day(2026, 6, 1), "150821", 1, 1, 1, "SFJ", "", "", one);   /* after today */
    pub_model_add(m, day(2026, 2, 1), "210402", 1, 1, 1, "SFJ", "", "", one);   /* another city */
    pub_model_unlock(m);
    pufa_orgunits *ou = pufa_orgunits_new();
    pufa_orgunits_add(ou, "150800", "巴彦淖尔市", "city", "");
    pufa_orgunits_add(ou, "150821", "五原县", "county", "150800");
    pufa_orgunits_add(ou, "150822", "磴口县", "county", "150800");
    pufa_orgunits_add(ou, "210400", "抚顺市", "city", "");
    pufa_orgunits_add(ou, "210402", "新抚区", "county", "210400");
    pufa_target t[4] = {
        {.year = 2026, .org_code = "150821", .figure = PUFA_FIG(PUFA_C_SESSIONS), .target = 100},
        {.year = 2026,
         .org_code = "150821",
         .unit_code = "SFJ",
         .figure = PUFA_FIG_REPORTS,
         .target = 4},
        {.year = 2026, .org_code = "150800", .figure = PUFA_FIG_REPORTS, .target = 3},
        {.year = 2026,
         .org_code = "150821",
         .unit_code = "GAJ",
         .figure = PUFA_FIG_REPORTS,
         .target = 12},
    };
    pufa_orgunits *mine = pufa_orgunits_new(); /* the model's own copy */
    for (size_t i = 0; i < ou->count; i++)
        pufa_orgunits_add(mine, ou->units[i].code, ou->units[i].name, ou->units[i].level,
                          ou->units[i].parent_code);
    pub_model_wrlock(m);
    pub_model_set_orgunits(m, mine);
    pub_model_unlock(m);
    pub_progress p[4];
    pufa_day today = day(2026, 4, 1); /* 91 days of 365 */
    pub_model_rdlock(m);
    pub_progress_compute(m, ou, t, 4, 2026, today, p);
    pub_model_unlock(m);
    assert_int_equal(p[0].actual, 20);   /* 150821 on 01-01 and 03-01 */
    assert_int_equal(p[0].expected, 24); /* 100 x 91 / 365 = 24.9 */
    assert_true(p[0].behind);
    assert_int_equal(p[1].actual, 1); /* SFJ in 150821 on 01-01 */
    assert_int_equal(p[1].expected, 0);
    assert_false(p[1].behind);
    assert_int_equal(p[2].actual, 3); /* the city's two counties, not 210402 */
    assert_int_equal(p[2].expected, 0);
    assert_int_equal(p[3].actual, 0); /* a unit that never reported */
    assert_int_equal(p[3].expected, 2);
    assert_true(p[3].behind);
    /* The JSON: the behind list holds the behind rows, most behind first. */
    pub_model_rdlock(m);
    json_t *o = pub_progress_json(m, ou, t, 4, 2026, NULL, today, 7);
    pub_model_unlock(m);
    assert_int_equal(json_integer_value(json_object_get(o, "behind_count")), 2);
    json_t *behind = json_object_get(o, "behind");
    assert_string_equal(json_string_value(json_object_get(json_array_get(behind, 0), "unit_code")),
                        "GAJ");
    assert_true(json_is_null(json_object_get(json_array_get(behind, 1), "unit_code")));
    json_t *row = json_array_get(json_object_get(o, "rows"), 0);
    assert_true(json_real_value(json_object_get(row, "pct_done")) == 20.0);
    assert_string_equal(json_string_value(json_object_get(row, "org_name")), "五原县");
    json_decref(o);
    pufa_orgunits_destroy(&ou);
    pub_model_destroy(&m);
}

/* A unit's actual over counties of hostile figures saturates at
 * INT64_MAX instead of wrapping negative (and looking "behind"). */
static void test_compute_saturates(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t big[NFIG] = {0};
    big[PUFA_FIG_REPORTS] = 1;
    big[PUFA_FIG(PUFA_C_FUNDS_FEN)] = INT64_MAX / 2 + 1;
    pub_model_wrlock(m);
    pub_model_add(m, day(2026, 1, 1), "150821", 1, 1, 1, "SFJ", "", "", big);
    pub_model_add(m, day(2026, 1, 2), "150822", 1, 1, 1, "SFJ", "", "", big);
    pub_model_unlock(m);
    pufa_orgunits *ou = pufa_orgunits_new();
    pufa_orgunits_add(ou, "150800", "巴彦淖尔市", "city", "");
    pufa_orgunits_add(ou, "150821", "五原县", "county", "150800");
    pufa_orgunits_add(ou, "150822", "磴口县", "county", "150800");
    pufa_orgunits *mine = pufa_orgunits_new();
    for (size_t i = 0; i < ou->count; i++)
        pufa_orgunits_add(mine, ou->units[i].code, ou->units[i].name, ou->units[i].level,
                          ou->units[i].parent_code);
    pub_model_wrlock(m);
    pub_model_set_orgunits(m, mine);
    pub_model_unlock(m);
    pufa_target t = {
        .year = 2026, .org_code = "150800", .figure = PUFA_FIG(PUFA_C_FUNDS_FEN), .target = 1};
    pub_progress p;
    pub_model_rdlock(m);
    pub_progress_compute(m, ou, &t, 1, 2026, day(2026, 4, 1), &p);
    pub_model_unlock(m);
    assert_true(p.actual == INT64_MAX);
    assert_false(p.behind);
    pufa_orgunits_destroy(&ou);
    pub_model_destroy(&m);
}

/* The 统计表's period in its title (publisher/stattable.c). */
static void test_stat_period(void **state) {
    (void)state;
    char s[96];
    stat_period(day(2026, 1, 1), day(2026, 10, 31), s, sizeof s);
    assert_string_equal(s, "2026年1—10月");
    stat_period(day(2026, 11, 1), day(2026, 11, 30), s, sizeof s);
    assert_string_equal(s, "2026年11月");
    stat_period(day(2024, 2, 1), day(2024, 2, 29), s, sizeof s);
    assert_string_equal(s, "2024年2月");
    stat_period(day(2024, 2, 1), day(2024, 2, 28), s, sizeof s); /* not the month's end */
    assert_string_equal(s, "2024年2月1日—2月28日");
    stat_period(day(2026, 1, 1), day(2026, 11, 27), s, sizeof s);
    assert_string_equal(s, "2026年1月1日—11月27日");
    stat_period(day(2025, 12, 25), day(2026, 1, 5), s, sizeof s);
    assert_string_equal(s, "2025年12月25日—2026年1月5日");
    stat_period(day(2025, 1, 1), day(2026, 12, 31), s, sizeof s);
    assert_string_equal(s, "2025年1月1日—2026年12月31日");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elapsed),     cmocka_unit_test(test_pro_rata),
        cmocka_unit_test(test_compute),     cmocka_unit_test(test_compute_saturates),
        cmocka_unit_test(test_stat_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
