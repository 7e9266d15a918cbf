#include "report_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "enums.h"
#include "error.h"
#include "utf8.h"

static void pufa_json_free(void *p) {
    free(p);
}

void pufa_json_init(void) {
    json_set_alloc_funcs(pufa_malloc, pufa_json_free);
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a decimal number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static void take_string(pufa_errors *errs, const char *key, const json_t *v, char **field) {
    if (json_is_null(v))
        return;
    if (!json_is_string(v)) {
        pufa_errors_add(errs, key, "must be a string (got %s)", type_name(v));
        return;
    }
    pufa_report_set_str(field, json_string_value(v), json_string_length(v));
}

static void take_enum(pufa_errors *errs, pufa_enum_kind kind, const json_t *v, int *field) {
    const char *key = pufa_enum_field(kind);
    if (json_is_integer(v)) {
        /* Wire numbers are accepted too; validation checks the range. */
        json_int_t n = json_integer_value(v);
        *field = (n >= 1 && n <= pufa_enum_max(kind)) ? (int)n : -1;
        if (*field == -1)
            pufa_errors_add(errs, key, "unknown value %lld", (long long)n);
        return;
    }
    if (!json_is_string(v)) {
        pufa_errors_add(errs, key, "must be a code or label string (got %s)", type_name(v));
        *field = -1;
        return;
    }
    const char *s = json_string_value(v);
    int value = (strlen(s) == json_string_length(v)) ? pufa_enum_lookup(kind, s) : 0;
    if (value == 0) {
        char shown[64];
        snprintf(shown, sizeof shown, "%s", s);
        pufa_errors_add(errs, key, "must be one of the %s codes or labels (got %s)", key, shown);
        *field = -1;
        return;
    }
    *field = value;
}

static void take_int(pufa_errors *errs, const char *key, const json_t *v, int64_t *field) {
    if (!json_is_integer(v)) {
        pufa_errors_add(errs, key, "must be an integer (got %s)", type_name(v));
        return;
    }
    *field = (int64_t)json_integer_value(v);
}

int pufa_report_from_json(const json_t *obj, pufa_report *r, pufa_errors *errs) {
    if (!json_is_object(obj)) {
        pufa_errors_add(errs, "report", "must be a JSON object (got %s)", type_name(obj));
        return PUFA_EVALIDATE;
    }
    int before = errs->count;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (strcmp(key, "report_id") == 0)
            take_string(errs, key, v, &r->report_id);
        else if (strcmp(key, "revision") == 0)
            take_int(errs, key, v, &r->revision);
        else if (strcmp(key, "retracted") == 0) {
            if (json_is_boolean(v))
                r->retracted = json_is_true(v);
            else if (!json_is_null(v))
                pufa_errors_add(errs, key, "must be true or false (got %s)", type_name(v));
        } else if (strcmp(key, "county_code") == 0)
            take_string(errs, key, v, &r->county_code);
        else if (strcmp(key, "township") == 0)
            take_string(errs, key, v, &r->township);
        else if (strcmp(key, "unit_code") == 0)
            take_string(errs, key, v, &r->unit_code);
        else if (strcmp(key, "unit_name") == 0)
            take_string(errs, key, v, &r->unit_name);
        else if (strcmp(key, "occurred_on") == 0)
            take_string(errs, key, v, &r->occurred_on);
        else if (strcmp(key, "ended_on") == 0)
            take_string(errs, key, v, &r->ended_on);
        else if (strcmp(key, "theme") == 0)
            take_enum(errs, PUFA_ENUM_THEME, v, &r->theme);
        else if (strcmp(key, "venue") == 0)
            take_enum(errs, PUFA_ENUM_VENUE, v, &r->venue);
        else if (strcmp(key, "form") == 0)
            take_enum(errs, PUFA_ENUM_FORM, v, &r->form);
        else if (strcmp(key, "campaign") == 0)
            take_string(errs, key, v, &r->campaign);
        else if (strcmp(key, "title") == 0)
            take_string(errs, key, v, &r->title);
        else if (strcmp(key, "received_at_ms") == 0)
            take_int(errs, key, v, &r->received_at_ms);
        else {
            int c;
            for (c = 0; c < PUFA_NCOUNTERS; c++)
                if (strcmp(key, pufa_counter_names[c]) == 0)
                    break;
            if (c < PUFA_NCOUNTERS) {
                if (!json_is_null(v))
                    take_int(errs, key, v, &r->counters[c]);
            } else {
                char shown[40];
                snprintf(shown, sizeof shown, "%s", key);
                pufa_errors_add(errs, shown, "is not a report field");
            }
        }
    }
    return errs->count == before ? 0 : PUFA_EVALIDATE;
}

static void put_str(json_t *o, const char *key, const char *s) {
    if (s)
        json_object_set_new(o, key, json_string(s));
}

json_t *pufa_report_to_json(const pufa_report *r) {
    json_t *o = json_object();
    put_str(o, "report_id", r->report_id);
    json_object_set_new(o, "revision", json_integer(r->revision));
    if (r->retracted)
        json_object_set_new(o, "retracted", json_true());
    put_str(o, "county_code", r->county_code);
    put_str(o, "township", r->township);
    put_str(o, "unit_code", r->unit_code);
    put_str(o, "unit_name", r->unit_name);
    put_str(o, "occurred_on", r->occurred_on);
    put_str(o, "ended_on", r->ended_on);
    put_str(o, "theme", pufa_enum_code(PUFA_ENUM_THEME, r->theme));
    put_str(o, "venue", pufa_enum_code(PUFA_ENUM_VENUE, r->venue));
    put_str(o, "form", pufa_enum_code(PUFA_ENUM_FORM, r->form));
    put_str(o, "campaign", r->campaign);
    put_str(o, "title", r->title);
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        json_object_set_new(o, pufa_counter_names[c], json_integer(r->counters[c]));
    if (r->received_at_ms)
        json_object_set_new(o, "received_at_ms", json_integer(r->received_at_ms));
    return o;
}

static const size_t JSON_FLAGS = JSON_REJECT_DUPLICATES;

int pufa_json_reader_init(pufa_json_reader *rd, const char *buf, size_t len, int allow_lines,
                          char *msg, size_t msgsize) {
    memset(rd, 0, sizeof *rd);
    /* Skip a UTF-8 BOM and leading white space. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i == len) {
        snprintf(msg, msgsize, "empty body: expected a JSON object or array");
        return PUFA_EPARSE;
    }
    if (buf[i] != '[' && buf[i] != '{') {
        snprintf(msg, msgsize, "expected a JSON object or array");
        return PUFA_EPARSE;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(buf, len, JSON_FLAGS, &jerr);
    /* Not one document: JSON Lines (one object a line), if allowed. */
    if (!doc && (buf[i] == '[' || !allow_lines)) {
        snprintf(msg, msgsize, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return PUFA_EPARSE;
    }
    rd->buf = buf;
    rd->len = len;
    rd->doc = doc;
    return 0;
}

bool pufa_json_reader_next(pufa_json_reader *rd, size_t *index, size_t *line, const json_t **elem,
                           char *msg, size_t msgsize) {
    if (rd->done)
        return false;
    if (rd->doc && json_is_array(rd->doc)) {
        if (rd->next >= json_array_size(rd->doc)) {
            rd->done = true;
            return false;
        }
        *index = rd->next;
        *line = 0;
        *elem = json_array_get(rd->doc, rd->next++);
        return true;
    }
    if (rd->doc) { /* a single object */
        rd->done = true;
        *index = 0;
        *line = 1;
        *elem = rd->doc;
        return true;
    }
    json_decref(rd->elem);
    rd->elem = NULL;
    const char *buf = rd->buf;
    while (rd->next < rd->len) {
        size_t start = rd->next;
        const char *nl = memchr(buf + start, '\n', rd->len - start);
        size_t end = nl ? (size_t)(nl - buf) : rd->len;
        rd->next = end + 1;
        rd->line++;
        size_t a = start, b = end;
        while (a < b && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\r'))
            a++;
        while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t' || buf[b - 1] == '\r'))
            b--;
        if (b == a)
            continue;
        json_error_t jerr;
        rd->elem = json_loadb(buf + a, b - a, JSON_FLAGS, &jerr);
        if (!rd->elem)
            snprintf(msg, msgsize, "not valid JSON: column %d: %s", jerr.column, jerr.text);
        *index = rd->index++;
        *line = rd->line;
        *elem = rd->elem;
        return true;
    }
    rd->done = true;
    return false;
}

void pufa_json_reader_free(pufa_json_reader *rd) {
    json_decref(rd->doc);
    json_decref(rd->elem);
    memset(rd, 0, sizeof *rd);
}

int pufa_json_each_report(const char *buf, size_t len, int allow_lines, pufa_json_each_fn fn,
                          void *ctx, char *msg, size_t msgsize) {
    pufa_json_reader rd;
    int rc = pufa_json_reader_init(&rd, buf, len, allow_lines, msg, msgsize);
    if (rc)
        return rc;
    size_t index, line;
    const json_t *elem;
    char m[200];
    while (pufa_json_reader_next(&rd, &index, &line, &elem, m, sizeof m))
        fn(ctx, index, line, elem, elem ? NULL : m);
    pufa_json_reader_free(&rd);
    return 0;
}

json_t *pufa_json_text(const char *s) {
    if (!s)
        s = "";
    size_t len = strlen(s);
    if (pufa_utf8_first_invalid(s, len) == len)
        return json_stringn(s, len);
    char *shown = pufa_malloc(len * 4 + 1);
    size_t n = pufa_utf8_escape(shown, len * 4 + 1, s, len);
    json_t *j = json_stringn(shown, n);
    free(shown);
    return j;
}
