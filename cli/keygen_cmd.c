/* pufa keygen: a CURVE key pair for a collector or the aggregator:
 * NAME.key (the secret, mode 0600) and NAME.pub (the public key). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"

static int write_key(const char *path, const char *key, mode_t mode, bool force) {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        fprintf(stderr, "pufa keygen: cannot create %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (use --force to replace it)" : "");
        return -1;
    }
    /* An existing file keeps its old mode through O_TRUNC: set it. */
    if (fchmod(fd, mode) != 0) {
        close(fd);
        return -1;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "%s\n", key);
    int rc = (write(fd, line, (size_t)n) == n && fsync(fd) == 0) ? 0 : -1;
    close(fd);
    if (rc)
        fprintf(stderr, "pufa keygen: cannot write %s\n", path);
    return rc;
}

int cmd_keygen(int argc, char **argv) {
    char *out = NULL, *name = NULL;
    bool force = false;
    pufa_cfg_opt opts[] = {
        {"out", PUFA_CFG_STRING, &out, ".", 0, 0, "folder to write the key files into", 0},
        {"name", PUFA_CFG_STRING, &name, "", 0, 0,
         "base name of the files, e.g. aggregator or collector-150821 (required)", 0},
        {"force", PUFA_CFG_BOOL, &force, "false", 0, 0, "replace existing files", 0},
    };
    pufa_cfg cfg = {.program = "pufa keygen",
                    .summary = "write a CURVE key pair: NAME.key (secret, 0600) and NAME.pub",
                    .section = "keygen",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int rc = pufa_cfg_load(&cfg, argc, argv);
    if (rc) {
        pufa_cfg_free(&cfg);
        return rc - 1;
    }
    if (!*name || strchr(name, '/')) {
        fprintf(stderr, "pufa keygen: --name NAME is required (no '/')\n");
        pufa_cfg_free(&cfg);
        return EX_USAGE_;
    }
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "pufa keygen: libzmq has no CURVE support: %s\n",
                zmq_strerror(zmq_errno()));
        pufa_cfg_free(&cfg);
        return EX_UNAVAILABLE_;
    }
    char *kpath = pufa_asprintf("%s/%s.key", out, name);
    char *ppath = pufa_asprintf("%s/%s.pub", out, name);
    if (write_key(kpath, sec, 0600, force) || write_key(ppath, pub, 0644, force)) {
        rc = EX_CANTCREAT_;
    } else {
        printf("public key: %s\nsecret key file: %s (mode 0600: keep it on this host)\n"
               "public key file: %s\n",
               pub, kpath, ppath);
    }
    memset(sec, 0, sizeof sec);
    free(kpath);
    free(ppath);
    pufa_cfg_free(&cfg);
    return rc;
}
