#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "crc32c.h"
#include "date.h"
#include "error.h"
#include "log.h"

#define MAGIC         0x52465550u /* "PUFR" little endian */
#define SEG(lsn)      ((uint32_t)((lsn) >> 32))
#define OFF(lsn)      ((uint32_t)((lsn)&0xFFFFFFFFu))
#define LSN(seg, off) (((uint64_t)(seg) << 32) | (uint64_t)(off))

struct spool {
    spool_config cfg;
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* written/synced changed, or sync finished */
    pthread_t syncer;
    bool stopping;
    bool broken;
    bool syncing;
    int dirfd;
    uint32_t seg;       /* current (append) segment */
    int fd;             /* its descriptor */
    uint32_t seg_size;  /* its size */
    uint32_t first_seg; /* oldest segment on disk */
    spool_lsn written;  /* end of appended data */
    spool_lsn synced;   /* end of durable data */
    spool_lsn cursor;   /* first unacknowledged */
    uint64_t bytes;     /* all segments */
    uint64_t records;   /* unacknowledged */
    uint64_t appended, fsyncs;
    uint64_t bad_records; /* whole records with a bad CRC, cut or skipped */
    spool_lsn bad_seen;   /* bad records before this are already counted */
    int64_t cursor_saved_ms;
    spool_lsn cursor_saved;
    int notify[2];
    /* reader's cached segment */
    uint32_t rseg;
    int rfd;
};

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static char *seg_path(const spool *s, uint32_t seg) {
    return pufa_asprintf("%s/%010u.seg", s->dir, seg);
}

static int fsync_dir(spool *s) {
    return fsync(s->dirfd) == 0 ? 0 : PUFA_EIO;
}

size_t spool_record_at(const uint8_t *buf, size_t len, size_t off) {
    if (off + SPOOL_HEADER > len || get32(buf + off) != MAGIC)
        return 0;
    uint32_t rlen = get32(buf + off + 4);
    if (rlen == 0 || rlen > SPOOL_MAX_RECORD || off + SPOOL_HEADER + rlen > len)
        return 0;
    uint32_t crc = pufa_crc32c(0, buf + off + 4, 4);
    crc = pufa_crc32c(crc, buf + off + SPOOL_HEADER, rlen);
    return crc == get32(buf + off + 8) ? SPOOL_HEADER + rlen : 0;
}

/* A whole record (magic, length and payload all there) whose CRC fails:
 * its report is lost, so it is named, not just counted in bytes. */
static void log_bad_record(uint32_t seg, uint32_t off, uint32_t rlen, const char *action) {
    PLOG_ERROR("COL-SPOOL-BAD-RECORD",
               "segment=%u offset=%u bytes=%u action=%s msg=\"a "
               "record with a bad CRC: its report is lost\"",
               seg, off, SPOOL_HEADER + rlen, action);
}

/* The whole framed records at off, one after another (a bad CRC each, as
 * the caller knows no valid record starts there); 0 when none is. */
static uint64_t bad_records_at(const uint8_t *buf, size_t len, size_t off, uint32_t seg) {
    uint64_t n = 0;
    while (off + SPOOL_HEADER <= len && get32(buf + off) == MAGIC) {
        uint32_t rlen = get32(buf + off + 4);
        if (rlen == 0 || rlen > SPOOL_MAX_RECORD || off + SPOOL_HEADER + rlen > len)
            break;
        log_bad_record(seg, (uint32_t)off, rlen, "cut");
        n++;
        off += SPOOL_HEADER + rlen;
    }
    return n;
}

static uint8_t *read_whole(int fd, size_t *len) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return NULL;
    *len = (size_t)st.st_size;
    uint8_t *buf = pufa_malloc(*len + 1);
    size_t got = 0;
    while (got < *len) {
        ssize_t r = pread(fd, buf + got, *len - got, (off_t)got);
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

static void notify(spool *s) {
    char c = 1;
    ssize_t r = write(s->notify[1], &c, 1);
    (void)r;
}

static void *syncer_main(void *arg) {
    spool *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping || s->written != s->synced) {
        if (s->broken)
            break;
        if (s->written == s->synced) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        spool_lsn target = s->written;
        int fd = s->fd;
        s->syncing = true;
        pthread_mutex_unlock(&s->mu);
        int rc = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&s->mu);
        s->syncing = false;
        s->fsyncs++;
        if (rc != 0) {
            /* fsyncgate: never retry a failed fsync and carry on. */
            s->broken = true;
            PLOG_FATAL("COL-SPOOL-FSYNC",
                       "msg=\"fdatasync failed: intake stops\" errno=%d "
                       "error=\"%s\"",
                       e, strerror(e));
        } else if (target > s->synced) {
            s->synced = target;
        }
        pthread_cond_broadcast(&s->cv);
        notify(s);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int open_segment(spool *s, uint32_t seg, bool create) {
    char *path = seg_path(s, seg);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
    free(path);
    if (fd < 0)
        return -1;
    if (create && fsync_dir(s) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int save_cursor(spool *s, spool_lsn lsn) {
    char *tmp = pufa_asprintf("%s/cursor.tmp", s->dir);
    char *path = pufa_asprintf("%s/cursor", s->dir);
    int rc = PUFA_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        char text[32];
        int n = snprintf(text, sizeof text, "%016llx\n", (unsigned long long)lsn);
        if (write(fd, text, (size_t)n) == n && fdatasync(fd) == 0 && close(fd) == 0 &&
            rename(tmp, path) == 0 && fsync_dir(s) == 0)
            rc = 0;
        else if (fd >= 0)
            close(fd);
    }
    free(tmp);
    free(path);
    return rc;
}

static spool_lsn load_cursor(spool *s) {
    char *path = pufa_asprintf("%s/cursor", s->dir);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return 0;
    unsigned long long v = 0;
    if (fscanf(f, "%llx", &v) != 1)
        v = 0;
    fclose(f);
    return (spool_lsn)v;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists segment numbers, sorted. */
static uint32_t *list_segments(spool *s, size_t *n) {
    DIR *d = opendir(s->dir);
    uint32_t *segs = NULL;
    size_t cnt = 0, cap = 0;
    *n = 0;
    if (!d)
        return NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned seg;
        char tail[8];
        if (sscanf(e->d_name, "%10u.%3s", &seg, tail) == 2 && !strcmp(tail, "seg") &&
            strlen(e->d_name) == 14) {
            if (cnt == cap) {
                cap = cap ? cap * 2 : 16;
                segs = pufa_realloc(segs, cap * sizeof *segs);
            }
            segs[cnt++] = seg;
        }
    }
    closedir(d);
    if (cnt)
        qsort(segs, cnt, sizeof *segs, cmp_u32);
    *n = cnt;
    return segs;
}

void spool_scan(const uint8_t *buf, size_t len, size_t start, spool_scan_result *out) {
    memset(out, 0, sizeof *out);
    size_t pos = start > len ? len : start;
    out->good_end = pos;
    while (pos < len) {
        size_t sz = spool_record_at(buf, len, pos);
        if (sz) {
            out->records++;
            pos += sz;
            out->good_end = pos;
            continue;
        }
        size_t next = pos + 1;
        while (next < len && !spool_record_at(buf, len, next))
            next++;
        if (next >= len) {
            out->torn = true;
            return;
        }
        out->skipped_bytes += next - pos;
        pos = next;
    }
}

/* Scans one segment from off: counts valid records, skips corrupted
 * regions, and cuts a torn tail when this is the last segment. */
static int recover_segment(spool *s, uint32_t seg, uint32_t off, bool last, spool_recovery *rec,
                           uint32_t *size_out) {
    (void)s;
    char *path = seg_path(s, seg);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return PUFA_EIO;
    size_t len;
    uint8_t *buf = read_whole(fd, &len);
    if (!buf) {
        close(fd);
        return PUFA_EIO;
    }
    spool_scan_result r;
    spool_scan(buf, len, off, &r);
    rec->records += r.records;
    if (r.skipped_bytes) {
        rec->skipped_bytes += r.skipped_bytes;
        PLOG_ERROR("COL-SPOOL-CORRUPT",
                   "segment=%u skipped_bytes=%llu msg=\"corrupted bytes "
                   "skipped; the records around them are kept\"",
                   seg, (unsigned long long)r.skipped_bytes);
    }
    if (r.torn) {
        size_t cut = len - r.good_end;
        if (last) {
            rec->torn_bytes += cut;
            rec->bad_records += bad_records_at(buf, len, r.good_end, seg);
            PLOG_WARN("COL-SPOOL-TORN", "segment=%u offset=%zu cut_bytes=%zu", seg, r.good_end,
                      cut);
            if (ftruncate(fd, (off_t)r.good_end) != 0 || fsync(fd) != 0) {
                free(buf);
                close(fd);
                return PUFA_EIO;
            }
            len = r.good_end;
        } else {
            rec->skipped_bytes += cut;
            PLOG_ERROR("COL-SPOOL-CORRUPT", "segment=%u offset=%zu skipped_bytes=%zu", seg,
                       r.good_end, cut);
        }
    }
    free(buf);
    close(fd);
    *size_out = (uint32_t)len;
    return 0;
}

/* mkdir -p, the last component with mode 0700. */
static int make_dirs(const char *dir) {
    char *p = pufa_strdup(dir);
    for (char *c = p + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *c = '/';
    }
    free(p);
    return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int spool_open(const spool_config *cfg, spool **out, spool_recovery *rec, char *err,
               size_t errsize) {
    memset(rec, 0, sizeof *rec);
    if (make_dirs(cfg->dir) != 0) {
        snprintf(err, errsize, "cannot create spool folder %s: %s", cfg->dir, strerror(errno));
        return PUFA_EIO;
    }
    spool *s = pufa_calloc(1, sizeof *s);
    s->cfg = *cfg;
    s->dir = pufa_strdup(cfg->dir);
    s->fd = -1;
    s->rfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0 || pipe(s->notify) != 0) {
        snprintf(err, errsize, "cannot open spool folder %s: %s", cfg->dir, strerror(errno));
        goto fail;
    }
    fcntl(s->notify[0], F_SETFL, O_NONBLOCK);
    fcntl(s->notify[1], F_SETFL, O_NONBLOCK);
    s->cursor = load_cursor(s);
    size_t nseg;
    uint32_t *segs = list_segments(s, &nseg);
    uint32_t size = 0;
    bool have_current = false;
    for (size_t i = 0; i < nseg; i++) {
        uint32_t seg = segs[i];
        if (seg < SEG(s->cursor)) { /* fully acknowledged: left over from a crash */
            char *p = seg_path(s, seg);
            unlink(p);
            free(p);
            continue;
        }
        uint32_t start = seg == SEG(s->cursor) ? OFF(s->cursor) : 0;
        if (recover_segment(s, seg, start, i == nseg - 1, rec, &size) != 0) {
            snprintf(err, errsize, "cannot read spool segment %u in %s", seg, cfg->dir);
            free(segs);
            goto fail;
        }
        if (!have_current) {
            s->first_seg = seg;
            have_current = true;
        }
        s->bytes += size;
        s->seg = seg;
        s->seg_size = size;
        rec->segments++;
    }
    free(segs);
    fsync_dir(s);
    if (!have_current) {
        s->seg = SEG(s->cursor) ? SEG(s->cursor) : 1;
        s->first_seg = s->seg;
        s->seg_size = 0;
        s->fd = open_segment(s, s->seg, true);
        if (s->cursor < LSN(s->seg, 0))
            s->cursor = LSN(s->seg, 0);
    } else {
        s->fd = open_segment(s, s->seg, false);
    }
    if (s->fd < 0) {
        snprintf(err, errsize, "cannot open spool segment in %s: %s", cfg->dir, strerror(errno));
        goto fail;
    }
    if (s->cursor < LSN(s->first_seg, 0))
        s->cursor = LSN(s->first_seg, 0);
    s->written = s->synced = LSN(s->seg, s->seg_size);
    s->records = rec->records;
    s->bad_records = rec->bad_records;
    s->cursor_saved = s->cursor;
    if (pthread_create(&s->syncer, NULL, syncer_main, s) != 0) {
        snprintf(err, errsize, "cannot start the spool's fsync thread");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->fd >= 0)
        close(s->fd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->dir);
    free(s);
    return PUFA_EIO;
}

void spool_close(spool **ps) {
    if (!ps || !*ps)
        return;
    spool *s = *ps;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->syncer, NULL);
    if (s->cursor != s->cursor_saved)
        save_cursor(s, s->cursor);
    if (s->fd >= 0)
        close(s->fd);
    if (s->rfd >= 0)
        close(s->rfd);
    close(s->dirfd);
    close(s->notify[0]);
    close(s->notify[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->dir);
    free(s);
    *ps = NULL;
}

/* Seals the current segment (synced) and starts the next; with mu held. */
static int rotate(spool *s) {
    while (s->syncing)
        pthread_cond_wait(&s->cv, &s->mu);
    if (fdatasync(s->fd) != 0) {
        s->broken = true;
        PLOG_FATAL("COL-SPOOL-FSYNC", "msg=\"fdatasync failed at rotation: intake stops\"");
        return PUFA_EIO;
    }
    s->synced = s->written;
    close(s->fd);
    s->seg++;
    s->seg_size = 0;
    s->fd = open_segment(s, s->seg, true);
    if (s->fd < 0) {
        s->broken = true;
        PLOG_FATAL("COL-SPOOL-SEGMENT",
                   "msg=\"cannot create a segment: intake stops\" "
                   "error=\"%s\"",
                   strerror(errno));
        return PUFA_EIO;
    }
    s->written = s->synced = LSN(s->seg, 0);
    return 0;
}

int spool_append(spool *s, const uint8_t *const *data, const size_t *lens, size_t n,
                 spool_lsn *end) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > SPOOL_MAX_RECORD)
            return PUFA_ETOOBIG;
        total += SPOOL_HEADER + lens[i];
    }
    uint8_t *buf = pufa_malloc(total ? total : 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        put32(buf + o, MAGIC);
        put32(buf + o + 4, (uint32_t)lens[i]);
        uint32_t crc = pufa_crc32c(0, buf + o + 4, 4);
        crc = pufa_crc32c(crc, data[i], lens[i]);
        put32(buf + o + 8, crc);
        memcpy(buf + o + SPOOL_HEADER, data[i], lens[i]);
        o += SPOOL_HEADER + lens[i];
    }
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->broken) {
        rc = PUFA_EIO;
        goto out;
    }
    if (s->bytes + total > s->cfg.quota_bytes) {
        rc = PUFA_EQUOTA;
        goto out;
    }
    if (s->seg_size > 0 && (uint64_t)s->seg_size + total > s->cfg.segment_bytes &&
        (rc = rotate(s)) != 0)
        goto out;
    size_t done = 0;
    while (done < total) {
        ssize_t w = write(s->fd, buf + done, total - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            /* Take back the partial write, so the segment stays whole. */
            if (ftruncate(s->fd, (off_t)s->seg_size) != 0) {
                s->broken = true;
                PLOG_FATAL("COL-SPOOL-WRITE",
                           "msg=\"write failed and could not be undone: "
                           "intake stops\" error=\"%s\"",
                           strerror(e));
                rc = PUFA_EIO;
            } else {
                rc = e == ENOSPC || e == EDQUOT ? PUFA_ENOSPC : PUFA_EIO;
                PLOG_ERROR("COL-SPOOL-WRITE", "msg=\"write failed\" error=\"%s\"", strerror(e));
            }
            goto out;
        }
        done += (size_t)w;
    }
    s->seg_size += (uint32_t)total;
    s->bytes += total;
    s->records += n;
    s->appended += n;
    s->written = LSN(s->seg, s->seg_size);
    *end = s->written;
    pthread_cond_broadcast(&s->cv);
out:
    pthread_mutex_unlock(&s->mu);
    free(buf);
    return rc;
}

int spool_wait_durable(spool *s, spool_lsn end) {
    pthread_mutex_lock(&s->mu);
    while (!s->broken && s->synced < end)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = s->synced >= end ? 0 : PUFA_EIO;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int spool_read(spool *s, spool_lsn pos, uint8_t **data, size_t *len, spool_lsn *at,
               spool_lsn *next) {
    pthread_mutex_lock(&s->mu);
    spool_lsn synced = s->synced;
    uint32_t cur = s->seg;
    pthread_mutex_unlock(&s->mu);
    spool_lsn due = pos; /* where the next record should start */
    for (;;) {
        if (pos >= synced)
            return PUFA_ENOTFOUND;
        uint32_t seg = SEG(pos);
        if (s->rseg != seg || s->rfd < 0) {
            if (s->rfd >= 0)
                close(s->rfd);
            char *p = seg_path(s, seg);
            s->rfd = open(p, O_RDONLY | O_CLOEXEC);
            free(p);
            s->rseg = seg;
            if (s->rfd < 0) {
                if (seg >= cur)
                    return PUFA_ENOTFOUND;
                pos = due = LSN(seg + 1, 0); /* deleted or missing: go on */
                continue;
            }
        }
        uint32_t limit = seg == SEG(synced) ? OFF(synced) : UINT32_MAX;
        struct stat st;
        if (fstat(s->rfd, &st) != 0)
            return PUFA_EIO;
        uint64_t size = (uint64_t)st.st_size < limit ? (uint64_t)st.st_size : limit;
        uint32_t off = OFF(pos);
        if (off >= size) {
            if (seg >= cur)
                return PUFA_ENOTFOUND;
            pos = due = LSN(seg + 1, 0);
            continue;
        }
        uint8_t hdr[SPOOL_HEADER];
        uint32_t rlen = 0;
        bool whole = false;
        if (off + SPOOL_HEADER <= size && pread(s->rfd, hdr, SPOOL_HEADER, off) == SPOOL_HEADER &&
            get32(hdr) == MAGIC) {
            rlen = get32(hdr + 4);
            whole = rlen > 0 && rlen <= SPOOL_MAX_RECORD && off + SPOOL_HEADER + rlen <= size;
            if (whole) {
                uint8_t *buf = pufa_malloc(rlen);
                if (pread(s->rfd, buf, rlen, off + SPOOL_HEADER) == (ssize_t)rlen) {
                    uint32_t crc = pufa_crc32c(0, hdr + 4, 4);
                    crc = pufa_crc32c(crc, buf, rlen);
                    if (crc == get32(hdr + 8)) {
                        *data = buf;
                        *len = rlen;
                        *at = pos;
                        *next = LSN(seg, off + SPOOL_HEADER + rlen);
                        return 0;
                    }
                }
                free(buf);
            }
        }
        /* Corrupted here (its bytes counted at open).  A whole record where
         * one was due is a lost report: named once (a read that ran out of
         * durable data starts again from the same place), then the next
         * is due after it.  Step a byte and look again. */
        if (whole && pos == due) {
            due = LSN(seg, off + SPOOL_HEADER + rlen);
            pthread_mutex_lock(&s->mu);
            bool fresh = pos >= s->bad_seen;
            if (fresh) {
                s->bad_seen = due;
                s->bad_records++;
            }
            pthread_mutex_unlock(&s->mu);
            if (fresh)
                log_bad_record(seg, off, rlen, "skipped");
        }
        pos = LSN(seg, off + 1);
    }
}

spool_lsn spool_cursor(spool *s) {
    pthread_mutex_lock(&s->mu);
    spool_lsn c = s->cursor;
    pthread_mutex_unlock(&s->mu);
    return c;
}

void spool_ack_upto(spool *s, spool_lsn lsn, uint64_t records) {
    pthread_mutex_lock(&s->mu);
    if (lsn <= s->cursor) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->cursor = lsn;
    s->records = s->records >= records ? s->records - records : 0;
    int64_t now = pufa_now_ms();
    bool deletable = SEG(lsn) > s->first_seg;
    if (!deletable && now - s->cursor_saved_ms < 100) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    spool_lsn to_save = s->cursor;
    pthread_mutex_unlock(&s->mu);
    /* Persist the cursor before deleting what it makes obsolete. */
    if (save_cursor(s, to_save) != 0) {
        PLOG_ERROR("COL-SPOOL-CURSOR", "msg=\"cannot save the ack cursor; acked reports may be "
                                       "sent again after a restart\"");
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->cursor_saved = to_save;
    s->cursor_saved_ms = now;
    uint32_t upto = SEG(to_save);
    bool deleted = false;
    while (s->first_seg < upto && s->first_seg < s->seg) {
        char *p = seg_path(s, s->first_seg);
        struct stat st;
        if (stat(p, &st) == 0)
            s->bytes -= (uint64_t)st.st_size <= s->bytes ? (uint64_t)st.st_size : s->bytes;
        unlink(p);
        free(p);
        s->first_seg++;
        deleted = true;
    }
    pthread_mutex_unlock(&s->mu);
    if (deleted)
        fsync_dir(s);
}

int spool_notify_fd(spool *s) {
    return s->notify[0];
}

void spool_drain_notify(spool *s) {
    char buf[64];
    while (read(s->notify[0], buf, sizeof buf) > 0) {
    }
}

void spool_get_stats(spool *s, spool_stats *st) {
    pthread_mutex_lock(&s->mu);
    st->bytes = s->bytes;
    st->records = s->records;
    st->appended = s->appended;
    st->fsyncs = s->fsyncs;
    st->bad_records = s->bad_records;
    st->broken = s->broken;
    pthread_mutex_unlock(&s->mu);
}
