/* Official figures: the state of each org unit x month (open -> submitted
 * -> approved -> accepted), the approval actions that move it, and the
 * in-memory map of locked county-months that the writer consults for every
 * report it applies.  Everything here runs on the writer thread (the single
 * writer), so an approval and the report transactions are ordered: a report
 * decided before the approval's COMMIT is in the frozen total, a report
 * decided after it sees the lock. */
#ifndef AGG_PERIODS_H
#define AGG_PERIODS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "date.h"

enum { PERIOD_OPEN = 0, PERIOD_SUBMITTED, PERIOD_APPROVED, PERIOD_ACCEPTED };
enum { ACTION_SUBMIT = 0, ACTION_APPROVE, ACTION_ACCEPT, ACTION_UNLOCK };
enum { ROLE_SUBMITTER = 1, ROLE_APPROVER, ROLE_ACCEPTOR };

const char *period_state_name(int state);
int period_state_parse(const char *s); /* -1 when unknown */
const char *period_action_name(int action);
const char *period_role_name(int role);
int period_role_parse(const char *s); /* -1 when unknown */

/* A month as y * 12 + (m - 1). */
int32_t period_month_of(pufa_day day);
/* "YYYY-MM" -> month; 0 or -1 (malformed, or not 2000-01 .. 9999-12). */
int period_month_parse(const char *s, int32_t *month);
void period_month_format(int32_t month, char out[8]);

/* One locked (or excepted) county-month. */
typedef struct period_lock {
    char county[7];
    int32_t month;
    int8_t state;        /* PERIOD_* */
    bool exception_open; /* reopened with a reason: no deadline lock */
    char set_by[65];
    char set_at[32]; /* as PostgreSQL prints it, city time */
    char name[64];   /* the county's name, for reasons */
} period_lock;

/* The county-months that are submitted or above, or reopened by an
 * exception; sorted by (county, month).  Owned by the store. */
typedef struct lockmap {
    period_lock *v;
    size_t n;
    int deadline_days; /* 0 = no entry deadline */
} lockmap;

void lockmap_free(lockmap *m);
/* Loads the map from the periods table (in the caller's transaction, if
 * any).  0 or a PUFA_E* code with err filled; *out untouched on error. */
int lockmap_load(PGconn *conn, lockmap *out, char *err, size_t errsize);
/* Is a report of county on day refused?  today: the city's date.  Fills
 * reason ("occurred_on: period 2026-10 of 150821 五原县 is approved, set by
 * city-150800 at ...").  Cheap: nothing when the map is empty and the
 * deadline is off, else one binary search. */
bool lockmap_locked(const lockmap *m, const char *county, pufa_day day, pufa_day today,
                    char *reason, size_t rsize);

/* The state of county's month in the map: PERIOD_OPEN when not in it. */
int lockmap_state(const lockmap *m, const char *county, int32_t month);

/* An authenticated office asking for an action. */
typedef struct approval_req {
    int action;         /* ACTION_* */
    char org[7];        /* the period's unit */
    int32_t month;      /* period_month_parse */
    char reason[2048];  /* required for unlock */
    char office[65];    /* who asks */
    char office_org[7]; /* the unit the office is bound to */
    int role;           /* ROLE_* */
} approval_req;

/* What the writer answers: an HTTP status and a JSON body (heap, the
 * caller frees). */
typedef struct approval_res {
    int http_status;
    char *json;
    /* When the action changed periods rows: the feed sequence its
     * transaction took (feed_state, as a report commit does) and the
     * encoded CommitDelta carrying every row it wrote (CommitDelta.periods,
     * heap: the writer publishes it, in commit order).  0 / NULL when
     * nothing changed (a refusal). */
    uint64_t seq;
    uint8_t *delta;
    size_t delta_len;
} approval_res;

/* Runs req in one transaction on conn: checks who may act and the state
 * machine, updates periods, appends period_audit rows, takes the next feed
 * sequence (res->seq, res->delta), reloads the lock map and commits; on
 * success *m is replaced by the new map.  today: the city's
 * date (for the deadline).  0 with res filled (a refusal is a result, also
 * audited), PUFA_EDBDOWN/PUFA_EDB when the database failed (nothing
 * changed). */
int periods_apply(PGconn *conn, lockmap *m, const approval_req *req, pufa_day today,
                  approval_res *res, char *err, size_t errsize);

/* A period's state as a lower level's aggregator sent it up
 * (ReportBatch.periods), checked by the I/O thread: org is at or under the
 * sender's bound unit and under this aggregator's home. */
typedef struct remote_period {
    char org[7];
    int32_t month;
    int state; /* PERIOD_* */
    bool exception_open;
    char set_by[65];    /* the lower level's office */
    char set_by_org[7]; /* its unit, or "" */
    int64_t set_at_ms;  /* 0: not said (now) */
    char *reason;       /* heap */
} remote_period;

struct pufa_orgunits;
struct Pufa__PeriodState;
/* Checks one PeriodState from a link whose key is bound to unit bound, at
 * an aggregator whose home is home: 0 with *out filled (out->reason heap:
 * the caller frees), or -1 with why naming the field (nothing allocated).
 * Hostile input: every string is bounded and must be UTF-8 without
 * control characters; org must be a known unit at or under bound and
 * home.  Pure: for the fuzzer. */
int periods_check_remote(const struct Pufa__PeriodState *msg, const struct pufa_orgunits *ou,
                         const char *bound, const char *home, remote_period *out, char *why,
                         size_t whysize);

/* Applies states received from a link in one transaction on conn (writer
 * thread), as the state of those units at this level: each row is written
 * (via = the sender, src_seq = the sender's commit sequence) unless the
 * stored one already came from a later commit of that sender, audited
 * (action 'remote', actor the lower office); a reopening walks up this
 * level's units above bound (up to home), as an unlock does.  The rows
 * written take the next feed sequence (res->seq, res->delta, as
 * periods_apply) and the lock map is reloaded.  res->json is not set.  0,
 * or PUFA_EDBDOWN/PUFA_EDB (nothing changed). */
int periods_apply_remote(PGconn *conn, lockmap *m, const char *via, const char *bound,
                         const char *home, int64_t src_seq, const remote_period *v, size_t n,
                         approval_res *res, char *err, size_t errsize);

#endif
