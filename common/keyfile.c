#include "keyfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "error.h"

int pufa_read_secret_line(const char *path, int private_file, char **out, char *err,
                          size_t errsize) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
        return PUFA_EIO;
    }
    struct stat st;
    if (private_file && fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
        snprintf(err, errsize, "%s is readable by others: chmod 600 it", path);
        fclose(f);
        return PUFA_ECONFIG;
    }
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        snprintf(err, errsize, "%s is empty", path);
        fclose(f);
        return PUFA_ECONFIG;
    }
    fclose(f);
    size_t n = strcspn(line, "\r\n");
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    size_t start = 0;
    while (start < n && (line[start] == ' ' || line[start] == '\t'))
        start++;
    if (start == n) {
        snprintf(err, errsize, "%s is empty", path);
        return PUFA_ECONFIG;
    }
    *out = pufa_strndup(line + start, n - start);
    return 0;
}

int pufa_read_curve_key(const char *path, int private_file, char out[41], char *err,
                        size_t errsize) {
    char *line = NULL;
    int rc = pufa_read_secret_line(path, private_file, &line, err, errsize);
    if (rc)
        return rc;
    if (strlen(line) != 40) {
        snprintf(err, errsize, "%s: a CURVE key is 40 Z85 characters (make one with pufa keygen)",
                 path);
        free(line);
        return PUFA_ECONFIG;
    }
    memcpy(out, line, 41);
    free(line);
    return 0;
}
