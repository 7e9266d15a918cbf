/* Out-of-memory policy (one for the whole repo): allocation failure is not
 * recoverable in these services, so the pufa_* allocators log and abort.
 * Callers never check their result for NULL.  Input sizes are capped at
 * every boundary, so a hostile peer cannot make us allocate without bound. */
#ifndef PUFA_ALLOC_H
#define PUFA_ALLOC_H

#include <stddef.h>

void *pufa_malloc(size_t n);
void *pufa_calloc(size_t count, size_t size);
void *pufa_realloc(void *p, size_t n);
char *pufa_strdup(const char *s);
char *pufa_strndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *pufa_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies src into dst[size], truncating on purpose, always terminated.
 * (snprintf "%s" would do the same but trips -Wformat-truncation.) */
void pufa_copy(char *dst, size_t size, const char *src);

/* A growable byte buffer.  Always NUL-terminated after its len bytes. */
typedef struct pufa_buf {
    char *data;
    size_t len;
    size_t cap;
} pufa_buf;

void pufa_buf_init(pufa_buf *b);
void pufa_buf_free(pufa_buf *b);
void pufa_buf_reset(pufa_buf *b);
void pufa_buf_reserve(pufa_buf *b, size_t extra);
void pufa_buf_append(pufa_buf *b, const void *p, size_t n);
void pufa_buf_puts(pufa_buf *b, const char *s);
void pufa_buf_putc(pufa_buf *b, char c);
void pufa_buf_printf(pufa_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it) and leaves b empty. */
char *pufa_buf_steal(pufa_buf *b);

#endif
