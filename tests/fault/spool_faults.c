/* The fault driver's two faults on a collector's spool: a flipped byte in
 * an undelivered record, and a full disk (ENOSPC injected by strace). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "crc32c.h"
#include "fault.h"
#include "file.h"
#include "proc.h"
#include "report.h"
#include "wire.h"

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Does the record at off (header + len payload bytes) carry a good CRC? */
static bool crc_ok(const uint8_t *rec, uint32_t len) {
    uint32_t crc = pufa_crc32c(0, rec + 4, 4);
    crc = pufa_crc32c(crc, rec + 12, len);
    return crc == get32(rec + 8);
}

/* The whole file, or NULL when it cannot be read. */
static uint8_t *read_file(const char *path, size_t *len) {
    char *buf;
    return pufa_read_file(path, 0, &buf, len, NULL, 0) == 0 ? (uint8_t *)buf : NULL;
}

typedef struct candidate {
    unsigned seg, off;
    uint32_t len, rev;
    char id[37];
} candidate;

/* Is (id, rev) in the collector's outcomes.log, i.e. did the aggregator
 * answer for it? */
static bool answered(const char *outcomes, const char *id, uint32_t rev) {
    char needle[64];
    snprintf(needle, sizeof needle, "%s %u ", id, rev);
    return outcomes && strstr(outcomes, needle);
}

/* Stored revision of a report in the database, 0 when none, -1 on error. */
static long stored_revision(PGconn *db, const char *id) {
    const char *p[1] = {id};
    PGresult *q = PQexecParams(db, "SELECT revision FROM reports WHERE report_id = $1", 1, NULL, p,
                               NULL, NULL, 0);
    long rev = PQresultStatus(q) != PGRES_TUPLES_OK ? -1
               : PQntuples(q)                       ? atol(PQgetvalue(q, 0, 0))
                                                    : 0;
    PQclear(q);
    return rev;
}

/* Flips a byte of one spool record of collector k (stopped cleanly, so its
 * cursor is exact) that is still undelivered: after the cursor, received
 * after since_ms (when the partition had already cut it off, so it was
 * never sent), no answer for it in outcomes.log, not in the database — and
 * that holds its report's latest acknowledged revision.  The report is
 * frozen (no more revisions) and tagged only once the flip is read back:
 * the byte differs and the record's CRC fails.  False if nothing was
 * flipped. */
bool spool_fault_corrupt(const char *spool, unsigned *s, long long since_ms, unsigned *seg_out,
                         unsigned *off_out) {
    char *path = pufa_asprintf("%s/cursor", spool);
    size_t len;
    uint8_t *text = read_file(path, &len);
    free(path);
    unsigned long long cursor = 0;
    if (text && sscanf((char *)text, "%llx", &cursor) != 1)
        cursor = 0;
    free(text);
    unsigned cseg = (unsigned)(cursor >> 32), coff = (unsigned)(cursor & 0xffffffffu);
    candidate *cands = pufa_calloc(4096, sizeof *cands);
    size_t nc = 0;
    for (unsigned seg = cseg ? cseg : 1; nc < 4096; seg++) {
        char *spath = pufa_asprintf("%s/%010u.seg", spool, seg);
        uint8_t *buf = read_file(spath, &len);
        free(spath);
        if (!buf)
            break;
        size_t pos = seg == cseg ? coff : 0;
        while (pos + 12 <= len && nc < 4096) {
            uint32_t rlen = get32(buf + pos + 4);
            if (pos + 12 + rlen > len || !crc_ok(buf + pos, rlen))
                break;
            pufa_report r;
            pufa_report_init(&r);
            if (pufa_report_decode(buf + pos + 12, rlen, &r) == 0 && r.received_at_ms >= since_ms) {
                candidate *c = &cands[nc++];
                c->seg = seg;
                c->off = (unsigned)pos;
                c->len = rlen;
                c->rev = (uint32_t)r.revision;
                snprintf(c->id, sizeof c->id, "%s", r.report_id);
            }
            pufa_report_clear(&r);
            pos += 12 + rlen;
        }
        free(buf);
    }
    path = pufa_asprintf("%s/outcomes.log", spool);
    char *outcomes = (char *)read_file(path, &len);
    free(path);
    PGconn *db = PQconnectdb(getenv("PUFA_TEST_DB"));
    bool done = false;
    /* Random order; each candidate is looked at once. */
    for (size_t left = nc; left > 0 && !done; left--) {
        size_t pick = rand_r(s) % left;
        candidate c = cands[pick];
        cands[pick] = cands[left - 1];
        if (answered(outcomes, c.id, c.rev) || stored_revision(db, c.id) != 0)
            continue;
        entry *e = NULL;
        pthread_mutex_lock(&ledger_mu);
        for (size_t i = 0; i < nledger && !e; i++)
            if (!strcmp(ledger[i].id, c.id))
                e = &ledger[i];
        bool ok = e && !e->frozen && e->acked == c.rev && e->attempted == c.rev;
        if (ok)
            e->frozen = true;
        size_t idx = e ? (size_t)(e - ledger) : 0;
        pthread_mutex_unlock(&ledger_mu);
        if (!ok)
            continue;
        char *spath = pufa_asprintf("%s/%010u.seg", spool, c.seg);
        int fd = open(spath, O_RDWR);
        uint8_t before, after, *rec = pufa_malloc(12 + c.len);
        off_t victim = (off_t)c.off + 12 + (off_t)(rand_r(s) % c.len);
        if (fd >= 0 && pread(fd, &before, 1, victim) == 1) {
            after = before ^ 0x5A;
            done = pwrite(fd, &after, 1, victim) == 1 && fsync(fd) == 0 &&
                   pread(fd, &after, 1, victim) == 1 && after != before &&
                   pread(fd, rec, 12 + c.len, c.off) == (ssize_t)(12 + c.len) &&
                   !crc_ok(rec, c.len);
        }
        if (fd >= 0)
            close(fd);
        free(rec);
        pthread_mutex_lock(&ledger_mu);
        if (done)
            ledger[idx].corrupted = c.rev;
        else
            ledger[idx].frozen = false;
        pthread_mutex_unlock(&ledger_mu);
        if (done) {
            *seg_out = c.seg;
            *off_out = c.off;
            printf("#   flipped byte %lld of report %s rev %u (undelivered, segment %u offset "
                   "%u) in %s; read back: CRC fails\n",
                   (long long)victim, c.id, c.rev, c.seg, c.off, spath);
        } else {
            printf("#   flip of report %s rev %u in %s not confirmed\n", c.id, c.rev, spath);
        }
        free(spath);
        break;
    }
    if (!done)
        printf("#   no record flipped (%zu undelivered candidates)\n", nc);
    PQfinish(db);
    free(outcomes);
    free(cands);
    return done;
}

/* ENOSPC on every write to collector k's spool segments, for hold ms a
 * round, until strace reports at least one injected (at most 5 rounds). */
bool spool_fault_disk_full(const char *spool, int pid, int hold) {
    char *out = pufa_asprintf("%s.strace", spool);
    bool hit = false;
    for (int round = 0; round < 5 && !hit; round++) {
        /* The segments there are, and the next one, by path: nothing else
         * (logs, sockets, outcomes.log) gets the error. */
        char *paths = pufa_strdup("");
        unsigned last = 0;
        DIR *d = opendir(spool);
        for (struct dirent *de = d ? readdir(d) : NULL; de; de = readdir(d)) {
            unsigned seg;
            if (strlen(de->d_name) != 14 || sscanf(de->d_name, "%10u.seg", &seg) != 1)
                continue;
            last = seg > last ? seg : last;
            char *p2 = pufa_asprintf("%s -P '%s/%s'", paths, spool, de->d_name);
            free(paths);
            paths = p2;
        }
        if (d)
            closedir(d);
        char *p2 = pufa_asprintf("%s -P '%s/%010u.seg'", paths, spool, last + 1);
        free(paths);
        paths = p2;
        char *cmd = pufa_asprintf("timeout -s INT %d.%03d strace -f -qq -y -o '%s' -p %d %s "
                                  "-e trace=write -e inject=write:error=ENOSPC 2>/dev/null",
                                  hold / 1000, hold % 1000, out, pid, paths);
        pufa_sh(cmd);
        free(cmd);
        free(paths);
        size_t len;
        char *log = (char *)read_file(out, &len);
        int n = 0;
        for (char *at = log ? strstr(log, "(INJECTED)") : NULL; at;
             at = strstr(at + 1, "(INJECTED)"))
            n++;
        free(log);
        hit = n > 0;
        printf("#   round %d: %d spool writes failed with ENOSPC\n", round + 1, n);
    }
    free(out);
    return hit;
}
