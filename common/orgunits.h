/* Org units (GB/T 2260 codes) at four levels: the nation (100000),
 * provinces (XX0000), cities (XXXX00) and counties (the last two digits
 * 01-99).  A county's parent is a city, a city's a province, a province's
 * the nation; the top unit of a set may have no parent.  Loaded from a CSV
 * with the header code,name,level,parent_code, or from the org_units
 * table. */
#ifndef PUFA_ORGUNITS_H
#define PUFA_ORGUNITS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pufa_orgunit {
    char code[7];
    char *name;
    char level[10];      /* "nation", "province", "city" or "county" */
    char parent_code[7]; /* "" when none */
    long line;           /* the CSV line it came from; 0 when not from a file */
} pufa_orgunit;

typedef struct pufa_orgunits {
    pufa_orgunit *units; /* sorted by code */
    size_t count;
    size_t cap;
} pufa_orgunits;

/* Loads a CSV file of any depth, its lines in any order.  Every bad line
 * is reported, one "line N: FIELD: rule (got ...)" per line of err (size
 * errsize; the first ones when they do not all fit), and then nothing is
 * loaded: PUFA_EPARSE, or PUFA_EIO when the file cannot be read.  A parent
 * named in the file must be one level up; a parent not in the file is not
 * checked.  Caller frees *out with pufa_orgunits_destroy. */
int pufa_orgunits_load_csv(const char *path, pufa_orgunits **out, char *err, size_t errsize);
/* The same, and every parent must be in the file or in known (e.g. the
 * database's units; may be NULL), one level up. */
int pufa_orgunits_load_csv_within(const char *path, const pufa_orgunits *known, pufa_orgunits **out,
                                  char *err, size_t errsize);

/* Builds a set unit by unit (e.g. rows read from PostgreSQL).  add copies
 * its arguments; PUFA_EINVAL for a malformed code, an empty name, an
 * unknown level, a malformed parent code or a code already present. */
pufa_orgunits *pufa_orgunits_new(void);
int pufa_orgunits_add(pufa_orgunits *ou, const char *code, const char *name, const char *level,
                      const char *parent_code);
void pufa_orgunits_destroy(pufa_orgunits **ou);

const pufa_orgunit *pufa_orgunits_find(const pufa_orgunits *ou, const char *code);
/* true if code is a county of the set. */
bool pufa_orgunits_is_county(const pufa_orgunits *ou, const char *code);
/* true if county is a county of the set and unit is that county or one of
 * its ancestors (its city, province, nation).  A walk up the parents: at
 * most three lookups of O(log n) each (about 12 comparisons apiece for the
 * 3,349 units of the whole country). */
bool pufa_orgunits_is_under(const pufa_orgunits *ou, const char *county, const char *unit);
/* true if code is a unit of the set and unit is that unit or one of its
 * ancestors (the same walk, at any level). */
bool pufa_orgunits_within(const pufa_orgunits *ou, const char *code, const char *unit);
/* How many counties of the set are under unit (O(n) walks; for start-up). */
size_t pufa_orgunits_counties_under(const pufa_orgunits *ou, const char *unit);
/* The home unit of a service (an aggregator, a publisher): want when
 * given, else the one city of ou.  It must be a city, province or nation
 * of ou.  0 with home filled, or PUFA_ECONFIG with err saying what to set
 * ("home: ..."). */
int pufa_orgunits_resolve_home(const pufa_orgunits *ou, const char *want, char home[7], char *err,
                               size_t errsize);
/* true if code is six ASCII digits. */
bool pufa_orgunit_code_valid(const char *code);
/* 0 nation, 1 province, 2 city, 3 county; -1 for anything else. */
int pufa_orgunit_level_rank(const char *level);

#endif
