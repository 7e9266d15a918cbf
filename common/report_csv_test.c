/* Unit tests: CSV intake and writing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "intake.h"
#include "report_csv.h"
#include "report_json.h"
#include "testlib.h"

typedef struct {
    size_t ok, bad;
    json_t *reports; /* JSON of each valid report, in order */
    char msgs[8][512];
} collected;

static void collect(void *ctx, const pufa_intake_item *item) {
    collected *c = ctx;
    if (item->ok) {
        c->ok++;
        json_array_append_new(c->reports, pufa_report_to_json(item->report));
    } else {
        if (c->bad < 8)
            snprintf(c->msgs[c->bad], sizeof c->msgs[0], "%s", item->message);
        c->bad++;
    }
}

static int parse(pufa_intake_format fmt, const char *buf, size_t len, collected *c, char *err,
                 size_t errsize) {
    pufa_validate_ctx v = {.orgunits = pufa_test_orgunits(), .today = pufa_city_day(pufa_now_ms())};
    memset(c, 0, sizeof *c);
    c->reports = json_array();
    return pufa_intake_parse(fmt, buf, len, &v, collect, c, err, errsize);
}

static void sample_csv_is_valid_and_equals_the_jsonl(void **state) {
    (void)state;
    size_t clen, jlen;
    char *csv = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &clen);
    char *jsonl = pufa_test_read_file(pufa_test_data_path("sample_reports.jsonl"), &jlen);
    assert_non_null(csv);
    assert_non_null(jsonl);
    collected a, b;
    char err[256];
    assert_int_equal(parse(PUFA_FMT_CSV, csv, clen, &a, err, sizeof err), 0);
    if (a.bad)
        fail_msg("sample CSV: %s", a.msgs[0]);
    assert_int_equal(a.ok, 24);
    assert_int_equal(parse(PUFA_FMT_JSON, jsonl, jlen, &b, err, sizeof err), 0);
    assert_int_equal(b.ok, 24);
    assert_true(json_equal(a.reports, b.reports));
    json_decref(a.reports);
    json_decref(b.reports);
    free(csv);
    free(jsonl);
}

static const char *HEADER =
    "report_id,revision,county_code,unit_code,occurred_on,theme,venue,form,title,participants";

static void csv_handles_bom_crlf_quotes_and_embedded_newlines(void **state) {
    (void)state;
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_puts(&b, "\xEF\xBB\xBF");
    pufa_buf_puts(&b, HEADER);
    pufa_buf_puts(&b, "\r\n");
    pufa_buf_puts(&b, "3ceaaf30-8142-48ea-91d9-3080f9b439fc,1,150821,SFJ,2025-05-12,宪法,社区,"
                      "讲座,\"He said \"\"hi\"\", twice\",5\r\n");
    pufa_buf_puts(&b, "4ceaaf30-8142-48ea-91d9-3080f9b439fc,1,150821,SFJ,2025-05-12,civil_code,"
                      "school,quiz,\"  two\nlines  \",\r\n");
    collected c;
    char err[256];
    assert_int_equal(parse(PUFA_FMT_CSV, b.data, b.len, &c, err, sizeof err), 0);
    if (c.bad)
        fail_msg("%s", c.msgs[0]);
    assert_int_equal(c.ok, 2);
    json_t *r0 = json_array_get(c.reports, 0), *r1 = json_array_get(c.reports, 1);
    assert_string_equal(json_string_value(json_object_get(r0, "title")), "He said \"hi\", twice");
    assert_int_equal(json_integer_value(json_object_get(r0, "participants")), 5);
    /* Spaces are kept verbatim; an empty counter is 0. */
    assert_string_equal(json_string_value(json_object_get(r1, "title")), "  two\nlines  ");
    assert_int_equal(json_integer_value(json_object_get(r1, "participants")), 0);
    json_decref(c.reports);
    pufa_buf_free(&b);
}

/* The reader takes a CSV a few KiB at a time: rows, quoted newlines and a
 * bad row across the chunk boundaries come out whole, in order, with
 * their record numbers. */
static void csv_reader_rows_cross_chunk_boundaries(void **state) {
    (void)state;
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_printf(&b, "%s\r\n", HEADER);
    const int rows = 200;
    for (int i = 0; i < rows; i++)
        pufa_buf_printf(&b,
                        "%08x-8142-48ea-91d9-3080f9b439fc,1,150821,SFJ,2025-05-12,宪法,社区,"
                        "讲座,\"row %d, \"\"quoted\"\"\nsecond line\",%s\r\n",
                        i, i, i == 150 ? "x" : "7");
    assert_true(b.len > 3 * 4096);
    pufa_validate_ctx v = {.orgunits = pufa_test_orgunits(), .today = pufa_city_day(pufa_now_ms())};
    pufa_intake_reader *rd;
    char err[256];
    assert_int_equal(pufa_intake_open(PUFA_FMT_CSV, PUFA_ENC_AUTO, b.data, b.len, &v, &rd, NULL,
                                      err, sizeof err),
                     0);
    const pufa_intake_item *item;
    int n = 0;
    while ((item = pufa_intake_next(rd))) {
        assert_int_equal(item->index, n);
        assert_int_equal(item->line, n + 2);
        if (n == 150) {
            assert_false(item->ok);
            assert_contains(item->message, "line 152: participants: must be an integer (got x)");
        } else {
            if (!item->ok)
                fail_msg("row %d: %s", n, item->message);
            char want[64];
            snprintf(want, sizeof want, "row %d, \"quoted\"\nsecond line", n);
            assert_string_equal(item->report->title, want);
            assert_int_equal(item->report->counters[PUFA_C_PARTICIPANTS], 7);
        }
        n++;
    }
    assert_int_equal(n, rows);
    assert_int_equal(pufa_intake_close(&rd, err, sizeof err), 0);
    assert_null(rd);
    pufa_buf_free(&b);
}

static void csv_bad_rows_name_line_and_field_and_keep_good_rows(void **state) {
    (void)state;
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_printf(&b, "%s\n", HEADER);
    pufa_buf_puts(&b, "3ceaaf30-8142-48ea-91d9-3080f9b439fc,1,150821,SFJ,2025-05-12,宪法,社区,"
                      "讲座,ok,5\n");
    pufa_buf_puts(&b, "4ceaaf30-8142-48ea-91d9-3080f9b439fc,1,150821,SFJ,2025-05-12,宪法,社区,"
                      "讲座,bad,很多\n");
    pufa_buf_puts(&b, "5ceaaf30-8142-48ea-91d9-3080f9b439fc,1,999999,SFJ,2025-05-12,宪法,社区,"
                      "讲座,bad\n");
    collected c;
    char err[256];
    assert_int_equal(parse(PUFA_FMT_CSV, b.data, b.len, &c, err, sizeof err), 0);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.bad, 2);
    assert_contains(c.msgs[0], "line 3: participants: must be an integer (got 很多)");
    assert_contains(c.msgs[1], "line 4: ");
    assert_contains(c.msgs[1], "row: 9 fields where the header has 10");
    assert_contains(c.msgs[1], "county_code: is not a known county (got 999999)");
    json_decref(c.reports);
    pufa_buf_free(&b);
}

static void csv_whole_file_errors(void **state) {
    (void)state;
    collected c;
    char err[256];
    const char *unknown = "report_id,revision,colour\n";
    assert_int_equal(parse(PUFA_FMT_CSV, unknown, strlen(unknown), &c, err, sizeof err),
                     PUFA_EPARSE);
    assert_contains(err, "unknown column 'colour'");
    json_decref(c.reports);
    const char *missing = "report_id,revision\n";
    assert_int_equal(parse(PUFA_FMT_CSV, missing, strlen(missing), &c, err, sizeof err),
                     PUFA_EPARSE);
    assert_contains(err, "required column 'county_code' is missing");
    json_decref(c.reports);
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_printf(&b,
                    "%s\n3ceaaf30-8142-48ea-91d9-3080f9b439fc,1,150821,SFJ,2025-05-12,宪法,"
                    "社区,讲座,\"unterminated,5\n",
                    HEADER);
    assert_int_equal(parse(PUFA_FMT_CSV, b.data, b.len, &c, err, sizeof err), PUFA_EPARSE);
    assert_contains(err, "ends inside a quoted field");
    json_decref(c.reports);
    assert_int_equal(parse(PUFA_FMT_CSV, "", 0, &c, err, sizeof err), PUFA_EPARSE);
    assert_contains(err, "empty file");
    json_decref(c.reports);
    pufa_buf_free(&b);
}

static void csv_write_then_read_round_trips(void **state) {
    (void)state;
    size_t jlen;
    char *jsonl = pufa_test_read_file(pufa_test_data_path("sample_reports.jsonl"), &jlen);
    collected a, b;
    char err[256];
    assert_int_equal(parse(PUFA_FMT_JSON, jsonl, jlen, &a, err, sizeof err), 0);
    pufa_buf out;
    pufa_buf_init(&out);
    pufa_csv_write_header(&out);
    size_t i;
    json_t *o;
    json_array_foreach(a.reports, i, o) {
        pufa_report r;
        pufa_errors errs;
        pufa_report_init(&r);
        pufa_errors_init(&errs);
        assert_int_equal(pufa_report_from_json(o, &r, &errs), 0);
        if (i == 0) {
            const char *t = "=1+1, \"quoted\"\r\nnext";
            pufa_report_set_str(&r.title, t, strlen(t));
        }
        pufa_csv_write_report(&out, &r);
        pufa_report_clear(&r);
    }
    assert_int_equal(parse(PUFA_FMT_CSV, out.data, out.len, &b, err, sizeof err), 0);
    assert_int_equal(b.ok, 24);
    assert_string_equal(json_string_value(json_object_get(json_array_get(b.reports, 0), "title")),
                        "=1+1, \"quoted\"\r\nnext");
    json_object_set_new(json_array_get(a.reports, 0), "title",
                        json_string("=1+1, \"quoted\"\r\nnext"));
    assert_true(json_equal(a.reports, b.reports));
    json_decref(a.reports);
    json_decref(b.reports);
    pufa_buf_free(&out);
    free(jsonl);
}

static void formula_guard_quotes_dangerous_cells(void **state) {
    (void)state;
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_csv_write_cell(&b, "=1+1", true);
    pufa_buf_putc(&b, '|');
    pufa_csv_write_cell(&b, "@SUM(A1)", true);
    pufa_buf_putc(&b, '|');
    pufa_csv_write_cell(&b, "-5", true);
    pufa_buf_putc(&b, '|');
    pufa_csv_write_cell(&b, "普法", true);
    pufa_buf_putc(&b, '|');
    pufa_csv_write_cell(&b, "=1+1", false);
    pufa_buf_putc(&b, '|');
    /* Found by fuzz_export: readers that trim unquoted fields lost edge spaces. */
    pufa_csv_write_cell(&b, "trailing ", true);
    pufa_buf_putc(&b, '|');
    pufa_csv_write_cell(&b, " leading", true);
    assert_string_equal(b.data,
                        "\"'=1+1\"|\"'@SUM(A1)\"|\"'-5\"|普法|=1+1|\"trailing \"|\" leading\"");
    pufa_buf_free(&b);
}

int main(void) {
    pufa_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sample_csv_is_valid_and_equals_the_jsonl),
        cmocka_unit_test(csv_handles_bom_crlf_quotes_and_embedded_newlines),
        cmocka_unit_test(csv_bad_rows_name_line_and_field_and_keep_good_rows),
        cmocka_unit_test(csv_reader_rows_cross_chunk_boundaries),
        cmocka_unit_test(csv_whole_file_errors),
        cmocka_unit_test(csv_write_then_read_round_trips),
        cmocka_unit_test(formula_guard_quotes_dangerous_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
