#include "http.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "alloc.h"
#include "approved.h"
#include "assets.h"
#include "audit.h"
#include "children.h"
#include "completeness.h"
#include "error.h"
#include "export.h"
#include "log.h"
#include "metrics.h"
#include "official.h"
#include "orgunits.h"
#include "progress.h"
#include "proxy.h"
#include "scope.h"
#include "sse.h"
#include "stattable.h"
#include "status_http.h"
#include "targets_cache.h"
#include "trend.h"

struct pub_http {
    pub_http_config cfg;
    char *token;
    char *db;
    pub_live *live;
    pub_model *m;
    const pub_windows *w;
    pub_children *children;
    pub_targets *targets; /* NULL: /v1/targets answers 503 */
    int timely_days;      /* /v1/completeness */
    pufa_http *srv;
    pub_sse *sse;
    _Atomic uint64_t requests, errors;
};

static enum MHD_Result reply(pub_http *h, struct MHD_Connection *c, unsigned status,
                             const char *ctype, char *body, size_t len) {
    if (status >= 400)
        h->errors++;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_json(pub_http *h, struct MHD_Connection *c, unsigned status,
                                  json_t *o) {
    /* ESCAPE_SLASH: "</script>" in a title can never close a script block. */
    char *text = json_dumps(o, JSON_COMPACT | JSON_ESCAPE_SLASH);
    json_decref(o);
    return reply(h, c, status, "application/json; charset=utf-8", text, strlen(text));
}

/* o with "rows" (the JSON text in rows, taken) and "generated_at_ms" last,
 * as reply_json would print them: o is printed by jansson, rows spliced. */
static enum MHD_Result reply_json_rows(pub_http *h, struct MHD_Connection *c, json_t *o,
                                       pufa_buf *rows) {
    char *head = json_dumps(o, JSON_COMPACT | JSON_ESCAPE_SLASH);
    json_decref(o);
    pufa_buf out;
    pufa_buf_init(&out);
    pufa_buf_reserve(&out, strlen(head) + rows->len + 64);
    pufa_buf_append(&out, head, strlen(head) - 1); /* without its closing brace */
    free(head);
    pufa_buf_puts(&out, out.len > 1 ? ",\"rows\":" : "\"rows\":");
    pufa_buf_append(&out, rows->data, rows->len);
    pufa_buf_free(rows);
    pufa_buf_puts(&out, ",\"generated_at_ms\":");
    pub_json_int(&out, pufa_now_ms());
    pufa_buf_putc(&out, '}');
    size_t len = out.len;
    return reply(h, c, 200, "application/json; charset=utf-8", pufa_buf_steal(&out), len);
}

static enum MHD_Result reply_error(pub_http *h, struct MHD_Connection *c, unsigned status,
                                   const char *msg) {
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(msg));
    return reply_json(h, c, status, o);
}

static const char *arg(struct MHD_Connection *c, const char *name, const char *def) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : def;
}

static json_t *figures_json(const int64_t fig[NFIG]) {
    json_t *o = json_object();
    for (int k = 0; k < NFIG; k++)
        json_object_set_new(o, pufa_figure_names[k], json_integer(fig[k]));
    return o;
}

static json_t *window_json(const pub_window *w) {
    json_t *o = json_object();
    char a[11], b[11];
    pufa_date_format(w->from, a);
    pufa_date_format(w->to, b);
    json_object_set_new(o, "name", json_string(w->name));
    json_object_set_new(o, "label", json_string(w->label));
    json_object_set_new(o, "from", json_string(a));
    json_object_set_new(o, "to", json_string(b));
    return o;
}

/* ?org= or ?county= (scope.h); replies with 400 itself. */
static bool scope_args(pub_http *h, struct MHD_Connection *c, pub_request_scope *sa,
                       enum MHD_Result *ret) {
    char msg[512];
    if (pub_request_scope_parse(h->m, arg(c, "org", NULL), arg(c, "county", NULL), sa, msg,
                                sizeof msg) == 0)
        return true;
    *ret = reply_error(h, c, 400, msg);
    return false;
}

/* ?window= (default dflt) into *win, or a 400 answered: false. */
static bool window_arg(pub_http *h, struct MHD_Connection *c, const char *dflt, pub_window *win,
                       enum MHD_Result *ret) {
    const char *wname = arg(c, "window", dflt);
    if (pub_window_resolve(h->w, wname, pufa_city_day(pufa_now_ms()), win)) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "window: unknown (got %.60s); use today, 7d, 30d, month, quarter, ytd, plan, "
                 "all, campaign:NAME or YYYY-MM-DD..YYYY-MM-DD",
                 wname);
        *ret = reply_error(h, c, 400, msg);
        return false;
    }
    return true;
}

/* ?org= of the views built on the org units the targets thread reads
 * (targets, completeness, the print table): *org (NULL: none), or an
 * answer given (503 without that thread, 400 for an unknown unit): false. */
static bool targets_org_arg(pub_http *h, struct MHD_Connection *c, const char *unavailable,
                            const char **org, enum MHD_Result *ret) {
    if (!h->targets) {
        *ret = reply_error(h, c, 503, unavailable);
        return false;
    }
    *org = arg(c, "org", NULL);
    if (*org && (!pufa_orgunit_code_valid(*org) || !pub_targets_org_known(h->targets, *org))) {
        char msg[160];
        snprintf(msg, sizeof msg, "org: unknown org unit (got %.20s)", *org);
        *ret = reply_error(h, c, 400, msg);
        return false;
    }
    return true;
}

/* Resolves ?window=, ?by=, ?org= (or ?county=), ?rank=; replies with 400
 * itself.  ?by= is a breakdown (*dim, *period = -1) or a period of a trend
 * (day, week, month: *period, *dim = DIM_TOTAL). */
static bool query_args(pub_http *h, struct MHD_Connection *c, pub_window *win, int *dim,
                       int *period, pub_request_scope *sa, int *rank, enum MHD_Result *ret) {
    if (!window_arg(h, c, "30d", win, ret))
        return false;
    const char *by = arg(c, "by", "county");
    *dim = pub_dim_parse(by);
    *period = *dim < 0 ? pub_period_parse(by) : -1;
    if (*period >= 0)
        *dim = DIM_TOTAL;
    if (*dim < 0) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "by: unknown (got %.60s); use county, theme, venue, form, unit, campaign, "
                 "township, none, day, week or month (city, province: above a city)",
                 by);
        *ret = reply_error(h, c, 400, msg);
        return false;
    }
    char why[300];
    if (!scope_args(h, c, sa, ret))
        return false;
    if (pub_request_scope_by(sa, *dim, why, sizeof why)) {
        *ret = reply_error(h, c, 400, why);
        return false;
    }
    if (*dim == DIM_TOWNSHIP && strcmp(sa->level, "county") != 0) {
        /* The same name is a township in many counties. */
        *ret =
            reply_error(h, c, 400, "by: township is a breakdown inside a county; add org=COUNTY");
        return false;
    }
    const char *rname = arg(c, "rank", "reports");
    *rank = pub_figure_parse(rname);
    if (*rank < 0) {
        pufa_buf msg;
        pufa_buf_init(&msg);
        pufa_buf_printf(&msg, "rank: unknown figure (got %.60s); use", rname);
        for (int k = 0; k < NFIG; k++)
            pufa_buf_printf(&msg, "%s %s", k ? "," : "", pufa_figure_names[k]);
        *ret = reply_error(h, c, 400, msg.data);
        pufa_buf_free(&msg);
        return false;
    }
    return true;
}

/* ?status=approved (official county-months only, approved.h) or
 * ?status=all (the default); replies with 400 itself. */
static bool status_arg(pub_http *h, struct MHD_Connection *c, bool *approved,
                       enum MHD_Result *ret) {
    const char *st = arg(c, "status", "all");
    *approved = !strcmp(st, "approved");
    if (*approved || !strcmp(st, "all"))
        return true;
    char msg[160];
    snprintf(msg, sizeof msg, "status: unknown (got %.40s); use approved or all", st);
    *ret = reply_error(h, c, 400, msg);
    return false;
}

/* {"base": figures, "change": figures, "pct": {figure: per cent of the
 * base to one decimal, or null where the base is 0}}. */
static json_t *change_json(const int64_t cur[NFIG], const int64_t base[NFIG]) {
    json_t *o = json_object(), *change = json_object(), *pct = json_object();
    for (int k = 0; k < NFIG; k++) {
        int64_t d = cur[k] - base[k];
        json_object_set_new(change, pufa_figure_names[k], json_integer(d));
        json_t *p = json_null();
        if (base[k] != 0) {
            double x = (double)d * 1000.0 / (double)base[k];
            long long tenths = (long long)(x < 0 ? x - 0.5 : x + 0.5);
            p = json_real((double)tenths / 10.0);
        }
        json_object_set_new(pct, pufa_figure_names[k], p);
    }
    json_object_set_new(o, "base", figures_json(base));
    json_object_set_new(o, "change", change);
    json_object_set_new(o, "pct", pct);
    return o;
}

/* change_json with the base's from and to. */
static json_t *compare_json(pufa_day from, pufa_day to, const int64_t cur[NFIG],
                            const int64_t base[NFIG]) {
    json_t *o = change_json(cur, base);
    char a[11], b[11];
    pufa_date_format(from, a);
    pufa_date_format(to, b);
    json_object_set_new(o, "from", json_string(a));
    json_object_set_new(o, "to", json_string(b));
    return o;
}

/* The rows of a breakdown, ranked, as JSON text into out (trend.h); with
 * a comparison, every row also carries its base. */
static void breakdown_rows(pub_http *h, pufa_buf *out, const pub_window *win, pub_dim dim,
                           const pub_scope *county, int rank, pub_compare cmp, pufa_day bf,
                           pufa_day bt, bool approved, int64_t tot[NFIG]) {
    pub_row *rows, *base = NULL;
    int64_t btot[NFIG];
    size_t n = pub_query_status(h->m, approved, win->from, win->to, dim, county, &rows, tot);
    size_t nb = 0;
    if (cmp != PUB_COMPARE_NONE)
        nb = pub_query_status(h->m, approved, bf, bt, dim, county, &base, btot);
    pub_breakdown_rows(out, h->m, dim, rank, rows, n, base, nb, bf, bt);
    free(rows);
    free(base);
}

static enum MHD_Result get_totals(pub_http *h, struct MHD_Connection *c) {
    pub_window win;
    int dim, period, rank;
    pub_request_scope sa;
    enum MHD_Result ret;
    if (!query_args(h, c, &win, &dim, &period, &sa, &rank, &ret))
        return ret;
    const pub_scope *county = &sa.scope;
    const char *cname = arg(c, "compare", NULL);
    int cmp = cname ? pub_compare_parse(cname) : PUB_COMPARE_NONE;
    if (cmp < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "compare: unknown (got %.60s); use prev or yoy", cname);
        return reply_error(h, c, 400, msg);
    }
    bool approved;
    if (!status_arg(h, c, &approved, &ret))
        return ret;
    pufa_day bf, bt;
    pub_compare_base((pub_compare)cmp, pub_window_prev_months(win.name), win.from, win.to, &bf,
                     &bt);
    json_t *o = json_object();
    json_object_set_new(o, "window", window_json(&win));
    json_object_set_new(o, "status", json_string(approved ? "approved" : "all"));
    json_object_set_new(o, "by",
                        json_string(period >= 0 ? pub_period_names[period] : pub_dim_names[dim]));
    json_object_set_new(o, "county", sa.county ? json_string(sa.county) : json_null());
    json_object_set_new(o, "org", pub_request_scope_json(&sa));
    json_object_set_new(o, "rank", json_string(pufa_figure_names[rank]));
    int64_t tot[NFIG], btot[NFIG];
    pufa_buf rows; /* a trend's or a breakdown's rows, as JSON text (trend.h) */
    pufa_buf_init(&rows);
    pub_model_incomplete_reset();
    pub_model_rdlock(h->m);
    json_object_set_new(o, "seq", json_integer((json_int_t)pub_model_seq(h->m)));
    if (period >= 0) {
        pub_trend_rows(&rows, h->m, &win, (pub_period)period, county, (pub_compare)cmp, approved);
        pub_sum_status(h->m, approved, win.from, win.to, county, tot);
    } else {
        breakdown_rows(h, &rows, &win, (pub_dim)dim, county, rank, (pub_compare)cmp, bf, bt,
                       approved, tot);
    }
    if (cmp != PUB_COMPARE_NONE)
        pub_sum_status(h->m, approved, bf, bt, county, btot);
    /* status=approved: which county-months the figures hold, and how many
     * were left out as provisional. */
    json_object_set_new(
        o, "months", approved ? pub_approved_months(h->m, win.from, win.to, county) : json_null());
    pub_model_unlock(h->m);
    if (pub_model_incomplete()) { /* days before the horizon, the database down */
        pufa_buf_free(&rows);
        json_decref(o);
        return reply_error(h, c, 503,
                           "the database is unreachable: the days of this window before the "
                           "publisher's detail_years cannot be read now");
    }
    json_object_set_new(o, "totals", figures_json(tot));
    if (cmp != PUB_COMPARE_NONE) {
        json_t *cj = compare_json(bf, bt, tot, btot);
        json_object_set_new(cj, "kind", json_string(pub_compare_names[cmp]));
        json_object_set_new(cj, "label", json_string(cmp == PUB_COMPARE_PREV ? "环比" : "同比"));
        json_object_set_new(o, "compare", cj);
    } else {
        json_object_set_new(o, "compare", json_null());
    }
    return reply_json_rows(h, c, o, &rows);
}

static enum MHD_Result get_silent(pub_http *h, struct MHD_Connection *c) {
    const char *ds = arg(c, "days", "7");
    char *end;
    long days = strtol(ds, &end, 10);
    if (*end || days < 1 || days > 3660)
        return reply_error(h, c, 400, "days: a whole number from 1 to 3660");
    pub_request_scope sa;
    enum MHD_Result ret;
    if (!scope_args(h, c, &sa, &ret))
        return ret;
    pufa_day today = pufa_city_day(pufa_now_ms());
    pufa_day since = today - (pufa_day)days + 1;
    json_t *o = json_object();
    char t[11];
    pufa_date_format(today, t);
    json_object_set_new(o, "days", json_integer(days));
    json_object_set_new(o, "today", json_string(t));
    json_t *counties = json_array(), *units = json_array();
    size_t silent = 0, silent_units = 0;
    pub_model_rdlock(h->m);
    size_t nc = pub_model_counties(h->m), nu = pub_model_units(h->m);
    for (size_t i = 0; i < nc; i++) {
        if (!pub_model_county_in(h->m, &sa.scope, (uint32_t)i))
            continue;
        pufa_day last = pub_model_last_report(h->m, (uint32_t)i, NULL);
        json_t *r = json_object();
        json_object_set_new(r, "code", json_string(pub_model_key(h->m, DIM_COUNTY, (uint32_t)i)));
        json_object_set_new(r, "name", json_string(pub_model_label(h->m, DIM_COUNTY, (uint32_t)i)));
        if (last >= 0) {
            char d[11];
            pufa_date_format(last, d);
            json_object_set_new(r, "last_report", json_string(d));
            json_object_set_new(r, "days_since", json_integer(today - last));
        } else {
            json_object_set_new(r, "last_report", json_null());
            json_object_set_new(r, "days_since", json_null());
        }
        bool is_silent = last < since;
        json_object_set_new(r, "silent", json_boolean(is_silent));
        silent += is_silent;
        json_array_append_new(counties, r);
        for (size_t u = 0; u < nu; u++) {
            const char *code = pub_model_key(h->m, DIM_UNIT, (uint32_t)u);
            pufa_day ul = pub_model_last_report(h->m, (uint32_t)i, code);
            if (ul >= since)
                continue;
            json_t *x = json_object();
            json_object_set_new(x, "county",
                                json_string(pub_model_key(h->m, DIM_COUNTY, (uint32_t)i)));
            json_object_set_new(x, "unit_code", json_string(code));
            json_object_set_new(x, "unit_name",
                                json_string(pub_model_label(h->m, DIM_UNIT, (uint32_t)u)));
            if (ul >= 0) {
                char d[11];
                pufa_date_format(ul, d);
                json_object_set_new(x, "last_report", json_string(d));
            } else {
                json_object_set_new(x, "last_report", json_null());
            }
            json_array_append_new(units, x);
            silent_units++;
        }
    }
    pub_model_unlock(h->m);
    json_object_set_new(o, "silent_counties", json_integer((json_int_t)silent));
    json_object_set_new(o, "counties", counties);
    json_object_set_new(o, "silent_units", json_integer((json_int_t)silent_units));
    json_object_set_new(o, "units", units);
    return reply_json(h, c, 200, o);
}

/* ---- children: their links and 数据截至 (children.c) ---- */

/* Into meta: the unit's children with their links ("children"), and how
 * many are up, down, never seen ("children_summary"); null and
 * "children_error" when child_links cannot be read (the rest of meta
 * stands). */
static void meta_children(pub_http *h, const pub_request_scope *sa, json_t *meta) {
    json_t *ch = NULL;
    char err[300];
    if (!sa->code[0] || pub_children_json(h->children, h->m, sa->code, &ch, err, sizeof err)) {
        json_object_set_new(meta, "children", json_null());
        json_object_set_new(meta, "children_summary", json_null());
        json_object_set_new(meta, "children_error",
                            json_string(sa->code[0] ? err : "no home unit"));
        return;
    }
    json_object_set(meta, "children", json_object_get(ch, "children"));
    json_object_set(meta, "children_summary", json_object_get(ch, "summary"));
    json_object_set(meta, "link_timeout_ms", json_object_get(ch, "link_timeout_ms"));
    json_decref(ch);
}

static enum MHD_Result get_children(pub_http *h, struct MHD_Connection *c) {
    pub_request_scope sa;
    enum MHD_Result ret;
    if (!scope_args(h, c, &sa, &ret))
        return ret;
    if (!sa.code[0])
        return reply_error(h, c, 400, "org: no home unit; name one");
    json_t *o;
    char err[300];
    int rc = pub_children_json(h->children, h->m, sa.code, &o, err, sizeof err);
    if (rc)
        return reply_error(h, c, rc == PUFA_ENOTFOUND ? 400 : 503, err);
    json_object_set_new(o, "generated_at_ms", json_integer(pufa_now_ms()));
    return reply_json(h, c, 200, o);
}

static enum MHD_Result get_meta(pub_http *h, struct MHD_Connection *c) {
    json_t *o = json_object();
    pufa_day today = pufa_city_day(pufa_now_ms());
    json_t *wins = json_array();
    for (size_t i = 0; i < pub_n_standard_windows; i++) {
        pub_window w;
        if (pub_window_resolve(h->w, pub_standard_windows[i], today, &w) == 0)
            json_array_append_new(wins, window_json(&w));
    }
    for (size_t i = 0; i < h->w->ncampaigns; i++) {
        char name[96];
        snprintf(name, sizeof name, "campaign:%s", h->w->campaigns[i].name);
        pub_window w;
        if (pub_window_resolve(h->w, name, today, &w) == 0)
            json_array_append_new(wins, window_json(&w));
    }
    json_object_set_new(o, "windows", wins);
    pub_request_scope home;
    enum MHD_Result ret;
    if (!scope_args(h, c, &home, &ret))
        return ret;
    json_object_set_new(o, "org", pub_request_scope_json(&home));
    json_t *counties = json_array();
    pub_model_rdlock(h->m);
    /* The units from the home down to the one read (a trail back). */
    const pufa_orgunits *ou = pub_model_orgunits(h->m);
    const char *hc = pub_model_home(h->m);
    json_t *path = json_array();
    const pufa_orgunit *u = ou && home.code[0] ? pufa_orgunits_find(ou, home.code) : NULL;
    for (int step = 0; u && step < 4; step++) {
        json_array_insert_new(
            path, 0,
            json_pack("{s:s, s:s, s:s}", "code", u->code, "name", u->name, "level", u->level));
        if (!strcmp(u->code, hc))
            break;
        u = u->parent_code[0] ? pufa_orgunits_find(ou, u->parent_code) : NULL;
    }
    json_t *first = json_array_get(path, 0);
    json_object_set(o, "home", first ? first : json_null());
    json_object_set_new(o, "path", path);
    for (size_t i = 0; i < pub_model_counties(h->m); i++) {
        if (!pub_model_county_in(h->m, &home.scope, (uint32_t)i))
            continue;
        json_t *r = json_object();
        json_object_set_new(r, "code", json_string(pub_model_key(h->m, DIM_COUNTY, (uint32_t)i)));
        json_object_set_new(r, "name", json_string(pub_model_label(h->m, DIM_COUNTY, (uint32_t)i)));
        json_array_append_new(counties, r);
    }
    json_object_set_new(o, "seq", json_integer((json_int_t)pub_model_seq(h->m)));
    pub_model_unlock(h->m);
    json_object_set_new(o, "counties", counties);
    char t[11];
    pufa_date_format(today, t);
    json_object_set_new(o, "today", json_string(t));
    json_object_set_new(o, "figures", json_array());
    for (int k = 0; k < NFIG; k++)
        json_array_append_new(json_object_get(o, "figures"), json_string(pufa_figure_names[k]));
    meta_children(h, &home, o);
    return reply_json(h, c, 200, o);
}

/* ---- targets (责任清单) ---- */

/* GET /v1/targets?year=YYYY[&org=CODE]: every target of the year under
 * org, its actual, per cent done, the pro-rata expectation for today and
 * who is behind it (publisher/progress.h). */
static enum MHD_Result get_targets(pub_http *h, struct MHD_Connection *c) {
    pufa_day today = pufa_city_day(pufa_now_ms());
    int y, m, d;
    pufa_date_to_ymd(today, &y, &m, &d);
    const char *ys = arg(c, "year", NULL);
    if (ys) {
        char *end;
        long v = strtol(ys, &end, 10);
        if (*end || strlen(ys) != 4 || v < 2000 || v > 2100) {
            char msg[120];
            snprintf(msg, sizeof msg, "year: a year from 2000 to 2100 (got %.20s)", ys);
            return reply_error(h, c, 400, msg);
        }
        y = (int)v;
    }
    const char *org;
    enum MHD_Result ret;
    if (!targets_org_arg(h, c, "targets are not read by this publisher", &org, &ret))
        return ret;
    pufa_targets t;
    pufa_orgunits *ou;
    uint64_t version;
    bool loaded;
    pub_targets_get(h->targets, y, org, &t, &ou, &version, &loaded);
    if (!loaded) {
        pufa_targets_free(&t);
        pufa_orgunits_destroy(&ou);
        return reply_error(h, c, 503, "targets not read from PostgreSQL yet");
    }
    pub_model_rdlock(h->m);
    json_t *o = pub_progress_json(h->m, ou, t.v, t.n, y, org, today, version);
    json_object_set_new(o, "seq", json_integer((json_int_t)pub_model_seq(h->m)));
    pub_model_unlock(h->m);
    pufa_targets_free(&t);
    pufa_orgunits_destroy(&ou);
    return reply_json(h, c, 200, o);
}

/* GET /v1/completeness?window=W[&org=CODE]: per county and per unit of the
 * duty list (the units with a target in the year the window ends), who
 * reported in the window and who reported each month on time
 * (publisher/completeness.h). */
static enum MHD_Result get_completeness(pub_http *h, struct MHD_Connection *c) {
    pub_window win;
    pufa_day today = pufa_city_day(pufa_now_ms());
    enum MHD_Result wret;
    if (!window_arg(h, c, "month", &win, &wret))
        return wret;
    const char *org;
    enum MHD_Result ret;
    if (!targets_org_arg(h, c, "targets are not read by this publisher", &org, &ret))
        return ret;
    int y, m, d;
    pufa_date_to_ymd(win.to < today ? win.to : today, &y, &m, &d);
    pufa_targets t;
    pufa_orgunits *ou;
    uint64_t version;
    bool loaded;
    pub_targets_get(h->targets, y, org, &t, &ou, &version, &loaded);
    if (!loaded) {
        pufa_targets_free(&t);
        pufa_orgunits_destroy(&ou);
        return reply_error(h, c, 503, "targets not read from PostgreSQL yet");
    }
    pub_model_rdlock(h->m);
    json_t *o = pub_completeness_json(h->m, pub_live_firsts(h->live), ou, t.v, t.n, &win, y, org,
                                      today, h->timely_days);
    json_object_set_new(o, "seq", json_integer((json_int_t)pub_model_seq(h->m)));
    pub_model_unlock(h->m);
    pufa_targets_free(&t);
    pufa_orgunits_destroy(&ou);
    return reply_json(h, c, 200, o);
}

/* ---- the printable 统计表 ---- */

/* GET /print?window=W[&org=CODE] (the page) and /print.xlsx (the same
 * table as a workbook): publisher/stattable.h. */
static enum MHD_Result get_print(pub_http *h, struct MHD_Connection *c, bool xlsx) {
    pub_window win;
    enum MHD_Result wret;
    if (!window_arg(h, c, "ytd", &win, &wret))
        return wret;
    const char *wname = arg(c, "window", "ytd");
    const char *org;
    enum MHD_Result ret;
    if (!targets_org_arg(h, c, "org units are not read by this publisher", &org, &ret))
        return ret;
    pufa_orgunits *ou = pub_targets_orgunits(h->targets);
    stat_table t;
    stat_table_build(&t, h->m, ou, org, &win);
    pufa_orgunits_destroy(&ou);
    pufa_buf out;
    pufa_buf_init(&out);
    char err[256];
    int rc = 0;
    if (xlsx) {
        rc = stat_table_xlsx(&t, &out, err, sizeof err);
    } else {
        pufa_buf q; /* the same query, percent-encoded, for the Excel link */
        pufa_buf_init(&q);
        pufa_buf_puts(&q, "window=");
        for (const unsigned char *p = (const unsigned char *)wname; *p; p++)
            if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                *p == '-' || *p == '.' || *p == '_')
                pufa_buf_putc(&q, (char)*p);
            else
                pufa_buf_printf(&q, "%%%02X", *p);
        if (org)
            pufa_buf_printf(&q, "&org=%s", org);
        stat_table_html(&t, q.data, &out);
        pufa_buf_free(&q);
    }
    if (rc) {
        stat_table_free(&t);
        pufa_buf_free(&out);
        return reply_error(h, c, 500, err);
    }
    size_t len = out.len;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, pufa_buf_steal(&out), MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(
        r, "Content-Type",
        xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
             : "text/html; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (xlsx) {
        char disp[300];
        /* RFC 5987: the Chinese title as the file name, an ASCII fallback. */
        pufa_buf fn;
        pufa_buf_init(&fn);
        for (const unsigned char *p = (const unsigned char *)t.title; *p; p++)
            pufa_buf_printf(&fn, "%%%02X", *p);
        snprintf(disp, sizeof disp,
                 "attachment; filename=\"pufa-stat.xlsx\"; filename*=UTF-8''%.200s.xlsx", fn.data);
        pufa_buf_free(&fn);
        MHD_add_response_header(r, "Content-Disposition", disp);
    } else {
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; style-src 'self'; img-src 'self' data:");
    }
    stat_table_free(&t);
    enum MHD_Result mrc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return mrc;
}

void pub_http_set_targets(pub_http *h, pub_targets *t, int timely_days) {
    h->targets = t;
    h->timely_days = timely_days;
}

/* ---- SSE (sse.c) ---- */

static enum MHD_Result get_stream(pub_http *h, struct MHD_Connection *c) {
    enum MHD_Result rc;
    if (!pub_sse_open(h->sse, c, &rc))
        return reply_error(h, c, 503, "too many live streams; try again later");
    return rc;
}

/* ---- exports ---- */

static enum MHD_Result get_export(pub_http *h, struct MHD_Connection *c, bool xlsx) {
    pub_window win;
    int dim, period, rank;
    pub_request_scope sa;
    enum MHD_Result ret;
    if (!query_args(h, c, &win, &dim, &period, &sa, &rank, &ret))
        return ret;
    if (period >= 0)
        return reply_error(h, c, 400,
                           "by: day, week and month are trends of /v1/totals; exports take "
                           "county, theme, venue, form, unit, campaign or none");
    if (arg(c, "compare", NULL))
        return reply_error(h, c, 400, "compare: only /v1/totals compares; exports do not");
    const char *detail = arg(c, "detail", NULL);
    if (detail && strcmp(detail, "reports") != 0)
        return reply_error(h, c, 400, "detail: only 'reports' is supported");
    bool approved;
    if (!status_arg(h, c, &approved, &ret))
        return ret;
    export_request req = {.window = &win,
                          .dim = (pub_dim)dim,
                          .scope = &sa.scope,
                          .unit_name = sa.name,
                          .rank = rank,
                          .detail = detail != NULL,
                          .db = h->db,
                          .limit = h->cfg.export_limit,
                          .approved = approved};
    pufa_buf out;
    pufa_buf_init(&out);
    char err[512];
    int rc = xlsx ? export_xlsx(h->m, &req, &out, err, sizeof err)
                  : export_csv(h->m, &req, &out, err, sizeof err);
    if (rc) {
        pufa_buf_free(&out);
        return reply_error(h, c, rc == PUFA_EDBDOWN ? 503 : 500, err);
    }
    size_t len = out.len;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, pufa_buf_steal(&out), MHD_RESPMEM_MUST_FREE);
    char disp[256];
    snprintf(disp, sizeof disp, "attachment; filename=\"pufa-%s%s-%s.%s\"",
             approved ? "official-" : "", detail ? "reports" : pub_dim_names[dim],
             win.name[0] && !strchr(win.name, ':') ? win.name : "window", xlsx ? "xlsx" : "csv");
    MHD_add_response_header(
        r, "Content-Type",
        xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
             : "text/csv; charset=utf-8");
    MHD_add_response_header(r, "Content-Disposition", disp);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result mrc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return mrc;
}

/* ---- the rest ---- */

static enum MHD_Result get_metrics(pub_http *h, struct MHD_Connection *c) {
    pufa_buf b;
    pufa_buf_init(&b);
    pub_live_stats st;
    pub_live_get_stats(h->live, &st);
    pufa_metric_help(&b, "pufa_publisher_ready", "gauge", "1 once a snapshot is loaded.");
    pufa_metric_u64(&b, "pufa_publisher_ready", NULL, st.ready);
    pufa_metric_help(&b, "pufa_publisher_deltas_total", "counter", "Feed deltas by fate.");
    pufa_metric_u64(&b, "pufa_publisher_deltas_total", "fate=\"applied\"", st.deltas_applied);
    pufa_metric_u64(&b, "pufa_publisher_deltas_total", "fate=\"dropped_old\"", st.deltas_dropped);
    pufa_metric_help(&b, "pufa_publisher_gaps_total", "counter",
                     "Sequence gaps seen (each leads to a resync).");
    pufa_metric_u64(&b, "pufa_publisher_gaps_total", NULL, st.gaps);
    pufa_metric_help(&b, "pufa_publisher_snapshots_total", "counter",
                     "Snapshots loaded from PostgreSQL (start-up and resyncs).");
    pufa_metric_u64(&b, "pufa_publisher_snapshots_total", NULL, st.snapshots);
    pufa_metric_help(&b, "pufa_publisher_snapshot_seconds", "gauge",
                     "Duration of the last snapshot.");
    pufa_metric_f64(&b, "pufa_publisher_snapshot_seconds", NULL, st.last_snapshot_seconds);
    pub_model_rdlock(h->m);
    pufa_metric_help(&b, "pufa_publisher_seq", "gauge", "Last feed sequence applied.");
    pufa_metric_u64(&b, "pufa_publisher_seq", NULL, pub_model_seq(h->m));
    pub_model_unlock(h->m);
    pub_sse_metrics(h->sse, &b);
    pufa_http_metrics(h->srv, &b, "pufa_publisher");
    pufa_metric_help(&b, "pufa_publisher_http_requests_total", "counter", "HTTP requests.");
    pufa_metric_u64(&b, "pufa_publisher_http_requests_total", NULL, h->requests);
    pufa_metric_help(&b, "pufa_publisher_http_errors_total", "counter", "HTTP answers >= 400.");
    pufa_metric_u64(&b, "pufa_publisher_http_errors_total", NULL, h->errors);
    size_t len = b.len;
    return reply(h, c, 200, "text/plain; version=0.0.4; charset=utf-8", pufa_buf_steal(&b), len);
}

static enum MHD_Result text(pub_http *h, struct MHD_Connection *c, unsigned status,
                            const char *msg) {
    char *body = pufa_strdup(msg);
    return reply(h, c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static bool token_ok(pub_http *h, struct MHD_Connection *c) {
    if (!h->token)
        return true;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    const char *given = auth && !strncasecmp(auth, "Bearer ", 7) ? auth + 7 : q;
    if (!given)
        return false;
    size_t a = strlen(given), b = strlen(h->token);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned)(given[a ? i % a : 0] ^ h->token[i]);
    return diff == 0;
}

/* GET /v1/official?org=CODE&month=YYYY-MM (publisher/official.c); org:
 * the home or a unit under it, the home when absent. */
static enum MHD_Result get_official(pub_http *h, struct MHD_Connection *c) {
    json_t *o = NULL;
    char msg[300];
    pub_request_scope sc;
    if (pub_request_scope_parse(h->m, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "org"),
                                NULL, &sc, msg, sizeof msg))
        return reply_error(h, c, 400, msg);
    if (!sc.code[0])
        return reply_error(h, c, 400, "org: required (this publisher has no home unit)");
    int st =
        pub_official(h->db, sc.code, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "month"),
                     &o, msg, sizeof msg);
    return st == 200 ? reply_json(h, c, 200, o) : reply_error(h, c, (unsigned)st, msg);
}

/* ---- official figures: approvals, audit (audit.h), the proxy (proxy.h) ---- */

/* ?period= (or ?month=) of /v1/approvals and /v1/audit; replies itself. */
static bool period_arg(pub_http *h, struct MHD_Connection *c, int *month, enum MHD_Result *ret) {
    const char *p = arg(c, "period", NULL), *mo = arg(c, "month", NULL);
    char msg[200];
    if (p && mo) {
        *ret = reply_error(h, c, 400, "period, month: give one (month=YYYY-MM is period=YYYY-MM)");
        return false;
    }
    if (pub_period_arg(mo ? "month" : "period", mo ? mo : p, month, msg, sizeof msg)) {
        *ret = reply_error(h, c, 400, msg);
        return false;
    }
    return true;
}

/* ?org= (the home when absent) and the period: false when answered. */
static bool official_args(pub_http *h, struct MHD_Connection *c, pub_request_scope *sc, int *month,
                          enum MHD_Result *ret) {
    char msg[300];
    if (pub_request_scope_parse(h->m, arg(c, "org", NULL), NULL, sc, msg, sizeof msg)) {
        *ret = reply_error(h, c, 400, msg);
        return false;
    }
    if (!sc->code[0]) {
        *ret = reply_error(h, c, 400, "org: required (this publisher has no home unit)");
        return false;
    }
    return period_arg(h, c, month, ret);
}

static enum MHD_Result get_approvals(pub_http *h, struct MHD_Connection *c) {
    pub_request_scope sc;
    int month;
    enum MHD_Result ret;
    if (!official_args(h, c, &sc, &month, &ret))
        return ret;
    return reply_json(h, c, 200, pub_approvals_json(h->m, sc.code, month));
}

static enum MHD_Result get_audit(pub_http *h, struct MHD_Connection *c) {
    pub_request_scope sc;
    int month;
    enum MHD_Result ret;
    if (!official_args(h, c, &sc, &month, &ret))
        return ret;
    json_t *o = NULL;
    char msg[300];
    int st = pub_audit(h->db, sc.code, month, &o, msg, sizeof msg);
    return st == 200 ? reply_json(h, c, 200, o) : reply_error(h, c, (unsigned)st, msg);
}

static enum MHD_Result get_office(pub_http *h, struct MHD_Connection *c) {
    json_t *o = NULL;
    char msg[300];
    int st = pub_office(h->db, h->m, arg(c, "name", NULL), &o, msg, sizeof msg);
    return st == 200 ? reply_json(h, c, 200, o) : reply_error(h, c, (unsigned)st, msg);
}

/* /v1/reports/{id}/history */
static enum MHD_Result get_history(pub_http *h, struct MHD_Connection *c, const char *url) {
    const char *id = url + strlen("/v1/reports/");
    size_t n = strlen(id), suffix = strlen("/history");
    char buf[64];
    if (n <= suffix || strcmp(id + n - suffix, "/history") != 0 || n - suffix >= sizeof buf)
        return reply_error(h, c, 404, "unknown API path (try /v1/reports/{id}/history)");
    memcpy(buf, id, n - suffix);
    buf[n - suffix] = '\0';
    json_t *o = NULL;
    char msg[300];
    int st = pub_report_history(h->db, h->m, buf, &o, msg, sizeof msg);
    return st == 200 ? reply_json(h, c, 200, o) : reply_error(h, c, (unsigned)st, msg);
}

static enum MHD_Result post_approvals(pub_http *h, struct MHD_Connection *c,
                                      const pub_proxy_body *b) {
    if (b->too_big) {
        char msg[80];
        snprintf(msg, sizeof msg, "body: at most %d bytes", PROXY_MAX_BODY);
        return reply_error(h, c, 413, msg);
    }
    char *answer;
    size_t len;
    int st = pub_proxy_forward(
        h->cfg.approvals_url, h->cfg.approvals_timeout_ms,
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), b->data,
        b->len, &answer, &len);
    if (st < 100 || st > 599)
        st = 502;
    return reply(h, c, (unsigned)st, "application/json; charset=utf-8", answer, len);
}

/* Frees a POST's body buffer when its request ends. */
static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    if (con_cls && *con_cls && *con_cls != cls)
        free(*con_cls);
    if (con_cls)
        *con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    pub_http *h = cls;
    bool post = !strcmp(method, "POST");
    if (*con_cls == NULL) {
        /* The one write the publisher passes on keeps its body (bounded). */
        *con_cls = post && !strcmp(url, "/v1/approvals")
                       ? (void *)pufa_calloc(1, sizeof(pub_proxy_body))
                       : (void *)h;
        return MHD_YES;
    }
    if (*upload_size) {
        if (*con_cls != h)
            pub_proxy_body_add(*con_cls, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    h->requests++;
    if (post && *con_cls != h) {
        if (!token_ok(h, c))
            return reply_error(h, c, 401, "missing or wrong token");
        return post_approvals(h, c, *con_cls);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_error(h, c, 405,
                           "the publisher is read-only: use GET (POST only /v1/approvals, "
                           "forwarded to the aggregator)");
    if (!strcmp(url, "/healthz"))
        return text(h, c, 200, "ok\n");
    if (!strcmp(url, "/readyz")) {
        pub_live_stats st;
        pub_live_get_stats(h->live, &st);
        char why[300];
        snprintf(why, sizeof why, "not ready: %s\n",
                 st.db_error[0] ? st.db_error : "loading the snapshot");
        return st.ready ? text(h, c, 200, "ready\n") : text(h, c, 503, why);
    }
    if (!strcmp(url, "/metrics"))
        return get_metrics(h, c);
    if (!strncmp(url, "/v1/", 4)) {
        if (!token_ok(h, c))
            return reply_error(h, c, 401, "missing or wrong token");
        if (!pub_live_ready(h->live))
            return reply_error(h, c, 503, "loading the snapshot from PostgreSQL");
        if (!strcmp(url, "/v1/totals"))
            return get_totals(h, c);
        if (!strcmp(url, "/v1/stream"))
            return get_stream(h, c);
        if (!strcmp(url, "/v1/silent"))
            return get_silent(h, c);
        if (!strcmp(url, "/v1/meta"))
            return get_meta(h, c);
        if (!strcmp(url, "/v1/children"))
            return get_children(h, c);
        if (!strcmp(url, "/v1/targets"))
            return get_targets(h, c);
        if (!strcmp(url, "/v1/completeness"))
            return get_completeness(h, c);
        if (!strcmp(url, "/v1/export.csv"))
            return get_export(h, c, false);
        if (!strcmp(url, "/v1/export.xlsx"))
            return get_export(h, c, true);
        if (!strcmp(url, "/v1/official"))
            return get_official(h, c);
        if (!strcmp(url, "/v1/approvals"))
            return get_approvals(h, c);
        if (!strcmp(url, "/v1/audit"))
            return get_audit(h, c);
        if (!strcmp(url, "/v1/office"))
            return get_office(h, c);
        if (!strncmp(url, "/v1/reports/", 12))
            return get_history(h, c, url);
        return reply_error(h, c, 404, "unknown API path");
    }
    if (!strcmp(url, "/print") || !strcmp(url, "/print.xlsx")) {
        if (!token_ok(h, c))
            return reply_error(h, c, 401, "missing or wrong token");
        if (!pub_live_ready(h->live))
            return reply_error(h, c, 503, "loading the snapshot from PostgreSQL");
        return get_print(h, c, url[6] == '.');
    }
    const char *path = !strcmp(url, "/") ? "/index.html" : url;
    for (unsigned long i = 0; i < pufa_n_assets; i++) {
        if (strcmp(pufa_assets[i].path, path) != 0)
            continue;
        struct MHD_Response *r = MHD_create_response_from_buffer(
            pufa_assets[i].len, (void *)pufa_assets[i].data, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", pufa_assets[i].content_type);
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:");
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    return text(h, c, 404, "not found\n");
}

int pub_http_open(const pub_http_config *cfg, pub_live *live, const pub_windows *w, pub_http **out,
                  int *port, char *err, size_t errsize) {
    pub_http *h = pufa_calloc(1, sizeof *h);
    h->cfg = *cfg;
    h->token = cfg->token && *cfg->token ? pufa_strdup(cfg->token) : NULL;
    h->db = pufa_strdup(cfg->db);
    h->live = live;
    h->m = pub_live_model(live);
    h->w = w;
    h->children = pub_children_new(cfg->db, cfg->link_timeout_ms, 1000);
    pub_sse_config sc = {.max_streams = cfg->max_streams,
                         .keepalive_ms = cfg->keepalive_ms,
                         .stall_ms = cfg->stream_stall_ms,
                         .buffer_bytes = cfg->stream_buffer,
                         .min_interval_ms = cfg->stream_interval_ms};
    h->sse = pub_sse_new(live, &sc);
    h->cfg.approvals_url =
        cfg->approvals_url && *cfg->approvals_url ? pufa_strdup(cfg->approvals_url) : NULL;
    int rc = pufa_http_start(cfg->addr, &cfg->limits, on_request, h, on_done, h, &h->srv, port, err,
                             errsize);
    if (rc) {
        pub_sse_destroy(&h->sse);
        pub_children_destroy(&h->children);
        free(h->token);
        free(h->db);
        free((char *)h->cfg.approvals_url);
        free(h);
        return rc == PUFA_EINVAL ? PUFA_ECONFIG : rc;
    }
    *out = h;
    return 0;
}

void pub_http_close(pub_http **ph) {
    if (!ph || !*ph)
        return;
    pub_http *h = *ph;
    /* End every stream first, then the server (which frees them). */
    pub_sse_stop(h->sse);
    pufa_http_stop(&h->srv);
    pub_sse_destroy(&h->sse);
    pub_children_destroy(&h->children);
    free(h->token);
    free(h->db);
    free((char *)h->cfg.approvals_url);
    free(h);
    *ph = NULL;
}
