#include "township.h"

#include <stdbool.h>
#include <string.h>

size_t pufa_township_norm(const char *s, char *out, size_t size) {
    size_t n = 0;
    if (size == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    bool space = false; /* a space is pending: written before the next character */
    while (*p) {
        unsigned char ascii = 0;
        size_t step = 1;
        if (p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0x81 && p[2] <= 0xBF) {
            ascii = (unsigned char)(p[2] - 0x81 + 0x21); /* U+FF01..U+FF3F */
            step = 3;
        } else if (p[0] == 0xEF && p[1] == 0xBD && p[2] >= 0x80 && p[2] <= 0x9E) {
            ascii = (unsigned char)(p[2] - 0x80 + 0x60); /* U+FF40..U+FF5E */
            step = 3;
        } else if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) {
            ascii = ' '; /* U+3000 */
            step = 3;
        } else if (p[0] == 0xC2 && p[1] == 0xA0) {
            ascii = ' '; /* U+00A0 */
            step = 2;
        } else if (p[0] == ' ') {
            ascii = ' ';
        } else {
            /* One whole character (the input is UTF-8): never cut in two. */
            step = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 1;
            for (size_t k = 1; k < step; k++)
                if (!p[k])
                    step = k;
        }
        if (ascii == ' ') {
            space = n > 0;
            p += step;
            continue;
        }
        size_t len = ascii ? 1 : step;
        if (n + (space ? 1 : 0) + len >= size)
            break;
        if (space)
            out[n++] = ' ';
        space = false;
        if (ascii) {
            out[n++] = (char)ascii;
        } else {
            memcpy(out + n, p, step);
            n += step;
        }
        p += step;
    }
    out[n] = '\0';
    return n;
}
