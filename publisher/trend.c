#include "trend.h"

#include <stdio.h>
#include <string.h>

#include "approved.h"
#include "date.h"
#include "report.h"

/* The writers below write at p, in room the caller reserved, and return
 * the end: one reservation per row instead of one per member. */

/* s as a JSON string: at most 6 x strlen(s) + 2 bytes. */
static char *put_str(char *p, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\' && c != '/') {
            *p++ = (char)c;
            continue;
        }
        *p++ = '\\';
        switch (c) {
        case '"':
        case '\\':
        case '/':
            *p++ = (char)c;
            break;
        case '\b':
            *p++ = 'b';
            break;
        case '\f':
            *p++ = 'f';
            break;
        case '\n':
            *p++ = 'n';
            break;
        case '\r':
            *p++ = 'r';
            break;
        case '\t':
            *p++ = 't';
            break;
        default:
            memcpy(p, "u00", 3);
            p[3] = hex[c >> 4];
            p[4] = hex[c & 15];
            p += 5;
        }
    }
    *p++ = '"';
    return p;
}

/* At most 20 bytes. */
static char *put_int(char *p, int64_t v) {
    char tmp[24], *t = tmp + sizeof tmp;
    /* Digits from the magnitude as unsigned: INT64_MIN has no positive twin. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--t = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--t = '-';
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return p + n;
}

static char *put_lit(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

/* ,"name": (or {"name": for the first figure k). */
static char *put_name(char *p, int k) {
    p = put_lit(p, k ? ",\"" : "{\"", 2);
    size_t n = strlen(pufa_figure_names[k]);
    p = put_lit(p, pufa_figure_names[k], n);
    return put_lit(p, "\":", 2);
}

static char *put_figures(char *p, const int64_t fig[NFIG]) {
    for (int k = 0; k < NFIG; k++)
        p = put_int(put_name(p, k), fig[k]);
    *p++ = '}';
    return p;
}

/* "YYYY-MM-DD" as pufa_date_format writes it, quoted: 12 bytes. */
static char *put_date(char *p, pufa_day d) {
    int y, m, dd;
    pufa_date_to_ymd(d, &y, &m, &dd);
    if (y < 0 || y > 9999)
        y = m = dd = 0;
    char s[12] = {'"',
                  (char)('0' + y / 1000),
                  (char)('0' + y / 100 % 10),
                  (char)('0' + y / 10 % 10),
                  (char)('0' + y % 10),
                  '-',
                  (char)('0' + m / 10),
                  (char)('0' + m % 10),
                  '-',
                  (char)('0' + dd / 10),
                  (char)('0' + dd % 10),
                  '"'};
    return put_lit(p, s, sizeof s);
}

void pub_json_str(pufa_buf *out, const char *s) {
    pufa_buf_reserve(out, 6 * strlen(s) + 2);
    out->len = (size_t)(put_str(out->data + out->len, s) - out->data);
    out->data[out->len] = '\0';
}

void pub_json_int(pufa_buf *out, int64_t v) {
    pufa_buf_reserve(out, 24);
    out->len = (size_t)(put_int(out->data + out->len, v) - out->data);
    out->data[out->len] = '\0';
}

/* The per cent of base that d = cur - base is, to one decimal, as the
 * other comparisons of /v1/totals round it (http.c change_json), or null:
 * at most 32 bytes. */
static char *put_pct(char *p, int64_t d, int64_t base) {
    if (base == 0)
        return put_lit(p, "null", 4);
    double x = (double)d * 1000.0 / (double)base;
    long long tenths = (long long)(x < 0 ? x - 0.5 : x + 0.5);
    /* Below 2^53 tenths / 10.0 is the double nearest the decimal
     * "tenths/10.tenths%10", which is what a JSON reader makes of that
     * text; above, the division rounds: written as jansson writes reals. */
    if (tenths > -(1LL << 53) && tenths < (1LL << 53)) {
        if (tenths < 0)
            *p++ = '-';
        int64_t t = tenths < 0 ? -tenths : tenths;
        p = put_int(p, t / 10);
        *p++ = '.';
        *p++ = (char)('0' + t % 10);
        return p;
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%.17g", (double)tenths / 10.0);
    p = put_lit(p, text, (size_t)n);
    if (!strpbrk(text, ".e"))
        p = put_lit(p, ".0", 2);
    return p;
}

/* ,"compare":{"base":..,"change":..,"pct":..,"from":..,"to":..} */
static char *put_compare(char *p, const int64_t cur[NFIG], const int64_t base[NFIG], pufa_day bf,
                         pufa_day bt) {
    int64_t d[NFIG];
    for (int k = 0; k < NFIG; k++)
        d[k] = cur[k] - base[k];
    p = put_lit(p, ",\"compare\":{\"base\":", 19);
    p = put_figures(p, base);
    p = put_lit(p, ",\"change\":", 10);
    p = put_figures(p, d);
    p = put_lit(p, ",\"pct\":", 7);
    for (int k = 0; k < NFIG; k++)
        p = put_pct(put_name(p, k), d[k], base[k]);
    *p++ = '}';
    p = put_date(put_lit(p, ",\"from\":", 8), bf);
    p = put_date(put_lit(p, ",\"to\":", 6), bt);
    *p++ = '}';
    return p;
}

void pub_trend_rows(pufa_buf *out, const pub_model *m, const pub_window *win, pub_period p,
                    const pub_scope *s, pub_compare cmp, bool approved) {
    /* The most one row writes: the key and label escaped (6 x their 16
     * and 64 bytes), four dates, three figure objects and the per cents. */
    size_t names = 0;
    for (int k = 0; k < NFIG; k++)
        names += strlen(pufa_figure_names[k]) + 4;
    const size_t row_max =
        6 * (16 + 64) + 4 * 20 + 3 * (names + 20 * NFIG + 2) + (names + 32 * NFIG + 2) + 128;
    pufa_buf_putc(out, '[');
    for (pufa_day first = pub_period_first(p, win->from); first <= win->to;
         first = pub_period_last(p, first) + 1) {
        pufa_day from = first < win->from ? win->from : first;
        pufa_day last = pub_period_last(p, first);
        pufa_day to = last > win->to ? win->to : last;
        char key[16], label[64];
        pub_period_key(p, first, key, sizeof key);
        if (p == PUB_PERIOD_WEEK) {
            char mon[11], sun[11];
            pufa_date_format(first, mon);
            pufa_date_format(last, sun);
            snprintf(label, sizeof label, "%s..%s", mon, sun);
        } else if (p == PUB_PERIOD_MONTH) {
            snprintf(label, sizeof label, "%.4s年%.2s月", key, key + 5);
        } else {
            pufa_date_format(from, label);
        }
        int64_t fig[NFIG];
        pub_sum_status(m, approved, from, to, s, fig);
        pufa_buf_reserve(out, row_max);
        char *w = out->data + out->len;
        if (w[-1] == '}')
            *w++ = ',';
        w = put_str(put_lit(w, "{\"key\":", 7), key);
        w = put_str(put_lit(w, ",\"label\":", 9), label);
        w = put_date(put_lit(w, ",\"from\":", 8), from);
        w = put_date(put_lit(w, ",\"to\":", 6), to);
        w = put_figures(put_lit(w, ",\"figures\":", 11), fig);
        if (cmp != PUB_COMPARE_NONE) {
            /* The preceding period of the same kind, or a year earlier. */
            pufa_day bf, bt;
            int64_t base[NFIG];
            pub_compare_base(cmp, p == PUB_PERIOD_MONTH ? 1 : 0, from, to, &bf, &bt);
            pub_sum_status(m, approved, bf, bt, s, base);
            w = put_compare(w, fig, base, bf, bt);
        }
        *w++ = '}';
        out->len = (size_t)(w - out->data);
        out->data[out->len] = '\0';
    }
    pufa_buf_putc(out, ']');
}

/* The rows of a breakdown after the join: rows[i] with its base bases[i]
 * (when given). */
static void write_breakdown(pufa_buf *out, const pub_model *m, pub_dim dim, const pub_row *rows,
                            size_t n, const int64_t (*bases)[NFIG], pufa_day bf, pufa_day bt) {
    size_t names = 0;
    for (int k = 0; k < NFIG; k++)
        names += strlen(pufa_figure_names[k]) + 4;
    /* The most one row writes besides its key and label: the rank, two
     * dates, three figure objects and the per cents. */
    const size_t row_max = 2 * 20 + 3 * (names + 20 * NFIG + 2) + (names + 32 * NFIG + 2) + 128;
    /* Room for every row at once (2,975 rows with a base: 2.8 MB), not
     * grown and copied a doubling at a time: pages never written are
     * never touched. */
    pufa_buf_reserve(out, n * (row_max + 256));
    pufa_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        const char *key = pub_model_key(m, dim, rows[i].value);
        const char *label = pub_model_label(m, dim, rows[i].value);
        pufa_buf_reserve(out, row_max + 6 * (strlen(key) + strlen(label)) + 4);
        char *w = out->data + out->len;
        if (i)
            *w++ = ',';
        w = put_int(put_lit(w, "{\"rank\":", 8), (int64_t)i + 1);
        w = put_str(put_lit(w, ",\"key\":", 7), key);
        w = put_str(put_lit(w, ",\"label\":", 9), label);
        w = put_figures(put_lit(w, ",\"figures\":", 11), rows[i].fig);
        if (bases)
            w = put_compare(w, rows[i].fig, bases[i], bf, bt);
        *w++ = '}';
        out->len = (size_t)(w - out->data);
        out->data[out->len] = '\0';
    }
    pufa_buf_putc(out, ']');
}

void pub_breakdown_rows(pufa_buf *out, const pub_model *m, pub_dim dim, int rank,
                        const pub_row *rows, size_t n, const pub_row *base, size_t nb, pufa_day bf,
                        pufa_day bt) {
    pub_row *all = pufa_malloc((n + nb + 1) * sizeof *all);
    memcpy(all, rows, n * sizeof *rows);
    if (!base) {
        pub_rows_rank(all, n, rank);
        write_breakdown(out, m, dim, all, n, NULL, bf, bt);
        free(all);
        return;
    }
    /* The join by value in one pass: an index over the values (below the
     * dimension's space), not rows x base rows. */
    uint32_t space = 1;
    for (size_t i = 0; i < n; i++)
        space = rows[i].value >= space ? rows[i].value + 1 : space;
    for (size_t j = 0; j < nb; j++)
        space = base[j].value >= space ? base[j].value + 1 : space;
    size_t *at = pufa_calloc(space, sizeof *at); /* row index + 1; 0: none */
    for (size_t i = 0; i < n; i++)
        at[all[i].value] = i + 1;
    size_t na = n;
    for (size_t j = 0; j < nb; j++)
        if (!at[base[j].value]) { /* only in the base: zeros now */
            all[na] = (pub_row){.value = base[j].value};
            at[base[j].value] = ++na;
        }
    pub_rows_rank(all, na, rank);
    memset(at, 0, space * sizeof *at);
    for (size_t j = 0; j < nb; j++)
        at[base[j].value] = j + 1;
    int64_t(*bases)[NFIG] = pufa_calloc(na ? na : 1, sizeof *bases);
    for (size_t i = 0; i < na; i++)
        if (at[all[i].value])
            memcpy(bases[i], base[at[all[i].value] - 1].fig, sizeof bases[i]);
    free(at);
    write_breakdown(out, m, dim, all, na, (const int64_t(*)[NFIG])bases, bf, bt);
    free(bases);
    free(all);
}
