/* Prometheus text exposition helpers: a fixed-bucket histogram and writers
 * for counters and gauges. */
#ifndef PUFA_METRICS_H
#define PUFA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

#define PUFA_HIST_BUCKETS 12

typedef struct pufa_histogram {
    double bounds[PUFA_HIST_BUCKETS]; /* upper bounds, seconds; last is +Inf */
    uint64_t counts[PUFA_HIST_BUCKETS];
    double sum;
    uint64_t count;
} pufa_histogram;

/* Latency buckets from 1 ms to 10 s. */
void pufa_histogram_init_latency(pufa_histogram *h);
void pufa_histogram_observe(pufa_histogram *h, double value);

void pufa_metric_help(pufa_buf *b, const char *name, const char *type, const char *help);
void pufa_metric_u64(pufa_buf *b, const char *name, const char *labels, uint64_t v);
void pufa_metric_f64(pufa_buf *b, const char *name, const char *labels, double v);
void pufa_metric_histogram(pufa_buf *b, const char *name, const char *help,
                           const pufa_histogram *h);

#endif
