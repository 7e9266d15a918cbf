#include "wire.h"

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
    int64_t *const dst[PUFA_NCOUNTERS] = {
        &m->sessions, &m->participants, &m->materials, &m->consultations, &m->banners,
        &m->led_messages, &m->online_posts, &m->online_views, &m->volunteers, &m->funds_fen,
    };
    protobuf_c_boolean *const has[PUFA_NCOUNTERS] = {
        &m->has_sessions, &m->has_participants, &m->has_materials, &m->has_consultations,
        &m->has_banners, &m->has_led_messages, &m->has_online_posts, &m->has_online_views,
        &m->has_volunteers, &m->has_funds_fen,
    };
    for (int c = 0; c < PUFA_NCOUNTERS; c++) {
        *dst[c] = r->counters[c];
        *has[c] = r->counters[c] != 0;
    }
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
    const int64_t src[PUFA_NCOUNTERS] = {
        m->sessions, m->participants, m->materials, m->consultations, m->banners,
        m->led_messages, m->online_posts, m->online_views, m->volunteers, m->funds_fen,
    };
    for (int c = 0; c < PUFA_NCOUNTERS; c++)
        r->counters[c] = src[c];
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
