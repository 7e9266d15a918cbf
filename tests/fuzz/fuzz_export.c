/* CSV export of arbitrary titles: the cell, read back by a CSV parser, is
 * the title (after the formula guard's leading quote), and a guarded cell
 * can never start a formula. */
#include <csv.h>
#include <string.h>

#include "alloc.h"
#include "fuzz_common.h"
#include "report_csv.h"

typedef struct {
    pufa_buf field; /* the middle one */
    int fields;
} back;

static void on_field(void *s, size_t len, void *ctx) {
    back *b = ctx;
    if (++b->fields == 2)
        pufa_buf_append(&b->field, s ? s : "", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *title = malloc(size + 1);
    memcpy(title, data, size);
    title[size] = '\0';
    size_t tlen = strlen(title); /* C strings: up to the first NUL */
    pufa_buf out;
    pufa_buf_init(&out);
    /* As in an export row: other cells around it. */
    pufa_buf_puts(&out, "150821,");
    pufa_csv_write_cell(&out, title, true);
    pufa_buf_puts(&out, ",42\r\n");
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    /* libcsv's default trims white space around unquoted fields, as some
     * spreadsheet importers do: the writer must quote such cells. */
    back b = {.fields = 0};
    pufa_buf_init(&b.field);
    FUZZ_CHECK(csv_parse(&p, out.data, out.len, on_field, NULL, &b) == out.len);
    FUZZ_CHECK(csv_fini(&p, on_field, NULL, &b) == 0);
    FUZZ_CHECK(b.fields == 3);
    const char *got = b.field.data ? b.field.data : "";
    bool guarded = tlen && strchr("=+-@\t\r", title[0]);
    if (guarded) {
        FUZZ_CHECK(got[0] == '\'');
        got++;
    }
    FUZZ_CHECK(strlen(got) == tlen && !memcmp(got, title, tlen));
    csv_free(&p);
    pufa_buf_free(&b.field);
    pufa_buf_free(&out);
    free(title);
    return 0;
}
