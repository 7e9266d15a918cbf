/* Accepting reports: a body (JSON, JSONL or CSV) is decoded and validated
 * with the shared rules plus "this collector's county only", the good
 * reports are appended to the spool, and the call returns only once they
 * are fsynced.  Used by the HTTP intake and the drop folder. */
#ifndef COL_ACCEPT_H
#define COL_ACCEPT_H

#include <jansson.h>
#include <stddef.h>

#include "intake.h"
#include "orgunits.h"
#include "spool.h"
#include "states.h"

typedef struct accept_ctx {
    spool *sp;
    states *st;
    const pufa_orgunits *orgunits;
    const char *county; /* when set, reports must be for this county */
} accept_ctx;

typedef struct accept_result {
    size_t accepted, rejected;
    json_t *results; /* array: one object per report (index, line, report_id, state, errors) */
    int spool_rc;    /* 0, or PUFA_EQUOTA / PUFA_ENOSPC / PUFA_EIO: nothing was accepted */
    char error[512]; /* the body as a whole was unreadable (then nothing was accepted) */
    char *messages;  /* "line 3: field: rule\n..." for each rejected report (caller frees) */
    pufa_encoding encoding; /* what the body was decoded from (utf-8 or gb18030) */
} accept_result;

/* Returns 0 when the body was read (see accepted/rejected/spool_rc), or
 * PUFA_EPARSE (error says why; the body's encoding too: it is refused
 * once, as a whole).  declared: the sender's charset, or PUFA_ENC_AUTO.
 * Free out->results and out->messages. */
int accept_body(accept_ctx *ctx, pufa_intake_format fmt, pufa_encoding declared, const char *buf,
                size_t len, accept_result *out);
void accept_result_free(accept_result *r);

#endif
