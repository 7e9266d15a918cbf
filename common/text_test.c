/* Unit tests: UTF-8, UUIDs, dates, enums, errors. */
#include <string.h>
#include <time.h>

#include "date.h"
#include "enums.h"
#include "error.h"
#include "testlib.h"
#include "utf8.h"
#include "uuid.h"

static void utf8_accepts_chinese_and_counts_characters(void **state) {
    (void)state;
    size_t n = 0;
    const char *s = "乌拉特前旗·嘎查 新宾满族自治县 灌雲縣 𠀋";
    assert_true(pufa_utf8_valid(s, strlen(s), &n));
    assert_int_equal(n, 22);
}

static void utf8_rejects_malformed(void **state) {
    (void)state;
    assert_false(pufa_utf8_valid("\xC0\xAF", 2, NULL));         /* overlong '/' */
    assert_false(pufa_utf8_valid("\xED\xA0\x80", 3, NULL));     /* surrogate */
    assert_false(pufa_utf8_valid("\xF4\x90\x80\x80", 4, NULL)); /* > U+10FFFF */
    assert_false(pufa_utf8_valid("\xE6\xB3", 2, NULL));         /* truncated */
    assert_false(pufa_utf8_valid("a\0b", 3, NULL));             /* NUL */
    assert_false(pufa_utf8_valid("\xFF", 1, NULL));
}

static void uuid_parses_canonicalises_and_rejects(void **state) {
    (void)state;
    char out[37];
    assert_int_equal(pufa_uuid_canonical("3CEAAF30-8142-48EA-91D9-3080F9B439FC", out), 0);
    assert_string_equal(out, "3ceaaf30-8142-48ea-91d9-3080f9b439fc");
    assert_int_equal(pufa_uuid_canonical("not-a-uuid", out), PUFA_EPARSE);
    assert_int_equal(pufa_uuid_canonical("3ceaaf30814248ea91d93080f9b439fc", out), PUFA_EPARSE);
    assert_int_equal(pufa_uuid_canonical("3ceaaf30-8142-48ea-91d9-3080f9b439fg", out), PUFA_EPARSE);
}

static void uuid_v7_is_time_ordered(void **state) {
    (void)state;
    uint8_t a[16], b[16];
    pufa_uuid_v7(a);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    pufa_uuid_v7(b);
    assert_true(memcmp(a, b, 16) < 0);
    assert_int_equal(a[6] >> 4, 7);
    assert_int_equal(a[8] >> 6, 2);
}

static void dates_parse_format_and_refuse_impossible_days(void **state) {
    (void)state;
    pufa_day d;
    assert_int_equal(pufa_date_parse("1970-01-01", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(pufa_date_parse("2024-02-29", &d), 0);
    char out[11];
    pufa_date_format(d, out);
    assert_string_equal(out, "2024-02-29");
    assert_int_equal(pufa_date_weekday(pufa_date_from_ymd(2026, 11, 23)), 0); /* a Monday */
    assert_int_equal(pufa_date_parse("2025-02-29", &d), PUFA_EPARSE);
    assert_int_equal(pufa_date_parse("2025-13-40", &d), PUFA_EPARSE);
    assert_int_equal(pufa_date_parse("2025-1-01", &d), PUFA_EPARSE);
    assert_int_equal(pufa_date_parse("2025-01-01T00", &d), PUFA_EPARSE);
    for (pufa_day x = -1000; x < 30000; x += 7) {
        int y, m, dd;
        pufa_date_to_ymd(x, &y, &m, &dd);
        assert_int_equal(pufa_date_from_ymd(y, m, dd), x);
    }
}

static void city_day_uses_the_city_offset(void **state) {
    (void)state;
    int saved = pufa_city_utc_offset_min;
    int off;
    assert_int_equal(pufa_tz_parse("Asia/Shanghai", &off), 0);
    assert_int_equal(off, 480);
    assert_int_equal(pufa_tz_parse("-03:30", &off), 0);
    assert_int_equal(off, -210);
    assert_int_equal(pufa_tz_parse("Mars/Olympus", &off), PUFA_EINVAL);
    pufa_city_utc_offset_min = 480;
    /* 2026-11-22T17:00Z is already 2026-11-23 in Beijing. */
    int64_t ms = (int64_t)pufa_date_from_ymd(2026, 11, 22) * 86400000 + 17 * 3600000LL;
    assert_int_equal(pufa_city_day(ms), pufa_date_from_ymd(2026, 11, 23));
    pufa_city_utc_offset_min = 0;
    assert_int_equal(pufa_city_day(ms), pufa_date_from_ymd(2026, 11, 22));
    pufa_city_utc_offset_min = saved;
}

static void enums_accept_codes_and_labels(void **state) {
    (void)state;
    assert_int_equal(pufa_enum_lookup(PUFA_ENUM_THEME, "宪法"), 2);
    assert_int_equal(pufa_enum_lookup(PUFA_ENUM_THEME, "constitution"), 2);
    assert_int_equal(pufa_enum_lookup(PUFA_ENUM_THEME, "娱乐"), 0);
    assert_int_equal(pufa_enum_lookup(PUFA_ENUM_VENUE, "宗教场所"), 9);
    assert_int_equal(pufa_enum_lookup(PUFA_ENUM_FORM, "以案释法"), 5);
    assert_string_equal(pufa_enum_label(PUFA_ENUM_FORM, 7), "线上推送");
    assert_null(pufa_enum_code(PUFA_ENUM_VENUE, 14));
    assert_null(pufa_enum_code(PUFA_ENUM_VENUE, 0));
    for (int k = 0; k < 3; k++)
        for (int v = 1; v <= pufa_enum_max((pufa_enum_kind)k); v++) {
            assert_int_equal(
                pufa_enum_lookup((pufa_enum_kind)k, pufa_enum_code((pufa_enum_kind)k, v)), v);
            assert_int_equal(
                pufa_enum_lookup((pufa_enum_kind)k, pufa_enum_label((pufa_enum_kind)k, v)), v);
        }
}

static void errors_have_names_and_messages(void **state) {
    (void)state;
    assert_string_equal(pufa_strerror(PUFA_EQUOTA), "spool quota reached");
    assert_string_equal(pufa_errname(PUFA_EPARSE), "EPARSE");
    assert_string_equal(pufa_strerror(0), "success");
    assert_string_equal(pufa_strerror(12345), "unknown error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_accepts_chinese_and_counts_characters),
        cmocka_unit_test(utf8_rejects_malformed),
        cmocka_unit_test(uuid_parses_canonicalises_and_rejects),
        cmocka_unit_test(uuid_v7_is_time_ordered),
        cmocka_unit_test(dates_parse_format_and_refuse_impossible_days),
        cmocka_unit_test(city_day_uses_the_city_offset),
        cmocka_unit_test(enums_accept_codes_and_labels),
        cmocka_unit_test(errors_have_names_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
