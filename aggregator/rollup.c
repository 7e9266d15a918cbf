#include "rollup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "copy.h"
#include "error.h"
#include "pg.h"
#include "store_sql.h"

void rollup_set_init(rollup_set *s) {
    memset(s, 0, sizeof *s);
}

void rollup_set_free(rollup_set *s) {
    free(s->cells);
    free(s->receipts);
    rollup_set_init(s);
}

void rollup_set_reset(rollup_set *s) {
    s->n = 0;
    s->nr = 0;
}

static const char *nz(const char *s) {
    return s ? s : "";
}

void rollup_add_report(rollup_set *s, const pufa_report *r, int sign) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->cells = pufa_realloc(s->cells, s->cap * sizeof *s->cells);
    }
    rollup_cell *c = &s->cells[s->n++];
    memset(c, 0, sizeof *c);
    c->day = r->occurred_day;
    snprintf(c->county, sizeof c->county, "%s", nz(r->county_code));
    c->theme = (int16_t)r->theme;
    c->venue = (int16_t)r->venue;
    c->form = (int16_t)r->form;
    c->unit_code = nz(r->unit_code);
    c->campaign = nz(r->campaign);
    c->fig[0] = sign;
    for (int i = 0; i < PUFA_NCOUNTERS; i++)
        c->fig[1 + i] = sign * r->counters[i];
}

void rollup_add_receipt(rollup_set *s, const pufa_report *r, int64_t received_ms) {
    if (s->nr == s->rcap) {
        s->rcap = s->rcap ? s->rcap * 2 : 256;
        s->receipts = pufa_realloc(s->receipts, s->rcap * sizeof *s->receipts);
    }
    receipt_cell *c = &s->receipts[s->nr++];
    memset(c, 0, sizeof *c);
    c->day = pufa_city_day(received_ms);
    snprintf(c->county, sizeof c->county, "%s", nz(r->county_code));
    c->unit_code = nz(r->unit_code);
    c->reports = 1;
    c->last_ms = received_ms;
}

static int cmp_cell(const void *pa, const void *pb) {
    const rollup_cell *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    int c = strcmp(a->county, b->county);
    if (c)
        return c;
    if (a->theme != b->theme)
        return a->theme - b->theme;
    if (a->venue != b->venue)
        return a->venue - b->venue;
    if (a->form != b->form)
        return a->form - b->form;
    if ((c = strcmp(a->unit_code, b->unit_code)))
        return c;
    return strcmp(a->campaign, b->campaign);
}

static int cmp_receipt(const void *pa, const void *pb) {
    const receipt_cell *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    int c = strcmp(a->county, b->county);
    return c ? c : strcmp(a->unit_code, b->unit_code);
}

void rollup_fold(rollup_set *s) {
    if (s->n) {
        qsort(s->cells, s->n, sizeof *s->cells, cmp_cell);
        size_t out = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (out > 0 && cmp_cell(&s->cells[out - 1], &s->cells[i]) == 0) {
                for (int f = 0; f < ROLLUP_NFIG; f++)
                    s->cells[out - 1].fig[f] += s->cells[i].fig[f];
            } else {
                s->cells[out++] = s->cells[i];
            }
        }
        /* A replacement with the same figures cancels out. */
        size_t kept = 0;
        for (size_t i = 0; i < out; i++) {
            bool zero = true;
            for (int f = 0; f < ROLLUP_NFIG && zero; f++)
                zero = s->cells[i].fig[f] == 0;
            if (!zero)
                s->cells[kept++] = s->cells[i];
        }
        s->n = kept;
    }
    if (s->nr) {
        qsort(s->receipts, s->nr, sizeof *s->receipts, cmp_receipt);
        size_t out = 0;
        for (size_t i = 0; i < s->nr; i++) {
            if (out > 0 && cmp_receipt(&s->receipts[out - 1], &s->receipts[i]) == 0) {
                s->receipts[out - 1].reports += s->receipts[i].reports;
                if (s->receipts[i].last_ms > s->receipts[out - 1].last_ms)
                    s->receipts[out - 1].last_ms = s->receipts[i].last_ms;
            } else {
                s->receipts[out++] = s->receipts[i];
            }
        }
        s->nr = out;
    }
}


int rollup_store(PGconn *conn, const rollup_set *s, uint64_t seq, pufa_buf *copybuf, char *err,
                 size_t errsize) {
    int rc = 0;
    if (s->n) {
        /* The journal is append-only: COPY, no index to update, no conflict
         * to resolve.  The compactor folds it into rollup_dim later. */
        copy_begin(copybuf);
        for (size_t i = 0; i < s->n; i++) {
            const rollup_cell *c = &s->cells[i];
            copy_tuple(copybuf, 8 + ROLLUP_NFIG);
            copy_int8(copybuf, (int64_t)seq);
            copy_date(copybuf, c->day);
            copy_text(copybuf, c->county);
            copy_int2(copybuf, c->theme);
            copy_int2(copybuf, c->venue);
            copy_int2(copybuf, c->form);
            copy_text(copybuf, c->unit_code);
            copy_text(copybuf, c->campaign);
            for (int f = 0; f < ROLLUP_NFIG; f++)
                copy_int8(copybuf, c->fig[f]);
        }
        copy_end(copybuf);
        if ((rc = copy_in(conn, SQL_JOURNAL_COPY, copybuf, "rollup journal", err, errsize)))
            return rc;
    }
    if (s->nr) {
        pufa_buf arr[5];
        for (int i = 0; i < 5; i++) {
            pufa_buf_init(&arr[i]);
            pufa_pgarr_open(&arr[i]);
        }
        for (size_t i = 0; i < s->nr; i++) {
            const receipt_cell *c = &s->receipts[i];
            char day[11];
            pufa_date_format(c->day, day);
            pufa_pgarr_text(&arr[0], day);
            pufa_pgarr_text(&arr[1], c->county);
            pufa_pgarr_text(&arr[2], c->unit_code);
            pufa_pgarr_int(&arr[3], c->reports);
            pufa_pgarr_int(&arr[4], c->last_ms);
        }
        const char *params[5];
        for (int i = 0; i < 5; i++) {
            pufa_pgarr_close(&arr[i]);
            params[i] = arr[i].data;
        }
        PGresult *r = PQexecParams(conn, SQL_RECEIPT_UPSERT, 5, NULL, params, NULL, NULL, 0);
        rc = store_check(conn, r, PGRES_COMMAND_OK, "receipts", err, errsize);
        PQclear(r);
        for (int i = 0; i < 5; i++)
            pufa_buf_free(&arr[i]);
    }
    return rc;
}

void rollup_encode_delta(const rollup_set *s, uint64_t seq, int64_t committed_ms, uint8_t **out,
                         size_t *len) {
    Pufa__CommitDelta d = PUFA__COMMIT_DELTA__INIT;
    d.has_seq = 1;
    d.seq = seq;
    d.has_committed_at_ms = 1;
    d.committed_at_ms = committed_ms;
    d.n_rollups = s->n;
    d.rollups = pufa_calloc(s->n ? s->n : 1, sizeof(Pufa__RollupDelta *));
    Pufa__RollupDelta *rd = pufa_calloc(s->n ? s->n : 1, sizeof *rd);
    Pufa__Figures *fg = pufa_calloc(s->n ? s->n : 1, sizeof *fg);
    char (*days)[11] = pufa_calloc(s->n + s->nr + 1, 11);
    for (size_t i = 0; i < s->n; i++) {
        const rollup_cell *c = &s->cells[i];
        Pufa__RollupDelta init = PUFA__ROLLUP_DELTA__INIT;
        Pufa__Figures finit = PUFA__FIGURES__INIT;
        rd[i] = init;
        fg[i] = finit;
        pufa_date_format(c->day, days[i]);
        rd[i].day = days[i];
        rd[i].county_code = (char *)c->county;
        rd[i].has_theme = rd[i].has_venue = rd[i].has_form = 1;
        rd[i].theme = (Pufa__Theme)c->theme;
        rd[i].venue = (Pufa__Venue)c->venue;
        rd[i].form = (Pufa__Form)c->form;
        rd[i].unit_code = (char *)c->unit_code;
        rd[i].campaign = (char *)c->campaign;
        int64_t *dst[ROLLUP_NFIG] = {
            &fg[i].reports,       &fg[i].sessions,      &fg[i].participants, &fg[i].materials,
            &fg[i].consultations, &fg[i].banners,       &fg[i].led_messages, &fg[i].online_posts,
            &fg[i].online_views,  &fg[i].volunteers,    &fg[i].funds_fen,
        };
        protobuf_c_boolean *has[ROLLUP_NFIG] = {
            &fg[i].has_reports,       &fg[i].has_sessions,     &fg[i].has_participants,
            &fg[i].has_materials,     &fg[i].has_consultations, &fg[i].has_banners,
            &fg[i].has_led_messages,  &fg[i].has_online_posts, &fg[i].has_online_views,
            &fg[i].has_volunteers,    &fg[i].has_funds_fen,
        };
        for (int f = 0; f < ROLLUP_NFIG; f++) {
            *dst[f] = c->fig[f];
            *has[f] = c->fig[f] != 0;
        }
        rd[i].delta = &fg[i];
        d.rollups[i] = &rd[i];
    }
    d.n_receipts = s->nr;
    d.receipts = pufa_calloc(s->nr ? s->nr : 1, sizeof(Pufa__Receipt *));
    Pufa__Receipt *rc = pufa_calloc(s->nr ? s->nr : 1, sizeof *rc);
    for (size_t i = 0; i < s->nr; i++) {
        Pufa__Receipt init = PUFA__RECEIPT__INIT;
        rc[i] = init;
        pufa_date_format(s->receipts[i].day, days[s->n + i]);
        rc[i].day = days[s->n + i];
        rc[i].county_code = (char *)s->receipts[i].county;
        rc[i].unit_code = (char *)s->receipts[i].unit_code;
        rc[i].has_reports = 1;
        rc[i].reports = s->receipts[i].reports;
        d.receipts[i] = &rc[i];
    }
    *len = pufa__commit_delta__get_packed_size(&d);
    *out = pufa_malloc(*len);
    pufa__commit_delta__pack(&d, *out);
    free(d.rollups);
    free(rd);
    free(fg);
    free(d.receipts);
    free(rc);
    free(days);
}
