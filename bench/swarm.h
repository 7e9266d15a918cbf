/* bench --swarm N: N CURVE collectors on one aggregator (see swarm.c). */
#ifndef PUFA_BENCH_SWARM_H
#define PUFA_BENCH_SWARM_H
#include <stddef.h>

/* Runs the scenario against the PostgreSQL of PUFA_TEST_DB and prints its
 * table; 0 when every acked report is in PostgreSQL exactly once. */
int swarm_main(const char *build, size_t n, size_t batch, int period_ms, int steady_s);

#endif
