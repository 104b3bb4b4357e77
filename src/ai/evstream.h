/* evstream.h: incremental decoder of the AWS event-stream framing (application/
 * vnd.amazon.eventstream), which Bedrock's ConverseStream answers in.
 *
 * A message is: total length (4 bytes, big-endian), headers length (4), CRC-32 of those
 * eight bytes (4), the headers, the payload, and a CRC-32 of everything before it (4).
 * A header is: name length (1), name, value type (1), value (typed: strings and byte
 * arrays carry a 2-byte length, the other types a fixed size). Bytes are fed in whatever
 * pieces the network delivers; each whole, CRC-checked message goes to the callback. A
 * bad CRC, a malformed header or a message over the cap fails the stream for good. */
#ifndef PT_AI_EVSTREAM_H
#define PT_AI_EVSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/slice.h"

/* The headers this framing's users read (others are skipped); NULL slices when absent. */
typedef struct pt_evs_msg {
    pt_slice message_type;   /* ":message-type": "event", "exception" or "error" */
    pt_slice event_type;     /* ":event-type" */
    pt_slice exception_type; /* ":exception-type" */
    pt_slice error_code;     /* ":error-code" (message type "error") */
    pt_slice error_message;  /* ":error-message" */
    pt_slice payload;
} pt_evs_msg;

/* Returns 0 to go on; anything else stops pt_evs_feed, which returns it. The slices are
 * valid only during the call. */
typedef int (*pt_evs_cb)(void *arg, const pt_evs_msg *m);

typedef struct pt_evs {
    pt_buf buf;          /* bytes of a message not yet complete */
    size_t max_message;
    bool failed;
} pt_evs;

#define PT_EVS_MIN_MESSAGE 16u

/* max_message 0 = 16 MiB (the framing's own limit). */
void pt_evs_init(pt_evs *s, size_t max_message);
void pt_evs_release(pt_evs *s);
/* Returns 0, the callback's value, PT_EPARSE (bad length, CRC or header) or PT_ETOOBIG
 * (a message over the cap); after an error every later feed fails the same way. */
int pt_evs_feed(pt_evs *s, const char *p, size_t n, pt_evs_cb cb, void *arg);
/* True when part of a message is buffered (a stream that ends now was cut). */
bool pt_evs_pending(const pt_evs *s);
/* CRC-32 (IEEE 802.3, as zlib's crc32): crc is 0 to start, or the previous result. */
uint32_t pt_crc32(uint32_t crc, const void *p, size_t n);

#endif
