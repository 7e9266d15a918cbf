/* JSON/CSV intake: every item is either valid (and then encodes) or names
 * at least one field. */
#include <string.h>

#include "fuzz_common.h"
#include "intake.h"
#include "wire.h"

static void on_item(void *ctx, const pufa_intake_item *item) {
    (void)ctx;
    if (item->ok) {
        size_t len;
        uint8_t *buf = pufa_report_encode(item->report, &len);
        pufa_report back;
        pufa_report_init(&back);
        FUZZ_CHECK(pufa_report_decode(buf, len, &back) == 0);
        FUZZ_CHECK(!strcmp(back.title, item->report->title));
        pufa_report_clear(&back);
        free(buf);
    } else {
        FUZZ_CHECK(item->message && item->errs->count > 0);
    }
}

static int fuzz_intake(pufa_intake_format fmt, const uint8_t *data, size_t size) {
    pufa_validate_ctx v = fuzz_ctx();
    char err[256];
    pufa_intake_parse(fmt, (const char *)data, size, &v, on_item, NULL, err, sizeof err);
    return 0;
}
