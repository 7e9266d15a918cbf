#include "firsts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

typedef struct first {
    char *county, *unit; /* NULL: an empty slot */
    int month;
    pufa_day day;
} first;

/* Open addressing, linear probing, at most half full. */
struct pub_firsts {
    first *slots;
    size_t cap, n;
};

static uint64_t hash(const char *county, const char *unit, int month) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = county; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = unit; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (h ^ (uint64_t)(unsigned)month) * 1099511628211ULL;
}

static first *find(const pub_firsts *f, const char *county, const char *unit, int month) {
    if (!f->cap)
        return NULL;
    size_t i = (size_t)hash(county, unit, month) & (f->cap - 1);
    while (f->slots[i].county) {
        const first *e = &f->slots[i];
        if (e->month == month && !strcmp(e->county, county) && !strcmp(e->unit, unit))
            return &f->slots[i];
        i = (i + 1) & (f->cap - 1);
    }
    return &f->slots[i];
}

static void grow(pub_firsts *f) {
    first *old = f->slots;
    size_t ocap = f->cap;
    f->cap = ocap ? ocap * 2 : 256;
    f->slots = pufa_calloc(f->cap, sizeof *f->slots);
    for (size_t i = 0; i < ocap; i++)
        if (old[i].county)
            *find(f, old[i].county, old[i].unit, old[i].month) = old[i];
    free(old);
}

pub_firsts *pub_firsts_new(void) {
    return pufa_calloc(1, sizeof(pub_firsts));
}

void pub_firsts_clear(pub_firsts *f) {
    for (size_t i = 0; i < f->cap; i++) {
        free(f->slots[i].county);
        free(f->slots[i].unit);
    }
    free(f->slots);
    f->slots = NULL;
    f->cap = f->n = 0;
}

void pub_firsts_destroy(pub_firsts **pf) {
    if (!pf || !*pf)
        return;
    pub_firsts_clear(*pf);
    free(*pf);
    *pf = NULL;
}

void pub_firsts_add(pub_firsts *f, const char *county, const char *unit, int month, pufa_day day) {
    if (2 * (f->n + 1) > f->cap)
        grow(f);
    first *e = find(f, county, unit, month);
    if (e->county) {
        if (day < e->day)
            e->day = day;
        return;
    }
    *e = (first){pufa_strdup(county), pufa_strdup(unit), month, day};
    f->n++;
}

pufa_day pub_firsts_get(const pub_firsts *f, const char *county, const char *unit, int month) {
    const first *e = find(f, county, unit, month);
    return e && e->county ? e->day : -1;
}
