#include "itest.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "httpc.h"
#include "keyfile.h"
#include "uuid.h"

/* ---- the database ---- */

int pufa_itest_migrate(const char *pufa_bin, const char *db, const char *org_units,
                       const char *units) {
    char *units_flag = units ? pufa_asprintf(" --units '%s'", units) : pufa_strdup("");
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' --org-units '%s'%s >/dev/null", pufa_bin,
                              db ? db : getenv("PUFA_TEST_DB"), org_units, units_flag);
    int rc = pufa_sh(cmd);
    free(cmd);
    free(units_flag);
    return rc;
}

int pufa_itest_setup_db(char *dir, size_t dir_size, const char *name, const char *pufa_bin,
                        const char *org_units, const char *units, PGconn **db) {
    if (dir && pufa_test_tmpdir(dir, dir_size, name)) {
        fprintf(stderr, "# /tmp/pufa-%s-XXXXXX: cannot make it\n", name);
        return -1;
    }
    if (pufa_itest_migrate(pufa_bin, NULL, org_units, units)) {
        fprintf(stderr, "# pufa migrate --org-units %s failed\n", org_units);
        return -1;
    }
    *db = PQconnectdb(getenv("PUFA_TEST_DB"));
    if (PQstatus(*db) != CONNECTION_OK) {
        fprintf(stderr, "# $PUFA_TEST_DB: %s", PQerrorMessage(*db));
        return -1;
    }
    return 0;
}

int pufa_itest_level_db(PGconn *super, const char *pufa_bin, const char *name,
                        const char *org_units, char *conninfo, size_t conninfo_size, PGconn **db) {
    char *q = pufa_asprintf("CREATE DATABASE %s", name);
    PQclear(PQexec(super, q));
    free(q);
    snprintf(conninfo, conninfo_size, "%s dbname=%s", getenv("PUFA_TEST_DB"), name);
    if (pufa_itest_migrate(pufa_bin, conninfo, org_units, NULL)) {
        fprintf(stderr, "# pufa migrate of %s failed\n", name);
        return -1;
    }
    *db = PQconnectdb(conninfo);
    if (PQstatus(*db) != CONNECTION_OK) {
        fprintf(stderr, "# %s: %s", name, PQerrorMessage(*db));
        return -1;
    }
    return 0;
}

char *pufa_itest_dbinfo(const char *role) {
    return pufa_asprintf("%s user=%s", getenv("PUFA_TEST_DB"), role);
}

void pufa_itest_sql_exec(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%.200s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* The result of a query that must return rows. */
static PGresult *query(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    return r;
}

char *pufa_itest_sql_str(PGconn *c, const char *sql) {
    PGresult *r = query(c, sql);
    char *v = pufa_strdup(PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

long long pufa_itest_sql_ll(PGconn *c, const char *sql) {
    PGresult *r = query(c, sql);
    if (PQntuples(r) == 0)
        fail_msg("%s: no row", sql);
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

long long pufa_itest_sql_ll_or(PGconn *c, const char *sql, long long if_none) {
    PGresult *r = query(c, sql);
    long long v = PQntuples(r) && !PQgetisnull(r, 0, 0) ? atoll(PQgetvalue(r, 0, 0)) : if_none;
    PQclear(r);
    return v;
}

/* ---- the processes ---- */

/* Starts head[0..nhead) and then the NULL-ended extra flags, env added. */
static void start_with(pufa_proc *p, const char *const head[], size_t nhead,
                       const char *const extra[], const char *env) {
    const char *argv[64];
    size_t n = 0;
    for (; n < nhead; n++)
        argv[n] = head[n];
    for (size_t i = 0; extra && extra[i]; i++) {
        if (n + 1 >= sizeof argv / sizeof *argv)
            fail_msg("%s: more than %zu arguments", head[0], sizeof argv / sizeof *argv - 1);
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    pufa_proc_start(p, (char *const *)argv, env);
}

/* ---- the aggregator ---- */

void pufa_itest_agg_start(pufa_proc *agg, const char *bin, const char *const extra[],
                          const pufa_itest_agg_opts *opts) {
    pufa_itest_agg_opts o = opts ? *opts : (pufa_itest_agg_opts){0};
    char *dbinfo = pufa_asprintf("%s user=pufa_aggregator", o.db ? o.db : getenv("PUFA_TEST_DB"));
    const char *head[] = {bin,
                          "--listen",
                          o.listen ? o.listen : "tcp://127.0.0.1:0",
                          "--feed",
                          "tcp://127.0.0.1:0",
                          "--http",
                          o.http ? o.http : "127.0.0.1:0",
                          "--db",
                          dbinfo};
    start_with(agg, head, sizeof head / sizeof *head, extra, o.env);
    free(dbinfo);
}

bool pufa_itest_agg_wait(pufa_proc *agg, char listen[PUFA_ITEST_EP_SIZE],
                         char feed[PUFA_ITEST_EP_SIZE], char http[PUFA_ITEST_PORT_SIZE],
                         int http_ms, int ready_ms) {
    if (!pufa_proc_wait_log(agg, "id=AGG-LISTEN", "endpoint", listen, PUFA_ITEST_EP_SIZE, 20000) ||
        (feed &&
         !pufa_proc_wait_log(agg, "id=AGG-FEED", "endpoint", feed, PUFA_ITEST_EP_SIZE, 5000)) ||
        (http &&
         !pufa_proc_wait_log(agg, "id=AGG-HTTP", "port", http, PUFA_ITEST_PORT_SIZE, http_ms)) ||
        !pufa_proc_wait_log(agg, "id=AGG-READY", NULL, NULL, 0, ready_ms)) {
        pufa_proc_dump(agg);
        return false;
    }
    return true;
}

void *pufa_itest_dealer(void *zctx, const char *ep, const char *server_pub, const char *pub,
                        const char *sec) {
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    assert_non_null(d);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    if (pub) {
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server_pub, 40);
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    assert_int_equal(zmq_connect(d, ep), 0);
    return d;
}

int pufa_itest_send_batch(void *d, const char *collector_id, uint64_t batch_seq,
                          const pufa_report *r, size_t n, int flags) {
    Pufa__ReportBatch b = PUFA__REPORT_BATCH__INIT;
    b.collector_id = (char *)collector_id;
    b.has_batch_seq = 1;
    b.batch_seq = batch_seq;
    b.n_reports = n;
    b.reports = pufa_calloc(n ? n : 1, sizeof *b.reports);
    Pufa__ActivityReport *m = pufa_calloc(n ? n : 1, sizeof *m);
    for (size_t i = 0; i < n; i++) {
        pufa__activity_report__init(&m[i]);
        pufa_report_to_pb(&r[i], &m[i]);
        b.reports[i] = &m[i];
    }
    size_t len = pufa__report_batch__get_packed_size(&b);
    uint8_t *buf = pufa_malloc(len);
    pufa__report_batch__pack(&b, buf);
    int rc = zmq_send(d, buf, len, flags);
    free(buf);
    free(m);
    free(b.reports);
    return rc == (int)len ? 0 : -1;
}

pufa_report pufa_itest_report(const char *county, int64_t participants) {
    pufa_report r;
    pufa_report_init(&r);
    uint8_t id[16];
    char ids[37];
    pufa_uuid_v7(id);
    pufa_uuid_format(id, ids);
    r.report_id = pufa_strdup(ids);
    r.revision = 1;
    r.county_code = pufa_strdup(county);
    r.unit_code = pufa_strdup("SFJ");
    r.occurred_on = pufa_strdup("2025-12-04");
    r.theme = r.venue = r.form = 2;
    r.title = pufa_strdup("宪法宣传周");
    r.counters[PUFA_C_PARTICIPANTS] = participants;
    return r;
}

Pufa__BatchAck *pufa_itest_send_one(void *d, const pufa_report *r, uint64_t batch_seq,
                                    int timeout_ms) {
    pufa_itest_send_batch(d, NULL, batch_seq, r, 1, ZMQ_DONTWAIT);
    zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, timeout_ms) != 1)
        return NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    zmq_msg_recv(&msg, d, 0);
    Pufa__BatchAck *a = pufa__batch_ack__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    return a;
}

Pufa__BatchAck *pufa_itest_send_until_acked(void *d, const pufa_buf *frame, uint64_t seq,
                                            int timeout_ms, bool skip_errors) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (pufa_mono_ms() < deadline) {
        zmq_send(d, frame->data, frame->len, ZMQ_DONTWAIT);
        long long until = pufa_mono_ms() + 3000;
        while (pufa_mono_ms() < until) {
            zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
            if (zmq_poll(&it, 1, 200) != 1)
                continue;
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, d, 0);
            Pufa__BatchAck *a = NULL;
            int rc = pufa_ack_decode(zmq_msg_data(&m), zmq_msg_size(&m), &a);
            zmq_msg_close(&m);
            if (rc == 0 && !(skip_errors && a->error) && a->batch_seq == seq)
                return a;
            pufa_ack_destroy(&a);
        }
    }
    return NULL;
}

/* Fails unless every result of the ack of reports first.. is accepted. */
static void check_ack(const Pufa__BatchAck *a, size_t cnt, size_t first, unsigned accept) {
    if (a->n_results != cnt)
        fail_msg("batch of %zu reports: %zu results in its ack", cnt, a->n_results);
    for (size_t i = 0; i < a->n_results; i++) {
        Pufa__ReportStatus st = a->results[i]->status;
        if (st != PUFA__REPORT_STATUS__STATUS_COMMITTED &&
            !(st == PUFA__REPORT_STATUS__STATUS_DUPLICATE && (accept & PUFA_ITEST_ACK_DUPLICATE)) &&
            !(st == PUFA__REPORT_STATUS__STATUS_STALE && (accept & PUFA_ITEST_ACK_STALE)))
            fail_msg("report %zu not committed: %s", first + i,
                     a->results[i]->reason ? a->results[i]->reason : "?");
    }
}

void pufa_itest_send_reports(void *dealer, uint64_t *batch_seq, const pufa_report *r, size_t n,
                             size_t per_batch, unsigned accept, int ack_ms, const pufa_proc *agg) {
    for (size_t off = 0; off < n; off += per_batch) {
        size_t cnt = n - off < per_batch ? n - off : per_batch;
        uint64_t seq = (*batch_seq)++;
        assert_int_equal(pufa_itest_send_batch(dealer, NULL, seq, r + off, cnt, 0), 0);
        zmq_pollitem_t it = {.socket = dealer, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, ack_ms) != 1) {
            if (agg)
                pufa_proc_dump(agg);
            fail_msg("batch %llu: no BatchAck in %d ms", (unsigned long long)seq, ack_ms);
        }
        zmq_msg_t ack;
        zmq_msg_init(&ack);
        zmq_msg_recv(&ack, dealer, 0);
        Pufa__BatchAck *a = pufa__batch_ack__unpack(NULL, zmq_msg_size(&ack), zmq_msg_data(&ack));
        zmq_msg_close(&ack);
        if (!a)
            fail_msg("batch %llu: the BatchAck does not decode", (unsigned long long)seq);
        check_ack(a, cnt, off, accept);
        pufa__batch_ack__free_unpacked(a, NULL);
    }
}

/* ---- the collector ---- */

void pufa_itest_col_start(pufa_proc *col, const char *bin, const char *county,
                          const char *aggregator, const char *spool, const char *const extra[],
                          const char *env) {
    const char *head[] = {bin,
                          "--county",
                          county,
                          "--aggregator",
                          aggregator,
                          "--spool",
                          spool,
                          "--http",
                          "127.0.0.1:0",
                          "--org-units",
                          pufa_test_data_path("org_units.csv")};
    start_with(col, head, sizeof head / sizeof *head, extra, env);
}

bool pufa_itest_col_wait(pufa_proc *col, char port[PUFA_ITEST_PORT_SIZE]) {
    if (!pufa_proc_wait_log(col, "id=COL-HTTP", "port", port, PUFA_ITEST_PORT_SIZE, 10000) ||
        !pufa_proc_wait_log(col, "id=COL-READY", NULL, NULL, 0, 10000)) {
        pufa_proc_dump(col);
        return false;
    }
    return true;
}

void pufa_itest_id_prefix(char out[9]) {
    uint8_t id[16];
    char text[37];
    pufa_uuid_v7(id);
    pufa_uuid_format(id, text);
    memcpy(out, text + 28, 8); /* random bits, not the time */
    out[8] = '\0';
}

/* ---- the publisher ---- */

bool pufa_itest_pub_start(pufa_proc *pub, const char *bin, const char *feed,
                          const char *const extra[], char port[PUFA_ITEST_PORT_SIZE],
                          char zmq_ep[PUFA_ITEST_EP_SIZE]) {
    char *dbinfo = pufa_itest_dbinfo("pufa_publisher");
    const char *head[] = {bin, "--feed", feed, "--db", dbinfo, "--http", "127.0.0.1:0"};
    start_with(pub, head, sizeof head / sizeof *head, extra, NULL);
    free(dbinfo);
    if (!port)
        return true;
    if (!pufa_proc_wait_log(pub, "id=PUB-HTTP", "port", port, PUFA_ITEST_PORT_SIZE, 10000) ||
        (zmq_ep &&
         !pufa_proc_wait_log(pub, "id=PUB-PUB", "endpoint", zmq_ep, PUFA_ITEST_EP_SIZE, 10000)) ||
        !pufa_proc_wait_log(pub, "id=PUB-SNAPSHOT", NULL, NULL, 0, 20000)) {
        pufa_proc_dump(pub);
        return false;
    }
    return true;
}

/* 200 from the publisher's /readyz: its snapshot is served. */
static bool pub_ready(const char *port) {
    char *url = pufa_asprintf("http://127.0.0.1:%s/readyz", port);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err);
    free(url);
    if (rc)
        return false;
    pufa_buf_free(&r.body);
    return r.status == 200;
}

void pufa_itest_wait_caught_up(PGconn *db, const char *port, int timeout_ms) {
    long long want = pufa_itest_sql_ll(db, "SELECT seq FROM feed_state");
    long long deadline = pufa_mono_ms() + timeout_ms;
    /* The model's seq is the database's a moment before the publisher
     * serves it (/readyz): both, or a request may still get 503. */
    while (pufa_mono_ms() < deadline &&
           (pufa_http_metric(port, "pufa_publisher_seq ") != want || !pub_ready(port)))
        pufa_sleep_ms(50);
    assert_int_equal(pufa_http_metric(port, "pufa_publisher_seq "), want);
    assert_true(pub_ready(port));
}

char *pufa_itest_url_encode(const char *path) {
    pufa_buf enc;
    pufa_buf_init(&enc);
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p >= 0x80 || *p == ' ')
            pufa_buf_printf(&enc, "%%%02X", *p);
        else
            pufa_buf_putc(&enc, (char)*p);
    }
    return pufa_buf_steal(&enc);
}

int pufa_itest_get_json(const char *port, int timeout_ms, const char *path, json_t **doc) {
    char *enc = pufa_itest_url_encode(path);
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", port, enc);
    free(enc);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request("GET", url, NULL, NULL, 0, timeout_ms, &r, err, sizeof err);
    free(url);
    if (rc)
        fail_msg("GET %s: %s", path, err);
    json_error_t jerr;
    *doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
    if (!*doc)
        fail_msg("GET %s: %d, not JSON: %.*s", path, r.status, (int)r.body.len,
                 r.body.data ? r.body.data : "");
    pufa_buf_free(&r.body);
    return r.status;
}

json_t *pufa_itest_get_ok(const char *port, int timeout_ms, const char *path) {
    json_t *doc;
    int status = pufa_itest_get_json(port, timeout_ms, path, &doc);
    if (status != 200) {
        char *text = json_dumps(doc, JSON_ENCODE_ANY);
        fail_msg("GET %s: %d %s", path, status, text);
    }
    return doc;
}

const char *const pufa_itest_figures[PUFA_ITEST_NFIGS] = {
    "reports",      "sessions",     "participants", "materials",  "consultations", "banners",
    "led_messages", "online_posts", "online_views", "volunteers", "funds_fen"};

char *pufa_itest_api_rows(json_t *doc) {
    json_t *rows = json_object_get(doc, "rows");
    size_t n = json_array_size(rows);
    char **lines = pufa_calloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(rows, i);
        json_t *figs = json_object_get(row, "figures");
        pufa_buf b;
        pufa_buf_init(&b);
        pufa_buf_printf(&b, "%s:", json_string_value(json_object_get(row, "key")));
        for (int k = 0; k < PUFA_ITEST_NFIGS; k++)
            pufa_buf_printf(
                &b, "%s%lld", k ? "," : "",
                (long long)json_integer_value(json_object_get(figs, pufa_itest_figures[k])));
        lines[i] = pufa_buf_steal(&b);
    }
    return pufa_itest_join_sorted(lines, n);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *pufa_itest_join_sorted(char **lines, size_t n) {
    if (n)
        qsort(lines, n, sizeof *lines, cmp_str);
    pufa_buf out;
    pufa_buf_init(&out);
    pufa_buf_puts(&out, "");
    for (size_t i = 0; i < n; i++) {
        pufa_buf_printf(&out, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    return pufa_buf_steal(&out);
}

/* ---- offices ---- */

void pufa_itest_add_office(const char *pufa_bin, const char *db, const char *dir, const char *name,
                           const char *org, const char *role) {
    char *cmd =
        pufa_asprintf("'%s' office add --db '%s' --name %s --org %s --role %s "
                      "--secret-file '%s/%s.secret' >/dev/null",
                      pufa_bin, db ? db : getenv("PUFA_TEST_DB"), name, org, role, dir, name);
    assert_int_equal(pufa_sh(cmd), 0);
    free(cmd);
}

char *pufa_itest_office_auth(const char *dir, const char *office, const char *secret) {
    char *text;
    if (secret) {
        text = pufa_strdup(secret);
    } else {
        char *path = pufa_asprintf("%s/%s.secret", dir, office);
        size_t len;
        text = pufa_test_read_file(path, &len);
        if (!text)
            fail_msg("%s: cannot read it", path);
        free(path);
        text[strcspn(text, "\n")] = '\0';
    }
    char *pair = pufa_asprintf("%s:%s", office, text);
    size_t n = strlen(pair), blen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = pufa_malloc(blen);
    sodium_bin2base64(b64, blen, (const unsigned char *)pair, n, sodium_base64_VARIANT_ORIGINAL);
    char *h = pufa_asprintf("Authorization: Basic %s\r\nContent-Type: application/json\r\n", b64);
    free(b64);
    free(pair);
    free(text);
    return h;
}

void pufa_itest_month_back(int n, char out[8]) {
    int y, m, d;
    pufa_date_to_ymd(pufa_city_day(pufa_now_ms()), &y, &m, &d);
    unsigned mo = (unsigned)(y * 12 + m - 1 - n);
    snprintf(out, 8, "%04u-%02u", (mo / 12u) % 10000u, mo % 12u + 1u);
}

/* ---- files and commands ---- */

char *pufa_itest_run_out(const char *cmd, int *status) {
    FILE *p = popen(cmd, "r");
    if (!p)
        fail_msg("%s: popen failed", cmd);
    pufa_buf b;
    pufa_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        pufa_buf_append(&b, chunk, n);
    *status = WEXITSTATUS(pclose(p));
    return pufa_buf_steal(&b);
}

void pufa_itest_keygen(const char *pufa_bin, const char *dir, const char *name, char pub[41],
                       char sec[41]) {
    char *cmd = pufa_asprintf("'%s' keygen --out %s --name %s >/dev/null", pufa_bin, dir, name);
    assert_int_equal(pufa_sh(cmd), 0);
    free(cmd);
    char err[256];
    char *p = pufa_asprintf("%s/%s.pub", dir, name), *s = pufa_asprintf("%s/%s.key", dir, name);
    if (pufa_read_curve_key(p, 0, pub, err, sizeof err))
        fail_msg("%s: %s", p, err);
    if (pufa_read_curve_key(s, 1, sec, err, sizeof err))
        fail_msg("%s: %s", s, err);
    free(p);
    free(s);
}

void pufa_itest_write_file(const char *dir, const char *name, const char *text) {
    char *path = pufa_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("%s: cannot write", path);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    free(path);
}
