/* tracing.h: W3C trace context and spans on the request path (trace/ does the parsing
 * and the export; this file knows requests, targets and AI attempts).
 *
 * With `tracing:` configured, dispatch starts a request's trace (pt_tracing_begin): the
 * client's traceparent continues its trace (an invalid one starts a new trace, never a
 * failure), else a new trace starts. Each upstream attempt gets its own span id, written
 * into the traceparent sent upstream, whose parent is the gateway span; the gateway span
 * is the root, or the child of the client's span. Spans are recorded when the trace is
 * sampled (the client's flag, else `tracing.sample`) and handed to the exporter, which
 * never blocks. Without the section, pt_req_info.trace stays NULL and every hook here is
 * one pointer test. */
#ifndef PT_GATEWAY_TRACING_H
#define PT_GATEWAY_TRACING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "gateway/config.h"
#include "http/server.h"

struct pt_ai_attempt;
struct pt_ai_result;

/* The start of a request's trace (what pt_req_info.trace points at): the ids as hex.
 * The hooks below are inline tests of that pointer, so an untraced request pays no call. */
typedef struct pt_trace_ids {
    char trace_hex[33], span_hex[17]; /* the trace and the gateway span */
} pt_trace_ids;

/* One upstream attempt's span, kept by the handler (in the request pool). */
typedef struct pt_trace_attempt {
    uint8_t span_id[8];
    uint64_t start_ns;
    int status;                  /* the upstream's HTTP status, 0 before its head */
    bool open;                   /* started and not yet ended */
} pt_trace_attempt;

/* Starts the exporter when cfg has `tracing:` and registers the metrics. Read once at
 * start: a reload does not move the collector. */
void pt_tracing_start(const pt_config *cfg);
/* Sends what is queued and stops the exporter. */
void pt_tracing_stop(void);

/* Starts the request's trace (sets pt_req_info.trace) when cfg traces. */
void pt_tracing_begin(pt_conn *c, pt_request *req, const pt_config *cfg);

/* True for the client's traceparent / tracestate headers when the request is traced:
 * the proxy writes its own instead of forwarding them. */
bool pt__tracing_own_header(pt_slice name);
static inline bool pt_tracing_own_header(const void *trace, pt_slice name)
{
    return trace && pt__tracing_own_header(name);
}

/* A new span for an upstream attempt: appends "traceparent" (and the client's
 * "tracestate") header lines to head. No-op when trace is NULL. */
void pt__tracing_attempt_start(const void *trace, pt_trace_attempt *a, pt_buf *head);
static inline void pt_tracing_attempt_start(const void *trace, pt_trace_attempt *a, pt_buf *head)
{
    if (trace) pt__tracing_attempt_start(trace, a, head);
}

/* Ends a proxy attempt's span: error is the failure's name, NULL when it answered. */
void pt_tracing_proxy_end(const void *trace, pt_trace_attempt *a, pt_slice method, const pt_target *t,
                          pt_slice path, const char *error);

/* Ends an AI attempt's span (the provider call) with its model and tokens. */
void pt_tracing_ai_end(const void *trace, pt_trace_attempt *a, const struct pt_ai_attempt *at,
                       const struct pt_ai_result *r, bool aborted);

/* Records the gateway span once the response is complete. */
void pt__tracing_done(pt_conn *c, const pt_request *req, const pt_req_info *info, int status, uint64_t total_us);
static inline void pt_tracing_done(pt_conn *c, const pt_request *req, const pt_req_info *info, int status,
                                   uint64_t total_us)
{
    if (info->trace) pt__tracing_done(c, req, info, status, total_us);
}

/* The trace's id and the gateway span's id as hex, NULL when the request is not traced. */
static inline const char *pt_tracing_trace_id(const void *trace)
{
    return trace ? ((const pt_trace_ids *)trace)->trace_hex : NULL;
}
static inline const char *pt_tracing_span_id(const void *trace)
{
    return trace ? ((const pt_trace_ids *)trace)->span_hex : NULL;
}

#endif
