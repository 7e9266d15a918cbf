#include "proxy.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "httpc.h"
#include "log.h"

void pub_proxy_body_add(pub_proxy_body *b, const char *data, size_t len) {
    if (b->too_big || len > PROXY_MAX_BODY - b->len) {
        b->too_big = true;
        return;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static int own_error(int status, const char *msg, char **answer, size_t *len) {
    json_t *o = json_pack("{s:s}", "error", msg);
    *answer = json_dumps(o, JSON_COMPACT | JSON_ESCAPE_SLASH);
    *len = strlen(*answer);
    json_decref(o);
    return status;
}

int pub_proxy_forward(const char *url, int64_t timeout_ms, const char *basic, const char *body,
                      size_t len, char **answer, size_t *answer_len) {
    char msg[600];
    if (!url || !*url)
        return own_error(503,
                         "approvals: this publisher forwards no approvals (approvals_url is not "
                         "set); use the aggregator's POST /v1/approvals or pufa approve",
                         answer, answer_len);
    /* Only the credential goes along: at most one header line, no CR/LF
     * (microhttpd has split the lines already; a value with one is refused). */
    if (basic &&
        (strncmp(basic, "Basic ", 6) != 0 || strpbrk(basic, "\r\n") || strlen(basic) > 1024))
        basic = NULL;
    char *headers =
        pufa_asprintf("Content-Type: application/json\r\n%s%s%s", basic ? "Authorization: " : "",
                      basic ? basic : "", basic ? "\r\n" : "");
    char *target = pufa_asprintf("%s/v1/approvals", url);
    pufa_http_response r = {0};
    int rc =
        pufa_http_request("POST", target, headers, body, len, (int)timeout_ms, &r, msg, sizeof msg);
    free(headers);
    free(target);
    if (rc) {
        pufa_buf_free(&r.body);
        char q[700];
        PLOG_WARN("PUB-APPROVALS-FORWARD", "url=%s msg=%s", url, pufa_log_quote(q, sizeof q, msg));
        char why[800];
        snprintf(why, sizeof why, "approvals: the aggregator at %s %s: %s", url,
                 rc == PUFA_ETIMEDOUT ? "did not answer in time" : "cannot be reached", msg);
        return own_error(rc == PUFA_ETIMEDOUT ? 504 : 502, why, answer, answer_len);
    }
    *answer_len = r.body.len;
    *answer = r.body.data ? pufa_buf_steal(&r.body) : pufa_strdup("");
    pufa_buf_free(&r.body);
    return r.status;
}
