/* The tests' own calendar and the README's window rules, written apart from
 * publisher/windows.c (and common/date.c) so that a test checks the
 * publisher's window arithmetic instead of repeating it.  Civil dates go
 * through libc (timegm, gmtime_r at noon UTC); "today" is the wall clock at
 * a fixed UTC offset in minutes. */
#ifndef PUFA_TEST_CALENDAR_H
#define PUFA_TEST_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pufa_civil {
    int y, m, d;
} pufa_civil;

/* Room for "YYYY-MM-DD" of any int fields. */
#define PUFA_CIVIL_STRLEN 36

pufa_civil pufa_civil_today(int offset_min);
pufa_civil pufa_civil_plus_days(pufa_civil c, int n);
/* <0, 0, >0 as a is before, on or after b. */
int pufa_civil_cmp(pufa_civil a, pufa_civil b);
void pufa_civil_format(pufa_civil c, char out[PUFA_CIVIL_STRLEN]);

/* Parses "YYYY-MM-DD"; false if it is not one. */
bool pufa_civil_parse(const char *s, pufa_civil *out);
/* The ISO 8601 week of c, "YYYY-Www" (libc's %G-W%V). */
void pufa_civil_iso_week(pufa_civil c, char out[PUFA_CIVIL_STRLEN]);

/* The README's comparison rules, for from..to: "prev" with months > 0
 * (a month window: 1, a quarter: 3) is the same days that many months
 * earlier, a day past the shorter month's end on its last day and a
 * month's last day kept as the month's last day; "prev" with months == 0
 * is the equal span just before from; "yoy" is the same dates a year
 * earlier, 02-29 taken as 02-28. */
void pufa_compare_bounds(const char *kind, int months, pufa_civil from, pufa_civil to,
                         pufa_civil *base_from, pufa_civil *base_to);

/* Named campaign windows, NAME:MM-DD..MM-DD, and the spec string
 * ("NAME:MM-DD..MM-DD, ...") that configures the publisher with them. */
typedef struct pufa_campaign_window {
    char name[64];
    int from_m, from_d, to_m, to_d;
} pufa_campaign_window;

typedef struct pufa_campaign_windows {
    pufa_campaign_window c[8];
    size_t n;
    char spec[512];
} pufa_campaign_windows;

/* Adds one window (at most 8; aborts beyond, a mistake in the test). */
void pufa_campaign_windows_add(pufa_campaign_windows *w, const char *name, int from_m, int from_d,
                               int to_m, int to_d);

/* The first and last day of window name by the README's rules, for the
 * today at offset_min: today, 7d, 30d, month, quarter, ytd, plan (the
 * current five-year plan: 2016-2020, 2021-2025, 2026-2030, ...), all
 * (every date a report may carry: 2000-01-01 to tomorrow),
 * campaign:NAME (the latest occurrence that has started, ending on the
 * first to-date on or after its start) and YYYY-MM-DD..YYYY-MM-DD.  false
 * for a name it does not know. */
bool pufa_window_bounds(const char *name, int offset_min, const pufa_campaign_windows *cw,
                        pufa_civil *from, pufa_civil *to);

#endif
