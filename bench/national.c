/* bench --national: a nation's publisher.  The real national org units
 * (deploy/data/divisions/nation.csv: 2,975 counties), YEARS years of rollup
 * rows generated straight into rollup_dim and receipt_daily with SQL (the
 * publisher reads only those tables; going through the pipeline would take
 * hours and prove nothing more here), then the real pufa-publisher binary:
 * a first start (full snapshot, the model file written), a second start
 * (the model file and a catch-up), RSS, and 1,500 requests of a
 * representative mix with p50/p99; then a late correction into an old year
 * through a real collector and aggregator, checked against SQL live and
 * again after a restart. */
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "bench.h"
#include "date.h"
#include "httpc.h"
#include "proc.h"

static const char *build;
static PGconn *db;
static pufa_proc pub, agg, col;

/* Every exit (a failed check or request exits at once) stops the services
 * still running, so that none outlives the benchmark. */
static void stop_services(void) {
    pufa_proc_stop(&pub, SIGKILL, 5000);
    pufa_proc_stop(&col, SIGKILL, 5000);
    pufa_proc_stop(&agg, SIGKILL, 5000);
}
static char pub_port[16], col_port[16], agg_ep[128], feed_ep[128] = "tcp://127.0.0.1:1";
static char tmpdir[64];
static int detail_years;
static int oy; /* an old year (before the horizon): the cut windows and the late correction */

static void die_sql(const char *sql) {
    fprintf(stderr, "bench --national: %s\n  in %.300s\n", PQerrorMessage(db), sql);
    exit(1);
}

static void sql(const char *q) {
    PGresult *r = PQexec(db, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die_sql(q);
    PQclear(r);
}

static long long sql_ll(const char *q) {
    PGresult *r = PQexec(db, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die_sql(q);
    long long v = PQntuples(r) && !PQgetisnull(r, 0, 0) ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return v;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One year of reports, as the rollups they make: each county reports on
 * about one day in three, 1-3 reports on such a day (about 11 rollup rows
 * a reporting day; the issue measured 10); theme, venue, form
 * and responsible unit (12) skewed towards a few, one report in five in a
 * campaign (3), 1-8 townships per county, received the day they happened. */
static void generate_year(int y, pufa_day last) {
    char from[11], to[11], *q;
    pufa_day y1 = pufa_date_from_ymd(y, 12, 31);
    pufa_date_format(pufa_date_from_ymd(y, 1, 1), from);
    pufa_date_format(y1 < last ? y1 : last, to);
    q = pufa_asprintf(
        "CREATE TEMP TABLE rep AS SELECT d.day::date AS day, c.code AS county_code,"
        " 1 + floor(16 * random() ^ 2)::int AS theme, 1 + floor(13 * random() ^ 2)::int AS venue,"
        " 1 + floor(10 * random() ^ 2)::int AS form,"
        " (ARRAY['SFJ','FY','JCY','GAJ','SWJ','JYJ','WJW','SCJG','YJGL','NMJ','MZZJ','XCB'])"
        "[1 + floor(12 * random() ^ 1.5)::int] AS unit_code,"
        " CASE WHEN random() < 0.8 THEN '' ELSE "
        "(ARRAY['宪法宣传周','民法典宣传月','国家安全教育日'])"
        "[1 + floor(3 * random())::int] END AS campaign,"
        " c.code || '第' || (1 + floor(8 * random() ^ 2)::int) || '镇' AS township,"
        " 1 + floor(3 * random())::bigint AS sessions, floor(400 * random() ^ 2)::bigint"
        " AS participants, floor(300 * random())::bigint AS materials, floor(40 * random())::bigint"
        " AS consultations, floor(4 * random())::bigint AS banners, floor(10 * random())::bigint AS"
        " led_messages, floor(5 * random())::bigint AS online_posts, floor(5000 * random() ^ 3)"
        "::bigint AS online_views, floor(8 * random())::bigint AS volunteers,"
        " floor(200000 * random() ^ 4)::bigint AS funds_fen"
        " FROM org_units c CROSS JOIN generate_series('%s'::date, '%s'::date, '1 day') d(day)"
        " CROSS JOIN LATERAL generate_series(1, CASE WHEN random() < 1.0 / 3 AND c.code IS NOT NULL"
        " AND d.day IS NOT NULL THEN 1 + floor(3 * random())::int ELSE 0 END) r(i)"
        " WHERE c.level = 'county'",
        from, to);
    sql(q);
    free(q);
    sql("INSERT INTO rollup_dim SELECT day, county_code,"
        " CASE WHEN GROUPING(theme) = 0 THEN 'theme' WHEN GROUPING(venue) = 0 THEN 'venue'"
        " WHEN GROUPING(form) = 0 THEN 'form' WHEN GROUPING(unit_code) = 0 THEN 'unit'"
        " WHEN GROUPING(campaign) = 0 THEN 'campaign' WHEN GROUPING(township) = 0 THEN 'township'"
        " ELSE 'total' END,"
        " coalesce(theme::text, venue::text, form::text, unit_code, campaign, township, ''),"
        " count(*), sum(sessions), sum(participants), sum(materials), sum(consultations),"
        " sum(banners), sum(led_messages), sum(online_posts), sum(online_views), sum(volunteers),"
        " sum(funds_fen) FROM rep GROUP BY GROUPING SETS ((day, county_code),"
        " (day, county_code, theme), (day, county_code, venue), (day, county_code, form),"
        " (day, county_code, unit_code), (day, county_code, campaign),"
        " (day, county_code, township))");
    sql("INSERT INTO receipt_daily (day, county_code, unit_code, reports, last_received_at)"
        " SELECT day, county_code, unit_code, count(*), max(day)::timestamptz FROM rep"
        " GROUP BY 1, 2, 3");
    sql("DROP TABLE rep");
}

static long long rss(const char *field) {
    return rss_kb(pub.pid, field);
}

static void start_pub(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_publisher", getenv("PUFA_TEST_DB"));
    /* PUFA_BENCH_PUBLISHER: another build's binary (a before/after pair
     * measured with the same mix in one sitting). */
    const char *other = getenv("PUFA_BENCH_PUBLISHER");
    char *bin =
        other && *other ? pufa_strdup(other) : pufa_asprintf("%s/publisher/pufa-publisher", build);
    char *model = pufa_asprintf("%s/model.bin", tmpdir);
    char years[16];
    snprintf(years, sizeof years, "%d", detail_years);
    char *argv[] = {
        bin,           "--feed",       feed_ep, "--db",        dbinfo,   "--http",
        "127.0.0.1:0", "--pub",        "",      "--home",      "100000", "--detail-years",
        years,         "--model-file", model,   "--log-level", "info",   NULL};
    pufa_proc_start(&pub, argv, NULL);
    if (!pufa_proc_wait_log(&pub, "id=PUB-HTTP", "port", pub_port, sizeof pub_port, 10000)) {
        pufa_proc_dump(&pub);
        exit(1);
    }
    free(dbinfo);
    free(bin);
    free(model);
}

static int http_timeout_ms = 30000;

static int http_get(const char *path, pufa_http_response *r) {
    char err[256];
    char *url = pufa_asprintf("http://127.0.0.1:%s%s", pub_port, path);
    int rc = pufa_http_request("GET", url, NULL, NULL, 0, http_timeout_ms, r, err, sizeof err);
    free(url);
    return rc ? -1 : r->status;
}

/* Seconds from t0 until /readyz answers 200 (the snapshot is served). */
static double wait_ready(long long t0) {
    for (int i = 0; i < 60000; i++) {
        pufa_http_response r;
        int st = http_get("/readyz", &r);
        if (st >= 0)
            pufa_buf_free(&r.body);
        if (st == 200)
            return bench_secs_since(t0);
        if (!pufa_proc_alive(&pub))
            break;
        pufa_sleep_ms(20);
    }
    pufa_proc_dump(&pub);
    fprintf(stderr, "bench --national: the publisher never became ready\n");
    exit(1);
}

/* A figure of a /v1/totals answer: totals.<fig>. */
static long long totals_of(const char *path, const char *fig) {
    pufa_http_response r;
    int st = http_get(path, &r);
    if (st != 200) {
        fprintf(stderr, "bench --national: GET %s answered %d\n", path, st);
        exit(1);
    }
    json_t *o = json_loadb(r.body.data, r.body.len, 0, NULL);
    long long v = o ? json_integer_value(json_object_get(json_object_get(o, "totals"), fig)) : -1;
    json_decref(o);
    pufa_buf_free(&r.body);
    return v;
}

typedef struct kind {
    const char *name;
    char path[200];
    double *ms;
    int n;
} kind;

/* n requests round-robin over the kinds; p50/p99 per kind and overall. */
static void query_mix(kind *k, int nk, int n, double *p50, double *p99) {
    double *all = pufa_calloc((size_t)n, sizeof *all);
    for (int i = 0; i < nk; i++) {
        k[i].ms = pufa_calloc((size_t)n, sizeof(double));
        k[i].n = 0;
    }
    for (int i = 0; i < n; i++) {
        kind *q = &k[i % nk];
        struct timespec a, b;
        pufa_http_response r;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int st = http_get(q->path, &r);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (st >= 0)
            pufa_buf_free(&r.body);
        if (st != 200) {
            fprintf(stderr, "bench --national: GET %s answered %d\n", q->path, st);
            exit(1);
        }
        double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        q->ms[q->n++] = ms;
        all[i] = ms;
    }
    for (int i = 0; i < nk; i++)
        qsort(k[i].ms, (size_t)k[i].n, sizeof(double), cmp_double);
    qsort(all, (size_t)n, sizeof *all, cmp_double);
    *p50 = all[n / 2];
    *p99 = all[(n * 99) / 100];
    free(all);
}

/* totals.reports of path against the SQL count over rollup_live. */
static void check_exact(const char *what, const char *path, const char *where) {
    char *q = pufa_asprintf("SELECT sum(reports) FROM rollup_live WHERE %s", where);
    long long want = sql_ll(q), got = totals_of(path, "reports");
    free(q);
    printf("  exact? %-52s publisher %lld, SQL %lld: %s\n", what, got, want,
           got == want ? "equal" : "DIFFERENT");
    if (got != want)
        exit(1);
}

static void start_agg_and_collector(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_aggregator", getenv("PUFA_TEST_DB"));
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    char *argv[] = {bin,
                    "--listen",
                    "tcp://127.0.0.1:0",
                    "--feed",
                    "tcp://127.0.0.1:0",
                    "--http",
                    "127.0.0.1:0",
                    "--db",
                    dbinfo,
                    "--home",
                    "100000",
                    "--insecure",
                    "--log-level",
                    "info",
                    NULL};
    pufa_proc_start(&agg, argv, NULL);
    if (!pufa_proc_wait_log(&agg, "id=AGG-LISTEN", "endpoint", agg_ep, sizeof agg_ep, 20000) ||
        !pufa_proc_wait_log(&agg, "id=AGG-FEED", "endpoint", feed_ep, sizeof feed_ep, 5000) ||
        !pufa_proc_wait_log(&agg, "id=AGG-READY", NULL, NULL, 0, 20000)) {
        pufa_proc_dump(&agg);
        exit(1);
    }
    free(bin);
    free(dbinfo);
    bin = pufa_asprintf("%s/collector/pufa-collector", build);
    char *spool = pufa_asprintf("%s/spool", tmpdir);
    char *cargv[] = {bin,    "--insecure", "--county", "150821", "--aggregator",
                     agg_ep, "--spool",    spool,      "--http", "127.0.0.1:0",
                     NULL};
    pufa_proc_start(&col, cargv, NULL);
    if (!pufa_proc_wait_log(&col, "id=COL-HTTP", "port", col_port, sizeof col_port, 20000)) {
        pufa_proc_dump(&col);
        exit(1);
    }
    free(bin);
    free(spool);
}

/* A report of 五原县 on an old day, revision rev; waits until the
 * publisher's seq reaches the aggregator's. */
/* The revisions a kept database's earlier runs committed (tests/with-pg.sh
 * PUFA_TEST_PG_KEEP): this run's go on from them, so that they correct
 * rather than repeat (an old revision is ignored). */
static int rev_base;

/* Revision k (1-3) of the late report: the first on 03-10, the others on
 * 03-12. */
static void send_report(int k, int participants) {
    int rev = rev_base + k;
    char *body = pufa_asprintf(
        "{\"report_id\":\"7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e6f7\",\"revision\":%d,"
        "\"county_code\":\"150821\",\"unit_code\":\"SFJ\",\"occurred_on\":\"%d-03-%02d\","
        "\"theme\":\"宪法\",\"venue\":\"社区\",\"form\":\"讲座\",\"title\":\"宪法进社区\","
        "\"sessions\":1,\"participants\":%d}",
        rev, oy, k == 1 ? 10 : 12, participants);
    char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports", col_port);
    pufa_http_response r;
    char err[256];
    int rc = pufa_http_request("POST", url, "Content-Type: application/json\r\n", body,
                               strlen(body), 30000, &r, err, sizeof err);
    if (rc || r.status != 202) {
        fprintf(stderr, "bench --national: POST answered %d %s\n", rc ? -1 : r.status,
                rc ? err : r.body.data);
        exit(1);
    }
    pufa_buf_free(&r.body);
    free(url);
    free(body);
    /* Committed (the collector forwards it), then applied by the publisher
     * when one is running. */
    for (int i = 0; i < 600 && sql_ll("SELECT coalesce(max(revision), 0) FROM reports") < rev; i++)
        pufa_sleep_ms(50);
    long long seq = sql_ll("SELECT seq FROM feed_state");
    for (int i = 0; i < 600 && pufa_proc_alive(&pub) &&
                    pufa_http_metric(pub_port, "pufa_publisher_seq ") < seq;
         i++)
        pufa_sleep_ms(50);
}

int national_main(const char *build_dir, int years, int detail) {
    build = build_dir;
    detail_years = detail;
    atexit(stop_services);
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pufa-national-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    db = PQconnectdb(getenv("PUFA_TEST_DB"));
    if (PQstatus(db) != CONNECTION_OK)
        die_sql("connect");
    pufa_day today = pufa_city_day(pufa_now_ms());
    /* A kept cluster (PUFA_TEST_PG_KEEP, tests/with-pg.sh) that already
     * holds this run's data, generated today for as many years, is used
     * as it is: generating 10 years takes half an hour. */
    char *marker =
        pufa_asprintf("SELECT count(*) FROM pg_tables WHERE tablename = 'bench_national'");
    bool reuse = false;
    if (sql_ll(marker) == 1) {
        char *q = pufa_asprintf("SELECT count(*) FROM bench_national WHERE years = %d AND "
                                "generated = current_date",
                                years);
        reuse = sql_ll(q) == 1;
        free(q);
        if (!reuse) {
            fprintf(stderr, "bench --national: the kept database holds other data (another "
                            "year count or day); empty PUFA_TEST_PG_KEEP's folder first\n");
            return 1;
        }
    }
    free(marker);
    if (!reuse) {
        char *cmd = pufa_asprintf(
            "'%s/cli/pufa' migrate --db '%s' --org-units '%s/deploy/data/divisions/nation.csv'"
            " --units '%s/deploy/data/units.csv' >/dev/null",
            build, getenv("PUFA_TEST_DB"), PUFA_SOURCE_DIR, PUFA_SOURCE_DIR);
        if (pufa_sh(cmd) != 0)
            return 1;
        free(cmd);
    }
    int y, mo, d;
    pufa_date_to_ymd(today, &y, &mo, &d);
    int y0 = y - years + 1;
    oy = y - detail - (years > detail + 1 ? 1 : 0); /* before the horizon, inside the data */
    printf("pufa benchmark --national: %lld counties, %d years (%d-01-01 .. today), "
           "detail_years %d, %ld cores\n",
           sql_ll("SELECT count(*) FROM org_units WHERE level = 'county'"), years, y0, detail,
           sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);

    /* 1. The rollups, a year at a time, the primary key built after. */
    long long t0 = pufa_mono_ms();
    if (reuse) {
        printf("  the kept database's data (generated today for %d years) is used as it is\n",
               years);
    } else {
        sql("ALTER TABLE rollup_dim DROP CONSTRAINT rollup_dim_pkey");
        for (int k = y0; k <= y; k++) {
            generate_year(k, today);
            printf("  generated %d: %lld rollup_dim rows so far, %.0f s\n", k,
                   sql_ll("SELECT count(*) FROM rollup_dim"), bench_secs_since(t0));
            fflush(stdout);
        }
        sql("ALTER TABLE rollup_dim ADD PRIMARY KEY (day, county_code, dim, key)");
        sql("UPDATE feed_state SET seq = 1000");
        sql("VACUUM ANALYZE rollup_dim");
        sql("VACUUM ANALYZE receipt_daily");
        char *q = pufa_asprintf("CREATE TABLE bench_national AS SELECT %d AS years, "
                                "current_date AS generated",
                                years);
        sql(q);
        free(q);
        sql("CHECKPOINT");
    }
    double gen_s = bench_secs_since(t0);
    long long dim_rows = sql_ll("SELECT count(*) FROM rollup_dim");
    long long county_days = sql_ll("SELECT count(*) FROM rollup_dim WHERE dim = 'total'");
    long long reports = sql_ll("SELECT sum(reports) FROM rollup_dim WHERE dim = 'total'");
    long long recv_rows = sql_ll("SELECT count(*) FROM receipt_daily");
    printf("  data: %lld reports, %lld county x days with reports (%.2f of all), %lld rollup_dim "
           "rows (%.1f per reporting day), %lld receipt_daily rows; generated in %.0f s\n",
           reports, county_days,
           (double)county_days / (2975.0 * (double)(today - pufa_date_from_ymd(y0, 1, 1) + 1)),
           dim_rows, (double)dim_rows / (double)county_days, recv_rows, gen_s);
    fflush(stdout);

    /* 2. A first start: the full snapshot, then the model file written. */
    t0 = pufa_mono_ms();
    start_pub();
    double cold_s = wait_ready(t0);
    long long cold_hwm = rss("VmHWM:"), cold_rss = rss("VmRSS:");
    if (!pufa_proc_wait_log(&pub, "id=PUB-MODEL-FILE", NULL, NULL, 0, 600000)) {
        pufa_proc_dump(&pub);
        return 1;
    }
    double file_s = bench_secs_since(t0);
    pufa_proc_stop(&pub, SIGTERM, 120000);
    char *path = pufa_asprintf("%s/model.bin", tmpdir);
    FILE *f = fopen(path, "rb");
    long file_mb = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        file_mb = ftell(f) / (1024 * 1024);
        fclose(f);
    }
    free(path);
    printf("  first start (full snapshot from PostgreSQL): ready in %.2f s, VmHWM %lld MiB, "
           "VmRSS %lld MiB; model file (%ld MiB) written at %.1f s\n",
           cold_s, cold_hwm / 1024, cold_rss / 1024, file_mb, file_s);
    fflush(stdout);

    /* 3. A second start: the model file and a catch-up. */
    t0 = pufa_mono_ms();
    start_pub();
    double warm_s = wait_ready(t0);
    long long warm_hwm = rss("VmHWM:"), warm_rss = rss("VmRSS:");
    printf("  second start (the model file): ready in %.2f s, VmHWM %lld MiB, VmRSS %lld MiB\n",
           warm_s, warm_hwm / 1024, warm_rss / 1024);
    fflush(stdout);

    /* 4. The mix. */
    char prev[32], pa[11], pb[11];
    pufa_date_format(today - 364, pa);
    pufa_date_format(today, pb);
    snprintf(prev, sizeof prev, "%s..%s", pa, pb);
    kind k[] = {{.name = "nation totals, today"},
                {.name = "nation totals, this month"},
                {.name = "nation totals, this year"},
                {.name = "by=county, this year"},
                {.name = "by=day, 365 days, compare=yoy"},
                {.name = "org=150000 (内蒙古) by=city, this year"},
                {.name = "org=150821 (五原县) by=township, this year"},
                /* Added with the area-day totals: the windows x breakdowns
                 * that were slow or could be at 10 years. */
                {.name = "by=county, all years"},
                {.name = "by=county, this year, compare=yoy"},
                {.name = "by=province, this year"},
                {.name = "by=day, 5 x 365 days"},
                {.name = "by=week, all years, compare=prev"},
                {.name = "org=150000 by=day, 365 days, yoy"},
                {.name = "org=150800 (巴彦淖尔) by=day, 365, yoy"},
                {.name = "org=150821 by=day, 365 days, yoy"}};
    snprintf(k[0].path, sizeof k[0].path, "/v1/totals?window=today&by=none");
    snprintf(k[1].path, sizeof k[1].path, "/v1/totals?window=month&by=none");
    snprintf(k[2].path, sizeof k[2].path, "/v1/totals?window=ytd&by=none");
    snprintf(k[3].path, sizeof k[3].path, "/v1/totals?window=ytd&by=county");
    snprintf(k[4].path, sizeof k[4].path, "/v1/totals?window=%s&by=day&compare=yoy", prev);
    snprintf(k[5].path, sizeof k[5].path, "/v1/totals?window=ytd&org=150000&by=city");
    snprintf(k[6].path, sizeof k[6].path, "/v1/totals?window=ytd&org=150821&by=township");
    char five[32];
    pufa_date_format(today - 5 * 365 + 1, pa);
    snprintf(five, sizeof five, "%s..%s", pa, pb);
    snprintf(k[7].path, sizeof k[7].path, "/v1/totals?window=all&by=county");
    snprintf(k[8].path, sizeof k[8].path, "/v1/totals?window=ytd&by=county&compare=yoy");
    snprintf(k[9].path, sizeof k[9].path, "/v1/totals?window=ytd&by=province");
    snprintf(k[10].path, sizeof k[10].path, "/v1/totals?window=%s&by=day", five);
    snprintf(k[11].path, sizeof k[11].path, "/v1/totals?window=all&by=week&compare=prev");
    snprintf(k[12].path, sizeof k[12].path, "/v1/totals?window=%s&org=150000&by=day&compare=yoy",
             prev);
    snprintf(k[13].path, sizeof k[13].path, "/v1/totals?window=%s&org=150800&by=day&compare=yoy",
             prev);
    snprintf(k[14].path, sizeof k[14].path, "/v1/totals?window=%s&org=150821&by=day&compare=yoy",
             prev);
    int nk = (int)(sizeof k / sizeof k[0]);
    double p50, p99;
    query_mix(k, nk, 1500, &p50, &p99);
    long long mix_hwm = rss("VmHWM:"), mix_rss = rss("VmRSS:");
    printf(
        "  1,500 requests of the mix: p50 %.2f ms, p99 %.2f ms; VmHWM %lld MiB, VmRSS %lld MiB\n",
        p50, p99, mix_hwm / 1024, mix_rss / 1024);
    for (int i = 0; i < nk; i++)
        printf("    %-44s p50 %.2f ms, p99 %.2f ms\n", k[i].name, k[i].ms[k[i].n / 2],
               k[i].ms[(k[i].n * 99) / 100]);
    fflush(stdout);
    http_timeout_ms = 600000; /* the cut old year reads PostgreSQL */
    /* Old windows: a whole old year by theme (the year tier), and a cut one
     * (its days read from PostgreSQL). */
    kind old[] = {{.name = "by=theme, an old year whole"},
                  {.name = "by=theme, an old year's 03-01..05-31"}};
    snprintf(old[0].path, sizeof old[0].path, "/v1/totals?window=%d-01-01..%d-12-31&by=theme", oy,
             oy);
    snprintf(old[1].path, sizeof old[1].path, "/v1/totals?window=%d-03-01..%d-05-31&by=theme", oy,
             oy);
    double op50, op99;
    query_mix(old, 2, 10, &op50, &op99);
    char la[128];
    FILE *u = popen("uptime", "r");
    if (!u || !fgets(la, sizeof la, u))
        snprintf(la, sizeof la, "?\n");
    if (u)
        pclose(u);
    printf("  load at the end of the queries: %s", la);
    fflush(stdout);

    check_exact("nation, this year", k[2].path,
                "dim = 'total' AND day >= date_trunc('year', now())");
    check_exact("内蒙古, this year (by=city totals)", k[5].path,
                "dim = 'total' AND county_code LIKE '15%' AND day >= date_trunc('year', now())");
    char *w3 = pufa_asprintf("dim = 'theme' AND day BETWEEN '%d-03-01' AND '%d-05-31'", oy, oy);
    check_exact("by=theme, an old year's 03-01..05-31 (cold days)", old[1].path, w3);
    free(w3);

    printf("\n| measure | figure |\n| --- | --- |\n");
    printf("| data | %d years, %lld counties, %lld reports, %lld rollup_dim rows, %lld "
           "receipt_daily rows |\n",
           years, sql_ll("SELECT count(*) FROM org_units WHERE level = 'county'"), reports,
           dim_rows, recv_rows);
    printf("| first start (full snapshot) | ready %.2f s; VmHWM %lld MiB, VmRSS %lld MiB |\n",
           cold_s, cold_hwm / 1024, cold_rss / 1024);
    printf("| start with the model file (%ld MiB) | ready %.2f s; VmHWM %lld MiB, VmRSS %lld MiB "
           "|\n",
           file_mb, warm_s, warm_hwm / 1024, warm_rss / 1024);
    printf("| after the 1,500 requests | VmHWM %lld MiB, VmRSS %lld MiB |\n", mix_hwm / 1024,
           mix_rss / 1024);
    printf("| 1,500 requests, the mix | p50 %.2f ms, p99 %.2f ms |\n", p50, p99);
    for (int i = 0; i < nk; i++)
        printf("| %s (%d) | p50 %.2f ms, p99 %.2f ms |\n", k[i].name, k[i].n, k[i].ms[k[i].n / 2],
               k[i].ms[(k[i].n * 99) / 100]);
    for (int i = 0; i < 2; i++)
        printf("| %s (%d) | p50 %.2f ms, max %.2f ms |\n", old[i].name, old[i].n,
               old[i].ms[old[i].n / 2], old[i].ms[old[i].n - 1]);
    fflush(stdout);

    /* 5. A late correction into an old month, live and after a restart. */
    pufa_proc_stop(&pub, SIGTERM, 120000);
    start_agg_and_collector();
    t0 = pufa_mono_ms();
    start_pub();
    double warm2_s = wait_ready(t0);
    char *mar = pufa_asprintf("/v1/totals?window=%d-03-01..%d-03-31&org=150821&by=theme", oy, oy);
    char *y19 = pufa_asprintf("/v1/totals?window=%d-01-01..%d-12-31&org=150821&by=unit", oy, oy);
    char *wm = pufa_asprintf("dim = 'theme' AND county_code = '150821' AND day BETWEEN "
                             "'%d-03-01' AND '%d-03-31'",
                             oy, oy);
    char *wy = pufa_asprintf("dim = 'unit' AND county_code = '150821' AND day BETWEEN "
                             "'%d-01-01' AND '%d-12-31'",
                             oy, oy);
    long long before = totals_of(y19, "participants");
    rev_base = (int)sql_ll("SELECT coalesce(max(revision), 0) FROM reports WHERE report_id ="
                           " '7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e6f7'");
    /* Without that report (an earlier run's revision counts in before). */
    before -= sql_ll("SELECT coalesce(sum(participants), 0) FROM reports WHERE report_id ="
                     " '7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e6f7'");
    send_report(1, 100);
    send_report(2, 250); /* a correction: another day, other figures */
    long long after = totals_of(y19, "participants");
    printf("  late correction into %d-03 (五原县): %d participants %lld -> %lld (+%lld, want "
           "+250)\n",
           oy, oy, before, after, after - before);
    check_exact("五原县 old 03 by=theme, live (cold days)", mar, wm);
    check_exact("五原县 old year by=unit, live (year tier)", y19, wy);
    /* The publisher down while another correction commits: the next start
     * reads the model file and catches up from its seq. */
    pufa_proc_stop(&pub, SIGTERM, 120000);
    send_report(3, 40);
    t0 = pufa_mono_ms();
    start_pub();
    double warm3_s = wait_ready(t0);
    check_exact("五原县 old 03 by=theme, after a restart", mar, wm);
    check_exact("五原县 old year by=unit, after a restart", y19, wy);
    long long after3 = totals_of(y19, "participants");
    printf("  after a restart with a correction committed meanwhile: %d participants %lld "
           "(want %lld)\n",
           oy, after3, before + 40);
    printf("  restarts with the feed live: ready in %.2f s; after a correction committed while "
           "down: %.2f s\n",
           warm2_s, warm3_s);
    free(mar);
    free(y19);
    free(wm);
    free(wy);
    pufa_proc_stop(&pub, SIGTERM, 120000);
    pufa_proc_stop(&col, SIGTERM, 20000);
    pufa_proc_stop(&agg, SIGTERM, 20000);
    if (after != before + 250 || after3 != before + 40)
        return 1; /* the processes stopped first: none is left running */

    for (int i = 0; i < nk; i++)
        free(k[i].ms);
    free(old[0].ms);
    free(old[1].ms);
    PQfinish(db);
    char *cmd = pufa_asprintf("rm -rf %s", tmpdir);
    pufa_sh(cmd);
    free(cmd);
    return 0;
}
