/* Calendar dates as days since 1970-01-01 (proleptic Gregorian), and the
 * city's calendar: "today" is counted at a fixed UTC offset (China Standard
 * Time, +08:00, by default; China has no daylight saving). */
#ifndef PUFA_DATE_H
#define PUFA_DATE_H

#include <stdbool.h>
#include <stdint.h>

typedef int32_t pufa_day;

#define PUFA_DATE_STRLEN 10

/* Parses "YYYY-MM-DD" (exactly); rejects dates that do not exist. */
int pufa_date_parse(const char *s, pufa_day *out);
/* Writes "YYYY-MM-DD" and a NUL into out[11]. */
void pufa_date_format(pufa_day d, char out[PUFA_DATE_STRLEN + 1]);
pufa_day pufa_date_from_ymd(int y, int m, int d);
void pufa_date_to_ymd(pufa_day day, int *y, int *m, int *d);
/* 0 = Monday ... 6 = Sunday. */
int pufa_date_weekday(pufa_day d);

/* The city's UTC offset in minutes (default +480). */
extern int pufa_city_utc_offset_min;
/* Parses "+08:00", "-03:30", "UTC", "Asia/Shanghai" (and a few other
 * fixed-offset zone names) into minutes; 0 or PUFA_EINVAL. */
int pufa_tz_parse(const char *s, int *offset_min);
/* The city's calendar day of a Unix time in ms. */
pufa_day pufa_city_day(int64_t unix_ms);
/* Current Unix time in ms. */
int64_t pufa_now_ms(void);

#endif
