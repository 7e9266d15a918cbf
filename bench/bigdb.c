/* The benchmark's large-database rows (--stored N --ids v4|v7): the
 * aggregator's ingest against raw COPY with N reports already stored.
 *
 *   pre-load  N reports written straight into the tables (INSERT … SELECT
 *             over generate_series with the indexes and the foreign key
 *             dropped, then rebuilt from their own definitions, so that a
 *             migration's index layout is what gets rebuilt): reports, one in
 *             twenty revised once (its first revision in report_history),
 *             rollup_dim folded from the first 2,000,000 of them (its size is
 *             bounded by days x counties x keys and already full there: the
 *             compactor's upserts meet a table of its real size, but its
 *             totals are not those of reports; no publisher runs here),
 *             receipt_daily, feed_state; VACUUM ANALYZE and a CHECKPOINT.
 *             Ids time-ordered (v7, all older than the fresh ones) or random
 *             (v4, gen_random_uuid()).
 *   rounds    each: a raw binary COPY of n fresh rows of the same kind into
 *             reports (10,000-row transactions), then n fresh reports (other
 *             ids of the same kind) as 1,000-report batches, 16 in flight,
 *             straight into an aggregator's ROUTER, timed from the first send
 *             to the last ack; every one must come back COMMITTED and reports
 *             must grow by exactly n.  With --agg-bins A,B the aggregator
 *             binaries alternate round by round on the same database (before
 *             and after in one sitting). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "alloc.h"
#include "bench.h"
#include "proc.h"
#include "store_sql.h"
#include "wire.h"

static PGconn *db;
static const int o_stall_s = 120; /* no ack for this long: the run failed */

static bool run(const char *q) {
    PGresult *r = PQexec(db, q);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "bench: %.200s: %s", q, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

static long long one(const char *q) {
    PGresult *r = PQexec(db, q);
    long long v =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

/* The statements that recreate table's indexes and constraints (primary
 * key, foreign keys) as they are defined now, after dropping them. */
static bool drop_indexes(const char *table, pufa_buf *recreate) {
    char *q = pufa_asprintf(
        "SELECT 'ALTER TABLE %s ADD CONSTRAINT ' || quote_ident(conname) || ' ' ||"
        " pg_get_constraintdef(oid), 'ALTER TABLE %s DROP CONSTRAINT ' || quote_ident(conname)"
        " FROM pg_constraint WHERE conrelid = '%s'::regclass AND contype IN ('p', 'u', 'f')"
        " UNION ALL SELECT indexdef, 'DROP INDEX ' || quote_ident(indexname) FROM pg_indexes i"
        " WHERE tablename = '%s' AND NOT EXISTS (SELECT FROM pg_constraint c"
        " WHERE c.conindid = (quote_ident(i.indexname))::regclass)",
        table, table, table, table);
    PGresult *r = PQexec(db, q);
    free(q);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "bench: indexes of %s: %s", table, PQresultErrorMessage(r));
    for (int i = 0; ok && i < PQntuples(r); i++) {
        pufa_buf_printf(recreate, "%s;\n", PQgetvalue(r, i, 0));
        ok = run(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return ok;
}

/* Counters that differ by figure: (7 i + the name's length) mod 1,000. */
#define BIGDB_COUNTER_(up, low, label, max) ", (i * 7 + length('" #low "')) %% 1000"

/* N stored reports, in chunks (one statement each, so progress shows). */
static bool preload(size_t stored, bool v4) {
    printf("  pre-load: %zu stored reports, %s ids …\n", stored, v4 ? "random (v4)" : "v7");
    fflush(stdout);
    long long t0 = pufa_mono_ms();
    pufa_buf rebuild;
    pufa_buf_init(&rebuild);
    bool ok = run("SET maintenance_work_mem = '1GB'") && run("SET work_mem = '256MB'") &&
              run("SET synchronous_commit = off") && drop_indexes("reports", &rebuild) &&
              drop_indexes("report_history", &rebuild);
    /* v7: the 48-bit millisecond clock (spread over the last stored × 5 ms,
     * so every stored id is older than a fresh one), version 7, variant
     * 10, the rest from md5(i). */
    const char *id_v4 = "gen_random_uuid()";
    const char *id_v7 =
        "overlay(overlay(overlay(md5(i::text) placing lpad(to_hex(t0 - (s - i) * 5), 12, '0')"
        " from 1 for 12) placing '7' from 13 for 1) placing '8' from 17 for 1)::uuid";
    const size_t CHUNK = 2000000;
    for (size_t off = 0; ok && off < stored; off += CHUNK) {
        size_t end = off + CHUNK < stored ? off + CHUNK : stored;
        /* i from 0: a county of 14, a day of 5 years, every theme/venue/
         * form, 6 units, a campaign one in seven, a township one in five;
         * committed in groups of 1,000 (commit_seq). */
        char *q = pufa_asprintf(
            "INSERT INTO reports (" REPORT_COLS ", committed_at, commit_seq)"
            " SELECT %s, CASE WHEN i %% 20 = 0 THEN 2 ELSE 1 END, false,"
            " (ARRAY['150802','150821','150822','150823','150824','150825','150826','210402',"
            "'210403','210404','210411','210421','210422','210423'])[1 + i %% 14], "
            " (ARRAY['', '隆兴昌镇', '新公中镇', '城关镇', '巴彦高勒镇'])[1 + i %% 5],"
            " (ARRAY['SFJ','FY','JCY','GAJ','SWJ','JYJ'])[1 + i %% 6], '司法局',"
            " current_date - (i %% 1826)::int, NULL, 1 + i %% 16, 1 + (i / 16) %% 13,"
            " 1 + (i / 208) %% 10, CASE WHEN i %% 7 = 0 THEN '宪法宣传周' ELSE '' END,"
            " '“宪法进社区”宣讲活动'" PUFA_COUNTER_MAP(
                BIGDB_COUNTER_) ", now() - make_interval(secs => (s - i) * 0.005),"
                                " 'bench-stored', now(), 1 + i / 1000"
                                " FROM (SELECT %zu::int8 AS s,"
                                " (extract(epoch FROM now()) * 1000)::int8 - 60000 AS t0) AS c,"
                                " generate_series(%zu::int8, %zu::int8) AS i",
            v4 ? id_v4 : id_v7, stored, off, end - 1);
        ok = run(q);
        free(q);
        printf("    %zu rows, %.0f s\n", end, bench_secs_since(t0));
        fflush(stdout);
    }
    /* The first revision of each revised report. */
    ok = ok && run("INSERT INTO report_history (" REPORT_COLS ", superseded_at,"
                   " superseded_by) SELECT report_id, 1, retracted, county_code, township,"
                   " unit_code, unit_name, occurred_on, ended_on, theme, venue, form, campaign,"
                   " title" PUFA_COUNTER_COLS ", received_at, collector_id, committed_at, 2"
                   " FROM reports WHERE revision = 2");
#define BIGDB_SUM_(up, low, label, max) ", sum(" #low ")"
    ok = ok &&
         run("INSERT INTO rollup_dim SELECT occurred_on, county_code,"
             " CASE WHEN GROUPING(theme) = 0 THEN 'theme' WHEN GROUPING(venue) = 0 THEN 'venue'"
             " WHEN GROUPING(form) = 0 THEN 'form' WHEN GROUPING(unit_code) = 0 THEN 'unit'"
             " WHEN GROUPING(campaign) = 0 THEN 'campaign'"
             " WHEN GROUPING(township) = 0 THEN 'township' ELSE 'total' END,"
             " coalesce(theme::text, venue::text, form::text, unit_code, campaign,"
             " township, ''), count(*)" PUFA_COUNTER_MAP(
                 BIGDB_SUM_) " FROM (SELECT * FROM reports LIMIT 2000000) AS r WHERE NOT retracted"
                             " GROUP BY GROUPING SETS ((1, 2),"
                             " (1, 2, theme), (1, 2, venue), (1, 2, form), (1, 2, unit_code),"
                             " (1, 2, campaign), (1, 2, township))") &&
         run("INSERT INTO receipt_daily SELECT received_at::date, county_code, unit_code,"
             " count(*), max(received_at) FROM reports GROUP BY 1, 2, 3") &&
         run("UPDATE feed_state SET seq = (SELECT max(commit_seq) FROM reports)");
    printf("    history, rollups, receipts: %.0f s\n", bench_secs_since(t0));
    fflush(stdout);
    ok = ok && run(rebuild.data) && run("VACUUM ANALYZE") && run("CHECKPOINT");
    pufa_buf_free(&rebuild);
    printf("    indexes, VACUUM ANALYZE, CHECKPOINT: %.0f s in all; reports %lld rows,"
           " %lld MB with indexes (primary key %lld MB)\n",
           bench_secs_since(t0), one("SELECT count(*) FROM reports"),
           one("SELECT pg_total_relation_size('reports') >> 20"),
           one("SELECT pg_relation_size('reports_pkey') >> 20"));
    fflush(stdout);
    return ok && run("RESET ALL");
}

/* One aggregator run: n reports in batches of 1,000, 16 in flight; reports/s,
 * or -1 if any report was not committed exactly once. */
static double ingest(const char *bin, const char *log_level, void *zctx, pufa_report *r, size_t n,
                     char *log, size_t logsize) {
    pufa_proc agg;
    char *dbinfo = pufa_asprintf("%s user=pufa_aggregator", getenv("PUFA_TEST_DB"));
    char *argv[] = {(char *)bin,   "--insecure",
                    "--listen",    "tcp://127.0.0.1:0",
                    "--feed",      "tcp://127.0.0.1:0",
                    "--http",      "127.0.0.1:0",
                    "--db",        dbinfo,
                    "--log-level", (char *)log_level,
                    "--home",      "100000",
                    NULL};
    pufa_proc_start(&agg, argv, NULL);
    free(dbinfo);
    char ep[128];
    if (!pufa_proc_wait_log(&agg, "id=AGG-LISTEN", "endpoint", ep, sizeof ep, 20000) ||
        !pufa_proc_wait_log(&agg, "id=AGG-READY", NULL, NULL, 0, 120000)) {
        pufa_proc_dump(&agg);
        pufa_proc_stop(&agg, SIGTERM, 20000);
        return -1;
    }
    long long before = one("SELECT count(*) FROM reports");
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, hwm = 100000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_connect(d, ep);
    const size_t B = 1000, WINDOW = 16;
    size_t nb = (n + B - 1) / B, sent = 0, acked = 0;
    uint8_t **frames = pufa_calloc(nb, sizeof *frames);
    size_t *lens = pufa_calloc(nb, sizeof *lens);
    for (size_t b = 0; b < nb; b++) {
        size_t cnt = n - b * B < B ? n - b * B : B;
        pufa_buf frame;
        pufa_buf_init(&frame);
        pufa_batch_begin(&frame, "bench-bigdb", b, pufa_now_ms());
        for (size_t i = 0; i < cnt; i++) {
            size_t len;
            uint8_t *rep = pufa_report_encode(&r[b * B + i], &len);
            pufa_batch_add(&frame, rep, len);
            free(rep);
        }
        lens[b] = frame.len;
        frames[b] = (uint8_t *)pufa_buf_steal(&frame);
    }
    size_t committed = 0;
    long long t0 = pufa_mono_ms();
    long long last = t0; /* the last ack: a run with none for o_stall_s has failed */
    while (acked < nb && bench_secs_since(last) < o_stall_s) {
        while (sent < nb && sent - acked < WINDOW) {
            zmq_send(d, frames[sent], lens[sent], 0);
            sent++;
        }
        zmq_pollitem_t pi = {.socket = d, .events = ZMQ_POLLIN};
        if (zmq_poll(&pi, 1, 1000) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, d, 0);
        Pufa__BatchAck *a = NULL;
        pufa_ack_decode(zmq_msg_data(&m), zmq_msg_size(&m), &a);
        for (size_t i = 0; a && i < a->n_results; i++)
            committed += a->results[i]->status == PUFA__REPORT_STATUS__STATUS_COMMITTED;
        acked++;
        last = pufa_mono_ms();
        pufa_ack_destroy(&a);
        zmq_msg_close(&m);
    }
    double rate = (double)n / bench_secs_since(t0);
    for (size_t b = 0; b < nb; b++)
        free(frames[b]);
    free(frames);
    free(lens);
    zmq_close(d);
    if (acked < nb)
        pufa_proc_dump(&agg);
    pufa_proc_stop(&agg, SIGTERM, 60000);
    long long after = one("SELECT count(*) FROM reports");
    snprintf(log, logsize, "%s", agg.log);
    if (acked < nb || committed != n || after - before != (long long)n) {
        fprintf(stderr,
                "bench: %s: %zu of %zu batches acked, %zu committed, reports grew by %lld\n", bin,
                acked, nb, committed, after - before);
        return -1;
    }
    return rate;
}

int bench_bigdb(const char *build, PGconn *conn, void *zctx, const bench_bigdb_opts *o) {
    db = conn;
    bench_ids_v4 = o->v4;
    if (o->stored && !preload(o->stored, o->v4))
        return 1;
    char *bins[2] = {NULL, NULL};
    int nbins = 0;
    if (o->agg_bins) {
        char *list = pufa_strdup(o->agg_bins), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t && nbins < 2; t = strtok_r(NULL, ",", &save))
            bins[nbins++] = pufa_strdup(t);
        free(list);
    }
    if (nbins == 0)
        bins[nbins++] = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    enum { MAXR = 16 };
    int rounds = o->rounds < 1 ? 1 : o->rounds > MAXR ? MAXR : o->rounds;
    double ratio[2][MAXR];
    int rc = 0;
    for (int k = 0; k < rounds && rc == 0; k++) {
        for (int b = 0; b < nbins && rc == 0; b++) {
            long long have = one("SELECT count(*) FROM reports");
            unsigned seed = 100 + 2 * (unsigned)(k * nbins + b);
            pufa_report *raw = bench_make_reports(o->n, seed);
            double copy = bench_copy("reports", raw, o->n);
            bench_free_reports(raw, o->n);
            pufa_report *fresh = bench_make_reports(o->n, seed + 1);
            char log[256];
            double agg =
                ingest(bins[b], o->profile ? "debug" : "info", zctx, fresh, o->n, log, sizeof log);
            bench_free_reports(fresh, o->n);
            if (agg < 0) {
                rc = 1;
                break;
            }
            ratio[b][k] = agg / copy;
            printf("  round %d, %s: %lld reports stored, raw COPY %.0f rows/s, aggregator %.0f"
                   " reports/s = %.3f x COPY\n",
                   k + 1, bins[b], have, copy, agg, ratio[b][k]);
            if (o->profile)
                bench_print_profile(log);
            fflush(stdout);
        }
    }
    if (rc == 0) {
        printf("\n| measure | figure |\n| --- | --- |\n");
        for (int b = 0; b < nbins; b++) {
            double s[MAXR];
            memcpy(s, ratio[b], sizeof(double) * (size_t)rounds);
            for (int i = 1; i < rounds; i++) /* insertion sort: a handful */
                for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
                    double t = s[j];
                    s[j] = s[j - 1];
                    s[j - 1] = t;
                }
            printf("| aggregator vs raw COPY, %zu pre-loaded, %s ids, %zu fresh reports (%s) |"
                   " median %.3f × COPY over %d rounds (min %.3f, max %.3f) |\n",
                   o->stored, o->v4 ? "v4" : "v7", o->n, bins[b], s[rounds / 2], rounds, s[0],
                   s[rounds - 1]);
        }
    }
    for (int b = 0; b < nbins; b++)
        free(bins[b]);
    return rc;
}
