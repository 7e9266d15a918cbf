/* Unit tests: the first receipt per county x unit x activity month
 * (publisher/firsts.c), and the feed noting it from Receipt.month
 * (publisher/feed.c, live.c): the earliest day wins, a malformed month
 * refuses the delta whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "firsts.h"
#include "live.h"
#include "testlib.h"
#include "wire.h"

static pufa_day day(const char *s) {
    pufa_day d;
    if (pufa_date_parse(s, &d))
        fail_msg("bad date in the test: %s", s);
    return d;
}

static void earliest_day_per_county_unit_month(void **state) {
    (void)state;
    pub_firsts *f = pub_firsts_new();
    const int nov = 2026 * 12 + 10;
    assert_int_equal(pub_firsts_get(f, "150821", "SFJ", nov), -1);
    pub_firsts_add(f, "150821", "SFJ", nov, day("2026-12-03"));
    pub_firsts_add(f, "150821", "SFJ", nov, day("2026-11-20"));
    pub_firsts_add(f, "150821", "SFJ", nov, day("2026-12-01"));
    assert_int_equal(pub_firsts_get(f, "150821", "SFJ", nov), day("2026-11-20"));
    assert_int_equal(pub_firsts_get(f, "150821", "SFJ", nov - 1), -1);
    assert_int_equal(pub_firsts_get(f, "150821", "FY", nov), -1);
    assert_int_equal(pub_firsts_get(f, "150822", "SFJ", nov), -1);
    /* Past several growths of the table: every key still found. */
    char county[8], unit[16];
    for (int c = 0; c < 20; c++)
        for (int u = 0; u < 10; u++)
            for (int m = 0; m < 24; m++) {
                snprintf(county, sizeof county, "1508%02d", c);
                snprintf(unit, sizeof unit, "U%d", u);
                pub_firsts_add(f, county, unit, 2024 * 12 + m, day("2024-01-01") + c + u + m);
            }
    for (int c = 0; c < 20; c++)
        for (int u = 0; u < 10; u++)
            for (int m = 0; m < 24; m++) {
                snprintf(county, sizeof county, "1508%02d", c);
                snprintf(unit, sizeof unit, "U%d", u);
                assert_int_equal(pub_firsts_get(f, county, unit, 2024 * 12 + m),
                                 day("2024-01-01") + c + u + m);
            }
    assert_int_equal(pub_firsts_get(f, "150821", "SFJ", nov), day("2026-11-20"));
    pub_firsts_clear(f);
    assert_int_equal(pub_firsts_get(f, "150821", "SFJ", nov), -1);
    pub_firsts_add(f, "150821", "SFJ", nov, day("2026-12-03"));
    assert_int_equal(pub_firsts_get(f, "150821", "SFJ", nov), day("2026-12-03"));
    pub_firsts_destroy(&f);
    assert_null(f);
    pub_firsts_destroy(&f);
}

/* A delta of seq whose one receipt has month (NULL: none). */
static uint8_t *delta_with_month(uint64_t seq, const char *month, size_t *len) {
    Pufa__CommitDelta msg = PUFA__COMMIT_DELTA__INIT;
    Pufa__Receipt r = PUFA__RECEIPT__INIT, *rp = &r;
    msg.has_seq = 1;
    msg.seq = seq;
    r.day = "2026-11-20";
    r.county_code = "150821";
    r.unit_code = "SFJ";
    r.has_reports = 1;
    r.reports = 1;
    r.month = (char *)month;
    msg.n_receipts = 1;
    msg.receipts = &rp;
    *len = pufa__commit_delta__get_packed_size(&msg);
    uint8_t *buf = pufa_malloc(*len);
    pufa__commit_delta__pack(&msg, buf);
    return buf;
}

static void feed_notes_the_month_or_refuses_a_bad_one(void **state) {
    (void)state;
    pub_live *l = pub_live_new();
    pufa_day today = day("2026-11-27");
    uint64_t seq;
    char why[256];
    size_t len;
    uint8_t *buf = delta_with_month(1, "2026-11", &len);
    assert_int_equal(pub_feed_apply(l, "delta", 5, buf, len, today, &seq, why, sizeof why),
                     PUB_FEED_APPLIED);
    free(buf);
    buf = delta_with_month(2, NULL, &len); /* an older sender: only the receipt */
    assert_int_equal(pub_feed_apply(l, "delta", 5, buf, len, today, &seq, why, sizeof why),
                     PUB_FEED_APPLIED);
    free(buf);
    buf = delta_with_month(3, "2026-13", &len);
    assert_int_equal(pub_feed_apply(l, "delta", 5, buf, len, today, &seq, why, sizeof why),
                     PUB_FEED_REFUSED);
    free(buf);
    assert_string_equal(why, "receipts[0].month: missing or out of range");
    pub_model *m = pub_live_model(l);
    pub_model_rdlock(m);
    assert_int_equal(pub_model_seq(m), 2);
    assert_int_equal(pub_firsts_get(pub_live_firsts(l), "150821", "SFJ", 2026 * 12 + 10),
                     day("2026-11-20"));
    assert_int_equal(pub_firsts_get(pub_live_firsts(l), "150821", "SFJ", 2026 * 12 + 11), -1);
    pub_model_unlock(m);
    pub_live_destroy(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(earliest_day_per_county_unit_month),
        cmocka_unit_test(feed_notes_the_month_or_refuses_a_bad_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
