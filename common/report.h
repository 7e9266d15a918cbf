/* The report model: one legal-education activity in one county. */
#ifndef PUFA_REPORT_H
#define PUFA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "date.h"

/* The counters, in wire/CSV/column order: the one list of figures.  Every
 * other list (SQL columns, COPY rows, JSON and CSV names, protobuf fields,
 * export headings) is generated from it, so adding a counter is one line
 * here plus one migration (common/sql/) adding its columns.
 *   X(UPPER, name, heading, max)
 * name: the JSON/CSV field, the SQL column and the protobuf field (with its
 * has_name flag) in ActivityReport and Figures; heading: the Chinese export
 * column with its unit; max: the largest valid value. */
#define PUFA_COUNTER_MAP(X)                                                                        \
    X(SESSIONS, sessions, "场次", UINT32_MAX)                                                      \
    X(PARTICIPANTS, participants, "受教育人次", UINT32_MAX)                                        \
    X(MATERIALS, materials, "发放资料(份)", UINT32_MAX)                                            \
    X(CONSULTATIONS, consultations, "接受咨询(人次)", UINT32_MAX)                                  \
    X(BANNERS, banners, "悬挂条幅(条)", UINT32_MAX)                                                \
    X(LED_MESSAGES, led_messages, "LED屏播放(条)", UINT32_MAX)                                     \
    X(ONLINE_POSTS, online_posts, "线上推送(条)", UINT32_MAX)                                      \
    X(ONLINE_VIEWS, online_views, "阅读量(人次)", UINT32_MAX)                                      \
    X(VOLUNTEERS, volunteers, "讲师志愿者(人)", UINT32_MAX)                                        \
    X(FUNDS_FEN, funds_fen, "普法经费(分)", INT64_MAX)

typedef enum pufa_counter {
#define PUFA_COUNTER_ENUM_(up, low, label, max) PUFA_C_##up,
    PUFA_COUNTER_MAP(PUFA_COUNTER_ENUM_)
#undef PUFA_COUNTER_ENUM_
        PUFA_NCOUNTERS
} pufa_counter;

extern const char *const pufa_counter_names[PUFA_NCOUNTERS];
/* Chinese column headings for exports (e.g. "受教育人次"). */
extern const char *const pufa_counter_labels[PUFA_NCOUNTERS];

/* The figures of a total or a rollup cell: the number of live reports, then
 * the counters in PUFA_COUNTER_MAP order (rollup columns, Figures fields). */
#define PUFA_FIG_REPORTS  0
#define PUFA_FIG(counter) (1 + (counter))
#define PUFA_NFIGURES     (1 + PUFA_NCOUNTERS)
extern const char *const pufa_figure_names[PUFA_NFIGURES]; /* "reports", "sessions", ... */

/* Adds v to a sum of figures.  Each figure is bounded where it enters, but
 * a sum over many days, units and counties of hostile figures could still
 * pass INT64_MAX; it saturates there rather than wrap. */
static inline void pufa_fig_add(int64_t *acc, int64_t v) {
    if (__builtin_add_overflow(*acc, v, acc))
        *acc = v > 0 ? INT64_MAX : INT64_MIN;
}

/* Largest valid value of each counter (UINT32_MAX, or INT64_MAX for funds). */
int64_t pufa_counter_max(pufa_counter c);

/* Column lists as one string literal, for SQL built at compile time:
 * PUFA_COUNTER_COLS is ", sessions, participants, ...", PUFA_FIGURE_COLS
 * "reports, sessions, ...".  Other shapes: an X callback of your own over
 * PUFA_COUNTER_MAP that yields a string literal per counter. */
#define PUFA_COUNTER_COL_(up, low, label, max) ", " #low
#define PUFA_COUNTER_COLS                      PUFA_COUNTER_MAP(PUFA_COUNTER_COL_)
#define PUFA_FIGURE_COLS                       "reports" PUFA_COUNTER_COLS

/* Field limits (characters, not bytes). */
#define PUFA_TITLE_MAX_CHARS 200
#define PUFA_NAME_MAX_CHARS  100
#define PUFA_UNIT_CODE_MAX   32
#define PUFA_REVISION_MAX    2147483647
/* Earliest accepted activity date. */
#define PUFA_MIN_YEAR 2000

/* Strings are owned by the report (heap, NUL-terminated) or NULL when the
 * field was absent.  Numbers outside their valid range are kept as given,
 * so that validation can name them. */
typedef struct pufa_report {
    char *report_id;
    int64_t revision;
    bool retracted;
    char *county_code;
    char *township;
    char *unit_code;
    char *unit_name;
    char *occurred_on;
    char *ended_on;
    int theme; /* 0 = absent, -1 = given but not a known value (already reported) */
    int venue;
    int form;
    char *campaign;
    char *title;
    int64_t counters[PUFA_NCOUNTERS];
    int64_t received_at_ms; /* 0 = not yet received */
    /* Filled in by pufa_report_validate() on success: */
    pufa_day occurred_day;
    pufa_day ended_day; /* = occurred_day when no end date */
} pufa_report;

void pufa_report_init(pufa_report *r);
/* Frees the strings and re-initialises. */
void pufa_report_clear(pufa_report *r);
/* Deep copy; dst must be initialised or cleared (it is overwritten). */
void pufa_report_copy(pufa_report *dst, const pufa_report *src);
/* Replaces *field with a copy of s[0..len). */
void pufa_report_set_str(char **field, const char *s, size_t len);

/* The per-field errors of one report. */
#define PUFA_MAX_FIELD_ERRORS 12
typedef struct pufa_field_error {
    char field[32];
    char message[224];
} pufa_field_error;

typedef struct pufa_errors {
    int count;
    bool truncated; /* more errors than PUFA_MAX_FIELD_ERRORS */
    pufa_field_error e[PUFA_MAX_FIELD_ERRORS];
} pufa_errors;

void pufa_errors_init(pufa_errors *errs);
void pufa_errors_add(pufa_errors *errs, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* true if an error names this field already. */
bool pufa_errors_has(const pufa_errors *errs, const char *field);
/* "participants: must be >= 0 (got -5); theme: ..." into buf (always
 * terminated); returns buf. */
const char *pufa_errors_format(const pufa_errors *errs, char *buf, size_t size);

#endif
