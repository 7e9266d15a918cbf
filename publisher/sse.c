#include "sse.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "metrics.h"

/* One "update" event in SSE form, shared by every stream sending it. */
typedef struct sse_event {
    _Atomic unsigned refs;
    uint64_t version;
    int64_t born_ms; /* built (monotonic) */
    size_t len;
    char text[];
} sse_event;

typedef struct stream {
    pub_sse *sse;
    struct MHD_Connection *c;
    struct stream *prev, *next;
    sse_event *ev; /* the event being sent (a reference), or NULL */
    size_t off;    /* bytes of ev already handed to microhttpd */
    char pre[32];  /* "retry: ..." or a keep-alive, sent before ev */
    size_t prelen, preoff;
    uint64_t version; /* of the last event taken */
    int64_t taken_ms; /* microhttpd last asked for data (the socket drained) */
    int64_t sent_ms;  /* something was last handed over */
    int fd;
    bool started, suspended, dropped;
    bool owed; /* woken by the running fan-out and not yet handed its event */
} stream;

struct pub_sse {
    pub_sse_config cfg;
    pub_live *live;
    pthread_mutex_t mu; /* everything below */
    stream *first;
    sse_event *cur;
    uint64_t open, idle, opened, refused, dropped_slow, events, events_mid, fanouts;
    /* The running fan-out: streams woken for it that have not yet handed
     * its (or a newer) event to their socket; when it reaches 0 the
     * fan-out's time goes into fanout_hist and fan_cv is signalled. */
    uint64_t fan_pending, fanouts_cut;
    int64_t fan_born_ms;
    pufa_histogram fanout_hist;
    pthread_cond_t fan_cv; /* CLOCK_MONOTONIC; cur, fan_pending, stopping */
    bool stopping;
    pthread_t pump, watch;
    bool pump_started, watch_started;
    struct MHD_Connection **wake; /* the pump's: connections to resume */
    size_t wake_cap;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sse_event *event_new(uint64_t version, const char *payload) {
    int n = snprintf(NULL, 0, "id: %llu\nevent: update\ndata: %s\n\n", (unsigned long long)version,
                     payload);
    sse_event *e = pufa_malloc(sizeof *e + (size_t)n + 1);
    atomic_init(&e->refs, 1);
    e->version = version;
    e->born_ms = mono_ms();
    e->len = (size_t)n;
    snprintf(e->text, (size_t)n + 1, "id: %llu\nevent: update\ndata: %s\n\n",
             (unsigned long long)version, payload);
    return e;
}

static sse_event *event_ref(sse_event *e) {
    atomic_fetch_add(&e->refs, 1);
    return e;
}

static void event_unref(sse_event **pe) {
    if (*pe && atomic_fetch_sub(&(*pe)->refs, 1) == 1)
        free(*pe);
    *pe = NULL;
}

/* st has handed a whole event (the fan-out's or a newer one) to its socket,
 * or is closing; under s->mu. */
static void fanout_settle(pub_sse *s, stream *st, int64_t now) {
    if (!st->owed)
        return;
    st->owed = false;
    if (s->fan_pending && --s->fan_pending == 0) {
        pufa_histogram_observe(&s->fanout_hist, (double)(now - s->fan_born_ms) / 1000.0);
        pthread_cond_signal(&s->fan_cv);
    }
}

/* microhttpd asks for the next bytes (on a loop thread).  Nothing due:
 * suspend the connection and return 0; the pump resumes it. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream *st = cls;
    pub_sse *s = st->sse;
    pthread_mutex_lock(&s->mu);
    int64_t now = mono_ms();
    st->taken_ms = now;
    if (s->stopping || st->dropped) {
        pthread_mutex_unlock(&s->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (!st->ev && st->preoff == st->prelen) {
        st->prelen = st->preoff = 0;
        if (!st->started) {
            st->started = true;
            st->prelen = (size_t)snprintf(st->pre, sizeof st->pre, "retry: 2000\n");
        }
        if (s->cur && (st->version != s->cur->version || st->prelen)) {
            st->ev = event_ref(s->cur);
            st->off = 0;
            st->version = s->cur->version;
        } else if (now - st->sent_ms >= s->cfg.keepalive_ms) {
            st->prelen = (size_t)snprintf(st->pre, sizeof st->pre, ": keepalive\n\n");
        } else {
            st->suspended = true;
            s->idle++;
            MHD_suspend_connection(st->c);
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
    }
    size_t n = 0;
    while (n < max && st->preoff < st->prelen)
        buf[n++] = st->pre[st->preoff++];
    if (st->ev && n < max) {
        size_t k = st->ev->len - st->off;
        if (k > max - n)
            k = max - n;
        memcpy(buf + n, st->ev->text + st->off, k);
        st->off += k;
        n += k;
        if (st->off == st->ev->len) {
            event_unref(&st->ev);
            fanout_settle(s, st, now);
        }
    }
    st->sent_ms = now;
    pthread_mutex_unlock(&s->mu);
    return (ssize_t)n;
}

/* The response is destroyed: its connection is closing (the socket is
 * still open until this returns). */
static void stream_free(void *cls) {
    stream *st = cls;
    pub_sse *s = st->sse;
    pthread_mutex_lock(&s->mu);
    if (st->prev)
        st->prev->next = st->next;
    else
        s->first = st->next;
    if (st->next)
        st->next->prev = st->prev;
    s->open--;
    if (st->suspended)
        s->idle--;
    event_unref(&st->ev);
    fanout_settle(s, st, mono_ms());
    pthread_mutex_unlock(&s->mu);
    free(st);
}

/* A fan-out whose woken streams have not all taken its event after this
 * long (a reader whose socket is full) no longer holds the next one back. */
#define FANOUT_WAIT_MS 1000

/* Builds the event of every change as soon as pub_live has it, so that a
 * stream the running fan-out has not reached yet takes the newest state
 * when microhttpd asks it for data (stream_read takes s->cur) rather than
 * the state of when the fan-out began. */
static void *watch_main(void *arg) {
    pub_sse *s = arg;
    pthread_mutex_lock(&s->mu);
    uint64_t version = s->cur->version;
    pthread_mutex_unlock(&s->mu);
    for (;;) {
        char *payload = NULL;
        pub_live_wait_result r = pub_live_wait(s->live, &version, 1000, &payload);
        if (r == PUB_LIVE_STOPPED)
            break;
        if (r == PUB_LIVE_CHANGED) {
            sse_event *e = event_new(version, payload);
            pthread_mutex_lock(&s->mu);
            event_unref(&s->cur);
            s->cur = e;
            s->events++;
            s->events_mid += s->fan_pending > 0;
            pthread_cond_signal(&s->fan_cv);
            pthread_mutex_unlock(&s->mu);
        }
        free(payload);
    }
    return NULL;
}

/* Waits on fan_cv until at (monotonic ms); under s->mu. */
static void wait_until(pub_sse *s, int64_t at) {
    int64_t now = mono_ms();
    if (at <= now)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (at - now) * 1000000;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&s->fan_cv, &s->mu, &ts);
}

/* One pass over the streams (under s->mu), in list order.  fanout: wakes
 * every suspended stream whose last event is older than s->cur (one that
 * already took it, skipping ahead during the previous fan-out, is left
 * alone) and starts a fan-out that waits for them; otherwise wakes only
 * those due a keep-alive.  Either way drops a stream whose socket has not
 * drained for stall_ms.  Returns how many connections are in s->wake. */
static size_t sweep(pub_sse *s, bool fanout, int64_t now) {
    size_t nwake = 0;
    uint64_t v = s->cur->version;
    for (stream *st = s->first; st; st = st->next) {
        if (st->suspended) {
            bool wake = fanout ? st->version != v : now - st->sent_ms >= s->cfg.keepalive_ms;
            if (fanout) {
                /* Behind and idle: this fan-out waits for it. */
                st->owed = wake;
                s->fan_pending += wake;
            }
            if (wake) {
                st->suspended = false;
                s->idle--;
                st->taken_ms = now;
                if (nwake == s->wake_cap) {
                    s->wake_cap = s->wake_cap ? 2 * s->wake_cap : 256;
                    s->wake = pufa_realloc(s->wake, s->wake_cap * sizeof *s->wake);
                }
                s->wake[nwake++] = st->c;
            }
        } else {
            /* Still sending an older event: it takes the newest next, but
             * a slow reader does not hold the fan-out back. */
            if (fanout)
                st->owed = false;
            if (!st->dropped && now - st->taken_ms >= s->cfg.stall_ms) {
                /* Its socket has not drained for stall_ms: the loop sees
                 * the shutdown and closes it (stream_free follows). */
                st->dropped = true;
                s->dropped_slow++;
                shutdown(st->fd, SHUT_RDWR);
            }
        }
    }
    return nwake;
}

/* Fan-outs one at a time: the next begins once every stream woken for the
 * running one has handed its (or a newer) event to the socket, or
 * FANOUT_WAIT_MS passed, and at least min_interval_ms after it began.  It
 * wakes only the streams still behind, in the same order; the others took
 * the newest event meanwhile.  So an event goes to a stream at most once,
 * a stream never has two queued, and a change waits about one fan-out,
 * not the rest of the running one and then one of its own. */
static void *pump_main(void *arg) {
    pub_sse *s = arg;
    int64_t tick =
        s->cfg.keepalive_ms < s->cfg.stall_ms / 2 ? s->cfg.keepalive_ms : s->cfg.stall_ms / 2;
    tick = tick < 50 ? 50 : tick > 1000 ? 1000 : tick;
    pthread_mutex_lock(&s->mu);
    uint64_t sent = s->cur->version; /* the version of the last fan-out */
    int64_t began = mono_ms(), next_tick = began + tick;
    while (!s->stopping) {
        int64_t now = mono_ms();
        bool behind = s->cur->version != sent;
        bool busy = s->fan_pending && now < began + FANOUT_WAIT_MS;
        int64_t ready = busy ? began + FANOUT_WAIT_MS : began + s->cfg.min_interval_ms;
        bool fanout = behind && !busy && now >= ready;
        if (!fanout && now < next_tick) {
            wait_until(s, behind && ready < next_tick ? ready : next_tick);
            continue;
        }
        if (fanout) {
            if (s->fan_pending)
                s->fanouts_cut++;
            sent = s->cur->version;
            s->fan_pending = 0;
            s->fan_born_ms = s->cur->born_ms;
            began = now;
        } else {
            next_tick = now + tick;
        }
        size_t nwake = sweep(s, fanout, now);
        if (fanout && s->fan_pending)
            s->fanouts++;
        pthread_mutex_unlock(&s->mu);
        /* Resumed outside the lock, so that the loop threads can send
         * meanwhile.  A connection not yet resumed is still suspended:
         * microhttpd cannot close it, so st->c stays valid. */
        for (size_t i = 0; i < nwake; i++)
            MHD_resume_connection(s->wake[i]);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

pub_sse *pub_sse_new(pub_live *live, const pub_sse_config *cfg) {
    pub_sse *s = pufa_calloc(1, sizeof *s);
    s->cfg = *cfg;
    s->live = live;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->fan_cv, &ca);
    pthread_condattr_destroy(&ca);
    pufa_histogram_init_latency(&s->fanout_hist);
    uint64_t version;
    char *payload = pub_live_event(s->live, &version);
    s->cur = event_new(version, payload);
    free(payload);
    if (pthread_create(&s->pump, NULL, pump_main, s) == 0)
        s->pump_started = true;
    else
        PLOG_ERROR("PUB-SSE", "msg=\"cannot start the stream pump: streams get no events\"");
    if (s->pump_started && pthread_create(&s->watch, NULL, watch_main, s) == 0)
        s->watch_started = true;
    else if (s->pump_started)
        PLOG_ERROR("PUB-SSE", "msg=\"cannot start the stream watcher: streams get no new events\"");
    return s;
}

void pub_sse_stop(pub_sse *s) {
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->fan_cv);
    for (stream *st = s->first; st; st = st->next)
        if (st->suspended) {
            st->suspended = false;
            s->idle--;
            MHD_resume_connection(st->c);
        }
    pthread_mutex_unlock(&s->mu);
    pub_live_stop(s->live);
    if (s->watch_started)
        pthread_join(s->watch, NULL);
    if (s->pump_started)
        pthread_join(s->pump, NULL);
    s->watch_started = s->pump_started = false;
}

void pub_sse_destroy(pub_sse **ps) {
    if (!ps || !*ps)
        return;
    pub_sse *s = *ps;
    pub_sse_stop(s);
    event_unref(&s->cur);
    free(s->wake);
    pthread_cond_destroy(&s->fan_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}

bool pub_sse_open(pub_sse *s, struct MHD_Connection *c, enum MHD_Result *ret) {
    pthread_mutex_lock(&s->mu);
    if (s->open >= (uint64_t)s->cfg.max_streams || s->stopping) {
        s->refused++;
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    stream *st = pufa_calloc(1, sizeof *st);
    st->sse = s;
    st->c = c;
    st->version = UINT64_MAX;
    st->taken_ms = st->sent_ms = mono_ms();
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    st->fd = ci ? ci->connect_fd : -1;
    if (st->fd >= 0 && s->cfg.buffer_bytes > 0) {
        int sz = (int)s->cfg.buffer_bytes;
        setsockopt(st->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    st->next = s->first;
    if (s->first)
        s->first->prev = st;
    s->first = st;
    s->open++;
    s->opened++;
    pthread_mutex_unlock(&s->mu);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 2048, stream_read, st, stream_free);
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    *ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return true;
}

void pub_sse_metrics(pub_sse *s, pufa_buf *b) {
    pthread_mutex_lock(&s->mu);
    uint64_t open = s->open, idle = s->idle, opened = s->opened, refused = s->refused,
             slow = s->dropped_slow, events = s->events, mid = s->events_mid, fan = s->fanouts,
             cut = s->fanouts_cut;
    pufa_histogram hist = s->fanout_hist;
    pthread_mutex_unlock(&s->mu);
    pufa_metric_help(b, "pufa_publisher_streams", "gauge", "Open SSE streams.");
    pufa_metric_u64(b, "pufa_publisher_streams", NULL, open);
    pufa_metric_help(b, "pufa_publisher_streams_idle", "gauge",
                     "Open SSE streams with nothing to send (waiting for an event or a "
                     "keep-alive); the others are writing or behind.");
    pufa_metric_u64(b, "pufa_publisher_streams_idle", NULL, idle);
    pufa_metric_help(b, "pufa_publisher_streams_max", "gauge", "Open SSE streams at most.");
    pufa_metric_u64(b, "pufa_publisher_streams_max", NULL, (uint64_t)s->cfg.max_streams);
    pufa_metric_help(b, "pufa_publisher_streams_total", "counter",
                     "SSE streams by fate: opened, refused (503 at the cap), dropped_slow (a "
                     "reader that took nothing for stream_stall).");
    pufa_metric_u64(b, "pufa_publisher_streams_total", "fate=\"opened\"", opened);
    pufa_metric_u64(b, "pufa_publisher_streams_total", "fate=\"refused\"", refused);
    pufa_metric_u64(b, "pufa_publisher_streams_total", "fate=\"dropped_slow\"", slow);
    pufa_metric_help(b, "pufa_publisher_stream_events_total", "counter",
                     "Events built: one per change of the live state, shared by every stream.");
    pufa_metric_u64(b, "pufa_publisher_stream_events_total", NULL, events);
    pufa_metric_help(b, "pufa_publisher_stream_events_mid_fanout_total", "counter",
                     "Events built while a fan-out was under way: the streams it had not served "
                     "yet took them instead of its older one.");
    pufa_metric_u64(b, "pufa_publisher_stream_events_mid_fanout_total", NULL, mid);
    pufa_metric_help(b, "pufa_publisher_stream_fanouts_total", "counter",
                     "Fan-outs: passes waking the streams behind the newest event, one at a time "
                     "(a stream not reached yet takes the newest; changes meanwhile coalesce).");
    pufa_metric_u64(b, "pufa_publisher_stream_fanouts_total", NULL, fan);
    pufa_metric_help(b, "pufa_publisher_stream_fanouts_cut_total", "counter",
                     "Fan-outs that had not reached every woken stream after 1 s (a full socket) "
                     "when the next one began.");
    pufa_metric_u64(b, "pufa_publisher_stream_fanouts_cut_total", NULL, cut);
    pufa_metric_histogram(b, "pufa_publisher_stream_fanout_seconds",
                          "From an event built to its last woken stream's socket having it all.",
                          &hist);
}
