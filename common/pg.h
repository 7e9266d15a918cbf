/* Small libpq helpers shared by the services.  Every statement that carries
 * data is parameterised (PQexecParams); these helpers build the array
 * literals passed as parameters, never SQL text. */
#ifndef PUFA_PG_H
#define PUFA_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

/* Connects (blocking) and checks the connection; 0 or PUFA_EDBDOWN with
 * err filled (the message never repeats the conninfo: it may hold a
 * password). */
int pufa_pg_connect(const char *conninfo, PGconn **out, char *err, size_t errsize);
/* Runs a statement without parameters and checks it succeeded. */
int pufa_pg_exec(PGconn *conn, const char *sql, char *err, size_t errsize);
/* Checks a result: 0 when PQresultStatus(r) == want; PUFA_EDB for a data
 * error that one row can cause (SQLSTATE classes 22 and 23: the caller can
 * split its work to find the row); PUFA_EDBDOWN for everything else
 * (connection lost, server shutting down, serialization, ...: retry the
 * whole transaction later).  err gets "what: message".  r may be NULL. */
int pufa_pg_check(PGconn *conn, PGresult *r, ExecStatusType want, const char *what, char *err,
                  size_t errsize);
/* Runs copy_sql (a COPY ... FROM STDIN) and sends data[0..len) as its
 * whole input; what names it in errors.  0, or an error classified like
 * pufa_pg_check. */
int pufa_pg_copy_in(PGconn *conn, const char *copy_sql, const void *data, size_t len,
                    const char *what, char *err, size_t errsize);
/* Copies PQerrorMessage / PQresultErrorMessage without the trailing newline. */
void pufa_pg_errcopy(char *err, size_t errsize, const char *prefix, const char *msg);

/* Array literal building for PostgreSQL text-format array parameters:
 * begin with pufa_pgarr_open, add elements, pufa_pgarr_close. */
void pufa_pgarr_open(pufa_buf *b);
void pufa_pgarr_text(pufa_buf *b, const char *s); /* NULL -> NULL element */
void pufa_pgarr_int(pufa_buf *b, int64_t v);
void pufa_pgarr_bool(pufa_buf *b, bool v);
void pufa_pgarr_close(pufa_buf *b);

#endif
