/* Writes the binary seed corpora with the real encoders and spool:
 *   batch       ReportBatches of the sample reports
 *   spool       a spool segment holding them
 *   spool_read  that segment behind fuzz_spool_read's cursor byte, alone and
 *               split in two segments
 *   ack         BatchAcks of fuzz_ack's window (every status, a refusal)
 *   feed        CommitDelta/heartbeat frames as fuzz_feed reads them
 *   make_seeds SAMPLE.jsonl OUT_DIR      (OUT_DIR: tests/fuzz/corpus) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "date.h"
#include "file.h"
#include "report_json.h"
#include "spool.h"
#include "wire.h"

static void write_seed(const char *dir, const char *target, const char *name, const void *data,
                       size_t len) {
    char *path = pufa_asprintf("%s/%s/%s", dir, target, name);
    FILE *o = fopen(path, "wb");
    if (!o || fwrite(data, 1, len, o) != len || fclose(o) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(73);
    }
    free(path);
}

static uint8_t *read_seed(const char *dir, const char *target, const char *name, size_t *len) {
    char *path = pufa_asprintf("%s/%s/%s", dir, target, name);
    char *buf;
    int rc = pufa_read_file(path, 0, &buf, len, NULL, 0);
    free(path);
    if (rc)
        exit(66);
    return (uint8_t *)buf;
}

/* fuzz_spool_read: [cursor byte][segment]["PUFASEG\n"][segment]... */
static void spool_read_seeds(const char *dir) {
    size_t len;
    uint8_t *seg = read_seed(dir, "spool", "seed-segment", &len);
    pufa_buf b;
    pufa_buf_init(&b);
    pufa_buf_putc(&b, 0); /* no cursor file */
    pufa_buf_append(&b, seg, len);
    write_seed(dir, "spool_read", "one-segment", b.data, b.len);
    /* Two segments cut between records, the cursor past the first
     * record's header (so recovery and reading resync to the second). */
    size_t cut = 12 + ((size_t)seg[4] | (size_t)seg[5] << 8);
    b.len = 0;
    pufa_buf_putc(&b, (char)(0 << 5 | 7));
    pufa_buf_append(&b, seg, cut);
    pufa_buf_puts(&b, "PUFASEG\n");
    pufa_buf_append(&b, seg + cut, len - cut);
    write_seed(dir, "spool_read", "two-segments", b.data, b.len);
    /* The same with a torn tail on the last segment. */
    b.len -= 5;
    write_seed(dir, "spool_read", "torn-tail", b.data, b.len);
    pufa_buf_free(&b);
    free(seg);
}

static void put_frame(pufa_buf *b, int kind_byte, const void *body, size_t len) {
    if (kind_byte >= 0)
        pufa_buf_putc(b, (char)kind_byte);
    pufa_buf_putc(b, (char)(len & 0xFF));
    pufa_buf_putc(b, (char)(len >> 8));
    pufa_buf_append(b, body, len);
}

/* fuzz_ack: the window byte, then [len][BatchAck] frames answering the
 * batches fuzz_ack sends (seq 1, 2, ...; report count = batch size). */
static void ack_seeds(const char *dir) {
    static const uint8_t shapes[] = {0x00, 0x0D, 0x0F}; /* 1x1, 2x4, 4x4 */
    for (size_t k = 0; k < sizeof shapes; k++) {
        size_t batch = 1 + (shapes[k] & 3), window = 1 + (shapes[k] >> 2 & 3);
        pufa_buf b;
        pufa_buf_init(&b);
        pufa_buf_putc(&b, (char)shapes[k]);
        /* Acked out of order (the last first), every status in turn. */
        for (size_t j = 0; j < window; j++) {
            uint64_t seq = j == 0 ? window : j;
            Pufa__BatchAck a = PUFA__BATCH_ACK__INIT;
            Pufa__ReportResult res[4], *rp[4];
            a.has_batch_seq = 1;
            a.batch_seq = seq;
            for (size_t i = 0; i < batch; i++) {
                pufa__report_result__init(&res[i]);
                res[i].has_revision = 1;
                res[i].revision = 1;
                res[i].has_status = 1;
                res[i].status = (Pufa__ReportStatus)(1 + (j + i) % 4);
                if (res[i].status == PUFA__REPORT_STATUS__STATUS_REJECTED)
                    res[i].reason = "participants: must be >= 0 (got -5)";
                rp[i] = &res[i];
            }
            a.n_results = batch;
            a.results = rp;
            uint8_t buf[1024];
            size_t len = pufa__batch_ack__pack(&a, buf);
            put_frame(&b, -1, buf, len);
        }
        /* A whole-frame refusal. */
        Pufa__BatchAck bad = PUFA__BATCH_ACK__INIT;
        bad.error = "undecodable ReportBatch";
        uint8_t buf[256];
        size_t len = pufa__batch_ack__pack(&bad, buf);
        put_frame(&b, -1, buf, len);
        char name[32];
        snprintf(name, sizeof name, "window%zu-batch%zu", window, batch);
        write_seed(dir, "ack", name, b.data, b.len);
        pufa_buf_free(&b);
    }
}

static void pack_delta(pufa_buf *b, int kind, const Pufa__CommitDelta *d) {
    uint8_t *buf = pufa_malloc(pufa__commit_delta__get_packed_size(d));
    size_t len = pufa__commit_delta__pack(d, buf);
    put_frame(b, kind, buf, len);
    free(buf);
}

/* fuzz_feed: [kind][len][body] frames on a model at seq 1 (kind 0: delta,
 * 1: heartbeat). */
static void feed_seeds(const char *dir) {
    Pufa__Figures g;
    pufa__figures__init(&g);
    g.has_reports = g.has_sessions = g.has_participants = g.has_funds_fen = 1;
    g.reports = 1;
    g.sessions = 2;
    g.participants = 120;
    g.funds_fen = 50000;
    Pufa__RollupDelta r[2], *rp[2];
    const char *days[2] = {"2026-11-20", "2026-11-23"};
    for (int i = 0; i < 2; i++) {
        pufa__rollup_delta__init(&r[i]);
        r[i].day = (char *)days[i];
        r[i].county_code = (char *)(i ? "150822" : "150821");
        r[i].has_theme = r[i].has_venue = r[i].has_form = 1;
        r[i].theme = (Pufa__Theme)(1 + i);
        r[i].venue = (Pufa__Venue)2;
        r[i].form = (Pufa__Form)3;
        r[i].unit_code = "U1";
        r[i].campaign = i ? "宪法宣传周" : "";
        r[i].delta = &g;
        rp[i] = &r[i];
    }
    Pufa__Receipt rc, *rcp = &rc;
    pufa__receipt__init(&rc);
    rc.day = "2026-11-23";
    rc.county_code = "150822";
    rc.unit_code = "U1";
    rc.has_reports = 1;
    rc.reports = 1;
    Pufa__CommitDelta d = PUFA__COMMIT_DELTA__INIT;
    d.has_seq = 1;
    d.has_committed_at_ms = 1;
    d.committed_at_ms = 1795400000000;
    d.rollups = rp;
    d.receipts = &rcp;

    pufa_buf b;
    pufa_buf_init(&b);
    /* In order: seq 2 and 3 applied, a heartbeat at 3, 2 again dropped. */
    d.seq = 2;
    d.n_rollups = 2;
    d.n_receipts = 1;
    pack_delta(&b, 0, &d);
    d.seq = 3;
    d.n_rollups = 1;
    d.n_receipts = 0;
    pack_delta(&b, 0, &d);
    Pufa__CommitDelta hb = PUFA__COMMIT_DELTA__INIT;
    hb.has_seq = 1;
    hb.seq = 3;
    pack_delta(&b, 1, &hb);
    d.seq = 2;
    pack_delta(&b, 0, &d);
    write_seed(dir, "feed", "in-order", b.data, b.len);
    /* A gap, then a heartbeat announcing one. */
    b.len = 0;
    d.seq = 5;
    pack_delta(&b, 0, &d);
    hb.seq = 9;
    pack_delta(&b, 1, &hb);
    write_seed(dir, "feed", "gap", b.data, b.len);
    /* The next delta with a bad second rollup: refused whole. */
    b.len = 0;
    d.seq = 2;
    d.n_rollups = 2;
    r[1].day = "2026-13-01";
    pack_delta(&b, 0, &d);
    r[1].day = (char *)days[1];
    /* ... and one whose second rollup overflows the funds of the cell the
     * first has just added to (the first is taken back). */
    Pufa__Figures big = g;
    big.funds_fen = INT64_MAX - 10;
    r[1].delta = &big;
    r[1].day = (char *)days[0];
    r[1].county_code = "150821";
    pack_delta(&b, 0, &d);
    write_seed(dir, "feed", "refused", b.data, b.len);
    pufa_buf_free(&b);
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 64;
    pufa_json_init();
    FILE *f = fopen(argv[1], "r");
    if (!f)
        return 66;
    pufa_report r[64];
    size_t n = 0;
    char line[8192];
    while (n < 64 && fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        pufa_errors errs;
        pufa_errors_init(&errs);
        pufa_report_init(&r[n]);
        if (o && pufa_report_from_json(o, &r[n], &errs) == 0)
            n++;
        json_decref(o);
    }
    fclose(f);
    Pufa__ReportBatch b = PUFA__REPORT_BATCH__INIT;
    Pufa__ActivityReport m[64];
    Pufa__ActivityReport *mp[64];
    b.collector_id = "seed";
    b.has_batch_seq = 1;
    b.batch_seq = 1;
    for (size_t i = 0; i < n; i++) {
        pufa__activity_report__init(&m[i]);
        pufa_report_to_pb(&r[i], &m[i]);
        mp[i] = &m[i];
    }
    for (size_t k = 1; k <= 3; k++) { /* batches of 1, 8 and all reports */
        b.n_reports = k == 1 ? 1 : k == 2 ? 8 : n;
        b.reports = mp;
        size_t len = pufa__report_batch__get_packed_size(&b);
        uint8_t *buf = pufa_malloc(len);
        pufa__report_batch__pack(&b, buf);
        char *path = pufa_asprintf("%s/batch/seed-%zu", argv[2], k);
        FILE *o = fopen(path, "wb");
        fwrite(buf, 1, len, o);
        fclose(o);
        free(path);
        free(buf);
    }
    /* A spool segment with the samples. */
    char dir[] = "/tmp/pufa-seed-XXXXXX";
    mkdtemp(dir);
    spool_config cfg = {.dir = dir, .quota_bytes = 1 << 20, .segment_bytes = 1 << 20};
    spool *sp;
    spool_recovery rec;
    char err[256];
    if (spool_open(&cfg, &sp, &rec, err, sizeof err))
        return 70;
    for (size_t i = 0; i < n && i < 6; i++) {
        size_t len;
        uint8_t *buf = pufa_report_encode(&r[i], &len);
        const uint8_t *d = buf;
        spool_lsn end;
        spool_append(sp, &d, &len, 1, &end);
        spool_wait_durable(sp, end);
        free(buf);
    }
    spool_close(&sp);
    char *cmd =
        pufa_asprintf("cp %s/0000000001.seg %s/spool/seed-segment && rm -rf %s", dir, argv[2], dir);
    int rc = system(cmd);
    free(cmd);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    if (rc != 0)
        return 70;
    spool_read_seeds(argv[2]);
    ack_seeds(argv[2]);
    feed_seeds(argv[2]);
    return 0;
}
