#include "windows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "report.h"

const char *const pub_standard_windows[] = {"today", "7d", "30d", "month", "quarter",
                                            "ytd", "plan", "all"};
const size_t pub_n_standard_windows = sizeof pub_standard_windows / sizeof *pub_standard_windows;

static bool parse_md(const char *s, int *m, int *d) {
    return strlen(s) == 5 && s[2] == '-' && sscanf(s, "%2d-%2d", m, d) == 2 && *m >= 1 &&
           *m <= 12 && *d >= 1 && *d <= 31;
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
        char *colon = strrchr(item, ':');
        char *dots = colon ? strstr(colon, "..") : NULL;
        if (!colon || !dots || w->ncampaigns >= PUB_MAX_CAMPAIGNS) {
            snprintf(err, errsize, "campaign window '%s': want NAME:MM-DD..MM-DD", item);
            rc = PUFA_ECONFIG;
            break;
        }
        *colon = '\0';
        *dots = '\0';
        pub_campaign_window *c = &w->campaigns[w->ncampaigns];
        if (!parse_md(colon + 1, &c->from_month, &c->from_day) ||
            !parse_md(dots + 2, &c->to_month, &c->to_day) || strlen(item) >= sizeof c->name ||
            !*item) {
            snprintf(err, errsize, "campaign window '%s': want NAME:MM-DD..MM-DD", item);
            rc = PUFA_ECONFIG;
            break;
        }
        pufa_copy(c->name, sizeof c->name, item);
        w->ncampaigns++;
    }
    free(copy);
    return rc;
}

static void set(pub_window *out, const char *name, const char *label, pufa_day from,
                pufa_day to) {
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
        /* 七五 2016-2020, 八五 2021-2025, 九五 2026-2030, ... */
        int start = 2016 + (y - 2016) / 5 * 5;
        static const char *const numerals[] = {"七五", "八五", "九五", "十五", "十一五",
                                               "十二五", "十三五"};
        int k = (start - 2016) / 5;
        char label[96];
        snprintf(label, sizeof label, "%s普法(%d–%d)", k >= 0 && k < 7 ? numerals[k] : "",
                 start, start + 4);
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
        /* The latest occurrence that has started. */
        int year = y;
        if (pufa_date_from_ymd(year, c->from_month, c->from_day) > today)
            year--;
        pufa_day from = pufa_date_from_ymd(year, c->from_month, c->from_day);
        int to_year = (c->to_month < c->from_month) ? year + 1 : year;
        pufa_day to = pufa_date_from_ymd(to_year, c->to_month, c->to_day);
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
