#include "orgunits.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "utf8.h"

static const char *const level_names[] = {"nation", "province", "city", "county"};

bool pufa_orgunit_code_valid(const char *code) {
    if (!code || strlen(code) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return true;
}

int pufa_orgunit_level_rank(const char *level) {
    for (int i = 0; level && i < 4; i++)
        if (!strcmp(level, level_names[i]))
            return i;
    return -1;
}

pufa_orgunits *pufa_orgunits_new(void) {
    return pufa_calloc(1, sizeof(pufa_orgunits));
}

/* The index of code in the sorted units, or where it would go (*found
 * false). */
static size_t position(const pufa_orgunits *ou, const char *code, bool *found) {
    size_t lo = 0, hi = ou->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ou->units[mid].code, code);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Checks and inserts; the new unit, or NULL (nothing changed). */
static pufa_orgunit *insert(pufa_orgunits *ou, const char *code, const char *name,
                            const char *level, const char *parent_code) {
    if (!pufa_orgunit_code_valid(code) || !name || !*name || pufa_orgunit_level_rank(level) < 0)
        return NULL;
    if (parent_code && *parent_code && !pufa_orgunit_code_valid(parent_code))
        return NULL;
    bool found;
    size_t at = position(ou, code, &found);
    if (found)
        return NULL;
    if (ou->count == ou->cap) {
        ou->cap = ou->cap ? ou->cap * 2 : 64;
        ou->units = pufa_realloc(ou->units, ou->cap * sizeof *ou->units);
    }
    /* Sorted insertion: rows read in code order (the database, the
     * generated files) append at the end. */
    memmove(&ou->units[at + 1], &ou->units[at], (ou->count - at) * sizeof *ou->units);
    ou->count++;
    pufa_orgunit *u = &ou->units[at];
    memset(u, 0, sizeof *u);
    memcpy(u->code, code, 7);
    u->name = pufa_strdup(name);
    snprintf(u->level, sizeof u->level, "%s", level);
    if (parent_code)
        snprintf(u->parent_code, sizeof u->parent_code, "%s", parent_code);
    return u;
}

int pufa_orgunits_add(pufa_orgunits *ou, const char *code, const char *name, const char *level,
                      const char *parent_code) {
    return insert(ou, code, name, level, parent_code) ? 0 : PUFA_EINVAL;
}

void pufa_orgunits_destroy(pufa_orgunits **pou) {
    if (!pou || !*pou)
        return;
    pufa_orgunits *ou = *pou;
    for (size_t i = 0; i < ou->count; i++)
        free(ou->units[i].name);
    free(ou->units);
    free(ou);
    *pou = NULL;
}

const pufa_orgunit *pufa_orgunits_find(const pufa_orgunits *ou, const char *code) {
    if (!ou || ou->count == 0 || !pufa_orgunit_code_valid(code))
        return NULL;
    bool found;
    size_t at = position(ou, code, &found);
    return found ? &ou->units[at] : NULL;
}

bool pufa_orgunits_is_county(const pufa_orgunits *ou, const char *code) {
    const pufa_orgunit *u = pufa_orgunits_find(ou, code);
    return u && strcmp(u->level, "county") == 0;
}

bool pufa_orgunits_within(const pufa_orgunits *ou, const char *code, const char *unit) {
    const pufa_orgunit *u = pufa_orgunits_find(ou, code);
    if (!unit)
        return false;
    /* Levels strictly rise on the way up, so four steps end any walk. */
    for (int step = 0; u && step < 4; step++) {
        if (!strcmp(u->code, unit))
            return true;
        u = u->parent_code[0] ? pufa_orgunits_find(ou, u->parent_code) : NULL;
    }
    return false;
}

bool pufa_orgunits_is_under(const pufa_orgunits *ou, const char *county, const char *unit) {
    return pufa_orgunits_is_county(ou, county) && pufa_orgunits_within(ou, county, unit);
}

size_t pufa_orgunits_counties_under(const pufa_orgunits *ou, const char *unit) {
    size_t n = 0;
    for (size_t i = 0; ou && i < ou->count; i++)
        if (pufa_orgunits_is_under(ou, ou->units[i].code, unit))
            n++;
    return n;
}

/* Error lines, kept with their line numbers and written out in line order
 * into the caller's buffer, as many as fit. */
typedef struct {
    long line, seq;
    char *text;
} err_line;

typedef struct {
    err_line *lines;
    size_t count;
} err_sink;

__attribute__((format(printf, 3, 4))) static void sink_add(err_sink *s, long line, const char *fmt,
                                                           ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    s->lines = pufa_realloc(s->lines, (s->count + 1) * sizeof *s->lines);
    s->lines[s->count] = (err_line){line, (long)s->count, pufa_strdup(text)};
    s->count++;
}

static int cmp_err_line(const void *a, const void *b) {
    const err_line *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Writes the lines in order into buf (size): "line N: text" each, then
 * "(and K more bad lines)" when they do not all fit; frees them. */
static void sink_finish(err_sink *s, char *buf, size_t size) {
    qsort(s->lines, s->count, sizeof *s->lines, cmp_err_line);
    size_t used = 0, shown = 0;
    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < s->count; i++) {
        char one[600];
        if (s->lines[i].line > 0)
            snprintf(one, sizeof one, "line %ld: %s", s->lines[i].line, s->lines[i].text);
        else
            snprintf(one, sizeof one, "%s", s->lines[i].text);
        free(s->lines[i].text);
        /* Room for this line, its separator and a closing "(and N more)". */
        if (shown == i && used + strlen(one) + 1 + 40 < size) {
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "\n" : "", one);
            shown++;
        }
    }
    if (s->count > shown && size > used)
        snprintf(buf + used, size - used, "%s(and %zu more bad lines)", used ? "\n" : "",
                 s->count - shown);
    free(s->lines);
    s->lines = NULL;
    s->count = 0;
}

/* The rule a code must follow at its level (GB/T 2260), or NULL. */
static const char *code_rule_broken(const char *code, int rank) {
    switch (rank) {
    case 0:
        return strcmp(code, "100000") ? "the nation's code is 100000" : NULL;
    case 1:
        return strcmp(code + 2, "0000") || !strcmp(code, "100000")
                   ? "a province's code is XX0000 (and not 100000)"
                   : NULL;
    case 2:
        return strcmp(code + 4, "00") || !strcmp(code + 2, "0000")
                   ? "a city's code is XXXX00 (and not XX0000)"
                   : NULL;
    default:
        return strcmp(code + 4, "00") ? NULL : "a county's code does not end in 00";
    }
}

/* Parents one level up: in file, or else in known (when given).  With
 * require, a parent found in neither is an error too. */
static void check_parents(const pufa_orgunits *file, const pufa_orgunits *known, bool require,
                          err_sink *s) {
    for (size_t i = 0; i < file->count; i++) {
        const pufa_orgunit *u = &file->units[i];
        if (!u->parent_code[0])
            continue;
        const pufa_orgunit *p = pufa_orgunits_find(file, u->parent_code);
        bool in_file = p != NULL;
        if (!p)
            p = pufa_orgunits_find(known, u->parent_code);
        int rank = pufa_orgunit_level_rank(u->level);
        if (!p) {
            if (require)
                sink_add(s, u->line, "parent_code: %s is neither in this file nor in the database",
                         u->parent_code);
            continue;
        }
        if (pufa_orgunit_level_rank(p->level) != rank - 1) {
            char where[40] = " in the database";
            if (in_file)
                snprintf(where, sizeof where, " (line %ld)", p->line);
            sink_add(s, u->line, "parent_code: %s is a %s%s; a %s's parent must be a %s", p->code,
                     p->level, where, u->level, level_names[rank - 1]);
        }
    }
}

/* CSV loading: collect the fields of each record, then check it. */
typedef struct {
    char *field[8];
    int nfields;
    long line;
    bool header_done;
    err_sink sink;
    pufa_orgunits *ou;
} load_state;

static void on_field(void *s, size_t len, void *data) {
    load_state *st = data;
    if (st->nfields < 8)
        st->field[st->nfields] = pufa_strndup(s ? s : "", len);
    st->nfields++;
}

/* One data line: every field checked, each broken rule named. */
static void check_line(load_state *st, char **f) {
    err_sink *s = &st->sink;
    long line = st->line;
    size_t before = s->count;
    const char *code = f[0], *name = f[1], *level = f[2], *parent = f[3];
    bool code_ok = pufa_orgunit_code_valid(code);
    if (!code_ok)
        sink_add(s, line, "code: must be six digits (got \"%.20s\")", code);
    size_t len = strlen(name);
    if (!len)
        sink_add(s, line, "name: must not be empty");
    else if (!pufa_utf8_valid(name, len, NULL) || pufa_has_control(name, len))
        sink_add(s, line, "name: must be UTF-8 without control characters");
    int rank = pufa_orgunit_level_rank(level);
    if (rank < 0)
        sink_add(s, line, "level: must be nation, province, city or county (got \"%.20s\")", level);
    const char *rule = code_ok && rank >= 0 ? code_rule_broken(code, rank) : NULL;
    if (rule)
        sink_add(s, line, "code: %s (got %s)", rule, code);
    if (*parent && !pufa_orgunit_code_valid(parent))
        sink_add(s, line, "parent_code: must be six digits or empty (got \"%.20s\")", parent);
    else if (rank == 0 && *parent)
        sink_add(s, line, "parent_code: the nation has no parent (got %s)", parent);
    else if (rank == 3 && !*parent)
        sink_add(s, line, "parent_code: a county must name its city");
    if (code_ok) {
        const pufa_orgunit *dup = pufa_orgunits_find(st->ou, code);
        if (dup)
            sink_add(s, line, "code: %s is listed twice (first on line %ld)", code, dup->line);
    }
    if (s->count != before)
        return;
    pufa_orgunit *u = insert(st->ou, code, name, level, parent);
    if (u)
        u->line = line;
}

static void on_record(int c, void *data) {
    (void)c;
    load_state *st = data;
    st->line++;
    int n = st->nfields < 8 ? st->nfields : 8;
    if (!st->header_done) {
        st->header_done = true;
        const char *want[] = {"code", "name", "level", "parent_code"};
        const char *h0 = st->field[0] ? st->field[0] : "";
        if (strncmp(h0, "\xEF\xBB\xBF", 3) == 0)
            h0 += 3;
        bool ok = st->nfields == 4 && strcmp(h0, want[0]) == 0;
        for (int i = 1; ok && i < 4; i++)
            ok = strcmp(st->field[i], want[i]) == 0;
        if (!ok)
            sink_add(&st->sink, 1, "header must be code,name,level,parent_code");
    } else if (st->nfields != 4) {
        sink_add(&st->sink, st->line, "expected 4 fields (code,name,level,parent_code), got %d",
                 st->nfields);
    } else {
        check_line(st, st->field);
    }
    for (int i = 0; i < n; i++)
        free(st->field[i]);
    st->nfields = 0;
}

static int load(const char *path, const pufa_orgunits *known, bool require, pufa_orgunits **out,
                char *err, size_t errsize) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "cannot open %s", path);
        return PUFA_EIO;
    }
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    load_state st;
    memset(&st, 0, sizeof st);
    st.ou = pufa_orgunits_new();
    int rc = 0;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (csv_parse(&p, buf, n, on_field, on_record, &st) != n) {
            sink_add(&st.sink, st.line + 1, "%s", csv_strerror(csv_error(&p)));
            rc = PUFA_EPARSE;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        sink_add(&st.sink, 0, "cannot read %s", path);
        rc = PUFA_EIO;
    }
    if (rc == 0 && csv_fini(&p, on_field, on_record, &st) != 0) {
        sink_add(&st.sink, st.line + 1, "%s", csv_strerror(csv_error(&p)));
        rc = PUFA_EPARSE;
    }
    for (int i = 0; i < st.nfields && i < 8; i++)
        free(st.field[i]);
    csv_free(&p);
    fclose(f);
    /* Parents among the lines that passed (a bad line's children are not
     * blamed for it). */
    check_parents(st.ou, known, require, &st.sink);
    if (st.sink.count == 0 && st.ou->count == 0)
        sink_add(&st.sink, 0, "%s holds no org units", path);
    if (st.sink.count) {
        sink_finish(&st.sink, err, errsize);
        pufa_orgunits_destroy(&st.ou);
        return rc ? rc : PUFA_EPARSE;
    }
    *out = st.ou;
    return 0;
}

int pufa_orgunits_load_csv(const char *path, pufa_orgunits **out, char *err, size_t errsize) {
    return load(path, NULL, false, out, err, errsize);
}

int pufa_orgunits_load_csv_within(const char *path, const pufa_orgunits *known, pufa_orgunits **out,
                                  char *err, size_t errsize) {
    return load(path, known, true, out, err, errsize);
}

int pufa_orgunits_resolve_home(const pufa_orgunits *ou, const char *want, char home[7], char *err,
                               size_t errsize) {
    if (!want || !*want) {
        const pufa_orgunit *city = NULL;
        size_t cities = 0;
        pufa_buf names;
        pufa_buf_init(&names);
        for (size_t i = 0; i < ou->count; i++)
            if (!strcmp(ou->units[i].level, "city")) {
                city = &ou->units[i];
                if (cities++ < 5)
                    pufa_buf_printf(&names, "%s%s %s", cities > 1 ? ", " : "", city->code,
                                    city->name);
            }
        if (cities != 1) {
            if (cities > 5)
                pufa_buf_puts(&names, ", ...");
            snprintf(err, errsize,
                     "home: required, since org_units holds %zu cities%s%s%s: set the city, "
                     "province or nation this service serves",
                     cities, cities ? " (" : "", cities ? names.data : "", cities ? ")" : "");
            pufa_buf_free(&names);
            return PUFA_ECONFIG;
        }
        pufa_buf_free(&names);
        memcpy(home, city->code, 7);
        return 0;
    }
    const pufa_orgunit *u = pufa_orgunits_find(ou, want);
    if (!u) {
        snprintf(err, errsize,
                 "home: %s is not in org_units (load it with pufa migrate "
                 "--org-units)",
                 want);
        return PUFA_ECONFIG;
    }
    if (!strcmp(u->level, "county")) {
        snprintf(err, errsize,
                 "home: %s %s is a county; the home is a city, a province or the "
                 "nation",
                 u->code, u->name);
        return PUFA_ECONFIG;
    }
    memcpy(home, u->code, 7);
    return 0;
}
