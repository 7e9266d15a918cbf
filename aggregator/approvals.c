#include "approvals.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "log.h"
#include "periods.h"
#include "pg.h"
#include "report.h"
#include "report_json.h"
#include "utf8.h"

#define REASON_MAX_CHARS    500
#define APPROVAL_TIMEOUT_MS 10000

struct approvals {
    char *conninfo;
    PGconn *conn;                            /* the HTTP thread's own session: reads only */
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified against for unknown offices */
    pthread_mutex_t mu;                      /* guards pl, ou, home */
    pipeline *pl;
    const pufa_orgunits *ou;
    char home[7];
};

int approvals_new(const char *conninfo, approvals **out, char *err, size_t errsize) {
    if (sodium_init() < 0) {
        snprintf(err, errsize, "libsodium cannot start");
        return PUFA_ESYS;
    }
    approvals *a = pufa_calloc(1, sizeof *a);
    a->conninfo = pufa_strdup(conninfo);
    pthread_mutex_init(&a->mu, NULL);
    /* An unknown office costs as much as a wrong secret: no name oracle. */
    char random_secret[33];
    randombytes_buf(random_secret, 32);
    random_secret[32] = '\0';
    if (crypto_pwhash_str(a->dummy_hash, random_secret, 32, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        snprintf(err, errsize, "crypto_pwhash_str: out of memory");
        pthread_mutex_destroy(&a->mu);
        free(a->conninfo);
        free(a);
        return PUFA_ESYS;
    }
    *out = a;
    return 0;
}

void approvals_attach(approvals *a, pipeline *pl, const pufa_orgunits *ou, const char *home) {
    pthread_mutex_lock(&a->mu);
    a->pl = pl;
    a->ou = ou;
    pufa_copy(a->home, sizeof a->home, home);
    pthread_mutex_unlock(&a->mu);
}

void approvals_detach(approvals *a) {
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->pl = NULL;
    a->ou = NULL;
    pthread_mutex_unlock(&a->mu);
}

void approvals_destroy(approvals **pa) {
    if (!pa || !*pa)
        return;
    approvals *a = *pa;
    if (a->conn)
        PQfinish(a->conn);
    pthread_mutex_destroy(&a->mu);
    free(a->conninfo);
    free(a);
    *pa = NULL;
}

static int reply_error(pufa_buf *body, int status, const char *msg) {
    json_t *o = json_object();
    json_object_set_new(o, "error", pufa_json_text(msg));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    pufa_buf_puts(body, s);
    pufa_buf_putc(body, '\n');
    free(s);
    return status;
}

static int reply_json(pufa_buf *body, int status, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    pufa_buf_puts(body, s);
    pufa_buf_putc(body, '\n');
    free(s);
    return status;
}

static PGconn *db(approvals *a, char *err, size_t errsize) {
    if (a->conn && PQstatus(a->conn) == CONNECTION_OK)
        return a->conn;
    if (a->conn)
        PQfinish(a->conn);
    a->conn = NULL;
    if (pufa_pg_connect(a->conninfo, &a->conn, err, errsize))
        return NULL;
    return a->conn;
}

/* Checks "Basic base64(office:secret)" against the offices table.  0 with
 * office/org/role filled; 401 or 503 with msg filled.  The secret is wiped
 * and never logged. */
static int authenticate(approvals *a, const char *header, char office[65], char org[7], int *role,
                        char *msg, size_t msize) {
    if (!header || strncmp(header, "Basic ", 6) != 0) {
        snprintf(msg, msize, "credentials: send the office's name and secret (HTTP Basic)");
        return 401;
    }
    unsigned char raw[512];
    size_t rawlen = 0;
    const char *b64 = header + 6;
    if (sodium_base642bin(raw, sizeof raw - 1, b64, strlen(b64), NULL, &rawlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(msg, msize, "credentials: not valid base64 (HTTP Basic)");
        return 401;
    }
    raw[rawlen] = '\0';
    char *colon = memchr(raw, ':', rawlen);
    int status = 401;
    snprintf(msg, msize, "credentials: unknown office or wrong secret");
    if (!colon || (size_t)(colon - (char *)raw) > 64 || memchr(raw, '\0', rawlen)) {
        sodium_memzero(raw, sizeof raw);
        return 401;
    }
    *colon = '\0';
    const char *name = (const char *)raw, *secret = colon + 1;
    size_t slen = rawlen - (size_t)(colon + 1 - (char *)raw);
    char dberr[256];
    PGconn *c = db(a, dberr, sizeof dberr);
    if (!c) {
        sodium_memzero(raw, sizeof raw);
        snprintf(msg, msize, "database unreachable: %s", dberr);
        return 503;
    }
    const char *p[1] = {name};
    PGresult *r = PQexecParams(c, "SELECT org_code, role, secret_hash FROM offices WHERE name = $1",
                               1, NULL, p, NULL, NULL, 0);
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "offices", dberr, sizeof dberr)) {
        PQclear(r);
        sodium_memzero(raw, sizeof raw);
        snprintf(msg, msize, "database: %s", dberr);
        return 503;
    }
    bool known = PQntuples(r) == 1;
    const char *hash = known ? PQgetvalue(r, 0, 2) : a->dummy_hash;
    bool ok = crypto_pwhash_str_verify(hash, secret, slen) == 0;
    if (known && ok) {
        pufa_copy(office, 65, name);
        pufa_copy(org, 7, PQgetvalue(r, 0, 0));
        *role = period_role_parse(PQgetvalue(r, 0, 1));
        status = *role > 0 ? 0 : 401;
    }
    PQclear(r);
    if (status)
        PLOG_WARN("AGG-AUTH-REFUSED", "office_known=%d", known ? 1 : 0);
    sodium_memzero(raw, sizeof raw);
    return status;
}

/* The month field: YYYY-MM, 2000-01 up to the current month of today. */
static int check_month_on(const char *s, pufa_day today, int32_t *month, char *msg, size_t msize) {
    if (period_month_parse(s, month)) {
        char k[64];
        pufa_utf8_escape(k, sizeof k, s, strnlen(s, 20));
        snprintf(msg, msize, "month: must be YYYY-MM, 2000-01 or later (got '%s')", k);
        return -1;
    }
    int32_t now = period_month_of(today);
    if (*month > now) {
        char cur[8];
        period_month_format(now, cur);
        snprintf(msg, msize, "month: must not be in the future (got %s; this month is %s)", s, cur);
        return -1;
    }
    return 0;
}

static int check_month(const char *s, int32_t *month, char *msg, size_t msize) {
    return check_month_on(s, pufa_city_day(pufa_now_ms()), month, msg, msize);
}

/* The org field: a known unit at or under the home. */
static int check_org_in(const pufa_orgunits *ou, const char *home, const char *s, char *msg,
                        size_t msize) {
    if (!pufa_orgunit_code_valid(s)) {
        char k[64];
        pufa_utf8_escape(k, sizeof k, s, strnlen(s, 20));
        snprintf(msg, msize, "org: must be a six-digit org-unit code (got '%s')", k);
        return -1;
    }
    if (!pufa_orgunits_find(ou, s)) {
        snprintf(msg, msize, "org: unknown org unit (got %s)", s);
        return -1;
    }
    if (!pufa_orgunits_within(ou, s, home)) {
        snprintf(msg, msize, "org: %s is not under this aggregator's home %s", s, home);
        return -1;
    }
    return 0;
}

static int check_org(approvals *a, const char *s, char *msg, size_t msize) {
    return check_org_in(a->ou, a->home, s, msg, msize);
}

int approvals_parse_body(const pufa_orgunits *ou, const char *home, pufa_day today,
                         const char *body, size_t len, approval_req *q, char *msg, size_t msize) {
    json_error_t jerr;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        if (o)
            snprintf(msg, msize, "body: must be a JSON object");
        else {
            char t[200];
            pufa_utf8_escape(t, sizeof t, jerr.text, strlen(jerr.text));
            snprintf(msg, msize, "body: not JSON: %s (line %d)", t, jerr.line);
        }
        json_decref(o);
        return -1;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "action") && strcmp(key, "org") && strcmp(key, "month") &&
            strcmp(key, "reason")) {
            char k[64];
            pufa_utf8_escape(k, sizeof k, key, strlen(key));
            snprintf(msg, msize, "%s: unknown field (want action, org, month, reason)", k);
            rc = -1;
            goto out;
        }
        if (!json_is_string(v)) {
            snprintf(msg, msize, "%s: must be a string", key);
            rc = -1;
            goto out;
        }
    }
    static const char *const required[] = {"action", "org", "month"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(o, required[i])) {
            snprintf(msg, msize, "%s: required", required[i]);
            rc = -1;
            goto out;
        }
    const char *action = json_string_value(json_object_get(o, "action"));
    q->action = -1;
    for (int i = ACTION_SUBMIT; i <= ACTION_UNLOCK; i++)
        if (!strcmp(action, period_action_name(i)))
            q->action = i;
    if (q->action < 0) {
        char k[64];
        pufa_utf8_escape(k, sizeof k, action, strlen(action));
        snprintf(msg, msize, "action: must be submit, approve, accept or unlock (got '%s')", k);
        rc = -1;
        goto out;
    }
    const char *org = json_string_value(json_object_get(o, "org"));
    if ((rc = check_org_in(ou, home, org, msg, msize)) ||
        (rc = check_month_on(json_string_value(json_object_get(o, "month")), today, &q->month, msg,
                             msize)))
        goto out;
    pufa_copy(q->org, sizeof q->org, org);
    json_t *jr = json_object_get(o, "reason");
    const char *reason = jr ? json_string_value(jr) : "";
    size_t rlen = jr ? json_string_length(jr) : 0, chars = 0;
    if (!pufa_utf8_valid(reason, rlen, &chars) || strlen(reason) != rlen) {
        snprintf(msg, msize, "reason: must be UTF-8 text without NUL");
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < rlen; i++)
        if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f) {
            snprintf(msg, msize, "reason: must not hold control characters (byte %zu)", i);
            rc = -1;
            goto out;
        }
    if (chars > REASON_MAX_CHARS || rlen >= sizeof q->reason) {
        snprintf(msg, msize, "reason: at most %d characters (got %zu)", REASON_MAX_CHARS, chars);
        rc = -1;
        goto out;
    }
    if (q->action == ACTION_UNLOCK && chars == 0) {
        snprintf(msg, msize, "reason: required to unlock (a lock exception is recorded with it)");
        rc = -1;
        goto out;
    }
    pufa_copy(q->reason, sizeof q->reason, reason);
out:
    json_decref(o);
    return rc;
}

static int post_approval(approvals *a, const pufa_http_request *req, pufa_buf *body) {
    char msg[512];
    approval_req q;
    memset(&q, 0, sizeof q);
    int status =
        authenticate(a, req->authorization, q.office, q.office_org, &q.role, msg, sizeof msg);
    if (status)
        return reply_error(body, status, msg);
    if (approvals_parse_body(a->ou, a->home, pufa_city_day(pufa_now_ms()), req->body, req->body_len,
                             &q, msg, sizeof msg))
        return reply_error(body, 400, msg);
    approval_res res = {0};
    char err[256];
    int rc = pipeline_approve(a->pl, &q, APPROVAL_TIMEOUT_MS, &res, err, sizeof err);
    if (rc) {
        snprintf(msg, sizeof msg, "not done: %s", err);
        return reply_error(body, 503, msg);
    }
    pufa_buf_puts(body, res.json ? res.json : "{}");
    pufa_buf_putc(body, '\n');
    free(res.json);
    return res.http_status;
}

/* The period, its children, and its totals (rollup_live over the counties
 * under it, days of the month). */
#define SQL_PERIOD                                                                                 \
    "SELECT o.code, o.name, o.level, coalesce(p.state, 'open'), coalesce(p.set_by, ''),"           \
    " coalesce(to_char(p.set_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"       \
    " coalesce(p.reason, ''), coalesce(p.exception_open, false)"                                   \
    " FROM org_units o LEFT JOIN periods p ON p.org_code = o.code AND p.month = $2::date"          \
    " WHERE o.code = $1 OR o.parent_code = $1 ORDER BY o.code <> $1, o.code"

#define SQL_PERIOD_TOTALS                                                                          \
    "WITH RECURSIVE down(code, depth) AS (SELECT $1::text, 0"                                      \
    "  UNION ALL SELECT o.code, down.depth + 1 FROM org_units o"                                   \
    "  JOIN down ON o.parent_code = down.code WHERE down.depth < 8)"                               \
    " SELECT coalesce(sum(reports), 0)" PUFA_COUNTER_MAP(                                          \
        PERIOD_SUM_) " FROM rollup_live r JOIN down ON r.county_code = down.code"                  \
                     " WHERE r.dim = 'total' AND r.day >= $2::date"                                \
                     " AND r.day < ($2::date + interval '1 month')"
#define PERIOD_SUM_(up, low, label, max) ", coalesce(sum(" #low "), 0)"

static json_t *period_row(PGresult *r, int i) {
    json_t *o = json_object();
    json_object_set_new(o, "org", json_string(PQgetvalue(r, i, 0)));
    json_object_set_new(o, "name", pufa_json_text(PQgetvalue(r, i, 1)));
    json_object_set_new(o, "level", json_string(PQgetvalue(r, i, 2)));
    json_object_set_new(o, "state", json_string(PQgetvalue(r, i, 3)));
    if (*PQgetvalue(r, i, 4)) {
        json_object_set_new(o, "set_by", pufa_json_text(PQgetvalue(r, i, 4)));
        json_object_set_new(o, "set_at", json_string(PQgetvalue(r, i, 5)));
        json_object_set_new(o, "reason", pufa_json_text(PQgetvalue(r, i, 6)));
    }
    json_object_set_new(o, "exception_open", json_boolean(PQgetvalue(r, i, 7)[0] == 't'));
    return o;
}

static int check_query(approvals *a, const pufa_http_request *req, char org[7], char month[11],
                       char ms[8], char *msg, size_t msize) {
    const char *o = pufa_http_arg(req, "org"), *m = pufa_http_arg(req, "month");
    if (!o) {
        snprintf(msg, msize, "org: required (?org=CODE&month=YYYY-MM)");
        return -1;
    }
    if (!m) {
        snprintf(msg, msize, "month: required (?org=CODE&month=YYYY-MM)");
        return -1;
    }
    int32_t mo;
    if (check_org(a, o, msg, msize) || check_month(m, &mo, msg, msize))
        return -1;
    pufa_copy(org, 7, o);
    period_month_format(mo, ms);
    snprintf(month, 11, "%s-01", ms);
    return 0;
}

static int get_period(approvals *a, const pufa_http_request *req, pufa_buf *body) {
    char msg[256], org[7], month[11], ms[8], err[256];
    if (check_query(a, req, org, month, ms, msg, sizeof msg))
        return reply_error(body, 400, msg);
    PGconn *c = db(a, err, sizeof err);
    if (!c)
        return reply_error(body, 503, err);
    const char *p[2] = {org, month};
    PGresult *r = PQexecParams(c, SQL_PERIOD, 2, NULL, p, NULL, NULL, 0);
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "periods", err, sizeof err) || PQntuples(r) < 1) {
        PQclear(r);
        return reply_error(body, 503, err);
    }
    json_t *o = period_row(r, 0);
    json_object_set_new(o, "month", json_string(ms));
    int state = period_state_parse(PQgetvalue(r, 0, 3));
    bool county = !strcmp(PQgetvalue(r, 0, 2), "county");
    /* Frozen: no report can change these totals without an unlock. */
    json_object_set_new(
        o, "frozen",
        json_boolean(state >= PERIOD_APPROVED || (county && state >= PERIOD_SUBMITTED)));
    json_t *kids = json_array();
    for (int i = 1; i < PQntuples(r); i++)
        json_array_append_new(kids, period_row(r, i));
    json_object_set_new(o, "children", kids);
    PQclear(r);
    r = PQexecParams(c, SQL_PERIOD_TOTALS, 2, NULL, p, NULL, NULL, 0);
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "period totals", err, sizeof err)) {
        PQclear(r);
        json_decref(o);
        return reply_error(body, 503, err);
    }
    static const char *const names[] = {"reports"
#define PERIOD_NAME_(up, low, label, max) , #low
                                        PUFA_COUNTER_MAP(PERIOD_NAME_)};
    json_t *t = json_object();
    for (int i = 0; i < PQnfields(r) && i < (int)(sizeof names / sizeof names[0]); i++)
        json_object_set_new(t, names[i], json_integer(atoll(PQgetvalue(r, 0, i))));
    json_object_set_new(o, "totals", t);
    PQclear(r);
    return reply_json(body, 200, o);
}

static int get_audit(approvals *a, const pufa_http_request *req, pufa_buf *body) {
    char msg[256], org[7], month[11], ms[8], err[256];
    if (check_query(a, req, org, month, ms, msg, sizeof msg))
        return reply_error(body, 400, msg);
    PGconn *c = db(a, err, sizeof err);
    if (!c)
        return reply_error(body, 503, err);
    const char *p[2] = {org, month};
    PGresult *r = PQexecParams(
        c,
        "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), org_code,"
        " action, outcome, from_state, to_state, actor, actor_org, reason,"
        " coalesce(report_id::text, ''), coalesce(revision, 0), via FROM period_audit"
        " WHERE org_code = $1 AND month = $2::date ORDER BY id",
        2, NULL, p, NULL, NULL, 0);
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "period_audit", err, sizeof err)) {
        PQclear(r);
        return reply_error(body, 503, err);
    }
    static const char *const cols[] = {"id",         "at",       "org",   "action",    "outcome",
                                       "from_state", "to_state", "actor", "actor_org", "reason"};
    json_t *rows = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_object();
        json_object_set_new(row, "id", json_integer(atoll(PQgetvalue(r, i, 0))));
        for (int k = 1; k < 10; k++)
            json_object_set_new(row, cols[k], pufa_json_text(PQgetvalue(r, i, k)));
        /* A report refused LOCKED: which one; a state from a link: which. */
        if (*PQgetvalue(r, i, 10)) {
            json_object_set_new(row, "report_id", json_string(PQgetvalue(r, i, 10)));
            json_object_set_new(row, "revision", json_integer(atoll(PQgetvalue(r, i, 11))));
        }
        if (*PQgetvalue(r, i, 12))
            json_object_set_new(row, "via", pufa_json_text(PQgetvalue(r, i, 12)));
        json_array_append_new(rows, row);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "org", json_string(org));
    json_object_set_new(o, "month", json_string(ms));
    json_object_set_new(o, "audit", rows);
    return reply_json(body, 200, o);
}

int approvals_serve(void *ctx, const pufa_http_request *req, pufa_buf *body,
                    const char **content_type) {
    approvals *a = ctx;
    *content_type = "application/json; charset=utf-8";
    /* Held for the whole request: detach waits for it (the server has one
     * thread, so this never contends). */
    pthread_mutex_lock(&a->mu);
    int status;
    bool post = !strcmp(req->method, "POST"), get = !strcmp(req->method, "GET");
    if (!a->pl)
        status = reply_error(body, 503, "starting or stopping: not accepting approvals yet");
    else if (!strcmp(req->path, "/v1/approvals"))
        status = post ? post_approval(a, req, body)
                      : reply_error(body, 405, "method: /v1/approvals takes POST");
    else if (!strcmp(req->path, "/v1/periods"))
        status = get ? get_period(a, req, body)
                     : reply_error(body, 405, "method: /v1/periods takes GET");
    else if (!strcmp(req->path, "/v1/audit"))
        status =
            get ? get_audit(a, req, body) : reply_error(body, 405, "method: /v1/audit takes GET");
    else
        status =
            reply_error(body, 404, "path: unknown (try /v1/approvals, /v1/periods, /v1/audit)");
    pthread_mutex_unlock(&a->mu);
    return status;
}
