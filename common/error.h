/* One error vocabulary for the whole repo: functions return int, 0 on
 * success, a negative PUFA_E* code on failure.  Errors of libzmq, libpq,
 * protobuf-c and the OS are mapped to these where they happen. */
#ifndef PUFA_ERROR_H
#define PUFA_ERROR_H

#define PUFA_ERRNO_MAP(X)                                                                          \
    X(EINVAL, "invalid argument")                                                                  \
    X(EPARSE, "malformed input")                                                                   \
    X(EVALIDATE, "report fails validation")                                                        \
    X(ETOOBIG, "input too large")                                                                  \
    X(EIO, "input/output error")                                                                   \
    X(ENOSPC, "no space left on device")                                                           \
    X(EQUOTA, "spool quota reached")                                                               \
    X(ECORRUPT, "stored data is corrupt")                                                          \
    X(EDB, "database error")                                                                       \
    X(EDBDOWN, "database unreachable")                                                             \
    X(EZMQ, "ZeroMQ error")                                                                        \
    X(ECONFIG, "configuration error")                                                              \
    X(ENOTFOUND, "not found")                                                                      \
    X(EAUTH, "not authorised")                                                                     \
    X(ETIMEDOUT, "timed out")                                                                      \
    X(ECLOSED, "closed")                                                                           \
    X(EAGAIN, "try again")                                                                         \
    X(ESYS, "system call failed")

enum {
    PUFA_OK = 0,
    PUFA_ERRNO_BASE_ = -1000,
#define PUFA_ERR_ENUM_(name, msg) PUFA_##name,
    PUFA_ERRNO_MAP(PUFA_ERR_ENUM_)
#undef PUFA_ERR_ENUM_
        PUFA_ERRNO_END_
};

/* A static description of a PUFA_E* code (or "unknown error"). */
const char *pufa_strerror(int err);
/* The symbolic name, e.g. "EPARSE". */
const char *pufa_errname(int err);

#endif
