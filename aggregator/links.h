/* How fresh each child's data is: one row of child_links per sender (a
 * county's collector, or a city's or province's forwarding aggregator),
 * from the link fields of every ReportBatch and idle heartbeat
 * (proto/pufa.proto fields 5-8).
 *
 * The I/O thread notes each batch in memory (links_note: a mutex and a
 * binary search, no I/O); a thread of its own, with its own PostgreSQL
 * session, writes the senders that changed once a second in one statement.
 * So the hot path never waits for the database, and a sender costs at most
 * one row write a second however many batches it sends.
 *
 * Values from the network are hostile: links_check refuses a bad sender
 * name (the batch's reports still go on) and drops a field out of range,
 * saying which and why. */
#ifndef AGG_LINKS_H
#define AGG_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pufa.pb-c.h"

/* Longest sender name (ReportBatch.collector_id), bytes. */
#define LINKS_MAX_SENDER 63
/* Most senders remembered; more are refused (a key inventing names). */
#define LINKS_MAX_SENDERS 10000
/* Largest believable pending count. */
#define LINKS_MAX_PENDING 1000000000000LL
/* Times before 2000-01-01 or further ahead than this are refused; less
 * ahead than this (clock skew) counts as now. */
#define LINKS_MAX_AHEAD_MS (10 * 60 * 1000LL)

/* What one batch says about its sender, checked. */
typedef struct link_obs {
    char sender[LINKS_MAX_SENDER + 1];
    int64_t seen_ms;   /* when it arrived (our clock) */
    bool with_reports; /* not a heartbeat */
    bool has_as_of;
    int64_t as_of_seq, as_of_ms;
    bool has_pending;
    int64_t pending;
    int64_t oldest_ms; /* 0: none waiting, or not said */
} link_obs;

/* Checks pb's link fields, received at now_ms, into *o.  Returns 0 (every
 * field usable), 1 (some fields dropped: why names them, e.g.
 * "as_of_ms: must be ... (got ...)"), or -1 (the sender name is unusable:
 * no row for this batch; why says why).  Pure: for tests and the fuzzer. */
int links_check(const Pufa__ReportBatch *pb, int64_t now_ms, link_obs *o, char *why,
                size_t whysize);

typedef struct links links;

typedef struct links_stats {
    uint64_t senders;        /* remembered */
    uint64_t refused;        /* batches whose link was refused */
    uint64_t fields_dropped; /* batches with a link field dropped */
    uint64_t rows_written;   /* row writes (each a sender's latest state) */
    uint64_t write_errors;
} links_stats;

/* conninfo: the aggregator's database.  Start with links_start; close
 * with links_destroy (writes what is pending, then stops). */
links *links_new(const char *conninfo);
int links_start(links *l);
/* I/O thread: a batch (or heartbeat) pb arrived at now_ms from a key bound
 * to unit (forwarder: unit is a city, province or the nation, not a
 * county).  Refusals are logged (at most once a second) and counted. */
void links_note(links *l, const Pufa__ReportBatch *pb, const char *unit, bool forwarder,
                int64_t now_ms);
void links_get_stats(links *l, links_stats *out);
void links_destroy(links **l);

#endif
