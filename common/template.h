/* The report template: an .xlsx an office fills in and sends back (the
 * drop folder, POST /v1/reports, pufa submit).  Written with libxlsxwriter:
 *   - sheet 1 "活动填报": the Chinese column titles (required ones marked
 *     with *), frozen, with widths and formats; `rows` rows pre-filled with
 *     a fresh report id (UUIDv7), revision 1 and the county's code (rows
 *     left like that are skipped on reading, report_xlsx.h); drop-down
 *     lists for theme, venue, form, responsible unit (code and name) and
 *     campaign; date, whole-number and length checks with the rule shown as
 *     the cell's input message;
 *   - sheet 2 "填写说明": instructions, every column and its rule, the
 *     units' codes;
 *   - a hidden sheet "lists" the drop-downs read from.
 * The reader accepts the titles (report_csv.h), so a filled template is
 * read like a CSV with the field names. */
#ifndef PUFA_TEMPLATE_H
#define PUFA_TEMPLATE_H

#include <stddef.h>

#include "alloc.h"

typedef struct pufa_template_opts {
    const char *county_code; /* pre-filled; NULL or "" = left to the office */
    const char *county_name; /* shown in the instructions; may be NULL */
    const char *units_csv;   /* responsible units (unit_code,unit_name,...); NULL = none */
    int rows;                /* pre-filled rows, 1 … 5000 */
} pufa_template_opts;

/* Writes the template into out.  Returns 0, or PUFA_EIO / PUFA_EPARSE (the
 * units file) with err saying why. */
int pufa_template_xlsx(const pufa_template_opts *o, pufa_buf *out, char *err, size_t errsize);

#endif
