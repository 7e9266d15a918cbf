/* pufa template: writes the report template (common/template.h), the
 * workbook an office without a reporting system fills in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "datafile.h"
#include "orgunits.h"
#include "template.h"

int cmd_template(int argc, char **argv) {
    char *out = NULL, *county = NULL, *units = NULL, *org_units = NULL;
    int64_t rows = 0;
    char *units_default = pufa_data_file("units.csv");
    char *ou_default = pufa_data_file("org_units.csv");
    pufa_cfg_opt opts[] = {
        {"out", PUFA_CFG_STRING, &out, "", 0, 0, "the .xlsx file to write (required)", 0},
        {"county", PUFA_CFG_STRING, &county, "", 0, 0,
         "the county's six-digit code, pre-filled in every row (empty: left to the office)", 0},
        {"rows", PUFA_CFG_INT, &rows, "200", 1, 5000, "rows pre-filled with a report id", 0},
        {"units", PUFA_CFG_STRING, &units, units_default, 0, 0,
         "CSV of responsible units (unit_code,unit_name,...) for the drop-downs; empty: none", 0},
        {"org_units", PUFA_CFG_STRING, &org_units, ou_default, 0, 0,
         "CSV of known org units, to check --county and name it", 0},
    };
    pufa_cfg cfg = {.program = "pufa template",
                    .summary = "write the report template (.xlsx with drop-downs and "
                               "instructions); usage: pufa template --out FILE.xlsx",
                    .section = "template",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int rc = pufa_cfg_load(&cfg, argc, argv);
    pufa_orgunits *ou = NULL;
    pufa_buf b;
    pufa_buf_init(&b);
    char err[512];
    if (rc) {
        rc -= 1;
        goto out;
    }
    if (!*out) {
        fprintf(stderr, "pufa template: --out FILE.xlsx is required\n");
        rc = EX_USAGE_;
        goto out;
    }
    const char *county_name = NULL;
    if (*county) {
        if (pufa_orgunits_load_csv(org_units, &ou, err, sizeof err)) {
            fprintf(stderr, "pufa template: org units %s: %s\n", org_units, err);
            rc = EX_CONFIG_;
            goto out;
        }
        if (!pufa_orgunits_is_county(ou, county)) {
            fprintf(stderr, "pufa template: --county: %s is not a known county\n", county);
            rc = EX_USAGE_;
            goto out;
        }
        county_name = pufa_orgunits_find(ou, county)->name;
    }
    pufa_template_opts o = {
        .county_code = county, .county_name = county_name, .units_csv = units, .rows = (int)rows};
    if (pufa_template_xlsx(&o, &b, err, sizeof err)) {
        fprintf(stderr, "pufa template: %s\n", err);
        rc = EX_CONFIG_;
        goto out;
    }
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
        fprintf(stderr, "pufa template: cannot write %s\n", out);
        rc = EX_CANTCREAT_;
        goto out;
    }
    printf("%s: template with %lld rows%s%s\n", out, (long long)rows, *county ? " for " : "",
           county_name ? county_name : "");
out:
    pufa_buf_free(&b);
    pufa_orgunits_destroy(&ou);
    pufa_cfg_free(&cfg);
    free(units_default);
    free(ou_default);
    return rc;
}
