#include "children.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "pg.h"

#define NONE INT64_MIN /* a NULL column */

/* One row of child_links; times in ms since the epoch. */
typedef struct link_row {
    char *sender;
    char org[7];
    bool forwarder;
    int64_t last_seen, last_report, as_of_seq, as_of, lag_ms, pending, oldest_pending;
} link_row;

struct pub_children {
    char *db;
    int64_t timeout_ms, cache_ms;
    pthread_mutex_t mu; /* guards everything below, and the fetch */
    PGconn *conn;
    link_row *rows;
    size_t n;
    bool fetched; /* rows (or err) are from a fetch at fetched_mono */
    int64_t fetched_mono;
    int64_t db_now; /* the database's clock at that fetch */
    int rc;         /* that fetch's result */
    char err[256];
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pub_children *pub_children_new(const char *db, int64_t link_timeout_ms, int64_t cache_ms) {
    pub_children *c = pufa_calloc(1, sizeof *c);
    c->db = pufa_strdup(db);
    c->timeout_ms = link_timeout_ms;
    c->cache_ms = cache_ms;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void free_rows(pub_children *c) {
    for (size_t i = 0; i < c->n; i++)
        free(c->rows[i].sender);
    free(c->rows);
    c->rows = NULL;
    c->n = 0;
}

void pub_children_destroy(pub_children **pc) {
    if (!pc || !*pc)
        return;
    pub_children *c = *pc;
    free_rows(c);
    PQfinish(c->conn);
    pthread_mutex_destroy(&c->mu);
    free(c->db);
    free(c);
    *pc = NULL;
}

static int64_t col(const PGresult *r, int row, int k) {
    return PQgetisnull(r, row, k) ? NONE : atoll(PQgetvalue(r, row, k));
}

#define MS(x) "(extract(epoch FROM " x ") * 1000)::int8"

/* Reads every row of child_links (mu held); the connection is kept and
 * made again after a failure. */
static int fetch(pub_children *c) {
    if (!c->conn && pufa_pg_connect(c->db, &c->conn, c->err, sizeof c->err) != 0) {
        PQfinish(c->conn);
        c->conn = NULL;
        return PUFA_EDBDOWN;
    }
    PGresult *r = PQexec(
        c->conn,
        "SELECT sender, org_code, kind, " MS("last_seen_at") ", " MS(
            "last_report_at") ", as_of_seq, " MS("as_of_at") ", lag_ms,"
                                                             " pending, " MS(
                                                                 "oldest_pending_"
                                                                 "at") ", " MS("now()") " FROM "
                                                                                        "child_"
                                                                                        "links "
                                                                                        "ORDER BY "
                                                                                        "sender");
    int rc = pufa_pg_check(c->conn, r, PGRES_TUPLES_OK, "child_links", c->err, sizeof c->err);
    if (rc) {
        PQclear(r);
        if (PQstatus(c->conn) != CONNECTION_OK) {
            PQfinish(c->conn);
            c->conn = NULL;
        }
        return rc;
    }
    free_rows(c);
    c->n = (size_t)PQntuples(r);
    c->rows = pufa_calloc(c->n ? c->n : 1, sizeof *c->rows);
    for (size_t i = 0; i < c->n; i++) {
        link_row *l = &c->rows[i];
        int row = (int)i;
        l->sender = pufa_strdup(PQgetvalue(r, row, 0));
        pufa_copy(l->org, sizeof l->org, PQgetvalue(r, row, 1));
        l->forwarder = !strcmp(PQgetvalue(r, row, 2), "forwarder");
        l->last_seen = col(r, row, 3);
        l->last_report = col(r, row, 4);
        l->as_of_seq = col(r, row, 5);
        l->as_of = col(r, row, 6);
        l->lag_ms = col(r, row, 7);
        l->pending = col(r, row, 8);
        l->oldest_pending = col(r, row, 9);
    }
    c->db_now = c->n ? col(r, 0, 10) : pufa_now_ms();
    if (c->n == 0) { /* no row carries now(): ask once more, cheaply */
        PGresult *t = PQexec(c->conn, "SELECT " MS("now()"));
        if (PQresultStatus(t) == PGRES_TUPLES_OK && PQntuples(t) == 1)
            c->db_now = col(t, 0, 0);
        PQclear(t);
    }
    PQclear(r);
    return 0;
}

/* "2026-11-27T21:40:03+08:00" in the city's time zone; null for NONE. */
static json_t *time_json(int64_t ms) {
    if (ms == NONE)
        return json_null();
    int64_t local = ms / 1000 + (int64_t)pufa_city_utc_offset_min * 60;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t secs = local - days * 86400;
    int y, mo, d;
    pufa_date_to_ymd((pufa_day)days, &y, &mo, &d);
    int off = pufa_city_utc_offset_min, aoff = off < 0 ? -off : off;
    char buf[40];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, mo, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60), off < 0 ? '-' : '+',
             aoff / 60, aoff % 60);
    return json_string(buf);
}

static json_t *int_json(int64_t v) {
    return v == NONE ? json_null() : json_integer((json_int_t)v);
}

static json_t *age_json(int64_t now, int64_t at) {
    return at == NONE ? json_null() : json_integer((json_int_t)(now - at));
}

static bool link_up(const pub_children *c, const link_row *l, int64_t now) {
    return l->last_seen != NONE && now - l->last_seen <= c->timeout_ms;
}

static json_t *sender_json(const pub_children *c, const link_row *l, int64_t now) {
    json_t *o = json_object();
    json_object_set_new(o, "sender", json_string(l->sender));
    json_object_set_new(o, "org_code", json_string(l->org));
    json_object_set_new(o, "kind", json_string(l->forwarder ? "forwarder" : "collector"));
    json_object_set_new(o, "link", json_string(link_up(c, l, now) ? "up" : "down"));
    json_object_set_new(o, "last_seen_at", time_json(l->last_seen));
    json_object_set_new(o, "last_seen_age_ms", age_json(now, l->last_seen));
    json_object_set_new(o, "last_report_at", time_json(l->last_report));
    json_object_set_new(o, "as_of_seq", int_json(l->as_of_seq));
    json_object_set_new(o, "as_of_at", time_json(l->as_of));
    json_object_set_new(o, "lag_ms", int_json(l->lag_ms));
    json_object_set_new(o, "pending", int_json(l->pending));
    json_object_set_new(o, "oldest_pending_age_ms", age_json(now, l->oldest_pending));
    return o;
}

static int64_t max_of(int64_t a, int64_t b) {
    return a == NONE ? b : b == NONE ? a : a > b ? a : b;
}

static int64_t min_of(int64_t a, int64_t b) {
    return a == NONE ? b : b == NONE ? a : a < b ? a : b;
}

/* The sender of the nearest unit above u, for a child whose data comes
 * up through its parent's link (a city seen at the nation, behind its
 * province's forwarder); NULL when none. */
static const link_row *via_row(const pub_children *c, const pufa_orgunits *ou,
                               const pufa_orgunit *u) {
    const link_row *best = NULL;
    int best_rank = -1;
    for (size_t i = 0; i < c->n; i++) {
        const link_row *l = &c->rows[i];
        const pufa_orgunit *a = pufa_orgunits_find(ou, l->org);
        int r = a ? pufa_orgunit_level_rank(a->level) : -1;
        if (a && strcmp(a->code, u->code) != 0 && pufa_orgunits_within(ou, u->code, a->code) &&
            r > best_rank) {
            best = l;
            best_rank = r;
        }
    }
    return best;
}

/* What the senders of one child add up to. */
typedef struct fold {
    bool county; /* the child is a county: its 数据截至 is its last report */
    int up, down;
    int64_t as_of, lag, pending, oldest, last_report, last_seen;
    json_t *senders;
} fold;

static void fold_row(const pub_children *c, fold *f, const link_row *l, int64_t now) {
    if (link_up(c, l, now))
        f->up++;
    else
        f->down++;
    /* 数据截至: a county collector's last report received; a forwarder's
     * as_of (the slowest one's, when several). */
    if (f->county && !l->forwarder)
        f->as_of = max_of(f->as_of, l->last_report);
    else if (l->forwarder)
        f->as_of = min_of(f->as_of, l->as_of);
    f->lag = max_of(f->lag, l->lag_ms);
    f->pending = f->pending == NONE   ? l->pending
                 : l->pending == NONE ? f->pending
                                      : f->pending + l->pending;
    f->oldest = min_of(f->oldest, l->oldest_pending);
    f->last_report = max_of(f->last_report, l->last_report);
    f->last_seen = max_of(f->last_seen, l->last_seen);
    json_array_append_new(f->senders, sender_json(c, l, now));
}

/* One child: its senders are the rows for it or a unit under it; without
 * any, the sender above it that its data comes through ("via"). */
static json_t *child_json(const pub_children *c, const pufa_orgunits *ou, const pufa_orgunit *u,
                          int64_t now, int counts[3]) {
    fold f = {.county = !strcmp(u->level, "county"),
              .as_of = NONE,
              .lag = NONE,
              .pending = NONE,
              .oldest = NONE,
              .last_report = NONE,
              .last_seen = NONE,
              .senders = json_array()};
    for (size_t i = 0; i < c->n; i++)
        if (pufa_orgunits_within(ou, c->rows[i].org, u->code))
            fold_row(c, &f, &c->rows[i], now);
    const link_row *via = f.up + f.down == 0 ? via_row(c, ou, u) : NULL;
    if (via)
        fold_row(c, &f, via, now);
    int n = f.up + f.down;
    const char *link = n == 0 ? "never" : f.down ? "down" : "up";
    counts[n == 0 ? 2 : f.down ? 1 : 0]++;
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(u->code));
    json_object_set_new(o, "name", json_string(u->name));
    json_object_set_new(o, "level", json_string(u->level));
    json_object_set_new(o, "kind", json_string(f.county ? "collector" : "forwarder"));
    json_object_set_new(o, "link", json_string(link));
    json_object_set_new(o, "links_up", json_integer(f.up));
    json_object_set_new(o, "links_down", json_integer(f.down));
    const pufa_orgunit *vu = via ? pufa_orgunits_find(ou, via->org) : NULL;
    json_object_set_new(
        o, "via", vu ? json_pack("{s:s, s:s}", "code", vu->code, "name", vu->name) : json_null());
    json_object_set_new(o, "as_of_at", time_json(f.as_of));
    json_object_set_new(o, "as_of_age_ms", age_json(now, f.as_of));
    json_object_set_new(o, "lag_ms", int_json(f.lag));
    json_object_set_new(o, "pending", int_json(f.pending));
    json_object_set_new(o, "oldest_pending_age_ms", age_json(now, f.oldest));
    json_object_set_new(o, "last_report_at", time_json(f.last_report));
    json_object_set_new(o, "last_seen_at", time_json(f.last_seen));
    json_object_set_new(o, "senders", f.senders);
    return o;
}

int pub_children_json(pub_children *c, pub_model *m, const char *code, json_t **out, char *err,
                      size_t errsize) {
    pthread_mutex_lock(&c->mu);
    int64_t mono = mono_ms();
    if (!c->fetched || mono - c->fetched_mono >= c->cache_ms) {
        c->rc = fetch(c);
        c->fetched = true;
        c->fetched_mono = mono;
    }
    if (c->rc) {
        int rc = c->rc;
        snprintf(err, errsize, "%s", c->err);
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    /* Now by the database's clock, as last read, plus the time since. */
    int64_t now = c->db_now + (mono_ms() - c->fetched_mono);
    pub_model_rdlock(m);
    const pufa_orgunits *ou = pub_model_orgunits(m);
    const pufa_orgunit *unit = ou ? pufa_orgunits_find(ou, code) : NULL;
    if (!unit) {
        pub_model_unlock(m);
        pthread_mutex_unlock(&c->mu);
        snprintf(err, errsize, "%s is not an org unit", code);
        return PUFA_ENOTFOUND;
    }
    int counts[3] = {0, 0, 0}; /* up, down, never */
    json_t *children = json_array();
    for (size_t i = 0; i < ou->count; i++)
        if (!strcmp(ou->units[i].parent_code, unit->code))
            json_array_append_new(children, child_json(c, ou, &ou->units[i], now, counts));
    json_t *o = json_object();
    json_object_set_new(
        o, "unit",
        json_pack("{s:s, s:s, s:s}", "code", unit->code, "name", unit->name, "level", unit->level));
    pub_model_unlock(m);
    pthread_mutex_unlock(&c->mu);
    json_object_set_new(o, "link_timeout_ms", json_integer((json_int_t)c->timeout_ms));
    json_object_set_new(
        o, "summary",
        json_pack("{s:i, s:i, s:i}", "up", counts[0], "down", counts[1], "never", counts[2]));
    json_object_set_new(o, "children", children);
    *out = o;
    return 0;
}
