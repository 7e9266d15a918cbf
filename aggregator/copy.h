/* Binary COPY encoding (pure: the bytes only; common/pg's pufa_pg_copy_in
 * sends them): report rows for the reports table (the fast path for
 * reports that are new: the transaction holds the stored rows locked and
 * the aggregator is the only writer, so "not stored" means "insert"), rows
 * of the rollup journal, and the field encoders for other tables.  The
 * benchmark's raw-COPY baseline uses the same encoder. */
#ifndef AGG_COPY_H
#define AGG_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "date.h"
#include "report.h"
#include "store_sql.h"
#include "wire.h"

/* The pieces of a binary COPY row: copy_tuple(ncolumns), then one field
 * each. */
void copy_tuple(pufa_buf *buf, int ncolumns);
void copy_text(pufa_buf *buf, const char *s); /* NULL = "" */
void copy_int2(pufa_buf *buf, int v);
void copy_int4(pufa_buf *buf, int32_t v);
void copy_int8(pufa_buf *buf, int64_t v);
void copy_date(pufa_buf *buf, pufa_day day);
void copy_null(pufa_buf *buf);

#define COPY_NCOLUMNS NREPORT_PARAMS

/* Appends one report row (REPORT_COLS, store_sql.h) to buf; collector may be NULL.
 * The first row of a COPY needs copy_begin(buf) before it, the last
 * copy_end(buf) after it. */
void copy_begin(pufa_buf *buf);
void copy_row(pufa_buf *buf, const pufa_report *r, const char *collector);
/* The same with the commit_seq column after them (SQL_REPORTS_COPY). */
void copy_row_seq(pufa_buf *buf, const pufa_report *r, const char *collector, uint64_t seq);
void copy_end(pufa_buf *buf);

/* Appends one journal row (SQL_JOURNAL_COPY's columns): the cell's change
 * under feed sequence seq. */
void copy_journal_row(pufa_buf *buf, uint64_t seq, const pufa_cell *c);

#endif
