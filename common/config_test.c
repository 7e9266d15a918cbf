/* Unit tests: the strict INI config loader and flag parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "testlib.h"

typedef struct {
    char *listen;
    char *token;
    int64_t batch;
    int64_t quota;
    int64_t timeout;
    bool insecure;
    pufa_cfg_opt opts[6];
    pufa_cfg cfg;
} fixture;

static void setup_fixture(fixture *f) {
    memset(f, 0, sizeof *f);
    pufa_cfg_opt opts[6] = {
        {"listen", PUFA_CFG_STRING, &f->listen, "tcp://127.0.0.1:0", 0, 0, "endpoint", 0},
        {"token", PUFA_CFG_STRING, &f->token, "", 0, 0, "secret", PUFA_CFG_SECRET},
        {"batch_max", PUFA_CFG_INT, &f->batch, "500", 1, 4096, "batch", 0},
        {"spool_quota", PUFA_CFG_SIZE, &f->quota, "1GiB", 0, 0, "quota", 0},
        {"ack_timeout", PUFA_CFG_MS, &f->timeout, "5s", 1, 3600000, "timeout", 0},
        {"insecure", PUFA_CFG_BOOL, &f->insecure, "false", 0, 0, "plaintext", 0},
    };
    memcpy(f->opts, opts, sizeof opts);
    f->cfg = (pufa_cfg){
        .program = "test", .summary = "t", .section = "svc", .opts = f->opts, .nopts = 6};
}

static int load(fixture *f, int argc, char **argv) {
    setup_fixture(f);
    return pufa_cfg_load(&f->cfg, argc, argv);
}

static void defaults_and_flags(void **state) {
    (void)state;
    fixture f;
    char *argv[] = {"t",          "--batch-max",   "100",  "--spool-quota=64MiB",
                    "--insecure", "--ack-timeout", "250ms"};
    assert_int_equal(load(&f, 7, argv), 0);
    assert_string_equal(f.listen, "tcp://127.0.0.1:0");
    assert_int_equal(f.batch, 100);
    assert_int_equal(f.quota, 64 * 1024 * 1024);
    assert_int_equal(f.timeout, 250);
    assert_true(f.insecure);
    pufa_cfg_free(&f.cfg);
}

static void bad_flags_are_usage_errors(void **state) {
    (void)state;
    fixture f;
    char *a1[] = {"t", "--batch-max", "0"};
    assert_int_equal(load(&f, 3, a1), 1 + 64);
    pufa_cfg_free(&f.cfg);
    char *a2[] = {"t", "--nope", "1"};
    assert_int_equal(load(&f, 3, a2), 1 + 64);
    pufa_cfg_free(&f.cfg);
    char *a3[] = {"t", "--token", "hunter2"}; /* secrets never on the command line */
    assert_int_equal(load(&f, 3, a3), 1 + 64);
    pufa_cfg_free(&f.cfg);
    char *a4[] = {"t", "--spool-quota", "12parsecs"};
    assert_int_equal(load(&f, 3, a4), 1 + 64);
    pufa_cfg_free(&f.cfg);
    char *a5[] = {"t", "--help"};
    assert_int_equal(load(&f, 2, a5), 1);
    pufa_cfg_free(&f.cfg);
}

static int ini(fixture *f, const char *text, char *err, size_t errsize) {
    setup_fixture(f);
    char *argv[] = {"t"};
    pufa_cfg_load(&f->cfg, 1, argv);
    return pufa_cfg_parse_ini(&f->cfg, text, "test.ini", err, errsize);
}

static void ini_reads_a_good_file(void **state) {
    (void)state;
    fixture f;
    char err[256];
    assert_int_equal(ini(&f,
                         "; comment\n# another\n[svc]\nlisten = tcp://127.0.0.1:5555\n"
                         "token = s3cret\r\nbatch_max=7\n\n",
                         err, sizeof err),
                     0);
    assert_string_equal(f.listen, "tcp://127.0.0.1:5555");
    assert_string_equal(f.token, "s3cret");
    assert_int_equal(f.batch, 7);
    pufa_cfg_free(&f.cfg);
}

static void ini_is_strict(void **state) {
    (void)state;
    fixture f;
    char err[256];
    assert_int_equal(ini(&f, "listen = a\nlisten = b\n", err, sizeof err), PUFA_ECONFIG);
    assert_contains(err, "'listen' is set twice");
    pufa_cfg_free(&f.cfg);
    assert_int_equal(ini(&f, "colour = red\n", err, sizeof err), PUFA_ECONFIG);
    assert_contains(err, "unknown setting 'colour'");
    pufa_cfg_free(&f.cfg);
    assert_int_equal(ini(&f, "[other]\nlisten = a\n", err, sizeof err), PUFA_ECONFIG);
    assert_contains(err, "unknown section [other]");
    pufa_cfg_free(&f.cfg);
    /* inih would fold this into listen's value. */
    assert_int_equal(ini(&f, "listen = a\n  more\n", err, sizeof err), PUFA_ECONFIG);
    assert_contains(err, "line 2: indented line");
    pufa_cfg_free(&f.cfg);
    /* inih would silently split this line at 200 bytes. */
    char longline[400];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "listen = ", 9);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    assert_int_equal(ini(&f, longline, err, sizeof err), PUFA_ECONFIG);
    assert_contains(err, "line 1: longer than 190 bytes");
    pufa_cfg_free(&f.cfg);
    assert_int_equal(ini(&f, "batch_max = 9999\n", err, sizeof err), PUFA_ECONFIG);
    assert_contains(err, "batch_max: must be between 1 and 4096");
    pufa_cfg_free(&f.cfg);
    assert_int_equal(ini(&f, "this is not ini\n", err, sizeof err), PUFA_ECONFIG);
    assert_contains(err, "line 1");
    pufa_cfg_free(&f.cfg);
}

static void file_then_flags_win(void **state) {
    (void)state;
    char path[] = "/tmp/pufa-config-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[svc]\nbatch_max = 9\nlisten = tcp://127.0.0.1:1\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    fixture f;
    char *argv[] = {"t", "--config", path, "--batch-max", "11"};
    assert_int_equal(load(&f, 5, argv), 0);
    assert_int_equal(f.batch, 11);
    assert_string_equal(f.listen, "tcp://127.0.0.1:1");
    pufa_cfg_free(&f.cfg);
    unlink(path);
    char *missing[] = {"t", "--config", "/nonexistent/pufa.ini"};
    assert_int_equal(load(&f, 3, missing), 1 + 78);
    pufa_cfg_free(&f.cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_flags),    cmocka_unit_test(bad_flags_are_usage_errors),
        cmocka_unit_test(ini_reads_a_good_file), cmocka_unit_test(ini_is_strict),
        cmocka_unit_test(file_then_flags_win),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
