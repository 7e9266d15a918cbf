/* Integration test: offices with Excel — XLSX through every door of the
 * collector (pufa validate, HTTP, pufa submit, the drop folder), row numbers
 * as Excel shows them, hostile workbooks, with the real aggregator and
 * PostgreSQL (with-pg.sh).  argv: [--libreoffice] PUFA_BIN AGGREGATOR_BIN
 * COLLECTOR_BIN; --libreoffice runs only the template filled by LibreOffice
 * Calc, and exits 77 (skipped) when LibreOffice is not installed. */
#include <dirent.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "httpc.h"
#include "intake.h"
#include "itest.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"

static const char *pufa_bin, *agg_bin, *col_bin;
static pufa_proc agg, col;
static char agg_port[16], col_port[16];
static char tmpdir[64];
static char *drop, *token_file;
static const char *TOKEN = "excel-test-token-0123456789";
static PGconn *db;

/* ---- processes ---- */

static void start_aggregator(void) {
    const char *extra[] = {"--insecure", "--home", PUFA_TEST_HOME, NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, NULL);
    char ep[128];
    if (!pufa_itest_agg_wait(&agg, ep, NULL, NULL, 0, 10000))
        fail_msg("aggregator did not start");
    snprintf(agg_port, sizeof agg_port, "%s", strrchr(ep, ':') + 1);
}

static void start_collector(void) {
    char *aggr = pufa_asprintf("tcp://127.0.0.1:%s", agg_port);
    char *spool = pufa_asprintf("%s/spool", tmpdir);
    const char *extra[] = {"--insecure",    "--drop", drop,          "--token-file", token_file,
                           "--ack-timeout", "1s",     "--heartbeat", "500ms",        NULL};
    pufa_itest_col_start(&col, col_bin, "150821", aggr, spool, extra, NULL);
    if (!pufa_itest_col_wait(&col, col_port))
        fail_msg("collector did not start");
    free(aggr);
    free(spool);
}

/* ---- helpers ---- */

static int post(const char *body, size_t len, const char *ctype, json_t **out) {
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports", col_port);
    char *hdr = pufa_asprintf("Authorization: Bearer %s\r\nContent-Type: %s\r\n", TOKEN, ctype);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request("POST", url, hdr, body, len, 60000, &r, err, sizeof err);
    free(url);
    free(hdr);
    if (rc)
        fail_msg("POST: %s", err);
    json_error_t jerr;
    *out = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
    if (!*out)
        fail_msg("not JSON (%d): %s", r.status, r.body.data ? r.body.data : "");
    pufa_buf_free(&r.body);
    return r.status;
}

static void sh_ok(const char *cmd) {
    int st;
    char *out = pufa_itest_run_out(cmd, &st);
    if (st)
        fail_msg("%s: exit %d: %s", cmd, st, out);
    free(out);
}

/* The text of the files a shell pattern names once it contains want: the
 * drop folder logs its verdict before it moves the file and writes the
 * .error beside it.  Caller frees. */
static char *wait_file_text(const char *pattern, const char *want, int timeout_ms) {
    char *cmd = pufa_asprintf("cat %s 2>/dev/null", pattern);
    long long deadline = pufa_mono_ms() + timeout_ms;
    char *out = NULL;
    for (;;) {
        int st;
        free(out);
        out = pufa_itest_run_out(cmd, &st);
        if (strstr(out, want) || pufa_mono_ms() >= deadline)
            break;
        pufa_sleep_ms(50);
    }
    free(cmd);
    return out;
}

static long long count_prefix(const char *prefix) {
    char *sql =
        pufa_asprintf("SELECT count(*) FROM reports WHERE report_id::text LIKE '%s%%'", prefix);
    long long n = pufa_itest_sql_ll(db, sql);
    free(sql);
    return n;
}

static bool wait_count(const char *prefix, long long want, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (pufa_mono_ms() < deadline) {
        if (count_prefix(prefix) == want)
            return true;
        pufa_sleep_ms(100);
    }
    return false;
}

/* Count, counter sums and a digest of the text fields of the reports
 * `where` selects, in the order of their content (not their ids). */
static char *totals_where(const char *where) {
    char *sql = pufa_asprintf(
        "SELECT count(*) || ' reports, participants ' || sum(participants) || ', sessions ' || "
        "sum(sessions) || ', materials ' || sum(materials) || ', funds_fen ' || sum(funds_fen) "
        "|| ', text ' || md5(string_agg(t, '|' ORDER BY t)) FROM (SELECT unit_code || unit_name "
        "|| title || campaign || township || theme || venue || form || occurred_on || "
        "participants AS t, * FROM reports WHERE %s) r",
        where);
    char *v = pufa_itest_sql_str(db, sql);
    free(sql);
    return v;
}

static char *door_totals(const char *prefix) {
    char *where = pufa_asprintf("report_id::text LIKE '%s%%'", prefix);
    char *v = totals_where(where);
    free(where);
    return v;
}

/* The sample CSV as a workbook (tests/support/xlsx_files.py), its ids
 * starting with prefix. */
static char *sample_xlsx(const char *name, const char *prefix) {
    char *path = pufa_asprintf("%s/%s", tmpdir, name);
    char *cmd = pufa_asprintf("'%s/tests/support/xlsx_files.py' from-csv '%s' '%s' %s 2>&1",
                              getenv("PUFA_SOURCE_DIR"), pufa_test_data_path("sample_reports.csv"),
                              path, prefix);
    sh_ok(cmd);
    free(cmd);
    return path;
}

static long vm_hwm_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

/* ---- setup ---- */

static int group_setup(void **state) {
    (void)state;
    if (pufa_itest_setup_db(tmpdir, sizeof tmpdir, "excel", pufa_bin, pufa_test_demo_tree_path(),
                            pufa_test_data_path("units.csv"), &db))
        return -1;
    drop = pufa_asprintf("%s/drop", tmpdir);
    mkdir(drop, 0755);
    token_file = pufa_asprintf("%s/token", tmpdir);
    FILE *f = fopen(token_file, "w");
    fprintf(f, "%s\n", TOKEN);
    fclose(f);
    chmod(token_file, 0600);
    start_aggregator();
    start_collector();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (col.pid > 0)
        pufa_proc_stop(&col, SIGTERM, 15000);
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 15000);
    PQfinish(db);
    pufa_test_rm_rf(tmpdir);
    free(drop);
    free(token_file);
    return 0;
}

/* ---- tests ---- */

static void xlsx_sample_through_every_door_same_totals(void **state) {
    (void)state;
    enum { CSV_HTTP, XLSX_HTTP, XLSX_SNIFFED, XLSX_SUBMIT, XLSX_DROP, NDOORS };
    char prefix[NDOORS][9];
    for (int d = 0; d < NDOORS; d++)
        pufa_itest_id_prefix(prefix[d]);
    /* The CSV itself, over HTTP, for the reference totals. */
    size_t len;
    char *csv = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &len);
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n'))
        memcpy(line + 1, prefix[CSV_HTTP], 8);
    json_t *resp;
    assert_int_equal(post(csv, len, "text/csv", &resp), 202);
    json_decref(resp);
    free(csv);

    char *files[NDOORS] = {0};
    for (int d = XLSX_HTTP; d < NDOORS; d++) {
        char name[32];
        snprintf(name, sizeof name, "door-%d.xlsx", d);
        files[d] = sample_xlsx(name, prefix[d]);
    }
    /* pufa validate. */
    int st;
    char *cmd = pufa_asprintf("'%s' validate --org-units '%s' '%s' 2>&1", pufa_bin,
                              pufa_test_data_path("org_units.csv"), files[XLSX_SUBMIT]);
    char *out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 0);
    assert_contains(out, "door-3.xlsx: 24 valid, 0 invalid");
    free(out);
    free(cmd);
    /* HTTP, with the XLSX content type and with none that says so. */
    const char *ctypes[] = {
        [XLSX_HTTP] = PUFA_XLSX_CONTENT_TYPE, [XLSX_SNIFFED] = "application/octet-stream"};
    for (int d = XLSX_HTTP; d <= XLSX_SNIFFED; d++) {
        char *body = pufa_test_read_file(files[d], &len);
        assert_int_equal(post(body, len, ctypes[d], &resp), 202);
        assert_int_equal(json_integer_value(json_object_get(resp, "accepted")), 24);
        /* Row numbers as Excel shows them: the header is row 1. */
        json_t *first = json_array_get(json_object_get(resp, "results"), 0);
        assert_int_equal(json_integer_value(json_object_get(first, "line")), 2);
        json_decref(resp);
        free(body);
    }
    /* pufa submit. */
    cmd = pufa_asprintf("'%s' submit --quiet --url http://127.0.0.1:%s --token-file '%s' '%s' 2>&1",
                        pufa_bin, col_port, token_file, files[XLSX_SUBMIT]);
    out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 0);
    assert_contains(out, "summary: 24 accepted, 0 rejected, 24 reports in 1 file");
    free(out);
    free(cmd);
    /* The drop folder; Excel's lock file beside it is left alone. */
    char *lock = pufa_asprintf("%s/~$week.xlsx", drop);
    FILE *f = fopen(lock, "w");
    fputs("owner", f);
    fclose(f);
    char *final = pufa_asprintf("%s/week.xlsx", drop);
    assert_int_equal(rename(files[XLSX_DROP], final), 0);
    assert_true(
        pufa_proc_wait_log(&col, "file=week.xlsx accepted=24 rejected=0", NULL, NULL, 0, 10000));
    /* Every door's totals equal the CSV's. */
    for (int d = 0; d < NDOORS; d++)
        assert_true(wait_count(prefix[d], 24, 30000));
    char *want = door_totals(prefix[CSV_HTTP]);
    assert_contains(want, "24 reports, participants ");
    for (int d = XLSX_HTTP; d < NDOORS; d++) {
        char *got = door_totals(prefix[d]);
        assert_string_equal(got, want);
        free(got);
    }
    printf("# every door: %s\n", want);
    struct stat sb;
    assert_int_equal(stat(lock, &sb), 0); /* still there, never read */
    assert_int_equal(pufa_proc_count_log(&col, "~$week.xlsx"), 0);
    free(want);
    free(lock);
    free(final);
    for (int d = 0; d < NDOORS; d++)
        free(files[d]);
}

/* Two bad rows: each door names them by Excel's row number. */
static void xlsx_two_bad_rows_named_by_excel_row(void **state) {
    (void)state;
    char prefix[9];
    pufa_itest_id_prefix(prefix);
    char *path = sample_xlsx("bad.xlsx", prefix);
    /* Row 5: participants -5; row 9: an unknown theme (openpyxl edits). */
    char *cmd = pufa_asprintf(
        "/usr/bin/python3 -c \"import openpyxl,sys; wb=openpyxl.load_workbook(sys.argv[1]); "
        "ws=wb.active; h=[c.value for c in ws[1]]; "
        "ws.cell(row=5, column=h.index('participants')+1, value=-5); "
        "ws.cell(row=9, column=h.index('theme')+1, value='天气'); wb.save(sys.argv[1])\" '%s'",
        path);
    sh_ok(cmd);
    free(cmd);
    int st;
    cmd = pufa_asprintf("'%s' validate --org-units '%s' '%s' 2>&1", pufa_bin,
                        pufa_test_data_path("org_units.csv"), path);
    char *out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 65);
    assert_contains(out, "bad.xlsx:5: line 5: participants: must be >= 0 (got -5)");
    assert_contains(out, "bad.xlsx:9: line 9: theme: must be one of the theme codes or labels "
                         "(got 天气)");
    assert_contains(out, "bad.xlsx: 22 valid, 2 invalid");
    free(out);
    free(cmd);
    size_t len;
    char *body = pufa_test_read_file(path, &len);
    json_t *resp;
    assert_int_equal(post(body, len, PUFA_XLSX_CONTENT_TYPE, &resp), 400);
    assert_int_equal(json_integer_value(json_object_get(resp, "accepted")), 22);
    size_t i;
    json_t *res;
    int seen = 0;
    json_array_foreach(json_object_get(resp, "results"), i, res) {
        const char *st8 = json_string_value(json_object_get(res, "state"));
        if (strcmp(st8, "rejected"))
            continue;
        long long line = json_integer_value(json_object_get(res, "line"));
        json_t *e = json_array_get(json_object_get(res, "errors"), 0);
        const char *field = json_string_value(json_object_get(e, "field"));
        assert_true((line == 5 && !strcmp(field, "participants")) ||
                    (line == 9 && !strcmp(field, "theme")));
        seen++;
    }
    assert_int_equal(seen, 2);
    json_decref(resp);
    free(body);
    /* Dropped: done/ with the two rows in NAME.error. */
    char *final = pufa_asprintf("%s/bad.xlsx", drop);
    assert_int_equal(rename(path, final), 0);
    assert_true(
        pufa_proc_wait_log(&col, "file=bad.xlsx accepted=22 rejected=2", NULL, NULL, 0, 10000));
    cmd = pufa_asprintf("'%s'/done/*bad.xlsx.error", drop);
    const char *want = "line 5: participants: must be >= 0 (got -5)\n"
                       "line 9: theme: must be one of the theme codes or labels (got 天气)\n";
    out = wait_file_text(cmd, want, 10000);
    assert_contains(out, want);
    free(out);
    free(cmd);
    assert_true(wait_count(prefix, 22, 30000));
    free(final);
    free(path);
}

/* Hostile workbooks over HTTP and in the drop folder: each refused with a
 * clear error naming the part, the collector keeps running, its memory
 * stays bounded. */
static void hostile_xlsx_refused_collector_keeps_running(void **state) {
    (void)state;
    char *whole = sample_xlsx("whole.xlsx", "00000000");
    char *cmd = pufa_asprintf("'%s/tests/support/xlsx_files.py' hostile '%s'",
                              getenv("PUFA_SOURCE_DIR"), tmpdir);
    sh_ok(cmd);
    free(cmd);
    struct {
        const char *file;
        int status;
        const char *error;
    } cases[] = {
        {"zip-bomb.xlsx", 413,
         "xl/worksheets/sheet1.xml: 209715312 bytes uncompressed, more than the 67108864 allowed "
         "for a part"},
        {"zip-bomb-lying.xlsx", 413,
         "xl/worksheets/sheet1.xml: more than 67108864 bytes uncompressed (a zip bomb?)"},
        {"entity-bomb.xlsx", 400,
         "xl/sharedStrings.xml: a DTD (<!DOCTYPE>) is not allowed in a workbook"},
        {"million-empty-rows.xlsx", 413,
         "xl/worksheets/sheet1.xml: more than 100000 rows (empty ones count too)"},
        {"truncated.xlsx", 400,
         "not an .xlsx workbook, or a truncated one: the zip archive cannot be read"},
    };
    long long accepted_before =
        pufa_http_metric(col_port, "pufa_collector_reports_total{outcome=\"accepted\"} ");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *path = pufa_asprintf("%s/%s", tmpdir, cases[k].file);
        size_t len;
        char *body = pufa_test_read_file(path, &len);
        json_t *resp;
        assert_int_equal(post(body, len, PUFA_XLSX_CONTENT_TYPE, &resp), cases[k].status);
        assert_contains(json_string_value(json_object_get(resp, "error")), cases[k].error);
        json_decref(resp);
        free(body);
        /* The drop folder: failed/ with the reason. */
        char *final = pufa_asprintf("%s/h%zu-%s", drop, k, cases[k].file);
        assert_int_equal(rename(path, final), 0);
        char *logged = pufa_asprintf("COL-DROP-FAILED file=h%zu-%s", k, cases[k].file);
        assert_true(pufa_proc_wait_log(&col, logged, NULL, NULL, 0, 20000));
        char *pattern = pufa_asprintf("'%s'/failed/*h%zu-%s.error", drop, k, cases[k].file);
        char *out = wait_file_text(pattern, cases[k].error, 10000);
        assert_contains(out, cases[k].error);
        free(out);
        free(pattern);
        free(logged);
        free(final);
        free(path);
        assert_true(pufa_proc_alive(&col));
    }
    assert_int_equal(
        pufa_http_metric(col_port, "pufa_collector_reports_total{outcome=\"accepted\"} "),
        accepted_before);
    long hwm = vm_hwm_kib(col.pid);
    printf("# collector peak RSS after the hostile workbooks: %ld KiB\n", hwm);
    assert_true(hwm > 0 && hwm < 200 * 1024);
    free(whole);
}

/* GET /v1/template.xlsx into path; returns the HTTP status. */
static int get_template(const char *token, const char *path) {
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/template.xlsx", col_port);
    char *hdr = token ? pufa_asprintf("Authorization: Bearer %s\r\n", token) : pufa_strdup("");
    pufa_http_response r;
    char err[256];
    if (pufa_http_request("GET", url, hdr, NULL, 0, 30000, &r, err, sizeof err))
        fail_msg("GET template: %s", err);
    if (r.status == 200) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(r.body.data, 1, r.body.len, f), r.body.len);
        fclose(f);
    }
    pufa_buf_free(&r.body);
    free(url);
    free(hdr);
    return r.status;
}

/* The template filled by openpyxl (tests/support/xlsx_files.py); the ids it
 * kept, as "'id','id',…" for SQL. */
static char *fill_template(const char *tmpl, const char *out, bool bad) {
    char *cmd = pufa_asprintf("'%s/tests/support/xlsx_files.py' fill-template '%s' '%s' '%s' %s",
                              getenv("PUFA_SOURCE_DIR"), tmpl,
                              pufa_test_data_path("sample_reports.csv"), out, bad ? "bad" : "");
    int st;
    char *ids = pufa_itest_run_out(cmd, &st);
    if (st)
        fail_msg("%s: exit %d", cmd, st);
    free(cmd);
    pufa_buf list;
    pufa_buf_init(&list);
    for (char *line = strtok(ids, "\n"); line; line = strtok(NULL, "\n"))
        pufa_buf_printf(&list, "%s'%s'", list.len ? "," : "", line);
    free(ids);
    return pufa_buf_steal(&list);
}

/* The template, from the collector and from pufa template, filled by
 * openpyxl: accepted whole by pufa validate, HTTP and the drop folder, with
 * the sample's totals; with two bad rows, those rows named. */
static void template_filled_by_openpyxl_accepted_whole(void **state) {
    (void)state;
    char *from_http = pufa_asprintf("%s/template-http.xlsx", tmpdir);
    char *from_cli = pufa_asprintf("%s/template-cli.xlsx", tmpdir);
    assert_int_equal(get_template(NULL, from_http), 401);
    assert_int_equal(get_template("wrong", from_http), 401);
    assert_int_equal(get_template(TOKEN, from_http), 200);
    char *cmd = pufa_asprintf("'%s' template --county 150821 --rows 100 --org-units '%s' --units "
                              "'%s' --out '%s'",
                              pufa_bin, pufa_test_data_path("org_units.csv"),
                              pufa_test_data_path("units.csv"), from_cli);
    sh_ok(cmd);
    free(cmd);
    /* What the template holds: the titles, the drop-downs, the county. */
    cmd = pufa_asprintf(
        "/usr/bin/python3 -c \"import openpyxl,sys; wb=openpyxl.load_workbook(sys.argv[1]); "
        "ws=wb.worksheets[0]; print(wb.sheetnames, ws.freeze_panes, ws.max_row); "
        "print([c.value for c in ws[1]][:14]); print(ws['D2'].value, ws['B2'].value); "
        "print(sorted(str(v.sqref) + ' ' + str(v.formula1) for v in "
        "ws.data_validations.dataValidation)); "
        "print(wb['lists'].sheet_state)\" '%s'",
        from_http);
    int st;
    char *out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 0);
    printf("# template: %s", out);
    assert_contains(out, "['活动填报', '填写说明', 'lists'] A2 201");
    assert_contains(out,
                    "['*报告编号', '*版本', '撤回', '*县区代码', '乡镇(街道)', '*责任单位代码', "
                    "'责任单位', '*活动日期', '结束日期', '*主题', '*宣传场所', '*形式', "
                    "'宣传活动', '*标题']");
    assert_contains(out, "150821 1");
    assert_contains(out, "J2:J201 lists!$A$2:$A$17");
    assert_contains(out, "K2:K201 lists!$B$2:$B$14");
    assert_contains(out, "L2:L201 lists!$C$2:$C$11");
    assert_contains(out, "F2:F201 lists!$D$2:$D$13");
    assert_contains(out, "H2:H201 DATE(2000,1,1)");
    assert_contains(out, "hidden");
    free(out);
    free(cmd);
    /* Empty, it holds no report. */
    cmd = pufa_asprintf("'%s' validate --org-units '%s' '%s' 2>&1", pufa_bin,
                        pufa_test_data_path("org_units.csv"), from_http);
    out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 0);
    assert_contains(out, "template-http.xlsx: 0 valid, 0 invalid");
    free(out);
    free(cmd);

    /* Filled: validate, HTTP (the collector's template), drop (pufa template's). */
    char *filled_http = pufa_asprintf("%s/filled-http.xlsx", tmpdir);
    char *filled_cli = pufa_asprintf("%s/filled-cli.xlsx", tmpdir);
    char *ids_http = fill_template(from_http, filled_http, false);
    char *ids_cli = fill_template(from_cli, filled_cli, false);
    cmd = pufa_asprintf("'%s' validate --org-units '%s' '%s' 2>&1", pufa_bin,
                        pufa_test_data_path("org_units.csv"), filled_http);
    out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 0);
    assert_contains(out, "filled-http.xlsx: 24 valid, 0 invalid");
    free(out);
    free(cmd);
    size_t len;
    char *body = pufa_test_read_file(filled_http, &len);
    json_t *resp;
    assert_int_equal(post(body, len, PUFA_XLSX_CONTENT_TYPE, &resp), 202);
    assert_int_equal(json_integer_value(json_object_get(resp, "accepted")), 24);
    json_decref(resp);
    free(body);
    char *final = pufa_asprintf("%s/filled-template.xlsx", drop);
    assert_int_equal(rename(filled_cli, final), 0);
    assert_true(pufa_proc_wait_log(&col, "file=filled-template.xlsx accepted=24 rejected=0", NULL,
                                   NULL, 0, 10000));
    /* Committed, with the sample's totals (the CSV posted as it is). */
    char prefix[9];
    pufa_itest_id_prefix(prefix);
    char *csv = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &len);
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n'))
        memcpy(line + 1, prefix, 8);
    assert_int_equal(post(csv, len, "text/csv", &resp), 202);
    json_decref(resp);
    free(csv);
    assert_true(wait_count(prefix, 24, 30000));
    char *want = door_totals(prefix);
    const char *lists[] = {ids_http, ids_cli};
    for (int k = 0; k < 2; k++) {
        char *where = pufa_asprintf("report_id IN (%s)", lists[k]);
        char *n_sql = pufa_asprintf("SELECT count(*) FROM reports WHERE %s", where);
        long long deadline = pufa_mono_ms() + 30000;
        while (pufa_itest_sql_ll(db, n_sql) < 24 && pufa_mono_ms() < deadline)
            pufa_sleep_ms(100);
        char *got = totals_where(where);
        assert_string_equal(got, want);
        free(got);
        free(n_sql);
        free(where);
    }
    printf("# template filled by openpyxl: %s\n", want);
    free(want);

    /* Two bad rows: named by their Excel row numbers. */
    char *filled_bad = pufa_asprintf("%s/filled-bad.xlsx", tmpdir);
    char *ids_bad = fill_template(from_http, filled_bad, true);
    body = pufa_test_read_file(filled_bad, &len);
    assert_int_equal(post(body, len, PUFA_XLSX_CONTENT_TYPE, &resp), 400);
    assert_int_equal(json_integer_value(json_object_get(resp, "accepted")), 22);
    char *dump = json_dumps(json_object_get(resp, "results"), 0);
    assert_contains(dump, "\"line\": 5, \"report_id\"");
    free(dump);
    size_t i;
    json_t *res;
    int seen = 0;
    json_array_foreach(json_object_get(resp, "results"), i, res) {
        if (strcmp(json_string_value(json_object_get(res, "state")), "rejected"))
            continue;
        json_t *e = json_array_get(json_object_get(res, "errors"), 0);
        char got[256];
        snprintf(got, sizeof got, "%lld %s: %s", json_integer_value(json_object_get(res, "line")),
                 json_string_value(json_object_get(e, "field")),
                 json_string_value(json_object_get(e, "message")));
        assert_true(!strcmp(got, "5 participants: must be >= 0 (got -5)") ||
                    !strcmp(got, "9 theme: must be one of the theme codes or labels (got 天气)"));
        seen++;
    }
    assert_int_equal(seen, 2);
    json_decref(resp);
    free(body);
    free(ids_bad);
    free(filled_bad);
    free(final);
    free(ids_http);
    free(ids_cli);
    free(filled_http);
    free(filled_cli);
    free(from_http);
    free(from_cli);
}

/* ---- LibreOffice Calc ---- */

/* Processes whose command line contains needle: their ids in pids (up to
 * max); returns how many there are. */
static int procs_with(const char *needle, pid_t *pids, int max) {
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid())
            continue;
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[len] = '\0';
        if (strstr(buf, needle)) {
            if (n < max)
                pids[n] = (pid_t)pid;
            n++;
        }
    }
    closedir(d);
    return n;
}

static json_t *lo_file(json_t *res, int k) {
    return json_array_get(json_object_get(res, "files"), (size_t)k);
}

static long long lo_ms(json_t *o, const char *key) {
    return json_integer_value(json_object_get(o, key));
}

/* The ids lo_fill.py typed reports under, as "'id','id',…" for SQL (caller frees). */
static char *lo_ids(json_t *file) {
    pufa_buf list;
    pufa_buf_init(&list);
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(file, "ids"), i, id)
        pufa_buf_printf(&list, "%s'%s'", list.len ? "," : "", json_string_value(id));
    return list.data ? pufa_buf_steal(&list) : pufa_strdup("''");
}

/* The template downloaded from the collector three times (fresh ids each),
 * filled by LibreOffice Calc headless (tests/support/lo_fill.py: one soffice
 * with a private profile, the sample's JSONL reports typed under the Chinese
 * titles, theme, venue, form and unit picked from the drop-downs) and saved
 * as XLSX by Calc: one posted, one dropped, both committed whole with the
 * totals of the JSONL sample posted as it is; the third, with two bad rows,
 * refused row by row with Excel's row numbers. */
static void template_filled_by_libreoffice_accepted_whole(void **state) {
    (void)state;
    const char *names[] = {"post", "drop", "bad"};
    char *tmpl[3], *filled[3];
    for (int k = 0; k < 3; k++) {
        tmpl[k] = pufa_asprintf("%s/lo-template-%s.xlsx", tmpdir, names[k]);
        filled[k] = pufa_asprintf("%s/lo-filled-%s.xlsx", tmpdir, names[k]);
        assert_int_equal(get_template(TOKEN, tmpl[k]), 200);
    }
    char *work = pufa_asprintf("%s/lo", tmpdir);
    assert_int_equal(mkdir(work, 0700), 0);
    char *profile = pufa_asprintf("%s/profile", work);
    /* timeout(1) sends SIGTERM, on which lo_fill.py kills soffice's group. */
    char *cmd =
        pufa_asprintf("timeout -k 10 420 '%s/tests/support/lo_fill.py' fill '%s' '%s' "
                      "'%s' '%s' '%s' '%s' '%s' '%s:bad' 2>'%s/stderr'",
                      getenv("PUFA_SOURCE_DIR"), work, pufa_test_data_path("sample_reports.jsonl"),
                      tmpl[0], filled[0], tmpl[1], filled[1], tmpl[2], filled[2], work);
    char load[64] = "";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (!fgets(load, sizeof load, lf))
            load[0] = '\0';
        fclose(lf);
    }
    long long t0 = pufa_mono_ms();
    int st;
    char *out = pufa_itest_run_out(cmd, &st);
    long long wall = pufa_mono_ms() - t0;
    /* Whatever happened, no soffice of this profile may be left: killed by
     * id here, and then the test fails. */
    pid_t left[16];
    int nleft = procs_with(profile, left, 16);
    for (int i = 0; i < nleft && i < 16; i++)
        kill(left[i], SIGKILL);
    if (st) {
        char *log = pufa_asprintf("tail -c 3000 '%s/stderr' '%s/soffice.log' 2>&1", work, work);
        int st2;
        char *tail = pufa_itest_run_out(log, &st2);
        fail_msg("lo_fill.py: exit %d (124: timed out): %s\n%s", st, out, tail);
    }
    if (nleft)
        fail_msg("%d processes of soffice's profile %s were left running (killed now)", nleft,
                 profile);
    json_error_t jerr;
    json_t *res = json_loads(out, 0, &jerr);
    if (!res)
        fail_msg("lo_fill.py printed no JSON (%s): %s", jerr.text, out);
    printf("# load: %s", load);
    printf("# soffice: up in %lld ms (fresh profile), exit %lld ms, lo_fill.py %lld ms in all\n",
           lo_ms(res, "startup_ms"), lo_ms(res, "exit_ms"), wall);
    for (int k = 0; k < 3; k++)
        printf("# %s: open %lld ms, 24 reports typed %lld ms, stored %lld ms\n", names[k],
               lo_ms(lo_file(res, k), "open_ms"), lo_ms(lo_file(res, k), "type_ms"),
               lo_ms(lo_file(res, k), "store_ms"));
    char *shape = json_dumps(json_object_get(lo_file(res, 0), "saved"), JSON_SORT_KEYS);
    char *kinds = json_dumps(json_object_get(lo_file(res, 0), "kinds"), JSON_SORT_KEYS);
    printf("# what Calc saved: %s\n# what Calc made of the typed text: %s\n", shape, kinds);
    /* Calc typed as a person: dates and figures became values, text text;
     * theme, venue, form and unit (4 a report) came from the drop-downs. */
    assert_contains(kinds, "\"occurred_on\": \"VALUE\"");
    assert_contains(kinds, "\"participants\": \"VALUE\"");
    assert_contains(kinds, "\"funds_fen\": \"VALUE\"");
    assert_contains(kinds, "\"title\": \"TEXT\"");
    assert_contains(kinds, "\"theme\": \"TEXT\"");
    assert_true(lo_ms(lo_file(res, 0), "picked_from_drop_downs") >= 4 * 24);
    assert_contains(shape, "\"sheet\": \"活动填报\"");
    free(shape);
    free(kinds);
    char *ids[3];
    for (int k = 0; k < 3; k++) {
        ids[k] = lo_ids(lo_file(res, k));
        assert_int_equal(json_array_size(json_object_get(lo_file(res, k), "ids")), 24);
    }

    /* pufa validate, then HTTP: 24 reports from Excel's row 2 on. */
    char *v = pufa_asprintf("'%s' validate --org-units '%s' '%s' 2>&1", pufa_bin,
                            pufa_test_data_path("org_units.csv"), filled[0]);
    char *vout = pufa_itest_run_out(v, &st);
    assert_int_equal(st, 0);
    assert_contains(vout, "lo-filled-post.xlsx: 24 valid, 0 invalid");
    free(vout);
    free(v);
    size_t len;
    char *body = pufa_test_read_file(filled[0], &len);
    json_t *resp;
    assert_int_equal(post(body, len, PUFA_XLSX_CONTENT_TYPE, &resp), 202);
    assert_int_equal(json_integer_value(json_object_get(resp, "accepted")), 24);
    json_t *first = json_array_get(json_object_get(resp, "results"), 0);
    assert_int_equal(json_integer_value(json_object_get(first, "line")), 2);
    json_decref(resp);
    free(body);
    /* The drop folder. */
    char *final = pufa_asprintf("%s/lo-filled.xlsx", drop);
    assert_int_equal(rename(filled[1], final), 0);
    assert_true(pufa_proc_wait_log(&col, "file=lo-filled.xlsx accepted=24 rejected=0", NULL, NULL,
                                   0, 20000));
    /* The JSONL sample posted as it is (fresh ids): the reference totals. */
    char prefix[9];
    pufa_itest_id_prefix(prefix);
    char *jsonl = pufa_test_read_file(pufa_test_data_path("sample_reports.jsonl"), &len);
    int nlines = 0;
    for (char *p = strstr(jsonl, "\"report_id\": \""); p; p = strstr(p + 1, "\"report_id\": \"")) {
        memcpy(p + strlen("\"report_id\": \""), prefix, 8);
        nlines++;
    }
    assert_int_equal(nlines, 24);
    assert_int_equal(post(jsonl, len, "application/x-ndjson", &resp), 202);
    json_decref(resp);
    free(jsonl);
    assert_true(wait_count(prefix, 24, 30000));
    char *want = door_totals(prefix);
    for (int k = 0; k < 2; k++) {
        char *where = pufa_asprintf("report_id IN (%s)", ids[k]);
        char *n_sql = pufa_asprintf("SELECT count(*) FROM reports WHERE %s", where);
        long long deadline = pufa_mono_ms() + 30000;
        while (pufa_itest_sql_ll(db, n_sql) < 24 && pufa_mono_ms() < deadline)
            pufa_sleep_ms(100);
        assert_int_equal(pufa_itest_sql_ll(db, n_sql), 24);
        char *got = totals_where(where);
        assert_string_equal(got, want);
        free(got);
        free(n_sql);
        free(where);
    }
    printf("# template filled by LibreOffice, posted and dropped: %s\n", want);
    free(want);

    /* Two bad rows, saved by Calc: named by Excel's row numbers. */
    v = pufa_asprintf("'%s' validate --org-units '%s' '%s' 2>&1", pufa_bin,
                      pufa_test_data_path("org_units.csv"), filled[2]);
    vout = pufa_itest_run_out(v, &st);
    assert_int_equal(st, 65);
    assert_contains(vout, "lo-filled-bad.xlsx:5: line 5: participants: must be >= 0 (got -5)");
    assert_contains(vout, "lo-filled-bad.xlsx:9: line 9: theme: must be one of the theme codes or "
                          "labels (got 天气)");
    assert_contains(vout, "lo-filled-bad.xlsx: 22 valid, 2 invalid");
    free(vout);
    free(v);
    body = pufa_test_read_file(filled[2], &len);
    assert_int_equal(post(body, len, PUFA_XLSX_CONTENT_TYPE, &resp), 400);
    assert_int_equal(json_integer_value(json_object_get(resp, "accepted")), 22);
    size_t i;
    json_t *r;
    int seen = 0;
    json_array_foreach(json_object_get(resp, "results"), i, r) {
        if (strcmp(json_string_value(json_object_get(r, "state")), "rejected"))
            continue;
        json_t *e = json_array_get(json_object_get(r, "errors"), 0);
        char got[256];
        snprintf(got, sizeof got, "%lld %s: %s", json_integer_value(json_object_get(r, "line")),
                 json_string_value(json_object_get(e, "field")),
                 json_string_value(json_object_get(e, "message")));
        assert_true(!strcmp(got, "5 participants: must be >= 0 (got -5)") ||
                    !strcmp(got, "9 theme: must be one of the theme codes or labels (got 天气)"));
        seen++;
    }
    assert_int_equal(seen, 2);
    json_decref(resp);
    free(body);
    char *where = pufa_asprintf("report_id IN (%s)", ids[2]);
    char *n_sql = pufa_asprintf("SELECT count(*) FROM reports WHERE %s", where);
    long long deadline = pufa_mono_ms() + 30000;
    while (pufa_itest_sql_ll(db, n_sql) < 22 && pufa_mono_ms() < deadline)
        pufa_sleep_ms(100);
    assert_int_equal(pufa_itest_sql_ll(db, n_sql), 22);
    free(n_sql);
    free(where);

    json_decref(res);
    free(final);
    free(out);
    free(cmd);
    free(profile);
    free(work);
    for (int k = 0; k < 3; k++) {
        free(ids[k]);
        free(tmpl[k]);
        free(filled[k]);
    }
}

int main(int argc, char **argv) {
    bool libreoffice = argc > 1 && !strcmp(argv[1], "--libreoffice");
    if (libreoffice) {
        argc--;
        argv++;
    }
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh excel_test [--libreoffice] PUFA_BIN AGGREGATOR_BIN "
                        "COLLECTOR_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    col_bin = argv[3];
    if (libreoffice) {
        char *cmd = pufa_asprintf("'%s/tests/support/lo_fill.py' check", getenv("PUFA_SOURCE_DIR"));
        int st;
        char *why = pufa_itest_run_out(cmd, &st);
        free(cmd);
        if (st == 77) {
            printf("SKIP: the template filled by LibreOffice Calc cannot run here: %s", why);
            free(why);
            return 77;
        }
        if (st) {
            fprintf(stderr, "lo_fill.py check: exit %d: %s\n", st, why);
            free(why);
            return 1;
        }
        free(why);
        const struct CMUnitTest lo[] = {
            cmocka_unit_test(template_filled_by_libreoffice_accepted_whole),
        };
        return cmocka_run_group_tests(lo, group_setup, group_teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xlsx_sample_through_every_door_same_totals),
        cmocka_unit_test(xlsx_two_bad_rows_named_by_excel_row),
        cmocka_unit_test(hostile_xlsx_refused_collector_keeps_running),
        cmocka_unit_test(template_filled_by_openpyxl_accepted_whole),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
