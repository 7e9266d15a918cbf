#include "calendar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pufa_civil civil_of(time_t t) {
    struct tm tm;
    gmtime_r(&t, &tm);
    return (pufa_civil){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
}

static time_t noon_of(pufa_civil c) {
    struct tm tm = {.tm_year = c.y - 1900, .tm_mon = c.m - 1, .tm_mday = c.d, .tm_hour = 12};
    return timegm(&tm);
}

pufa_civil pufa_civil_today(int offset_min) {
    return civil_of(time(NULL) + (time_t)offset_min * 60);
}

pufa_civil pufa_civil_plus_days(pufa_civil c, int n) {
    return civil_of(noon_of(c) + (time_t)n * 86400);
}

int pufa_civil_cmp(pufa_civil a, pufa_civil b) {
    if (a.y != b.y)
        return a.y < b.y ? -1 : 1;
    if (a.m != b.m)
        return a.m < b.m ? -1 : 1;
    return a.d < b.d ? -1 : a.d > b.d;
}

void pufa_civil_format(pufa_civil c, char out[PUFA_CIVIL_STRLEN]) {
    snprintf(out, PUFA_CIVIL_STRLEN, "%04d-%02d-%02d", c.y, c.m, c.d);
}

void pufa_campaign_windows_add(pufa_campaign_windows *w, const char *name, int from_m, int from_d,
                               int to_m, int to_d) {
    if (w->n == sizeof w->c / sizeof w->c[0]) {
        fprintf(stderr, "pufa_campaign_windows_add: more than %zu windows\n", w->n);
        abort();
    }
    pufa_campaign_window *c = &w->c[w->n++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->from_m = from_m;
    c->from_d = from_d;
    c->to_m = to_m;
    c->to_d = to_d;
    size_t len = strlen(w->spec);
    snprintf(w->spec + len, sizeof w->spec - len, "%s%s:%02d-%02d..%02d-%02d", len ? ", " : "",
             name, from_m, from_d, to_m, to_d);
}

bool pufa_window_bounds(const char *name, int offset_min, const pufa_campaign_windows *cw,
                        pufa_civil *from, pufa_civil *to) {
    pufa_civil t = pufa_civil_today(offset_min);
    *to = t;
    if (!strcmp(name, "today")) {
        *from = t;
    } else if (!strcmp(name, "7d")) { /* the last 7 days, today included */
        *from = pufa_civil_plus_days(t, -6);
    } else if (!strcmp(name, "30d")) {
        *from = pufa_civil_plus_days(t, -29);
    } else if (!strcmp(name, "month")) {
        *from = (pufa_civil){t.y, t.m, 1};
    } else if (!strcmp(name, "quarter")) {
        static const int first_month[] = {1, 1, 1, 4, 4, 4, 7, 7, 7, 10, 10, 10};
        *from = (pufa_civil){t.y, first_month[t.m - 1], 1};
    } else if (!strcmp(name, "ytd")) {
        *from = (pufa_civil){t.y, 1, 1};
    } else if (!strcmp(name, "plan")) {
        int start = 2016;
        while (start + 5 <= t.y)
            start += 5;
        *from = (pufa_civil){start, 1, 1};
    } else if (!strcmp(name, "all")) {
        *from = (pufa_civil){2000, 1, 1};
        *to = pufa_civil_plus_days(t, 1);
    } else if (!strncmp(name, "campaign:", 9)) {
        const pufa_campaign_window *c = NULL;
        for (size_t i = 0; cw && i < cw->n; i++)
            if (!strcmp(cw->c[i].name, name + 9))
                c = &cw->c[i];
        if (!c)
            return false;
        *from = (pufa_civil){t.y, c->from_m, c->from_d};
        if (pufa_civil_cmp(*from, t) > 0)
            from->y--;
        *to = (pufa_civil){from->y, c->to_m, c->to_d};
        if (pufa_civil_cmp(*to, *from) < 0)
            to->y++;
    } else {
        int y1, m1, d1, y2, m2, d2;
        char tail;
        if (sscanf(name, "%4d-%2d-%2d..%4d-%2d-%2d%c", &y1, &m1, &d1, &y2, &m2, &d2, &tail) != 6)
            return false;
        *from = (pufa_civil){y1, m1, d1};
        *to = (pufa_civil){y2, m2, d2};
    }
    return true;
}

bool pufa_civil_parse(const char *s, pufa_civil *out) {
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &out->y, &out->m, &out->d, &tail) != 3)
        return false;
    pufa_civil back = pufa_civil_plus_days(*out, 0); /* libc normalises what does not exist */
    return pufa_civil_cmp(back, *out) == 0;
}

void pufa_civil_iso_week(pufa_civil c, char out[PUFA_CIVIL_STRLEN]) {
    time_t t = noon_of(c);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, PUFA_CIVIL_STRLEN, "%G-W%V", &tm);
}

/* The last day of month m of year y: day 0 of the month after, by libc. */
static int last_day(int y, int m) {
    return civil_of(noon_of((pufa_civil){y, m + 1, 0})).d;
}

static pufa_civil months_earlier(pufa_civil c, int months, bool keep_end) {
    bool at_end = c.d == last_day(c.y, c.m);
    int m0 = c.m - 1 - months;
    pufa_civil r = {c.y, c.m, c.d};
    while (m0 < 0) {
        m0 += 12;
        r.y--;
    }
    r.m = m0 + 1;
    int end = last_day(r.y, r.m);
    if (r.d > end || (keep_end && at_end))
        r.d = end;
    return r;
}

void pufa_compare_bounds(const char *kind, int months, pufa_civil from, pufa_civil to,
                         pufa_civil *base_from, pufa_civil *base_to) {
    if (!strcmp(kind, "yoy")) {
        *base_from = (pufa_civil){from.y - 1, from.m, from.m == 2 && from.d == 29 ? 28 : from.d};
        *base_to = (pufa_civil){to.y - 1, to.m, to.m == 2 && to.d == 29 ? 28 : to.d};
    } else if (months > 0) {
        *base_from = months_earlier(from, months, false);
        *base_to = months_earlier(to, months, true);
    } else {
        int span = (int)((noon_of(to) - noon_of(from)) / 86400) + 1;
        *base_from = pufa_civil_plus_days(from, -span);
        *base_to = pufa_civil_plus_days(from, -1);
    }
}
