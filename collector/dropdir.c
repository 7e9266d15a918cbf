#include "dropdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "file.h"
#include "log.h"

struct dropdir {
    uv_loop_t *loop;
    char *dir;
    int64_t max_file;
    accept_ctx *actx;
    uv_fs_event_t event;
    uv_timer_t rescan;
    uv_timer_t debounce;
    int open_handles;
};

static bool eligible(const char *name) {
    /* "~$NAME.xlsx" is the lock file Excel and WPS keep beside a workbook
     * they have open, not a workbook. */
    if (name[0] == '.' || !strncmp(name, "~$", 2))
        return false;
    size_t n = strlen(name);
    const char *exts[] = {".json", ".jsonl", ".csv", ".xlsx"};
    for (int i = 0; i < 4; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && !strcasecmp(name + n - e, exts[i]))
            return true;
    }
    return false;
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    int rc = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -1;
    close(fd);
    return rc;
}

/* Moves dir/name to dir/sub/STAMP-name (and writes the .error beside it). */
static void file_away(dropdir *d, const char *name, const char *sub, const char *errors) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    char *from = pufa_asprintf("%s/%s", d->dir, name);
    char *to = pufa_asprintf("%s/%s/%s-%s", d->dir, sub, stamp, name);
    for (int i = 1; access(to, F_OK) == 0 && i < 1000; i++) {
        free(to);
        to = pufa_asprintf("%s/%s/%s-%d-%s", d->dir, sub, stamp, i, name);
    }
    if (errors && *errors) {
        char *epath = pufa_asprintf("%s.error", to);
        if (write_file(epath, errors) != 0)
            PLOG_ERROR("COL-DROP-ERRFILE", "path=%s error=\"%s\"", epath, strerror(errno));
        free(epath);
    }
    if (rename(from, to) != 0)
        PLOG_ERROR("COL-DROP-MOVE", "from=%s to=%s error=\"%s\"", from, to, strerror(errno));
    free(from);
    free(to);
}

static void too_big(dropdir *d, const char *name, long long bytes) {
    char msg[160];
    snprintf(msg, sizeof msg, "file: larger than %lld bytes: split it\n", (long long)d->max_file);
    PLOG_WARN("COL-DROP-TOOBIG", "file=%s bytes=%lld", name, bytes);
    file_away(d, name, "failed", msg);
}

static void process_file(dropdir *d, const char *name) {
    char *path = pufa_asprintf("%s/%s", d->dir, name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(path);
        return;
    }
    if (st.st_size > d->max_file) {
        too_big(d, name, (long long)st.st_size);
        free(path);
        return;
    }
    char *body;
    size_t len;
    int rrc = pufa_read_file(path, (size_t)d->max_file, &body, &len, NULL, 0);
    free(path);
    if (rrc == PUFA_ETOOBIG) { /* it grew since the stat */
        too_big(d, name, (long long)d->max_file + 1);
        return;
    }
    if (rrc)
        return;
    pufa_intake_format fmt = pufa_intake_guess_format(name, body, len);
    accept_result res;
    int rc = accept_body(d->actx, fmt, PUFA_ENC_AUTO, body, len, &res);
    free(body);
    if (rc) {
        char *msg = pufa_asprintf("file: %s\n", res.error);
        PLOG_WARN("COL-DROP-FAILED", "file=%s reason=\"%s\"", name, res.error);
        file_away(d, name, "failed", msg);
        free(msg);
    } else if (res.spool_rc) {
        /* Not accepted (quota, disk): leave the file to be tried again. */
        PLOG_WARN("COL-DROP-DEFERRED", "file=%s reason=\"%s\"", name, pufa_strerror(res.spool_rc));
    } else {
        const char *enc = pufa_encoding_name(res.encoding);
        PLOG_INFO("COL-DROP-DONE", "file=%s accepted=%zu rejected=%zu encoding=%s", name,
                  res.accepted, res.rejected, enc);
        char *errors = NULL;
        if (res.rejected)
            errors = res.encoding == PUFA_ENC_GB18030
                         ? pufa_asprintf("file: read as GB18030 (not UTF-8)\n%s", res.messages)
                         : pufa_strdup(res.messages);
        file_away(d, name, "done", errors);
        free(errors);
    }
    accept_result_free(&res);
}

static void scan(dropdir *d) {
    DIR *dir = opendir(d->dir);
    if (!dir)
        return;
    /* Collect names first: processing renames files out of the folder. */
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!eligible(e->d_name))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            names = pufa_realloc(names, cap * sizeof *names);
        }
        names[count++] = pufa_strdup(e->d_name);
    }
    closedir(dir);
    for (size_t i = 0; i < count; i++) {
        process_file(d, names[i]);
        free(names[i]);
    }
    free(names);
}

static void on_debounce(uv_timer_t *t) {
    scan(t->data);
}

static void on_rescan(uv_timer_t *t) {
    scan(t->data);
}

static void on_event(uv_fs_event_t *h, const char *filename, int events, int status) {
    (void)filename;
    (void)events;
    (void)status;
    dropdir *d = h->data;
    /* Let a burst of events settle, then scan once. */
    uv_timer_start(&d->debounce, on_debounce, 50, 0);
}

int dropdir_open(uv_loop_t *loop, const char *dir, int64_t max_file, accept_ctx *actx,
                 dropdir **out, char *err, size_t errsize) {
    const char *subs[] = {"", "/done", "/failed"};
    for (int i = 0; i < 3; i++) {
        char *p = pufa_asprintf("%s%s", dir, subs[i]);
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errsize, "cannot create %s: %s", p, strerror(errno));
            free(p);
            return PUFA_EIO;
        }
        free(p);
    }
    dropdir *d = pufa_calloc(1, sizeof *d);
    d->loop = loop;
    d->dir = pufa_strdup(dir);
    d->max_file = max_file;
    d->actx = actx;
    uv_fs_event_init(loop, &d->event);
    uv_timer_init(loop, &d->rescan);
    uv_timer_init(loop, &d->debounce);
    d->event.data = d->rescan.data = d->debounce.data = d;
    d->open_handles = 3;
    int rc = uv_fs_event_start(&d->event, on_event, dir, 0);
    if (rc)
        PLOG_WARN("COL-DROP-WATCH", "msg=\"no file events; rescanning every 2 s\" error=\"%s\"",
                  uv_strerror(rc));
    uv_timer_start(&d->rescan, on_rescan, 0, 2000);
    *out = d;
    return 0;
}

static void on_close(uv_handle_t *h) {
    dropdir *d = h->data;
    if (--d->open_handles == 0) {
        free(d->dir);
        free(d);
    }
}

void dropdir_close(dropdir **pd) {
    if (!pd || !*pd)
        return;
    dropdir *d = *pd;
    *pd = NULL;
    uv_fs_event_stop(&d->event);
    uv_close((uv_handle_t *)&d->event, on_close);
    uv_close((uv_handle_t *)&d->rescan, on_close);
    uv_close((uv_handle_t *)&d->debounce, on_close);
}
