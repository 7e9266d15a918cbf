/* Intake: a body of reports (a JSON object or array, JSON Lines, CSV or XLSX)
 * -> decoded and validated reports, one result per item.  Shared by the
 * collector's HTTP intake and drop folder and by `pufa validate`, so every
 * door applies the same rules. */
#ifndef PUFA_INTAKE_H
#define PUFA_INTAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "report.h"
#include "textenc.h"
#include "validate.h"

typedef enum pufa_intake_format {
    PUFA_FMT_JSON, /* an object, an array of objects, or JSON Lines */
    PUFA_FMT_CSV,
    PUFA_FMT_XLSX, /* a workbook's first sheet (report_xlsx.h); always UTF-8 inside */
} pufa_intake_format;

/* The XLSX Content-Type. */
#define PUFA_XLSX_CONTENT_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

typedef struct pufa_intake_item {
    size_t index; /* 0-based position among the items */
    size_t line;  /* JSONL line / CSV record (header = 1); 0 in a JSON array */
    bool ok;
    pufa_report *report; /* decoded (and, when ok, valid); the taker may move its
                            strings out; valid until the next item */
    const pufa_errors *errs;
    const char *message; /* "line 3: participants: must be >= 0 (got -5)" when !ok */
} pufa_intake_item;

/* From a file name (.csv / .json / .jsonl / .xlsx) or a Content-Type,
 * falling back to the first bytes of the body (a zip is XLSX). */
pufa_intake_format pufa_intake_guess_format(const char *name_or_type, const char *buf, size_t len);

/* Reading a body one item at a time.  The body is first decoded to UTF-8
 * (textenc.h): CSV as declared or detected (UTF-8 or GB18030); JSON only as
 * declared (by default it must be UTF-8, which the JSON parser checks).
 * XLSX is read whole at open with the default limits (report_xlsx.h; then
 * the error may be PUFA_ETOOBIG) and ignores `declared`.  buf must outlive
 * the reader. */
typedef struct pufa_intake_reader pufa_intake_reader;

/* 0 with *out (close it), or PUFA_EPARSE when the body as a whole is
 * unreadable (err says why; *out is NULL).  *used (may be NULL) says what
 * the body was decoded from. */
int pufa_intake_open(pufa_intake_format fmt, pufa_encoding declared, const char *buf, size_t len,
                     const pufa_validate_ctx *vctx, pufa_intake_reader **out, pufa_encoding *used,
                     char *err, size_t errsize);
/* The next item, decoded and validated, valid until the next call; NULL at
 * the end, or when the body turned out unreadable as a whole (a CSV's
 * broken quoting): then pufa_intake_close says so. */
const pufa_intake_item *pufa_intake_next(pufa_intake_reader *rd);
/* Frees the reader and sets *rd to NULL.  0, or PUFA_EPARSE (err says why)
 * when the body was unreadable as a whole: then none of the items handed
 * out may be taken.  Every message handed out is valid UTF-8. */
int pufa_intake_close(pufa_intake_reader **rd, char *err, size_t errsize);

/* The same through a callback: fn once per item.  Returns 0, or
 * PUFA_EPARSE when the body as a whole is unreadable (err says why; no item
 * may be taken). */
typedef void (*pufa_intake_fn)(void *ctx, const pufa_intake_item *item);
int pufa_intake_parse_text(pufa_intake_format fmt, pufa_encoding declared, const char *buf,
                           size_t len, const pufa_validate_ctx *vctx, pufa_intake_fn fn, void *ctx,
                           pufa_encoding *used, char *err, size_t errsize);
/* The same with nothing declared. */
int pufa_intake_parse(pufa_intake_format fmt, const char *buf, size_t len,
                      const pufa_validate_ctx *vctx, pufa_intake_fn fn, void *ctx, char *err,
                      size_t errsize);

#endif
