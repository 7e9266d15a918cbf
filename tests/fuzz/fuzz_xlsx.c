/* The collector's XLSX intake (HTTP, the drop folder's .xlsx files): the
 * zip (libzip), the XML (expat), the limits and the row mapping. */
#include "fuzz_intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_intake(PUFA_FMT_XLSX, data, size);
}
