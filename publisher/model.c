#include "model.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "enums.h"
#include "error.h"

int pub_figure_parse(const char *name) {
    for (int k = 0; k < NFIG; k++)
        if (!strcmp(name, pufa_figure_names[k]))
            return k;
    return -1;
}

const char *const pub_dim_names[NBY] = {"none",     "theme",    "venue",  "form", "unit",
                                        "campaign", "township", "county", "city", "province"};

int pub_dim_parse(const char *name) {
    for (int i = 0; i < NBY; i++)
        if (!strcmp(name, pub_dim_names[i]))
            return i;
    if (!strcmp(name, "total"))
        return DIM_TOTAL;
    return -1;
}

/* Interned strings: code -> index, with an optional display name, and an
 * open-addressing index on the code (a nation has 2,975 counties and tens of
 * thousands of townships: a lookup is O(1), never a scan). */
typedef struct intern {
    char **keys;
    char **names;
    size_t n, cap;
    uint32_t *slots; /* slot -> index + 1 (0 = empty); nslots a power of 2 >= 2 * cap */
    size_t nslots;
} intern;

static uint32_t str_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static uint32_t intern_find(const intern *t, const char *key) {
    if (!t->nslots)
        return UINT32_MAX;
    size_t mask = t->nslots - 1;
    for (size_t s = str_hash(key) & mask;; s = (s + 1) & mask) {
        uint32_t k = t->slots[s];
        if (!k)
            return UINT32_MAX;
        if (!strcmp(t->keys[k - 1], key))
            return k - 1;
    }
}

static void intern_slot(intern *t, uint32_t i) {
    size_t mask = t->nslots - 1, s = str_hash(t->keys[i]) & mask;
    while (t->slots[s])
        s = (s + 1) & mask;
    t->slots[s] = i + 1;
}

static uint32_t intern_get(intern *t, const char *key) {
    uint32_t i = intern_find(t, key);
    if (i != UINT32_MAX)
        return i;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->keys = pufa_realloc(t->keys, t->cap * sizeof *t->keys);
        t->names = pufa_realloc(t->names, t->cap * sizeof *t->names);
        free(t->slots);
        t->nslots = 2 * t->cap;
        t->slots = pufa_calloc(t->nslots, sizeof *t->slots);
        for (uint32_t k = 0; k < t->n; k++)
            intern_slot(t, k);
    }
    t->keys[t->n] = pufa_strdup(key);
    t->names[t->n] = NULL;
    intern_slot(t, (uint32_t)t->n);
    return (uint32_t)t->n++;
}

static void intern_free(intern *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->keys[i]);
        free(t->names[i]);
    }
    free(t->keys);
    free(t->names);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static size_t value_space(const pub_model *m, pub_dim dim);

/* A cell: (county, value) and its figures.  The figures of nearly every
 * cell fit in 32 bits unsigned, so a cell holds them so (52 bytes, not
 * 96); a cell whose figure leaves that range (a negative one, or a sum past
 * 4,294,967,295) becomes wide: WIDE set in county, and fig[0] the index of
 * its int64 figures in the model's wide table.  Exact either way. */
#define WIDE 0x80000000u

typedef struct cell {
    uint32_t county; /* | WIDE */
    uint32_t value;
    uint32_t fig[NFIG];
} cell;

/* The cells of one day (or one year) and dimension, with an
 * open-addressing index on (county, value) so that adding is O(1) however
 * many cells it has. */
typedef struct bucket bucket;
struct bucket {
    cell *v;
    uint32_t n, cap;
    uint32_t *index; /* slot -> cell index + 1 (0 = empty) */
    uint32_t isize;  /* a power of 2 >= 2 * cap */
    /* v[0, sorted) is in (county, value) order (sorted after a load, the
     * cells added since follow unsorted): a read of a few counties finds
     * theirs by a binary search instead of reading every cell. */
    uint32_t sorted;
};

/* Who reported on one received day: distinct (county, unit) pairs. */
typedef struct recv_day {
    struct recv_pair {
        uint32_t county, unit;
    } * v;
    uint32_t n, cap;
} recv_day;

/* Last report day per (county, unit), in an open-addressing table (day
 * NO_DAY: an empty slot). */
#define NO_DAY INT32_MIN

typedef struct seen {
    uint32_t county;
    uint32_t unit; /* UINT32_MAX: the county as a whole */
    pufa_day day;
} seen;

struct pub_model {
    pthread_rwlock_t lock;
    pufa_day base;      /* day of index 0 */
    size_t ndays;       /* allocated days per dimension */
    bucket *days[NDIM]; /* [dim][day - base]; other dims than total only from hday */
    recv_day *recv;     /* [day - base]: receipts by received day */
    /* Per calendar year (every dimension, every day): whole years of a
     * window are read here; before hyear the only copy of the other
     * dimensions than total. */
    bucket *years[NDIM]; /* [dim][year - PUFA_MIN_YEAR] */
    /* The county totals per calendar month (built from the day tier at
     * load, kept with it): a window's whole months of a breakdown by org
     * unit, or of a city or county, are read here instead of ~30 days of
     * ~1,000 county cells each.  2,975 counties x 12: about 1.8 MiB a
     * year. */
    bucket *months; /* [(year - PUFA_MIN_YEAR) * 12 + month - 1] */
    size_t nmonths;
    size_t nyears;
    int hyear;     /* days of earlier years: other dims per year only */
    pufa_day hday; /* January 1 of hyear */
    pub_cold_fn cold;
    void *cold_ctx;
    int64_t (*wide)[NFIG];
    size_t nwide, wide_cap;
    intern counties, units, campaigns, townships;
    pufa_orgunits *ou; /* every level, from the snapshot; NULL before */
    int32_t (*anc)[4]; /* per county index: its units in ou by level rank, -1 if none */
    size_t anc_cap;
    uint64_t ou_gen; /* bumps when ou is replaced */
    char home[7];    /* "" : every county counts */
    pub_scope home_scope;
    seen *seen;
    size_t nseen, seen_cap; /* seen_cap: a power of 2 (or 0) */
    uint64_t seq;
    pub_periods *periods;
    uint64_t stamp;
    /* The per-day totals of the areas (area_year below): area 0 is every
     * county, the others the org units of rank <= AREA_MAX_RANK. */
    int32_t *area_of;          /* per org unit index: its area, or -1 */
    size_t nareas;             /* 1 + such units */
    struct area_year **ayears; /* [area * nayears + year - PUFA_MIN_YEAR]; NULL: all zero */
    size_t nayears;
    /* The counties under each city and county of ou, in index order:
     * few_list[few_off[u], few_off[u + 1]) (reader_few). */
    uint32_t *few_off, *few_list;
};

/* The totals of one area (every county, the nation, a province: those
 * above a few counties) per day of one year, kept with every change to a
 * county's total of a day (adds, corrections, forgotten days) and built
 * again from the county cells when the org units are replaced or the model
 * file read.  A read scoped to such an area sums days x figures instead of
 * days x the day's county cells (about 1,000 a day for a nation): a
 * 365-day trend with its year-earlier base is 730 rows of 11 figures.
 * lost: a sum left int64 on its way (only hostile figures can): that day
 * is read from the county cells, whose sums saturate.  33 areas (all
 * counties together, the nation, 31 provinces) x 32 KB a year with data:
 * 10.5 MiB for 10 years. */
#define AREA_MAX_RANK 1 /* nation, province */
#define AREA_DAYS     366

typedef struct area_year {
    int64_t fig[AREA_DAYS][NFIG];
    uint8_t lost[AREA_DAYS];
} area_year;

static void areas_rebuild(pub_model *m);
static void few_index(pub_model *m);
static void bucket_shrink(bucket *b);
static void bucket_sort(bucket *b);

/* The units above county i (and the county itself) in the org units, by
 * level rank; -1 where none. */
static void find_ancestors(pub_model *m, uint32_t i) {
    int32_t *at = m->anc[i];
    at[0] = at[1] = at[2] = at[3] = -1;
    const pufa_orgunit *u = m->ou ? pufa_orgunits_find(m->ou, m->counties.keys[i]) : NULL;
    if (!u || strcmp(u->level, "county") != 0)
        return;
    at[3] = (int32_t)(u - m->ou->units);
    /* At most three steps up, each to a higher level. */
    for (int step = 0; step < 3 && u->parent_code[0]; step++) {
        const pufa_orgunit *p = pufa_orgunits_find(m->ou, u->parent_code);
        int r = p ? pufa_orgunit_level_rank(p->level) : -1;
        if (r < 0 || r >= pufa_orgunit_level_rank(u->level))
            return;
        at[r] = (int32_t)(p - m->ou->units);
        u = p;
    }
}

/* Room for the ancestors of every interned county (the new ones' found
 * by the caller). */
static void anc_grow(pub_model *m) {
    if (m->anc_cap >= m->counties.cap)
        return;
    m->anc_cap = m->counties.cap;
    m->anc = pufa_realloc(m->anc, m->anc_cap * sizeof *m->anc);
}

/* The index of a county code, interned (and its ancestors found) when
 * new. */
static uint32_t county_get(pub_model *m, const char *code) {
    size_t before = m->counties.n;
    uint32_t i = intern_get(&m->counties, code);
    if (m->counties.n == before)
        return i;
    anc_grow(m);
    find_ancestors(m, i);
    return i;
}

/* The counties under every city and county of the org units, by county
 * index: found again when the org units change and wherever buckets are
 * sorted (a load, a shrink).  A county that appears after holds cells
 * only past the sorted part of each bucket, which a read scans whole. */
static void few_index(pub_model *m) {
    free(m->few_off);
    free(m->few_list);
    m->few_off = m->few_list = NULL;
    if (!m->ou)
        return;
    size_t nu = m->ou->count;
    m->few_off = pufa_calloc(nu + 2, sizeof *m->few_off);
    size_t total = 0;
    for (uint32_t c = 0; c < m->counties.n; c++)
        for (int r = 2; r <= 3; r++)
            if (m->anc[c][r] >= 0) {
                m->few_off[m->anc[c][r] + 2]++;
                total++;
            }
    for (size_t u = 0; u < nu; u++)
        m->few_off[u + 2] += m->few_off[u + 1];
    m->few_list = pufa_malloc((total ? total : 1) * sizeof *m->few_list);
    /* Filled in county order: few_off[u + 1] is where u's next goes. */
    for (uint32_t c = 0; c < m->counties.n; c++)
        for (int r = 2; r <= 3; r++)
            if (m->anc[c][r] >= 0)
                m->few_list[m->few_off[m->anc[c][r] + 1]++] = c;
}

/* Finds the level and index of code ("" : every county; unknown: none). */
static void find_scope(const pub_model *m, const char *code, pub_scope *s) {
    *s = (pub_scope){.level = -1, .gen = m->ou_gen};
    pufa_copy(s->code, sizeof s->code, code);
    if (!code[0])
        return;
    const pufa_orgunit *u = m->ou ? pufa_orgunits_find(m->ou, code) : NULL;
    s->level = u ? pufa_orgunit_level_rank(u->level) : 0;
    s->unit = u ? (int32_t)(u - m->ou->units) : -2; /* -2: no county is under it */
}

static void find_home(pub_model *m) {
    find_scope(m, m->home, &m->home_scope);
}

/* After the org units were replaced (old, and the ancestors old_anc
 * found in them): when every area unit of the new ones had an area in the
 * old ones and every county is in the same areas as before (the usual
 * case: the same units again at each snapshot), the areas' sums stand and
 * only area_of is found again (true); else false. */
static bool areas_remap(pub_model *m, const pufa_orgunits *old, const int32_t (*old_anc)[4]) {
    if (!old || !m->area_of || !m->ou)
        return false;
    int32_t *now = pufa_malloc((m->ou->count ? m->ou->count : 1) * sizeof *now);
    bool same = true;
    for (size_t u = 0; u < m->ou->count && same; u++) {
        int r = pufa_orgunit_level_rank(m->ou->units[u].level);
        now[u] = -1;
        if (r < 0 || r > AREA_MAX_RANK)
            continue;
        const pufa_orgunit *o = pufa_orgunits_find(old, m->ou->units[u].code);
        same = o && m->area_of[o - old->units] >= 0;
        if (same)
            now[u] = m->area_of[o - old->units];
    }
    for (uint32_t c = 0; c < m->counties.n && same; c++)
        for (int r = 0; r <= AREA_MAX_RANK && same; r++) {
            int32_t a = old_anc[c][r] >= 0 ? m->area_of[old_anc[c][r]] : -1;
            int32_t b = m->anc[c][r] >= 0 ? now[m->anc[c][r]] : -1;
            same = a == b;
        }
    if (!same) {
        free(now);
        return false;
    }
    free(m->area_of);
    m->area_of = now;
    return true;
}

void pub_model_set_orgunits(pub_model *m, pufa_orgunits *ou) {
    pufa_orgunits *old = m->ou;
    size_t nc = m->counties.n;
    int32_t(*old_anc)[4] = pufa_malloc((nc ? nc : 1) * sizeof *old_anc);
    if (nc)
        memcpy(old_anc, m->anc, nc * sizeof *old_anc);
    m->ou = ou;
    m->ou_gen++;
    for (uint32_t i = 0; i < m->counties.n; i++)
        find_ancestors(m, i);
    find_home(m);
    few_index(m);
    /* The counties' provinces may have changed: the areas' sums are built
     * again unless they have not. */
    if (!areas_remap(m, old, (const int32_t(*)[4])old_anc))
        areas_rebuild(m);
    free(old_anc);
    pufa_orgunits_destroy(&old);
}

void pub_model_set_home(pub_model *m, const char *code) {
    pufa_copy(m->home, sizeof m->home, code ? code : "");
    find_home(m);
}

const pufa_orgunits *pub_model_orgunits(const pub_model *m) {
    return m->ou;
}

const char *pub_model_home(const pub_model *m) {
    return m->home;
}

int pub_model_scope(const pub_model *m, const char *code, pub_scope *out) {
    if (!code || !m->ou || !pufa_orgunits_find(m->ou, code))
        return PUFA_ENOTFOUND;
    find_scope(m, code, out);
    return 0;
}

/* s as of the current org units (NULL: the home's); tmp holds it when it
 * had to be found again. */
static const pub_scope *current(const pub_model *m, const pub_scope *s, pub_scope *tmp) {
    if (!s)
        return &m->home_scope;
    if (s->gen == m->ou_gen)
        return s;
    find_scope(m, s->code, tmp);
    tmp->only = s->only;
    tmp->n_only = s->n_only;
    return tmp;
}

static bool county_in(const pub_model *m, const pub_scope *s, uint32_t county) {
    if (s->only && (county >= s->n_only || !s->only[county]))
        return false;
    if (s->level < 0)
        return true;
    return county < m->counties.n && s->level < 4 && m->anc[county][s->level] == s->unit;
}

bool pub_model_county_in(const pub_model *m, const pub_scope *s, uint32_t county) {
    pub_scope tmp;
    return county_in(m, current(m, s, &tmp), county);
}

pub_model *pub_model_new(void) {
    pub_model *m = pufa_calloc(1, sizeof *m);
    pthread_rwlock_init(&m->lock, NULL);
    m->base = pufa_date_from_ymd(PUFA_MIN_YEAR, 1, 1);
    m->hyear = PUFA_MIN_YEAR;
    m->hday = m->base;
    m->home_scope.level = -1;
    m->nareas = 1; /* every county's, until the org units come */
    m->periods = pub_periods_new();
    return m;
}

static void free_buckets(bucket **b, size_t n) {
    for (int d = 0; d < NDIM; d++) {
        for (size_t i = 0; i < n && b[d]; i++) {
            if (!b[d][i].cap) /* most days: nothing to free */
                continue;
            free(b[d][i].v);
            free(b[d][i].index);
        }
        free(b[d]);
        b[d] = NULL;
    }
}

static void areas_free(pub_model *m) {
    for (size_t i = 0; m->ayears && i < m->nareas * m->nayears; i++)
        free(m->ayears[i]);
    free(m->ayears);
    m->ayears = NULL;
    m->nayears = 0;
}

static void free_days(pub_model *m) {
    areas_free(m);
    for (size_t i = 0; i < m->nmonths; i++) {
        free(m->months[i].v);
        free(m->months[i].index);
    }
    free(m->months);
    m->months = NULL;
    m->nmonths = 0;
    free_buckets(m->days, m->ndays);
    free_buckets(m->years, m->nyears);
    for (size_t i = 0; i < m->ndays && m->recv; i++)
        free(m->recv[i].v);
    free(m->recv);
    m->recv = NULL;
    m->ndays = m->nyears = 0;
    free(m->wide);
    m->wide = NULL;
    m->nwide = m->wide_cap = 0;
}

void pub_model_destroy(pub_model **pm) {
    if (!pm || !*pm)
        return;
    pub_model *m = *pm;
    free_days(m);
    intern_free(&m->counties);
    intern_free(&m->units);
    intern_free(&m->campaigns);
    intern_free(&m->townships);
    pufa_orgunits_destroy(&m->ou);
    free(m->anc);
    free(m->area_of);
    free(m->few_off);
    free(m->few_list);
    free(m->seen);
    pub_periods_destroy(&m->periods);
    pthread_rwlock_destroy(&m->lock);
    free(m);
    *pm = NULL;
}

void pub_model_wrlock(pub_model *m) {
    pthread_rwlock_wrlock(&m->lock);
}

void pub_model_rdlock(pub_model *m) {
    pthread_rwlock_rdlock(&m->lock);
}

void pub_model_unlock(pub_model *m) {
    pthread_rwlock_unlock(&m->lock);
}

void pub_model_clear(pub_model *m) {
    free_days(m);
    free(m->seen);
    m->seen = NULL;
    m->nseen = m->seen_cap = 0;
    pub_periods_clear(m->periods);
    /* Interned names stay: indices remain valid for labels. */
}

void pub_model_set_horizon(pub_model *m, int year) {
    if (year < PUFA_MIN_YEAR)
        year = PUFA_MIN_YEAR;
    m->hyear = year;
    m->hday = pufa_date_from_ymd(year, 1, 1);
}

int pub_model_horizon(const pub_model *m) {
    return m->hyear;
}

void pub_model_set_cold(pub_model *m, pub_cold_fn fn, void *ctx) {
    m->cold = fn;
    m->cold_ctx = ctx;
}

static int year_of(pufa_day day) {
    int y, mo, d;
    pufa_date_to_ymd(day, &y, &mo, &d);
    return y;
}

static bucket *day_bucket(pub_model *m, int dim, pufa_day day) {
    if (day < m->base)
        return NULL;
    size_t i = (size_t)(day - m->base);
    if (i >= m->ndays) {
        size_t n = m->ndays ? m->ndays : 4096;
        while (n <= i)
            n *= 2;
        for (int d = 0; d < NDIM; d++) {
            m->days[d] = pufa_realloc(m->days[d], n * sizeof(bucket));
            memset(m->days[d] + m->ndays, 0, (n - m->ndays) * sizeof(bucket));
        }
        m->recv = pufa_realloc(m->recv, n * sizeof *m->recv);
        memset(m->recv + m->ndays, 0, (n - m->ndays) * sizeof *m->recv);
        m->ndays = n;
    }
    return &m->days[dim][i];
}

static bucket *year_bucket(pub_model *m, int dim, int year) {
    if (year < PUFA_MIN_YEAR)
        return NULL;
    size_t i = (size_t)(year - PUFA_MIN_YEAR);
    if (i >= m->nyears) {
        size_t n = i + 16;
        for (int d = 0; d < NDIM; d++) {
            m->years[d] = pufa_realloc(m->years[d], n * sizeof(bucket));
            memset(m->years[d] + m->nyears, 0, (n - m->nyears) * sizeof(bucket));
        }
        m->nyears = n;
    }
    return &m->years[dim][i];
}

static size_t month_index(pufa_day day) {
    int y, mo, d;
    pufa_date_to_ymd(day, &y, &mo, &d);
    return (size_t)(y - PUFA_MIN_YEAR) * 12 + (size_t)(mo - 1);
}

static bucket *month_bucket(pub_model *m, pufa_day day) {
    if (day < m->base)
        return NULL;
    size_t i = month_index(day);
    if (i >= m->nmonths) {
        size_t n = i + 12 * 16;
        m->months = pufa_realloc(m->months, n * sizeof(bucket));
        memset(m->months + m->nmonths, 0, (n - m->nmonths) * sizeof(bucket));
        m->nmonths = n;
    }
    return &m->months[i];
}

static uint32_t slot_of(uint32_t county, uint32_t value, uint32_t mask) {
    uint32_t h = county * 2654435761u ^ (value + 0x9e3779b9u) * 2246822519u;
    return (h ^ (h >> 15)) & mask;
}

static void reindex(bucket *b) {
    uint32_t size = 4;
    while (size < 2 * b->cap)
        size *= 2;
    uint32_t mask = size - 1;
    free(b->index);
    b->isize = size;
    b->index = pufa_calloc(size, sizeof *b->index);
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t s = slot_of(b->v[i].county & ~WIDE, b->v[i].value, mask);
        while (b->index[s])
            s = (s + 1) & mask;
        b->index[s] = i + 1;
    }
}

/* The cell (county, value) of b, or NULL.  A bucket loaded or shrunk has
 * no index (4 to 16 bytes a cell that reads never use): the first find
 * after builds it. */
static cell *bucket_find(bucket *b, uint32_t county, uint32_t value) {
    if (!b->n)
        return NULL;
    if (!b->index)
        reindex(b);
    uint32_t mask = b->isize - 1;
    for (uint32_t s = slot_of(county, value, mask);; s = (s + 1) & mask) {
        uint32_t k = b->index[s];
        if (!k)
            return NULL;
        cell *c = &b->v[k - 1];
        if ((c->county & ~WIDE) == county && c->value == value)
            return c;
    }
}

/* The figures of c into out. */
static void cell_figs(const pub_model *m, const cell *c, int64_t out[NFIG]) {
    if (c->county & WIDE) {
        memcpy(out, m->wide[c->fig[0]], NFIG * sizeof(int64_t));
        return;
    }
    for (int f = 0; f < NFIG; f++)
        out[f] = c->fig[f];
}

/* Stores fig in c: narrow while every figure fits, else wide (for good). */
static void cell_store(pub_model *m, cell *c, const int64_t fig[NFIG]) {
    if (!(c->county & WIDE)) {
        bool narrow = true;
        for (int f = 0; f < NFIG && narrow; f++)
            narrow = fig[f] >= 0 && fig[f] <= (int64_t)UINT32_MAX;
        if (narrow) {
            for (int f = 0; f < NFIG; f++)
                c->fig[f] = (uint32_t)fig[f];
            return;
        }
        if (m->nwide == m->wide_cap) {
            m->wide_cap = m->wide_cap ? m->wide_cap * 2 : 64;
            m->wide = pufa_realloc(m->wide, m->wide_cap * sizeof *m->wide);
        }
        c->county |= WIDE;
        c->fig[0] = (uint32_t)m->nwide++;
    }
    memcpy(m->wide[c->fig[0]], fig, NFIG * sizeof(int64_t));
}

/* Can fig be added to the cell (county, value) without a figure leaving
 * int64?  (PostgreSQL refuses such a sum, so only a corrupt delta asks.) */
static bool bucket_fits(const pub_model *m, bucket *b, uint32_t county, uint32_t value,
                        const int64_t fig[NFIG]) {
    const cell *c = b ? bucket_find(b, county, value) : NULL;
    if (!c)
        return true;
    int64_t have[NFIG], sum;
    cell_figs(m, c, have);
    for (int f = 0; f < NFIG; f++)
        if (__builtin_add_overflow(have[f], fig[f], &sum))
            return false;
    return true;
}

static void bucket_add(pub_model *m, bucket *b, uint32_t county, uint32_t value,
                       const int64_t fig[NFIG]) {
    cell *found = bucket_find(b, county, value);
    if (found) {
        int64_t have[NFIG];
        cell_figs(m, found, have);
        for (int f = 0; f < NFIG; f++)
            have[f] += fig[f];
        cell_store(m, found, have);
        return;
    }
    if (b->n == b->cap) {
        /* x1.5: a nation's first load peaks at less over what it keeps. */
        b->cap = b->cap ? b->cap + b->cap / 2 + 2 : 4;
        b->v = pufa_realloc(b->v, b->cap * sizeof *b->v);
        b->v[b->n] = (cell){.county = county, .value = value};
        cell_store(m, &b->v[b->n++], fig);
        reindex(b); /* the new cell too */
        return;
    }
    if (!b->index)
        reindex(b);
    cell *c = &b->v[b->n++];
    *c = (cell){.county = county, .value = value};
    cell_store(m, c, fig);
    uint32_t mask = b->isize - 1, s = slot_of(county, value, mask);
    while (b->index[s])
        s = (s + 1) & mask;
    b->index[s] = b->n;
}

/* ---- the areas' per-day totals (area_year) ---- */

/* The area of every org unit of rank <= AREA_MAX_RANK; every sum zero. */
static void areas_index(pub_model *m) {
    areas_free(m);
    free(m->area_of);
    m->area_of = NULL;
    m->nareas = 1; /* 0: every county */
    size_t n = m->ou ? m->ou->count : 0;
    if (!n)
        return;
    m->area_of = pufa_malloc(n * sizeof *m->area_of);
    for (size_t i = 0; i < n; i++) {
        int r = pufa_orgunit_level_rank(m->ou->units[i].level);
        m->area_of[i] = r >= 0 && r <= AREA_MAX_RANK ? (int32_t)m->nareas++ : -1;
    }
}

/* The sums of area in year (NULL: none was ever added, all zero). */
static const area_year *area_at(const pub_model *m, int32_t area, int year) {
    size_t y = (size_t)(year - PUFA_MIN_YEAR);
    if (!m->ayears || year < PUFA_MIN_YEAR || y >= m->nayears)
        return NULL;
    return m->ayears[(size_t)area * m->nayears + y];
}

static area_year *area_get(pub_model *m, int32_t area, int year) {
    size_t y = (size_t)(year - PUFA_MIN_YEAR);
    if (y >= m->nayears) {
        size_t n = y + 8;
        area_year **v = pufa_calloc(m->nareas * n, sizeof *v);
        for (size_t a = 0; a < m->nareas; a++)
            for (size_t k = 0; k < m->nayears; k++)
                v[a * n + k] = m->ayears[a * m->nayears + k];
        free(m->ayears);
        m->ayears = v;
        m->nayears = n;
    }
    area_year **slot = &m->ayears[(size_t)area * m->nayears + y];
    if (!*slot)
        *slot = pufa_calloc(1, sizeof **slot);
    return *slot;
}

/* The areas county c is in (every county's, its nation's, its
 * province's): n of them into out. */
static int areas_of(const pub_model *m, uint32_t c, int32_t out[2 + AREA_MAX_RANK]) {
    int n = 0;
    out[n++] = 0;
    for (int r = 0; r <= AREA_MAX_RANK && m->area_of && c < m->counties.n; r++) {
        int32_t u = m->anc[c][r];
        if (u >= 0 && (size_t)u < m->ou->count && m->area_of[u] >= 0)
            out[n++] = m->area_of[u];
    }
    return n;
}

/* Adds fig to (sign 1), or takes it from (sign -1), the sums of day of
 * every area county c is in: as its total cell of that day changes. */
static void areas_add_at(pub_model *m, int y, size_t i, uint32_t c, const int64_t fig[NFIG],
                         int sign) {
    bool zero = true;
    for (int f = 0; f < NFIG && zero; f++)
        zero = fig[f] == 0;
    if (zero)
        return;
    int32_t areas[2 + AREA_MAX_RANK];
    int n = areas_of(m, c, areas);
    for (int k = 0; k < n; k++) {
        area_year *ay = area_get(m, areas[k], y);
        for (int f = 0; f < NFIG; f++) {
            bool over = sign > 0 ? __builtin_add_overflow(ay->fig[i][f], fig[f], &ay->fig[i][f])
                                 : __builtin_sub_overflow(ay->fig[i][f], fig[f], &ay->fig[i][f]);
            if (over)
                ay->lost[i] = 1; /* for good: that day is read from the counties */
        }
    }
}

static void areas_add(pub_model *m, pufa_day day, uint32_t c, const int64_t fig[NFIG], int sign) {
    if (day < m->base)
        return;
    int y = year_of(day);
    areas_add_at(m, y, (size_t)(day - pufa_date_from_ymd(y, 1, 1)), c, fig, sign);
}

/* The month tier from the county cells of each day (after a load: it is
 * not in the file): each month's sums per county in a dense array, then
 * its cells in county order (sorted, no index).  Days x their cells. */
static void months_rebuild(pub_model *m) {
    for (size_t i = 0; i < m->nmonths; i++) {
        free(m->months[i].v);
        free(m->months[i].index);
        m->months[i] = (bucket){0};
    }
    size_t nc = m->counties.n;
    int64_t(*acc)[NFIG] = pufa_calloc(nc ? nc : 1, sizeof *acc);
    uint8_t *had = pufa_calloc(nc ? nc : 1, 1);
    for (size_t i = 0; i < m->ndays;) {
        /* The days of one month: [i, end). */
        pufa_day d = m->base + (pufa_day)i;
        int y, mo, dd;
        pufa_date_to_ymd(d, &y, &mo, &dd);
        pufa_day next =
            mo == 12 ? pufa_date_from_ymd(y + 1, 1, 1) : pufa_date_from_ymd(y, mo + 1, 1);
        size_t end = (size_t)(next - m->base) < m->ndays ? (size_t)(next - m->base) : m->ndays;
        uint32_t n = 0;
        for (size_t k = i; k < end; k++) {
            const bucket *b = &m->days[DIM_TOTAL][k];
            for (uint32_t j = 0; j < b->n; j++) {
                uint32_t c = b->v[j].county & ~WIDE;
                int64_t fig[NFIG];
                cell_figs(m, &b->v[j], fig);
                for (int f = 0; f < NFIG; f++)
                    pufa_fig_add(&acc[c][f], fig[f]);
                n += !had[c];
                had[c] = 1;
            }
        }
        if (n) {
            bucket *mb = month_bucket(m, d);
            mb->v = pufa_malloc(n * sizeof *mb->v);
            mb->cap = n;
            for (uint32_t c = 0; c < nc; c++) {
                if (!had[c])
                    continue;
                mb->v[mb->n] = (cell){.county = c};
                cell_store(m, &mb->v[mb->n++], acc[c]);
                memset(acc[c], 0, sizeof acc[c]);
                had[c] = 0;
            }
            mb->sorted = mb->n;
        }
        i = end;
    }
    free(acc);
    free(had);
}

/* Every area's sums again from the county cells of each day (the org
 * units replaced, the model file read): days x their county cells. */
static void areas_rebuild(pub_model *m) {
    areas_index(m);
    for (size_t i = 0; i < m->ndays; i++) {
        const bucket *b = &m->days[DIM_TOTAL][i];
        if (!b->n)
            continue;
        pufa_day d = m->base + (pufa_day)i;
        int y = year_of(d);
        size_t at = (size_t)(d - pufa_date_from_ymd(y, 1, 1));
        for (uint32_t k = 0; k < b->n; k++) {
            int64_t fig[NFIG];
            cell_figs(m, &b->v[k], fig);
            areas_add_at(m, y, at, b->v[k].county & ~WIDE, fig, 1);
        }
    }
}

/* The buckets a change to (day, dim) goes to: the day's (total always,
 * other dims from hday on), the month's (total) and the year's.  n of them
 * (0-3). */
static int buckets_of(pub_model *m, pufa_day day, int dim, bucket *out[3]) {
    int n = 0;
    if (day < m->base)
        return 0;
    if (dim == DIM_TOTAL || day >= m->hday)
        out[n++] = day_bucket(m, dim, day);
    if (dim == DIM_TOTAL)
        out[n++] = month_bucket(m, day);
    out[n++] = year_bucket(m, dim, year_of(day));
    return n;
}

int pub_model_add(pub_model *m, pufa_day day, const char *county, int theme, int venue, int form,
                  const char *unit, const char *campaign, const char *township,
                  const int64_t fig[NFIG]) {
    if (day < m->base)
        return 0;
    uint32_t c = county_get(m, county);
    uint32_t values[NDIM] = {0,
                             (uint32_t)theme,
                             (uint32_t)venue,
                             (uint32_t)form,
                             intern_get(&m->units, unit),
                             intern_get(&m->campaigns, campaign),
                             intern_get(&m->townships, township ? township : "")};
    bucket *bs[NDIM][3];
    int nb[NDIM];
    for (int d = 0; d < NDIM; d++) {
        nb[d] = buckets_of(m, day, d, bs[d]);
        for (int k = 0; k < nb[d]; k++)
            if (!bucket_fits(m, bs[d][k], c, values[d], fig))
                return PUFA_ETOOBIG;
    }
    for (int d = 0; d < NDIM; d++)
        for (int k = 0; k < nb[d]; k++)
            bucket_add(m, bs[d][k], c, values[d], fig);
    areas_add(m, day, c, fig, 1);
    return 0;
}

int pub_model_add_dim(pub_model *m, pufa_day day, const char *county, pub_dim dim, const char *key,
                      const int64_t fig[NFIG]) {
    uint32_t value;
    switch (dim) {
    case DIM_TOTAL:
        value = 0;
        break;
    case DIM_THEME:
    case DIM_VENUE:
    case DIM_FORM: {
        char *end;
        long v = strtol(key, &end, 10);
        if (!*key || *end || v < 0 || (size_t)v >= value_space(m, dim))
            return -1;
        value = (uint32_t)v;
        break;
    }
    case DIM_UNIT:
        value = intern_get(&m->units, key);
        break;
    case DIM_CAMPAIGN:
        value = intern_get(&m->campaigns, key);
        break;
    case DIM_TOWNSHIP:
        value = intern_get(&m->townships, key);
        break;
    default:
        return -1;
    }
    if (day < m->base)
        return -1;
    uint32_t c = county_get(m, county);
    bucket *bs[3];
    int nb = buckets_of(m, day, dim, bs);
    for (int k = 0; k < nb; k++)
        bucket_add(m, bs[k], c, value, fig);
    if (dim == DIM_TOTAL)
        areas_add(m, day, c, fig, 1);
    return 0;
}

/* Zeroes the cells of county c in b, taking their figures out of the
 * year bucket yb too when given, and out of the month's county totals and
 * the areas' sums of day when b holds that day's county totals (area_day
 * >= 0). */
static void bucket_forget(pub_model *m, bucket *b, uint32_t c, bucket *yb, pufa_day area_day) {
    bucket *mb = area_day >= 0 ? month_bucket(m, area_day) : NULL;
    static const int64_t zero[NFIG];
    for (uint32_t k = 0; k < b->n; k++) {
        if ((b->v[k].county & ~WIDE) != c)
            continue;
        int64_t fig[NFIG];
        cell_figs(m, &b->v[k], fig);
        if (area_day >= 0)
            areas_add(m, area_day, c, fig, -1);
        for (int f = 0; f < NFIG; f++)
            fig[f] = -fig[f];
        if (yb)
            bucket_add(m, yb, c, b->v[k].value, fig);
        if (mb)
            bucket_add(m, mb, c, b->v[k].value, fig);
        cell_store(m, &b->v[k], zero);
    }
}

void pub_model_forget_day(pub_model *m, pufa_day day, const char *county) {
    uint32_t c = intern_find(&m->counties, county);
    if (c == UINT32_MAX || day < m->base || (size_t)(day - m->base) >= m->ndays)
        return;
    for (int d = 0; d < NDIM; d++)
        if (d == DIM_TOTAL || day >= m->hday)
            bucket_forget(m, &m->days[d][day - m->base], c, year_bucket(m, d, year_of(day)),
                          d == DIM_TOTAL ? day : -1);
}

void pub_model_forget_year(pub_model *m, int year, const char *county) {
    uint32_t c = intern_find(&m->counties, county);
    if (c == UINT32_MAX || year < PUFA_MIN_YEAR || year >= m->hyear ||
        (size_t)(year - PUFA_MIN_YEAR) >= m->nyears)
        return;
    for (int d = DIM_TOTAL + 1; d < NDIM; d++)
        bucket_forget(m, &m->years[d][year - PUFA_MIN_YEAR], c, NULL, -1);
}

static int cell_order(const void *a, const void *b) {
    const cell *x = a, *y = b;
    uint32_t cx = x->county & ~WIDE, cy = y->county & ~WIDE;
    if (cx != cy)
        return cx < cy ? -1 : 1;
    return (x->value > y->value) - (x->value < y->value);
}

/* Puts b's cells in (county, value) order (a bucket without an index:
 * after a load, or one shrink frees). */
static void bucket_sort(bucket *b) {
    uint32_t k = 0;
    while (k + 1 < b->n && cell_order(&b->v[k], &b->v[k + 1]) < 0)
        k++;
    if (k + 1 < b->n) /* not in order already (a file's tail of live adds) */
        qsort(b->v, b->n, sizeof *b->v, cell_order);
    b->sorted = b->n;
}

static void bucket_shrink(bucket *b) {
    free(b->index); /* built again by the next add */
    b->index = NULL;
    b->isize = 0;
    if (b->cap == b->n)
        return;
    if (!b->n) {
        free(b->v);
        *b = (bucket){0};
        return;
    }
    b->cap = b->n;
    b->v = pufa_realloc(b->v, b->cap * sizeof *b->v);
}

void pub_model_shrink(pub_model *m) {
    few_index(m); /* every county the sorted cells can hold */
    for (int d = 0; d < NDIM; d++) {
        for (size_t i = 0; i < m->ndays; i++) {
            bucket_shrink(&m->days[d][i]);
            bucket_sort(&m->days[d][i]); /* no index now */
        }
        for (size_t i = 0; i < m->nyears; i++) {
            bucket_shrink(&m->years[d][i]);
            bucket_sort(&m->years[d][i]);
        }
    }
    for (size_t i = 0; i < m->nmonths; i++) {
        bucket_shrink(&m->months[i]);
        bucket_sort(&m->months[i]);
    }
    for (size_t i = 0; i < m->ndays && m->recv; i++) {
        recv_day *r = &m->recv[i];
        if (r->cap > r->n && r->n) {
            r->cap = r->n;
            r->v = pufa_realloc(r->v, r->n * sizeof *r->v);
        }
    }
    malloc_trim(0); /* what the load grew into and left, back to the system */
}

static seen *seen_slot(const pub_model *m, uint32_t county, uint32_t unit) {
    if (!m->seen_cap)
        return NULL;
    size_t mask = m->seen_cap - 1;
    for (size_t s = slot_of(county, unit, (uint32_t)mask);; s = (s + 1) & mask) {
        seen *e = &m->seen[s];
        if (e->day == NO_DAY || (e->county == county && e->unit == unit))
            return e;
    }
}

static void note_seen(pub_model *m, uint32_t county, uint32_t unit, pufa_day day) {
    seen *e = seen_slot(m, county, unit);
    if (e && e->day != NO_DAY) {
        if (day > e->day)
            e->day = day;
        return;
    }
    if (2 * (m->nseen + 1) > m->seen_cap) {
        seen *old = m->seen;
        size_t n = m->seen_cap;
        m->seen_cap = n ? 2 * n : 256;
        m->seen = pufa_malloc(m->seen_cap * sizeof *m->seen);
        for (size_t i = 0; i < m->seen_cap; i++)
            m->seen[i].day = NO_DAY;
        for (size_t i = 0; i < n; i++)
            if (old[i].day != NO_DAY)
                *seen_slot(m, old[i].county, old[i].unit) = old[i];
        free(old);
    }
    *seen_slot(m, county, unit) = (seen){county, unit, day};
    m->nseen++;
}

void pub_model_receipt(pub_model *m, pufa_day day, const char *county, const char *unit) {
    uint32_t c = county_get(m, county), u = intern_get(&m->units, unit);
    note_seen(m, c, UINT32_MAX, day);
    note_seen(m, c, u, day);
    if (day < m->base)
        return;
    day_bucket(m, DIM_TOTAL, day); /* grows recv with the days */
    recv_day *r = &m->recv[day - m->base];
    for (uint32_t i = 0; i < r->n; i++)
        if (r->v[i].county == c && r->v[i].unit == u)
            return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = pufa_realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = (struct recv_pair){c, u};
}

void pub_model_received(const pub_model *m, pufa_day from, pufa_day to,
                        void (*fn)(void *ctx, pufa_day day, uint32_t county, uint32_t unit),
                        void *ctx) {
    if (from < m->base)
        from = m->base;
    for (pufa_day day = from; day <= to; day++) {
        size_t i = (size_t)(day - m->base);
        if (i >= m->ndays)
            break;
        for (uint32_t k = 0; k < m->recv[i].n; k++)
            fn(ctx, day, m->recv[i].v[k].county, m->recv[i].v[k].unit);
    }
}

uint32_t pub_model_unit_index(const pub_model *m, const char *code) {
    return intern_find(&m->units, code);
}

void pub_model_set_seq(pub_model *m, uint64_t seq) {
    m->seq = seq;
}

static void set_name(intern *t, uint32_t i, const char *name) {
    free(t->names[i]);
    t->names[i] = pufa_strdup(name);
}

void pub_model_set_county_name(pub_model *m, const char *code, const char *name) {
    set_name(&m->counties, county_get(m, code), name);
}

void pub_model_set_unit_name(pub_model *m, const char *code, const char *name) {
    set_name(&m->units, intern_get(&m->units, code), name);
}

pub_periods *pub_model_periods(pub_model *m) {
    return m->periods;
}

const pub_periods *pub_model_periods_c(const pub_model *m) {
    return m->periods;
}

uint64_t pub_model_seq(const pub_model *m) {
    return m->seq;
}

size_t pub_model_counties(const pub_model *m) {
    return m->counties.n;
}

size_t pub_model_units(const pub_model *m) {
    return m->units.n;
}

uint32_t pub_model_county_index(const pub_model *m, const char *code) {
    return intern_find(&m->counties, code);
}

pufa_day pub_model_last_report(const pub_model *m, uint32_t county, const char *unit) {
    uint32_t u = unit ? intern_find(&m->units, unit) : UINT32_MAX;
    if (unit && u == UINT32_MAX)
        return -1;
    const seen *e = seen_slot(m, county, u);
    return e && e->day != NO_DAY ? e->day : -1;
}

static size_t value_space(const pub_model *m, pub_dim dim) {
    switch (dim) {
    case DIM_TOTAL:
        return 1;
    case DIM_THEME:
        return PUFA_THEME_MAX + 1;
    case DIM_VENUE:
        return PUFA_VENUE_MAX + 1;
    case DIM_FORM:
        return PUFA_FORM_MAX + 1;
    case DIM_UNIT:
        return m->units.n;
    case DIM_CAMPAIGN:
        return m->campaigns.n;
    case DIM_TOWNSHIP:
        return m->townships.n;
    case DIM_COUNTY:
        return m->counties.n;
    case DIM_CITY:
    case DIM_PROVINCE:
        return m->ou ? m->ou->count : 0;
    case NBY:
        break;
    }
    return 0;
}

/* Sums over cells saturate (pufa_fig_add): each cell is bounded when added
 * (pub_model_add), but a sum over many days and counties of hostile
 * figures could still pass INT64_MAX. */

/* Set when a read needed days the database could not give (the cold
 * callback failed or none is set): its answer lacks them. */
static _Thread_local bool read_incomplete;

void pub_model_incomplete_reset(void) {
    read_incomplete = false;
}

bool pub_model_incomplete(void) {
    return read_incomplete;
}

/* One read: which cells count (scope), where their figures go (acc[value];
 * space 1 and one = true: everything into acc[0]). */
typedef struct reader {
    const pub_model *m;
    const pub_scope *s;
    pub_dim dim;
    int src, up;
    bool one;
    size_t space;
    int64_t (*acc)[NFIG];
    int32_t area; /* the area whose per-day sums answer (one row of totals), or -1 */
    /* A scope of few counties (a city, a county): their indices in
     * order, each found in a bucket's sorted cells; NULL: read every
     * cell. */
    const uint32_t *few;
    size_t nfew;
} reader;

/* A scope of a city or a county: its counties from the model's lists
 * (few_index); the nation and provinces read every cell (their one-row
 * reads have the areas' sums). */
static void reader_few(reader *q) {
    const pub_model *m = q->m;
    int32_t u = q->s->unit;
    if (q->s->level < 2 || q->s->level > 3 || u < 0 || !m->few_off || (size_t)u >= m->ou->count)
        return;
    q->few = m->few_list + m->few_off[u];
    q->nfew = m->few_off[u + 1] - m->few_off[u];
}

/* The area of scope s when a read of one row can use its per-day sums:
 * every county, or a unit of rank <= AREA_MAX_RANK, with no county mask. */
static int32_t scope_area(const pub_model *m, const pub_scope *s) {
    if (s->only)
        return -1;
    if (s->level < 0)
        return 0;
    if (s->level > AREA_MAX_RANK || s->unit < 0 || !m->area_of || (size_t)s->unit >= m->ou->count)
        return -1;
    return m->area_of[s->unit];
}

static void read_bucket(const reader *q, const bucket *b);

/* Adds the county totals of [from, to] (inside one year) from q->area's
 * per-day sums: days x figures. */
static void read_area_days(const reader *q, pufa_day from, pufa_day to) {
    const pub_model *m = q->m;
    int y = year_of(from);
    const area_year *ay = area_at(m, q->area, y);
    if (!ay)
        return; /* no county of the area has figures that year */
    pufa_day y0 = pufa_date_from_ymd(y, 1, 1);
    for (pufa_day day = from; day <= to; day++) {
        size_t i = (size_t)(day - y0);
        if (ay->lost[i]) {
            if ((size_t)(day - m->base) < m->ndays)
                read_bucket(q, &m->days[DIM_TOTAL][day - m->base]);
            continue;
        }
        for (int f = 0; f < NFIG; f++)
            pufa_fig_add(&q->acc[0][f], ay->fig[i][f]);
    }
}

static inline int64_t *reader_row(const reader *q, uint32_t county, uint32_t value) {
    const pub_model *m = q->m;
    if (!county_in(m, q->s, county))
        return NULL;
    if (q->one)
        return q->acc[0];
    uint32_t v = q->dim == DIM_COUNTY ? county : value;
    if (q->up >= 0) {
        int32_t a = county < m->counties.n ? m->anc[county][q->up] : -1;
        if (a < 0)
            return NULL;
        v = (uint32_t)a;
    }
    return v < q->space ? q->acc[v] : NULL;
}

static inline void read_cell(const reader *q, const cell *c) {
    int64_t *a = reader_row(q, c->county & ~WIDE, c->value);
    if (!a)
        return;
    if (c->county & WIDE) {
        const int64_t *w = q->m->wide[c->fig[0]];
        for (int f = 0; f < NFIG; f++)
            pufa_fig_add(&a[f], w[f]);
    } else {
        for (int f = 0; f < NFIG; f++)
            pufa_fig_add(&a[f], c->fig[f]);
    }
}

static void read_bucket(const reader *q, const bucket *b) {
    if (!q->few) {
        for (uint32_t k = 0; k < b->n; k++)
            read_cell(q, &b->v[k]);
        return;
    }
    /* A few counties: each one's run of the sorted cells, then the cells
     * added since the sort. */
    for (size_t i = 0; i < q->nfew; i++) {
        uint32_t c = q->few[i], lo = 0, hi = b->sorted;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if ((b->v[mid].county & ~WIDE) < c)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < b->sorted && (b->v[lo].county & ~WIDE) == c; lo++)
            read_cell(q, &b->v[lo]);
    }
    for (uint32_t k = b->sorted; k < b->n; k++)
        read_cell(q, &b->v[k]);
}

/* A row from the cold callback: county code, key as rollup_dim has it. */
static void read_cold_row(void *ctx, const char *county, const char *key, const int64_t fig[NFIG]) {
    const reader *q = ctx;
    const pub_model *m = q->m;
    uint32_t c = intern_find(&m->counties, county), v = 0;
    if (c == UINT32_MAX)
        return;
    switch (q->src) {
    case DIM_THEME:
    case DIM_VENUE:
    case DIM_FORM:
        v = (uint32_t)strtoul(key, NULL, 10);
        break;
    case DIM_UNIT:
        v = intern_find(&m->units, key);
        break;
    case DIM_CAMPAIGN:
        v = intern_find(&m->campaigns, key);
        break;
    case DIM_TOWNSHIP:
        v = intern_find(&m->townships, key);
        break;
    default:
        break;
    }
    int64_t *a = reader_row(q, c, v);
    for (int f = 0; a && f < NFIG; f++)
        pufa_fig_add(&a[f], fig[f]);
}

/* Adds the county totals of [from, to] (inside one year): whole months
 * from the month tier, the other days from the day tier. */
static void read_total_days(const reader *q, pufa_day from, pufa_day to) {
    const pub_model *m = q->m;
    for (pufa_day d = from; d <= to;) {
        int y, mo, dd;
        pufa_date_to_ymd(d, &y, &mo, &dd);
        pufa_day m0 = pufa_date_from_ymd(y, mo, 1);
        pufa_day m1 =
            (mo == 12 ? pufa_date_from_ymd(y + 1, 1, 1) : pufa_date_from_ymd(y, mo + 1, 1)) - 1;
        pufa_day e = m1 < to ? m1 : to;
        size_t mi = month_index(d);
        if (d == m0 && e == m1 && mi < m->nmonths) {
            read_bucket(q, &m->months[mi]);
        } else {
            for (pufa_day day = d; day <= e && (size_t)(day - m->base) < m->ndays; day++)
                read_bucket(q, &m->days[DIM_TOTAL][day - m->base]);
        }
        d = e + 1;
    }
}

/* Adds the cells of [from, to] of dimension q->src: whole calendar years
 * from the year buckets, other days from the day buckets; the days before
 * hday of another dimension than total (kept per year only) from the cold
 * callback.  Cost: years + days outside whole years, x cells. */
static void read_range(const reader *q, pufa_day from, pufa_day to) {
    const pub_model *m = q->m;
    if (from < m->base)
        from = m->base;
    for (pufa_day d = from; d <= to;) {
        int y = year_of(d);
        size_t yi = (size_t)(y - PUFA_MIN_YEAR);
        if (yi >= m->nyears)
            return; /* no data from that year on */
        pufa_day y0 = pufa_date_from_ymd(y, 1, 1), y1 = pufa_date_from_ymd(y, 12, 31);
        pufa_day e = y1 < to ? y1 : to;
        if (d == y0 && e == y1) {
            read_bucket(q, &m->years[q->src][yi]);
        } else if (q->src == DIM_TOTAL && q->area >= 0) {
            read_area_days(q, d, e);
        } else if (q->src == DIM_TOTAL) {
            read_total_days(q, d, e);
        } else if (d >= m->hday) {
            for (pufa_day day = d; day <= e && (size_t)(day - m->base) < m->ndays; day++)
                read_bucket(q, &m->days[q->src][day - m->base]);
        } else if (m->years[q->src][yi].n) {
            /* Part of an old year: its days are in PostgreSQL only. */
            if (!m->cold || m->cold(m->cold_ctx, d, e, (pub_dim)q->src, read_cold_row, (void *)q))
                read_incomplete = true;
        }
        d = e + 1;
    }
}

size_t pub_model_query(const pub_model *m, pufa_day from, pufa_day to, pub_dim dim,
                       const pub_scope *s, pub_row **rows, int64_t totals[NFIG]) {
    memset(totals, 0, NFIG * sizeof(int64_t));
    size_t space = value_space(m, dim);
    int64_t(*acc)[NFIG] = pufa_calloc(space ? space : 1, sizeof *acc);
    /* The breakdowns by org unit read the per-county totals; a city or a
     * province row is its counties' sum (the level rank of its unit). */
    pub_scope tmp;
    reader q = {.m = m,
                .s = current(m, s, &tmp),
                .dim = dim,
                .src = dim >= DIM_COUNTY ? DIM_TOTAL : dim,
                .up = dim == DIM_CITY       ? 2
                      : dim == DIM_PROVINCE ? 1
                                            : -1,
                .space = space,
                .acc = acc,
                .area = -1};
    if (dim == DIM_TOTAL)
        q.area = scope_area(m, q.s);
    reader_few(&q);
    read_range(&q, from, to);
    size_t n = 0;
    pub_row *out = pufa_calloc(space ? space : 1, sizeof *out);
    for (size_t v = 0; v < space; v++) {
        bool zero = true;
        for (int f = 0; f < NFIG && zero; f++)
            zero = acc[v][f] == 0;
        if (zero)
            continue;
        out[n].value = (uint32_t)v;
        memcpy(out[n].fig, acc[v], sizeof out[n].fig);
        for (int f = 0; f < NFIG; f++)
            pufa_fig_add(&totals[f], acc[v][f]);
        n++;
    }
    free(acc);
    *rows = out;
    return n;
}

void pub_model_sum(const pub_model *m, pufa_day from, pufa_day to, const pub_scope *s,
                   int64_t fig[NFIG]) {
    int64_t acc[1][NFIG] = {{0}};
    pub_scope tmp;
    reader q = {.m = m,
                .s = current(m, s, &tmp),
                .dim = DIM_TOTAL,
                .src = DIM_TOTAL,
                .up = -1,
                .one = true,
                .space = 1,
                .acc = acc};
    q.area = scope_area(m, q.s);
    reader_few(&q);
    read_range(&q, from, to);
    memcpy(fig, acc[0], NFIG * sizeof(int64_t));
}

/* Does a come before b: the larger figure fig first, then the smaller
 * value. */
static bool ranks_before(const pub_row *a, const pub_row *b, int fig) {
    return a->fig[fig] > b->fig[fig] || (a->fig[fig] == b->fig[fig] && a->value < b->value);
}

void pub_rows_rank(pub_row *rows, size_t n, int fig) {
    /* A stable merge sort, bottom up: a nation's by=county has 2,975
     * rows (an insertion sort moved about n^2 / 4 rows of 96 bytes). */
    if (n < 2)
        return;
    pub_row *tmp = pufa_malloc(n * sizeof *tmp), *a = rows, *b = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = ranks_before(&a[j], &a[i], fig) ? a[j++] : a[i++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        pub_row *t = a;
        a = b;
        b = t;
    }
    if (a != rows)
        memcpy(rows, a, n * sizeof *rows);
    free(tmp);
}

const char *pub_model_key(const pub_model *m, pub_dim dim, uint32_t value) {
    switch (dim) {
    case DIM_TOTAL:
        return "all";
    case DIM_THEME:
        return pufa_enum_code(PUFA_ENUM_THEME, (int)value);
    case DIM_VENUE:
        return pufa_enum_code(PUFA_ENUM_VENUE, (int)value);
    case DIM_FORM:
        return pufa_enum_code(PUFA_ENUM_FORM, (int)value);
    case DIM_UNIT:
        return value < m->units.n ? m->units.keys[value] : "";
    case DIM_CAMPAIGN:
        return value < m->campaigns.n ? m->campaigns.keys[value] : "";
    case DIM_TOWNSHIP:
        return value < m->townships.n ? m->townships.keys[value] : "";
    case DIM_COUNTY:
        return value < m->counties.n ? m->counties.keys[value] : "";
    case DIM_CITY:
    case DIM_PROVINCE:
        return m->ou && value < m->ou->count ? m->ou->units[value].code : "";
    case NBY:
        break;
    }
    return "";
}

const char *pub_model_label(const pub_model *m, pub_dim dim, uint32_t value) {
    switch (dim) {
    case DIM_TOTAL:
        return "合计";
    case DIM_THEME:
        return pufa_enum_label(PUFA_ENUM_THEME, (int)value);
    case DIM_VENUE:
        return pufa_enum_label(PUFA_ENUM_VENUE, (int)value);
    case DIM_FORM:
        return pufa_enum_label(PUFA_ENUM_FORM, (int)value);
    case DIM_UNIT:
        if (value < m->units.n)
            return m->units.names[value] ? m->units.names[value] : m->units.keys[value];
        return "";
    case DIM_CAMPAIGN:
        if (value < m->campaigns.n)
            return *m->campaigns.keys[value] ? m->campaigns.keys[value] : "(无)";
        return "";
    case DIM_TOWNSHIP:
        if (value < m->townships.n)
            return *m->townships.keys[value] ? m->townships.keys[value] : "(未填)";
        return "";
    case DIM_COUNTY:
        if (value < m->counties.n)
            return m->counties.names[value] ? m->counties.names[value] : m->counties.keys[value];
        return "";
    case DIM_CITY:
    case DIM_PROVINCE:
        return m->ou && value < m->ou->count ? m->ou->units[value].name : "";
    case NBY:
        break;
    }
    return "";
}

/* ---- the model file (a warm start's cache) ---- */

#define MODEL_MAGIC   "PUFAMDL1"
#define MODEL_END     "PUFAEND1"
#define MODEL_VERSION 1u

typedef struct model_head {
    char magic[8];
    uint32_t version, nfig, ndim;
    int32_t hyear, base;
    uint64_t seq, stamp, ndays, nyears, nwide, nseen;
} model_head;

void pub_model_set_stamp(pub_model *m, uint64_t stamp) {
    m->stamp = stamp;
}

uint64_t pub_model_stamp(const pub_model *m) {
    return m->stamp;
}

static bool put(FILE *f, const void *p, size_t n) {
    return n == 0 || fwrite(p, n, 1, f) == 1;
}

static bool get(FILE *f, void *p, size_t n) {
    return n == 0 || fread(p, n, 1, f) == 1;
}

static bool put_str(FILE *f, const char *s) {
    int32_t len = s ? (int32_t)strlen(s) : -1;
    return put(f, &len, sizeof len) && put(f, s, len > 0 ? (size_t)len : 0);
}

/* A string written by put_str (NULL for none); false on a short read or an
 * impossible length. */
static bool get_str(FILE *f, char **out) {
    int32_t len;
    *out = NULL;
    if (!get(f, &len, sizeof len) || len < -1 || len > 65536)
        return false;
    if (len < 0)
        return true;
    *out = pufa_malloc((size_t)len + 1);
    (*out)[len] = 0;
    return get(f, *out, (size_t)len);
}

static bool put_intern(FILE *f, const intern *t) {
    uint64_t n = t->n;
    bool ok = put(f, &n, sizeof n);
    for (size_t i = 0; ok && i < t->n; i++)
        ok = put_str(f, t->keys[i]) && put_str(f, t->names[i]);
    return ok;
}

static bool get_intern(FILE *f, intern *t) {
    uint64_t n;
    if (!get(f, &n, sizeof n) || n > UINT32_MAX / 4)
        return false;
    for (uint64_t i = 0; i < n; i++) {
        char *key, *name;
        if (!get_str(f, &key) || !key || !get_str(f, &name)) {
            free(key);
            return false;
        }
        uint32_t k = intern_get(t, key);
        free(key);
        if (k != i) { /* a repeated key */
            free(name);
            return false;
        }
        t->names[k] = name;
    }
    return true;
}

static bool put_buckets(FILE *f, bucket *const b[NDIM], size_t n) {
    for (int d = 0; d < NDIM; d++)
        for (size_t i = 0; i < n; i++)
            if (!put(f, &b[d][i].n, sizeof b[d][i].n) ||
                !put(f, b[d][i].v, b[d][i].n * sizeof *b[d][i].v))
                return false;
    return true;
}

/* Reads n buckets per dimension into b (allocated here), each cell's
 * county and wide index checked against the model's. */
static bool get_buckets(FILE *f, pub_model *m, bucket *b[NDIM], size_t n) {
    for (int d = 0; d < NDIM; d++) {
        b[d] = pufa_calloc(n ? n : 1, sizeof(bucket));
        for (size_t i = 0; i < n; i++) {
            bucket *k = &b[d][i];
            if (!get(f, &k->n, sizeof k->n) || k->n > (1u << 28))
                return false;
            if (!k->n)
                continue;
            k->cap = k->n;
            k->v = pufa_malloc(k->n * sizeof *k->v);
            if (!get(f, k->v, k->n * sizeof *k->v))
                return false;
            for (uint32_t j = 0; j < k->n; j++)
                if ((k->v[j].county & ~WIDE) >= m->counties.n ||
                    ((k->v[j].county & WIDE) && k->v[j].fig[0] >= m->nwide))
                    return false;
            bucket_sort(k); /* saved in order but for the cells added since a sort */
        }
    }
    return true;
}

int pub_model_save(const pub_model *m, const char *path, char *err, size_t errsize) {
    char *tmp = pufa_asprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errsize, "model file %s: %s", tmp, strerror(errno));
        free(tmp);
        return PUFA_EIO;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    model_head h;
    memset(&h, 0, sizeof h); /* padding too: the file holds no stray bytes */
    h.version = MODEL_VERSION;
    h.nfig = NFIG;
    h.ndim = NDIM;
    h.hyear = m->hyear;
    h.base = m->base;
    h.seq = m->seq;
    h.stamp = m->stamp;
    h.ndays = m->ndays;
    h.nyears = m->nyears;
    h.nwide = m->nwide;
    h.nseen = m->nseen;
    memcpy(h.magic, MODEL_MAGIC, 8);
    bool ok = put(f, &h, sizeof h) && put_intern(f, &m->counties) && put_intern(f, &m->units) &&
              put_intern(f, &m->campaigns) && put_intern(f, &m->townships) &&
              put(f, m->wide, m->nwide * sizeof *m->wide) && put_buckets(f, m->days, m->ndays) &&
              put_buckets(f, m->years, m->nyears);
    for (size_t i = 0; ok && i < m->ndays; i++)
        ok = put(f, &m->recv[i].n, sizeof m->recv[i].n) &&
             put(f, m->recv[i].v, m->recv[i].n * sizeof *m->recv[i].v);
    for (size_t i = 0; ok && i < m->seen_cap; i++)
        if (m->seen[i].day != NO_DAY)
            ok = put(f, &m->seen[i], sizeof m->seen[i]);
    ok = ok && put(f, MODEL_END, 8);
    if (fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        snprintf(err, errsize, "model file %s: %s", path, strerror(errno ? errno : EIO));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : PUFA_EIO;
}

int pub_model_load(pub_model *m, const char *path, char *err, size_t errsize) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "model file %s: %s", path, strerror(errno));
        return PUFA_ENOTFOUND;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    model_head h;
    if (!get(f, &h, sizeof h) || memcmp(h.magic, MODEL_MAGIC, 8) != 0 ||
        h.version != MODEL_VERSION || h.nfig != NFIG || h.ndim != NDIM || h.hyear != m->hyear ||
        h.base != m->base || h.ndays > (1u << 20) || h.nyears > 1000 || h.nwide > (1u << 30)) {
        snprintf(err, errsize,
                 "model file %s: not one of this version with horizon %d (another format, figure "
                 "count or horizon)",
                 path, m->hyear);
        fclose(f);
        return PUFA_EINVAL;
    }
    pub_model_clear(m);
    intern_free(&m->counties);
    intern_free(&m->units);
    intern_free(&m->campaigns);
    intern_free(&m->townships);
    bool ok = get_intern(f, &m->counties) && get_intern(f, &m->units) &&
              get_intern(f, &m->campaigns) && get_intern(f, &m->townships);
    if (ok) {
        m->nwide = m->wide_cap = h.nwide;
        m->wide = pufa_malloc((h.nwide ? h.nwide : 1) * sizeof *m->wide);
        ok = get(f, m->wide, h.nwide * sizeof *m->wide);
    }
    m->ndays = h.ndays;
    m->nyears = h.nyears;
    ok = ok && get_buckets(f, m, m->days, m->ndays) && get_buckets(f, m, m->years, m->nyears);
    if (ok) {
        m->recv = pufa_calloc(m->ndays ? m->ndays : 1, sizeof *m->recv);
        for (size_t i = 0; ok && i < m->ndays; i++) {
            recv_day *r = &m->recv[i];
            ok = get(f, &r->n, sizeof r->n) && r->n <= (1u << 24);
            if (!ok || !r->n) {
                r->n = 0;
                continue;
            }
            r->cap = r->n;
            r->v = pufa_malloc(r->n * sizeof *r->v);
            ok = get(f, r->v, r->n * sizeof *r->v);
        }
    }
    for (uint64_t i = 0; ok && i < h.nseen; i++) {
        seen s;
        ok = get(f, &s, sizeof s) && s.day != NO_DAY;
        if (ok)
            note_seen(m, s.county, s.unit, s.day);
    }
    char end[8];
    ok = ok && get(f, end, 8) && !memcmp(end, MODEL_END, 8) && fgetc(f) == EOF;
    fclose(f);
    /* Every county's ancestors, in the org units the model has - also when
     * the file is refused: the counties it named stay interned, and
     * pub_model_set_orgunits reads every one's. */
    anc_grow(m);
    for (uint32_t i = 0; i < m->counties.n; i++)
        find_ancestors(m, i);
    if (!ok) {
        snprintf(err, errsize, "model file %s: truncated or damaged", path);
        pub_model_clear(m);
        return PUFA_ECORRUPT;
    }
    few_index(m);
    months_rebuild(m); /* not in the file: built from the county cells */
    areas_rebuild(m);
    m->seq = h.seq;
    m->stamp = h.stamp;
    return 0;
}
