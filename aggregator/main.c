/* pufa-aggregator: the city's single writer.  Receives ReportBatch frames
 * from the county collectors over ZeroMQ, writes them to PostgreSQL in
 * group commits, acknowledges each report only after its transaction
 * committed, and publishes a gapless feed of committed deltas. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "approvals.h"
#include "config.h"
#include "date.h"
#include "error.h"
#include "forward.h"
#include "ingest.h"
#include "keyfile.h"
#include "links.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "pg.h"
#include "pipeline.h"
#include "report_json.h"
#include "service.h"
#include "status_http.h"
#include "store.h"
#include "wire.h"
#include "zap.h"
#include "zmqauth.h"

enum { EX_USAGE_ = 64, EX_UNAVAILABLE_ = 69, EX_SOFTWARE_ = 70, EX_CONFIG_ = 78 };

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void on_hup(int sig) {
    (void)sig;
    reload_requested = 1;
}

typedef struct settings {
    char *listen, *feed, *db, *http, *timezone, *log_level, *curve_secret_file, *allow_list, *home;
    char *upstream, *upstream_server_public_file;
    char *feed_allow_list;
    int64_t max_frame, max_pending, max_group, hwm, heartbeat_ms, compact_interval_ms, compact_rows;
    int64_t forward_batch, forward_heartbeat_ms;
    int64_t entry_deadline_days;
    bool insecure;
} settings;

typedef struct app {
    agg_stats stats;
    bool started;
    zap *zap;
    compactor *compactor;
    forward *forwarder;
    links *links; /* NULL without CURVE */
} app;

static void links_metrics(pufa_buf *body, links *l) {
    links_stats ls;
    links_get_stats(l, &ls);
    pufa_metric_help(body, "pufa_aggregator_link_senders", "gauge",
                     "Senders (collectors, forwarders) whose freshness child_links keeps.");
    pufa_metric_u64(body, "pufa_aggregator_link_senders", NULL, ls.senders);
    pufa_metric_help(body, "pufa_aggregator_link_refused_total", "counter",
                     "Batches whose link was not recorded (bad or foreign collector_id); their "
                     "reports went on.");
    pufa_metric_u64(body, "pufa_aggregator_link_refused_total", NULL, ls.refused);
    pufa_metric_help(body, "pufa_aggregator_link_fields_dropped_total", "counter",
                     "Batches with a link field out of range, dropped (AGG-LINK-FIELD).");
    pufa_metric_u64(body, "pufa_aggregator_link_fields_dropped_total", NULL, ls.fields_dropped);
    pufa_metric_help(body, "pufa_aggregator_link_rows_written_total", "counter",
                     "child_links row writes (at most one per sender a second).");
    pufa_metric_u64(body, "pufa_aggregator_link_rows_written_total", NULL, ls.rows_written);
    pufa_metric_help(body, "pufa_aggregator_link_write_errors_total", "counter",
                     "Failed child_links writes (retried with the newest values).");
    pufa_metric_u64(body, "pufa_aggregator_link_write_errors_total", NULL, ls.write_errors);
}

/* The forwarder's part of /metrics. */
static void forward_metrics(forward *f, pufa_buf *body) {
    forward_stats fs;
    forward_get_stats(f, &fs);
    pufa_metric_help(body, "pufa_aggregator_forward_batches_total", "counter",
                     "Batches forwarded to the level above, by kind.");
    pufa_metric_u64(body, "pufa_aggregator_forward_batches_total", "kind=\"sent\"",
                    fs.batches_sent);
    pufa_metric_u64(body, "pufa_aggregator_forward_batches_total", "kind=\"resent\"",
                    fs.batches_resent);
    pufa_metric_u64(body, "pufa_aggregator_forward_batches_total", "kind=\"acked\"",
                    fs.batches_acked);
    pufa_metric_u64(body, "pufa_aggregator_forward_batches_total", "kind=\"heartbeat\"",
                    fs.heartbeats);
    static const char *const names[] = {"",      "committed", "duplicate",
                                        "stale", "rejected",  "locked"};
    pufa_metric_help(body, "pufa_aggregator_forward_reports_total", "counter",
                     "Forwarded reports acknowledged by the level above, by its answer.");
    for (int i = 1; i <= 5; i++) {
        char label[48];
        snprintf(label, sizeof label, "status=\"%s\"", names[i]);
        pufa_metric_u64(body, "pufa_aggregator_forward_reports_total", label, fs.results[i]);
    }
    pufa_metric_help(body, "pufa_aggregator_forward_refused_total", "counter",
                     "Forwarded reports the level above refused (table forward_refused).");
    pufa_metric_u64(body, "pufa_aggregator_forward_refused_total", "status=\"rejected\"",
                    fs.results[4]);
    pufa_metric_u64(body, "pufa_aggregator_forward_refused_total", "status=\"locked\"",
                    fs.results[5]);
    pufa_metric_help(body, "pufa_aggregator_forward_frames_refused_total", "counter",
                     "Whole batches the level above refused (key not on its allow-list).");
    pufa_metric_u64(body, "pufa_aggregator_forward_frames_refused_total", NULL, fs.frames_refused);
    pufa_metric_help(body, "pufa_aggregator_forward_auth_failures_total", "counter",
                     "CURVE handshakes the level above refused.");
    pufa_metric_u64(body, "pufa_aggregator_forward_auth_failures_total", NULL, fs.auth_failures);
    pufa_metric_help(body, "pufa_aggregator_forward_cursor_resets_total", "counter",
                     "Times the cursor was found moved outside the forwarder.");
    pufa_metric_u64(body, "pufa_aggregator_forward_cursor_resets_total", NULL, fs.cursor_resets);
    pufa_metric_help(body, "pufa_aggregator_forward_acked_seq", "gauge",
                     "Commit sequence acknowledged by the level above (the cursor).");
    pufa_metric_u64(body, "pufa_aggregator_forward_acked_seq", NULL, fs.acked_seq);
    pufa_metric_help(body, "pufa_aggregator_forward_pending", "gauge",
                     "Reports committed here and not yet acknowledged above.");
    pufa_metric_u64(body, "pufa_aggregator_forward_pending", NULL, fs.pending);
    pufa_metric_help(body, "pufa_aggregator_forward_lag_seconds", "gauge",
                     "Age of the oldest commit not yet acknowledged above (0: none).");
    double lag = fs.oldest_unacked_ms ? (double)(pufa_now_ms() - fs.oldest_unacked_ms) / 1e3 : 0;
    pufa_buf_printf(body, "pufa_aggregator_forward_lag_seconds %.3f\n", lag < 0 ? 0 : lag);
    pufa_metric_help(body, "pufa_aggregator_forward_connected", "gauge",
                     "1 while connected to the level above.");
    pufa_metric_u64(body, "pufa_aggregator_forward_connected", NULL, fs.connected);
}

static int on_status(void *ctx, const char *method, const char *path, pufa_buf *body,
                     const char **ctype) {
    app *a = ctx;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        pufa_buf_puts(body, "method not allowed\n");
        return 405;
    }
    agg_stats *s = &a->stats;
    if (!strcmp(path, "/healthz")) {
        pufa_buf_puts(body, "ok\n");
        return 200;
    }
    if (!strcmp(path, "/readyz")) {
        pthread_mutex_lock(&s->mu);
        bool up = s->db_up && a->started;
        if (up)
            pufa_buf_puts(body, "ready\n");
        else
            pufa_buf_printf(body, "not ready: %s\n", s->db_error[0] ? s->db_error : "starting");
        pthread_mutex_unlock(&s->mu);
        return up ? 200 : 503;
    }
    if (!strcmp(path, "/metrics")) {
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        pthread_mutex_lock(&s->mu);
        static const char *const names[] = {"",      "committed", "duplicate",
                                            "stale", "rejected",  "locked"};
        pufa_metric_help(body, "pufa_aggregator_reports_total", "counter",
                         "Reports answered, by status.");
        for (int i = 1; i <= 5; i++) {
            char label[48];
            snprintf(label, sizeof label, "status=\"%s\"", names[i]);
            pufa_metric_u64(body, "pufa_aggregator_reports_total", label, s->reports[i]);
        }
        pufa_metric_help(body, "pufa_aggregator_batches_total", "counter",
                         "ReportBatch frames decoded.");
        pufa_metric_u64(body, "pufa_aggregator_batches_total", NULL, s->batches);
        pufa_metric_help(body, "pufa_aggregator_frame_errors_total", "counter",
                         "Frames refused before decoding any report.");
        pufa_metric_u64(body, "pufa_aggregator_frame_errors_total", "reason=\"malformed\"",
                        s->frames_malformed);
        pufa_metric_u64(body, "pufa_aggregator_frame_errors_total", "reason=\"oversize\"",
                        s->frames_oversize);
        pufa_metric_help(body, "pufa_aggregator_county_mismatch_total", "counter",
                         "Reports refused because the county is not under the org unit the "
                         "sender's key is bound to.");
        pufa_metric_u64(body, "pufa_aggregator_county_mismatch_total", NULL, s->county_mismatch);
        pufa_metric_help(body, "pufa_aggregator_outside_home_total", "counter",
                         "Reports refused because the county is not under this aggregator's "
                         "home unit.");
        pufa_metric_u64(body, "pufa_aggregator_outside_home_total", NULL, s->outside_home);
        pufa_metric_help(body, "pufa_aggregator_key_refused_total", "counter",
                         "Batches refused because the key left the allow-list.");
        pufa_metric_u64(body, "pufa_aggregator_key_refused_total", NULL, s->key_refused);
        pufa_metric_help(body, "pufa_aggregator_periods_refused_total", "counter",
                         "Period changes from a lower aggregator refused (outside its unit, or "
                         "malformed); never applied.");
        pufa_metric_u64(body, "pufa_aggregator_periods_refused_total", NULL, s->periods_refused);
        if (a->zap) {
            uint64_t ok, denied;
            zap_counts(a->zap, &ok, &denied);
            pufa_metric_help(body, "pufa_aggregator_zap_total", "counter",
                             "CURVE handshakes by ZAP verdict.");
            pufa_metric_u64(body, "pufa_aggregator_zap_total", "verdict=\"allowed\"", ok);
            pufa_metric_u64(body, "pufa_aggregator_zap_total", "verdict=\"denied\"", denied);
        }
        pufa_metric_help(body, "pufa_aggregator_acks_dropped_total", "counter",
                         "Acks that could not be sent (peer gone); the sender resends.");
        pufa_metric_u64(body, "pufa_aggregator_acks_dropped_total", NULL, s->acks_dropped);
        pufa_metric_help(body, "pufa_aggregator_transactions_total", "counter",
                         "Committed group-commit transactions.");
        pufa_metric_u64(body, "pufa_aggregator_transactions_total", NULL, s->transactions);
        pufa_metric_histogram(body, "pufa_aggregator_commit_seconds",
                              "Time from BEGIN to COMMIT of a group commit.", &s->commit_latency);
        pufa_metric_help(body, "pufa_aggregator_feed_seq", "gauge",
                         "Sequence number of the last committed delta.");
        pufa_metric_u64(body, "pufa_aggregator_feed_seq", NULL, s->feed_seq);
        pufa_metric_help(body, "pufa_aggregator_db_up", "gauge",
                         "1 when the database connection works.");
        pufa_metric_u64(body, "pufa_aggregator_db_up", NULL, s->db_up);
        pufa_metric_help(body, "pufa_aggregator_receiving", "gauge",
                         "0 while the write queue is full and intake pauses.");
        pufa_metric_u64(body, "pufa_aggregator_receiving", NULL, s->receiving);
        pthread_mutex_unlock(&s->mu);
        if (a->compactor) {
            compact_stats cs;
            compactor_stats(a->compactor, &cs);
            pufa_metric_help(body, "pufa_aggregator_compactions_total", "counter",
                             "Rollup journal compactions, by outcome.");
            pufa_metric_u64(body, "pufa_aggregator_compactions_total", "outcome=\"ok\"", cs.runs);
            pufa_metric_u64(body, "pufa_aggregator_compactions_total", "outcome=\"failed\"",
                            cs.failures);
            pufa_metric_help(body, "pufa_aggregator_journal_rows_compacted_total", "counter",
                             "Rollup journal rows folded into rollup_dim.");
            pufa_metric_u64(body, "pufa_aggregator_journal_rows_compacted_total", NULL, cs.moved);
            pufa_metric_help(body, "pufa_aggregator_journal_rows_pending", "gauge",
                             "Rollup journal rows appended since the last compaction.");
            pufa_metric_u64(body, "pufa_aggregator_journal_rows_pending", NULL, cs.pending);
            pufa_metric_help(body, "pufa_aggregator_compaction_seconds", "gauge",
                             "Duration of the last compaction.");
            pufa_buf_printf(body, "pufa_aggregator_compaction_seconds %.3f\n", cs.last_seconds);
        }
        if (a->forwarder)
            forward_metrics(a->forwarder, body);
        if (a->links)
            links_metrics(body, a->links);
        return 200;
    }
    pufa_buf_puts(body, "not found: try /metrics, /healthz or /readyz\n");
    return 404;
}

/* Loads the org units, waiting for the database (a stop request ends the
 * wait).  The counties are needed to validate anything. */
static int load_orgunits(const char *conninfo, pufa_orgunits **out) {
    int backoff = 100;
    while (!stop_requested) {
        char err[512];
        PGconn *c = NULL;
        int rc = pufa_pg_connect(conninfo, &c, err, sizeof err);
        if (rc == 0) {
            int have = pufa_schema_version(c, err, sizeof err);
            int want = pufa_migrations[pufa_migration_count - 1].version;
            if (have >= 0 && have < want) {
                PQfinish(c);
                PLOG_ERROR("AGG-SCHEMA",
                           "have=%d want=%d msg=\"the database schema is older "
                           "than this aggregator: run pufa migrate\"",
                           have, want);
                return PUFA_ECONFIG;
            }
            rc = pufa_db_load_orgunits(c, out, err, sizeof err);
            PQfinish(c);
            if (rc == 0) {
                if ((*out)->count == 0) {
                    PLOG_ERROR("AGG-NO-ORGUNITS",
                               "msg=\"org_units is empty: load them with pufa migrate "
                               "--org-units FILE\"");
                    pufa_orgunits_destroy(out);
                    return PUFA_ECONFIG;
                }
                return 0;
            }
        }
        char q[600];
        PLOG_WARN("AGG-DB-WAIT", "msg=%s retry_ms=%d", pufa_log_quote(q, sizeof q, err), backoff);
        struct timespec ts = {backoff / 1000, (long)(backoff % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return PUFA_ECLOSED;
}

int main(int argc, char **argv) {
    pufa_json_init();
    settings s;
    memset(&s, 0, sizeof s);
    pufa_cfg_opt opts[] = {
        {"listen", PUFA_CFG_STRING, &s.listen, "tcp://127.0.0.1:7600", 0, 0,
         "ZeroMQ endpoint collectors send batches to (ROUTER); port 0 or * picks one", 0},
        {"feed", PUFA_CFG_STRING, &s.feed, "tcp://127.0.0.1:7601", 0, 0,
         "ZeroMQ endpoint of the committed-delta feed (PUB)", 0},
        {"db", PUFA_CFG_STRING, &s.db, "dbname=pufa user=pufa_aggregator", 0, 0,
         "PostgreSQL conninfo (role pufa_aggregator; passwords via ~/.pgpass)", 0},
        {"http", PUFA_CFG_STRING, &s.http, "127.0.0.1:7602", 0, 0,
         "HOST:PORT for /metrics, /healthz, /readyz and the approval API (/v1/approvals, "
         "/v1/periods, /v1/audit)",
         0},
        {"timezone", PUFA_CFG_STRING, &s.timezone, "Asia/Shanghai", 0, 0,
         "the city's time zone (Asia/Shanghai or +08:00 style)", 0},
        {"log_level", PUFA_CFG_STRING, &s.log_level, "info", 0, 0, "debug, info, warn or error", 0},
        {"max_frame", PUFA_CFG_SIZE, &s.max_frame, "4MiB", 1024, 64 * 1024 * 1024,
         "largest batch frame accepted (ZMQ_MAXMSGSIZE)", 0},
        {"max_pending", PUFA_CFG_INT, &s.max_pending, "100000", 100, 10000000,
         "reports queued for the database before intake pauses", 0},
        {"max_group", PUFA_CFG_INT, &s.max_group, "10000", 1, 1000000,
         "reports in one transaction at most", 0},
        {"compact_interval", PUFA_CFG_MS, &s.compact_interval_ms, "5s", 100, 3600000,
         "fold the rollup journal into rollup_dim this long after the last fold", 0},
        {"compact_rows", PUFA_CFG_INT, &s.compact_rows, "100000", 1, 100000000,
         "fold at once when the rollup journal holds this many rows (the publisher's start-up "
         "reads at most about this many)",
         0},
        {"hwm", PUFA_CFG_INT, &s.hwm, "10000", 10, 10000000, "ZeroMQ high-water marks", 0},
        {"heartbeat", PUFA_CFG_MS, &s.heartbeat_ms, "1s", 50, 60000,
         "period of the feed's heartbeat", 0},
        {"curve_secret_file", PUFA_CFG_STRING, &s.curve_secret_file, "", 0, 0,
         "this aggregator's CURVE secret key (file, mode 0600; pufa keygen makes one)", 0},
        {"allow_list", PUFA_CFG_STRING, &s.allow_list, "", 0, 0,
         "file of 'PUBLIC-KEY CODE' lines: the key may report for the counties under that "
         "county, city, province or nation (SIGHUP re-reads it)",
         0},
        {"feed_allow_list", PUFA_CFG_STRING, &s.feed_allow_list, "", 0, 0,
         "file of 'PUBLIC-KEY CODE' lines: the subscribers (publishers) admitted to the feed "
         "over CURVE (this aggregator's key pair; SIGHUP re-reads it and drops the removed "
         "keys); required when feed is not on loopback, unless insecure",
         0},
        {"home", PUFA_CFG_STRING, &s.home, "", 0, 0,
         "the org unit this aggregator serves (a city, province or nation code): reports are "
         "accepted for the counties under it only; empty: the one city in org_units, if there "
         "is exactly one",
         0},
        {"upstream", PUFA_CFG_STRING, &s.upstream, "", 0, 0,
         "forward every committed revision to the level above: its aggregator's listen "
         "endpoint (empty: this is the top level)",
         0},
        {"upstream_server_public_file", PUFA_CFG_STRING, &s.upstream_server_public_file, "", 0, 0,
         "the upper aggregator's CURVE public key (file); this aggregator's own "
         "curve_secret_file is its identity there",
         0},
        {"forward_batch", PUFA_CFG_INT, &s.forward_batch, "1000", 1, PUFA_MAX_BATCH_REPORTS,
         "reports per upward batch at most", 0},
        {"heartbeat_ms", PUFA_CFG_INT, &s.forward_heartbeat_ms, "5000", 50, 600000,
         "milliseconds between the forwarder's idle heartbeats to the level above", 0},
        {"insecure", PUFA_CFG_BOOL, &s.insecure, "false", 0, 0,
         "accept plaintext collectors (no CURVE) and a plaintext feed off loopback: only for "
         "tests and single-host demos",
         0},
        {"entry_deadline_days", PUFA_CFG_INT, &s.entry_deadline_days, "0", 0, 366,
         "a county-month locks by itself this many days after it ends unless a lock exception "
         "is open (pufa unlock); 0 = off",
         0},
    };
    pufa_cfg cfg = {.program = "pufa-aggregator",
                    .summary = "ZeroMQ batches from the collectors -> PostgreSQL, ack after commit",
                    .section = "aggregator",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int ex = pufa_cfg_load(&cfg, argc, argv);
    if (ex) {
        pufa_cfg_free(&cfg);
        return ex - 1;
    }
    int rc = 0;
    char err[512];
    if (pufa_log_set_level(s.log_level)) {
        fprintf(stderr, "pufa-aggregator: log_level must be debug, info, warn or error\n");
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (pufa_tz_parse(s.timezone, &pufa_city_utc_offset_min)) {
        fprintf(stderr, "pufa-aggregator: unknown timezone '%s'\n", s.timezone);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (*s.home && !pufa_orgunit_code_valid(s.home)) {
        fprintf(stderr, "pufa-aggregator: home: must be a six-digit org-unit code (got '%s')\n",
                s.home);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    struct sockaddr_storage ss;
    unsigned sslen;
    if (pufa_parse_hostport(s.http, &ss, &sslen)) {
        fprintf(stderr, "pufa-aggregator: http: want HOST:PORT (got '%s')\n", s.http);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    char secret[41] = "", public_key[41] = "";
    bool curve = *s.curve_secret_file || *s.allow_list;
    if (curve) {
        if (!*s.curve_secret_file || !*s.allow_list) {
            fprintf(stderr, "pufa-aggregator: CURVE needs both curve_secret_file and "
                            "allow_list\n");
            rc = EX_CONFIG_;
            goto out_cfg;
        }
        if (pufa_read_curve_key(s.curve_secret_file, 1, secret, err, sizeof err) ||
            zmq_curve_public(public_key, secret) != 0) {
            fprintf(stderr, "pufa-aggregator: curve_secret_file: %s\n",
                    err[0] ? err : "not a CURVE secret key");
            rc = EX_CONFIG_;
            goto out_cfg;
        }
    } else if (!s.insecure) {
        fprintf(stderr, "pufa-aggregator: set curve_secret_file and allow_list (CURVE), or "
                        "insecure = true for plaintext on a single host\n");
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    char upstream_key[41] = "";
    if (*s.upstream_server_public_file && !*s.upstream) {
        fprintf(stderr, "pufa-aggregator: upstream_server_public_file is set but upstream is "
                        "not\n");
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (*s.upstream) {
        if (*s.upstream_server_public_file) {
            if (!curve) {
                fprintf(stderr, "pufa-aggregator: upstream_server_public_file: forwarding over "
                                "CURVE needs this aggregator's curve_secret_file (its identity "
                                "upward)\n");
                rc = EX_CONFIG_;
                goto out_cfg;
            }
            if (pufa_read_curve_key(s.upstream_server_public_file, 0, upstream_key, err,
                                    sizeof err)) {
                fprintf(stderr, "pufa-aggregator: upstream_server_public_file: %s\n", err);
                rc = EX_CONFIG_;
                goto out_cfg;
            }
        } else if (!s.insecure) {
            fprintf(stderr, "pufa-aggregator: upstream: set upstream_server_public_file (the "
                            "upper aggregator's public key), or insecure = true for plaintext\n");
            rc = EX_CONFIG_;
            goto out_cfg;
        }
    }
    /* The feed: CURVE with its own allow-list, or plaintext on loopback (or insecure). */
    bool feed_curve = *s.feed_allow_list;
    if (feed_curve && !curve) {
        fprintf(stderr, "pufa-aggregator: feed_allow_list needs curve_secret_file and allow_list "
                        "(the feed's CURVE uses this aggregator's key pair)\n");
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (!feed_curve && !s.insecure && !pufa_endpoint_local(s.feed)) {
        fprintf(stderr,
                "pufa-aggregator: feed: %s is not on loopback: set feed_allow_list (CURVE for "
                "the subscribers) or insecure = true\n",
                s.feed);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (cfg.check_only) {
        pufa_cfg_dump(&cfg, stdout);
        printf("# configuration ok\n");
        goto out_cfg;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    PLOG_INFO("AGG-START", "version=%s pid=%d", PUFA_VERSION, (int)getpid());
    if (!curve)
        PLOG_WARN("AGG-INSECURE", "msg=\"plaintext ZeroMQ: any host that reaches the listen "
                                  "endpoint can report for any county\"");

    app a;
    memset(&a, 0, sizeof a);
    pthread_mutex_init(&a.stats.mu, NULL);
    pufa_histogram_init_latency(&a.stats.commit_latency);
    /* Made before the status server (which reads its counters), freed after. */
    a.compactor = compactor_new(s.db, s.compact_interval_ms, s.compact_rows);

    pufa_status_http *http = NULL;
    approvals *ap = NULL;
    int port = 0;
    if (approvals_new(s.db, &ap, err, sizeof err)) {
        PLOG_ERROR("AGG-APPROVALS", "msg=\"%s\"", err);
        rc = EX_SOFTWARE_;
        goto out_stats;
    }
    if (pufa_status_http_open(s.http, on_status, &a, &http, &port, err, sizeof err)) {
        PLOG_ERROR("AGG-HTTP", "msg=\"%s\"", err);
        rc = EX_UNAVAILABLE_;
        goto out_stats;
    }
    pufa_status_http_set_api(http, "/v1/", 16 * 1024, approvals_serve, ap);
    PLOG_INFO("AGG-HTTP", "port=%d", port);

    pufa_orgunits *ou = NULL;
    if ((rc = load_orgunits(s.db, &ou)) != 0) {
        rc = rc == PUFA_ECLOSED ? 0 : EX_CONFIG_;
        goto out_http;
    }
    PLOG_INFO("AGG-ORGUNITS", "count=%zu", ou->count);
    char home[7];
    if (pufa_orgunits_resolve_home(ou, s.home, home, err, sizeof err)) {
        char q[600];
        PLOG_ERROR("AGG-HOME", "msg=%s", pufa_log_quote(q, sizeof q, err));
        pufa_orgunits_destroy(&ou);
        rc = EX_CONFIG_;
        goto out_http;
    }
    {
        const pufa_orgunit *h = pufa_orgunits_find(ou, home);
        char q[300];
        PLOG_INFO("AGG-HOME", "home=%s name=%s level=%s counties=%zu", home,
                  pufa_log_quote(q, sizeof q, h->name), h->level,
                  pufa_orgunits_counties_under(ou, home));
    }

    store *st = store_new(s.db);
    store_set_deadline(st, (int)s.entry_deadline_days);
    pipeline *pl = NULL;
    void *zctx = zmq_ctx_new();
    ingest *in = NULL;
    delta_pub *pub = NULL;
    if (curve) {
        a.links = links_new(s.db);
    } else {
        PLOG_INFO("AGG-LINKS", "msg=\"child_links is not written without CURVE: only a key "
                               "binds a sender to its unit\"");
    }
    if (curve) {
        /* The ZAP handler first: the ROUTER must never be bound without it.
         * (PUFA_FAULT=agg_no_zap leaves it out, to test that nobody gets in.) */
        const char *fault = getenv("PUFA_FAULT");
        if (fault && !strcmp(fault, "agg_no_zap")) {
            PLOG_WARN("AGG-FAULT", "msg=\"PUFA_FAULT: no ZAP handler\"");
        } else if (zap_open(zctx, s.allow_list, ou, home, &a.zap, err, sizeof err)) {
            PLOG_ERROR("AGG-ZAP", "msg=\"%s\"", err);
            rc = EX_CONFIG_;
            goto out_zmq;
        } else if (feed_curve &&
                   zap_add_domain(a.zap, ZAP_DOMAIN_FEED, s.feed_allow_list, err, sizeof err)) {
            PLOG_ERROR("AGG-ZAP", "msg=\"feed_allow_list: %s\"", err);
            rc = EX_CONFIG_;
            goto out_zmq;
        } else {
            PLOG_INFO("AGG-CURVE", "public_key=%s allowed_keys=%zu feed_keys=%zu", public_key,
                      zap_keys(a.zap), zap_domain_keys(a.zap, ZAP_DOMAIN_FEED));
        }
    }
    if (!feed_curve && !pufa_endpoint_local(s.feed))
        PLOG_WARN("AGG-INSECURE-FEED",
                  "endpoint=%s msg=\"plaintext feed off loopback: any host "
                  "that reaches it reads every committed delta\"",
                  s.feed);
    /* The feed after the ZAP handler too (with CURVE, none means nobody in). */
    if (delta_pub_open(zctx, s.feed, s.hwm, feed_curve ? secret : NULL, a.zap, &pub, err,
                       sizeof err)) {
        PLOG_ERROR("AGG-BIND", "msg=\"%s\"", err);
        rc = EX_UNAVAILABLE_;
        goto out_zmq;
    }
    if (pipeline_new(st, pub, &a.stats, (size_t)s.max_pending, (size_t)s.max_group, &pl, err,
                     sizeof err)) {
        PLOG_ERROR("AGG-PIPE", "msg=\"%s\"", err);
        rc = EX_SOFTWARE_;
        goto out_zmq;
    }
    ingest_config icfg = {.listen = s.listen,
                          .max_frame = s.max_frame,
                          .hwm = s.hwm,
                          .heartbeat_ms = s.heartbeat_ms,
                          .insecure = s.insecure,
                          .curve_secret = curve ? secret : NULL,
                          .zap = a.zap,
                          .home = home,
                          .links = a.links};
    if (ingest_open(&icfg, zctx, pl, pub, &a.stats, ou, &in, err, sizeof err)) {
        PLOG_ERROR("AGG-BIND", "msg=\"%s\"", err);
        rc = EX_UNAVAILABLE_;
        goto out_zmq;
    }
    pipeline_set_compactor(pl, a.compactor);
    if (*s.upstream) {
        forward_config fcfg = {.db = s.db,
                               .upstream = s.upstream,
                               .server_key = *upstream_key ? upstream_key : NULL,
                               .public_key = public_key,
                               .secret_key = secret,
                               .home = home,
                               .batch = s.forward_batch,
                               .heartbeat_ms = s.forward_heartbeat_ms};
        if (forward_new(&fcfg, zctx, &a.forwarder, err, sizeof err)) {
            PLOG_ERROR("AGG-FWD", "msg=\"%s\"", err);
            rc = EX_CONFIG_;
            goto out_zmq;
        }
        pipeline_set_forwarder(pl, a.forwarder);
    }
    if (compactor_start(a.compactor)) {
        PLOG_ERROR("AGG-THREAD", "msg=\"cannot start the compactor thread\"");
        rc = EX_SOFTWARE_;
        goto out_zmq;
    }
    if (a.links && links_start(a.links)) {
        PLOG_ERROR("AGG-THREAD", "msg=\"cannot start the child_links writer thread\"");
        rc = EX_SOFTWARE_;
        goto out_zmq;
    }
    if (pipeline_start(pl)) {
        PLOG_ERROR("AGG-THREAD", "msg=\"cannot start the writer thread\"");
        rc = EX_SOFTWARE_;
        goto out_zmq;
    }
    if (a.forwarder && forward_start(a.forwarder)) {
        PLOG_ERROR("AGG-THREAD", "msg=\"cannot start the forwarder thread\"");
        rc = EX_SOFTWARE_;
        goto out_zmq;
    }
    approvals_attach(ap, pl, ou, home);
    a.started = true;
    PLOG_INFO("AGG-READY", "msg=\"accepting batches\"");
    pufa_service_ready("accepting batches");
    if (ingest_run(in, &stop_requested, &reload_requested) == PUFA_EAUTH)
        rc = EX_SOFTWARE_;
    PLOG_INFO("AGG-STOP", "msg=\"finishing the current transaction\"");
    pufa_service_stopping();
    a.started = false;
    forward_stop(a.forwarder);
    pipeline_stop(pl);
    ingest_flush(in);
    PLOG_INFO("AGG-STOPPED", "msg=\"acks sent for everything committed\"");
out_zmq:
    approvals_detach(ap); /* waits for a request in progress */
    ingest_close(&in);
    /* Stopped before the pipeline that wakes it; the status server reads its
     * counters until here. */
    forward_stop(a.forwarder);
    pipeline_destroy(&pl);
    delta_pub_close(&pub);
    /* The one stop: the status server still reads its counters until
     * compactor_destroy below. */
    compactor_stop(a.compactor);
    zap_close(&a.zap);
    pufa_status_http_close(&http);
    forward_destroy(&a.forwarder);
    zmq_ctx_term(zctx);
    store_destroy(&st);
    pufa_orgunits_destroy(&ou);
out_http:
    pufa_status_http_close(&http);
out_stats:
    pufa_status_http_close(&http);
    approvals_destroy(&ap);
    compactor_destroy(&a.compactor);
    links_destroy(&a.links); /* its last flush writes what is pending */
    pthread_mutex_destroy(&a.stats.mu);
out_cfg:
    pufa_cfg_free(&cfg);
    return rc;
}
