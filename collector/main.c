/* pufa-collector: one per county.  Takes reports over HTTP (JSON, JSON
 * Lines, CSV), from a drop folder and from `pufa submit`, keeps them in a
 * durable spool, and pushes them to the city's aggregator over ZeroMQ
 * until each one is acknowledged. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "accept.h"
#include "alloc.h"
#include "config.h"
#include "datafile.h"
#include "date.h"
#include "dropdir.h"
#include "error.h"
#include "http.h"
#include "http_server.h"
#include "keyfile.h"
#include "log.h"
#include "orgunits.h"
#include "report_json.h"
#include "sender.h"
#include "service.h"
#include "spool.h"
#include "states.h"
#include "utf8.h"

enum { EX_USAGE_ = 64, EX_UNAVAILABLE_ = 69, EX_SOFTWARE_ = 70, EX_IOERR_ = 74, EX_CONFIG_ = 78 };

typedef struct settings {
    char *county, *aggregator, *spool, *http, *drop, *org_units, *timezone, *token_file, *units;
    char *collector_id, *log_level, *curve_server_public, *curve_public, *curve_secret;
    int64_t batch_max, window, ack_timeout, backoff_max, heartbeat, heartbeat_ms, quota, segment,
        max_body, max_file, state_cache;
    bool insecure, only_own_county;
    pufa_http_limits http_limits;
} settings;

static void on_signal(uv_signal_t *h, int sig) {
    PLOG_INFO("COL-SIGNAL", "signal=%d msg=\"stopping\"", sig);
    pufa_service_stopping();
    uv_stop(h->loop);
}

/* The watchdog is fed only while the spool works: a broken spool (failed
 * fsync) lets systemd restart us instead of serving 503 forever. */
static void on_watchdog(uv_timer_t *t) {
    spool_stats st;
    spool_get_stats(t->data, &st);
    if (!st.broken)
        pufa_service_watchdog();
}

static int config_error(const char *fmt, const char *a) {
    fprintf(stderr, "pufa-collector: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return EX_CONFIG_;
}

int main(int argc, char **argv) {
    pufa_json_init();
    settings s;
    memset(&s, 0, sizeof s);
    char *org_units_default = pufa_data_file("org_units.csv");
    char *units_default = pufa_data_file("units.csv");
    pufa_cfg_opt opts[] = {
        {"county", PUFA_CFG_STRING, &s.county, "", 0, 0,
         "the county this collector serves (six-digit code); required", 0},
        {"aggregator", PUFA_CFG_STRING, &s.aggregator, "tcp://127.0.0.1:7600", 0, 0,
         "the aggregator's ZeroMQ endpoint", 0},
        {"spool", PUFA_CFG_STRING, &s.spool, "/var/lib/pufa/spool", 0, 0,
         "folder of the durable spool", 0},
        {"http", PUFA_CFG_STRING, &s.http, "127.0.0.1:7700", 0, 0,
         "HOST:PORT of the HTTP intake; port 0 picks one", 0},
        {"drop", PUFA_CFG_STRING, &s.drop, "", 0, 0,
         "drop folder to watch for .json/.jsonl/.csv/.xlsx files (empty: none)", 0},
        {"org_units", PUFA_CFG_STRING, &s.org_units, org_units_default, 0, 0,
         "CSV of the city's org units (code,name,level,parent_code): the known counties", 0},
        {"units", PUFA_CFG_STRING, &s.units, units_default, 0, 0,
         "CSV of responsible units (unit_code,unit_name,kind): the template's drop-down "
         "(empty: none)",
         0},
        {"timezone", PUFA_CFG_STRING, &s.timezone, "Asia/Shanghai", 0, 0, "the city's time zone",
         0},
        {"token_file", PUFA_CFG_STRING, &s.token_file, "", 0, 0,
         "file holding the bearer token HTTP clients must send", 0},
        {"collector_id", PUFA_CFG_STRING, &s.collector_id, "", 0, 0,
         "name sent with each batch [default: collector-COUNTY]", 0},
        {"log_level", PUFA_CFG_STRING, &s.log_level, "info", 0, 0, "debug, info, warn or error", 0},
        {"curve_server_public_file", PUFA_CFG_STRING, &s.curve_server_public, "", 0, 0,
         "the aggregator's CURVE public key (file)", 0},
        {"curve_public_file", PUFA_CFG_STRING, &s.curve_public, "", 0, 0,
         "this collector's CURVE public key (file)", 0},
        {"curve_secret_file", PUFA_CFG_STRING, &s.curve_secret, "", 0, 0,
         "this collector's CURVE secret key (file, mode 0600)", 0},
        {"batch_max", PUFA_CFG_INT, &s.batch_max, "500", 1, 4096, "reports per batch", 0},
        {"window", PUFA_CFG_INT, &s.window, "8", 1, 1024, "unacknowledged batches in flight", 0},
        {"ack_timeout", PUFA_CFG_MS, &s.ack_timeout, "5s", 100, 600000,
         "resend a batch not acknowledged within this", 0},
        {"backoff_max", PUFA_CFG_MS, &s.backoff_max, "30s", 100, 3600000,
         "longest wait between resends", 0},
        {"heartbeat", PUFA_CFG_MS, &s.heartbeat, "2s", 100, 600000,
         "ZeroMQ heartbeat interval (a dead peer is noticed after 3)", 0},
        {"heartbeat_ms", PUFA_CFG_INT, &s.heartbeat_ms, "5000", 100, 3600000,
         "idle: send an empty batch (a heartbeat, with the spool's backlog) this often, in ms; "
         "its answer shows the link is up",
         0},
        {"spool_quota", PUFA_CFG_SIZE, &s.quota, "1GiB", 4096, 0x7fffffffffffffffLL,
         "spool size at which intake answers 503", 0},
        {"segment_size", PUFA_CFG_SIZE, &s.segment, "16MiB", 1024, 1LL << 30, "spool segment size",
         0},
        {"max_body", PUFA_CFG_SIZE, &s.max_body, "16MiB", 1024, 1LL << 30,
         "largest HTTP request body (413 above)", 0},
        {"max_file", PUFA_CFG_SIZE, &s.max_file, "64MiB", 1024, 1LL << 32,
         "largest drop-folder file", 0},
        {"state_cache", PUFA_CFG_INT, &s.state_cache, "50000", 1024, 100000000,
         "report states kept in memory for GET /v1/reports/{id}", 0},
        {"only_own_county", PUFA_CFG_BOOL, &s.only_own_county, "false", 0, 0,
         "refuse reports for other counties at intake (with CURVE the aggregator refuses "
         "them anyway, after the 202)",
         0},
        {"insecure", PUFA_CFG_BOOL, &s.insecure, "false", 0, 0,
         "allow no CURVE and no HTTP token: only for tests and single-host demos", 0},
        /* Intake POSTs wait for their fsync on a loop thread: a few threads. */
        PUFA_HTTP_CFG_OPTS(s.http_limits, "4", "64", "0"),
    };
    pufa_cfg cfg = {.program = "pufa-collector",
                    .summary = "county intake (HTTP, drop folder) -> durable spool -> aggregator",
                    .section = "collector",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int ex = pufa_cfg_load(&cfg, argc, argv);
    if (ex) {
        pufa_cfg_free(&cfg);
        free(org_units_default);
        free(units_default);
        return ex - 1;
    }
    int rc = 0;
    char err[512];
    char *token = NULL;
    char server_key[41] = "", public_key[41] = "", secret_key[41] = "";
    pufa_orgunits *ou = NULL;

    if (pufa_log_set_level(s.log_level)) {
        rc = config_error("log_level must be debug, info, warn or error (got %s)", s.log_level);
        goto out_cfg;
    }
    if (!pufa_orgunit_code_valid(s.county)) {
        rc = config_error("--county must be a six-digit county code (got '%s')", s.county);
        goto out_cfg;
    }
    if (pufa_tz_parse(s.timezone, &pufa_city_utc_offset_min)) {
        rc = config_error("unknown timezone '%s'", s.timezone);
        goto out_cfg;
    }
    if (s.segment > s.quota / 4)
        s.segment = s.quota / 4 > 1024 ? s.quota / 4 : 1024;
    if (pufa_orgunits_load_csv(s.org_units, &ou, err, sizeof err)) {
        rc = config_error("org_units: %s", err);
        goto out_cfg;
    }
    if (!pufa_orgunits_is_county(ou, s.county)) {
        rc = config_error("county %s is not a county in org_units", s.county);
        goto out_cfg;
    }
    if (*s.token_file && pufa_read_secret_line(s.token_file, 1, &token, err, sizeof err)) {
        rc = config_error("token_file: %s", err);
        goto out_cfg;
    }
    bool curve = *s.curve_server_public || *s.curve_public || *s.curve_secret;
    if (curve) {
        if (pufa_read_curve_key(s.curve_server_public, 0, server_key, err, sizeof err) ||
            pufa_read_curve_key(s.curve_public, 0, public_key, err, sizeof err) ||
            pufa_read_curve_key(s.curve_secret, 1, secret_key, err, sizeof err)) {
            rc = config_error("CURVE keys: %s", err);
            goto out_cfg;
        }
    }
    if (!s.insecure && (!curve || !token)) {
        rc = config_error("%s", "set curve_server_public_file, curve_public_file, "
                                "curve_secret_file and token_file, or insecure = true for a "
                                "single-host demo");
        goto out_cfg;
    }
    if (!*s.collector_id) {
        free(s.collector_id);
        s.collector_id = pufa_asprintf("collector-%s", s.county);
    }
    size_t idlen = strlen(s.collector_id);
    if (idlen > 63 || !pufa_utf8_valid(s.collector_id, idlen, NULL) ||
        pufa_has_control(s.collector_id, idlen)) {
        char shown[300];
        pufa_utf8_escape(shown, sizeof shown, s.collector_id, idlen);
        rc = config_error("collector_id: at most 63 bytes of UTF-8 without control characters "
                          "(got '%s')",
                          shown);
        goto out_cfg;
    }
    if (cfg.check_only) {
        pufa_cfg_dump(&cfg, stdout);
        printf("# configuration ok\n");
        goto out_cfg;
    }
    signal(SIGPIPE, SIG_IGN);
    PLOG_INFO("COL-START", "version=%s pid=%d county=%s", PUFA_VERSION, (int)getpid(), s.county);
    if (s.insecure && (!curve || !token))
        PLOG_WARN("COL-INSECURE", "msg=\"%s\"",
                  !curve ? "plaintext ZeroMQ to the aggregator" : "HTTP intake without a token");

    spool *sp = NULL;
    spool_recovery recov;
    spool_config scfg = {
        .dir = s.spool, .quota_bytes = (uint64_t)s.quota, .segment_bytes = (uint64_t)s.segment};
    if (spool_open(&scfg, &sp, &recov, err, sizeof err)) {
        PLOG_ERROR("COL-SPOOL-OPEN", "msg=\"%s\"", err);
        rc = EX_IOERR_;
        goto out_cfg;
    }
    PLOG_INFO("COL-SPOOL",
              "dir=%s unacked=%llu segments=%llu torn_bytes=%llu skipped_bytes=%llu "
              "bad_records_cut=%llu",
              s.spool, (unsigned long long)recov.records, (unsigned long long)recov.segments,
              (unsigned long long)recov.torn_bytes, (unsigned long long)recov.skipped_bytes,
              (unsigned long long)recov.bad_records);
    states *st = states_new(s.spool, (size_t)s.state_cache);
    void *zctx = zmq_ctx_new();
    sender *snd = NULL;
    sender_config sc = {.endpoint = s.aggregator,
                        .collector_id = s.collector_id,
                        .batch_max = s.batch_max,
                        .window = s.window,
                        .ack_timeout_ms = s.ack_timeout,
                        .backoff_max_ms = s.backoff_max,
                        .heartbeat_ms = s.heartbeat,
                        .link_heartbeat_ms = s.heartbeat_ms,
                        .curve_server_key = curve ? server_key : NULL,
                        .curve_public_key = curve ? public_key : NULL,
                        .curve_secret_key = curve ? secret_key : NULL};
    col_http *http = NULL;
    dropdir *drop = NULL;
    accept_ctx actx = {
        .sp = sp, .st = st, .orgunits = ou, .county = s.only_own_county ? s.county : NULL};
    if (sender_new(&sc, sp, st, zctx, &snd, err, sizeof err)) {
        PLOG_ERROR("COL-SENDER", "msg=\"%s\"", err);
        rc = EX_CONFIG_;
        goto out_spool;
    }
    int port = 0;
    const pufa_orgunit *home = pufa_orgunits_find(ou, s.county);
    http_config hc = {.addr = s.http,
                      .token = token,
                      .max_body = s.max_body,
                      .quota_bytes = s.quota,
                      .county = s.county,
                      .collector_id = s.collector_id,
                      .aggregator = s.aggregator,
                      .heartbeat_ms = s.heartbeat_ms,
                      .county_name = home ? home->name : NULL,
                      .units_csv = s.units,
                      .limits = s.http_limits};
    if (col_http_open(&hc, &actx, snd, &http, &port, err, sizeof err)) {
        PLOG_ERROR("COL-HTTP", "msg=\"%s\"", err);
        rc = EX_UNAVAILABLE_;
        goto out_spool;
    }
    PLOG_INFO("COL-HTTP", "port=%d", port);
    if (sender_start(snd)) {
        rc = EX_SOFTWARE_;
        goto out_spool;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_signal_t sigterm, sigint;
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    if (*s.drop) {
        if (dropdir_open(loop, s.drop, s.max_file, &actx, &drop, err, sizeof err)) {
            PLOG_ERROR("COL-DROP", "msg=\"%s\"", err);
            rc = EX_IOERR_;
            goto out_loop;
        }
        PLOG_INFO("COL-DROP", "dir=%s", s.drop);
    }
    uv_timer_t watchdog;
    uv_timer_init(loop, &watchdog);
    watchdog.data = sp;
    int64_t wd = pufa_service_watchdog_ms();
    if (wd > 0)
        uv_timer_start(&watchdog, on_watchdog, 0, (uint64_t)(wd / 4 > 0 ? wd / 4 : 1));
    PLOG_INFO("COL-READY", "aggregator=%s", s.aggregator);
    pufa_service_ready("accepting reports");
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&watchdog, NULL);
out_loop:
    dropdir_close(&drop);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
out_spool:
    /* Intake first (no new reports), then the sender, then the spool. */
    col_http_close(&http);
    sender_destroy(&snd);
    zmq_ctx_term(zctx);
    states_destroy(&st);
    spool_close(&sp);
    PLOG_INFO("COL-STOPPED", "msg=\"unacknowledged reports stay in the spool\"");
out_cfg:
    free(token);
    pufa_orgunits_destroy(&ou);
    pufa_cfg_free(&cfg);
    free(org_units_default);
    free(units_default);
    return rc;
}
