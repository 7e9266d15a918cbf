/* Unit test of the pure parts of periods.c: months, the lock map's
 * decisions and reasons, the entry deadline, and the cost of a lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "alloc.h"
#include "periods.h"

static pufa_day day(const char *s) {
    pufa_day d;
    assert_int_equal(pufa_date_parse(s, &d), 0);
    return d;
}

static void months_parse_and_format(void **state) {
    (void)state;
    int32_t m;
    char out[8];
    assert_int_equal(period_month_parse("2026-10", &m), 0);
    period_month_format(m, out);
    assert_string_equal(out, "2026-10");
    assert_int_equal(period_month_of(day("2026-10-31")), m);
    assert_int_equal(period_month_of(day("2026-11-01")), m + 1);
    static const char *const bad[] = {"2026-13", "2026-00", "2026-1",  "26-10",    "2026/10",
                                      "1999-12", "",        "2026-1x", "2026-100", "abcd-ef"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (period_month_parse(bad[i], &m) == 0)
            fail_msg("'%s' parsed as a month", bad[i]);
}

static lockmap sample_map(void) {
    lockmap m = {0};
    m.n = 3;
    m.v = pufa_calloc(3, sizeof *m.v);
    int32_t oct, sep;
    period_month_parse("2026-10", &oct);
    period_month_parse("2026-09", &sep);
    m.v[0] = (period_lock){.county = "150821",
                           .month = sep,
                           .state = PERIOD_OPEN,
                           .exception_open = true,
                           .set_by = "city-150800",
                           .set_at = "2026-11-01T00:00:00Z",
                           .name = "五原县"};
    m.v[1] = (period_lock){.county = "150821",
                           .month = oct,
                           .state = PERIOD_APPROVED,
                           .set_by = "city-150800",
                           .set_at = "2026-11-05T02:00:00Z",
                           .name = "五原县"};
    m.v[2] = (period_lock){.county = "150822",
                           .month = oct,
                           .state = PERIOD_SUBMITTED,
                           .set_by = "county-150822",
                           .set_at = "2026-11-03T02:00:00Z",
                           .name = "磴口县"};
    return m;
}

static void lock_map_decides_and_explains(void **state) {
    (void)state;
    lockmap m = sample_map();
    char why[256];
    pufa_day today = day("2026-11-27");
    assert_true(lockmap_locked(&m, "150821", day("2026-10-01"), today, why, sizeof why));
    assert_string_equal(why, "occurred_on: period 2026-10 of 150821 五原县 is approved (set by "
                             "city-150800 at 2026-11-05T02:00:00Z): locked; ask for a lock "
                             "exception (pufa unlock)");
    assert_true(lockmap_locked(&m, "150822", day("2026-10-31"), today, why, sizeof why));
    assert_non_null(strstr(why, "is submitted (set by county-150822"));
    assert_false(lockmap_locked(&m, "150822", day("2026-11-01"), today, why, sizeof why));
    assert_false(lockmap_locked(&m, "150823", day("2026-10-15"), today, why, sizeof why));
    /* The deadline: September ended 2026-09-30; + 10 days = 2026-10-10. */
    m.deadline_days = 10;
    assert_true(lockmap_locked(&m, "150822", day("2026-09-15"), today, why, sizeof why));
    assert_non_null(strstr(why, "past its entry deadline 2026-10-10"));
    assert_false(
        lockmap_locked(&m, "150822", day("2026-09-15"), day("2026-10-10"), why, sizeof why));
    assert_true(
        lockmap_locked(&m, "150822", day("2026-09-15"), day("2026-10-11"), why, sizeof why));
    /* An open exception lets the month in past its deadline. */
    assert_false(lockmap_locked(&m, "150821", day("2026-09-15"), today, why, sizeof why));
    /* The current month is never past its deadline. */
    assert_false(lockmap_locked(&m, "150823", day("2026-11-02"), today, why, sizeof why));
    lockmap_free(&m);
}

/* What the hot path pays: a map of every county of the country for twelve
 * months (35,700 entries), one lookup per report. */
static void lookup_cost(void **state) {
    (void)state;
    enum { COUNTIES = 2975, MONTHS = 12 };
    lockmap m = {0};
    m.v = pufa_calloc(COUNTIES * MONTHS, sizeof *m.v);
    int32_t jan;
    period_month_parse("2026-01", &jan);
    for (int c = 0; c < COUNTIES; c++)
        for (int k = 0; k < MONTHS; k++) {
            period_lock *e = &m.v[m.n++];
            snprintf(e->county, sizeof e->county, "%06d", 110101 + c);
            e->month = jan + k;
            e->state = PERIOD_APPROVED;
        }
    char why[256];
    pufa_day d0 = day("2026-01-01");
    /* Counties in the map (hits: locked, the reason written) and not. */
    static char in[1024][7], out[1024][7];
    for (int i = 0; i < 1024; i++) {
        snprintf(in[i], sizeof in[i], "%06d", 110101 + (i * 7) % COUNTIES);
        snprintf(out[i], sizeof out[i], "%06d", 110101 + COUNTIES + i);
    }
    enum { N = 1000000 };
    for (int pass = 0; pass < 2; pass++) {
        char(*set)[7] = pass ? in : out;
        long locked = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < N; i++)
            locked += lockmap_locked(&m, set[i & 1023], d0 + (pufa_day)(i % 365), d0 + 400, why,
                                     sizeof why);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / N;
        print_message("lockmap over %zu locked county-months: %.0f ns per report %s\n", m.n, ns,
                      pass ? "that is locked (reason text included)" : "that is not locked");
        assert_int_equal(locked, pass ? N : 0);
    }
    lockmap empty = {0};
    struct timespec t0, t1;
    long locked = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < N; i++)
        locked += lockmap_locked(&empty, in[i & 1023], d0, d0, why, sizeof why);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(locked, 0);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / N;
    print_message("lockmap: %.1f ns per report with nothing locked and no deadline\n", ns);
    lockmap_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(months_parse_and_format),
        cmocka_unit_test(lock_map_decides_and_explains),
        cmocka_unit_test(lookup_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
