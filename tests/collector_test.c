/* Integration test: pufa-collector with the real aggregator and
 * PostgreSQL (with-pg.sh).  argv: PUFA_BIN AGGREGATOR_BIN COLLECTOR_BIN. */
#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "cells.h"
#include "httpc.h"
#include "itest.h"
#include "proc.h"
#include "report_json.h"
#include "testlib.h"
#include "uuid.h"

static const char *pufa_bin, *agg_bin, *col_bin;
static pufa_proc agg, col;
static char agg_port[16], col_port[16];
static char tmpdir[64];
static PGconn *db;

/* ---- processes ---- */

static void start_aggregator(void) {
    char *listen = agg_port[0] ? pufa_asprintf("tcp://127.0.0.1:%s", agg_port)
                               : pufa_strdup("tcp://127.0.0.1:0");
    const char *extra[] = {"--insecure", "--home", PUFA_TEST_HOME, NULL};
    pufa_itest_agg_start(&agg, agg_bin, extra, &(pufa_itest_agg_opts){.listen = listen});
    char ep[128];
    if (!pufa_itest_agg_wait(&agg, ep, NULL, NULL, 0, 10000))
        fail_msg("aggregator did not start");
    snprintf(agg_port, sizeof agg_port, "%s", strrchr(ep, ':') + 1);
    free(listen);
}

static void stop_aggregator(void) {
    int st = pufa_proc_stop(&agg, SIGTERM, 15000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* extra: NULL-terminated extra flags */
static void start_collector(const char *spool, const char *drop, const char *quota) {
    char *aggr = pufa_asprintf("tcp://127.0.0.1:%s", agg_port);
    const char *argv[32] = {
        col_bin,         "--insecure",  "--county",      "150821",
        "--aggregator",  aggr,          "--spool",       spool,
        "--http",        "127.0.0.1:0", "--org-units",   pufa_test_data_path("org_units.csv"),
        "--ack-timeout", "1s",          "--backoff-max", "2s",
        "--heartbeat",   "500ms"};
    int n = 18;
    if (drop) {
        argv[n++] = "--drop";
        argv[n++] = drop;
    }
    if (quota) {
        argv[n++] = "--spool-quota";
        argv[n++] = quota;
    }
    argv[n] = NULL;
    pufa_proc_start(&col, (char *const *)argv, NULL);
    if (!pufa_itest_col_wait(&col, col_port))
        fail_msg("collector did not start");
    free(aggr);
}

static void stop_collector(void) {
    int st = pufa_proc_stop(&col, SIGTERM, 15000);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        pufa_proc_dump(&col);
        fail_msg("collector did not exit 0 on SIGTERM (status %d)", st);
    }
}

/* ---- reports ---- */

static json_t *sample_template(void) {
    size_t len;
    char *buf = pufa_test_read_file(pufa_test_data_path("sample_reports.jsonl"), &len);
    json_error_t jerr;
    char *nl = strchr(buf, '\n');
    *nl = '\0';
    json_t *o = json_loads(buf, 0, &jerr);
    free(buf);
    json_object_set_new(o, "county_code", json_string("150821"));
    return o;
}

/* n new reports with fresh ids (ids[i] gets each id). */
static json_t *make_reports(size_t n, char (*ids)[37]) {
    json_t *tmpl = sample_template();
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_deep_copy(tmpl);
        uint8_t id[16];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, ids[i]);
        json_object_set_new(o, "report_id", json_string(ids[i]));
        json_object_set_new(o, "participants", json_integer((json_int_t)(i % 1000)));
        json_array_append_new(arr, o);
    }
    json_decref(tmpl);
    return arr;
}

/* POSTs a JSON body; returns the status (0 when the connection failed). */
static int post(const char *body, size_t len, const char *ctype, json_t **out) {
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports", col_port);
    char *hdr = pufa_asprintf("Content-Type: %s\r\n", ctype);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request("POST", url, hdr, body, len, 30000, &r, err, sizeof err);
    free(url);
    free(hdr);
    if (rc)
        return 0;
    if (out) {
        json_error_t jerr;
        *out = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
    }
    pufa_buf_free(&r.body);
    return r.status;
}

static int post_json(json_t *arr, json_t **out) {
    char *body = json_dumps(arr, JSON_COMPACT);
    int st = post(body, strlen(body), "application/json", out);
    free(body);
    return st;
}

/* How many of ids are stored. */
static long long count_ids(char (*ids)[37], size_t n) {
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++)
        pufa_buf_printf(&b, "%s%s", i ? "," : "", ids[i]);
    pufa_buf_putc(&b, '}');
    const char *p[1] = {b.data};
    PGresult *r = PQexecParams(db, "SELECT count(*) FROM reports WHERE report_id = ANY($1::uuid[])",
                               1, NULL, p, NULL, NULL, 0);
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    pufa_buf_free(&b);
    return v;
}

static long long metric(const char *name) {
    return pufa_http_metric(col_port, name);
}

/* Waits until cond() or the deadline. */
static bool wait_for_ids(char (*ids)[37], size_t n, long long want, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (pufa_mono_ms() < deadline) {
        if (count_ids(ids, n) == want)
            return true;
        pufa_sleep_ms(100);
    }
    return false;
}

static bool wait_spool_empty(int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (pufa_mono_ms() < deadline) {
        if (metric("pufa_collector_spool_reports ") == 0 &&
            metric("pufa_collector_in_flight_reports ") == 0)
            return true;
        pufa_sleep_ms(100);
    }
    return false;
}

static void assert_rollups_match_reports(void) {
    assert_cells_equal_reports(db, "rollup_live");
    assert_int_equal(
        pufa_itest_sql_ll(db,
                          "SELECT coalesce(sum(reports), 0) FROM rollup_live WHERE dim = 'total'"),
        pufa_itest_sql_ll(db, "SELECT count(*) FROM reports WHERE NOT retracted"));
    assert_int_equal(
        pufa_itest_sql_ll(
            db, "SELECT coalesce(sum(participants), 0) FROM rollup_live WHERE dim = 'total'"),
        pufa_itest_sql_ll(db, "SELECT coalesce(sum(participants), 0) FROM reports WHERE NOT "
                              "retracted"));
}

/* ---- setup ---- */

static int group_setup(void **state) {
    (void)state;
    if (pufa_itest_setup_db(tmpdir, sizeof tmpdir, "col", pufa_bin, pufa_test_demo_tree_path(),
                            pufa_test_data_path("units.csv"), &db))
        return -1;
    start_aggregator();
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (col.pid > 0)
        pufa_proc_stop(&col, SIGKILL, 5000);
    if (agg.pid > 0)
        pufa_proc_stop(&agg, SIGTERM, 15000);
    PQfinish(db);
    pufa_test_rm_rf(tmpdir);
    return 0;
}

/* ---- tests ---- */

/* SIGKILLs the collector once kill_after requests were acknowledged, and
 * delay_ms later: mid-stream by construction, while a request may be in
 * flight. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t acked, kill_after;
    bool stop;
    int delay_ms;
    pid_t pid;
} killer;

static void killer_acked(killer *k) {
    pthread_mutex_lock(&k->mu);
    k->acked++;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void *kill_later(void *arg) {
    killer *k = arg;
    pthread_mutex_lock(&k->mu);
    while (k->acked < k->kill_after && !k->stop)
        pthread_cond_wait(&k->cv, &k->mu);
    bool stop = k->stop;
    pthread_mutex_unlock(&k->mu);
    if (stop)
        return NULL;
    pufa_sleep_ms(k->delay_ms);
    kill(k->pid, SIGKILL);
    return NULL;
}

static void sigkill_during_10000_posts_loses_nothing_acknowledged(void **state) {
    (void)state;
    const size_t N = 10000, PER = 100;
    char(*ids)[37] = pufa_calloc(N, 37);
    json_t *all = make_reports(N, ids);
    char *spool = pufa_asprintf("%s/spool-kill", tmpdir);
    start_collector(spool, NULL, NULL);
    bool *acked = pufa_calloc(N / PER, sizeof *acked);
    unsigned seed = (unsigned)pufa_now_ms();
    killer k = {.mu = PTHREAD_MUTEX_INITIALIZER,
                .cv = PTHREAD_COND_INITIALIZER,
                .kill_after = 5 + rand_r(&seed) % 76,
                .delay_ms = (int)(rand_r(&seed) % 16),
                .pid = col.pid};
    printf("# SIGKILL %d ms after request %zu of %zu was acknowledged (seed %u)\n", k.delay_ms,
           k.kill_after, N / PER, seed);
    pthread_t t;
    pthread_create(&t, NULL, kill_later, &k);
    size_t sent_before_kill = 0;
    for (size_t c = 0; c < N / PER; c++) {
        json_t *chunk = json_array();
        for (size_t i = 0; i < PER; i++)
            json_array_append(chunk, json_array_get(all, c * PER + i));
        int st = post_json(chunk, NULL);
        json_decref(chunk);
        if (st == 202) {
            acked[c] = true;
            sent_before_kill++;
            killer_acked(&k);
        } else if (st == 0) {
            break; /* the collector is gone */
        } else {
            fail_msg("request %zu: status %d before the kill", c, st);
        }
    }
    pthread_mutex_lock(&k.mu);
    k.stop = true; /* all sent before it fired: the check below fails */
    pthread_cond_signal(&k.cv);
    pthread_mutex_unlock(&k.mu);
    pthread_join(t, NULL);
    int died = pufa_proc_stop(&col, SIGKILL, 5000);
    long long stored_at_kill = count_ids(ids, N);
    printf("# %zu of %zu requests acknowledged before the kill, %lld reports stored then\n",
           sent_before_kill, N / PER, stored_at_kill);
    /* The kill landed mid-stream: some requests acknowledged before it, some
     * left for after the restart, and the collector died of it. */
    assert_true(WIFSIGNALED(died) && WTERMSIG(died) == SIGKILL);
    assert_true(sent_before_kill >= k.kill_after);
    assert_true(sent_before_kill < N / PER);
    assert_true(stored_at_kill < (long long)N);
    /* Restart on the same spool; the county system resends what got no 202. */
    start_collector(spool, NULL, NULL);
    size_t sent_after = 0;
    for (size_t c = 0; c < N / PER; c++) {
        if (acked[c])
            continue;
        json_t *chunk = json_array();
        for (size_t i = 0; i < PER; i++)
            json_array_append(chunk, json_array_get(all, c * PER + i));
        assert_int_equal(post_json(chunk, NULL), 202);
        json_decref(chunk);
        acked[c] = true;
        sent_after++;
    }
    assert_int_equal(sent_before_kill + sent_after, N / PER);
    if (!wait_for_ids(ids, N, (long long)N, 60000)) {
        pufa_proc_dump(&col);
        fail_msg("only %lld of %zu acknowledged reports reached PostgreSQL", count_ids(ids, N), N);
    }
    assert_true(wait_spool_empty(30000));
    assert_rollups_match_reports();
    stop_collector();
    json_decref(all);
    free(acked);
    free(ids);
    free(spool);
}

static char *last_segment(const char *spool) {
    char *cmd = pufa_asprintf("ls %s/*.seg | sort | tail -n 1", spool);
    FILE *p = popen(cmd, "r");
    static char path[512];
    path[0] = '\0';
    if (fgets(path, sizeof path, p))
        path[strcspn(path, "\n")] = '\0';
    pclose(p);
    free(cmd);
    return path;
}

static void aggregator_down_intake_goes_on_then_delivers(void **state) {
    (void)state;
    char *spool = pufa_asprintf("%s/spool-down", tmpdir);
    stop_aggregator();
    start_collector(spool, NULL, NULL);
    const size_t N = 500;
    char(*ids)[37] = pufa_calloc(N, 37);
    json_t *all = make_reports(N, ids);
    for (size_t c = 0; c < 5; c++) {
        json_t *chunk = json_array();
        for (size_t i = 0; i < 100; i++)
            json_array_append(chunk, json_array_get(all, c * 100 + i));
        assert_int_equal(post_json(chunk, NULL), 202);
        json_decref(chunk);
    }
    pufa_sleep_ms(1500); /* resends fail meanwhile */
    assert_int_equal(metric("pufa_collector_spool_reports "), (long long)N);
    assert_int_equal(count_ids(ids, N), 0);
    /* Torn tail: stop, cut the last record in half, start again. */
    stop_collector();
    char *seg = last_segment(spool);
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(truncate(seg, st.st_size - 7), 0);
    start_collector(spool, NULL, NULL);
    assert_true(pufa_proc_count_log(&col, "COL-SPOOL-TORN") == 1);
    assert_int_equal(metric("pufa_collector_spool_reports "), (long long)N - 1);
    start_aggregator();
    assert_true(wait_for_ids(ids, N, (long long)N - 1, 30000));
    assert_true(wait_spool_empty(30000));
    assert_int_equal(count_ids(ids + N - 1, 1), 0); /* the cut one, and only it, is gone */
    assert_rollups_match_reports();
    stop_collector();
    json_decref(all);
    free(ids);
    free(spool);
}

static void quota_reached_answers_503_and_loses_nothing(void **state) {
    (void)state;
    char *spool = pufa_asprintf("%s/spool-quota", tmpdir);
    stop_aggregator();
    start_collector(spool, NULL, "64KiB");
    const size_t N = 2000;
    char(*ids)[37] = pufa_calloc(N, 37);
    json_t *all = make_reports(N, ids);
    size_t accepted = 0;
    json_t *resp = NULL;
    int st = 0;
    for (size_t c = 0; c < N / 50; c++) {
        json_t *chunk = json_array();
        for (size_t i = 0; i < 50; i++)
            json_array_append(chunk, json_array_get(all, c * 50 + i));
        st = post_json(chunk, &resp);
        json_decref(chunk);
        if (st != 202)
            break;
        accepted += 50;
        json_decref(resp);
        resp = NULL;
    }
    assert_int_equal(st, 503);
    assert_contains(json_string_value(json_object_get(resp, "error")), "spool quota reached");
    json_decref(resp);
    assert_true(accepted > 0 && accepted < N);
    start_aggregator();
    assert_true(wait_for_ids(ids, accepted, (long long)accepted, 30000));
    assert_true(wait_spool_empty(30000));
    /* Room again. */
    json_t *chunk = json_array();
    json_array_append(chunk, json_array_get(all, N - 1));
    assert_int_equal(post_json(chunk, NULL), 202);
    json_decref(chunk);
    assert_true(wait_for_ids(ids + N - 1, 1, 1, 30000));
    /* Nothing refused with the 503 was stored. */
    assert_int_equal(count_ids(ids + accepted, N - 1 - accepted), 0);
    stop_collector();
    json_decref(all);
    free(ids);
    free(spool);
}

static void drop_folder_csv_with_two_bad_lines(void **state) {
    (void)state;
    char *spool = pufa_asprintf("%s/spool-drop", tmpdir);
    char *drop = pufa_asprintf("%s/drop", tmpdir);
    start_collector(spool, drop, NULL);
    /* 20 rows; rows on file lines 5 and 12 are bad. */
    char(*ids)[37] = pufa_calloc(20, 37);
    pufa_buf csv;
    pufa_buf_init(&csv);
    pufa_buf_puts(&csv, "\xEF\xBB\xBFreport_id,revision,county_code,unit_code,unit_name,"
                        "occurred_on,theme,venue,form,campaign,title,sessions,participants\r\n");
    for (int i = 0; i < 20; i++) {
        uint8_t id[16];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, ids[i]);
        int line = i + 2;
        const char *participants = line == 5 ? "-3" : "120";
        const char *theme = line == 12 ? "娱乐" : "宪法";
        pufa_buf_printf(&csv,
                        "%s,1,150821,SFJ,司法局,2025-12-0%d,%s,社区,讲座,宪法宣传周,"
                        "\"宪法进社区, 第%d场\",1,%s\r\n",
                        ids[i], 1 + i % 5, theme, i + 1, participants);
    }
    char *tmp = pufa_asprintf("%s/.week.csv.tmp", drop);
    char *final = pufa_asprintf("%s/week.csv", drop);
    FILE *f = fopen(tmp, "wb");
    fwrite(csv.data, 1, csv.len, f);
    fclose(f);
    assert_int_equal(rename(tmp, final), 0);
    assert_true(pufa_proc_wait_log(&col, "COL-DROP-DONE", NULL, NULL, 0, 10000));
    assert_true(wait_for_ids(ids, 20, 18, 30000));
    /* done/ holds the file and its .error naming lines 5 and 12. */
    char *cmd = pufa_asprintf("cat %s/done/*week.csv.error", drop);
    FILE *p = popen(cmd, "r");
    char errors[2048] = "";
    size_t n = fread(errors, 1, sizeof errors - 1, p);
    errors[n] = '\0';
    pclose(p);
    free(cmd);
    assert_contains(errors, "line 5: participants: must be >= 0 (got -3)");
    assert_contains(errors, "line 12: theme: must be one of the theme codes or labels (got 娱乐)");
    /* The same file again: no duplicates. */
    f = fopen(tmp, "wb");
    fwrite(csv.data, 1, csv.len, f);
    fclose(f);
    assert_int_equal(rename(tmp, final), 0);
    long long deadline = pufa_mono_ms() + 10000;
    while (pufa_proc_count_log(&col, "COL-DROP-DONE") < 2 && pufa_mono_ms() < deadline)
        pufa_sleep_ms(50);
    assert_int_equal(pufa_proc_count_log(&col, "COL-DROP-DONE"), 2);
    assert_true(wait_spool_empty(30000));
    assert_int_equal(count_ids(ids, 20), 18);
    assert_true(metric("pufa_collector_reports_total{outcome=\"duplicate\"} ") == 18);
    /* The delivery state of one of them. */
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports/%s", col_port, ids[0]);
    pufa_http_response r;
    char err[256];
    assert_int_equal(pufa_http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err), 0);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.data, "\"state\":\"duplicate\"");
    pufa_buf_free(&r.body);
    free(url);
    stop_collector();
    pufa_buf_free(&csv);
    free(tmp);
    free(final);
    free(ids);
    free(spool);
    free(drop);
}

static void submit_sample_csv_prints_24_accepted(void **state) {
    (void)state;
    char *spool = pufa_asprintf("%s/spool-submit", tmpdir);
    start_collector(spool, NULL, NULL);
    long long before = pufa_itest_sql_ll(db, "SELECT count(*) FROM reports");
    char *cmd = pufa_asprintf("'%s' submit --url http://127.0.0.1:%s '%s' 2>&1", pufa_bin, col_port,
                              pufa_test_data_path("sample_reports.csv"));
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_contains(out, "summary: 24 accepted, 0 rejected, 24 reports in 1 file");
    free(cmd);
    /* Bad reports: the summary names them and the exit code says so. */
    cmd = pufa_asprintf("'%s' submit --url http://127.0.0.1:%s '%s' 2>&1", pufa_bin, col_port,
                        pufa_test_data_path("bad_reports.jsonl"));
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    st = pclose(p);
    assert_int_equal(WEXITSTATUS(st), 65);
    assert_contains(out, "rejected");
    free(cmd);
    assert_true(wait_spool_empty(30000));
    /* The 24 reached PostgreSQL (new ids in this database), the bad file's
     * reports did not. */
    assert_int_equal(pufa_itest_sql_ll(db, "SELECT count(*) FROM reports"), before + 24);
    assert_rollups_match_reports();
    stop_collector();
    free(spool);
}

static void bad_http_input_gets_clear_errors(void **state) {
    (void)state;
    char *spool = pufa_asprintf("%s/spool-bad", tmpdir);
    start_collector(spool, NULL, NULL);
    json_t *resp = NULL;
    /* Not JSON: read as JSON Lines, line 1 is refused with the parser's reason. */
    assert_int_equal(post("{\"oops\"", 7, "application/json", &resp), 400);
    json_t *bad = json_array_get(json_object_get(resp, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(bad, "state")), "rejected");
    assert_contains(json_string_value(json_object_get(
                        json_array_get(json_object_get(bad, "errors"), 0), "message")),
                    "not valid JSON");
    json_decref(resp);
    /* Neither object nor array: the body as a whole is unreadable. */
    assert_int_equal(post("42", 2, "application/json", &resp), 400);
    assert_contains(json_string_value(json_object_get(resp, "error")), "unreadable body");
    json_decref(resp);
    /* Too large: 413 before the body is read. */
    char *huge = pufa_calloc(1, 17 * 1024 * 1024);
    memset(huge, ' ', 17 * 1024 * 1024 - 1);
    assert_int_equal(post(huge, strlen(huge), "application/json", NULL), 413);
    free(huge);
    assert_int_equal(post("[]", 2, "application/json", &resp), 400);
    json_decref(resp);
    /* One good, one bad: 400, the good one spooled. */
    char ids[2][37];
    json_t *two = make_reports(2, ids);
    json_object_set_new(json_array_get(two, 1), "participants", json_integer(-5));
    assert_int_equal(post_json(two, &resp), 400);
    json_t *r0 = json_array_get(json_object_get(resp, "results"), 0);
    json_t *r1 = json_array_get(json_object_get(resp, "results"), 1);
    assert_string_equal(json_string_value(json_object_get(r0, "state")), "spooled");
    assert_string_equal(json_string_value(json_object_get(r1, "state")), "rejected");
    json_t *e = json_array_get(json_object_get(r1, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "participants");
    json_decref(resp);
    json_decref(two);
    assert_true(wait_for_ids(ids, 1, 1, 30000));
    assert_true(wait_spool_empty(30000));
    assert_int_equal(count_ids(ids + 1, 1), 0); /* the rejected one never went out */
    assert_true(pufa_proc_alive(&col));
    stop_collector();
    free(spool);
}

/* ---- encodings ---- */

/* The sample CSV with every report id's first 8 hex digits replaced by
 * prefix (fresh reports per door), written to path as UTF-8 or, through
 * iconv(1), as GB18030; ids gets the 24 ids. */
static void write_sample_as(const char *path, const char *prefix, bool gb18030, char (*ids)[37]) {
    size_t len;
    char *buf = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &len);
    assert_non_null(buf);
    size_t n = 0;
    for (char *line = strchr(buf, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        memcpy(line + 1, prefix, 8);
        assert_true(n < 24);
        memcpy(ids[n], line + 1, 36);
        ids[n++][36] = '\0';
    }
    assert_int_equal(n, 24);
    char *tmp = pufa_asprintf("%s.utf8", path);
    FILE *f = fopen(gb18030 ? tmp : path, "wb");
    assert_non_null(f);
    fwrite(buf, 1, len, f);
    fclose(f);
    if (gb18030) {
        char *cmd = pufa_asprintf("iconv -f UTF-8 -t GB18030 '%s' > '%s'", tmp, path);
        assert_int_equal(pufa_sh(cmd), 0);
        free(cmd);
    }
    unlink(tmp);
    free(tmp);
    free(buf);
}

/* Count, counter sums and a digest of the text fields of the reports
 * whose ids start with prefix, keyed by the rest of the id. */
static char *door_totals(const char *prefix) {
    char *sql = pufa_asprintf(
        "SELECT count(*) || ' reports, participants ' || sum(participants) || ', sessions ' || "
        "sum(sessions) || ', materials ' || sum(materials) || ', online_views ' || "
        "sum(online_views) || ', funds_fen ' || sum(funds_fen) || ', text ' || "
        "md5(string_agg(substr(report_id::text, 9) || unit_name || title || campaign || "
        "township || theme || venue || form, '|' ORDER BY substr(report_id::text, 9))) "
        "FROM reports WHERE report_id::text LIKE '%s%%'",
        prefix);
    char *v = pufa_itest_sql_str(db, sql);
    free(sql);
    return v;
}

static char *read_file_text(const char *pattern) {
    char *cmd = pufa_asprintf("cat %s", pattern);
    int st;
    char *out = pufa_itest_run_out(cmd, &st);
    free(cmd);
    return out;
}

static void gb18030_sample_through_every_door_same_totals(void **state) {
    (void)state;
    char *spool = pufa_asprintf("%s/spool-enc", tmpdir);
    char *drop = pufa_asprintf("%s/drop-enc", tmpdir);
    start_collector(spool, drop, NULL);
    enum { UTF8_HTTP, GB_HTTP_AUTO, GB_HTTP_DECLARED, GB_SUBMIT, GB_DROP, NDOORS };
    char prefix[NDOORS][9];
    char(*ids)[37] = pufa_calloc(NDOORS * 24, 37);
    char *files[NDOORS];
    for (int d = 0; d < NDOORS; d++) {
        pufa_itest_id_prefix(prefix[d]);
        files[d] = pufa_asprintf("%s/enc-%d.csv", tmpdir, d);
        write_sample_as(files[d], prefix[d], d != UTF8_HTTP, ids + 24 * d);
    }
    /* pufa validate: detected, said so, all valid. */
    int st;
    char *cmd = pufa_asprintf("'%s' validate --org-units '%s' '%s' 2>&1", pufa_bin,
                              pufa_test_data_path("org_units.csv"), files[GB_SUBMIT]);
    char *out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 0);
    assert_contains(out, "read as GB18030 (not UTF-8)");
    assert_contains(out, "24 valid, 0 invalid");
    free(out);
    free(cmd);
    /* Declared UTF-8: refused once, line and offset named. */
    cmd = pufa_asprintf("'%s' validate --encoding utf-8 --org-units '%s' '%s' 2>&1", pufa_bin,
                        pufa_test_data_path("org_units.csv"), files[GB_SUBMIT]);
    out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 65);
    assert_contains(out, "declared UTF-8, but line 2 is not UTF-8 (byte offset");
    assert_contains(out, "0 valid, 1 invalid");
    free(out);
    free(cmd);
    cmd = pufa_asprintf("'%s' validate --encoding big5 '%s' 2>&1", pufa_bin, files[GB_SUBMIT]);
    out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 64);
    assert_contains(out, "--encoding: want utf-8, gb18030 or auto (got big5)");
    free(out);
    free(cmd);
    /* HTTP: UTF-8, GB18030 detected, GB18030 declared. */
    const char *ctypes[] = {"text/csv", "text/csv", "text/csv; charset=GB18030"};
    const char *encs[] = {"utf-8", "gb18030", "gb18030"};
    for (int d = UTF8_HTTP; d <= GB_HTTP_DECLARED; d++) {
        size_t len;
        char *body = pufa_test_read_file(files[d], &len);
        json_t *resp = NULL;
        assert_int_equal(post(body, len, ctypes[d], &resp), 202);
        assert_int_equal(json_integer_value(json_object_get(resp, "accepted")), 24);
        assert_string_equal(json_string_value(json_object_get(resp, "encoding")), encs[d]);
        json_decref(resp);
        free(body);
    }
    /* pufa submit. */
    cmd = pufa_asprintf("'%s' submit --quiet --url http://127.0.0.1:%s '%s' 2>&1", pufa_bin,
                        col_port, files[GB_SUBMIT]);
    out = pufa_itest_run_out(cmd, &st);
    assert_int_equal(st, 0);
    assert_contains(out, "read as GB18030 (not UTF-8)");
    assert_contains(out, "summary: 24 accepted, 0 rejected, 24 reports in 1 file");
    free(out);
    free(cmd);
    /* The drop folder. */
    char *final = pufa_asprintf("%s/week-gb.csv", drop);
    assert_int_equal(rename(files[GB_DROP], final), 0);
    assert_true(pufa_proc_wait_log(&col, "file=week-gb.csv accepted=24 rejected=0 encoding=gb18030",
                                   NULL, NULL, 0, 10000));
    /* Everything committed; each door's totals equal the UTF-8 file's. */
    assert_true(wait_for_ids(ids, NDOORS * 24, NDOORS * 24, 30000));
    assert_true(wait_spool_empty(30000));
    char *want = door_totals(prefix[UTF8_HTTP]);
    assert_contains(want, "24 reports, participants ");
    for (int d = GB_HTTP_AUTO; d < NDOORS; d++) {
        char *got = door_totals(prefix[d]);
        assert_string_equal(got, want);
        free(got);
    }
    printf("# every door: %s\n", want);
    free(want);
    assert_rollups_match_reports();

    /* A file that is neither encoding: refused once, with line and offset,
     * over HTTP and in the drop folder; nothing spooled. */
    size_t len;
    char *body = pufa_test_read_file(pufa_test_data_path("sample_reports.csv"), &len);
    char *third = body;
    for (int i = 0; i < 3; i++)
        third = strchr(third, '\n') + 1;
    size_t off = (size_t)(third - body);
    body[off] = '\xFF'; /* the start of line 4 */
    long long spooled = metric("pufa_collector_reports_total{outcome=\"accepted\"} ");
    json_t *resp = NULL;
    assert_int_equal(post(body, len, "text/csv", &resp), 400);
    const char *err = json_string_value(json_object_get(resp, "error"));
    assert_non_null(err);
    char where[64];
    snprintf(where, sizeof where, "line 4 is not UTF-8 (byte offset %zu: 0xFF)", off);
    assert_contains(err, where);
    assert_contains(err, "CSV UTF-8");
    assert_null(json_object_get(resp, "results"));
    json_decref(resp);
    assert_int_equal(post(body, len, "text/csv; charset=latin1", &resp), 415);
    assert_contains(json_string_value(json_object_get(resp, "error")), "unsupported charset");
    json_decref(resp);
    char *tmp = pufa_asprintf("%s/.bad.csv.tmp", drop);
    char *bad = pufa_asprintf("%s/bad.csv", drop);
    FILE *f = fopen(tmp, "wb");
    fwrite(body, 1, len, f);
    fclose(f);
    assert_int_equal(rename(tmp, bad), 0);
    assert_true(pufa_proc_wait_log(&col, "COL-DROP-FAILED file=bad.csv", NULL, NULL, 0, 10000));
    char *pattern = pufa_asprintf("%s/failed/*bad.csv.error", drop);
    char *errors = read_file_text(pattern);
    assert_contains(errors, where);
    /* Once for the file, not once per line. */
    assert_true(strchr(errors, '\n') == errors + strlen(errors) - 1);
    assert_int_equal(metric("pufa_collector_reports_total{outcome=\"accepted\"} "), spooled);

    /* A message that once lost its text in JSON: a 30-character theme,
     * quoted back cut in the middle of a character. */
    const char *header = "report_id,revision,county_code,unit_code,occurred_on,theme,venue,"
                         "form,title\n";
    pufa_buf csv;
    pufa_buf_init(&csv);
    pufa_buf_printf(&csv, "%s%s,1,150821,SFJ,2025-12-01,", header, ids[0]);
    for (int i = 0; i < 30; i++)
        pufa_buf_puts(&csv, "娱");
    pufa_buf_puts(&csv, ",社区,讲座,t\n");
    assert_int_equal(post(csv.data, csv.len, "text/csv", &resp), 400);
    json_t *e = json_array_get(
        json_object_get(json_array_get(json_object_get(resp, "results"), 0), "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "theme");
    assert_contains(json_string_value(json_object_get(e, "message")),
                    "must be one of the theme codes or labels (got 娱娱");
    json_decref(resp);
    pufa_buf_free(&csv);
    assert_true(pufa_proc_alive(&col));
    stop_collector();
    free(errors);
    free(pattern);
    free(tmp);
    free(bad);
    free(body);
    free(final);
    for (int d = 0; d < NDOORS; d++)
        free(files[d]);
    free(ids);
    free(drop);
    free(spool);
}

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh collector_test PUFA_BIN AGGREGATOR_BIN COLLECTOR_BIN\n");
        return 2;
    }
    pufa_json_init();
    pufa_bin = argv[1];
    agg_bin = argv[2];
    col_bin = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigkill_during_10000_posts_loses_nothing_acknowledged),
        cmocka_unit_test(aggregator_down_intake_goes_on_then_delivers),
        cmocka_unit_test(quota_reached_answers_503_and_loses_nothing),
        cmocka_unit_test(drop_folder_csv_with_two_bad_lines),
        cmocka_unit_test(submit_sample_csv_prints_24_accepted),
        cmocka_unit_test(bad_http_input_gets_clear_errors),
        cmocka_unit_test(gb18030_sample_through_every_door_same_totals),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
