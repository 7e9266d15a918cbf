/* The aggregator's door: a ReportBatch frame from the network. */
#include <string.h>

#include "fuzz_common.h"
#include "links.h"
#include "utf8.h"
#include "wire.h"

/* The link fields (5-8) and the sender name: what links_check lets through
 * is in range, whatever the frame said. */
static void check_link(const Pufa__ReportBatch *b) {
    const int64_t now = 1764000000000LL;
    link_obs o;
    char why[600];
    int rc = links_check(b, now, &o, why, sizeof why);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    FUZZ_CHECK((rc == 0) == (why[0] == '\0'));
    if (rc < 0)
        return;
    size_t len = strlen(o.sender);
    FUZZ_CHECK(len >= 1 && len <= LINKS_MAX_SENDER && pufa_utf8_valid(o.sender, len, NULL));
    FUZZ_CHECK(!o.has_as_of ||
               (o.as_of_seq >= 0 && o.as_of_ms >= 946684800000LL && o.as_of_ms <= now));
    FUZZ_CHECK(!o.has_pending || (o.pending >= 0 && o.pending <= LINKS_MAX_PENDING));
    FUZZ_CHECK(o.oldest_ms == 0 || (o.oldest_ms >= 946684800000LL && o.oldest_ms <= now));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pufa_validate_ctx v = fuzz_ctx();
    Pufa__ReportBatch *b = NULL;
    if (pufa_batch_decode(data, size, &b) != 0)
        return 0;
    check_link(b);
    for (size_t i = 0; i < b->n_reports; i++) {
        pufa_report r;
        pufa_errors errs;
        pufa_report_init(&r);
        pufa_errors_init(&errs);
        pufa_report_from_pb(b->reports[i], &r);
        if (pufa_report_validate(&r, &v, &errs) == 0) {
            /* What passes validation re-encodes and decodes to itself. */
            size_t len;
            uint8_t *buf = pufa_report_encode(&r, &len);
            pufa_report back;
            pufa_report_init(&back);
            FUZZ_CHECK(pufa_report_decode(buf, len, &back) == 0);
            FUZZ_CHECK(!strcmp(back.report_id, r.report_id) && back.revision == r.revision);
            FUZZ_CHECK(!memcmp(back.counters, r.counters, sizeof r.counters));
            pufa_report_clear(&back);
            free(buf);
        } else {
            char msg[1024];
            FUZZ_CHECK(errs.count > 0);
            pufa_errors_format(&errs, msg, sizeof msg);
        }
        pufa_report_clear(&r);
    }
    pufa__report_batch__free_unpacked(b, NULL);
    return 0;
}
