#include "pg.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

void pufa_pg_errcopy(char *err, size_t errsize, const char *prefix, const char *msg) {
    size_t n = msg ? strlen(msg) : 0;
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(err, errsize, "%s%.*s", prefix, (int)n, msg ? msg : "");
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

int pufa_pg_connect(const char *conninfo, PGconn **out, char *err, size_t errsize) {
    PGconn *c = PQconnectdb(conninfo);
    if (!c) {
        snprintf(err, errsize, "database: out of memory");
        return PUFA_EDBDOWN;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        pufa_pg_errcopy(err, errsize, "database: ", PQerrorMessage(c));
        PQfinish(c);
        return PUFA_EDBDOWN;
    }
    PGresult *r = PQexec(c, "SET client_encoding = 'UTF8'");
    PQclear(r);
    r = PQexec(c, "SET client_min_messages = warning");
    PQclear(r);
    *out = c;
    return 0;
}

int pufa_pg_exec(PGconn *conn, const char *sql, char *err, size_t errsize) {
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pufa_pg_errcopy(err, errsize, "database: ", PQresultErrorMessage(r));
        PQclear(r);
        return PQstatus(conn) == CONNECTION_OK ? PUFA_EDB : PUFA_EDBDOWN;
    }
    PQclear(r);
    return 0;
}

int pufa_pg_check(PGconn *conn, PGresult *r, ExecStatusType want, const char *what, char *err,
                  size_t errsize) {
    if (PQresultStatus(r) == want)
        return 0;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: ", what);
    pufa_pg_errcopy(err, errsize, prefix, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(conn) != CONNECTION_OK || !state)
        return PUFA_EDBDOWN;
    if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2))
        return PUFA_EDB;
    return PUFA_EDBDOWN;
}

int pufa_pg_copy_in(PGconn *conn, const char *copy_sql, const void *data, size_t len,
                    const char *what, char *err, size_t errsize) {
    PGresult *r = PQexec(conn, copy_sql);
    int rc = pufa_pg_check(conn, r, PGRES_COPY_IN, what, err, errsize);
    PQclear(r);
    if (rc)
        return rc;
    if (len > INT_MAX || PQputCopyData(conn, data, (int)len) != 1 ||
        PQputCopyEnd(conn, NULL) != 1) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s: ", what);
        pufa_pg_errcopy(err, errsize, prefix,
                        len > INT_MAX ? "COPY data over 2 GiB" : PQerrorMessage(conn));
        return PUFA_EDBDOWN;
    }
    r = PQgetResult(conn);
    rc = pufa_pg_check(conn, r, PGRES_COMMAND_OK, what, err, errsize);
    PQclear(r);
    /* Drain, so the connection is ready for the next command. */
    while ((r = PQgetResult(conn)))
        PQclear(r);
    return rc;
}

void pufa_pgarr_open(pufa_buf *b) {
    pufa_buf_reset(b);
    pufa_buf_putc(b, '{');
}

static void sep(pufa_buf *b) {
    if (b->len > 1)
        pufa_buf_putc(b, ',');
}

void pufa_pgarr_text(pufa_buf *b, const char *s) {
    sep(b);
    if (!s) {
        pufa_buf_puts(b, "NULL");
        return;
    }
    pufa_buf_putc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            pufa_buf_putc(b, '\\');
        pufa_buf_putc(b, *p);
    }
    pufa_buf_putc(b, '"');
}

void pufa_pgarr_int(pufa_buf *b, int64_t v) {
    sep(b);
    pufa_buf_printf(b, "%lld", (long long)v);
}

void pufa_pgarr_bool(pufa_buf *b, bool v) {
    sep(b);
    pufa_buf_putc(b, v ? 't' : 'f');
}

void pufa_pgarr_close(pufa_buf *b) {
    pufa_buf_putc(b, '}');
}
