#include "metrics.h"

#include <math.h>

void pufa_histogram_init_latency(pufa_histogram *h) {
    static const double b[PUFA_HIST_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                0.1,   0.25,   0.5,   1.0,  10.0,  INFINITY};
    for (int i = 0; i < PUFA_HIST_BUCKETS; i++) {
        h->bounds[i] = b[i];
        h->counts[i] = 0;
    }
    h->sum = 0;
    h->count = 0;
}

void pufa_histogram_observe(pufa_histogram *h, double v) {
    for (int i = 0; i < PUFA_HIST_BUCKETS; i++)
        if (v <= h->bounds[i]) {
            h->counts[i]++;
            break;
        }
    h->sum += v;
    h->count++;
}

void pufa_metric_help(pufa_buf *b, const char *name, const char *type, const char *help) {
    pufa_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pufa_metric_u64(pufa_buf *b, const char *name, const char *labels, uint64_t v) {
    if (labels && *labels)
        pufa_buf_printf(b, "%s{%s} %llu\n", name, labels, (unsigned long long)v);
    else
        pufa_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

void pufa_metric_f64(pufa_buf *b, const char *name, const char *labels, double v) {
    if (labels && *labels)
        pufa_buf_printf(b, "%s{%s} %.6f\n", name, labels, v);
    else
        pufa_buf_printf(b, "%s %.6f\n", name, v);
}

void pufa_metric_histogram(pufa_buf *b, const char *name, const char *help,
                           const pufa_histogram *h) {
    pufa_metric_help(b, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < PUFA_HIST_BUCKETS; i++) {
        cum += h->counts[i];
        if (isinf(h->bounds[i]))
            pufa_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        else
            pufa_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
                            (unsigned long long)cum);
    }
    pufa_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
                    (unsigned long long)h->count);
}
