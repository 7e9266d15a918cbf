/* The collector's CSV intake (and the drop folder's .csv files). */
#include "fuzz_intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_intake(PUFA_FMT_CSV, data, size);
}
