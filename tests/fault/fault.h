/* The fault driver's ledger, shared by the driver (fault.c) and its final
 * check (check.c). */
#ifndef FAULT_FAULT_H
#define FAULT_FAULT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc.h"

#define NCOL   3
#define MAXREV 16
/* The generator spreads reports over these rollup cells. */
#define NDAYS      4
#define NUNITS     3
#define NCAMPAIGNS 3

extern const char *const COUNTIES[NCOL];
extern const char *const DAYS[NDAYS];
extern const char *const UNITS[NUNITS];
extern const char *const CAMPAIGNS[NCAMPAIGNS]; /* [0] = "" (none) */

/* One revision as the generator sent it. */
typedef struct revision {
    int64_t participants, sessions;
    uint8_t day, theme, venue, form, unit, campaign; /* day, unit, campaign: indices */
    bool retracted;
} revision;

typedef struct entry {
    char id[37];
    int county;
    uint32_t acked;     /* highest revision answered 202 "spooled", 0 = none */
    uint32_t attempted; /* highest revision sent */
    /* The acknowledged revision whose spool record a fault flipped while it
     * was undelivered; set only after the flip was read back. */
    uint32_t corrupted;
    bool frozen; /* chosen for a corruption: the generator sends no more revisions */
    revision rev[MAXREV + 1];
} entry;

/* The ledger (fault.c): ledger[0..nledger), under ledger_mu while the
 * generator runs. */
extern pthread_mutex_t ledger_mu;
extern entry *ledger;
extern size_t nledger;

/* Flips a byte of an undelivered record in the spool folder of a collector
 * stopped cleanly, one holding its report's latest acknowledged revision,
 * received after since_ms; freezes and tags that report once the flip is
 * read back.  The record's position in *seg, *off.  False if none was
 * flipped (spool_faults.c). */
bool spool_fault_corrupt(const char *spool, unsigned *s, long long since_ms, unsigned *seg,
                         unsigned *off);
/* ENOSPC on the spool's segment writes of process pid for hold ms, in up
 * to 5 rounds until strace reports one injected.  False if none was. */
bool spool_fault_disk_full(const char *spool, int pid, int hold);

/* The fault kinds (fault.c); the FED_ ones need --federation (fed.c). */
enum {
    F_KILL,
    F_PAUSE,
    F_PG,
    F_PARTITION,
    F_DISKFULL,
    F_CORRUPT,
    F_PGKILL,
    FED_PARTITION,
    FED_KILL_CITY,
    FED_UPPER_RESTART,
    FED_CURSOR_RESET,
    NKINDS
};

/* What the database, the rollups and the publisher hold, against the ledger. */
typedef struct verdict {
    long long acked;             /* reports with an acknowledged revision */
    long long committed;         /* rows in reports */
    long long lost;              /* acked revision not stored, and not excused */
    long long excused;           /* lost because its exact acked revision was corrupted */
    long long corrupted_kept;    /* corrupted, yet stored at that revision */
    long long phantom;           /* stored, never sent */
    long long wrong_revision;    /* stored revision never sent */
    long long wrong_content;     /* stored figures or cell differ from that revision's */
    long long figure_mismatches; /* cells (SQL, rollups, publisher) != ledger */
} verdict;

/* Compares everything with the ledger (sorted here by id: call it once the
 * generator has stopped), printing each county's totals and the first
 * mismatches (check.c). */
void check_ledger(PGconn *db, const char *pub_port, verdict *v);

/* The level above (fed.c): migrates the upper database (PUFA_UPPER_DB),
 * starts the nation's aggregator and publisher and the proxy the city
 * forwards through; false (said on stderr) without the upper PostgreSQL. */
bool fed_start(const char *build);
/* The endpoint the city aggregator's --upstream names (the proxy). */
const char *fed_upstream(void);
void fed_stop(void);
/* The name of an upper service that died, or NULL. */
const char *fed_dead(void);
void fed_dump(void);
void fed_heal(void);
/* Injects one FED_ fault; the city aggregator is city, started by
 * start_city.  True when it was verified to have bitten. */
bool fed_inject(int kind, int i, int hold, pufa_proc *city, void (*start_city)(void));
/* Until the city's forward backlog is empty and the upper publisher is at
 * its feed (false at deadline, mono ms). */
bool fed_drain(long long deadline);
/* check_ledger on the upper level. */
void fed_check(verdict *v);

#endif
