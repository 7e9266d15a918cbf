/* pufa validate: checks report files offline with the rules every intake
 * applies, and prints each bad report's line, field and rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "datafile.h"
#include "error.h"
#include "file.h"
#include "intake.h"

typedef struct {
    const char *path;
    size_t good, bad;
} tally;

static void on_report(void *ctx, const pufa_intake_item *item) {
    tally *t = ctx;
    if (item->ok) {
        t->good++;
        return;
    }
    t->bad++;
    printf("%s:%zu: %s\n", t->path, item->line, item->message);
}

int cmd_validate(int argc, char **argv) {
    char *org_units = NULL, *tz = NULL, *encoding = NULL;
    int nfiles = 0;
    char **files = pufa_calloc((size_t)argc, sizeof(char *));
    char **rest = pufa_calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    rest[nrest++] = argv[0];
    /* FILE arguments are the ones not starting with "--" (and not values). */
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--", 2)) {
            rest[nrest++] = argv[i];
            if (!strchr(argv[i], '=') && strcmp(argv[i], "--help") &&
                strcmp(argv[i], "--version") && strcmp(argv[i], "--check-config") && i + 1 < argc)
                rest[nrest++] = argv[++i];
        } else {
            files[nfiles++] = argv[i];
        }
    }
    char *ou_default = pufa_data_file("org_units.csv");
    pufa_cfg_opt opts[] = {
        {"org_units", PUFA_CFG_STRING, &org_units, ou_default, 0, 0,
         "CSV of known org units (code,name,level,parent_code)", 0},
        {"timezone", PUFA_CFG_STRING, &tz, "Asia/Shanghai", 0, 0,
         "the city's time zone, for 'today'", 0},
        {"encoding", PUFA_CFG_STRING, &encoding, "auto", 0, 0,
         "the files' text encoding: utf-8, gb18030 (also GBK/GB2312) or auto (UTF-8, else "
         "GB18030; CSV only)",
         0},
    };
    pufa_cfg cfg = {.program = "pufa validate",
                    .summary = "check report files (JSON object/array, JSONL, CSV, XLSX) offline; "
                               "usage: pufa validate [OPTIONS] FILE...",
                    .section = "validate",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int rc = pufa_cfg_load(&cfg, nrest, rest);
    if (rc) {
        rc -= 1;
        goto out;
    }
    if (nfiles == 0) {
        fprintf(stderr, "pufa validate: name at least one FILE (or - for standard input)\n");
        rc = EX_USAGE_;
        goto out;
    }
    char err[512];
    pufa_encoding declared;
    if (pufa_encoding_parse(encoding, &declared)) {
        fprintf(stderr, "pufa validate: --encoding: want utf-8, gb18030 or auto (got %s)\n",
                encoding);
        rc = EX_USAGE_;
        goto out;
    }
    if (pufa_tz_parse(tz, &pufa_city_utc_offset_min)) {
        fprintf(stderr, "pufa validate: unknown timezone '%s' (use e.g. Asia/Shanghai or +08:00)\n",
                tz);
        rc = EX_USAGE_;
        goto out;
    }
    pufa_orgunits *ou = NULL;
    const char *ou_path = org_units;
    if (pufa_orgunits_load_csv(ou_path, &ou, err, sizeof err)) {
        fprintf(stderr, "pufa validate: org units %s: %s\n", ou_path, err);
        rc = EX_CONFIG_;
        goto out;
    }
    pufa_validate_ctx vctx = {.orgunits = ou, .today = pufa_city_day(pufa_now_ms())};
    size_t good = 0, bad = 0;
    for (int i = 0; i < nfiles; i++) {
        char *body;
        size_t len;
        if (pufa_read_file(files[i], 0, &body, &len, NULL, 0)) {
            fprintf(stderr, "pufa validate: cannot read %s\n", files[i]);
            rc = EX_IOERR_;
            continue;
        }
        tally t = {.path = files[i]};
        pufa_intake_format fmt = pufa_intake_guess_format(files[i], body, len);
        pufa_encoding used;
        if (pufa_intake_parse_text(fmt, declared, body, len, &vctx, on_report, &t, &used, err,
                                   sizeof err)) {
            printf("%s: %s\n", files[i], err);
            t.bad++;
        } else if (used == PUFA_ENC_GB18030) {
            printf("%s: read as GB18030 (not UTF-8)\n", files[i]);
        }
        printf("%s: %zu valid, %zu invalid\n", files[i], t.good, t.bad);
        good += t.good;
        bad += t.bad;
        free(body);
    }
    if (nfiles > 1)
        printf("total: %zu valid, %zu invalid\n", good, bad);
    if (rc == 0 && bad)
        rc = EX_DATAERR_;
    pufa_orgunits_destroy(&ou);
out:
    free(files);
    free(rest);
    pufa_cfg_free(&cfg);
    free(ou_default);
    return rc;
}
