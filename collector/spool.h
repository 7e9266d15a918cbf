/* The collector's durable spool: append-only segment files of records
 *   [magic u32 "PUFR"][len u32][crc32c u32 of len+payload][payload]
 * (little endian; the payload is an encoded ActivityReport).  A syncer
 * thread fdatasyncs the current segment for everyone who appended since the
 * last sync (group fsync); appenders wait for the sync that covers them
 * before answering "accepted".  An ack cursor (file "cursor", replaced
 * atomically) marks everything before it as acknowledged by the
 * aggregator; segments wholly before it are deleted.  At start a torn tail
 * is cut and a corrupted region is skipped to the next valid record, never
 * misread.  A failed fsync breaks the spool for good (intake stops). */
#ifndef COL_SPOOL_H
#define COL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A record's position: segment number << 32 | byte offset. */
typedef uint64_t spool_lsn;

#define SPOOL_HEADER     12
#define SPOOL_MAX_RECORD (64u * 1024u)

typedef struct spool_config {
    const char *dir;
    uint64_t quota_bytes;   /* total segment bytes allowed */
    uint64_t segment_bytes; /* rotate after this size */
} spool_config;

typedef struct spool_recovery {
    uint64_t records; /* unacknowledged records found */
    uint64_t segments;
    uint64_t torn_bytes;    /* cut from the tail of the last segment */
    uint64_t skipped_bytes; /* corrupted bytes skipped elsewhere */
    uint64_t bad_records;   /* whole records with a bad CRC cut from the tail */
} spool_recovery;

typedef struct spool_stats {
    uint64_t bytes;       /* on disk */
    uint64_t records;     /* not yet acknowledged */
    uint64_t appended;    /* since start */
    uint64_t fsyncs;      /* since start */
    uint64_t bad_records; /* since start: whole records with a bad CRC, cut at
                           * open or skipped by spool_read; each a lost report */
    bool broken;
} spool_stats;

typedef struct spool spool;

int spool_open(const spool_config *cfg, spool **out, spool_recovery *rec, char *err,
               size_t errsize);
void spool_close(spool **s);

/* Appends n records; *end gets the durability token.  PUFA_EQUOTA (over
 * the quota: nothing appended), PUFA_ENOSPC (disk full: nothing appended),
 * PUFA_EIO (the spool is broken), PUFA_ETOOBIG (a record over
 * SPOOL_MAX_RECORD). */
int spool_append(spool *s, const uint8_t *const *data, const size_t *lens, size_t n,
                 spool_lsn *end);
/* Blocks until everything before end is on disk.  0 or PUFA_EIO. */
int spool_wait_durable(spool *s, spool_lsn end);

/* Reads the durable record at or after pos (skipping corrupted bytes).
 * pos must be a record boundary (the cursor or a previous *next).  A whole
 * record whose CRC fails is skipped, logged once with its position
 * (COL-SPOOL-BAD-RECORD segment=.. offset=..) and counted in bad_records.
 * On 0, *data (caller frees) / *len hold the payload, *at its position and
 * *next the position after it.  PUFA_ENOTFOUND: nothing durable there yet. */
int spool_read(spool *s, spool_lsn pos, uint8_t **data, size_t *len, spool_lsn *at,
               spool_lsn *next);
/* Where unacknowledged records start (read from the cursor at open). */
spool_lsn spool_cursor(spool *s);
/* Everything before lsn is acknowledged (records: how many that adds). */
void spool_ack_upto(spool *s, spool_lsn lsn, uint64_t records);
/* A file descriptor that becomes readable when new records are durable. */
int spool_notify_fd(spool *s);
void spool_drain_notify(spool *s);
void spool_get_stats(spool *s, spool_stats *st);

/* The record scan recovery runs over a segment's bytes, from start: counts
 * the valid records, the bytes skipped over corrupted regions (resyncing at
 * the next valid record), and where the valid data ends (a torn tail starts
 * there).  Pure: exposed for tests and the fuzzer. */
typedef struct spool_scan_result {
    uint64_t records;
    uint64_t skipped_bytes;
    size_t good_end; /* end of the last valid record (>= start) */
    bool torn;       /* invalid bytes after good_end up to the end */
} spool_scan_result;
void spool_scan(const uint8_t *buf, size_t len, size_t start, spool_scan_result *out);
/* Is there a valid record at off?  Its size, or 0. */
size_t spool_record_at(const uint8_t *buf, size_t len, size_t off);

#endif
