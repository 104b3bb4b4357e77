/* err.h: Portico's one error vocabulary. Negative numbers are errors, 0 is success,
 * PT_EAGAIN means "would block, try again". Generated from one table so names,
 * messages and values never drift apart. */
#ifndef PT_CORE_ERR_H
#define PT_CORE_ERR_H

#define PT_ERRNO_MAP(X)                                                   \
    X(EAGAIN,   -1, "resource temporarily unavailable, try again")        \
    X(ENOMEM,   -2, "out of memory")                                      \
    X(EINVAL,   -3, "invalid argument")                                   \
    X(ETOOBIG,  -4, "size limit exceeded")                                \
    X(EPARSE,   -5, "malformed input")                                    \
    X(ENOTFOUND,-6, "not found")                                          \
    X(EIO,      -7, "input/output error")                                 \
    X(ETIMEDOUT,-8, "timed out")                                          \
    X(ECONNREFUSED, -9, "connection refused")                             \
    X(ECONNRESET, -10, "connection reset by peer")                        \
    X(ETLS,     -11, "TLS failure")                                       \
    X(ECANCELED,-12, "operation canceled")                                \
    X(EUNAVAIL, -13, "no healthy target available")                       \
    X(ECLOSED,  -14, "connection closed before the message was complete") \
    X(ECONFIG,  -15, "invalid configuration")                             \
    X(ETOOMANY, -16, "count limit exceeded")

enum {
#define PT_ERR_ENUM(name, val, msg) PT_##name = (val),
    PT_ERRNO_MAP(PT_ERR_ENUM)
#undef PT_ERR_ENUM
};

/* Returns a static human message for any PT_* code (or "unknown error"). */
const char *pt_strerror(int err);
/* Returns the symbolic name ("ETIMEDOUT") for logs and JSON. */
const char *pt_errname(int err);

#endif
