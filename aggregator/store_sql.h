/* The aggregator's SQL, all parameterised: arrays go in as parameters and
 * are unnested, one statement per table per transaction. */
#ifndef AGG_STORE_SQL_H
#define AGG_STORE_SQL_H

#include <libpq-fe.h>
#include <stddef.h>

/* The report columns, in the order of the arrays built by store.c. */
#define REPORT_COLS                                                                  \
    "report_id, revision, retracted, county_code, township, unit_code, unit_name,"   \
    " occurred_on, ended_on, theme, venue, form, campaign, title, sessions,"         \
    " participants, materials, consultations, banners, led_messages, online_posts,"  \
    " online_views, volunteers, funds_fen, received_at, collector_id"

#define REPORT_ARRAYS                                                                      \
    "$1::uuid[], $2::int4[], $3::bool[], $4::text[], $5::text[], $6::text[],"               \
    " $7::text[], $8::date[], $9::date[], $10::int2[], $11::int2[], $12::int2[],"          \
    " $13::text[], $14::text[], $15::int8[], $16::int8[], $17::int8[], $18::int8[],"       \
    " $19::int8[], $20::int8[], $21::int8[], $22::int8[], $23::int8[], $24::int8[],"       \
    " $25::int8[], $26::text[]"

#define REPORT_ALIAS                                                                       \
    "report_id, revision, retracted, county_code, township, unit_code, unit_name,"         \
    " occurred_on, ended_on, theme, venue, form, campaign, title, sessions, participants," \
    " materials, consultations, banners, led_messages, online_posts, online_views,"        \
    " volunteers, funds_fen, received_ms, collector_id"

#define REPORT_SELECT_U                                                                    \
    "SELECT u.report_id, u.revision, u.retracted, u.county_code, u.township, u.unit_code,"  \
    " u.unit_name, u.occurred_on, u.ended_on, u.theme, u.venue, u.form, u.campaign,"       \
    " u.title, u.sessions, u.participants, u.materials, u.consultations, u.banners,"       \
    " u.led_messages, u.online_posts, u.online_views, u.volunteers, u.funds_fen,"          \
    " CASE WHEN u.received_ms > 0 THEN to_timestamp(u.received_ms / 1000.0) END,"          \
    " u.collector_id"

#define NREPORT_PARAMS 26

/* The stored row of each given id, locked for this transaction. */
#define SQL_REPORTS_LOCK                                                                  \
    "SELECT report_id::text, revision, retracted, county_code, township, unit_code,"      \
    " unit_name, occurred_on::text, coalesce(ended_on::text, ''), theme, venue, form,"    \
    " campaign, title, sessions, participants, materials, consultations, banners,"        \
    " led_messages, online_posts, online_views, volunteers, funds_fen,"                   \
    " coalesce((extract(epoch FROM received_at) * 1000)::int8, 0), collector_id"           \
    " FROM reports WHERE report_id = ANY($1::uuid[]) FOR UPDATE"

#define SQL_REPORTS_UPSERT                                                                 \
    "INSERT INTO reports (" REPORT_COLS ") " REPORT_SELECT_U " FROM unnest(" REPORT_ARRAYS    \
    ") AS u(" REPORT_ALIAS ")"                                                              \
    " ON CONFLICT (report_id) DO UPDATE SET revision = EXCLUDED.revision,"                  \
    " retracted = EXCLUDED.retracted, county_code = EXCLUDED.county_code,"                  \
    " township = EXCLUDED.township, unit_code = EXCLUDED.unit_code,"                        \
    " unit_name = EXCLUDED.unit_name, occurred_on = EXCLUDED.occurred_on,"                  \
    " ended_on = EXCLUDED.ended_on, theme = EXCLUDED.theme, venue = EXCLUDED.venue,"        \
    " form = EXCLUDED.form, campaign = EXCLUDED.campaign, title = EXCLUDED.title,"          \
    " sessions = EXCLUDED.sessions, participants = EXCLUDED.participants,"                  \
    " materials = EXCLUDED.materials, consultations = EXCLUDED.consultations,"              \
    " banners = EXCLUDED.banners, led_messages = EXCLUDED.led_messages,"                    \
    " online_posts = EXCLUDED.online_posts, online_views = EXCLUDED.online_views,"          \
    " volunteers = EXCLUDED.volunteers, funds_fen = EXCLUDED.funds_fen,"                    \
    " received_at = EXCLUDED.received_at, collector_id = EXCLUDED.collector_id,"            \
    " committed_at = now()"

/* Superseded revisions; $27 is superseded_by. */
#define SQL_HISTORY_INSERT                                                                 \
    "INSERT INTO report_history (" REPORT_COLS ", superseded_by) " REPORT_SELECT_U          \
    ", u.superseded_by FROM unnest(" REPORT_ARRAYS ", $27::int4[]) AS u(" REPORT_ALIAS      \
    ", superseded_by)"

/* The figure columns of the rollup tables, in ROLLUP_NFIG order. */
#define ROLLUP_FIG_COLS                                                                    \
    "reports, sessions, participants, materials, consultations, banners, led_messages,"   \
    " online_posts, online_views, volunteers, funds_fen"

#define SQL_JOURNAL_COPY                                                                   \
    "COPY rollup_journal (seq, day, county_code, theme, venue, form, unit_code, campaign, " \
    ROLLUP_FIG_COLS ") FROM STDIN (FORMAT binary)"

#define SQL_RECEIPT_UPSERT                                                                 \
    "INSERT INTO receipt_daily (day, county_code, unit_code, reports, last_received_at)"   \
    " SELECT d, c, u, n, to_timestamp(ms / 1000.0) FROM unnest($1::date[], $2::text[],"    \
    " $3::text[], $4::int8[], $5::int8[]) AS x(d, c, u, n, ms)"                             \
    " ON CONFLICT (day, county_code, unit_code) DO UPDATE"                                 \
    " SET reports = receipt_daily.reports + EXCLUDED.reports,"                             \
    " last_received_at = greatest(receipt_daily.last_received_at,"                         \
    "  EXCLUDED.last_received_at)"

#define SQL_FEED_NEXT \
    "UPDATE feed_state SET seq = seq + 1, updated_at = now() RETURNING seq"

/* Result classification: 0 when PQresultStatus(r) == want; PUFA_EDB for a
 * data error that one report can cause (SQLSTATE classes 22 and 23: the
 * caller splits the batch to find it); PUFA_EDBDOWN for everything else
 * (connection lost, server shutting down, serialization, ...: retry the
 * whole transaction later).  err gets "what: message". */
int store_check(PGconn *conn, PGresult *r, ExecStatusType want, const char *what, char *err,
                size_t errsize);

#endif
