/* JSON <-> report (jansson).  Field names are those of proto/pufa.proto;
 * theme/venue/form take the ASCII code or the Chinese label; counters are
 * JSON integers (absent = 0); unknown and duplicate keys are refused. */
#ifndef PUFA_REPORT_JSON_H
#define PUFA_REPORT_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "report.h"

/* Routes jansson's allocations through the pufa allocators (call once). */
void pufa_json_init(void);

/* Fills r (initialised by the caller) from a JSON object; type errors,
 * unknown keys and unknown enum values go to errs.  Returns 0 or
 * PUFA_EVALIDATE (r is still filled as far as it could be, so validation
 * can add the remaining errors). */
int pufa_report_from_json(const json_t *obj, pufa_report *r, pufa_errors *errs);

/* A new JSON object for r (codes for enums, every counter).  Caller
 * json_decref()s it. */
json_t *pufa_report_to_json(const pufa_report *r);

/* A JSON string for a message or a value quoted back: json_string() gives
 * NULL for bytes that are not UTF-8 (and json_object_set_new then drops the
 * key), so such bytes are escaped as \xNN instead.  NULL s gives "".
 * New reference. */
json_t *pufa_json_text(const char *s);

/* Reads a JSON document one element at a time: an object, an array of
 * objects, or (when allow_lines) JSON Lines.  A value: init, next until
 * false, free. */
typedef struct pufa_json_reader {
    const char *buf;
    size_t len;
    json_t *doc;  /* the array or the single object; NULL for JSON Lines */
    json_t *elem; /* JSON Lines: the element handed out last (owned) */
    size_t next;  /* the next array index, or the next line's byte offset */
    size_t index, line;
    bool done;
} pufa_json_reader;

/* 0, or PUFA_EPARSE with msg filled when the document as a whole is
 * unreadable (e.g. neither object nor array); rd is then empty. */
int pufa_json_reader_init(pufa_json_reader *rd, const char *buf, size_t len, int allow_lines,
                          char *msg, size_t msgsize);
/* The next element: true with *index, *line (0 in an array) and *elem,
 * valid until the next call; *elem is NULL when that line is not even JSON
 * (then msg says why).  False at the end. */
bool pufa_json_reader_next(pufa_json_reader *rd, size_t *index, size_t *line, const json_t **elem,
                           char *msg, size_t msgsize);
void pufa_json_reader_free(pufa_json_reader *rd);

/* The same through a callback: fn(ctx, index, line, element, msg) for
 * each element.  Returns 0 or PUFA_EPARSE (msg filled). */
typedef void (*pufa_json_each_fn)(void *ctx, size_t index, size_t line, const json_t *elem,
                                  const char *msg);
int pufa_json_each_report(const char *buf, size_t len, int allow_lines, pufa_json_each_fn fn,
                          void *ctx, char *msg, size_t msgsize);

#endif
