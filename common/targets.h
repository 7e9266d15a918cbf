/* Yearly targets of the duty lists (普法责任清单): per org unit, or per
 * responsible unit inside a county, per figure.  Loaded by
 * `pufa migrate --targets FILE` from a CSV with the header
 * year,org_code,unit_code,figure,target; stored in the targets table
 * (common/sql/007_targets.sql), read by the publisher. */
#ifndef PUFA_TARGETS_H
#define PUFA_TARGETS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "orgunits.h"
#include "report.h"

typedef struct pufa_target {
    int year;
    char org_code[7];
    char unit_code[PUFA_UNIT_CODE_MAX + 1]; /* "" = the org unit as a whole */
    int figure;                             /* index into pufa_figure_names */
    int64_t target;                         /* > 0; funds_fen in fen */
    long line;                              /* of the file; 0 when read from the database */
} pufa_target;

typedef struct pufa_targets {
    pufa_target *v;
    size_t n, cap;
} pufa_targets;

void pufa_targets_init(pufa_targets *t);
void pufa_targets_free(pufa_targets *t);

/* Parses and checks the CSV text[0..len) against the org units ou and the
 * responsible unit codes units[0..nunits).  Every bad line is named, one
 * "line N: FIELD: rule (got ...)" per line of err (the first ones when
 * they do not all fit), and then nothing is kept: PUFA_EPARSE.  0 with
 * out filled otherwise (out must be initialised; caller frees). */
int pufa_targets_parse(const char *text, size_t len, const pufa_orgunits *ou,
                       const char *const *units, size_t nunits, pufa_targets *out, char *err,
                       size_t errsize);

/* Replaces, in one transaction, the targets of every year t names with
 * t's, and bumps targets_state.version (what the publisher polls).
 * *years gets how many years were replaced (may be NULL). */
int pufa_db_store_targets(PGconn *conn, const pufa_targets *t, int *years, char *err,
                          size_t errsize);

#endif
