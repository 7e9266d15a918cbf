#include "trend.h"

#include <stdio.h>
#include <string.h>

#include "date.h"
#include "report.h"

void pub_json_str(pufa_buf *out, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    pufa_buf_putc(out, '"');
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\' && c != '/')
            continue;
        pufa_buf_append(out, run, (size_t)(s - run));
        run = s + 1;
        char e[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            n = 6;
        }
        pufa_buf_append(out, e, n);
    }
    pufa_buf_append(out, run, (size_t)(s - run));
    pufa_buf_putc(out, '"');
}

void pub_json_int(pufa_buf *out, int64_t v) {
    char tmp[24], *p = tmp + sizeof tmp;
    /* Digits from the magnitude as unsigned: INT64_MIN has no positive twin. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    pufa_buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
}

/* {"name":N,...} of v, with names = pufa_figure_names. */
void pub_json_figures(pufa_buf *out, const int64_t fig[NFIG]) {
    for (int k = 0; k < NFIG; k++) {
        pufa_buf_append(out, k ? ",\"" : "{\"", 2);
        pufa_buf_puts(out, pufa_figure_names[k]);
        pufa_buf_append(out, "\":", 2);
        pub_json_int(out, fig[k]);
    }
    pufa_buf_putc(out, '}');
}

/* The per cent of base that cur - base is, to one decimal, as the other
 * comparisons of /v1/totals round it (http.c change_json), or null. */
static void put_pct(pufa_buf *out, int64_t d, int64_t base) {
    if (base == 0) {
        pufa_buf_append(out, "null", 4);
        return;
    }
    double x = (double)d * 1000.0 / (double)base;
    long long tenths = (long long)(x < 0 ? x - 0.5 : x + 0.5);
    /* Below 2^53 tenths / 10.0 is the double nearest the decimal
     * "tenths/10.tenths%10", which is what a JSON reader makes of that
     * text; above, the division rounds: written as jansson writes reals. */
    if (tenths > -(1LL << 53) && tenths < (1LL << 53)) {
        if (tenths < 0)
            pufa_buf_putc(out, '-');
        unsigned long long t =
            tenths < 0 ? 0ULL - (unsigned long long)tenths : (unsigned long long)tenths;
        pub_json_int(out, (int64_t)(t / 10));
        char frac[2] = {'.', (char)('0' + t % 10)};
        pufa_buf_append(out, frac, 2);
        return;
    }
    char text[40];
    snprintf(text, sizeof text, "%.17g", (double)tenths / 10.0);
    pufa_buf_puts(out, text);
    if (!strpbrk(text, ".e"))
        pufa_buf_append(out, ".0", 2);
}

/* "change":{...},"pct":{...} of cur against base. */
static void put_change(pufa_buf *out, const int64_t cur[NFIG], const int64_t base[NFIG]) {
    int64_t d[NFIG];
    for (int k = 0; k < NFIG; k++)
        d[k] = cur[k] - base[k];
    pufa_buf_append(out, ",\"change\":", 10);
    pub_json_figures(out, d);
    pufa_buf_append(out, ",\"pct\":", 7);
    for (int k = 0; k < NFIG; k++) {
        pufa_buf_append(out, k ? ",\"" : "{\"", 2);
        pufa_buf_puts(out, pufa_figure_names[k]);
        pufa_buf_append(out, "\":", 2);
        put_pct(out, d[k], base[k]);
    }
    pufa_buf_putc(out, '}');
}

static void put_day(pufa_buf *out, const char *name, pufa_day d) {
    char s[11];
    pufa_date_format(d, s);
    pufa_buf_puts(out, name);
    pub_json_str(out, s);
}

void pub_trend_rows(pufa_buf *out, const pub_model *m, const pub_window *win, pub_period p,
                    const pub_scope *s, pub_compare cmp) {
    pufa_buf_putc(out, '[');
    bool first_row = true;
    for (pufa_day first = pub_period_first(p, win->from); first <= win->to;
         first = pub_period_last(p, first) + 1) {
        pufa_day from = first < win->from ? win->from : first;
        pufa_day last = pub_period_last(p, first);
        pufa_day to = last > win->to ? win->to : last;
        char key[16], a[11], label[64];
        pub_period_key(p, first, key, sizeof key);
        pufa_date_format(from, a);
        if (p == PUB_PERIOD_WEEK) {
            char mon[11], sun[11];
            pufa_date_format(first, mon);
            pufa_date_format(last, sun);
            snprintf(label, sizeof label, "%s..%s", mon, sun);
        } else if (p == PUB_PERIOD_MONTH) {
            snprintf(label, sizeof label, "%.4s年%.2s月", key, key + 5);
        } else {
            memcpy(label, a, sizeof a);
        }
        int64_t fig[NFIG];
        pub_model_sum(m, from, to, s, fig);
        pufa_buf_append(out, first_row ? "{\"key\":" : ",{\"key\":", first_row ? 7 : 8);
        first_row = false;
        pub_json_str(out, key);
        pufa_buf_append(out, ",\"label\":", 9);
        pub_json_str(out, label);
        put_day(out, ",\"from\":", from);
        put_day(out, ",\"to\":", to);
        pufa_buf_append(out, ",\"figures\":", 11);
        pub_json_figures(out, fig);
        if (cmp != PUB_COMPARE_NONE) {
            /* The preceding period of the same kind, or a year earlier. */
            pufa_day bf, bt;
            int64_t base[NFIG];
            pub_compare_base(cmp, p == PUB_PERIOD_MONTH ? 1 : 0, from, to, &bf, &bt);
            pub_model_sum(m, bf, bt, s, base);
            pufa_buf_append(out, ",\"compare\":{\"base\":", 19);
            pub_json_figures(out, base);
            put_change(out, fig, base);
            put_day(out, ",\"from\":", bf);
            put_day(out, ",\"to\":", bt);
            pufa_buf_putc(out, '}');
        }
        pufa_buf_putc(out, '}');
    }
    pufa_buf_putc(out, ']');
}
