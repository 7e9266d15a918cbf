#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 64

struct fproxy {
    int lfd;
    _Atomic int target;
    _Atomic bool cut, stop;
    _Atomic long severed; /* connections dropped or refused by a cut */
    pthread_t thread;
    int a[MAXC], b[MAXC]; /* client side, target side; -1 = free */
};

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    s.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&s, sizeof s) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void drop(fproxy *p, int i) {
    if (p->a[i] >= 0)
        close(p->a[i]);
    if (p->b[i] >= 0)
        close(p->b[i]);
    p->a[i] = p->b[i] = -1;
}

static void *run(void *arg) {
    fproxy *p = arg;
    while (!p->stop) {
        if (p->cut)
            for (int i = 0; i < MAXC; i++)
                if (p->a[i] >= 0) {
                    drop(p, i);
                    p->severed++;
                }
        struct pollfd fds[1 + 2 * MAXC];
        int map[1 + 2 * MAXC], n = 0;
        fds[n] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        map[n++] = -1;
        for (int i = 0; i < MAXC; i++)
            if (p->a[i] >= 0) {
                fds[n] = (struct pollfd){.fd = p->a[i], .events = POLLIN};
                map[n++] = i;
                fds[n] = (struct pollfd){.fd = p->b[i], .events = POLLIN};
                map[n++] = i + MAXC;
            }
        if (poll(fds, (nfds_t)n, 50) <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            int c = accept(p->lfd, NULL, NULL);
            int t = c >= 0 && !p->cut ? connect_to(p->target) : -1;
            int slot = -1;
            for (int i = 0; i < MAXC && slot < 0; i++)
                if (p->a[i] < 0)
                    slot = i;
            if (c >= 0 && t >= 0 && slot >= 0) {
                p->a[slot] = c;
                p->b[slot] = t;
            } else {
                if (c >= 0 && p->cut)
                    p->severed++;
                if (c >= 0)
                    close(c);
                if (t >= 0)
                    close(t);
            }
        }
        for (int k = 1; k < n; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int i = map[k] % MAXC;
            if (p->a[i] < 0)
                continue;
            int from = map[k] < MAXC ? p->a[i] : p->b[i];
            int to = map[k] < MAXC ? p->b[i] : p->a[i];
            char buf[65536];
            ssize_t r = recv(from, buf, sizeof buf, 0);
            if (r <= 0) {
                drop(p, i);
                continue;
            }
            ssize_t off = 0;
            while (off < r) {
                ssize_t w = send(to, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
                if (w <= 0)
                    break;
                off += w;
            }
            if (off < r)
                drop(p, i);
        }
    }
    return NULL;
}

fproxy *fproxy_start(int target_port, int *port) {
    fproxy *p = calloc(1, sizeof *p);
    for (int i = 0; i < MAXC; i++)
        p->a[i] = p->b[i] = -1;
    p->target = target_port;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = 0};
    s.sin_addr.s_addr = htonl(0x7f000001);
    bind(p->lfd, (struct sockaddr *)&s, sizeof s);
    listen(p->lfd, 64);
    socklen_t len = sizeof s;
    getsockname(p->lfd, (struct sockaddr *)&s, &len);
    *port = ntohs(s.sin_port);
    pthread_create(&p->thread, NULL, run, p);
    return p;
}

void fproxy_cut(fproxy *p) {
    p->cut = true;
}

long fproxy_severed(fproxy *p) {
    return p->severed;
}

void fproxy_heal(fproxy *p) {
    p->cut = false;
}

void fproxy_retarget(fproxy *p, int target_port) {
    p->target = target_port;
}

void fproxy_stop(fproxy **pp) {
    fproxy *p = *pp;
    if (!p)
        return;
    p->stop = true;
    pthread_join(p->thread, NULL);
    for (int i = 0; i < MAXC; i++)
        drop(p, i);
    close(p->lfd);
    free(p);
    *pp = NULL;
}
