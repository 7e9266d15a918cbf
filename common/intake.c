#include "intake.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "report_csv.h"
#include "report_json.h"
#include "utf8.h"

pufa_intake_format pufa_intake_guess_format(const char *name, const char *buf, size_t len) {
    if (name) {
        size_t n = strlen(name);
        if ((n >= 4 && !strcasecmp(name + n - 4, ".csv")) || strstr(name, "text/csv"))
            return PUFA_FMT_CSV;
        if ((n >= 5 && !strcasecmp(name + n - 5, ".json")) ||
            (n >= 6 && !strcasecmp(name + n - 6, ".jsonl")) || strstr(name, "json"))
            return PUFA_FMT_JSON;
    }
    size_t i = 0;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
        i = 3;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return (i < len && (buf[i] == '{' || buf[i] == '[')) ? PUFA_FMT_JSON : PUFA_FMT_CSV;
}

typedef struct {
    const pufa_validate_ctx *vctx;
    pufa_intake_fn fn;
    void *ctx;
    size_t index;
} run_state;

static void deliver(run_state *st, size_t line, pufa_report *r, pufa_errors *errs) {
    pufa_intake_item item = {.index = st->index++, .line = line, .report = r, .errs = errs};
    /* When decoding already failed on some fields, validation still names
     * the others (it skips fields that have an error). */
    pufa_report_validate(r, st->vctx, errs);
    item.ok = errs->count == 0 && !errs->truncated;
    char msg[1024];
    if (!item.ok) {
        char detail[900];
        pufa_errors_format(errs, detail, sizeof detail);
        if (line)
            snprintf(msg, sizeof msg, "line %zu: %s", line, detail);
        else
            snprintf(msg, sizeof msg, "item %zu: %s", item.index + 1, detail);
        item.message = msg;
    }
    st->fn(st->ctx, &item);
}

static void on_json(void *ctx, size_t index, size_t line, const json_t *elem, const char *m) {
    (void)index;
    run_state *st = ctx;
    pufa_report r;
    pufa_errors errs;
    pufa_report_init(&r);
    pufa_errors_init(&errs);
    if (!elem) {
        pufa_errors_add(&errs, "report", "%s", m ? m : "not valid JSON");
        pufa_intake_item item = {.index = st->index++, .line = line, .report = &r, .errs = &errs};
        char msg[512];
        snprintf(msg, sizeof msg, "line %zu: report: %s", line, errs.e[0].message);
        item.message = msg;
        st->fn(st->ctx, &item);
    } else {
        pufa_report_from_json(elem, &r, &errs);
        deliver(st, line, &r, &errs);
    }
    pufa_report_clear(&r);
}

static void on_csv(void *ctx, size_t line, pufa_report *r, pufa_errors *errs) {
    deliver(ctx, line, r, errs);
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

int pufa_intake_parse_text(pufa_intake_format fmt, pufa_encoding declared, const char *buf,
                           size_t len, const pufa_validate_ctx *vctx, pufa_intake_fn fn, void *ctx,
                           pufa_encoding *used, char *err, size_t errsize) {
    run_state st = {.vctx = vctx, .fn = fn, .ctx = ctx};
    if (used)
        *used = PUFA_ENC_UTF8;
    if (fmt == PUFA_FMT_JSON && declared == PUFA_ENC_AUTO)
        return clean_error(pufa_json_each_report(buf, len, 1, on_json, &st, err, errsize), err,
                           errsize);
    pufa_text text;
    int rc = pufa_decode_text(buf, len, declared, &text, err, errsize);
    if (rc)
        return rc;
    if (used)
        *used = text.encoding;
    if (fmt == PUFA_FMT_CSV)
        rc = pufa_csv_each_report(text.data, text.len, on_csv, &st, err, errsize);
    else
        rc = pufa_json_each_report(text.data, text.len, 1, on_json, &st, err, errsize);
    pufa_text_free(&text);
    return clean_error(rc, err, errsize);
}

int pufa_intake_parse(pufa_intake_format fmt, const char *buf, size_t len,
                      const pufa_validate_ctx *vctx, pufa_intake_fn fn, void *ctx, char *err,
                      size_t errsize) {
    return pufa_intake_parse_text(fmt, PUFA_ENC_AUTO, buf, len, vctx, fn, ctx, NULL, err, errsize);
}
