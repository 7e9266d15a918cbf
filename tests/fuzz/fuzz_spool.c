/* Spool recovery over arbitrary segment bytes: every record it counts is
 * valid, it never reads past the end, and its tail verdict is consistent. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spool_scan_result r;
    size_t start = size ? data[0] % 16 : 0;
    spool_scan(data, size, start, &r);
    FUZZ_CHECK(r.good_end <= size);
    FUZZ_CHECK(r.good_end >= (start > size ? size : start));
    /* Walk the records again: the count matches what verifies. */
    uint64_t n = 0;
    size_t pos = start > size ? size : start;
    while (pos < r.good_end) {
        size_t sz = spool_record_at(data, size, pos);
        if (sz) {
            n++;
            pos += sz;
        } else {
            pos++;
        }
    }
    FUZZ_CHECK(n >= r.records);
    FUZZ_CHECK(!r.torn || r.good_end < size);
    return 0;
}
