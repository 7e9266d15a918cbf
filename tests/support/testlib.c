#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "file.h"

const char *pufa_test_data_dir(void) {
    static char dir[1024];
    if (dir[0])
        return dir;
    const char *shared = getenv("PUFA_SHARED_DATA");
    struct stat st;
    char probe[1100];
    if (shared && *shared) {
        snprintf(probe, sizeof probe, "%s/org_units.csv", shared);
        if (stat(probe, &st) == 0) {
            snprintf(dir, sizeof dir, "%s", shared);
            return dir;
        }
    }
    const char *src = getenv("PUFA_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/deploy/data", src ? src : ".");
    return dir;
}

const char *pufa_test_data_path(const char *name) {
    /* A few rotating buffers, so that several paths can be used in one call. */
    static char path[4][2048];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", pufa_test_data_dir(), name);
    return p;
}

char *pufa_test_read_file(const char *path, size_t *len) {
    char *text;
    return pufa_read_file(path, 0, &text, len, NULL, 0) == 0 ? text : NULL;
}

int pufa_test_tmpdir(char *dir, size_t size, const char *name) {
    snprintf(dir, size, "/tmp/pufa-%s-XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

int pufa_test_rm_rf(const char *dir) {
    char *cmd = pufa_asprintf("rm -rf '%s'", dir);
    int rc = system(cmd) == 0 ? 0 : -1;
    free(cmd);
    return rc;
}

const char *pufa_test_demo_tree_path(void) {
    static char path[1100];
    const char *src = getenv("PUFA_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/deploy/data/demo_tree.csv", src ? src : ".");
    return path;
}

static pufa_orgunits *test_ou;

static void free_ou(void) {
    pufa_orgunits_destroy(&test_ou);
}

const pufa_orgunits *pufa_test_orgunits(void) {
    if (test_ou)
        return test_ou;
    char err[256];
    if (pufa_orgunits_load_csv(pufa_test_data_path("org_units.csv"), &test_ou, err, sizeof err)) {
        fprintf(stderr, "cannot load org units: %s\n", err);
        abort();
    }
    atexit(free_ou);
    return test_ou;
}

void pufa_test_assert_contains(const char *s, const char *needle, const char *file, int line) {
    if (s && needle && strstr(s, needle))
        return;
    print_error("%s:%d: expected \"%s\" to contain \"%s\"\n", file, line, s ? s : "(null)",
                needle ? needle : "(null)");
    _fail(file, line);
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

void pufa_test_assert_lines_equal(const char *got, const char *want, const char *what,
                                  const char *file, int line) {
    got = got ? got : "";
    want = want ? want : "";
    if (!strcmp(got, want))
        return;
    const char *g = got, *w = want;
    size_t no = 1;
    for (;;) {
        size_t gl = strcspn(g, "\n"), wl = strcspn(w, "\n");
        if (gl != wl || memcmp(g, w, gl) || !g[gl] || !w[wl])
            break;
        g += gl + 1;
        w += wl + 1;
        no++;
    }
    print_error("%s:%d: %s differ at line %zu (%zu lines against %zu):\n  got:  %.*s\n"
                "  want: %.*s\n",
                file, line, what, no, count_lines(got), count_lines(want), (int)strcspn(g, "\n"), g,
                (int)strcspn(w, "\n"), w);
    _fail(file, line);
}
