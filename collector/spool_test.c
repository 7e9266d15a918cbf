/* Unit tests: the collector's spool. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "crc32c.h"
#include "error.h"
#include "spool.h"
#include "testlib.h"

static char dir[64];

static int setup(void **state) {
    (void)state;
    return pufa_test_tmpdir(dir, sizeof dir, "spool");
}

static int teardown(void **state) {
    (void)state;
    return pufa_test_rm_rf(dir);
}

static spool *open_spool(uint64_t quota, uint64_t seg, spool_recovery *rec) {
    spool_config cfg = {.dir = dir, .quota_bytes = quota, .segment_bytes = seg};
    spool *s = NULL;
    char err[256];
    spool_recovery r;
    if (spool_open(&cfg, &s, rec ? rec : &r, err, sizeof err) != 0)
        fail_msg("spool_open: %s", err);
    return s;
}

static spool_lsn append_n(spool *s, int first, int n) {
    spool_lsn end = 0;
    for (int i = 0; i < n; i++) {
        char rec[64];
        snprintf(rec, sizeof rec, "record-%06d", first + i);
        const uint8_t *d = (const uint8_t *)rec;
        size_t len = strlen(rec);
        assert_int_equal(spool_append(s, &d, &len, 1, &end), 0);
    }
    assert_int_equal(spool_wait_durable(s, end), 0);
    return end;
}

/* Reads everything from the cursor; returns the count. */
static int read_all_count(spool *s) {
    spool_lsn pos = spool_cursor(s), at, next;
    uint8_t *data;
    size_t len;
    int n = 0;
    while (spool_read(s, pos, &data, &len, &at, &next) == 0) {
        free(data);
        pos = next;
        n++;
    }
    return n;
}

/* Reads everything from the cursor; returns the count and checks order. */
static int read_all(spool *s, int first, spool_lsn *endpos) {
    spool_lsn pos = spool_cursor(s), at, next;
    uint8_t *data;
    size_t len;
    int n = 0;
    while (spool_read(s, pos, &data, &len, &at, &next) == 0) {
        char want[64];
        snprintf(want, sizeof want, "record-%06d", first + n);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(data, want, len);
        free(data);
        pos = next;
        n++;
    }
    if (endpos)
        *endpos = pos;
    return n;
}

static void append_read_ack_and_reopen(void **state) {
    (void)state;
    spool *s = open_spool(1 << 20, 4096, NULL);
    append_n(s, 0, 500); /* many segments of 4 KiB */
    spool_lsn end;
    assert_int_equal(read_all(s, 0, &end), 500);
    spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.records, 500);
    /* Ack the first 300: their segments go away. */
    spool_lsn pos = spool_cursor(s), at, next;
    uint8_t *data;
    size_t len;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(spool_read(s, pos, &data, &len, &at, &next), 0);
        free(data);
        pos = next;
    }
    uint64_t before = st.bytes;
    spool_ack_upto(s, pos, 300);
    spool_get_stats(s, &st);
    assert_int_equal(st.records, 200);
    assert_true(st.bytes < before);
    spool_close(&s);
    /* Reopen: the cursor survived; the 200 unacked come back in order. */
    spool_recovery rec;
    s = open_spool(1 << 20, 4096, &rec);
    assert_int_equal(rec.records, 200);
    assert_int_equal(rec.torn_bytes, 0);
    assert_int_equal(read_all(s, 300, NULL), 200);
    spool_close(&s);
}

static char *last_segment(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s/*.seg | sort | tail -n 1", dir);
    FILE *p = popen(cmd, "r");
    static char path[256];
    path[0] = '\0';
    if (fgets(path, sizeof path, p))
        path[strcspn(path, "\n")] = '\0';
    pclose(p);
    return path;
}

static void torn_tail_is_cut_not_misread(void **state) {
    (void)state;
    spool *s = open_spool(1 << 20, 1 << 20, NULL);
    append_n(s, 0, 10);
    spool_close(&s);
    /* A crash in the middle of a write: half a record at the end. */
    char *seg = last_segment();
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    int fd = open(seg, O_WRONLY | O_APPEND);
    const uint8_t partial[] = {0x50, 0x55, 0x46, 0x52, 0x20, 0x00, 0x00, 0x00, 0xde, 0xad};
    assert_int_equal(write(fd, partial, sizeof partial), (ssize_t)sizeof partial);
    close(fd);
    spool_recovery rec;
    s = open_spool(1 << 20, 1 << 20, &rec);
    assert_int_equal(rec.records, 10);
    assert_int_equal(rec.torn_bytes, sizeof partial);
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(read_all(s, 0, NULL), 10);
    /* Appending goes on after the cut. */
    append_n(s, 10, 5);
    assert_int_equal(read_all(s, 0, NULL), 15);
    spool_close(&s);
}

static void record_cut_mid_payload_is_dropped(void **state) {
    (void)state;
    spool *s = open_spool(1 << 20, 1 << 20, NULL);
    append_n(s, 0, 10);
    spool_close(&s);
    char *seg = last_segment();
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(truncate(seg, st.st_size - 3), 0); /* the last record loses 3 bytes */
    spool_recovery rec;
    s = open_spool(1 << 20, 1 << 20, &rec);
    assert_int_equal(rec.records, 9);
    assert_true(rec.torn_bytes > 0);
    assert_int_equal(read_all(s, 0, NULL), 9);
    spool_close(&s);
}

static void corrupted_byte_skips_one_record_only(void **state) {
    (void)state;
    spool *s = open_spool(1 << 20, 1 << 20, NULL);
    append_n(s, 0, 10);
    spool_close(&s);
    char *seg = last_segment();
    int fd = open(seg, O_RDWR);
    /* Each record is 12 + 13 bytes; flip a payload byte of record 3. */
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 3 * 25 + 14), 1);
    b ^= 0xFF;
    assert_int_equal(pwrite(fd, &b, 1, 3 * 25 + 14), 1);
    close(fd);
    spool_recovery rec;
    s = open_spool(1 << 20, 1 << 20, &rec);
    assert_int_equal(rec.records, 9);
    assert_int_equal(rec.skipped_bytes, 25);
    /* The reader skips it too: 0,1,2,4,...,9. */
    spool_lsn pos = spool_cursor(s), at, next;
    uint8_t *data;
    size_t len;
    int seen = 0;
    while (spool_read(s, pos, &data, &len, &at, &next) == 0) {
        assert_true(memcmp(data, "record-000003", 13) != 0);
        free(data);
        pos = next;
        seen++;
    }
    assert_int_equal(seen, 9);
    /* Counted once as a lost record, however often it is read past. */
    spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.bad_records, 1);
    assert_int_equal(read_all_count(s), 9);
    spool_get_stats(s, &st);
    assert_int_equal(st.bad_records, 1);
    spool_close(&s);
}

/* The last record, whole but with a flipped payload byte, looks like a torn
 * tail and is cut: counted as a bad record, not only as torn bytes. */
static void corrupted_last_record_is_cut_and_counted(void **state) {
    (void)state;
    spool *s = open_spool(1 << 20, 1 << 20, NULL);
    append_n(s, 0, 10);
    spool_close(&s);
    char *seg = last_segment();
    int fd = open(seg, O_RDWR);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 9 * 25 + 20), 1);
    b ^= 0x5A;
    assert_int_equal(pwrite(fd, &b, 1, 9 * 25 + 20), 1);
    close(fd);
    spool_recovery rec;
    s = open_spool(1 << 20, 1 << 20, &rec);
    assert_int_equal(rec.records, 9);
    assert_int_equal(rec.torn_bytes, 25);
    assert_int_equal(rec.bad_records, 1);
    spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.bad_records, 1);
    assert_int_equal(read_all(s, 0, NULL), 9);
    spool_close(&s);
}

/* A half-written record at the tail is torn, not a bad record. */
static void torn_write_is_not_a_bad_record(void **state) {
    (void)state;
    spool *s = open_spool(1 << 20, 1 << 20, NULL);
    append_n(s, 0, 10);
    spool_close(&s);
    char *seg = last_segment();
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(truncate(seg, st.st_size - 3), 0);
    spool_recovery rec;
    s = open_spool(1 << 20, 1 << 20, &rec);
    assert_int_equal(rec.records, 9);
    assert_int_equal(rec.bad_records, 0);
    spool_close(&s);
}

static void quota_refuses_and_keeps_what_it_has(void **state) {
    (void)state;
    spool *s = open_spool(25 * 20, 25 * 5, NULL);
    append_n(s, 0, 20);
    const uint8_t *d = (const uint8_t *)"record-999999";
    size_t len = 13;
    spool_lsn end;
    assert_int_equal(spool_append(s, &d, &len, 1, &end), PUFA_EQUOTA);
    assert_int_equal(read_all(s, 0, NULL), 20);
    /* Acking makes room again. */
    spool_lsn last;
    read_all(s, 0, &last);
    spool_ack_upto(s, last, 20);
    assert_int_equal(spool_append(s, &d, &len, 1, &end), 0);
    spool_close(&s);
}

static void oversized_record_is_refused(void **state) {
    (void)state;
    spool *s = open_spool(1 << 22, 1 << 22, NULL);
    uint8_t *big = pufa_calloc(1, SPOOL_MAX_RECORD + 1);
    const uint8_t *d = big;
    size_t len = SPOOL_MAX_RECORD + 1;
    spool_lsn end;
    assert_int_equal(spool_append(s, &d, &len, 1, &end), PUFA_ETOOBIG);
    free(big);
    spool_close(&s);
}

/* ---- spool_scan over bytes in memory (no files) ---- */

/* Appends one framed record with payload p[0..n) to b. */
static void frame(pufa_buf *b, const char *p, uint32_t n) {
    uint8_t h[SPOOL_HEADER];
    const uint32_t magic = 0x52465550u, v[2] = {magic, n};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 4; i++)
            h[4 * k + i] = (uint8_t)(v[k] >> (8 * i));
    uint32_t crc = pufa_crc32c(0, h + 4, 4);
    crc = pufa_crc32c(crc, p, n);
    for (int i = 0; i < 4; i++)
        h[8 + i] = (uint8_t)(crc >> (8 * i));
    pufa_buf_append(b, h, sizeof h);
    pufa_buf_append(b, p, n);
}

static void scan_counts_records_and_finds_the_end(void **state) {
    (void)state;
    pufa_buf b;
    pufa_buf_init(&b);
    frame(&b, "alpha", 5);
    size_t second = b.len;
    frame(&b, "beta-beta", 9);
    frame(&b, "c", 1);
    size_t end = b.len;
    spool_scan_result r;
    spool_scan((const uint8_t *)b.data, b.len, 0, &r);
    assert_int_equal(r.records, 3);
    assert_int_equal(r.skipped_bytes, 0);
    assert_int_equal(r.good_end, end);
    assert_false(r.torn);
    /* From the second record on (the ack cursor's offset). */
    spool_scan((const uint8_t *)b.data, b.len, second, &r);
    assert_int_equal(r.records, 2);
    assert_int_equal(spool_record_at((const uint8_t *)b.data, b.len, second), SPOOL_HEADER + 9);
    assert_int_equal(spool_record_at((const uint8_t *)b.data, b.len, second + 1), 0);
    /* A start past the end finds nothing, and says so without reading. */
    spool_scan((const uint8_t *)b.data, b.len, b.len + 100, &r);
    assert_int_equal(r.records, 0);
    assert_int_equal(r.good_end, b.len);
    assert_false(r.torn);

    /* A half-written record at the end is a torn tail, not a record. */
    frame(&b, "torn-record", 11);
    b.len -= 4;
    spool_scan((const uint8_t *)b.data, b.len, 0, &r);
    assert_int_equal(r.records, 3);
    assert_int_equal(r.good_end, end);
    assert_true(r.torn);
    pufa_buf_free(&b);
}

static void scan_skips_a_corrupted_region_to_the_next_record(void **state) {
    (void)state;
    pufa_buf b;
    pufa_buf_init(&b);
    frame(&b, "one", 3);
    size_t bad = b.len;
    frame(&b, "two-two", 7);
    size_t third = b.len;
    frame(&b, "three", 5);
    pufa_buf_append(&b, "garbage", 7); /* junk between records */
    frame(&b, "four", 4);
    size_t end = b.len;
    b.data[bad + SPOOL_HEADER + 2] ^= 0x40; /* a flipped bit in "two-two" */
    spool_scan_result r;
    spool_scan((const uint8_t *)b.data, b.len, 0, &r);
    assert_int_equal(r.records, 3);
    assert_int_equal(r.skipped_bytes, (third - bad) + 7);
    assert_int_equal(r.good_end, end);
    assert_false(r.torn);
    /* A wrong length field is caught by the CRC too. */
    b.data[third + 4] = 4;
    spool_scan((const uint8_t *)b.data, b.len, 0, &r);
    assert_int_equal(r.records, 2);
    pufa_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(append_read_ack_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_is_cut_not_misread, setup, teardown),
        cmocka_unit_test_setup_teardown(record_cut_mid_payload_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupted_byte_skips_one_record_only, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupted_last_record_is_cut_and_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_write_is_not_a_bad_record, setup, teardown),
        cmocka_unit_test_setup_teardown(quota_refuses_and_keeps_what_it_has, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_record_is_refused, setup, teardown),
        cmocka_unit_test(scan_counts_records_and_finds_the_end),
        cmocka_unit_test(scan_skips_a_corrupted_region_to_the_next_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
