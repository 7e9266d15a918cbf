#include "cells.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "report.h"
#include "testlib.h"

/* Each dimension and its key, as the reports table spells it. */
static const char *const DIMS[][2] = {
    {"total", "''"},
    {"theme", "theme::text"},
    {"venue", "venue::text"},
    {"form", "form::text"},
    {"unit", "unit_code"},
    {"campaign", "campaign"},
    {"township", "pufa_township_norm(township)"},
};

/* Any figure not zero; the sums of the figures, from PUFA_COUNTER_MAP. */
#define NONZERO_(up, low, label, max) " OR " #low " <> 0"
#define NONZERO                       "(reports <> 0" PUFA_COUNTER_MAP(NONZERO_) ")"
#define SUM_(up, low, label, max)     ", sum(" #low ")::bigint"
#define SUMS                          "count(*)::bigint" PUFA_COUNTER_MAP(SUM_)

long long pufa_test_cells_diff(PGconn *db, const char *table, char *why, size_t size) {
    pufa_buf q;
    pufa_buf_init(&q);
    pufa_buf_printf(&q,
                    "WITH live AS (SELECT * FROM reports WHERE NOT retracted),"
                    " cells AS (SELECT day, county_code, dim, key, " PUFA_FIGURE_COLS
                    " FROM %s WHERE " NONZERO "),"
                    " want AS (",
                    table);
    for (size_t d = 0; d < sizeof DIMS / sizeof DIMS[0]; d++)
        pufa_buf_printf(&q,
                        "%sSELECT occurred_on, county_code, '%s'::text, (%s)::text, " SUMS
                        " FROM live GROUP BY 1, 2, 4",
                        d ? " UNION ALL " : "", DIMS[d][0], DIMS[d][1]);
    pufa_buf_printf(&q,
                    ") SELECT * FROM ("
                    "SELECT 'only in %s' AS side, * FROM (TABLE cells EXCEPT ALL TABLE want) AS a"
                    " UNION ALL"
                    " SELECT 'only in reports', * FROM (TABLE want EXCEPT ALL TABLE cells) AS b"
                    ") AS diff ORDER BY day, county_code, dim, key, side",
                    table);
    PGresult *r = PQexec(db, q.data);
    pufa_buf_free(&q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(why, size, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    long long n = PQntuples(r);
    pufa_buf b;
    pufa_buf_init(&b);
    for (int i = 0; i < PQntuples(r) && i < 6; i++) {
        /* side, day, county, dim, key, then the eleven figures */
        pufa_buf_printf(&b, "\n  %s: %s %s %s/%s:", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                        PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
        bool left = false;
        for (int f = 5; f < PQnfields(r); f++) {
            pufa_buf_printf(&b, "%s%s", f > 5 ? "," : "", PQgetvalue(r, i, f));
            left = left || (f > 5 && strcmp(PQgetvalue(r, i, f), "0") != 0);
        }
        if (!strcmp(PQgetvalue(r, i, 5), "0") && left)
            pufa_buf_puts(&b, "  <- no reports but figures left");
    }
    snprintf(why, size, "%lld cells differ%s", n, b.data ? b.data : "");
    pufa_buf_free(&b);
    PQclear(r);
    return n;
}

void pufa_test_assert_cells(PGconn *db, const char *table, const char *file, int line) {
    char why[2048];
    if (pufa_test_cells_diff(db, table, why, sizeof why) == 0)
        return;
    print_error("%s:%d: %s against the reports table: %s\n", file, line, table, why);
    _fail(file, line);
}
