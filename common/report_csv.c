#include "report_csv.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enums.h"
#include "error.h"
#include "utf8.h"

/* Column ids: the report fields, in the order the writer uses. */
enum {
    COL_REPORT_ID,
    COL_REVISION,
    COL_RETRACTED,
    COL_COUNTY_CODE,
    COL_TOWNSHIP,
    COL_UNIT_CODE,
    COL_UNIT_NAME,
    COL_OCCURRED_ON,
    COL_ENDED_ON,
    COL_THEME,
    COL_VENUE,
    COL_FORM,
    COL_CAMPAIGN,
    COL_TITLE,
    COL_COUNTER0,
    NCOLS = COL_COUNTER0 + PUFA_NCOUNTERS
};

static const char *const fixed_cols[COL_COUNTER0] = {
    "report_id",   "revision", "retracted", "county_code", "township", "unit_code", "unit_name",
    "occurred_on", "ended_on", "theme",     "venue",       "form",     "campaign",  "title",
};

static const bool required_cols[COL_COUNTER0] = {
    [COL_REPORT_ID] = true, [COL_REVISION] = true,    [COL_COUNTY_CODE] = true,
    [COL_UNIT_CODE] = true, [COL_OCCURRED_ON] = true, [COL_THEME] = true,
    [COL_VENUE] = true,     [COL_FORM] = true,        [COL_TITLE] = true,
};

/* The Chinese column titles of the template (pufa template), accepted as
 * header cells like the field names. */
static const char *const fixed_titles[COL_COUNTER0] = {
    "报告编号", "版本",     "撤回", "县区代码", "乡镇(街道)", "责任单位代码", "责任单位",
    "活动日期", "结束日期", "主题", "宣传场所", "形式",       "宣传活动",     "标题",
};

static const char *col_name(int col) {
    return col < COL_COUNTER0 ? fixed_cols[col] : pufa_counter_names[col - COL_COUNTER0];
}

int pufa_csv_ncolumns(void) {
    return NCOLS;
}

const char *pufa_csv_column_name(int col) {
    return col >= 0 && col < NCOLS ? col_name(col) : NULL;
}

const char *pufa_csv_column_title(int col) {
    if (col < 0 || col >= NCOLS)
        return NULL;
    return col < COL_COUNTER0 ? fixed_titles[col] : pufa_counter_labels[col - COL_COUNTER0];
}

bool pufa_csv_column_required(int col) {
    return col >= 0 && col < COL_COUNTER0 && required_cols[col];
}

/* A header cell against a title: full-width parentheses count as ASCII
 * ones, and a '*' marking a required column is ignored. */
static bool title_matches(const char *cell, const char *title) {
    const char *c = cell, *t = title;
    while (*c == ' ' || *c == '*')
        c++;
    while (*t) {
        if (*t == '(' && !strncmp(c, "\xEF\xBC\x88", 3)) {
            c += 3, t++;
        } else if (*t == ')' && !strncmp(c, "\xEF\xBC\x89", 3)) {
            c += 3, t++;
        } else if (*c == *t) {
            c++, t++;
        } else {
            return false;
        }
    }
    while (*c == ' ' || *c == '*')
        c++;
    return *c == '\0';
}

#define MAX_FIELDS 64

struct pufa_csv_reader {
    struct csv_parser parser;
    pufa_csv_row_fn fn;
    void *ctx;
    bool header_done;
    bool failed;
    int ncols;              /* columns in the header */
    int col_of[MAX_FIELDS]; /* header position -> column id */
    int nfields;            /* fields in the current record */
    size_t line;            /* records seen, header included */
    size_t rows;
    pufa_report report;
    pufa_errors errs;
    pufa_buf header_cells[MAX_FIELDS];
    char error[256];
    /* Without fn: the rows decoded by the last feed, waiting for
     * pufa_csv_reader_next, and the row it handed out last. */
    struct queued_row {
        size_t line;
        pufa_report report;
        pufa_errors errs;
    } * queue;
    size_t queued, taken, cap;
    struct queued_row out;
};

static int no_space(unsigned char c) {
    (void)c;
    return 0;
}

static bool parse_int(const char *s, size_t len, int64_t *out, bool *overflow) {
    *overflow = false;
    if (len == 0)
        return false;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
        if (len == 1)
            return false;
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            *overflow = true;
            v = UINT64_MAX;
        } else if (!*overflow) {
            v = v * 10 + d;
        }
    }
    if (v > (uint64_t)INT64_MAX)
        *overflow = true;
    if (*overflow) {
        *out = neg ? INT64_MIN : INT64_MAX;
        return true;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* A cell quoted in a message: cut between characters, bytes that are not
 * UTF-8 escaped as \xNN. */
static void shown_value(char *dst, size_t size, const char *s, size_t len) {
    pufa_utf8_escape(dst, size, s, len);
}

static void take_field(pufa_csv_reader *rd, int col, const char *s, size_t len) {
    pufa_report *r = &rd->report;
    pufa_errors *errs = &rd->errs;
    char shown[48];
    switch (col) {
    case COL_REPORT_ID:
        pufa_report_set_str(&r->report_id, s, len);
        return;
    case COL_REVISION: {
        bool of;
        if (!parse_int(s, len, &r->revision, &of)) {
            shown_value(shown, sizeof shown, s, len);
            pufa_errors_add(errs, "revision", "must be an integer (got %s)", shown);
        }
        return;
    }
    case COL_RETRACTED:
        if (len == 0 || (len == 5 && memcmp(s, "false", 5) == 0) || (len == 1 && s[0] == '0'))
            r->retracted = false;
        else if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 1 && s[0] == '1'))
            r->retracted = true;
        else {
            shown_value(shown, sizeof shown, s, len);
            pufa_errors_add(errs, "retracted", "must be true, false, 1, 0 or empty (got %s)",
                            shown);
        }
        return;
    case COL_COUNTY_CODE:
        pufa_report_set_str(&r->county_code, s, len);
        return;
    case COL_TOWNSHIP:
        pufa_report_set_str(&r->township, s, len);
        return;
    case COL_UNIT_CODE:
        pufa_report_set_str(&r->unit_code, s, len);
        return;
    case COL_UNIT_NAME:
        pufa_report_set_str(&r->unit_name, s, len);
        return;
    case COL_OCCURRED_ON:
        pufa_report_set_str(&r->occurred_on, s, len);
        return;
    case COL_ENDED_ON:
        if (len)
            pufa_report_set_str(&r->ended_on, s, len);
        return;
    case COL_THEME:
    case COL_VENUE:
    case COL_FORM: {
        pufa_enum_kind kind = col == COL_THEME   ? PUFA_ENUM_THEME
                              : col == COL_VENUE ? PUFA_ENUM_VENUE
                                                 : PUFA_ENUM_FORM;
        int *field = col == COL_THEME ? &r->theme : col == COL_VENUE ? &r->venue : &r->form;
        if (len == 0)
            return; /* validation says "is required" */
        char *tmp = pufa_strndup(s, len);
        int v = strlen(tmp) == len ? pufa_enum_lookup(kind, tmp) : 0;
        free(tmp);
        if (v == 0) {
            shown_value(shown, sizeof shown, s, len);
            pufa_errors_add(errs, pufa_enum_field(kind),
                            "must be one of the %s codes or labels (got %s)", pufa_enum_field(kind),
                            shown);
            *field = -1;
        } else {
            *field = v;
        }
        return;
    }
    case COL_CAMPAIGN:
        pufa_report_set_str(&r->campaign, s, len);
        return;
    case COL_TITLE:
        pufa_report_set_str(&r->title, s, len);
        return;
    default: {
        int c = col - COL_COUNTER0;
        bool of;
        if (len == 0)
            return;
        if (!parse_int(s, len, &r->counters[c], &of)) {
            shown_value(shown, sizeof shown, s, len);
            pufa_errors_add(errs, pufa_counter_names[c], "must be an integer (got %s)", shown);
        }
        return;
    }
    }
}

static void fail(pufa_csv_reader *rd, const char *fmt, const char *arg) {
    if (rd->failed)
        return;
    rd->failed = true;
    char shown[128]; /* arg may be a header cell: escape what is not UTF-8 */
    pufa_utf8_escape(shown, sizeof shown, arg, strlen(arg));
    snprintf(rd->error, sizeof rd->error, fmt, shown);
}

/* The same about the header row: "line N: " first; string arguments are
 * already valid UTF-8. */
__attribute__((format(printf, 3, 4))) static void fail_header(pufa_csv_reader *rd, size_t line,
                                                              const char *fmt, ...) {
    if (rd->failed)
        return;
    rd->failed = true;
    int n = snprintf(rd->error, sizeof rd->error, "line %zu: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->error + n, sizeof rd->error - (size_t)n, fmt, ap);
    va_end(ap);
}

static void on_field(void *s, size_t len, void *data) {
    pufa_csv_reader *rd = data;
    const char *str = s ? s : "";
    int pos = rd->nfields++;
    if (rd->failed)
        return;
    if (!rd->header_done) {
        if (pos >= MAX_FIELDS) {
            fail_header(rd, rd->line + 1, "more than %d columns", MAX_FIELDS);
            return;
        }
        if (pos == 0 && len >= 3 && memcmp(str, "\xEF\xBB\xBF", 3) == 0) {
            str += 3;
            len -= 3;
        }
        pufa_buf_reset(&rd->header_cells[pos]);
        pufa_buf_append(&rd->header_cells[pos], str, len);
        return;
    }
    if (pos >= rd->ncols)
        return; /* counted; reported at the end of the record */
    take_field(rd, rd->col_of[pos], str, len);
}

/* "A", "B", ... "Z", "AA", ...: a 0-based column as a spreadsheet names it. */
static void column_letters(int pos, char out[8]) {
    char tmp[8];
    int n = 0;
    for (int v = pos + 1; v > 0 && n < 7; v = (v - 1) / 26)
        tmp[n++] = (char)('A' + (v - 1) % 26);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static void finish_header(pufa_csv_reader *rd) {
    bool seen[NCOLS] = {false};
    rd->ncols = rd->nfields;
    for (int i = 0; i < rd->ncols && !rd->failed; i++) {
        const char *name = rd->header_cells[i].data ? rd->header_cells[i].data : "";
        int col;
        for (col = 0; col < NCOLS; col++)
            if (strcmp(name, col_name(col)) == 0 || title_matches(name, pufa_csv_column_title(col)))
                break;
        if (col == NCOLS && !name[0]) {
            char letters[8];
            column_letters(i, letters);
            fail_header(rd, rd->line,
                        "the header's column %s is empty (each column needs a field name or "
                        "the template's title)",
                        letters);
        } else if (col == NCOLS) {
            char m[64];
            pufa_utf8_escape(m, sizeof m, name, strlen(name));
            fail_header(rd, rd->line,
                        "unknown column '%s' (the header uses the report field names or the "
                        "template's titles)",
                        m);
        } else if (seen[col]) {
            fail_header(rd, rd->line, "column '%s' appears twice", col_name(col));
        } else {
            seen[col] = true;
            rd->col_of[i] = col;
        }
    }
    for (int col = 0; col < COL_COUNTER0 && !rd->failed; col++)
        if (required_cols[col] && !seen[col])
            fail_header(rd, rd->line, "required column '%s' is missing (its title: %s)",
                        col_name(col), fixed_titles[col]);
    rd->header_done = true;
}

static void on_record(int c, void *data) {
    (void)c;
    pufa_csv_reader *rd = data;
    rd->line++;
    if (!rd->failed) {
        if (!rd->header_done) {
            finish_header(rd);
        } else {
            if (rd->nfields != rd->ncols) {
                char m[64];
                snprintf(m, sizeof m, "%d fields where the header has %d", rd->nfields, rd->ncols);
                pufa_errors_add(&rd->errs, "row", "%s", m);
            }
            rd->rows++;
            if (rd->fn) {
                rd->fn(rd->ctx, rd->line, &rd->report, &rd->errs);
            } else {
                if (rd->queued == rd->cap) {
                    rd->cap = rd->cap ? rd->cap * 2 : 8;
                    rd->queue = pufa_realloc(rd->queue, rd->cap * sizeof *rd->queue);
                }
                struct queued_row *q = &rd->queue[rd->queued++];
                q->line = rd->line;
                q->report = rd->report; /* moved: cleared below without freeing */
                q->errs = rd->errs;
                pufa_report_init(&rd->report);
            }
        }
    }
    pufa_report_clear(&rd->report);
    pufa_errors_init(&rd->errs);
    rd->nfields = 0;
}

pufa_csv_reader *pufa_csv_reader_new(pufa_csv_row_fn fn, void *ctx) {
    pufa_csv_reader *rd = pufa_calloc(1, sizeof *rd);
    csv_init(&rd->parser, CSV_STRICT | CSV_STRICT_FINI);
    csv_set_space_func(&rd->parser, no_space);
    rd->fn = fn;
    rd->ctx = ctx;
    pufa_report_init(&rd->report);
    pufa_errors_init(&rd->errs);
    pufa_report_init(&rd->out.report);
    for (int i = 0; i < MAX_FIELDS; i++)
        pufa_buf_init(&rd->header_cells[i]);
    return rd;
}

bool pufa_csv_reader_next(pufa_csv_reader *rd, size_t *line, pufa_report **r, pufa_errors **errs) {
    pufa_report_clear(&rd->out.report);
    if (rd->taken == rd->queued) {
        rd->taken = rd->queued = 0;
        return false;
    }
    rd->out = rd->queue[rd->taken++];
    *line = rd->out.line;
    *r = &rd->out.report;
    *errs = &rd->out.errs;
    return true;
}

void pufa_csv_reader_destroy(pufa_csv_reader **prd) {
    if (!prd || !*prd)
        return;
    pufa_csv_reader *rd = *prd;
    csv_free(&rd->parser);
    pufa_report_clear(&rd->report);
    pufa_report_clear(&rd->out.report);
    for (size_t i = rd->taken; i < rd->queued; i++)
        pufa_report_clear(&rd->queue[i].report);
    free(rd->queue);
    for (int i = 0; i < MAX_FIELDS; i++)
        pufa_buf_free(&rd->header_cells[i]);
    free(rd);
    *prd = NULL;
}

int pufa_csv_reader_feed(pufa_csv_reader *rd, const char *buf, size_t len) {
    if (rd->failed)
        return PUFA_EPARSE;
    if (csv_parse(&rd->parser, buf, len, on_field, on_record, rd) != len) {
        char m[64];
        snprintf(m, sizeof m, "%zu", rd->line + 1);
        fail(rd,
             "line %s: broken quoting (a quote inside an unquoted field, or text after a "
             "closing quote)",
             m);
    }
    return rd->failed ? PUFA_EPARSE : 0;
}

int pufa_csv_reader_finish(pufa_csv_reader *rd) {
    if (rd->failed)
        return PUFA_EPARSE;
    if (csv_fini(&rd->parser, on_field, on_record, rd) != 0)
        fail(rd, "%s", "the file ends inside a quoted field");
    if (!rd->failed && !rd->header_done)
        fail(rd, "%s", "empty file: expected a header row");
    return rd->failed ? PUFA_EPARSE : 0;
}

int pufa_csv_reader_row(pufa_csv_reader *rd, size_t line, const char *const *cells,
                        const size_t *lens, int ncells) {
    if (rd->failed)
        return PUFA_EPARSE;
    int beyond = -1;
    if (!rd->header_done) {
        for (int i = 0; i < ncells && !rd->failed; i++)
            on_field((void *)(cells[i] ? cells[i] : ""), cells[i] ? lens[i] : 0, rd);
    } else {
        for (int i = 0; i < rd->ncols; i++)
            on_field((void *)(i < ncells && cells[i] ? cells[i] : ""),
                     i < ncells && cells[i] ? lens[i] : 0, rd);
        for (int i = rd->ncols; i < ncells && beyond < 0; i++)
            if (cells[i] && lens[i])
                beyond = i;
    }
    rd->line = line ? line - 1 : 0;
    if (beyond >= 0) {
        char letters[8];
        column_letters(beyond, letters);
        pufa_errors_add(&rd->errs, "row", "a value in column %s, right of the header's %d columns",
                        letters, rd->ncols);
    }
    on_record(0, rd);
    return rd->failed ? PUFA_EPARSE : 0;
}

int pufa_csv_reader_column(const pufa_csv_reader *rd, int pos) {
    if (!rd->header_done || rd->failed || pos < 0 || pos >= rd->ncols)
        return -1;
    return rd->col_of[pos];
}

bool pufa_csv_reader_has_header(const pufa_csv_reader *rd) {
    return rd->header_done;
}

const char *pufa_csv_reader_error(const pufa_csv_reader *rd) {
    return rd->error;
}

size_t pufa_csv_reader_rows(const pufa_csv_reader *rd) {
    return rd->rows;
}

int pufa_csv_each_report(const char *buf, size_t len, pufa_csv_row_fn fn, void *ctx, char *msg,
                         size_t msgsize) {
    pufa_csv_reader *rd = pufa_csv_reader_new(fn, ctx);
    int rc = pufa_csv_reader_feed(rd, buf, len);
    if (rc == 0)
        rc = pufa_csv_reader_finish(rd);
    if (rc)
        snprintf(msg, msgsize, "%s", pufa_csv_reader_error(rd));
    pufa_csv_reader_destroy(&rd);
    return rc;
}

void pufa_csv_write_cell(pufa_buf *out, const char *s, bool guard_formula) {
    if (!s)
        s = "";
    bool guard = guard_formula && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                                   s[0] == '\t' || s[0] == '\r');
    /* Leading/trailing white space is quoted too: some readers trim it
     * from unquoted fields. */
    size_t n = strlen(s);
    bool edge_space = n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
    bool quote = guard || edge_space || strpbrk(s, ",\"\r\n") != NULL;
    if (!quote) {
        pufa_buf_puts(out, s);
        return;
    }
    pufa_buf_putc(out, '"');
    if (guard)
        pufa_buf_putc(out, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            pufa_buf_putc(out, '"');
        pufa_buf_putc(out, *p);
    }
    pufa_buf_putc(out, '"');
}

void pufa_csv_write_header(pufa_buf *out) {
    for (int col = 0; col < NCOLS; col++) {
        if (col)
            pufa_buf_putc(out, ',');
        pufa_buf_puts(out, col_name(col));
    }
    pufa_buf_puts(out, "\r\n");
}

void pufa_csv_write_report(pufa_buf *out, const pufa_report *r) {
    const char *theme = pufa_enum_code(PUFA_ENUM_THEME, r->theme);
    const char *venue = pufa_enum_code(PUFA_ENUM_VENUE, r->venue);
    const char *form = pufa_enum_code(PUFA_ENUM_FORM, r->form);
    pufa_csv_write_cell(out, r->report_id, false);
    pufa_buf_printf(out, ",%lld,%s,", (long long)r->revision, r->retracted ? "true" : "false");
    pufa_csv_write_cell(out, r->county_code, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, r->township, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, r->unit_code, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, r->unit_name, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, r->occurred_on, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, r->ended_on, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, theme, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, venue, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, form, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, r->campaign, false);
    pufa_buf_putc(out, ',');
    pufa_csv_write_cell(out, r->title, false);
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        pufa_buf_printf(out, ",%lld", (long long)r->counters[c]);
    pufa_buf_puts(out, "\r\n");
}
