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
#include "zmqauth.h"

struct delta_pub {
    pthread_mutex_t mu; /* around the socket and seq */
    void *pub;
    uint64_t seq;         /* the last delta sent */
    zap *zap;             /* with CURVE: the allow-list (ZAP_DOMAIN_FEED); NULL in plaintext */
    char bound[256];      /* the bound endpoint, port resolved (for rebinding) */
    uint64_t revocations; /* zap_revocations(ZAP_DOMAIN_FEED) at the last bind */
};

int delta_pub_open(void *zctx, const char *endpoint, int64_t hwm, const char *curve_secret, zap *z,
                   delta_pub **out, char *err, size_t errsize) {
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
    if (curve_secret &&
        pufa_zmq_curve_server(pub, curve_secret, ZAP_DOMAIN_FEED, err, errsize) != 0) {
        zmq_close(pub);
        return PUFA_EZMQ;
    }
    if (zmq_bind(pub, endpoint) != 0) {
        snprintf(err, errsize, "cannot bind feed %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(pub);
        return PUFA_EZMQ;
    }
    delta_pub *p = pufa_calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->pub = pub;
    size_t len = sizeof p->bound;
    zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, p->bound, &len);
    PLOG_INFO("AGG-FEED", "endpoint=%s curve=%s", p->bound, curve_secret ? "true" : "false");
    if (curve_secret && z) {
        p->zap = z;
        p->revocations = zap_revocations(z, ZAP_DOMAIN_FEED);
    }
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

void delta_pub_revoke(delta_pub *p) {
    if (!p->zap)
        return;
    pthread_mutex_lock(&p->mu);
    uint64_t n = zap_revocations(p->zap, ZAP_DOMAIN_FEED);
    if (n == p->revocations) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->revocations = n;
    char err[300];
    int rc = pufa_zmq_rebind(p->pub, p->bound, err, sizeof err);
    pthread_mutex_unlock(&p->mu);
    if (rc == 0)
        PLOG_INFO("AGG-FEED-REBIND",
                  "endpoint=%s msg=\"a feed key was removed: every "
                  "subscriber handshakes again\"",
                  p->bound);
    else
        PLOG_ERROR("AGG-FEED-REBIND", "endpoint=%s msg=\"%s\"", p->bound, err);
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
