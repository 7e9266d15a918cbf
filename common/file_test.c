/* Unit tests: pufa_read_file (common/file.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "file.h"
#include "testlib.h"

static char dir[64];

static const char *write_tmp(const char *name, const char *data, size_t len) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static int setup(void **state) {
    (void)state;
    return pufa_test_tmpdir(dir, sizeof dir, "file-test");
}

static int teardown(void **state) {
    (void)state;
    return pufa_test_rm_rf(dir);
}

static void test_whole_file(void **state) {
    (void)state;
    /* Bytes past the first chunk, and a NUL inside. */
    size_t n = 200000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i % 251);
    const char *path = write_tmp("big", data, n);
    char *out;
    size_t len;
    assert_int_equal(pufa_read_file(path, 0, &out, &len, NULL, 0), 0);
    assert_int_equal(len, n);
    assert_memory_equal(out, data, n);
    assert_int_equal(out[n], '\0');
    free(out);
    /* Exactly max is fine; one byte less is not. */
    assert_int_equal(pufa_read_file(path, n, &out, NULL, NULL, 0), 0);
    free(out);
    char err[200];
    assert_int_equal(pufa_read_file(path, n - 1, &out, &len, err, sizeof err), PUFA_ETOOBIG);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_contains(err, "larger than 199999 bytes");
    free(data);
}

static void test_empty_and_missing(void **state) {
    (void)state;
    const char *path = write_tmp("empty", "", 0);
    char *out;
    size_t len = 99;
    assert_int_equal(pufa_read_file(path, 10, &out, &len, NULL, 0), 0);
    assert_non_null(out);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    free(out);
    char err[200], missing[128];
    snprintf(missing, sizeof missing, "%s/none", dir);
    assert_int_equal(pufa_read_file(missing, 0, &out, NULL, err, sizeof err), PUFA_EIO);
    assert_null(out);
    assert_contains(err, missing);
    assert_contains(err, "No such file");
    /* A folder opens but cannot be read. */
    assert_int_equal(pufa_read_file(dir, 0, &out, NULL, err, sizeof err), PUFA_EIO);
    assert_null(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_file),
        cmocka_unit_test(test_empty_and_missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
