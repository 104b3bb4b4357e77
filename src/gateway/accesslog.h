/* accesslog.h: the access log, one JSON object per line, written off the request path.
 *
 * Workers format a record into a line on their own thread and copy it into a bounded
 * in-memory queue; one writer thread drains the queue to the file with one write(2) per
 * wake-up. A worker never waits for the disk: when the queue is full the line is dropped
 * and counted in pt_metrics_global.accesslog_dropped.
 *
 * A line looks like (one line, members in this order):
 *   {"time":"2026-11-27T17:25:10.123Z","request_id":"abc","client":"127.0.0.1:5555",
 *    "method":"GET","path":"/v1/x","route":"api","service":"echo",
 *    "target":"http://127.0.0.1:9001","status":200,"bytes_in":0,"bytes_out":512,
 *    "upstream_ms":1.234,"total_ms":1.502,"error":null, ...extra members}
 * time is when the record was written (response complete), UTC with milliseconds. */
#ifndef PT_GATEWAY_ACCESSLOG_H
#define PT_GATEWAY_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/outcome.h"
#include "core/slice.h"

/* Everything is borrowed for the duration of pt_accesslog_write() only.
 * NULL strings and slices with ptr == NULL are written as JSON null. */
typedef struct pt_access_record {
    const char *request_id;
    pt_slice method, path;
    const char *route, *service, *target;
    const char *consumer, *team, *key_prefix; /* the caller on a keyed route; left out when NULL */
    int status;
    uint64_t bytes_in, bytes_out;
    uint64_t upstream_us, total_us; /* upstream_us 0 -> "upstream_ms":null */
    pt_outcome outcome;             /* "error" is its log name, null for PT_OUT_OK */
    /* "127.0.0.1:5555" or "[::1]:5555", formatted by the gateway from the socket address:
     * written as it is, not escaped, so it must never carry text from the request. */
    pt_slice client;
    const char *extra_json;         /* raw JSON members appended verbatim ("\"usage\":{...}"), or NULL */
    const char *trace_id, *span_id; /* the trace and the gateway span (hex); left out when NULL */
    const char *protocol;           /* "HTTP/2" on an HTTP/2 stream; left out when NULL (HTTP/1.x) */
    bool grpc;                      /* a gRPC call whose status is known: "grpc_status" written */
    int grpc_status;
} pt_access_record;

/* Starts logging to dest: "-" is stdout, anything else a file path opened for append
 * (created 0640); NULL or "off" disables the log (0 is returned). An already open log is
 * closed first (its queued lines are written). On failure returns PT_EIO / PT_ENOMEM,
 * writes "access_log: ..." into err (may be NULL), and leaves the log disabled. */
int pt_accesslog_open(const char *dest, pt_buf *err);

/* Formats r and queues the line. Thread-safe, never blocks on I/O; a no-op while the
 * log is disabled. The only lock taken guards a memcpy into the queue. */
void pt_accesslog_write(const pt_access_record *r);

/* Asks the writer to reopen the path (log rotation after SIGHUP): lines queued before
 * this call go to the old file, later ones to the new. Not async-signal-safe: call it
 * from the loop's signal callback, not from a signal handler. No-op for stdout. */
void pt_accesslog_reopen(void);

/* Writes every line queued before the call, stops the writer thread and closes the
 * file. Safe to call when the log is not open. */
void pt_accesslog_close(void);

/* Internal, for tests: the cap in bytes on lines waiting for the writer (default 4 MiB).
 * Applies from the next pt_accesslog_open(). */
void pt__accesslog_set_queue_cap(size_t bytes);

#endif
