/* Unit tests: XLSX intake (workbooks built here with libzip, part by part,
 * so every cell type and every hostile shape is exact). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "alloc.h"
#include "error.h"
#include "intake.h"
#include "report_json.h"
#include "report_xlsx.h"
#include "testlib.h"

typedef struct part {
    const char *name;
    const char *data;
    size_t len; /* 0: strlen(data) */
} part;

/* A zip of the parts, in memory (caller frees). */
static char *make_zip(const part *parts, int n, size_t *len) {
    char path[] = "/tmp/pufa-xlsx-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int zerr;
    zip_t *z = zip_open(path, ZIP_TRUNCATE, &zerr);
    assert_non_null(z);
    for (int i = 0; i < n; i++) {
        size_t l = parts[i].len ? parts[i].len : strlen(parts[i].data);
        zip_source_t *s = zip_source_buffer(z, parts[i].data, l, 0);
        assert_non_null(s);
        assert_true(zip_file_add(z, parts[i].name, s, ZIP_FL_ENC_UTF_8) >= 0);
    }
    assert_int_equal(zip_close(z), 0);
    char *buf = pufa_test_read_file(path, len);
    assert_non_null(buf);
    unlink(path);
    return buf;
}

#define NS    "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\""
#define RNS   "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""
#define REL_T "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"

static const char *ROOT_RELS =
    "<?xml version=\"1.0\"?><Relationships "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"" REL_T "officeDocument\" Target=\"xl/workbook.xml\"/>"
    "</Relationships>";
static const char *WB_RELS =
    "<?xml version=\"1.0\"?><Relationships "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId7\" Type=\"" REL_T "worksheet\" Target=\"worksheets/first.xml\"/>"
    "<Relationship Id=\"rId2\" Type=\"" REL_T "worksheet\" Target=\"worksheets/second.xml\"/>"
    "<Relationship Id=\"rId3\" Type=\"" REL_T "sharedStrings\" Target=\"sharedStrings.xml\"/>"
    "</Relationships>";

/* A workbook whose first sheet is `sheet` (a <sheetData> body or a whole
 * document when it starts with '<?'), with shared strings sst (NULL: none). */
static char *workbook(const char *sheet, const char *sst, bool date1904, size_t *len) {
    char *wb = pufa_asprintf("<?xml version=\"1.0\"?><workbook " NS " " RNS ">"
                             "<workbookPr%s/><sheets><sheet name=\"活动\" sheetId=\"1\" "
                             "r:id=\"rId7\"/><sheet name=\"说明\" sheetId=\"2\" r:id=\"rId2\"/>"
                             "</sheets></workbook>",
                             date1904 ? " date1904=\"1\"" : "");
    char *sh = !strncmp(sheet, "<?", 2)
                   ? pufa_strdup(sheet)
                   : pufa_asprintf("<?xml version=\"1.0\"?><worksheet " NS "><sheetData>%s"
                                   "</sheetData></worksheet>",
                                   sheet);
    char *ss = sst ? pufa_asprintf("<?xml version=\"1.0\"?><sst " NS ">%s</sst>", sst) : NULL;
    part parts[] = {
        {"[Content_Types].xml", "<Types/>", 0},
        {"_rels/.rels", ROOT_RELS, 0},
        {"xl/workbook.xml", wb, 0},
        {"xl/_rels/workbook.xml.rels", WB_RELS, 0},
        {"xl/worksheets/first.xml", sh, 0},
        {"xl/worksheets/second.xml", "<worksheet " NS "><sheetData/></worksheet>", 0},
        {"xl/sharedStrings.xml", ss ? ss : "", 0},
    };
    char *zip = make_zip(parts, ss ? 7 : 6, len);
    free(wb);
    free(sh);
    free(ss);
    return zip;
}

typedef struct {
    size_t ok, bad;
    json_t *reports;
    size_t lines[16];
    char msgs[8][512];
} collected;

static void collect(void *ctx, const pufa_intake_item *item) {
    collected *c = ctx;
    if (c->ok + c->bad < 16)
        c->lines[c->ok + c->bad] = item->line;
    if (item->ok) {
        c->ok++;
        json_array_append_new(c->reports, pufa_report_to_json(item->report));
    } else {
        if (c->bad < 8)
            snprintf(c->msgs[c->bad], sizeof c->msgs[0], "%s", item->message);
        c->bad++;
    }
}

static int parse(const char *buf, size_t len, collected *c, char *err, size_t errsize) {
    pufa_validate_ctx v = {.orgunits = pufa_test_orgunits(), .today = pufa_city_day(pufa_now_ms())};
    memset(c, 0, sizeof *c);
    c->reports = json_array();
    assert_int_equal(pufa_intake_guess_format("upload", buf, len), PUFA_FMT_XLSX);
    return pufa_intake_parse(PUFA_FMT_XLSX, buf, len, &v, collect, c, err, errsize);
}

static const char *HEADER = /* titles and field names mixed, any order */
    "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>0</v></c><c r=\"B2\" t=\"inlineStr\"><is><t>版本</t>"
    "</is></c><c r=\"C2\" t=\"inlineStr\"><is><t>县区代码</t></is></c>"
    "<c r=\"D2\" t=\"inlineStr\"><is><t>unit_code</t></is></c>"
    "<c r=\"E2\" t=\"inlineStr\"><is><t>*活动日期</t></is></c>"
    "<c r=\"F2\" t=\"inlineStr\"><is><t>结束日期</t></is></c>"
    "<c r=\"G2\" t=\"inlineStr\"><is><t>主题</t></is></c>"
    "<c r=\"H2\" t=\"inlineStr\"><is><t>宣传场所</t></is></c>"
    "<c r=\"I2\" t=\"inlineStr\"><is><t>form</t></is></c>"
    "<c r=\"J2\" t=\"inlineStr\"><is><t>标题</t></is></c>"
    "<c r=\"K2\" t=\"inlineStr\"><is><t>受教育人次</t></is></c>"
    "<c r=\"L2\" t=\"inlineStr\"><is><t>撤回</t></is></c>"
    "<c r=\"M2\" t=\"inlineStr\"><is><t>乡镇（街道）</t></is></c></row>";

/* Shared strings: 0 the id title, 1 a rich-text title with a phonetic
 * run, 2 a theme label. */
static const char *SST = "<si><t>报告编号</t></si>"
                         "<si><r><t>“宪法</t></r><r><rPr/><t xml:space=\"preserve\">进社区” </t>"
                         "</r><rPh><t>XIANFA</t></rPh></si>"
                         "<si><t>宪法</t></si>";

static char *data_row(int row, const char *id, const char *date_cell, const char *extra) {
    return pufa_asprintf(
        "<row r=\"%d\"><c r=\"A%d\" t=\"inlineStr\"><is><t>%s</t></is></c>"
        "<c r=\"B%d\"><v>1</v></c><c r=\"C%d\"><v>150821</v></c>"
        "<c r=\"D%d\" t=\"str\"><v>SFJ</v></c>%s"
        "<c r=\"G%d\" t=\"s\"><v>2</v></c><c r=\"H%d\" t=\"inlineStr\"><is><t>社区</t></is></c>"
        "<c r=\"I%d\" t=\"inlineStr\"><is><t>讲座</t></is></c><c r=\"J%d\" t=\"s\"><v>1</v></c>"
        "%s</row>",
        row, row, id, row, row, row, date_cell, row, row, row, row, extra);
}

/* Serial day of a date in the 1900 (or 1904) system. */
static long serial(int y, int m, int d, bool date1904) {
    return (long)(pufa_date_from_ymd(y, m, d) -
                  (date1904 ? pufa_date_from_ymd(1904, 1, 1) : pufa_date_from_ymd(1899, 12, 30)));
}

static void cell_types_row_numbers_and_skipped_rows(void **state) {
    (void)state;
    char date[160];
    snprintf(date, sizeof date,
             "<c r=\"E%%d\"><v>%ld.75</v></c><c r=\"F%%d\" t=\"d\"><v>2025-12-05T00:00:00</v></c>",
             serial(2025, 12, 4, false));
    char *d3 = pufa_asprintf(date, 3, 3), *d5 = pufa_asprintf(date, 5, 5),
         *d8 = pufa_asprintf(date, 8, 8), *d9 = pufa_asprintf(date, 9, 9);
    char *r3 = data_row(3, "3ceaaf30-8142-48ea-91d9-3080f9b439fc", d3,
                        "<c r=\"K3\"><v>1.2E+2</v></c><c r=\"L3\" t=\"b\"><v>0</v></c>");
    char *r5 = data_row(5, "2bd8a1e6-047a-4387-8dde-8d516301bbfc", d5,
                        "<c r=\"K5\"/><c r=\"M5\" t=\"inlineStr\"><is><t>隆兴昌镇</t></is></c>");
    char *r8 = data_row(8, "7d3f1c2a-4b5e-4f60-8a71-92b3c4d5e6f7", d8, "<c r=\"K8\"><v>-5</v></c>");
    char *r9 = data_row(9, "8d3f1c2a-4b5e-4f60-8a71-92b3c4d5e6f7", d9,
                        "<c r=\"K9\"><v>2.5</v></c><c r=\"Q9\" t=\"inlineStr\"><is><t>备注</t>"
                        "</is></c>");
    char *sheet = pufa_asprintf(
        "<row r=\"1\"/>%s%s"
        "<row r=\"4\"><c r=\"A4\"/><c r=\"C4\" t=\"inlineStr\"><is><t></t></is></c></row>%s"
        "<row r=\"6\"><c r=\"A6\" t=\"inlineStr\"><is><t>9d3f1c2a-4b5e-4f60-8a71-92b3c4d5e6f7</t>"
        "</is></c><c r=\"B6\"><v>1</v></c><c r=\"C6\"><v>150821</v></c></row>"
        "<row r=\"7\"></row>%s%s",
        HEADER, r3, r5, r8, r9);
    size_t len;
    char *zip = workbook(sheet, SST, false, &len);
    collected c;
    char err[512];
    int rc = parse(zip, len, &c, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(c.ok, 2);
    assert_int_equal(c.bad, 2);
    /* Excel's row numbers; rows 1, 4, 6 (an unused template row) and 7 skipped. */
    assert_int_equal(c.lines[0], 3);
    assert_int_equal(c.lines[1], 5);
    assert_int_equal(c.lines[2], 8);
    assert_int_equal(c.lines[3], 9);
    assert_string_equal(c.msgs[0], "line 8: participants: must be >= 0 (got -5)");
    assert_contains(c.msgs[1], "line 9: participants: must be an integer (got 2.5)");
    assert_contains(c.msgs[1], "row: a value in column Q, right of the header's 13 columns");
    json_t *a = json_array_get(c.reports, 0), *b = json_array_get(c.reports, 1);
    assert_string_equal(json_string_value(json_object_get(a, "occurred_on")), "2025-12-04");
    assert_string_equal(json_string_value(json_object_get(a, "ended_on")), "2025-12-05");
    assert_string_equal(json_string_value(json_object_get(a, "title")), "“宪法进社区” ");
    assert_string_equal(json_string_value(json_object_get(a, "theme")), "constitution");
    assert_string_equal(json_string_value(json_object_get(a, "county_code")), "150821");
    assert_int_equal(json_integer_value(json_object_get(a, "participants")), 120);
    assert_int_equal(json_integer_value(json_object_get(a, "revision")), 1);
    assert_false(json_is_true(json_object_get(a, "retracted")));
    assert_string_equal(json_string_value(json_object_get(b, "township")), "隆兴昌镇");
    assert_int_equal(json_integer_value(json_object_get(b, "participants")), 0);
    json_decref(c.reports);
    free(zip);
    free(sheet);
    free(r3), free(r5), free(r8), free(r9), free(d3), free(d5), free(d8), free(d9);
}

static void date1904_workbook(void **state) {
    (void)state;
    char date[64];
    snprintf(date, sizeof date, "<c r=\"E3\"><v>%ld</v></c>", serial(2025, 12, 4, true));
    char *row = data_row(3, "3ceaaf30-8142-48ea-91d9-3080f9b439fc", date, "");
    char *sheet = pufa_asprintf("%s%s", HEADER, row);
    size_t len;
    char *zip = workbook(sheet, SST, true, &len);
    collected c;
    char err[512];
    assert_int_equal(parse(zip, len, &c, err, sizeof err), 0);
    assert_int_equal(c.ok, 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(c.reports, 0), "occurred_on")),
        "2025-12-04");
    json_decref(c.reports);
    free(zip);
    free(sheet);
    free(row);
}

/* What LibreOffice Calc writes when it saves "Calc MS Excel 2007 XML".  Seen
 * in Calc 7.4's copy of the template (libreoffice_test): date1904="false"
 * spelled out, t="n" on every number, rows with every attribute, and a
 * shared string in runs wherever Latin and CJK meet, one font each (the
 * header "*报告编号" is "*" + "报告编号").  From its export code
 * (sc/source/filter/excel/xetable.cxx), not typed by the test: formula cells
 * with their cached value (a string result as t="str", or t="inlineStr" with
 * <is> in older versions), shared formulas, styled empty cells. */
static void libreoffice_shapes(void **state) {
    (void)state;
    const char *wb =
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<workbook " NS " " RNS
        "><fileVersion appName=\"Calc\"/><workbookPr backupFile=\"false\" showObjects=\"all\" "
        "date1904=\"false\"/><workbookProtection/><bookViews><workbookView showHorizontalScroll="
        "\"true\" activeTab=\"0\"/></bookViews><sheets><sheet name=\"活动填报\" sheetId=\"1\" "
        "state=\"visible\" r:id=\"rId2\"/><sheet name=\"lists\" sheetId=\"3\" state=\"hidden\" "
        "r:id=\"rId3\"/></sheets><calcPr iterateCount=\"100\" refMode=\"A1\"/></workbook>";
    const char *rels =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Relationships "
        "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Type=\"" REL_T "styles\" Target=\"styles.xml\"/>"
        "<Relationship Id=\"rId2\" Type=\"" REL_T "worksheet\" Target=\"worksheets/sheet1.xml\"/>"
        "<Relationship Id=\"rId3\" Type=\"" REL_T "worksheet\" Target=\"worksheets/sheet2.xml\"/>"
        "<Relationship Id=\"rId4\" Type=\"" REL_T "sharedStrings\" Target=\"sharedStrings.xml\"/>"
        "</Relationships>";
    const char *sst =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sst " NS " count=\"15\" uniqueCount=\"15\">"
        "<si><r><rPr><b val=\"true\"/><sz val=\"11\"/><color rgb=\"FF000000\"/><rFont "
        "val=\"Calibri\"/><family val=\"2\"/><charset val=\"1\"/></rPr><t xml:space=\"preserve\">*"
        "</t></r><r><rPr><b val=\"true\"/><sz val=\"11\"/><color rgb=\"FF000000\"/><rFont "
        "val=\"WenQuanYi Micro Hei\"/><family val=\"2\"/></rPr><t xml:space=\"preserve\">报告编号"
        "</t></r></si><si><t xml:space=\"preserve\">*版本</t></si>"
        "<si><t xml:space=\"preserve\">*县区代码</t></si><si><t>*责任单位代码</t></si>"
        "<si><t>*活动日期</t></si><si><t>*主题</t></si><si><t>*宣传场所</t></si><si><t>*形式</t></"
        "si>"
        "<si><t>*标题</t></si><si><t>受教育人次</t></si>"
        "<si><t>3ceaaf30-8142-48ea-91d9-3080f9b439fc</t></si><si><t>150821</t></si>"
        "<si><t>SFJ</t></si><si><t>宪法</t></si><si><t>讲座</t></si></sst>";
    char *sheet = pufa_asprintf(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<worksheet " NS " " RNS "><sheetPr "
        "filterMode=\"false\"><pageSetUpPr fitToPage=\"false\"/></sheetPr><dimension "
        "ref=\"A1:J201\"/><sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" "
        "topLeftCell=\"A2\" state=\"frozen\"/></sheetView></sheetViews><sheetFormatPr "
        "defaultRowHeight=\"12.8\"/><cols><col min=\"1\" max=\"1\" width=\"38\" style=\"1\" "
        "customWidth=\"1\"/></cols><sheetData>"
        "<row r=\"1\" customFormat=\"false\" ht=\"32\" hidden=\"false\" customHeight=\"true\" "
        "outlineLevel=\"0\" collapsed=\"false\">"
        "<c r=\"A1\" s=\"2\" t=\"s\"><v>0</v></c><c r=\"B1\" s=\"2\" t=\"s\"><v>1</v></c>"
        "<c r=\"C1\" s=\"2\" t=\"s\"><v>2</v></c><c r=\"D1\" s=\"2\" t=\"s\"><v>3</v></c>"
        "<c r=\"E1\" s=\"2\" t=\"s\"><v>4</v></c><c r=\"F1\" s=\"2\" t=\"s\"><v>5</v></c>"
        "<c r=\"G1\" s=\"2\" t=\"s\"><v>6</v></c><c r=\"H1\" s=\"2\" t=\"s\"><v>7</v></c>"
        "<c r=\"I1\" s=\"2\" t=\"s\"><v>8</v></c><c r=\"J1\" s=\"2\" t=\"s\"><v>9</v></c></row>"
        "<row r=\"2\" customFormat=\"false\" ht=\"12.8\" hidden=\"false\" customHeight=\"false\" "
        "outlineLevel=\"0\" collapsed=\"false\">"
        "<c r=\"A2\" s=\"3\" t=\"s\"><v>10</v></c><c r=\"B2\" s=\"4\" t=\"n\"><v>1</v></c>"
        "<c r=\"C2\" s=\"3\" t=\"s\"><v>11</v></c><c r=\"D2\" s=\"3\" t=\"s\"><v>12</v></c>"
        "<c r=\"E2\" s=\"5\" t=\"n\"><v>%ld</v></c><c r=\"F2\" s=\"3\" t=\"s\"><v>13</v></c>"
        "<c r=\"G2\" s=\"3\" t=\"str\"><f aca=\"false\">lists!B3</f><v>社区</v></c>"
        "<c r=\"H2\" s=\"3\" t=\"inlineStr\"><f aca=\"false\">lists!C2</f><is><t>讲座</t></is></c>"
        "<c r=\"I2\" s=\"3\" t=\"str\"><f "
        "aca=\"false\">\"宪法\"&amp;\"进社区\"</f><v>宪法进社区</v>"
        "</c><c r=\"J2\" s=\"4\" t=\"n\"><f t=\"shared\" ref=\"J2:J3\" si=\"0\" aca=\"false\">"
        "100+20</f><v>120</v></c></row>"
        "<row r=\"3\" customFormat=\"false\" ht=\"12.8\" hidden=\"false\" customHeight=\"false\" "
        "outlineLevel=\"0\" collapsed=\"false\">"
        "<c r=\"A3\" s=\"3\" t=\"inlineStr\"><is><t>2bd8a1e6-047a-4387-8dde-8d516301bbfc</t></is>"
        "</c><c r=\"B3\" s=\"4\" t=\"n\"><v>1</v></c><c r=\"C3\" s=\"3\" t=\"n\"><v>150821</v></c>"
        "<c r=\"D3\" s=\"3\" t=\"s\"><v>12</v></c><c r=\"E3\" s=\"5\" t=\"n\"><v>%ld.5</v></c>"
        "<c r=\"F3\" s=\"3\" t=\"s\"><v>13</v></c><c r=\"G3\" s=\"3\" t=\"str\"><f "
        "aca=\"false\">lists!B3</f><v>社区</v></c><c r=\"H3\" s=\"3\" t=\"s\"><v>14</v></c>"
        "<c r=\"I3\" s=\"3\" t=\"s\"><v>13</v></c><c r=\"J3\" s=\"4\" t=\"n\"><f t=\"shared\" "
        "si=\"0\" aca=\"false\"/><v>80</v></c></row>"
        "<row r=\"4\" customFormat=\"false\" ht=\"12.8\" hidden=\"false\" customHeight=\"false\" "
        "outlineLevel=\"0\" collapsed=\"false\"><c r=\"A4\" s=\"6\" t=\"s\"><v>10</v></c>"
        "<c r=\"B4\" s=\"4\" t=\"n\"><v>1</v></c><c r=\"C4\" s=\"6\" t=\"s\"><v>11</v></c>"
        "<c r=\"D4\" s=\"3\"/><c r=\"E4\" s=\"5\" t=\"n\"/><c r=\"F4\" s=\"3\"/></row>"
        "</sheetData><dataValidations count=\"1\"><dataValidation type=\"list\" "
        "allowBlank=\"true\" showDropDown=\"false\" sqref=\"F2:F201\"><formula1>"
        "lists!$A$2:$A$17</formula1><formula2>0</formula2></dataValidation></dataValidations>"
        "<pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\"/></worksheet>",
        serial(2025, 12, 4, false), serial(2025, 12, 5, false));
    part parts[] = {
        {"[Content_Types].xml", "<Types/>", 0},
        {"_rels/.rels", ROOT_RELS, 0},
        {"xl/workbook.xml", wb, 0},
        {"xl/_rels/workbook.xml.rels", rels, 0},
        {"xl/styles.xml", "<styleSheet " NS "/>", 0},
        {"xl/worksheets/sheet1.xml", sheet, 0},
        {"xl/worksheets/sheet2.xml", "<worksheet " NS "><sheetData/></worksheet>", 0},
        {"xl/sharedStrings.xml", sst, 0},
    };
    size_t len;
    char *zip = make_zip(parts, 8, &len);
    collected c;
    char err[512];
    int rc = parse(zip, len, &c, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    if (c.bad)
        fail_msg("%s", c.msgs[0]);
    /* Row 4, the template's ids and styled empty cells only, is not a report. */
    assert_int_equal(c.ok, 2);
    assert_int_equal(c.lines[0], 2);
    assert_int_equal(c.lines[1], 3);
    json_t *a = json_array_get(c.reports, 0), *b = json_array_get(c.reports, 1);
    assert_string_equal(json_string_value(json_object_get(a, "occurred_on")), "2025-12-04");
    assert_string_equal(json_string_value(json_object_get(b, "occurred_on")), "2025-12-05");
    assert_string_equal(json_string_value(json_object_get(a, "venue")), "community");
    assert_string_equal(json_string_value(json_object_get(a, "form")), "lecture");
    assert_string_equal(json_string_value(json_object_get(a, "title")), "宪法进社区");
    assert_string_equal(json_string_value(json_object_get(b, "title")), "宪法");
    assert_string_equal(json_string_value(json_object_get(b, "county_code")), "150821");
    assert_int_equal(json_integer_value(json_object_get(a, "participants")), 120);
    assert_int_equal(json_integer_value(json_object_get(b, "participants")), 80);
    json_decref(c.reports);
    free(zip);
    free(sheet);
}

static void ignore_row(void *ctx, size_t line, pufa_report *r, pufa_errors *errs) {
    (void)ctx, (void)line, (void)r, (void)errs;
}

/* The whole workbook refused with err containing want; nothing valid. */
static void refused(const char *buf, size_t len, const pufa_xlsx_limits *lim, int want_rc,
                    const char *want) {
    char err[512] = "";
    collected c;
    int rc;
    if (lim) {
        c = (collected){.reports = json_array()};
        rc = pufa_xlsx_each_report(buf, len, lim, ignore_row, NULL, err, sizeof err);
    } else {
        rc = parse(buf, len, &c, err, sizeof err);
    }
    if (rc != want_rc)
        fail_msg("rc %s, want %s (%s)", pufa_errname(rc), pufa_errname(want_rc), err);
    assert_contains(err, want);
    assert_int_equal(c.ok, 0);
    json_decref(c.reports);
}

static void hostile_workbooks_are_refused_naming_the_part(void **state) {
    (void)state;
    size_t len;
    /* A zip bomb: 80 MiB of white space in the sheet (about 80 KiB zipped). */
    size_t big = 80u << 20;
    char *spaces = pufa_malloc(big + 1);
    memset(spaces, ' ', big);
    spaces[big] = '\0';
    char *zip = workbook(spaces, NULL, false, &len);
    assert_true(len < big / 100);
    refused(zip, len, NULL, PUFA_ETOOBIG, "xl/worksheets/first.xml: 838862");
    refused(zip, len, NULL, PUFA_ETOOBIG,
            "bytes uncompressed, more than the 67108864 allowed for a part");
    free(zip);
    /* The running count, with smaller limits: per part and in all. */
    spaces[2u << 20] = '\0';
    zip = workbook(spaces, SST, false, &len);
    pufa_xlsx_limits lim = pufa_xlsx_default_limits;
    lim.max_part = 1u << 20;
    refused(zip, len, &lim, PUFA_ETOOBIG, "xl/worksheets/first.xml: 2097");
    lim = pufa_xlsx_default_limits;
    lim.max_total = 1u << 20;
    refused(zip, len, &lim, PUFA_ETOOBIG,
            "xl/worksheets/first.xml: the workbook's parts hold more than 1048576 bytes");
    free(zip);
    free(spaces);

    /* Entity expansion (billion laughs) and an external entity: no DTD at all. */
    const char *lol = "<?xml version=\"1.0\"?><!DOCTYPE sst [<!ENTITY lol \"lol\">"
                      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
                      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
                      "<sst " NS "><si><t>&lol3;</t></si></sst>";
    part parts[] = {{"_rels/.rels", ROOT_RELS, 0},
                    {"xl/workbook.xml",
                     "<workbook " NS " " RNS "><sheets><sheet r:id=\"rId7\"/></sheets></workbook>",
                     0},
                    {"xl/_rels/workbook.xml.rels", WB_RELS, 0},
                    {"xl/sharedStrings.xml", lol, 0},
                    {"xl/worksheets/first.xml", "<worksheet/>", 0}};
    zip = make_zip(parts, 5, &len);
    refused(zip, len, NULL, PUFA_EPARSE,
            "xl/sharedStrings.xml: a DTD (<!DOCTYPE>) is not allowed in a workbook");
    free(zip);
    char *xxe = pufa_strdup("<?xml version=\"1.0\"?><!DOCTYPE w [<!ENTITY x SYSTEM "
                            "\"file:///etc/passwd\">]><worksheet " NS
                            "><sheetData><row><c t=\"inlineStr\"><is><t>&x;</t></is></c></row>"
                            "</sheetData></worksheet>");
    zip = workbook(xxe, NULL, false, &len);
    refused(zip, len, NULL, PUFA_EPARSE, "xl/worksheets/first.xml: a DTD (<!DOCTYPE>) is not");
    free(zip);
    free(xxe);
    /* An undeclared entity is bad XML. */
    zip = workbook("<row><c t=\"inlineStr\"><is><t>&x;</t></is></c></row>", NULL, false, &len);
    refused(zip, len, NULL, PUFA_EPARSE,
            "xl/worksheets/first.xml: not well-formed XML at line 1 column");
    free(zip);

    /* A sheet of a million empty rows: refused at the row limit. */
    pufa_buf rows;
    pufa_buf_init(&rows);
    for (int i = 1; i <= 1000000; i++)
        pufa_buf_printf(&rows, "<row r=\"%d\"/>", i);
    zip = workbook(rows.data, NULL, false, &len);
    refused(zip, len, NULL, PUFA_ETOOBIG,
            "xl/worksheets/first.xml: more than 100000 rows (empty ones count too)");
    free(zip);
    pufa_buf_free(&rows);

    /* Cells and text: bounded (a shared string referenced again and again). */
    pufa_buf cells;
    pufa_buf_init(&cells);
    pufa_buf_puts(&cells, HEADER);
    for (int r = 3; r < 200; r++) {
        pufa_buf_printf(&cells, "<row r=\"%d\">", r);
        for (int k = 0; k < 13; k++)
            pufa_buf_puts(&cells, "<c t=\"s\"><v>1</v></c>");
        pufa_buf_puts(&cells, "</row>");
    }
    zip = workbook(cells.data, SST, false, &len);
    lim = pufa_xlsx_default_limits;
    lim.max_cells = 1000;
    refused(zip, len, &lim, PUFA_ETOOBIG, "xl/worksheets/first.xml: more than 1000 cells");
    lim = pufa_xlsx_default_limits;
    lim.max_text = 10000;
    refused(zip, len, &lim, PUFA_ETOOBIG,
            "xl/worksheets/first.xml: the cells hold more than 10000 bytes of text");
    lim = pufa_xlsx_default_limits;
    lim.max_strings = 2;
    refused(zip, len, &lim, PUFA_ETOOBIG, "xl/sharedStrings.xml: more than 2 shared strings");
    lim = pufa_xlsx_default_limits;
    lim.max_cell = 8;
    refused(zip, len, &lim, PUFA_ETOOBIG, "xl/sharedStrings.xml: a text of more than 8 bytes");
    free(zip);
    pufa_buf_free(&cells);

    /* Nesting. */
    pufa_buf deep;
    pufa_buf_init(&deep);
    for (int i = 0; i < 100; i++)
        pufa_buf_puts(&deep, "<x>");
    for (int i = 0; i < 100; i++)
        pufa_buf_puts(&deep, "</x>");
    zip = workbook(deep.data, NULL, false, &len);
    refused(zip, len, NULL, PUFA_ETOOBIG,
            "xl/worksheets/first.xml: elements nested deeper than 64");
    pufa_buf_free(&deep);

    /* Truncated: the zip's directory is at its end. */
    refused(zip, len / 2, NULL, PUFA_EPARSE,
            "not an .xlsx workbook, or a truncated one: the zip archive cannot be read");
    free(zip);

    /* A shared string that does not exist. */
    char *row = data_row(3, "3ceaaf30-8142-48ea-91d9-3080f9b439fc", "", "");
    char *bad = pufa_asprintf("%s%s", HEADER, row);
    char *p = strstr(bad, "t=\"s\"><v>2</v>");
    p = strstr(p + 1, "t=\"s\"><v>1</v>");
    memcpy(p, "t=\"s\"><v>9", 10);
    zip = workbook(bad, SST, false, &len);
    refused(zip, len, NULL, PUFA_EPARSE,
            "xl/worksheets/first.xml: cell J3: shared string '9' does not exist (3 in the "
            "shared strings part)");
    free(zip);
    free(bad);
    free(row);

    /* Not a workbook; a workbook with no rows; a header that is not one. */
    refused("report_id,revision\n", 19, &pufa_xlsx_default_limits, PUFA_EPARSE,
            "not an .xlsx workbook");
    zip = workbook("<row r=\"1\"><c r=\"A1\"/></row>", NULL, false, &len);
    refused(zip, len, NULL, PUFA_EPARSE,
            "xl/worksheets/first.xml: the first sheet is empty: expected a header row");
    free(zip);
    zip = workbook("<row r=\"3\"><c r=\"A3\" t=\"inlineStr\"><is><t>颜色</t></is></c></row>", NULL,
                   false, &len);
    refused(zip, len, NULL, PUFA_EPARSE, "line 3: unknown column '颜色'");
    free(zip);
    zip = workbook("<row r=\"3\"><c r=\"B3\" t=\"inlineStr\"><is><t>标题</t></is></c></row>", NULL,
                   false, &len);
    refused(zip, len, NULL, PUFA_EPARSE, "line 3: the header's column A is empty");
    free(zip);
    zip = workbook(HEADER, NULL, false, &len); /* A2 is a shared string, and there are none */
    refused(zip, len, NULL, PUFA_EPARSE, "cell A2: shared string '0' does not exist (0 in");
    free(zip);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cell_types_row_numbers_and_skipped_rows),
        cmocka_unit_test(date1904_workbook),
        cmocka_unit_test(libreoffice_shapes),
        cmocka_unit_test(hostile_workbooks_are_refused_naming_the_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
