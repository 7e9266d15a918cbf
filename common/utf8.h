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

/* Length of the well-formed UTF-8 sequence at s[0..len) (1 for ASCII,
 * NUL included), or 0 when the bytes there are not one. */
size_t pufa_utf8_seq_len(const char *s, size_t len);

/* Offset of the first byte of s[0..len) that does not start a well-formed
 * UTF-8 sequence (NUL counts as well-formed here), or len if none. */
size_t pufa_utf8_first_invalid(const char *s, size_t len);

/* Copies s[0..len) into dst as valid UTF-8 text: each byte that is not part
 * of a well-formed sequence is written as \xNN (and a NUL as \x00).  The
 * copy stops before a sequence or escape that would not fit whole, so
 * cutting never splits a character; dst is always terminated (size >= 1).
 * Returns the length written. */
size_t pufa_utf8_escape(char *dst, size_t size, const char *s, size_t len);

#endif
