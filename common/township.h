/* Township names as a breakdown key.  Counties type the same township in
 * different ways ("隆兴昌镇", " 隆兴昌镇 ", "隆兴昌　镇" with an ideographic
 * space, "ＸＸ街道" with full-width letters); the rollups group them under
 * one key.  The same rule is the SQL function pufa_township_norm
 * (common/sql/007_targets.sql), which backfills existing reports: change
 * both or neither. */
#ifndef PUFA_TOWNSHIP_H
#define PUFA_TOWNSHIP_H

#include <stddef.h>

/* Writes the normalised form of s into out (size >= strlen(s) + 1; the
 * result is never longer): U+FF01..U+FF5E become ASCII 0x21..0x7E, U+3000
 * and U+00A0 become a space, runs of spaces become one, and spaces at both
 * ends go.  Returns the length written. */
size_t pufa_township_norm(const char *s, char *out, size_t size);

#endif
