#include "windows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "report.h"

const char *const pub_standard_windows[] = {"today",   "7d",  "30d",  "month",
                                            "quarter", "ytd", "plan", "all"};
const size_t pub_n_standard_windows = sizeof pub_standard_windows / sizeof *pub_standard_windows;

/* "MM-DD" of a day that exists in some year (02-29 does; 02-30 never). */
static bool parse_md(const char *s, int *m, int *d) {
    static const int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return strlen(s) == 5 && s[2] == '-' && sscanf(s, "%2d-%2d", m, d) == 2 && *m >= 1 &&
           *m <= 12 && *d >= 1 && *d <= longest[*m];
}

int pub_windows_parse_campaigns(pub_windows *w, const char *spec, char *err, size_t errsize) {
    w->ncampaigns = 0;
    char *copy = pufa_strdup(spec ? spec : "");
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        char *end = item + strlen(item);
        while (end > item && end[-1] == ' ')
            *--end = '\0';
        if (!*item)
            continue;
        if (w->ncampaigns >= PUB_MAX_CAMPAIGNS) {
            snprintf(err, errsize, "campaign windows: at most %d", PUB_MAX_CAMPAIGNS);
            rc = PUFA_ECONFIG;
            break;
        }
        pub_campaign_window *c = &w->campaigns[w->ncampaigns];
        char *colon = strrchr(item, ':');
        char *dots = colon ? strstr(colon, "..") : NULL;
        bool ok = colon && dots && colon > item && (size_t)(colon - item) < sizeof c->name;
        if (ok) {
            *dots = '\0';
            ok = parse_md(colon + 1, &c->from_month, &c->from_day) &&
                 parse_md(dots + 2, &c->to_month, &c->to_day);
            *dots = '.';
        }
        if (!ok) {
            snprintf(err, errsize,
                     "campaign window '%s': want NAME:MM-DD..MM-DD (a name of at most %zu "
                     "bytes, days that exist)",
                     item, sizeof c->name - 1);
            rc = PUFA_ECONFIG;
            break;
        }
        *colon = '\0';
        pufa_copy(c->name, sizeof c->name, item);
        w->ncampaigns++;
    }
    free(copy);
    return rc;
}

/* Month m, day d of year y; 02-29 is 02-28 in a common year. */
static pufa_day md_of_year(int y, int m, int d) {
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        d = 28;
    return pufa_date_from_ymd(y, m, d);
}

/* The five-year law-popularisation plan containing year y: 一五 1986-1990,
 * ..., 八五 2021-2025, 九五 2026-2030. */
static void plan_of_year(int y, int *start, char *label, size_t size) {
    static const char *const numerals[] = {"一五",   "二五",   "三五",   "四五",   "五五",
                                           "六五",   "七五",   "八五",   "九五",   "十五",
                                           "十一五", "十二五", "十三五", "十四五", "十五五"};
    int k = (y - 1986) >= 0 ? (y - 1986) / 5 : -1 - (1985 - y) / 5; /* floor */
    *start = 1986 + 5 * k;
    const char *n = k >= 0 && k < (int)(sizeof numerals / sizeof *numerals) ? numerals[k] : "";
    snprintf(label, size, "%s普法(%d–%d)", n, *start, *start + 4);
}

static void set(pub_window *out, const char *name, const char *label, pufa_day from, pufa_day to) {
    pufa_copy(out->name, sizeof out->name, name);
    pufa_copy(out->label, sizeof out->label, label);
    out->from = from;
    out->to = to;
}

int pub_window_resolve(const pub_windows *w, const char *name, pufa_day today, pub_window *out) {
    int y, m, d;
    pufa_date_to_ymd(today, &y, &m, &d);
    if (!strcmp(name, "today")) {
        set(out, name, "今日", today, today);
    } else if (!strcmp(name, "7d")) {
        set(out, name, "近7天", today - 6, today);
    } else if (!strcmp(name, "30d")) {
        set(out, name, "近30天", today - 29, today);
    } else if (!strcmp(name, "month")) {
        set(out, name, "本月", pufa_date_from_ymd(y, m, 1), today);
    } else if (!strcmp(name, "quarter")) {
        set(out, name, "本季度", pufa_date_from_ymd(y, (m - 1) / 3 * 3 + 1, 1), today);
    } else if (!strcmp(name, "ytd")) {
        set(out, name, "本年", pufa_date_from_ymd(y, 1, 1), today);
    } else if (!strcmp(name, "plan")) {
        int start;
        char label[96];
        plan_of_year(y, &start, label, sizeof label);
        set(out, name, label, pufa_date_from_ymd(start, 1, 1), today);
    } else if (!strcmp(name, "all")) {
        set(out, name, "全部", pufa_date_from_ymd(PUFA_MIN_YEAR, 1, 1), today + 1);
    } else if (!strncmp(name, "campaign:", 9)) {
        const char *cname = name + 9;
        const pub_campaign_window *c = NULL;
        for (size_t i = 0; w && i < w->ncampaigns; i++)
            if (!strcmp(w->campaigns[i].name, cname))
                c = &w->campaigns[i];
        if (!c)
            return PUFA_EINVAL;
        /* The latest occurrence that has started; one whose end comes
         * before its start in the calendar ends the next year. */
        int year = y;
        if (md_of_year(year, c->from_month, c->from_day) > today)
            year--;
        pufa_day from = md_of_year(year, c->from_month, c->from_day);
        bool wraps = c->to_month < c->from_month ||
                     (c->to_month == c->from_month && c->to_day < c->from_day);
        pufa_day to = md_of_year(wraps ? year + 1 : year, c->to_month, c->to_day);
        char label[96];
        snprintf(label, sizeof label, "%s %d", cname, year);
        set(out, name, label, from, to);
    } else {
        const char *dots = strstr(name, "..");
        pufa_day from, to;
        if (!dots || dots - name != 10)
            return PUFA_EINVAL;
        char a[11];
        memcpy(a, name, 10);
        a[10] = '\0';
        if (pufa_date_parse(a, &from) || pufa_date_parse(dots + 2, &to) || to < from ||
            to - from > 366 * 20)
            return PUFA_EINVAL;
        set(out, name, name, from, to);
    }
    return 0;
}

/* ---- trends ---- */

const char *const pub_period_names[3] = {"day", "week", "month"};

int pub_period_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, pub_period_names[i]))
            return i;
    return -1;
}

static bool is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m) {
    static const int days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m];
}

pufa_day pub_period_first(pub_period p, pufa_day day) {
    int y, m, d;
    switch (p) {
    case PUB_PERIOD_WEEK:
        return day - pufa_date_weekday(day);
    case PUB_PERIOD_MONTH:
        pufa_date_to_ymd(day, &y, &m, &d);
        return pufa_date_from_ymd(y, m, 1);
    default:
        return day;
    }
}

pufa_day pub_period_last(pub_period p, pufa_day day) {
    int y, m, d;
    switch (p) {
    case PUB_PERIOD_WEEK:
        return day - pufa_date_weekday(day) + 6;
    case PUB_PERIOD_MONTH:
        pufa_date_to_ymd(day, &y, &m, &d);
        return pufa_date_from_ymd(y, m, month_days(y, m));
    default:
        return day;
    }
}

void pub_period_key(pub_period p, pufa_day first, char *key, size_t size) {
    int y, m, d;
    if (p == PUB_PERIOD_WEEK) {
        /* ISO 8601: a week belongs to the year of its Thursday, and week 1
         * is the week of that year's first Thursday. */
        pufa_day thursday = pub_period_first(PUB_PERIOD_WEEK, first) + 3;
        pufa_date_to_ymd(thursday, &y, &m, &d);
        int week = (int)(thursday - pufa_date_from_ymd(y, 1, 1)) / 7 + 1;
        snprintf(key, size, "%04d-W%02d", y, week);
        return;
    }
    pufa_date_to_ymd(first, &y, &m, &d);
    if (p == PUB_PERIOD_MONTH)
        snprintf(key, size, "%04d-%02d", y, m);
    else
        snprintf(key, size, "%04d-%02d-%02d", y, m, d);
}

/* ---- comparisons ---- */

const char *const pub_compare_names[3] = {"none", "prev", "yoy"};

int pub_compare_parse(const char *name) {
    if (!strcmp(name, "prev"))
        return PUB_COMPARE_PREV;
    if (!strcmp(name, "yoy"))
        return PUB_COMPARE_YOY;
    return -1;
}

int pub_window_prev_months(const char *name) {
    if (!strcmp(name, "month"))
        return 1;
    if (!strcmp(name, "quarter"))
        return 3;
    return 0;
}

/* day moved back by months; a day past the base month's end becomes its
 * last day, and so does a month's last day when at_end. */
static pufa_day months_back(pufa_day day, int months, bool at_end) {
    int y, m, d;
    pufa_date_to_ymd(day, &y, &m, &d);
    bool last = d == month_days(y, m);
    int k = y * 12 + (m - 1) - months;
    y = k / 12;
    m = k % 12 + 1;
    if (d > month_days(y, m) || (at_end && last))
        d = month_days(y, m);
    return pufa_date_from_ymd(y, m, d);
}

/* The same date a year earlier; 02-29 becomes 02-28. */
static pufa_day year_back(pufa_day day) {
    int y, m, d;
    pufa_date_to_ymd(day, &y, &m, &d);
    return md_of_year(y - 1, m, d);
}

void pub_compare_base(pub_compare c, int months, pufa_day from, pufa_day to, pufa_day *base_from,
                      pufa_day *base_to) {
    if (c == PUB_COMPARE_YOY) {
        *base_from = year_back(from);
        *base_to = year_back(to);
    } else if (c == PUB_COMPARE_PREV && months > 0) {
        *base_from = months_back(from, months, false);
        *base_to = months_back(to, months, true);
    } else if (c == PUB_COMPARE_PREV) {
        *base_to = from - 1;
        *base_from = from - (to - from + 1);
    } else {
        *base_from = from;
        *base_to = to;
    }
}
