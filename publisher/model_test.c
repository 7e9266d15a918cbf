/* Unit tests: the publisher's model (publisher/model.c): adding cells and
 * per-dimension rollups, window queries over days, counties and
 * dimensions, retractions back to zero, receipts and names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "enums.h"
#include "error.h"
#include "model.h"
#include "testlib.h"

static pufa_day day(const char *s) {
    pufa_day d;
    if (pufa_date_parse(s, &d))
        fail_msg("bad date in the test: %s", s);
    return d;
}

/* Figures that differ from each other: base, base + 1, ... (reports = n). */
static void figs(int64_t fig[NFIG], int64_t reports, int64_t base) {
    fig[PUFA_FIG_REPORTS] = reports;
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        fig[PUFA_FIG(c)] = base + c;
}

static void negate(int64_t fig[NFIG]) {
    for (int k = 0; k < NFIG; k++)
        fig[k] = -fig[k];
}

/* Totals of [from, to] for the whole city (DIM_TOTAL); returns the rows. */
static size_t city(pub_model *m, const char *from, const char *to, int64_t tot[NFIG]) {
    pub_row *rows;
    size_t n = pub_model_query(m, day(from), day(to), DIM_TOTAL, NULL, &rows, tot);
    free(rows);
    /* pub_model_sum (the trends' per-period sum) agrees with the query. */
    int64_t sum[NFIG];
    pub_model_sum(m, day(from), day(to), NULL, sum);
    for (int k = 0; k < NFIG; k++)
        if (sum[k] != tot[k])
            fail_msg("%s..%s %s: pub_model_sum %lld, query %lld", from, to, pufa_figure_names[k],
                     (long long)sum[k], (long long)tot[k]);
    return n;
}

static void assert_figs(const int64_t got[NFIG], const int64_t want[NFIG]) {
    for (int k = 0; k < NFIG; k++) {
        if (got[k] != want[k])
            fail_msg("figure %s: got %lld, want %lld", pufa_figure_names[k], (long long)got[k],
                     (long long)want[k]);
    }
}

/* The row of value v in rows[0..n), or fails. */
static const pub_row *row_of(const pub_row *rows, size_t n, uint32_t v) {
    static const pub_row none;
    for (size_t i = 0; i < n; i++)
        if (rows[i].value == v)
            return &rows[i];
    fail_msg("no row for value %u among %zu rows", v, n);
    return &none;
}

static void add(pub_model *m, const char *d, const char *county, int theme, const char *unit,
                const char *campaign, const int64_t fig[NFIG]) {
    pub_model_add(m, day(d), county, theme, 2, 3, unit, campaign, "", fig);
}

static void windows_sum_the_days_they_cover(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t a[NFIG], b[NFIG], c[NFIG], tot[NFIG], want[NFIG];
    figs(a, 1, 10);
    figs(b, 2, 100);
    figs(c, 4, 1000);
    pub_model_wrlock(m);
    /* A leap day, the month end before it and the year end after it. */
    add(m, "2024-01-31", "150821", 1, "SFJ", "", a);
    add(m, "2024-02-29", "150821", 1, "SFJ", "", b);
    add(m, "2024-12-31", "150821", 1, "SFJ", "", c);
    add(m, "2025-01-01", "150821", 1, "SFJ", "", c);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    assert_int_equal(city(m, "2024-02-29", "2024-02-29", tot), 1);
    assert_figs(tot, b);
    assert_int_equal(city(m, "2024-02-01", "2024-02-28", tot), 0);
    assert_figs(tot, (int64_t[NFIG]){0});
    city(m, "2024-01-31", "2024-03-01", tot);
    for (int k = 0; k < NFIG; k++)
        want[k] = a[k] + b[k];
    assert_figs(tot, want);
    /* The year end: 2024-12-31 alone, then across into 2025. */
    city(m, "2024-12-01", "2024-12-31", tot);
    assert_figs(tot, c);
    city(m, "2024-12-31", "2025-01-01", tot);
    for (int k = 0; k < NFIG; k++)
        want[k] = 2 * c[k];
    assert_figs(tot, want);
    city(m, "2000-01-01", "2030-12-31", tot);
    for (int k = 0; k < NFIG; k++)
        want[k] = a[k] + b[k] + 2 * c[k];
    assert_figs(tot, want);
    /* A window reaching before the model's first day (2000-01-01) still
     * counts what lies inside it; to < from is empty. */
    city(m, "1990-01-01", "2024-01-31", tot);
    assert_figs(tot, a);
    assert_int_equal(city(m, "2024-03-01", "2024-02-01", tot), 0);
    pub_model_unlock(m);
    pub_model_destroy(&m);
    assert_null(m);
}

static void days_before_2000_are_left_out(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t a[NFIG], tot[NFIG];
    figs(a, 1, 5);
    pub_model_wrlock(m);
    add(m, "1999-12-31", "150821", 1, "SFJ", "", a);
    assert_int_equal(pub_model_add_dim(m, day("1999-12-31"), "150821", DIM_TOTAL, "", a), -1);
    add(m, "2000-01-01", "150821", 1, "SFJ", "", a);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    city(m, "1999-01-01", "2000-12-31", tot);
    assert_figs(tot, a);
    pub_model_unlock(m);
    pub_model_destroy(&m);
}

static void breakdowns_by_county_and_every_dimension(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t a[NFIG], b[NFIG], c[NFIG], tot[NFIG], want[NFIG];
    figs(a, 1, 10);
    figs(b, 2, 20);
    figs(c, 3, 30);
    pub_model_wrlock(m);
    pub_model_set_county_name(m, "150821", "五原县");
    pub_model_set_unit_name(m, "SFJ", "司法局");
    add(m, "2026-11-20", "150821", 1, "SFJ", "宪法宣传周", a);
    add(m, "2026-11-20", "150822", 2, "SFJ", "", b);
    add(m, "2026-11-21", "150821", 2, "JYJ", "宪法宣传周", c);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    pufa_day from = day("2026-11-01"), to = day("2026-11-30");
    pub_row *rows;

    /* By county: 150821 = a + c, 150822 = b, with names where known. */
    size_t n = pub_model_query(m, from, to, DIM_COUNTY, NULL, &rows, tot);
    assert_int_equal(n, 2);
    assert_int_equal(pub_model_counties(m), 2);
    uint32_t wy = pub_model_county_index(m, "150821");
    uint32_t other = pub_model_county_index(m, "150822");
    assert_int_not_equal(wy, UINT32_MAX);
    assert_int_equal(pub_model_county_index(m, "999999"), UINT32_MAX);
    for (int k = 0; k < NFIG; k++)
        want[k] = a[k] + c[k];
    assert_figs(row_of(rows, n, wy)->fig, want);
    assert_figs(row_of(rows, n, other)->fig, b);
    assert_string_equal(pub_model_key(m, DIM_COUNTY, wy), "150821");
    assert_string_equal(pub_model_label(m, DIM_COUNTY, wy), "五原县");
    assert_string_equal(pub_model_label(m, DIM_COUNTY, other), "150822"); /* no name: the code */
    for (int k = 0; k < NFIG; k++)
        want[k] = a[k] + b[k] + c[k];
    assert_figs(tot, want);
    free(rows);

    /* By theme, all counties: theme 1 = a, theme 2 = b + c. */
    n = pub_model_query(m, from, to, DIM_THEME, NULL, &rows, tot);
    assert_int_equal(n, 2);
    assert_figs(row_of(rows, n, 1)->fig, a);
    for (int k = 0; k < NFIG; k++)
        want[k] = b[k] + c[k];
    assert_figs(row_of(rows, n, 2)->fig, want);
    assert_string_equal(pub_model_key(m, DIM_THEME, 1), pufa_enum_code(PUFA_ENUM_THEME, 1));
    assert_string_equal(pub_model_label(m, DIM_THEME, 2), pufa_enum_label(PUFA_ENUM_THEME, 2));
    free(rows);

    /* By theme within one county: theme 1 = a, theme 2 = c. */
    pub_model_unlock(m);
    pub_model_wrlock(m);
    pufa_orgunits *ou = pufa_orgunits_new();
    assert_int_equal(pufa_orgunits_add(ou, "150800", "巴彦淖尔市", "city", ""), 0);
    assert_int_equal(pufa_orgunits_add(ou, "150821", "五原县", "county", "150800"), 0);
    assert_int_equal(pufa_orgunits_add(ou, "150822", "磴口县", "county", "150800"), 0);
    pub_model_set_orgunits(m, ou);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    pub_scope wuyuan;
    assert_int_equal(pub_model_scope(m, "150821", &wuyuan), 0);
    n = pub_model_query(m, from, to, DIM_THEME, &wuyuan, &rows, tot);
    assert_int_equal(n, 2);
    assert_figs(row_of(rows, n, 2)->fig, c);
    for (int k = 0; k < NFIG; k++)
        want[k] = a[k] + c[k];
    assert_figs(tot, want);
    free(rows);

    /* pub_model_sum of one county: its total. */
    pub_model_sum(m, from, to, &wuyuan, tot);
    assert_figs(tot, want);

    /* An unknown county has no scope. */
    pub_scope unknown;
    assert_int_equal(pub_model_scope(m, "999999", &unknown), PUFA_ENOTFOUND);

    /* Venue and form: every cell was added with venue 2, form 3. */
    n = pub_model_query(m, from, to, DIM_VENUE, NULL, &rows, tot);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].value, 2);
    free(rows);
    n = pub_model_query(m, from, to, DIM_FORM, NULL, &rows, tot);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].value, 3);
    free(rows);

    /* By unit: SFJ = a + b, JYJ = c; keys and labels. */
    n = pub_model_query(m, from, to, DIM_UNIT, NULL, &rows, tot);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        const char *key = pub_model_key(m, DIM_UNIT, rows[i].value);
        if (!strcmp(key, "SFJ")) {
            for (int k = 0; k < NFIG; k++)
                want[k] = a[k] + b[k];
            assert_figs(rows[i].fig, want);
            assert_string_equal(pub_model_label(m, DIM_UNIT, rows[i].value), "司法局");
        } else {
            assert_string_equal(key, "JYJ");
            assert_figs(rows[i].fig, c);
            assert_string_equal(pub_model_label(m, DIM_UNIT, rows[i].value), "JYJ");
        }
    }
    free(rows);

    /* By campaign: 宪法宣传周 = a + c, none ("", shown as (无)) = b. */
    n = pub_model_query(m, from, to, DIM_CAMPAIGN, NULL, &rows, tot);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        const char *key = pub_model_key(m, DIM_CAMPAIGN, rows[i].value);
        if (*key) {
            assert_string_equal(key, "宪法宣传周");
            for (int k = 0; k < NFIG; k++)
                want[k] = a[k] + c[k];
            assert_figs(rows[i].fig, want);
        } else {
            assert_string_equal(pub_model_label(m, DIM_CAMPAIGN, rows[i].value), "(无)");
            assert_figs(rows[i].fig, b);
        }
    }
    free(rows);

    /* Only the 21st: c alone. */
    n = pub_model_query(m, day("2026-11-21"), day("2026-11-21"), DIM_COUNTY, NULL, &rows, tot);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].value, wy);
    assert_figs(tot, c);
    free(rows);
    pub_model_unlock(m);
    pub_model_destroy(&m);
}

static void a_retraction_takes_the_figures_back_to_zero(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t a[NFIG], b[NFIG], tot[NFIG];
    figs(a, 1, 40);
    figs(b, 1, 7);
    pub_model_wrlock(m);
    add(m, "2026-02-28", "150821", 4, "SFJ", "", a);
    add(m, "2026-02-28", "150822", 5, "SFJ", "", b);
    negate(a);
    add(m, "2026-02-28", "150821", 4, "SFJ", "", a); /* the retraction */
    pub_model_unlock(m);
    pub_model_rdlock(m);
    pub_row *rows;
    /* The county and the theme whose only report was retracted are gone:
     * rows with all-zero figures are left out, totals are b alone. */
    size_t n =
        pub_model_query(m, day("2026-02-01"), day("2026-02-28"), DIM_COUNTY, NULL, &rows, tot);
    assert_int_equal(n, 1);
    assert_string_equal(pub_model_key(m, DIM_COUNTY, rows[0].value), "150822");
    assert_figs(tot, b);
    free(rows);
    n = pub_model_query(m, day("2026-02-01"), day("2026-02-28"), DIM_THEME, NULL, &rows, tot);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].value, 5);
    free(rows);
    pub_model_unlock(m);

    /* Retract the other one too: nothing left anywhere. */
    negate(b);
    pub_model_wrlock(m);
    add(m, "2026-02-28", "150822", 5, "SFJ", "", b);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    for (int dim = DIM_TOTAL; dim <= DIM_COUNTY; dim++) {
        n = pub_model_query(m, day("2026-01-01"), day("2026-12-31"), (pub_dim)dim, NULL, &rows,
                            tot);
        if (n != 0)
            fail_msg("%s: %zu rows left after every retraction", pub_dim_names[dim], n);
        assert_figs(tot, (int64_t[NFIG]){0});
        free(rows);
    }
    pub_model_unlock(m);
    pub_model_destroy(&m);
}

static void rollup_dim_rows_feed_their_own_dimension(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t a[NFIG], b[NFIG], tot[NFIG];
    figs(a, 3, 11);
    figs(b, 1, 2);
    pufa_day d = day("2026-12-31");
    pub_model_wrlock(m);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_TOTAL, "", a), 0);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_THEME, "3", a), 0);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_UNIT, "SFJ", b), 0);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_CAMPAIGN, "宪法宣传周", a), 0);
    /* Keys the model cannot place are refused, nothing added. */
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_THEME, "", a), -1);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_THEME, "x", a), -1);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_THEME, "-1", a), -1);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_THEME, "17", a), -1);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_VENUE, "14", a), -1);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_FORM, "11", a), -1);
    assert_int_equal(pub_model_add_dim(m, d, "150821", DIM_COUNTY, "", a), -1);
    assert_int_equal(pub_model_add_dim(m, d, "150821", NDIM, "", a), -1);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    pub_row *rows;
    /* Each dimension sees only its own rows: the total is a (not a + b). */
    size_t n = pub_model_query(m, d, d, DIM_COUNTY, NULL, &rows, tot);
    assert_int_equal(n, 1);
    assert_figs(tot, a);
    free(rows);
    n = pub_model_query(m, d, d, DIM_THEME, NULL, &rows, tot);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].value, 3);
    assert_figs(tot, a);
    free(rows);
    n = pub_model_query(m, d, d, DIM_UNIT, NULL, &rows, tot);
    assert_int_equal(n, 1);
    assert_figs(tot, b);
    free(rows);
    n = pub_model_query(m, d, d, DIM_VENUE, NULL, &rows, tot);
    assert_int_equal(n, 0);
    free(rows);
    pub_model_unlock(m);
    pub_model_destroy(&m);
}

static void receipts_clear_and_names(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t a[NFIG], tot[NFIG];
    figs(a, 1, 1);
    pub_model_wrlock(m);
    pub_model_set_county_name(m, "150821", "五原县");
    pub_model_receipt(m, day("2026-02-28"), "150821", "SFJ");
    pub_model_receipt(m, day("2026-03-01"), "150821", "JYJ");
    pub_model_receipt(m, day("2026-01-31"), "150821", "SFJ"); /* older: ignored */
    add(m, "2026-03-01", "150821", 1, "SFJ", "", a);
    pub_model_set_seq(m, 42);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    uint32_t c = pub_model_county_index(m, "150821");
    assert_int_equal(pub_model_last_report(m, c, NULL), day("2026-03-01"));
    assert_int_equal(pub_model_last_report(m, c, "SFJ"), day("2026-02-28"));
    assert_int_equal(pub_model_last_report(m, c, "JYJ"), day("2026-03-01"));
    assert_int_equal(pub_model_last_report(m, c, "NONE"), -1);
    assert_int_equal(pub_model_units(m), 2);
    assert_int_equal(pub_model_seq(m), 42);
    pub_model_unlock(m);

    /* Clear forgets figures and receipts, keeps names (indices stay valid). */
    pub_model_wrlock(m);
    pub_model_clear(m);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    assert_int_equal(city(m, "2026-01-01", "2026-12-31", tot), 0);
    assert_int_equal(pub_model_last_report(m, c, NULL), -1);
    assert_int_equal(pub_model_county_index(m, "150821"), c);
    assert_string_equal(pub_model_label(m, DIM_COUNTY, c), "五原县");
    pub_model_unlock(m);
    pub_model_destroy(&m);
    pub_model_destroy(&m); /* harmless */
}

/* Many cells on one day: the per-day index grows and still finds each. */
static void many_cells_on_one_day(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t one[NFIG], tot[NFIG];
    figs(one, 1, 1);
    pub_model_wrlock(m);
    char unit[16];
    for (int round = 0; round < 3; round++)
        for (int u = 0; u < 500; u++) {
            snprintf(unit, sizeof unit, "U%03d", u);
            add(m, "2026-11-27", "150821", 1 + u % 16, unit, "", one);
        }
    pub_model_unlock(m);
    pub_model_rdlock(m);
    pub_row *rows;
    size_t n = pub_model_query(m, day("2026-11-27"), day("2026-11-27"), DIM_UNIT, NULL, &rows, tot);
    assert_int_equal(n, 500);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rows[i].fig[PUFA_FIG_REPORTS], 3);
    assert_int_equal(tot[PUFA_FIG_REPORTS], 1500);
    free(rows);
    pub_model_unlock(m);
    pub_model_destroy(&m);
}

static void figure_and_dimension_names(void **state) {
    (void)state;
    assert_int_equal(pub_figure_parse("reports"), PUFA_FIG_REPORTS);
    assert_int_equal(pub_figure_parse("funds_fen"), PUFA_FIG(PUFA_C_FUNDS_FEN));
    assert_int_equal(pub_figure_parse("participants"), PUFA_FIG(PUFA_C_PARTICIPANTS));
    assert_int_equal(pub_figure_parse("Reports"), -1);
    assert_int_equal(pub_figure_parse(""), -1);
    assert_int_equal(pub_dim_parse("county"), DIM_COUNTY);
    assert_int_equal(pub_dim_parse("none"), DIM_TOTAL);
    assert_int_equal(pub_dim_parse("total"), DIM_TOTAL);
    assert_int_equal(pub_dim_parse("campaign"), DIM_CAMPAIGN);
    assert_int_equal(pub_dim_parse("colour"), -1);
}

static void rows_rank_by_a_figure_then_by_value(void **state) {
    (void)state;
    pub_row rows[5];
    memset(rows, 0, sizeof rows);
    const int64_t participants[5] = {10, 30, 10, 50, 30};
    for (uint32_t i = 0; i < 5; i++) {
        rows[i].value = i;
        rows[i].fig[PUFA_FIG(PUFA_C_PARTICIPANTS)] = participants[i];
        rows[i].fig[PUFA_FIG_REPORTS] = 5 - i;
    }
    pub_rows_rank(rows, 5, PUFA_FIG(PUFA_C_PARTICIPANTS));
    const uint32_t want[5] = {3, 1, 4, 0, 2};
    for (int i = 0; i < 5; i++)
        assert_int_equal(rows[i].value, want[i]);
    pub_rows_rank(rows, 5, PUFA_FIG_REPORTS);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(rows[i].value, i);
    pub_rows_rank(rows, 0, PUFA_FIG_REPORTS); /* nothing to do */
}

/* Two provinces, a city in each (and a second city in one), counties
 * under them; the home restricts every read, and the breakdowns by city
 * and province are their counties' sums. */
static void breakdowns_by_city_and_province_within_the_home(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t a[NFIG], b[NFIG], c[NFIG], d[NFIG], tot[NFIG], want[NFIG];
    figs(a, 1, 10);
    figs(b, 2, 20);
    figs(c, 3, 30);
    figs(d, 4, 40);
    pub_model_wrlock(m);
    /* Data before the org units: the ancestors are found when they come. */
    add(m, "2026-11-20", "150821", 1, "SFJ", "", a);
    pub_model_set_orgunits(m, NULL);
    pufa_orgunits *ou = pufa_orgunits_new();
    const char *units[][4] = {{"100000", "全国", "nation", ""},
                              {"150000", "内蒙古自治区", "province", "100000"},
                              {"150800", "巴彦淖尔市", "city", "150000"},
                              {"150821", "五原县", "county", "150800"},
                              {"150900", "乌兰察布市", "city", "150000"},
                              {"150921", "卓资县", "county", "150900"},
                              {"210000", "辽宁省", "province", "100000"},
                              {"210400", "抚顺市", "city", "210000"},
                              {"210402", "新抚区", "county", "210400"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        assert_int_equal(pufa_orgunits_add(ou, units[i][0], units[i][1], units[i][2], units[i][3]),
                         0);
    pub_model_set_orgunits(m, ou);
    /* Data after them, and a county no org unit names. */
    add(m, "2026-11-20", "150921", 1, "SFJ", "", b);
    add(m, "2026-11-21", "210402", 1, "SFJ", "", c);
    add(m, "2026-11-21", "990101", 1, "SFJ", "", d);
    pub_model_unlock(m);
    pufa_day from = day("2026-11-01"), to = day("2026-11-30");
    pub_row *rows;

    /* No home: every county counts, the unnamed one too. */
    pub_model_rdlock(m);
    pub_model_sum(m, from, to, NULL, tot);
    for (int k = 0; k < NFIG; k++)
        want[k] = a[k] + b[k] + c[k] + d[k];
    assert_figs(tot, want);
    /* By province: the unnamed county has none, so is in no row. */
    size_t n = pub_model_query(m, from, to, DIM_PROVINCE, NULL, &rows, tot);
    assert_int_equal(n, 2);
    /* (rows in org-unit order) */
    assert_string_equal(pub_model_key(m, DIM_PROVINCE, rows[1].value), "210000");
    assert_string_equal(pub_model_label(m, DIM_PROVINCE, rows[1].value), "辽宁省");
    assert_figs(rows[1].fig, c);
    for (int k = 0; k < NFIG; k++)
        want[k] = a[k] + b[k];
    assert_figs(rows[0].fig, want);
    free(rows);
    pub_model_unlock(m);

    /* Home: the province.  Liaoning and the unnamed county are out. */
    pub_model_wrlock(m);
    pub_model_set_home(m, "150000");
    pub_model_unlock(m);
    pub_model_rdlock(m);
    assert_string_equal(pub_model_home(m), "150000");
    n = pub_model_query(m, from, to, DIM_CITY, NULL, &rows, tot);
    assert_int_equal(n, 2);
    assert_string_equal(pub_model_key(m, DIM_CITY, rows[1].value), "150900");
    assert_string_equal(pub_model_label(m, DIM_CITY, rows[1].value), "乌兰察布市");
    assert_figs(rows[1].fig, b);
    assert_string_equal(pub_model_key(m, DIM_CITY, rows[0].value), "150800");
    assert_figs(rows[0].fig, a);
    assert_figs(tot, want);
    free(rows);
    n = pub_model_query(m, from, to, DIM_COUNTY, NULL, &rows, tot);
    assert_int_equal(n, 2);
    free(rows);
    pub_model_sum(m, from, to, NULL, tot);
    assert_figs(tot, want);
    /* A city's scope: its county only. */
    pub_scope city;
    assert_int_equal(pub_model_scope(m, "150800", &city), 0);
    assert_int_equal(city.level, 2);
    n = pub_model_query(m, from, to, DIM_THEME, &city, &rows, tot);
    assert_int_equal(n, 1);
    assert_figs(tot, a);
    free(rows);
    assert_true(pub_model_county_in(m, &city, pub_model_county_index(m, "150821")));
    assert_false(pub_model_county_in(m, &city, pub_model_county_index(m, "150921")));
    assert_false(pub_model_county_in(m, NULL, pub_model_county_index(m, "210402")));
    assert_false(pub_model_county_in(m, NULL, pub_model_county_index(m, "990101")));
    pub_model_unlock(m);

    /* A home the org units do not hold counts nothing. */
    pub_model_wrlock(m);
    pub_model_set_home(m, "330000");
    pub_model_unlock(m);
    pub_model_rdlock(m);
    pub_model_sum(m, from, to, NULL, tot);
    assert_figs(tot, (int64_t[NFIG]){0});
    pub_model_unlock(m);
    assert_int_equal(pub_dim_parse("city"), DIM_CITY);
    assert_int_equal(pub_dim_parse("province"), DIM_PROVINCE);
    pub_model_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(windows_sum_the_days_they_cover),
        cmocka_unit_test(days_before_2000_are_left_out),
        cmocka_unit_test(breakdowns_by_county_and_every_dimension),
        cmocka_unit_test(a_retraction_takes_the_figures_back_to_zero),
        cmocka_unit_test(rollup_dim_rows_feed_their_own_dimension),
        cmocka_unit_test(receipts_clear_and_names),
        cmocka_unit_test(many_cells_on_one_day),
        cmocka_unit_test(figure_and_dimension_names),
        cmocka_unit_test(rows_rank_by_a_figure_then_by_value),
        cmocka_unit_test(breakdowns_by_city_and_province_within_the_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
