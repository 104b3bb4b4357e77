/* server.h: the server side of HTTP/1.1 and HTTP/2: accepted connections, request parsing
 * with llhttp in strict mode (HTTP/2: nghttp2, http/h2.c), limits and timeouts, and the
 * response writer. An HTTP/2 stream is a pt_conn of its own to handlers.
 *
 * One pt_server lives on each worker loop. A connection parses one request head at a
 * time; when the head is complete it calls server->dispatch, which must either answer
 * at once (pt_conn_respond_*) or attach a body sink and answer later. Pipelined
 * requests wait, unparsed, until the response before them is complete. An upgrade
 * request (pt_request.upgrade) is either answered (and the connection closes after) or
 * turned into a raw tunnel with pt_conn_tunnel. */
#ifndef PT_HTTP_SERVER_H
#define PT_HTTP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/error_body.h"
#include "core/outcome.h"
#include "http/request.h"
#include "http/sock.h"
#include "http/timerq.h"

typedef struct pt_conn pt_conn;
typedef struct pt_server pt_server;

typedef struct pt_http_limits {
    size_t max_header_bytes;
    unsigned max_headers;
    size_t max_body_bytes;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t send_timeout_ms;
    unsigned max_connections;
    unsigned h2_max_streams;   /* HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS */
} pt_http_limits;

/* HTTP/2 counters, shared by every server (relaxed atomics). */
typedef struct pt_h2_stats {
    _Atomic uint64_t sessions;        /* connections that switched to HTTP/2 */
    _Atomic uint64_t streams;         /* requests begun on them */
    _Atomic uint64_t calm;            /* sessions ended for abuse (ENHANCE_YOUR_CALM): rapid
                                       * reset, floods, header blocks far over the cap */
    _Atomic uint64_t protocol_errors; /* sessions ended by a malformed frame */
} pt_h2_stats;

/* What a handler does with the request body and with the connection's life. */
typedef struct pt_body_sink {
    void *h;
    void (*on_body)(void *h, const char *data, size_t n);
    void (*on_body_end)(void *h);
    /* The client's write queue fell below the low mark (resume upstream reads). */
    void (*on_drain)(void *h);
    /* The connection is going away, or the response ended before the body was read:
     * stop this request's upstream I/O and drop every pointer to the connection. No
     * call on the connection is allowed after this returns. Free nothing here: the
     * handler's state lives until the request's cleanup hooks run (request.h), after
     * its access-log line. */
    void (*on_abort)(void *h);
} pt_body_sink;

/* Facts about the request that handlers fill in for the access log and metrics. */
typedef struct pt_req_info {
    const char *route;
    const char *service;
    const char *target;       /* the upstream address, NULL when none */
    const char *operation;    /* what was used within the service when the route alone does not
                               * say (an MCP tool call's tool), NULL otherwise */
    const char *arguments_shape, *arguments; /* an MCP tool call's, for the call log
                               * (gateway/mcp_args.h), NULL otherwise */
    pt_outcome outcome;       /* PT_OUT_OK, or how the gateway failed the request: the first
                               * failure set wins, later ones do not overwrite it */
    uint64_t upstream_start_us, upstream_us;
    uint64_t ttfb_us;         /* from the first upstream attempt to the response head, 0 unknown */
    void *route_metrics;      /* opaque to http/ */
    const char *extra_json;   /* extra access-log members, NULL when none */
    const void *auth;         /* opaque to http/: the caller's identity on keyed routes
                               * (gateway/auth.h), NULL when none */
    const void *limits;       /* opaque to http/: the request's policy decisions
                               * (gateway/limits_gate.h), NULL when none */
    pt_slice resp_headers;    /* header lines ("Name: value\r\n"...) every response to this
                               * request carries, whoever writes it; empty when none */
    const void *call_ai;      /* opaque to http/: an AI call's provider, model, tokens and
                               * cost for the call log (logs/calllog.h), NULL when none */
    const void *trace;        /* opaque to http/: the request's trace (gateway/tracing.h),
                               * NULL when tracing is off */
    void *mask;               /* opaque to http/: the request's data masking
                               * (gateway/mask_gate.h), NULL when none applies */
    bool grpc;                /* a gRPC call's status is known: grpc_status (from the answer's
                               * grpc-status field, or the gateway's own trailers-only answer) */
    int grpc_status;
    /* Every pointer above must stay valid until the request's cleanup hooks run (they
     * run after the done callback): point into the request pool, or into something a
     * hook releases (the configuration snapshot dispatch holds). */
} pt_req_info;

typedef void (*pt_dispatch_fn)(pt_conn *c, pt_request *req, void *arg);
/* Optional: writes the body of an error the server itself raises (413, 408, ...) in the
 * client's own format when the request's endpoint has one (AI clients); returns false
 * to use the gateway's JSON shape. *ctype must be set when it returns true. */
typedef bool (*pt_error_fn)(const pt_request *req, pt_outcome o, const char *msg, pt_buf *body,
                            const char **ctype, void *arg);
typedef void (*pt_done_fn)(pt_conn *c, const pt_request *req, const pt_req_info *info, int status,
                           uint64_t bytes_in, uint64_t bytes_out, uint64_t total_us, void *arg);

struct pt_server {
    uv_loop_t *loop;
    pt_http_limits limits;
    pt_dispatch_fn dispatch;
    pt_done_fn done;
    pt_error_fn render_error;
    void *arg;
    bool draining;             /* answer with Connection: close, close idle connections */
    unsigned nconns;
    unsigned lives_freed;      /* idle connections' request state freed since the last heap trim */
    pt_conn *conns;            /* all open connections (intrusive list) */
    void (*on_empty)(pt_server *srv); /* called when draining and the last connection closed */
    _Atomic uint64_t *active_gauge; /* optional: open connections, shared by all servers */
    pt_h2_stats *h2_stats;     /* optional */
    pt_timerq timers;          /* every connection's deadline, on one timer */
    pt_timerq_node heap_trim;  /* when free heap pages go back to the system (server.c) */
};

void pt_server_init(pt_server *srv, uv_loop_t *loop);
/* Accepts one connection from a listening stream; ssl_ctx turns on TLS (HTTP/2 then
 * comes by ALPN, when the context offers it). h2c: on a plain listener, a connection that
 * opens with the HTTP/2 client preface speaks HTTP/2 (prior knowledge). */
int pt_server_accept(pt_server *srv, uv_stream_t *listener, SSL_CTX *ssl_ctx, bool h2c);
/* Stops keep-alive everywhere and closes idle connections now; busy ones close after
 * their current response; HTTP/2 sessions get a GOAWAY and close once their streams end. */
void pt_server_drain(pt_server *srv);
/* Closes every connection at once (drain deadline passed). */
void pt_server_close_all(pt_server *srv);

/* Response writer. Headers named Connection, Keep-Alive, Transfer-Encoding,
 * Content-Length, Proxy-Connection, TE and Upgrade in hdrs are ignored: the
 * connection frames the message itself (content_length < 0 means chunked, or
 * close-delimited for HTTP/1.0 clients). Trailer announces the trailers to come
 * (pt_conn_response_trailers): sent only when they will follow a chunked body to an HTTP/1.1
 * client that said TE: trailers, ignored otherwise. Returns 0 or PT_E*. */
int pt_conn_response_start(pt_conn *c, int status, const pt_header *hdrs, size_t nhdrs,
                           int64_t content_length);
int pt_conn_response_body(pt_conn *c, const char *data, size_t n);
/* Sends what the writer has staged (the head and small body pieces are gathered into
 * one write); call after each batch of upstream input. */
int pt_conn_flush(pt_conn *c);
/* Completes the response (flushing it); the next pipelined request may start. */
void pt_conn_response_end(pt_conn *c);
/* Answers an upgrade request (req->upgrade) the upstream accepted with 101 Switching
 * Protocols (hdrs as for pt_conn_response_start, then Connection: Upgrade and Upgrade:
 * protocol) and turns the connection into a tunnel. The request must be complete (an
 * upgrade request's body is read before it goes upstream). From then on: every byte the
 * client sends, those already read behind the head first, goes to the sink's on_body as
 * it is (and counts as bytes in); the client's EOF reaches on_body_end, and bytes may
 * still be written after it; pt_conn_response_body writes bytes as they are;
 * pt_conn_response_end sends what is queued, then a FIN, and closes; pause/resume_body
 * pace the client. No byte either way for idle_ms closes the connection with outcome
 * PT_OUT_TUNNEL_IDLE. The request, logged with status 101, lasts until the tunnel ends.
 * Returns 0, PT_EINVAL (not an upgrade request, or not at that point) or a write error. */
int pt_conn_tunnel(pt_conn *c, pt_slice protocol, const pt_header *hdrs, size_t nhdrs, uint64_t idle_ms);
/* Fields sent as trailers after the body (gRPC's grpc-status, grpc-message and its custom
 * metadata), copied; call once, after the last body bytes and before
 * pt_conn_response_end. Hop-by-hop names and pseudo-headers are left out. On HTTP/2 they
 * end the stream; on HTTP/1.1 they follow a chunked body's last chunk when the request
 * said TE: trailers, and are dropped otherwise (0 is returned). Returns 0, PT_EINVAL (no
 * response under way, or trailers already sent) or PT_ENOMEM. */
int pt_conn_response_trailers(pt_conn *c, const pt_header *hdrs, size_t n);
/* A gRPC call ended by the gateway: a trailers-only answer (RFC 9113 HEADERS with
 * END_STREAM: :status 200, content-type application/grpc, grpc-status, grpc-message
 * percent-encoded) instead of an error body. pt_conn_respond_error does this itself for
 * gRPC requests (http/grpc.h); the outcome is recorded as for any error. */
void pt_conn_respond_grpc_status(pt_conn *c, int grpc_status, const char *msg);
/* Whether the request is a gRPC call: HTTP/2 with a gRPC content-type. */
bool pt_conn_is_grpc(const pt_conn *c);
/* A gRPC call's deadline (its grpc-timeout, enforced by the server) as a pt_now_ms() time;
 * 0 when it has none, or once the server ended the call for it (http/h2.c). */
uint64_t pt_conn_grpc_deadline(const pt_conn *c);
/* Gives up on a response already started (upstream failed mid-body): the client sees
 * a truncated message and the connection closes. */
void pt_conn_response_abort(pt_conn *c);
/* Complete responses in one call. */
void pt_conn_respond(pt_conn *c, int status, const char *content_type, const char *body, size_t n);
/* Ends the request with outcome o: its status from the outcome table and the body
 * {"error":{"status":S,"code":LOG_NAME,"message":MSG,"request_id":ID,...}} where more
 * (may be NULL) adds the members after request_id (service, cause, attempts, target:
 * core/error_body.h; its other members are ignored), or the client's own format
 * through server->render_error. A response already begun is aborted instead. */
void pt_conn_respond_error(pt_conn *c, pt_outcome o, const pt_error_body *more, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Attaches the handler's sink; NULL detaches it (the handler is done with the
 * connection). A call that ends the request (pt_conn_response_end, _abort, respond*)
 * may run its cleanup hooks before it returns: a handler touches no pool memory after
 * one. */
void pt_conn_set_sink(pt_conn *c, const pt_body_sink *sink);
/* 100-continue is sent when the body is first wanted: call before reading a body. */
void pt_conn_continue(pt_conn *c);
void pt_conn_pause_body(pt_conn *c);
void pt_conn_resume_body(pt_conn *c);
size_t pt_conn_write_queue(const pt_conn *c);
bool pt_conn_response_started(const pt_conn *c);
pt_req_info *pt_conn_info(pt_conn *c);
/* Appends header lines ("Name: value\r\n"...) to those every response to the current
 * request carries (pt_req_info.resp_headers), copied into the request's pool. 0, or
 * PT_ENOMEM (nothing added). */
int pt_conn_add_resp_headers(pt_conn *c, const char *lines, size_t n);
pt_server *pt_conn_server(pt_conn *c);
const char *pt_conn_peer(const pt_conn *c);
bool pt_conn_is_tls(const pt_conn *c);
/* On a listener with tls.subject_header: that header's name (a client's own copy of it is
 * never trusted), else NULL; and the verified client certificate's subject, false when
 * the client sent none. */
const char *pt_conn_subject_header(const pt_conn *c);
bool pt_conn_client_subject(const pt_conn *c, char *out, size_t cap);
/* Whether the request needs a body read (Content-Length > 0 or chunked). */
bool pt_conn_has_body(const pt_conn *c);

const char *pt_http_reason(int status);
/* Writes "<hex>\r\n", the line before a chunk of n bytes; returns its length. */
int pt_http_chunk_size(char out[24], size_t n);

/* Tests and fuzzing: a connection without a socket whose output is appended to out;
 * pt__conn_feed hands it bytes as if read (n == 0: the peer closed). The loop must
 * still run for the connection to be freed once it closes. */
pt_conn *pt__server_conn_capture(pt_server *srv, pt_buf *out);
void pt__conn_feed(pt_conn *c, const char *data, size_t n);

#endif
