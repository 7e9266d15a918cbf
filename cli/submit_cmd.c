/* pufa submit: sends report files (JSON, JSON Lines, CSV, XLSX) to a collector in
 * chunks, with a progress bar on a terminal and a summary; exits non-zero
 * if anything was rejected. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "error.h"
#include "file.h"
#include "httpc.h"
#include "intake.h"
#include "keyfile.h"
#include "report_csv.h"
#include "report_json.h"
#include "report_xlsx.h"
#include "textenc.h"

typedef struct item {
    const char *file;
    size_t line; /* 0 = JSON array element */
    size_t index;
    json_t *obj;  /* what is sent; NULL when refused locally */
    char *error;  /* local refusal */
    bool spooled; /* accepted by the collector: --wait follows it */
} item;

typedef struct items {
    item *v;
    size_t n, cap;
    const char *file;
} items;

static item *push(items *l) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = pufa_realloc(l->v, l->cap * sizeof *l->v);
    }
    item *it = &l->v[l->n++];
    memset(it, 0, sizeof *it);
    it->file = l->file;
    return it;
}

static void on_json(void *ctx, size_t index, size_t line, const json_t *elem, const char *msg) {
    items *l = ctx;
    item *it = push(l);
    it->line = line;
    it->index = index;
    if (elem)
        it->obj = json_deep_copy(elem); /* sent as written: the collector judges it */
    else
        it->error = pufa_asprintf("report: %s", msg ? msg : "not valid JSON");
}

static void on_csv(void *ctx, size_t line, pufa_report *r, pufa_errors *errs) {
    items *l = ctx;
    item *it = push(l);
    it->line = line;
    if (errs->count) {
        char buf[900];
        it->error = pufa_strdup(pufa_errors_format(errs, buf, sizeof buf));
    } else {
        it->obj = pufa_report_to_json(r);
    }
}

static void where(const item *it, char *buf, size_t size) {
    if (it->line)
        snprintf(buf, size, "%s:%zu", it->file, it->line);
    else
        snprintf(buf, size, "%s: item %zu", it->file, it->index + 1);
}

static void progress(size_t done, size_t total, bool tty) {
    if (!tty || !total)
        return;
    int width = 30, fill = (int)((double)done / (double)total * width);
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %zu/%zu reports", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --wait: follows every spooled report at the collector's status API
 * until the aggregator's answer (or wait_ms passes) and prints the refused
 * ones ("FILE:LINE: locked: occurred_on: period 2026-10 ... is approved").
 * Counts into final[] by outcome; returns how many got no answer. */
enum { FIN_COMMITTED, FIN_UNCHANGED, FIN_REJECTED, FIN_LOCKED, FIN_N };
static size_t wait_final(items *all, const char *url, const char *headers, int64_t wait_ms,
                         size_t final[FIN_N], pufa_buf *out) {
    size_t pending = 0;
    for (size_t i = 0; i < all->n; i++)
        pending += all->v[i].spooled;
    int64_t deadline = mono_ms() + wait_ms;
    while (pending && mono_ms() < deadline) {
        for (size_t i = 0; i < all->n && mono_ms() < deadline; i++) {
            item *it = &all->v[i];
            if (!it->spooled)
                continue;
            const char *id = json_string_value(json_object_get(it->obj, "report_id"));
            json_int_t rev = json_integer_value(json_object_get(it->obj, "revision"));
            char *get = pufa_asprintf("%s/v1/reports/%s", url, id ? id : "");
            pufa_http_response resp;
            char err[256];
            int hrc =
                pufa_http_request("GET", get, headers, NULL, 0, 10000, &resp, err, sizeof err);
            free(get);
            if (hrc)
                continue;
            json_error_t jerr;
            json_t *doc = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, &jerr);
            pufa_buf_free(&resp.body);
            const char *st = json_string_value(json_object_get(doc, "state"));
            if (resp.status == 200 && st &&
                json_integer_value(json_object_get(doc, "revision")) == rev &&
                strcmp(st, "spooled") && strcmp(st, "in_flight")) {
                it->spooled = false;
                pending--;
                if (!strcmp(st, "committed")) {
                    final[FIN_COMMITTED]++;
                } else if (!strcmp(st, "locked") || !strcmp(st, "rejected")) {
                    final[st[0] == 'l' ? FIN_LOCKED : FIN_REJECTED]++;
                    const char *why = json_string_value(json_object_get(doc, "reason"));
                    char w[300];
                    where(it, w, sizeof w);
                    pufa_buf_printf(out, "%s: %s: %s\n", w, st, why ? why : "no reason given");
                } else {
                    final[FIN_UNCHANGED]++; /* duplicate or stale */
                }
            }
            json_decref(doc);
        }
        if (pending)
            sleep_ms(200);
    }
    return pending;
}

int cmd_submit(int argc, char **argv) {
    char *url = NULL, *token_file = NULL, *encoding = NULL;
    int64_t batch = 0, retries = 0, timeout = 0, wait_ms = 0;
    bool quiet = false;
    pufa_cfg_opt opts[] = {
        {"url", PUFA_CFG_STRING, &url, "http://127.0.0.1:7700", 0, 0,
         "the collector's HTTP address", 0},
        {"token_file", PUFA_CFG_STRING, &token_file, "", 0, 0,
         "file holding the collector's bearer token", 0},
        {"batch", PUFA_CFG_INT, &batch, "500", 1, 10000, "reports per request", 0},
        {"retries", PUFA_CFG_INT, &retries, "8", 0, 1000,
         "retries of a request the collector cannot take now (503, connection refused)", 0},
        {"timeout", PUFA_CFG_MS, &timeout, "60s", 100, 3600000, "per-request timeout", 0},
        {"quiet", PUFA_CFG_BOOL, &quiet, "false", 0, 0, "no progress bar", 0},
        {"wait", PUFA_CFG_MS, &wait_ms, "0", 0, 86400000,
         "then wait up to this long for the aggregator's answer to each report and print the "
         "locked and rejected ones with their reasons (0: do not wait)",
         0},
        {"encoding", PUFA_CFG_STRING, &encoding, "auto", 0, 0,
         "the files' text encoding: utf-8, gb18030 (also GBK/GB2312) or auto (UTF-8, else "
         "GB18030; CSV only)",
         0},
    };
    /* FILE arguments are the ones not starting with "--" (and not values). */
    char **files = pufa_calloc((size_t)argc, sizeof(char *));
    char **rest = pufa_calloc((size_t)argc + 1, sizeof(char *));
    int nfiles = 0, nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--", 2)) {
            rest[nrest++] = argv[i];
            bool takes_value = !strchr(argv[i], '=') && strcmp(argv[i], "--help") &&
                               strcmp(argv[i], "--version") && strcmp(argv[i], "--quiet") &&
                               strcmp(argv[i], "--check-config");
            if (takes_value && i + 1 < argc)
                rest[nrest++] = argv[++i];
        } else {
            files[nfiles++] = argv[i];
        }
    }
    pufa_cfg cfg = {.program = "pufa submit",
                    .summary = "send report files to a collector; usage: pufa submit [OPTIONS] "
                               "FILE...",
                    .section = "submit",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int rc = pufa_cfg_load(&cfg, nrest, rest);
    char *token = NULL;
    items all = {0};
    if (rc) {
        rc -= 1;
        goto out;
    }
    if (nfiles == 0) {
        fprintf(stderr, "pufa submit: name at least one FILE (JSON, JSONL, CSV or XLSX)\n");
        rc = EX_USAGE_;
        goto out;
    }
    char err[512];
    pufa_encoding declared;
    if (pufa_encoding_parse(encoding, &declared)) {
        fprintf(stderr, "pufa submit: --encoding: want utf-8, gb18030 or auto (got %s)\n",
                encoding);
        rc = EX_USAGE_;
        goto out;
    }
    if (*token_file && pufa_read_secret_line(token_file, 1, &token, err, sizeof err)) {
        fprintf(stderr, "pufa submit: %s\n", err);
        rc = EX_CONFIG_;
        goto out;
    }
    /* Read and decode every file first: errors point at file lines. */
    for (int f = 0; f < nfiles; f++) {
        char *body;
        size_t len;
        if (pufa_read_file(files[f], 0, &body, &len, NULL, 0)) {
            fprintf(stderr, "pufa submit: cannot read %s\n", files[f]);
            rc = EX_IOERR_;
            goto out;
        }
        all.file = files[f];
        pufa_intake_format fmt = pufa_intake_guess_format(files[f], body, len);
        /* Decoded here as at every door (JSON only when declared): the
         * collector is sent UTF-8 JSON.  A workbook's rows keep Excel's
         * row numbers. */
        pufa_text text = {.data = body, .len = len, .encoding = PUFA_ENC_UTF8};
        int prc = fmt != PUFA_FMT_XLSX && (fmt == PUFA_FMT_CSV || declared != PUFA_ENC_AUTO)
                      ? pufa_decode_text(body, len, declared, &text, err, sizeof err)
                      : 0;
        if (prc == 0 && text.encoding == PUFA_ENC_GB18030)
            printf("%s: read as GB18030 (not UTF-8)\n", files[f]);
        if (prc == 0 && fmt == PUFA_FMT_XLSX)
            prc = pufa_xlsx_each_report(body, len, NULL, on_csv, &all, err, sizeof err);
        else if (prc == 0)
            prc =
                fmt == PUFA_FMT_CSV
                    ? pufa_csv_each_report(text.data, text.len, on_csv, &all, err, sizeof err)
                    : pufa_json_each_report(text.data, text.len, 1, on_json, &all, err, sizeof err);
        pufa_text_free(&text);
        free(body);
        if (prc) {
            fprintf(stderr, "pufa submit: %s: %s\n", files[f], err);
            rc = EX_DATAERR_;
            goto out;
        }
    }
    char *headers = token ? pufa_asprintf("Authorization: Bearer %s\r\nContent-Type: "
                                          "application/json\r\n",
                                          token)
                          : pufa_strdup("Content-Type: application/json\r\n");
    bool tty = !quiet && isatty(2);
    size_t accepted = 0, rejected = 0, done = 0;
    pufa_buf rejects;
    pufa_buf_init(&rejects);
    progress(0, all.n, tty);
    for (size_t start = 0; start < all.n && rc == 0;) {
        /* A chunk of up to `batch` items that can be sent. */
        json_t *arr = json_array();
        size_t *map = pufa_calloc((size_t)batch, sizeof *map);
        size_t k = 0, i = start;
        for (; i < all.n && k < (size_t)batch; i++) {
            if (all.v[i].error) {
                char w[300];
                where(&all.v[i], w, sizeof w);
                pufa_buf_printf(&rejects, "%s: %s\n", w, all.v[i].error);
                rejected++;
                done++;
                continue;
            }
            json_array_append(arr, all.v[i].obj);
            map[k++] = i;
        }
        start = i;
        if (k == 0) {
            json_decref(arr);
            free(map);
            progress(done, all.n, tty);
            continue;
        }
        char *body = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        pufa_http_response resp;
        char *post_url = pufa_asprintf("%s/v1/reports", url);
        int attempt = 0;
        for (;;) {
            int hrc = pufa_http_request("POST", post_url, headers, body, strlen(body), (int)timeout,
                                        &resp, err, sizeof err);
            bool retry = (hrc == PUFA_EIO) || (hrc == 0 && resp.status == 503);
            if (!retry || attempt >= retries) {
                if (hrc) {
                    fprintf(stderr, "%spufa submit: %s\n", tty ? "\n" : "", err);
                    rc = EX_UNAVAILABLE_;
                }
                break;
            }
            pufa_buf_free(&resp.body);
            int wait = 500 << (attempt < 6 ? attempt : 6);
            attempt++;
            sleep_ms(wait);
        }
        free(post_url);
        free(body);
        if (rc) {
            free(map);
            break;
        }
        json_error_t jerr;
        json_t *doc = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, &jerr);
        json_t *results = json_object_get(doc, "results");
        if (resp.status == 401 || resp.status == 413 || resp.status == 503 || !results) {
            const char *msg = json_string_value(json_object_get(doc, "error"));
            fprintf(stderr, "%spufa submit: the collector answered %d: %s\n", tty ? "\n" : "",
                    resp.status, msg ? msg : "(no details)");
            rc = resp.status == 503 ? EX_TEMPFAIL_ : EX_UNAVAILABLE_;
        } else {
            size_t idx;
            json_t *res;
            json_array_foreach(results, idx, res) {
                if (idx >= k)
                    break;
                const char *state = json_string_value(json_object_get(res, "state"));
                if (state && !strcmp(state, "spooled")) {
                    accepted++;
                    all.v[map[idx]].spooled = true;
                } else {
                    rejected++;
                    char w[300];
                    where(&all.v[map[idx]], w, sizeof w);
                    pufa_buf_printf(&rejects, "%s:", w);
                    size_t e;
                    json_t *er;
                    json_array_foreach(json_object_get(res, "errors"), e, er)
                        pufa_buf_printf(&rejects, "%s %s: %s", e ? ";" : "",
                                        json_string_value(json_object_get(er, "field")),
                                        json_string_value(json_object_get(er, "message")));
                    pufa_buf_putc(&rejects, '\n');
                }
                done++;
            }
        }
        json_decref(doc);
        pufa_buf_free(&resp.body);
        free(map);
        progress(done, all.n, tty);
    }
    size_t final[FIN_N] = {0}, unanswered = 0;
    if (rc == 0 && wait_ms > 0)
        unanswered = wait_final(&all, url, headers, wait_ms, final, &rejects);
    free(headers);
    if (rejects.len)
        fputs(rejects.data, stdout);
    printf("summary: %zu accepted, %zu rejected, %zu reports in %d file%s\n", accepted, rejected,
           all.n, nfiles, nfiles == 1 ? "" : "s");
    if (wait_ms > 0)
        printf("answers: %zu committed, %zu unchanged (duplicate or stale), %zu locked, %zu "
               "rejected, %zu not answered yet\n",
               final[FIN_COMMITTED], final[FIN_UNCHANGED], final[FIN_LOCKED], final[FIN_REJECTED],
               unanswered);
    pufa_buf_free(&rejects);
    if (rc == 0 && (rejected || final[FIN_LOCKED] || final[FIN_REJECTED]))
        rc = EX_DATAERR_;
    else if (rc == 0 && unanswered)
        rc = EX_TEMPFAIL_;
out:
    for (size_t i = 0; i < all.n; i++) {
        json_decref(all.v[i].obj);
        free(all.v[i].error);
    }
    free(all.v);
    free(token);
    free(files);
    free(rest);
    pufa_cfg_free(&cfg);
    return rc;
}
