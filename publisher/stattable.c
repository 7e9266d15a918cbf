#include "stattable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "error.h"
#include "file.h"

#define FUNDS PUFA_FIG(PUFA_C_FUNDS_FEN)
#define SESS  PUFA_FIG(PUFA_C_SESSIONS)
#define PART  PUFA_FIG(PUFA_C_PARTICIPANTS)

/* The columns: every figure with its Chinese name and unit. */
static const char *const HEADS[NFIG] = {"报告(份)",       "活动场次(场次)", "受教育(人次)",
                                        "发放资料(份)",   "接受咨询(人次)", "悬挂条幅(条)",
                                        "LED屏播放(条)",  "线上推送(条)",   "阅读量(人次)",
                                        "讲师志愿者(人)", "普法经费(元)"};

void stat_period(pufa_day from, pufa_day to, char *out, size_t size) {
    int y1, m1, d1, y2, m2, d2;
    pufa_date_to_ymd(from, &y1, &m1, &d1);
    pufa_date_to_ymd(to, &y2, &m2, &d2);
    int ny, nm, nd;
    pufa_date_to_ymd(to + 1, &ny, &nm, &nd);
    bool months = d1 == 1 && nd == 1; /* whole months */
    if (months && y1 == y2 && m1 == m2)
        snprintf(out, size, "%d年%d月", y1, m1);
    else if (months && y1 == y2)
        snprintf(out, size, "%d年%d—%d月", y1, m1, m2);
    else if (y1 == y2)
        snprintf(out, size, "%d年%d月%d日—%d月%d日", y1, m1, d1, m2, d2);
    else
        snprintf(out, size, "%d年%d月%d日—%d年%d月%d日", y1, m1, d1, y2, m2, d2);
}

static stat_row *add_row(stat_table *t, const char *key, const char *label) {
    t->rows = pufa_realloc(t->rows, (t->n + 1) * sizeof *t->rows);
    stat_row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    r->key = pufa_strdup(key);
    r->label = pufa_strdup(label);
    return r;
}

static void add_figs(int64_t *to, const int64_t *from) {
    for (int k = 0; k < NFIG; k++)
        pufa_fig_add(&to[k], from[k]);
}

/* The unit whose children are the rows when no org is asked for: the one
 * city of ou, else its one root; NULL when neither is unique. */
static const pufa_orgunit *default_unit(const pufa_orgunits *ou) {
    const pufa_orgunit *city = NULL, *root = NULL;
    size_t cities = 0, roots = 0;
    for (size_t i = 0; i < ou->count; i++) {
        if (!strcmp(ou->units[i].level, "city")) {
            city = &ou->units[i];
            cities++;
        }
        if (!ou->units[i].parent_code[0]) {
            root = &ou->units[i];
            roots++;
        }
    }
    return cities == 1 ? city : roots == 1 ? root : NULL;
}

/* Rows of a county: its townships in the window or its base. */
static void township_rows(stat_table *t, pub_model *m, const char *county) {
    pub_row *cur = NULL, *base = NULL;
    int64_t tot[NFIG];
    pub_scope sc;
    if (pub_model_scope(m, county, &sc) != 0)
        return;
    size_t n = pub_model_query(m, t->win.from, t->win.to, DIM_TOWNSHIP, &sc, &cur, tot);
    size_t nb = pub_model_query(m, t->base_from, t->base_to, DIM_TOWNSHIP, &sc, &base, tot);
    pub_rows_rank(cur, n, PUFA_FIG_REPORTS);
    for (size_t i = 0; i < n; i++) {
        stat_row *r = add_row(t, pub_model_key(m, DIM_TOWNSHIP, cur[i].value),
                              pub_model_label(m, DIM_TOWNSHIP, cur[i].value));
        memcpy(r->fig, cur[i].fig, sizeof r->fig);
        for (size_t j = 0; j < nb; j++)
            if (base[j].value == cur[i].value)
                memcpy(r->base, base[j].fig, sizeof r->base);
    }
    for (size_t j = 0; j < nb; j++) { /* only a year earlier */
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = cur[i].value == base[j].value;
        if (!seen) {
            stat_row *r = add_row(t, pub_model_key(m, DIM_TOWNSHIP, base[j].value),
                                  pub_model_label(m, DIM_TOWNSHIP, base[j].value));
            memcpy(r->base, base[j].fig, sizeof r->base);
        }
    }
    free(cur);
    free(base);
}

/* Rows of any other unit: its children in ou (every one, zeros too), each
 * the sum of the model's counties at or under it; unit NULL: every county. */
static void child_rows(stat_table *t, pub_model *m, const pufa_orgunits *ou, const char *unit) {
    pub_row *cur, *base;
    int64_t tot[NFIG];
    pub_scope every = {.code = "", .level = -1}; /* ou decides what is under what */
    size_t n = pub_model_query(m, t->win.from, t->win.to, DIM_COUNTY, &every, &cur, tot);
    size_t nb = pub_model_query(m, t->base_from, t->base_to, DIM_COUNTY, &every, &base, tot);
    size_t nc = pub_model_counties(m);
    for (size_t i = 0; i < (unit ? ou->count : nc); i++) {
        const char *code = unit ? ou->units[i].code : pub_model_key(m, DIM_COUNTY, (uint32_t)i);
        if (unit && strcmp(ou->units[i].parent_code, unit) != 0)
            continue;
        stat_row *r = add_row(
            t, code, unit ? ou->units[i].name : pub_model_label(m, DIM_COUNTY, (uint32_t)i));
        for (size_t k = 0; k < n; k++) {
            const char *c = pub_model_key(m, DIM_COUNTY, cur[k].value);
            if (!strcmp(c, code) || pufa_orgunits_is_under(ou, c, code))
                add_figs(r->fig, cur[k].fig);
        }
        for (size_t k = 0; k < nb; k++) {
            const char *c = pub_model_key(m, DIM_COUNTY, base[k].value);
            if (!strcmp(c, code) || pufa_orgunits_is_under(ou, c, code))
                add_figs(r->base, base[k].fig);
        }
    }
    free(cur);
    free(base);
}

void stat_table_build(stat_table *t, pub_model *m, const pufa_orgunits *ou, const char *org,
                      const pub_window *win) {
    memset(t, 0, sizeof *t);
    t->win = *win;
    pub_compare_base(PUB_COMPARE_YOY, 0, win->from, win->to, &t->base_from, &t->base_to);
    t->generated_ms = pufa_now_ms();
    const pufa_orgunit *u = org ? pufa_orgunits_find(ou, org) : default_unit(ou);
    pub_model_rdlock(m);
    bool county =
        org && (pub_model_county_index(m, org) != UINT32_MAX || (u && !strcmp(u->level, "county")));
    if (county) {
        uint32_t c = pub_model_county_index(m, org);
        t->unit_name = pufa_strdup(u                 ? u->name
                                   : c != UINT32_MAX ? pub_model_label(m, DIM_COUNTY, c)
                                                     : org);
        t->row_head = "乡镇(街道)";
        township_rows(t, m, org);
    } else {
        t->unit_name = pufa_strdup(u ? u->name : "全部地区");
        t->row_head = !u                              ? "县区"
                      : !strcmp(u->level, "city")     ? "县区"
                      : !strcmp(u->level, "province") ? "市(州、盟)"
                                                      : "省(区、市)";
        child_rows(t, m, ou, u ? u->code : NULL);
    }
    pub_model_unlock(m);
    for (size_t i = 0; i < t->n; i++) {
        add_figs(t->tot, t->rows[i].fig);
        add_figs(t->base, t->rows[i].base);
    }
    char period[96];
    stat_period(win->from, win->to, period, sizeof period);
    t->period = pufa_strdup(period);
    t->title = pufa_asprintf("%s普法工作统计表（%s）", t->unit_name, period);
}

void stat_table_free(stat_table *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].key);
        free(t->rows[i].label);
    }
    free(t->rows);
    free(t->unit_name);
    free(t->period);
    free(t->title);
    memset(t, 0, sizeof *t);
}

/* ---- HTML ---- */

static void esc(pufa_buf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&':
            pufa_buf_puts(b, "&amp;");
            break;
        case '<':
            pufa_buf_puts(b, "&lt;");
            break;
        case '>':
            pufa_buf_puts(b, "&gt;");
            break;
        case '"':
            pufa_buf_puts(b, "&quot;");
            break;
        case '\'':
            pufa_buf_puts(b, "&#39;");
            break;
        default:
            pufa_buf_putc(b, *s);
        }
    }
}

/* 1234567 -> "1,234,567"; funds (fen) -> "12,345.67" yuan. */
static void number(pufa_buf *b, int64_t v, bool fen) {
    char digits[32];
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)(fen ? a / 100 : a));
    if (v < 0)
        pufa_buf_putc(b, '-');
    size_t len = strlen(digits);
    for (size_t i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            pufa_buf_putc(b, ',');
        pufa_buf_putc(b, digits[i]);
    }
    if (fen)
        pufa_buf_printf(b, ".%02llu", (unsigned long long)(a % 100));
}

/* 同比 as "+12.3%" / "-4.0%" / "0.0%", or "—" when the base is 0. */
static void yoy(pufa_buf *b, int64_t cur, int64_t base) {
    if (base == 0) {
        pufa_buf_puts(b, "—");
        return;
    }
    double x = (double)(cur - base) * 1000.0 / (double)base;
    long long tenths = (long long)(x < 0 ? x - 0.5 : x + 0.5);
    pufa_buf_printf(b, "%s%lld.%lld%%",
                    tenths < 0   ? "-"
                    : tenths > 0 ? "+"
                                 : "",
                    llabs(tenths) / 10, llabs(tenths) % 10);
}

static void html_row(pufa_buf *b, const char *label, const int64_t fig[NFIG],
                     const int64_t base[NFIG], bool total) {
    pufa_buf_puts(b, total ? "<tr class=\"total\"><th scope=\"row\">" : "<tr><th scope=\"row\">");
    esc(b, label);
    pufa_buf_puts(b, "</th>");
    for (int k = 0; k < NFIG; k++) {
        pufa_buf_printf(b, "<td data-figure=\"%s\">", pufa_figure_names[k]);
        number(b, fig[k], k == FUNDS);
        pufa_buf_puts(b, "</td>");
    }
    pufa_buf_puts(b, "<td class=\"yoy\">");
    yoy(b, fig[SESS], base[SESS]);
    pufa_buf_puts(b, "</td><td class=\"yoy\">");
    yoy(b, fig[PART], base[PART]);
    pufa_buf_puts(b, "</td></tr>\n");
}

static void format_time(int64_t ms, char *out, size_t size) {
    int64_t local = ms / 1000 + (int64_t)pufa_city_utc_offset_min * 60;
    pufa_day d = (pufa_day)(local / 86400 - (local % 86400 < 0));
    int64_t sec = local - (int64_t)d * 86400;
    char day[11];
    pufa_date_format(d, day);
    snprintf(out, size, "%s %02d:%02d", day, (int)(sec / 3600), (int)(sec / 60 % 60));
}

void stat_table_html(const stat_table *t, const char *query, pufa_buf *b) {
    char gen[32], a[11], z[11], ba[11], bz[11];
    format_time(t->generated_ms, gen, sizeof gen);
    pufa_date_format(t->win.from, a);
    pufa_date_format(t->win.to, z);
    pufa_date_format(t->base_from, ba);
    pufa_date_format(t->base_to, bz);
    pufa_buf_puts(b, "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                     "<title>");
    esc(b, t->title);
    pufa_buf_puts(b, "</title><link rel=\"stylesheet\" href=\"/print.css\"></head>\n<body>\n");
    pufa_buf_puts(b, "<nav class=\"noprint\"><button type=\"button\" id=\"print\">打印</button> "
                     "<a id=\"xlsx\" href=\"/print.xlsx?");
    esc(b, query);
    pufa_buf_puts(b, "\">下载 Excel</a> <a href=\"/\">返回</a></nav>\n<h1 id=\"title\">");
    esc(b, t->title);
    pufa_buf_puts(b, "</h1>\n<p class=\"meta\"><span>填报单位：");
    esc(b, t->unit_name);
    pufa_buf_puts(b, "普法办</span><span>统计期间：");
    pufa_buf_printf(b, "%s 至 %s", a, z);
    pufa_buf_puts(b, "</span><span>同比基期：");
    pufa_buf_printf(b, "%s 至 %s", ba, bz);
    pufa_buf_printf(b, "</span><span>生成时间：%s</span></p>\n", gen);
    pufa_buf_puts(b, "<table id=\"stat\"><thead><tr><th scope=\"col\">");
    esc(b, t->row_head);
    pufa_buf_puts(b, "</th>");
    for (int k = 0; k < NFIG; k++)
        pufa_buf_printf(b, "<th scope=\"col\">%s</th>", HEADS[k]);
    pufa_buf_puts(b, "<th scope=\"col\">场次同比</th><th scope=\"col\">人次同比</th></tr></thead>"
                     "\n<tbody>\n");
    for (size_t i = 0; i < t->n; i++)
        html_row(b, t->rows[i].label, t->rows[i].fig, t->rows[i].base, false);
    html_row(b, "合计", t->tot, t->base, true);
    pufa_buf_puts(b, "</tbody></table>\n<p class=\"note\">数据来源：pufa 普法工作统计系统；"
                     "日期为活动发生日期；普法经费单位为元。</p>\n"
                     "<script src=\"/print.js\"></script>\n</body></html>\n");
}

/* ---- XLSX ---- */

int stat_table_xlsx(const stat_table *t, pufa_buf *out, char *err, size_t errsize) {
    char path[] = "/tmp/pufa-stat-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errsize, "cannot create a temporary file");
        return PUFA_EIO;
    }
    close(fd);
    lxw_workbook_options opts = {.constant_memory = LXW_FALSE, .tmpdir = "/tmp"};
    lxw_workbook *wb = workbook_new_opt(path, &opts);
    if (!wb) {
        unlink(path);
        snprintf(err, errsize, "cannot start the workbook");
        return PUFA_EIO;
    }
    lxw_worksheet *ws = workbook_add_worksheet(wb, "统计表");
    lxw_format *title = workbook_add_format(wb), *head = workbook_add_format(wb);
    lxw_format *num = workbook_add_format(wb), *yuan = workbook_add_format(wb);
    lxw_format *pct = workbook_add_format(wb), *tnum = workbook_add_format(wb);
    lxw_format *tyuan = workbook_add_format(wb), *tpct = workbook_add_format(wb);
    lxw_format *tlabel = workbook_add_format(wb), *label = workbook_add_format(wb);
    format_set_bold(title);
    format_set_font_size(title, 16);
    format_set_align(title, LXW_ALIGN_CENTER);
    format_set_bold(head);
    format_set_text_wrap(head);
    format_set_align(head, LXW_ALIGN_CENTER);
    format_set_border(head, LXW_BORDER_THIN);
    lxw_format *cells[] = {num, yuan, pct, tnum, tyuan, tpct, tlabel, label};
    for (size_t i = 0; i < sizeof cells / sizeof *cells; i++)
        format_set_border(cells[i], LXW_BORDER_THIN);
    format_set_num_format(num, "#,##0");
    format_set_num_format(tnum, "#,##0");
    format_set_num_format(yuan, "#,##0.00");
    format_set_num_format(tyuan, "#,##0.00");
    format_set_num_format(pct, "+0.0%;-0.0%;0.0%");
    format_set_num_format(tpct, "+0.0%;-0.0%;0.0%");
    format_set_bold(tnum);
    format_set_bold(tyuan);
    format_set_bold(tpct);
    format_set_bold(tlabel);
    lxw_col_t last = (lxw_col_t)(NFIG + 2);
    worksheet_merge_range(ws, 0, 0, 0, last, t->title, title);
    char meta[256], gen[32], a[11], z[11];
    format_time(t->generated_ms, gen, sizeof gen);
    pufa_date_format(t->win.from, a);
    pufa_date_format(t->win.to, z);
    char *unit = pufa_asprintf("填报单位：%s普法办", t->unit_name);
    worksheet_merge_range(ws, 1, 0, 1, 5, unit, NULL);
    free(unit);
    snprintf(meta, sizeof meta, "统计期间：%s 至 %s    生成时间：%s", a, z, gen);
    worksheet_merge_range(ws, 1, 6, 1, last, meta, NULL);
    worksheet_write_string(ws, 2, 0, t->row_head, head);
    for (int k = 0; k < NFIG; k++)
        worksheet_write_string(ws, 2, (lxw_col_t)(k + 1), HEADS[k], head);
    worksheet_write_string(ws, 2, (lxw_col_t)(NFIG + 1), "场次同比", head);
    worksheet_write_string(ws, 2, (lxw_col_t)(NFIG + 2), "人次同比", head);
    worksheet_set_column(ws, 0, 0, 16, NULL);
    worksheet_set_column(ws, 1, last, 11, NULL);
    worksheet_set_row(ws, 2, 30, NULL);
    worksheet_freeze_panes(ws, 3, 1);
    for (size_t i = 0; i <= t->n; i++) {
        bool total = i == t->n;
        const char *name = total ? "合计" : t->rows[i].label;
        const int64_t *fig = total ? t->tot : t->rows[i].fig;
        const int64_t *base = total ? t->base : t->rows[i].base;
        lxw_row_t r = (lxw_row_t)(3 + i);
        /* a string cell, never a formula, whatever a township's name starts with */
        worksheet_write_string(ws, r, 0, name, total ? tlabel : label);
        for (int k = 0; k < NFIG; k++) {
            double v = k == FUNDS ? (double)fig[k] / 100.0 : (double)fig[k];
            worksheet_write_number(ws, r, (lxw_col_t)(k + 1), v,
                                   k == FUNDS ? (total ? tyuan : yuan) : (total ? tnum : num));
        }
        const int figs[2] = {SESS, PART};
        for (int j = 0; j < 2; j++) {
            lxw_col_t c = (lxw_col_t)(NFIG + 1 + j);
            if (base[figs[j]] == 0)
                worksheet_write_string(ws, r, c, "—", total ? tlabel : label);
            else
                worksheet_write_number(
                    ws, r, c, (double)(fig[figs[j]] - base[figs[j]]) / (double)base[figs[j]],
                    total ? tpct : pct);
        }
    }
    worksheet_set_landscape(ws);
    worksheet_set_paper(ws, 9); /* A4 */
    worksheet_fit_to_pages(ws, 1, 0);
    int rc = 0;
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
    return rc;
}
