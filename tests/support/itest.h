/* Scaffolding the integration tests (the tests/NAME_test.c) share: the database
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

/* ---- the database ($PUFA_TEST_DB, from tests/with-pg.sh) ---- */

/* Runs `PUFA_BIN migrate --db $PUFA_TEST_DB --org-units ORG_UNITS
 * [--units UNITS]` with its output to /dev/null: the exit code. */
int pufa_itest_migrate(const char *pufa_bin, const char *org_units, const char *units);
/* "$PUFA_TEST_DB user=ROLE": the connection string of a service's role.
 * The caller frees it. */
char *pufa_itest_dbinfo(const char *role);
/* Runs a statement that returns no rows (fails unless PGRES_COMMAND_OK). */
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

/* Which BatchAck results pufa_itest_send_reports takes besides COMMITTED. */
enum { PUFA_ITEST_ACK_DUPLICATE = 1, PUFA_ITEST_ACK_STALE = 2 };

/* Sends reports r[0..n) on dealer in ReportBatches of at most per_batch,
 * numbered from *batch_seq on (which it advances), and waits up to
 * ack_ms for each BatchAck.  Fails when an ack is missing (dumping agg's
 * log when agg is not NULL), has not one result per report, or a result is
 * neither COMMITTED nor one of the statuses in accept. */
void pufa_itest_send_reports(void *dealer, uint64_t *batch_seq, const pufa_report *r, size_t n,
                             size_t per_batch, unsigned accept, int ack_ms, const pufa_proc *agg);

/* ---- the publisher ---- */

/* Waits up to timeout_ms until the publisher on http port reports
 * pufa_publisher_seq equal to feed_state.seq in db (everything committed
 * so far), then asserts it. */
void pufa_itest_wait_caught_up(PGconn *db, const char *port, int timeout_ms);

/* GET http://127.0.0.1:PORT/PATH (bytes >= 0x80 and spaces of path
 * percent-encoded), the body parsed into *doc (the caller decrefs it):
 * the status.  Fails when the request fails or the body is not JSON. */
int pufa_itest_get_json(const char *port, int timeout_ms, const char *path, json_t **doc);
/* The same, failing unless the status is 200. */
json_t *pufa_itest_get_ok(const char *port, int timeout_ms, const char *path);

/* Sorts lines[0..n) and joins them into one text, each line ended by
 * "\n" ("" when n is 0).  Frees lines and its strings; the caller frees
 * the text. */
char *pufa_itest_join_sorted(char **lines, size_t n);

/* ---- files ---- */

/* `PUFA_BIN keygen --out DIR --name NAME`, then the pair's Z85 keys read
 * back from DIR/NAME.pub and DIR/NAME.key. */
void pufa_itest_keygen(const char *pufa_bin, const char *dir, const char *name, char pub[41],
                       char sec[41]);
/* Writes text to DIR/NAME (replacing it). */
void pufa_itest_write_file(const char *dir, const char *name, const char *text);

#endif
