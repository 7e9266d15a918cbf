/* Text encodings of report bodies and files: UTF-8 (with or without a
 * BOM) or GB18030, the superset of the GBK and GB2312 that Chinese Excel and
 * WPS write for "CSV (逗号分隔)".  Every door decodes here before parsing, so
 * the parsers only ever see UTF-8. */
#ifndef PUFA_TEXTENC_H
#define PUFA_TEXTENC_H

#include <stddef.h>

typedef enum pufa_encoding {
    PUFA_ENC_AUTO,    /* UTF-8 if the bytes are UTF-8, else GB18030 if they are that */
    PUFA_ENC_UTF8,    /* declared UTF-8 */
    PUFA_ENC_GB18030, /* declared GB18030 / GBK / GB2312 */
} pufa_encoding;

/* "utf-8" or "gb18030" ("auto" for PUFA_ENC_AUTO). */
const char *pufa_encoding_name(pufa_encoding enc);

/* From a name: auto, utf-8/utf8/us-ascii, gb18030/gbk/gb2312/cp936
 * (any case).  Returns 0 or PUFA_EINVAL. */
int pufa_encoding_parse(const char *name, pufa_encoding *out);

/* From a Content-Type's charset parameter (PUFA_ENC_AUTO when there is
 * none).  Returns 0 or PUFA_EINVAL for a charset that is neither; then
 * err names it. */
int pufa_encoding_from_content_type(const char *ctype, pufa_encoding *out, char *err,
                                    size_t errsize);

/* A body as UTF-8 text. */
typedef struct pufa_text {
    const char *data; /* the input itself when it was UTF-8, else owned */
    size_t len;
    pufa_encoding encoding; /* what it was decoded from: UTF8 or GB18030 */
    char *owned;            /* freed by pufa_text_free */
} pufa_text;

/* Decodes buf[0..len) as declared (PUFA_ENC_AUTO: UTF-8 when it is valid
 * UTF-8, else GB18030 when it is valid GB18030, with glibc's iconv).
 * Returns 0, or PUFA_EPARSE when the bytes are not in the declared
 * encoding (or in neither): err names the first bad line and byte offset
 * and says how to save the file.  On success out refers to buf (keep it
 * alive) or owns a copy; free it with pufa_text_free. */
int pufa_decode_text(const char *buf, size_t len, pufa_encoding declared, pufa_text *out, char *err,
                     size_t errsize);
void pufa_text_free(pufa_text *t);

#endif
