/* The fault driver's final check: every acknowledged report stored at its
 * acknowledged revision (or a later one that was sent), with that
 * revision's content; and the figures of every rollup cell — summed by SQL
 * over `reports`, read from rollup_live, served by the publisher — equal to
 * the ledger's own sums.  report_id is the primary key, so a revision
 * applied twice cannot show as a second row: it shows in the figures. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "enums.h"
#include "fault.h"
#include "httpc.h"

/* The generator gives no township: the township dimension has the one key
 * "" (none), which must carry every report like the total. */
enum { D_TOTAL, D_THEME, D_VENUE, D_FORM, D_UNIT, D_CAMPAIGN, D_TOWNSHIP, NDIMS };
static const char *const DIM_NAMES[NDIMS] = {"total", "theme",    "venue",   "form",
                                             "unit",  "campaign", "township"};
static const char *const PUB_DIMS[NDIMS] = {"none", "theme",    "venue",   "form",
                                            "unit", "campaign", "township"};
static const int DIM_SIZE[NDIMS] = {
    1, PUFA_THEME_MAX, PUFA_VENUE_MAX, PUFA_FORM_MAX, NUNITS, NCAMPAIGNS, 1};
#define SLOTS  (1 + PUFA_THEME_MAX + PUFA_VENUE_MAX + PUFA_FORM_MAX + NUNITS + NCAMPAIGNS + 1)
#define NCELLS (NDAYS * NCOL * SLOTS)
#define NF     3 /* reports, sessions, participants */

typedef struct figures {
    long long f[NCELLS][NF];
    long long stray; /* rows outside the generator's cells, with figures */
} figures;

static int dim_offset(int dim) {
    int o = 0;
    for (int d = 0; d < dim; d++)
        o += DIM_SIZE[d];
    return o;
}

/* value: 0..DIM_SIZE-1 */
static int cell(int day, int county, int dim, int value) {
    return (day * NCOL + county) * SLOTS + dim_offset(dim) + value;
}

static int find(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* A dimension's key as SQL spells it (theme/venue/form: the wire number). */
static int key_value(int dim, const char *key) {
    int v;
    switch (dim) {
    case D_TOTAL:
        return *key ? -1 : 0;
    case D_THEME:
    case D_VENUE:
    case D_FORM:
        v = atoi(key);
        return v >= 1 && v <= DIM_SIZE[dim] ? v - 1 : -1;
    case D_UNIT:
        return find(UNITS, NUNITS, key);
    case D_TOWNSHIP:
        return *key ? -1 : 0;
    default:
        return find(CAMPAIGNS, NCAMPAIGNS, key);
    }
}

static void add_revision(figures *fg, int county, const revision *r, long long sign) {
    int vals[NDIMS] = {0, r->theme - 1, r->venue - 1, r->form - 1, r->unit, r->campaign, 0};
    for (int d = 0; d < NDIMS; d++) {
        long long *f = fg->f[cell(r->day, county, d, vals[d])];
        f[0] += sign;
        f[1] += sign * r->sessions;
        f[2] += sign * r->participants;
    }
}

static void cell_name(int c, char *out, size_t size) {
    int slot = c % SLOTS, dc = c / SLOTS;
    int dim = 0;
    while (dim + 1 < NDIMS && slot >= dim_offset(dim + 1))
        dim++;
    int v = slot - dim_offset(dim);
    char key[64];
    if (dim == D_THEME || dim == D_VENUE || dim == D_FORM)
        snprintf(key, sizeof key, "=%d", v + 1);
    else if (dim == D_UNIT)
        snprintf(key, sizeof key, "=%s", UNITS[v]);
    else if (dim == D_CAMPAIGN)
        snprintf(key, sizeof key, "='%s'", CAMPAIGNS[v]);
    else
        key[0] = '\0';
    snprintf(out, size, "%s county %s %s%s", DAYS[dc / NCOL], COUNTIES[dc % NCOL], DIM_NAMES[dim],
             key);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const entry *)a)->id, ((const entry *)b)->id);
}

/* SQL's sums per cell over the stored, live revisions. */
static void sql_figures(PGconn *db, figures *fg) {
    PGresult *q = PQexec(db, "SELECT occurred_on::text, county_code, theme, venue, form,"
                             " unit_code, campaign, count(*), sum(sessions), sum(participants),"
                             " pufa_township_norm(township) FROM reports WHERE NOT retracted"
                             " GROUP BY 1, 2, 3, 4, 5, 6, 7, 11");
    for (int i = 0; i < PQntuples(q); i++) {
        int day = find(DAYS, NDAYS, PQgetvalue(q, i, 0));
        int county = find(COUNTIES, NCOL, PQgetvalue(q, i, 1));
        int vals[NDIMS] = {0,
                           atoi(PQgetvalue(q, i, 2)) - 1,
                           atoi(PQgetvalue(q, i, 3)) - 1,
                           atoi(PQgetvalue(q, i, 4)) - 1,
                           find(UNITS, NUNITS, PQgetvalue(q, i, 5)),
                           find(CAMPAIGNS, NCAMPAIGNS, PQgetvalue(q, i, 6)),
                           key_value(D_TOWNSHIP, PQgetvalue(q, i, 10))};
        long long f[NF] = {atoll(PQgetvalue(q, i, 7)), atoll(PQgetvalue(q, i, 8)),
                           atoll(PQgetvalue(q, i, 9))};
        bool ok = day >= 0 && county >= 0;
        for (int d = 0; d < NDIMS; d++)
            ok &= vals[d] >= 0 && vals[d] < DIM_SIZE[d];
        if (!ok) {
            fg->stray++;
            continue;
        }
        for (int d = 0; d < NDIMS; d++)
            for (int k = 0; k < NF; k++)
                fg->f[cell(day, county, d, vals[d])][k] += f[k];
    }
    PQclear(q);
}

static void rollup_figures(PGconn *db, figures *fg) {
    PGresult *q = PQexec(db, "SELECT day::text, county_code, dim, key, reports, sessions,"
                             " participants FROM rollup_live");
    for (int i = 0; i < PQntuples(q); i++) {
        int day = find(DAYS, NDAYS, PQgetvalue(q, i, 0));
        int county = find(COUNTIES, NCOL, PQgetvalue(q, i, 1));
        int dim = find(DIM_NAMES, NDIMS, PQgetvalue(q, i, 2));
        int v = dim >= 0 ? key_value(dim, PQgetvalue(q, i, 3)) : -1;
        long long f[NF] = {atoll(PQgetvalue(q, i, 4)), atoll(PQgetvalue(q, i, 5)),
                           atoll(PQgetvalue(q, i, 6))};
        if (day < 0 || county < 0 || v < 0) {
            fg->stray += f[0] || f[1] || f[2];
            continue;
        }
        for (int k = 0; k < NF; k++)
            fg->f[cell(day, county, dim, v)][k] += f[k];
    }
    PQclear(q);
}

static void json_figures(json_t *o, long long f[NF]) {
    static const char *const names[NF] = {"reports", "sessions", "participants"};
    for (int k = 0; k < NF; k++)
        f[k] = json_integer_value(json_object_get(o, names[k]));
}

/* The publisher's answer for every day x county x dimension; false when it
 * did not answer. */
static bool publisher_figures(const char *port, figures *fg) {
    bool ok = true;
    for (int day = 0; day < NDAYS; day++)
        for (int county = 0; county < NCOL; county++)
            for (int dim = 0; dim < NDIMS; dim++) {
                char *url =
                    pufa_asprintf("http://127.0.0.1:%s/v1/totals?window=%s..%s&by=%s"
                                  "&county=%s",
                                  port, DAYS[day], DAYS[day], PUB_DIMS[dim], COUNTIES[county]);
                pufa_http_response r;
                char err[256];
                int rc = pufa_http_request("GET", url, NULL, NULL, 0, 10000, &r, err, sizeof err);
                free(url);
                if (rc != 0) {
                    ok = false;
                    continue;
                }
                json_error_t jerr;
                json_t *o = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
                pufa_buf_free(&r.body);
                ok &= r.status == 200 && o;
                if (dim == D_TOTAL) {
                    json_figures(json_object_get(o, "totals"), fg->f[cell(day, county, 0, 0)]);
                    json_decref(o);
                    continue;
                }
                size_t i;
                json_t *row;
                json_array_foreach(json_object_get(o, "rows"), i, row) {
                    const char *key = json_string_value(json_object_get(row, "key"));
                    int v = -1;
                    if (!key)
                        v = -1;
                    else if (dim == D_THEME || dim == D_VENUE || dim == D_FORM)
                        v = pufa_enum_lookup((pufa_enum_kind)(dim - D_THEME), key) - 1;
                    else
                        v = key_value(dim, key);
                    long long f[NF];
                    json_figures(json_object_get(row, "figures"), f);
                    if (v < 0) {
                        fg->stray += f[0] || f[1] || f[2];
                        continue;
                    }
                    for (int k = 0; k < NF; k++)
                        fg->f[cell(day, county, dim, v)][k] += f[k];
                }
                json_decref(o);
            }
    return ok;
}

/* Cells where have != want; prints the first few. */
static long long compare(const char *what, const figures *want, const figures *have, int *printed) {
    long long bad = have->stray > 0;
    if (have->stray && (*printed)++ < 12)
        printf("# MISMATCH %s: %lld rows outside the ledger's cells\n", what, have->stray);
    for (int c = 0; c < NCELLS; c++) {
        const long long *w = want->f[c], *h = have->f[c];
        if (w[0] == h[0] && w[1] == h[1] && w[2] == h[2])
            continue;
        bad++;
        if ((*printed)++ < 12) {
            char name[128];
            cell_name(c, name, sizeof name);
            printf("# MISMATCH %s, %s: ledger %lld/%lld/%lld, %s %lld/%lld/%lld "
                   "(reports/sessions/participants)\n",
                   what, name, w[0], w[1], w[2], what, h[0], h[1], h[2]);
        }
    }
    return bad;
}

static void county_totals(const figures *fg, int county, long long out[NF]) {
    memset(out, 0, NF * sizeof *out);
    for (int day = 0; day < NDAYS; day++)
        for (int k = 0; k < NF; k++)
            out[k] += fg->f[cell(day, county, D_TOTAL, 0)][k];
}

/* Does the stored row hold revision r of e? */
static bool same_content(const entry *e, const revision *r, PGresult *q, int i) {
    return !strcmp(PQgetvalue(q, i, 3), COUNTIES[e->county]) &&
           !strcmp(PQgetvalue(q, i, 4), DAYS[r->day]) && atoi(PQgetvalue(q, i, 5)) == r->theme &&
           atoi(PQgetvalue(q, i, 6)) == r->venue && atoi(PQgetvalue(q, i, 7)) == r->form &&
           !strcmp(PQgetvalue(q, i, 8), UNITS[r->unit]) &&
           !strcmp(PQgetvalue(q, i, 9), CAMPAIGNS[r->campaign]) &&
           atoll(PQgetvalue(q, i, 10)) == r->sessions &&
           atoll(PQgetvalue(q, i, 11)) == r->participants &&
           (PQgetvalue(q, i, 2)[0] == 't') == r->retracted;
}

void check_ledger(PGconn *db, const char *pub_port, verdict *v) {
    size_t n = nledger;
    memset(v, 0, sizeof *v);
    qsort(ledger, n, sizeof *ledger, cmp_entry);
    uint32_t *stored = pufa_calloc(n + 1, sizeof *stored); /* revision in reports, 0 = none */
    PGresult *q = PQexec(db, "SELECT report_id::text, revision, retracted, county_code,"
                             " occurred_on::text, theme, venue, form, unit_code, campaign,"
                             " sessions, participants FROM reports");
    v->committed = PQntuples(q);
    int printed = 0;
    for (int i = 0; i < PQntuples(q); i++) {
        entry key;
        snprintf(key.id, sizeof key.id, "%s", PQgetvalue(q, i, 0));
        entry *e = bsearch(&key, ledger, n, sizeof *ledger, cmp_entry);
        if (!e) {
            v->phantom++;
            continue;
        }
        uint32_t rev = (uint32_t)atoi(PQgetvalue(q, i, 1));
        if (rev < 1 || rev > e->attempted) {
            v->wrong_revision++;
            if (printed++ < 12)
                printf("# WRONG REVISION %s: stored %u, sent up to %u\n", e->id, rev, e->attempted);
            continue;
        }
        stored[e - ledger] = rev;
        if (!same_content(e, &e->rev[rev], q, i)) {
            v->wrong_content++;
            if (printed++ < 12)
                printf("# WRONG CONTENT %s revision %u: stored %s/%s/%s participants %s, sent "
                       "%s/%s participants %lld\n",
                       e->id, rev, PQgetvalue(q, i, 3), PQgetvalue(q, i, 4), PQgetvalue(q, i, 8),
                       PQgetvalue(q, i, 11), COUNTIES[e->county], DAYS[e->rev[rev].day],
                       (long long)e->rev[rev].participants);
        }
    }
    PQclear(q);

    /* The ledger's own figures: each report at the revision it must have —
     * the acknowledged one, or a later one sent and stored (its 202 lost),
     * or, when its acknowledged revision was corrupted undelivered, the
     * earlier one stored if any. */
    figures *want = pufa_calloc(1, sizeof *want);
    for (size_t i = 0; i < n; i++) {
        entry *e = &ledger[i];
        uint32_t have = stored[i], must = e->acked > have ? e->acked : have;
        if (e->acked) {
            v->acked++;
            if (have < e->acked && e->corrupted == e->acked) {
                v->excused++;
                must = have;
            } else if (have < e->acked) {
                v->lost++;
                if (printed++ < 12)
                    printf("# LOST %s (county %s): revision %u acknowledged, %s\n", e->id,
                           COUNTIES[e->county], e->acked,
                           have ? "an earlier one stored" : "nothing stored");
            } else if (e->corrupted) {
                v->corrupted_kept++;
                if (printed++ < 12)
                    printf("# CORRUPTED YET STORED %s revision %u\n", e->id, e->corrupted);
            }
        }
        if (must && !e->rev[must].retracted)
            add_revision(want, e->county, &e->rev[must], 1);
    }

    figures *sql = pufa_calloc(1, sizeof *sql), *ru = pufa_calloc(1, sizeof *ru),
            *api = pufa_calloc(1, sizeof *api);
    sql_figures(db, sql);
    rollup_figures(db, ru);
    bool api_ok = publisher_figures(pub_port, api);
    if (!api_ok)
        printf("# MISMATCH publisher: a /v1/totals request failed\n");
    int shown = 0;
    v->figure_mismatches = compare("SQL", want, sql, &shown) +
                           compare("rollups", want, ru, &shown) +
                           compare("publisher", want, api, &shown) + !api_ok;
    for (int k = 0; k < NCOL; k++) {
        long long w[NF], s[NF], r[NF], a[NF];
        county_totals(want, k, w);
        county_totals(sql, k, s);
        county_totals(ru, k, r);
        county_totals(api, k, a);
        bool ok = !memcmp(w, s, sizeof w) && !memcmp(w, r, sizeof w) && !memcmp(w, a, sizeof w);
        printf("# county %s: ledger %lld/%lld, SQL %lld/%lld, rollups %lld/%lld, publisher "
               "%lld/%lld (reports/participants) %s\n",
               COUNTIES[k], w[0], w[2], s[0], s[2], r[0], r[2], a[0], a[2], ok ? "ok" : "MISMATCH");
    }
    printf("# cells compared: %d (day x county x dimension value), each by SQL, rollups and "
           "publisher\n",
           NCELLS);
    free(want);
    free(sql);
    free(ru);
    free(api);
    free(stored);
}
