/* Rollup deltas: the change a transaction makes to each
 * day x county x theme x venue x form x unit x campaign cell, folded so that
 * each cell is written once per transaction however many reports touch it,
 * and receipts per received-day x county x unit.  Pure: no I/O; store.c
 * writes the folded set and common/wire encodes it. */
#ifndef AGG_ROLLUP_H
#define AGG_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"
#include "wire.h"

/* Cells and receipts borrow the strings of the reports they came from:
 * those must outlive the set's use (until the next reset).  A township
 * that normalising changed (common/township.h) is a copy the set owns. */
typedef struct rollup_set {
    pufa_cell *cells;
    size_t n, cap;
    pufa_receipt *receipts;
    size_t nr, rcap;
    char **owned; /* normalised townships, freed at reset */
    size_t nowned, owncap;
} rollup_set;

void rollup_set_init(rollup_set *s);
void rollup_set_free(rollup_set *s);
void rollup_set_reset(rollup_set *s);
/* Adds sign * (1 report + its counters) at the report's cell (its township
 * normalised). */
void rollup_add_report(rollup_set *s, const pufa_report *r, int sign);
/* Notes r received at received_ms: a receipt of its received day, county,
 * unit and activity month (the month of occurred_on; none for a
 * retraction). */
void rollup_add_receipt(rollup_set *s, const pufa_report *r, int64_t received_ms);
/* Sorts and merges equal cells, dropping cells whose change is all zero;
 * merges equal receipts (same day, county, unit and month: counts add up,
 * the earliest and the latest times are kept). */
void rollup_fold(rollup_set *s);
/* The folded set as the CommitDelta with sequence number seq: out points
 * into s (nothing to free; valid until s changes). */
void rollup_delta(const rollup_set *s, uint64_t seq, int64_t committed_ms, pufa_delta *out);

#endif
