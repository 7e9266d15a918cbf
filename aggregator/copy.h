/* Binary COPY of report rows into the reports table: the fast path for
 * reports that are new (the transaction holds the stored rows locked and
 * the aggregator is the only writer, so "not stored" means "insert").  The
 * benchmark's raw-COPY baseline uses the same encoder. */
#ifndef AGG_COPY_H
#define AGG_COPY_H

#include <libpq-fe.h>
#include <stddef.h>

#include "alloc.h"
#include "report.h"

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

/* COPY reports (COPY_COLUMNS) FROM STDIN (FORMAT binary) with buf's rows.
 * 0, or an error classified like store_check (PUFA_EDB for a data error). */
int copy_reports(PGconn *conn, const pufa_buf *buf, char *err, size_t errsize);

#endif
