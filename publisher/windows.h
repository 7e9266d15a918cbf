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

#endif
