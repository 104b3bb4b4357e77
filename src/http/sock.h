/* sock.h: a TCP stream with an optional TLS filter, shared by the server side (client
 * connections) and the upstream side (pooled connections). Owners see plaintext only.
 *
 * Writes are copied only when the kernel cannot take them at once (uv_try_write first),
 * so the caller's buffers are never retained. wq_bytes counts bytes queued but not yet
 * written; owners use it for backpressure together with on_drain. The object is freed
 * by its owner in on_close, which libuv calls after the last callback. */
#ifndef PT_HTTP_SOCK_H
#define PT_HTTP_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "http/tls.h"

typedef struct pt_sock pt_sock;
typedef void (*pt_sock_read_fn)(pt_sock *s, const char *data, size_t n);
typedef void (*pt_sock_status_fn)(pt_sock *s, int status);
typedef void (*pt_sock_close_fn)(pt_sock *s);

struct pt_sock {
    uv_tcp_t tcp;
    void *data;
    pt_sock_read_fn on_read;     /* plaintext arrived */
    pt_sock_status_fn on_error;  /* PT_ECLOSED on EOF (reading stops, writing still works:
                                  * a half-close), other PT_E* on failure; owner closes */
    pt_sock_status_fn on_connect;/* client: connected (+ handshake) 0, or PT_E* */
    pt_sock_status_fn on_drain;  /* wq_bytes fell to low_mark or below after exceeding it */
    pt_sock_close_fn on_close;   /* handle closed; owner may free */
    size_t wq_bytes;
    pt_tls *tls;                 /* with tls_on, else NULL */
    uint32_t low_mark;
    bool tls_on;
    bool want_read;              /* owner wants plaintext */
    bool in_read;                /* delivering from a read callback */
    bool closing;
    bool errored;
    bool above_mark;
    bool eof;                    /* the peer ended its stream: nothing more to read */
    bool shut;                   /* pt_sock_shutdown was called */
    pt_sock_status_fn on_shutdown;
    pt_buf *capture;             /* tests and fuzzing: no socket, writes land here */
};

/* Prepares s on loop (uv_tcp_init). */
int pt_sock_init(pt_sock *s, uv_loop_t *loop);
/* Turns on TLS for an accepted stream (handshake runs on the first reads). */
int pt_sock_tls_server(pt_sock *s, SSL_CTX *ctx);
/* Connects to addr; with ctx, performs a TLS handshake for name before on_connect(0). */
int pt_sock_connect(pt_sock *s, const struct sockaddr *addr, SSL_CTX *ctx, const char *name, bool verify);
void pt_sock_read_start(pt_sock *s);
void pt_sock_read_stop(pt_sock *s);
/* Sends plaintext. Returns 0 or PT_E*; on error the owner is also told through on_error. */
int pt_sock_write(pt_sock *s, const uv_buf_t *bufs, unsigned nbufs);
/* Ends the write side (TLS: close_notify first) once everything queued is written;
 * reading goes on. done (may be NULL) runs with 0 or a PT_E* once the FIN is sent, or with
 * PT_ECANCELED when the socket is closed first. Returns 0, or PT_E* (done will not run). */
int pt_sock_shutdown(pt_sock *s, pt_sock_status_fn done);
void pt_sock_close(pt_sock *s);
/* "127.0.0.1:5555" of the peer into out. */
void pt_sock_peer(pt_sock *s, char *out, size_t cap);
/* Maps a libuv error to PT_E*. */
int pt_sock_uv_err(int uverr);

#endif
