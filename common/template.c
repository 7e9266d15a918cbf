#include "template.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "enums.h"
#include "error.h"
#include "file.h"
#include "report.h"
#include "report_csv.h"
#include "uuid.h"

#define MAX_UNITS  PUFA_MAX_UNITS
#define LIST_SHEET "lists"

typedef pufa_units units;

/* ---- the responsible units (unit_code,unit_name,… with a header) ---- */

static void unit_field(void *s, size_t len, void *data) {
    units *u = data;
    int f = u->field++;
    if (u->records == 0 || f > 1) /* the header; columns after the name */
        return;
    if (u->n >= MAX_UNITS) {
        u->too_many = true;
        return;
    }
    char **slot = f == 0 ? &u->code[u->n] : &u->name[u->n];
    *slot = pufa_strndup(s ? s : "", len);
}

static void unit_record(int c, void *data) {
    (void)c;
    units *u = data;
    if (u->records++ > 0 && u->field > 0 && !u->too_many) {
        if (!u->name[u->n])
            u->name[u->n] = pufa_strdup("");
        u->n++;
    }
    u->field = 0;
}

void pufa_units_free(units *u) {
    for (int i = 0; i <= u->n && i < MAX_UNITS; i++) {
        free(u->code[i]);
        free(u->name[i]);
    }
}

int pufa_units_load(const char *path, units *u, char *err, size_t errsize) {
    memset(u, 0, sizeof *u);
    if (!path || !*path)
        return 0;
    char *buf;
    size_t len;
    if (pufa_read_file(path, 1 << 20, &buf, &len, NULL, 0)) {
        snprintf(err, errsize, "units: cannot read %s", path);
        return PUFA_EIO;
    }
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    int rc = 0;
    if (csv_parse(&p, buf, len, unit_field, unit_record, u) != len ||
        csv_fini(&p, unit_field, unit_record, u) != 0) {
        snprintf(err, errsize, "units: %s is not CSV (%s)", path, csv_strerror(csv_error(&p)));
        rc = PUFA_EPARSE;
    } else if (u->too_many) {
        snprintf(err, errsize, "units: %s has more than %d units", path, MAX_UNITS);
        rc = PUFA_EPARSE;
    }
    csv_free(&p);
    free(buf);
    return rc;
}

/* ---- the columns ----------------------------------------------------- */

/* What the office is told about each column: its rule in their words. */
static const char *column_hint(const char *f) {
    static const struct {
        const char *field, *hint;
    } hints[] = {
        {"report_id", "系统生成的报告编号，每行一个，请勿修改或复制到其他行。"},
        {"revision", "版本号，新报告填 1；更正已报送的报告时，编号不变，版本加 1。"},
        {"retracted", "撤回已报送的报告时填 true（同时版本加 1），否则留空。"},
        {"county_code", "六位县区代码（GB/T 2260），已预填本县区。"},
        {"township", "乡镇（街道、苏木）名称，可不填，不超过 100 字。"},
        {"unit_code", "责任单位代码，从下拉列表选择（见“填写说明”）。"},
        {"unit_name", "责任单位名称，可不填。"},
        {"occurred_on", "活动日期，如 2026-11-23；不早于 2000-01-01，不晚于明天。"},
        {"ended_on", "多日活动的结束日期，可不填；不早于活动日期。"},
        {"theme", "普法主题，从下拉列表选择。"},
        {"venue", "宣传场所（“六进”），从下拉列表选择。"},
        {"form", "活动形式，从下拉列表选择。"},
        {"campaign", "宣传活动，如 宪法宣传周、民法典宣传月，可不填。"},
        {"title", "活动名称，必填，不超过 200 字。"},
        {"funds_fen", "普法经费，以“分”为单位的整数（1 元 = 100 分），可不填。"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (!strcmp(hints[i].field, f))
            return hints[i].hint;
    return "非负整数，可不填（不填即 0）。";
}

static const char *const CAMPAIGNS[] = {
    "宪法宣传周", "民法典宣传月",       "国家安全教育日", "3·15消费者权益日",
    "国际禁毒日", "全民国家安全教育日", "法治宣传教育月",
};

const char *const *pufa_template_campaigns(size_t *n) {
    *n = sizeof CAMPAIGNS / sizeof CAMPAIGNS[0];
    return CAMPAIGNS;
}

/* Text, so that Excel keeps "001" and "150821" as typed. */
static bool is_text_column(const char *f) {
    static const char *const text[] = {"report_id", "county_code", "township", "unit_code",
                                       "unit_name", "theme",       "venue",    "form",
                                       "campaign",  "title"};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (!strcmp(f, text[i]))
            return true;
    return false;
}

static double column_width(const char *f) {
    if (!strcmp(f, "report_id"))
        return 38;
    if (!strcmp(f, "title"))
        return 40;
    if (!strcmp(f, "occurred_on") || !strcmp(f, "ended_on") || !strcmp(f, "campaign") ||
        !strcmp(f, "theme"))
        return 16;
    if (!strcmp(f, "township") || !strcmp(f, "unit_name") || !strcmp(f, "venue") ||
        !strcmp(f, "form"))
        return 14;
    return 12;
}

/* "$A$2:$A$17" of the lists sheet's column col holding n values. */
static char *list_ref(int col, int n) {
    char letter = (char)('A' + col);
    return pufa_asprintf("=" LIST_SHEET "!$%c$2:$%c$%d", letter, letter, n + 1);
}

/* The validation of one column over the pre-filled rows. */
static void validate_column(lxw_worksheet *ws, int col, int rows, const char *f, const units *u,
                            const char *county, char **refs) {
    lxw_data_validation dv = {0};
    const char *county_list[2] = {county, NULL};
    dv.input_title = (char *)pufa_csv_column_title(col);
    dv.input_message = (char *)column_hint(f);
    dv.error_title = "填写有误";
    dv.error_message = (char *)column_hint(f);
    if (!strcmp(f, "report_id")) {
        dv.validate = LXW_VALIDATION_TYPE_LENGTH;
        dv.criteria = LXW_VALIDATION_CRITERIA_EQUAL_TO;
        dv.value_number = 36;
    } else if (!strcmp(f, "revision")) {
        dv.validate = LXW_VALIDATION_TYPE_INTEGER;
        dv.criteria = LXW_VALIDATION_CRITERIA_BETWEEN;
        dv.minimum_number = 1;
        dv.maximum_number = 2147483647;
    } else if (!strcmp(f, "retracted")) {
        static const char *tf[] = {"true", "false", NULL};
        dv.validate = LXW_VALIDATION_TYPE_LIST;
        dv.value_list = (char **)tf;
    } else if (!strcmp(f, "county_code")) {
        if (county && *county) {
            dv.validate = LXW_VALIDATION_TYPE_LIST;
            dv.value_list = (char **)county_list;
        } else {
            dv.validate = LXW_VALIDATION_TYPE_LENGTH;
            dv.criteria = LXW_VALIDATION_CRITERIA_EQUAL_TO;
            dv.value_number = 6;
        }
    } else if (!strcmp(f, "theme") || !strcmp(f, "venue") || !strcmp(f, "form")) {
        dv.validate = LXW_VALIDATION_TYPE_LIST_FORMULA;
        dv.value_formula = refs[!strcmp(f, "theme") ? 0 : !strcmp(f, "venue") ? 1 : 2];
    } else if (!strcmp(f, "unit_code") && u->n) {
        dv.validate = LXW_VALIDATION_TYPE_LIST_FORMULA;
        dv.value_formula = refs[3];
    } else if (!strcmp(f, "unit_name") && u->n) {
        dv.validate = LXW_VALIDATION_TYPE_LIST_FORMULA;
        dv.value_formula = refs[4];
        dv.error_type = LXW_VALIDATION_ERROR_TYPE_INFORMATION; /* another name is allowed */
    } else if (!strcmp(f, "campaign")) {
        dv.validate = LXW_VALIDATION_TYPE_LIST_FORMULA;
        dv.value_formula = refs[5];
        dv.error_type = LXW_VALIDATION_ERROR_TYPE_INFORMATION;
    } else if (!strcmp(f, "occurred_on") || !strcmp(f, "ended_on")) {
        dv.validate = LXW_VALIDATION_TYPE_DATE_FORMULA;
        dv.criteria = LXW_VALIDATION_CRITERIA_BETWEEN;
        dv.minimum_formula = "=DATE(2000,1,1)";
        dv.maximum_formula = "=TODAY()+1";
    } else if (!strcmp(f, "title") || !strcmp(f, "township") || !strcmp(f, "unit_code") ||
               !strcmp(f, "unit_name")) {
        dv.validate = LXW_VALIDATION_TYPE_LENGTH;
        dv.criteria = LXW_VALIDATION_CRITERIA_BETWEEN;
        dv.minimum_number = !strcmp(f, "township") || !strcmp(f, "unit_name") ? 0 : 1;
        dv.maximum_number = !strcmp(f, "title") ? 200 : !strcmp(f, "unit_code") ? 32 : 100;
    } else { /* a counter */
        dv.validate = LXW_VALIDATION_TYPE_INTEGER;
        dv.criteria = LXW_VALIDATION_CRITERIA_BETWEEN;
        dv.minimum_number = 0;
        dv.maximum_number = !strcmp(f, "funds_fen") ? 9007199254740991.0 : 4294967295.0;
    }
    worksheet_data_validation_range(ws, 1, (lxw_col_t)col, (lxw_row_t)rows, (lxw_col_t)col, &dv);
}

/* ---- the sheets ------------------------------------------------------ */

/* The drop-downs' ranges in the lists sheet: theme, venue, form, unit
 * codes, unit names, campaigns (caller frees). */
static void list_refs(const units *u, char **refs) {
    for (int k = 0; k < 3; k++)
        refs[k] = list_ref(k, pufa_enum_max((pufa_enum_kind)k));
    refs[3] = list_ref(3, u->n);
    refs[4] = list_ref(4, u->n);
    refs[5] = list_ref(5, (int)(sizeof CAMPAIGNS / sizeof CAMPAIGNS[0]));
}

static void lists_sheet(lxw_workbook *wb, const units *u) {
    lxw_worksheet *ws = workbook_add_worksheet(wb, LIST_SHEET);
    static const char *heads[] = {"主题",         "宣传场所", "形式",
                                  "责任单位代码", "责任单位", "宣传活动"};
    for (int c = 0; c < 6; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, heads[c], NULL);
    for (int k = 0; k < 3; k++) {
        int max = pufa_enum_max((pufa_enum_kind)k);
        for (int v = 1; v <= max; v++)
            worksheet_write_string(ws, (lxw_row_t)v, (lxw_col_t)k,
                                   pufa_enum_label((pufa_enum_kind)k, v), NULL);
    }
    for (int i = 0; i < u->n; i++) {
        worksheet_write_string(ws, (lxw_row_t)(i + 1), 3, u->code[i], NULL);
        worksheet_write_string(ws, (lxw_row_t)(i + 1), 4, u->name[i], NULL);
    }
    for (size_t i = 0; i < sizeof CAMPAIGNS / sizeof CAMPAIGNS[0]; i++)
        worksheet_write_string(ws, (lxw_row_t)(i + 1), 5, CAMPAIGNS[i], NULL);
    worksheet_hide(ws);
}

static void instructions_sheet(lxw_workbook *wb, const pufa_template_opts *o, const units *u) {
    lxw_worksheet *ws = workbook_add_worksheet(wb, "填写说明");
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    lxw_format *wrap = workbook_add_format(wb);
    format_set_text_wrap(wrap);
    format_set_align(wrap, LXW_ALIGN_VERTICAL_TOP);
    worksheet_set_column(ws, 0, 0, 16, NULL);
    worksheet_set_column(ws, 1, 1, 16, NULL);
    worksheet_set_column(ws, 2, 2, 8, NULL);
    worksheet_set_column(ws, 3, 3, 70, wrap);
    int r = 0;
    char line[300];
    snprintf(line, sizeof line, "普法活动报表模板%s%s%s", o->county_name ? "（" : "",
             o->county_name ? o->county_name : "", o->county_name ? "）" : "");
    worksheet_write_string(ws, (lxw_row_t)r++, 0, line, bold);
    static const char *const steps[] = {
        "1. 在“活动填报”表中每行填写一项活动；带 * 的列必须填写，其余可不填。",
        "2. 主题、宣传场所、形式、责任单位请从下拉列表中选择；日期写成 2026-11-23；数字只填整数。",
        "3. "
        "报告编号已由系统生成，请勿修改；不用的行留着即可（只有编号、版本、县区代码的行不报送）。",
        "4. 更正已报送的活动：在原行修改数字，并把“版本”加 1 后再次报送；撤回：“撤回”填 "
        "true，版本加 1。",
        "5. 报送：把文件放进县区的报送文件夹，或在报送页面上传，或用 pufa submit "
        "命令；同一文件重复报送不会重复计数。",
        "6. 文件中有错的行会逐行指出（行号即 Excel 的行号），其余行照常接收；改正后再次报送即可。",
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        worksheet_write_string(ws, (lxw_row_t)r++, 0, steps[i], NULL);
    r++;
    worksheet_write_string(ws, (lxw_row_t)r, 0, "列", bold);
    worksheet_write_string(ws, (lxw_row_t)r, 1, "字段名", bold);
    worksheet_write_string(ws, (lxw_row_t)r, 2, "必填", bold);
    worksheet_write_string(ws, (lxw_row_t)r++, 3, "说明", bold);
    for (int c = 0; c < pufa_csv_ncolumns(); c++) {
        const char *f = pufa_csv_column_name(c);
        worksheet_write_string(ws, (lxw_row_t)r, 0, pufa_csv_column_title(c), NULL);
        worksheet_write_string(ws, (lxw_row_t)r, 1, f, NULL);
        worksheet_write_string(ws, (lxw_row_t)r, 2, pufa_csv_column_required(c) ? "是" : "", NULL);
        worksheet_write_string(ws, (lxw_row_t)r++, 3, column_hint(f), wrap);
    }
    if (u->n) {
        r++;
        worksheet_write_string(ws, (lxw_row_t)r, 0, "责任单位代码", bold);
        worksheet_write_string(ws, (lxw_row_t)r++, 1, "责任单位", bold);
        for (int i = 0; i < u->n; i++) {
            worksheet_write_string(ws, (lxw_row_t)r, 0, u->code[i], NULL);
            worksheet_write_string(ws, (lxw_row_t)r++, 1, u->name[i], NULL);
        }
    }
}

static void data_sheet(lxw_workbook *wb, const pufa_template_opts *o, const units *u, char **refs) {
    lxw_worksheet *ws = workbook_add_worksheet(wb, "活动填报");
    lxw_format *head = workbook_add_format(wb);
    format_set_bold(head);
    format_set_bg_color(head, 0xDDEBF7);
    format_set_border(head, LXW_BORDER_THIN);
    format_set_text_wrap(head);
    lxw_format *text = workbook_add_format(wb);
    format_set_num_format(text, "@");
    lxw_format *date = workbook_add_format(wb);
    format_set_num_format(date, "yyyy-mm-dd");
    lxw_format *whole = workbook_add_format(wb);
    format_set_num_format(whole, "0");
    lxw_format *fixed = workbook_add_format(wb); /* pre-filled, not to be touched */
    format_set_num_format(fixed, "@");
    format_set_font_color(fixed, 0x808080);
    for (int c = 0; c < pufa_csv_ncolumns(); c++) {
        const char *f = pufa_csv_column_name(c);
        char title[64];
        snprintf(title, sizeof title, "%s%s", pufa_csv_column_required(c) ? "*" : "",
                 pufa_csv_column_title(c));
        worksheet_write_string(ws, 0, (lxw_col_t)c, title, head);
        lxw_format *fmt = !strcmp(f, "occurred_on") || !strcmp(f, "ended_on") ? date
                          : is_text_column(f)                                 ? text
                          : !strcmp(f, "retracted")                           ? NULL
                                                                              : whole;
        worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, column_width(f), fmt);
        validate_column(ws, c, o->rows, f, u, o->county_code, refs);
    }
    worksheet_set_row(ws, 0, 32, NULL);
    for (int r = 1; r <= o->rows; r++) {
        uint8_t id[16];
        char text_id[PUFA_UUID_STRLEN + 1];
        pufa_uuid_v7(id);
        pufa_uuid_format(id, text_id);
        worksheet_write_string(ws, (lxw_row_t)r, 0, text_id, fixed);
        worksheet_write_number(ws, (lxw_row_t)r, 1, 1, whole);
        if (o->county_code && *o->county_code)
            worksheet_write_string(ws, (lxw_row_t)r, 3, o->county_code, fixed);
    }
    worksheet_freeze_panes(ws, 1, 0);
    worksheet_activate(ws);
}

int pufa_template_xlsx(const pufa_template_opts *o, pufa_buf *out, char *err, size_t errsize) {
    if (o->rows < 1 || o->rows > 5000) {
        snprintf(err, errsize, "rows: want 1 … 5000 (got %d)", o->rows);
        return PUFA_EINVAL;
    }
    /* The order of the columns is the writer's, so the pre-filled ones
     * (report_id, revision, county_code) are A, B and D. */
    if (strcmp(pufa_csv_column_name(0), "report_id") ||
        strcmp(pufa_csv_column_name(1), "revision") ||
        strcmp(pufa_csv_column_name(3), "county_code")) {
        snprintf(err, errsize, "the column order changed: update template.c");
        return PUFA_EINVAL;
    }
    units u;
    int rc = pufa_units_load(o->units_csv, &u, err, errsize);
    if (rc) {
        pufa_units_free(&u);
        return rc;
    }
    /* libxlsxwriter 1.1 writes to files only: a private temp file. */
    char path[] = "/tmp/pufa-template-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        pufa_units_free(&u);
        snprintf(err, errsize, "cannot create a temporary file");
        return PUFA_EIO;
    }
    close(fd);
    lxw_workbook_options wopts = {.constant_memory = LXW_FALSE, .tmpdir = "/tmp"};
    lxw_workbook *wb = workbook_new_opt(path, &wopts);
    if (!wb) {
        unlink(path);
        pufa_units_free(&u);
        snprintf(err, errsize, "cannot start the workbook");
        return PUFA_EIO;
    }
    char *refs[6] = {0};
    list_refs(&u, refs);
    /* Sheets in the order they are added: the data first (the reader takes
     * the first sheet). */
    data_sheet(wb, o, &u, refs);
    instructions_sheet(wb, o, &u);
    lists_sheet(wb, &u);
    lxw_doc_properties props = {.title = "普法活动报表模板", .author = "pufa"};
    workbook_set_properties(wb, &props);
    if (workbook_close(wb) != LXW_NO_ERROR) {
        snprintf(err, errsize, "cannot write the workbook");
        rc = PUFA_EIO;
    }
    char *data;
    size_t len;
    if (rc == 0 && (rc = pufa_read_file(path, 0, &data, &len, err, errsize)) == 0) {
        pufa_buf_append(out, data, len);
        free(data);
    }
    unlink(path);
    for (int i = 0; i < 6; i++)
        free(refs[i]);
    pufa_units_free(&u);
    return rc;
}
