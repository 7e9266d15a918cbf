#include "copy.h"

#include <string.h>

#include "uuid.h"

static void put16(pufa_buf *b, int16_t v) {
    uint8_t x[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    pufa_buf_append(b, x, 2);
}

static void put32(pufa_buf *b, int32_t v) {
    uint32_t u = (uint32_t)v;
    uint8_t x[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    pufa_buf_append(b, x, 4);
}

static void put64(pufa_buf *b, int64_t v) {
    put32(b, (int32_t)((uint64_t)v >> 32));
    put32(b, (int32_t)(uint32_t)v);
}

void copy_text(pufa_buf *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    put32(b, (int32_t)n);
    pufa_buf_append(b, s ? s : "", n);
}

void copy_int2(pufa_buf *b, int v) {
    put32(b, 2);
    put16(b, (int16_t)v);
}

void copy_int4(pufa_buf *b, int32_t v) {
    put32(b, 4);
    put32(b, v);
}

void copy_int8(pufa_buf *b, int64_t v) {
    put32(b, 8);
    put64(b, v);
}

void copy_date(pufa_buf *b, pufa_day day) {
    static const pufa_day pg_epoch_day = 10957; /* 2000-01-01 */
    copy_int4(b, day - pg_epoch_day);
}

void copy_null(pufa_buf *b) {
    put32(b, -1);
}

void copy_tuple(pufa_buf *b, int ncolumns) {
    put16(b, (int16_t)ncolumns);
}

void copy_begin(pufa_buf *b) {
    pufa_buf_reset(b);
    pufa_buf_append(b, "PGCOPY\n\377\r\n\0", 11);
    put32(b, 0); /* flags */
    put32(b, 0); /* header extension */
}

/* seq < 0: no commit_seq column. */
static void row(pufa_buf *b, const pufa_report *r, const char *collector, int64_t seq) {
    copy_tuple(b, seq < 0 ? COPY_NCOLUMNS : COPY_NCOLUMNS + 1);
    uint8_t id[16] = {0};
    pufa_uuid_parse(r->report_id, id);
    put32(b, 16);
    pufa_buf_append(b, id, 16);
    copy_int4(b, (int32_t)r->revision);
    put32(b, 1);
    pufa_buf_putc(b, r->retracted ? 1 : 0);
    copy_text(b, r->county_code);
    copy_text(b, r->township);
    copy_text(b, r->unit_code);
    copy_text(b, r->unit_name);
    copy_date(b, r->occurred_day);
    if (r->ended_on && *r->ended_on)
        copy_date(b, r->ended_day);
    else
        copy_null(b);
    copy_int2(b, r->theme);
    copy_int2(b, r->venue);
    copy_int2(b, r->form);
    copy_text(b, r->campaign);
    copy_text(b, r->title);
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        copy_int8(b, r->counters[c]);
    if (r->received_at_ms > 0) /* timestamptz: microseconds since 2000-01-01 UTC */
        copy_int8(b, (r->received_at_ms - 946684800000LL) * 1000);
    else
        copy_null(b);
    copy_text(b, collector ? collector : "");
    if (seq >= 0)
        copy_int8(b, seq);
}

void copy_row(pufa_buf *b, const pufa_report *r, const char *collector) {
    row(b, r, collector, -1);
}

void copy_row_seq(pufa_buf *b, const pufa_report *r, const char *collector, uint64_t seq) {
    row(b, r, collector, (int64_t)seq);
}

void copy_end(pufa_buf *b) {
    put16(b, -1);
}

void copy_journal_row(pufa_buf *b, uint64_t seq, const pufa_cell *c) {
    copy_tuple(b, 9 + PUFA_NFIGURES);
    copy_int8(b, (int64_t)seq);
    copy_date(b, c->day);
    copy_text(b, c->county);
    copy_int2(b, c->theme);
    copy_int2(b, c->venue);
    copy_int2(b, c->form);
    copy_text(b, c->unit_code);
    copy_text(b, c->campaign);
    copy_text(b, c->township ? c->township : "");
    for (int f = 0; f < PUFA_NFIGURES; f++)
        copy_int8(b, c->fig[f]);
}
