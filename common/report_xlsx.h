/* XLSX (an Excel or WPS workbook) -> reports: the first sheet, its first
 * non-empty row the header (field names or the template's Chinese titles),
 * one report per row after it, mapped by the CSV reader's row mapping
 * (report_csv.h) so the rules are the CSV's.  "line" is the row number
 * Excel shows.  Rows whose cells are all empty are skipped, and so are the
 * template's unused rows (nothing but report_id, revision and county_code
 * filled in).  Cells: shared and inline strings, numbers (integral ones
 * written without a fraction), booleans (true/false), and in a date column
 * (occurred_on, ended_on) serial numbers in the workbook's date system
 * (1900, or 1904 when the workbook says so) or ISO dates.
 *
 * The zip is read with libzip and the XML with expat, from memory.  A
 * hostile file is bounded by pufa_xlsx_limits, and a DTD (hence every
 * entity declaration, internal or external) is refused. */
#ifndef PUFA_REPORT_XLSX_H
#define PUFA_REPORT_XLSX_H

#include <stdbool.h>
#include <stddef.h>

#include "report_csv.h"

typedef struct pufa_xlsx_limits {
    size_t max_part;    /* uncompressed bytes of one part (an XML file in the zip) */
    size_t max_total;   /* uncompressed bytes of all the parts read */
    size_t max_rows;    /* <row> elements in the sheet, empty ones included */
    size_t max_cells;   /* <c> elements in the sheet, empty ones included */
    size_t max_strings; /* shared strings */
    size_t max_cell;    /* bytes of one cell's text */
    size_t max_text;    /* bytes of cell text handed to the row mapping, in all */
    int max_depth;      /* XML element nesting */
} pufa_xlsx_limits;

/* 64 MiB a part, 160 MiB in all, 100,000 rows, 2,000,000 cells,
 * 1,000,000 shared strings, 131,068 bytes a cell (Excel's 32,767
 * characters), 256 MiB of text, depth 64. */
extern const pufa_xlsx_limits pufa_xlsx_default_limits;

/* Whether buf starts like a zip archive ("PK\3\4"). */
bool pufa_xlsx_sniff(const char *buf, size_t len);

/* Reads the workbook in buf[0..len) and calls fn once per data row (as
 * pufa_csv_each_report does).  lim NULL means the defaults.  Returns 0, or
 * PUFA_EPARSE when the file as a whole cannot be read (not a zip, damaged,
 * no sheet, bad XML, a bad header) or PUFA_ETOOBIG when it passes a limit:
 * err names the part and says why.  Rows before such an error may have
 * been handed to fn. */
int pufa_xlsx_each_report(const char *buf, size_t len, const pufa_xlsx_limits *lim,
                          pufa_csv_row_fn fn, void *ctx, char *err, size_t errsize);

#endif
