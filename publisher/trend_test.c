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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_mean_what_the_jansson_tree_printed),
        cmocka_unit_test(pct_text),
        cmocka_unit_test(strings_and_integers_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
