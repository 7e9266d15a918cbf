/* The ZAP request handler: an allow-list text (up to the first NUL) and a
 * request whose frames are separated by 0xFF bytes. */
#include <string.h>

#include "fuzz_common.h"
#include "zap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    char *text = malloc(tlen + 1);
    memcpy(text, data, tlen);
    text[tlen] = '\0';
    static char keys[64][41];
    static char counties[64][7];
    char err[256];
    int n = zap_parse_allow_list(text, keys, counties, 64, err, sizeof err);
    free(text);
    if (n < 0)
        n = 0;
    const uint8_t *frames[16];
    size_t lens[16];
    int nf = 0;
    size_t pos = nul ? tlen + 1 : size;
    while (pos <= size && nf < 16) {
        const uint8_t *sep = memchr(data + pos, 0xFF, size - pos);
        size_t end = sep ? (size_t)(sep - data) : size;
        frames[nf] = data + pos;
        lens[nf] = end - pos;
        nf++;
        if (!sep)
            break;
        pos = end + 1;
    }
    char county[7], key[41];
    const char *why;
    int verdict = zap_decide((const char(*)[41])keys, (const char(*)[7])counties, (size_t)n, frames,
                             lens, nf, county, key, &why);
    FUZZ_CHECK(verdict == 200 || verdict == 400);
    if (verdict == 200) /* only a listed key, with its county */
        FUZZ_CHECK(strlen(key) == 40 && strlen(county) == 6);
    return 0;
}
