#include "error.h"

const char *pufa_strerror(int err) {
    switch (err) {
    case PUFA_OK:
        return "success";
#define PUFA_ERR_MSG_(name, msg)                                                                   \
    case PUFA_##name:                                                                              \
        return msg;
        PUFA_ERRNO_MAP(PUFA_ERR_MSG_)
#undef PUFA_ERR_MSG_
    default:
        return "unknown error";
    }
}

const char *pufa_errname(int err) {
    switch (err) {
    case PUFA_OK:
        return "OK";
#define PUFA_ERR_NAME_(name, msg)                                                                  \
    case PUFA_##name:                                                                              \
        return #name;
        PUFA_ERRNO_MAP(PUFA_ERR_NAME_)
#undef PUFA_ERR_NAME_
    default:
        return "EUNKNOWN";
    }
}
