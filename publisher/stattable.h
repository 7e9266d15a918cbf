/* The printable statistics table (统计表) an office files with its report to
 * the people's congress and the level above: titled with the unit's name
 * and the period (巴彦淖尔市普法工作统计表（2026年1—10月）), one row per child
 * of the unit (a city's counties, a county's townships) and a 合计 row, the
 * figures with their Chinese names and units, 同比 of sessions and
 * participants, the generation time.  Rendered as a print-ready HTML page
 * (A4 landscape) and as XLSX (merged title row, unit row, thousands
 * separators, 元 with two decimals from fen, totals row, strings never
 * formulas).  Figures from the model: cost days x counties. */
#ifndef PUB_STATTABLE_H
#define PUB_STATTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "model.h"
#include "orgunits.h"
#include "windows.h"

typedef struct stat_row {
    char *key, *label;
    int64_t fig[NFIG], base[NFIG]; /* the window and the same dates a year earlier */
} stat_row;

typedef struct stat_table {
    char *unit_name; /* e.g. 巴彦淖尔市 */
    char *period;    /* e.g. 2026年1—10月 */
    char *title;     /* e.g. 巴彦淖尔市普法工作统计表（2026年1—10月） */
    const char *row_head;
    pub_window win;
    pufa_day base_from, base_to;
    stat_row *rows;
    size_t n;
    int64_t tot[NFIG], base[NFIG];
    int64_t generated_ms;
} stat_table;

/* The period of [from, to] in Chinese: "2026年10月", "2026年1—10月",
 * "2026年1月1日—11月27日", "2025年12月25日—2026年1月5日". */
void stat_period(pufa_day from, pufa_day to, char *out, size_t size);

/* Builds the table of win for org (a county: its townships; any other unit
 * of ou: its children; NULL: ou's single city, else its root).  The model
 * is read-locked inside.  Free with stat_table_free. */
void stat_table_build(stat_table *t, pub_model *m, const pufa_orgunits *ou, const char *org,
                      const pub_window *win);
void stat_table_free(stat_table *t);

/* The print page (HTML, every text escaped) appended to out. */
void stat_table_html(const stat_table *t, const char *query, pufa_buf *out);
/* The XLSX appended to out; 0 or PUFA_EIO with err set. */
int stat_table_xlsx(const stat_table *t, pufa_buf *out, char *err, size_t errsize);

#endif
