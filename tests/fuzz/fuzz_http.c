/* The HTTP intake handler's path: a Content-Type (chosen by the first
 * byte) and a body, through format and charset detection, decoding and the
 * intake. */
#include "fuzz_intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const types[] = {"application/json",
                                        "application/x-ndjson",
                                        "text/csv; charset=utf-8",
                                        "text/plain",
                                        NULL,
                                        "text/csv",
                                        "text/csv; charset=gb18030",
                                        "application/json; charset=GBK"};
    if (size < 1)
        return 0;
    const char *type = types[data[0] % 8];
    pufa_intake_format fmt = pufa_intake_guess_format(type, (const char *)data + 1, size - 1);
    pufa_encoding declared;
    char err[128];
    if (pufa_encoding_from_content_type(type, &declared, err, sizeof err))
        return 0;
    return fuzz_intake_enc(fmt, declared, data + 1, size - 1);
}
