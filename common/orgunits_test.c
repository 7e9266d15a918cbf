/* Unit tests: org units at four levels, "is county X under unit Y". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "orgunits.h"
#include "testlib.h"

static char *source_path(const char *rel) {
    const char *src = getenv("PUFA_SOURCE_DIR");
    return pufa_asprintf("%s/%s", src ? src : ".", rel);
}

static pufa_orgunits *load_nation(void) {
    char *path = source_path("deploy/data/divisions/nation.csv");
    pufa_orgunits *ou = NULL;
    char err[1024];
    if (pufa_orgunits_load_csv(path, &ou, err, sizeof err))
        fail_msg("%s: %s", path, err);
    free(path);
    return ou;
}

static void nation_file_has_every_level_and_walks_up(void **state) {
    (void)state;
    pufa_orgunits *ou = load_nation();
    size_t per[4] = {0};
    for (size_t i = 0; i < ou->count; i++)
        per[pufa_orgunit_level_rank(ou->units[i].level)]++;
    assert_int_equal(per[0], 1);
    assert_int_equal(per[1], 31);
    assert_int_equal(per[2], 342);
    assert_int_equal(per[3], 2975);
    assert_true(pufa_orgunits_is_county(ou, "150821"));
    assert_false(pufa_orgunits_is_county(ou, "150800"));
    /* 五原县 is under itself, 巴彦淖尔市, 内蒙古自治区 and the nation. */
    const char *up[] = {"150821", "150800", "150000", "100000"};
    for (int i = 0; i < 4; i++)
        assert_true(pufa_orgunits_is_under(ou, "150821", up[i]));
    /* ... and under nothing else. */
    const char *not_up[] = {"150802", "210400", "210000", "150900", "999999", "", "15082"};
    for (int i = 0; i < 7; i++)
        assert_false(pufa_orgunits_is_under(ou, "150821", not_up[i]));
    /* Only counties are "under": a city is not, nor an unknown code. */
    assert_false(pufa_orgunits_is_under(ou, "150800", "150000"));
    assert_false(pufa_orgunits_is_under(ou, "999901", "100000"));
    /* A municipality's districts sit under its 市辖区 city. */
    assert_true(pufa_orgunits_is_under(ou, "110101", "110000"));
    assert_int_equal(pufa_orgunits_counties_under(ou, "100000"), 2975);
    assert_int_equal(pufa_orgunits_counties_under(ou, "150800"), 7);
    assert_int_equal(pufa_orgunits_counties_under(ou, "150821"), 1);
    size_t in_150000 = 0;
    for (size_t i = 0; i < ou->count; i++)
        if (!strcmp(ou->units[i].level, "county") && !strncmp(ou->units[i].code, "15", 2))
            in_150000++;
    assert_int_equal(pufa_orgunits_counties_under(ou, "150000"), in_150000);
    pufa_orgunits_destroy(&ou);
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The cost of one question in CPU time (printed, not asserted: machines
 * differ), over every county against its province and against a code that
 * is none of its ancestors (the longest walk: to the nation and beyond). */
static void is_under_costs_a_few_lookups(void **state) {
    (void)state;
    pufa_orgunits *ou = load_nation();
    long calls = 0, yes = 0;
    double t0 = seconds();
    for (int round = 0; round < 50; round++)
        for (size_t i = 0; i < ou->count; i++) {
            const pufa_orgunit *u = &ou->units[i];
            if (strcmp(u->level, "county") != 0)
                continue;
            char province[7];
            snprintf(province, sizeof province, "%.2s0000", u->code);
            yes += pufa_orgunits_is_under(ou, u->code, province);
            yes += pufa_orgunits_is_under(ou, u->code, "990000");
            calls += 2;
        }
    double dt = seconds() - t0;
    assert_int_equal(yes, calls / 2);
    printf("is_under: %ld calls over %zu units in %.3f s CPU: %.0f ns per call\n", calls, ou->count,
           dt, dt * 1e9 / (double)calls);
    pufa_orgunits_destroy(&ou);
}

static char *write_temp(const char *text) {
    char *path = pufa_strdup("/tmp/pufa-ou-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void load_within_resolves_parents_in_known_units(void **state) {
    (void)state;
    pufa_orgunits *known = pufa_orgunits_new();
    assert_int_equal(pufa_orgunits_add(known, "150800", "巴彦淖尔市", "city", ""), 0);
    assert_int_equal(pufa_orgunits_add(known, "150802", "临河区", "county", "150800"), 0);
    char *path = write_temp("code,name,level,parent_code\n150821,五原县,county,150800\n");
    pufa_orgunits *ou = NULL;
    char err[1024];
    assert_int_equal(pufa_orgunits_load_csv_within(path, known, &ou, err, sizeof err), 0);
    pufa_orgunits_destroy(&ou);
    assert_int_equal(pufa_orgunits_load_csv_within(path, NULL, &ou, err, sizeof err), PUFA_EPARSE);
    assert_string_equal(err, "line 2: parent_code: 150800 is neither in this file nor in the "
                             "database");
    /* Without require, a parent outside the file is the caller's business. */
    assert_int_equal(pufa_orgunits_load_csv(path, &ou, err, sizeof err), 0);
    pufa_orgunits_destroy(&ou);
    unlink(path);
    free(path);
    pufa_orgunits_destroy(&known);
}

/* More bad lines than the buffer holds: the first ones, then a count. */
static void many_bad_lines_are_counted(void **state) {
    (void)state;
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_puts(&b, "code,name,level,parent_code\n");
    for (int i = 0; i < 100; i++)
        pufa_buf_printf(&b, "1508%02d,x,county,\n", i + 1);
    char *path = write_temp(b.data);
    pufa_buf_free(&b);
    pufa_orgunits *ou = NULL;
    char err[300];
    assert_int_equal(pufa_orgunits_load_csv(path, &ou, err, sizeof err), PUFA_EPARSE);
    assert_null(ou);
    assert_contains(err, "line 2: parent_code: a county must name its city\n");
    assert_contains(err, "more bad lines)");
    unlink(path);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nation_file_has_every_level_and_walks_up),
        cmocka_unit_test(is_under_costs_a_few_lookups),
        cmocka_unit_test(load_within_resolves_parents_in_known_units),
        cmocka_unit_test(many_bad_lines_are_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
