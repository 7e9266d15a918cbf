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

const char *const pub_dim_names[NDIM + 1] = {"none", "theme",    "venue", "form",
                                             "unit", "campaign", "county"};

int pub_dim_parse(const char *name) {
    for (int i = 0; i <= NDIM; i++)
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
    intern counties, units, campaigns;
    seen *seen;
    size_t nseen, seen_cap;
    uint64_t seq;
};

pub_model *pub_model_new(void) {
    pub_model *m = pufa_calloc(1, sizeof *m);
    pthread_rwlock_init(&m->lock, NULL);
    m->base = pufa_date_from_ymd(PUFA_MIN_YEAR, 1, 1);
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
    free(m->seen);
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
                  const char *unit, const char *campaign, const int64_t fig[NFIG]) {
    if (day < m->base)
        return 0;
    uint32_t c = intern_get(&m->counties, county);
    uint32_t values[NDIM] = {0,
                             (uint32_t)theme,
                             (uint32_t)venue,
                             (uint32_t)form,
                             intern_get(&m->units, unit),
                             intern_get(&m->campaigns, campaign)};
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
    default:
        return -1;
    }
    if (day < m->base)
        return -1;
    bucket_add(day_bucket(m, dim, day), intern_get(&m->counties, county), value, fig);
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
    uint32_t c = intern_get(&m->counties, county);
    note_seen(m, c, UINT32_MAX, day);
    note_seen(m, c, intern_get(&m->units, unit), day);
}

void pub_model_set_seq(pub_model *m, uint64_t seq) {
    m->seq = seq;
}

static void set_name(intern *t, const char *code, const char *name) {
    uint32_t i = intern_get(t, code);
    free(t->names[i]);
    t->names[i] = pufa_strdup(name);
}

void pub_model_set_county_name(pub_model *m, const char *code, const char *name) {
    set_name(&m->counties, code, name);
}

void pub_model_set_unit_name(pub_model *m, const char *code, const char *name) {
    set_name(&m->units, code, name);
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
    case DIM_COUNTY:
        return m->counties.n;
    }
    return 0;
}

size_t pub_model_query(const pub_model *m, pufa_day from, pufa_day to, pub_dim dim,
                       const char *county, pub_row **rows, int64_t totals[NFIG]) {
    memset(totals, 0, NFIG * sizeof(int64_t));
    size_t space = value_space(m, dim);
    int64_t(*acc)[NFIG] = pufa_calloc(space ? space : 1, sizeof *acc);
    uint32_t only = UINT32_MAX;
    bool filter = county != NULL;
    if (filter)
        only = intern_find(&m->counties, county);
    int src = dim == DIM_COUNTY ? DIM_TOTAL : dim;
    if (from < m->base)
        from = m->base;
    for (pufa_day day = from; day <= to && (!filter || only != UINT32_MAX); day++) {
        size_t i = (size_t)(day - m->base);
        if (i >= m->ndays)
            break;
        const bucket *b = &m->days[src][i];
        for (uint32_t k = 0; k < b->n; k++) {
            const cell *c = &b->v[k];
            if (filter && c->county != only)
                continue;
            uint32_t v = dim == DIM_COUNTY ? c->county : c->value;
            if (v >= space)
                continue;
            for (int f = 0; f < NFIG; f++)
                acc[v][f] += c->fig[f];
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
            totals[f] += acc[v][f];
        n++;
    }
    free(acc);
    *rows = out;
    return n;
}

void pub_model_sum(const pub_model *m, pufa_day from, pufa_day to, const char *county,
                   int64_t fig[NFIG]) {
    memset(fig, 0, NFIG * sizeof(int64_t));
    uint32_t only = county ? intern_find(&m->counties, county) : UINT32_MAX;
    if (county && only == UINT32_MAX)
        return;
    if (from < m->base)
        from = m->base;
    for (pufa_day day = from; day <= to; day++) {
        size_t i = (size_t)(day - m->base);
        if (i >= m->ndays)
            break;
        const bucket *b = &m->days[DIM_TOTAL][i];
        for (uint32_t k = 0; k < b->n; k++) {
            if (county && b->v[k].county != only)
                continue;
            for (int f = 0; f < NFIG; f++)
                fig[f] += b->v[k].fig[f];
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
    case DIM_COUNTY:
        return value < m->counties.n ? m->counties.keys[value] : "";
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
    case DIM_COUNTY:
        if (value < m->counties.n)
            return m->counties.names[value] ? m->counties.names[value] : m->counties.keys[value];
        return "";
    }
    return "";
}
