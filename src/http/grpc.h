/* grpc.h: what the gateway needs to know of gRPC (over HTTP/2) without sockets: which
 * requests are gRPC calls, the gRPC status a gateway failure is told as, and the
 * grpc-message and grpc-timeout encodings (the gRPC "PROTOCOL-HTTP2" document). */
#ifndef PT_HTTP_GRPC_H
#define PT_HTTP_GRPC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/outcome.h"
#include "core/slice.h"

/* The gRPC status codes the gateway itself answers with. */
enum {
    PT_GRPC_OK = 0,
    PT_GRPC_CANCELLED = 1,
    PT_GRPC_UNKNOWN = 2,
    PT_GRPC_INVALID_ARGUMENT = 3,
    PT_GRPC_DEADLINE_EXCEEDED = 4,
    PT_GRPC_NOT_FOUND = 5,
    PT_GRPC_PERMISSION_DENIED = 7,
    PT_GRPC_RESOURCE_EXHAUSTED = 8,
    PT_GRPC_FAILED_PRECONDITION = 9,
    PT_GRPC_UNIMPLEMENTED = 12,
    PT_GRPC_INTERNAL = 13,
    PT_GRPC_UNAVAILABLE = 14,
    PT_GRPC_UNAUTHENTICATED = 16,
};

/* Whether a content-type value is gRPC's: "application/grpc" alone or followed by '+'
 * (a codec: +proto, +json) or ';' (parameters), ASCII case ignored. */
bool pt_grpc_content_type(pt_slice ctype);
/* The gRPC status a request that ends with outcome o is told (a trailers-only answer):
 * the gateway's failures by what they mean (unreachable upstream UNAVAILABLE, a timeout
 * DEADLINE_EXCEEDED, a missing key UNAUTHENTICATED, a rate limit RESOURCE_EXHAUSTED...),
 * others by their HTTP status as the gRPC HTTP mapping says. */
int pt_grpc_status_of(pt_outcome o);
/* Appends msg percent-encoded for grpc-message: bytes outside 0x20..0x7e and '%' as
 * %XX. Returns 0 or PT_ENOMEM. */
int pt_grpc_message_encode(pt_buf *out, const char *msg, size_t n);
/* The status carried by a grpc-status field value (decimal, 0..99); -1 when it is not one. */
int pt_grpc_status_parse(pt_slice v);
/* A grpc-timeout field value ("TimeoutValue TimeoutUnit": 1 to 8 digits, then H, M, S, m,
 * u or n) in milliseconds, rounded up (a timeout under a millisecond is 1); -1 when it is
 * not one. */
int64_t pt_grpc_timeout_ms(pt_slice v);

/* Room for a grpc-timeout value: 8 digits, the unit, the NUL. */
#define PT_GRPC_TIMEOUT_SIZE 10
/* Writes ms milliseconds as a grpc-timeout value into out (PT_GRPC_TIMEOUT_SIZE bytes,
 * NUL-terminated) and returns its length: in milliseconds while they fit in 8 digits, else
 * in the first of seconds, minutes, hours that does, rounded down (never later than the
 * time given); 8 digits of hours at most. 0 is written "1n": a TimeoutValue is positive. */
size_t pt_grpc_timeout_encode(char *out, uint64_t ms);
/* The grpc-timeout to pass on for a call whose client asked `asked` (a valid value) and
 * which has left_ms of it left: the client's own value while no whole millisecond of it is
 * spent (it may be finer than one), else left_ms encoded into buf (PT_GRPC_TIMEOUT_SIZE
 * bytes). Never more than the client asked. */
pt_slice pt_grpc_timeout_left(pt_slice asked, uint64_t left_ms, char *buf);

#endif
