/* The publisher's feed: arbitrary (topic, body) frames through
 * pub_feed_apply, one after another, on a live state whose model holds a
 * snapshot.  No
 * frame crashes; the verdict follows from the frame's seq alone; the next
 * delta is applied whole (every cell it names moves by exactly the sum of
 * its rollups, the seq advances, its receipts are noted) or, refused, not
 * at all (no cell, seq or receipt moves); nothing else changes the model.
 * Input: up to 8 frames, each [kind][length, 2 bytes little endian][body];
 * kind % 3 picks the topic: "delta", "hb", or the wrong "delt". */
#include <string.h>

#include "date.h"
#include "enums.h"
#include "feed.h"
#include "fuzz_common.h"
#include "live.h"
#include "model.h"
#include "pufa.pb-c.h"

#define MAX_FRAMES  8
#define MAX_CHECKED 64 /* rollups and receipts checked per frame */

static int64_t cell_total(pub_model *m, pufa_day day, const char *county, int k) {
    pub_row *rows;
    int64_t tot[NFIG], v = 0;
    pub_model_rdlock(m);
    uint32_t c = pub_model_county_index(m, county);
    size_t n = pub_model_query(m, day, day, DIM_COUNTY, NULL, &rows, tot);
    pub_model_unlock(m);
    for (size_t i = 0; i < n; i++)
        if (rows[i].value == c)
            v = rows[i].fig[k];
    free(rows);
    return v;
}

static pufa_day last_report(pub_model *m, const char *county) {
    pub_model_rdlock(m);
    uint32_t c = pub_model_county_index(m, county);
    pufa_day d = c == UINT32_MAX ? -1 : pub_model_last_report(m, c, NULL);
    pub_model_unlock(m);
    return d;
}

static int64_t fig_of(const Pufa__Figures *g, int k) {
#define FIG_OF_(up, low, label, max) g->low,
    const int64_t v[NFIG] = {g->reports, PUFA_COUNTER_MAP(FIG_OF_)};
#undef FIG_OF_
    return v[k];
}

static void check_frame(pub_live *l, int kind, const uint8_t *body, size_t len, pufa_day today) {
    static const char *const topics[] = {"delta", "hb", "delt"};
    const char *topic = topics[kind % 3];
    bool is_delta = kind % 3 == 0;
    pub_model *m = pub_live_model(l);
    Pufa__CommitDelta *d = pufa__commit_delta__unpack(NULL, len, body);
    pub_model_rdlock(m);
    uint64_t have = pub_model_seq(m);
    pub_model_unlock(m);
    /* The cells the frame names (reports and funds), and its receipts. */
    size_t nr = d ? (d->n_rollups < MAX_CHECKED ? d->n_rollups : MAX_CHECKED) : 0;
    size_t nrc = d ? (d->n_receipts < MAX_CHECKED ? d->n_receipts : MAX_CHECKED) : 0;
    pufa_day day[MAX_CHECKED];
    bool named[MAX_CHECKED];
    int64_t before[MAX_CHECKED][2];
    uint64_t sum[MAX_CHECKED][2];
    const int ks[2] = {0, NFIG - 1};
    for (size_t i = 0; i < nr; i++) {
        const Pufa__RollupDelta *r = d->rollups[i];
        named[i] = r->day && !pufa_date_parse(r->day, &day[i]) && r->county_code;
        for (int j = 0; j < 2 && named[i]; j++) {
            before[i][j] = cell_total(m, day[i], r->county_code, ks[j]);
            sum[i][j] = 0; /* wrapping: the model's cell is checked to fit */
            for (size_t o = 0; o < d->n_rollups; o++) {
                const Pufa__RollupDelta *x = d->rollups[o];
                pufa_day xd;
                if (x->day && !pufa_date_parse(x->day, &xd) && xd == day[i] && x->county_code &&
                    !strcmp(x->county_code, r->county_code) && x->delta)
                    sum[i][j] += (uint64_t)fig_of(x->delta, ks[j]);
            }
        }
    }
    pufa_day rday[MAX_CHECKED], rbefore[MAX_CHECKED];
    bool rnamed[MAX_CHECKED];
    for (size_t i = 0; i < nrc; i++) {
        const Pufa__Receipt *r = d->receipts[i];
        rnamed[i] = r->day && !pufa_date_parse(r->day, &rday[i]) && r->county_code;
        rbefore[i] = rnamed[i] ? last_report(m, r->county_code) : -1;
    }

    uint64_t seq;
    char why[160];
    pub_feed_verdict v =
        pub_feed_apply(l, topic, strlen(topic), body, len, today, &seq, why, sizeof why);

    /* The verdict is the seq's. */
    if (!d || !d->has_seq) {
        FUZZ_CHECK(v == PUB_FEED_UNDECODABLE && seq == 0);
    } else {
        FUZZ_CHECK(seq == d->seq);
        if (!is_delta)
            FUZZ_CHECK(v == (d->seq > have   ? PUB_FEED_GAP
                             : d->seq < have ? PUB_FEED_BEHIND
                                             : PUB_FEED_HEARTBEAT));
        else if (d->seq <= have)
            FUZZ_CHECK(v == PUB_FEED_DROPPED);
        else if (d->seq != have + 1)
            FUZZ_CHECK(v == PUB_FEED_GAP);
        else
            FUZZ_CHECK(v == PUB_FEED_APPLIED || (v == PUB_FEED_REFUSED && why[0]));
    }
    pub_model_rdlock(m);
    uint64_t now = pub_model_seq(m);
    pub_model_unlock(m);
    bool applied = v == PUB_FEED_APPLIED;
    FUZZ_CHECK(now == (applied ? have + 1 : have));
    /* Whole or nothing. */
    for (size_t i = 0; i < nr; i++) {
        const Pufa__RollupDelta *r = d->rollups[i];
        for (int j = 0; j < 2 && named[i]; j++) {
            int64_t after = cell_total(m, day[i], r->county_code, ks[j]);
            uint64_t want = applied ? (uint64_t)before[i][j] + sum[i][j] : (uint64_t)before[i][j];
            FUZZ_CHECK((uint64_t)after == want);
        }
        if (applied) /* nothing the model would drop or misfile */
            FUZZ_CHECK(named[i] && day[i] <= today + 7 && r->delta &&
                       (unsigned)r->theme <= PUFA_THEME_MAX &&
                       (unsigned)r->venue <= PUFA_VENUE_MAX && (unsigned)r->form <= PUFA_FORM_MAX);
    }
    for (size_t i = 0; i < nrc; i++) {
        if (!rnamed[i])
            continue;
        const char *county = d->receipts[i]->county_code;
        pufa_day want = rbefore[i];
        for (size_t o = 0; applied && o < d->n_receipts; o++) {
            const Pufa__Receipt *x = d->receipts[o];
            pufa_day xd;
            if (x->day && !pufa_date_parse(x->day, &xd) && x->county_code &&
                !strcmp(x->county_code, county) && xd > want)
                want = xd;
        }
        FUZZ_CHECK(last_report(m, county) == want);
    }
    if (d)
        pufa__commit_delta__free_unpacked(d, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pufa_day today = pufa_date_from_ymd(2026, 11, 23);
    /* The snapshot: seq 1, a cell and a receipt in 150821. */
    pub_live *l = pub_live_new();
    pub_model *m = pub_live_model(l);
    int64_t fig[NFIG];
    for (int k = 0; k < NFIG; k++)
        fig[k] = 5;
    pub_model_wrlock(m);
    pub_model_set_county_name(m, "150821", "临河区");
    FUZZ_CHECK(pub_model_add(m, today - 3, "150821", 1, 2, 3, "U1", "", "", fig) == 0);
    pub_model_receipt(m, today - 3, "150821", "U1");
    pub_model_set_seq(m, 1);
    pub_model_unlock(m);

    size_t pos = 0;
    for (int n = 0; n < MAX_FRAMES && size - pos >= 3; n++) {
        int kind = data[pos];
        size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        check_frame(l, kind, data + pos, len, today);
        pos += len;
    }
    pub_live_destroy(&l);
    return 0;
}
