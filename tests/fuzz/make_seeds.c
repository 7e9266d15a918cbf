/* Writes the binary seed corpora (a ReportBatch of the sample reports, a
 * spool segment holding them) with the real encoder and spool:
 *   make_seeds SAMPLE.jsonl OUT_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "report_json.h"
#include "spool.h"
#include "wire.h"

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
    char *cmd = pufa_asprintf("cp %s/0000000001.seg %s/spool/seed-segment && rm -rf %s", dir,
                              argv[2], dir);
    int rc = system(cmd);
    free(cmd);
    for (size_t i = 0; i < n; i++)
        pufa_report_clear(&r[i]);
    return rc == 0 ? 0 : 70;
}
