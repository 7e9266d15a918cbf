/* The org units a city reports for (GB/T 2260 codes), loaded from a CSV
 * with the header code,name,level,parent_code (levels "city", "county"),
 * or from the org_units table. */
#ifndef PUFA_ORGUNITS_H
#define PUFA_ORGUNITS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pufa_orgunit {
    char code[7];
    char *name;
    char level[8]; /* "city" or "county" */
    char parent_code[7];
} pufa_orgunit;

typedef struct pufa_orgunits {
    pufa_orgunit *units; /* sorted by code */
    size_t count;
} pufa_orgunits;

/* Loads a CSV file; on error returns PUFA_EPARSE/PUFA_EIO and writes a
 * message naming the line into err (size errsize).  Caller frees with
 * pufa_orgunits_destroy. */
int pufa_orgunits_load_csv(const char *path, pufa_orgunits **out, char *err, size_t errsize);
/* Builds a set from parallel arrays (e.g. rows read from PostgreSQL). */
pufa_orgunits *pufa_orgunits_new(void);
int pufa_orgunits_add(pufa_orgunits *ou, const char *code, const char *name, const char *level,
                      const char *parent_code);
void pufa_orgunits_destroy(pufa_orgunits **ou);

const pufa_orgunit *pufa_orgunits_find(const pufa_orgunits *ou, const char *code);
bool pufa_orgunits_is_county(const pufa_orgunits *ou, const char *code);
/* true if code is six ASCII digits. */
bool pufa_orgunit_code_valid(const char *code);

#endif
