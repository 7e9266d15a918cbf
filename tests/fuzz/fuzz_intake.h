/* JSON/CSV intake: every item is either valid (and then encodes) or names
 * at least one field, with messages that are valid UTF-8. */
#include <string.h>

#include "fuzz_common.h"
#include "intake.h"
#include "utf8.h"
#include "wire.h"

static bool is_utf8(const char *s) {
    size_t n = strlen(s);
    return pufa_utf8_first_invalid(s, n) == n;
}

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
        /* Messages reach JSON: always valid UTF-8, never empty. */
        FUZZ_CHECK(is_utf8(item->message));
        for (int i = 0; i < item->errs->count; i++)
            FUZZ_CHECK(item->errs->e[i].message[0] && is_utf8(item->errs->e[i].message));
    }
}

/* Bodies are decoded first (textenc.h): declared, or detected. */
static int fuzz_intake_enc(pufa_intake_format fmt, pufa_encoding declared, const uint8_t *data,
                           size_t size) {
    pufa_validate_ctx v = fuzz_ctx();
    char err[256];
    if (pufa_intake_parse_text(fmt, declared, (const char *)data, size, &v, on_item, NULL, NULL,
                               err, sizeof err))
        FUZZ_CHECK(err[0] && is_utf8(err));
    return 0;
}

/* Nothing declared, as the drop folder and most senders. */
#define fuzz_intake(fmt, data, size) fuzz_intake_enc((fmt), PUFA_ENC_AUTO, (data), (size))
