#include "accept.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "report_json.h"
#include "wire.h"

typedef struct {
    accept_ctx *ctx;
    accept_result *out;
    uint8_t **payloads;
    size_t *lens;
    size_t n, cap;
    json_t **pending; /* result objects of good reports, state set after fsync */
    char **ids;       /* their report ids (heap) and revisions, for the states */
    uint32_t *revs;
    pufa_buf messages;
    int64_t now_ms;
} run;

static json_t *errors_json(const pufa_errors *errs) {
    json_t *a = json_array();
    for (int i = 0; i < errs->count; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "field", pufa_json_text(errs->e[i].field));
        json_object_set_new(e, "message", pufa_json_text(errs->e[i].message));
        json_array_append_new(a, e);
    }
    return a;
}

/* One item of the body: refused (why goes to the results and messages), or
 * encoded and kept for the spool. */
static void take(run *r, const pufa_intake_item *item) {
    json_t *res = json_object();
    json_object_set_new(res, "index", json_integer((json_int_t)item->index));
    if (item->line)
        json_object_set_new(res, "line", json_integer((json_int_t)item->line));
    pufa_report *rep = item->report;
    if (rep->report_id)
        json_object_set_new(res, "report_id", pufa_json_text(rep->report_id));
    if (rep->revision > 0)
        json_object_set_new(res, "revision", json_integer(rep->revision));
    bool ok = item->ok;
    pufa_errors extra;
    pufa_errors_init(&extra);
    const pufa_errors *errs = item->errs;
    const char *message = item->message;
    char msg[600];
    /* A well-formed code of another county: say why it is refused here. */
    bool other_county = rep->county_code && pufa_orgunit_code_valid(rep->county_code) &&
                        r->ctx->county && strcmp(rep->county_code, r->ctx->county) != 0;
    if (!ok && other_county && pufa_errors_has(item->errs, "county_code")) {
        extra = *item->errs;
        for (int i = 0; i < extra.count; i++)
            if (!strcmp(extra.e[i].field, "county_code"))
                snprintf(extra.e[i].message, sizeof extra.e[i].message,
                         "this collector takes reports for county %s only (got %s)", r->ctx->county,
                         rep->county_code);
        errs = &extra;
        char detail[500], where[32];
        if (item->line)
            snprintf(where, sizeof where, "line %zu", item->line);
        else
            snprintf(where, sizeof where, "item %zu", item->index + 1);
        snprintf(msg, sizeof msg, "%s: %s", where,
                 pufa_errors_format(&extra, detail, sizeof detail));
        message = msg;
    } else if (ok && other_county) {
        pufa_errors_add(&extra, "county_code",
                        "this collector takes reports for county %s only (got %s)", r->ctx->county,
                        rep->county_code);
        errs = &extra;
        ok = false;
        char where[32];
        if (item->line)
            snprintf(where, sizeof where, "line %zu", item->line);
        else
            snprintf(where, sizeof where, "item %zu", item->index + 1);
        snprintf(msg, sizeof msg, "%s: county_code: %s", where, extra.e[0].message);
        message = msg;
    }
    if (!ok) {
        json_object_set_new(res, "state", json_string("rejected"));
        json_object_set_new(res, "errors", errors_json(errs));
        r->out->rejected++;
        pufa_buf_printf(&r->messages, "%s\n", message ? message : "invalid report");
        json_array_append_new(r->out->results, res);
        return;
    }
    rep->received_at_ms = r->now_ms;
    size_t len;
    uint8_t *payload = pufa_report_encode(rep, &len);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->payloads = pufa_realloc(r->payloads, r->cap * sizeof *r->payloads);
        r->lens = pufa_realloc(r->lens, r->cap * sizeof *r->lens);
        r->pending = pufa_realloc(r->pending, r->cap * sizeof *r->pending);
        r->ids = pufa_realloc(r->ids, r->cap * sizeof *r->ids);
        r->revs = pufa_realloc(r->revs, r->cap * sizeof *r->revs);
    }
    r->ids[r->n] = pufa_strdup(rep->report_id);
    r->revs[r->n] = (uint32_t)rep->revision;
    r->payloads[r->n] = payload;
    r->lens[r->n] = len;
    r->pending[r->n] = res;
    r->n++;
    json_array_append_new(r->out->results, res);
}

int accept_body(accept_ctx *ctx, pufa_intake_format fmt, pufa_encoding declared, const char *buf,
                size_t len, accept_result *out) {
    memset(out, 0, sizeof *out);
    out->results = json_array();
    run r = {.ctx = ctx, .out = out, .now_ms = pufa_now_ms()};
    pufa_buf_init(&r.messages);
    pufa_validate_ctx v = {.orgunits = ctx->orgunits, .today = pufa_city_day(r.now_ms)};
    pufa_intake_reader *rd;
    int rc = pufa_intake_open(fmt, declared, buf, len, &v, &rd, &out->encoding, out->error,
                              sizeof out->error);
    if (rc == 0) {
        const pufa_intake_item *item;
        while ((item = pufa_intake_next(rd)))
            take(&r, item);
        rc = pufa_intake_close(&rd, out->error, sizeof out->error);
    }
    if (rc == 0 && r.n > 0) {
        spool_lsn end = 0;
        rc = spool_append(ctx->sp, (const uint8_t *const *)r.payloads, r.lens, r.n, &end);
        if (rc == 0)
            rc = spool_wait_durable(ctx->sp, end);
        if (rc == 0) {
            out->accepted = r.n;
            for (size_t i = 0; i < r.n; i++) {
                json_t *res = r.pending[i];
                json_object_set_new(res, "state", json_string("spooled"));
                states_set(ctx->st, r.ids[i], r.revs[i], DS_SPOOLED);
            }
        } else {
            out->spool_rc = rc;
            for (size_t i = 0; i < r.n; i++)
                json_object_set_new(r.pending[i], "state", json_string("not_accepted"));
            rc = 0;
        }
    } else if (rc) {
        /* Unreadable as a whole: nothing was accepted. */
        out->rejected = 0;
    }
    for (size_t i = 0; i < r.n; i++) {
        free(r.payloads[i]);
        free(r.ids[i]);
    }
    free(r.payloads);
    free(r.ids);
    free(r.revs);
    free(r.lens);
    free(r.pending);
    out->messages = pufa_buf_steal(&r.messages);
    return rc;
}

void accept_result_free(accept_result *r) {
    json_decref(r->results);
    free(r->messages);
    memset(r, 0, sizeof *r);
}
