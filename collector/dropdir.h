/* The drop folder: county systems put .json, .jsonl or .csv files into it
 * (write elsewhere or under a dot-name / .tmp / .part name, then rename
 * into place: a file is read only under its final name).  Good lines are
 * accepted into the spool; the file then moves to done/ (with a NAME.error
 * file beside it naming line, field and rule of each bad line), or to
 * failed/ with NAME.error when nothing in it could be read.  Watched with
 * libuv (uv_fs_event) plus a periodic rescan, since events can be missed. */
#ifndef COL_DROPDIR_H
#define COL_DROPDIR_H

#include <stdint.h>
#include <uv.h>

#include "accept.h"

typedef struct dropdir dropdir;

/* Creates the folder (and done/, failed/) if needed and starts watching it
 * on loop.  Close with dropdir_close. */
int dropdir_open(uv_loop_t *loop, const char *dir, int64_t max_file, accept_ctx *actx,
                 dropdir **out, char *err, size_t errsize);
/* Closes the handles and sets *d to NULL; the struct is freed in their
 * close callbacks (run the loop once more).  Accepts NULL. */
void dropdir_close(dropdir **d);

#endif
