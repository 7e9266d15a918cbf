#include "targets.h"

#include <csv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "pg.h"
#include "utf8.h"

#define YEAR_MIN  2000
#define YEAR_MAX  2100
#define NFIELDS   5
#define MAX_SHOWN 40 /* bad lines named in full; the rest counted */

void pufa_targets_init(pufa_targets *t) {
    memset(t, 0, sizeof *t);
}

void pufa_targets_free(pufa_targets *t) {
    free(t->v);
    pufa_targets_init(t);
}

typedef struct parse_state {
    char *f[NFIELDS];
    int nf;
    long line;
    const pufa_orgunits *ou;
    const char *const *units;
    size_t nunits;
    pufa_targets *out;
    pufa_buf errs;
    size_t nerrs;
} parse_state;

/* "line N: field: rule" + " (got VALUE)" with VALUE shown as valid UTF-8,
 * cut at 40 bytes. */
static void bad(parse_state *st, const char *field, const char *rule, const char *got) {
    if (st->nerrs++ >= MAX_SHOWN)
        return;
    pufa_buf_printf(&st->errs, "%sline %ld: %s: %s", st->nerrs > 1 ? "\n" : "", st->line, field,
                    rule);
    if (got) {
        char shown[64];
        pufa_utf8_escape(shown, 41, got, strlen(got));
        pufa_buf_printf(&st->errs, " (got '%s')", shown);
    }
}

static void on_field(void *s, size_t len, void *data) {
    parse_state *st = data;
    if (st->nf < NFIELDS)
        st->f[st->nf] = pufa_strndup(s ? s : "", len);
    st->nf++;
}

static bool digits(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool unit_code_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > PUFA_UNIT_CODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static void check_line(parse_state *st) {
    if (st->nf != NFIELDS) {
        char rule[96];
        snprintf(rule, sizeof rule, "5 fields year,org_code,unit_code,figure,target (got %d)",
                 st->nf);
        bad(st, "line", rule, NULL);
        return;
    }
    size_t before = st->nerrs;
    pufa_target t = {.line = st->line};
    const char *year = st->f[0], *org = st->f[1], *unit = st->f[2], *fig = st->f[3],
               *target = st->f[4];
    if (!digits(year, 4) || atoi(year) < YEAR_MIN || atoi(year) > YEAR_MAX)
        bad(st, "year", "a year from 2000 to 2100", year);
    else
        t.year = atoi(year);
    const pufa_orgunit *u = pufa_orgunit_code_valid(org) ? pufa_orgunits_find(st->ou, org) : NULL;
    if (!pufa_orgunit_code_valid(org))
        bad(st, "org_code", "a six-digit GB/T 2260 code", org);
    else if (!u)
        bad(st, "org_code", "unknown org unit; load it with --org-units first", org);
    else
        memcpy(t.org_code, org, 7);
    if (*unit) {
        bool known = false;
        for (size_t i = 0; i < st->nunits && !known; i++)
            known = !strcmp(st->units[i], unit);
        if (!unit_code_ok(unit))
            bad(st, "unit_code", "1-32 of A-Z a-z 0-9 _ - . (or empty for the org unit itself)",
                unit);
        else if (!known)
            bad(st, "unit_code", "unknown responsible unit; load it with --units first", unit);
        else if (u && strcmp(u->level, "county") != 0) {
            char rule[128];
            snprintf(rule, sizeof rule,
                     "a responsible unit's target is inside a county, and org_code %s is a %s", org,
                     u->level);
            bad(st, "unit_code", rule, unit);
        } else
            snprintf(t.unit_code, sizeof t.unit_code, "%s", unit);
    }
    t.figure = -1;
    for (int k = 0; k < PUFA_NFIGURES; k++)
        if (!strcmp(fig, pufa_figure_names[k]))
            t.figure = k;
    if (t.figure < 0) {
        pufa_buf rule;
        pufa_buf_init(&rule);
        pufa_buf_puts(&rule, "unknown figure; use");
        for (int k = 0; k < PUFA_NFIGURES; k++)
            pufa_buf_printf(&rule, "%s %s", k ? "," : "", pufa_figure_names[k]);
        bad(st, "figure", rule.data, fig);
        pufa_buf_free(&rule);
    }
    char *end = NULL;
    long long v = digits(target, 19) ? strtoll(target, &end, 10) : 0;
    if (v <= 0 || (end && *end))
        bad(st, "target", "a whole number from 1 to 9223372036854775807", target);
    else
        t.target = v;
    if (st->nerrs > before)
        return;
    for (size_t i = 0; i < st->out->n; i++) {
        const pufa_target *o = &st->out->v[i];
        if (o->year == t.year && !strcmp(o->org_code, t.org_code) &&
            !strcmp(o->unit_code, t.unit_code) && o->figure == t.figure) {
            char rule[96];
            snprintf(rule, sizeof rule, "the same year, org_code, unit_code and figure as line %ld",
                     o->line);
            bad(st, "line", rule, NULL);
            return;
        }
    }
    if (st->out->n == st->out->cap) {
        st->out->cap = st->out->cap ? st->out->cap * 2 : 64;
        st->out->v = pufa_realloc(st->out->v, st->out->cap * sizeof *st->out->v);
    }
    st->out->v[st->out->n++] = t;
}

static void on_record(int c, void *data) {
    (void)c;
    parse_state *st = data;
    st->line++;
    if (st->line == 1) {
        const char *h = st->nf > 0 ? st->f[0] : "";
        if (!strncmp(h, "\xEF\xBB\xBF", 3))
            h += 3;
        static const char *const want[NFIELDS] = {"year", "org_code", "unit_code", "figure",
                                                  "target"};
        bool ok = st->nf == NFIELDS && !strcmp(h, want[0]);
        for (int i = 1; i < NFIELDS && ok; i++)
            ok = !strcmp(st->f[i], want[i]);
        if (!ok)
            bad(st, "header", "must be year,org_code,unit_code,figure,target", NULL);
    } else if (!(st->nf == 1 && !*st->f[0])) { /* a blank line is no line */
        check_line(st);
    }
    for (int i = 0; i < st->nf && i < NFIELDS; i++)
        free(st->f[i]);
    st->nf = 0;
}

int pufa_targets_parse(const char *text, size_t len, const pufa_orgunits *ou,
                       const char *const *units, size_t nunits, pufa_targets *out, char *err,
                       size_t errsize) {
    parse_state st;
    memset(&st, 0, sizeof st);
    st.ou = ou;
    st.units = units;
    st.nunits = nunits;
    st.out = out;
    pufa_buf_init(&st.errs);
    size_t bad_at = pufa_utf8_first_invalid(text, len);
    if (bad_at < len) {
        snprintf(err, errsize, "byte %zu: not UTF-8 text; save the file as 'CSV UTF-8'", bad_at);
        return PUFA_EPARSE;
    }
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    if (csv_parse(&p, text, len, on_field, on_record, &st) != len ||
        csv_fini(&p, on_field, on_record, &st) != 0) {
        st.line++;
        bad(&st, "csv", csv_strerror(csv_error(&p)), NULL);
    }
    for (int i = 0; i < st.nf && i < NFIELDS; i++)
        free(st.f[i]);
    csv_free(&p);
    if (st.nerrs == 0 && out->n == 0) {
        st.line = st.line ? st.line : 1;
        bad(&st, "file", "no targets: a header and at least one line", NULL);
    }
    int rc = 0;
    if (st.nerrs > MAX_SHOWN)
        pufa_buf_printf(&st.errs, "\n(and %zu more bad fields)", st.nerrs - MAX_SHOWN);
    if (st.nerrs) {
        snprintf(err, errsize, "%s", st.errs.data);
        pufa_targets_free(out);
        rc = PUFA_EPARSE;
    }
    pufa_buf_free(&st.errs);
    return rc;
}

int pufa_db_store_targets(PGconn *conn, const pufa_targets *t, int *years, char *err,
                          size_t errsize) {
    pufa_buf a[5];
    for (int i = 0; i < 5; i++) {
        pufa_buf_init(&a[i]);
        pufa_pgarr_open(&a[i]);
    }
    for (size_t i = 0; i < t->n; i++) {
        const pufa_target *x = &t->v[i];
        pufa_pgarr_int(&a[0], x->year);
        pufa_pgarr_text(&a[1], x->org_code);
        pufa_pgarr_text(&a[2], x->unit_code);
        pufa_pgarr_text(&a[3], pufa_figure_names[x->figure]);
        pufa_pgarr_int(&a[4], x->target);
    }
    const char *params[5];
    for (int i = 0; i < 5; i++) {
        pufa_pgarr_close(&a[i]);
        params[i] = a[i].data;
    }
    int rc = pufa_pg_exec(conn, "BEGIN", err, errsize);
    PGresult *r = NULL;
    if (rc == 0) {
        r = PQexecParams(conn,
                         "WITH gone AS (DELETE FROM targets WHERE year = ANY ($1::int[]))"
                         " SELECT count(DISTINCT y) FROM unnest($1::int[]) AS y",
                         1, NULL, params, NULL, NULL, 0);
        rc = pufa_pg_check(conn, r, PGRES_TUPLES_OK, "targets", err, errsize);
        if (rc == 0 && years)
            *years = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (rc == 0) {
        r = PQexecParams(conn,
                         "INSERT INTO targets (year, org_code, unit_code, figure, target)"
                         " SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[],"
                         " $5::int8[])",
                         5, NULL, params, NULL, NULL, 0);
        rc = pufa_pg_check(conn, r, PGRES_COMMAND_OK, "targets", err, errsize);
        PQclear(r);
    }
    if (rc == 0)
        rc = pufa_pg_exec(conn, "UPDATE targets_state SET version = version + 1, loaded_at = now()",
                          err, errsize);
    if (rc == 0)
        rc = pufa_pg_exec(conn, "COMMIT", err, errsize);
    else if (PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
    for (int i = 0; i < 5; i++)
        pufa_buf_free(&a[i]);
    return rc;
}
