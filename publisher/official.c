#include "official.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "orgunits.h"
#include "pg.h"
#include "report.h"
#include "report_json.h"

/* Each county under $1 (or $1 itself) with its period's state and its
 * totals for the month. */
#define OFFICIAL_SUM_(up, low, label, max) ", coalesce(sum(r." #low "), 0)"
#define SQL_OFFICIAL                                                                               \
    "WITH RECURSIVE down(code, depth) AS (SELECT $1::text, 0"                                      \
    "  UNION ALL SELECT o.code, down.depth + 1 FROM org_units o"                                   \
    "  JOIN down ON o.parent_code = down.code WHERE down.depth < 8)"                               \
    " SELECT o.code, o.name, coalesce(p.state, 'open'), coalesce(p.set_by, ''),"                   \
    " coalesce(to_char(p.set_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"       \
    " coalesce(sum(r.reports), 0)" PUFA_COUNTER_MAP(                                               \
        OFFICIAL_SUM_) " FROM down JOIN org_units o ON o.code = down.code AND o.level = 'county'"  \
                       " LEFT JOIN periods p ON p.org_code = o.code AND p.month = $2::date"        \
                       " LEFT JOIN rollup_live r ON r.county_code = o.code AND r.dim = 'total'"    \
                       "  AND r.day >= $2::date AND r.day < ($2::date + interval '1 month')"       \
                       " GROUP BY o.code, o.name, p.state, p.set_by, p.set_at ORDER BY o.code"

#define SQL_UNIT                                                                                   \
    "SELECT o.name, o.level, coalesce(p.state, 'open') FROM org_units o"                           \
    " LEFT JOIN periods p ON p.org_code = o.code AND p.month = $2::date WHERE o.code = $1"

static const char *const figure_names[] = {"reports"
#define OFFICIAL_NAME_(up, low, label, max) , #low
                                           PUFA_COUNTER_MAP(OFFICIAL_NAME_)};
#define NFIGURES (sizeof figure_names / sizeof figure_names[0])

static int check_month(const char *s, char date[11], char *msg, size_t msize) {
    pufa_day d;
    char buf[16];
    snprintf(buf, sizeof buf, "%.7s-01", s ? s : "");
    if (!s || strlen(s) != 7 || pufa_date_parse(buf, &d) || strcmp(s, "2000-01") < 0) {
        snprintf(msg, msize, "month: must be YYYY-MM, 2000-01 or later (got '%.20s')", s ? s : "");
        return -1;
    }
    char today[11];
    pufa_date_format(pufa_city_day(pufa_now_ms()), today);
    if (strncmp(s, today, 7) > 0) {
        snprintf(msg, msize, "month: must not be in the future (got %s)", s);
        return -1;
    }
    memcpy(date, buf, 11);
    return 0;
}

int pub_official(const char *db, const char *org, const char *month, json_t **out, char *msg,
                 size_t msize) {
    char date[11];
    if (!org || !pufa_orgunit_code_valid(org)) {
        snprintf(msg, msize, "org: must be a six-digit org-unit code (got '%.20s')",
                 org ? org : "");
        return 400;
    }
    if (check_month(month, date, msg, msize))
        return 400;
    PGconn *c = NULL;
    if (pufa_pg_connect(db, &c, msg, msize))
        return 503;
    const char *p[2] = {org, date};
    int status = 200;
    PGresult *u = PQexecParams(c, SQL_UNIT, 2, NULL, p, NULL, NULL, 0);
    PGresult *r = NULL;
    if (pufa_pg_check(c, u, PGRES_TUPLES_OK, "org_units", msg, msize)) {
        status = 503;
        goto out;
    }
    if (PQntuples(u) != 1) {
        snprintf(msg, msize, "org: unknown org unit (got %s)", org);
        status = 400;
        goto out;
    }
    r = PQexecParams(c, SQL_OFFICIAL, 2, NULL, p, NULL, NULL, 0);
    if (pufa_pg_check(c, r, PGRES_TUPLES_OK, "periods", msg, msize)) {
        status = 503;
        goto out;
    }
    int64_t sums[2][NFIGURES];
    memset(sums, 0, sizeof sums);
    json_t *lists[2] = {json_array(), json_array()};
    for (int i = 0; i < PQntuples(r); i++) {
        const char *state = PQgetvalue(r, i, 2);
        int official = !strcmp(state, "approved") || !strcmp(state, "accepted");
        json_t *row = json_object();
        json_object_set_new(row, "org", json_string(PQgetvalue(r, i, 0)));
        json_object_set_new(row, "name", pufa_json_text(PQgetvalue(r, i, 1)));
        json_object_set_new(row, "state", json_string(state));
        if (*PQgetvalue(r, i, 3)) {
            json_object_set_new(row, "set_by", pufa_json_text(PQgetvalue(r, i, 3)));
            json_object_set_new(row, "set_at", json_string(PQgetvalue(r, i, 4)));
        }
        json_t *figs = json_object();
        for (size_t k = 0; k < NFIGURES; k++) {
            int64_t v = strtoll(PQgetvalue(r, i, 5 + (int)k), NULL, 10); /* saturates */
            pufa_fig_add(&sums[official ? 0 : 1][k], v);
            json_object_set_new(figs, figure_names[k], json_integer(v));
        }
        json_object_set_new(row, "totals", figs);
        json_array_append_new(lists[official ? 0 : 1], row);
    }
    json_t *o = json_object();
    json_object_set_new(o, "org", json_string(org));
    json_object_set_new(o, "name", pufa_json_text(PQgetvalue(u, 0, 0)));
    json_object_set_new(o, "month", json_string(month));
    json_object_set_new(o, "state", json_string(PQgetvalue(u, 0, 2)));
    static const char *const part[2] = {"approved", "provisional"};
    for (int k = 0; k < 2; k++) {
        json_t *t = json_object();
        for (size_t f = 0; f < NFIGURES; f++)
            json_object_set_new(t, figure_names[f], json_integer(sums[k][f]));
        json_t *g = json_object();
        json_object_set_new(g, "totals", t);
        json_object_set_new(g, "counties", lists[k]);
        json_object_set_new(o, part[k], g);
    }
    *out = o;
out:
    PQclear(u);
    PQclear(r);
    PQfinish(c);
    return status;
}
