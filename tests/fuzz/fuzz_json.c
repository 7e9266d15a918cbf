/* The collector's JSON intake (object, array, JSON Lines). */
#include "fuzz_intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_intake(PUFA_FMT_JSON, data, size);
}
