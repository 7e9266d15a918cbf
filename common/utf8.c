#include "utf8.h"

bool pufa_utf8_valid(const char *str, size_t len, size_t *chars) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= len || (s[i + 1] & 0xC0) != 0x80)
                return false;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= len || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
                return false;
            if (c == 0xE0 && s[i + 1] < 0xA0) /* overlong */
                return false;
            if (c == 0xED && s[i + 1] >= 0xA0) /* surrogate */
                return false;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= len || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return false;
            if (c == 0xF0 && s[i + 1] < 0x90) /* overlong */
                return false;
            if (c == 0xF4 && s[i + 1] >= 0x90) /* above U+10FFFF */
                return false;
            i += 4;
        } else {
            return false;
        }
        n++;
    }
    if (chars)
        *chars = n;
    return true;
}

bool pufa_has_control(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

size_t pufa_utf8_seq_len(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    if (len == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogate */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

size_t pufa_utf8_first_invalid(const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        size_t n = pufa_utf8_seq_len(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

size_t pufa_utf8_escape(char *dst, size_t size, const char *s, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (size == 0)
        return 0;
    for (size_t i = 0; i < len;) {
        size_t n = pufa_utf8_seq_len(s + i, len - i);
        if (n && s[i] != '\0') {
            if (o + n >= size)
                break;
            for (size_t k = 0; k < n; k++)
                dst[o++] = s[i + k];
            i += n;
        } else {
            if (o + 4 >= size)
                break;
            unsigned char b = (unsigned char)s[i++];
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[b >> 4];
            dst[o++] = hex[b & 15];
        }
    }
    dst[o] = '\0';
    return o;
}
