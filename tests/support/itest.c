#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "alloc.h"
#include "httpc.h"
#include "keyfile.h"
#include "wire.h"

/* ---- the database ---- */

int pufa_itest_migrate(const char *pufa_bin, const char *org_units, const char *units) {
    char *units_flag = units ? pufa_asprintf(" --units '%s'", units) : pufa_strdup("");
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' --org-units '%s'%s >/dev/null", pufa_bin,
                              getenv("PUFA_TEST_DB"), org_units, units_flag);
    int rc = pufa_sh(cmd);
    free(cmd);
    free(units_flag);
    return rc;
}

char *pufa_itest_dbinfo(const char *role) {
    return pufa_asprintf("%s user=%s", getenv("PUFA_TEST_DB"), role);
}

void pufa_itest_sql_exec(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
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

/* ---- the aggregator ---- */

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
        Pufa__ReportBatch b = PUFA__REPORT_BATCH__INIT;
        b.has_batch_seq = 1;
        b.batch_seq = (*batch_seq)++;
        b.n_reports = cnt;
        b.reports = pufa_calloc(cnt, sizeof *b.reports);
        Pufa__ActivityReport *m = pufa_calloc(cnt, sizeof *m);
        for (size_t i = 0; i < cnt; i++) {
            pufa__activity_report__init(&m[i]);
            pufa_report_to_pb(&r[off + i], &m[i]);
            b.reports[i] = &m[i];
        }
        size_t len = pufa__report_batch__get_packed_size(&b);
        uint8_t *buf = pufa_malloc(len);
        pufa__report_batch__pack(&b, buf);
        assert_int_equal(zmq_send(dealer, buf, len, 0), (int)len);
        free(buf);
        free(m);
        free(b.reports);
        zmq_pollitem_t it = {.socket = dealer, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, ack_ms) != 1) {
            if (agg)
                pufa_proc_dump(agg);
            fail_msg("batch %llu: no BatchAck in %d ms", (unsigned long long)b.batch_seq, ack_ms);
        }
        zmq_msg_t ack;
        zmq_msg_init(&ack);
        zmq_msg_recv(&ack, dealer, 0);
        Pufa__BatchAck *a = pufa__batch_ack__unpack(NULL, zmq_msg_size(&ack), zmq_msg_data(&ack));
        zmq_msg_close(&ack);
        if (!a)
            fail_msg("batch %llu: the BatchAck does not decode", (unsigned long long)b.batch_seq);
        check_ack(a, cnt, off, accept);
        pufa__batch_ack__free_unpacked(a, NULL);
    }
}

/* ---- the publisher ---- */

void pufa_itest_wait_caught_up(PGconn *db, const char *port, int timeout_ms) {
    long long want = pufa_itest_sql_ll(db, "SELECT seq FROM feed_state");
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (pufa_mono_ms() < deadline && pufa_http_metric(port, "pufa_publisher_seq ") != want)
        pufa_sleep_ms(50);
    assert_int_equal(pufa_http_metric(port, "pufa_publisher_seq "), want);
}

int pufa_itest_get_json(const char *port, int timeout_ms, const char *path, json_t **doc) {
    pufa_buf enc;
    pufa_buf_init(&enc);
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p >= 0x80 || *p == ' ')
            pufa_buf_printf(&enc, "%%%02X", *p);
        else
            pufa_buf_putc(&enc, (char)*p);
    }
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", port, enc.data ? enc.data : "");
    pufa_buf_free(&enc);
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

/* ---- files ---- */

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
