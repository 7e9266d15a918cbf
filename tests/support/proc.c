#include "proc.h"

#include "httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void pufa_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long long pufa_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pufa_proc_start(pufa_proc *p, char *const argv[], const char *env_extra) {
    static int counter;
    snprintf(p->log, sizeof p->log, "/tmp/pufa-test-%d-%d.log", (int)getpid(), counter++);
    /* Emptied here, before the fork: a log of an earlier process whose pid
     * this one reuses must not be read (a stale port) before the child
     * would have truncated it. */
    int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        abort();
    }
    if (pid == 0) {
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        if (env_extra)
            putenv((char *)env_extra);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s failed: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (fd >= 0)
        close(fd);
    p->pid = pid;
}

bool pufa_proc_alive(pufa_proc *p) {
    if (p->pid <= 0)
        return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->pid = -st - 1; /* remember the status */
        return false;
    }
    return r == 0;
}

static bool scan(const pufa_proc *p, const char *pattern, const char *key, char *value,
                 size_t size) {
    FILE *f = fopen(p->log, "r");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, pattern))
            continue;
        found = true;
        if (key && value) {
            char k[64];
            snprintf(k, sizeof k, "%s=", key);
            char *at = strstr(line, k);
            if (!at) {
                found = false;
                continue;
            }
            at += strlen(k);
            size_t n = strcspn(at, " \n");
            snprintf(value, size, "%.*s", (int)n, at);
        }
        break;
    }
    fclose(f);
    return found;
}

bool pufa_proc_wait_log(pufa_proc *p, const char *pattern, const char *key, char *value,
                        size_t size, int timeout_ms) {
    long long deadline = pufa_mono_ms() + timeout_ms;
    while (pufa_mono_ms() < deadline) {
        if (scan(p, pattern, key, value, size))
            return true;
        if (!pufa_proc_alive(p))
            return scan(p, pattern, key, value, size);
        pufa_sleep_ms(20);
    }
    return false;
}

int pufa_proc_count_log(const pufa_proc *p, const char *pattern) {
    FILE *f = fopen(p->log, "r");
    if (!f)
        return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, pattern))
            n++;
    fclose(f);
    return n;
}

int pufa_proc_stop(pufa_proc *p, int sig, int timeout_ms) {
    if (p->pid < 0)
        return -p->pid - 1;
    if (p->pid == 0)
        return -1;
    kill(p->pid, sig);
    long long deadline = pufa_mono_ms() + timeout_ms;
    int st;
    while (pufa_mono_ms() < deadline) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return st;
        }
        pufa_sleep_ms(10);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    return -1;
}

void pufa_proc_dump(const pufa_proc *p) {
    FILE *f = fopen(p->log, "r");
    if (!f)
        return;
    fprintf(stderr, "---- %s ----\n", p->log);
    char line[8192];
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

long long pufa_http_metric(const char *port, const char *name) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/metrics", port);
    pufa_http_response r;
    char err[256];
    long long v = -1;
    if (pufa_http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err) == 0) {
        const char *body = r.body.data ? r.body.data : "";
        const char *at = strstr(body, name);
        while (at && at != body && at[-1] != '\n')
            at = strstr(at + 1, name);
        if (at)
            v = atoll(at + strlen(name));
        pufa_buf_free(&r.body);
    }
    return v;
}

int pufa_sh(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
