#include "periods.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "orgunits.h"
#include "pg.h"
#include "pufa.pb-c.h"
#include "store_sql.h"
#include "utf8.h"
#include "wire.h"

static const char *const state_names[] = {"open", "submitted", "approved", "accepted"};
static const char *const action_names[] = {"submit", "approve", "accept", "unlock"};
static const char *const role_names[] = {"", "submitter", "approver", "acceptor"};

const char *period_state_name(int state) {
    return state >= 0 && state <= PERIOD_ACCEPTED ? state_names[state] : "unknown";
}

int period_state_parse(const char *s) {
    for (int i = 0; i <= PERIOD_ACCEPTED; i++)
        if (!strcmp(s, state_names[i]))
            return i;
    return -1;
}

const char *period_action_name(int action) {
    return action >= 0 && action <= ACTION_UNLOCK ? action_names[action] : "unknown";
}

const char *period_role_name(int role) {
    return role >= ROLE_SUBMITTER && role <= ROLE_ACCEPTOR ? role_names[role] : "unknown";
}

int period_role_parse(const char *s) {
    for (int i = ROLE_SUBMITTER; i <= ROLE_ACCEPTOR; i++)
        if (!strcmp(s, role_names[i]))
            return i;
    return -1;
}

int32_t period_month_of(pufa_day day) {
    int y, m, d;
    pufa_date_to_ymd(day, &y, &m, &d);
    return (int32_t)(y * 12 + m - 1);
}

int period_month_parse(const char *s, int32_t *month) {
    if (strlen(s) != 7 || s[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = atoi(s), m = atoi(s + 5);
    if (y < 2000 || m < 1 || m > 12)
        return -1;
    *month = (int32_t)(y * 12 + m - 1);
    return 0;
}

void period_month_format(int32_t month, char out[8]) {
    unsigned mo = month < 0 ? 0u : (unsigned)month;
    snprintf(out, 8, "%04u-%02u", (mo / 12u) % 10000u, mo % 12u + 1u);
}

/* "YYYY-MM-01" for SQL. */
static void month_date(int32_t month, char out[11]) {
    char ms[8];
    period_month_format(month, ms);
    snprintf(out, 11, "%s-01", ms);
}

/* The last day of a month. */
static pufa_day month_end(int32_t month) {
    int32_t next = month + 1;
    return pufa_date_from_ymd((int)(next / 12), (int)(next % 12) + 1, 1) - 1;
}

void lockmap_free(lockmap *m) {
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

#define SQL_LOCKS                                                                                  \
    "SELECT p.org_code, (extract(year FROM p.month)::int * 12"                                     \
    " + extract(month FROM p.month)::int - 1), p.state, p.exception_open, p.set_by,"               \
    " to_char(p.set_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), o.name"              \
    " FROM periods p JOIN org_units o ON o.code = p.org_code"                                      \
    " WHERE o.level = 'county' AND (p.state <> 'open' OR p.exception_open)"                        \
    " ORDER BY p.org_code COLLATE \"C\", p.month"

int lockmap_load(PGconn *conn, lockmap *out, char *err, size_t errsize) {
    PGresult *r = PQexec(conn, SQL_LOCKS);
    int rc = pufa_pg_check(conn, r, PGRES_TUPLES_OK, "period locks", err, errsize);
    if (rc) {
        PQclear(r);
        return rc;
    }
    int n = PQntuples(r);
    period_lock *v = pufa_calloc((size_t)n + 1, sizeof *v);
    for (int i = 0; i < n; i++) {
        pufa_copy(v[i].county, sizeof v[i].county, PQgetvalue(r, i, 0));
        v[i].month = (int32_t)atoi(PQgetvalue(r, i, 1));
        int st = period_state_parse(PQgetvalue(r, i, 2));
        v[i].state = (int8_t)(st < 0 ? PERIOD_ACCEPTED : st); /* unknown: lock, never open */
        v[i].exception_open = PQgetvalue(r, i, 3)[0] == 't';
        pufa_copy(v[i].set_by, sizeof v[i].set_by, PQgetvalue(r, i, 4));
        pufa_copy(v[i].set_at, sizeof v[i].set_at, PQgetvalue(r, i, 5));
        pufa_copy(v[i].name, sizeof v[i].name, PQgetvalue(r, i, 6));
    }
    PQclear(r);
    int days = out->deadline_days;
    lockmap_free(out);
    out->v = v;
    out->n = (size_t)n;
    out->deadline_days = days;
    return 0;
}

static int cmp_lock(const void *a, const void *b) {
    const period_lock *x = a, *y = b;
    int c = strcmp(x->county, y->county);
    if (c)
        return c;
    return (x->month > y->month) - (x->month < y->month);
}

int lockmap_state(const lockmap *m, const char *county, int32_t month) {
    if (!m->n)
        return PERIOD_OPEN;
    period_lock key;
    pufa_copy(key.county, sizeof key.county, county);
    key.month = month;
    const period_lock *e = bsearch(&key, m->v, m->n, sizeof *m->v, cmp_lock);
    return e ? e->state : PERIOD_OPEN;
}

bool lockmap_locked(const lockmap *m, const char *county, pufa_day day, pufa_day today,
                    char *reason, size_t rsize) {
    if (m->n == 0 && m->deadline_days <= 0)
        return false;
    int32_t month = period_month_of(day);
    char ms[8];
    if (m->n) {
        period_lock key;
        pufa_copy(key.county, sizeof key.county, county);
        key.month = month;
        const period_lock *e = bsearch(&key, m->v, m->n, sizeof *m->v, cmp_lock);
        if (e && e->state >= PERIOD_SUBMITTED) {
            period_month_format(month, ms);
            snprintf(reason, rsize,
                     "occurred_on: period %s of %s %s is %s (set by %s at %s): locked; ask "
                     "for a lock exception (pufa unlock)",
                     ms, county, e->name, period_state_name(e->state), e->set_by, e->set_at);
            return true;
        }
        if (e && e->exception_open)
            return false;
    }
    if (m->deadline_days > 0 && today > month_end(month) + m->deadline_days) {
        char dl[PUFA_DATE_STRLEN + 1];
        pufa_date_format(month_end(month) + m->deadline_days, dl);
        period_month_format(month, ms);
        snprintf(reason, rsize,
                 "occurred_on: period %s of %s is past its entry deadline %s (month end + %d "
                 "days, entry_deadline_days): locked; ask for a lock exception (pufa unlock)",
                 ms, county, dl, m->deadline_days);
        return true;
    }
    return false;
}

/* ---- approval actions (one transaction each) ---- */

typedef struct unit_state {
    char code[7];
    char name[128];
    int state;
} unit_state;

/* Runs a parameterised query expecting rows; NULL on error (err filled,
 * *rc set). */
static PGresult *query(PGconn *conn, const char *sql, int n, const char *const *params,
                       const char *what, int *rc, char *err, size_t errsize) {
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    *rc = pufa_pg_check(conn, r, PGRES_TUPLES_OK, what, err, errsize);
    if (*rc) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* The unit and its ancestors, nearest first, each with its state. */
#define SQL_CHAIN                                                                                  \
    "WITH RECURSIVE up(code, parent, depth) AS ("                                                  \
    "  SELECT code, parent_code, 0 FROM org_units WHERE code = $1"                                 \
    "  UNION ALL SELECT o.code, o.parent_code, up.depth + 1 FROM org_units o"                      \
    "  JOIN up ON o.code = up.parent WHERE up.depth < 8)"                                          \
    " SELECT up.code, o.name, coalesce(p.state, 'open'), coalesce(p.exception_open, false)"        \
    " FROM up JOIN org_units o ON o.code = up.code"                                                \
    " LEFT JOIN periods p ON p.org_code = up.code AND p.month = $2::date ORDER BY up.depth"

#define SQL_CHILDREN                                                                               \
    "SELECT o.code, o.name, coalesce(p.state, 'open') FROM org_units o"                            \
    " LEFT JOIN periods p ON p.org_code = o.code AND p.month = $2::date"                           \
    " WHERE o.parent_code = $1 ORDER BY o.code"

/* $1 org, $2 month, $3 state, $4 exception_open, $5 set_by, $6 reason,
 * $7 set_by_org.  An office of this level set it: via ''. */
#define SQL_SET_STATE                                                                              \
    "INSERT INTO periods (org_code, month, state, exception_open, set_by, reason, set_by_org)"     \
    " VALUES ($1, $2::date, $3, $4::bool, $5, $6, $7)"                                             \
    " ON CONFLICT (org_code, month) DO UPDATE SET state = EXCLUDED.state,"                         \
    " exception_open = EXCLUDED.exception_open, set_by = EXCLUDED.set_by, set_at = now(),"         \
    " reason = EXCLUDED.reason, set_by_org = EXCLUDED.set_by_org, via = ''"

/* Every descendant of $1 whose state is one of $3 moves to $4, audited.
 * $5 office, $6 office org, $7 action, $8 reason. */
#define SQL_CASCADE                                                                                \
    "WITH RECURSIVE down(code, depth) AS ("                                                        \
    "  SELECT code, 1 FROM org_units WHERE parent_code = $1"                                       \
    "  UNION ALL SELECT o.code, down.depth + 1 FROM org_units o"                                   \
    "  JOIN down ON o.parent_code = down.code WHERE down.depth < 8),"                              \
    " old AS (SELECT p.org_code, p.state FROM periods p JOIN down ON p.org_code = down.code"       \
    "  WHERE p.month = $2::date AND p.state = ANY($3::text[])),"                                   \
    " upd AS (UPDATE periods p SET state = $4, set_by = $5, set_at = now(), reason = $8,"          \
    "  set_by_org = $6, via = ''"                                                                  \
    "  FROM old WHERE p.org_code = old.org_code AND p.month = $2::date"                            \
    "  RETURNING p.org_code, old.state AS from_state)"                                             \
    " INSERT INTO period_audit (org_code, month, action, outcome, from_state, to_state, actor,"    \
    "  actor_org, reason)"                                                                         \
    " SELECT org_code, $2::date, $7, 'done', from_state, $4, $5, $6, $8 FROM upd"                  \
    " RETURNING org_code, from_state"

#define SQL_AUDIT                                                                                  \
    "INSERT INTO period_audit (org_code, month, action, outcome, from_state, to_state, actor,"     \
    " actor_org, reason) VALUES ($1, $2::date, $3, $4, $5, $6, $7, $8, $9)"

static int exec_params(PGconn *conn, const char *sql, int n, const char *const *params,
                       const char *what, char *err, size_t errsize) {
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    int rc = pufa_pg_check(conn, r, PGRES_COMMAND_OK, what, err, errsize);
    PQclear(r);
    return rc;
}

static int audit(PGconn *conn, const approval_req *q, const char *org, const char *month,
                 const char *outcome, int from, int to, const char *reason, char *err,
                 size_t errsize) {
    const char *p[9] = {org,
                        month,
                        period_action_name(q->action),
                        outcome,
                        period_state_name(from),
                        period_state_name(to),
                        q->office,
                        q->office_org,
                        reason};
    return exec_params(conn, SQL_AUDIT, 9, p, "period_audit", err, errsize);
}

static void set_result(approval_res *res, int status, json_t *o) {
    res->http_status = status;
    free(res->json);
    res->json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
}

static json_t *error_json(const char *msg) {
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(msg));
    return o;
}

/* Decides req against the chain (target first) and its children: 0 when
 * allowed, else the HTTP status with msg filled.  *to gets the new state. */
static int decide(const approval_req *q, const unit_state *chain, int nchain,
                  const unit_state *kids, int nkids, bool deadline_locked, bool exception_open,
                  int *to, char *msg, size_t msize) {
    const unit_state *t = &chain[0];
    char ms[8];
    period_month_format(q->month, ms);
    int need_kids = -1, need_role = 0;
    switch (q->action) {
    case ACTION_SUBMIT:
        need_role = ROLE_SUBMITTER;
        *to = PERIOD_SUBMITTED;
        need_kids = PERIOD_SUBMITTED;
        break;
    case ACTION_APPROVE:
        need_role = ROLE_APPROVER;
        *to = PERIOD_APPROVED;
        need_kids = PERIOD_SUBMITTED;
        break;
    case ACTION_ACCEPT:
        need_role = ROLE_ACCEPTOR;
        *to = PERIOD_ACCEPTED;
        need_kids = PERIOD_APPROVED;
        break;
    default:
        *to = PERIOD_OPEN;
        break;
    }
    /* A province's acceptor accepts a city's month (its child) once the
     * city approved it (a state that arrived from the city's aggregator). */
    bool child_accept = q->action == ACTION_ACCEPT && q->role == ROLE_ACCEPTOR && nchain > 1 &&
                        !strcmp(chain[1].code, q->office_org);
    if (child_accept && t->state != PERIOD_APPROVED) {
        if (t->state >= PERIOD_ACCEPTED)
            snprintf(msg, msize, "state: period %s of %s %s is already accepted", ms, t->code,
                     t->name);
        else
            snprintf(msg, msize,
                     "state: period %s of %s %s is %s: it must be approved by its own office "
                     "first",
                     ms, t->code, t->name, period_state_name(t->state));
        return 409;
    }
    if (q->action != ACTION_UNLOCK) {
        if ((strcmp(q->office_org, t->code) != 0 && !child_accept) || q->role != need_role) {
            snprintf(msg, msize, "office %s is the %s of %s; %s of %s %s needs the %s of %s",
                     q->office, period_role_name(q->role), q->office_org,
                     period_action_name(q->action), t->code, ms, period_role_name(need_role),
                     t->code);
            return 403;
        }
        if (t->state >= *to) {
            snprintf(msg, msize, "state: period %s of %s %s is already %s", ms, t->code, t->name,
                     period_state_name(t->state));
            return 409;
        }
        if (nkids == 0 && q->action != ACTION_SUBMIT && t->state < PERIOD_SUBMITTED) {
            snprintf(msg, msize, "state: period %s of %s %s is open: it must be submitted first",
                     ms, t->code, t->name);
            return 409;
        }
        /* Every child must be ready; name those that are not. */
        size_t len = 0;
        int notready = 0;
        for (int i = 0; i < nkids; i++) {
            if (kids[i].state >= need_kids)
                continue;
            if (notready == 0)
                len = (size_t)snprintf(msg, msize,
                                       "children: %s of %s %s needs every child %s or above; "
                                       "not yet: ",
                                       period_action_name(q->action), t->code, ms,
                                       period_state_name(need_kids));
            if (len < msize)
                len +=
                    (size_t)snprintf(msg + len, msize - len, "%s%s %s (%s)", notready ? ", " : "",
                                     kids[i].code, kids[i].name, period_state_name(kids[i].state));
            notready++;
        }
        return notready ? 409 : 0;
    }
    /* Unlock: a submitter takes back its own submission; an approver or
     * acceptor of the unit or of a unit above it reopens any state (a city
     * reopening a county un-accepts its province's month on the way up). */
    int depth = -1;
    for (int i = 0; i < nchain; i++)
        if (!strcmp(chain[i].code, q->office_org))
            depth = i;
    int need = t->state < ROLE_APPROVER ? t->state : ROLE_APPROVER;
    if (t->state == PERIOD_OPEN) {
        if (!deadline_locked || exception_open) {
            snprintf(msg, msize, "state: period %s of %s %s is open%s: nothing to unlock", ms,
                     t->code, t->name, exception_open ? " (a lock exception is open)" : "");
            return 409;
        }
        need = ROLE_APPROVER; /* the entry deadline is the level above's rule */
    }
    if (depth < 0 || q->role < need) {
        snprintf(msg, msize,
                 "office %s is the %s of %s; unlocking %s %s (%s%s) needs an office of %s or a "
                 "unit above it with the role %s or higher",
                 q->office, period_role_name(q->role), q->office_org, t->code, ms,
                 period_state_name(t->state), t->state == PERIOD_OPEN ? ", past its deadline" : "",
                 t->code, period_role_name(need));
        return 403;
    }
    return 0;
}

/* The rows this transaction wrote ($1 orgs, $2 months), marked with its
 * feed sequence $3 (the forwarder's outbox order), as the feed carries
 * them. */
#define SQL_WRITTEN                                                                                \
    "WITH k AS (SELECT DISTINCT o, m FROM unnest($1::text[], $2::date[]) AS k(o, m)),"             \
    " w AS (UPDATE periods p SET commit_seq = $3::int8 FROM k"                                     \
    "  WHERE p.org_code = k.o AND p.month = k.m RETURNING p.org_code, p.month, p.state,"           \
    "  p.set_by, p.set_at, p.reason, p.exception_open, p.set_by_org)"                              \
    " SELECT org_code, extract(year FROM month)::int, extract(month FROM month)::int, state,"      \
    " set_by, (extract(epoch FROM set_at) * 1000)::int8, reason, exception_open, set_by_org"       \
    " FROM w ORDER BY month, org_code COLLATE \"C\""

/* The (org, month) keys a transaction wrote. */
typedef struct written {
    pufa_buf orgs, months;
    size_t n;
} written;

static void written_init(written *w) {
    pufa_buf_init(&w->orgs);
    pufa_buf_init(&w->months);
    pufa_pgarr_open(&w->orgs);
    pufa_pgarr_open(&w->months);
    w->n = 0;
}

static void written_add(written *w, const char *org, const char *month) {
    pufa_pgarr_text(&w->orgs, org);
    pufa_pgarr_text(&w->months, month);
    w->n++;
}

static void written_free(written *w) {
    pufa_buf_free(&w->orgs);
    pufa_buf_free(&w->months);
}

/* Takes the next feed sequence in the transaction and encodes the
 * CommitDelta holding every periods row it wrote (w), so the publisher
 * sees the change in commit order with the reports, with no gap in the
 * sequence.  0 or a PUFA_E* code (err filled). */
static int feed_delta(PGconn *conn, written *w, approval_res *res, char *err, size_t errsize) {
    PGresult *r = PQexec(conn, SQL_FEED_NEXT);
    int rc = pufa_pg_check(conn, r, PGRES_TUPLES_OK, "feed", err, errsize);
    if (rc) {
        PQclear(r);
        return rc;
    }
    uint64_t seq = (uint64_t)atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    pufa_pgarr_close(&w->orgs);
    pufa_pgarr_close(&w->months);
    char seqtext[24];
    snprintf(seqtext, sizeof seqtext, "%llu", (unsigned long long)seq);
    const char *p[3] = {w->orgs.data, w->months.data, seqtext};
    r = PQexecParams(conn, SQL_WRITTEN, 3, NULL, p, NULL, NULL, 0);
    if ((rc = pufa_pg_check(conn, r, PGRES_TUPLES_OK, "periods written", err, errsize))) {
        PQclear(r);
        return rc;
    }
    int n = PQntuples(r);
    pufa_period *v = pufa_calloc((size_t)n + 1, sizeof *v);
    for (int k = 0; k < n; k++) {
        v[k] = (pufa_period){.org_code = PQgetvalue(r, k, 0),
                             .year = atoi(PQgetvalue(r, k, 1)),
                             .month = atoi(PQgetvalue(r, k, 2)),
                             .state = pufa_period_state_parse(PQgetvalue(r, k, 3)),
                             .set_by = PQgetvalue(r, k, 4),
                             .set_at_ms = atoll(PQgetvalue(r, k, 5)),
                             .reason = PQgetvalue(r, k, 6),
                             .exception_open = PQgetvalue(r, k, 7)[0] == 't',
                             .set_by_org = PQgetvalue(r, k, 8)};
    }
    pufa_delta d = {
        .seq = seq, .committed_at_ms = pufa_now_ms(), .periods = v, .n_periods = (size_t)n};
    free(res->delta);
    res->delta = pufa_delta_encode(&d, &res->delta_len);
    res->seq = seq;
    free(v);
    PQclear(r);
    return 0;
}

/* Fault injection for approvals_test: PUFA_FAULT=agg_kill_in_approval kills
 * the process with an approval's rows written but not committed,
 * agg_kill_after_approval with it committed but not answered. */
static void approval_fault(const char *when) {
    const char *f = getenv("PUFA_FAULT");
    if (f && !strcmp(f, when)) {
        PLOG_WARN("AGG-FAULT", "msg=\"PUFA_FAULT: killing myself\" at=%s", when);
        raise(SIGKILL);
    }
}

static int load_states(PGresult *r, unit_state *out, int max) {
    int n = PQntuples(r) < max ? PQntuples(r) : max;
    for (int i = 0; i < n; i++) {
        pufa_copy(out[i].code, sizeof out[i].code, PQgetvalue(r, i, 0));
        pufa_copy(out[i].name, sizeof out[i].name, PQgetvalue(r, i, 1));
        int st = period_state_parse(PQgetvalue(r, i, 2));
        out[i].state = st < 0 ? PERIOD_OPEN : st;
    }
    return n;
}

int periods_apply(PGconn *conn, lockmap *m, const approval_req *q, pufa_day today,
                  approval_res *res, char *err, size_t errsize) {
    int rc;
    char month[11], ms[8];
    month_date(q->month, month);
    period_month_format(q->month, ms);
    unit_state chain[10], *kids = NULL;
    int nchain = 0, nkids = 0;
    PGresult *r = NULL;
    lockmap fresh = {.deadline_days = m->deadline_days};
    json_t *changed = json_array();
    if ((rc = pufa_pg_exec(conn, "BEGIN", err, errsize)))
        goto fail;
    const char *p2[2] = {q->org, month};
    if (!(r = query(conn, SQL_CHAIN, 2, p2, "period chain", &rc, err, errsize)))
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        r = NULL;
        char msg[128];
        snprintf(msg, sizeof msg, "org: unknown org unit (got %s)", q->org);
        set_result(res, 400, error_json(msg));
        goto rollback;
    }
    bool exception_open = PQgetvalue(r, 0, 3)[0] == 't';
    nchain = load_states(r, chain, 10);
    PQclear(r);
    if (!(r = query(conn, SQL_CHILDREN, 2, p2, "period children", &rc, err, errsize)))
        goto fail;
    kids = pufa_calloc((size_t)PQntuples(r) + 1, sizeof *kids);
    nkids = load_states(r, kids, PQntuples(r));
    PQclear(r);
    r = NULL;

    char why[64];
    bool deadline_locked = m->deadline_days > 0 && !exception_open &&
                           lockmap_locked(&(lockmap){.deadline_days = m->deadline_days}, q->org,
                                          month_end(q->month), today, why, sizeof why);
    int to = PERIOD_OPEN;
    char msg[2048];
    int status = decide(q, chain, nchain, kids, nkids, deadline_locked, exception_open, &to, msg,
                        sizeof msg);
    int from = chain[0].state;
    if (status) {
        /* Refused: nothing changes but the audit row. */
        if ((rc = audit(conn, q, q->org, month, "refused", from, from, msg, err, errsize)) ||
            (rc = pufa_pg_exec(conn, "COMMIT", err, errsize)))
            goto fail;
        PLOG_INFO("AGG-APPROVAL-REFUSED", "office=%s action=%s org=%s month=%s status=%d",
                  q->office, period_action_name(q->action), q->org, ms, status);
        json_t *o = error_json(msg);
        json_object_set_new(o, "state", json_string(period_state_name(from)));
        set_result(res, status, o);
        goto done;
    }

    /* The target. */
    const char *ps[7] = {
        q->org,    month,     period_state_name(to), q->action == ACTION_UNLOCK ? "true" : "false",
        q->office, q->reason, q->office_org};
    if ((rc = exec_params(conn, SQL_SET_STATE, 7, ps, "periods", err, errsize)) ||
        (rc = audit(conn, q, q->org, month, "done", from, to, q->reason, err, errsize)))
        goto fail;
    json_t *c = json_object();
    json_object_set_new(c, "org", json_string(q->org));
    json_object_set_new(c, "from", json_string(period_state_name(from)));
    json_object_set_new(c, "to", json_string(period_state_name(to)));
    json_array_append_new(changed, c);

    if (q->action == ACTION_APPROVE || q->action == ACTION_ACCEPT) {
        /* Down: every descendant already submitted takes the new state. */
        const char *lower = q->action == ACTION_APPROVE ? "{submitted}" : "{submitted,approved}";
        const char *pc[8] = {q->org,
                             month,
                             lower,
                             period_state_name(to),
                             q->office,
                             q->office_org,
                             period_action_name(q->action),
                             q->reason};
        if (!(r = query(conn, SQL_CASCADE, 8, pc, "period cascade", &rc, err, errsize)))
            goto fail;
        for (int i = 0; i < PQntuples(r); i++) {
            c = json_object();
            json_object_set_new(c, "org", json_string(PQgetvalue(r, i, 0)));
            json_object_set_new(c, "from", json_string(PQgetvalue(r, i, 1)));
            json_object_set_new(c, "to", json_string(period_state_name(to)));
            json_array_append_new(changed, c);
        }
        PQclear(r);
        r = NULL;
    } else if (q->action == ACTION_UNLOCK) {
        /* Up: an approval above no longer covers the figures below it. */
        char upreason[2200];
        snprintf(upreason, sizeof upreason, "%s %s was reopened: %s", q->org, ms, q->reason);
        for (int i = 1; i < nchain; i++) {
            if (chain[i].state == PERIOD_OPEN)
                continue;
            const char *pu[7] = {chain[i].code, month,    "open",       "false",
                                 q->office,     upreason, q->office_org};
            if ((rc = exec_params(conn, SQL_SET_STATE, 7, pu, "periods", err, errsize)) ||
                (rc = audit(conn, q, chain[i].code, month, "done", chain[i].state, PERIOD_OPEN,
                            upreason, err, errsize)))
                goto fail;
            c = json_object();
            json_object_set_new(c, "org", json_string(chain[i].code));
            json_object_set_new(c, "from", json_string(period_state_name(chain[i].state)));
            json_object_set_new(c, "to", json_string("open"));
            json_array_append_new(changed, c);
        }
    }
    /* The feed's next number and the delta, in this transaction; then the
     * new lock map, read in it too: it is swapped in only if the COMMIT
     * succeeds, before the writer applies another report. */
    written w;
    written_init(&w);
    size_t ci;
    json_t *cj;
    json_array_foreach(changed, ci, cj)
        written_add(&w, json_string_value(json_object_get(cj, "org")), month);
    rc = feed_delta(conn, &w, res, err, errsize);
    written_free(&w);
    if (rc || (rc = lockmap_load(conn, &fresh, err, errsize)))
        goto fail;
    approval_fault("agg_kill_in_approval");
    if ((rc = pufa_pg_exec(conn, "COMMIT", err, errsize)))
        goto fail;
    approval_fault("agg_kill_after_approval");
    lockmap_free(m);
    *m = fresh;
    fresh.v = NULL;
    PLOG_INFO("AGG-APPROVAL",
              "office=%s action=%s org=%s month=%s from=%s to=%s changed=%zu seq=%llu", q->office,
              period_action_name(q->action), q->org, ms, period_state_name(from),
              period_state_name(to), json_array_size(changed), (unsigned long long)res->seq);
    json_t *o = json_object();
    json_object_set_new(o, "org", json_string(q->org));
    json_object_set_new(o, "month", json_string(ms));
    json_object_set_new(o, "action", json_string(period_action_name(q->action)));
    json_object_set_new(o, "state", json_string(period_state_name(to)));
    json_object_set_new(o, "changed", changed);
    json_object_set_new(o, "seq", json_integer((json_int_t)res->seq));
    changed = NULL;
    set_result(res, 200, o);
    goto done;

rollback:
    rc = 0;
    pufa_pg_exec(conn, "ROLLBACK", err, errsize);
    goto done;
fail:
    if (r)
        PQclear(r);
    if (PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
    free(res->delta); /* nothing committed: nothing to publish */
    res->delta = NULL;
    res->delta_len = 0;
    res->seq = 0;
done:
    lockmap_free(&fresh);
    json_decref(changed);
    free(kids);
    return rc;
}

/* ---- states received from a link (federation) ---- */

/* $1 org, $2 month, $3 state, $4 exception_open, $5 set_by, $6 set_at ms
 * (0: now), $7 reason, $8 set_by_org, $9 via, $10 src_seq.  Not applied
 * when the stored row came from a later (or the same) commit below, nor
 * when it already says the same (a resend read again in a later batch).
 * Returns whether it was written, and the state before. */
#define SQL_REMOTE                                                                                 \
    "WITH old AS (SELECT state FROM periods WHERE org_code = $1 AND month = $2::date),"            \
    " up AS (INSERT INTO periods (org_code, month, state, exception_open, set_by, set_at,"         \
    "  reason, set_by_org, via, src_seq) VALUES ($1, $2::date, $3, $4::bool, $5,"                  \
    "  CASE WHEN $6::int8 > 0 THEN to_timestamp($6::int8 / 1000.0) ELSE now() END,"                \
    "  $7, $8, $9, $10::int8)"                                                                     \
    "  ON CONFLICT (org_code, month) DO UPDATE SET state = EXCLUDED.state,"                        \
    "  exception_open = EXCLUDED.exception_open, set_by = EXCLUDED.set_by,"                        \
    "  set_at = EXCLUDED.set_at, reason = EXCLUDED.reason, set_by_org = EXCLUDED.set_by_org,"      \
    "  via = EXCLUDED.via, src_seq = EXCLUDED.src_seq"                                             \
    "  WHERE (periods.src_seq IS NULL OR periods.src_seq < EXCLUDED.src_seq)"                      \
    "  AND (periods.state, periods.exception_open, periods.set_by, periods.set_at,"                \
    "  periods.reason, periods.via) IS DISTINCT FROM (EXCLUDED.state, EXCLUDED.exception_open,"    \
    "  EXCLUDED.set_by, EXCLUDED.set_at, EXCLUDED.reason, EXCLUDED.via) RETURNING 1)"              \
    " SELECT (SELECT count(*) FROM up), coalesce((SELECT state FROM old), 'open')"

/* A unit of this level above the sender reopened by a reopening below:
 * $1 org, $2 month, $3 set_by, $4 reason, $5 set_by_org, $6 via. */
#define SQL_REMOTE_UP                                                                              \
    "INSERT INTO periods (org_code, month, state, set_by, reason, set_by_org, via)"                \
    " VALUES ($1, $2::date, 'open', $3, $4, $5, $6)"                                               \
    " ON CONFLICT (org_code, month) DO UPDATE SET state = 'open', exception_open = false,"         \
    " set_by = EXCLUDED.set_by, set_at = now(), reason = EXCLUDED.reason,"                         \
    " set_by_org = EXCLUDED.set_by_org, via = EXCLUDED.via"

#define SQL_AUDIT_REMOTE                                                                           \
    "INSERT INTO period_audit (org_code, month, action, outcome, from_state, to_state, actor,"     \
    " actor_org, reason, via) VALUES ($1, $2::date, $3, 'done', $4, $5, $6, $7, $8, $9)"

static int audit_remote(PGconn *conn, const char *org, const char *month, const char *action,
                        const char *from, const char *to, const remote_period *p,
                        const char *reason, const char *via, char *err, size_t errsize) {
    const char *a[9] = {org, month, action, from, to, p->set_by, p->set_by_org, reason, via};
    return exec_params(conn, SQL_AUDIT_REMOTE, 9, a, "period_audit", err, errsize);
}

/* The reopening of p walks up: every unit above bound (up to home) whose
 * month is not open opens, as a local unlock does. */
static int remote_walk_up(PGconn *conn, const remote_period *p, const char *month, const char *via,
                          const char *bound, const char *home, written *w, char *err,
                          size_t errsize) {
    const char *p2[2] = {bound, month};
    int rc;
    PGresult *r = query(conn, SQL_CHAIN, 2, p2, "period chain", &rc, err, errsize);
    if (!r)
        return rc;
    unit_state chain[10];
    int nchain = load_states(r, chain, 10);
    PQclear(r);
    if (!strcmp(bound, home))
        return 0;
    char ms[8], upreason[2300];
    period_month_format(p->month, ms);
    snprintf(upreason, sizeof upreason, "%s %s was reopened at %s: %s", p->org, ms, via, p->reason);
    for (int i = 1; i < nchain; i++) {
        if (chain[i].state != PERIOD_OPEN) {
            const char *pu[6] = {chain[i].code, month, p->set_by, upreason, p->set_by_org, via};
            if ((rc = exec_params(conn, SQL_REMOTE_UP, 6, pu, "periods", err, errsize)) ||
                (rc = audit_remote(conn, chain[i].code, month, "unlock",
                                   period_state_name(chain[i].state), "open", p, upreason, via, err,
                                   errsize)))
                return rc;
            written_add(w, chain[i].code, month);
            PLOG_INFO("AGG-PERIOD-REOPENED", "org=%s month=%s was=%s via=%s below=%s",
                      chain[i].code, ms, period_state_name(chain[i].state), via, p->org);
        }
        if (!strcmp(chain[i].code, home))
            break;
    }
    return 0;
}

int periods_apply_remote(PGconn *conn, lockmap *m, const char *via, const char *bound,
                         const char *home, int64_t src_seq, const remote_period *v, size_t n,
                         approval_res *res, char *err, size_t errsize) {
    lockmap fresh = {.deadline_days = m->deadline_days};
    written w;
    written_init(&w);
    char srctext[24];
    snprintf(srctext, sizeof srctext, "%lld", (long long)src_seq);
    size_t applied = 0;
    int rc = pufa_pg_exec(conn, "BEGIN", err, errsize);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const remote_period *p = &v[i];
        char month[11], at[24];
        month_date(p->month, month);
        snprintf(at, sizeof at, "%lld", (long long)p->set_at_ms);
        const char *a[10] = {p->org,
                             month,
                             period_state_name(p->state),
                             p->exception_open ? "true" : "false",
                             p->set_by,
                             at,
                             p->reason,
                             p->set_by_org,
                             via,
                             srctext};
        PGresult *r = query(conn, SQL_REMOTE, 10, a, "periods from a link", &rc, err, errsize);
        if (!r)
            break;
        bool wrote = atoi(PQgetvalue(r, 0, 0)) > 0;
        int from = period_state_parse(PQgetvalue(r, 0, 1));
        PQclear(r);
        if (!wrote)
            continue; /* a resend, or older than what is stored */
        applied++;
        written_add(&w, p->org, month);
        if ((rc = audit_remote(conn, p->org, month, "remote", period_state_name(from),
                               period_state_name(p->state), p, p->reason, via, err, errsize)))
            break;
        if (p->state == PERIOD_OPEN && from != PERIOD_OPEN)
            rc = remote_walk_up(conn, p, month, via, bound, home, &w, err, errsize);
    }
    if (rc == 0 && applied)
        rc = feed_delta(conn, &w, res, err, errsize);
    if (rc == 0 && applied)
        rc = lockmap_load(conn, &fresh, err, errsize);
    if (rc == 0)
        rc = pufa_pg_exec(conn, "COMMIT", err, errsize);
    if (rc) {
        if (PQstatus(conn) == CONNECTION_OK)
            PQclear(PQexec(conn, "ROLLBACK"));
        free(res->delta);
        res->delta = NULL;
        res->delta_len = 0;
        res->seq = 0;
    } else if (applied) {
        lockmap_free(m);
        *m = fresh;
        fresh.v = NULL;
        PLOG_INFO("AGG-PERIODS-REMOTE", "via=%s periods=%zu applied=%zu src_seq=%lld seq=%llu", via,
                  n, applied, (long long)src_seq, (unsigned long long)res->seq);
    }
    lockmap_free(&fresh);
    written_free(&w);
    return rc;
}

/* A string from the network: at most max bytes, UTF-8, no control
 * characters.  0 or -1. */
static int plain_text(const char *s, size_t max) {
    size_t len = strlen(s), chars;
    if (len > max || !pufa_utf8_valid(s, len, &chars))
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return -1;
    return 0;
}

int periods_check_remote(const struct Pufa__PeriodState *msg, const struct pufa_orgunits *ou,
                         const char *bound, const char *home, remote_period *out, char *why,
                         size_t whysize) {
    pufa_period p;
    memset(out, 0, sizeof *out);
    if (pufa_period_from_pb(msg, &p) != 0) {
        snprintf(why, whysize,
                 "periods: org_code (six digits), month (YYYY-MM, 2000 or later) and state are "
                 "required");
        return -1;
    }
    if (!pufa_orgunits_find(ou, p.org_code)) {
        snprintf(why, whysize, "periods.org_code: unknown org unit (got %s)", p.org_code);
        return -1;
    }
    if (!bound || !pufa_orgunits_within(ou, p.org_code, bound)) {
        snprintf(why, whysize,
                 "periods.org_code: %s is not under the sender's unit %s: not applied", p.org_code,
                 bound ? bound : "(none: no key)");
        return -1;
    }
    if (!pufa_orgunits_within(ou, p.org_code, home)) {
        snprintf(why, whysize, "periods.org_code: %s is not under this aggregator's home %s",
                 p.org_code, home);
        return -1;
    }
    if (plain_text(p.set_by, 64) || !*p.set_by) {
        snprintf(why, whysize, "periods.set_by: required, at most 64 bytes of text");
        return -1;
    }
    if (*p.set_by_org && !pufa_orgunit_code_valid(p.set_by_org)) {
        snprintf(why, whysize, "periods.set_by_org: must be a six-digit org-unit code");
        return -1;
    }
    if (plain_text(p.reason, 1900)) {
        snprintf(why, whysize, "periods.reason: at most 1900 bytes of text");
        return -1;
    }
    if (p.set_at_ms < 0 || p.set_at_ms > pufa_now_ms() + 10 * 60 * 1000LL) {
        snprintf(why, whysize, "periods.set_at_ms: must not be ahead of now (got %lld)",
                 (long long)p.set_at_ms);
        return -1;
    }
    pufa_copy(out->org, sizeof out->org, p.org_code);
    out->month = (int32_t)(p.year * 12 + p.month - 1);
    out->state = (int)p.state - 1; /* PUFA_PERIOD_OPEN = 1, PERIOD_OPEN = 0 */
    out->exception_open = p.exception_open;
    pufa_copy(out->set_by, sizeof out->set_by, p.set_by);
    pufa_copy(out->set_by_org, sizeof out->set_by_org, p.set_by_org);
    out->set_at_ms = p.set_at_ms;
    out->reason = pufa_strdup(p.reason);
    return 0;
}
