/* The aggregator's SQL text, all parameterised: arrays go in as parameters
 * and are unnested, one statement per table per transaction.  The counter
 * columns come from PUFA_COUNTER_MAP (common/report.h).  Statements marked
 * "format" carry one %s for the numbered array parameters, which the
 * preprocessor cannot count: store.c fills it in once (REPORT_ARRAY_TYPES). */
#ifndef AGG_STORE_SQL_H
#define AGG_STORE_SQL_H

#include "report.h"

/* The report columns, in the order of the arrays built by store.c. */
#define REPORT_COLS                                                                                \
    "report_id, revision, retracted, county_code, township, unit_code, unit_name,"                 \
    " occurred_on, ended_on, theme, venue, form, campaign, title" PUFA_COUNTER_COLS                \
    ", received_at, collector_id"

/* The element type of each array parameter, in REPORT_COLS order. */
#define REPORT_INT8_(up, low, label, max) "int8",
#define REPORT_ARRAY_TYPES                                                                         \
    "uuid", "int4", "bool", "text", "text", "text", "text", "date", "date", "int2", "int2",        \
        "int2", "text", "text", PUFA_COUNTER_MAP(REPORT_INT8_) "int8", "text"
#define NREPORT_PARAMS (16 + PUFA_NCOUNTERS)

/* The unnest aliases (received_at arrives as Unix milliseconds). */
#define REPORT_ALIAS                                                                               \
    "report_id, revision, retracted, county_code, township, unit_code, unit_name,"                 \
    " occurred_on, ended_on, theme, venue, form, campaign, title" PUFA_COUNTER_COLS                \
    ", received_ms, collector_id"

#define REPORT_U_(up, low, label, max) ", u." #low
#define REPORT_SELECT_U                                                                            \
    "SELECT u.report_id, u.revision, u.retracted, u.county_code, u.township, u.unit_code,"         \
    " u.unit_name, u.occurred_on, u.ended_on, u.theme, u.venue, u.form, u.campaign,"               \
    " u.title" PUFA_COUNTER_MAP(                                                                   \
        REPORT_U_) ", CASE WHEN u.received_ms > 0 THEN to_timestamp(u.received_ms / 1000.0) END,"  \
                   " u.collector_id"

/* A stored report as text columns in REPORT_COLS order (store_parse_row
 * reads them back). */
#define REPORT_SELECT_TEXT                                                                         \
    "SELECT report_id::text, revision, retracted, county_code, township, unit_code,"               \
    " unit_name, occurred_on::text, coalesce(ended_on::text, ''), theme, venue, form,"             \
    " campaign, title" PUFA_COUNTER_COLS                                                           \
    ", coalesce((extract(epoch FROM received_at) * 1000)::int8, 0), collector_id"

/* The stored row of each given id, locked for this transaction. */
#define SQL_REPORTS_LOCK                                                                           \
    REPORT_SELECT_TEXT " FROM reports WHERE report_id = ANY($1::uuid[]) FOR UPDATE"
/* Where the counters start in SQL_REPORTS_LOCK's columns and the arrays. */
#define REPORT_COL_COUNTER0 14

#define REPORT_EXCLUDED_(up, low, label, max) " " #low " = EXCLUDED." #low ","
/* format: %s = the commit sequence parameter, then %s = the arrays $1 ..
 * $NREPORT_PARAMS.  commit_seq: the feed sequence of this commit (the
 * forwarder's outbox order, common/sql/005_federation.sql). */
#define SQL_REPORTS_UPSERT_FMT                                                                     \
    "INSERT INTO reports (" REPORT_COLS ", commit_seq) " REPORT_SELECT_U ", %s FROM unnest(%s)"    \
    " AS u(" REPORT_ALIAS ")"                                                                      \
    " ON CONFLICT (report_id) DO UPDATE SET revision = EXCLUDED.revision,"                         \
    " retracted = EXCLUDED.retracted, county_code = EXCLUDED.county_code,"                         \
    " township = EXCLUDED.township, unit_code = EXCLUDED.unit_code,"                               \
    " unit_name = EXCLUDED.unit_name, occurred_on = EXCLUDED.occurred_on,"                         \
    " ended_on = EXCLUDED.ended_on, theme = EXCLUDED.theme, venue = EXCLUDED.venue,"               \
    " form = EXCLUDED.form, campaign = EXCLUDED.campaign, title = "                                \
    "EXCLUDED.title," PUFA_COUNTER_MAP(REPORT_EXCLUDED_) " received_at = EXCLUDED.received_at, "   \
                                                         "collector_id = EXCLUDED.collector_id,"   \
                                                         " committed_at = now(),"                  \
                                                         " commit_seq = EXCLUDED.commit_seq"

/* Superseded revisions.  format: %s = the arrays $1 .. $NREPORT_PARAMS and
 * then superseded_by's. */
#define SQL_HISTORY_INSERT_FMT                                                                     \
    "INSERT INTO report_history (" REPORT_COLS ", superseded_by) " REPORT_SELECT_U                 \
    ", u.superseded_by FROM unnest(%s) AS u(" REPORT_ALIAS ", superseded_by)"

#define SQL_REPORTS_COPY "COPY reports (" REPORT_COLS ", commit_seq) FROM STDIN (FORMAT binary)"

#define SQL_JOURNAL_COPY                                                                           \
    "COPY rollup_journal (seq, day, county_code, theme, venue, form, unit_code, "                  \
    "campaign, township, " PUFA_FIGURE_COLS ") FROM STDIN (FORMAT binary)"

/* Receipts come one per day x county x unit x activity month: summed per
 * day x county x unit into receipt_daily; the earliest per county x unit x
 * month kept in receipt_first (009_receipt_first.sql). */
#define SQL_RECEIPT_UPSERT                                                                         \
    "WITH x AS (SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::int8[], $5::int8[],"  \
    "  $6::date[], $7::int8[]) AS x(d, c, u, n, ms, mo, fms)),"                                    \
    " daily AS (INSERT INTO receipt_daily (day, county_code, unit_code, reports,"                  \
    "  last_received_at)"                                                                          \
    "  SELECT d, c, u, sum(n)::int8, to_timestamp(max(ms) / 1000.0) FROM x GROUP BY d, c, u"       \
    "  ON CONFLICT (day, county_code, unit_code) DO UPDATE"                                        \
    "  SET reports = receipt_daily.reports + EXCLUDED.reports,"                                    \
    "  last_received_at = greatest(receipt_daily.last_received_at,"                                \
    "   EXCLUDED.last_received_at))"                                                               \
    " INSERT INTO receipt_first (county_code, unit_code, month, first_received_at)"                \
    " SELECT c, u, mo, to_timestamp(min(fms) / 1000.0) FROM x WHERE mo IS NOT NULL"                \
    " GROUP BY c, u, mo ON CONFLICT (county_code, unit_code, month) DO UPDATE"                     \
    " SET first_received_at = least(receipt_first.first_received_at,"                              \
    "  EXCLUDED.first_received_at)"

#define SQL_FEED_NEXT "UPDATE feed_state SET seq = seq + 1, updated_at = now() RETURNING seq"

#endif
