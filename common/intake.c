#include "intake.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "report_csv.h"
#include "report_json.h"
#include "report_xlsx.h"
#include "utf8.h"

pufa_intake_format pufa_intake_guess_format(const char *name, const char *buf, size_t len) {
    if (name) {
        size_t n = strlen(name);
        if ((n >= 5 && !strcasecmp(name + n - 5, ".xlsx")) || strstr(name, "spreadsheetml.sheet"))
            return PUFA_FMT_XLSX;
        if ((n >= 4 && !strcasecmp(name + n - 4, ".csv")) || strstr(name, "text/csv"))
            return PUFA_FMT_CSV;
        if ((n >= 5 && !strcasecmp(name + n - 5, ".json")) ||
            (n >= 6 && !strcasecmp(name + n - 6, ".jsonl")) || strstr(name, "json"))
            return PUFA_FMT_JSON;
    }
    if (pufa_xlsx_sniff(buf, len))
        return PUFA_FMT_XLSX;
    size_t i = 0;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
        i = 3;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return (i < len && (buf[i] == '{' || buf[i] == '[')) ? PUFA_FMT_JSON : PUFA_FMT_CSV;
}

struct pufa_intake_reader {
    pufa_intake_format fmt;
    const pufa_validate_ctx *vctx;
    pufa_text text;   /* the body decoded to UTF-8, when it had to be */
    const char *data; /* what is parsed: text.data or the body itself */
    size_t len;
    pufa_json_reader json;
    pufa_csv_reader *csv;
    struct xlsx_row *rows; /* XLSX: the sheet's rows, read whole at open */
    size_t nrows, caprows, taken;
    size_t fed;    /* CSV: bytes fed so far */
    bool finished; /* CSV: the end was fed */
    int rc;        /* PUFA_EPARSE once the body is unreadable as a whole */
    char err[512];
    size_t index;
    pufa_report report; /* JSON: the item's report */
    pufa_errors errs;
    char msg[1024];
    pufa_intake_item item;
};

/* Validates r (decode errors already in errs) into the reader's item. */
static const pufa_intake_item *deliver(pufa_intake_reader *rd, size_t line, pufa_report *r,
                                       pufa_errors *errs) {
    pufa_intake_item *item = &rd->item;
    *item = (pufa_intake_item){.index = rd->index++, .line = line, .report = r, .errs = errs};
    /* When decoding already failed on some fields, validation still names
     * the others (it skips fields that have an error). */
    pufa_report_validate(r, rd->vctx, errs);
    item->ok = errs->count == 0 && !errs->truncated;
    if (!item->ok) {
        char detail[900];
        pufa_errors_format(errs, detail, sizeof detail);
        if (line)
            snprintf(rd->msg, sizeof rd->msg, "line %zu: %s", line, detail);
        else
            snprintf(rd->msg, sizeof rd->msg, "item %zu: %s", item->index + 1, detail);
        item->message = rd->msg;
    }
    return item;
}

static const pufa_intake_item *next_json(pufa_intake_reader *rd) {
    size_t index, line;
    const json_t *elem;
    char m[200];
    pufa_report_clear(&rd->report);
    pufa_errors_init(&rd->errs);
    if (!pufa_json_reader_next(&rd->json, &index, &line, &elem, m, sizeof m))
        return NULL;
    if (elem) {
        pufa_report_from_json(elem, &rd->report, &rd->errs);
        return deliver(rd, line, &rd->report, &rd->errs);
    }
    pufa_errors_add(&rd->errs, "report", "%s", m);
    pufa_intake_item *item = &rd->item;
    *item = (pufa_intake_item){
        .index = rd->index++, .line = line, .report = &rd->report, .errs = &rd->errs};
    snprintf(rd->msg, sizeof rd->msg, "line %zu: report: %s", line, rd->errs.e[0].message);
    item->message = rd->msg;
    return item;
}

/* XLSX is read whole when the reader opens (the workbook is bounded by
 * report_xlsx.h's limits); its rows are kept with only the decode errors
 * they have, so a sheet of good rows costs a report each. */
typedef struct xlsx_row {
    size_t line;
    pufa_report r;
    int nerrs;
    bool truncated;
    pufa_field_error *errs; /* nerrs of them; NULL when none */
} xlsx_row;

static void on_xlsx_row(void *ctx, size_t line, pufa_report *r, pufa_errors *errs) {
    pufa_intake_reader *rd = ctx;
    if (rd->nrows == rd->caprows) {
        rd->caprows = rd->caprows ? 2 * rd->caprows : 64;
        rd->rows = pufa_realloc(rd->rows, rd->caprows * sizeof *rd->rows);
    }
    xlsx_row *row = &rd->rows[rd->nrows++];
    *row = (xlsx_row){.line = line};
    pufa_report_init(&row->r);
    pufa_report_copy(&row->r, r);
    if (errs && errs->count > 0) {
        row->nerrs = errs->count;
        row->errs = pufa_malloc((size_t)errs->count * sizeof *row->errs);
        memcpy(row->errs, errs->e, (size_t)errs->count * sizeof *row->errs);
    }
    row->truncated = errs && errs->truncated;
}

static const pufa_intake_item *next_xlsx(pufa_intake_reader *rd) {
    if (rd->taken == rd->nrows)
        return NULL;
    xlsx_row *row = &rd->rows[rd->taken++];
    pufa_errors_init(&rd->errs);
    rd->errs.count = row->nerrs;
    rd->errs.truncated = row->truncated;
    if (row->nerrs)
        memcpy(rd->errs.e, row->errs, (size_t)row->nerrs * sizeof *row->errs);
    return deliver(rd, row->line, &row->r, &rd->errs);
}

/* CSV is fed a bounded chunk at a time, and its rows taken as they come. */
#define CSV_CHUNK 4096

static const pufa_intake_item *next_csv(pufa_intake_reader *rd) {
    for (;;) {
        size_t line;
        pufa_report *r;
        pufa_errors *errs;
        if (pufa_csv_reader_next(rd->csv, &line, &r, &errs))
            return deliver(rd, line, r, errs);
        if (rd->finished || rd->rc)
            return NULL;
        int rc;
        if (rd->fed < rd->len) {
            size_t n = rd->len - rd->fed < CSV_CHUNK ? rd->len - rd->fed : CSV_CHUNK;
            rc = pufa_csv_reader_feed(rd->csv, rd->data + rd->fed, n);
            rd->fed += n;
        } else {
            rc = pufa_csv_reader_finish(rd->csv);
            rd->finished = true;
        }
        if (rc) {
            rd->rc = rc;
            snprintf(rd->err, sizeof rd->err, "%s", pufa_csv_reader_error(rd->csv));
            return NULL;
        }
    }
}

/* A whole-body error may quote the input: keep it valid UTF-8. */
static int clean_error(int rc, char *err, size_t errsize) {
    if (rc && errsize) {
        char raw[1024];
        size_t n = strnlen(err, errsize - 1);
        if (n >= sizeof raw)
            n = sizeof raw - 1;
        memcpy(raw, err, n);
        pufa_utf8_escape(err, errsize, raw, n);
    }
    return rc;
}

int pufa_intake_open(pufa_intake_format fmt, pufa_encoding declared, const char *buf, size_t len,
                     const pufa_validate_ctx *vctx, pufa_intake_reader **out, pufa_encoding *used,
                     char *err, size_t errsize) {
    *out = NULL;
    if (used)
        *used = PUFA_ENC_UTF8;
    pufa_intake_reader *rd = pufa_calloc(1, sizeof *rd);
    rd->fmt = fmt;
    rd->vctx = vctx;
    pufa_report_init(&rd->report);
    rd->data = buf;
    rd->len = len;
    int rc = 0;
    if (fmt == PUFA_FMT_XLSX) {
        rc = pufa_xlsx_each_report(buf, len, NULL, on_xlsx_row, rd, err, errsize);
        if (rc) {
            pufa_intake_close(&rd, NULL, 0);
            return clean_error(rc, err, errsize);
        }
        *out = rd;
        return 0;
    }
    if (!(fmt == PUFA_FMT_JSON && declared == PUFA_ENC_AUTO)) {
        rc = pufa_decode_text(buf, len, declared, &rd->text, err, errsize);
        if (rc) {
            free(rd);
            return rc;
        }
        if (used)
            *used = rd->text.encoding;
        rd->data = rd->text.data;
        rd->len = rd->text.len;
    }
    if (fmt == PUFA_FMT_CSV)
        rd->csv = pufa_csv_reader_new(NULL, NULL);
    else
        rc = pufa_json_reader_init(&rd->json, rd->data, rd->len, 1, err, errsize);
    if (rc) {
        pufa_intake_close(&rd, NULL, 0);
        return clean_error(rc, err, errsize);
    }
    *out = rd;
    return 0;
}

const pufa_intake_item *pufa_intake_next(pufa_intake_reader *rd) {
    if (rd->fmt == PUFA_FMT_XLSX)
        return next_xlsx(rd);
    return rd->fmt == PUFA_FMT_CSV ? next_csv(rd) : next_json(rd);
}

int pufa_intake_close(pufa_intake_reader **prd, char *err, size_t errsize) {
    if (!prd || !*prd)
        return 0;
    pufa_intake_reader *rd = *prd;
    int rc = rd->rc;
    if (rc && err && errsize) {
        snprintf(err, errsize, "%s", rd->err);
        clean_error(rc, err, errsize);
    }
    pufa_json_reader_free(&rd->json);
    pufa_csv_reader_destroy(&rd->csv);
    for (size_t i = 0; i < rd->nrows; i++) {
        pufa_report_clear(&rd->rows[i].r);
        free(rd->rows[i].errs);
    }
    free(rd->rows);
    pufa_report_clear(&rd->report);
    pufa_text_free(&rd->text);
    free(rd);
    *prd = NULL;
    return rc;
}

int pufa_intake_parse_text(pufa_intake_format fmt, pufa_encoding declared, const char *buf,
                           size_t len, const pufa_validate_ctx *vctx, pufa_intake_fn fn, void *ctx,
                           pufa_encoding *used, char *err, size_t errsize) {
    pufa_intake_reader *rd;
    int rc = pufa_intake_open(fmt, declared, buf, len, vctx, &rd, used, err, errsize);
    if (rc)
        return rc;
    const pufa_intake_item *item;
    while ((item = pufa_intake_next(rd)))
        fn(ctx, item);
    return pufa_intake_close(&rd, err, errsize);
}

int pufa_intake_parse(pufa_intake_format fmt, const char *buf, size_t len,
                      const pufa_validate_ctx *vctx, pufa_intake_fn fn, void *ctx, char *err,
                      size_t errsize) {
    return pufa_intake_parse_text(fmt, PUFA_ENC_AUTO, buf, len, vctx, fn, ctx, NULL, err, errsize);
}
