#include "http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "alloc.h"
#include "date.h"
#include "entry.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "report_json.h"
#include "status_http.h"
#include "template.h"

struct col_http {
    http_config cfg;
    char *token;
    accept_ctx *actx;
    sender *snd;
    pufa_http *srv;
    pthread_mutex_t mu;
    uint64_t requests[6]; /* 2xx 400 401 413 503 other */
    uint64_t accepted, rejected;
};

typedef struct req {
    pufa_buf body;
    bool too_big;
} req;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"pufa-collector\"");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static void count(col_http *h, unsigned status) {
    int k = status < 300    ? 0
            : status == 400 ? 1
            : status == 401 ? 2
            : status == 413 ? 3
            : status == 503 ? 4
                            : 5;
    pthread_mutex_lock(&h->mu);
    h->requests[k]++;
    pthread_mutex_unlock(&h->mu);
}

static enum MHD_Result reply_json(col_http *h, struct MHD_Connection *c, unsigned status,
                                  json_t *o) {
    count(h, status);
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    size_t len = strlen(text);
    char *body = pufa_malloc(len + 2);
    memcpy(body, text, len);
    body[len] = '\n';
    free(text);
    return reply(c, status, "application/json; charset=utf-8", body, len + 1);
}

static enum MHD_Result reply_error(col_http *h, struct MHD_Connection *c, unsigned status,
                                   const char *msg) {
    json_t *o = json_object();
    json_object_set_new(o, "error", pufa_json_text(msg));
    return reply_json(h, c, status, o);
}

/* Constant-time comparison, so the token cannot be guessed byte by byte. */
static bool token_ok(col_http *h, struct MHD_Connection *c) {
    if (!h->token || !*h->token)
        return true;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    size_t a = strlen(given), b = strlen(h->token);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned)(given[i % (a ? a : 1)] ^ h->token[i]);
    return diff == 0 && a == b;
}

static enum MHD_Result post_reports(col_http *h, struct MHD_Connection *c, req *r) {
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    pufa_intake_format fmt = pufa_intake_guess_format(ctype, r->body.data, r->body.len);
    pufa_encoding declared;
    char cerr[128];
    if (pufa_encoding_from_content_type(ctype, &declared, cerr, sizeof cerr))
        return reply_error(h, c, 415, cerr);
    accept_result res;
    int rc =
        accept_body(h->actx, fmt, declared, r->body.data ? r->body.data : "", r->body.len, &res);
    if (rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "unreadable body: %s", res.error);
        accept_result_free(&res);
        /* A workbook past a limit (report_xlsx.h) is too large, not malformed. */
        return reply_error(h, c, rc == PUFA_ETOOBIG ? 413 : 400, msg);
    }
    if (res.spool_rc) {
        char msg[300];
        if (res.spool_rc == PUFA_EQUOTA)
            snprintf(msg, sizeof msg,
                     "spool quota reached (%lld bytes): the aggregator is unreachable or "
                     "behind; nothing in this request was accepted, retry later",
                     (long long)h->cfg.quota_bytes);
        else if (res.spool_rc == PUFA_ENOSPC)
            snprintf(msg, sizeof msg,
                     "the spool's disk is full; nothing in this request was "
                     "accepted, retry later");
        else
            snprintf(msg, sizeof msg,
                     "the spool failed and intake has stopped; nothing in "
                     "this request was accepted (operators: see the log)");
        accept_result_free(&res);
        return reply_error(h, c, 503, msg);
    }
    pthread_mutex_lock(&h->mu);
    h->accepted += res.accepted;
    h->rejected += res.rejected;
    pthread_mutex_unlock(&h->mu);
    json_t *o = json_object();
    json_object_set_new(o, "accepted", json_integer((json_int_t)res.accepted));
    json_object_set_new(o, "rejected", json_integer((json_int_t)res.rejected));
    json_object_set(o, "results", res.results);
    /* Say how the body was read: a GB18030 file decoded is worth knowing. */
    json_object_set_new(o, "encoding", json_string(pufa_encoding_name(res.encoding)));
    unsigned status = 202;
    if (res.rejected || res.accepted == 0) {
        status = 400;
        json_object_set_new(o, "error",
                            json_string(res.accepted + res.rejected == 0
                                            ? "the body holds no reports"
                                            : "some reports were rejected: see results; the "
                                              "others were accepted"));
    }
    accept_result_free(&res);
    return reply_json(h, c, status, o);
}

static enum MHD_Result get_report(col_http *h, struct MHD_Connection *c, const char *id) {
    uint32_t rev;
    char reason[512];
    delivery_state st = states_get(h->actx->st, id, &rev, reason, sizeof reason);
    if (st == DS_UNKNOWN)
        return reply_error(h, c, 404, "unknown report id (not received by this collector)");
    json_t *o = json_object();
    json_object_set_new(o, "report_id", pufa_json_text(id));
    json_object_set_new(o, "revision", json_integer(rev));
    json_object_set_new(o, "state", json_string(delivery_state_name(st)));
    if (st == DS_REJECTED || st == DS_LOCKED)
        json_object_set_new(o, "reason", pufa_json_text(reason));
    return reply_json(h, c, 200, o);
}

/* The link as an operator needs it: "up" (connected and answered within 3
 * heartbeat periods), "unanswered" (connected, but the aggregator has not
 * answered for 3 periods: stuck), or "down" (no connection). */
typedef struct link_view {
    const char *state;
    int64_t now_ms, last_answer_ms, oldest_ms;
    uint64_t pending;
    sender_stats st;
} link_view;

static void get_link(col_http *h, link_view *v) {
    sender_get_stats(h->snd, &v->st);
    spool_stats ss;
    spool_get_stats(h->actx->sp, &ss);
    v->now_ms = pufa_now_ms();
    v->last_answer_ms = v->st.last_ack_ms > v->st.last_heartbeat_answer_ms
                            ? v->st.last_ack_ms
                            : v->st.last_heartbeat_answer_ms;
    v->pending = ss.records;
    v->oldest_ms = ss.records ? v->st.oldest_unacked_ms : 0;
    if (!v->st.connected)
        v->state = "down";
    else if (v->last_answer_ms && v->now_ms - v->last_answer_ms <= 3 * h->cfg.heartbeat_ms)
        v->state = "up";
    else
        v->state = "unanswered";
}

/* "2026-11-27T13:45:01.234Z", or JSON null for 0. */
static json_t *json_time(int64_t ms) {
    if (ms <= 0)
        return json_null();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[80];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(buf);
}

static json_t *json_age(int64_t now_ms, int64_t ms) {
    return ms > 0 ? json_real((double)(now_ms - ms) / 1e3) : json_null();
}

static enum MHD_Result get_status(col_http *h, struct MHD_Connection *c) {
    link_view v;
    get_link(h, &v);
    json_t *o = json_object();
    json_object_set_new(o, "county", json_string(h->cfg.county ? h->cfg.county : ""));
    json_object_set_new(o, "collector_id",
                        pufa_json_text(h->cfg.collector_id ? h->cfg.collector_id : ""));
    json_object_set_new(o, "aggregator",
                        pufa_json_text(h->cfg.aggregator ? h->cfg.aggregator : ""));
    json_object_set_new(o, "link", json_string(v.state));
    json_object_set_new(o, "connected", json_boolean(v.st.connected));
    json_object_set_new(o, "last_answer_at", json_time(v.last_answer_ms));
    json_object_set_new(o, "last_answer_age_s", json_age(v.now_ms, v.last_answer_ms));
    json_object_set_new(o, "last_ack_at", json_time(v.st.last_ack_ms));
    json_object_set_new(o, "last_heartbeat_at", json_time(v.st.last_heartbeat_ms));
    json_object_set_new(o, "last_heartbeat_answer_at", json_time(v.st.last_heartbeat_answer_ms));
    json_object_set_new(o, "heartbeat_ms", json_integer((json_int_t)h->cfg.heartbeat_ms));
    json_object_set_new(o, "pending", json_integer((json_int_t)v.pending));
    json_object_set_new(o, "in_flight", json_integer((json_int_t)v.st.in_flight_reports));
    json_object_set_new(o, "oldest_pending_at", json_time(v.oldest_ms));
    json_object_set_new(o, "oldest_pending_age_s", json_age(v.now_ms, v.oldest_ms));
    spool_stats ss;
    spool_get_stats(h->actx->sp, &ss);
    json_object_set_new(o, "spool_broken", json_boolean(ss.broken));
    return reply_json(h, c, 200, o);
}

static enum MHD_Result get_metrics(col_http *h, struct MHD_Connection *c) {
    pufa_buf b;
    pufa_buf_init(&b);
    spool_stats ss;
    spool_get_stats(h->actx->sp, &ss);
    sender_stats st;
    sender_get_stats(h->snd, &st);
    pufa_metric_help(&b, "pufa_collector_spool_reports", "gauge",
                     "Reports in the spool not yet acknowledged by the aggregator.");
    pufa_metric_u64(&b, "pufa_collector_spool_reports", NULL, ss.records);
    pufa_metric_help(&b, "pufa_collector_spool_bytes", "gauge", "Bytes of spool segments.");
    pufa_metric_u64(&b, "pufa_collector_spool_bytes", NULL, ss.bytes);
    pufa_metric_help(&b, "pufa_collector_spool_fsyncs_total", "counter",
                     "fdatasync calls (each covers every report appended meanwhile).");
    pufa_metric_u64(&b, "pufa_collector_spool_fsyncs_total", NULL, ss.fsyncs);
    pufa_metric_help(&b, "pufa_collector_spool_broken", "gauge",
                     "1 after a failed fsync or write: intake has stopped.");
    pufa_metric_u64(&b, "pufa_collector_spool_broken", NULL, ss.broken);
    pufa_metric_help(&b, "pufa_collector_spool_bad_records_total", "counter",
                     "Spool records with a bad CRC since start, cut at open or skipped on read "
                     "(each a lost report; COL-SPOOL-BAD-RECORD names its position).");
    pufa_metric_u64(&b, "pufa_collector_spool_bad_records_total", NULL, ss.bad_records);
    pufa_metric_help(&b, "pufa_collector_oldest_unacked_seconds", "gauge",
                     "Age of the oldest report sent but not yet acknowledged.");
    pufa_metric_f64(&b, "pufa_collector_oldest_unacked_seconds", NULL,
                    st.oldest_unacked_ms ? (double)(pufa_now_ms() - st.oldest_unacked_ms) / 1e3
                                         : 0.0);
    pufa_metric_help(&b, "pufa_collector_batches_total", "counter", "Batches by event.");
    pufa_metric_u64(&b, "pufa_collector_batches_total", "event=\"sent\"", st.batches_sent);
    pufa_metric_u64(&b, "pufa_collector_batches_total", "event=\"resent\"", st.batches_resent);
    pufa_metric_u64(&b, "pufa_collector_batches_total", "event=\"acked\"", st.batches_acked);
    pufa_metric_help(&b, "pufa_collector_reports_total", "counter",
                     "Reports by outcome: accepted/refused at intake, then the aggregator's "
                     "answer.");
    pthread_mutex_lock(&h->mu);
    pufa_metric_u64(&b, "pufa_collector_reports_total", "outcome=\"accepted\"", h->accepted);
    pufa_metric_u64(&b, "pufa_collector_reports_total", "outcome=\"refused_at_intake\"",
                    h->rejected);
    uint64_t reqs[6];
    memcpy(reqs, h->requests, sizeof reqs);
    pthread_mutex_unlock(&h->mu);
    pufa_metric_u64(&b, "pufa_collector_reports_total", "outcome=\"committed\"", st.committed);
    pufa_metric_u64(&b, "pufa_collector_reports_total", "outcome=\"duplicate\"", st.duplicate);
    pufa_metric_u64(&b, "pufa_collector_reports_total", "outcome=\"stale\"", st.stale);
    pufa_metric_u64(&b, "pufa_collector_reports_total", "outcome=\"rejected\"", st.rejected);
    pufa_metric_u64(&b, "pufa_collector_reports_total", "outcome=\"locked\"", st.locked);
    pufa_metric_help(&b, "pufa_collector_in_flight_reports", "gauge",
                     "Reports sent and awaiting an ack.");
    pufa_metric_u64(&b, "pufa_collector_in_flight_reports", NULL, st.in_flight_reports);
    pufa_metric_help(&b, "pufa_collector_aggregator_connected", "gauge",
                     "1 while connected to the aggregator.");
    pufa_metric_u64(&b, "pufa_collector_aggregator_connected", NULL, st.connected);
    link_view v;
    get_link(h, &v);
    pufa_metric_help(&b, "pufa_collector_link_up", "gauge",
                     "1 while connected and the aggregator answered within 3 heartbeat periods.");
    pufa_metric_u64(&b, "pufa_collector_link_up", NULL, !strcmp(v.state, "up"));
    pufa_metric_help(&b, "pufa_collector_last_answer_age_seconds", "gauge",
                     "Since the aggregator last answered a batch or heartbeat (-1: never).");
    pufa_metric_f64(&b, "pufa_collector_last_answer_age_seconds", NULL,
                    v.last_answer_ms ? (double)(v.now_ms - v.last_answer_ms) / 1e3 : -1.0);
    pufa_metric_help(&b, "pufa_collector_oldest_pending_seconds", "gauge",
                     "Age of the oldest report waiting in the spool (0: none waiting).");
    pufa_metric_f64(&b, "pufa_collector_oldest_pending_seconds", NULL,
                    v.oldest_ms ? (double)(v.now_ms - v.oldest_ms) / 1e3 : 0.0);
    pufa_metric_help(&b, "pufa_collector_heartbeats_total", "counter",
                     "Idle heartbeats (empty batches) by event.");
    pufa_metric_u64(&b, "pufa_collector_heartbeats_total", "event=\"sent\"", v.st.heartbeats_sent);
    pufa_metric_u64(&b, "pufa_collector_heartbeats_total", "event=\"answered\"",
                    v.st.heartbeats_answered);
    pufa_metric_help(&b, "pufa_collector_http_requests_total", "counter",
                     "HTTP requests by status class.");
    static const char *const codes[] = {"2xx", "400", "401", "413", "503", "other"};
    for (int i = 0; i < 6; i++) {
        char label[32];
        snprintf(label, sizeof label, "code=\"%s\"", codes[i]);
        pufa_metric_u64(&b, "pufa_collector_http_requests_total", label, reqs[i]);
    }
    pufa_http_metrics(h->srv, &b, "pufa_collector");
    size_t len = b.len;
    return reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", pufa_buf_steal(&b), len);
}

/* The template: fresh report ids on every download. */
static enum MHD_Result get_template(col_http *h, struct MHD_Connection *c) {
    pufa_template_opts o = {.county_code = h->cfg.county,
                            .county_name = h->cfg.county_name,
                            .units_csv = h->cfg.units_csv,
                            .rows = 200};
    pufa_buf b;
    pufa_buf_init(&b);
    char err[300];
    if (pufa_template_xlsx(&o, &b, err, sizeof err)) {
        pufa_buf_free(&b);
        PLOG_ERROR("COL-TEMPLATE", "msg=\"%s\"", err);
        return reply_error(h, c, 500, err);
    }
    count(h, 200);
    size_t len = b.len;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, pufa_buf_steal(&b), MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", PUFA_XLSX_CONTENT_TYPE);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    char disp[128];
    snprintf(
        disp, sizeof disp,
        "attachment; filename=\"pufa-template-%s.xlsx\"; filename*=UTF-8''pufa-template-%s.xlsx",
        h->cfg.county ? h->cfg.county : "", h->cfg.county ? h->cfg.county : "");
    MHD_add_response_header(r, "Content-Disposition", disp);
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg) {
    char *body = pufa_strdup(msg);
    return reply(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    col_http *h = cls;
    bool is_post = !strcmp(method, "POST");
    if (*con_cls == NULL) {
        /* First call: headers only.  Refuse early what we will refuse anyway. */
        req *r = pufa_calloc(1, sizeof *r);
        pufa_buf_init(&r->body);
        *con_cls = r;
        if (is_post && !strcmp(url, "/v1/reports")) {
            if (!token_ok(h, c))
                return reply_error(h, c, 401, "missing or wrong bearer token");
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
            if (cl && strtoll(cl, NULL, 10) > h->cfg.max_body) {
                char msg[128];
                snprintf(msg, sizeof msg, "body larger than %lld bytes: split it",
                         (long long)h->cfg.max_body);
                return reply_error(h, c, 413, msg);
            }
        }
        return MHD_YES;
    }
    req *r = *con_cls;
    if (*upload_size) {
        if (r->body.len + *upload_size > (size_t)h->cfg.max_body)
            r->too_big = true;
        if (!r->too_big)
            pufa_buf_append(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!strcmp(url, "/v1/reports")) {
        if (!is_post)
            return reply_error(h, c, 405, "use POST to send reports");
        if (!token_ok(h, c))
            return reply_error(h, c, 401, "missing or wrong bearer token");
        if (r->too_big) {
            char msg[128];
            snprintf(msg, sizeof msg, "body larger than %lld bytes: split it",
                     (long long)h->cfg.max_body);
            return reply_error(h, c, 413, msg);
        }
        return post_reports(h, c, r);
    }
    if (!strncmp(url, "/v1/reports/", 12)) {
        if (strcmp(method, "GET") != 0)
            return reply_error(h, c, 405, "use GET");
        if (!token_ok(h, c))
            return reply_error(h, c, 401, "missing or wrong bearer token");
        return get_report(h, c, url + 12);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text(c, 405, "method not allowed\n");
    const col_asset *page = entry_asset(url);
    if (page) { /* the data-entry page: no data in it, its API calls need the token */
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(page->len, (void *)page->data, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Type", page->content_type);
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(
            resp, "Content-Security-Policy",
            "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        enum MHD_Result rc = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return rc;
    }
    if (!strcmp(url, "/v1/entry/meta")) {
        if (!token_ok(h, c))
            return reply_error(h, c, 401, "missing or wrong bearer token");
        char err[300];
        char *body =
            entry_meta_json(h->cfg.county, h->cfg.county_name, h->cfg.units_csv, err, sizeof err);
        if (!body)
            return reply_error(h, c, 500, err);
        count(h, 200);
        return reply(c, 200, "application/json; charset=utf-8", body, strlen(body));
    }
    if (!strcmp(url, "/v1/template.xlsx")) {
        if (!token_ok(h, c))
            return reply_error(h, c, 401, "missing or wrong bearer token");
        return get_template(h, c);
    }
    if (!strcmp(url, "/metrics"))
        return get_metrics(h, c);
    if (!strcmp(url, "/v1/status"))
        return get_status(h, c);
    if (!strcmp(url, "/healthz"))
        return text(c, 200, "ok\n");
    if (!strcmp(url, "/readyz")) {
        spool_stats ss;
        spool_get_stats(h->actx->sp, &ss);
        if (ss.broken)
            return text(c, 503, "not ready: the spool failed; intake has stopped\n");
        if (ss.bytes >= (uint64_t)h->cfg.quota_bytes)
            return text(c, 503, "not ready: spool quota reached\n");
        return text(c, 200, "ready\n");
    }
    return text(c, 404,
                "not found: POST /v1/reports, GET /v1/reports/{id}, /v1/status, /v1/template.xlsx, "
                "/ (the data-entry page), /metrics, "
                "/healthz, /readyz\n");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    req *r = *con_cls;
    if (r) {
        pufa_buf_free(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

int col_http_open(const http_config *cfg, accept_ctx *actx, sender *snd, col_http **out, int *port,
                  char *err, size_t errsize) {
    col_http *h = pufa_calloc(1, sizeof *h);
    h->cfg = *cfg;
    h->token = cfg->token ? pufa_strdup(cfg->token) : NULL;
    h->actx = actx;
    h->snd = snd;
    pthread_mutex_init(&h->mu, NULL);
    int rc = pufa_http_start(cfg->addr, &cfg->limits, on_request, h, on_completed, h, &h->srv, port,
                             err, errsize);
    if (rc) {
        pthread_mutex_destroy(&h->mu);
        free(h->token);
        free(h);
        return rc == PUFA_EINVAL ? PUFA_ECONFIG : rc;
    }
    *out = h;
    return 0;
}

void col_http_close(col_http **ph) {
    if (!ph || !*ph)
        return;
    col_http *h = *ph;
    pufa_http_stop(&h->srv);
    pthread_mutex_destroy(&h->mu);
    free(h->token);
    free(h);
    *ph = NULL;
}
