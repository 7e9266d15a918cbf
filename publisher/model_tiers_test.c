/* Unit tests: the model's tiers (publisher/model.c) against a naive sum.
 * Random cells over several years go both into a model with a horizon
 * (years before it keep the other dimensions per year only) and into a
 * flat list; every window x breakdown x scope the test asks must give the
 * list's sums exactly: whole years, cut years (read through the cold
 * callback, which here sums the list as PostgreSQL would), days past the
 * horizon.  Also: wide figures (negative, past 32 bits), a catch-up
 * (forget + add again), and the model file.  The per-day totals of the
 * nation and the provinces (every county's too) are checked at every
 * scope and time bucket of a trend with its bases, after live deltas,
 * corrections that move reports between days and counties, a catch-up,
 * replaced org units and a model-file reload, and with sums past int64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "date.h"
#include "enums.h"
#include "error.h"
#include "model.h"
#include "orgunits.h"
#include "testlib.h"
#include "windows.h"

enum { NCOUNTY = 6, NCELL = 6000 };

static const char *const COUNTIES[NCOUNTY] = {"150821", "150822", "150921",
                                              "210402", "210403", "990101"};
static const char *const UNITS[] = {"SFJ", "JYJ", "GAJ", "FY"};
static const char *const CAMPAIGNS[] = {"", "宪法宣传周", "民法典宣传月"};
static const char *const TOWNSHIPS[] = {"", "隆兴昌镇", "新公中镇", "塔尔湖镇", "银定图镇"};

typedef struct flat {
    pufa_day day;
    int county, theme, venue, form, unit, campaign, township;
    int64_t fig[NFIG];
} flat;

static flat cells[NCELL];
static size_t ncells;

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static pufa_day day(const char *s) {
    pufa_day d;
    if (pufa_date_parse(s, &d))
        fail_msg("bad date in the test: %s", s);
    return d;
}

/* The test's org units; moved: 150921 (卓资县) under 辽宁 / 抚顺 instead
 * of 乌兰察布 (which then has no county and is left out). */
static pufa_orgunits *test_units(bool moved) {
    pufa_orgunits *ou = pufa_orgunits_new();
    const char *units[][4] = {{"100000", "全国", "nation", ""},
                              {"150000", "内蒙古自治区", "province", "100000"},
                              {"150800", "巴彦淖尔市", "city", "150000"},
                              {"150821", "五原县", "county", "150800"},
                              {"150822", "磴口县", "county", "150800"},
                              {"150900", "乌兰察布市", "city", "150000"},
                              {"150921", "卓资县", "county", "150900"},
                              {"210000", "辽宁省", "province", "100000"},
                              {"210400", "抚顺市", "city", "210000"},
                              {"210402", "新抚区", "county", "210400"},
                              {"210403", "东洲区", "county", "210400"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (moved && !strcmp(units[i][0], "150900"))
            continue;
        const char *parent = moved && !strcmp(units[i][0], "150921") ? "210400" : units[i][3];
        assert_int_equal(pufa_orgunits_add(ou, units[i][0], units[i][1], units[i][2], parent), 0);
    }
    return ou;
}

static void set_units(pub_model *m) {
    pub_model_set_orgunits(m, test_units(false));
}

/* The value of a flat cell in a dimension, as the key rollup_dim has. */
static void key_of(const flat *c, pub_dim dim, char *out, size_t size) {
    switch (dim) {
    case DIM_THEME:
        snprintf(out, size, "%d", c->theme);
        return;
    case DIM_VENUE:
        snprintf(out, size, "%d", c->venue);
        return;
    case DIM_FORM:
        snprintf(out, size, "%d", c->form);
        return;
    case DIM_UNIT:
        snprintf(out, size, "%s", UNITS[c->unit]);
        return;
    case DIM_CAMPAIGN:
        snprintf(out, size, "%s", CAMPAIGNS[c->campaign]);
        return;
    case DIM_TOWNSHIP:
        snprintf(out, size, "%s", TOWNSHIPS[c->township]);
        return;
    default:
        snprintf(out, size, "%s", "");
    }
}

/* The test's PostgreSQL: sums the flat list per (county, key) of [from,
 * to], one emit per cell (the model must add repeated keys up). */
static int cold_calls, cold_fail;
static int cold(void *ctx, pufa_day from, pufa_day to, pub_dim dim, pub_cold_emit emit,
                void *ectx) {
    (void)ctx;
    cold_calls++;
    if (cold_fail)
        return PUFA_EDB;
    for (size_t i = 0; i < ncells; i++) {
        if (cells[i].day < from || cells[i].day > to)
            continue;
        char key[64];
        key_of(&cells[i], dim, key, sizeof key);
        emit(ectx, COUNTIES[cells[i].county], key, cells[i].fig);
    }
    return 0;
}

static void add_random(pub_model *m, pufa_day from, int days, size_t n, bool big) {
    for (size_t i = 0; i < n && ncells < NCELL; i++) {
        flat *c = &cells[ncells++];
        c->day = from + (pufa_day)(next() % (uint64_t)days);
        c->county = (int)(next() % NCOUNTY);
        c->theme = 1 + (int)(next() % 16);
        c->venue = 1 + (int)(next() % 13);
        c->form = 1 + (int)(next() % 10);
        c->unit = (int)(next() % 4);
        c->campaign = (int)(next() % 3);
        c->township = (int)(next() % 5);
        for (int k = 0; k < NFIG; k++)
            c->fig[k] = (int64_t)(next() % 1000);
        if (big && i % 50 == 0)
            c->fig[NFIG - 1] = 3000000000ll + (int64_t)(next() % 1000000); /* past 32 bits */
        if (big && i % 70 == 1)
            for (int k = 0; k < NFIG; k++)
                c->fig[k] = -c->fig[k] / 2; /* a correction taking some back */
        assert_int_equal(pub_model_add(m, c->day, COUNTIES[c->county], c->theme, c->venue, c->form,
                                       UNITS[c->unit], CAMPAIGNS[c->campaign],
                                       TOWNSHIPS[c->township], c->fig),
                         0);
    }
}

/* Does flat cell c count in scope code ("" = all) and which row value? */
static bool in_scope(const char *scope, int county) {
    if (!strcmp(scope, "100000")) /* the nation: every county its org units name */
        return county != NCOUNTY - 1;
    return !scope[0] ||
           !strncmp(COUNTIES[county], scope,
                    !strcmp(scope + 4, "00") ? (!strcmp(scope + 2, "0000") ? 2 : 4) : 6);
}

/* Checks one window x dim x scope against the flat list. */
static void check(const pub_model *m, pufa_day from, pufa_day to, pub_dim dim, const char *scope) {
    pub_scope s, *sp = NULL;
    if (scope[0]) {
        assert_int_equal(pub_model_scope(m, scope, &s), 0);
        sp = &s;
    }
    pub_row *rows;
    int64_t tot[NFIG], sum[NFIG], want_tot[NFIG] = {0};
    pub_model_incomplete_reset();
    size_t n = pub_model_query(m, from, to, dim, sp, &rows, tot);
    assert_false(pub_model_incomplete());
    for (size_t r = 0; r < n; r++) {
        int64_t want[NFIG] = {0};
        for (size_t i = 0; i < ncells; i++) {
            const flat *c = &cells[i];
            if (c->day < from || c->day > to || !in_scope(scope, c->county))
                continue;
            const char *key = pub_model_key(m, dim, rows[r].value);
            char ck[64];
            if (dim == DIM_COUNTY)
                snprintf(ck, sizeof ck, "%s", COUNTIES[c->county]);
            else if (dim == DIM_CITY || dim == DIM_PROVINCE)
                snprintf(ck, sizeof ck, "%.*s%s", dim == DIM_CITY ? 4 : 2, COUNTIES[c->county],
                         dim == DIM_CITY ? "00" : "0000");
            else if (dim == DIM_THEME || dim == DIM_VENUE || dim == DIM_FORM)
                snprintf(ck, sizeof ck, "%s",
                         pufa_enum_code(dim == DIM_THEME   ? PUFA_ENUM_THEME
                                        : dim == DIM_VENUE ? PUFA_ENUM_VENUE
                                                           : PUFA_ENUM_FORM,
                                        dim == DIM_THEME   ? c->theme
                                        : dim == DIM_VENUE ? c->venue
                                                           : c->form));
            else if (dim == DIM_TOTAL)
                snprintf(ck, sizeof ck, "all");
            else
                key_of(c, dim, ck, sizeof ck);
            if (strcmp(ck, key) != 0)
                continue;
            for (int k = 0; k < NFIG; k++)
                want[k] += c->fig[k];
        }
        for (int k = 0; k < NFIG; k++)
            if (rows[r].fig[k] != want[k])
                fail_msg("%d..%d by %s in '%s', row %s, %s: got %lld, want %lld", from, to,
                         pub_dim_names[dim], scope, pub_model_key(m, dim, rows[r].value),
                         pufa_figure_names[k], (long long)rows[r].fig[k], (long long)want[k]);
    }
    /* The totals: every counted cell (the city and province rows leave out
     * the county no org unit names). */
    for (size_t i = 0; i < ncells; i++) {
        const flat *c = &cells[i];
        if (c->day < from || c->day > to || !in_scope(scope, c->county))
            continue;
        if ((dim == DIM_CITY || dim == DIM_PROVINCE) && c->county == NCOUNTY - 1)
            continue;
        for (int k = 0; k < NFIG; k++)
            want_tot[k] += c->fig[k];
    }
    for (int k = 0; k < NFIG; k++)
        if (tot[k] != want_tot[k])
            fail_msg("%d..%d by %s in '%s': total %s got %lld, want %lld", from, to,
                     pub_dim_names[dim], scope, pufa_figure_names[k], (long long)tot[k],
                     (long long)want_tot[k]);
    if (dim == DIM_TOTAL) {
        pub_model_sum(m, from, to, sp, sum);
        for (int k = 0; k < NFIG; k++)
            assert_int_equal(sum[k], want_tot[k]);
    }
    free(rows);
}

static const char *const SCOPES[] = {"",       "100000", "150000", "150800",
                                     "150821", "210000", "210400"};

/* The naive sum of [from, to] in scope. */
static void naive_sum(pufa_day from, pufa_day to, const char *scope, int64_t out[NFIG]) {
    memset(out, 0, NFIG * sizeof(int64_t));
    for (size_t i = 0; i < ncells; i++) {
        const flat *c = &cells[i];
        if (c->day < from || c->day > to || !in_scope(scope, c->county))
            continue;
        for (int k = 0; k < NFIG; k++)
            out[k] += c->fig[k];
    }
}

/* pub_model_sum of [from, to] in scope against the naive sum. */
static void check_sum(const pub_model *m, pufa_day from, pufa_day to, const char *scope) {
    pub_scope s, *sp = NULL;
    if (scope[0]) {
        assert_int_equal(pub_model_scope(m, scope, &s), 0);
        sp = &s;
    }
    int64_t got[NFIG], want[NFIG];
    pub_model_sum(m, from, to, sp, got);
    naive_sum(from, to, scope, want);
    for (int k = 0; k < NFIG; k++)
        if (got[k] != want[k])
            fail_msg("sum %d..%d in '%s', %s: got %lld, want %lld", from, to, scope,
                     pufa_figure_names[k], (long long)got[k], (long long)want[k]);
}

/* Every day, ISO week and month of a trend at every scope, with the bases
 * of prev and yoy, as /v1/totals?by=day|week|month asks them (trend.c):
 * the area scopes read their per-day totals, the others the county cells,
 * both must give the naive sums. */
static void check_buckets(const pub_model *m) {
    const char *w[][2] = {{"2021-11-20", "2023-02-10"}, {"2019-12-30", "2020-03-02"}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        for (int p = PUB_PERIOD_DAY; p <= PUB_PERIOD_MONTH; p++)
            for (size_t sc = 0; sc < sizeof SCOPES / sizeof SCOPES[0]; sc++) {
                pufa_day wf = day(w[i][0]), wt = day(w[i][1]);
                for (pufa_day first = pub_period_first((pub_period)p, wf); first <= wt;
                     first = pub_period_last((pub_period)p, first) + 1) {
                    pufa_day from = first < wf ? wf : first;
                    pufa_day last = pub_period_last((pub_period)p, first);
                    pufa_day to = last > wt ? wt : last;
                    check_sum(m, from, to, SCOPES[sc]);
                    for (int cmp = PUB_COMPARE_PREV; cmp <= PUB_COMPARE_YOY; cmp++) {
                        pufa_day bf, bt;
                        pub_compare_base((pub_compare)cmp, p == PUB_PERIOD_MONTH ? 1 : 0, from, to,
                                         &bf, &bt);
                        check_sum(m, bf, bt, SCOPES[sc]);
                    }
                }
                check_sum(m, wf, wt, SCOPES[sc]);
            }
}

/* Windows: whole years, cut years before and after the horizon, one day,
 * across the horizon, everything. */
static void check_all(const pub_model *m) {
    const char *w[][2] = {{"2019-01-01", "2019-12-31"}, {"2019-03-05", "2019-03-05"},
                          {"2019-02-11", "2021-06-30"}, {"2020-12-25", "2022-01-10"},
                          {"2022-01-01", "2022-12-31"}, {"2023-02-01", "2023-03-31"},
                          {"2000-01-01", "2030-12-31"}, {"2021-07-01", "2021-07-31"}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        for (int dim = 0; dim < NBY; dim++)
            for (size_t s = 0; s < sizeof SCOPES / sizeof SCOPES[0]; s++)
                check(m, day(w[i][0]), day(w[i][1]), (pub_dim)dim, SCOPES[s]);
    check_buckets(m);
}

/* check_all under the model's read lock. */
static void check_all_locked(pub_model *m) {
    pub_model_rdlock(m);
    check_all(m);
    pub_model_unlock(m);
}

/* Saves m into a new temporary file; path: a mkstemp template, filled. */
static void save_to_temp(pub_model *m, char *path) {
    char err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(pub_model_save(m, path, err, sizeof err), 0);
}

static pub_model *fresh(int horizon) {
    pub_model *m = pub_model_new();
    pub_model_wrlock(m);
    pub_model_set_horizon(m, horizon);
    pub_model_set_cold(m, cold, NULL);
    set_units(m);
    pub_model_unlock(m);
    return m;
}

/* A fresh model (that horizon) with n random cells over 2019-2023 (the
 * list reset), returned write-locked. */
static pub_model *random_model(int horizon, size_t n, bool big) {
    ncells = 0;
    pub_model *m = fresh(horizon);
    pub_model_wrlock(m);
    add_random(m, day("2019-01-01"), 5 * 365, n, big);
    return m;
}

static void every_window_matches_the_naive_sum(void **state) {
    (void)state;
    pub_model *m = random_model(2022, 3000, true);
    pub_model_unlock(m);
    cold_calls = 0;
    check_all_locked(m);
    assert_true(cold_calls > 0); /* the cut old years were read through it */
    /* Whole years and days from the horizon on never call it. */
    cold_calls = 0;
    pub_model_rdlock(m);
    check(m, day("2019-01-01"), day("2020-12-31"), DIM_THEME, "");
    check(m, day("2022-03-01"), day("2023-04-30"), DIM_TOWNSHIP, "150821");
    check(m, day("2019-02-11"), day("2021-06-30"), DIM_COUNTY, "");
    pub_model_unlock(m);
    assert_int_equal(cold_calls, 0);
    /* The database down: a cut old year is marked incomplete. */
    cold_fail = 1;
    pub_model_rdlock(m);
    pub_model_incomplete_reset();
    pub_row *rows;
    int64_t tot[NFIG];
    free(rows = NULL);
    pub_model_query(m, day("2019-02-11"), day("2019-06-30"), DIM_UNIT, NULL, &rows, tot);
    free(rows);
    assert_true(pub_model_incomplete());
    pub_model_unlock(m);
    cold_fail = 0;
    pub_model_destroy(&m);
}

/* No horizon (every day kept): the same answers, no cold read. */
static void without_a_horizon_every_day_is_kept(void **state) {
    (void)state;
    pub_model *m = random_model(0, 2000, true);
    pub_model_set_cold(m, NULL, NULL);
    pub_model_unlock(m);
    check_all_locked(m);
    pub_model_destroy(&m);
}

/* A catch-up: the cells of some county x days are forgotten and added again
 * as the database has them now (some changed); for an old day, its
 * county's year of other dimensions is read again too. */
static void a_catch_up_replaces_what_changed(void **state) {
    (void)state;
    pub_model *m = random_model(2022, 3000, false);
    /* Change cells on both sides of the horizon: figures doubled, one moved. */
    size_t changed[] = {5, 77, 1500, 2999};
    for (size_t j = 0; j < sizeof changed / sizeof changed[0]; j++) {
        flat *c = &cells[changed[j]];
        int y, mo, d;
        pufa_date_to_ymd(c->day, &y, &mo, &d);
        /* Forget the county's day and (old) year... */
        pub_model_forget_day(m, c->day, COUNTIES[c->county]);
        if (y < 2022)
            pub_model_forget_year(m, y, COUNTIES[c->county]);
        for (int k = 0; k < NFIG; k++)
            c->fig[k] *= 2;
        /* ...and add what "the database" has: the day's cells of every
         * dimension held per day, the old year's other dimensions. */
        for (size_t i = 0; i < ncells; i++) {
            const flat *o = &cells[i];
            if (o->county != c->county)
                continue;
            int oy, om, od;
            pufa_date_to_ymd(o->day, &oy, &om, &od);
            if (o->day == c->day) {
                pub_model_add_dim(m, o->day, COUNTIES[o->county], DIM_TOTAL, "", o->fig);
                if (o->day >= day("2022-01-01"))
                    for (int dim = DIM_TOTAL + 1; dim < NDIM; dim++) {
                        char key[64];
                        key_of(o, (pub_dim)dim, key, sizeof key);
                        pub_model_add_dim(m, o->day, COUNTIES[o->county], (pub_dim)dim, key,
                                          o->fig);
                    }
            }
            if (y < 2022 && oy == y)
                for (int dim = DIM_TOTAL + 1; dim < NDIM; dim++) {
                    char key[64];
                    key_of(o, (pub_dim)dim, key, sizeof key);
                    pub_model_add_dim(m, pufa_date_from_ymd(y, 1, 1), COUNTIES[o->county],
                                      (pub_dim)dim, key, o->fig);
                }
        }
    }
    pub_model_unlock(m);
    check_all_locked(m);
    pub_model_destroy(&m);
}

/* Saved and read back: the same answers, names and receipts; a file of
 * another horizon or a damaged one is refused. */
static void the_model_file_reads_back_the_same(void **state) {
    (void)state;
    pub_model *m = random_model(2022, 2500, true);
    pub_model_set_unit_name(m, "SFJ", "司法局");
    pub_model_receipt(m, day("2023-05-02"), "150821", "SFJ");
    pub_model_receipt(m, day("2023-05-04"), "150821", "SFJ");
    pub_model_set_seq(m, 4242);
    pub_model_set_stamp(m, 11);
    pub_model_shrink(m); /* sorted cells: a city or a county searched in them */
    pub_model_unlock(m);
    check_all_locked(m);
    char path[] = "/tmp/pufa-model-test-XXXXXX", err[256];
    save_to_temp(m, path);

    pub_model *r = fresh(2022);
    pub_model_wrlock(r);
    pub_model_set_unit_name(r, "OLD", "a name the file replaces");
    assert_int_equal(pub_model_load(r, path, err, sizeof err), 0);
    set_units(r);
    pub_model_unlock(r);
    pub_model_rdlock(r);
    assert_int_equal(pub_model_seq(r), 4242);
    assert_int_equal(pub_model_stamp(r), 11);
    assert_string_equal(pub_model_label(r, DIM_UNIT, pub_model_unit_index(r, "SFJ")), "司法局");
    assert_int_equal(pub_model_unit_index(r, "OLD"), UINT32_MAX);
    assert_int_equal(pub_model_last_report(r, pub_model_county_index(r, "150821"), "SFJ"),
                     day("2023-05-04"));
    check_all(r);
    pub_model_unlock(r);
    /* Live changes go on after a load: a late correction into an old year. */
    pub_model_wrlock(r);
    flat *c = &cells[ncells++];
    *c = cells[0];
    c->day = day("2019-03-05");
    for (int k = 0; k < NFIG; k++)
        c->fig[k] = 7 + k;
    assert_int_equal(pub_model_add(r, c->day, COUNTIES[c->county], c->theme, c->venue, c->form,
                                   UNITS[c->unit], CAMPAIGNS[c->campaign], TOWNSHIPS[c->township],
                                   c->fig),
                     0);
    pub_model_unlock(r);
    check_all_locked(r);
    pub_model_destroy(&r);

    /* Another horizon: refused, the model untouched. */
    pub_model *o = fresh(2021);
    assert_int_equal(pub_model_load(o, path, err, sizeof err), PUFA_EINVAL);
    assert_non_null(strstr(err, "horizon"));
    pub_model_destroy(&o);
    /* Cut short: refused. */
    assert_int_equal(truncate(path, 5000), 0);
    pub_model *t = fresh(2022);
    assert_int_equal(pub_model_load(t, path, err, sizeof err), PUFA_ECORRUPT);
    /* Then a full snapshot, as the publisher falls back to: the org units
     * set again over the counties the damaged file named (their
     * ancestors had no room: a read past the end under ASan). */
    set_units(t);
    static const int64_t one[NFIG] = {1, 1, 1};
    pub_model_wrlock(t);
    assert_int_equal(pub_model_add(t, day("2024-03-10"), "150821", 1, 1, 1, "SFJ", "", "", one), 0);
    pub_model_unlock(t);
    pub_model_destroy(&t);
    unlink(path);
    pub_model_destroy(&m);
}

/* Adds a flat cell to the model and the list. */
static void add_cell(pub_model *m, const flat *c) {
    assert_true(ncells < NCELL);
    cells[ncells++] = *c;
    assert_int_equal(pub_model_add(m, c->day, COUNTIES[c->county], c->theme, c->venue, c->form,
                                   UNITS[c->unit], CAMPAIGNS[c->campaign], TOWNSHIPS[c->township],
                                   c->fig),
                     0);
}

/* Live deltas as the feed sends them (live.c): a report, and its
 * corrections, each the old cell taken back and the new one added, to
 * another day (across a year's end and the horizon) or another county
 * (another province); then replaced org units (a county moved to another
 * city and province) and a model-file reload. */
static void corrections_move_reports_between_days_and_counties(void **state) {
    (void)state;
    pub_model *m = random_model(2022, 2500, false);
    size_t n0 = ncells;
    for (size_t j = 0; j < 200; j++) {
        flat old = cells[next() % n0], neg = old, moved = old;
        for (int k = 0; k < NFIG; k++)
            neg.fig[k] = -old.fig[k];
        if (j % 3 == 0)
            moved.county = (int)(next() % NCOUNTY);
        if (j % 3 != 1)
            moved.day = day("2019-01-01") + (pufa_day)(next() % (5 * 365));
        for (int k = 0; k < NFIG; k++)
            moved.fig[k] = (int64_t)(next() % 500);
        add_cell(m, &neg);
        add_cell(m, &moved);
    }
    /* A report taken back whole (deleted): its day sums to zero. */
    flat gone = cells[1];
    for (int k = 0; k < NFIG; k++)
        gone.fig[k] = -gone.fig[k];
    add_cell(m, &gone);
    pub_model_unlock(m);
    check_all_locked(m);

    /* Saved and read back: the per-day totals are built from the file's
     * county cells. */
    char path[] = "/tmp/pufa-model-test-XXXXXX", err[256];
    save_to_temp(m, path);
    pub_model *r = fresh(2022);
    pub_model_wrlock(r);
    assert_int_equal(pub_model_load(r, path, err, sizeof err), 0);
    pub_model_unlock(r);
    unlink(path);
    check_all_locked(r);

    /* New org units: 150921 (卓资县) moved under 辽宁 / 抚顺: the
     * provinces' totals follow it. */
    pufa_orgunits *ou = test_units(true);
    pub_model_wrlock(r);
    pub_model_set_orgunits(r, ou);
    pub_model_unlock(r);
    /* Each province's counties now (COUNTIES indices), by day over three
     * months and over the whole span. */
    static const struct {
        const char *code;
        int counties[3];
    } prov[] = {{"150000", {0, 1, -1}}, {"210000", {2, 3, 4}}};
    pub_model_rdlock(r);
    for (size_t p = 0; p < sizeof prov / sizeof prov[0]; p++) {
        pub_scope s;
        assert_int_equal(pub_model_scope(r, prov[p].code, &s), 0);
        pufa_day from = day("2021-11-20"), to = day("2022-02-20");
        for (pufa_day d = from; d <= to + 1; d++) {
            pufa_day a = d <= to ? d : day("2019-02-01"), b = d <= to ? d : day("2023-11-30");
            int64_t got[NFIG], want[NFIG] = {0};
            for (size_t i = 0; i < ncells; i++)
                for (int j = 0; j < 3; j++)
                    if (cells[i].county == prov[p].counties[j] && cells[i].day >= a &&
                        cells[i].day <= b)
                        for (int k = 0; k < NFIG; k++)
                            want[k] += cells[i].fig[k];
            pub_model_sum(r, a, b, &s, got);
            for (int k = 0; k < NFIG; k++)
                if (got[k] != want[k])
                    fail_msg("%s %d..%d %s: got %lld, want %lld", prov[p].code, a, b,
                             pufa_figure_names[k], (long long)got[k], (long long)want[k]);
        }
    }
    pub_model_unlock(r);
    pub_model_destroy(&r);
    pub_model_destroy(&m);
}

/* A day whose nation total leaves int64 (two counties' funds near
 * INT64_MAX): read from the county cells, saturating as every sum does,
 * and again after a correction brings it back. */
static void a_day_past_int64_is_read_from_the_counties(void **state) {
    (void)state;
    ncells = 0;
    pub_model *m = fresh(2022);
    pufa_day d = day("2023-06-01");
    int64_t a[NFIG] = {1}, b[NFIG] = {1}, back[NFIG] = {0};
    a[NFIG - 1] = INT64_MAX - 10;
    b[NFIG - 1] = 20;
    back[NFIG - 1] = -20;
    pub_model_wrlock(m);
    assert_int_equal(pub_model_add(m, d, "150821", 1, 1, 1, "SFJ", "", "", a), 0);
    assert_int_equal(pub_model_add(m, d, "210402", 1, 1, 1, "SFJ", "", "", b), 0);
    pub_model_unlock(m);
    pub_scope nation, nm;
    int64_t got[NFIG];
    pub_model_rdlock(m);
    assert_int_equal(pub_model_scope(m, "100000", &nation), 0);
    assert_int_equal(pub_model_scope(m, "150000", &nm), 0);
    pub_model_sum(m, d, d, &nation, got);
    assert_int_equal(got[NFIG - 1], INT64_MAX);
    assert_int_equal(got[0], 2);
    pub_model_sum(m, d - 3, d + 3, NULL, got);
    assert_int_equal(got[NFIG - 1], INT64_MAX);
    pub_model_sum(m, d, d, &nm, got);
    assert_int_equal(got[NFIG - 1], INT64_MAX - 10);
    pub_model_unlock(m);
    pub_model_wrlock(m);
    assert_int_equal(pub_model_add(m, d, "210402", 1, 1, 1, "SFJ", "", "", back), 0);
    pub_model_unlock(m);
    pub_model_rdlock(m);
    pub_model_sum(m, d, d, &nation, got);
    assert_int_equal(got[NFIG - 1], INT64_MAX - 10);
    pub_model_unlock(m);
    pub_model_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_window_matches_the_naive_sum),
        cmocka_unit_test(without_a_horizon_every_day_is_kept),
        cmocka_unit_test(a_catch_up_replaces_what_changed),
        cmocka_unit_test(the_model_file_reads_back_the_same),
        cmocka_unit_test(corrections_move_reports_between_days_and_counties),
        cmocka_unit_test(a_day_past_int64_is_read_from_the_counties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
