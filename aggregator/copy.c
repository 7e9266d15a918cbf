#include "copy.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "pg.h"
#include "store_sql.h"
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

static void text(pufa_buf *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    put32(b, (int32_t)n);
    pufa_buf_append(b, s ? s : "", n);
}

static void int2(pufa_buf *b, int v) {
    put32(b, 2);
    put16(b, (int16_t)v);
}

void copy_begin(pufa_buf *b) {
    pufa_buf_reset(b);
    pufa_buf_append(b, "PGCOPY\n\377\r\n\0", 11);
    put32(b, 0); /* flags */
    put32(b, 0); /* header extension */
}

void copy_row(pufa_buf *b, const pufa_report *r, const char *collector) {
    static const pufa_day pg_epoch_day = 10957; /* 2000-01-01 */
    put16(b, 26);
    uint8_t id[16] = {0};
    pufa_uuid_parse(r->report_id, id);
    put32(b, 16);
    pufa_buf_append(b, id, 16);
    put32(b, 4);
    put32(b, (int32_t)r->revision);
    put32(b, 1);
    pufa_buf_putc(b, r->retracted ? 1 : 0);
    text(b, r->county_code);
    text(b, r->township);
    text(b, r->unit_code);
    text(b, r->unit_name);
    put32(b, 4);
    put32(b, r->occurred_day - pg_epoch_day);
    if (r->ended_on && *r->ended_on) {
        put32(b, 4);
        put32(b, r->ended_day - pg_epoch_day);
    } else {
        put32(b, -1);
    }
    int2(b, r->theme);
    int2(b, r->venue);
    int2(b, r->form);
    text(b, r->campaign);
    text(b, r->title);
    for (int c = 0; c < PUFA_NCOUNTERS; c++) {
        put32(b, 8);
        put64(b, r->counters[c]);
    }
    if (r->received_at_ms > 0) { /* timestamptz: microseconds since 2000-01-01 UTC */
        put32(b, 8);
        put64(b, (r->received_at_ms - 946684800000LL) * 1000);
    } else {
        put32(b, -1);
    }
    text(b, collector ? collector : "");
}

void copy_end(pufa_buf *b) {
    put16(b, -1);
}

int copy_reports(PGconn *conn, const pufa_buf *buf, char *err, size_t errsize) {
    PGresult *r = PQexec(conn, "COPY reports (" COPY_COLUMNS ") FROM STDIN (FORMAT binary)");
    int rc = store_check(conn, r, PGRES_COPY_IN, "copy", err, errsize);
    PQclear(r);
    if (rc)
        return rc;
    if (PQputCopyData(conn, buf->data, (int)buf->len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
        pufa_pg_errcopy(err, errsize, "copy: ", PQerrorMessage(conn));
        return PUFA_EDBDOWN;
    }
    r = PQgetResult(conn);
    rc = store_check(conn, r, PGRES_COMMAND_OK, "copy", err, errsize);
    PQclear(r);
    /* Drain, so the connection is ready for the next command. */
    while ((r = PQgetResult(conn)))
        PQclear(r);
    return rc;
}
