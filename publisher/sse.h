/* The publisher's Server-Sent Events without a thread per stream.  Every
 * stream is a microhttpd callback response on the HTTP loop: when it has
 * nothing to send it suspends its connection.  A watcher thread builds the
 * event of each change of the live state at once; a pump thread resumes the
 * suspended streams behind it (or due a keep-alive), one fan-out at a time,
 * and a stream takes the newest event when microhttpd asks it for data, so
 * a change during a fan-out reaches the streams it has not served yet.
 * Events are shared, not copied: a stream holds a
 * reference to the one event it is sending, so a stream's memory is its
 * connection's (http_conn_memory), this struct and its socket's send buffer
 * (stream_buffer).  A reader that takes nothing for stream_stall while
 * something is due is dropped (counted); it never grows memory: a stream
 * that falls behind skips to the newest event, each event being the whole
 * state. */
#ifndef PUB_SSE_H
#define PUB_SSE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "live.h"

typedef struct pub_sse_config {
    int64_t max_streams;
    int64_t keepalive_ms;
    int64_t stall_ms;        /* a stream that takes nothing for this long is dropped */
    int64_t buffer_bytes;    /* SO_SNDBUF of a stream's socket; 0: the kernel's */
    int64_t min_interval_ms; /* fan-outs at most this often (events coalesce) */
} pub_sse_config;

typedef struct pub_sse pub_sse;

/* Starts the pump thread; live must outlive it. */
pub_sse *pub_sse_new(pub_live *live, const pub_sse_config *cfg);
/* Ends every stream (they end at their next read), stops the live state's
 * waits and the pump; before the HTTP server stops.  Accepts NULL. */
void pub_sse_stop(pub_sse *s);
/* Stops (if not yet) and frees, after the HTTP server stopped (it frees
 * its streams); accepts NULL and sets *s to NULL. */
void pub_sse_destroy(pub_sse **s);

/* Answers c with a stream (from the access handler).  false: the cap is
 * reached and nothing was queued (the caller answers 503). */
bool pub_sse_open(pub_sse *s, struct MHD_Connection *c, enum MHD_Result *ret);

/* Writes pufa_publisher_streams* metrics into b. */
void pub_sse_metrics(pub_sse *s, pufa_buf *b);

#endif
