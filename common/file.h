/* Reading a whole file into memory: the one place that does it. */
#ifndef PUFA_FILE_H
#define PUFA_FILE_H

#include <stddef.h>

/* Reads all of path ("-": standard input) into a new NUL-terminated
 * buffer: *out (caller frees; "" for an empty file) and *len (may be NULL).
 * max: the largest size accepted in bytes, 0 for no limit.  0,
 * PUFA_ETOOBIG (over max: nothing past it is read), or PUFA_EIO (cannot
 * open or read); err (may be NULL) gets "PATH: why" ("PATH: No such file
 * or directory", "PATH: larger than MAX bytes").  On error *out is NULL. */
int pufa_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
                   size_t errsize);

#endif
