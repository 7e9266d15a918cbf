/* The publisher's live totals: the figures per county and per county x
 * theme / venue / form / responsible unit / campaign / township, built from
 * the rollups and kept current by the aggregator's deltas.  Two tiers:
 * every calendar year (all dimensions), and every day - the county totals
 * for all days, the other dimensions from the horizon year on (before it,
 * per year only; a window that cuts an old year reads those days from
 * PostgreSQL through the cold callback).  A window query reads whole years
 * from the year tier and the other days from the day tier: its cost grows
 * with the days outside whole years x cells, never with the number of
 * reports.  Beside them, built from the day tier at a load and kept with
 * it: the county totals per month (whole months of a read by org unit),
 * and the per-day totals of all counties, the nation and each province (a
 * one-row read at those scopes costs days, not days x counties).  A city's
 * or a county's read searches its counties' cells in each bucket's sorted
 * cells.  Readers (HTTP threads) and the writer (the feed thread) share
 * it under a read-write lock. */
#ifndef PUB_MODEL_H
#define PUB_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "date.h"
#include "orgunits.h"
#include "periods.h"
#include "report.h"

/* The figures of a cell: the number of live reports, then the counters
 * (report.h: PUFA_FIG_REPORTS, PUFA_FIG(PUFA_C_SESSIONS), ...; their names
 * are pufa_figure_names). */
#define NFIG PUFA_NFIGURES

/* Index of a figure name ("reports", "sessions", ...); -1 if unknown. */
int pub_figure_parse(const char *name);

typedef enum pub_dim {
    DIM_TOTAL = 0, /* per county only */
    DIM_THEME,
    DIM_VENUE,
    DIM_FORM,
    DIM_UNIT,
    DIM_CAMPAIGN,
    DIM_TOWNSHIP, /* normalised name (common/township.h); "" = none given */
    NDIM,
    DIM_COUNTY = NDIM, /* breakdowns by org unit, served from DIM_TOTAL: */
    DIM_CITY,          /* a county's city and province, from the org units */
    DIM_PROVINCE,
    NBY, /* every breakdown */
} pub_dim;

extern const char *const pub_dim_names[NBY]; /* "none","theme",...,"county","city","province" */
/* Parses a "by" name; -1 if unknown ("none" gives DIM_TOTAL). */
int pub_dim_parse(const char *name);

typedef struct pub_row {
    uint32_t value; /* county index or dimension value */
    int64_t fig[NFIG];
} pub_row;

typedef struct pub_model pub_model;

/* Which counties a read counts: those under one org unit, or every county
 * (code "").  Reads given NULL count the home's.  level (0 nation, 1
 * province, 2 city, 3 county) and unit (the index in the model's org
 * units) are found by pub_model_scope and found again by a read when the
 * org units were replaced since (gen). */
typedef struct pub_scope {
    char code[7];
    int level;
    int32_t unit;
    uint64_t gen;
    /* When set: only the counties whose index i has only[i] != 0 (i <
     * n_only) count, on top of the unit (the approved county-months of
     * status=approved, approved.h). */
    const uint8_t *only;
    size_t n_only;
} pub_scope;

pub_model *pub_model_new(void);
void pub_model_destroy(pub_model **m);

void pub_model_wrlock(pub_model *m);
void pub_model_rdlock(pub_model *m);
void pub_model_unlock(pub_model *m);

/* ---- writes (wrlock held) ---- */
/* Forgets every figure and receipt (before a snapshot). */
void pub_model_clear(pub_model *m);
/* Adds fig to the cell (day, county, theme, venue, form, unit, campaign,
 * township: normalised, as the journal and the feed carry it).
 * PUFA_ETOOBIG, with nothing added, if a figure would leave int64. */
int pub_model_add(pub_model *m, pufa_day day, const char *county, int theme, int venue, int form,
                  const char *unit, const char *campaign, const char *township,
                  const int64_t fig[NFIG]);
/* Adds fig to one dimension's cell (day, county, key): the per-dimension
 * rollups (rollup_dim).  key: "" for DIM_TOTAL, the enumeration number for
 * theme/venue/form, the unit code, the campaign, the township.  -1 if dim
 * or key is not
 * one the model knows (nothing added). */
int pub_model_add_dim(pub_model *m, pufa_day day, const char *county, pub_dim dim, const char *key,
                      const int64_t fig[NFIG]);
/* Notes that county/unit had a report received on day (kept per day for
 * completeness, and as the last day per county and unit). */
void pub_model_receipt(pub_model *m, pufa_day day, const char *county, const char *unit);
void pub_model_set_seq(pub_model *m, uint64_t seq);
/* Names for labels. */
void pub_model_set_county_name(pub_model *m, const char *code, const char *name);
void pub_model_set_unit_name(pub_model *m, const char *code, const char *name);
/* The org units of every level (from the snapshot); the model takes ou
 * over and frees the ones it had.  Each county's ancestors are found once
 * here and when a county first appears, so that a read maps a county to
 * its city or province in O(1). */
void pub_model_set_orgunits(pub_model *m, pufa_orgunits *ou);
/* The home unit: reads count only the counties under it.  "" (the
 * default): every county counts.  A home the org units do not hold counts
 * none. */
void pub_model_set_home(pub_model *m, const char *code);

/* The approval states (periods.h), cleared with the figures by
 * pub_model_clear; written under wrlock, read under rdlock. */
pub_periods *pub_model_periods(pub_model *m);
const pub_periods *pub_model_periods_c(const pub_model *m);
/* The horizon: days of years before it keep the other dimensions than
 * total per year only (default PUFA_MIN_YEAR: every day of every
 * dimension).  Set it before adding anything. */
void pub_model_set_horizon(pub_model *m, int year);
int pub_model_horizon(const pub_model *m);
/* Reads the per-dimension rows of [from, to] (days before the horizon) from
 * the database: calls emit once per (county, key) with the summed figures
 * (key as rollup_dim has it).  0, or nonzero when the rows could not be
 * read (the read is then marked incomplete).  Called under the read lock,
 * from several HTTP threads at once. */
typedef void (*pub_cold_emit)(void *ectx, const char *county, const char *key,
                              const int64_t fig[NFIG]);
typedef int (*pub_cold_fn)(void *ctx, pufa_day from, pufa_day to, pub_dim dim, pub_cold_emit emit,
                           void *ectx);
void pub_model_set_cold(pub_model *m, pub_cold_fn fn, void *ctx);
/* Zeroes the cells of county on day (every dimension held per day; their
 * figures leave that year's cells too), or the other dimensions than total
 * of county in a year before the horizon (held per year only): a catch-up
 * then adds the rows the database has now (pub_model_add_dim: a day's rows,
 * or a year's sums dated its January 1). */
void pub_model_forget_day(pub_model *m, pufa_day day, const char *county);
void pub_model_forget_year(pub_model *m, int year, const char *county);
/* Gives back the room the cell arrays grew into, and sorts their cells
 * (after a load). */
void pub_model_shrink(pub_model *m);
/* Writes the model (cells, names, receipts, seq; not the org units) to
 * path (through path.tmp, renamed), or reads one back into a model that
 * holds nothing yet (names it had are replaced).  0, or a PUFA_E* code with
 * err filled; a file of another format version, figure count or horizon
 * is refused (PUFA_EINVAL) and the model left as it was. */
int pub_model_save(const pub_model *m, const char *path, char *err, size_t errsize);
int pub_model_load(pub_model *m, const char *path, char *err, size_t errsize);
/* What the file was made from (e.g. the schema version), saved with it. */
void pub_model_set_stamp(pub_model *m, uint64_t stamp);
uint64_t pub_model_stamp(const pub_model *m);

/* ---- reads (rdlock held) ---- */
/* Whether a read of this thread since the reset lacked days the database
 * could not give (the cold callback failed): its answer is not whole. */
void pub_model_incomplete_reset(void);
bool pub_model_incomplete(void);
uint64_t pub_model_seq(const pub_model *m);
/* The org units (NULL before the first snapshot) and the home ("" when
 * none is set). */
const pufa_orgunits *pub_model_orgunits(const pub_model *m);
const char *pub_model_home(const pub_model *m);
/* The scope of the org unit code (any level): 0, or PUFA_ENOTFOUND when
 * the org units do not hold it. */
int pub_model_scope(const pub_model *m, const char *code, pub_scope *out);
/* true if county (an index) is in scope s (NULL: the home's). */
bool pub_model_county_in(const pub_model *m, const pub_scope *s, uint32_t county);
/* Sums [from, to] by dim (DIM_COUNTY, DIM_CITY, DIM_PROVINCE: by that org
 * unit; DIM_TOTAL: one row), counting the counties of scope s (NULL: the
 * home's).  Rows with all-zero figures are left out.  *rows is allocated
 * (caller frees); totals gets the sum of every row.  Cost: days x cells,
 * then counties; never the number of reports. */
size_t pub_model_query(const pub_model *m, pufa_day from, pufa_day to, pub_dim dim,
                       const pub_scope *s, pub_row **rows, int64_t totals[NFIG]);
/* Sums [from, to] into fig (the per-county totals of those days; cost:
 * days x counties), counting the counties of scope s (NULL: the home's). */
void pub_model_sum(const pub_model *m, pufa_day from, pufa_day to, const pub_scope *s,
                   int64_t fig[NFIG]);
/* Sorts rows by figure fig, largest first, ties by value (the order of
 * pub_model_query). */
void pub_rows_rank(pub_row *rows, size_t n, int fig);
/* The key and label of a row value of dim (county, city or province code +
 * name, enum code + label, unit code + name, campaign + campaign, township
 * + township or "(未填)" for none). */
const char *pub_model_key(const pub_model *m, pub_dim dim, uint32_t value);
const char *pub_model_label(const pub_model *m, pub_dim dim, uint32_t value);
/* Counties known (from org units and data), and the last day each county
 * (and each of its units) reported; -1 = never. */
size_t pub_model_counties(const pub_model *m);
pufa_day pub_model_last_report(const pub_model *m, uint32_t county, const char *unit);
size_t pub_model_units(const pub_model *m);
/* County index of a code, or UINT32_MAX. */
uint32_t pub_model_county_index(const pub_model *m, const char *code);
/* Unit index of a code (the DIM_UNIT value), or UINT32_MAX. */
uint32_t pub_model_unit_index(const pub_model *m, const char *code);
/* Calls fn for every (county, unit) that had a report received on each day
 * of [from, to] (received days in the city's calendar), days in order.
 * Cost: days x the pairs of each day. */
void pub_model_received(const pub_model *m, pufa_day from, pufa_day to,
                        void (*fn)(void *ctx, pufa_day day, uint32_t county, uint32_t unit),
                        void *ctx);

#endif
