/* Helpers for the tests: where the sample data is, reading files, the org
 * units, and a few assertion helpers that print both values. */
#ifndef PUFA_TESTLIB_H
#define PUFA_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the standard headers above it. */
#include <cmocka.h>

#include "orgunits.h"

/* The folder with org_units.csv, sample_reports.jsonl, ...: $PUFA_SHARED_DATA
 * when it exists, else deploy/data of the source tree. */
const char *pufa_test_data_dir(void);
/* data dir + "/" + name, in one of 4 rotating static buffers. */
const char *pufa_test_data_path(const char *name);
/* Whole file, NUL-terminated; NULL when unreadable.  Caller frees. */
char *pufa_test_read_file(const char *path, size_t *len);
/* Makes a fresh folder /tmp/pufa-NAME-XXXXXX into dir (for cmocka setups):
 * 0, or -1. */
int pufa_test_tmpdir(char *dir, size_t size, const char *name);
/* Removes dir and everything below it (for cmocka teardowns): 0, or -1. */
int pufa_test_rm_rf(const char *dir);
/* The org units of the sample data (loaded once; do not destroy). */
const pufa_orgunits *pufa_test_orgunits(void);
/* deploy/data/demo_tree.csv of the checkout: the demo cities under their
 * provinces and the nation, so that one aggregator home, PUFA_TEST_HOME,
 * covers both. */
const char *pufa_test_demo_tree_path(void);
#define PUFA_TEST_HOME "100000"

/* Asserts that the string s contains needle, printing both when not. */
#define assert_contains(s, needle) pufa_test_assert_contains((s), (needle), __FILE__, __LINE__)
void pufa_test_assert_contains(const char *s, const char *needle, const char *file, int line);

/* Asserts that two texts of lines are equal; when not, prints the first
 * line where they differ, from each side, and how many lines each has. */
#define assert_lines_equal(got, want, what)                                                        \
    pufa_test_assert_lines_equal((got), (want), (what), __FILE__, __LINE__)
void pufa_test_assert_lines_equal(const char *got, const char *want, const char *what,
                                  const char *file, int line);

#endif
