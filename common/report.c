#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "utf8.h"

const char *const pufa_counter_names[PUFA_NCOUNTERS] = {
#define PUFA_COUNTER_NAME_(up, low, label, max) #low,
    PUFA_COUNTER_MAP(PUFA_COUNTER_NAME_)
#undef PUFA_COUNTER_NAME_
};

const char *const pufa_counter_labels[PUFA_NCOUNTERS] = {
#define PUFA_COUNTER_LABEL_(up, low, label, max) label,
    PUFA_COUNTER_MAP(PUFA_COUNTER_LABEL_)
#undef PUFA_COUNTER_LABEL_
};

const char *const pufa_figure_names[PUFA_NFIGURES] = {"reports",
#define PUFA_FIGURE_NAME_(up, low, label, max) #low,
                                                      PUFA_COUNTER_MAP(PUFA_FIGURE_NAME_)
#undef PUFA_FIGURE_NAME_
};

int64_t pufa_counter_max(pufa_counter c) {
    static const int64_t max[PUFA_NCOUNTERS] = {
#define PUFA_COUNTER_MAX_(up, low, label, m) (int64_t)(m),
        PUFA_COUNTER_MAP(PUFA_COUNTER_MAX_)
#undef PUFA_COUNTER_MAX_
    };
    return (unsigned)c < PUFA_NCOUNTERS ? max[c] : 0;
}

void pufa_report_init(pufa_report *r) {
    memset(r, 0, sizeof *r);
}

void pufa_report_clear(pufa_report *r) {
    free(r->report_id);
    free(r->county_code);
    free(r->township);
    free(r->unit_code);
    free(r->unit_name);
    free(r->occurred_on);
    free(r->ended_on);
    free(r->campaign);
    free(r->title);
    pufa_report_init(r);
}

static char *dup_or_null(const char *s) {
    return s ? pufa_strdup(s) : NULL;
}

void pufa_report_copy(pufa_report *dst, const pufa_report *src) {
    *dst = *src;
    dst->report_id = dup_or_null(src->report_id);
    dst->county_code = dup_or_null(src->county_code);
    dst->township = dup_or_null(src->township);
    dst->unit_code = dup_or_null(src->unit_code);
    dst->unit_name = dup_or_null(src->unit_name);
    dst->occurred_on = dup_or_null(src->occurred_on);
    dst->ended_on = dup_or_null(src->ended_on);
    dst->campaign = dup_or_null(src->campaign);
    dst->title = dup_or_null(src->title);
}

void pufa_report_set_str(char **field, const char *s, size_t len) {
    free(*field);
    *field = pufa_strndup(s, len);
}

void pufa_errors_init(pufa_errors *errs) {
    errs->count = 0;
    errs->truncated = false;
}

void pufa_errors_add(pufa_errors *errs, const char *field, const char *fmt, ...) {
    if (errs->count >= PUFA_MAX_FIELD_ERRORS) {
        errs->truncated = true;
        return;
    }
    pufa_field_error *e = &errs->e[errs->count++];
    pufa_utf8_escape(e->field, sizeof e->field, field, strlen(field));
    /* What a message quotes comes from outside: escape bytes that are not
     * UTF-8 (a JSON encoder would drop the whole message), and cut only
     * between characters. */
    char raw[2 * sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
    pufa_utf8_escape(e->message, sizeof e->message, raw, len);
}

bool pufa_errors_has(const pufa_errors *errs, const char *field) {
    for (int i = 0; i < errs->count; i++)
        if (strcmp(errs->e[i].field, field) == 0)
            return true;
    return false;
}

const char *pufa_errors_format(const pufa_errors *errs, char *buf, size_t size) {
    size_t o = 0;
    if (!size)
        return buf;
    buf[0] = '\0';
    for (int i = 0; i < errs->count && o < size; i++) {
        int n = snprintf(buf + o, size - o, "%s%s: %s", i ? "; " : "", errs->e[i].field,
                         errs->e[i].message);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    if (errs->truncated && o < size)
        snprintf(buf + o, size - o, "; ...");
    /* A cut may have split a character: end before it. */
    size_t len = strlen(buf);
    buf[pufa_utf8_first_invalid(buf, len)] = '\0';
    return buf;
}
