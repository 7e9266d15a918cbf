/* The fault driver: the real stack (PostgreSQL, aggregator, publisher, 3
 * collectors behind partitionable proxies) under a generator that keeps a
 * ledger of every report the collectors acknowledged (202), while faults
 * are injected at random; at the end every acknowledged report must be
 * committed exactly once with its latest acknowledged revision, and SQL,
 * the rollups and the publisher must equal the ledger.
 *   with-pg.sh fault BUILD_DIR [--faults N] [--seed S] [--rate R]
 * Seeds are printed: a failing run replays with --seed. */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "httpc.h"
#include "proc.h"
#include "proxy.h"
#include "report_json.h"
#include "uuid.h"
#include "wire.h"

#define NCOL 3
#define MAXREV 16

static const char *build;
static char dir[64];
static unsigned seed;
static int nfaults = 10;
static int rate = 200;
static const char *const COUNTIES[NCOL] = {"150821", "150822", "150823"};

static pufa_proc agg, pub, col[NCOL];
static char agg_port[16], feed_ep[128], pub_port[16], col_port[NCOL][16];
static fproxy *proxies[NCOL];
static int proxy_port[NCOL];
static bool have_strace;

/* ---- the ledger ---- */

typedef struct entry {
    char id[37];
    int county;
    uint32_t acked;       /* highest revision answered 202, 0 = none */
    uint32_t attempted;   /* highest revision sent */
    uint32_t corrupted;   /* a revision whose spool record a fault corrupted */
    int64_t participants[MAXREV + 1];
    int64_t sessions[MAXREV + 1];
    bool retracted[MAXREV + 1];
} entry;

static pthread_mutex_t ledger_mu = PTHREAD_MUTEX_INITIALIZER;
static entry *ledger;
static size_t nledger, ledger_cap;
static _Atomic int gen_stop;
static _Atomic long long posts_ok, posts_failed;

static long long ms(void) {
    return pufa_mono_ms();
}

/* ---- processes ---- */

static void start_agg(void) {
    char *dbinfo = pufa_asprintf("%s user=pufa_aggregator", getenv("PUFA_TEST_DB"));
    char *listen = pufa_asprintf("tcp://127.0.0.1:%s", agg_port[0] ? agg_port : "0");
    char *feed = pufa_strdup(feed_ep[0] ? feed_ep : "tcp://127.0.0.1:0");
    char *bin = pufa_asprintf("%s/aggregator/pufa-aggregator", build);
    char *argv[] = {bin, "--insecure", "--listen", listen, "--feed", feed, "--http",
                    "127.0.0.1:0", "--db", dbinfo, NULL};
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
    char *argv[] = {bin, "--feed", feed_ep, "--db", dbinfo, "--http", "127.0.0.1:0", "--pub", "",
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
    char *argv[] = {bin, "--insecure", "--county", (char *)COUNTIES[k], "--aggregator", aggr,
                    "--spool", spool, "--http", http, "--ack-timeout", "1s", "--backoff-max",
                    "2s", "--heartbeat", "500ms", "--spool-quota", "256MiB", NULL};
    pufa_proc_start(&col[k], argv, NULL);
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

/* ---- the generator ---- */

static entry *new_entry(int county, unsigned *s) {
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
    (void)s;
    return e;
}

static json_t *report_json(const entry *e, uint32_t rev) {
    json_t *o = json_object();
    json_object_set_new(o, "report_id", json_string(e->id));
    json_object_set_new(o, "revision", json_integer(rev));
    if (e->retracted[rev])
        json_object_set_new(o, "retracted", json_true());
    json_object_set_new(o, "county_code", json_string(COUNTIES[e->county]));
    json_object_set_new(o, "unit_code", json_string("SFJ"));
    json_object_set_new(o, "occurred_on", json_string("2026-05-20"));
    json_object_set_new(o, "theme", json_string("民法典"));
    json_object_set_new(o, "venue", json_string("社区"));
    json_object_set_new(o, "form", json_string("讲座"));
    json_object_set_new(o, "title", json_string("民法典宣传月"));
    json_object_set_new(o, "sessions", json_integer(e->sessions[rev]));
    json_object_set_new(o, "participants", json_integer(e->participants[rev]));
    return o;
}

static void *generator(void *arg) {
    (void)arg;
    unsigned s = seed * 7919u + 1;
    int per_post = 10;
    long long period = rate > 0 ? 1000LL * per_post / rate : 50;
    while (!gen_stop) {
        long long t0 = ms();
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
                    !c->retracted[c->attempted])
                    e = c;
            }
            if (!e)
                e = new_entry(k, &s);
            uint32_t rev = e->attempted + 1;
            e->attempted = rev;
            e->participants[rev] = rand_r(&s) % 900 + 1;
            e->sessions[rev] = rand_r(&s) % 3 + 1;
            e->retracted[rev] = rev > 1 && rand_r(&s) % 10 == 0;
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
                const char *st = json_string_value(
                    json_object_get(json_array_get(res, (size_t)i), "state"));
                if (st && !strcmp(st, "spooled") && revs[i] > ledger[picked[i]].acked)
                    ledger[picked[i]].acked = revs[i];
            }
            pthread_mutex_unlock(&ledger_mu);
            json_decref(doc);
            pufa_buf_free(&r.body);
        }
        if (rc == 0 && r.status == 202)
            posts_ok++;
        else
            posts_failed++;
        free(url);
        free(body);
        long long spent = ms() - t0;
        if (spent < period)
            pufa_sleep_ms((int)(period - spent));
    }
    return NULL;
}

/* ---- faults ---- */

static int kills, pauses, pg_restarts, partitions, disk_fulls, corruptions;

static pufa_proc *random_service(unsigned *s, const char **name) {
    int r = (int)(rand_r(s) % (NCOL + 2));
    if (r == NCOL) {
        *name = "aggregator";
        return &agg;
    }
    if (r == NCOL + 1) {
        *name = "publisher";
        return &pub;
    }
    *name = COUNTIES[r];
    return &col[r];
}

static void restart(pufa_proc *p) {
    if (p == &agg)
        start_agg();
    else if (p == &pub)
        start_pub();
    else
        start_col((int)(p - col));
}

/* Corrupts one byte of an unacknowledged spool record of collector k
 * (stopped), noting which report it held.  False if none was unacked. */
static bool corrupt_spool(int k, unsigned *s) {
    char *cpath = pufa_asprintf("%s/spool-%d/cursor", dir, k);
    FILE *f = fopen(cpath, "r");
    unsigned long long cursor = 0;
    if (f) {
        if (fscanf(f, "%llx", &cursor) != 1)
            cursor = 0;
        fclose(f);
    }
    free(cpath);
    unsigned seg = (unsigned)(cursor >> 32), off = (unsigned)(cursor & 0xffffffffu);
    if (!seg)
        seg = 1;
    char *spath = pufa_asprintf("%s/spool-%d/%010u.seg", dir, k, seg);
    FILE *sf = fopen(spath, "r+b");
    bool done = false;
    if (sf) {
        fseek(sf, 0, SEEK_END);
        long size = ftell(sf);
        uint8_t *buf = malloc((size_t)size + 1);
        fseek(sf, 0, SEEK_SET);
        if (fread(buf, 1, (size_t)size, sf) == (size_t)size && size > (long)off) {
            /* Records after the cursor; pick one. */
            size_t starts[4096], n = 0, pos = off;
            while (pos + 12 <= (size_t)size && n < 4096) {
                uint32_t len = (uint32_t)buf[pos + 4] | (uint32_t)buf[pos + 5] << 8 |
                               (uint32_t)buf[pos + 6] << 16 | (uint32_t)buf[pos + 7] << 24;
                if (pos + 12 + len > (size_t)size)
                    break;
                starts[n++] = pos;
                pos += 12 + len;
            }
            if (n) {
                size_t at = starts[rand_r(s) % n];
                uint32_t len = (uint32_t)buf[at + 4] | (uint32_t)buf[at + 5] << 8 |
                               (uint32_t)buf[at + 6] << 16 | (uint32_t)buf[at + 7] << 24;
                pufa_report r;
                pufa_report_init(&r);
                if (pufa_report_decode(buf + at + 12, len, &r) == 0) {
                    pthread_mutex_lock(&ledger_mu);
                    for (size_t i = 0; i < nledger; i++)
                        if (!strcmp(ledger[i].id, r.report_id))
                            ledger[i].corrupted = (uint32_t)r.revision;
                    pthread_mutex_unlock(&ledger_mu);
                    size_t victim = at + 12 + rand_r(s) % len;
                    buf[victim] ^= 0x5A;
                    fseek(sf, (long)victim, SEEK_SET);
                    fwrite(buf + victim, 1, 1, sf);
                    printf("#   corrupted report %s rev %lld in %s\n", r.report_id,
                           (long long)r.revision, spath);
                    done = true;
                }
                pufa_report_clear(&r);
            }
        }
        free(buf);
        fclose(sf);
    }
    free(spath);
    return done;
}

static void inject(unsigned *s, int i) {
    int kind = (int)(rand_r(s) % 7);
    int hold = 300 + (int)(rand_r(s) % 2000);
    const char *name;
    pufa_proc *p;
    switch (kind) {
    case 0: /* kill -9 */
        p = random_service(s, &name);
        printf("# fault %d: kill -9 %s, back after %d ms\n", i, name, hold);
        pufa_proc_stop(p, SIGKILL, 5000);
        pufa_sleep_ms(hold);
        restart(p);
        kills++;
        break;
    case 1: /* pause */
        p = random_service(s, &name);
        printf("# fault %d: SIGSTOP %s for %d ms\n", i, name, hold);
        kill(p->pid, SIGSTOP);
        pufa_sleep_ms(hold);
        kill(p->pid, SIGCONT);
        pauses++;
        break;
    case 2: /* PostgreSQL restart */
        printf("# fault %d: PostgreSQL stopped for %d ms\n", i, hold);
        pufa_sh(getenv("PUFA_TEST_PG_STOP"));
        pufa_sleep_ms(hold);
        pufa_sh(getenv("PUFA_TEST_PG_START"));
        pg_restarts++;
        break;
    case 3: { /* partition */
        int k = (int)(rand_r(s) % NCOL);
        printf("# fault %d: partition collector %s <-> aggregator for %d ms\n", i, COUNTIES[k],
               hold);
        fproxy_cut(proxies[k]);
        pufa_sleep_ms(hold);
        fproxy_heal(proxies[k]);
        partitions++;
        break;
    }
    case 4: { /* disk full on a spool */
        int k = (int)(rand_r(s) % NCOL);
        if (!have_strace) {
            printf("# fault %d: (disk full skipped: no strace)\n", i);
            break;
        }
        printf("# fault %d: disk full (ENOSPC on write) for collector %s, %d ms\n", i,
               COUNTIES[k], hold);
        char *cmd = pufa_asprintf("timeout -s INT %d.%03d strace -f -qq -o /dev/null -p %d "
                                  "-e trace=write -e inject=write:error=ENOSPC 2>/dev/null",
                                  hold / 1000, hold % 1000, (int)col[k].pid);
        pufa_sh(cmd);
        free(cmd);
        disk_fulls++;
        break;
    }
    case 5: { /* a corrupted spool byte */
        int k = (int)(rand_r(s) % NCOL);
        printf("# fault %d: corrupt a byte in collector %s's spool\n", i, COUNTIES[k]);
        fproxy_cut(proxies[k]); /* keep some records unacknowledged */
        pufa_sleep_ms(hold);
        pufa_proc_stop(&col[k], SIGKILL, 5000);
        if (corrupt_spool(k, s))
            corruptions++;
        start_col(k);
        fproxy_heal(proxies[k]);
        break;
    }
    default: { /* kill -9 the aggregator right while PostgreSQL is away */
        printf("# fault %d: PostgreSQL stopped and the aggregator killed, %d ms\n", i, hold);
        pufa_sh(getenv("PUFA_TEST_PG_STOP"));
        pufa_proc_stop(&agg, SIGKILL, 5000);
        pufa_sleep_ms(hold);
        pufa_sh(getenv("PUFA_TEST_PG_START"));
        start_agg();
        kills++;
        pg_restarts++;
        break;
    }
    }
    fflush(stdout);
}

/* ---- the check ---- */

static long long col_metric(int k, const char *name) {
    return pufa_http_metric(col_port[k], name);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const entry *)a)->id, ((const entry *)b)->id);
}

int main(int argc, char **argv) {
    if (argc < 2 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh fault BUILD_DIR [--faults N] [--seed S] [--rate R]\n");
        return 64;
    }
    build = argv[1];
    seed = (unsigned)pufa_now_ms();
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--faults") && i + 1 < argc)
            nfaults = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atoi(argv[++i]);
    }
    pufa_json_init();
    signal(SIGPIPE, SIG_IGN);
    have_strace = pufa_sh("command -v strace >/dev/null 2>&1") == 0;
    printf("# fault run: seed %u, %d faults, %d reports/s (replay: --seed %u)\n", seed, nfaults,
           rate, seed);
    snprintf(dir, sizeof dir, "/tmp/pufa-fault-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    char *cmd = pufa_asprintf("'%s/cli/pufa' migrate --db '%s' --org-units '%s/deploy/data/"
                              "org_units.csv' >/dev/null",
                              build, getenv("PUFA_TEST_DB"), PUFA_SOURCE_DIR);
    if (pufa_sh(cmd) != 0)
        return 2;
    free(cmd);
    start_agg();
    start_pub();
    for (int k = 0; k < NCOL; k++) {
        proxies[k] = fproxy_start(atoi(agg_port), &proxy_port[k]);
        start_col(k);
    }
    pthread_t gen;
    pthread_create(&gen, NULL, generator, NULL);
    unsigned s = seed;
    pufa_sleep_ms(1000);
    for (int i = 1; i <= nfaults; i++) {
        pufa_sleep_ms(200 + (int)(rand_r(&s) % 1500));
        inject(&s, i);
    }
    pufa_sleep_ms(1000);
    gen_stop = 1;
    pthread_join(gen, NULL);

    /* Heal everything, then let it drain. */
    for (int k = 0; k < NCOL; k++)
        fproxy_heal(proxies[k]);
    if (!pufa_proc_alive(&agg))
        start_agg();
    if (!pufa_proc_alive(&pub))
        start_pub();
    for (int k = 0; k < NCOL; k++)
        if (!pufa_proc_alive(&col[k]))
            start_col(k);
    long long deadline = ms() + 180000;
    bool drained = false;
    while (ms() < deadline && !drained) {
        drained = true;
        for (int k = 0; k < NCOL; k++)
            drained &= col_metric(k, "pufa_collector_spool_reports ") == 0 &&
                       col_metric(k, "pufa_collector_in_flight_reports ") == 0;
        if (!drained)
            pufa_sleep_ms(200);
    }
    PGconn *db = PQconnectdb(getenv("PUFA_TEST_DB"));
    /* The publisher caught up with the feed. */
    PGresult *q = PQexec(db, "SELECT seq FROM feed_state");
    long long seq = atoll(PQgetvalue(q, 0, 0));
    PQclear(q);
    char *murl = pufa_asprintf("http://127.0.0.1:%s/metrics", pub_port);
    long long pub_seq = -1;
    while (ms() < deadline) {
        pufa_http_response r;
        char err[256];
        if (pufa_http_request("GET", murl, NULL, NULL, 0, 5000, &r, err, sizeof err) == 0) {
            char *at = strstr(r.body.data ? r.body.data : "", "\npufa_publisher_seq ");
            pub_seq = at ? atoll(at + 20) : -1;
            pufa_buf_free(&r.body);
        }
        if (pub_seq == seq)
            break;
        pufa_sleep_ms(100);
    }
    free(murl);

    /* Every acknowledged report, exactly once, at its latest revision. */
    qsort(ledger, nledger, sizeof *ledger, cmp_entry);
    q = PQexec(db, "SELECT report_id::text, revision, retracted, county_code, participants,"
                   " sessions FROM reports");
    long long lost = 0, dup = 0, phantom = 0, beyond = 0, corrupted_lost = 0, acked = 0;
    long long exp_part[NCOL] = {0}, exp_n[NCOL] = {0};
    char *seen = calloc(nledger + 1, 1);
    for (int i = 0; i < PQntuples(q); i++) {
        entry key;
        snprintf(key.id, sizeof key.id, "%s", PQgetvalue(q, i, 0));
        entry *e = bsearch(&key, ledger, nledger, sizeof *ledger, cmp_entry);
        if (!e) {
            phantom++;
            continue;
        }
        size_t idx = (size_t)(e - ledger);
        if (seen[idx])
            dup++;
        seen[idx] = 1;
        uint32_t rev = (uint32_t)atoi(PQgetvalue(q, i, 1));
        if (rev > e->attempted)
            beyond++;
        if (rev < e->acked) {
            if (e->corrupted && e->corrupted > rev)
                corrupted_lost++;
            else
                lost++;
        }
        bool retracted = PQgetvalue(q, i, 2)[0] == 't';
        if (rev <= MAXREV && retracted != e->retracted[rev])
            beyond++;
        if (!retracted && rev <= MAXREV) {
            exp_part[e->county] += e->participants[rev];
            exp_n[e->county]++;
        }
    }
    PQclear(q);
    for (size_t i = 0; i < nledger; i++) {
        if (ledger[i].acked)
            acked++;
        if (ledger[i].acked && !seen[i]) {
            if (ledger[i].corrupted)
                corrupted_lost++;
            else
                lost++;
        }
    }
    /* SQL, the rollups and the publisher equal the ledger. */
    int mismatches = 0;
    for (int k = 0; k < NCOL; k++) {
        const char *p[1] = {COUNTIES[k]};
        PGresult *a = PQexecParams(db, "SELECT count(*), coalesce(sum(participants), 0) FROM"
                                       " reports WHERE NOT retracted AND county_code = $1",
                                   1, NULL, p, NULL, NULL, 0);
        PGresult *b = PQexecParams(db, "SELECT coalesce(sum(reports), 0), coalesce(sum("
                                       "participants), 0) FROM rollup_live WHERE dim = 'total'"
                                       " AND county_code = $1",
                                   1, NULL, p, NULL, NULL, 0);
        long long sql_n = atoll(PQgetvalue(a, 0, 0)), sql_p = atoll(PQgetvalue(a, 0, 1));
        long long ru_n = atoll(PQgetvalue(b, 0, 0)), ru_p = atoll(PQgetvalue(b, 0, 1));
        PQclear(a);
        PQclear(b);
        char *url = pufa_asprintf("http://127.0.0.1:%s/v1/totals?window=all&by=none&county=%s",
                                  pub_port, COUNTIES[k]);
        pufa_http_response r;
        char err[256];
        long long api_n = -1, api_p = -1;
        if (pufa_http_request("GET", url, NULL, NULL, 0, 10000, &r, err, sizeof err) == 0) {
            json_error_t jerr;
            json_t *o = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
            api_n = json_integer_value(json_object_get(json_object_get(o, "totals"), "reports"));
            api_p = json_integer_value(
                json_object_get(json_object_get(o, "totals"), "participants"));
            json_decref(o);
            pufa_buf_free(&r.body);
        }
        free(url);
        bool ok = sql_n == exp_n[k] && sql_p == exp_part[k] && ru_n == sql_n && ru_p == sql_p &&
                  api_n == sql_n && api_p == sql_p;
        printf("# county %s: ledger %lld/%lld, SQL %lld/%lld, rollups %lld/%lld, publisher "
               "%lld/%lld (reports/participants) %s\n",
               COUNTIES[k], exp_n[k], exp_part[k], sql_n, sql_p, ru_n, ru_p, api_n, api_p,
               ok ? "ok" : "MISMATCH");
        mismatches += !ok;
    }
    long long spools = 0;
    for (int k = 0; k < NCOL; k++)
        spools += col_metric(k, "pufa_collector_spool_reports ");
    int injected = kills + pauses + pg_restarts + partitions + disk_fulls + corruptions;
    printf("faults injected: %d (kill -9 %d, pause %d, PostgreSQL restart %d, partition %d, disk "
           "full %d, corrupted byte %d)\n",
           injected, kills, pauses, pg_restarts, partitions, disk_fulls, corruptions);
    printf("reports acknowledged: %lld (requests ok %lld, refused or failed %lld)\n", acked,
           (long long)posts_ok, (long long)posts_failed);
    printf("lost: %lld, duplicated: %lld, phantom: %lld, wrong revision: %lld, lost to injected "
           "corruption (detected, skipped): %lld, totals mismatches: %d, left in spools: %lld, "
           "publisher seq %lld of %lld, seed %u\n",
           lost, dup, phantom, beyond, corrupted_lost, mismatches, spools, pub_seq, seq, seed);
    bool pass = lost == 0 && dup == 0 && phantom == 0 && beyond == 0 && mismatches == 0 &&
                spools == 0 && drained && pub_seq == seq;
    printf("%s\n", pass ? "1 passed, 0 failed" : "0 passed, 1 failed");
    if (!pass)
        for (int k = 0; k < NCOL; k++)
            pufa_proc_dump(&col[k]);
    pufa_proc_stop(&pub, SIGTERM, 10000);
    for (int k = 0; k < NCOL; k++) {
        pufa_proc_stop(&col[k], SIGTERM, 10000);
        fproxy_stop(&proxies[k]);
    }
    pufa_proc_stop(&agg, SIGTERM, 10000);
    PQfinish(db);
    free(seen);
    free(ledger);
    cmd = pufa_asprintf("rm -rf %s", dir);
    pufa_sh(cmd);
    free(cmd);
    return pass ? 0 : 1;
}
