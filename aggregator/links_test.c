/* links_check: what a ReportBatch says about its sender, from a hostile
 * network, is refused or dropped field by field, never trusted. */
#include <stdint.h>
#include <string.h>

#include "links.h"
#include "testlib.h"

static const int64_t now = 1764000000000LL; /* 2025-11-24 */

static Pufa__ReportBatch batch(const char *id) {
    Pufa__ReportBatch b = PUFA__REPORT_BATCH__INIT;
    b.collector_id = (char *)id;
    b.has_batch_seq = 1;
    b.batch_seq = 7;
    return b;
}

static void a_heartbeat_and_a_forwarders_batch_pass(void **state) {
    (void)state;
    Pufa__ReportBatch b = batch("collector-150821");
    b.has_pending = 1;
    link_obs o;
    char why[600];
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 0);
    assert_string_equal(why, "");
    assert_string_equal(o.sender, "collector-150821");
    assert_true(o.has_pending && !o.with_reports && !o.has_as_of);
    assert_int_equal(o.pending, 0);
    assert_int_equal(o.oldest_ms, 0);
    assert_int_equal(o.seen_ms, now);

    Pufa__ActivityReport r = PUFA__ACTIVITY_REPORT__INIT, *rp = &r;
    b = batch("aggregator-150800");
    b.n_reports = 1;
    b.reports = &rp;
    b.has_as_of_seq = b.has_as_of_ms = b.has_pending = b.has_oldest_pending_ms = 1;
    b.as_of_seq = 42;
    b.as_of_ms = now - 1500;
    b.pending = 7;
    b.oldest_pending_ms = now - 3000;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 0);
    assert_true(o.with_reports && o.has_as_of);
    assert_int_equal(o.as_of_seq, 42);
    assert_int_equal(o.as_of_ms, now - 1500);
    assert_int_equal(o.pending, 7);
    assert_int_equal(o.oldest_ms, now - 3000);
    /* A clock a little ahead of ours counts as now. */
    b.as_of_ms = now + 2000;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 0);
    assert_int_equal(o.as_of_ms, now);
}

static void a_bad_sender_name_is_refused(void **state) {
    (void)state;
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    const char *names[] = {"", longname, "col\xff\xfe", "col\nnext", NULL};
    const char *want[] = {"collector_id: required", "collector_id: at most 63 bytes (got 64)",
                          "collector_id: must be UTF-8 without control characters",
                          "collector_id: must be UTF-8 without control characters",
                          "collector_id: required"};
    for (int i = 0; i < 5; i++) {
        Pufa__ReportBatch b = batch(names[i]);
        link_obs o;
        char why[600];
        assert_int_equal(links_check(&b, now, &o, why, sizeof why), -1);
        assert_contains(why, want[i]);
    }
}

static void out_of_range_fields_are_dropped_and_named(void **state) {
    (void)state;
    link_obs o;
    char why[600];
    Pufa__ReportBatch b = batch("aggregator-150800");
    b.has_as_of_seq = b.has_as_of_ms = 1;
    b.as_of_seq = 1;
    b.as_of_ms = -5;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 1);
    assert_contains(why, "as_of_ms: must be a Unix time in ms from 2000-01-01 to 600 s ahead of "
                         "ours (got -5)");
    assert_false(o.has_as_of);
    b.as_of_ms = now + 3600 * 1000LL; /* an hour ahead */
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 1);
    assert_contains(why, "as_of_ms:");
    b.as_of_ms = now;
    b.as_of_seq = UINT64_MAX;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 1);
    assert_contains(why, "as_of_seq: must be <= 9223372036854775807 (got 18446744073709551615)");
    b.has_as_of_ms = 0;
    b.as_of_seq = 3;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 1);
    assert_contains(why, "as_of_seq, as_of_ms: sent together or not at all (got only as_of_seq)");

    b = batch("collector-150821");
    b.has_pending = b.has_oldest_pending_ms = 1;
    b.pending = UINT64_MAX;
    b.oldest_pending_ms = now;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 1);
    assert_contains(why, "pending: must be <= 1000000000000 (got 18446744073709551615)");
    assert_false(o.has_pending);
    assert_int_equal(o.oldest_ms, 0);
    b.pending = 5;
    b.oldest_pending_ms = INT64_MIN;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 1);
    assert_contains(why, "oldest_pending_ms: must be a Unix time");
    assert_true(o.has_pending);
    assert_int_equal(o.pending, 5);
    assert_int_equal(o.oldest_ms, 0);
    /* Nothing waiting: the oldest's time means nothing and is ignored. */
    b.pending = 0;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 0);
    /* Several bad fields: each named. */
    b.pending = UINT64_MAX;
    b.has_as_of_ms = 1;
    b.as_of_ms = 0;
    assert_int_equal(links_check(&b, now, &o, why, sizeof why), 1);
    assert_contains(why, "as_of_seq, as_of_ms: sent together or not at all (got only as_of_ms); "
                         "pending: must be <=");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_heartbeat_and_a_forwarders_batch_pass),
        cmocka_unit_test(a_bad_sender_name_is_refused),
        cmocka_unit_test(out_of_range_fields_are_dropped_and_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
