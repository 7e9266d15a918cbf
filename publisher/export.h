/* Exports for the city office's reports to the people's congress.
 * CSV: UTF-8 with a BOM, CRLF line ends, and every text cell that starts
 * with = + - @ (or TAB/CR) guarded with a leading ' so Excel shows it as
 * text.  XLSX (libxlsxwriter): Chinese headers, frozen header row, values
 * written as strings and numbers, never formulas.  Totals come from the
 * model; the report list (detail=reports) from PostgreSQL.  Rows of one
 * county (by=county, the report list) end with 审核状态, the approval state
 * of the county-month (over several months: how many are approved). */
#ifndef PUB_EXPORT_H
#define PUB_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "model.h"
#include "windows.h"

typedef struct export_request {
    const pub_window *window;
    pub_dim dim;
    const pub_scope *scope; /* the counties counted (NULL: the home's) */
    const char *unit_name;  /* the scope's name, for the title ("" : none) */
    int rank;
    bool detail;    /* the report list instead of totals */
    const char *db; /* conninfo for the report list */
    int64_t limit;  /* reports at most */
    /* status=approved: the official export, approved (or accepted)
     * county-months only, and the title row says so (approved.h). */
    bool approved;
} export_request;

int export_csv(pub_model *m, const export_request *r, pufa_buf *out, char *err, size_t errsize);
int export_xlsx(pub_model *m, const export_request *r, pufa_buf *out, char *err, size_t errsize);

#endif
