/* Child processes for integration tests: start a real binary with its
 * stderr in a log file, wait (polling, with a deadline) for a log line,
 * stop it. */
#ifndef PUFA_TEST_PROC_H
#define PUFA_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct pufa_proc {
    pid_t pid;
    char log[256];
} pufa_proc;

/* argv is NULL-terminated; env_extra is "NAME=value" or NULL.  Aborts the
 * test on failure. */
void pufa_proc_start(pufa_proc *p, char *const argv[], const char *env_extra);
/* Waits until the log holds a line containing pattern; copies the text
 * after "key=" (up to white space) of that line into value (if key is
 * given).  false on timeout or if the process died. */
bool pufa_proc_wait_log(pufa_proc *p, const char *pattern, const char *key, char *value,
                        size_t size, int timeout_ms);
/* Counts lines of the log containing pattern. */
int pufa_proc_count_log(const pufa_proc *p, const char *pattern);
/* Sends sig and waits up to timeout_ms; returns the exit status (as from
 * waitpid) or -1 on timeout (then it is killed). */
int pufa_proc_stop(pufa_proc *p, int sig, int timeout_ms);
bool pufa_proc_alive(pufa_proc *p);
/* Prints the log to stderr (for failing tests). */
void pufa_proc_dump(const pufa_proc *p);

/* The value of one metric line ("name " or "name{labels} ", at the start
 * of a line) of http://127.0.0.1:PORT/metrics; -1 when unreachable or
 * absent. */
long long pufa_http_metric(const char *port, const char *name);

/* Runs a shell command; returns its exit code. */
int pufa_sh(const char *cmd);
/* Sleeps ms milliseconds (for pacing loads and backoff in tests, never for
 * synchronisation). */
void pufa_sleep_ms(int ms);
long long pufa_mono_ms(void);

#endif
