/* A userspace TCP proxy for fault tests: forwards a loopback port to a
 * target and can cut every connection (and refuse new ones) for a while:
 * a network partition without root or iptables. */
#ifndef FAULT_PROXY_H
#define FAULT_PROXY_H

#include <stdint.h>

typedef struct fproxy fproxy;

/* Listens on 127.0.0.1 (a free port, in *port), forwards to target_port. */
fproxy *fproxy_start(int target_port, int *port);
/* Cuts all connections and refuses new ones until fproxy_heal. */
void fproxy_cut(fproxy *p);
void fproxy_heal(fproxy *p);
/* Connections a cut has dropped or refused so far: proof that it bit. */
long fproxy_severed(fproxy *p);
void fproxy_retarget(fproxy *p, int target_port);
void fproxy_stop(fproxy **p);

#endif
