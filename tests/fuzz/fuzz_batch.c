/* The aggregator's door: a ReportBatch frame from the network. */
#include <string.h>

#include "fuzz_common.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pufa_validate_ctx v = fuzz_ctx();
    Pufa__ReportBatch *b = NULL;
    if (pufa_batch_decode(data, size, &b) != 0)
        return 0;
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
