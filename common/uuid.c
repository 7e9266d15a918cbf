#include "uuid.h"

#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "error.h"

int pufa_uuid_parse(const char *s, uint8_t out[16]) {
    if (!s || strlen(s) != PUFA_UUID_STRLEN)
        return PUFA_EPARSE;
    /* libuuid accepts exactly the 36-character hyphenated form. */
    uuid_t u;
    if (uuid_parse(s, u) != 0)
        return PUFA_EPARSE;
    memcpy(out, u, 16);
    return 0;
}

void pufa_uuid_format(const uint8_t id[16], char out[PUFA_UUID_STRLEN + 1]) {
    uuid_unparse_lower(id, out);
}

int pufa_uuid_canonical(const char *s, char out[PUFA_UUID_STRLEN + 1]) {
    uint8_t id[16];
    int rc = pufa_uuid_parse(s, id);
    if (rc)
        return rc;
    pufa_uuid_format(id, out);
    return 0;
}

void pufa_uuid_v7(uint8_t out[16]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uuid_t r;
    uuid_generate_random(r);
    memcpy(out, r, 16);
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(ms >> (40 - 8 * i));
    out[6] = (uint8_t)(0x70 | (out[6] & 0x0F));
    out[8] = (uint8_t)(0x80 | (out[8] & 0x3F));
}
