/* h2.h: HTTP/2 on a client connection (nghttp2), for server.c only.
 *
 * The session belongs to the connection that owns the socket; every stream gets a
 * pt_conn of its own (its request, pool, sink, pt_req_info and access-log line), and
 * server.c's pt_conn_* calls on such a stream come here, where they become nghttp2
 * frames on the session. Handlers cannot tell a stream from an HTTP/1.1 connection. */
#ifndef PT_HTTP_H2_H
#define PT_HTTP_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/server_int.h"

/* Switches connection c to HTTP/2 (the server's SETTINGS are queued). 0 or PT_ENOMEM. */
int pt__h2_start(pt_conn *c);
/* Bytes read from the client (the preface first). */
void pt__h2_feed(pt_conn *c, const char *data, size_t n);
/* The socket's write queue fell to its low mark. */
void pt__h2_on_drain(pt_conn *c);
/* The connection's deadline passed: per-stream timeouts and the idle timeout. */
void pt__h2_on_timer(pt_conn *c);
/* Graceful drain: GOAWAY naming the last stream taken; those finish, then it closes. */
void pt__h2_goaway(pt_conn *c);
/* Gives every unfinished stream outcome o (before a close that cuts them short). */
void pt__h2_mark_all(pt_conn *c, pt_outcome o);
/* The connection is closing: every stream's handler is aborted and its request ended
 * (logged when it got a status). Idempotent. */
void pt__h2_close(pt_conn *c);
/* Frees the session once the socket is closed. */
void pt__h2_free(pt_conn *c);

/* A stream's side of server.h's response writer and body calls. */
int pt__h2s_response_start(pt_conn *c, int status, const pt_header *hdrs, size_t nhdrs, int64_t content_length);
int pt__h2s_body(pt_conn *c, const char *data, size_t n);
int pt__h2s_trailers(pt_conn *c, const pt_header *hdrs, size_t n);
int pt__h2s_flush(pt_conn *c);
void pt__h2s_end(pt_conn *c);
void pt__h2s_abort(pt_conn *c);
/* conn_close on a stream: the stream is reset, the connection stays. */
void pt__h2s_reset(pt_conn *c);
void pt__h2s_continue(pt_conn *c);
void pt__h2s_pause(pt_conn *c, bool pause);
size_t pt__h2s_write_queue(const pt_conn *c);

#endif
