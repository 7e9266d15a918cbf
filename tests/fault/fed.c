/* The fault driver's level above (--federation): the nation's aggregator
 * (home 100000) and publisher on a PostgreSQL server of their own
 * (PUFA_UPPER_*, from an outer with-pg.sh --prefix PUFA_UPPER_), the city
 * aggregator forwarding up through a partitionable proxy, and the faults of
 * that link: the link partitioned, the city aggregator killed mid-forward,
 * the upper aggregator and its PostgreSQL restarted mid-batch, the city's
 * forward cursor reset to zero.  Each is verified to have bitten. */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "alloc.h"
#include "fault.h"
#include "proc.h"
#include "proxy.h"

static const char *build;
static pufa_proc up_agg, up_pub;
static char up_port[16], up_feed[128], up_http[16], up_pub_port[16];
static fproxy *link_proxy;
static int link_port;
static char link_ep[64];
static PGconn *city_db, *upper_db;

/* The reports the city committed that the upper level has not acked yet,
 * by the city's forward cursor (common/sql/005_federation.sql). */
static const char *const BACKLOG_SQL =
    "SELECT count(*) FROM reports r, forward_cursor c WHERE r.commit_seq > c.acked_seq"
    " OR (r.commit_seq = c.acked_seq AND c.acked_report_id IS NOT NULL"
    " AND r.report_id > c.acked_report_id)";

/* One number from SQL, reconnecting (once) when the connection broke, as
 * after a PostgreSQL restart; -1 when it does not answer. */
static long long query_ll(PGconn **db, const char *conninfo, const char *sql) {
    long long v = -1;
    for (int attempt = 0; attempt < 2 && v < 0; attempt++) {
        if (!*db || PQstatus(*db) != CONNECTION_OK) {
            PQfinish(*db);
            *db = PQconnectdb(conninfo);
        }
        PGresult *q = PQexec(*db, sql);
        if (PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1 && !PQgetisnull(q, 0, 0))
            v = atoll(PQgetvalue(q, 0, 0));
        else if (PQstatus(*db) != CONNECTION_OK)
            PQreset(*db);
        else
            attempt = 2; /* an answer, but not a number: no retry */
        PQclear(q);
    }
    return v;
}

static long long city_ll(const char *sql) {
    return query_ll(&city_db, getenv("PUFA_TEST_DB"), sql);
}

static long long upper_ll(const char *sql) {
    return query_ll(&upper_db, getenv("PUFA_UPPER_DB"), sql);
}

static void start_up_agg(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_aggregator", getenv("PUFA_UPPER_DB"));
    char *listen = pufa_asprintf("tcp://127.0.0.1:%s", up_port[0] ? up_port : "0");
    char *feed = pufa_strdup(up_feed[0] ? up_feed : "tcp://127.0.0.1:0");
    char *http = pufa_asprintf("127.0.0.1:%s", up_http[0] ? up_http : "0");
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    char *argv[] = {bin,  "--insecure", "--listen", listen,   "--feed", feed, "--http",
                    http, "--db",       dbinfo,     "--home", "100000", NULL};
    pufa_proc_start(&up_agg, argv, NULL);
    char ep[128];
    if (!pufa_proc_wait_log(&up_agg, "id=AGG-LISTEN", "endpoint", ep, sizeof ep, 30000)) {
        pufa_proc_dump(&up_agg);
        fprintf(stderr, "fault: the upper aggregator did not start\n");
        exit(2);
    }
    snprintf(up_port, sizeof up_port, "%s", strrchr(ep, ':') + 1);
    pufa_proc_wait_log(&up_agg, "id=AGG-FEED", "endpoint", up_feed, sizeof up_feed, 5000);
    pufa_proc_wait_log(&up_agg, "id=AGG-HTTP", "port", up_http, sizeof up_http, 5000);
    free(dbinfo);
    free(listen);
    free(feed);
    free(http);
    free(bin);
}

static void start_up_pub(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_publisher", getenv("PUFA_UPPER_DB"));
    char *bin = pufa_asprintf("%s/publisher/pufa-publisher", build);
    char *argv[] = {bin,           "--feed", up_feed, "--db",   dbinfo,   "--http",
                    "127.0.0.1:0", "--pub",  "",      "--home", "100000", NULL};
    pufa_proc_start(&up_pub, argv, NULL);
    if (!pufa_proc_wait_log(&up_pub, "id=PUB-HTTP", "port", up_pub_port, sizeof up_pub_port,
                            10000)) {
        pufa_proc_dump(&up_pub);
        exit(2);
    }
    free(dbinfo);
    free(bin);
}

bool fed_start(const char *build_dir) {
    build = build_dir;
    if (!getenv("PUFA_UPPER_DB") || !getenv("PUFA_UPPER_PG_STOP") ||
        !getenv("PUFA_UPPER_PG_START")) {
        fprintf(stderr, "fault: --federation needs the upper level's PostgreSQL: run under "
                        "with-pg.sh --prefix PUFA_UPPER_ with-pg.sh fault ...\n");
        return false;
    }
    char *cmd = pufa_asprintf("'%s/cli/pufa' migrate --db '%s' --org-units '%s/deploy/data/"
                              "demo_tree.csv' >/dev/null",
                              build, getenv("PUFA_UPPER_DB"), PUFA_SOURCE_DIR);
    bool ok = pufa_sh(cmd) == 0;
    free(cmd);
    if (!ok)
        return false;
    start_up_agg();
    start_up_pub();
    link_proxy = fproxy_start(atoi(up_port), &link_port);
    snprintf(link_ep, sizeof link_ep, "tcp://127.0.0.1:%d", link_port);
    return true;
}

const char *fed_upstream(void) {
    return link_ep;
}

const char *fed_pub_port(void) {
    return up_pub_port;
}

void fed_stop(void) {
    pufa_proc_stop(&up_pub, SIGTERM, 10000);
    pufa_proc_stop(&up_agg, SIGTERM, 10000);
    fproxy_stop(&link_proxy);
    PQfinish(city_db);
    PQfinish(upper_db);
    city_db = upper_db = NULL;
}

const char *fed_dead(void) {
    if (!pufa_proc_alive(&up_agg))
        return "upper aggregator";
    if (!pufa_proc_alive(&up_pub))
        return "upper publisher";
    return NULL;
}

void fed_dump(void) {
    pufa_proc_dump(&up_agg);
    pufa_proc_dump(&up_pub);
}

void fed_heal(void) {
    fproxy_heal(link_proxy);
}

/* Waits (at most timeout_ms) until the city has reports the upper level has
 * not acked: forwarding is under way.  Returns that backlog, or 0. */
static long long wait_backlog(int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms, n = 0;
    while ((n = city_ll(BACKLOG_SQL)) <= 0 && pufa_mono_ms() < deadline)
        pufa_sleep_ms(20);
    return n > 0 ? n : 0;
}

static bool killed_by_9(int st) {
    return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

bool fed_inject(int kind, int i, int hold, pufa_proc *city, void (*start_city)(void)) {
    bool ok = false;
    long long n;
    switch (kind) {
    case FED_PARTITION: {
        printf("# fault %d: partition city aggregator <-> upper aggregator for %d ms\n", i, hold);
        long before = fproxy_severed(link_proxy);
        fproxy_cut(link_proxy);
        pufa_sleep_ms(hold);
        /* A forwarder between connections has nothing to cut yet: hold on
         * until it tries. */
        for (int w = 0; w < 100 && fproxy_severed(link_proxy) == before; w++)
            pufa_sleep_ms(100);
        ok = fproxy_severed(link_proxy) > before;
        fproxy_heal(link_proxy);
        break;
    }
    case FED_KILL_CITY:
        n = wait_backlog(10000);
        printf("# fault %d: kill -9 the city aggregator mid-forward (%lld reports not yet acked "
               "above), back after %d ms\n",
               i, n, hold);
        ok = n > 0 && killed_by_9(pufa_proc_stop(city, SIGKILL, 5000));
        pufa_sleep_ms(hold);
        start_city();
        break;
    case FED_UPPER_RESTART:
        n = wait_backlog(10000);
        printf("# fault %d: upper PostgreSQL stopped and upper aggregator killed mid-batch (%lld "
               "reports not yet acked above), %d ms\n",
               i, n, hold);
        ok = pufa_sh(getenv("PUFA_UPPER_PG_STOP")) == 0;
        ok &= killed_by_9(pufa_proc_stop(&up_agg, SIGKILL, 5000)) && n > 0;
        pufa_sleep_ms(hold);
        if (pufa_sh(getenv("PUFA_UPPER_PG_START")) != 0) {
            printf("FAIL: the upper PostgreSQL did not start again\n");
            exit(2);
        }
        start_up_agg();
        fproxy_retarget(link_proxy, atoi(up_port));
        break;
    default: { /* FED_CURSOR_RESET */
        /* The forwarder keeps its cursor in memory while it runs: reset it
         * in the table while the city aggregator is stopped. */
        long long dup0 =
            pufa_http_metric(up_http, "pufa_aggregator_reports_total{status=\"duplicate\"} ");
        int st = pufa_proc_stop(city, SIGTERM, 20000);
        long long was = city_ll("SELECT acked_seq FROM forward_cursor");
        long long reset = city_ll("WITH u AS (UPDATE forward_cursor SET acked_seq = 0,"
                                  " acked_report_id = NULL RETURNING 1) SELECT count(*) FROM u");
        long long rows = city_ll("SELECT count(*) FROM reports");
        printf("# fault %d: the city's forward cursor reset from %lld to zero: %lld reports sent "
               "up again\n",
               i, was, rows);
        start_city();
        /* Verified: the replay got back to where the cursor was, and the
         * upper level answered "duplicate" for what it had already. */
        long long deadline = pufa_mono_ms() + 60000, at = -1, dup = dup0;
        while (pufa_mono_ms() < deadline &&
               (at = city_ll("SELECT acked_seq FROM forward_cursor")) < was)
            pufa_sleep_ms(100);
        dup = pufa_http_metric(up_http, "pufa_aggregator_reports_total{status=\"duplicate\"} ");
        printf("#   the cursor back at %lld (was %lld); the upper aggregator answered %lld "
               "duplicates since the reset\n",
               at, was, dup - dup0);
        ok = st != -1 && WIFEXITED(st) && reset == 1 && was > 0 && at >= was && dup > dup0;
        break;
    }
    }
    return ok;
}

bool fed_drain(long long deadline) {
    /* Everything the city committed is acked above, and the upper publisher
     * is at its feed's sequence. */
    while (pufa_mono_ms() < deadline) {
        long long backlog = city_ll(BACKLOG_SQL);
        long long seq = upper_ll("SELECT seq FROM feed_state");
        long long pub = pufa_http_metric(up_pub_port, "pufa_publisher_seq ");
        if (backlog == 0 && seq >= 0 && pub == seq)
            return true;
        pufa_sleep_ms(200);
    }
    printf("# the upper level did not catch up: %lld reports not acked above, upper feed %lld, "
           "upper publisher %lld\n",
           city_ll(BACKLOG_SQL), upper_ll("SELECT seq FROM feed_state"),
           pufa_http_metric(up_pub_port, "pufa_publisher_seq "));
    return false;
}

void fed_check(verdict *v) {
    PGconn *db = PQconnectdb(getenv("PUFA_UPPER_DB"));
    printf("# the upper level (nation 100000) against the same ledger:\n");
    check_ledger(db, up_pub_port, v);
    PQfinish(db);
}
