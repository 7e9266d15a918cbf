/* Rolling windows in the city's calendar: today, 7d, 30d, month, quarter,
 * ytd, plan (the current five-year law-popularisation plan: 八五 2021-2025,
 * 九五 2026-2030, ...), all, campaign:NAME (named windows from the config,
 * e.g. 宪法宣传周 = 12-01..12-07), and custom YYYY-MM-DD..YYYY-MM-DD. */
#ifndef PUB_WINDOWS_H
#define PUB_WINDOWS_H

#include <stddef.h>

#include "date.h"

typedef struct pub_window {
    char name[96];  /* as asked, e.g. "7d" or "campaign:宪法宣传周" */
    char label[96]; /* Chinese, e.g. "近7天" */
    pufa_day from, to;
} pub_window;

#define PUB_MAX_CAMPAIGNS 16

typedef struct pub_campaign_window {
    char name[64];
    int from_month, from_day, to_month, to_day;
} pub_campaign_window;

typedef struct pub_windows {
    pub_campaign_window campaigns[PUB_MAX_CAMPAIGNS];
    size_t ncampaigns;
} pub_windows;

/* Parses "NAME:MM-DD..MM-DD, NAME:MM-DD..MM-DD" (0 or PUFA_ECONFIG). */
int pub_windows_parse_campaigns(pub_windows *w, const char *spec, char *err, size_t errsize);
/* Resolves a window name for the given today; 0 or PUFA_EINVAL.  w: the
 * campaign windows, or NULL for none. */
int pub_window_resolve(const pub_windows *w, const char *name, pufa_day today, pub_window *out);
/* The standard windows, in display order (for dashboards and streams). */
extern const char *const pub_standard_windows[];
extern const size_t pub_n_standard_windows;

/* ---- trends: a window cut into days, ISO weeks or months ---- */

typedef enum pub_period { PUB_PERIOD_DAY, PUB_PERIOD_WEEK, PUB_PERIOD_MONTH } pub_period;

extern const char *const pub_period_names[3]; /* "day", "week", "month" */
/* Parses a period name; -1 if unknown. */
int pub_period_parse(const char *name);
/* The first and the last day of the period p containing day (weeks run
 * Monday to Sunday). */
pufa_day pub_period_first(pub_period p, pufa_day day);
pufa_day pub_period_last(pub_period p, pufa_day day);
/* The key of the period p that starts on first: "2026-11-27",
 * "2026-W48" (ISO 8601 week-numbering year and week) or "2026-11". */
void pub_period_key(pub_period p, pufa_day first, char *key, size_t size);

/* ---- comparisons: the base window of 环比 (prev) and 同比 (yoy) ---- */

typedef enum pub_compare { PUB_COMPARE_NONE, PUB_COMPARE_PREV, PUB_COMPARE_YOY } pub_compare;

extern const char *const pub_compare_names[3]; /* "none", "prev", "yoy" */
/* Parses "prev" or "yoy"; -1 if unknown. */
int pub_compare_parse(const char *name);
/* The months a window of this name steps back for prev: 1 for "month", 3
 * for "quarter", 0 (the preceding equal span) for any other. */
int pub_window_prev_months(const char *name);
/* The base of [from, to]: prev with months > 0 moves both ends back that
 * many months (a day past the base month's end becomes its last day, and
 * a to on its month's last day stays on the base month's last day:
 * 03-31 -> 02-28 or 02-29); prev with months == 0 is the equal span just
 * before from; yoy is the same dates a year earlier (02-29 -> 02-28). */
void pub_compare_base(pub_compare c, int months, pufa_day from, pufa_day to, pufa_day *base_from,
                      pufa_day *base_to);

#endif
