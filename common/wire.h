/* Every message of proto/pufa.proto, encoded and decoded here and nowhere
 * else: one encode/decode pair per message.  Decoding frames from the
 * network is safe: the size is capped before protobuf-c sees the bytes, and
 * every report's strings and enums are checked afterwards by
 * pufa_report_validate().
 *
 *   ActivityReport  pufa_report_encode / pufa_report_decode
 *   ReportBatch     pufa_batch_begin + pufa_batch_add / pufa_batch_decode
 *   BatchAck        pufa_ack_encode / pufa_ack_decode
 *   CommitDelta     pufa_delta_encode / pufa_delta_decode (also the feed's
 *                   heartbeat: a CommitDelta without cells)
 *   Dashboard       pufa_dashboard_encode / pufa_dashboard_decode
 *
 * Buffers returned by the encoders are the caller's to free(). */
#ifndef PUFA_WIRE_H
#define PUFA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "date.h"
#include "pufa.pb-c.h"
#include "report.h"

/* Largest ReportBatch frame accepted (also the aggregator's ZMQ_MAXMSGSIZE). */
#define PUFA_MAX_FRAME_BYTES (4u * 1024u * 1024u)
/* Largest number of reports in one batch. */
#define PUFA_MAX_BATCH_REPORTS 4096u
/* Largest feed message (CommitDelta) or Dashboard accepted. */
#define PUFA_MAX_FEED_BYTES (64u * 1024u * 1024u)

/* ---- ActivityReport ---- */

/* Fills msg (initialised by the caller with PUFA__ACTIVITY_REPORT__INIT)
 * with pointers INTO r: r must outlive msg, and msg owns nothing. */
void pufa_report_to_pb(const pufa_report *r, Pufa__ActivityReport *msg);
/* Copies a decoded message into r (initialised by the caller). */
void pufa_report_from_pb(const Pufa__ActivityReport *msg, pufa_report *r);

/* Encodes one report into a new buffer (caller frees). */
uint8_t *pufa_report_encode(const pufa_report *r, size_t *len);
/* Decodes one report; 0, PUFA_ETOOBIG or PUFA_EPARSE. */
int pufa_report_decode(const uint8_t *buf, size_t len, pufa_report *r);
/* The id and revision of an encoded report, without copying the rest:
 * 0, or PUFA_EPARSE (then id is "" and *revision 0).  id gets at most
 * idsize - 1 bytes. */
int pufa_report_peek(const uint8_t *buf, size_t len, char *id, size_t idsize, uint32_t *revision,
                     int64_t *received_at_ms);

/* ---- ReportBatch ---- */

/* Where a sender stands (ReportBatch fields 5-8): set what is known. */
typedef struct pufa_batch_link {
    bool has_as_of;            /* a forwarder: as_of_seq and as_of_ms are set */
    uint64_t as_of_seq;        /* its commit sequence sent so far */
    int64_t as_of_ms;          /* that commit's time, Unix ms */
    bool has_pending;          /* pending (and oldest_pending_ms) are set */
    uint64_t pending;          /* reports still waiting at the sender */
    int64_t oldest_pending_ms; /* when the oldest was received; 0: none */
} pufa_batch_link;

/* Starts a ReportBatch frame in frame (reset first) with its header. */
void pufa_batch_begin(pufa_buf *frame, const char *collector_id, uint64_t batch_seq,
                      int64_t sent_at_ms);
/* The same with the sender's link fields (link may be NULL).  A frame to
 * which no report is added is a heartbeat. */
void pufa_batch_begin_link(pufa_buf *frame, const char *collector_id, uint64_t batch_seq,
                           int64_t sent_at_ms, const pufa_batch_link *link);
/* Appends one already encoded ActivityReport (pufa_report_encode's bytes,
 * as the spool keeps them) to the frame. */
void pufa_batch_add(pufa_buf *frame, const uint8_t *report, size_t len);
/* Appends one period's state (ReportBatch field 9, a forwarding aggregator
 * only) to the frame; see pufa_period below. */
struct pufa_period;
void pufa_batch_add_period(pufa_buf *frame, const struct pufa_period *p);
/* Decodes a ReportBatch frame: PUFA_ETOOBIG over the cap or with too many
 * reports, PUFA_EPARSE when undecodable.  Free with pufa_batch_destroy. */
int pufa_batch_decode(const uint8_t *buf, size_t len, Pufa__ReportBatch **out);
void pufa_batch_destroy(Pufa__ReportBatch **b);

/* ---- BatchAck ---- */

/* One report's outcome; status is a Pufa__ReportStatus, reason NULL unless
 * rejected.  Strings are borrowed. */
typedef struct pufa_ack_result {
    const char *report_id;
    uint32_t revision;
    int status;
    const char *reason;
} pufa_ack_result;

/* Encodes the ack of batch batch_seq with results[0..n), or, with error set,
 * the refusal of a whole frame (then results are ignored). */
uint8_t *pufa_ack_encode(uint64_t batch_seq, const pufa_ack_result *results, size_t n,
                         const char *error, size_t *len);
/* 0, PUFA_ETOOBIG or PUFA_EPARSE.  Free with pufa_ack_destroy. */
int pufa_ack_decode(const uint8_t *buf, size_t len, Pufa__BatchAck **out);
void pufa_ack_destroy(Pufa__BatchAck **a);

/* ---- CommitDelta ---- */

/* The change to one day x county x theme x venue x form x unit x campaign
 * x township cell (a RollupDelta).  Strings are borrowed from whoever
 * filled it; township is normalised (common/township.h). */
typedef struct pufa_cell {
    pufa_day day;
    const char *county;
    int16_t theme, venue, form;
    const char *unit_code;
    const char *campaign;
    const char *township;
    int64_t fig[PUFA_NFIGURES];
} pufa_cell;

/* Reports received per received-day x county x unit x activity month (a
 * Receipt). */
typedef struct pufa_receipt {
    pufa_day day;
    const char *county;
    const char *unit_code;
    int64_t reports;
    int month;        /* activity month: year * 12 + month - 1; 0 = not known */
    int64_t first_ms; /* not on the wire */
    int64_t last_ms;  /* not on the wire */
} pufa_receipt;

/* A month "YYYY-MM" (2000..9999) as year * 12 + month - 1 (0 for anything
 * else), and back into out[8] ("" for 0). */
int pufa_month_parse(const char *s);
void pufa_month_format(int month, char out[8]);

/* The approval state of one period (a PeriodState): org unit x month.
 * Strings are borrowed from whoever filled it. */
typedef enum pufa_period_state {
    PUFA_PERIOD_UNSPECIFIED = 0,
    PUFA_PERIOD_OPEN = 1,
    PUFA_PERIOD_SUBMITTED = 2,
    PUFA_PERIOD_APPROVED = 3,
    PUFA_PERIOD_ACCEPTED = 4,
} pufa_period_state;

typedef struct pufa_period {
    const char *org_code;
    int year, month; /* month 1..12 */
    pufa_period_state state;
    const char *set_by;
    const char *set_by_org;
    int64_t set_at_ms;
    const char *reason;
    bool exception_open;
} pufa_period;

/* "open", "submitted", "approved", "accepted" (the periods table's words);
 * NULL for anything else.  pufa_period_state_parse returns
 * PUFA_PERIOD_UNSPECIFIED for an unknown word. */
const char *pufa_period_state_name(pufa_period_state s);
pufa_period_state pufa_period_state_parse(const char *word);

/* Fills p from a decoded PeriodState (strings borrowed from msg); -1 when
 * org_code, month ("YYYY-MM", 2000..9999) or state is missing or invalid. */
int pufa_period_from_pb(const Pufa__PeriodState *msg, pufa_period *p);

/* A CommitDelta.  Decoded ones own their arrays and (through msg) the
 * strings they point to: free with pufa_delta_free. */
typedef struct pufa_delta {
    uint64_t seq;
    int64_t committed_at_ms;
    pufa_cell *cells;
    size_t n_cells;
    pufa_receipt *receipts;
    size_t n_receipts;
    pufa_period *periods; /* approval states written by this commit */
    size_t n_periods;
    size_t skipped; /* decoded cells/receipts/periods without a valid day, county or period */
    Pufa__CommitDelta *msg; /* decoded only */
} pufa_delta;

/* Encodes d (n_cells = n_receipts = n_periods = 0 for a heartbeat). */
uint8_t *pufa_delta_encode(const pufa_delta *d, size_t *len);
/* 0, PUFA_ETOOBIG, or PUFA_EPARSE (also when seq is absent).  Cells and
 * receipts whose day or county is missing or unparseable (or a receipt's
 * month, when given) are left out and counted in skipped. */
int pufa_delta_decode(const uint8_t *buf, size_t len, pufa_delta *out);
void pufa_delta_free(pufa_delta *d);

/* ---- Dashboard ---- */

/* The breakdowns of a DashboardWindow, in field order. */
typedef enum pufa_dash_by {
    PUFA_BY_COUNTY = 0,
    PUFA_BY_THEME,
    PUFA_BY_VENUE,
    PUFA_BY_FORM,
    PUFA_BY_UNIT,
    PUFA_BY_CAMPAIGN,
    PUFA_NBY
} pufa_dash_by;

typedef struct pufa_dash_row {
    const char *key, *label;
    int64_t fig[PUFA_NFIGURES];
} pufa_dash_row;

/* One window: its name ("today", "7d", ...), first and last day, the
 * totals and the breakdowns (by[k][0..n_by[k]), none for an empty n_by). */
typedef struct pufa_dash_window {
    const char *window;
    pufa_day from, to;
    bool has_totals;
    int64_t totals[PUFA_NFIGURES];
    const pufa_dash_row *by[PUFA_NBY];
    size_t n_by[PUFA_NBY];
} pufa_dash_window;

typedef struct pufa_dashboard {
    const char *scope; /* "city" or a county code */
    uint64_t seq;
    int64_t generated_at_ms;
    const pufa_dash_window *windows;
    size_t n_windows;
} pufa_dashboard;

uint8_t *pufa_dashboard_encode(const pufa_dashboard *d, size_t *len);
/* 0, PUFA_ETOOBIG or PUFA_EPARSE.  Free with pufa_dashboard_destroy. */
int pufa_dashboard_decode(const uint8_t *buf, size_t len, Pufa__Dashboard **out);
void pufa_dashboard_destroy(Pufa__Dashboard **d);

/* Figures <-> the figure array (PUFA_NFIGURES, report.h order).  all: mark
 * every field present (else only the non-zero ones). */
void pufa_figures_to_pb(const int64_t fig[PUFA_NFIGURES], bool all, Pufa__Figures *g);
void pufa_figures_from_pb(const Pufa__Figures *g, int64_t fig[PUFA_NFIGURES]);

#endif
