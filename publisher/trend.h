/* The rows of a trend (/v1/totals?by=day|week|month), written straight as
 * JSON text: one row per period of the window, zero-filled, in order, each
 * clipped to the window, with its base when compared.  The same members,
 * order and values jansson would print for
 *   {"key","label","from","to","figures":{...},
 *    "compare":{"base":{...},"change":{...},"pct":{...},"from","to"}}
 * but no object tree per cell: a 366-day trend with its year-earlier base
 * is about 330 KB of text, and building it as jansson objects cost ten
 * times the model's sums.  pct is the per cent of the base to one decimal
 * (null where the base is 0), written as its shortest decimal ("12.3"),
 * which parses to the same double as jansson's "12.300000000000001". */
#ifndef PUB_TREND_H
#define PUB_TREND_H

#include <stdint.h>

#include "alloc.h"
#include "model.h"
#include "windows.h"

/* Appends the JSON array of the trend rows of win by period p to out,
 * counting the counties of scope s; cmp: the base of each row (none, prev:
 * the preceding period of the same kind, yoy: a year earlier).  The model
 * is read-locked by the caller.  approved: official county-months only
 * (pub_sum_status).  Cost: days x counties. */
void pub_trend_rows(pufa_buf *out, const pub_model *m, const pub_window *win, pub_period p,
                    const pub_scope *s, pub_compare cmp, bool approved);

/* Appends the JSON array of a breakdown's rows (/v1/totals?by=county,
 * theme, ...): rows (the window's, n) ranked by figure rank (largest
 * first, ties by value: pub_rows_rank), each as jansson printed
 *   {"rank","key","label","figures":{...},
 *    "compare":{"base","change","pct","from","to"}}
 * with the same writers as the trend rows.  base (nb rows, over bf..bt):
 * the comparison's rows, or NULL for none; a value only in the base joins
 * with zero figures.  A nation's by=county has 2,975 rows: as a jansson
 * tree, and joined rows x base rows, most of its answer's cost.  Cost:
 * the rows, and the values' index. */
void pub_breakdown_rows(pufa_buf *out, const pub_model *m, pub_dim dim, int rank,
                        const pub_row *rows, size_t n, const pub_row *base, size_t nb, pufa_day bf,
                        pufa_day bt);

/* Appends s as a JSON string (escaped as jansson does with
 * JSON_ESCAPE_SLASH), and v as a JSON integer. */
void pub_json_str(pufa_buf *out, const char *s);
void pub_json_int(pufa_buf *out, int64_t v);

#endif
