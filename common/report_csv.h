/* CSV <-> report (libcsv).  UTF-8, an optional BOM, a header row naming
 * the columns (the JSON field names or the template's Chinese titles, any
 * order; report_id, revision,
 * county_code, unit_code, occurred_on, theme, venue, form and title are
 * required), quoted fields with embedded commas/quotes/newlines, LF or CRLF.
 * An empty counter cell means 0.  "line" below counts records, the header
 * being line 1. */
#ifndef PUFA_REPORT_CSV_H
#define PUFA_REPORT_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "alloc.h"
#include "report.h"

typedef struct pufa_csv_reader pufa_csv_reader;

/* Called once per data row.  r and errs belong to the reader and are valid
 * only during the call (copy what you keep).  errs holds the row's decode
 * errors (validation is the caller's). */
typedef void (*pufa_csv_row_fn)(void *ctx, size_t line, pufa_report *r, pufa_errors *errs);

/* fn NULL: the rows wait in the reader for pufa_csv_reader_next. */
pufa_csv_reader *pufa_csv_reader_new(pufa_csv_row_fn fn, void *ctx);
void pufa_csv_reader_destroy(pufa_csv_reader **rd);
/* Feeds bytes; returns 0, or PUFA_EPARSE when the file as a whole cannot
 * be read (bad header, broken quoting): pufa_csv_reader_error() says why. */
int pufa_csv_reader_feed(pufa_csv_reader *rd, const char *buf, size_t len);
/* Ends the input (flushes the last row). */
int pufa_csv_reader_finish(pufa_csv_reader *rd);
const char *pufa_csv_reader_error(const pufa_csv_reader *rd);
/* Without fn: the next row decoded by the feeds so far, true with *line,
 * *r and *errs (the reader's, valid until the next call; the caller may
 * move r's strings out); false when none is waiting. */
bool pufa_csv_reader_next(pufa_csv_reader *rd, size_t *line, pufa_report **r, pufa_errors **errs);
/* Data rows seen so far. */
size_t pufa_csv_reader_rows(const pufa_csv_reader *rd);

/* Driving the reader row by row instead of with bytes (the XLSX reader):
 * cells[i] (NULL or empty for an empty cell, lens[i] bytes of UTF-8) is the
 * row's column i; the first row given is the header.  line is what results
 * and messages call the row.  A value right of the header's columns is an
 * error of that row.  Returns 0, or PUFA_EPARSE on a bad header. */
int pufa_csv_reader_row(pufa_csv_reader *rd, size_t line, const char *const *cells,
                        const size_t *lens, int ncells);
bool pufa_csv_reader_has_header(const pufa_csv_reader *rd);
/* After the header: which column (pufa_csv_column_name) position pos
 * holds, or -1. */
int pufa_csv_reader_column(const pufa_csv_reader *rd, int pos);

/* The columns, in the order the writer uses: the field name, the Chinese
 * title (the template's; accepted in a header like the name) and whether
 * a header must have it.  NULL/false out of range. */
int pufa_csv_ncolumns(void);
const char *pufa_csv_column_name(int col);
const char *pufa_csv_column_title(int col);
bool pufa_csv_column_required(int col);

/* Convenience: reads a whole buffer. */
int pufa_csv_each_report(const char *buf, size_t len, pufa_csv_row_fn fn, void *ctx, char *msg,
                         size_t msgsize);

/* Writing.  The header and one row per report, CRLF line ends, fields
 * quoted when needed.  Enums are written as ASCII codes. */
void pufa_csv_write_header(pufa_buf *out);
void pufa_csv_write_report(pufa_buf *out, const pufa_report *r);
/* One cell: quoted when it holds , " CR or LF or starts or ends with white
 * space; when guard_formula, a cell
 * starting with = + - @ (or TAB/CR) gets a leading ' so spreadsheets show
 * it as text. */
void pufa_csv_write_cell(pufa_buf *out, const char *s, bool guard_formula);

#endif
