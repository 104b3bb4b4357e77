/* sock.c: TCP + optional TLS filter with try-write-first writes (see sock.h). */
#include "http/sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define READ_BUF_SIZE 65536
#define TLS_PLAIN_SIZE 16384

static _Thread_local char read_buf[READ_BUF_SIZE];
static _Thread_local char plain_buf[TLS_PLAIN_SIZE];

typedef struct write_block {
    uv_write_t req;
    pt_sock *s;
    size_t len;
    char data[];
} write_block;

int pt_sock_uv_err(int e)
{
    switch (e) {
    case 0: return 0;
    case UV_EOF: return PT_ECLOSED;
    case UV_ECONNREFUSED: return PT_ECONNREFUSED;
    case UV_ETIMEDOUT: return PT_ETIMEDOUT;
    case UV_ECONNRESET: case UV_EPIPE: return PT_ECONNRESET;
    case UV_ECANCELED: return PT_ECANCELED;
    case UV_ENOMEM: return PT_ENOMEM;
    default: return PT_EIO;
    }
}

/* EOF stops reading only: the other direction may still carry bytes (a half-close, as a
 * tunnel relays it); any other error ends the stream both ways. */
static void fail(pt_sock *s, int err)
{
    if (s->errored || s->closing || (err == PT_ECLOSED && s->eof)) return;
    if (err == PT_ECLOSED) s->eof = true;
    else s->errored = true;
    s->want_read = false;
    uv_read_stop((uv_stream_t *)&s->tcp);
    if (s->on_error) s->on_error(s, err);
}

int pt_sock_init(pt_sock *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof *s);
    s->low_mark = 64 * 1024;
    int rc = uv_tcp_init(loop, &s->tcp);
    if (rc) return pt_sock_uv_err(rc);
    s->tcp.data = s;
    return 0;
}

static void on_write_done(uv_write_t *req, int status)
{
    write_block *b = req->data;
    pt_sock *s = b->s;
    s->wq_bytes -= b->len;
    free(b);
    if (status < 0) {
        fail(s, pt_sock_uv_err(status));
        return;
    }
    if (s->above_mark && s->wq_bytes <= s->low_mark && !s->closing) {
        s->above_mark = false;
        if (s->on_drain) s->on_drain(s, 0);
    }
}

/* Writes raw bytes to the socket: as much as the kernel takes now, the rest queued. */
static int raw_write(pt_sock *s, const uv_buf_t *bufs, unsigned nbufs)
{
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++) total += bufs[i].len;
    if (total == 0) return 0;
    size_t done = 0;
    if (s->wq_bytes == 0) {
        /* A hard error here is not reported now: the queued write below fails too and
         * its callback reports it from the loop, so an owner is never torn down inside
         * its own call to write. */
        int w = uv_try_write((uv_stream_t *)&s->tcp, bufs, nbufs);
        if (w >= 0) done = (size_t)w;
        if (done == total) return 0;
    }
    write_block *b = malloc(sizeof *b + (total - done));
    if (!b) return PT_ENOMEM;
    b->s = s;
    b->len = total - done;
    b->req.data = b;
    size_t skip = done, off = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t n = bufs[i].len;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        memcpy(b->data + off, bufs[i].base + skip, n - skip);
        off += n - skip;
        skip = 0;
    }
    uv_buf_t one = uv_buf_init(b->data, (unsigned)b->len);
    int rc = uv_write(&b->req, (uv_stream_t *)&s->tcp, &one, 1, on_write_done);
    if (rc) {
        free(b);
        return pt_sock_uv_err(rc);
    }
    s->wq_bytes += b->len;
    if (s->wq_bytes > s->low_mark) s->above_mark = true;
    return 0;
}

/* Sends whatever ciphertext OpenSSL has produced. */
static int tls_flush(pt_sock *s)
{
    size_t n = pt_tls_pending_out(s->tls);
    while (n) {
        char tmp[16384];
        size_t got = pt_tls_take_out(s->tls, tmp, sizeof tmp);
        if (!got) break;
        uv_buf_t b = uv_buf_init(tmp, (unsigned)got);
        int rc = raw_write(s, &b, 1);
        if (rc) return rc;
        n = pt_tls_pending_out(s->tls);
    }
    return 0;
}

int pt_sock_write(pt_sock *s, const uv_buf_t *bufs, unsigned nbufs)
{
    if (s->closing || s->errored) return PT_ECLOSED;
    int rc;
    if (s->capture) {
        for (unsigned i = 0; i < nbufs; i++) pt_buf_append(s->capture, bufs[i].base, bufs[i].len);
        return 0;
    }
    if (!s->tls_on) {
        rc = raw_write(s, bufs, nbufs);
    } else {
        rc = 0;
        for (unsigned i = 0; i < nbufs && rc == 0; i++)
            if (bufs[i].len) rc = pt_tls_write(s->tls, bufs[i].base, bufs[i].len);
        if (rc == 0) rc = tls_flush(s);
    }
    return rc;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    buf->base = read_buf;
    buf->len = sizeof read_buf;
}

/* Delivers decrypted bytes while the owner wants them. */
static void tls_deliver(pt_sock *s)
{
    while (s->want_read && !s->closing && !s->errored) {
        int r = pt_tls_read(s->tls, plain_buf, sizeof plain_buf);
        if (r > 0) {
            s->on_read(s, plain_buf, (size_t)r);
            continue;
        }
        if (tls_flush(s) != 0) {
            fail(s, PT_EIO);
            return;
        }
        if (r < 0) fail(s, r);
        return;
    }
}

static void on_tls_bytes(pt_sock *s, const char *data, size_t n)
{
    if (pt_tls_feed(s->tls, data, n) != 0) {
        fail(s, PT_ETLS);
        return;
    }
    if (!s->tls->handshake_done) {
        int h = pt_tls_handshake(s->tls);
        if (tls_flush(s) != 0) {
            fail(s, PT_EIO);
            return;
        }
        if (h < 0) {
            if (s->on_connect) {
                pt_sock_status_fn cb = s->on_connect;
                s->on_connect = NULL;
                cb(s, PT_ETLS);
            } else {
                fail(s, PT_ETLS);
            }
            return;
        }
        if (h == 0) return;
        if (s->on_connect) {
            pt_sock_status_fn cb = s->on_connect;
            s->on_connect = NULL;
            cb(s, 0);
            if (s->closing || s->errored) return;
        }
    }
    tls_deliver(s);
}

static void on_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    pt_sock *s = st->data;
    if (nread == 0) return;
    if (nread < 0) {
        if (s->on_connect) { /* EOF during the TLS handshake of a client connection */
            pt_sock_status_fn cb = s->on_connect;
            s->on_connect = NULL;
            cb(s, nread == UV_EOF ? PT_ETLS : pt_sock_uv_err((int)nread));
            return;
        }
        fail(s, pt_sock_uv_err((int)nread));
        return;
    }
    s->in_read = true;
    if (s->tls_on)
        on_tls_bytes(s, buf->base, (size_t)nread);
    else
        s->on_read(s, buf->base, (size_t)nread);
    s->in_read = false;
}

void pt_sock_read_start(pt_sock *s)
{
    if (s->closing || s->errored || s->eof || s->capture) return;
    bool was = s->want_read;
    s->want_read = true;
    uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, on_read_cb);
    /* Plaintext OpenSSL already decrypted while we were paused is not in the kernel any
     * more: hand it over now, unless we are inside the read callback that will. */
    if (!was && s->tls_on && s->tls->handshake_done && !s->in_read &&
        (SSL_pending(s->tls->ssl) > 0 || BIO_ctrl_pending(s->tls->rbio) > 0))
        tls_deliver(s);
}

void pt_sock_read_stop(pt_sock *s)
{
    s->want_read = false;
    if (s->capture) return;
    if (!s->tls_on || s->tls->handshake_done) uv_read_stop((uv_stream_t *)&s->tcp);
}

/* A plain socket carries no TLS state: it is allocated when TLS is turned on. */
static int tls_begin(pt_sock *s)
{
    s->tls = calloc(1, sizeof *s->tls);
    return s->tls ? 0 : PT_ENOMEM;
}

static void tls_end(pt_sock *s)
{
    if (s->tls) pt_tls_release(s->tls);
    free(s->tls);
    s->tls = NULL;
    s->tls_on = false;
}

int pt_sock_tls_server(pt_sock *s, SSL_CTX *ctx)
{
    int rc = tls_begin(s);
    if (rc == 0) rc = pt_tls_init_server(s->tls, ctx);
    if (rc == 0) s->tls_on = true;
    else tls_end(s);
    return rc;
}

/* The connect and shutdown requests are allocated for their call only: most sockets are
 * accepted ones, which never connect and shut down once, and an idle connection should not
 * carry their room (bench/idle.sh). libuv always runs their callbacks (UV_ECANCELED when
 * the handle closes first), which free them. */
static void on_connected(uv_connect_t *req, int status)
{
    pt_sock *s = req->data;
    free(req);
    if (s->closing) return;
    if (status < 0) {
        pt_sock_status_fn cb = s->on_connect;
        s->on_connect = NULL;
        if (cb) cb(s, pt_sock_uv_err(status));
        return;
    }
    if (!s->tls_on) {
        pt_sock_status_fn cb = s->on_connect;
        s->on_connect = NULL;
        if (cb) cb(s, 0);
        return;
    }
    /* TLS: send the ClientHello and read until the handshake completes. */
    uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, on_read_cb);
    int h = pt_tls_handshake(s->tls);
    if (h < 0 || tls_flush(s) != 0) {
        pt_sock_status_fn cb = s->on_connect;
        s->on_connect = NULL;
        if (cb) cb(s, PT_ETLS);
    }
}

int pt_sock_connect(pt_sock *s, const struct sockaddr *addr, SSL_CTX *ctx, const char *name, bool verify)
{
    if (ctx) {
        int rc = tls_begin(s);
        if (rc == 0) rc = pt_tls_init_client(s->tls, ctx, name, verify);
        if (rc) {
            tls_end(s);
            return rc;
        }
        s->tls_on = true;
    }
    uv_connect_t *req = malloc(sizeof *req);
    if (!req) return PT_ENOMEM;
    req->data = s;
    int rc = uv_tcp_connect(req, &s->tcp, addr, on_connected);
    if (rc) free(req);
    return rc ? pt_sock_uv_err(rc) : 0;
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
    pt_sock *s = req->data;
    free(req);
    pt_sock_status_fn cb = s->on_shutdown;
    s->on_shutdown = NULL;
    if (cb) cb(s, pt_sock_uv_err(status));
}

int pt_sock_shutdown(pt_sock *s, pt_sock_status_fn done)
{
    if (s->closing || s->errored || s->shut || s->capture) return PT_ECLOSED;
    s->shut = true;
    if (s->tls_on) { /* close_notify goes out ahead of the FIN */
        SSL_shutdown(s->tls->ssl);
        tls_flush(s);
    }
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req) return PT_ENOMEM;
    req->data = s;
    s->on_shutdown = done;
    int rc = uv_shutdown(req, (uv_stream_t *)&s->tcp, on_shutdown_done);
    if (rc) {
        free(req);
        s->on_shutdown = NULL;
        return pt_sock_uv_err(rc);
    }
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    pt_sock *s = h->data;
    tls_end(s);
    if (s->on_close) s->on_close(s);
}

void pt_sock_close(pt_sock *s)
{
    if (s->closing) return;
    s->closing = true;
    s->want_read = false;
    if (!uv_is_closing((uv_handle_t *)&s->tcp)) uv_close((uv_handle_t *)&s->tcp, on_closed);
}

void pt_sock_peer(pt_sock *s, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    out[0] = '\0';
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) != 0) return;
    char ip[64] = "";
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}
