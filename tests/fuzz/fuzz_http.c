/* The HTTP intake handler's path: a Content-Type (chosen by the first
 * byte) and a body, through format detection and the intake. */
#include "fuzz_intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const types[] = {"application/json", "application/x-ndjson",
                                        "text/csv; charset=utf-8", "text/plain", NULL};
    if (size < 1)
        return 0;
    const char *type = types[data[0] % 5];
    pufa_intake_format fmt = pufa_intake_guess_format(type, (const char *)data + 1, size - 1);
    return fuzz_intake(fmt, data + 1, size - 1);
}
