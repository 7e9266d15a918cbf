/* Reading secrets and keys from files (never from the command line). */
#ifndef PUFA_KEYFILE_H
#define PUFA_KEYFILE_H

#include <stddef.h>

/* Reads the first line of path (trimmed) into a new string (caller frees).
 * Refuses empty files and, when private, files others can read.  0,
 * PUFA_EIO or PUFA_ECONFIG with err filled. */
int pufa_read_secret_line(const char *path, int private_file, char **out, char *err,
                          size_t errsize);
/* Reads a CURVE key (40 Z85 characters) from the first line of path. */
int pufa_read_curve_key(const char *path, int private_file, char out[41], char *err,
                        size_t errsize);

#endif
