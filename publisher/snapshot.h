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
    uint64_t seq;           /* the feed sequence the snapshot contains */
    long long dim_rows;     /* rollup_dim rows read */
    long long journal_rows; /* rollup_journal rows read */
    long long skipped;      /* rows with an unknown dimension or key, left out */
    double seconds;
    bool model_cleared; /* the model was cleared: on error it holds only a part */
} pub_snapshot_info;

/* Clears the model and firsts (guarded by the model's lock) and loads them
 * from db (wrlock taken inside).  0, or a
 * PUFA_E* code with err filled; on error with info->model_cleared the model
 * holds only a part of the snapshot and must not be served until a retry
 * succeeds. */
int pub_snapshot_load(const char *db, pub_model *m, pub_firsts *firsts, pub_snapshot_info *info,
                      char *err, size_t errsize);

#endif
