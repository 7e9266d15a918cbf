/* pufa-publisher: the city office's live dashboards.  Read-only: a snapshot
 * of the rollups from PostgreSQL plus the aggregator's committed deltas,
 * served as a web page, a JSON/SSE API, CSV/XLSX exports and a ZeroMQ PUB
 * feed of Dashboards. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "alloc.h"
#include "config.h"
#include "dashboard_pub.h"
#include "date.h"
#include "error.h"
#include "feed.h"
#include "http.h"
#include "keyfile.h"
#include "live.h"
#include "log.h"
#include "migrate.h"
#include "orgunits.h"
#include "pg.h"
#include "report_json.h"
#include "service.h"
#include "snapshot.h"
#include "targets_cache.h"
#include "windows.h"
#include "zap.h"
#include "zmqauth.h"

enum { EX_UNAVAILABLE_ = 69, EX_SOFTWARE_ = 70, EX_CONFIG_ = 78 };

static void on_signal(uv_signal_t *h, int sig) {
    PLOG_INFO("PUB-SIGNAL", "signal=%d msg=\"stopping\"", sig);
    pufa_service_stopping();
    uv_stop(h->loop);
}

/* SIGHUP: re-read pub_allow_list (the Dashboard thread rebinds when a key
 * went); without one, nothing to do. */
static void on_hup(uv_signal_t *h, int sig) {
    (void)sig;
    zap *z = h->data;
    char err[300];
    if (!z)
        PLOG_INFO("PUB-RELOAD", "msg=\"SIGHUP: no pub_allow_list to reload\"");
    else if (zap_reload(z, err, sizeof err) == 0)
        PLOG_INFO("PUB-RELOAD", "pub_keys=%zu", zap_domain_keys(z, ZAP_DOMAIN_FEED));
    else
        PLOG_ERROR("PUB-RELOAD", "msg=\"%s; the previous list stays\"", err);
}

static void on_watchdog(uv_timer_t *t) {
    (void)t;
    pufa_service_watchdog();
}

/* Before the event loop runs: a stop ends the wait for the database. */
static volatile sig_atomic_t stop_requested;

static void on_early_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* The home unit (home, or the one city of org_units), waiting for the
 * database while it is down; its org units into the model.  0, PUFA_ECONFIG
 * (logged: what to set), or PUFA_ECLOSED when stopped first. */
static int find_home(const char *db, const char *want, pub_model *m) {
    int backoff = 100;
    while (!stop_requested) {
        char err[512], q[600];
        PGconn *c = NULL;
        pufa_orgunits *ou = NULL;
        int rc = pufa_pg_connect(db, &c, err, sizeof err);
        if (rc == 0)
            rc = pufa_db_load_orgunits(c, &ou, err, sizeof err);
        PQfinish(c);
        if (rc == 0) {
            char home[7];
            if (pufa_orgunits_resolve_home(ou, want, home, err, sizeof err)) {
                PLOG_ERROR("PUB-HOME", "msg=%s", pufa_log_quote(q, sizeof q, err));
                pufa_orgunits_destroy(&ou);
                return PUFA_ECONFIG;
            }
            const pufa_orgunit *h = pufa_orgunits_find(ou, home);
            PLOG_INFO("PUB-HOME", "home=%s name=%s level=%s counties=%zu", home,
                      pufa_log_quote(q, sizeof q, h->name), h->level,
                      pufa_orgunits_counties_under(ou, home));
            pub_model_wrlock(m);
            pub_model_set_orgunits(m, ou);
            pub_model_set_home(m, home);
            pub_model_unlock(m);
            return 0;
        }
        PLOG_WARN("PUB-DB-WAIT", "msg=%s retry_ms=%d", pufa_log_quote(q, sizeof q, err), backoff);
        for (int slept = 0; slept < backoff && !stop_requested; slept += 50) {
            struct timespec ts = {0, 50000000L};
            nanosleep(&ts, NULL);
        }
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return PUFA_ECLOSED;
}

int main(int argc, char **argv) {
    pufa_json_init();
    char *feed = NULL, *db = NULL, *http = NULL, *pub = NULL, *tz_name = NULL, *log_level = NULL;
    char *campaigns = NULL, *token_file = NULL, *home = NULL, *approvals_url = NULL;
    int64_t publish_min = 0, heartbeat = 0, max_streams = 0, export_limit = 0, keepalive = 0;
    int64_t link_timeout = 0, stream_stall = 0, stream_buffer = 0, stream_interval = 0;
    int64_t targets_poll = 0, timely_days = 0, approvals_timeout = 0, detail_years = 0;
    char *model_file = NULL;
    pufa_http_limits http_limits;
    char *curve_secret_file = NULL, *feed_server_public_file = NULL, *pub_allow_list = NULL;
    bool insecure = false;
    pufa_cfg_opt opts[] = {
        {"feed", PUFA_CFG_STRING, &feed, "tcp://127.0.0.1:7601", 0, 0,
         "the aggregator's committed-delta feed (its PUB endpoint)", 0},
        {"db", PUFA_CFG_STRING, &db, "dbname=pufa user=pufa_publisher", 0, 0,
         "PostgreSQL conninfo (read-only role pufa_publisher)", 0},
        {"http", PUFA_CFG_STRING, &http, "127.0.0.1:7800", 0, 0,
         "HOST:PORT of the dashboard and API; port 0 picks one", 0},
        {"pub", PUFA_CFG_STRING, &pub, "tcp://127.0.0.1:7801", 0, 0,
         "ZeroMQ PUB endpoint for Dashboards (topics city, county.CODE); empty: none", 0},
        {"home", PUFA_CFG_STRING, &home, "", 0, 0,
         "org unit served (a city, province or nation code); default: the one city of "
         "org_units",
         0},
        {"timezone", PUFA_CFG_STRING, &tz_name, "Asia/Shanghai", 0, 0, "the city's time zone", 0},
        {"campaign_windows", PUFA_CFG_STRING, &campaigns,
         "宪法宣传周:12-01..12-07, 民法典宣传月:05-01..05-31, 国家安全教育日:04-15..04-15", 0, 0,
         "named windows NAME:MM-DD..MM-DD, comma separated", 0},
        {"token_file", PUFA_CFG_STRING, &token_file, "", 0, 0,
         "when set, /v1/ needs this bearer token (or ?token=)", 0},
        {"log_level", PUFA_CFG_STRING, &log_level, "info", 0, 0, "debug, info, warn or error", 0},
        {"publish_min", PUFA_CFG_MS, &publish_min, "250ms", 10, 60000,
         "least time between two Dashboard publications", 0},
        {"heartbeat", PUFA_CFG_MS, &heartbeat, "5s", 100, 3600000,
         "Dashboards are published at least this often", 0},
        {"max_streams", PUFA_CFG_INT, &max_streams, "10000", 1, 1000000,
         "open SSE streams at most (more get 503)", 0},
        {"stream_stall", PUFA_CFG_MS, &stream_stall, "10s", 100, 3600000,
         "an SSE reader that takes nothing for this long while an event is due is dropped", 0},
        {"stream_buffer", PUFA_CFG_SIZE, &stream_buffer, "16KiB", 0, 16777216,
         "socket send buffer of an SSE stream (the kernel doubles it); 0: the kernel's", 0},
        {"stream_interval", PUFA_CFG_MS, &stream_interval, "50ms", 0, 60000,
         "SSE events go out at most this often (changes meanwhile coalesce)", 0},
        /* Browsers behind one office NAT share an address: a generous per_ip. */
        PUFA_HTTP_CFG_OPTS(http_limits, "2", "512", "16KiB"),
        {"approvals_url", PUFA_CFG_STRING, &approvals_url, "", 0, 0,
         "http://HOST:PORT of the aggregator's approval API (its --http): the page's office "
         "buttons POST /v1/approvals here and it is forwarded there as is; empty: 503",
         0},
        {"approvals_timeout", PUFA_CFG_MS, &approvals_timeout, "10s", 100, 60000,
         "a forwarded approval waits this long for the aggregator at most (then 504)", 0},
        {"export_limit", PUFA_CFG_INT, &export_limit, "200000", 1, 10000000,
         "reports in one detail export at most", 0},
        {"keepalive", PUFA_CFG_MS, &keepalive, "15s", 100, 600000, "SSE keep-alive comment period",
         0},
        {"link_timeout", PUFA_CFG_MS, &link_timeout, "15s", 100, 86400000,
         "a child not heard from for this long has its link shown down", 0},
        {"targets_poll", PUFA_CFG_MS, &targets_poll, "2s", 100, 3600000,
         "how often targets_state.version is checked; a new targets load is read within this", 0},
        {"timely_days", PUFA_CFG_INT, &timely_days, "5", 0, 60,
         "a unit's month is on time when something of it is received by month end + this", 0},
        {"detail_years", PUFA_CFG_INT, &detail_years, "0", 0, 100,
         "years kept per day for every dimension (this one and the ones before it); older days "
         "keep the county totals per day and the rest per year, read from PostgreSQL when a "
         "window cuts such a year; 0 = every day (README: a nation's publisher)",
         0},
        {"model_file", PUFA_CFG_STRING, &model_file, "", 0, 0,
         "where the model is saved (after a full load and at stop) for a start that reads only "
         "what changed since; empty = none",
         0},
        {"curve_secret_file", PUFA_CFG_STRING, &curve_secret_file, "", 0, 0,
         "this publisher's CURVE secret key (file, mode 0600; pufa keygen makes one): its "
         "identity on the feed and the Dashboard PUB's server key",
         0},
        {"feed_server_public_file", PUFA_CFG_STRING, &feed_server_public_file, "", 0, 0,
         "the aggregator's CURVE public key: subscribe to the feed over CURVE (required when "
         "feed is not on loopback, unless insecure)",
         0},
        {"pub_allow_list", PUFA_CFG_STRING, &pub_allow_list, "", 0, 0,
         "file of 'PUBLIC-KEY CODE' lines: the subscribers admitted to the Dashboard PUB over "
         "CURVE (SIGHUP re-reads it and drops the removed keys); required when pub is not on "
         "loopback, unless insecure",
         0},
        {"insecure", PUFA_CFG_BOOL, &insecure, "false", 0, 0,
         "allow a plaintext feed or Dashboard PUB off loopback: only for tests and demos", 0},
    };
    pufa_cfg cfg = {.program = "pufa-publisher",
                    .summary = "live dashboards for the city office (web, JSON/SSE, exports, "
                               "ZeroMQ)",
                    .section = "publisher",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int ex = pufa_cfg_load(&cfg, argc, argv);
    if (ex) {
        pufa_cfg_free(&cfg);
        return ex - 1;
    }
    int rc = 0;
    char err[512];
    char *token = NULL;
    pub_windows windows;
    memset(&windows, 0, sizeof windows);
    if (pufa_log_set_level(log_level) || pufa_tz_parse(tz_name, &pufa_city_utc_offset_min) ||
        pub_windows_parse_campaigns(&windows, campaigns, err, sizeof err)) {
        fprintf(stderr, "pufa-publisher: bad log_level, timezone or campaign_windows: %s\n",
                err[0] ? err : "see --help");
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (*home && !pufa_orgunit_code_valid(home)) {
        fprintf(stderr, "pufa-publisher: home: must be a six-digit org-unit code (got '%s')\n",
                home);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (*token_file && pufa_read_secret_line(token_file, 1, &token, err, sizeof err)) {
        fprintf(stderr, "pufa-publisher: token_file: %s\n", err);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    /* CURVE on the feed and the Dashboard PUB: plaintext only on loopback or insecure. */
    char secret[41] = "", public_key[41] = "", server_public[41] = "";
    if ((*feed_server_public_file || *pub_allow_list) && !*curve_secret_file) {
        fprintf(stderr, "pufa-publisher: feed_server_public_file and pub_allow_list need "
                        "curve_secret_file (this publisher's key pair)\n");
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (*curve_secret_file && (pufa_read_curve_key(curve_secret_file, 1, secret, err, sizeof err) ||
                               zmq_curve_public(public_key, secret) != 0)) {
        fprintf(stderr, "pufa-publisher: curve_secret_file: %s\n",
                err[0] ? err : "not a CURVE secret key");
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (*feed_server_public_file &&
        pufa_read_curve_key(feed_server_public_file, 0, server_public, err, sizeof err)) {
        fprintf(stderr, "pufa-publisher: feed_server_public_file: %s\n", err);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (!*feed_server_public_file && !insecure && !pufa_endpoint_local(feed)) {
        fprintf(stderr,
                "pufa-publisher: feed: %s is not on loopback: set feed_server_public_file and "
                "curve_secret_file (CURVE), or insecure = true\n",
                feed);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (*pub && !*pub_allow_list && !insecure && !pufa_endpoint_local(pub)) {
        fprintf(stderr,
                "pufa-publisher: pub: %s is not on loopback: set pub_allow_list and "
                "curve_secret_file (CURVE), or insecure = true\n",
                pub);
        rc = EX_CONFIG_;
        goto out_cfg;
    }
    if (cfg.check_only) {
        pufa_cfg_dump(&cfg, stdout);
        printf("# configuration ok\n");
        goto out_cfg;
    }
    signal(SIGPIPE, SIG_IGN);
    PLOG_INFO("PUB-START", "version=%s pid=%d", PUFA_VERSION, (int)getpid());
    pub_live *live = pub_live_new();
    pub_cold *cold = NULL;
    if (detail_years > 0) {
        int y, mo, d;
        pufa_date_to_ymd(pufa_city_day(pufa_now_ms()), &y, &mo, &d);
        cold = pub_cold_new(db);
        pub_model_set_horizon(pub_live_model(live), y - (int)detail_years + 1);
        pub_model_set_cold(pub_live_model(live), pub_cold_read, cold);
    }
    void *zctx = zmq_ctx_new();
    pub_feed *fd = NULL;
    pub_dashboard_pub *dp = NULL;
    zap *zp = NULL;
    pub_http *hs = NULL;
    pub_targets *tg = NULL;
    int port = 0;
    pub_http_config hc = {.addr = http,
                          .db = db,
                          .token = token,
                          .max_streams = max_streams,
                          .export_limit = export_limit,
                          .keepalive_ms = keepalive,
                          .link_timeout_ms = link_timeout,
                          .stream_stall_ms = stream_stall,
                          .stream_buffer = stream_buffer,
                          .stream_interval_ms = stream_interval,
                          .approvals_url = approvals_url,
                          .approvals_timeout_ms = approvals_timeout,
                          .limits = http_limits};
    if (pub_targets_open(db, targets_poll, &tg) != 0) {
        PLOG_ERROR("PUB-TARGETS", "msg=\"cannot start the targets thread\"");
        rc = EX_SOFTWARE_;
        goto out;
    }
    if (pub_http_open(&hc, live, &windows, &hs, &port, err, sizeof err)) {
        PLOG_ERROR("PUB-HTTP", "msg=\"%s\"", err);
        rc = EX_UNAVAILABLE_;
        goto out;
    }
    pub_http_set_targets(hs, tg, (int)timely_days);
    PLOG_INFO("PUB-HTTP", "port=%d url=http://%s/", port, http);
    /* /readyz answers "not ready" meanwhile. */
    struct sigaction sa = {.sa_handler = on_early_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN); /* until the loop reloads on it */
    if ((rc = find_home(db, home, pub_live_model(live))) != 0) {
        rc = rc == PUFA_ECLOSED ? 0 : EX_CONFIG_;
        goto out;
    }
    /* The ZAP handler before the PUB binds (ZMQ_ZAP_ENFORCE_DOMAIN: none, nobody in). */
    if (*pub && *pub_allow_list) {
        if (zap_open_domain(zctx, ZAP_DOMAIN_FEED, pub_allow_list, NULL, NULL, &zp, err,
                            sizeof err)) {
            PLOG_ERROR("PUB-ZAP", "msg=\"pub_allow_list: %s\"", err);
            rc = EX_CONFIG_;
            goto out;
        }
        PLOG_INFO("PUB-CURVE", "public_key=%s pub_keys=%zu", public_key,
                  zap_domain_keys(zp, ZAP_DOMAIN_FEED));
    }
    if (*pub && !*pub_allow_list && !pufa_endpoint_local(pub))
        PLOG_WARN("PUB-INSECURE", "endpoint=%s msg=\"plaintext Dashboard PUB off loopback\"", pub);
    if (!*feed_server_public_file && !pufa_endpoint_local(feed))
        PLOG_WARN("PUB-INSECURE", "endpoint=%s msg=\"plaintext feed off loopback\"", feed);
    pub_dashboard_pub_config dc = {.endpoint = pub,
                                   .publish_min_ms = publish_min,
                                   .heartbeat_ms = heartbeat,
                                   .windows = &windows,
                                   .curve_secret = zp ? secret : NULL,
                                   .zap = zp};
    if (*pub && pub_dashboard_pub_open(&dc, zctx, live, &dp, err, sizeof err)) {
        PLOG_ERROR("PUB-PUB", "msg=\"%s\"", err);
        rc = EX_UNAVAILABLE_;
        goto out;
    }
    pub_feed_config fc = {.feed = feed,
                          .db = db,
                          .server_public = *feed_server_public_file ? server_public : NULL,
                          .public_key = public_key,
                          .secret = secret,
                          .model_file = model_file};
    if (pub_feed_open(&fc, zctx, live, &fd, err, sizeof err)) {
        PLOG_ERROR("PUB-FEED", "msg=\"%s\"", err);
        rc = EX_UNAVAILABLE_;
        goto out;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_signal_t sigterm, sigint, sighup;
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sighup);
    sighup.data = zp;
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sighup, on_hup, SIGHUP);
    uv_timer_t watchdog;
    uv_timer_init(loop, &watchdog);
    int64_t wd = pufa_service_watchdog_ms();
    if (wd > 0)
        uv_timer_start(&watchdog, on_watchdog, 0, (uint64_t)(wd / 4 > 0 ? wd / 4 : 1));
    PLOG_INFO("PUB-READY", "msg=\"serving\"");
    pufa_service_ready("serving dashboards");
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sighup, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
out:
    pub_http_close(&hs); /* ends the SSE streams first */
    pub_targets_close(&tg);
    pub_dashboard_pub_close(&dp);
    zap_close(&zp);
    pub_feed_close(&fd);
    zmq_ctx_term(zctx);
    pub_live_destroy(&live);
    pub_cold_destroy(&cold);
    PLOG_INFO("PUB-STOPPED", "msg=\"bye\"");
out_cfg:
    free(token);
    pufa_cfg_free(&cfg);
    return rc;
}
