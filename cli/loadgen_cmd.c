/* pufa loadgen: realistic reports for a city's counties and units, sent to
 * the counties' collectors (or one collector), at a chosen rate or as fast
 * as possible; with campaign peaks (宪法宣传周 in early December, 民法典宣传月
 * in May), weekdays busier than weekends, a share of corrections and
 * retractions, and a few bad reports.  It keeps a ledger of what the
 * collectors accepted, so the dashboard can be checked against it:
 *   pufa loadgen --stack .local/stack.json --rate 20 --duration 60 --ledger L.json
 *   pufa loadgen verify --ledger L.json --dashboard http://127.0.0.1:17800/ */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "date.h"
#include "enums.h"
#include "error.h"
#include "httpc.h"
#include "keyfile.h"
#include "orgunits.h"
#include "report_json.h"
#include "uuid.h"

typedef struct target {
    char county[7];
    char *url;
    char *token;
} target;

/* The effective state of a generated report (what its latest accepted
 * revision says). */
typedef struct gen {
    char id[37];
    uint32_t county; /* index into targets */
    uint32_t revision;
    bool retracted;
    bool accepted;
    pufa_day day;
    int theme, venue, form;
    uint8_t unit, campaign;
    int64_t counters[PUFA_NCOUNTERS];
} gen;

static const char *const UNITS[] = {"SFJ", "FY",   "JCY",  "GAJ", "SWJ",  "JYJ",
                                    "WJW", "SCJG", "YJGL", "NMJ", "MZZJ", "XCB"};
static const char *const UNIT_NAMES[] = {
    "司法局",         "人民法院",       "人民检察院", "公安局", "税务局",         "教育局",
    "卫生健康委员会", "市场监督管理局", "应急管理局", "农牧局", "民族宗教事务局", "党委宣传部"};
static const char *const CAMPAIGNS[] = {
    "", "宪法宣传周", "民法典宣传月", "4·15国家安全教育日", "6·26国际禁毒日", "安全生产月"};
static const char *const TITLES[] = {"“宪法进社区”宣讲活动", "民法典专题讲座", "法律咨询进乡村",
                                     "以案释法进校园",       "普法文艺演出",   "反诈知识竞赛",
                                     "法治副校长开学第一课", "禁毒主题展览",   "线上普法推送",
                                     "安全生产法专题培训"};

static volatile sig_atomic_t interrupted;
static void on_int(int sig) {
    (void)sig;
    interrupted = 1;
}

static double urand(unsigned *s) {
    return (double)rand_r(s) / ((double)RAND_MAX + 1.0);
}

static int irange(unsigned *s, int lo, int hi) {
    return lo + (int)(urand(s) * (hi - lo + 1));
}

/* How busy a day is: weekends quieter, campaign periods busier. */
static double day_weight(pufa_day d, int *campaign) {
    int y, m, dd;
    pufa_date_to_ymd(d, &y, &m, &dd);
    double w = pufa_date_weekday(d) >= 5 ? 1.0 : 3.0;
    *campaign = 0;
    if (m == 12 && dd <= 7) {
        w *= 8;
        *campaign = 1;
    } else if (m == 5) {
        w *= 4;
        *campaign = 2;
    } else if (m == 4 && dd == 15) {
        w *= 6;
        *campaign = 3;
    } else if (m == 6 && dd == 26) {
        w *= 6;
        *campaign = 4;
    } else if (m == 6) {
        w *= 1.5;
        *campaign = 5;
    }
    return w;
}

static void fresh(gen *g, size_t ntargets, int span_days, unsigned *seed) {
    memset(g, 0, sizeof *g);
    uint8_t id[16];
    pufa_uuid_v7(id);
    pufa_uuid_format(id, g->id);
    g->county = (uint32_t)irange(seed, 0, (int)ntargets - 1);
    g->revision = 1;
    pufa_day today = pufa_city_day(pufa_now_ms());
    int campaign = 0;
    for (;;) { /* rejection sampling by day weight (max 3 * 8) */
        pufa_day d = today - irange(seed, 0, span_days - 1);
        if (urand(seed) * 24.0 <= day_weight(d, &campaign)) {
            g->day = d;
            break;
        }
    }
    g->campaign = (uint8_t)(campaign && urand(seed) < 0.8 ? campaign : 0);
    g->theme = g->campaign == 1   ? (urand(seed) < 0.8 ? 2 : irange(seed, 1, PUFA_THEME_MAX))
               : g->campaign == 2 ? (urand(seed) < 0.8 ? 3 : irange(seed, 1, PUFA_THEME_MAX))
               : g->campaign == 3 ? 4
               : g->campaign == 4 ? 11
                                  : irange(seed, 1, PUFA_THEME_MAX);
    g->venue = irange(seed, 1, PUFA_VENUE_MAX);
    g->form = irange(seed, 1, PUFA_FORM_MAX);
    g->unit = (uint8_t)irange(seed, 0, 11);
    bool online = g->form == 7;
    g->counters[PUFA_C_SESSIONS] = online ? 0 : irange(seed, 1, 3);
    g->counters[PUFA_C_PARTICIPANTS] = irange(seed, 20, 800);
    g->counters[PUFA_C_MATERIALS] = irange(seed, 0, 3000);
    g->counters[PUFA_C_CONSULTATIONS] = irange(seed, 0, 200);
    g->counters[PUFA_C_BANNERS] = irange(seed, 0, 20);
    g->counters[PUFA_C_LED_MESSAGES] = irange(seed, 0, 50);
    g->counters[PUFA_C_ONLINE_POSTS] = online ? irange(seed, 1, 40) : 0;
    g->counters[PUFA_C_ONLINE_VIEWS] = online ? irange(seed, 100, 50000) : 0;
    g->counters[PUFA_C_VOLUNTEERS] = irange(seed, 0, 30);
    g->counters[PUFA_C_FUNDS_FEN] = irange(seed, 0, 500000);
}

static json_t *to_json(const gen *g, const target *t) {
    json_t *o = json_object();
    char date[11];
    pufa_date_format(g->day, date);
    json_object_set_new(o, "report_id", json_string(g->id));
    json_object_set_new(o, "revision", json_integer(g->revision));
    if (g->retracted)
        json_object_set_new(o, "retracted", json_true());
    json_object_set_new(o, "county_code", json_string(t->county));
    json_object_set_new(o, "unit_code", json_string(UNITS[g->unit]));
    json_object_set_new(o, "unit_name", json_string(UNIT_NAMES[g->unit]));
    json_object_set_new(o, "occurred_on", json_string(date));
    json_object_set_new(o, "theme", json_string(pufa_enum_label(PUFA_ENUM_THEME, g->theme)));
    json_object_set_new(o, "venue", json_string(pufa_enum_label(PUFA_ENUM_VENUE, g->venue)));
    json_object_set_new(o, "form", json_string(pufa_enum_label(PUFA_ENUM_FORM, g->form)));
    json_object_set_new(o, "campaign", json_string(CAMPAIGNS[g->campaign]));
    json_object_set_new(o, "title", json_string(TITLES[(g->theme + g->form) % 10]));
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        json_object_set_new(o, pufa_counter_names[c], json_integer(g->counters[c]));
    return o;
}

static int load_targets(const char *stack, const char *url, const char *token_file,
                        const char *county, target **out, size_t *n, char *err, size_t errsize) {
    if (*stack) {
        json_error_t jerr;
        json_t *doc = json_load_file(stack, 0, &jerr);
        json_t *cols = json_object_get(doc, "collectors");
        if (!json_is_array(cols) || !json_array_size(cols)) {
            snprintf(err, errsize, "%s: no collectors (%s)", stack, doc ? "empty" : jerr.text);
            json_decref(doc);
            return PUFA_ECONFIG;
        }
        *n = json_array_size(cols);
        *out = pufa_calloc(*n, sizeof **out);
        size_t i;
        json_t *c;
        json_array_foreach(cols, i, c) {
            target *t = &(*out)[i];
            pufa_copy(t->county, sizeof t->county, json_string_value(json_object_get(c, "county")));
            t->url = pufa_strdup(json_string_value(json_object_get(c, "url")));
            const char *tf = json_string_value(json_object_get(c, "token_file"));
            if (tf && *tf && pufa_read_secret_line(tf, 1, &t->token, err, errsize)) {
                json_decref(doc);
                return PUFA_ECONFIG;
            }
        }
        json_decref(doc);
        return 0;
    }
    if (!pufa_orgunit_code_valid(county)) {
        snprintf(err, errsize, "with --url, --county CODE is required");
        return PUFA_ECONFIG;
    }
    *n = 1;
    *out = pufa_calloc(1, sizeof **out);
    pufa_copy((*out)[0].county, 7, county);
    (*out)[0].url = pufa_strdup(url);
    if (*token_file && pufa_read_secret_line(token_file, 1, &(*out)[0].token, err, errsize))
        return PUFA_ECONFIG;
    return 0;
}

/* Posts the reports queued for one target; marks the accepted ones.  refs
 * holds indexes into all (-1: a bad report, not in the ledger), not
 * pointers: all may be reallocated while a queue waits. */
static int post(const target *t, json_t *arr, gen *all, const ptrdiff_t *refs, size_t *accepted,
                size_t *rejected, char *err, size_t errsize) {
    char *body = json_dumps(arr, JSON_COMPACT);
    char *url = pufa_asprintf("%s/v1/reports", t->url);
    char *hdr = t->token ? pufa_asprintf("Content-Type: application/json\r\nAuthorization: "
                                         "Bearer %s\r\n",
                                         t->token)
                         : pufa_strdup("Content-Type: application/json\r\n");
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        pufa_http_response r;
        rc = pufa_http_request("POST", url, hdr, body, strlen(body), 30000, &r, err, errsize);
        if (rc == 0 && r.status == 503 && attempt < 20) {
            pufa_buf_free(&r.body);
            struct timespec ts = {0, 500000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (rc == 0) {
            json_error_t jerr;
            json_t *doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
            json_t *results = json_object_get(doc, "results");
            if (!results) {
                snprintf(err, errsize, "%s answered %d", url, r.status);
                rc = PUFA_EIO;
            }
            size_t i;
            json_t *res;
            json_array_foreach(results, i, res) {
                const char *st = json_string_value(json_object_get(res, "state"));
                if (st && !strcmp(st, "spooled")) {
                    if (refs[i] >= 0)
                        all[refs[i]].accepted = true;
                    (*accepted)++;
                } else {
                    (*rejected)++;
                }
            }
            json_decref(doc);
        }
        pufa_buf_free(&r.body);
        break;
    }
    free(hdr);
    free(url);
    free(body);
    return rc;
}

static void write_ledger(const char *path, const target *t, size_t nt, gen *all, size_t n,
                         size_t sent, size_t accepted, size_t rejected) {
    int64_t(*fig)[1 + PUFA_NCOUNTERS] = pufa_calloc(nt, sizeof *fig);
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        const gen *g = &all[i];
        if (!g->accepted || g->retracted)
            continue;
        live++;
        fig[g->county][0]++;
        for (int c = 0; c < PUFA_NCOUNTERS; c++)
            fig[g->county][1 + c] += g->counters[c];
    }
    json_t *o = json_object();
    json_object_set_new(o, "sent", json_integer((json_int_t)sent));
    json_object_set_new(o, "accepted", json_integer((json_int_t)accepted));
    json_object_set_new(o, "rejected", json_integer((json_int_t)rejected));
    json_object_set_new(o, "live_reports", json_integer((json_int_t)live));
    json_t *counties = json_object();
    for (size_t k = 0; k < nt; k++) {
        json_t *c = json_object();
        json_object_set_new(c, "reports", json_integer(fig[k][0]));
        for (int f = 0; f < PUFA_NCOUNTERS; f++)
            json_object_set_new(c, pufa_counter_names[f], json_integer(fig[k][1 + f]));
        json_object_set_new(counties, t[k].county, c);
    }
    json_object_set_new(o, "counties", counties);
    if (json_dump_file(o, path, JSON_INDENT(1)) != 0)
        fprintf(stderr, "pufa loadgen: cannot write %s\n", path);
    json_decref(o);
    free(fig);
}

/* pufa loadgen verify: the dashboard's all-time totals per county (plus
 * what earlier data there was, given as --baseline) equal the ledger. */
static int verify(int argc, char **argv) {
    char *ledger = NULL, *dashboard = NULL, *baseline = NULL;
    pufa_cfg_opt opts[] = {
        {"ledger", PUFA_CFG_STRING, &ledger, "", 0, 0, "the ledger loadgen wrote", 0},
        {"dashboard", PUFA_CFG_STRING, &dashboard, "http://127.0.0.1:7800/", 0, 0,
         "the publisher's URL", 0},
        {"baseline", PUFA_CFG_STRING, &baseline, "", 0, 0,
         "a /v1/totals?window=all&by=county answer saved before the load (optional)", 0},
    };
    pufa_cfg cfg = {.program = "pufa loadgen verify",
                    .summary = "compare a loadgen ledger with the dashboard's totals",
                    .section = "verify",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int rc = pufa_cfg_load(&cfg, argc, argv);
    if (rc) {
        pufa_cfg_free(&cfg);
        return rc - 1;
    }
    json_error_t jerr;
    json_t *led = json_load_file(ledger, 0, &jerr);
    json_t *base = *baseline ? json_load_file(baseline, 0, &jerr) : NULL;
    char *url = pufa_asprintf("%sv1/totals?window=all&by=county", dashboard);
    pufa_http_response r;
    char err[256];
    json_t *api = NULL;
    if (!led) {
        fprintf(stderr, "pufa loadgen verify: cannot read %s\n", ledger);
        rc = EX_DATAERR_;
    } else if (pufa_http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err)) {
        fprintf(stderr, "pufa loadgen verify: %s\n", err);
        rc = EX_UNAVAILABLE_;
    } else {
        api = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
        pufa_buf_free(&r.body);
    }
    size_t checked = 0, bad = 0;
    const char *county;
    json_t *want;
    json_object_foreach(json_object_get(led, "counties"), county, want) {
        const json_t *got = NULL, *before = NULL;
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(api, "rows"), i,
                           row) if (!strcmp(json_string_value(json_object_get(row, "key")), county))
            got = json_object_get(row, "figures");
        json_array_foreach(json_object_get(base, "rows"), i,
                           row) if (!strcmp(json_string_value(json_object_get(row, "key")), county))
            before = json_object_get(row, "figures");
        const char *k;
        json_t *v;
        json_object_foreach(want, k, v) {
            long long w = json_integer_value(v) +
                          (before ? json_integer_value(json_object_get(before, k)) : 0);
            long long g = got ? json_integer_value(json_object_get(got, k)) : 0;
            checked++;
            if (w != g) {
                bad++;
                printf("MISMATCH county %s %s: ledger %lld, dashboard %lld\n", county, k, w, g);
            }
        }
    }
    json_int_t led_accepted = json_integer_value(json_object_get(led, "accepted"));
    if (rc == 0 && !json_is_object(json_object_get(api, "totals"))) {
        fprintf(stderr, "pufa loadgen verify: %s did not answer with totals\n", url);
        rc = EX_UNAVAILABLE_;
    } else if (rc == 0 && (led_accepted <= 0 || checked == 0)) {
        /* Comparing zero with zero proves nothing. */
        fprintf(stderr,
                "pufa loadgen verify: the ledger shows %lld accepted reports and %zu "
                "figures to compare: nothing was checked\n",
                (long long)led_accepted, checked);
        rc = EX_DATAERR_;
    } else if (rc == 0) {
        printf("verify: %zu figures compared over %lld accepted reports, %zu mismatches\n", checked,
               (long long)led_accepted, bad);
        rc = bad ? EX_DATAERR_ : 0;
    }
    json_decref(led);
    json_decref(base);
    json_decref(api);
    free(url);
    pufa_cfg_free(&cfg);
    return rc;
}

int cmd_loadgen(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "verify"))
        return verify(argc - 1, argv + 1);
    char *stack = NULL, *url = NULL, *token_file = NULL, *county = NULL, *ledger = NULL;
    int64_t rate = 0, count = 0, duration = 0, seed = 0, span = 0, per_post = 0;
    int64_t corrections = 0, retractions = 0, bad_share = 0;
    bool quiet = false;
    pufa_cfg_opt opts[] = {
        {"stack", PUFA_CFG_STRING, &stack, "", 0, 0,
         "stack.json of the local stack (collectors' URLs and token files)", 0},
        {"url", PUFA_CFG_STRING, &url, "", 0, 0, "one collector's URL (instead of --stack)", 0},
        {"token_file", PUFA_CFG_STRING, &token_file, "", 0, 0, "its token (with --url)", 0},
        {"county", PUFA_CFG_STRING, &county, "", 0, 0, "its county (with --url)", 0},
        {"rate", PUFA_CFG_INT, &rate, "20", 0, 1000000,
         "reports per second (0: as fast as "
         "possible)",
         0},
        {"count", PUFA_CFG_INT, &count, "0", 0, 100000000, "stop after this many (0: no limit)", 0},
        {"duration", PUFA_CFG_MS, &duration, "0", 0, 365LL * 86400000,
         "stop after this long (0: until Ctrl-C)", 0},
        {"days", PUFA_CFG_INT, &span, "400", 1, 3650, "activities spread over the last N days", 0},
        {"corrections", PUFA_CFG_INT, &corrections, "5", 0, 100, "percent sent again revised", 0},
        {"retractions", PUFA_CFG_INT, &retractions, "1", 0, 100, "percent later retracted", 0},
        {"bad", PUFA_CFG_INT, &bad_share, "1", 0, 100, "percent deliberately invalid", 0},
        {"batch", PUFA_CFG_INT, &per_post, "50", 1, 5000, "reports per HTTP request at most", 0},
        {"seed", PUFA_CFG_INT, &seed, "0", 0, 4294967295LL, "random seed (0: from the clock)", 0},
        {"ledger", PUFA_CFG_STRING, &ledger, "", 0, 0,
         "write the expected totals (what was accepted) to this JSON file", 0},
        {"quiet", PUFA_CFG_BOOL, &quiet, "false", 0, 0, "no progress line", 0},
    };
    pufa_cfg cfg = {.program = "pufa loadgen",
                    .summary = "realistic reports to the collectors; 'pufa loadgen verify' "
                               "checks the dashboard against the ledger",
                    .section = "loadgen",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int rc = pufa_cfg_load(&cfg, argc, argv);
    if (rc) {
        pufa_cfg_free(&cfg);
        return rc - 1;
    }
    char err[512];
    target *targets = NULL;
    size_t nt = 0;
    if (!*stack && !*url) {
        fprintf(stderr, "pufa loadgen: give --stack FILE or --url URL --county CODE\n");
        pufa_cfg_free(&cfg);
        return EX_USAGE_;
    }
    if (load_targets(stack, url, token_file, county, &targets, &nt, err, sizeof err)) {
        fprintf(stderr, "pufa loadgen: %s\n", err);
        pufa_cfg_free(&cfg);
        return EX_CONFIG_;
    }
    unsigned s = seed ? (unsigned)seed : (unsigned)pufa_now_ms();
    fprintf(stderr, "pufa loadgen: %zu collector%s, seed %u\n", nt, nt == 1 ? "" : "s", s);
    signal(SIGINT, on_int);
    signal(SIGTERM, on_int);
    gen *all = NULL;
    size_t n = 0, cap = 0, sent = 0, accepted = 0, rejected = 0;
    int64_t start = pufa_now_ms(), last_progress = 0;
    bool tty = !quiet && isatty(2);
    json_t **queues = pufa_calloc(nt, sizeof *queues);
    ptrdiff_t **refs = pufa_calloc(nt, sizeof *refs);
    size_t *qn = pufa_calloc(nt, sizeof *qn);
    for (size_t k = 0; k < nt; k++) {
        queues[k] = json_array();
        refs[k] = pufa_calloc((size_t)per_post, sizeof **refs);
    }
    while (!interrupted && rc == 0) {
        int64_t now = pufa_now_ms();
        if ((count && (int64_t)sent >= count) || (duration && now - start >= duration))
            break;
        /* Pace: how many reports are due by now. */
        size_t due = rate ? (size_t)((now - start) * rate / 1000) + 1 : sent + (size_t)per_post;
        if (count && due > (size_t)count)
            due = (size_t)count;
        if (sent >= due) {
            struct timespec ts = {0, 5000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        while (sent < due) {
            double u = urand(&s);
            gen *g;
            json_t *o;
            if (n > 10 && u < (double)(corrections + retractions) / 100.0) {
                /* A correction or retraction of an earlier, accepted report. */
                g = &all[irange(&s, 0, (int)n - 1)];
                if (!g->accepted || g->retracted)
                    continue;
                g->revision++;
                if (u < (double)retractions / 100.0)
                    g->retracted = true;
                else
                    g->counters[PUFA_C_PARTICIPANTS] = irange(&s, 20, 800);
                g->accepted = false; /* until this revision is accepted */
                o = to_json(g, &targets[g->county]);
            } else {
                if (n == cap) {
                    cap = cap ? cap * 2 : 1024;
                    all = pufa_realloc(all, cap * sizeof *all);
                }
                g = &all[n++];
                fresh(g, nt, (int)span, &s);
                o = to_json(g, &targets[g->county]);
                if (urand(&s) < (double)bad_share / 100.0) {
                    json_object_set_new(o, "participants", json_integer(-irange(&s, 1, 99)));
                    g = NULL; /* expected to be rejected: not in the ledger */
                    n--;
                }
            }
            uint32_t k = g ? g->county : (uint32_t)irange(&s, 0, (int)nt - 1);
            json_array_append_new(queues[k], o);
            refs[k][qn[k]++] = g ? g - all : -1;
            sent++;
            if (qn[k] == (size_t)per_post) {
                if ((rc = post(&targets[k], queues[k], all, refs[k], &accepted, &rejected, err,
                               sizeof err)))
                    break;
                json_array_clear(queues[k]);
                qn[k] = 0;
            }
        }
        /* Flush every queue (a rate below the batch size must not starve). */
        for (size_t k = 0; k < nt && rc == 0; k++) {
            if (!qn[k])
                continue;
            rc = post(&targets[k], queues[k], all, refs[k], &accepted, &rejected, err, sizeof err);
            json_array_clear(queues[k]);
            qn[k] = 0;
        }
        if (!quiet && (now - last_progress >= 1000)) {
            double secs = (double)(now - start) / 1000.0;
            fprintf(stderr, "%sloadgen: %zu sent, %zu accepted, %zu rejected, %.0f/s%s",
                    tty ? "\r" : "", sent, accepted, rejected, secs > 0 ? (double)sent / secs : 0,
                    tty ? "   " : "\n");
            last_progress = now;
        }
    }
    if (rc)
        fprintf(stderr, "\npufa loadgen: %s\n", err);
    fprintf(stderr, "%sloadgen: done: %zu sent, %zu accepted, %zu rejected\n", tty ? "\n" : "",
            sent, accepted, rejected);
    /* A load that no collector accepted has tested nothing: say so, and fail. */
    if (rc == 0 && sent > 0 && accepted == 0) {
        fprintf(stderr, "pufa loadgen: no report was accepted: check the collectors' URLs, "
                        "tokens and logs\n");
        rc = PUFA_EIO;
    }
    if (*ledger)
        write_ledger(ledger, targets, nt, all, n, sent, accepted, rejected);
    for (size_t k = 0; k < nt; k++) {
        json_decref(queues[k]);
        free(refs[k]);
        free(targets[k].url);
        free(targets[k].token);
    }
    free(queues);
    free(refs);
    free(qn);
    free(targets);
    free(all);
    pufa_cfg_free(&cfg);
    return rc ? EX_UNAVAILABLE_ : 0;
}
