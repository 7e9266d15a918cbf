#include "export.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "approved.h"
#include "enums.h"
#include "error.h"
#include "file.h"
#include "pg.h"
#include "report_csv.h"

/* Funds are kept in fen and exported in yuan, under a heading that says
 * so; every other figure as it is, under its heading from report.h. */
#define FUNDS_FIG PUFA_FIG(PUFA_C_FUNDS_FEN)

static const char *fig_head(int k) {
    if (k == PUFA_FIG_REPORTS)
        return "报告数";
    return k == FUNDS_FIG ? "普法经费(元)" : pufa_counter_labels[k - 1];
}

static double fig_value(int k, double v) {
    return k == FUNDS_FIG ? v / 100.0 : v;
}

static const char *const DIM_HEADS[NBY] = {"合计",     "主题",       "宣传场所", "形式", "责任单位",
                                           "宣传活动", "乡镇(街道)", "县区",     "地市", "省份"};

/* A table of strings and numbers, filled once and written as CSV or XLSX. */
typedef struct table {
    size_t ncols, nrows, cap;
    char **cells; /* row-major; NULL for a numeric cell */
    double *numbers;
    bool *is_number;
    const char **heads; /* ncols static strings, set by the caller */
} table;

static void table_init(table *t, size_t ncols) {
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->heads = pufa_calloc(ncols, sizeof *t->heads);
}

static size_t table_row(table *t) {
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = pufa_realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
        t->numbers = pufa_realloc(t->numbers, t->cap * t->ncols * sizeof *t->numbers);
        t->is_number = pufa_realloc(t->is_number, t->cap * t->ncols * sizeof *t->is_number);
    }
    size_t r = t->nrows++;
    for (size_t c = 0; c < t->ncols; c++) {
        t->cells[r * t->ncols + c] = NULL;
        t->is_number[r * t->ncols + c] = false;
    }
    return r;
}

static void set_text(table *t, size_t r, size_t c, const char *s) {
    t->cells[r * t->ncols + c] = pufa_strdup(s ? s : "");
}

static void set_num(table *t, size_t r, size_t c, double v) {
    t->numbers[r * t->ncols + c] = v;
    t->is_number[r * t->ncols + c] = true;
}

static void table_free(table *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->numbers);
    free(t->is_number);
    free(t->heads);
}

static void put_figures(table *t, size_t r, size_t c0, const int64_t fig[NFIG]) {
    for (int k = 0; k < NFIG; k++)
        set_num(t, r, c0 + (size_t)k, fig_value(k, (double)fig[k]));
}

#define STATE_HEAD "审核状态"

static void totals_table(pub_model *m, const export_request *r, pub_dim dim, table *t) {
    bool state = dim == DIM_COUNTY; /* one row per county: its months' state */
    table_init(t, 2 + NFIG + (state ? 1 : 0));
    t->heads[0] = "代码";
    t->heads[1] = DIM_HEADS[dim];
    for (int k = 0; k < NFIG; k++)
        t->heads[2 + k] = fig_head(k);
    if (state)
        t->heads[2 + NFIG] = STATE_HEAD;
    pub_row *rows;
    int64_t tot[NFIG];
    pub_model_rdlock(m);
    size_t n =
        pub_query_status(m, r->approved, r->window->from, r->window->to, dim, r->scope, &rows, tot);
    pub_rows_rank(rows, n, r->rank);
    for (size_t i = 0; i < n; i++) {
        size_t row = table_row(t);
        set_text(t, row, 0, pub_model_key(m, dim, rows[i].value));
        set_text(t, row, 1, pub_model_label(m, dim, rows[i].value));
        put_figures(t, row, 2, rows[i].fig);
        if (state) {
            char label[64];
            pub_county_state_label(m, pub_model_key(m, dim, rows[i].value), r->window->from,
                                   r->window->to, label, sizeof label);
            set_text(t, row, 2 + NFIG, label);
        }
    }
    pub_model_unlock(m);
    size_t row = table_row(t);
    set_text(t, row, 0, "");
    set_text(t, row, 1, "合计");
    put_figures(t, row, 2, tot);
    if (state)
        set_text(t, row, 2 + NFIG, "");
    free(rows);
}

/* The Chinese label of a period state word of the periods table. */
static const char *state_label(const char *word) {
    return pub_period_state_label(pufa_period_state_parse(word));
}

/* The report list: these text columns, then the counters. */
static const char *const DETAIL_TEXT_HEADS[] = {
    "报告编号", "版本",     "县区代码", "县区",     "乡镇(街道)", "责任单位代码", "责任单位",
    "活动日期", "结束日期", "主题",     "宣传场所", "形式",       "宣传活动",     "标题"};
#define NDETAIL_TEXT                             (sizeof DETAIL_TEXT_HEADS / sizeof *DETAIL_TEXT_HEADS)
#define NDETAIL                                  (NDETAIL_TEXT + PUFA_NCOUNTERS + 1)
#define DETAIL_COUNTER_COL_(up, low, label, max) ", r." #low

/* The county codes of scope s (NULL: the home's) as a PostgreSQL array
 * literal into out, from the model's org units; false when every county
 * counts (no home). */
static bool scope_counties(pub_model *m, const pub_scope *s, pufa_buf *out) {
    pub_model_rdlock(m);
    const pufa_orgunits *ou = pub_model_orgunits(m);
    pub_scope home;
    if (!s && pub_model_scope(m, pub_model_home(m), &home) == 0)
        s = &home;
    bool some = s && ou && s->level >= 0;
    if (some) {
        pufa_buf_putc(out, '{');
        const pufa_orgunit *top = s->unit >= 0 ? &ou->units[s->unit] : NULL;
        size_t n = 0;
        for (size_t i = 0; top && i < ou->count; i++)
            if (!strcmp(ou->units[i].level, "county") &&
                pufa_orgunits_within(ou, ou->units[i].code, top->code))
                pufa_buf_printf(out, "%s%s", n++ ? "," : "", ou->units[i].code);
        pufa_buf_putc(out, '}');
    }
    pub_model_unlock(m);
    return some;
}

static int detail_table(pub_model *m, const export_request *r, table *t, char *err,
                        size_t errsize) {
    table_init(t, NDETAIL);
    for (size_t c = 0; c < NDETAIL; c++)
        t->heads[c] = c < NDETAIL_TEXT  ? DETAIL_TEXT_HEADS[c]
                      : c + 1 < NDETAIL ? fig_head(PUFA_FIG((int)(c - NDETAIL_TEXT)))
                                        : STATE_HEAD;
    PGconn *c = NULL;
    int rc = pufa_pg_connect(r->db, &c, err, errsize);
    if (rc)
        return rc;
    char from[11], to[11], limit[24];
    pufa_date_format(r->window->from, from);
    pufa_date_format(r->window->to, to);
    snprintf(limit, sizeof limit, "%lld", (long long)r->limit);
    pufa_buf counties;
    pufa_buf_init(&counties);
    bool some = scope_counties(m, r->scope, &counties);
    const char *params[5] = {from, to, some ? counties.data : NULL, limit, r->approved ? "t" : "f"};
    /* Each report with the state of its county-month, read in the same
     * statement; the official export keeps the approved ones only. */
    PGresult *res = PQexecParams(
        c,
        "SELECT r.report_id::text, r.revision, r.county_code, coalesce(o.name, ''), r.township,"
        " r.unit_code, r.unit_name, r.occurred_on::text, coalesce(r.ended_on::text, ''),"
        " r.theme, r.venue, r.form, r.campaign, r.title" PUFA_COUNTER_MAP(
            DETAIL_COUNTER_COL_) ", coalesce(p.state, 'open')"
                                 " FROM reports r LEFT JOIN org_units o ON o.code = r.county_code"
                                 " LEFT JOIN periods p ON p.org_code = r.county_code"
                                 "  AND p.month = date_trunc('month', r.occurred_on)::date"
                                 " WHERE NOT r.retracted AND r.occurred_on BETWEEN $1::date AND "
                                 "$2::date"
                                 " AND ($3::text[] IS NULL OR r.county_code = ANY($3))"
                                 " AND (NOT $5::boolean OR p.state IN ('approved', 'accepted'))"
                                 " ORDER BY r.occurred_on, r.county_code, r.report_id LIMIT "
                                 "$4::int8",
        5, NULL, params, NULL, NULL, 0);
    pufa_buf_free(&counties);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pufa_pg_errcopy(err, errsize, "reports: ", PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(c);
        return PUFA_EDB;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        size_t row = table_row(t);
        for (int k = 0; k < 9; k++)
            set_text(t, row, (size_t)k, PQgetvalue(res, i, k));
        set_num(t, row, 1, atof(PQgetvalue(res, i, 1)));
        set_text(t, row, 9, pufa_enum_label(PUFA_ENUM_THEME, atoi(PQgetvalue(res, i, 9))));
        set_text(t, row, 10, pufa_enum_label(PUFA_ENUM_VENUE, atoi(PQgetvalue(res, i, 10))));
        set_text(t, row, 11, pufa_enum_label(PUFA_ENUM_FORM, atoi(PQgetvalue(res, i, 11))));
        set_text(t, row, 12, PQgetvalue(res, i, 12));
        set_text(t, row, 13, PQgetvalue(res, i, 13));
        for (int k = 0; k < PUFA_NCOUNTERS; k++)
            set_num(t, row, NDETAIL_TEXT + (size_t)k,
                    fig_value(PUFA_FIG(k), atof(PQgetvalue(res, i, (int)NDETAIL_TEXT + k))));
        set_text(t, row, NDETAIL - 1,
                 state_label(PQgetvalue(res, i, (int)NDETAIL_TEXT + PUFA_NCOUNTERS)));
    }
    PQclear(res);
    PQfinish(c);
    return 0;
}

static void csv_table(const table *t, pufa_buf *out) {
    for (size_t c = 0; c < t->ncols; c++) {
        if (c)
            pufa_buf_putc(out, ',');
        pufa_csv_write_cell(out, t->heads[c], true);
    }
    pufa_buf_puts(out, "\r\n");
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            size_t i = r * t->ncols + c;
            if (c)
                pufa_buf_putc(out, ',');
            if (t->is_number[i]) {
                double v = t->numbers[i];
                if (v == (double)(int64_t)v)
                    pufa_buf_printf(out, "%lld", (long long)v);
                else
                    pufa_buf_printf(out, "%.2f", v);
            } else {
                pufa_csv_write_cell(out, t->cells[i], true);
            }
        }
        pufa_buf_puts(out, "\r\n");
    }
}

/* A totals table read days before the model's horizon that the database
 * could not give (model.h: pub_model_incomplete): err says so. */
static bool incomplete(char *err, size_t errsize) {
    if (!pub_model_incomplete())
        return false;
    snprintf(err, errsize,
             "the database is unreachable: the days of this window before the "
             "publisher's detail_years cannot be read now");
    return true;
}

int export_csv(pub_model *m, const export_request *r, pufa_buf *out, char *err, size_t errsize) {
    table t;
    if (r->detail) {
        int rc = detail_table(m, r, &t, err, errsize);
        if (rc) {
            table_free(&t);
            return rc;
        }
    } else {
        pub_model_incomplete_reset();
        totals_table(m, r, r->dim, &t);
        if (incomplete(err, errsize)) {
            table_free(&t);
            return PUFA_EDBDOWN;
        }
    }
    pufa_buf_puts(out, "\xEF\xBB\xBF"); /* BOM: Excel then reads UTF-8 */
    csv_table(&t, out);
    table_free(&t);
    return 0;
}

static void xlsx_sheet(lxw_workbook *wb, const char *name, const char *title, const table *t) {
    lxw_worksheet *ws = workbook_add_worksheet(wb, name);
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    worksheet_write_string(ws, 0, 0, title, bold);
    for (size_t c = 0; c < t->ncols; c++) {
        worksheet_write_string(ws, 1, (lxw_col_t)c, t->heads[c], bold);
        worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, c == 13 ? 40 : 14, NULL);
    }
    worksheet_freeze_panes(ws, 2, 0);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t i = r * t->ncols + c;
            if (t->is_number[i])
                worksheet_write_number(ws, (lxw_row_t)(r + 2), (lxw_col_t)c, t->numbers[i], NULL);
            else /* a string cell, never a formula, whatever it starts with */
                worksheet_write_string(ws, (lxw_row_t)(r + 2), (lxw_col_t)c, t->cells[i], NULL);
        }
}

int export_xlsx(pub_model *m, const export_request *r, pufa_buf *out, char *err, size_t errsize) {
    /* libxlsxwriter 1.1 writes to files only: a private temp file. */
    char path[] = "/tmp/pufa-export-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errsize, "cannot create a temporary file");
        return PUFA_EIO;
    }
    close(fd);
    char title[256], a[11], b[11];
    pufa_date_format(r->window->from, a);
    pufa_date_format(r->window->to, b);
    /* The official workbook says what it holds in its title row. */
    snprintf(title, sizeof title, "%s普法工作统计 %s(%s 至 %s)%s", r->unit_name ? r->unit_name : "",
             r->window->label, a, b,
             r->approved
                 ? " 正式数据：仅含已审核(approved/accepted)的县区月份，未审核的临时数据不计入"
                 : "");
    lxw_workbook_options opts = {.constant_memory = LXW_FALSE, .tmpdir = "/tmp"};
    lxw_workbook *wb = workbook_new_opt(path, &opts);
    if (!wb) {
        unlink(path);
        snprintf(err, errsize, "cannot start the workbook");
        return PUFA_EIO;
    }
    int rc = 0;
    table t;
    if (r->detail) {
        rc = detail_table(m, r, &t, err, errsize);
        if (rc == 0)
            xlsx_sheet(wb, "明细", title, &t);
        table_free(&t);
    } else {
        pub_model_incomplete_reset();
        totals_table(m, r, r->dim, &t);
        xlsx_sheet(wb, DIM_HEADS[r->dim], title, &t);
        table_free(&t);
        if (r->dim != DIM_THEME) {
            totals_table(m, r, DIM_THEME, &t);
            xlsx_sheet(wb, DIM_HEADS[DIM_THEME], title, &t);
            table_free(&t);
        }
        if (incomplete(err, errsize))
            rc = PUFA_EDBDOWN;
    }
    if (workbook_close(wb) != LXW_NO_ERROR && rc == 0) {
        snprintf(err, errsize, "cannot write the workbook");
        rc = PUFA_EIO;
    }
    char *data;
    size_t len;
    /* Our own temporary file: no cap beyond what export_limit gives it. */
    if (rc == 0 && (rc = pufa_read_file(path, 0, &data, &len, err, errsize)) == 0) {
        pufa_buf_append(out, data, len);
        free(data);
    }
    unlink(path);
    return rc;
}
