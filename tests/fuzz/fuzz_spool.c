/* Spool recovery over arbitrary segment bytes: the scan's figures are
 * exactly what a byte-by-byte walk of the verified records gives (records,
 * skipped bytes, where the good data ends), it never reads past the end,
 * and the tail is torn exactly when the good data stops short of it. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spool_scan_result r;
    size_t start = size ? data[0] % 16 : 0;
    spool_scan(data, size, start, &r);
    size_t from = start > size ? size : start;
    FUZZ_CHECK(r.good_end >= from && r.good_end <= size);
    /* Walk the records again: a record where one verifies, else a byte. */
    uint64_t n = 0, skipped = 0;
    size_t pos = from, end = from;
    while (pos < size) {
        size_t sz = spool_record_at(data, size, pos);
        if (sz) {
            n++;
            pos += sz;
            end = pos;
        } else {
            pos++;
        }
    }
    FUZZ_CHECK(pos == size);
    FUZZ_CHECK(n == r.records);
    FUZZ_CHECK(end == r.good_end);
    /* Bytes stepped over between records (not the torn tail after the last). */
    pos = from;
    while (pos < end) {
        size_t sz = spool_record_at(data, size, pos);
        if (sz) {
            pos += sz;
        } else {
            skipped++;
            pos++;
        }
    }
    FUZZ_CHECK(skipped == r.skipped_bytes);
    FUZZ_CHECK(r.torn == (r.good_end < size));
    return 0;
}
