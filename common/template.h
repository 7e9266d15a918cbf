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

#include <stdbool.h>
#include <stddef.h>

#include "alloc.h"

typedef struct pufa_template_opts {
    const char *county_code; /* pre-filled; NULL or "" = left to the office */
    const char *county_name; /* shown in the instructions; may be NULL */
    const char *units_csv;   /* responsible units (unit_code,unit_name,...); NULL = none */
    int rows;                /* pre-filled rows, 1 … 5000 */
} pufa_template_opts;

/* Responsible units from a CSV with a header (unit_code,unit_name,…). */
#define PUFA_MAX_UNITS 500
typedef struct pufa_units {
    char *code[PUFA_MAX_UNITS], *name[PUFA_MAX_UNITS];
    int n;
    int field;      /* parsing: field in the current record */
    size_t records; /* parsing: records seen */
    bool too_many;
} pufa_units;
/* path NULL or "" gives no units.  0, or PUFA_EIO / PUFA_EPARSE with err;
 * free with pufa_units_free either way. */
int pufa_units_load(const char *path, pufa_units *u, char *err, size_t errsize);
void pufa_units_free(pufa_units *u);

/* Campaign names offered as suggestions (宪法宣传周, …); static. */
const char *const *pufa_template_campaigns(size_t *n);

/* Writes the template into out.  Returns 0, or PUFA_EIO / PUFA_EPARSE (the
 * units file) with err saying why. */
int pufa_template_xlsx(const pufa_template_opts *o, pufa_buf *out, char *err, size_t errsize);

#endif
