/* client.h: the upstream side of HTTP/1.1: per-target keep-alive pools and one
 * exchange (request out, response in) at a time per connection, on the worker's loop.
 *
 * The caller builds the request head itself (request line, headers, blank line) and
 * streams the body with pt_exchange_body(); the response arrives through callbacks,
 * body bytes as they are read (never buffered whole). Exactly one of on_done or
 * on_error ends an exchange, after which the exchange is freed by the client.
 *
 * Interim responses never reach the caller: 100, 102, 103 and other 1xx are absorbed
 * (the gateway answers a client's Expect: 100-continue itself and does not forward it
 * upstream; Early Hints are optional and dropped, as nginx does). 101 Switching
 * Protocols ends the exchange with PT_EPARSE unless the request asked to upgrade
 * (pt_exchange_opts.upgrade): then the connection becomes a tunnel, see there. */
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
    bool h2;                   /* HTTP/2 (http/h2up.c): h2 by ALPN over TLS, h2c with prior
                                * knowledge otherwise; exchanges share a multiplexed connection */
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
    const char *body;          /* body bytes already at hand, sent with the head (the caller's
                                * may go once pt_exchange_start returns: what is not written
                                * by then is copied) */
    size_t body_len;
    bool body_complete;        /* ...and they are the whole body */
    bool upgrade;              /* the head asks to switch protocols (Connection: Upgrade): a 101
                                * answer turns the connection into a tunnel. on_head(101) comes
                                * first; then every byte the upstream sends reaches on_body as
                                * it is (those behind the 101 head first), pt_exchange_body
                                * writes bytes as they are, pt_exchange_body_end sends a FIN
                                * once the queue is written (reading goes on), and the
                                * upstream's EOF is on_done. No timer runs in a tunnel: its
                                * owner keeps the idle timeout. The connection is never pooled. */
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
    /* `detail` is for the operator's log: it may name the upstream's address (connect,
     * resolve and TLS failures do), except for PT_EPARSE, where it only describes the
     * response. pt_upstream_cause_of(err, phase) names the failure in words fit for a
     * client. */
    /* The request body write queue drained (resume reading the client). */
    void (*on_drain)(void *u);
    /* Optional: one upstream read has been handed over (a good moment to flush). */
    void (*on_flush)(void *u);
    /* Optional, HTTP/2 upstreams only: the response's trailer fields, just before on_done
     * (slices live until on_done returns). */
    void (*on_trailers)(void *u, const pt_header *hdrs, size_t n);
} pt_exchange_cb;

/* HTTP/2 upstream counters, shared by every worker's client (relaxed atomics). */
typedef struct pt_h2up_stats {
    _Atomic uint64_t sessions;      /* counter: connections opened */
    _Atomic uint64_t sessions_open; /* gauge */
    _Atomic uint64_t streams;       /* counter: requests sent on them */
    _Atomic uint64_t streams_open;  /* gauge */
    _Atomic uint64_t goaways;       /* counter: GOAWAY frames received */
    _Atomic uint64_t retried;       /* counter: streams the upstream refused unprocessed (GOAWAY,
                                     * REFUSED_STREAM, a connection closed before their
                                     * HEADERS left) sent again on another connection */
} pt_h2up_stats;

pt_client *pt_client_new(uv_loop_t *loop);
/* Counts HTTP/2 upstream connections and streams into stats (optional, before use). */
void pt_client_set_h2_stats(pt_client *cl, pt_h2up_stats *stats);
/* Closes every pooled connection; the loop then runs until they are closed. */
void pt_client_free(pt_client *cl);

/* Starts an exchange. head (as opts->body) need only live through this call: what is not
 * written at once is copied. No callback runs inside this call: a failure at
 * start (connect refused at once, a name that cannot be looked up, the client shutting
 * down...) is reported through on_error from a later turn of the loop, like any other.
 * Returns NULL only when the exchange could not even be allocated: then no callback
 * will ever run and the caller answers for itself. */
pt_exchange *pt_exchange_start(pt_client *cl, const pt_endpoint *ep, const pt_exchange_opts *opts,
                               const char *head, size_t head_len, const pt_exchange_cb *cb, void *u);
/* Streams request body bytes. Returns the bytes queued towards the upstream, so the
 * caller can pause the client above a mark and resume in on_drain. Bytes given after a
 * failure at start, before on_error has run, are part of its unsent body. */
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

/* Why an exchange failed, as a client may be told (no addresses): name for JSON and
 * logs, text for messages. */
#define PT_UPSTREAM_CAUSE_MAP(X)                                                              \
    X(REFUSED, "connection_refused", "connection refused")                                    \
    X(CONNECT_TIMEOUT, "connect_timeout", "connect timed out")                                \
    X(FIRST_BYTE_TIMEOUT, "first_byte_timeout", "no response head within the first-byte timeout") \
    X(IDLE_TIMEOUT, "idle_timeout", "the response stalled past the idle timeout")             \
    X(RESET, "connection_reset", "connection reset by the upstream")                          \
    X(TLS, "tls_failure", "TLS failure")                                                      \
    X(CLOSED_BEFORE_HEAD, "closed_before_head", "the upstream closed the connection before the response head") \
    X(CLOSED_MID_RESPONSE, "closed_mid_response", "the upstream closed the connection mid-response") \
    X(BAD_RESPONSE, "bad_response", "bad response")                                           \
    X(UNRESOLVED, "name_not_resolved", "the upstream name did not resolve")                   \
    X(NO_MEMORY, "out_of_memory", "the gateway is out of memory")                             \
    X(SHUTDOWN, "shutting_down", "the gateway is shutting down")                              \
    X(OTHER, "upstream_error", "the upstream connection failed")

typedef enum pt_upstream_cause {
#define PT_UC_ENUM(id, name, text) PT_UC_##id,
    PT_UPSTREAM_CAUSE_MAP(PT_UC_ENUM)
#undef PT_UC_ENUM
} pt_upstream_cause;

/* The cause of an on_error(err, phase). */
pt_upstream_cause pt_upstream_cause_of(int err, int phase);
const char *pt_upstream_cause_name(pt_upstream_cause c);
const char *pt_upstream_cause_text(pt_upstream_cause c);

#endif
