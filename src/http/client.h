/* client.h: the upstream side of HTTP/1.1: per-target keep-alive pools and one
 * exchange (request out, response in) at a time per connection, on the worker's loop.
 *
 * The caller builds the request head itself (request line, headers, blank line) and
 * streams the body with pt_exchange_body(); the response arrives through callbacks,
 * body bytes as they are read (never buffered whole). Exactly one of on_done or
 * on_error ends an exchange, after which the exchange is freed by the client. */
#ifndef PT_HTTP_CLIENT_H
#define PT_HTTP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "http/request.h"
#include "http/tls.h"

typedef struct pt_client pt_client;     /* one per worker: its pools */
typedef struct pt_exchange pt_exchange;

typedef struct pt_endpoint {
    const char *host;          /* IP literal or DNS name */
    uint16_t port;
    bool tls;
    const char *sni;           /* name to send and verify; NULL = host */
    const char *ca_file;
    bool insecure_skip_verify;
    _Atomic int *open_gauge;   /* optional: pool gauges to maintain (all workers) */
    _Atomic int *idle_gauge;
} pt_endpoint;

typedef struct pt_exchange_opts {
    uint64_t connect_timeout_ms;
    uint64_t first_byte_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t pool_idle_ms;     /* how long the connection may idle in the pool afterwards */
    unsigned pool_max_idle;
    bool head_request;         /* response has no body whatever its headers say */
    bool chunked_body;         /* the body is sent chunk-encoded (caller wrote TE: chunked) */
    bool has_body;             /* a body follows the head (else the request ends with it) */
    bool idempotent;           /* may be replayed when a reused connection dies before
                                * answering (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) */
    const char *body;          /* body bytes already at hand, sent with the head (copied) */
    size_t body_len;
    bool body_complete;        /* ...and they are the whole body */
} pt_exchange_opts;

typedef struct pt_exchange_cb {
    /* Response head. Slices live until on_done/on_error. content_length -1 = unknown. */
    void (*on_head)(void *u, int status, const pt_header *hdrs, size_t n, int64_t content_length);
    void (*on_body)(void *u, const char *data, size_t n);
    void (*on_done)(void *u);
    /* err: PT_ECONNREFUSED, PT_ETIMEDOUT, PT_ETLS, ... `phase` says how far it got:
     * 0 = nothing sent (safe to retry elsewhere; unsent_body holds the buffered body
     * bytes, which the callee may take with pt_buf_detach), 1 = request sent, no
     * response byte yet (first-byte timeout or reset), 2 = response under way. */
    void (*on_error)(void *u, int err, int phase, pt_buf *unsent_body, const char *detail);
    /* The request body write queue drained (resume reading the client). */
    void (*on_drain)(void *u);
    /* Optional: one upstream read has been handed over (a good moment to flush). */
    void (*on_flush)(void *u);
} pt_exchange_cb;

pt_client *pt_client_new(uv_loop_t *loop);
/* Closes every pooled connection; the loop then runs until they are closed. */
void pt_client_free(pt_client *cl);

/* Starts an exchange. head is copied. Returns NULL only on out-of-memory. */
pt_exchange *pt_exchange_start(pt_client *cl, const pt_endpoint *ep, const pt_exchange_opts *opts,
                               const char *head, size_t head_len, const pt_exchange_cb *cb, void *u);
/* Streams request body bytes. Returns the bytes queued towards the upstream, so the
 * caller can pause the client above a mark and resume in on_drain. */
size_t pt_exchange_body(pt_exchange *x, const char *data, size_t n);
void pt_exchange_body_end(pt_exchange *x);
void pt_exchange_pause(pt_exchange *x);   /* stop reading the response (client is slow) */
void pt_exchange_resume(pt_exchange *x);
/* Abandons the exchange: no more callbacks; the connection is closed, not pooled. */
void pt_exchange_cancel(pt_exchange *x);
/* Appends "Host: name[:port]\r\n" for an upstream (IPv6 in brackets, the port left out
 * when it is the scheme's default), as a client of that upstream would send it. */
void pt_http_append_host(pt_buf *b, const char *host, uint16_t port, bool tls);
/* "127.0.0.1:9001" of the connection in use, or "" */
const char *pt_exchange_peer(const pt_exchange *x);

#endif
