#include "delta_pub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "alloc.h"
#include "date.h"
#include "error.h"
#include "log.h"
#include "wire.h"

struct delta_pub {
    pthread_mutex_t mu; /* around the socket and seq */
    void *pub;
    uint64_t seq; /* the last delta sent */
};

int delta_pub_open(void *zctx, const char *endpoint, int64_t hwm, delta_pub **out, char *err,
                   size_t errsize) {
    void *pub = zmq_socket(zctx, ZMQ_PUB);
    if (!pub) {
        snprintf(err, errsize, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        return PUFA_EZMQ;
    }
    int h = (int)hwm, linger = 2000;
    if (zmq_setsockopt(pub, ZMQ_SNDHWM, &h, sizeof h) ||
        zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger)) {
        snprintf(err, errsize, "zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
        zmq_close(pub);
        return PUFA_EZMQ;
    }
    if (zmq_bind(pub, endpoint) != 0) {
        snprintf(err, errsize, "cannot bind feed %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(pub);
        return PUFA_EZMQ;
    }
    char ep[256];
    size_t len = sizeof ep;
    zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, ep, &len);
    PLOG_INFO("AGG-FEED", "endpoint=%s", ep);
    delta_pub *p = pufa_calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->pub = pub;
    *out = p;
    return 0;
}

static void send_locked(delta_pub *p, const char *topic, const uint8_t *data, size_t len) {
    zmq_send(p->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(p->pub, data, len, ZMQ_DONTWAIT);
}

static void free_delta(void *data, void *hint) {
    (void)hint;
    free(data);
}

void delta_pub_delta(delta_pub *p, uint64_t seq, uint8_t *data, size_t len) {
    /* The encoded delta is handed to ZeroMQ as it is (no copy in the
     * writer thread); ZeroMQ frees it once sent or dropped. */
    zmq_msg_t msg;
    if (zmq_msg_init_data(&msg, data, len, free_delta, NULL) != 0) {
        free(data);
        return;
    }
    pthread_mutex_lock(&p->mu);
    zmq_send(p->pub, "delta", 5, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (zmq_msg_send(&msg, p->pub, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&msg);
    p->seq = seq;
    pthread_mutex_unlock(&p->mu);
}

void delta_pub_heartbeat(delta_pub *p) {
    pthread_mutex_lock(&p->mu);
    pufa_delta d = {.seq = p->seq, .committed_at_ms = pufa_now_ms()};
    size_t len;
    uint8_t *buf = pufa_delta_encode(&d, &len);
    send_locked(p, "hb", buf, len);
    pthread_mutex_unlock(&p->mu);
    free(buf);
}

void delta_pub_close(delta_pub **pp) {
    if (!pp || !*pp)
        return;
    delta_pub *p = *pp;
    zmq_close(p->pub);
    pthread_mutex_destroy(&p->mu);
    free(p);
    *pp = NULL;
}
