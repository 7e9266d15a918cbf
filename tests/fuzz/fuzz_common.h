/* Shared set-up of the fuzz targets: the sample city's counties. */
#ifndef PUFA_FUZZ_COMMON_H
#define PUFA_FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc.h"

#include "date.h"
#include "orgunits.h"
#include "report_json.h"
#include "validate.h"

static inline pufa_validate_ctx fuzz_ctx(void) {
    static pufa_orgunits *ou;
    if (!ou) {
        pufa_json_init();
        ou = pufa_orgunits_new();
        pufa_orgunits_add(ou, "150800", "巴彦淖尔市", "city", "");
        const char *counties[] = {"150802", "150821", "150822", "150823", "210402"};
        for (int i = 0; i < 5; i++)
            pufa_orgunits_add(ou, counties[i], counties[i], "county", "150800");
    }
    /* A fixed "today", so a run is reproducible. */
    pufa_validate_ctx c = {.orgunits = ou, .today = pufa_date_from_ymd(2026, 11, 23)};
    return c;
}

/* A fresh folder for one input's files (caller frees the path): under
 * $TMPDIR, else /dev/shm (no disk writes), else /tmp. */
static inline char *fuzz_tmpdir(const char *name) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char *dir = pufa_asprintf("%s/%s-XXXXXX", base, name);
    if (!mkdtemp(dir))
        abort(); /* nowhere to put the input: the run cannot mean anything */
    return dir;
}

/* Removes a folder made by fuzz_tmpdir and the files in it. */
static inline void fuzz_rmdir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = pufa_asprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort(); /* a broken property: the fuzzer reports the input */                         \
    } while (0)

#endif
