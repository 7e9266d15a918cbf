#include "completeness.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* One expected reporter: a responsible unit inside a county. */
typedef struct expected {
    const char *county, *unit; /* borrowed from the targets */
    uint32_t ci, ui;           /* model indices; UINT32_MAX when never seen */
    pufa_day *days;            /* received days, ascending */
    size_t ndays, cap;
} expected;

typedef struct scan {
    expected *e;
    size_t n;
    uint32_t nc, nu;
    int32_t *index; /* [county * nu + unit] -> expected + 1 */
} scan;

static void on_receipt(void *ctx, pufa_day day, uint32_t county, uint32_t unit) {
    scan *s = ctx;
    if (county >= s->nc || unit >= s->nu || !s->index[(size_t)county * s->nu + unit])
        return;
    expected *e = &s->e[s->index[(size_t)county * s->nu + unit] - 1];
    if (e->ndays == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->days = pufa_realloc(e->days, e->cap * sizeof *e->days);
    }
    e->days[e->ndays++] = day;
}

/* Any received day in [a, b]? */
static bool received_in(const expected *e, pufa_day a, pufa_day b) {
    size_t lo = 0, hi = e->ndays;
    while (lo < hi) { /* first day >= a */
        size_t mid = (lo + hi) / 2;
        if (e->days[mid] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->ndays && e->days[lo] <= b;
}

static pufa_day month_first(pufa_day d) {
    int y, m, dd;
    pufa_date_to_ymd(d, &y, &m, &dd);
    return pufa_date_from_ymd(y, m, 1);
}

static pufa_day month_last(pufa_day d) {
    int y, m, dd;
    pufa_date_to_ymd(d, &y, &m, &dd);
    return m == 12 ? pufa_date_from_ymd(y + 1, 1, 1) - 1 : pufa_date_from_ymd(y, m + 1, 1) - 1;
}

static json_t *pct(long long num, long long den) {
    if (den == 0)
        return json_null();
    double x = (double)num * 1000.0 / (double)den;
    return json_real((double)(long long)(x + 0.5) / 10.0);
}

static json_t *day_json(pufa_day d) {
    if (d < 0)
        return json_null();
    char s[11];
    pufa_date_format(d, s);
    return json_string(s);
}

typedef struct tally {
    long long expected, reported, due, on_time;
} tally;

static void tally_json(json_t *o, const tally *t) {
    json_object_set_new(o, "expected", json_integer(t->expected));
    json_object_set_new(o, "reported", json_integer(t->reported));
    json_object_set_new(o, "rate", pct(t->reported, t->expected));
    json_object_set_new(o, "months_due", json_integer(t->due));
    json_object_set_new(o, "months_on_time", json_integer(t->on_time));
    json_object_set_new(o, "timeliness", pct(t->on_time, t->due));
}

/* The unit row of e; adds it to the county's tally.  *late: a due month
 * missed, or nothing received in the window. */
static json_t *unit_row(const pub_model *m, const pub_firsts *firsts, const expected *e,
                        const pub_window *win, pufa_day today, int timely_days, tally *ct,
                        bool *late) {
    json_t *r = json_object();
    bool reported = received_in(e, win->from, win->to);
    long long due = 0, on_time = 0;
    json_t *missed = json_array();
    for (pufa_day first = month_first(win->from); first <= win->to; first = month_last(first) + 1) {
        pufa_day deadline = month_last(first) + timely_days;
        int y, mo, dd;
        pufa_date_to_ymd(first, &y, &mo, &dd);
        pufa_day got = pub_firsts_get(firsts, e->county, e->unit, y * 12 + mo - 1);
        bool ok = got >= 0 && got <= deadline;
        if (!ok && deadline >= today)
            continue; /* still open */
        due++;
        on_time += ok;
        if (!ok) {
            char key[8];
            char d[11];
            pufa_date_format(first, d);
            memcpy(key, d, 7);
            key[7] = '\0';
            json_array_append_new(missed, json_string(key));
        }
    }
    json_object_set_new(r, "county", json_string(e->county));
    json_object_set_new(r, "unit_code", json_string(e->unit));
    json_object_set_new(
        r, "unit_name",
        json_string(e->ui == UINT32_MAX ? e->unit : pub_model_label(m, DIM_UNIT, e->ui)));
    json_object_set_new(r, "reported", json_boolean(reported));
    json_object_set_new(
        r, "last_report",
        day_json(e->ci == UINT32_MAX ? -1 : pub_model_last_report(m, e->ci, e->unit)));
    json_object_set_new(r, "months_due", json_integer(due));
    json_object_set_new(r, "months_on_time", json_integer(on_time));
    json_object_set_new(r, "missed_months", missed);
    *late = !reported || on_time < due;
    json_object_set_new(r, "late", json_boolean(*late));
    ct->expected++;
    ct->reported += reported;
    ct->due += due;
    ct->on_time += on_time;
    return r;
}

json_t *pub_completeness_json(const pub_model *m, const pub_firsts *firsts, const pufa_orgunits *ou,
                              const pufa_target *t, size_t n, const pub_window *win, int year,
                              const char *org, pufa_day today, int timely_days) {
    scan s = {.e = pufa_calloc(n ? n : 1, sizeof *s.e),
              .nc = (uint32_t)pub_model_counties(m),
              .nu = (uint32_t)pub_model_units(m)};
    s.index = pufa_calloc((size_t)s.nc * s.nu + 1, sizeof *s.index);
    for (size_t i = 0; i < n; i++) {
        if (!t[i].unit_code[0])
            continue;
        bool dup = false;
        for (size_t k = 0; k < s.n && !dup; k++)
            dup = !strcmp(s.e[k].county, t[i].org_code) && !strcmp(s.e[k].unit, t[i].unit_code);
        if (dup)
            continue;
        expected *e = &s.e[s.n++];
        e->county = t[i].org_code;
        e->unit = t[i].unit_code;
        e->ci = pub_model_county_index(m, e->county);
        e->ui = pub_model_unit_index(m, e->unit);
        if (e->ci != UINT32_MAX && e->ui != UINT32_MAX)
            s.index[(size_t)e->ci * s.nu + e->ui] = (int32_t)s.n;
    }
    /* Receipts of the window (the reporting rate; timeliness reads firsts). */
    pub_model_received(m, win->from, win->to < today ? win->to : today, on_receipt, &s);

    json_t *o = json_object(), *counties = json_array(), *units = json_array();
    tally all = {0};
    long long late_counties = 0, late_units = 0;
    for (uint32_t c = 0; c < s.nc; c++) {
        const char *code = pub_model_key(m, DIM_COUNTY, c);
        if (org && strcmp(code, org) != 0 && !pufa_orgunits_is_under(ou, code, org))
            continue;
        tally ct = {0};
        bool county_late = false;
        for (size_t k = 0; k < s.n; k++) {
            if (strcmp(s.e[k].county, code) != 0)
                continue;
            bool late;
            json_array_append_new(
                units, unit_row(m, firsts, &s.e[k], win, today, timely_days, &ct, &late));
            county_late |= late;
            late_units += late;
        }
        pufa_day last = pub_model_last_report(m, c, NULL);
        bool silent = last < win->from; /* nothing received since the window began */
        json_t *r = json_object();
        json_object_set_new(r, "code", json_string(code));
        json_object_set_new(r, "name", json_string(pub_model_label(m, DIM_COUNTY, c)));
        tally_json(r, &ct);
        json_object_set_new(r, "last_report", day_json(last));
        json_object_set_new(r, "days_since", last < 0 ? json_null() : json_integer(today - last));
        json_object_set_new(r, "silent", json_boolean(silent));
        json_object_set_new(r, "late", json_boolean(county_late || silent));
        late_counties += county_late || silent;
        json_array_append_new(counties, r);
        all.expected += ct.expected;
        all.reported += ct.reported;
        all.due += ct.due;
        all.on_time += ct.on_time;
    }
    char a[11], b[11], d[11];
    pufa_date_format(win->from, a);
    pufa_date_format(win->to, b);
    pufa_date_format(today, d);
    json_t *w = json_object();
    json_object_set_new(w, "name", json_string(win->name));
    json_object_set_new(w, "label", json_string(win->label));
    json_object_set_new(w, "from", json_string(a));
    json_object_set_new(w, "to", json_string(b));
    json_object_set_new(o, "window", w);
    json_object_set_new(o, "org", org ? json_string(org) : json_null());
    json_object_set_new(o, "today", json_string(d));
    json_object_set_new(o, "duty_year", json_integer(year));
    json_object_set_new(o, "timely_days", json_integer(timely_days));
    json_t *tot = json_object();
    tally_json(tot, &all);
    json_object_set_new(tot, "late_counties", json_integer(late_counties));
    json_object_set_new(tot, "late_units", json_integer(late_units));
    json_object_set_new(o, "totals", tot);
    json_object_set_new(o, "counties", counties);
    json_object_set_new(o, "units", units);
    for (size_t k = 0; k < s.n; k++)
        free(s.e[k].days);
    free(s.e);
    free(s.index);
    return o;
}
