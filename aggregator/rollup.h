/* Rollup deltas: the change a transaction makes to each
 * day x county x theme x venue x form x unit x campaign cell, folded so that
 * each cell is written once per transaction however many reports touch it,
 * and receipts per received-day x county x unit. */
#ifndef AGG_ROLLUP_H
#define AGG_ROLLUP_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "date.h"
#include "pufa.pb-c.h"
#include "report.h"

/* reports count + the counters */
#define ROLLUP_NFIG (1 + PUFA_NCOUNTERS)

typedef struct rollup_cell {
    pufa_day day;
    char county[7];
    int16_t theme, venue, form;
    const char *unit_code; /* borrowed from the report it came from */
    const char *campaign;  /* borrowed */
    int64_t fig[ROLLUP_NFIG];
} rollup_cell;

typedef struct receipt_cell {
    pufa_day day;
    char county[7];
    const char *unit_code; /* borrowed */
    int64_t reports;
    int64_t last_ms;
} receipt_cell;

typedef struct rollup_set {
    rollup_cell *cells;
    size_t n, cap;
    receipt_cell *receipts;
    size_t nr, rcap;
} rollup_set;

void rollup_set_init(rollup_set *s);
void rollup_set_free(rollup_set *s);
void rollup_set_reset(rollup_set *s);
/* Adds sign * (1 report + its counters) at the report's cell. */
void rollup_add_report(rollup_set *s, const pufa_report *r, int sign);
void rollup_add_receipt(rollup_set *s, const pufa_report *r, int64_t received_ms);
/* Sorts and merges equal cells, dropping cells whose change is all zero. */
void rollup_fold(rollup_set *s);

/* Writes the folded cells: appends them to rollup_journal under feed
 * sequence number seq (binary COPY through copybuf), and upserts the
 * receipts.  0, or an error classified like store_check. */
int rollup_store(PGconn *conn, const rollup_set *s, uint64_t seq, pufa_buf *copybuf, char *err,
                 size_t errsize);

/* Encodes the folded set as a CommitDelta with sequence number seq.  Caller
 * frees *out. */
void rollup_encode_delta(const rollup_set *s, uint64_t seq, int64_t committed_ms, uint8_t **out,
                         size_t *len);

#endif
