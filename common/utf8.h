#ifndef PUFA_UTF8_H
#define PUFA_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Checks that s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF) with no NUL byte.  On success stores the number
 * of code points in *chars (may be NULL). */
bool pufa_utf8_valid(const char *s, size_t len, size_t *chars);

/* true if s holds a C0 control character other than none (tab, CR, LF are
 * controls too: single-line fields refuse them). */
bool pufa_has_control(const char *s, size_t len);

#endif
