#include "rollup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "township.h"

void rollup_set_init(rollup_set *s) {
    memset(s, 0, sizeof *s);
}

static void free_owned(rollup_set *s) {
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    s->nowned = 0;
}

void rollup_set_free(rollup_set *s) {
    free_owned(s);
    free(s->cells);
    free(s->receipts);
    free(s->owned);
    rollup_set_init(s);
}

void rollup_set_reset(rollup_set *s) {
    free_owned(s);
    s->n = 0;
    s->nr = 0;
}

static const char *nz(const char *s) {
    return s ? s : "";
}

/* The township key of t: t itself when already normalised (the common
 * case), else a normalised copy that s owns until its next reset. */
static const char *township_key(rollup_set *s, const char *t) {
    if (!t || !*t)
        return "";
    size_t len = strlen(t);
    char *norm = pufa_malloc(len + 1);
    size_t n = pufa_township_norm(t, norm, len + 1);
    if (n == len) { /* normalising never lengthens, so equal length = unchanged */
        free(norm);
        return t;
    }
    if (s->nowned == s->owncap) {
        s->owncap = s->owncap ? s->owncap * 2 : 16;
        s->owned = pufa_realloc(s->owned, s->owncap * sizeof *s->owned);
    }
    s->owned[s->nowned++] = norm;
    return norm;
}

void rollup_add_report(rollup_set *s, const pufa_report *r, int sign) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->cells = pufa_realloc(s->cells, s->cap * sizeof *s->cells);
    }
    pufa_cell *c = &s->cells[s->n++];
    memset(c, 0, sizeof *c);
    c->day = r->occurred_day;
    c->county = nz(r->county_code);
    c->theme = (int16_t)r->theme;
    c->venue = (int16_t)r->venue;
    c->form = (int16_t)r->form;
    c->unit_code = nz(r->unit_code);
    c->campaign = nz(r->campaign);
    c->township = township_key(s, r->township);
    c->fig[PUFA_FIG_REPORTS] = sign;
    for (int i = 0; i < PUFA_NCOUNTERS; i++)
        c->fig[PUFA_FIG(i)] = sign * r->counters[i];
}

void rollup_add_receipt(rollup_set *s, const pufa_report *r, int64_t received_ms) {
    if (s->nr == s->rcap) {
        s->rcap = s->rcap ? s->rcap * 2 : 256;
        s->receipts = pufa_realloc(s->receipts, s->rcap * sizeof *s->receipts);
    }
    pufa_receipt *c = &s->receipts[s->nr++];
    memset(c, 0, sizeof *c);
    c->day = pufa_city_day(received_ms);
    c->county = nz(r->county_code);
    c->unit_code = nz(r->unit_code);
    c->reports = 1;
    c->first_ms = c->last_ms = received_ms;
    pufa_day on;
    if (!r->retracted && r->occurred_on && pufa_date_parse(r->occurred_on, &on) == 0) {
        int y, m, d;
        pufa_date_to_ymd(on, &y, &m, &d);
        c->month = y >= 2000 ? y * 12 + m - 1 : 0;
    }
}

static int cmp_cell(const void *pa, const void *pb) {
    const pufa_cell *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    int c = strcmp(a->county, b->county);
    if (c)
        return c;
    if (a->theme != b->theme)
        return a->theme - b->theme;
    if (a->venue != b->venue)
        return a->venue - b->venue;
    if (a->form != b->form)
        return a->form - b->form;
    if ((c = strcmp(a->unit_code, b->unit_code)))
        return c;
    if ((c = strcmp(a->campaign, b->campaign)))
        return c;
    return strcmp(a->township, b->township);
}

static int cmp_receipt(const void *pa, const void *pb) {
    const pufa_receipt *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    int c = strcmp(a->county, b->county);
    if (c || (c = strcmp(a->unit_code, b->unit_code)))
        return c;
    return (a->month > b->month) - (a->month < b->month);
}

void rollup_fold(rollup_set *s) {
    if (s->n) {
        qsort(s->cells, s->n, sizeof *s->cells, cmp_cell);
        size_t out = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (out > 0 && cmp_cell(&s->cells[out - 1], &s->cells[i]) == 0) {
                for (int f = 0; f < PUFA_NFIGURES; f++)
                    s->cells[out - 1].fig[f] += s->cells[i].fig[f];
            } else {
                s->cells[out++] = s->cells[i];
            }
        }
        /* A replacement with the same figures cancels out. */
        size_t kept = 0;
        for (size_t i = 0; i < out; i++) {
            bool zero = true;
            for (int f = 0; f < PUFA_NFIGURES && zero; f++)
                zero = s->cells[i].fig[f] == 0;
            if (!zero)
                s->cells[kept++] = s->cells[i];
        }
        s->n = kept;
    }
    if (s->nr) {
        qsort(s->receipts, s->nr, sizeof *s->receipts, cmp_receipt);
        size_t out = 0;
        for (size_t i = 0; i < s->nr; i++) {
            if (out > 0 && cmp_receipt(&s->receipts[out - 1], &s->receipts[i]) == 0) {
                s->receipts[out - 1].reports += s->receipts[i].reports;
                if (s->receipts[i].last_ms > s->receipts[out - 1].last_ms)
                    s->receipts[out - 1].last_ms = s->receipts[i].last_ms;
                if (s->receipts[i].first_ms < s->receipts[out - 1].first_ms)
                    s->receipts[out - 1].first_ms = s->receipts[i].first_ms;
            } else {
                s->receipts[out++] = s->receipts[i];
            }
        }
        s->nr = out;
    }
}

void rollup_delta(const rollup_set *s, uint64_t seq, int64_t committed_ms, pufa_delta *out) {
    *out = (pufa_delta){
        .seq = seq,
        .committed_at_ms = committed_ms,
        .cells = s->cells,
        .n_cells = s->n,
        .receipts = s->receipts,
        .n_receipts = s->nr,
    };
}
