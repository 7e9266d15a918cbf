/* Unit tests: the collector's delivery states and dead-letter file. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "states.h"
#include "testlib.h"

static char dir[64];

static int setup(void **state) {
    (void)state;
    return pufa_test_tmpdir(dir, sizeof dir, "states");
}

static int teardown(void **state) {
    (void)state;
    return pufa_test_rm_rf(dir);
}

/* The dead-letter file's lines, parsed (an array of objects). */
static json_t *dead_letters(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/dead-letter.jsonl", dir);
    json_error_t jerr;
    json_t *all = json_array();
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, &jerr);
        if (!o)
            fail_msg("dead-letter line is not JSON: %s (%s)", line, jerr.text);
        json_array_append_new(all, o);
    }
    fclose(f);
    return all;
}

/* A rejection reason comes from the aggregator: whatever its bytes, the
 * dead letter keeps it (escaped), and the status lookup finds it. */
static void a_reason_that_is_not_utf8_is_kept_escaped(void **state) {
    (void)state;
    states *s = states_new(dir, 1024);
    const char *id = "01a21ce1-0624-7b4a-b979-b85f54b15d1e";
    states_final(s, id, 2, DS_REJECTED, "theme: unknown (got \xce\xa8\xff)", NULL);
    states_final(s, "01a21ce1-0624-7b4a-b979-b85f54b15d1f", 1, DS_REJECTED, "县 outside home",
                 NULL);
    assert_int_equal(states_rejected(s), 2);
    uint32_t rev = 0;
    char reason[256];
    assert_int_equal(states_get(s, id, &rev, reason, sizeof reason), DS_REJECTED);
    assert_int_equal(rev, 2);
    states_destroy(&s);

    json_t *all = dead_letters();
    assert_int_equal(json_array_size(all), 2);
    const char *r0 = json_string_value(json_object_get(json_array_get(all, 0), "reason"));
    const char *r1 = json_string_value(json_object_get(json_array_get(all, 1), "reason"));
    assert_non_null(r0);
    assert_string_equal(r0, "theme: unknown (got \xce\xa8\\xFF)");
    assert_non_null(r1);
    assert_string_equal(r1, "县 outside home");
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "report_id")),
                        id);
    json_decref(all);

    /* After a restart the reason is found in the file. */
    s = states_new(dir, 1024);
    assert_int_equal(states_get(s, id, &rev, reason, sizeof reason), DS_REJECTED);
    assert_string_equal(reason, "theme: unknown (got \xce\xa8\\xFF)");
    states_destroy(&s);
}

/* A locked report is final like a rejected one: dead letter with its
 * status and reason, found again after a restart; and a late "spooled" of
 * the same revision (the intake marks it after its fsync, the answer may
 * be faster) does not undo it. */
static void locked_is_final_and_not_undone_by_a_late_spooled(void **state) {
    (void)state;
    states *s = states_new(dir, 1024);
    const char *id = "01a21ce1-0624-7b4a-b979-b85f54b15d20";
    const char *why = "occurred_on: period 2026-10 of 150821 五原县 is approved";
    states_final(s, id, 3, DS_LOCKED, why, NULL);
    states_set(s, id, 3, DS_SPOOLED);
    uint32_t rev = 0;
    char reason[256];
    assert_int_equal(states_get(s, id, &rev, reason, sizeof reason), DS_LOCKED);
    assert_string_equal(reason, why);
    assert_string_equal(delivery_state_name(DS_LOCKED), "locked");
    /* A new revision starts over. */
    states_set(s, id, 4, DS_SPOOLED);
    assert_int_equal(states_get(s, id, &rev, reason, sizeof reason), DS_SPOOLED);
    assert_int_equal(rev, 4);
    states_destroy(&s);
    json_t *all = dead_letters();
    assert_int_equal(json_array_size(all), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "status")),
                        "locked");
    json_decref(all);
    s = states_new(dir, 1024);
    assert_int_equal(states_get(s, id, &rev, reason, sizeof reason), DS_LOCKED);
    assert_int_equal(rev, 3);
    assert_string_equal(reason, why);
    states_destroy(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_reason_that_is_not_utf8_is_kept_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(locked_is_final_and_not_undone_by_a_late_spooled, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
