#include "periods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "orgunits.h"

/* Sorted by (org, month): a lookup is a binary search; the snapshot reads
 * the table in that order, so loading it only appends. */
struct pub_periods {
    pub_pstate *v;
    size_t n, cap;
};

pub_periods *pub_periods_new(void) {
    return pufa_calloc(1, sizeof(pub_periods));
}

static void entry_free(pub_pstate *e) {
    free(e->set_by);
    free(e->reason);
}

void pub_periods_clear(pub_periods *p) {
    for (size_t i = 0; i < p->n; i++)
        entry_free(&p->v[i]);
    p->n = 0;
}

void pub_periods_destroy(pub_periods **pp) {
    if (!pp || !*pp)
        return;
    pub_periods_clear(*pp);
    free((*pp)->v);
    free(*pp);
    *pp = NULL;
}

static int cmp(const char *org, int month, const pub_pstate *e) {
    int c = strcmp(org, e->org);
    return c ? c : (month > e->month) - (month < e->month);
}

/* The index of org x month, or where it would go (*found false). */
static size_t find(const pub_periods *p, const char *org, int month, bool *found) {
    size_t lo = 0, hi = p->n;
    if (p->n && cmp(org, month, &p->v[p->n - 1]) > 0) {
        *found = false;
        return p->n;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(org, month, &p->v[mid]);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

int pub_periods_set(pub_periods *p, const pufa_period *in) {
    if (!in->org_code || !pufa_orgunit_code_valid(in->org_code) || in->year < 2000 ||
        in->year > 9999 || in->month < 1 || in->month > 12 || !pufa_period_state_name(in->state))
        return PUFA_EINVAL;
    int month = in->year * 12 + in->month - 1;
    bool found;
    size_t i = find(p, in->org_code, month, &found);
    if (found) {
        entry_free(&p->v[i]);
    } else {
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 64;
            p->v = pufa_realloc(p->v, p->cap * sizeof *p->v);
        }
        memmove(&p->v[i + 1], &p->v[i], (p->n - i) * sizeof *p->v);
        p->n++;
    }
    pub_pstate *e = &p->v[i];
    *e = (pub_pstate){.month = month,
                      .state = in->state,
                      .set_by = pufa_strdup(in->set_by ? in->set_by : ""),
                      .set_at_ms = in->set_at_ms,
                      .reason = pufa_strdup(in->reason ? in->reason : ""),
                      .exception_open = in->exception_open};
    memcpy(e->org, in->org_code, 7);
    return 0;
}

const pub_pstate *pub_periods_get(const pub_periods *p, const char *org, int month) {
    bool found;
    size_t i = find(p, org, month, &found);
    return found ? &p->v[i] : NULL;
}

pufa_period_state pub_periods_state(const pub_periods *p, const char *org, int month) {
    const pub_pstate *e = pub_periods_get(p, org, month);
    return e ? e->state : PUFA_PERIOD_OPEN;
}

bool pub_period_official(pufa_period_state s) {
    return s == PUFA_PERIOD_APPROVED || s == PUFA_PERIOD_ACCEPTED;
}

size_t pub_periods_count(const pub_periods *p) {
    return p->n;
}

int pub_month_parse(const char *text, int *month) {
    if (!text || strlen(text) != 7 || text[4] != '-')
        return -1;
    int y = 0, m = 0;
    for (int i = 0; i < 7; i++) {
        if (i == 4)
            continue;
        if (text[i] < '0' || text[i] > '9')
            return -1;
        if (i < 4)
            y = y * 10 + (text[i] - '0');
        else
            m = m * 10 + (text[i] - '0');
    }
    if (y < 2000 || m < 1 || m > 12)
        return -1;
    *month = y * 12 + m - 1;
    return 0;
}

void pub_month_format(int month, char out[8]) {
    unsigned m = month < 0 ? 0u : (unsigned)month;
    snprintf(out, 8, "%04u-%02u", (m / 12u) % 10000u, m % 12u + 1u);
}
