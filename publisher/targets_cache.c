#include "targets_cache.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "migrate.h"
#include "pg.h"

struct pub_targets {
    char *db;
    int64_t poll_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping, loaded;
    uint64_t version;
    pufa_targets all;  /* sorted by year, org_code, unit_code, figure */
    pufa_orgunits *ou; /* never NULL */
};

/* Reads targets and org units in one snapshot when the version moved.
 * 0 (*changed tells), or a PUFA_E* with err set. */
static int poll_once(pub_targets *t, PGconn *c, bool *changed, char *err, size_t errsize) {
    *changed = false;
    PGresult *r = PQexec(c, "SELECT version FROM targets_state");
    int rc = pufa_pg_check(c, r, PGRES_TUPLES_OK, "targets_state", err, errsize);
    uint64_t v = rc == 0 && PQntuples(r) == 1 ? (uint64_t)atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (rc)
        return rc;
    pthread_mutex_lock(&t->mu);
    bool same = t->loaded && v == t->version;
    pthread_mutex_unlock(&t->mu);
    if (same)
        return 0;
    if ((rc = pufa_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errsize)))
        return rc;
    pufa_orgunits *ou = NULL;
    PGresult *st = PQexec(c, "SELECT version FROM targets_state");
    PGresult *rows = PQexec(c, "SELECT year, org_code, unit_code, figure, target FROM targets"
                               " ORDER BY year, org_code, unit_code, figure");
    rc = pufa_pg_check(c, st, PGRES_TUPLES_OK, "targets_state", err, errsize);
    if (rc == 0)
        rc = pufa_pg_check(c, rows, PGRES_TUPLES_OK, "targets", err, errsize);
    if (rc == 0)
        rc = pufa_db_load_orgunits(c, &ou, err, errsize);
    PQclear(PQexec(c, "COMMIT"));
    if (rc == 0) {
        pufa_targets all;
        pufa_targets_init(&all);
        all.cap = (size_t)PQntuples(rows) + 1;
        all.v = pufa_calloc(all.cap, sizeof *all.v);
        for (int i = 0; i < PQntuples(rows); i++) {
            pufa_target *x = &all.v[all.n];
            x->year = atoi(PQgetvalue(rows, i, 0));
            snprintf(x->org_code, sizeof x->org_code, "%s", PQgetvalue(rows, i, 1));
            snprintf(x->unit_code, sizeof x->unit_code, "%s", PQgetvalue(rows, i, 2));
            x->figure = -1;
            for (int k = 0; k < PUFA_NFIGURES; k++)
                if (!strcmp(PQgetvalue(rows, i, 3), pufa_figure_names[k]))
                    x->figure = k;
            x->target = atoll(PQgetvalue(rows, i, 4));
            if (x->figure >= 0) /* the table's CHECK allows no other */
                all.n++;
        }
        pthread_mutex_lock(&t->mu);
        pufa_targets_free(&t->all);
        pufa_orgunits_destroy(&t->ou);
        t->all = all;
        t->ou = ou;
        t->version = (uint64_t)atoll(PQgetvalue(st, 0, 0));
        t->loaded = true;
        pthread_mutex_unlock(&t->mu);
        *changed = true;
        PLOG_INFO("PUB-TARGETS", "version=%llu targets=%zu org_units=%zu",
                  (unsigned long long)atoll(PQgetvalue(st, 0, 0)), all.n, ou->count);
    }
    PQclear(st);
    PQclear(rows);
    return rc;
}

static void *targets_main(void *arg) {
    pub_targets *t = arg;
    PGconn *c = NULL;
    char err[512], last_err[512] = "";
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        pthread_mutex_unlock(&t->mu);
        int rc = 0;
        bool changed = false;
        if (!c)
            rc = pufa_pg_connect(t->db, &c, err, sizeof err);
        if (rc == 0)
            rc = poll_once(t, c, &changed, err, sizeof err);
        if (rc) {
            if (strcmp(err, last_err) != 0) { /* once per distinct failure */
                char q[600];
                PLOG_WARN("PUB-TARGETS-FAIL", "msg=%s retry_ms=%lld",
                          pufa_log_quote(q, sizeof q, err), (long long)t->poll_ms);
                snprintf(last_err, sizeof last_err, "%s", err);
            }
            if (c && PQstatus(c) != CONNECTION_OK) {
                PQfinish(c);
                c = NULL;
            }
        } else {
            last_err[0] = '\0';
        }
        pthread_mutex_lock(&t->mu);
        if (t->stopping)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(t->poll_ms / 1000);
        ts.tv_nsec += (long)(t->poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    }
    pthread_mutex_unlock(&t->mu);
    if (c)
        PQfinish(c);
    return NULL;
}

int pub_targets_open(const char *db, int64_t poll_ms, pub_targets **out) {
    pub_targets *t = pufa_calloc(1, sizeof *t);
    t->db = pufa_strdup(db);
    t->poll_ms = poll_ms > 0 ? poll_ms : 2000;
    t->ou = pufa_orgunits_new();
    pufa_targets_init(&t->all);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->thread, NULL, targets_main, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        pufa_orgunits_destroy(&t->ou);
        free(t->db);
        free(t);
        return PUFA_ESYS;
    }
    *out = t;
    return 0;
}

void pub_targets_close(pub_targets **pt) {
    if (!pt || !*pt)
        return;
    pub_targets *t = *pt;
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    pufa_targets_free(&t->all);
    pufa_orgunits_destroy(&t->ou);
    free(t->db);
    free(t);
    *pt = NULL;
}

static pufa_orgunits *copy_orgunits(const pufa_orgunits *src) {
    pufa_orgunits *ou = pufa_orgunits_new();
    for (size_t i = 0; i < src->count; i++) {
        const pufa_orgunit *u = &src->units[i];
        pufa_orgunits_add(ou, u->code, u->name, u->level, u->parent_code);
    }
    return ou;
}

void pub_targets_get(pub_targets *t, int year, const char *org, pufa_targets *out,
                     pufa_orgunits **ou, uint64_t *version, bool *loaded) {
    pufa_targets_init(out);
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->all.n; i++) {
        const pufa_target *x = &t->all.v[i];
        if (x->year != year)
            continue;
        if (org && strcmp(x->org_code, org) != 0 && !pufa_orgunits_within(t->ou, x->org_code, org))
            continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->v = pufa_realloc(out->v, out->cap * sizeof *out->v);
        }
        out->v[out->n++] = *x;
    }
    *ou = copy_orgunits(t->ou);
    *version = t->version;
    *loaded = t->loaded;
    pthread_mutex_unlock(&t->mu);
}

pufa_orgunits *pub_targets_orgunits(pub_targets *t) {
    pthread_mutex_lock(&t->mu);
    pufa_orgunits *ou = copy_orgunits(t->ou);
    pthread_mutex_unlock(&t->mu);
    return ou;
}

bool pub_targets_org_known(pub_targets *t, const char *code) {
    pthread_mutex_lock(&t->mu);
    bool known = pufa_orgunits_find(t->ou, code) != NULL;
    pthread_mutex_unlock(&t->mu);
    return known;
}
