#include "textenc.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "utf8.h"

#define HOW_TO_SAVE                                                                                \
    "save it in Excel or WPS as 'CSV UTF-8 (逗号分隔)' (File > Save As), or as GB18030/GBK text"

const char *pufa_encoding_name(pufa_encoding enc) {
    switch (enc) {
    case PUFA_ENC_UTF8:
        return "utf-8";
    case PUFA_ENC_GB18030:
        return "gb18030";
    default:
        return "auto";
    }
}

int pufa_encoding_parse(const char *name, pufa_encoding *out) {
    static const struct {
        const char *name;
        pufa_encoding enc;
    } names[] = {
        {"auto", PUFA_ENC_AUTO},     {"utf-8", PUFA_ENC_UTF8},     {"utf8", PUFA_ENC_UTF8},
        {"us-ascii", PUFA_ENC_UTF8}, {"ascii", PUFA_ENC_UTF8},     {"gb18030", PUFA_ENC_GB18030},
        {"gbk", PUFA_ENC_GB18030},   {"gb2312", PUFA_ENC_GB18030}, {"cp936", PUFA_ENC_GB18030},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(name, names[i].name)) {
            *out = names[i].enc;
            return 0;
        }
    return PUFA_EINVAL;
}

int pufa_encoding_from_content_type(const char *ctype, pufa_encoding *out, char *err,
                                    size_t errsize) {
    *out = PUFA_ENC_AUTO;
    const char *p = ctype ? strchr(ctype, ';') : NULL;
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 8 && !strncasecmp(p, "charset=", 8)) {
            char name[32];
            const char *v = p + 8;
            size_t vn = n - 8;
            if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
                v++;
                vn -= 2;
            }
            while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
            if (vn < sizeof name) {
                memcpy(name, v, vn);
                name[vn] = '\0';
                if (pufa_encoding_parse(name, out) == 0)
                    return 0;
            }
            char shown[48];
            pufa_utf8_escape(shown, sizeof shown, v, vn);
            snprintf(err, errsize, "unsupported charset '%s': send UTF-8 or GB18030", shown);
            return PUFA_EINVAL;
        }
        p = end;
    }
    return 0;
}

/* Line (1-based) and the byte at offset, for an error. */
static size_t line_of(const char *buf, size_t off) {
    size_t line = 1;
    for (size_t i = 0; i < off; i++)
        line += buf[i] == '\n';
    return line;
}

/* GB18030 -> UTF-8 with iconv.  Returns 0 and *out (caller frees), or the
 * offset of the first byte that is not GB18030 in *bad. */
static int from_gb18030(const char *buf, size_t len, char **out, size_t *outlen, size_t *bad) {
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1) {
        *bad = 0;
        return PUFA_ESYS;
    }
    /* A GB18030 character of 1, 2 or 4 bytes becomes at most 4 bytes. */
    size_t cap = len * 2 + 4;
    char *dst = pufa_malloc(cap + 1);
    char *in = (char *)buf, *o = dst;
    size_t inleft = len, outleft = cap;
    int rc = 0;
    if (iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1) {
        *bad = (size_t)(in - buf); /* EILSEQ, or EINVAL: cut at the end */
        rc = PUFA_EPARSE;
        free(dst);
    } else {
        *o = '\0';
        *outlen = (size_t)(o - dst);
        *out = dst;
    }
    iconv_close(cd);
    return rc;
}

int pufa_decode_text(const char *buf, size_t len, pufa_encoding declared, pufa_text *out, char *err,
                     size_t errsize) {
    memset(out, 0, sizeof *out);
    size_t bad_utf8 = len, bad_gb = len;
    if (declared != PUFA_ENC_GB18030) {
        bad_utf8 = pufa_utf8_first_invalid(buf, len);
        if (bad_utf8 == len) {
            out->data = buf;
            out->len = len;
            out->encoding = PUFA_ENC_UTF8;
            return 0;
        }
    }
    if (declared != PUFA_ENC_UTF8) {
        char *text;
        size_t tlen;
        int rc = from_gb18030(buf, len, &text, &tlen, &bad_gb);
        if (rc == 0) {
            out->data = out->owned = text;
            out->len = tlen;
            out->encoding = PUFA_ENC_GB18030;
            return 0;
        }
        if (rc != PUFA_EPARSE) {
            snprintf(err, errsize, "cannot decode GB18030 here: iconv has no GB18030 (%s)",
                     strerror(errno));
            return PUFA_EPARSE;
        }
    }
    if (declared == PUFA_ENC_UTF8)
        snprintf(
            err, errsize,
            "declared UTF-8, but line %zu is not UTF-8 (byte offset %zu: 0x%02X): " HOW_TO_SAVE,
            line_of(buf, bad_utf8), bad_utf8, (unsigned char)buf[bad_utf8]);
    else if (declared == PUFA_ENC_GB18030)
        snprintf(
            err, errsize,
            "declared GB18030, but line %zu is not GB18030 (byte offset %zu: 0x%02X): " HOW_TO_SAVE,
            line_of(buf, bad_gb), bad_gb, (unsigned char)buf[bad_gb]);
    else
        snprintf(err, errsize,
                 "the file is neither UTF-8 nor GB18030 text: line %zu is not UTF-8 (byte offset "
                 "%zu: 0x%02X) and line %zu is not GB18030 (byte offset %zu: 0x%02X): " HOW_TO_SAVE,
                 line_of(buf, bad_utf8), bad_utf8, (unsigned char)buf[bad_utf8],
                 line_of(buf, bad_gb), bad_gb, (unsigned char)buf[bad_gb]);
    return PUFA_EPARSE;
}

void pufa_text_free(pufa_text *t) {
    if (!t)
        return;
    free(t->owned);
    memset(t, 0, sizeof *t);
}
