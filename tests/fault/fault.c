/* The fault driver: the real stack (PostgreSQL, aggregator, publisher, 3
 * collectors behind partitionable proxies) under a generator that keeps a
 * ledger of every report the collectors acknowledged (202), while faults
 * are injected at random; at the end every acknowledged report must be
 * stored at its latest acknowledged revision, and the figures of every
 * rollup cell in SQL, the rollups and the publisher must equal the
 * ledger's own sums (check.c).
 *   with-pg.sh fault BUILD_DIR [--faults N] [--seed S] [--rate R] [--kinds K,K,...]
 *   with-pg.sh --prefix PUFA_UPPER_ with-pg.sh fault BUILD_DIR --federation [...]
 * With --federation the city aggregator forwards to the nation's aggregator
 * (fed.c) through a partitionable proxy, the faults of that link join the
 * others, and the upper level's SQL, rollups and publisher are checked
 * against the same ledger.
 * The run fails unless work happened: reports acknowledged above a floor
 * scaled with the run, and every fault kind asked for injected (verified,
 * not assumed) at least once.  A service that dies without being killed by
 * the driver fails the run, named.  Seeds are printed: a failing run
 * replays with --seed. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "date.h"
#include "enums.h"
#include "fault.h"
#include "httpc.h"
#include "proc.h"
#include "proxy.h"
#include "report_json.h"
#include "uuid.h"
#include "wire.h"

const char *const COUNTIES[NCOL] = {"150821", "150822", "150823"};
const char *const DAYS[NDAYS] = {"2026-05-18", "2026-05-19", "2026-05-20", "2026-05-21"};
const char *const UNITS[NUNITS] = {"SFJ", "FY", "GAJ"};
const char *const CAMPAIGNS[NCAMPAIGNS] = {"", "民法典宣传月", "宪法宣传周"};

static const char *build;
static char dir[64];
static unsigned seed;
static int nfaults = 10;
static int rate = 200;
static bool federation;

static pufa_proc agg, pub, col[NCOL];
static char agg_port[16], feed_ep[128], pub_port[16], col_port[NCOL][16];
static fproxy *proxies[NCOL];
static int proxy_port[NCOL];

/* Every log file each collector wrote, one per start: where it names the
 * spool records it lost to a bad CRC. */
#define MAXLOGS 512
static char *col_logs[NCOL][MAXLOGS];
static int ncol_logs[NCOL];

/* ---- the ledger ---- */

pthread_mutex_t ledger_mu = PTHREAD_MUTEX_INITIALIZER;
entry *ledger;
size_t nledger;
static size_t ledger_cap;
static _Atomic int gen_stop;
static _Atomic long long posts_ok, posts_failed;
/* Wall-clock start of the latest post to each collector answered 202. */
static _Atomic long long last_ok_post_ms[NCOL];

static long long ms(void) {
    return pufa_mono_ms();
}

/* ---- processes ---- */

static void start_agg(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_aggregator", getenv("PUFA_TEST_DB"));
    char *listen = pufa_asprintf("tcp://127.0.0.1:%s", agg_port[0] ? agg_port : "0");
    char *feed = pufa_strdup(feed_ep[0] ? feed_ep : "tcp://127.0.0.1:0");
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    /* With --federation the city is the home, and it forwards up. */
    char *argv[] = {bin,
                    "--insecure",
                    "--listen",
                    listen,
                    "--feed",
                    feed,
                    "--http",
                    "127.0.0.1:0",
                    "--db",
                    dbinfo,
                    "--home",
                    federation ? "150800" : "100000",
                    federation ? "--upstream" : NULL,
                    (char *)(federation ? fed_upstream() : NULL),
                    NULL};
    pufa_proc_start(&agg, argv, NULL);
    char ep[128];
    if (!pufa_proc_wait_log(&agg, "id=AGG-LISTEN", "endpoint", ep, sizeof ep, 30000)) {
        pufa_proc_dump(&agg);
        fprintf(stderr, "fault: aggregator did not start\n");
        exit(2);
    }
    snprintf(agg_port, sizeof agg_port, "%s", strrchr(ep, ':') + 1);
    pufa_proc_wait_log(&agg, "id=AGG-FEED", "endpoint", feed_ep, sizeof feed_ep, 5000);
    free(dbinfo);
    free(listen);
    free(feed);
    free(bin);
}

static void start_pub(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_publisher", getenv("PUFA_TEST_DB"));
    char *bin = pufa_asprintf("%s/publisher/pufa-publisher", build);
    char *argv[] = {bin,
                    "--feed",
                    feed_ep,
                    "--db",
                    dbinfo,
                    "--http",
                    "127.0.0.1:0",
                    "--pub",
                    "",
                    "--home",
                    federation ? "150800" : "100000",
                    NULL};
    pufa_proc_start(&pub, argv, NULL);
    if (!pufa_proc_wait_log(&pub, "id=PUB-HTTP", "port", pub_port, sizeof pub_port, 10000)) {
        pufa_proc_dump(&pub);
        exit(2);
    }
    free(dbinfo);
    free(bin);
}

static void start_col(int k) {
    char *bin = pufa_asprintf("%s/collector/pufa-collector", build);
    char *aggr = pufa_asprintf("tcp://127.0.0.1:%d", proxy_port[k]);
    char *spool = pufa_asprintf("%s/spool-%d", dir, k);
    char *http = pufa_asprintf("127.0.0.1:%s", col_port[k][0] ? col_port[k] : "0");
    char *argv[] = {bin,
                    "--insecure",
                    "--county",
                    (char *)COUNTIES[k],
                    "--aggregator",
                    aggr,
                    "--spool",
                    spool,
                    "--http",
                    http,
                    "--ack-timeout",
                    "1s",
                    "--backoff-max",
                    "2s",
                    "--heartbeat",
                    "500ms",
                    "--spool-quota",
                    "256MiB",
                    NULL};
    pufa_proc_start(&col[k], argv, NULL);
    if (ncol_logs[k] < MAXLOGS)
        col_logs[k][ncol_logs[k]++] = pufa_strdup(col[k].log);
    if (!pufa_proc_wait_log(&col[k], "id=COL-HTTP", "port", col_port[k], sizeof col_port[k],
                            20000)) {
        pufa_proc_dump(&col[k]);
        exit(2);
    }
    free(bin);
    free(aggr);
    free(spool);
    free(http);
}

static const char *service_name(const pufa_proc *p) {
    if (p == &agg)
        return "aggregator";
    if (p == &pub)
        return "publisher";
    static char name[NCOL][32];
    int k = (int)(p - col);
    snprintf(name[k], sizeof name[k], "collector %s", COUNTIES[k]);
    return name[k];
}

static void describe_status(int st, char *out, size_t size) {
    if (WIFSIGNALED(st))
        snprintf(out, size, "killed by signal %d", WTERMSIG(st));
    else if (WIFEXITED(st))
        snprintf(out, size, "exited with code %d", WEXITSTATUS(st));
    else
        snprintf(out, size, "status %d", st);
}

static void stop_all(void) {
    if (federation)
        fed_stop();
    pufa_proc_stop(&pub, SIGTERM, 10000);
    for (int k = 0; k < NCOL; k++) {
        pufa_proc_stop(&col[k], SIGTERM, 10000);
        fproxy_stop(&proxies[k]);
    }
    pufa_proc_stop(&agg, SIGTERM, 10000);
}

/* Every service must be running whenever the driver has not stopped it: one
 * that died by itself fails the run, named, and is never restarted. */
static void check_alive(const char *when) {
    pufa_proc *all[NCOL + 2] = {&agg, &pub, &col[0], &col[1], &col[2]};
    for (int i = 0; i < NCOL + 2; i++) {
        if (pufa_proc_alive(all[i]))
            continue;
        char how[64];
        describe_status(-all[i]->pid - 1, how, sizeof how);
        printf("FAIL: the %s died without being killed by the driver (%s), %s; seed %u\n",
               service_name(all[i]), how, when, seed);
        printf("0 passed, 1 failed\n");
        fflush(stdout);
        pufa_proc_dump(all[i]);
        gen_stop = 1;
        stop_all();
        exit(1);
    }
    const char *dead = federation ? fed_dead() : NULL;
    if (dead) {
        printf("FAIL: the %s died without being killed by the driver, %s; seed %u\n", dead, when,
               seed);
        printf("0 passed, 1 failed\n");
        fflush(stdout);
        fed_dump();
        gen_stop = 1;
        stop_all();
        exit(1);
    }
}

/* ---- the generator ---- */

static entry *new_entry(int county) {
    if (nledger == ledger_cap) {
        ledger_cap = ledger_cap ? ledger_cap * 2 : 4096;
        ledger = pufa_realloc(ledger, ledger_cap * sizeof *ledger);
    }
    entry *e = &ledger[nledger++];
    memset(e, 0, sizeof *e);
    uint8_t id[16];
    pufa_uuid_v7(id);
    pufa_uuid_format(id, e->id);
    e->county = county;
    return e;
}

static json_t *report_json(const entry *e, uint32_t rev) {
    const revision *r = &e->rev[rev];
    json_t *o = json_object();
    json_object_set_new(o, "report_id", json_string(e->id));
    json_object_set_new(o, "revision", json_integer(rev));
    if (r->retracted)
        json_object_set_new(o, "retracted", json_true());
    json_object_set_new(o, "county_code", json_string(COUNTIES[e->county]));
    json_object_set_new(o, "unit_code", json_string(UNITS[r->unit]));
    json_object_set_new(o, "occurred_on", json_string(DAYS[r->day]));
    json_object_set_new(o, "theme", json_string(pufa_enum_code(PUFA_ENUM_THEME, r->theme)));
    json_object_set_new(o, "venue", json_string(pufa_enum_code(PUFA_ENUM_VENUE, r->venue)));
    json_object_set_new(o, "form", json_string(pufa_enum_code(PUFA_ENUM_FORM, r->form)));
    if (r->campaign)
        json_object_set_new(o, "campaign", json_string(CAMPAIGNS[r->campaign]));
    json_object_set_new(o, "title", json_string("普法宣传"));
    json_object_set_new(o, "sessions", json_integer(r->sessions));
    json_object_set_new(o, "participants", json_integer(r->participants));
    return o;
}

/* A new revision's content: any cell, so that a correction moves a report
 * between cells. */
static void fill_revision(revision *r, uint32_t rev, unsigned *s) {
    r->participants = rand_r(s) % 900 + 1;
    r->sessions = rand_r(s) % 3 + 1;
    r->day = (uint8_t)(rand_r(s) % NDAYS);
    r->theme = (uint8_t)(rand_r(s) % PUFA_THEME_MAX + 1);
    r->venue = (uint8_t)(rand_r(s) % PUFA_VENUE_MAX + 1);
    r->form = (uint8_t)(rand_r(s) % PUFA_FORM_MAX + 1);
    r->unit = (uint8_t)(rand_r(s) % NUNITS);
    r->campaign = (uint8_t)(rand_r(s) % NCAMPAIGNS);
    r->retracted = rev > 1 && rand_r(s) % 10 == 0;
}

static void *generator(void *arg) {
    (void)arg;
    unsigned s = seed * 7919u + 1;
    int per_post = 10;
    long long period = rate > 0 ? 1000LL * per_post / rate : 50;
    while (!gen_stop) {
        long long t0 = ms(), wall0 = pufa_now_ms();
        int k = (int)(rand_r(&s) % NCOL);
        json_t *arr = json_array();
        /* Indices, not pointers: new_entry() may move the ledger. */
        size_t picked[16];
        uint32_t revs[16];
        int n = 0;
        pthread_mutex_lock(&ledger_mu);
        for (int i = 0; i < per_post; i++) {
            entry *e = NULL;
            if (nledger > 50 && rand_r(&s) % 5 == 0) {
                /* A correction of an earlier report of this county. */
                size_t ci = rand_r(&s) % nledger;
                entry *c = &ledger[ci];
                bool dup = false;
                for (int j = 0; j < n; j++)
                    dup |= picked[j] == ci;
                if (c->county == k && c->attempted >= 1 && c->attempted < MAXREV && !dup &&
                    !c->frozen && !c->rev[c->attempted].retracted)
                    e = c;
            }
            if (!e)
                e = new_entry(k);
            uint32_t rev = e->attempted + 1;
            e->attempted = rev;
            fill_revision(&e->rev[rev], rev, &s);
            picked[n] = (size_t)(e - ledger);
            revs[n] = rev;
            json_array_append_new(arr, report_json(e, rev));
            n++;
        }
        pthread_mutex_unlock(&ledger_mu);
        char *body = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        char *url = pufa_asprintf("http://127.0.0.1:%s/v1/reports", col_port[k]);
        pufa_http_response r;
        char err[256];
        int rc = pufa_http_request("POST", url, "Content-Type: application/json\r\n", body,
                                   strlen(body), 5000, &r, err, sizeof err);
        if (rc == 0) {
            json_error_t jerr;
            json_t *doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
            json_t *res = json_object_get(doc, "results");
            pthread_mutex_lock(&ledger_mu);
            for (int i = 0; i < n && r.status == 202; i++) {
                const char *st =
                    json_string_value(json_object_get(json_array_get(res, (size_t)i), "state"));
                if (st && !strcmp(st, "spooled") && revs[i] > ledger[picked[i]].acked)
                    ledger[picked[i]].acked = revs[i];
            }
            pthread_mutex_unlock(&ledger_mu);
            json_decref(doc);
            pufa_buf_free(&r.body);
        }
        if (rc == 0 && r.status == 202) {
            posts_ok++;
            last_ok_post_ms[k] = wall0;
        } else {
            posts_failed++;
        }
        free(url);
        free(body);
        long long spent = ms() - t0;
        if (spent < period)
            pufa_sleep_ms((int)(period - spent));
    }
    return NULL;
}

/* ---- faults ---- */

static const char *const KIND_NAMES[NKINDS] = {"kill",
                                               "pause",
                                               "pg-restart",
                                               "partition",
                                               "disk-full",
                                               "corrupt",
                                               "pg-kill-agg",
                                               "fed-partition",
                                               "fed-kill-city",
                                               "fed-upper-restart",
                                               "fed-cursor-reset"};
static bool asked[NKINDS];
static int tried[NKINDS], injected[NKINDS];

/* Spool records flipped (each verified), by collector and position. */
typedef struct flip {
    int k;
    unsigned seg, off;
} flip;
static flip flips[4096];
static int nflips;

static pufa_proc *random_service(unsigned *s) {
    int r = (int)(rand_r(s) % (NCOL + 2));
    return r == NCOL ? &agg : r == NCOL + 1 ? &pub : &col[r];
}

static void restart(pufa_proc *p) {
    if (p == &agg)
        start_agg();
    else if (p == &pub)
        start_pub();
    else
        start_col((int)(p - col));
}

static bool killed_by(int st, int sig) {
    return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig;
}

/* The process state letter from /proc (T = stopped), '?' if unreadable. */
static char proc_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

static int pick_kind(unsigned *s, int i) {
    /* The first faults take each asked kind once, in random order; then any. */
    static int order[NKINDS], norder;
    if (i == 1) {
        for (int k = 0; k < NKINDS; k++)
            if (asked[k])
                order[norder++] = k;
        for (int j = norder - 1; j > 0; j--) {
            int r = (int)(rand_r(s) % (unsigned)(j + 1)), t = order[j];
            order[j] = order[r];
            order[r] = t;
        }
    }
    if (i <= norder)
        return order[i - 1];
    return order[rand_r(s) % (unsigned)norder];
}

static void inject(unsigned *s, int i) {
    int kind = pick_kind(s, i);
    int hold = 300 + (int)(rand_r(s) % 2000);
    pufa_proc *p;
    bool ok = false;
    tried[kind]++;
    switch (kind) {
    case F_KILL:
        p = random_service(s);
        printf("# fault %d: kill -9 %s, back after %d ms\n", i, service_name(p), hold);
        ok = killed_by(pufa_proc_stop(p, SIGKILL, 5000), SIGKILL);
        pufa_sleep_ms(hold);
        restart(p);
        break;
    case F_PAUSE:
        p = random_service(s);
        printf("# fault %d: SIGSTOP %s for %d ms\n", i, service_name(p), hold);
        if (kill(p->pid, SIGSTOP) == 0) {
            for (int w = 0; w < 100 && proc_state(p->pid) != 'T'; w++)
                pufa_sleep_ms(5);
            ok = proc_state(p->pid) == 'T';
        }
        pufa_sleep_ms(hold);
        kill(p->pid, SIGCONT);
        break;
    case F_PG:
        printf("# fault %d: PostgreSQL stopped for %d ms\n", i, hold);
        ok = pufa_sh(getenv("PUFA_TEST_PG_STOP")) == 0;
        pufa_sleep_ms(hold);
        if (pufa_sh(getenv("PUFA_TEST_PG_START")) != 0) {
            printf("FAIL: PostgreSQL did not start again; seed %u\n", seed);
            exit(2);
        }
        break;
    case F_PARTITION: {
        int k = (int)(rand_r(s) % NCOL);
        printf("# fault %d: partition collector %s <-> aggregator for %d ms\n", i, COUNTIES[k],
               hold);
        long before = fproxy_severed(proxies[k]);
        fproxy_cut(proxies[k]);
        pufa_sleep_ms(hold);
        /* A collector between connections (backing off after an aggregator
         * restart) has nothing to cut yet: hold on until it tries (its
         * reconnect interval is at most 5 s). */
        for (int w = 0; w < 60 && fproxy_severed(proxies[k]) == before; w++)
            pufa_sleep_ms(100);
        ok = fproxy_severed(proxies[k]) > before;
        fproxy_heal(proxies[k]);
        break;
    }
    case F_DISKFULL: {
        int k = (int)(rand_r(s) % NCOL);
        printf("# fault %d: disk full (ENOSPC on spool writes) for collector %s, %d ms\n", i,
               COUNTIES[k], hold);
        char *spool = pufa_asprintf("%s/spool-%d", dir, k);
        ok = spool_fault_disk_full(spool, (int)col[k].pid, hold);
        free(spool);
        break;
    }
    case F_CORRUPT: {
        int k = (int)(rand_r(s) % NCOL);
        printf("# fault %d: corrupt a byte of an undelivered record in collector %s's spool\n", i,
               COUNTIES[k]);
        /* Cut it off first: what it spools from now on is never sent. */
        fproxy_cut(proxies[k]);
        long long since = pufa_now_ms() + 200;
        pufa_sleep_ms(hold);
        for (int w = 0; w < 100 && last_ok_post_ms[k] < since; w++)
            pufa_sleep_ms(100);
        /* A clean stop saves the exact ack cursor. */
        int st = pufa_proc_stop(&col[k], SIGTERM, 10000);
        char *spool = pufa_asprintf("%s/spool-%d", dir, k);
        if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            ok = spool_fault_corrupt(spool, s, since, &flips[nflips].seg, &flips[nflips].off);
            if (ok)
                flips[nflips++].k = k;
        } else {
            printf("#   the collector did not stop cleanly: no corruption\n");
        }
        free(spool);
        start_col(k);
        fproxy_heal(proxies[k]);
        break;
    }
    case FED_PARTITION:
    case FED_KILL_CITY:
    case FED_UPPER_RESTART:
    case FED_CURSOR_RESET:
        ok = fed_inject(kind, i, hold, &agg, start_agg);
        break;
    default: /* kill -9 the aggregator right while PostgreSQL is away */
        printf("# fault %d: PostgreSQL stopped and the aggregator killed, %d ms\n", i, hold);
        ok = pufa_sh(getenv("PUFA_TEST_PG_STOP")) == 0;
        ok &= killed_by(pufa_proc_stop(&agg, SIGKILL, 5000), SIGKILL);
        pufa_sleep_ms(hold);
        if (pufa_sh(getenv("PUFA_TEST_PG_START")) != 0) {
            printf("FAIL: PostgreSQL did not start again; seed %u\n", seed);
            exit(2);
        }
        start_agg();
        break;
    }
    if (ok)
        injected[kind]++;
    else
        printf("#   fault %d (%s) did not take effect: not counted\n", i, KIND_NAMES[kind]);
    fflush(stdout);
}

/* ---- what the collectors say they lost ---- */

/* Records the collectors named as lost to a bad CRC, over all their
 * lifetimes (a record read past again after a restart is named again: the
 * same position counts once); *matched gets how many of them were flips. */
static int collector_bad_records(int *matched) {
    flip *seen = pufa_calloc(4096, sizeof *seen);
    int n = 0;
    *matched = 0;
    for (int k = 0; k < NCOL; k++)
        for (int l = 0; l < ncol_logs[k]; l++) {
            FILE *f = fopen(col_logs[k][l], "r");
            char line[4096];
            while (f && fgets(line, sizeof line, f)) {
                char *a = strstr(line, "id=COL-SPOOL-BAD-RECORD");
                char *sg = a ? strstr(a, " segment=") : NULL,
                     *of = a ? strstr(a, " offset=") : NULL;
                if (!sg || !of)
                    continue;
                flip x = {k, (unsigned)strtoul(sg + 9, NULL, 10),
                          (unsigned)strtoul(of + 8, NULL, 10)};
                bool dup = false;
                for (int j = 0; j < n && !dup; j++)
                    dup = seen[j].k == x.k && seen[j].seg == x.seg && seen[j].off == x.off;
                if (dup || n == 4096)
                    continue;
                seen[n++] = x;
                for (int j = 0; j < nflips; j++)
                    *matched += flips[j].k == x.k && flips[j].seg == x.seg && flips[j].off == x.off;
            }
            if (f)
                fclose(f);
        }
    free(seen);
    return n;
}

static bool parse_kinds(const char *list) {
    memset(asked, 0, sizeof asked);
    char *copy = pufa_strdup(list), *save = NULL;
    bool ok = true;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < NKINDS && strcmp(KIND_NAMES[k], t))
            k++;
        if (k == NKINDS) {
            fprintf(stderr,
                    "fault: --kinds: unknown kind '%s' (kill, pause, pg-restart, "
                    "partition, disk-full, corrupt, pg-kill-agg; with --federation also "
                    "fed-partition, fed-kill-city, fed-upper-restart, fed-cursor-reset)\n",
                    t);
            ok = false;
        } else {
            asked[k] = true;
        }
    }
    free(copy);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 2 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh fault BUILD_DIR [--faults N] [--seed S] [--rate R] "
                        "[--kinds K,K,...]\n");
        return 64;
    }
    build = argv[1];
    seed = (unsigned)pufa_now_ms();
    for (int i = 2; i < argc; i++)
        federation |= !strcmp(argv[i], "--federation");
    for (int k = 0; k < NKINDS; k++)
        asked[k] = federation || k < FED_PARTITION;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--faults") && i + 1 < argc)
            nfaults = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kinds") && i + 1 < argc) {
            if (!parse_kinds(argv[++i]))
                return 64;
        } else if (strcmp(argv[i], "--federation") != 0) {
            fprintf(stderr, "fault: unknown argument '%s'\n", argv[i]);
            return 64;
        }
    }
    int nasked = 0;
    for (int k = 0; k < NKINDS; k++)
        nasked += asked[k];
    for (int k = FED_PARTITION; k < NKINDS && !federation; k++)
        if (asked[k]) {
            fprintf(stderr, "fault: --kinds %s needs --federation\n", KIND_NAMES[k]);
            return 64;
        }
    if (nasked == 0 || nfaults < nasked || rate < 10) {
        fprintf(stderr,
                "fault: --faults must be at least the number of kinds asked for (%d), "
                "--rate at least 10 (got %d faults, rate %d)\n",
                nasked, nfaults, rate);
        return 64;
    }
    if (asked[F_DISKFULL] && pufa_sh("command -v strace >/dev/null 2>&1") != 0) {
        printf("FAIL: disk-full asked for but strace is missing: install strace, or leave "
               "disk-full out of --kinds\n");
        return 1;
    }
    pufa_json_init();
    signal(SIGPIPE, SIG_IGN);
    printf("# fault run: seed %u, %d faults, %d reports/s, %s, kinds", seed, nfaults, rate,
           federation ? "collectors -> city 150800 -> nation 100000" : "one level");
    for (int k = 0; k < NKINDS; k++)
        if (asked[k])
            printf(" %s", KIND_NAMES[k]);
    printf(" (replay: --seed %u)\n", seed);
    snprintf(dir, sizeof dir, "/tmp/pufa-fault-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    char *cmd = pufa_asprintf("'%s/cli/pufa' migrate --db '%s' --org-units '%s/deploy/data/"
                              "demo_tree.csv' >/dev/null",
                              build, getenv("PUFA_TEST_DB"), PUFA_SOURCE_DIR);
    if (pufa_sh(cmd) != 0)
        return 2;
    free(cmd);
    if (federation && !fed_start(build))
        return 2;
    start_agg();
    start_pub();
    for (int k = 0; k < NCOL; k++) {
        proxies[k] = fproxy_start(atoi(agg_port), &proxy_port[k]);
        start_col(k);
    }
    pthread_t gen;
    long long gen_start = ms();
    pthread_create(&gen, NULL, generator, NULL);
    unsigned s = seed;
    pufa_sleep_ms(1000);
    for (int i = 1; i <= nfaults; i++) {
        pufa_sleep_ms(200 + (int)(rand_r(&s) % 1500));
        char when[64];
        snprintf(when, sizeof when, "before fault %d", i);
        check_alive(when);
        inject(&s, i);
        snprintf(when, sizeof when, "after fault %d", i);
        check_alive(when);
    }
    pufa_sleep_ms(1000);
    gen_stop = 1;
    pthread_join(gen, NULL);
    long long gen_ms = ms() - gen_start;

    /* Heal the network, then let it drain; nothing is restarted here. */
    for (int k = 0; k < NCOL; k++)
        fproxy_heal(proxies[k]);
    if (federation)
        fed_heal();
    check_alive("when the faults were over");
    long long deadline = ms() + 180000;
    bool drained = false;
    while (ms() < deadline && !drained) {
        drained = true;
        for (int k = 0; k < NCOL; k++)
            drained &= pufa_http_metric(col_port[k], "pufa_collector_spool_reports ") == 0 &&
                       pufa_http_metric(col_port[k], "pufa_collector_in_flight_reports ") == 0;
        if (!drained)
            pufa_sleep_ms(200);
    }
    PGconn *db = PQconnectdb(getenv("PUFA_TEST_DB"));
    /* The publisher caught up with the feed. */
    PGresult *q = PQexec(db, "SELECT seq FROM feed_state");
    long long seq = PQntuples(q) ? atoll(PQgetvalue(q, 0, 0)) : -1;
    PQclear(q);
    long long pub_seq = -1;
    while (ms() < deadline) {
        pub_seq = pufa_http_metric(pub_port, "pufa_publisher_seq ");
        if (pub_seq == seq)
            break;
        pufa_sleep_ms(100);
    }
    bool fed_drained = !federation || fed_drain(deadline);
    check_alive("after the drain");

    verdict v;
    check_ledger(db, pub_port, &v);
    verdict up = {0};
    if (federation) {
        fed_check(&up);
        printf("upper level: acknowledged %lld, lost %lld, duplicated (figure mismatches) %lld, "
               "phantom %lld, wrong revision %lld, wrong content %lld, rows %lld\n",
               up.acked, up.lost, up.figure_mismatches, up.phantom, up.wrong_revision,
               up.wrong_content, up.committed);
    }
    long long spools = 0, metric_bad = 0, logged_now = 0;
    for (int k = 0; k < NCOL; k++) {
        spools += pufa_http_metric(col_port[k], "pufa_collector_spool_reports ");
        metric_bad += pufa_http_metric(col_port[k], "pufa_collector_spool_bad_records_total ");
        logged_now += pufa_proc_count_log(&col[k], "id=COL-SPOOL-BAD-RECORD");
    }
    int matched;
    int col_bad = collector_bad_records(&matched);

    /* The floors: work happened, and every kind asked for was injected. */
    /* A third of the reports offered: intake stops only while a collector
     * is killed, paused or out of disk, which is a small part of a run. */
    long long floor = (long long)rate * gen_ms / 1000 / 3;
    bool work = v.acked >= floor && posts_ok > 0 && v.committed > 0, kinds = true;
    printf("faults injected: ");
    int total = 0;
    const char *sep = "";
    for (int k = 0; k < NKINDS; k++) {
        total += injected[k];
        if (asked[k] || tried[k]) {
            printf("%s%s %d of %d tried", sep, KIND_NAMES[k], injected[k], tried[k]);
            sep = ", ";
        }
        if (asked[k] && injected[k] == 0) {
            kinds = false;
            printf(" (FLOOR: asked for, never injected)");
        }
    }
    printf("; total %d of %d\n", total, nfaults);
    printf("reports acknowledged: %lld (floor %lld = a third of %d/s x %.1f s offered; "
           "requests ok %lld, refused or failed %lld; rows stored %lld)%s\n",
           v.acked, floor, rate, (double)gen_ms / 1000, (long long)posts_ok,
           (long long)posts_failed, v.committed, work ? "" : " FLOOR NOT MET");
    bool corr_ok = v.excused == injected[F_CORRUPT] && v.excused == nflips && col_bad == nflips &&
                   matched == nflips && v.corrupted_kept == 0 && metric_bad == logged_now;
    printf("lost: %lld, duplicated (figure mismatches): %lld, excused by corruption: %lld of %d "
           "records flipped (the collectors named %d records lost to a bad CRC, %d of them the "
           "flipped ones; their metric now %lld, their current logs %lld)%s\n",
           v.lost, v.figure_mismatches, v.excused, nflips, col_bad, matched, metric_bad, logged_now,
           corr_ok ? "" : " CORRUPTION ACCOUNTING MISMATCH");
    printf("phantom: %lld, wrong revision: %lld, wrong content: %lld, left in spools: %lld, "
           "publisher seq %lld of %lld, seed %u\n",
           v.phantom, v.wrong_revision, v.wrong_content, spools, pub_seq, seq, seed);
    bool pass = work && kinds && corr_ok && v.lost == 0 && v.figure_mismatches == 0 &&
                v.phantom == 0 && v.wrong_revision == 0 && v.wrong_content == 0 && spools == 0 &&
                drained && seq >= 0 && pub_seq == seq && fed_drained && up.lost == 0 &&
                up.figure_mismatches == 0 && up.phantom == 0 && up.wrong_revision == 0 &&
                up.wrong_content == 0 && (!federation || up.excused == v.excused);
    printf("%s\n", pass ? "1 passed, 0 failed" : "0 passed, 1 failed");
    if (!pass)
        for (int k = 0; k < NCOL; k++)
            pufa_proc_dump(&col[k]);
    fflush(stdout);
    stop_all();
    PQfinish(db);
    free(ledger);
    for (int k = 0; k < NCOL; k++)
        for (int l = 0; l < ncol_logs[k]; l++)
            free(col_logs[k][l]);
    cmd = pufa_asprintf("rm -rf %s", dir);
    pufa_sh(cmd);
    free(cmd);
    return pass ? 0 : 1;
}
