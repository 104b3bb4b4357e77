/* otlp.h: the span exporter: spans packed on the worker into a bounded queue
 * (core/spool.h), sent by the spool's writer thread as OTLP/HTTP JSON
 * (ExportTraceServiceRequest, POST to the collector's /v1/traces) in batches.
 *
 * A worker never waits: a span that does not fit in the queue is dropped and counted.
 * The writer sends a batch with a deadline (timeout) and retries a failed POST (network
 * error, 429, 5xx) a bounded number of times with a short backoff; then the batch is
 * dropped and counted. A collector that is down or slow therefore only costs dropped
 * spans, never time on the request path. http:// or https:// collectors (http/post.h). */
#ifndef PT_TRACE_OTLP_H
#define PT_TRACE_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/span.h"

typedef struct pt_otlp pt_otlp;

typedef struct pt_otlp_opts {
    bool tls;                       /* https:// */
    const char *host;               /* IP literal or name (resolved on the writer thread) */
    uint16_t port;
    const char *path;               /* "/v1/traces" */
    const char *const *headers;     /* "Name: value" lines sent with every POST */
    size_t nheaders;
    uint64_t timeout_ms;            /* one POST, connect to the end of the answer */
    unsigned retries;               /* further tries of a failed POST */
    unsigned flush_ms;              /* a batch goes out at least this often */
    size_t queue_bytes;             /* 0: 4 MiB */
    const char *service_name;       /* resource attribute service.name */
} pt_otlp_opts;

typedef struct pt_otlp_stats {
    uint64_t exported;              /* spans the collector accepted */
    uint64_t dropped;               /* spans lost: the queue was full or the export failed */
    uint64_t failed_posts;          /* POSTs that failed (each try counts) */
} pt_otlp_stats;

/* Starts the writer. NULL when out of memory or threads. Copies what it keeps of o. */
pt_otlp *pt_otlp_new(const pt_otlp_opts *o);

/* Queues a copy of s. Thread-safe, never blocks on I/O. false when it was dropped. */
bool pt_otlp_push(pt_otlp *e, const pt_span *s);

/* Returns once every span pushed before the call has been sent or dropped. */
void pt_otlp_sync(pt_otlp *e);

void pt_otlp_stats_get(pt_otlp *e, pt_otlp_stats *out);

/* Sends what is queued (one try per batch), stops the writer, frees e. NULL is allowed. */
void pt_otlp_free(pt_otlp *e);

/* Internal, for tests: the OTLP JSON document for n packed spans (what one POST carries). */
void pt__otlp_render(const char *service_name, const pt_span *spans, size_t n, char **out, size_t *len);

#endif
