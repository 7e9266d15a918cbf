#include "approved.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "periods.h"

static int month_of(pufa_day day) {
    int y, mo, d;
    pufa_date_to_ymd(day, &y, &mo, &d);
    return y * 12 + mo - 1;
}

static pufa_day month_first(int month) {
    return pufa_date_from_ymd(month / 12, month % 12 + 1, 1);
}

static pufa_day month_last(int month) {
    return month_first(month + 1) - 1;
}

pufa_period_state pub_county_state(const pub_model *m, const char *code, pufa_day day) {
    return pub_periods_state(pub_model_periods_c(m), code, month_of(day));
}

/* mask[i] = 1 where county i's period of month is official (the caller
 * frees). */
static uint8_t *official_mask(const pub_model *m, int month, size_t *n) {
    *n = pub_model_counties(m);
    uint8_t *mask = pufa_calloc(*n ? *n : 1, 1);
    const pub_periods *p = pub_model_periods_c(m);
    if (pub_periods_count(p) == 0)
        return mask;
    for (size_t i = 0; i < *n; i++)
        mask[i] = pub_period_official(
            pub_periods_state(p, pub_model_key(m, DIM_COUNTY, (uint32_t)i), month));
    return mask;
}

static int by_value(const void *a, const void *b) {
    uint32_t x = ((const pub_row *)a)->value, y = ((const pub_row *)b)->value;
    return (x > y) - (x < y);
}

size_t pub_query_status(const pub_model *m, bool approved, pufa_day from, pufa_day to, pub_dim dim,
                        const pub_scope *s, pub_row **rows, int64_t totals[NFIG]) {
    if (!approved)
        return pub_model_query(m, from, to, dim, s, rows, totals);
    memset(totals, 0, NFIG * sizeof(int64_t));
    pub_row *all = NULL;
    size_t n = 0;
    /* The scope, as a copy that can carry the month's mask (NULL: the
     * home's; a home the org units do not hold counts none). */
    pub_scope base = {.level = -1};
    if (s)
        base = *s;
    else if (pub_model_home(m)[0] && pub_model_scope(m, pub_model_home(m), &base))
        from = to + 1;
    for (int mo = month_of(from); from <= to && month_first(mo) <= to; mo++) {
        pufa_day a = month_first(mo) < from ? from : month_first(mo);
        pufa_day b = month_last(mo) > to ? to : month_last(mo);
        size_t nmask;
        uint8_t *mask = official_mask(m, mo, &nmask);
        pub_scope sc = base;
        sc.only = mask;
        sc.n_only = nmask;
        pub_row *part;
        int64_t t[NFIG];
        size_t k = pub_model_query(m, a, b, dim, &sc, &part, t);
        free(mask);
        if (k) {
            all = pufa_realloc(all, (n + k) * sizeof *all);
            memcpy(all + n, part, k * sizeof *part);
            n += k;
        }
        free(part);
    }
    /* One row per value: the months' rows summed. */
    if (n)
        qsort(all, n, sizeof *all, by_value);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out && all[out - 1].value == all[i].value) {
            for (int f = 0; f < NFIG; f++)
                pufa_fig_add(&all[out - 1].fig[f], all[i].fig[f]);
        } else {
            all[out++] = all[i];
        }
    }
    for (size_t i = 0; i < out; i++)
        for (int f = 0; f < NFIG; f++)
            pufa_fig_add(&totals[f], all[i].fig[f]);
    *rows = all ? all : pufa_calloc(1, sizeof *all);
    return out;
}

void pub_sum_status(const pub_model *m, bool approved, pufa_day from, pufa_day to,
                    const pub_scope *s, int64_t fig[NFIG]) {
    if (!approved) {
        pub_model_sum(m, from, to, s, fig);
        return;
    }
    pub_row *rows;
    pub_query_status(m, true, from, to, DIM_TOTAL, s, &rows, fig);
    free(rows);
}

json_t *pub_approved_months(const pub_model *m, pufa_day from, pufa_day to, const pub_scope *s) {
    json_t *arr = json_array();
    size_t nc = pub_model_counties(m);
    for (int mo = month_of(from); from <= to && month_first(mo) <= to; mo++) {
        size_t nmask;
        uint8_t *mask = official_mask(m, mo, &nmask);
        json_t *codes = json_array();
        size_t in = 0, provisional = 0;
        for (size_t i = 0; i < nc; i++) {
            if (!pub_model_county_in(m, s, (uint32_t)i))
                continue;
            in++;
            if (i < nmask && mask[i])
                json_array_append_new(codes,
                                      json_string(pub_model_key(m, DIM_COUNTY, (uint32_t)i)));
            else
                provisional++;
        }
        free(mask);
        char key[8];
        pub_month_format(mo, key);
        json_t *o = json_object();
        json_object_set_new(o, "month", json_string(key));
        json_object_set_new(o, "counties", json_integer((json_int_t)in));
        json_object_set_new(o, "counted",
                            json_string(provisional == 0 && in ? "all"
                                        : provisional == in    ? "none"
                                                               : "part"));
        json_object_set_new(o, "approved", codes);
        json_object_set_new(o, "provisional", json_integer((json_int_t)provisional));
        json_array_append_new(arr, o);
    }
    return arr;
}

const char *pub_period_state_label(pufa_period_state s) {
    switch (s) {
    case PUFA_PERIOD_OPEN:
        return "未报送";
    case PUFA_PERIOD_SUBMITTED:
        return "已报送";
    case PUFA_PERIOD_APPROVED:
        return "已审核";
    case PUFA_PERIOD_ACCEPTED:
        return "已确认";
    default:
        return "";
    }
}

void pub_county_state_label(const pub_model *m, const char *code, pufa_day from, pufa_day to,
                            char *out, size_t size) {
    const pub_periods *p = pub_model_periods_c(m);
    int first = month_of(from), last = month_of(to);
    if (first == last) {
        snprintf(out, size, "%s", pub_period_state_label(pub_periods_state(p, code, first)));
        return;
    }
    int approved = 0;
    for (int mo = first; mo <= last; mo++)
        approved += pub_period_official(pub_periods_state(p, code, mo));
    snprintf(out, size, "已审核 %d/%d 个月", approved, last - first + 1);
}
