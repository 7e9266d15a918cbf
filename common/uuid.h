#ifndef PUFA_UUID_H
#define PUFA_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define PUFA_UUID_STRLEN 36

/* Parses the 8-4-4-4-12 hex form (either case).  0 or PUFA_EPARSE. */
int pufa_uuid_parse(const char *s, uint8_t out[16]);
/* Writes the lower-case 8-4-4-4-12 form and a NUL into out[37]. */
void pufa_uuid_format(const uint8_t id[16], char out[PUFA_UUID_STRLEN + 1]);
/* Canonicalises s (lower case) into out; 0 or PUFA_EPARSE. */
int pufa_uuid_canonical(const char *s, char out[PUFA_UUID_STRLEN + 1]);
/* A time-ordered UUIDv7 (48-bit Unix ms, then random bits). */
void pufa_uuid_v7(uint8_t out[16]);

#endif
