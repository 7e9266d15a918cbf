/* Unit tests: window resolution (publisher/windows.c) on fixed days,
 * month ends, 29 February and year ends included: the rolling windows, the
 * plan, campaign windows and their roll-over, explicit ranges, and the bad
 * names and campaign specs that are refused. */
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "error.h"
#include "testlib.h"
#include "windows.h"

static pufa_day day(const char *s) {
    pufa_day d;
    if (pufa_date_parse(s, &d))
        fail_msg("bad date in the test: %s", s);
    return d;
}

/* Resolves name on today and checks from..to (and the label when given). */
static void check(const pub_windows *w, const char *name, const char *today, const char *from,
                  const char *to, const char *label) {
    pub_window win;
    int rc = pub_window_resolve(w, name, day(today), &win);
    if (rc != 0)
        fail_msg("%s on %s: refused (%d)", name, today, rc);
    char a[11], b[11];
    pufa_date_format(win.from, a);
    pufa_date_format(win.to, b);
    if (strcmp(a, from) != 0 || strcmp(b, to) != 0)
        fail_msg("%s on %s: got %s..%s, want %s..%s", name, today, a, b, from, to);
    assert_string_equal(win.name, name);
    if (label)
        assert_string_equal(win.label, label);
}

static void refused(const pub_windows *w, const char *name) {
    pub_window win;
    int rc = pub_window_resolve(w, name, day("2026-11-27"), &win);
    if (rc != PUFA_EINVAL)
        fail_msg("window '%s': got %d, want PUFA_EINVAL", name, rc);
}

static void rolling_windows(void **state) {
    (void)state;
    check(NULL, "today", "2026-11-27", "2026-11-27", "2026-11-27", "今日");
    check(NULL, "7d", "2026-11-27", "2026-11-21", "2026-11-27", "近7天");
    check(NULL, "30d", "2026-11-27", "2026-10-29", "2026-11-27", "近30天");
    /* Across a month end, 29 February and a year end. */
    check(NULL, "7d", "2024-03-02", "2024-02-25", "2024-03-02", NULL);
    check(NULL, "7d", "2023-03-02", "2023-02-24", "2023-03-02", NULL);
    check(NULL, "30d", "2024-03-01", "2024-02-01", "2024-03-01", NULL);
    check(NULL, "7d", "2027-01-03", "2026-12-28", "2027-01-03", NULL);
    check(NULL, "30d", "2027-01-01", "2026-12-03", "2027-01-01", NULL);
    check(NULL, "today", "2024-02-29", "2024-02-29", "2024-02-29", NULL);
}

static void calendar_windows(void **state) {
    (void)state;
    check(NULL, "month", "2026-11-27", "2026-11-01", "2026-11-27", "本月");
    check(NULL, "month", "2024-02-29", "2024-02-01", "2024-02-29", NULL);
    check(NULL, "month", "2026-12-31", "2026-12-01", "2026-12-31", NULL);
    check(NULL, "month", "2027-01-01", "2027-01-01", "2027-01-01", NULL); /* rolled over */
    check(NULL, "month", "2026-03-01", "2026-03-01", "2026-03-01", NULL);
    check(NULL, "quarter", "2026-11-27", "2026-10-01", "2026-11-27", "本季度");
    check(NULL, "quarter", "2026-03-31", "2026-01-01", "2026-03-31", NULL);
    check(NULL, "quarter", "2026-04-01", "2026-04-01", "2026-04-01", NULL);
    check(NULL, "quarter", "2024-06-30", "2024-04-01", "2024-06-30", NULL);
    check(NULL, "quarter", "2026-09-30", "2026-07-01", "2026-09-30", NULL);
    check(NULL, "quarter", "2026-12-31", "2026-10-01", "2026-12-31", NULL);
    check(NULL, "ytd", "2026-11-27", "2026-01-01", "2026-11-27", "本年");
    check(NULL, "ytd", "2024-12-31", "2024-01-01", "2024-12-31", NULL);
    check(NULL, "ytd", "2025-01-01", "2025-01-01", "2025-01-01", NULL);
    /* all: from the first accepted year to tomorrow. */
    check(NULL, "all", "2026-11-27", "2000-01-01", "2026-11-28", "全部");
    check(NULL, "all", "2026-12-31", "2000-01-01", "2027-01-01", NULL);
}

static void plan_windows(void **state) {
    (void)state;
    check(NULL, "plan", "2026-11-27", "2026-01-01", "2026-11-27", "九五普法(2026–2030)");
    check(NULL, "plan", "2025-12-31", "2021-01-01", "2025-12-31", "八五普法(2021–2025)");
    check(NULL, "plan", "2026-01-01", "2026-01-01", "2026-01-01", "九五普法(2026–2030)");
    check(NULL, "plan", "2030-12-31", "2026-01-01", "2030-12-31", NULL);
    check(NULL, "plan", "2031-01-01", "2031-01-01", "2031-01-01", "十五普法(2031–2035)");
    check(NULL, "plan", "2016-02-29", "2016-01-01", "2016-02-29", "七五普法(2016–2020)");
    /* Before 2016 too (the plans began in 1986). */
    check(NULL, "plan", "2015-12-31", "2011-01-01", "2015-12-31", "六五普法(2011–2015)");
    check(NULL, "plan", "2000-06-01", "1996-01-01", "2000-06-01", "三五普法(1996–2000)");
}

static void campaign_windows_and_their_roll_over(void **state) {
    (void)state;
    pub_windows w;
    char err[256] = "";
    assert_int_equal(
        pub_windows_parse_campaigns(&w,
                                    " 宪法宣传周:12-01..12-07, 民法典宣传月:05-01..05-31,"
                                    "国家安全教育日:04-15..04-15,跨年:12-25..01-05,"
                                    "闰日:02-29..03-01,回环:03-10..03-01 ",
                                    err, sizeof err),
        0);
    assert_int_equal(w.ncampaigns, 6);
    assert_string_equal(w.campaigns[0].name, "宪法宣传周");
    assert_string_equal(w.campaigns[4].name, "闰日");
    /* The occurrence that has started most recently. */
    check(&w, "campaign:宪法宣传周", "2026-12-03", "2026-12-01", "2026-12-07", "宪法宣传周 2026");
    check(&w, "campaign:宪法宣传周", "2026-12-01", "2026-12-01", "2026-12-07", NULL);
    check(&w, "campaign:宪法宣传周", "2026-11-30", "2025-12-01", "2025-12-07", "宪法宣传周 2025");
    check(&w, "campaign:宪法宣传周", "2026-12-31", "2026-12-01", "2026-12-07", NULL);
    check(&w, "campaign:宪法宣传周", "2027-01-01", "2026-12-01", "2026-12-07", NULL);
    check(&w, "campaign:民法典宣传月", "2026-05-31", "2026-05-01", "2026-05-31", NULL);
    check(&w, "campaign:国家安全教育日", "2026-04-14", "2025-04-15", "2025-04-15", NULL);
    check(&w, "campaign:国家安全教育日", "2026-04-15", "2026-04-15", "2026-04-15", NULL);
    /* Across the year end: it ends the year after it starts. */
    check(&w, "campaign:跨年", "2026-12-25", "2026-12-25", "2027-01-05", "跨年 2026");
    check(&w, "campaign:跨年", "2027-01-03", "2026-12-25", "2027-01-05", "跨年 2026");
    check(&w, "campaign:跨年", "2027-12-24", "2026-12-25", "2027-01-05", NULL);
    /* 29 February: in a common year the window starts on the 28th. */
    check(&w, "campaign:闰日", "2024-03-01", "2024-02-29", "2024-03-01", NULL);
    check(&w, "campaign:闰日", "2025-03-01", "2025-02-28", "2025-03-01", NULL);
    check(&w, "campaign:闰日", "2025-02-27", "2024-02-29", "2024-03-01", NULL);
    /* An end day before the start day in the same month: the next year. */
    check(&w, "campaign:回环", "2026-03-15", "2026-03-10", "2027-03-01", NULL);
    check(&w, "campaign:回环", "2026-03-05", "2025-03-10", "2026-03-01", NULL);
    /* Unknown names, and campaign windows with none configured. */
    refused(&w, "campaign:普法周");
    refused(&w, "campaign:");
    refused(NULL, "campaign:宪法宣传周");
}

static void explicit_ranges(void **state) {
    (void)state;
    check(NULL, "2024-02-01..2024-02-29", "2026-11-27", "2024-02-01", "2024-02-29",
          "2024-02-01..2024-02-29");
    check(NULL, "2026-12-31..2027-01-01", "2026-11-27", "2026-12-31", "2027-01-01", NULL);
    check(NULL, "2026-11-27..2026-11-27", "2026-11-27", "2026-11-27", "2026-11-27", NULL);
    check(NULL, "2006-01-01..2025-12-31", "2026-11-27", "2006-01-01", "2025-12-31", NULL);
    refused(NULL, "2026-11-28..2026-11-27"); /* backwards */
    refused(NULL, "2023-02-29..2023-03-01"); /* no 29 February in 2023 */
    refused(NULL, "2026-04-31..2026-05-01");
    refused(NULL, "2026-1-01..2026-02-01");
    refused(NULL, "2026-01-01..2026-02-01x");
    refused(NULL, "2026-01-01...2026-02-01");
    refused(NULL, "2026-01-01..");
    refused(NULL, "..2026-01-01");
    refused(NULL, "1990-01-01..2026-01-01"); /* more than twenty years */
}

static void unknown_names_are_refused(void **state) {
    (void)state;
    const char *bad[] = {"",    "fortnight", "Today", "7D",         "7d ",
                         " 7d", "30",        "year",  "2026-11-27", "plan:九五"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused(NULL, bad[i]);
    /* The standard windows all resolve, in display order. */
    assert_int_equal(pub_n_standard_windows, 8);
    assert_string_equal(pub_standard_windows[0], "today");
    assert_string_equal(pub_standard_windows[pub_n_standard_windows - 1], "all");
    for (size_t i = 0; i < pub_n_standard_windows; i++) {
        pub_window win;
        assert_int_equal(pub_window_resolve(NULL, pub_standard_windows[i], day("2024-02-29"), &win),
                         0);
        assert_true(win.from <= win.to);
    }
}

static void bad_campaign_specs_are_refused(void **state) {
    (void)state;
    const char *bad[] = {
        "宪法宣传周",                 /* no days */
        "宪法宣传周:12-01",           /* no end */
        ":12-01..12-07",              /* no name */
        "宪法宣传周:12-1..12-07",     /* not MM-DD */
        "宪法宣传周:13-01..12-07",    /* no month 13 */
        "宪法宣传周:12-00..12-07",    /* no day 0 */
        "宪法宣传周:02-30..03-01",    /* 30 February never exists */
        "宪法宣传周:04-31..05-01",    /* nor 31 April */
        "宪法宣传周:12-01..12-07, x", /* the second one is bad */
        "a-name-that-is-longer-than-sixty-three-bytes-which-is-what-fits-here:12-01..12-07",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pub_windows w;
        char err[256] = "";
        if (pub_windows_parse_campaigns(&w, bad[i], err, sizeof err) != PUFA_ECONFIG)
            fail_msg("campaign spec '%s' was accepted", bad[i]);
        assert_contains(err, "campaign window");
    }
    /* Sixteen are allowed, not seventeen. */
    char spec[1024] = "";
    for (int i = 0; i < PUB_MAX_CAMPAIGNS + 1; i++) {
        char one[32];
        snprintf(one, sizeof one, "%sc%d:01-01..01-02", i ? "," : "", i);
        strcat(spec, one);
    }
    pub_windows w;
    char err[256] = "";
    assert_int_equal(pub_windows_parse_campaigns(&w, spec, err, sizeof err), PUFA_ECONFIG);
    assert_contains(err, "at most 16");
    *strrchr(spec, ',') = '\0';
    assert_int_equal(pub_windows_parse_campaigns(&w, spec, err, sizeof err), 0);
    assert_int_equal(w.ncampaigns, PUB_MAX_CAMPAIGNS);
    /* Empty and blank specs: no campaign windows. */
    assert_int_equal(pub_windows_parse_campaigns(&w, "", err, sizeof err), 0);
    assert_int_equal(w.ncampaigns, 0);
    assert_int_equal(pub_windows_parse_campaigns(&w, " , ", err, sizeof err), 0);
    assert_int_equal(w.ncampaigns, 0);
}

/* The base of from..to for compare c (months as pub_compare_base). */
static void check_base(pub_compare c, int months, const char *from, const char *to,
                       const char *want_from, const char *want_to) {
    pufa_day bf, bt;
    pub_compare_base(c, months, day(from), day(to), &bf, &bt);
    char a[11], b[11];
    pufa_date_format(bf, a);
    pufa_date_format(bt, b);
    if (strcmp(a, want_from) != 0 || strcmp(b, want_to) != 0)
        fail_msg("%s %d of %s..%s: got %s..%s, want %s..%s", pub_compare_names[c], months, from, to,
                 a, b, want_from, want_to);
}

static void prev_steps_back_a_month_a_quarter_or_an_equal_span(void **state) {
    (void)state;
    assert_int_equal(pub_window_prev_months("month"), 1);
    assert_int_equal(pub_window_prev_months("quarter"), 3);
    assert_int_equal(pub_window_prev_months("30d"), 0);
    assert_int_equal(pub_window_prev_months("ytd"), 0);
    /* Month ends: 03-31 -> 02-28 or 02-29, and a month's end stays one. */
    check_base(PUB_COMPARE_PREV, 1, "2026-03-01", "2026-03-31", "2026-02-01", "2026-02-28");
    check_base(PUB_COMPARE_PREV, 1, "2024-03-01", "2024-03-31", "2024-02-01", "2024-02-29");
    check_base(PUB_COMPARE_PREV, 1, "2026-04-01", "2026-04-30", "2026-03-01", "2026-03-31");
    check_base(PUB_COMPARE_PREV, 1, "2024-02-01", "2024-02-29", "2024-01-01", "2024-01-31");
    /* Month to date: the same days of the month before. */
    check_base(PUB_COMPARE_PREV, 1, "2026-11-01", "2026-11-27", "2026-10-01", "2026-10-27");
    check_base(PUB_COMPARE_PREV, 1, "2026-03-01", "2026-03-30", "2026-02-01", "2026-02-28");
    check_base(PUB_COMPARE_PREV, 1, "2026-03-15", "2026-03-31", "2026-02-15", "2026-02-28");
    /* Across the new year. */
    check_base(PUB_COMPARE_PREV, 1, "2026-01-01", "2026-01-31", "2025-12-01", "2025-12-31");
    /* Quarters. */
    check_base(PUB_COMPARE_PREV, 3, "2026-10-01", "2026-11-27", "2026-07-01", "2026-08-27");
    check_base(PUB_COMPARE_PREV, 3, "2026-04-01", "2026-05-31", "2026-01-01", "2026-02-28");
    check_base(PUB_COMPARE_PREV, 3, "2026-01-01", "2026-03-31", "2025-10-01", "2025-12-31");
    check_base(PUB_COMPARE_PREV, 3, "2024-04-01", "2024-05-30", "2024-01-01", "2024-02-29");
    /* Equal spans: a day, 7 days, a leap February. */
    check_base(PUB_COMPARE_PREV, 0, "2026-11-27", "2026-11-27", "2026-11-26", "2026-11-26");
    check_base(PUB_COMPARE_PREV, 0, "2026-01-01", "2026-01-07", "2025-12-25", "2025-12-31");
    check_base(PUB_COMPARE_PREV, 0, "2024-03-01", "2024-03-31", "2024-01-30", "2024-02-29");
}

static void yoy_takes_the_same_dates_a_year_earlier(void **state) {
    (void)state;
    check_base(PUB_COMPARE_YOY, 0, "2026-11-01", "2026-11-27", "2025-11-01", "2025-11-27");
    check_base(PUB_COMPARE_YOY, 0, "2024-02-29", "2024-02-29", "2023-02-28", "2023-02-28");
    check_base(PUB_COMPARE_YOY, 0, "2024-02-01", "2024-02-29", "2023-02-01", "2023-02-28");
    check_base(PUB_COMPARE_YOY, 0, "2024-02-29", "2024-03-31", "2023-02-28", "2023-03-31");
    /* A common year's February: the leap day of the year before stays out. */
    check_base(PUB_COMPARE_YOY, 0, "2025-02-01", "2025-02-28", "2024-02-01", "2024-02-28");
    check_base(PUB_COMPARE_YOY, 0, "2025-12-25", "2026-01-05", "2024-12-25", "2025-01-05");
    /* The months argument plays no part in yoy. */
    check_base(PUB_COMPARE_YOY, 3, "2024-03-31", "2024-03-31", "2023-03-31", "2023-03-31");
    assert_int_equal(pub_compare_parse("prev"), PUB_COMPARE_PREV);
    assert_int_equal(pub_compare_parse("yoy"), PUB_COMPARE_YOY);
    assert_int_equal(pub_compare_parse("mom"), -1);
    assert_int_equal(pub_compare_parse(""), -1);
}

/* The period p of day d: first..last and key. */
static void check_period(pub_period p, const char *d, const char *first, const char *last,
                         const char *key) {
    char a[11], b[11], k[16];
    pufa_day f = pub_period_first(p, day(d));
    pufa_date_format(f, a);
    pufa_date_format(pub_period_last(p, day(d)), b);
    pub_period_key(p, f, k, sizeof k);
    if (strcmp(a, first) || strcmp(b, last) || strcmp(k, key))
        fail_msg("%s of %s: got %s..%s %s, want %s..%s %s", pub_period_names[p], d, a, b, k, first,
                 last, key);
}

static void periods_are_days_iso_weeks_and_months(void **state) {
    (void)state;
    check_period(PUB_PERIOD_DAY, "2026-11-27", "2026-11-27", "2026-11-27", "2026-11-27");
    check_period(PUB_PERIOD_WEEK, "2026-11-27", "2026-11-23", "2026-11-29", "2026-W48");
    check_period(PUB_PERIOD_WEEK, "2026-11-23", "2026-11-23", "2026-11-29", "2026-W48");
    check_period(PUB_PERIOD_WEEK, "2026-11-29", "2026-11-23", "2026-11-29", "2026-W48");
    /* Across year ends: 2020 has a week 53; 2021-01-03 is still in it. */
    check_period(PUB_PERIOD_WEEK, "2021-01-03", "2020-12-28", "2021-01-03", "2020-W53");
    check_period(PUB_PERIOD_WEEK, "2021-01-04", "2021-01-04", "2021-01-10", "2021-W01");
    /* 2024-12-30 (a Monday) starts 2025's week 1. */
    check_period(PUB_PERIOD_WEEK, "2024-12-31", "2024-12-30", "2025-01-05", "2025-W01");
    check_period(PUB_PERIOD_WEEK, "2025-12-28", "2025-12-22", "2025-12-28", "2025-W52");
    check_period(PUB_PERIOD_WEEK, "2026-01-01", "2025-12-29", "2026-01-04", "2026-W01");
    check_period(PUB_PERIOD_WEEK, "2026-12-31", "2026-12-28", "2027-01-03", "2026-W53");
    check_period(PUB_PERIOD_MONTH, "2024-02-10", "2024-02-01", "2024-02-29", "2024-02");
    check_period(PUB_PERIOD_MONTH, "2026-02-28", "2026-02-01", "2026-02-28", "2026-02");
    check_period(PUB_PERIOD_MONTH, "2026-12-31", "2026-12-01", "2026-12-31", "2026-12");
    assert_int_equal(pub_period_parse("week"), PUB_PERIOD_WEEK);
    assert_int_equal(pub_period_parse("quarter"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rolling_windows),
        cmocka_unit_test(calendar_windows),
        cmocka_unit_test(plan_windows),
        cmocka_unit_test(campaign_windows_and_their_roll_over),
        cmocka_unit_test(explicit_ranges),
        cmocka_unit_test(unknown_names_are_refused),
        cmocka_unit_test(bad_campaign_specs_are_refused),
        cmocka_unit_test(prev_steps_back_a_month_a_quarter_or_an_equal_span),
        cmocka_unit_test(yoy_takes_the_same_dates_a_year_earlier),
        cmocka_unit_test(periods_are_days_iso_weeks_and_months),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
