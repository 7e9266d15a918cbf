/* The rollups checked against the reports table cell by cell: every day x
 * county x dimension x key, on every figure, both ways, with multiplicity. */
#ifndef PUFA_TEST_CELLS_H
#define PUFA_TEST_CELLS_H

#include <libpq-fe.h>
#include <stddef.h>

/* Compares the cells of table ("rollup_live" or "rollup_dim") with the
 * non-retracted rows of reports, grouped per day x county x dimension x key
 * by this code (not by the schema's view).  A cell whose figures are all
 * zero is what a retraction or a correction leaves and counts as absent; a
 * cell with reports = 0 but any figure left is a difference like any other.
 * Returns the number of differing rows (0: equal), the first few described
 * in why; -1 with the error in why when a query fails. */
long long pufa_test_cells_diff(PGconn *db, const char *table, char *why, size_t size);

/* Fails the test (naming the differing cells) unless the cells of table
 * equal the reports. */
#define assert_cells_equal_reports(db, table)                                                      \
    pufa_test_assert_cells((db), (table), __FILE__, __LINE__)
void pufa_test_assert_cells(PGconn *db, const char *table, const char *file, int line);

#endif
