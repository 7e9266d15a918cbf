/* Unit tests: township names as a breakdown key (common/township.c). */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "testlib.h"
#include "township.h"

static void expect(const char *in, const char *want) {
    char *out = pufa_malloc(strlen(in) + 1);
    size_t n = pufa_township_norm(in, out, strlen(in) + 1);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    free(out);
}

/* Spaces of any kind at the ends go; runs inside become one ASCII space. */
static void test_spaces(void **state) {
    (void)state;
    expect("隆兴昌镇", "隆兴昌镇");
    expect("  隆兴昌镇 ", "隆兴昌镇");
    expect("\xE3\x80\x80隆兴昌镇\xE3\x80\x80", "隆兴昌镇"); /* U+3000 */
    expect("隆兴昌 \xE3\x80\x80\xC2\xA0 镇", "隆兴昌 镇");  /* U+3000, U+00A0 */
    expect("乌拉特前旗  新安镇", "乌拉特前旗 新安镇");
    expect("", "");
    expect("   ", "");
    expect("\xE3\x80\x80", "");
}

/* Full-width ASCII (U+FF01..U+FF5E) becomes half-width, every one of them;
 * the characters around them are left alone. */
static void test_full_width(void **state) {
    (void)state;
    expect("ＡＢ街道１号", "AB街道1号");
    expect("（东）街道", "(东)街道");
    char in[94 * 3 + 1], want[95];
    for (int i = 0; i < 94; i++) {
        unsigned cp = 0xFF01 + (unsigned)i;
        in[3 * i] = (char)(0xE0 | (cp >> 12));
        in[3 * i + 1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        in[3 * i + 2] = (char)(0x80 | (cp & 0x3F));
        want[i] = (char)(0x21 + i);
    }
    in[94 * 3] = '\0';
    want[94] = '\0';
    expect(in, want);
    /* Neighbours of the range stay as they are: U+FF00 (unassigned), U+FF5F. */
    expect("\xEF\xBC\x80\xEF\xBD\x9F", "\xEF\xBC\x80\xEF\xBD\x9F");
    expect("嘎查·苏木", "嘎查·苏木"); /* U+00B7 is not a space */
}

/* A buffer too small cuts at a character boundary and stays terminated. */
static void test_small_buffer(void **state) {
    (void)state;
    char out[5];
    size_t n = pufa_township_norm("ＡＢ街道", out, sizeof out);
    assert_string_equal(out, "AB");
    assert_int_equal(n, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_full_width),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
