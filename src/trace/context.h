/* context.h: W3C Trace Context (https://www.w3.org/TR/trace-context/): reading a client's
 * `traceparent`, writing the one sent upstream, and new random trace and span ids.
 *
 * Parsing follows the specification's rules for version 00 and for later versions read
 * as 00 (the first 55 characters, then '-' or the end); anything else is invalid and the
 * caller starts a new trace: a bad header never fails a call. */
#ifndef PT_TRACE_CONTEXT_H
#define PT_TRACE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"

#define PT_TRACEPARENT_LEN 55    /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define PT_TRACESTATE_MAX 512    /* longer tracestate values are not passed on */
#define PT_TRACE_FLAG_SAMPLED 0x01

typedef struct pt_trace_ctx {
    uint8_t trace_id[16];
    uint8_t parent_id[8];        /* the caller's span */
    uint8_t flags;               /* only PT_TRACE_FLAG_SAMPLED is kept */
} pt_trace_ctx;

/* Reads a traceparent value (surrounding spaces and tabs allowed). 0, or -1 when it is
 * not a valid header (out is then unspecified). */
int pt_traceparent_parse(pt_slice v, pt_trace_ctx *out);

/* Writes "00-TRACE-SPAN-FLAGS" (PT_TRACEPARENT_LEN characters and a NUL) into out. */
void pt_traceparent_write(char out[PT_TRACEPARENT_LEN + 1], const uint8_t trace_id[16], const uint8_t span_id[8],
                          uint8_t flags);

/* n bytes as 2n lowercase hex digits and a NUL. */
void pt_trace_hex(const uint8_t *id, size_t n, char *out);

/* n random bytes (core/rand.h), never all zero (an all-zero id is invalid). */
void pt_trace_new_id(uint8_t *out, size_t n);

/* Whether a tracestate value may be passed on: at most PT_TRACESTATE_MAX bytes of
 * printable ASCII (list members are not validated one by one; the caller forwards the
 * value whole or not at all). */
bool pt_tracestate_ok(pt_slice v);

#endif
