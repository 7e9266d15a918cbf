/* Logging: one line per event on stderr,
 *   ts=2026-11-23T08:00:00.123+08:00 level=info id=AGG-START key=value ...
 * The level is checked before any formatting.  Message ids are stable
 * (operators grep for them); the rest of the line is key=value pairs.
 * Values that may hold spaces or come from outside are quoted with %s and
 * pufa_log_quote(). */
#ifndef PUFA_LOG_H
#define PUFA_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum pufa_log_level {
    PUFA_LOG_DEBUG = 0,
    PUFA_LOG_INFO = 1,
    PUFA_LOG_WARN = 2,
    PUFA_LOG_ERROR = 3,
    PUFA_LOG_FATAL = 4,
} pufa_log_level;

extern pufa_log_level pufa_log_threshold;

/* "debug", "info", "warn", "error"; returns 0 or PUFA_EINVAL. */
int pufa_log_set_level(const char *name);

void pufa_log_write(pufa_log_level level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define pufa_log(level, id, ...)                                                                   \
    do {                                                                                           \
        if ((level) >= pufa_log_threshold)                                                         \
            pufa_log_write((level), (id), __VA_ARGS__);                                            \
    } while (0)

#define PLOG_DEBUG(id, ...) pufa_log(PUFA_LOG_DEBUG, id, __VA_ARGS__)
#define PLOG_INFO(id, ...)  pufa_log(PUFA_LOG_INFO, id, __VA_ARGS__)
#define PLOG_WARN(id, ...)  pufa_log(PUFA_LOG_WARN, id, __VA_ARGS__)
#define PLOG_ERROR(id, ...) pufa_log(PUFA_LOG_ERROR, id, __VA_ARGS__)
#define PLOG_FATAL(id, ...) pufa_log(PUFA_LOG_FATAL, id, __VA_ARGS__)

/* Quotes s as a log value: "…" with \" \\ \n escaped and control bytes as
 * \xNN, at most max bytes of s.  Returns buf (size bufsize, always
 * terminated). */
const char *pufa_log_quote(char *buf, size_t bufsize, const char *s);

#endif
