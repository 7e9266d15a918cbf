#include "zmqauth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "error.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

bool pufa_endpoint_local(const char *ep) {
    if (!strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
        return true;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *host = ep + 6;
    /* "tcp://SOURCE;HOST:PORT" (a source address for connect): the host counts. */
    const char *semi = strchr(host, ';');
    if (semi)
        host = semi + 1;
    if (!strncmp(host, "[::1]:", 6) || !strncmp(host, "localhost:", 10))
        return true;
    if (strncmp(host, "127.", 4) != 0)
        return false;
    /* 127.a.b.c: digits and dots up to the port. */
    const char *p = host + 4;
    while (*p && *p != ':') {
        if (!((*p >= '0' && *p <= '9') || *p == '.'))
            return false;
        p++;
    }
    return *p == ':';
}

static int zfail(char *err, size_t errsize, const char *what) {
    snprintf(err, errsize, "%s: %s", what, zmq_strerror(zmq_errno()));
    return PUFA_EZMQ;
}

int pufa_zmq_curve_server(void *sock, const char *secret, const char *domain, char *err,
                          size_t errsize) {
    int server = 1, enforce = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &server, sizeof server) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, 40) ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) ||
        zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce))
        return zfail(err, errsize, "CURVE server options");
    return 0;
}

int pufa_zmq_curve_client(void *sock, const char *server_public, const char *public_key,
                          const char *secret, char *err, size_t errsize) {
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_public, 40) ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, public_key, 40) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, 40))
        return zfail(err, errsize, "CURVE client options");
    return 0;
}

int pufa_zmq_rebind(void *sock, const char *bound, char *err, size_t errsize) {
    if (zmq_unbind(sock, bound) != 0)
        return zfail(err, errsize, "unbind");
    /* The old listener closes in libzmq's I/O thread: the port may still be
     * taken for a moment.  Bounded: 100 tries, 20 ms apart. */
    for (int i = 0; i < 100; i++) {
        if (zmq_bind(sock, bound) == 0)
            return 0;
        if (zmq_errno() != EADDRINUSE)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return zfail(err, errsize, "bind again");
}
