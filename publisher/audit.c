#include "audit.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "orgunits.h"
#include "periods.h"
#include "pg.h"
#include "report.h"
#include "report_json.h"
#include "uuid.h"

int pub_period_arg(const char *field, const char *text, int *month, char *msg, size_t msize) {
    if (!text) {
        snprintf(msg, msize, "%s: required, YYYY-MM", field);
        return -1;
    }
    if (pub_month_parse(text, month)) {
        snprintf(msg, msize, "%s: must be YYYY-MM, 2000-01 or later (got '%.20s')", field, text);
        return -1;
    }
    int y, mo, d;
    pufa_date_to_ymd(pufa_city_day(pufa_now_ms()), &y, &mo, &d);
    if (*month > y * 12 + mo - 1) {
        char now[8];
        pub_month_format(y * 12 + mo - 1, now);
        snprintf(msg, msize, "%s: must not be in the future (got %s; this month is %s)", field,
                 text, now);
        return -1;
    }
    return 0;
}

/* ---- /v1/approvals (the model) ---- */

static void iso_utc(int64_t ms, char out[32]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *unit_state(const pub_periods *p, const pufa_orgunit *u, int month, size_t count[5]) {
    const pub_pstate *e = pub_periods_get(p, u->code, month);
    pufa_period_state s = e ? e->state : PUFA_PERIOD_OPEN;
    count[s]++;
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(u->code));
    json_object_set_new(o, "name", pufa_json_text(u->name));
    json_object_set_new(o, "level", json_string(u->level));
    json_object_set_new(o, "state", json_string(pufa_period_state_name(s)));
    json_object_set_new(o, "official", json_boolean(pub_period_official(s)));
    if (e) {
        char at[32];
        iso_utc(e->set_at_ms, at);
        json_object_set_new(o, "set_by", pufa_json_text(e->set_by));
        json_object_set_new(o, "set_at", json_string(at));
        json_object_set_new(o, "reason", pufa_json_text(e->reason));
        json_object_set_new(o, "exception_open", json_boolean(e->exception_open));
    } else {
        json_object_set_new(o, "set_by", json_null());
        json_object_set_new(o, "set_at", json_null());
        json_object_set_new(o, "reason", json_string(""));
        json_object_set_new(o, "exception_open", json_false());
    }
    return o;
}

json_t *pub_approvals_json(pub_model *m, const char *org, int month) {
    char key[8];
    pub_month_format(month, key);
    json_t *o = json_object();
    json_object_set_new(o, "period", json_string(key));
    size_t count[5] = {0}, unit_count[5] = {0};
    json_t *kids = json_array();
    pub_model_rdlock(m);
    json_object_set_new(o, "seq", json_integer((json_int_t)pub_model_seq(m)));
    const pufa_orgunits *ou = pub_model_orgunits(m);
    const pub_periods *p = pub_model_periods_c(m);
    const pufa_orgunit *u = ou ? pufa_orgunits_find(ou, org) : NULL;
    json_object_set_new(o, "org", u ? unit_state(p, u, month, unit_count) : json_null());
    for (size_t i = 0; u && i < ou->count; i++)
        if (!strcmp(ou->units[i].parent_code, org))
            json_array_append_new(kids, unit_state(p, &ou->units[i], month, count));
    pub_model_unlock(m);
    json_object_set_new(o, "children", kids);
    json_t *sum = json_object();
    for (int s = PUFA_PERIOD_OPEN; s <= PUFA_PERIOD_ACCEPTED; s++)
        json_object_set_new(sum, pufa_period_state_name((pufa_period_state)s),
                            json_integer((json_int_t)count[s]));
    json_object_set_new(o, "summary", sum);
    return o;
}

/* ---- /v1/reports/{id}/history ---- */

#define HIST_FIG_(up, low, label, max) ", " #low
#define SQL_HISTORY_COLS                                                                           \
    "revision, retracted, county_code, township, unit_code, occurred_on::text, theme, venue,"      \
    " form, campaign, title" PUFA_COUNTER_MAP(                                                     \
        HIST_FIG_) ", "                                                                            \
                   "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')," \
                   " to_char(committed_at AT TIME ZONE 'UTC', "                                    \
                   "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), collector_id"
#define SQL_HISTORY                                                                                \
    "SELECT * FROM (SELECT " SQL_HISTORY_COLS ", NULL::text, NULL::integer FROM reports"           \
    " WHERE report_id = $1::uuid UNION ALL SELECT " SQL_HISTORY_COLS                               \
    ", to_char(superseded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"            \
    " superseded_by FROM report_history WHERE report_id = $1::uuid) h ORDER BY revision LIMIT "    \
    "1001"

static const char *const counter_names[] = {
#define HIST_NAME_(up, low, label, max) #low,
    PUFA_COUNTER_MAP(HIST_NAME_)};
#define NCOUNTERS ((int)(sizeof counter_names / sizeof counter_names[0]))

static json_t *text_or_null(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? json_null() : pufa_json_text(PQgetvalue(r, row, col));
}

int pub_report_history(const char *db, pub_model *m, const char *id, json_t **out, char *msg,
                       size_t msize) {
    char canon[PUFA_UUID_STRLEN + 1];
    if (!id || pufa_uuid_canonical(id, canon)) {
        snprintf(msg, msize, "id: must be a report id (a UUID, 8-4-4-4-12 hex; got '%.40s')",
                 id ? id : "");
        return 400;
    }
    PGconn *c = NULL;
    if (pufa_pg_connect(db, &c, msg, msize))
        return 503;
    const char *p[1] = {canon};
    PGresult *r = PQexecParams(c, SQL_HISTORY, 1, NULL, p, NULL, NULL, 0);
    int status = 200;
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "report_history", msg, msize)) {
        status = 503;
        goto out;
    }
    int n = PQntuples(r);
    /* Every revision has the county of the first (the aggregator refuses a
     * report id under another county): the home decides on that one. */
    bool known = n > 0;
    if (known) {
        pub_model_rdlock(m);
        const pufa_orgunits *ou = pub_model_orgunits(m);
        const char *home = pub_model_home(m);
        known = !home[0] || (ou && pufa_orgunits_within(ou, PQgetvalue(r, 0, 2), home));
        pub_model_unlock(m);
    }
    if (!known) {
        snprintf(msg, msize, "id: no report %s under this publisher's home", canon);
        status = 404;
        goto out;
    }
    const int fc = 11, tc = fc + NCOUNTERS; /* first counter, first time column */
    json_t *revs = json_array();
    for (int i = 0; i < n && i < AUDIT_MAX_ROWS; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "revision", json_integer(atoll(PQgetvalue(r, i, 0))));
        json_object_set_new(o, "retracted", json_boolean(PQgetvalue(r, i, 1)[0] == 't'));
        json_object_set_new(o, "current", json_boolean(PQgetisnull(r, i, tc + 3)));
        static const char *const cols[] = {"county_code", "township", "unit_code",
                                           "occurred_on", "theme",    "venue",
                                           "form",        "campaign", "title"};
        for (int k = 0; k < 9; k++)
            json_object_set_new(o, cols[k],
                                k >= 4 && k <= 6 ? json_integer(atoll(PQgetvalue(r, i, 2 + k)))
                                                 : pufa_json_text(PQgetvalue(r, i, 2 + k)));
        json_t *figs = json_object();
        for (int k = 0; k < NCOUNTERS; k++)
            json_object_set_new(figs, counter_names[k],
                                json_integer(atoll(PQgetvalue(r, i, fc + k))));
        json_object_set_new(o, "figures", figs);
        json_object_set_new(o, "received_at", text_or_null(r, i, tc));
        json_object_set_new(o, "committed_at", text_or_null(r, i, tc + 1));
        json_object_set_new(o, "collector_id", pufa_json_text(PQgetvalue(r, i, tc + 2)));
        json_object_set_new(o, "superseded_at", text_or_null(r, i, tc + 3));
        json_object_set_new(o, "superseded_by",
                            PQgetisnull(r, i, tc + 4)
                                ? json_null()
                                : json_integer(atoll(PQgetvalue(r, i, tc + 4))));
        json_array_append_new(revs, o);
    }
    *out = json_object();
    json_object_set_new(*out, "report_id", json_string(canon));
    json_object_set_new(*out, "revisions", revs);
    json_object_set_new(*out, "truncated", json_boolean(n > AUDIT_MAX_ROWS));
out:
    PQclear(r);
    PQfinish(c);
    return status;
}

/* ---- /v1/audit ---- */

#define SQL_AUDIT                                                                                  \
    "WITH RECURSIVE down(code, depth) AS (SELECT $1::text, 0"                                      \
    "  UNION ALL SELECT o.code, down.depth + 1 FROM org_units o"                                   \
    "  JOIN down ON o.parent_code = down.code WHERE down.depth < 8)"                               \
    " SELECT a.id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"         \
    " a.org_code, a.action, a.outcome, a.from_state, a.to_state, a.actor, a.actor_org, a.reason"   \
    " FROM period_audit a JOIN down ON a.org_code = down.code"                                     \
    " WHERE a.month = $2::date ORDER BY a.id LIMIT 1001"

int pub_audit(const char *db, const char *org, int month, json_t **out, char *msg, size_t msize) {
    char key[8], date[11];
    pub_month_format(month, key);
    snprintf(date, sizeof date, "%s-01", key);
    PGconn *c = NULL;
    if (pufa_pg_connect(db, &c, msg, msize))
        return 503;
    const char *p[2] = {org, date};
    PGresult *r = PQexecParams(c, SQL_AUDIT, 2, NULL, p, NULL, NULL, 0);
    int status = 200;
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "period_audit", msg, msize)) {
        status = 503;
        goto out;
    }
    static const char *const cols[] = {"id",         "at",       "org",   "action",    "outcome",
                                       "from_state", "to_state", "actor", "actor_org", "reason"};
    json_t *rows = json_array();
    int n = PQntuples(r);
    for (int i = 0; i < n && i < AUDIT_MAX_ROWS; i++) {
        json_t *row = json_object();
        json_object_set_new(row, "id", json_integer(atoll(PQgetvalue(r, i, 0))));
        for (int k = 1; k < 10; k++)
            json_object_set_new(row, cols[k], pufa_json_text(PQgetvalue(r, i, k)));
        json_array_append_new(rows, row);
    }
    *out = json_object();
    json_object_set_new(*out, "org", json_string(org));
    json_object_set_new(*out, "period", json_string(key));
    json_object_set_new(*out, "audit", rows);
    json_object_set_new(*out, "truncated", json_boolean(n > AUDIT_MAX_ROWS));
out:
    PQclear(r);
    PQfinish(c);
    return status;
}

/* ---- /v1/office ---- */

static bool office_name_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

int pub_office(const char *db, pub_model *m, const char *name, json_t **out, char *msg,
               size_t msize) {
    if (!office_name_valid(name)) {
        snprintf(msg, msize, "name: an office name, 1 to 64 of A-Z a-z 0-9 _ . - (got '%.70s')",
                 name ? name : "");
        return 400;
    }
    PGconn *c = NULL;
    if (pufa_pg_connect(db, &c, msg, msize))
        return 503;
    const char *p[1] = {name};
    PGresult *r = PQexecParams(c, "SELECT org_code, role FROM offices WHERE name = $1", 1, NULL, p,
                               NULL, NULL, 0);
    int status = 200;
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "offices", msg, msize)) {
        status = 503;
        goto out;
    }
    json_t *org = NULL;
    if (PQntuples(r) == 1) {
        pub_model_rdlock(m);
        const pufa_orgunits *ou = pub_model_orgunits(m);
        const char *home = pub_model_home(m), *code = PQgetvalue(r, 0, 0);
        const pufa_orgunit *u = ou ? pufa_orgunits_find(ou, code) : NULL;
        if (u && (!home[0] || pufa_orgunits_within(ou, code, home)))
            org = json_pack("{s:s, s:o, s:s}", "code", u->code, "name", pufa_json_text(u->name),
                            "level", u->level);
        pub_model_unlock(m);
    }
    if (!org) {
        snprintf(msg, msize, "name: no office %s for a unit under this publisher's home", name);
        status = 404;
        goto out;
    }
    *out = json_pack("{s:s, s:o, s:s}", "name", name, "org", org, "role", PQgetvalue(r, 0, 1));
out:
    PQclear(r);
    PQfinish(c);
    return status;
}
