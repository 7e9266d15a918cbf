#include "datafile.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

#ifndef PUFA_INSTALL_DATADIR
#error "PUFA_INSTALL_DATADIR must be set by the build"
#endif

static char data_dir[PATH_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* True when this program's own file lies under the build tree it came from. */
static int in_build_tree(void) {
#if defined(PUFA_BUILD_TREE) && defined(PUFA_BUILD_DATADIR)
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    size_t len = strlen(PUFA_BUILD_TREE);
    return strncmp(exe, PUFA_BUILD_TREE, len) == 0 && exe[len] == '/';
#else
    return 0;
#endif
}

static void find_dir(void) {
    const char *dir = PUFA_INSTALL_DATADIR;
#ifdef PUFA_BUILD_DATADIR
    if (in_build_tree())
        dir = PUFA_BUILD_DATADIR;
#endif
    snprintf(data_dir, sizeof data_dir, "%s", dir);
}

const char *pufa_data_dir(void) {
    pthread_once(&once, find_dir);
    return data_dir;
}

char *pufa_data_file(const char *name) {
    return pufa_asprintf("%s/%s", pufa_data_dir(), name);
}
