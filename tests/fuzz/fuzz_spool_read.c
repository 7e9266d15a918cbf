/* The spool's reader (spool_read) over arbitrary segment files, as the
 * sender sees them after a restart: recovery (spool_open) then reads from
 * the ack cursor to the end.  Every record read is exactly one that
 * verifies in the bytes written (same segment, offset and payload, in
 * order, none missed), as many as recovery counted, and nothing is read
 * past the durable end.
 * Input: one byte choosing the ack cursor (0: no cursor file; else segment
 * 1 + (b >> 5) % segments, offset b & 31), then the segments' bytes, split
 * at each "PUFASEG\n" (at most 4 segments). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "fuzz_common.h"
#include "log.h"
#include "spool.h"

#define SPLIT    "PUFASEG\n"
#define MAX_SEGS 4

typedef struct want {
    uint32_t seg, off, len;
    const uint8_t *payload;
} want;

/* The first SPLIT in [p, end), or NULL. */
static const uint8_t *find_split(const uint8_t *p, const uint8_t *end) {
    for (; end - p >= 8; p++)
        if (!memcmp(p, SPLIT, 8))
            return p;
    return NULL;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
    char *path = pufa_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, len, f) == len && fclose(f) == 0);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    pufa_log_set_level("fatal"); /* recovery reports every corrupted region */
    const uint8_t *seg[MAX_SEGS];
    size_t seglen[MAX_SEGS], nseg = 0;
    const uint8_t *p = data + 1, *end = data + size;
    while (nseg < MAX_SEGS) {
        const uint8_t *cut = nseg < MAX_SEGS - 1 ? find_split(p, end) : NULL;
        seg[nseg] = p;
        seglen[nseg++] = cut ? (size_t)(cut - p) : (size_t)(end - p);
        if (!cut)
            break;
        p = cut + 8;
    }
    uint32_t cseg = 1, coff = 0;
    if (data[0]) {
        cseg = 1 + (uint32_t)((data[0] >> 5) % nseg);
        coff = data[0] & 31;
    }

    char *dir = fuzz_tmpdir("fuzz-spool-read");
    for (size_t i = 0; i < nseg; i++) {
        char name[32];
        snprintf(name, sizeof name, "%010zu.seg", i + 1);
        write_file(dir, name, seg[i], seglen[i]);
    }
    if (data[0]) {
        char text[32];
        int n = snprintf(text, sizeof text, "%016llx\n",
                         (unsigned long long)cseg << 32 | (unsigned long long)coff);
        write_file(dir, "cursor", text, (size_t)n);
    }

    /* What a reader must find: the records that verify, segment by segment
     * from the cursor, walking as recovery does. */
    want *w = pufa_calloc(size / SPOOL_HEADER + 1, sizeof *w);
    size_t nwant = 0;
    size_t last_good_end = 0;
    for (uint32_t s = cseg; s <= nseg; s++) {
        const uint8_t *b = seg[s - 1];
        size_t len = seglen[s - 1], pos = s == cseg ? coff : 0;
        spool_scan_result r;
        spool_scan(b, len, pos, &r);
        last_good_end = r.good_end;
        while (pos < len) {
            size_t sz = spool_record_at(b, len, pos);
            if (!sz) {
                pos++;
                continue;
            }
            w[nwant++] =
                (want){s, (uint32_t)pos, (uint32_t)(sz - SPOOL_HEADER), b + pos + SPOOL_HEADER};
            pos += sz;
        }
    }

    spool_config cfg = {.dir = dir, .quota_bytes = 1u << 30, .segment_bytes = 1u << 30};
    spool *sp;
    spool_recovery rec;
    char err[256];
    FUZZ_CHECK(spool_open(&cfg, &sp, &rec, err, sizeof err) == 0);
    FUZZ_CHECK(rec.records == nwant);
    spool_stats st;
    spool_get_stats(sp, &st);
    FUZZ_CHECK(st.records == nwant);
    /* The last segment's torn tail was cut, nothing else. */
    char *last = pufa_asprintf("%s/%010zu.seg", dir, nseg);
    struct stat sb;
    FUZZ_CHECK(stat(last, &sb) == 0 && (size_t)sb.st_size == last_good_end);
    free(last);

    spool_lsn pos = spool_cursor(sp);
    size_t got = 0;
    for (;;) {
        uint8_t *rec_data;
        size_t len;
        spool_lsn at, next;
        int rc = spool_read(sp, pos, &rec_data, &len, &at, &next);
        if (rc == PUFA_ENOTFOUND)
            break;
        FUZZ_CHECK(rc == 0 && got < nwant);
        const want *x = &w[got++];
        FUZZ_CHECK(at >= pos && at >> 32 == x->seg && (uint32_t)at == x->off);
        FUZZ_CHECK(len == x->len && !memcmp(rec_data, x->payload, len));
        FUZZ_CHECK(next == at + SPOOL_HEADER + len);
        free(rec_data);
        pos = next;
    }
    FUZZ_CHECK(got == nwant);
    spool_close(&sp);
    fuzz_rmdir(dir);
    free(dir);
    free(w);
    return 0;
}
