#include "orgunits.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

bool pufa_orgunit_code_valid(const char *code) {
    if (!code || strlen(code) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return true;
}

pufa_orgunits *pufa_orgunits_new(void) {
    return pufa_calloc(1, sizeof(pufa_orgunits));
}

static int cmp_unit(const void *a, const void *b) {
    return strcmp(((const pufa_orgunit *)a)->code, ((const pufa_orgunit *)b)->code);
}

int pufa_orgunits_add(pufa_orgunits *ou, const char *code, const char *name, const char *level,
                      const char *parent_code) {
    if (!pufa_orgunit_code_valid(code) || !name || !*name)
        return PUFA_EINVAL;
    if (strcmp(level, "city") != 0 && strcmp(level, "county") != 0)
        return PUFA_EINVAL;
    if (parent_code && *parent_code && !pufa_orgunit_code_valid(parent_code))
        return PUFA_EINVAL;
    if (pufa_orgunits_find(ou, code))
        return PUFA_EINVAL;
    ou->units = pufa_realloc(ou->units, (ou->count + 1) * sizeof *ou->units);
    pufa_orgunit *u = &ou->units[ou->count++];
    memset(u, 0, sizeof *u);
    memcpy(u->code, code, 7);
    u->name = pufa_strdup(name);
    snprintf(u->level, sizeof u->level, "%s", level);
    if (parent_code)
        snprintf(u->parent_code, sizeof u->parent_code, "%s", parent_code);
    qsort(ou->units, ou->count, sizeof *ou->units, cmp_unit);
    return 0;
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
    if (!ou || ou->count == 0 || !code || !pufa_orgunit_code_valid(code))
        return NULL;
    pufa_orgunit key;
    memset(&key, 0, sizeof key);
    memcpy(key.code, code, 7);
    return bsearch(&key, ou->units, ou->count, sizeof *ou->units, cmp_unit);
}

bool pufa_orgunits_is_county(const pufa_orgunits *ou, const char *code) {
    const pufa_orgunit *u = pufa_orgunits_find(ou, code);
    return u && strcmp(u->level, "county") == 0;
}

/* CSV loading: collect the fields of each record, then check it. */
typedef struct {
    char *field[8];
    int nfields;
    long line;
    bool header_done;
    int rc;
    char *err;
    size_t errsize;
    pufa_orgunits *ou;
} load_state;

static void on_field(void *s, size_t len, void *data) {
    load_state *st = data;
    if (st->nfields < 8)
        st->field[st->nfields] = pufa_strndup(s ? s : "", len);
    st->nfields++;
}

static void on_record(int c, void *data) {
    (void)c;
    load_state *st = data;
    st->line++;
    int n = st->nfields < 8 ? st->nfields : 8;
    if (st->rc == 0) {
        if (!st->header_done) {
            st->header_done = true;
            const char *want[] = {"code", "name", "level", "parent_code"};
            const char *h0 = st->field[0] ? st->field[0] : "";
            if (strncmp(h0, "\xEF\xBB\xBF", 3) == 0)
                h0 += 3;
            bool ok = st->nfields == 4 && strcmp(h0, want[0]) == 0;
            for (int i = 1; ok && i < 4; i++)
                ok = strcmp(st->field[i], want[i]) == 0;
            if (!ok) {
                snprintf(st->err, st->errsize,
                         "line 1: header must be code,name,level,parent_code");
                st->rc = PUFA_EPARSE;
            }
        } else if (st->nfields != 4) {
            snprintf(st->err, st->errsize, "line %ld: expected 4 fields, got %d", st->line,
                     st->nfields);
            st->rc = PUFA_EPARSE;
        } else if (pufa_orgunits_add(st->ou, st->field[0], st->field[1], st->field[2],
                                     st->field[3]) != 0) {
            snprintf(st->err, st->errsize,
                     "line %ld: bad org unit (code must be 6 digits and unique, level city or "
                     "county, parent_code 6 digits or empty)",
                     st->line);
            st->rc = PUFA_EPARSE;
        }
    }
    for (int i = 0; i < n; i++)
        free(st->field[i]);
    st->nfields = 0;
}

int pufa_orgunits_load_csv(const char *path, pufa_orgunits **out, char *err, size_t errsize) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "cannot open %s", path);
        return PUFA_EIO;
    }
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    load_state st;
    memset(&st, 0, sizeof st);
    st.err = err;
    st.errsize = errsize;
    st.ou = pufa_orgunits_new();
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (csv_parse(&p, buf, n, on_field, on_record, &st) != n) {
            snprintf(err, errsize, "line %ld: %s", st.line + 1, csv_strerror(csv_error(&p)));
            st.rc = PUFA_EPARSE;
            break;
        }
    }
    if (st.rc == 0 && csv_fini(&p, on_field, on_record, &st) != 0) {
        snprintf(err, errsize, "line %ld: %s", st.line + 1, csv_strerror(csv_error(&p)));
        st.rc = PUFA_EPARSE;
    }
    for (int i = 0; i < st.nfields && i < 8; i++)
        free(st.field[i]);
    csv_free(&p);
    fclose(f);
    if (st.rc == 0 && st.ou->count == 0) {
        snprintf(err, errsize, "%s holds no org units", path);
        st.rc = PUFA_EPARSE;
    }
    if (st.rc) {
        pufa_orgunits_destroy(&st.ou);
        return st.rc;
    }
    *out = st.ou;
    return 0;
}
