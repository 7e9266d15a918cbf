#include "report_xlsx.h"

#include <expat.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "utf8.h"

const pufa_xlsx_limits pufa_xlsx_default_limits = {
    .max_part = 64u << 20,
    .max_total = 160u << 20,
    .max_rows = 100000,
    .max_cells = 2000000,
    .max_strings = 1000000,
    .max_cell = 32767 * 4,
    .max_text = 256u << 20,
    .max_depth = 64,
};

#define MAX_COLS 16384 /* Excel's columns: A … XFD */
#define MAX_ROW  1048576

/* A cell of the current row: bytes in row_text. */
typedef struct cell {
    size_t off, len;
} cell;

typedef enum cell_type { T_NUMBER, T_SHARED, T_INLINE, T_STR, T_BOOL, T_ERROR, T_DATE } cell_type;

typedef struct xlsx {
    const pufa_xlsx_limits *lim;
    zip_t *zip;
    size_t total; /* uncompressed bytes read, all parts */
    int rc;
    char err[512];

    /* The part being parsed. */
    XML_Parser parser;
    const char *part;
    int depth;
    void (*start)(struct xlsx *x, const char *name, const char **attrs);
    void (*end)(struct xlsx *x, const char *name);
    bool collect; /* character data goes to text */
    pufa_buf text;

    /* Relationships and the workbook. */
    const char *rel_type; /* the relationship looked for (suffix of Type) */
    const char *rel_id;   /* or its Id */
    char *rel_target;     /* what was found (owned) */
    char *sheet_rid;      /* the first sheet's r:id (owned) */
    bool date1904;

    /* Shared strings: NUL-terminated texts in one buffer. */
    pufa_buf sst;
    size_t *sst_off;
    size_t nsst, sst_cap;
    bool in_si;
    int skip_depth; /* > 0 inside <rPh> (phonetic hints, not text) */

    /* The sheet. */
    pufa_csv_reader *rd;
    bool in_data, in_row, in_cell, in_is;
    size_t rows, cells, text_total;
    size_t row_num;
    int col, ncols; /* current cell's column; columns used in the row */
    cell_type type;
    char ref[16]; /* current cell's reference, for messages */
    pufa_buf row_text;
    cell *row;
    const char **ptrs;
    size_t *lens;
} xlsx;

static const char *local(const char *name) {
    const char *bar = strrchr(name, '|');
    return bar ? bar + 1 : name;
}

__attribute__((format(printf, 3, 4))) static void fail(xlsx *x, int rc, const char *fmt, ...) {
    if (x->rc)
        return;
    x->rc = rc;
    char msg[sizeof x->err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pufa_utf8_escape(x->err, sizeof x->err, msg, strlen(msg));
    if (x->parser)
        XML_StopParser(x->parser, XML_FALSE);
}

/* ---- expat glue ---------------------------------------------------- */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs) {
    xlsx *x = ud;
    if (x->rc)
        return;
    if (++x->depth > x->lim->max_depth) {
        fail(x, PUFA_ETOOBIG, "%s: elements nested deeper than %d", x->part, x->lim->max_depth);
        return;
    }
    x->start(x, local(name), attrs);
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
    xlsx *x = ud;
    if (x->rc)
        return;
    x->end(x, local(name));
    x->depth--;
}

static void XMLCALL on_chars(void *ud, const XML_Char *s, int len) {
    xlsx *x = ud;
    if (x->rc || !x->collect || x->skip_depth)
        return;
    if (x->text.len + (size_t)len > x->lim->max_cell) {
        fail(x, PUFA_ETOOBIG, "%s: a text of more than %zu bytes%s%s", x->part, x->lim->max_cell,
             x->ref[0] ? " in cell " : "", x->ref);
        return;
    }
    pufa_buf_append(&x->text, s, (size_t)len);
}

/* Any DTD: no entity can be declared, so none can expand or be fetched. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset) {
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    xlsx *x = ud;
    fail(x, PUFA_EPARSE, "%s: a DTD (<!DOCTYPE>) is not allowed in a workbook", x->part);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation) {
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid, (void)pubid,
        (void)notation;
    xlsx *x = ud;
    fail(x, PUFA_EPARSE, "%s: entity declarations are not allowed in a workbook", x->part);
}

/* Streams one part of the zip through expat with the handlers set in x.
 * A missing part is PUFA_ENOTFOUND when optional, else an error. */
static int parse_part(xlsx *x, const char *part, bool optional) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat(x->zip, part, ZIP_FL_NOCASE, &st) != 0) {
        if (optional)
            return PUFA_ENOTFOUND;
        fail(x, PUFA_EPARSE, "%s: missing from the workbook (is this an .xlsx file?)", part);
        return x->rc;
    }
    if ((st.valid & ZIP_STAT_SIZE) && st.size > x->lim->max_part) {
        fail(x, PUFA_ETOOBIG, "%s: %llu bytes uncompressed, more than the %zu allowed for a part",
             part, (unsigned long long)st.size, x->lim->max_part);
        return x->rc;
    }
    zip_file_t *f = zip_fopen(x->zip, part, ZIP_FL_NOCASE);
    if (!f) {
        fail(x, PUFA_EPARSE, "%s: cannot be read (zip: %s)", part, zip_strerror(x->zip));
        return x->rc;
    }
    XML_Parser p = XML_ParserCreateNS(NULL, '|');
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_chars);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetEntityDeclHandler(p, on_entity_decl);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    x->parser = p;
    x->part = part;
    x->depth = 0;
    x->collect = false;
    size_t part_bytes = 0;
    char chunk[65536];
    for (;;) {
        zip_int64_t n = zip_fread(f, chunk, sizeof chunk);
        if (n < 0) {
            fail(x, PUFA_EPARSE, "%s: damaged or truncated (zip: %s)", part, zip_file_strerror(f));
            break;
        }
        part_bytes += (size_t)n;
        x->total += (size_t)n;
        if (part_bytes > x->lim->max_part) {
            fail(x, PUFA_ETOOBIG, "%s: more than %zu bytes uncompressed (a zip bomb?)", part,
                 x->lim->max_part);
            break;
        }
        if (x->total > x->lim->max_total) {
            fail(x, PUFA_ETOOBIG,
                 "%s: the workbook's parts hold more than %zu bytes uncompressed (a zip bomb?)",
                 part, x->lim->max_total);
            break;
        }
        if (XML_Parse(p, chunk, (int)n, n == 0) != XML_STATUS_OK) {
            if (!x->rc)
                fail(x, PUFA_EPARSE, "%s: not well-formed XML at line %lu column %lu (%s)", part,
                     (unsigned long)XML_GetCurrentLineNumber(p),
                     (unsigned long)XML_GetCurrentColumnNumber(p),
                     XML_ErrorString(XML_GetErrorCode(p)));
            break;
        }
        if (n == 0 || x->rc)
            break;
    }
    x->parser = NULL;
    XML_ParserFree(p);
    zip_fclose(f);
    return x->rc;
}

/* ---- relationships and the workbook -------------------------------- */

static const char *attr(const char **attrs, const char *name, bool namespaced) {
    for (int i = 0; attrs[i]; i += 2) {
        bool has_ns = strchr(attrs[i], '|') != NULL;
        if (has_ns == namespaced && !strcmp(local(attrs[i]), name))
            return attrs[i + 1];
    }
    return NULL;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static void rels_start(xlsx *x, const char *name, const char **attrs) {
    if (strcmp(name, "Relationship") || x->rel_target)
        return;
    const char *id = attr(attrs, "Id", false), *type = attr(attrs, "Type", false),
               *target = attr(attrs, "Target", false);
    if (!target)
        return;
    if ((x->rel_type && type && ends_with(type, x->rel_type)) ||
        (x->rel_id && id && !strcmp(id, x->rel_id)))
        x->rel_target = pufa_strdup(target);
}

static void no_end(xlsx *x, const char *name) {
    (void)x, (void)name;
}

/* A relationship target of the part `from`, as a name in the zip. */
static char *resolve(const char *from, const char *target) {
    pufa_buf b;
    pufa_buf_init(&b);
    if (target[0] == '/') {
        target++;
    } else {
        const char *slash = strrchr(from, '/');
        if (slash)
            pufa_buf_append(&b, from, (size_t)(slash - from) + 1);
    }
    while (!strncmp(target, "./", 2) || !strncmp(target, "../", 3)) {
        if (target[1] == '/') {
            target += 2;
            continue;
        }
        target += 3;
        /* drop the last folder of b */
        if (b.len)
            b.len--;
        while (b.len && b.data[b.len - 1] != '/')
            b.len--;
        b.data[b.len] = '\0';
    }
    pufa_buf_puts(&b, target);
    return pufa_buf_steal(&b);
}

/* Finds, in the relationships of part `from`, the target of a type (by
 * suffix) or of an id.  Returns an owned name, or NULL. */
static char *find_rel(xlsx *x, const char *from, const char *type, const char *id) {
    char *rels;
    const char *slash = strrchr(from, '/');
    if (slash)
        rels = pufa_asprintf("%.*s/_rels/%s.rels", (int)(slash - from), from, slash + 1);
    else
        rels = pufa_asprintf("_rels/%s.rels", from);
    x->start = rels_start;
    x->end = no_end;
    x->rel_type = type;
    x->rel_id = id;
    free(x->rel_target);
    x->rel_target = NULL;
    char *out = NULL;
    if (parse_part(x, from[0] ? rels : "_rels/.rels", true) == 0 && x->rel_target)
        out = resolve(from, x->rel_target);
    free(rels);
    return out;
}

static void workbook_start(xlsx *x, const char *name, const char **attrs) {
    if (!strcmp(name, "workbookPr")) {
        const char *v = attr(attrs, "date1904", false);
        x->date1904 = v && (!strcmp(v, "1") || !strcmp(v, "true"));
    } else if (!strcmp(name, "sheet") && !x->sheet_rid) {
        const char *id = attr(attrs, "id", true);
        if (id)
            x->sheet_rid = pufa_strdup(id);
    }
}

/* ---- shared strings ------------------------------------------------ */

static void sst_start(xlsx *x, const char *name, const char **attrs) {
    (void)attrs;
    if (x->skip_depth) {
        x->skip_depth++;
        return;
    }
    if (!strcmp(name, "si")) {
        x->in_si = true;
        pufa_buf_reset(&x->text);
    } else if (x->in_si && !strcmp(name, "rPh")) {
        x->skip_depth = 1;
    } else if (x->in_si && !strcmp(name, "t")) {
        x->collect = true;
    }
}

static void sst_end(xlsx *x, const char *name) {
    if (x->skip_depth) {
        x->skip_depth--;
        return;
    }
    if (!strcmp(name, "t")) {
        x->collect = false;
    } else if (!strcmp(name, "si") && x->in_si) {
        x->in_si = false;
        if (x->nsst >= x->lim->max_strings) {
            fail(x, PUFA_ETOOBIG, "%s: more than %zu shared strings", x->part, x->lim->max_strings);
            return;
        }
        if (x->nsst == x->sst_cap) {
            x->sst_cap = x->sst_cap ? x->sst_cap * 2 : 256;
            x->sst_off = pufa_realloc(x->sst_off, x->sst_cap * sizeof *x->sst_off);
        }
        x->sst_off[x->nsst++] = x->sst.len;
        pufa_buf_append(&x->sst, x->text.data ? x->text.data : "", x->text.len);
        pufa_buf_putc(&x->sst, '\0');
    }
}

/* ---- the sheet ----------------------------------------------------- */

/* "B12" -> column 1; -1 when it is not a cell reference. */
static int ref_column(const char *ref) {
    int col = 0, n = 0;
    for (; *ref >= 'A' && *ref <= 'Z' && n < 4; ref++, n++)
        col = col * 26 + (*ref - 'A' + 1);
    if (n == 0 || col > MAX_COLS || *ref < '1' || *ref > '9')
        return -1;
    return col - 1;
}

static bool parse_size(const char *s, size_t max, size_t *out) {
    if (!s || *s < '0' || *s > '9')
        return false;
    size_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > max)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static void row_begin(xlsx *x, const char **attrs) {
    if (++x->rows > x->lim->max_rows) {
        fail(x, PUFA_ETOOBIG, "%s: more than %zu rows (empty ones count too)", x->part,
             x->lim->max_rows);
        return;
    }
    const char *r = attr(attrs, "r", false);
    size_t n;
    if (r) {
        if (!parse_size(r, MAX_ROW, &n) || n == 0) {
            fail(x, PUFA_EPARSE, "%s: row number '%s' is not 1 … %d", x->part, r, MAX_ROW);
            return;
        }
        x->row_num = n;
    } else {
        x->row_num++;
    }
    x->in_row = true;
    x->ncols = 0;
    x->col = -1;
    pufa_buf_reset(&x->row_text);
}

static void cell_begin(xlsx *x, const char **attrs) {
    if (++x->cells > x->lim->max_cells) {
        fail(x, PUFA_ETOOBIG, "%s: more than %zu cells", x->part, x->lim->max_cells);
        return;
    }
    const char *r = attr(attrs, "r", false);
    int col = r ? ref_column(r) : x->col + 1;
    if (col < 0 || col >= MAX_COLS) {
        fail(x, PUFA_EPARSE, "%s: row %zu: cell reference '%s' is not a cell", x->part, x->row_num,
             r ? r : "(after XFD)");
        return;
    }
    x->col = col;
    snprintf(x->ref, sizeof x->ref, "%s", r ? r : "");
    if (!r) {
        char letters[8];
        int n = 0;
        char tmp[8];
        for (int v = col + 1; v > 0 && n < 7; v = (v - 1) / 26)
            tmp[n++] = (char)('A' + (v - 1) % 26);
        for (int i = 0; i < n; i++)
            letters[i] = tmp[n - 1 - i];
        letters[n] = '\0';
        snprintf(x->ref, sizeof x->ref, "%s%zu", letters, x->row_num);
    }
    const char *t = attr(attrs, "t", false);
    x->type = !t || !strcmp(t, "n")     ? T_NUMBER
              : !strcmp(t, "s")         ? T_SHARED
              : !strcmp(t, "inlineStr") ? T_INLINE
              : !strcmp(t, "b")         ? T_BOOL
              : !strcmp(t, "e")         ? T_ERROR
              : !strcmp(t, "d")         ? T_DATE
                                        : T_STR;
    x->in_cell = true;
    pufa_buf_reset(&x->text);
}

/* The sheet column's report field, or NULL before the header. */
static const char *field_of(xlsx *x, int col) {
    return pufa_csv_column_name(pufa_csv_reader_column(x->rd, col));
}

static bool is_date_field(const char *f) {
    return f && (!strcmp(f, "occurred_on") || !strcmp(f, "ended_on"));
}

/* Serial day numbers: 1900 system (Lotus's phantom 1900-02-29 is serial
 * 60) or 1904 system. */
static bool serial_date(double v, bool date1904, char out[PUFA_DATE_STRLEN + 1]) {
    if (!(v >= 1 && v < 2958466)) /* 9999-12-31 */
        return false;
    long s = (long)floor(v);
    pufa_day epoch;
    if (date1904)
        epoch = pufa_date_from_ymd(1904, 1, 1);
    else if (s >= 61)
        epoch = pufa_date_from_ymd(1899, 12, 30);
    else if (s == 60)
        return false;
    else
        epoch = pufa_date_from_ymd(1899, 12, 31);
    pufa_date_format(epoch + (pufa_day)s, out);
    return true;
}

/* The cell's text as the row mapping sees it, appended to row_text. */
static void cell_end(xlsx *x) {
    x->in_cell = false;
    const char *v = x->text.data ? x->text.data : "";
    size_t len = x->text.len;
    char tmp[40];
    const char *field = field_of(x, x->col);
    switch (x->type) {
    case T_SHARED: {
        size_t idx;
        if (!parse_size(v, (size_t)-1 / 2, &idx) || idx >= x->nsst) {
            fail(x, PUFA_EPARSE, "%s: cell %s: shared string '%.20s' does not exist (%zu in %s)",
                 x->part, x->ref, v, x->nsst, "the shared strings part");
            return;
        }
        v = x->sst.data + x->sst_off[idx];
        len = strlen(v);
        break;
    }
    case T_BOOL:
        if (len == 1 && (v[0] == '0' || v[0] == '1')) {
            v = v[0] == '1' ? "true" : "false";
            len = strlen(v);
        }
        break;
    case T_DATE:
        if (is_date_field(field) && len > 10 && v[10] == 'T')
            len = 10;
        break;
    case T_NUMBER: {
        if (len == 0 || len >= sizeof tmp)
            break;
        char *end;
        memcpy(tmp, v, len);
        tmp[len] = '\0';
        double d = strtod(tmp, &end);
        if (*end || !isfinite(d))
            break;
        if (is_date_field(field) && serial_date(d, x->date1904, tmp)) {
            v = tmp;
            len = strlen(tmp);
        } else if (d == floor(d) && fabs(d) < 9007199254740992.0) {
            snprintf(tmp, sizeof tmp, "%.0f", d);
            v = tmp;
            len = strlen(tmp);
        }
        break;
    }
    default:
        break;
    }
    if (len == 0)
        return;
    x->text_total += len;
    if (x->text_total > x->lim->max_text) {
        fail(x, PUFA_ETOOBIG, "%s: the cells hold more than %zu bytes of text", x->part,
             x->lim->max_text);
        return;
    }
    /* A later cell with the same reference replaces an earlier one. */
    for (int c = x->ncols; c <= x->col; c++)
        x->row[c] = (cell){0, 0};
    if (x->col >= x->ncols)
        x->ncols = x->col + 1;
    x->row[x->col] = (cell){x->row_text.len, len};
    pufa_buf_append(&x->row_text, v, len);
}

/* A row the template hands out with its id, revision and county filled in
 * and nothing else is an unused row, not a report. */
static bool unused_template_row(xlsx *x) {
    if (!pufa_csv_reader_has_header(x->rd))
        return false;
    for (int c = 0; c < x->ncols; c++) {
        if (!x->row[c].len)
            continue;
        const char *f = field_of(x, c);
        if (!f || (strcmp(f, "report_id") && strcmp(f, "revision") && strcmp(f, "county_code")))
            return false;
    }
    return true;
}

static void row_end(xlsx *x) {
    x->in_row = false;
    bool empty = true;
    for (int c = 0; c < x->ncols && empty; c++)
        empty = x->row[c].len == 0;
    if (empty || unused_template_row(x))
        return;
    for (int c = 0; c < x->ncols; c++) {
        x->ptrs[c] = x->row_text.data + x->row[c].off;
        x->lens[c] = x->row[c].len;
    }
    if (pufa_csv_reader_row(x->rd, x->row_num, x->ptrs, x->lens, x->ncols))
        fail(x, PUFA_EPARSE, "%s", pufa_csv_reader_error(x->rd));
}

static void sheet_start(xlsx *x, const char *name, const char **attrs) {
    if (x->skip_depth) {
        x->skip_depth++;
        return;
    }
    if (!strcmp(name, "sheetData")) {
        x->in_data = true;
    } else if (x->in_data && !x->in_row && !strcmp(name, "row")) {
        row_begin(x, attrs);
    } else if (x->in_row && !x->in_cell && !strcmp(name, "c")) {
        cell_begin(x, attrs);
    } else if (x->in_cell && !strcmp(name, "v")) {
        x->collect = true;
    } else if (x->in_cell && !strcmp(name, "is")) {
        x->in_is = true;
    } else if (x->in_is && !strcmp(name, "rPh")) {
        x->skip_depth = 1;
    } else if (x->in_is && !strcmp(name, "t")) {
        x->collect = true;
    }
}

static void sheet_end(xlsx *x, const char *name) {
    if (x->skip_depth) {
        x->skip_depth--;
        return;
    }
    if (!strcmp(name, "v") || !strcmp(name, "t")) {
        x->collect = false;
    } else if (!strcmp(name, "is")) {
        x->in_is = false;
    } else if (x->in_cell && !strcmp(name, "c")) {
        cell_end(x);
    } else if (x->in_row && !strcmp(name, "row")) {
        row_end(x);
    } else if (!strcmp(name, "sheetData")) {
        x->in_data = false;
    }
}

/* ---- the whole ----------------------------------------------------- */

bool pufa_xlsx_sniff(const char *buf, size_t len) {
    return len >= 4 && !memcmp(buf, "PK\x03\x04", 4);
}

static int read_workbook(xlsx *x, const char *buf, size_t len) {
    zip_error_t zerr;
    zip_error_init(&zerr);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &zerr);
    if (src)
        x->zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!x->zip) {
        fail(x, PUFA_EPARSE,
             "not an .xlsx workbook, or a truncated one: the zip archive cannot be read (%s)",
             zip_error_strerror(&zerr));
        zip_source_free(src);
        zip_error_fini(&zerr);
        return x->rc;
    }
    zip_error_fini(&zerr);

    char *workbook = find_rel(x, "", "/officeDocument", NULL);
    if (x->rc)
        goto out;
    if (!workbook)
        workbook = pufa_strdup("xl/workbook.xml");
    x->start = workbook_start;
    x->end = no_end;
    if (parse_part(x, workbook, false))
        goto out;
    if (!x->sheet_rid) {
        fail(x, PUFA_EPARSE, "%s: the workbook has no sheet", workbook);
        goto out;
    }
    char *sheet = find_rel(x, workbook, NULL, x->sheet_rid);
    if (x->rc)
        goto out_sheet;
    if (!sheet) {
        fail(x, PUFA_EPARSE, "%s: the first sheet's relationship '%s' has no target", workbook,
             x->sheet_rid);
        goto out_sheet;
    }
    char *strings = find_rel(x, workbook, "/sharedStrings", NULL);
    if (x->rc)
        goto out_strings;
    if (strings) {
        x->start = sst_start;
        x->end = sst_end;
        x->skip_depth = 0;
        if (parse_part(x, strings, true) && x->rc)
            goto out_strings;
    }
    x->start = sheet_start;
    x->end = sheet_end;
    x->skip_depth = 0;
    if (parse_part(x, sheet, false) == 0 && !pufa_csv_reader_has_header(x->rd))
        fail(x, PUFA_EPARSE, "%s: the first sheet is empty: expected a header row", sheet);
out_strings:
    free(strings);
out_sheet:
    free(sheet);
out:
    free(workbook);
    zip_discard(x->zip);
    x->zip = NULL;
    return x->rc;
}

int pufa_xlsx_each_report(const char *buf, size_t len, const pufa_xlsx_limits *lim,
                          pufa_csv_row_fn fn, void *ctx, char *err, size_t errsize) {
    xlsx x = {.lim = lim ? lim : &pufa_xlsx_default_limits};
    pufa_buf_init(&x.text);
    pufa_buf_init(&x.sst);
    pufa_buf_init(&x.row_text);
    x.row = pufa_calloc(MAX_COLS, sizeof *x.row);
    x.ptrs = pufa_calloc(MAX_COLS, sizeof *x.ptrs);
    x.lens = pufa_calloc(MAX_COLS, sizeof *x.lens);
    x.rd = pufa_csv_reader_new(fn, ctx);
    int rc = read_workbook(&x, buf, len);
    if (rc && errsize)
        snprintf(err, errsize, "%s", x.err);
    pufa_csv_reader_destroy(&x.rd);
    free(x.row);
    free(x.ptrs);
    free(x.lens);
    free(x.sst_off);
    free(x.rel_target);
    free(x.sheet_rid);
    pufa_buf_free(&x.text);
    pufa_buf_free(&x.sst);
    pufa_buf_free(&x.row_text);
    return rc;
}
