#include "progress.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

int pub_year_days(int year) {
    return (int)(pufa_date_from_ymd(year + 1, 1, 1) - pufa_date_from_ymd(year, 1, 1));
}

int pub_year_elapsed(int year, pufa_day today) {
    pufa_day first = pufa_date_from_ymd(year, 1, 1);
    int days = pub_year_days(year);
    if (today < first)
        return 0;
    return today - first + 1 >= days ? days : (int)(today - first + 1);
}

int64_t pub_pro_rata(int64_t target, int elapsed, int days) {
    if (days <= 0 || elapsed <= 0)
        return 0;
    if (elapsed >= days)
        return target;
    return (int64_t)((__int128)target * elapsed / days);
}

/* The per-unit rows of one county over the window, computed once. */
typedef struct county_units {
    const char *county;
    pub_row *rows;
    size_t n;
} county_units;

static const int64_t *unit_figures(const pub_model *m, const county_units *cu, const char *unit) {
    for (size_t i = 0; i < cu->n; i++)
        if (!strcmp(pub_model_key(m, DIM_UNIT, cu->rows[i].value), unit))
            return cu->rows[i].fig;
    return NULL;
}

void pub_progress_compute(const pub_model *m, const pufa_orgunits *ou, const pufa_target *t,
                          size_t n, int year, pufa_day today, pub_progress *out) {
    pufa_day from = pufa_date_from_ymd(year, 1, 1);
    pufa_day last = pufa_date_from_ymd(year, 12, 31);
    pufa_day to = today < last ? today : last;
    int elapsed = pub_year_elapsed(year, today), days = pub_year_days(year);
    pub_row *counties = NULL;
    int64_t tot[NFIG];
    size_t nc = 0;
    county_units *cus = pufa_calloc(n ? n : 1, sizeof *cus);
    size_t ncu = 0;
    pub_scope every = {.code = "", .level = -1}; /* ou decides what is under what */
    if (to >= from)
        nc = pub_model_query(m, from, to, DIM_COUNTY, &every, &counties, tot);
    for (size_t i = 0; i < n; i++) {
        const pufa_target *x = &t[i];
        int64_t actual = 0;
        if (to >= from && x->unit_code[0]) {
            county_units *cu = NULL;
            for (size_t k = 0; k < ncu && !cu; k++)
                if (!strcmp(cus[k].county, x->org_code))
                    cu = &cus[k];
            if (!cu) {
                cu = &cus[ncu++];
                cu->county = x->org_code;
                pub_scope sc;
                if (pub_model_scope(m, x->org_code, &sc) == 0)
                    cu->n = pub_model_query(m, from, to, DIM_UNIT, &sc, &cu->rows, tot);
            }
            const int64_t *f = unit_figures(m, cu, x->unit_code);
            actual = f ? f[x->figure] : 0;
        } else {
            for (size_t k = 0; k < nc; k++) {
                const char *code = pub_model_key(m, DIM_COUNTY, counties[k].value);
                if (!strcmp(code, x->org_code) || pufa_orgunits_is_under(ou, code, x->org_code))
                    pufa_fig_add(&actual, counties[k].fig[x->figure]);
            }
        }
        out[i] = (pub_progress){.t = x, .actual = actual};
        out[i].expected = pub_pro_rata(x->target, elapsed, days);
        out[i].behind = actual < out[i].expected;
    }
    for (size_t k = 0; k < ncu; k++)
        free(cus[k].rows);
    free(cus);
    free(counties);
}

/* Per cent to one decimal (num / den x 100), or null when den is 0. */
static json_t *pct(int64_t num, int64_t den) {
    if (den == 0)
        return json_null();
    double x = (double)num * 1000.0 / (double)den;
    return json_real((double)(long long)(x + 0.5) / 10.0);
}

static const char *org_name(const pub_model *m, const pufa_orgunits *ou, const char *code) {
    const pufa_orgunit *u = pufa_orgunits_find(ou, code);
    if (u)
        return u->name;
    uint32_t c = pub_model_county_index(m, code);
    return c == UINT32_MAX ? code : pub_model_label(m, DIM_COUNTY, c);
}

static const char *unit_name(const pub_model *m, const char *unit) {
    for (size_t u = 0; u < pub_model_units(m); u++)
        if (!strcmp(pub_model_key(m, DIM_UNIT, (uint32_t)u), unit))
            return pub_model_label(m, DIM_UNIT, (uint32_t)u);
    return unit;
}

static json_t *progress_row(const pub_model *m, const pufa_orgunits *ou, const pub_progress *p) {
    const pufa_target *x = p->t;
    json_t *r = json_object();
    json_object_set_new(r, "org_code", json_string(x->org_code));
    json_object_set_new(r, "org_name", json_string(org_name(m, ou, x->org_code)));
    json_object_set_new(r, "unit_code", x->unit_code[0] ? json_string(x->unit_code) : json_null());
    json_object_set_new(r, "unit_name",
                        x->unit_code[0] ? json_string(unit_name(m, x->unit_code)) : json_null());
    json_object_set_new(r, "figure", json_string(pufa_figure_names[x->figure]));
    json_object_set_new(r, "target", json_integer(x->target));
    json_object_set_new(r, "actual", json_integer(p->actual));
    json_object_set_new(r, "pct_done", pct(p->actual, x->target));
    json_object_set_new(r, "expected", json_integer(p->expected));
    json_object_set_new(r, "pct_of_expected", pct(p->actual, p->expected));
    json_object_set_new(r, "behind", json_boolean(p->behind));
    json_object_set_new(r, "shortfall", json_integer(p->behind ? p->expected - p->actual : 0));
    return r;
}

/* Behind first by how far (actual / expected, smallest first). */
static int cmp_behind(const void *pa, const void *pb) {
    const pub_progress *a = *(const pub_progress *const *)pa, *b = *(const pub_progress *const *)pb;
    __int128 l = (__int128)a->actual * b->expected, r = (__int128)b->actual * a->expected;
    if (l != r)
        return l < r ? -1 : 1;
    int c = strcmp(a->t->org_code, b->t->org_code);
    return c ? c : strcmp(a->t->unit_code, b->t->unit_code);
}

json_t *pub_progress_json(const pub_model *m, const pufa_orgunits *ou, const pufa_target *t,
                          size_t n, int year, const char *org, pufa_day today, uint64_t version) {
    pub_progress *p = pufa_calloc(n ? n : 1, sizeof *p);
    pub_progress_compute(m, ou, t, n, year, today, p);
    json_t *o = json_object();
    char a[11], b[11], d[11];
    pufa_day first = pufa_date_from_ymd(year, 1, 1), last = pufa_date_from_ymd(year, 12, 31);
    pufa_date_format(first, a);
    pufa_date_format(today < last ? today : last, b);
    pufa_date_format(today, d);
    json_object_set_new(o, "year", json_integer(year));
    json_object_set_new(o, "org", org ? json_string(org) : json_null());
    json_object_set_new(o, "today", json_string(d));
    json_object_set_new(o, "from", json_string(a));
    json_object_set_new(o, "to", today < first ? json_null() : json_string(b));
    json_object_set_new(o, "elapsed_days", json_integer(pub_year_elapsed(year, today)));
    json_object_set_new(o, "year_days", json_integer(pub_year_days(year)));
    json_object_set_new(o, "version", json_integer((json_int_t)version));
    json_t *rows = json_array(), *behind = json_array();
    const pub_progress **late = pufa_calloc(n ? n : 1, sizeof *late);
    size_t nlate = 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(rows, progress_row(m, ou, &p[i]));
        if (p[i].behind)
            late[nlate++] = &p[i];
    }
    qsort(late, nlate, sizeof *late, cmp_behind);
    for (size_t i = 0; i < nlate; i++)
        json_array_append_new(behind, progress_row(m, ou, late[i]));
    json_object_set_new(o, "rows", rows);
    json_object_set_new(o, "behind_count", json_integer((json_int_t)nlate));
    json_object_set_new(o, "behind", behind);
    free(late);
    free(p);
    return o;
}
