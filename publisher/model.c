#include "model.h"

#include <stdlib.h>
#include <string.h>

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

/* Interned strings: code -> index, with an optional display name. */
typedef struct intern {
    char **keys;
    char **names;
    size_t n, cap;
} intern;

static uint32_t intern_find(const intern *t, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->keys[i], key))
            return (uint32_t)i;
    return UINT32_MAX;
}

static uint32_t intern_get(intern *t, const char *key) {
    uint32_t i = intern_find(t, key);
    if (i != UINT32_MAX)
        return i;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->keys = pufa_realloc(t->keys, t->cap * sizeof *t->keys);
        t->names = pufa_realloc(t->names, t->cap * sizeof *t->names);
    }
    t->keys[t->n] = pufa_strdup(key);
    t->names[t->n] = NULL;
    return (uint32_t)t->n++;
}

static void intern_free(intern *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->keys[i]);
        free(t->names[i]);
    }
    free(t->keys);
    free(t->names);
    memset(t, 0, sizeof *t);
}

static size_t value_space(const pub_model *m, pub_dim dim);

typedef struct cell {
    uint32_t county;
    uint32_t value;
    int64_t fig[NFIG];
} cell;

/* The cells of one day and dimension, with an open-addressing index on
 * (county, value) so that adding is O(1) however many cells a day has. */
typedef struct bucket {
    cell *v;
    uint32_t n, cap;
    uint32_t *index; /* slot -> cell index + 1 (0 = empty); size = 2 * cap */
} bucket;

/* Who reported on one received day: distinct (county, unit) pairs. */
typedef struct recv_day {
    struct recv_pair {
        uint32_t county, unit;
    } * v;
    uint32_t n, cap;
} recv_day;

/* Last report day per (county, unit). */
typedef struct seen {
    uint32_t county;
    uint32_t unit; /* UINT32_MAX: the county as a whole */
    pufa_day day;
} seen;

struct pub_model {
    pthread_rwlock_t lock;
    pufa_day base;      /* day of index 0 */
    size_t ndays;       /* allocated days per dimension */
    bucket *days[NDIM]; /* [dim][day - base] */
    recv_day *recv;     /* [day - base]: receipts by received day */
    intern counties, units, campaigns, townships;
    pufa_orgunits *ou; /* every level, from the snapshot; NULL before */
    int32_t (*anc)[4]; /* per county index: its units in ou by level rank, -1 if none */
    size_t anc_cap;
    uint64_t ou_gen; /* bumps when ou is replaced */
    char home[7];    /* "" : every county counts */
    pub_scope home_scope;
    seen *seen;
    size_t nseen, seen_cap;
    uint64_t seq;
    pub_periods *periods;
};

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

/* The index of a county code, interned (and its ancestors found) when
 * new. */
static uint32_t county_get(pub_model *m, const char *code) {
    size_t before = m->counties.n;
    uint32_t i = intern_get(&m->counties, code);
    if (m->counties.n == before)
        return i;
    if (m->anc_cap < m->counties.cap) {
        m->anc_cap = m->counties.cap;
        m->anc = pufa_realloc(m->anc, m->anc_cap * sizeof *m->anc);
    }
    find_ancestors(m, i);
    return i;
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

void pub_model_set_orgunits(pub_model *m, pufa_orgunits *ou) {
    pufa_orgunits_destroy(&m->ou);
    m->ou = ou;
    m->ou_gen++;
    for (uint32_t i = 0; i < m->counties.n; i++)
        find_ancestors(m, i);
    find_home(m);
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
    m->home_scope.level = -1;
    m->periods = pub_periods_new();
    return m;
}

static void free_days(pub_model *m) {
    for (int d = 0; d < NDIM; d++) {
        for (size_t i = 0; i < m->ndays && m->days[d]; i++) {
            if (!m->days[d][i].cap) /* most days: nothing to free */
                continue;
            free(m->days[d][i].v);
            free(m->days[d][i].index);
        }
        free(m->days[d]);
        m->days[d] = NULL;
    }
    for (size_t i = 0; i < m->ndays && m->recv; i++)
        free(m->recv[i].v);
    free(m->recv);
    m->recv = NULL;
    m->ndays = 0;
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
    m->nseen = 0;
    pub_periods_clear(m->periods);
    /* Interned names stay: indices remain valid for labels. */
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

static uint32_t slot_of(uint32_t county, uint32_t value, uint32_t mask) {
    uint32_t h = county * 2654435761u ^ (value + 0x9e3779b9u) * 2246822519u;
    return (h ^ (h >> 15)) & mask;
}

static void reindex(bucket *b) {
    uint32_t size = 2 * b->cap, mask = size - 1;
    free(b->index);
    b->index = pufa_calloc(size, sizeof *b->index);
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t s = slot_of(b->v[i].county, b->v[i].value, mask);
        while (b->index[s])
            s = (s + 1) & mask;
        b->index[s] = i + 1;
    }
}

/* The cell (county, value) of b, or NULL. */
static cell *bucket_find(const bucket *b, uint32_t county, uint32_t value) {
    if (!b->cap)
        return NULL;
    uint32_t mask = 2 * b->cap - 1;
    for (uint32_t s = slot_of(county, value, mask);; s = (s + 1) & mask) {
        uint32_t k = b->index[s];
        if (!k)
            return NULL;
        cell *c = &b->v[k - 1];
        if (c->county == county && c->value == value)
            return c;
    }
}

/* Can fig be added to the cell (county, value) without a figure leaving
 * int64?  (PostgreSQL refuses such a sum, so only a corrupt delta asks.) */
static bool bucket_fits(const bucket *b, uint32_t county, uint32_t value, const int64_t fig[NFIG]) {
    const cell *c = bucket_find(b, county, value);
    int64_t sum;
    for (int f = 0; c && f < NFIG; f++)
        if (__builtin_add_overflow(c->fig[f], fig[f], &sum))
            return false;
    return true;
}

static void bucket_add(bucket *b, uint32_t county, uint32_t value, const int64_t fig[NFIG]) {
    cell *found = bucket_find(b, county, value);
    if (found) {
        for (int f = 0; f < NFIG; f++)
            found->fig[f] += fig[f];
        return;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->v = pufa_realloc(b->v, b->cap * sizeof *b->v);
        b->n++; /* reindex the new cell too */
        b->v[b->n - 1].county = county;
        b->v[b->n - 1].value = value;
        memcpy(b->v[b->n - 1].fig, fig, sizeof b->v[0].fig);
        reindex(b);
        return;
    }
    cell *c = &b->v[b->n++];
    c->county = county;
    c->value = value;
    memcpy(c->fig, fig, sizeof c->fig);
    uint32_t mask = 2 * b->cap - 1, s = slot_of(county, value, mask);
    while (b->index[s])
        s = (s + 1) & mask;
    b->index[s] = b->n;
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
    for (int d = 0; d < NDIM; d++)
        if (!bucket_fits(day_bucket(m, d, day), c, values[d], fig))
            return PUFA_ETOOBIG;
    for (int d = 0; d < NDIM; d++)
        bucket_add(day_bucket(m, d, day), c, values[d], fig);
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
    bucket_add(day_bucket(m, dim, day), county_get(m, county), value, fig);
    return 0;
}

static void note_seen(pub_model *m, uint32_t county, uint32_t unit, pufa_day day) {
    for (size_t i = 0; i < m->nseen; i++)
        if (m->seen[i].county == county && m->seen[i].unit == unit) {
            if (day > m->seen[i].day)
                m->seen[i].day = day;
            return;
        }
    if (m->nseen == m->seen_cap) {
        m->seen_cap = m->seen_cap ? m->seen_cap * 2 : 64;
        m->seen = pufa_realloc(m->seen, m->seen_cap * sizeof *m->seen);
    }
    m->seen[m->nseen++] = (seen){county, unit, day};
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
    for (size_t i = 0; i < m->nseen; i++)
        if (m->seen[i].county == county && m->seen[i].unit == u)
            return m->seen[i].day;
    return -1;
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

/* Sums over cells: each cell is bounded when added (pub_model_add), but a
 * sum over many days and counties of hostile figures could still pass
 * INT64_MAX; it saturates there rather than wrap. */
static inline void sat_add(int64_t *acc, int64_t v) {
    if (__builtin_add_overflow(*acc, v, acc))
        *acc = v > 0 ? INT64_MAX : INT64_MIN;
}

size_t pub_model_query(const pub_model *m, pufa_day from, pufa_day to, pub_dim dim,
                       const pub_scope *s, pub_row **rows, int64_t totals[NFIG]) {
    memset(totals, 0, NFIG * sizeof(int64_t));
    size_t space = value_space(m, dim);
    int64_t(*acc)[NFIG] = pufa_calloc(space ? space : 1, sizeof *acc);
    /* The breakdowns by org unit read the per-county totals; a city or a
     * province row is its counties' sum (the level rank of its unit). */
    int src = dim >= DIM_COUNTY ? DIM_TOTAL : dim;
    int up = dim == DIM_CITY ? 2 : dim == DIM_PROVINCE ? 1 : -1;
    pub_scope tmp;
    s = current(m, s, &tmp);
    if (from < m->base)
        from = m->base;
    for (pufa_day day = from; day <= to; day++) {
        size_t i = (size_t)(day - m->base);
        if (i >= m->ndays)
            break;
        const bucket *b = &m->days[src][i];
        for (uint32_t k = 0; k < b->n; k++) {
            const cell *c = &b->v[k];
            if (!county_in(m, s, c->county))
                continue;
            uint32_t v = dim == DIM_COUNTY ? c->county : c->value;
            if (up >= 0) {
                int32_t a = c->county < m->counties.n ? m->anc[c->county][up] : -1;
                if (a < 0)
                    continue;
                v = (uint32_t)a;
            }
            if (v >= space)
                continue;
            for (int f = 0; f < NFIG; f++)
                sat_add(&acc[v][f], c->fig[f]);
        }
    }
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
            sat_add(&totals[f], acc[v][f]);
        n++;
    }
    free(acc);
    *rows = out;
    return n;
}

void pub_model_sum(const pub_model *m, pufa_day from, pufa_day to, const pub_scope *s,
                   int64_t fig[NFIG]) {
    memset(fig, 0, NFIG * sizeof(int64_t));
    pub_scope tmp;
    s = current(m, s, &tmp);
    if (from < m->base)
        from = m->base;
    for (pufa_day day = from; day <= to; day++) {
        size_t i = (size_t)(day - m->base);
        if (i >= m->ndays)
            break;
        const bucket *b = &m->days[DIM_TOTAL][i];
        for (uint32_t k = 0; k < b->n; k++) {
            if (!county_in(m, s, b->v[k].county))
                continue;
            for (int f = 0; f < NFIG; f++)
                sat_add(&fig[f], b->v[k].fig[f]);
        }
    }
}

void pub_rows_rank(pub_row *rows, size_t n, int fig) {
    /* Insertion sort: a breakdown has few rows, and it is stable. */
    for (size_t i = 1; i < n; i++) {
        pub_row r = rows[i];
        size_t j = i;
        while (j > 0 && (rows[j - 1].fig[fig] < r.fig[fig] ||
                         (rows[j - 1].fig[fig] == r.fig[fig] && rows[j - 1].value > r.value))) {
            rows[j] = rows[j - 1];
            j--;
        }
        rows[j] = r;
    }
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
