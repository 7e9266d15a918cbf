/* The collector's ack handling (handle_ack in collector/sender.c) over
 * arbitrary BatchAck frames, on a real window of batches read from a real
 * spool.  No frame crashes; a frame acknowledges exactly the in-flight
 * batch whose seq and report count it names, or nothing; each of that
 * batch's reports gets the state its result says; the spool's ack cursor
 * moves only over the acknowledged batches at the head of the window, to
 * the end of the last of them.
 * sender.c is compiled into this target (not taken from the library) so
 * that the fuzzer drives its own static handle_ack and window, unchanged.
 * Input: one byte (batch size 1 + (b & 3), window 1 + (b >> 2 & 3)), then
 * up to 16 frames, each [length, 2 bytes little endian][BatchAck]. */
#include "sender.c"

#include <unistd.h>

#include "fuzz_common.h"

#define NREPORTS   10
#define MAX_FRAMES 16

static void report_id(int i, char out[37]) {
    snprintf(out, 37, "00000000-0000-4000-8000-0000000000%02d", i);
}

static delivery_state state_of(const Pufa__ReportResult *r) {
    int st = r->has_status ? (int)r->status : 0;
    return st == 1   ? DS_COMMITTED
           : st == 2 ? DS_DUPLICATE
           : st == 3 ? DS_STALE
           : st == 5 ? DS_LOCKED
                     : DS_REJECTED;
}

/* One ack frame, against what the window held before it. */
static void check_ack(sender *s, const uint8_t *frame, size_t len) {
    size_t w = (size_t)s->cfg.window;
    inflight before[4];
    size_t count = s->count, head = s->head;
    for (size_t k = 0; k < count; k++)
        before[k] = s->win[(head + k) % w]; /* shallow: ids stay valid until popped */
    char ids[4][4][37];
    uint32_t revs[4][4];
    for (size_t k = 0; k < count; k++)
        for (size_t i = 0; i < before[k].n; i++) {
            pufa_copy(ids[k][i], sizeof ids[k][i], before[k].ids[i]);
            revs[k][i] = before[k].revs[i];
        }
    sender_stats st0 = s->stats;
    spool_lsn cursor0 = spool_cursor(s->sp);
    spool_stats sp0, sp1;
    spool_get_stats(s->sp, &sp0);

    /* Which batch the frame answers, if any. */
    Pufa__BatchAck *a = pufa__batch_ack__unpack(NULL, len, frame);
    size_t match = SIZE_MAX;
    for (size_t k = 0; a && !a->error && k < count; k++)
        if (!before[k].acked && before[k].seq == a->batch_seq && a->n_results == before[k].n)
            match = k;

    handle_ack(s, frame, len);

    bool acked[4];
    for (size_t k = 0; k < count; k++)
        acked[k] = before[k].acked || k == match;
    size_t popped = 0;
    while (popped < count && acked[popped])
        popped++;
    FUZZ_CHECK(s->count == count - popped && s->head == (head + popped) % w);
    for (size_t k = popped; k < count; k++)
        FUZZ_CHECK(s->win[(head + k) % w].acked == acked[k]);
    FUZZ_CHECK(spool_cursor(s->sp) == (popped ? before[popped - 1].end : cursor0));
    uint64_t popped_reports = 0;
    for (size_t k = 0; k < popped; k++)
        popped_reports += before[k].n;
    spool_get_stats(s->sp, &sp1);
    FUZZ_CHECK(sp1.records == sp0.records - popped_reports);
    /* The other batches' reports are still in flight. */
    for (size_t k = 0; k < count; k++)
        for (size_t i = 0; !acked[k] && i < before[k].n; i++) {
            uint32_t rev;
            FUZZ_CHECK(states_get(s->st, ids[k][i], &rev, NULL, 0) == DS_IN_FLIGHT);
        }
    if (match == SIZE_MAX) {
        FUZZ_CHECK(s->stats.batches_acked == st0.batches_acked);
        FUZZ_CHECK(s->stats.committed + s->stats.duplicate + s->stats.stale + s->stats.rejected +
                       s->stats.locked ==
                   st0.committed + st0.duplicate + st0.stale + st0.rejected + st0.locked);
    } else {
        uint64_t c[DS_LOCKED + 1] = {0};
        for (size_t i = 0; i < a->n_results; i++) {
            delivery_state ds = state_of(a->results[i]);
            c[ds]++;
            uint32_t rev;
            char reason[64];
            FUZZ_CHECK(states_get(s->st, ids[match][i], &rev, reason, sizeof reason) == ds &&
                       rev == revs[match][i]);
        }
        FUZZ_CHECK(s->stats.batches_acked == st0.batches_acked + 1);
        FUZZ_CHECK(s->stats.committed == st0.committed + c[DS_COMMITTED] &&
                   s->stats.duplicate == st0.duplicate + c[DS_DUPLICATE] &&
                   s->stats.stale == st0.stale + c[DS_STALE] &&
                   s->stats.rejected == st0.rejected + c[DS_REJECTED] &&
                   s->stats.locked == st0.locked + c[DS_LOCKED]);
    }
    if (a)
        pufa__batch_ack__free_unpacked(a, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool once;
    if (size < 1)
        return 0;
    if (!once) {
        pufa_json_init();
        pufa_log_set_level("fatal"); /* the refusals are expected */
        once = true;
    }
    /* A context per input: closing it reaps every socket of the run. */
    void *zctx = zmq_ctx_new();
    char *dir = fuzz_tmpdir("fuzz-ack");
    spool_config scfg = {.dir = dir, .quota_bytes = 1u << 20, .segment_bytes = 1u << 20};
    spool *sp;
    spool_recovery rec;
    char err[256];
    FUZZ_CHECK(spool_open(&scfg, &sp, &rec, err, sizeof err) == 0);
    /* The reports, spooled as intake spools them. */
    uint8_t *enc[NREPORTS];
    size_t lens[NREPORTS];
    for (int i = 0; i < NREPORTS; i++) {
        pufa_report r;
        pufa_report_init(&r);
        char id[37];
        report_id(i, id);
        r.report_id = pufa_strdup(id);
        r.revision = 1 + i % 3;
        r.county_code = pufa_strdup("150821");
        r.occurred_on = pufa_strdup("2026-11-20");
        r.title = pufa_strdup("普法讲座");
        r.received_at_ms = 1795000000000 + i;
        enc[i] = pufa_report_encode(&r, &lens[i]);
        pufa_report_clear(&r);
    }
    spool_lsn end;
    FUZZ_CHECK(spool_append(sp, (const uint8_t *const *)enc, lens, NREPORTS, &end) == 0);
    FUZZ_CHECK(spool_wait_durable(sp, end) == 0);
    for (int i = 0; i < NREPORTS; i++)
        free(enc[i]);
    states *st = states_new(dir, 1024);

    sender_config cfg = {.endpoint = "inproc://fuzz-ack-nowhere",
                         .collector_id = "fuzz",
                         .batch_max = 1 + (data[0] & 3),
                         .window = 1 + (data[0] >> 2 & 3),
                         .ack_timeout_ms = 1000,
                         .backoff_max_ms = 5000,
                         .heartbeat_ms = 1000};
    sender *s;
    if (sender_new(&cfg, sp, st, zctx, &s, err, sizeof err) != 0) {
        fprintf(stderr, "sender_new: %s\n", err);
        abort();
    }
    s->next_seq = 1; /* batches 1, 2, ...: seqs a frame can name */
    /* Fill the window as the sender's loop does; nothing is sent. */
    while (s->count < (size_t)s->cfg.window) {
        inflight *f = &s->win[(s->head + s->count) % (size_t)s->cfg.window];
        if (!fill_batch(s, f))
            break;
        s->count++;
    }
    size_t pos = 1;
    for (int n = 0; n < MAX_FRAMES && size - pos >= 2; n++) {
        size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        check_ack(s, data + pos, len);
        pos += len;
    }
    sender_destroy(&s);
    zmq_ctx_term(zctx);
    states_destroy(&st);
    spool_close(&sp);
    fuzz_rmdir(dir);
    free(dir);
    return 0;
}
