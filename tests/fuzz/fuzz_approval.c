/* The approval API's inputs from the network: the first byte picks which.
 *  0: a POST /v1/approvals body (approvals_parse_body): accepted with a
 *     known action, an org under the home, a month 2000-01 .. this month
 *     and a bounded reason (required to unlock); otherwise refused naming
 *     the field, in valid UTF-8.
 *  1: a PeriodState a lower aggregator sent up (periods_check_remote, as
 *     the aggregator's I/O thread runs it for a key bound to 150800, at
 *     an aggregator whose home is 150800 in this sample tree):
 *     taken only for a unit under 150800, with bounded text. */
#include <string.h>

#include "approvals.h"
#include "fuzz_common.h"
#include "periods.h"
#include "pufa.pb-c.h"
#include "utf8.h"

static bool is_utf8(const char *s) {
    size_t n = strlen(s);
    return pufa_utf8_first_invalid(s, n) == n;
}

static void body(const pufa_orgunits *ou, pufa_day today, const uint8_t *data, size_t size) {
    approval_req q;
    memset(&q, 0, sizeof q);
    char msg[512] = "";
    int rc =
        approvals_parse_body(ou, "150800", today, (const char *)data, size, &q, msg, sizeof msg);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc) {
        /* A field named first ("action: ...", "body: ..."), valid UTF-8. */
        FUZZ_CHECK(msg[0] && strchr(msg, ':') && is_utf8(msg));
        return;
    }
    FUZZ_CHECK(q.action >= ACTION_SUBMIT && q.action <= ACTION_UNLOCK);
    FUZZ_CHECK(pufa_orgunits_within(ou, q.org, "150800"));
    FUZZ_CHECK(q.month >= 2000 * 12 && q.month <= period_month_of(today));
    size_t chars = 0, len = strlen(q.reason);
    FUZZ_CHECK(pufa_utf8_valid(q.reason, len, &chars) && chars <= 500);
    FUZZ_CHECK(q.action != ACTION_UNLOCK || len > 0);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)q.reason[i] >= 0x20 && q.reason[i] != 0x7f);
}

static void remote(const pufa_orgunits *ou, const uint8_t *data, size_t size) {
    Pufa__PeriodState *m = pufa__period_state__unpack(NULL, size, data);
    if (!m)
        return;
    remote_period p;
    char why[256] = "";
    int rc = periods_check_remote(m, ou, "150800", "150800", &p, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        FUZZ_CHECK(pufa_orgunits_within(ou, p.org, "150800"));
        FUZZ_CHECK(p.state >= PERIOD_OPEN && p.state <= PERIOD_ACCEPTED);
        FUZZ_CHECK(p.month >= 2000 * 12 && p.set_by[0] && is_utf8(p.set_by));
        FUZZ_CHECK(p.reason && strlen(p.reason) <= 1900 && is_utf8(p.reason));
        free(p.reason);
    } else {
        FUZZ_CHECK(!strncmp(why, "periods", 7) && is_utf8(why));
    }
    pufa__period_state__free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pufa_validate_ctx v = fuzz_ctx();
    static bool added;
    if (!added) {
        /* Another city: never under the sender's 150800. */
        pufa_orgunits_add((pufa_orgunits *)v.orgunits, "150900", "乌兰察布市", "city", "");
        added = true;
    }
    if (size < 1)
        return 0;
    if (data[0] & 1)
        remote(v.orgunits, data + 1, size - 1);
    else
        body(v.orgunits, v.today, data + 1, size - 1);
    return 0;
}
