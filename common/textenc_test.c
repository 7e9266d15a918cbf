/* Unit tests: text encodings at intake (UTF-8 / GB18030), and messages that
 * stay valid UTF-8 and reach JSON whatever the input bytes. */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "intake.h"
#include "report_csv.h"
#include "report_json.h"
#include "testlib.h"
#include "textenc.h"
#include "utf8.h"

static bool is_utf8(const char *s) {
    size_t n = strlen(s);
    return pufa_utf8_first_invalid(s, n) == n;
}

typedef struct {
    size_t ok, bad, items;
    json_t *reports; /* JSON of each valid report */
    json_t *results; /* what the collector would answer for the rejected ones */
    char first_msg[512];
} collected;

/* Builds each rejected item's JSON the way the collector does, and checks
 * every message on the way. */
static void collect(void *ctx, const pufa_intake_item *item) {
    collected *c = ctx;
    c->items++;
    if (item->ok) {
        c->ok++;
        json_array_append_new(c->reports, pufa_report_to_json(item->report));
        return;
    }
    if (!c->bad++)
        snprintf(c->first_msg, sizeof c->first_msg, "%s", item->message);
    assert_non_null(item->message);
    assert_true(is_utf8(item->message));
    assert_true(item->errs->count > 0);
    json_t *errors = json_array();
    for (int i = 0; i < item->errs->count; i++) {
        assert_true(item->errs->e[i].message[0] != '\0');
        assert_true(is_utf8(item->errs->e[i].message));
        json_t *e = json_object();
        json_object_set_new(e, "field", pufa_json_text(item->errs->e[i].field));
        json_object_set_new(e, "message", pufa_json_text(item->errs->e[i].message));
        json_array_append_new(errors, e);
    }
    json_t *res = json_object();
    json_object_set_new(res, "report_id", pufa_json_text(item->report->report_id));
    json_object_set_new(res, "errors", errors);
    json_array_append_new(c->results, res);
}

static int parse(pufa_encoding declared, const char *buf, size_t len, collected *c,
                 pufa_encoding *used, char *err, size_t errsize) {
    pufa_validate_ctx v = {.orgunits = pufa_test_orgunits(), .today = pufa_city_day(pufa_now_ms())};
    memset(c, 0, sizeof *c);
    c->reports = json_array();
    c->results = json_array();
    return pufa_intake_parse_text(PUFA_FMT_CSV, declared, buf, len, &v, collect, c, used, err,
                                  errsize);
}

static void collected_free(collected *c) {
    json_decref(c->reports);
    json_decref(c->results);
}

/* Every rejected item's JSON has a message per error, and the document is
 * valid UTF-8. */
static void assert_results_whole(const collected *c) {
    size_t i;
    json_t *res;
    json_array_foreach(c->results, i, res) {
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(res, "errors"), k, e) {
            assert_non_null(json_string_value(json_object_get(e, "field")));
            const char *m = json_string_value(json_object_get(e, "message"));
            assert_non_null(m);
            assert_true(*m != '\0');
        }
    }
    char *text = json_dumps(c->results, JSON_COMPACT);
    assert_non_null(text);
    assert_true(is_utf8(text));
    free(text);
}

/* UTF-8 -> GB18030 with iconv, as `iconv -f UTF-8 -t GB18030` does. */
static char *to_gb18030(const char *s, size_t len, size_t *outlen) {
    iconv_t cd = iconv_open("GB18030", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    size_t cap = len * 2 + 8;
    char *out = pufa_malloc(cap), *o = out, *in = (char *)s;
    size_t inleft = len, outleft = cap;
    assert_true(iconv(cd, &in, &inleft, &o, &outleft) != (size_t)-1);
    iconv_close(cd);
    *outlen = (size_t)(o - out);
    return out;
}

static void gb18030_sample_reads_like_the_utf8_sample(void **state) {
    (void)state;
    size_t ulen, glen;
    char *utf8 = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &ulen);
    assert_non_null(utf8);
    char *gb = to_gb18030(utf8, ulen, &glen);
    assert_true(glen != ulen || memcmp(gb, utf8, ulen) != 0);
    collected a, b, d;
    pufa_encoding used;
    char err[512];
    assert_int_equal(parse(PUFA_ENC_AUTO, utf8, ulen, &a, &used, err, sizeof err), 0);
    assert_int_equal(used, PUFA_ENC_UTF8);
    assert_int_equal(a.ok, 24);
    /* Not declared: detected, and said so. */
    assert_int_equal(parse(PUFA_ENC_AUTO, gb, glen, &b, &used, err, sizeof err), 0);
    assert_int_equal(used, PUFA_ENC_GB18030);
    assert_int_equal(b.ok, 24);
    assert_int_equal(b.bad, 0);
    assert_true(json_equal(a.reports, b.reports));
    /* Declared. */
    assert_int_equal(parse(PUFA_ENC_GB18030, gb, glen, &d, &used, err, sizeof err), 0);
    assert_int_equal(d.ok, 24);
    assert_true(json_equal(a.reports, d.reports));
    collected_free(&d);
    /* Declared UTF-8 but GB18030: refused once, line and offset named. */
    assert_int_equal(parse(PUFA_ENC_UTF8, gb, glen, &d, &used, err, sizeof err), PUFA_EPARSE);
    assert_int_equal(d.items, 0);
    size_t off = pufa_utf8_first_invalid(gb, glen);
    char want[64];
    snprintf(want, sizeof want, "line 2 is not UTF-8 (byte offset %zu: 0x", off);
    assert_contains(err, want);
    assert_contains(err, "CSV UTF-8");
    collected_free(&d);
    collected_free(&a);
    collected_free(&b);
    free(gb);
    free(utf8);
}

static void boms_of_either_encoding_are_read(void **state) {
    (void)state;
    size_t ulen, glen;
    char *utf8 = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &ulen);
    char *bom = pufa_malloc(ulen + 3);
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, utf8, ulen);
    collected c;
    pufa_encoding used;
    char err[512];
    assert_int_equal(parse(PUFA_ENC_AUTO, bom, ulen + 3, &c, &used, err, sizeof err), 0);
    assert_int_equal(used, PUFA_ENC_UTF8);
    assert_int_equal(c.ok, 24);
    collected_free(&c);
    /* GB18030's own BOM (U+FEFF = 84 31 95 33). */
    char *gb = to_gb18030(bom, ulen + 3, &glen);
    assert_memory_equal(gb, "\x84\x31\x95\x33", 4);
    assert_int_equal(parse(PUFA_ENC_AUTO, gb, glen, &c, &used, err, sizeof err), 0);
    assert_int_equal(used, PUFA_ENC_GB18030);
    assert_int_equal(c.ok, 24);
    collected_free(&c);
    free(gb);
    free(bom);
    free(utf8);
}

static void neither_encoding_is_refused_once_with_line_and_offset(void **state) {
    (void)state;
    size_t ulen;
    char *utf8 = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &ulen);
    /* 0xFF (in neither encoding) at the start of line 4's second field. */
    const char *p = utf8;
    for (int line = 1; line < 4; line++)
        p = strchr(p, '\n') + 1;
    size_t off = (size_t)(strchr(p, ',') + 1 - utf8);
    char *bad = pufa_malloc(ulen + 1);
    memcpy(bad, utf8, off);
    bad[off] = '\xFF';
    memcpy(bad + off + 1, utf8 + off, ulen - off);
    collected c;
    char err[512];
    for (int enc = PUFA_ENC_AUTO; enc <= PUFA_ENC_UTF8; enc++) {
        assert_int_equal(parse((pufa_encoding)enc, bad, ulen + 1, &c, NULL, err, sizeof err),
                         PUFA_EPARSE);
        assert_int_equal(c.items, 0); /* once, not per line */
        char want[64];
        snprintf(want, sizeof want, "line 4 is not UTF-8 (byte offset %zu: 0xFF)", off);
        assert_contains(err, want);
        assert_contains(err, "CSV UTF-8");
        assert_true(is_utf8(err));
        collected_free(&c);
    }
    assert_contains(err, "declared UTF-8");
    assert_int_equal(parse(PUFA_ENC_AUTO, bad, ulen + 1, &c, NULL, err, sizeof err), PUFA_EPARSE);
    assert_contains(err, "neither UTF-8 nor GB18030");
    assert_contains(err, "is not GB18030 (byte offset ");
    collected_free(&c);
    free(bad);
    free(utf8);
}

static void charset_comes_from_the_content_type(void **state) {
    (void)state;
    pufa_encoding e;
    char err[128];
    assert_int_equal(pufa_encoding_from_content_type("text/csv", &e, err, sizeof err), 0);
    assert_int_equal(e, PUFA_ENC_AUTO);
    assert_int_equal(pufa_encoding_from_content_type(NULL, &e, err, sizeof err), 0);
    assert_int_equal(e, PUFA_ENC_AUTO);
    assert_int_equal(
        pufa_encoding_from_content_type("text/csv; charset=GB18030", &e, err, sizeof err), 0);
    assert_int_equal(e, PUFA_ENC_GB18030);
    assert_int_equal(pufa_encoding_from_content_type("text/csv;header=present; charset=\"gbk\"", &e,
                                                     err, sizeof err),
                     0);
    assert_int_equal(e, PUFA_ENC_GB18030);
    assert_int_equal(
        pufa_encoding_from_content_type("text/csv; charset=utf-8", &e, err, sizeof err), 0);
    assert_int_equal(e, PUFA_ENC_UTF8);
    assert_int_equal(
        pufa_encoding_from_content_type("text/csv; charset=latin1", &e, err, sizeof err),
        PUFA_EINVAL);
    assert_contains(err, "unsupported charset 'latin1'");
    assert_int_equal(
        pufa_encoding_from_content_type("text/csv; charset=\xff\xfe", &e, err, sizeof err),
        PUFA_EINVAL);
    assert_true(is_utf8(err));
    assert_int_equal(pufa_encoding_parse("GB2312", &e), 0);
    assert_int_equal(e, PUFA_ENC_GB18030);
    assert_int_equal(pufa_encoding_parse("auto", &e), 0);
    assert_int_equal(e, PUFA_ENC_AUTO);
    assert_int_equal(pufa_encoding_parse("big5", &e), PUFA_EINVAL);
}

static void escape_never_splits_a_character(void **state) {
    (void)state;
    char out[16];
    assert_int_equal(pufa_utf8_escape(out, sizeof out,
                                      "a\xff"
                                      "b",
                                      3),
                     6);
    assert_string_equal(out, "a\\xFFb");
    /* 宪 is 3 bytes: 5 of them do not fit in 15 + NUL. */
    pufa_utf8_escape(out, sizeof out, "宪宪宪宪宪宪", 18);
    assert_string_equal(out, "宪宪宪宪宪");
    pufa_utf8_escape(out, 8, "abcde\xff", 6);
    assert_string_equal(out, "abcde");
    pufa_utf8_escape(out, sizeof out, "\xe5\xae", 2); /* a cut character */
    assert_string_equal(out, "\\xE5\\xAE");
    pufa_utf8_escape(out, sizeof out, "x\0y", 3);
    assert_string_equal(out, "x\\x00y");
    json_t *j = pufa_json_text("got \xc3(");
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "got \\xC3(");
    json_decref(j);
    j = pufa_json_text(NULL);
    assert_string_equal(json_string_value(j), "");
    json_decref(j);
}

typedef struct {
    pufa_validate_ctx v;
    collected c;
} row_ctx;

static void on_raw_row(void *ctx, size_t line, pufa_report *r, pufa_errors *errs) {
    row_ctx *rc = ctx;
    pufa_report_validate(r, &rc->v, errs);
    char detail[900], msg[1024];
    pufa_errors_format(errs, detail, sizeof detail);
    snprintf(msg, sizeof msg, "line %zu: %s", line, detail);
    pufa_intake_item item = {
        .line = line, .ok = errs->count == 0, .report = r, .errs = errs, .message = msg};
    collect(&rc->c, &item);
}

static void error_messages_are_utf8_whatever_the_bytes(void **state) {
    (void)state;
    /* The message builder: raw bytes and long Chinese text cut short. */
    pufa_errors errs;
    pufa_errors_init(&errs);
    pufa_errors_add(&errs, "theme", "must be one of the theme codes or labels (got %s)",
                    "\xbf\xb9\xb7\xa8\xff");
    char long_title[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(long_title, "宪");
    pufa_errors_add(&errs, "title", "is odd (got %s)", long_title);
    assert_int_equal(errs.count, 2);
    for (int i = 0; i < errs.count; i++)
        assert_true(errs.e[i].message[0] && is_utf8(errs.e[i].message));
    assert_contains(errs.e[0].message, "(got \\xBF\\xB9\\xB7\\xA8\\xFF)");
    char small[100];
    assert_true(is_utf8(pufa_errors_format(&errs, small, sizeof small)));

    /* A CSV holding bytes that are not UTF-8, and a long Chinese value. */
    const char *header = "report_id,revision,county_code,unit_code,occurred_on,theme,venue,"
                         "form,title,participants\n";
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_puts(&b, header);
    pufa_buf_puts(&b, "3ceaaf30-8142-48ea-91d9-3080f9b439fc,\xc3,150821,SFJ,2025-05-12,"
                      "\xcf\xdc\xb7\xa8,\xff,\xe5\xae,t,\xa1\xa1\n");
    /* A valid theme of 30 characters: its quote is cut at a character. */
    pufa_buf_puts(&b, "4ceaaf30-8142-48ea-91d9-3080f9b439fc,1,150821,SFJ,2025-05-12,");
    for (int i = 0; i < 30; i++)
        pufa_buf_puts(&b, "娱");
    pufa_buf_puts(&b, ",社区,讲座,t,1\n");
    /* Through the intake, bytes that are not UTF-8 are refused as a
     * whole (with a clean message)... */
    collected c;
    char err[512];
    assert_int_equal(parse(PUFA_ENC_AUTO, b.data, b.len, &c, NULL, err, sizeof err), PUFA_EPARSE);
    assert_true(is_utf8(err));
    collected_free(&c);
    /* ...and the reader (a public API) fed it directly, each row
     * validated as intake does: every message is still whole. */
    row_ctx rc = {.v = {.orgunits = pufa_test_orgunits(), .today = pufa_city_day(pufa_now_ms())}};
    rc.c.reports = json_array();
    rc.c.results = json_array();
    assert_int_equal(pufa_csv_each_report(b.data, b.len, on_raw_row, &rc, err, sizeof err), 0);
    assert_int_equal(rc.c.bad, 2);
    assert_results_whole(&rc.c);
    char *text = json_dumps(rc.c.results, JSON_COMPACT);
    assert_contains(text, "\\xFF"); /* venue's byte, escaped, in the JSON */
    free(text);
    collected_free(&rc.c);
    /* A header cell that is not UTF-8: the whole-file error is clean too. */
    const char *bad_header = "report_id,\xff\xfe\n";
    assert_int_equal(
        pufa_csv_each_report(bad_header, strlen(bad_header), on_raw_row, &rc, err, sizeof err),
        PUFA_EPARSE);
    assert_contains(err, "unknown column '\\xFF\\xFE'");
    pufa_buf_free(&b);
}

/* Deterministic mutations of the sample (bytes flipped, cut anywhere):
 * whatever the intake answers, its messages are valid UTF-8 and the JSON
 * built from them has every message. */
static void mutated_files_never_leak_bad_bytes(void **state) {
    (void)state;
    size_t ulen;
    char *utf8 = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &ulen);
    size_t glen;
    char *gb = to_gb18030(utf8, ulen, &glen);
    uint32_t seed = 12345;
    size_t refused = 0, rejected_items = 0;
    for (int round = 0; round < 400; round++) {
        const char *src = round % 2 ? gb : utf8;
        size_t len = round % 2 ? glen : ulen;
        char *m = pufa_malloc(len);
        memcpy(m, src, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1664525u + 1013904223u;
            m[(seed >> 8) % len] = (char)(seed >> 24);
        }
        seed = seed * 1664525u + 1013904223u;
        size_t cut = round % 3 == 0 ? (seed >> 8) % len : len;
        collected c;
        char err[512] = "";
        int rc = parse(PUFA_ENC_AUTO, m, cut, &c, NULL, err, sizeof err);
        if (rc) {
            refused++;
            assert_true(err[0] && is_utf8(err));
        }
        rejected_items += c.bad;
        assert_results_whole(&c);
        collected_free(&c);
        free(m);
    }
    /* The mutations did reach both outcomes. */
    assert_true(refused > 0);
    assert_true(rejected_items > 0);
    free(gb);
    free(utf8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gb18030_sample_reads_like_the_utf8_sample),
        cmocka_unit_test(boms_of_either_encoding_are_read),
        cmocka_unit_test(neither_encoding_is_refused_once_with_line_and_offset),
        cmocka_unit_test(charset_comes_from_the_content_type),
        cmocka_unit_test(escape_never_splits_a_character),
        cmocka_unit_test(error_messages_are_utf8_whatever_the_bytes),
        cmocka_unit_test(mutated_files_never_leak_bad_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
