#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

/* protobuf-c stores absent optional strings as NULL (no default given). */
static char *s(const char *p) {
    return (char *)p;
}

void pufa_report_to_pb(const pufa_report *r, Pufa__ActivityReport *m) {
    m->report_id = s(r->report_id);
    m->has_revision = r->revision > 0 && r->revision <= UINT32_MAX;
    m->revision = (uint32_t)r->revision;
    m->has_retracted = r->retracted;
    m->retracted = r->retracted;
    m->county_code = s(r->county_code);
    m->township = s(r->township);
    m->unit_code = s(r->unit_code);
    m->unit_name = s(r->unit_name);
    m->occurred_on = s(r->occurred_on);
    m->ended_on = s(r->ended_on);
    m->has_theme = r->theme > 0;
    m->theme = (Pufa__Theme)(r->theme > 0 ? r->theme : 0);
    m->has_venue = r->venue > 0;
    m->venue = (Pufa__Venue)(r->venue > 0 ? r->venue : 0);
    m->has_form = r->form > 0;
    m->form = (Pufa__Form)(r->form > 0 ? r->form : 0);
    m->campaign = s(r->campaign);
    m->title = s(r->title);
#define PUFA_WIRE_COUNTER_(up, low, label, max)                                                    \
    m->low = r->counters[PUFA_C_##up];                                                             \
    m->has_##low = r->counters[PUFA_C_##up] != 0;
    PUFA_COUNTER_MAP(PUFA_WIRE_COUNTER_)
#undef PUFA_WIRE_COUNTER_
    m->has_received_at_ms = r->received_at_ms != 0;
    m->received_at_ms = r->received_at_ms;
}

static char *dup_opt(const char *p) {
    return p ? pufa_strdup(p) : NULL;
}

void pufa_report_from_pb(const Pufa__ActivityReport *m, pufa_report *r) {
    r->report_id = dup_opt(m->report_id);
    r->revision = m->has_revision ? (int64_t)m->revision : 0;
    r->retracted = m->has_retracted && m->retracted;
    r->county_code = dup_opt(m->county_code);
    r->township = dup_opt(m->township);
    r->unit_code = dup_opt(m->unit_code);
    r->unit_name = dup_opt(m->unit_name);
    r->occurred_on = dup_opt(m->occurred_on);
    r->ended_on = dup_opt(m->ended_on);
    r->theme = m->has_theme ? (int)m->theme : 0;
    r->venue = m->has_venue ? (int)m->venue : 0;
    r->form = m->has_form ? (int)m->form : 0;
    r->campaign = dup_opt(m->campaign);
    r->title = dup_opt(m->title);
#define PUFA_WIRE_COUNTER_(up, low, label, max) r->counters[PUFA_C_##up] = m->low;
    PUFA_COUNTER_MAP(PUFA_WIRE_COUNTER_)
#undef PUFA_WIRE_COUNTER_
    r->received_at_ms = m->has_received_at_ms ? m->received_at_ms : 0;
}

uint8_t *pufa_report_encode(const pufa_report *r, size_t *len) {
    Pufa__ActivityReport m = PUFA__ACTIVITY_REPORT__INIT;
    pufa_report_to_pb(r, &m);
    *len = pufa__activity_report__get_packed_size(&m);
    uint8_t *buf = pufa_malloc(*len);
    pufa__activity_report__pack(&m, buf);
    return buf;
}

int pufa_report_decode(const uint8_t *buf, size_t len, pufa_report *r) {
    if (len > PUFA_MAX_FRAME_BYTES)
        return PUFA_ETOOBIG;
    Pufa__ActivityReport *m = pufa__activity_report__unpack(NULL, len, buf);
    if (!m)
        return PUFA_EPARSE;
    pufa_report_from_pb(m, r);
    pufa__activity_report__free_unpacked(m, NULL);
    return 0;
}

int pufa_report_peek(const uint8_t *buf, size_t len, char *id, size_t idsize, uint32_t *revision,
                     int64_t *received_at_ms) {
    if (idsize)
        id[0] = '\0';
    *revision = 0;
    *received_at_ms = 0;
    if (len > PUFA_MAX_FRAME_BYTES)
        return PUFA_EPARSE;
    Pufa__ActivityReport *m = pufa__activity_report__unpack(NULL, len, buf);
    if (!m)
        return PUFA_EPARSE;
    pufa_copy(id, idsize, m->report_id ? m->report_id : "");
    *revision = m->has_revision ? m->revision : 0;
    *received_at_ms = m->has_received_at_ms ? m->received_at_ms : 0;
    pufa__activity_report__free_unpacked(m, NULL);
    return 0;
}

/* ---- ReportBatch ---- */

static void put_varint(pufa_buf *b, uint64_t v) {
    while (v >= 0x80) {
        pufa_buf_putc(b, (char)((v & 0x7F) | 0x80));
        v >>= 7;
    }
    pufa_buf_putc(b, (char)v);
}

void pufa_batch_begin(pufa_buf *frame, const char *collector_id, uint64_t batch_seq,
                      int64_t sent_at_ms) {
    pufa_batch_begin_link(frame, collector_id, batch_seq, sent_at_ms, NULL);
}

void pufa_batch_begin_link(pufa_buf *frame, const char *collector_id, uint64_t batch_seq,
                           int64_t sent_at_ms, const pufa_batch_link *link) {
    Pufa__ReportBatch hdr = PUFA__REPORT_BATCH__INIT;
    hdr.collector_id = s(collector_id);
    hdr.has_batch_seq = 1;
    hdr.batch_seq = batch_seq;
    hdr.has_sent_at_ms = 1;
    hdr.sent_at_ms = sent_at_ms;
    if (link && link->has_as_of) {
        hdr.has_as_of_seq = hdr.has_as_of_ms = 1;
        hdr.as_of_seq = link->as_of_seq;
        hdr.as_of_ms = link->as_of_ms;
    }
    if (link && link->has_pending) {
        hdr.has_pending = 1;
        hdr.pending = link->pending;
        if (link->oldest_pending_ms > 0) {
            hdr.has_oldest_pending_ms = 1;
            hdr.oldest_pending_ms = link->oldest_pending_ms;
        }
    }
    size_t hlen = pufa__report_batch__get_packed_size(&hdr);
    pufa_buf_reset(frame);
    pufa_buf_reserve(frame, hlen);
    pufa__report_batch__pack(&hdr, (uint8_t *)frame->data);
    frame->len = hlen;
}

void pufa_batch_add(pufa_buf *frame, const uint8_t *report, size_t len) {
    /* Field 3 (repeated ActivityReport), length-delimited: a message's
     * fields may come in any order, and repeated ones append. */
    enum { REPORTS_FIELD = 3 }; /* ReportBatch.reports in proto/pufa.proto */
    pufa_buf_putc(frame, (char)((REPORTS_FIELD << 3) | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED));
    put_varint(frame, len);
    pufa_buf_append(frame, report, len);
}

/* ---- PeriodState ---- */

static const char *const period_names[] = {NULL, "open", "submitted", "approved", "accepted"};

const char *pufa_period_state_name(pufa_period_state s) {
    return (unsigned)s < sizeof period_names / sizeof period_names[0] ? period_names[s] : NULL;
}

pufa_period_state pufa_period_state_parse(const char *word) {
    for (size_t i = 1; word && i < sizeof period_names / sizeof period_names[0]; i++)
        if (!strcmp(word, period_names[i]))
            return (pufa_period_state)i;
    return PUFA_PERIOD_UNSPECIFIED;
}

/* Fills msg from p; month7 is its "YYYY-MM" buffer. */
static void period_to_pb(const pufa_period *p, Pufa__PeriodState *msg, char month7[8]) {
    pufa__period_state__init(msg);
    msg->org_code = s(p->org_code);
    unsigned y = (unsigned)p->year % 10000u, mo = (unsigned)p->month % 100u;
    month7[0] = (char)('0' + y / 1000);
    month7[1] = (char)('0' + y / 100 % 10);
    month7[2] = (char)('0' + y / 10 % 10);
    month7[3] = (char)('0' + y % 10);
    month7[4] = '-';
    month7[5] = (char)('0' + mo / 10);
    month7[6] = (char)('0' + mo % 10);
    month7[7] = '\0';
    msg->month = month7;
    msg->has_state = 1;
    msg->state = (Pufa__PeriodStatus)p->state;
    msg->set_by = s(p->set_by);
    msg->set_by_org = s(p->set_by_org);
    msg->has_set_at_ms = 1;
    msg->set_at_ms = p->set_at_ms;
    msg->reason = s(p->reason);
    msg->has_exception_open = 1;
    msg->exception_open = p->exception_open;
}

int pufa_period_from_pb(const Pufa__PeriodState *msg, pufa_period *p) {
    memset(p, 0, sizeof *p);
    const char *m = msg->month;
    if (!msg->org_code || strlen(msg->org_code) != 6 || strspn(msg->org_code, "0123456789") != 6)
        return -1;
    if (!m || strlen(m) != 7 || m[4] != '-' || strspn(m, "0123456789") != 4 ||
        strspn(m + 5, "0123456789") != 2)
        return -1;
    int year = atoi(m), month = atoi(m + 5);
    if (year < 2000 || month < 1 || month > 12)
        return -1;
    if (!msg->has_state || !pufa_period_state_name((pufa_period_state)msg->state))
        return -1;
    p->org_code = msg->org_code;
    p->year = year;
    p->month = month;
    p->state = (pufa_period_state)msg->state;
    p->set_by = msg->set_by ? msg->set_by : "";
    p->set_by_org = msg->set_by_org ? msg->set_by_org : "";
    p->set_at_ms = msg->has_set_at_ms ? msg->set_at_ms : 0;
    p->reason = msg->reason ? msg->reason : "";
    p->exception_open = msg->has_exception_open && msg->exception_open;
    return 0;
}

void pufa_batch_add_period(pufa_buf *frame, const pufa_period *p) {
    enum { PERIODS_FIELD = 9 }; /* ReportBatch.periods in proto/pufa.proto */
    Pufa__PeriodState msg;
    char month7[8];
    period_to_pb(p, &msg, month7);
    size_t len = pufa__period_state__get_packed_size(&msg);
    uint8_t *buf = pufa_malloc(len ? len : 1);
    pufa__period_state__pack(&msg, buf);
    pufa_buf_putc(frame, (char)((PERIODS_FIELD << 3) | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED));
    put_varint(frame, len);
    pufa_buf_append(frame, buf, len);
    free(buf);
}

int pufa_batch_decode(const uint8_t *buf, size_t len, Pufa__ReportBatch **out) {
    if (len > PUFA_MAX_FRAME_BYTES)
        return PUFA_ETOOBIG;
    Pufa__ReportBatch *b = pufa__report_batch__unpack(NULL, len, buf);
    if (!b)
        return PUFA_EPARSE;
    if (b->n_reports > PUFA_MAX_BATCH_REPORTS) {
        pufa__report_batch__free_unpacked(b, NULL);
        return PUFA_ETOOBIG;
    }
    *out = b;
    return 0;
}

void pufa_batch_destroy(Pufa__ReportBatch **b) {
    if (!b || !*b)
        return;
    pufa__report_batch__free_unpacked(*b, NULL);
    *b = NULL;
}

/* ---- BatchAck ---- */

uint8_t *pufa_ack_encode(uint64_t batch_seq, const pufa_ack_result *results, size_t n,
                         const char *error, size_t *len) {
    Pufa__BatchAck ack = PUFA__BATCH_ACK__INIT;
    Pufa__ReportResult *res = NULL;
    if (error) {
        ack.error = s(error);
    } else {
        ack.has_batch_seq = 1;
        ack.batch_seq = batch_seq;
        ack.n_results = n;
        res = pufa_calloc(n ? n : 1, sizeof *res);
        ack.results = pufa_calloc(n ? n : 1, sizeof *ack.results);
        for (size_t i = 0; i < n; i++) {
            pufa__report_result__init(&res[i]);
            res[i].report_id = s(results[i].report_id);
            res[i].has_revision = 1;
            res[i].revision = results[i].revision;
            res[i].has_status = 1;
            res[i].status = (Pufa__ReportStatus)results[i].status;
            res[i].reason = s(results[i].reason);
            ack.results[i] = &res[i];
        }
    }
    *len = pufa__batch_ack__get_packed_size(&ack);
    uint8_t *buf = pufa_malloc(*len ? *len : 1);
    pufa__batch_ack__pack(&ack, buf);
    free(res);
    free(ack.results);
    return buf;
}

int pufa_ack_decode(const uint8_t *buf, size_t len, Pufa__BatchAck **out) {
    if (len > PUFA_MAX_FRAME_BYTES)
        return PUFA_ETOOBIG;
    Pufa__BatchAck *a = pufa__batch_ack__unpack(NULL, len, buf);
    if (!a)
        return PUFA_EPARSE;
    *out = a;
    return 0;
}

void pufa_ack_destroy(Pufa__BatchAck **a) {
    if (!a || !*a)
        return;
    pufa__batch_ack__free_unpacked(*a, NULL);
    *a = NULL;
}

/* ---- Figures ---- */

void pufa_figures_to_pb(const int64_t fig[PUFA_NFIGURES], bool all, Pufa__Figures *g) {
    pufa__figures__init(g);
    g->reports = fig[PUFA_FIG_REPORTS];
    g->has_reports = all || g->reports != 0;
#define PUFA_WIRE_FIGURE_(up, low, label, max)                                                     \
    g->low = fig[PUFA_FIG(PUFA_C_##up)];                                                           \
    g->has_##low = all || g->low != 0;
    PUFA_COUNTER_MAP(PUFA_WIRE_FIGURE_)
#undef PUFA_WIRE_FIGURE_
}

void pufa_figures_from_pb(const Pufa__Figures *g, int64_t fig[PUFA_NFIGURES]) {
    fig[PUFA_FIG_REPORTS] = g->reports;
#define PUFA_WIRE_FIGURE_(up, low, label, max) fig[PUFA_FIG(PUFA_C_##up)] = g->low;
    PUFA_COUNTER_MAP(PUFA_WIRE_FIGURE_)
#undef PUFA_WIRE_FIGURE_
}

/* ---- CommitDelta ---- */

int pufa_month_parse(const char *s) {
    if (!s || strlen(s) != 7 || s[4] != '-' || strspn(s, "0123456789") != 4 ||
        strspn(s + 5, "0123456789") != 2)
        return 0;
    int year = atoi(s), month = atoi(s + 5);
    if (year < 2000 || month < 1 || month > 12)
        return 0;
    return year * 12 + month - 1;
}

void pufa_month_format(int month, char out[8]) {
    if (month < 2000 * 12 || month > 9999 * 12 + 11) {
        out[0] = '\0';
        return;
    }
    snprintf(out, 8, "%04d-%02d", month / 12, month % 12 + 1);
}

uint8_t *pufa_delta_encode(const pufa_delta *d, size_t *len) {
    Pufa__CommitDelta m = PUFA__COMMIT_DELTA__INIT;
    m.has_seq = 1;
    m.seq = d->seq;
    m.has_committed_at_ms = 1;
    m.committed_at_ms = d->committed_at_ms;
    size_t n = d->n_cells, nr = d->n_receipts, np = d->n_periods;
    Pufa__PeriodState *ps = NULL;
    char(*months)[8] = NULL;
    if (np) {
        m.n_periods = np;
        m.periods = pufa_calloc(np, sizeof *m.periods);
        ps = pufa_calloc(np, sizeof *ps);
        months = pufa_calloc(np, sizeof *months);
    }
    for (size_t i = 0; i < np; i++) {
        period_to_pb(&d->periods[i], &ps[i], months[i]);
        m.periods[i] = &ps[i];
    }
    Pufa__RollupDelta *rd = NULL;
    Pufa__Figures *fg = NULL;
    Pufa__Receipt *rc = NULL;
    char(*days)[11] = NULL;
    char(*rmonths)[8] = NULL;
    if (n + nr) {
        days = pufa_calloc(n + nr, sizeof *days);
        rmonths = pufa_calloc(nr ? nr : 1, sizeof *rmonths);
        m.n_rollups = n;
        m.rollups = pufa_calloc(n ? n : 1, sizeof *m.rollups);
        rd = pufa_calloc(n ? n : 1, sizeof *rd);
        fg = pufa_calloc(n ? n : 1, sizeof *fg);
        m.n_receipts = nr;
        m.receipts = pufa_calloc(nr ? nr : 1, sizeof *m.receipts);
        rc = pufa_calloc(nr ? nr : 1, sizeof *rc);
    }
    for (size_t i = 0; i < n; i++) {
        const pufa_cell *c = &d->cells[i];
        pufa__rollup_delta__init(&rd[i]);
        pufa_date_format(c->day, days[i]);
        rd[i].day = days[i];
        rd[i].county_code = s(c->county);
        rd[i].has_theme = rd[i].has_venue = rd[i].has_form = 1;
        rd[i].theme = (Pufa__Theme)c->theme;
        rd[i].venue = (Pufa__Venue)c->venue;
        rd[i].form = (Pufa__Form)c->form;
        rd[i].unit_code = s(c->unit_code);
        rd[i].campaign = s(c->campaign);
        rd[i].township = s(c->township);
        pufa_figures_to_pb(c->fig, false, &fg[i]);
        rd[i].delta = &fg[i];
        m.rollups[i] = &rd[i];
    }
    for (size_t i = 0; i < nr; i++) {
        const pufa_receipt *r = &d->receipts[i];
        pufa__receipt__init(&rc[i]);
        pufa_date_format(r->day, days[n + i]);
        rc[i].day = days[n + i];
        rc[i].county_code = s(r->county);
        rc[i].unit_code = s(r->unit_code);
        rc[i].has_reports = 1;
        rc[i].reports = r->reports;
        pufa_month_format(r->month, rmonths[i]);
        if (rmonths[i][0])
            rc[i].month = rmonths[i];
        m.receipts[i] = &rc[i];
    }
    *len = pufa__commit_delta__get_packed_size(&m);
    uint8_t *buf = pufa_malloc(*len);
    pufa__commit_delta__pack(&m, buf);
    free(m.rollups);
    free(rd);
    free(fg);
    free(m.receipts);
    free(rc);
    free(days);
    free(rmonths);
    free(m.periods);
    free(ps);
    free(months);
    return buf;
}

int pufa_delta_decode(const uint8_t *buf, size_t len, pufa_delta *out) {
    memset(out, 0, sizeof *out);
    if (len > PUFA_MAX_FEED_BYTES)
        return PUFA_ETOOBIG;
    Pufa__CommitDelta *m = pufa__commit_delta__unpack(NULL, len, buf);
    if (!m)
        return PUFA_EPARSE;
    if (!m->has_seq) {
        pufa__commit_delta__free_unpacked(m, NULL);
        return PUFA_EPARSE;
    }
    out->msg = m;
    out->seq = m->seq;
    out->committed_at_ms = m->has_committed_at_ms ? m->committed_at_ms : 0;
    if (m->n_rollups)
        out->cells = pufa_calloc(m->n_rollups, sizeof *out->cells);
    for (size_t i = 0; i < m->n_rollups; i++) {
        const Pufa__RollupDelta *r = m->rollups[i];
        pufa_cell *c = &out->cells[out->n_cells];
        if (!r->day || pufa_date_parse(r->day, &c->day) || !r->county_code || !r->delta) {
            out->skipped++;
            continue;
        }
        c->county = r->county_code;
        c->theme = (int16_t)(r->has_theme ? r->theme : 0);
        c->venue = (int16_t)(r->has_venue ? r->venue : 0);
        c->form = (int16_t)(r->has_form ? r->form : 0);
        c->unit_code = r->unit_code ? r->unit_code : "";
        c->campaign = r->campaign ? r->campaign : "";
        c->township = r->township ? r->township : "";
        pufa_figures_from_pb(r->delta, c->fig);
        out->n_cells++;
    }
    if (m->n_receipts)
        out->receipts = pufa_calloc(m->n_receipts, sizeof *out->receipts);
    for (size_t i = 0; i < m->n_receipts; i++) {
        const Pufa__Receipt *r = m->receipts[i];
        pufa_receipt *c = &out->receipts[out->n_receipts];
        c->month = r->month ? pufa_month_parse(r->month) : 0;
        if (!r->day || pufa_date_parse(r->day, &c->day) || !r->county_code ||
            (r->month && !c->month)) {
            out->skipped++;
            continue;
        }
        c->county = r->county_code;
        c->unit_code = r->unit_code ? r->unit_code : "";
        c->reports = r->has_reports ? r->reports : 0;
        out->n_receipts++;
    }
    if (m->n_periods)
        out->periods = pufa_calloc(m->n_periods, sizeof *out->periods);
    for (size_t i = 0; i < m->n_periods; i++) {
        if (pufa_period_from_pb(m->periods[i], &out->periods[out->n_periods]))
            out->skipped++;
        else
            out->n_periods++;
    }
    return 0;
}

void pufa_delta_free(pufa_delta *d) {
    free(d->cells);
    free(d->receipts);
    free(d->periods);
    if (d->msg)
        pufa__commit_delta__free_unpacked(d->msg, NULL);
    memset(d, 0, sizeof *d);
}

/* ---- Dashboard ---- */

uint8_t *pufa_dashboard_encode(const pufa_dashboard *d, size_t *len) {
    Pufa__Dashboard m = PUFA__DASHBOARD__INIT;
    m.scope = s(d->scope);
    m.has_seq = 1;
    m.seq = d->seq;
    m.has_generated_at_ms = 1;
    m.generated_at_ms = d->generated_at_ms;
    size_t nw = d->n_windows, nrows = 0;
    for (size_t i = 0; i < nw; i++)
        for (int k = 0; k < PUFA_NBY; k++)
            nrows += d->windows[i].n_by[k];
    /* Everything in a few arrays, freed at the end. */
    Pufa__DashboardWindow *wins = pufa_calloc(nw ? nw : 1, sizeof *wins);
    m.windows = pufa_calloc(nw ? nw : 1, sizeof *m.windows);
    m.n_windows = nw;
    Pufa__Figures *totals = pufa_calloc(nw ? nw : 1, sizeof *totals);
    char(*days)[11] = pufa_calloc(2 * nw + 1, sizeof *days);
    Pufa__DashboardRow *rows = pufa_calloc(nrows ? nrows : 1, sizeof *rows);
    Pufa__DashboardRow **rowp = pufa_calloc(nrows ? nrows : 1, sizeof *rowp);
    Pufa__Figures *figs = pufa_calloc(nrows ? nrows : 1, sizeof *figs);
    size_t next = 0;
    for (size_t i = 0; i < nw; i++) {
        const pufa_dash_window *in = &d->windows[i];
        Pufa__DashboardWindow *w = &wins[i];
        pufa__dashboard_window__init(w);
        m.windows[i] = w;
        if (!in->window)
            continue;
        w->window = s(in->window);
        pufa_date_format(in->from, days[2 * i]);
        pufa_date_format(in->to, days[2 * i + 1]);
        w->from_day = days[2 * i];
        w->to_day = days[2 * i + 1];
        if (in->has_totals) {
            pufa_figures_to_pb(in->totals, true, &totals[i]);
            w->totals = &totals[i];
        }
        Pufa__DashboardRow ***field[PUFA_NBY] = {&w->by_county, &w->by_theme, &w->by_venue,
                                                 &w->by_form,   &w->by_unit,  &w->by_campaign};
        size_t *count[PUFA_NBY] = {&w->n_by_county, &w->n_by_theme, &w->n_by_venue,
                                   &w->n_by_form,   &w->n_by_unit,  &w->n_by_campaign};
        for (int k = 0; k < PUFA_NBY; k++) {
            if (!in->n_by[k])
                continue;
            *field[k] = &rowp[next];
            *count[k] = in->n_by[k];
            for (size_t j = 0; j < in->n_by[k]; j++, next++) {
                const pufa_dash_row *r = &in->by[k][j];
                pufa__dashboard_row__init(&rows[next]);
                rows[next].key = s(r->key);
                rows[next].label = s(r->label);
                pufa_figures_to_pb(r->fig, true, &figs[next]);
                rows[next].figures = &figs[next];
                rowp[next] = &rows[next];
            }
        }
    }
    *len = pufa__dashboard__get_packed_size(&m);
    uint8_t *buf = pufa_malloc(*len ? *len : 1);
    pufa__dashboard__pack(&m, buf);
    free(wins);
    free(m.windows);
    free(totals);
    free(days);
    free(rows);
    free(rowp);
    free(figs);
    return buf;
}

int pufa_dashboard_decode(const uint8_t *buf, size_t len, Pufa__Dashboard **out) {
    if (len > PUFA_MAX_FEED_BYTES)
        return PUFA_ETOOBIG;
    Pufa__Dashboard *d = pufa__dashboard__unpack(NULL, len, buf);
    if (!d)
        return PUFA_EPARSE;
    *out = d;
    return 0;
}

void pufa_dashboard_destroy(Pufa__Dashboard **d) {
    if (!d || !*d)
        return;
    pufa__dashboard__free_unpacked(*d, NULL);
    *d = NULL;
}
