/* What the benchmark's federation rows (fed.c) share with bench.c. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "report.h"

/* bench.c: n generated reports (4 counties of 150800, a year of days, every
 * theme/venue/form); the caller frees them with bench_free_reports. */
pufa_report *bench_make_reports(size_t n, unsigned seed);
void bench_free_reports(pufa_report *r, size_t n);
/* Raw binary COPY of r[0..n) into table, 10,000 rows per transaction, over
 * the connection bench_use_db last named; rows/s. */
double bench_copy(const char *table, pufa_report *r, size_t n);
/* Points bench_copy at c; returns the connection it used before. */
PGconn *bench_use_db(PGconn *c);
double bench_secs_since(long long t0);
int bench_cmp_ll(const void *a, const void *b);

/* An SSE client of a publisher's /v1/stream (bench_sse_main in a thread,
 * until stop): when each event arrived and the all-time report count in it. */
typedef struct bench_sse_probe {
    char port[16];
    _Atomic int stop;
    long long times[200000];  /* event arrival (mono ms) */
    long long counts[200000]; /* totals.all.reports in that event */
    _Atomic size_t n;
} bench_sse_probe;
void *bench_sse_main(void *arg);

/* fed.c: the federation rows, on databases pufa_city and pufa_upper of the
 * same server (conninfo base: PUFA_TEST_DB without its dbname).  n reports
 * caught up after a partition, lag_s seconds of 1,000 reports/s. */
typedef struct bench_fed_result {
    double copy_rate;        /* raw COPY at the upper level, rows/s */
    double catchup_s;        /* n reports city -> upper after the partition */
    long long caught_up;     /* reports at the upper level at the end */
    double lag_rate;         /* reports/s actually posted during the lag row */
    double lag_p50, lag_p99; /* ms from a 202 to the upper publisher's SSE event */
    size_t lag_samples;
} bench_fed_result;
int bench_fed(const char *build, size_t n, int lag_s, bench_fed_result *out);

/* bench.c: random (v4) report ids from bench_make_reports instead of v7. */
extern bool bench_ids_v4;
/* bench.c: sums the AGG-TXN and compaction lines of an aggregator's debug log. */
void bench_print_profile(const char *log);

/* bigdb.c (--stored N --ids v4|v7): n fresh reports through the aggregator
 * against raw COPY, with `stored` reports pre-loaded (0: as the database is). */
typedef struct bench_bigdb_opts {
    size_t stored, n;
    bool v4;
    int rounds;
    const char *agg_bins; /* "A[,B]": aggregator binaries alternated per round */
    bool profile;         /* --profile: the aggregator's per-transaction timings */
} bench_bigdb_opts;
int bench_bigdb(const char *build, PGconn *conn, void *zctx, const bench_bigdb_opts *o);

/* national.c: --national YEARS (--detail-years N): a nation's publisher. */
int national_main(const char *build, int years, int detail_years);

/* bench.c: a process's /proc/PID/status field (VmRSS:, VmHWM:) in KiB. */
long long rss_kb(pid_t pid, const char *field);

/* scale_http.c, on the run's aggregator (its listen and feed endpoints).
 * --sse N: N streams on one publisher.  --hostile N: N half-sent heads from
 * 127.0.0.1 against a collector and a publisher, a legitimate client on
 * 127.0.0.2. */
typedef struct bench_http_env {
    const char *build;
    void *zctx;
    const char *agg_ep, *feed_ep;
} bench_http_env;
void bench_sse(const bench_http_env *env, int n);
void bench_hostile(const bench_http_env *env, int n);

#endif
