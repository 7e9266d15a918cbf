/* Unit tests: the trend rows written as JSON text (publisher/trend.c) mean
 * exactly what the jansson tree they replace printed: the rows below are
 * checked against that tree (the former http.c trend_rows, kept here as
 * the reference), by parsing the text and printing it again with jansson,
 * byte for byte: same members in the same order, same types and values. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "model.h"
#include "orgunits.h"
#include "report.h"
#include "testlib.h"
#include "trend.h"

static pufa_day day(const char *s) {
    pufa_day d;
    if (pufa_date_parse(s, &d))
        fail_msg("bad date in the test: %s", s);
    return d;
}

/* ---- the reference: the jansson tree of http.c before trend.c ---- */

static json_t *figures_json(const int64_t fig[NFIG]) {
    json_t *o = json_object();
    for (int k = 0; k < NFIG; k++)
        json_object_set_new(o, pufa_figure_names[k], json_integer(fig[k]));
    return o;
}

static json_t *compare_json(pufa_day from, pufa_day to, const int64_t cur[NFIG],
                            const int64_t base[NFIG]) {
    json_t *o = json_object(), *change = json_object(), *pct = json_object();
    for (int k = 0; k < NFIG; k++) {
        int64_t d = cur[k] - base[k];
        json_object_set_new(change, pufa_figure_names[k], json_integer(d));
        json_t *p = json_null();
        if (base[k] != 0) {
            double x = (double)d * 1000.0 / (double)base[k];
            long long tenths = (long long)(x < 0 ? x - 0.5 : x + 0.5);
            p = json_real((double)tenths / 10.0);
        }
        json_object_set_new(pct, pufa_figure_names[k], p);
    }
    json_object_set_new(o, "base", figures_json(base));
    json_object_set_new(o, "change", change);
    json_object_set_new(o, "pct", pct);
    char a[11], b[11];
    pufa_date_format(from, a);
    pufa_date_format(to, b);
    json_object_set_new(o, "from", json_string(a));
    json_object_set_new(o, "to", json_string(b));
    return o;
}

static json_t *reference_rows(const pub_model *m, const pub_window *win, pub_period p,
                              const pub_scope *county, pub_compare cmp) {
    json_t *arr = json_array();
    for (pufa_day first = pub_period_first(p, win->from); first <= win->to;
         first = pub_period_last(p, first) + 1) {
        pufa_day from = first < win->from ? win->from : first;
        pufa_day last = pub_period_last(p, first);
        pufa_day to = last > win->to ? win->to : last;
        char key[16], a[11], b[11], label[64];
        pub_period_key(p, first, key, sizeof key);
        pufa_date_format(from, a);
        pufa_date_format(to, b);
        if (p == PUB_PERIOD_WEEK) {
            char mon[11], sun[11];
            pufa_date_format(first, mon);
            pufa_date_format(last, sun);
            snprintf(label, sizeof label, "%s..%s", mon, sun);
        } else if (p == PUB_PERIOD_MONTH) {
            snprintf(label, sizeof label, "%.4s年%.2s月", key, key + 5);
        } else {
            snprintf(label, sizeof label, "%s", a);
        }
        int64_t fig[NFIG];
        pub_model_sum(m, from, to, county, fig);
        json_t *r = json_object();
        json_object_set_new(r, "key", json_string(key));
        json_object_set_new(r, "label", json_string(label));
        json_object_set_new(r, "from", json_string(a));
        json_object_set_new(r, "to", json_string(b));
        json_object_set_new(r, "figures", figures_json(fig));
        if (cmp != PUB_COMPARE_NONE) {
            pufa_day bf, bt;
            int64_t base[NFIG];
            pub_compare_base(cmp, p == PUB_PERIOD_MONTH ? 1 : 0, from, to, &bf, &bt);
            pub_model_sum(m, bf, bt, county, base);
            json_object_set_new(r, "compare", compare_json(bf, bt, fig, base));
        }
        json_array_append_new(arr, r);
    }
    return arr;
}

/* ---- the checks ---- */

static char *dump(const json_t *j) {
    return json_dumps(j, JSON_COMPACT | JSON_ESCAPE_SLASH | JSON_ENCODE_ANY);
}

/* The fast rows of (win, p, cmp) printed again by jansson equal the
 * reference's print; returns the fast text's length. */
static size_t check_rows(const pub_model *m, const char *from, const char *to, pub_period p,
                         pub_compare cmp) {
    pub_window win = {.name = "test", .label = "test", .from = day(from), .to = day(to)};
    pufa_buf text;
    pufa_buf_init(&text);
    pub_trend_rows(&text, m, &win, p, NULL, cmp, false);
    json_error_t err;
    json_t *parsed = json_loadb(text.data, text.len, JSON_DECODE_ANY, &err);
    if (!parsed)
        fail_msg("%s..%s by %s: not JSON at %d: %s", from, to, pub_period_names[p], err.position,
                 err.text);
    json_t *ref = reference_rows(m, &win, p, NULL, cmp);
    char *got = dump(parsed), *want = dump(ref);
    if (strcmp(got, want) != 0) {
        size_t i = 0;
        while (got[i] && got[i] == want[i])
            i++;
        fail_msg("%s..%s by %s compare %s differ at byte %zu:\n got  ...%.120s\n want ...%.120s",
                 from, to, pub_period_names[p], pub_compare_names[cmp], i,
                 got + (i > 40 ? i - 40 : 0), want + (i > 40 ? i - 40 : 0));
    }
    size_t n = text.len;
    free(got);
    free(want);
    json_decref(parsed);
    json_decref(ref);
    pufa_buf_free(&text);
    return n;
}

/* Three years of cells (2023-01-01 .. 2025-12-31, 29 Feb 2024 among them)
 * in two counties, with figures that give every kind of per cent: bases
 * of 0 (every seventh day empty), rises, falls, thirds that round, and a
 * rise of funds too large for the short form of the per cent. */
static pub_model *model_of_three_years(void) {
    pub_model *m = pub_model_new();
    pub_model_wrlock(m);
    unsigned seed = 12345;
    for (pufa_day d = day("2023-01-01"); d <= day("2025-12-31"); d++) {
        bool big = d == day("2023-06-01") || d == day("2024-06-01");
        if (d % 7 == 3 && !big)
            continue;
        for (int c = 0; c < 2; c++) {
            int64_t fig[NFIG];
            for (int k = 0; k < NFIG; k++) {
                seed = seed * 1103515245u + 12345u;
                fig[k] = (int64_t)((seed >> 8) % (k == 0 ? 7 : 3000));
            }
            /* funds 2 -> 6e15: a per cent past 2^53 tenths. */
            if (big)
                fig[NFIG - 1] = d == day("2023-06-01") ? 1 : 3000000000000000LL;
            pub_model_add(m, d, c ? "150822" : "150821", 1 + c, 2, 3, "SFJ", "", "", fig);
        }
    }
    pub_model_unlock(m);
    return m;
}

static void rows_mean_what_the_jansson_tree_printed(void **state) {
    (void)state;
    pub_model *m = model_of_three_years();
    pub_model_rdlock(m);
    /* The bench's query: 365 days, yoy, the leap day in the base year. */
    size_t n = check_rows(m, "2024-12-31", "2025-12-30", PUB_PERIOD_DAY, PUB_COMPARE_YOY);
    assert_true(n > 100000);
    /* The leap year itself against 2023 (29 Feb's base is 28 Feb). */
    check_rows(m, "2024-01-01", "2024-12-31", PUB_PERIOD_DAY, PUB_COMPARE_YOY);
    check_rows(m, "2024-02-20", "2024-03-10", PUB_PERIOD_DAY, PUB_COMPARE_PREV);
    check_rows(m, "2024-02-20", "2024-03-10", PUB_PERIOD_DAY, PUB_COMPARE_NONE);
    /* Weeks and months clipped to the window, against the previous one. */
    check_rows(m, "2024-01-03", "2025-02-27", PUB_PERIOD_WEEK, PUB_COMPARE_PREV);
    check_rows(m, "2024-01-03", "2025-02-27", PUB_PERIOD_WEEK, PUB_COMPARE_YOY);
    check_rows(m, "2024-01-31", "2025-03-30", PUB_PERIOD_MONTH, PUB_COMPARE_PREV);
    check_rows(m, "2024-01-31", "2025-03-30", PUB_PERIOD_MONTH, PUB_COMPARE_YOY);
    check_rows(m, "2024-01-31", "2025-03-30", PUB_PERIOD_MONTH, PUB_COMPARE_NONE);
    /* All bases 0: before the model's data, and after it. */
    check_rows(m, "2023-01-01", "2023-03-31", PUB_PERIOD_DAY, PUB_COMPARE_YOY);
    check_rows(m, "2026-01-01", "2026-01-31", PUB_PERIOD_DAY, PUB_COMPARE_PREV);
    pub_model_unlock(m);
    pub_model_destroy(&m);
}

/* The per cent is written as its shortest decimal, with null where the
 * base is 0: "12.3", "-50.0", "0.0". */
static void pct_text(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    int64_t a[NFIG] = {0}, b[NFIG] = {0};
    a[0] = 3;  /* 2024-03-01: 3 reports */
    b[0] = 4;  /* 2025-03-01: 4 reports, +33.3 % */
    a[1] = 10; /* sessions 10 -> 5: -50.0 % */
    b[1] = 5;
    a[2] = 7; /* participants 7 -> 7: 0.0 % */
    b[2] = 7;
    b[3] = 9; /* materials 0 -> 9: null */
    pub_model_wrlock(m);
    pub_model_add(m, day("2024-03-01"), "150821", 1, 2, 3, "SFJ", "", "", a);
    pub_model_add(m, day("2025-03-01"), "150821", 1, 2, 3, "SFJ", "", "", b);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    pub_window win = {
        .name = "w", .label = "w", .from = day("2025-03-01"), .to = day("2025-03-01")};
    pufa_buf t;
    pufa_buf_init(&t);
    pub_trend_rows(&t, m, &win, PUB_PERIOD_DAY, NULL, PUB_COMPARE_YOY, false);
    pub_model_unlock(m);
    assert_non_null(strstr(t.data,
                           "\"pct\":{\"reports\":33.3,\"sessions\":-50.0,\"participants\":0.0,"
                           "\"materials\":null,"));
    assert_non_null(strstr(t.data, "\"from\":\"2024-03-01\",\"to\":\"2024-03-01\"}}]"));
    assert_int_equal(strncmp(t.data, "[{\"key\":\"2025-03-01\",\"label\":\"2025-03-01\",", 42), 0);
    pufa_buf_free(&t);
    pub_model_destroy(&m);
}

/* Strings and integers as jansson prints them (JSON_ESCAPE_SLASH). */
static void strings_and_integers_as_jansson(void **state) {
    (void)state;
    const char *strings[] = {
        "", "2026年01月", "a\"b\\c/d</script>", "tab\there\nline\r", "\x01\x1f\b\f", "宪法宣传周"};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        pufa_buf b;
        pufa_buf_init(&b);
        pub_json_str(&b, strings[i]);
        json_t *j = json_string(strings[i]);
        char *want = dump(j);
        assert_string_equal(b.data, want);
        free(want);
        json_decref(j);
        pufa_buf_free(&b);
    }
    const int64_t ints[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        pufa_buf b;
        pufa_buf_init(&b);
        pub_json_int(&b, ints[i]);
        json_t *j = json_integer(ints[i]);
        char *want = dump(j);
        assert_string_equal(b.data, want);
        free(want);
        json_decref(j);
        pufa_buf_free(&b);
    }
}

/* ---- breakdowns: the former http.c breakdown_rows as the reference ---- */

/* The ranking of before (an insertion sort), to check pub_rows_rank too. */
static void reference_rank(pub_row *rows, size_t n, int fig) {
    for (size_t i = 1; i < n; i++) {
        pub_row r = rows[i];
        size_t j = i;
        while (j > 0 && (rows[j - 1].fig[fig] < r.fig[fig] ||
                         (rows[j - 1].fig[fig] == r.fig[fig] && rows[j - 1].value > r.value))) {
            rows[j] = rows[j - 1];
            j--;
        }
        rows[j] = r;
    }
}

static json_t *reference_breakdown(const pub_model *m, const pub_window *win, pub_dim dim, int rank,
                                   pub_compare cmp, pufa_day bf, pufa_day bt) {
    pub_row *rows, *base = NULL;
    int64_t tot[NFIG], btot[NFIG];
    size_t n = pub_model_query(m, win->from, win->to, dim, NULL, &rows, tot);
    size_t nb = 0;
    if (cmp != PUB_COMPARE_NONE) {
        nb = pub_model_query(m, bf, bt, dim, NULL, &base, btot);
        rows = realloc(rows, (n + nb + 1) * sizeof *rows);
        size_t n0 = n;
        for (size_t j = 0; j < nb; j++) {
            bool seen = false;
            for (size_t i = 0; i < n0 && !seen; i++)
                seen = rows[i].value == base[j].value;
            if (!seen)
                rows[n++] = (pub_row){.value = base[j].value};
        }
    }
    reference_rank(rows, n, rank);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "rank", json_integer((json_int_t)i + 1));
        json_object_set_new(r, "key", json_string(pub_model_key(m, dim, rows[i].value)));
        json_object_set_new(r, "label", json_string(pub_model_label(m, dim, rows[i].value)));
        json_object_set_new(r, "figures", figures_json(rows[i].fig));
        if (cmp != PUB_COMPARE_NONE) {
            static const int64_t zero[NFIG];
            const int64_t *b = zero;
            for (size_t j = 0; j < nb; j++)
                if (base[j].value == rows[i].value)
                    b = base[j].fig;
            json_object_set_new(r, "compare", compare_json(bf, bt, rows[i].fig, b));
        }
        json_array_append_new(arr, r);
    }
    free(rows);
    free(base);
    return arr;
}

static void check_breakdown(const pub_model *m, const char *from, const char *to, pub_dim dim,
                            int rank, pub_compare cmp) {
    pub_window win = {.name = "test", .label = "test", .from = day(from), .to = day(to)};
    pufa_day bf, bt;
    pub_compare_base(cmp, 0, win.from, win.to, &bf, &bt);
    pufa_buf text;
    pufa_buf_init(&text);
    pub_row *rows, *base = NULL;
    int64_t tot[NFIG];
    size_t n = pub_model_query(m, win.from, win.to, dim, NULL, &rows, tot), nb = 0;
    if (cmp != PUB_COMPARE_NONE)
        nb = pub_model_query(m, bf, bt, dim, NULL, &base, tot);
    pub_breakdown_rows(&text, m, dim, rank, rows, n, base, nb, bf, bt);
    free(rows);
    free(base);
    json_error_t err;
    json_t *parsed = json_loadb(text.data, text.len, JSON_DECODE_ANY, &err);
    if (!parsed)
        fail_msg("%s..%s by %s: not JSON at %d: %s", from, to, pub_dim_names[dim], err.position,
                 err.text);
    json_t *ref = reference_breakdown(m, &win, dim, rank, cmp, bf, bt);
    char *got = dump(parsed), *want = dump(ref);
    if (strcmp(got, want) != 0) {
        size_t i = 0;
        while (got[i] && got[i] == want[i])
            i++;
        fail_msg("%s..%s by %s compare %s differ at byte %zu:\n got  ...%.120s\n want ...%.120s",
                 from, to, pub_dim_names[dim], pub_compare_names[cmp], i,
                 got + (i > 40 ? i - 40 : 0), want + (i > 40 ? i - 40 : 0));
    }
    assert_true(json_array_size(ref) > 0);
    free(got);
    free(want);
    json_decref(parsed);
    json_decref(ref);
    pufa_buf_free(&text);
}

/* 198 counties under two provinces and cities, names that need escaping,
 * figures with many ties (the rank's order among equals), some counties
 * only in the base year, wide and negative figures. */
static void breakdown_rows_mean_what_the_jansson_tree_printed(void **state) {
    (void)state;
    pub_model *m = pub_model_new();
    pufa_orgunits *ou = pufa_orgunits_new();
    assert_int_equal(pufa_orgunits_add(ou, "100000", "全国", "nation", ""), 0);
    assert_int_equal(pufa_orgunits_add(ou, "150000", "内蒙古\"自治区\"", "province", "100000"), 0);
    assert_int_equal(pufa_orgunits_add(ou, "150100", "呼和浩特/市", "city", "150000"), 0);
    assert_int_equal(pufa_orgunits_add(ou, "210000", "辽宁省", "province", "100000"), 0);
    assert_int_equal(pufa_orgunits_add(ou, "210100", "沈阳市", "city", "210000"), 0);
    char code[8], name[64];
    for (int p = 0; p < 2; p++)
        for (int c = 1; c <= 99; c++) {
            snprintf(code, sizeof code, "%s%02d", p ? "2101" : "1501", c);
            snprintf(name, sizeof name, c % 10 ? "县%d" : "县</%d>\t\"", c);
            assert_int_equal(pufa_orgunits_add(ou, code, name, "county", p ? "210100" : "150100"),
                             0);
        }
    const char *townships[] = {"", "隆兴昌镇", "a/b", "新\"公\"中镇"};
    const char *campaigns[] = {"", "宪法宣传周"};
    pub_model_wrlock(m);
    pub_model_set_orgunits(m, ou);
    for (int i = 0; i < 198; i++) {
        snprintf(code, sizeof code, "%s%02d", i < 99 ? "1501" : "2101", i % 99 + 1);
        pub_model_set_county_name(m, code, pufa_orgunits_find(ou, code)->name);
    }
    pub_model_set_unit_name(m, "SFJ", "司法局");
    unsigned seed = 777;
    for (pufa_day d = day("2024-01-01"); d <= day("2025-12-31"); d += 3) {
        for (int i = 0; i < 198; i++) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 9) % 4)
                continue;
            /* The second half of the counties reports only in 2024. */
            if (i >= 150 && d >= day("2025-01-01"))
                continue;
            int64_t fig[NFIG];
            for (int k = 0; k < NFIG; k++) {
                seed = seed * 1103515245u + 12345u;
                fig[k] = (int64_t)((seed >> 8) % (k == 0 ? 3 : 40));
            }
            if (i == 7)
                fig[NFIG - 1] = 5000000000LL; /* past 32 bits */
            if (i == 8 && d == day("2025-06-02"))
                fig[1] = -1000; /* a correction past what was there */
            snprintf(code, sizeof code, "%s%02d", i < 99 ? "1501" : "2101", i % 99 + 1);
            pub_model_add(m, d, code, 1 + (int)(seed % 16), 1 + (int)(seed % 13),
                          1 + (int)(seed % 10), (seed >> 3) % 2 ? "SFJ" : "JYJ",
                          campaigns[(seed >> 5) % 2], townships[(seed >> 7) % 4], fig);
        }
    }
    pub_model_unlock(m);
    pub_model_rdlock(m);
    const pub_dim dims[] = {DIM_COUNTY, DIM_CITY,     DIM_PROVINCE, DIM_THEME,
                            DIM_UNIT,   DIM_CAMPAIGN, DIM_TOWNSHIP, DIM_TOTAL};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        for (int cmp = PUB_COMPARE_NONE; cmp <= PUB_COMPARE_YOY; cmp++) {
            check_breakdown(m, "2025-01-01", "2025-12-31", dims[i], PUFA_FIG_REPORTS,
                            (pub_compare)cmp);
            check_breakdown(m, "2025-03-05", "2025-08-20", dims[i], 1, (pub_compare)cmp);
        }
    pub_model_unlock(m);
    pub_model_destroy(&m);
}

/* pub_rows_rank (a merge sort) orders as the insertion sort it replaced:
 * many rows, many ties, any figure. */
static void ranking_many_rows_as_before(void **state) {
    (void)state;
    enum { N = 3001 };
    pub_row *a = calloc(N, sizeof *a), *b = calloc(N, sizeof *b);
    unsigned seed = 99;
    for (size_t i = 0; i < N; i++) {
        a[i].value = (uint32_t)(N - i) * 7 % 4099;
        for (int k = 0; k < NFIG; k++) {
            seed = seed * 1103515245u + 12345u;
            a[i].fig[k] = (int64_t)((seed >> 8) % (k + 2)) - 1;
        }
    }
    for (int k = 0; k < NFIG; k++) {
        memcpy(b, a, N * sizeof *a);
        reference_rank(b, N, k);
        pub_row *c = calloc(N, sizeof *c);
        memcpy(c, a, N * sizeof *a);
        pub_rows_rank(c, N, k);
        for (size_t i = 0; i < N; i++)
            if (c[i].value != b[i].value)
                fail_msg("figure %d, row %zu: value %u, want %u", k, i, c[i].value, b[i].value);
        free(c);
    }
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_mean_what_the_jansson_tree_printed),
        cmocka_unit_test(pct_text),
        cmocka_unit_test(strings_and_integers_as_jansson),
        cmocka_unit_test(breakdown_rows_mean_what_the_jansson_tree_printed),
        cmocka_unit_test(ranking_many_rows_as_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
