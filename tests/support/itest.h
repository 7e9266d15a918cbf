/* Scaffolding the integration tests (tests/NAME_test.c) share: the database
 * they migrate and query, the aggregator they start and send batches to,
 * the publisher they wait for and read over HTTP, CURVE keys and config
 * files in their temporary folder.  Every helper fails the running cmocka
 * test (fail_msg) on what it cannot do, naming what it was doing, unless
 * its comment says it returns an error. */
#ifndef PUFA_ITEST_H
#define PUFA_ITEST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc.h"
#include "report.h"
#include "testlib.h"
#include "wire.h"

/* ---- the database ($PUFA_TEST_DB, from tests/with-pg.sh) ---- */

/* Runs `PUFA_BIN migrate --db DB --org-units ORG_UNITS [--units UNITS]`
 * with its output to /dev/null (db NULL: $PUFA_TEST_DB): the exit code. */
int pufa_itest_migrate(const char *pufa_bin, const char *db, const char *org_units,
                       const char *units);
/* The start of a group setup: a fresh folder /tmp/pufa-NAME-XXXXXX into
 * dir (unless dir is NULL), $PUFA_TEST_DB migrated as pufa_itest_migrate
 * does, and a connection to it (the caller PQfinishes it) into *db: 0, or
 * -1 after printing why. */
int pufa_itest_setup_db(char *dir, size_t dir_size, const char *name, const char *pufa_bin,
                        const char *org_units, const char *units, PGconn **db);
/* One more database on the server of $PUFA_TEST_DB (for one level of a
 * federation): CREATE DATABASE NAME through super (an existing one is kept),
 * its conninfo ("$PUFA_TEST_DB dbname=NAME") into conninfo, migrated with
 * org_units, and a connection to it into *db: 0, or -1 after printing why. */
int pufa_itest_level_db(PGconn *super, const char *pufa_bin, const char *name,
                        const char *org_units, char *conninfo, size_t conninfo_size, PGconn **db);
/* "$PUFA_TEST_DB user=ROLE": the connection string of a service's role.
 * The caller frees it. */
char *pufa_itest_dbinfo(const char *role);
/* Runs SQL (one statement or several), dropping the rows of a query. */
void pufa_itest_sql_exec(PGconn *c, const char *sql);
/* The first column of the first row as text, "" when it is NULL or there
 * is no row.  The caller frees it. */
char *pufa_itest_sql_str(PGconn *c, const char *sql);
/* The first column of the first row as a number, 0 when it is NULL; fails
 * when there is no row. */
long long pufa_itest_sql_ll(PGconn *c, const char *sql);
/* The same, if_none when it is NULL or there is no row. */
long long pufa_itest_sql_ll_or(PGconn *c, const char *sql, long long if_none);

/* ---- the aggregator ---- */

/* Endpoint and port buffers as the aggregator and publisher print them. */
#define PUFA_ITEST_EP_SIZE   128
#define PUFA_ITEST_PORT_SIZE 16

/* Where and how pufa_itest_agg_start starts an aggregator; a NULL field (or
 * a NULL pointer to all of them) takes the default. */
typedef struct pufa_itest_agg_opts {
    const char *db;     /* the conninfo of its database: $PUFA_TEST_DB */
    const char *listen; /* --listen: tcp://127.0.0.1:0, a free port */
    const char *http;   /* --http: 127.0.0.1:0, a free port */
    const char *env;    /* "NAME=value" for its environment (a PUFA_FAULT): none */
} pufa_itest_agg_opts;

/* Starts AGG_BIN --listen LISTEN --feed tcp://127.0.0.1:0 --http HTTP --db
 * "DB user=pufa_aggregator", then the NULL-ended extra flags (at most 40).
 * Wait for it with pufa_itest_agg_wait. */
void pufa_itest_agg_start(pufa_proc *agg, const char *bin, const char *const extra[],
                          const pufa_itest_agg_opts *opts);
/* Waits for a just started aggregator's log lines: AGG-LISTEN (20 s, its
 * endpoint into listen), AGG-FEED (5 s, into feed) when feed is not NULL,
 * AGG-HTTP (http_ms, its port into http) when http is not NULL, then
 * AGG-READY (ready_ms).  false, with the log dumped, when one is missing. */
bool pufa_itest_agg_wait(pufa_proc *agg, char listen[PUFA_ITEST_EP_SIZE],
                         char feed[PUFA_ITEST_EP_SIZE], char http[PUFA_ITEST_PORT_SIZE],
                         int http_ms, int ready_ms);

/* A DEALER socket (linger 0) connected to ep; with CURVE when pub is not
 * NULL: server_pub is the aggregator's public key, pub/sec the client's
 * (40-character Z85). */
void *pufa_itest_dealer(void *zctx, const char *ep, const char *server_pub, const char *pub,
                        const char *sec);

/* Packs r[0..n) into ReportBatch batch_seq (from collector_id, unless it is
 * NULL) and sends it on d with zmq_send's flags: 0 when it was sent whole,
 * else -1.  Waits for no ack. */
int pufa_itest_send_batch(void *d, const char *collector_id, uint64_t batch_seq,
                          const pufa_report *r, size_t n, int flags);

/* A fresh report (a new UUIDv7 id, revision 1) for county: unit SFJ, on
 * 2025-12-04, theme, venue and form 2, title 宪法宣传周, the given
 * participants.  The caller clears it (pufa_report_clear). */
pufa_report pufa_itest_report(const char *county, int64_t participants);

/* Sends r alone in ReportBatch batch_seq on d (ZMQ_DONTWAIT: dropped when
 * the socket cannot take it) and waits up to timeout_ms for the BatchAck:
 * the decoded ack (the caller frees it with pufa__batch_ack__free_unpacked),
 * or NULL when none came or it does not decode. */
Pufa__BatchAck *pufa_itest_send_one(void *d, const pufa_report *r, uint64_t batch_seq,
                                    int timeout_ms);

/* Sends frame (a whole batch, as pufa_batch_begin/pufa_batch_add make it)
 * on d, again every 3 s, until the ack of batch seq comes (with
 * skip_errors: one without a batch error): that ack (the caller destroys it
 * with pufa_ack_destroy), or NULL after timeout_ms. */
Pufa__BatchAck *pufa_itest_send_until_acked(void *d, const pufa_buf *frame, uint64_t seq,
                                            int timeout_ms, bool skip_errors);

/* Which BatchAck results pufa_itest_send_reports takes besides COMMITTED. */
enum { PUFA_ITEST_ACK_DUPLICATE = 1, PUFA_ITEST_ACK_STALE = 2 };

/* Sends reports r[0..n) on dealer in ReportBatches of at most per_batch,
 * numbered from *batch_seq on (which it advances), and waits up to
 * ack_ms for each BatchAck.  Fails when an ack is missing (dumping agg's
 * log when agg is not NULL), has not one result per report, or a result is
 * neither COMMITTED nor one of the statuses in accept. */
void pufa_itest_send_reports(void *dealer, uint64_t *batch_seq, const pufa_report *r, size_t n,
                             size_t per_batch, unsigned accept, int ack_ms, const pufa_proc *agg);

/* ---- the collector ---- */

/* Starts COL_BIN --county COUNTY --aggregator AGGREGATOR --spool SPOOL
 * --http 127.0.0.1:0 --org-units (the sample data's org_units.csv), then the
 * NULL-ended extra flags (at most 40); env as for pufa_itest_agg_start.
 * Wait for it with pufa_itest_col_wait. */
void pufa_itest_col_start(pufa_proc *col, const char *bin, const char *county,
                          const char *aggregator, const char *spool, const char *const extra[],
                          const char *env);
/* Waits for a just started collector's COL-HTTP (10 s, its port into port)
 * and COL-READY (10 s).  false, with the log dumped, when one is missing. */
bool pufa_itest_col_wait(pufa_proc *col, char port[PUFA_ITEST_PORT_SIZE]);

/* 8 random hex digits (of a fresh UUIDv7) into out: report ids that begin
 * with them are this run's. */
void pufa_itest_id_prefix(char out[9]);

/* ---- the publisher ---- */

/* Starts PUB_BIN --feed FEED --db "$PUFA_TEST_DB user=pufa_publisher" --http
 * 127.0.0.1:0, then the NULL-ended extra flags (at most 40), and waits for
 * PUB-HTTP (10 s, its port into port), PUB-PUB (10 s, its endpoint into
 * zmq_ep) when zmq_ep is not NULL, and PUB-SNAPSHOT (20 s).  false, with
 * the log dumped, when one is missing.  port NULL: none of this is waited
 * for (a publisher that must refuse to start). */
bool pufa_itest_pub_start(pufa_proc *pub, const char *bin, const char *feed,
                          const char *const extra[], char port[PUFA_ITEST_PORT_SIZE],
                          char zmq_ep[PUFA_ITEST_EP_SIZE]);

/* Waits up to timeout_ms until the publisher on http port reports
 * pufa_publisher_seq equal to feed_state.seq in db (everything committed
 * so far), then asserts it. */
void pufa_itest_wait_caught_up(PGconn *db, const char *port, int timeout_ms);

/* path with its bytes >= 0x80 and spaces percent-encoded (the caller
 * frees it). */
char *pufa_itest_url_encode(const char *path);
/* GET http://127.0.0.1:PORT/PATH (bytes >= 0x80 and spaces of path
 * percent-encoded), the body parsed into *doc (the caller decrefs it):
 * the status.  Fails when the request fails or the body is not JSON. */
int pufa_itest_get_json(const char *port, int timeout_ms, const char *path, json_t **doc);
/* The same, failing unless the status is 200. */
json_t *pufa_itest_get_ok(const char *port, int timeout_ms, const char *path);

/* The 11 figures of a dashboard row, in the order of the reports table's
 * sums: reports, sessions, ..., funds_fen. */
#define PUFA_ITEST_NFIGS 11
extern const char *const pufa_itest_figures[PUFA_ITEST_NFIGS];
/* The rows of a /v1/totals answer as sorted "key:f1,...,f11\n" lines (the
 * caller frees the text). */
char *pufa_itest_api_rows(json_t *doc);

/* Sorts lines[0..n) and joins them into one text, each line ended by
 * "\n" ("" when n is 0).  Frees lines and its strings; the caller frees
 * the text. */
char *pufa_itest_join_sorted(char **lines, size_t n);

/* ---- offices (issue 17) ---- */

/* `PUFA_BIN office add --db DB --name NAME --org ORG --role ROLE
 * --secret-file DIR/NAME.secret` (db NULL: $PUFA_TEST_DB); fails unless it
 * exits 0. */
void pufa_itest_add_office(const char *pufa_bin, const char *db, const char *dir, const char *name,
                           const char *org, const char *role);
/* The headers of an office's request: "Authorization: Basic
 * base64(OFFICE:SECRET)" and a JSON Content-Type, CRLF-ended.  SECRET is
 * secret, or when it is NULL the first line of DIR/OFFICE.secret.  The
 * caller frees it. */
char *pufa_itest_office_auth(const char *dir, const char *office, const char *secret);
/* The city's month n months before this one, "YYYY-MM", into out. */
void pufa_itest_month_back(int n, char out[8]);

/* ---- files and commands ---- */

/* Runs a shell command: all it writes to stdout (the caller frees it), its
 * exit code in *status. */
char *pufa_itest_run_out(const char *cmd, int *status);

/* `PUFA_BIN keygen --out DIR --name NAME`, then the pair's Z85 keys read
 * back from DIR/NAME.pub and DIR/NAME.key. */
void pufa_itest_keygen(const char *pufa_bin, const char *dir, const char *name, char pub[41],
                       char sec[41]);
/* Writes text to DIR/NAME (replacing it). */
void pufa_itest_write_file(const char *dir, const char *name, const char *text);

#endif
