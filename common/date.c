#include "date.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"

int pufa_city_utc_offset_min = 8 * 60;

/* Howard Hinnant's days_from_civil / civil_from_days. */
pufa_day pufa_date_from_ymd(int y, int m, int d) {
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153u * (unsigned)(m + (m > 2 ? -3 : 9)) + 2u) / 5u + (unsigned)d - 1u;
    const unsigned doe = yoe * 365u + yoe / 4u - yoe / 100u + doy;
    return (pufa_day)(era * 146097 + (int)doe - 719468);
}

void pufa_date_to_ymd(pufa_day day, int *y, int *m, int *d) {
    int z = day + 719468;
    const int era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    const unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    const unsigned mp = (5u * doy + 2u) / 153u;
    *d = (int)(doy - (153u * mp + 2u) / 5u + 1u);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int pufa_date_parse(const char *s, pufa_day *out) {
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return PUFA_EPARSE;
    int v[3] = {0, 0, 0};
    const int start[3] = {0, 5, 8}, len[3] = {4, 2, 2};
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < len[f]; i++) {
            char c = s[start[f] + i];
            if (c < '0' || c > '9')
                return PUFA_EPARSE;
            v[f] = v[f] * 10 + (c - '0');
        }
    }
    if (v[0] < 1 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > days_in_month(v[0], v[1]))
        return PUFA_EPARSE;
    *out = pufa_date_from_ymd(v[0], v[1], v[2]);
    return 0;
}

void pufa_date_format(pufa_day d, char out[PUFA_DATE_STRLEN + 1]) {
    int y, m, dd;
    pufa_date_to_ymd(d, &y, &m, &dd);
    if (y < 0 || y > 9999) {
        snprintf(out, PUFA_DATE_STRLEN + 1, "0000-00-00");
        return;
    }
    snprintf(out, PUFA_DATE_STRLEN + 1, "%04d-%02d-%02d", y, m, dd);
}

int pufa_date_weekday(pufa_day d) {
    /* 1970-01-01 was a Thursday (3). */
    int w = (d + 3) % 7;
    return w < 0 ? w + 7 : w;
}

int pufa_tz_parse(const char *s, int *offset_min) {
    static const struct {
        const char *name;
        int minutes;
    } zones[] = {
        {"Asia/Shanghai", 480},  {"Asia/Chongqing", 480},
        {"Asia/Harbin", 480},    {"Asia/Urumqi", 360},
        {"Asia/Hong_Kong", 480}, {"Asia/Macau", 480},
        {"Asia/Taipei", 480},    {"UTC", 0},
        {"Etc/UTC", 0},
    };
    if (!s)
        return PUFA_EINVAL;
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        if (strcmp(s, zones[i].name) == 0) {
            *offset_min = zones[i].minutes;
            return 0;
        }
    }
    /* ±HH:MM */
    if (strlen(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':') {
        int h = 0, m = 0;
        for (int i = 1; i <= 5; i++) {
            if (i == 3)
                continue;
            if (s[i] < '0' || s[i] > '9')
                return PUFA_EINVAL;
        }
        h = (s[1] - '0') * 10 + (s[2] - '0');
        m = (s[4] - '0') * 10 + (s[5] - '0');
        if (h > 14 || m > 59)
            return PUFA_EINVAL;
        *offset_min = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
        return 0;
    }
    return PUFA_EINVAL;
}

pufa_day pufa_city_day(int64_t unix_ms) {
    int64_t local_ms = unix_ms + (int64_t)pufa_city_utc_offset_min * 60000;
    int64_t day = local_ms / 86400000;
    if (local_ms < 0 && local_ms % 86400000)
        day--;
    return (pufa_day)day;
}

int64_t pufa_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
