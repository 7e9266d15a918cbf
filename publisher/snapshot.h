/* The publisher's snapshot: every rollup and the feed sequence, read from
 * PostgreSQL in one REPEATABLE READ transaction through cursors (a slice of
 * rows at a time, so memory stays bounded), into the model.  Its size grows
 * with days x counties x dimension values, never with the number of
 * reports. */
#ifndef PUB_SNAPSHOT_H
#define PUB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firsts.h"
#include "model.h"

typedef struct pub_snapshot_info {
    uint64_t seq;            /* the feed sequence the snapshot contains */
    long long dim_rows;      /* rollup_dim rows read */
    long long journal_rows;  /* rollup_journal rows read */
    long long skipped;       /* rows with an unknown dimension or key, left out */
    long long changed;       /* a catch-up: the county x days changed since its seq */
    bool caught_up;          /* only what changed since a seq was read */
    uint64_t caught_up_from; /* a catch-up: the seq it started from */
    bool from_file;          /* the model came from the model file */
    double file_seconds;     /* reading it */
    double seconds;
    bool model_cleared; /* the model was cleared: on error it holds only a part */
} pub_snapshot_info;

typedef struct pub_snapshot_opts {
    /* The model file ("" or NULL: none): read on the first load when it
     * matches the database (then only what changed since its seq is read),
     * and written by pub_snapshot_save. */
    const char *model_file;
    /* The model holds a whole snapshot plus the deltas since (a resync after
     * a gap): with a model file, catch up from its seq instead of a full
     * load. */
    bool incremental;
} pub_snapshot_opts;

/* Loads the model from db (wrlock taken inside): a full snapshot (the
 * model cleared first), or - with a model file - the file or the model as
 * it is, brought up to date with what changed since its seq (the reports
 * committed after it: their days are read again).  o may be NULL.  0, or a
 * PUFA_E* code with err filled.  firsts (guarded by the model's lock) is
 * always loaded whole from receipt_first.  On error with info->model_cleared
 * the model holds only a part of the snapshot and must not be served until a retry
 * succeeds. */
int pub_snapshot_load(const char *db, const pub_snapshot_opts *o, pub_model *m, pub_firsts *firsts,
                      pub_snapshot_info *info, char *err, size_t errsize);
/* Writes the model file (rdlock taken inside; logged).  0 or PUFA_EIO. */
int pub_snapshot_save(const char *path, pub_model *m);

/* Reads the days before the model's horizon from PostgreSQL on demand (the
 * model's cold callback: pub_model_set_cold(m, pub_cold_read, cold)), on a
 * connection of its own, one read at a time. */
typedef struct pub_cold pub_cold;
pub_cold *pub_cold_new(const char *db);
void pub_cold_destroy(pub_cold **k);
int pub_cold_read(void *ctx, pufa_day from, pufa_day to, pub_dim dim, pub_cold_emit emit,
                  void *ectx);

#endif
