#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
    fprintf(stderr, "level=fatal id=OOM msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *pufa_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *pufa_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *pufa_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *pufa_strdup(const char *s) {
    return pufa_strndup(s, strlen(s));
}

char *pufa_strndup(const char *s, size_t n) {
    char *d = pufa_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *pufa_asprintf(const char *fmt, ...) {
    pufa_buf b;
    pufa_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    pufa_buf_reserve(&b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b.len = (size_t)n;
    return pufa_buf_steal(&b);
}

void pufa_copy(char *dst, size_t size, const char *src) {
    if (!size)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

void pufa_buf_init(pufa_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void pufa_buf_free(pufa_buf *b) {
    free(b->data);
    pufa_buf_init(b);
}

void pufa_buf_reset(pufa_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void pufa_buf_reserve(pufa_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = pufa_realloc(b->data, cap);
    b->cap = cap;
}

void pufa_buf_append(pufa_buf *b, const void *p, size_t n) {
    pufa_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pufa_buf_puts(pufa_buf *b, const char *s) {
    pufa_buf_append(b, s, strlen(s));
}

void pufa_buf_putc(pufa_buf *b, char c) {
    pufa_buf_append(b, &c, 1);
}

void pufa_buf_printf(pufa_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    pufa_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *pufa_buf_steal(pufa_buf *b) {
    if (!b->data)
        pufa_buf_reserve(b, 0);
    char *d = b->data;
    d[b->len] = '\0';
    pufa_buf_init(b);
    return d;
}
