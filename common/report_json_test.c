/* Unit tests: JSON intake, validation rules, protobuf round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "enums.h"
#include "error.h"
#include "intake.h"
#include "report_json.h"
#include "testlib.h"
#include "validate.h"
#include "wire.h"

static pufa_validate_ctx vctx(void) {
    pufa_validate_ctx c = {.orgunits = pufa_test_orgunits(), .today = pufa_city_day(pufa_now_ms())};
    return c;
}

/* Decodes and validates one JSON object given as text. */
static int check_json(const char *text, pufa_report *r, pufa_errors *errs) {
    json_error_t jerr;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    pufa_report_init(r);
    pufa_errors_init(errs);
    if (!o) {
        pufa_errors_add(errs, "report", "not JSON: %s", jerr.text);
        return PUFA_EPARSE;
    }
    pufa_validate_ctx c = vctx();
    pufa_report_from_json(o, r, errs);
    int rc = pufa_report_validate(r, &c, errs);
    json_decref(o);
    return rc;
}

typedef struct {
    size_t ok, bad;
    char last_msg[1024];
} counts;

static void count_items(void *ctx, const pufa_intake_item *item) {
    counts *c = ctx;
    if (item->ok)
        c->ok++;
    else {
        c->bad++;
        snprintf(c->last_msg, sizeof c->last_msg, "%s", item->message);
    }
}

static void every_sample_jsonl_line_is_valid(void **state) {
    (void)state;
    const char *files[] = {"sample_reports.jsonl", "sample_corrections.jsonl"};
    const size_t expect[] = {24, 2};
    for (int f = 0; f < 2; f++) {
        size_t len;
        char *buf = pufa_test_read_file(pufa_test_data_path(files[f]), &len);
        assert_non_null(buf);
        pufa_validate_ctx c = vctx();
        counts n = {0};
        char err[256];
        assert_int_equal(
            pufa_intake_parse(PUFA_FMT_JSON, buf, len, &c, count_items, &n, err, sizeof err), 0);
        if (n.bad)
            fail_msg("%s: %s", files[f], n.last_msg);
        assert_int_equal(n.ok, expect[f]);
        free(buf);
    }
}

/* The field a bad_reports.jsonl line breaks: the first word of "why" when it
 * names a field, else (e.g. "counter is a string") the counter whose value
 * has the wrong type. */
static void expected_field(const json_t *line, char *field, size_t size) {
    const char *why = json_string_value(json_object_get(line, "why"));
    const json_t *report = json_object_get(line, "report");
    size_t n = strcspn(why, " ");
    snprintf(field, size, "%.*s", (int)n, why);
    if (json_object_get(report, field) || !strcmp(field, "county_code"))
        return;
    for (int c = 0; c < PUFA_NCOUNTERS; c++) {
        const json_t *v = json_object_get(report, pufa_counter_names[c]);
        if (v && !json_is_integer(v)) {
            snprintf(field, size, "%s", pufa_counter_names[c]);
            return;
        }
    }
}

static void every_bad_report_is_rejected_naming_its_field(void **state) {
    (void)state;
    size_t len;
    char *buf = pufa_test_read_file(pufa_test_data_path("bad_reports.jsonl"), &len);
    assert_non_null(buf);
    int lines = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *doc = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
        assert_non_null(doc);
        char field[64];
        expected_field(doc, field, sizeof field);
        pufa_report r;
        pufa_errors errs;
        pufa_report_init(&r);
        pufa_errors_init(&errs);
        pufa_validate_ctx c = vctx();
        pufa_report_from_json(json_object_get(doc, "report"), &r, &errs);
        int rc = pufa_report_validate(&r, &c, &errs);
        char msg[1024];
        pufa_errors_format(&errs, msg, sizeof msg);
        if (rc != PUFA_EVALIDATE || !pufa_errors_has(&errs, field))
            fail_msg("bad report (%s) not rejected on field %s: rc=%d errors=[%s]",
                     json_string_value(json_object_get(doc, "why")), field, rc, msg);
        /* Only the broken field is named: the rest of the report is fine. */
        assert_int_equal(errs.count, 1);
        assert_string_equal(errs.e[0].field, field);
        pufa_report_clear(&r);
        json_decref(doc);
        lines++;
    }
    assert_true(lines >= 11);
    free(buf);
}

static void json_protobuf_json_round_trip_loses_nothing(void **state) {
    (void)state;
    size_t len;
    char *buf = pufa_test_read_file(pufa_test_data_path("sample_reports.jsonl"), &len);
    assert_non_null(buf);
    int n = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *orig = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
        assert_non_null(orig);
        pufa_report a, b;
        pufa_errors errs;
        pufa_report_init(&a);
        pufa_report_init(&b);
        pufa_errors_init(&errs);
        assert_int_equal(pufa_report_from_json(orig, &a, &errs), 0);
        size_t plen;
        uint8_t *pb = pufa_report_encode(&a, &plen);
        assert_int_equal(pufa_report_decode(pb, plen, &b), 0);
        free(pb);
        json_t *back = pufa_report_to_json(&b);
        /* Every field of the original comes back with the same value; enum
         * labels come back as their codes, which name the same value. */
        const char *key;
        json_t *v;
        json_object_foreach(orig, key, v) {
            json_t *w = json_object_get(back, key);
            if (!w)
                fail_msg("line %d: field %s lost in the round trip", n + 1, key);
            if (!strcmp(key, "theme") || !strcmp(key, "venue") || !strcmp(key, "form")) {
                pufa_enum_kind k = !strcmp(key, "theme")   ? PUFA_ENUM_THEME
                                   : !strcmp(key, "venue") ? PUFA_ENUM_VENUE
                                                           : PUFA_ENUM_FORM;
                assert_int_equal(pufa_enum_lookup(k, json_string_value(v)),
                                 pufa_enum_lookup(k, json_string_value(w)));
            } else if (!json_equal(v, w)) {
                char *x = json_dumps(v, JSON_ENCODE_ANY), *y = json_dumps(w, JSON_ENCODE_ANY);
                fail_msg("line %d: field %s: %s became %s", n + 1, key, x, y);
            }
        }
        /* And the round trip is a fixed point. */
        json_t *again = pufa_report_to_json(&a);
        assert_true(json_equal(again, back));
        json_decref(again);
        json_decref(back);
        json_decref(orig);
        pufa_report_clear(&a);
        pufa_report_clear(&b);
        n++;
    }
    assert_int_equal(n, 24);
    free(buf);
}

#define GOOD                                                                                       \
    "\"report_id\":\"3ceaaf30-8142-48ea-91d9-3080f9b439fc\",\"revision\":1,"                       \
    "\"county_code\":\"150821\",\"unit_code\":\"SFJ\",\"theme\":\"宪法\",\"venue\":\"社区\","  \
    "\"form\":\"讲座\",\"title\":\"宪法进社区\""

/* The base report GOOD with field key set to the JSON value text (NULL
 * text removes the key).  Returns a static string. */
static const char *variant(const char *key, const char *value_json) {
    static char out[4096];
    json_error_t jerr;
    json_t *o = json_loads("{" GOOD ",\"occurred_on\":\"2025-05-12\"}", 0, &jerr);
    if (value_json)
        json_object_set_new(o, key, json_loads(value_json, JSON_DECODE_ANY, &jerr));
    else
        json_object_del(o, key);
    char *text = json_dumps(o, JSON_COMPACT);
    snprintf(out, sizeof out, "%s", text);
    free(text);
    json_decref(o);
    return out;
}

static void assert_rejected(const char *json, const char *field, const char *rule) {
    pufa_report r;
    pufa_errors errs;
    int rc = check_json(json, &r, &errs);
    char msg[1024];
    pufa_errors_format(&errs, msg, sizeof msg);
    if (rc == 0 || !pufa_errors_has(&errs, field))
        fail_msg("%s: expected an error on %s, got [%s]", json, field, msg);
    assert_contains(msg, rule);
    pufa_report_clear(&r);
}

static void assert_accepted(const char *json) {
    pufa_report r;
    pufa_errors errs;
    int rc = check_json(json, &r, &errs);
    char msg[1024];
    pufa_errors_format(&errs, msg, sizeof msg);
    if (rc != 0)
        fail_msg("%s: expected valid, got [%s]", json, msg);
    pufa_report_clear(&r);
}

static void rules_name_field_and_rule(void **state) {
    (void)state;
    char today[11], tomorrow[11], later[11], json[2048];
    pufa_day t = pufa_city_day(pufa_now_ms());
    pufa_date_format(t, today);
    pufa_date_format(t + 1, tomorrow);
    pufa_date_format(t + 2, later);

    snprintf(json, sizeof json, "{" GOOD ",\"occurred_on\":\"%s\"}", today);
    assert_accepted(json);
    snprintf(json, sizeof json, "{" GOOD ",\"occurred_on\":\"%s\"}", tomorrow);
    assert_accepted(json);
    snprintf(json, sizeof json, "{" GOOD ",\"occurred_on\":\"%s\"}", later);
    assert_rejected(json, "occurred_on", "more than one day in the future");

    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"participants\":-5}", "participants",
                    "must be >= 0 (got -5)");
    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"banners\":4294967296}", "banners",
                    "must be <= 4294967295");
    assert_accepted("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"banners\":4294967295,"
                    "\"funds_fen\":9000000000000}");
    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"sessions\":1.5}", "sessions",
                    "must be an integer");
    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"particpants\":5}", "particpants",
                    "is not a report field");
    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"ended_on\":\"2025-05-11\"}",
                    "ended_on", "must not be before occurred_on");
    assert_rejected("{" GOOD ",\"occurred_on\":\"1999-12-31\"}", "occurred_on",
                    "on or after 2000-01-01");
    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"township\":\"a\\u0000b\"}",
                    "report", "not JSON");
    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"campaign\":\"x\\ny\"}", "campaign",
                    "control characters");
    assert_rejected("{\"report_id\":\"3ceaaf30-8142-48ea-91d9-3080f9b439fc\",\"revision\":1,"
                    "\"county_code\":\"150821\",\"unit_code\":\"司法局\",\"theme\":\"宪法\","
                    "\"venue\":\"社区\",\"form\":\"讲座\",\"title\":\"t\","
                    "\"occurred_on\":\"2025-05-12\"}",
                    "unit_code", "must be 1 to 32");
    assert_accepted("{\"report_id\":\"3ceaaf30-8142-48ea-91d9-3080f9b439fc\",\"revision\":1,"
                    "\"county_code\":\"150821\",\"unit_code\":\"SFJ\",\"theme\":\"宪法\","
                    "\"venue\":\"社区\",\"form\":\"讲座\",\"title\":\"line\\nbreak\","
                    "\"occurred_on\":\"2025-05-12\"}");
    assert_rejected(variant("venue", "99"), "venue", "unknown value 99");
    assert_rejected(variant("county_code", "\"150800\""), "county_code", "is not a known county");
    assert_rejected(variant("revision", "2147483648"), "revision", "must be <= 2147483647");
    assert_rejected(variant("title", "5"), "title", "must be a string");
    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"retracted\":\"yes\"}", "retracted",
                    "true or false");
    /* Duplicate keys: jansson refuses the document. */
    assert_rejected("{" GOOD ",\"occurred_on\":\"2025-05-12\",\"revision\":2}", "report",
                    "duplicate");
    /* Missing required fields are each named. */
    pufa_report r;
    pufa_errors errs;
    assert_int_equal(check_json("{}", &r, &errs), PUFA_EVALIDATE);
    const char *required[] = {"report_id", "revision", "county_code", "unit_code", "occurred_on",
                              "theme",     "venue",    "form",        "title"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!pufa_errors_has(&errs, required[i]))
            fail_msg("{} did not name %s", required[i]);
    pufa_report_clear(&r);
}

static void title_limit_is_200_characters_not_bytes(void **state) {
    (void)state;
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_puts(&b, "{" GOOD ",\"occurred_on\":\"2025-05-12\",\"campaign\":\"");
    for (int i = 0; i < 100; i++)
        pufa_buf_puts(&b, "法");
    pufa_buf_puts(&b, "\"}");
    /* 100 Chinese characters = 300 bytes: within the campaign limit. */
    assert_accepted(b.data);
    pufa_buf_reset(&b);
    char *title = pufa_strdup("");
    pufa_buf t;
    pufa_buf_init(&t);
    for (int i = 0; i < 200; i++)
        pufa_buf_puts(&t, "法");
    pufa_buf_printf(&b,
                    "{\"report_id\":\"3ceaaf30-8142-48ea-91d9-3080f9b439fc\",\"revision\":1,"
                    "\"county_code\":\"150821\",\"unit_code\":\"SFJ\",\"theme\":\"宪法\","
                    "\"venue\":\"社区\",\"form\":\"讲座\",\"occurred_on\":\"2025-05-12\","
                    "\"title\":\"%s\"}",
                    t.data);
    assert_accepted(b.data);
    pufa_buf_reset(&b);
    pufa_buf_puts(&t, "法");
    pufa_buf_printf(&b,
                    "{\"report_id\":\"3ceaaf30-8142-48ea-91d9-3080f9b439fc\",\"revision\":1,"
                    "\"county_code\":\"150821\",\"unit_code\":\"SFJ\",\"theme\":\"宪法\","
                    "\"venue\":\"社区\",\"form\":\"讲座\",\"occurred_on\":\"2025-05-12\","
                    "\"title\":\"%s\"}",
                    t.data);
    assert_rejected(b.data, "title", "at most 200 characters (got 201)");
    free(title);
    pufa_buf_free(&t);
    pufa_buf_free(&b);
}

static void intake_reads_arrays_objects_and_lines(void **state) {
    (void)state;
    pufa_validate_ctx c = vctx();
    counts n = {0};
    char err[256];
    const char *arr = "[{" GOOD ",\"occurred_on\":\"2025-05-12\"},{" GOOD
                      ",\"occurred_on\":\"2025-05-12\",\"participants\":-1}]";
    assert_int_equal(
        pufa_intake_parse(PUFA_FMT_JSON, arr, strlen(arr), &c, count_items, &n, err, sizeof err),
        0);
    assert_int_equal(n.ok, 1);
    assert_int_equal(n.bad, 1);
    assert_contains(n.last_msg, "item 2: participants: must be >= 0 (got -1)");

    counts m = {0};
    const char *lines = "{" GOOD ",\"occurred_on\":\"2025-05-12\"}\n\n{oops\n{" GOOD
                        ",\"occurred_on\":\"2025-05-12\"}\r\n";
    assert_int_equal(pufa_intake_parse(PUFA_FMT_JSON, lines, strlen(lines), &c, count_items, &m,
                                       err, sizeof err),
                     0);
    assert_int_equal(m.ok, 2);
    assert_int_equal(m.bad, 1);
    assert_contains(m.last_msg, "line 3: report: not valid JSON");

    counts k = {0};
    assert_int_equal(
        pufa_intake_parse(PUFA_FMT_JSON, "42", 2, &c, count_items, &k, err, sizeof err),
        PUFA_EPARSE);
    assert_contains(err, "expected a JSON object or array");
    assert_int_equal(
        pufa_intake_parse(PUFA_FMT_JSON, "[1,", 3, &c, count_items, &k, err, sizeof err),
        PUFA_EPARSE);
    assert_int_equal(k.ok + k.bad, 0);
}

static void batch_decode_caps_size_and_count(void **state) {
    (void)state;
    Pufa__ReportBatch *b = NULL;
    uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(pufa_batch_decode(junk, sizeof junk, &b), PUFA_EPARSE);
    assert_int_equal(pufa_batch_decode(junk, PUFA_MAX_FRAME_BYTES + 1, &b), PUFA_ETOOBIG);
    /* Too many (empty) reports. */
    Pufa__ReportBatch big = PUFA__REPORT_BATCH__INIT;
    big.n_reports = PUFA_MAX_BATCH_REPORTS + 1;
    big.reports = pufa_calloc(big.n_reports, sizeof(Pufa__ActivityReport *));
    Pufa__ActivityReport empty = PUFA__ACTIVITY_REPORT__INIT;
    for (size_t i = 0; i < big.n_reports; i++)
        big.reports[i] = &empty;
    size_t len = pufa__report_batch__get_packed_size(&big);
    uint8_t *buf = pufa_malloc(len);
    pufa__report_batch__pack(&big, buf);
    assert_int_equal(pufa_batch_decode(buf, len, &b), PUFA_ETOOBIG);
    free(buf);
    free(big.reports);
}

int main(void) {
    pufa_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_sample_jsonl_line_is_valid),
        cmocka_unit_test(every_bad_report_is_rejected_naming_its_field),
        cmocka_unit_test(json_protobuf_json_round_trip_loses_nothing),
        cmocka_unit_test(rules_name_field_and_rule),
        cmocka_unit_test(title_limit_is_200_characters_not_bytes),
        cmocka_unit_test(intake_reads_arrays_objects_and_lines),
        cmocka_unit_test(batch_decode_caps_size_and_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
