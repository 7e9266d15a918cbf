/* Binary COPY: report rows into the reports table (the fast path for
 * reports that are new: the transaction holds the stored rows locked and
 * the aggregator is the only writer, so "not stored" means "insert"), and
 * the field encoders rollup.c uses for the rollup journal.  The
 * benchmark's raw-COPY baseline uses the same encoder. */
#ifndef AGG_COPY_H
#define AGG_COPY_H

#include <libpq-fe.h>
#include <stddef.h>

#include <stdint.h>

#include "alloc.h"
#include "date.h"
#include "report.h"

/* The pieces of a binary COPY row: copy_tuple(ncolumns), then one field
 * each. */
void copy_tuple(pufa_buf *buf, int ncolumns);
void copy_text(pufa_buf *buf, const char *s); /* NULL = "" */
void copy_int2(pufa_buf *buf, int v);
void copy_int4(pufa_buf *buf, int32_t v);
void copy_int8(pufa_buf *buf, int64_t v);
void copy_date(pufa_buf *buf, pufa_day day);
void copy_null(pufa_buf *buf);

/* Appends one row (26 columns, see COPY_COLUMNS) to buf; collector may be
 * NULL.  The first row of a COPY needs copy_begin(buf) before it. */
void copy_begin(pufa_buf *buf);
void copy_row(pufa_buf *buf, const pufa_report *r, const char *collector);
void copy_end(pufa_buf *buf);

#define COPY_COLUMNS                                                                   \
    "report_id, revision, retracted, county_code, township, unit_code, unit_name,"     \
    " occurred_on, ended_on, theme, venue, form, campaign, title, sessions,"           \
    " participants, materials, consultations, banners, led_messages, online_posts,"    \
    " online_views, volunteers, funds_fen, received_at, collector_id"

/* Runs copy_sql (a COPY ... FROM STDIN (FORMAT binary)) with buf's rows;
 * what names it in errors.  0, or an error classified like store_check. */
int copy_in(PGconn *conn, const char *copy_sql, const pufa_buf *buf, const char *what,
            char *err, size_t errsize);

/* COPY reports (COPY_COLUMNS) FROM STDIN (FORMAT binary) with buf's rows.
 * 0, or an error classified like store_check (PUFA_EDB for a data error). */
int copy_reports(PGconn *conn, const pufa_buf *buf, char *err, size_t errsize);

#endif
