#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "enums.h"
#include "error.h"
#include "utf8.h"
#include "uuid.h"

/* Short single-line fields refuse control characters; multi_line fields
 * (the title) take any valid UTF-8 without NUL. */
static void check_text(pufa_errors *errs, const char *field, const char *s, bool required,
                       size_t max_chars, bool multi_line) {
    if (pufa_errors_has(errs, field))
        return;
    if (!s || (!*s && required)) {
        if (required)
            pufa_errors_add(errs, field, "is required");
        return;
    }
    size_t len = strlen(s), chars = 0;
    if (!pufa_utf8_valid(s, len, &chars)) {
        pufa_errors_add(errs, field, "must be valid UTF-8 text");
        return;
    }
    if (!multi_line && pufa_has_control(s, len)) {
        pufa_errors_add(errs, field, "must not contain control characters");
        return;
    }
    if (chars > max_chars)
        pufa_errors_add(errs, field, "must be at most %zu characters (got %zu)", max_chars, chars);
}

static void check_date(pufa_errors *errs, const char *field, const char *s, bool required,
                       pufa_day today, pufa_day *out) {
    if (pufa_errors_has(errs, field))
        return;
    if (!s || !*s) {
        if (required)
            pufa_errors_add(errs, field, "is required");
        return;
    }
    char shown[24];
    size_t n = strlen(s);
    if (n > 16 || !pufa_utf8_valid(s, n, NULL) || pufa_has_control(s, n))
        snprintf(shown, sizeof shown, "%s", "...");
    else
        snprintf(shown, sizeof shown, "%s", s);
    pufa_day d;
    if (pufa_date_parse(s, &d) != 0) {
        pufa_errors_add(errs, field, "must be a real date YYYY-MM-DD (got %s)", shown);
        return;
    }
    if (d > today + 1) {
        pufa_errors_add(errs, field, "must not be more than one day in the future (got %s)", shown);
        return;
    }
    if (d < pufa_date_from_ymd(PUFA_MIN_YEAR, 1, 1)) {
        pufa_errors_add(errs, field, "must be on or after %d-01-01 (got %s)", PUFA_MIN_YEAR, shown);
        return;
    }
    *out = d;
}

static void check_enum(pufa_errors *errs, pufa_enum_kind kind, int value) {
    const char *field = pufa_enum_field(kind);
    if (value == -1 || pufa_errors_has(errs, field))
        return; /* the decoder already named it */
    if (value == 0)
        pufa_errors_add(errs, field, "is required");
    else if (value < 0 || value > pufa_enum_max(kind))
        pufa_errors_add(errs, field, "unknown value %d", value);
}

static bool unit_code_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > PUFA_UNIT_CODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int pufa_report_validate(pufa_report *r, const pufa_validate_ctx *ctx, pufa_errors *errs) {
    /* report_id */
    if (!pufa_errors_has(errs, "report_id")) {
        char canon[PUFA_UUID_STRLEN + 1];
        if (!r->report_id || !*r->report_id)
            pufa_errors_add(errs, "report_id", "is required");
        else if (pufa_uuid_canonical(r->report_id, canon) != 0)
            pufa_errors_add(errs, "report_id",
                            "must be a UUID like "
                            "3ceaaf30-8142-48ea-91d9-3080f9b439fc");
        else
            memcpy(r->report_id, canon, sizeof canon);
    }

    /* revision */
    if (!pufa_errors_has(errs, "revision")) {
        if (r->revision < 1)
            pufa_errors_add(errs, "revision", "must be >= 1 (got %lld)", (long long)r->revision);
        else if (r->revision > PUFA_REVISION_MAX)
            pufa_errors_add(errs, "revision", "must be <= %d (got %lld)", PUFA_REVISION_MAX,
                            (long long)r->revision);
    }

    /* county_code */
    if (!pufa_errors_has(errs, "county_code")) {
        if (!r->county_code || !*r->county_code)
            pufa_errors_add(errs, "county_code", "is required");
        else if (!pufa_orgunit_code_valid(r->county_code))
            pufa_errors_add(errs, "county_code", "must be a six-digit GB/T 2260 code");
        else if (!pufa_orgunits_is_county(ctx->orgunits, r->county_code))
            pufa_errors_add(errs, "county_code", "is not a known county (got %s)", r->county_code);
    }

    check_text(errs, "township", r->township, false, PUFA_NAME_MAX_CHARS, false);

    /* unit_code */
    if (!pufa_errors_has(errs, "unit_code")) {
        if (!r->unit_code || !*r->unit_code)
            pufa_errors_add(errs, "unit_code", "is required");
        else if (!unit_code_ok(r->unit_code))
            pufa_errors_add(errs, "unit_code", "must be 1 to %d characters of A-Z a-z 0-9 _ - .",
                            PUFA_UNIT_CODE_MAX);
    }
    check_text(errs, "unit_name", r->unit_name, false, PUFA_NAME_MAX_CHARS, false);

    pufa_day occurred = 0, ended = 0;
    bool have_occurred = false;
    int mark = errs->count;
    check_date(errs, "occurred_on", r->occurred_on, true, ctx->today, &occurred);
    have_occurred = errs->count == mark && r->occurred_on && *r->occurred_on;
    mark = errs->count;
    check_date(errs, "ended_on", r->ended_on, false, ctx->today, &ended);
    bool have_ended = errs->count == mark && r->ended_on && *r->ended_on;
    if (have_occurred && have_ended && ended < occurred)
        pufa_errors_add(errs, "ended_on", "must not be before occurred_on (got %s < %s)",
                        r->ended_on, r->occurred_on);

    check_enum(errs, PUFA_ENUM_THEME, r->theme);
    check_enum(errs, PUFA_ENUM_VENUE, r->venue);
    check_enum(errs, PUFA_ENUM_FORM, r->form);

    check_text(errs, "campaign", r->campaign, false, PUFA_NAME_MAX_CHARS, false);
    check_text(errs, "title", r->title, true, PUFA_TITLE_MAX_CHARS, true);

    for (int c = 0; c < PUFA_NCOUNTERS; c++) {
        const char *field = pufa_counter_names[c];
        if (pufa_errors_has(errs, field))
            continue;
        int64_t v = r->counters[c];
        if (v < 0)
            pufa_errors_add(errs, field, "must be >= 0 (got %lld)", (long long)v);
        else if (v > pufa_counter_max((pufa_counter)c))
            pufa_errors_add(errs, field, "must be <= %lld (got %lld)",
                            (long long)pufa_counter_max((pufa_counter)c), (long long)v);
    }

    if (errs->count > 0 || errs->truncated)
        return PUFA_EVALIDATE;
    r->occurred_day = occurred;
    r->ended_day = have_ended ? ended : occurred;
    return 0;
}
