#include "file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "error.h"

static int fail(int rc, char *err, size_t errsize, const char *fmt, const char *path,
                const char *why) {
    if (err && errsize)
        snprintf(err, errsize, fmt, path, why);
    return rc;
}

int pufa_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
                   size_t errsize) {
    *out = NULL;
    if (len)
        *len = 0;
    bool std_in = !strcmp(path, "-");
    FILE *f = std_in ? stdin : fopen(path, "rb");
    if (!f)
        return fail(PUFA_EIO, err, errsize, "%s: %s", path, strerror(errno));
    char limit[32];
    snprintf(limit, sizeof limit, "%zu", max);
    struct stat st;
    if (max && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
        if (!std_in)
            fclose(f);
        return fail(PUFA_ETOOBIG, err, errsize, "%s: larger than %s bytes", path, limit);
    }
    pufa_buf b;
    pufa_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (max && b.len + n > max) { /* it grew while we read */
            rc = fail(PUFA_ETOOBIG, err, errsize, "%s: larger than %s bytes", path, limit);
            break;
        }
        pufa_buf_append(&b, chunk, n);
    }
    if (rc == 0 && ferror(f))
        rc = fail(PUFA_EIO, err, errsize, "%s: %s", path, strerror(errno));
    if (!std_in)
        fclose(f);
    if (rc) {
        pufa_buf_free(&b);
        return rc;
    }
    if (len)
        *len = b.len;
    *out = pufa_buf_steal(&b);
    return 0;
}
