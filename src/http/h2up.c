/* h2up.c: HTTP/2 towards upstreams with nghttp2 client sessions (see h2up.h).
 *
 * A session (one TCP or TLS connection) carries many exchanges, one per stream. Input goes
 * through nghttp2_session_mem_recv and output through nghttp2_session_mem_send into the
 * socket, never from inside an nghttp2 callback: what callbacks queue leaves after the
 * receive, or from a check handle once per loop iteration. Flow control both ways: a
 * request body waits in its exchange's buffer until the peer's windows let nghttp2 take
 * it (NGHTTP2_ERR_DEFERRED while empty); response bytes count against our window only
 * once handed to an unpaused caller. nghttp2 holds back streams above the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS; a new connection (up to MAX_SESSIONS per endpoint) is
 * opened only when the others are full.
 *
 * A stream the upstream did not process (above a GOAWAY's last stream id, refused with
 * REFUSED_STREAM, or whose HEADERS never left before the connection closed) is sent again
 * once on another connection, as long as every body byte is still held (up to REPLAY_MAX).
 * Timeouts follow the HTTP/1.1 path: connect per connection, first byte once the request
 * is sent, idle between bytes either way, the pool's idle timeout for a connection left
 * without streams; one timer per connection is armed for the earliest. */
#include "http/h2up.h"

#include <nghttp2/nghttp2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hdrcap.h"
#include "core/log.h"
#include "http/deadline.h"
#include "http/sock.h"

#define STREAM_WINDOW (1024 * 1024)     /* per-stream receive window */
#define CONN_WINDOW (16 * 1024 * 1024)  /* connection receive window */
#define SEND_HIGH (256 * 1024)          /* socket queue above which frames wait */
#define BODY_LOW (64 * 1024)            /* a request body queue below which the caller resumes */
#define REPLAY_MAX (64 * 1024)          /* body bytes kept so a refused stream can be resent */
#define WRITE_GATHER (64 * 1024)
#define MAX_SESSIONS 4                  /* connections per endpoint per worker */
#define INITIAL_STREAMS 100             /* assumed stream limit until the peer's SETTINGS */
#define RESP_FIELDS_MAX 200
#define RESP_HEAD_MAX (64 * 1024)

typedef enum { S_RESOLVING, S_CONNECTING, S_READY, S_GOAWAY, S_CLOSED } sstate;

typedef struct sess sess;

struct pt__h2up {
    uv_loop_t *loop;
    pt_h2up_stats *stats;
    sess *sessions;
    bool closing;
};

struct sess {
    pt_sock sock;
    pt__h2up *up;
    sess *prev, *next;
    char *host, *sni, *ca_file;   /* the endpoint: what makes two exchanges share it */
    uint16_t port;
    bool tls, insecure;
    _Atomic int *open_gauge;
    SSL_CTX *ssl_ctx;
    nghttp2_session *ng;
    sstate state;
    pt__h2x *streams;             /* attached: submitted, or waiting for the connection */
    unsigned nstreams;
    pt_deadline timer;
    uint64_t next_due;            /* the earliest deadline the timer is armed for, 0 none */
    uint64_t connect_due, idle_since, pool_idle_ms;
    uv_check_t flush;
    uv_getaddrinfo_t gai;
    pt_buf wbuf;
    bool hold, sending, flush_on, resolving, abandoned;
    char peer[64];
};

struct pt__h2x {
    pt__h2up *up;
    sess *s;
    pt__h2x *prev, *next;
    int32_t id;                   /* the stream, 0 while not submitted */
    pt_endpoint ep;               /* strings owned, for a resend elsewhere */
    pt_exchange_opts o;
    pt_exchange_cb cb;
    void *u;
    pt_buf head;                  /* the HTTP/1.1 head, the fields' storage once converted */
    nghttp2_nv *nv;
    size_t nnv;
    pt_buf out;                   /* request body; from 0 while replay_ok, else from out_off */
    size_t out_off;               /* bytes nghttp2 has taken */
    uint64_t last_ms;             /* last progress either way */
    bool replay_ok, body_end, deferred, headers_sent, end_sent, above_mark;
    bool got_head, paused, finished, canceled, retried, counted;
    int depth;                    /* callbacks on the stack: freed only at 0 */
    int status;
    size_t unconsumed;            /* response bytes held back from the window while paused */
    pt_buf rbuf, tbuf;            /* response head and trailer fields */
    pt_hdrcap rh, th;
    pt_header *hdrs, *trailers;
};

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;
static uv_once_t once = UV_ONCE_INIT;

static void sess_send(sess *s);
static void sess_send_soon(sess *s);
static void sess_fail(sess *s, int err, const char *detail);
static void sess_arm(sess *s, uint64_t due);
static void x_attach(pt__h2x *x);

static void count(pt__h2up *up, _Atomic uint64_t *field, int d)
{
    if (up->stats) atomic_fetch_add_explicit(field, (uint64_t)(int64_t)d, memory_order_relaxed);
}
#define STAT(up, f, d) ((up)->stats ? count((up), &(up)->stats->f, (d)) : (void)0)

static void gauge_add(_Atomic int *g, int d)
{
    if (g) atomic_fetch_add_explicit(g, d, memory_order_relaxed);
}

/* --- the request head, from HTTP/1.1 to HTTP/2 fields ------------------------------- */

static bool skipped_field(pt_slice name, pt_slice value)
{
    static const pt_slice hop[] = { PT_SLICE_LIT("host"), PT_SLICE_LIT("connection"), PT_SLICE_LIT("keep-alive"),
                                    PT_SLICE_LIT("proxy-connection"), PT_SLICE_LIT("transfer-encoding"),
                                    PT_SLICE_LIT("upgrade") };
    if (pt_slice_case_in(name, hop, sizeof hop / sizeof *hop)) return true;
    /* RFC 9113 §8.2.2: TE may only say "trailers" */
    return pt_slice_case_eq_cstr(name, "te") && !pt_slice_case_eq_cstr(pt_slice_trim(value), "trailers");
}

static void nv_set(nghttp2_nv *nv, const char *n, size_t nl, const char *v, size_t vl)
{
    *nv = (nghttp2_nv){ (uint8_t *)n, (uint8_t *)v, nl, vl, NGHTTP2_NV_FLAG_NONE };
}

/* Rewrites the head in buf (lower-casing names in place) into fields pointing into it:
 * :method, :scheme, :authority (from Host), :path, then the rest but hop-by-hop fields.
 * Returns the count, or -1 for a head that is not "METHOD SP target SP version CRLF
 * fields CRLF" with a Host field. */
static long head_to_nv(pt_buf *buf, bool tls, nghttp2_nv *nv, size_t cap)
{
    char *p = buf->data, *end = buf->data + buf->len;
    char *eol = p ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (!eol || cap < 4) return -1;
    char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == p || sp2 == sp1 + 1) return -1;
    size_t n = 4;
    nv_set(&nv[0], ":method", 7, p, (size_t)(sp1 - p));
    nv_set(&nv[1], ":scheme", 7, tls ? "https" : "http", tls ? 5 : 4);
    nv_set(&nv[3], ":path", 5, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    bool host = false;
    for (p = eol + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) return -1;
        size_t len = (size_t)(eol - p);
        if (len && p[len - 1] == '\r') len--;
        if (!len) break; /* the blank line */
        char *colon = memchr(p, ':', len);
        if (!colon || colon == p) return -1;
        for (char *c = p; c < colon; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
        pt_slice name = pt_slice_from(p, (size_t)(colon - p));
        pt_slice value = pt_slice_trim(pt_slice_from(colon + 1, len - (size_t)(colon - p) - 1));
        if (pt_slice_eq_cstr(name, "host")) {
            nv_set(&nv[2], ":authority", 10, value.ptr, value.len);
            host = true;
        }
        if (skipped_field(name, value)) continue;
        if (n == cap) return -1;
        nv_set(&nv[n++], name.ptr, name.len, value.ptr, value.len);
    }
    return host ? (long)n : -1;
}

static size_t count_lines(const pt_buf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++) n += b->data[i] == '\n';
    return n;
}

/* --- exchanges ------------------------------------------------------------------ */

static char *dupnull(const char *s) { return s ? strdup(s) : NULL; }

static void x_free(pt__h2x *x)
{
    free((char *)x->ep.host);
    free((char *)x->ep.sni);
    free((char *)x->ep.ca_file);
    pt_buf_release(&x->head);
    pt_buf_release(&x->out);
    pt_buf_release(&x->rbuf);
    pt_buf_release(&x->tbuf);
    pt_hdrcap_release(&x->rh);
    pt_hdrcap_release(&x->th);
    free(x->nv);
    free(x->hdrs);
    free(x->trailers);
    free(x);
}

static void x_maybe_free(pt__h2x *x)
{
    if (x->depth == 0 && (x->finished || x->canceled)) x_free(x);
}

/* Takes x off its session (and its stream, which is reset when still open). */
static void x_detach(pt__h2x *x, bool reset)
{
    sess *s = x->s;
    if (!s) return;
    if (x->id && s->ng) {
        nghttp2_session_set_stream_user_data(s->ng, x->id, NULL);
        if (reset && s->state != S_CLOSED) {
            nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, x->id, NGHTTP2_CANCEL);
            sess_send_soon(s);
        }
    }
    if (x->counted) STAT(x->up, streams_open, -1);
    x->counted = false;
    x->id = 0;
    if (x->prev) x->prev->next = x->next;
    else s->streams = x->next;
    if (x->next) x->next->prev = x->prev;
    x->prev = x->next = NULL;
    x->s = NULL;
    if (--s->nstreams == 0) {
        s->idle_since = pt_now_ms();
        sess_arm(s, s->idle_since + s->pool_idle_ms);
    }
}

static void x_fail(pt__h2x *x, int err, int phase, const char *detail)
{
    if (x->finished || x->canceled) return;
    x->finished = true;
    x_detach(x, true);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", detail ? detail : pt_strerror(err));
    x->depth++;
    x->cb.on_error(x->u, err, phase, phase == 0 ? &x->out : NULL, buf);
    x->depth--;
    x_maybe_free(x);
}

static int x_phase(const pt__h2x *x) { return x->got_head ? 2 : x->headers_sent ? 1 : 0; }

static void x_done(pt__h2x *x)
{
    if (x->finished || x->canceled) return;
    x->finished = true;
    x_detach(x, !x->end_sent); /* a request still sending is told to stop */
    x->depth++;
    x->cb.on_done(x->u);
    x->depth--;
    x_maybe_free(x);
}

/* Sends x again on another connection: the upstream never processed it. */
static bool x_resend(pt__h2x *x, const char *why)
{
    if (x->retried || !x->replay_ok || x->got_head || x->up->closing) return false;
    pt_log_debug("upstream %s:%u %s; sending the request again on another connection", x->ep.host, x->ep.port, why);
    x->retried = true;
    x_detach(x, false);
    x->out_off = 0;
    x->headers_sent = x->end_sent = x->deferred = false;
    STAT(x->up, retried, 1);
    x_attach(x);
    return true;
}

static uint64_t x_due(const pt__h2x *x)
{
    if (x->finished || x->canceled || (x->got_head && x->paused)) return 0;
    if (!x->got_head && x->end_sent) return x->last_ms + x->o.first_byte_timeout_ms;
    return x->last_ms + x->o.idle_timeout_ms;
}

static void x_progress(pt__h2x *x)
{
    x->last_ms = pt_now_ms();
    if (x->s) sess_arm(x->s, x_due(x));
}

/* --- nghttp2 callbacks -------------------------------------------------------------- */

static pt__h2x *stream_x(sess *s, int32_t id) { return id ? nghttp2_session_get_stream_user_data(s->ng, id) : NULL; }

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    pt__h2x *x = stream_x(ud, id);
    if (!x) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* abandoned: the stream is reset */
    size_t avail = x->out.len - x->out_off;
    if (!avail && !x->body_end) {
        x->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = avail < len ? avail : len;
    if (n) memcpy(buf, x->out.data + x->out_off, n);
    x->out_off += n;
    if (x->out_off == x->out.len && x->body_end) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        x->end_sent = true;
    }
    if (!x->replay_ok && x->out_off == x->out.len) {
        pt_buf_reset(&x->out);
        x->out_off = 0;
    } else if (!x->replay_ok && x->out_off > BODY_LOW && x->out_off * 2 > x->out.len) {
        memmove(x->out.data, x->out.data + x->out_off, x->out.len - x->out_off);
        x->out.len -= x->out_off;
        x->out_off = 0;
    }
    x_progress(x);
    return (ssize_t)n;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    pt__h2x *x = stream_x(ud, f->hd.stream_id);
    if (!x || f->hd.type != NGHTTP2_HEADERS) return 0;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
        int st = 0;
        for (size_t i = 0; i < vlen && i < 3; i++) st = st * 10 + (value[i] - '0');
        x->status = st;
        return 0;
    }
    if (nlen && name[0] == ':') return 0;
    pt_hdrcap *h = x->got_head ? &x->th : &x->rh;
    pt_buf *b = x->got_head ? &x->tbuf : &x->rbuf;
    int rc = pt_hdrcap_name(h, b, (const char *)name, nlen, RESP_FIELDS_MAX);
    if (rc == 0) rc = pt_hdrcap_value(h, b, (const char *)value, vlen);
    return rc ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0; /* over the caps: the stream is reset */
}

static pt_header *fields_of(const pt_hdrcap *h, const pt_buf *b)
{
    pt_header *hs = malloc((h->n ? h->n : 1) * sizeof *hs);
    if (!hs) return NULL;
    for (unsigned i = 0; i < h->n; i++) {
        hs[i].name = pt_hdrcap_name_at(h, b, i);
        hs[i].value = pt_hdrcap_value_at(h, b, i);
    }
    return hs;
}

static int64_t content_length(const pt_header *hs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!pt_slice_case_eq_cstr(hs[i].name, "content-length")) continue;
        unsigned long long v;
        return pt_slice_to_u64(pt_slice_trim(hs[i].value), &v) ? (int64_t)v : -1;
    }
    return -1;
}

/* The response head is complete; end: the stream ended with it (trailers-only). */
static void head_received(pt__h2x *x, bool end)
{
    if (x->status >= 100 && x->status < 200) { /* interim: absorbed, as over HTTP/1.1 */
        pt_hdrcap_reset(&x->rh);
        pt_buf_reset(&x->rbuf);
        x->status = 0;
        return;
    }
    x->got_head = true;
    x->hdrs = fields_of(&x->rh, &x->rbuf);
    if (!x->hdrs || x->status < 200) {
        x_fail(x, x->hdrs ? PT_EPARSE : PT_ENOMEM, 2, x->hdrs ? "response without a valid :status" : NULL);
        return;
    }
    /* a HEAD answer's length is the resource's, never its (empty) body's */
    int64_t cl = end && !x->o.head_request ? 0 : content_length(x->hdrs, x->rh.n);
    x_progress(x);
    x->depth++;
    x->cb.on_head(x->u, x->status, x->hdrs, x->rh.n, cl);
    x->depth--;
    if (end) x_done(x);
    else x_maybe_free(x);
}

static void trailers_received(pt__h2x *x)
{
    x->trailers = fields_of(&x->th, &x->tbuf);
    if (!x->trailers) {
        x_fail(x, PT_ENOMEM, 2, NULL);
        return;
    }
    if (x->cb.on_trailers) {
        x->depth++;
        x->cb.on_trailers(x->u, x->trailers, x->th.n);
        x->depth--;
    }
    x_done(x);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    sess *s = ud;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        STAT(s->up, goaways, 1);
        if (s->state == S_READY) s->state = S_GOAWAY; /* no new streams here */
        return 0;
    }
    pt__h2x *x = stream_x(s, f->hd.stream_id);
    if (!x) return 0;
    bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS) {
        if (!x->got_head) head_received(x, end);
        else if (end) trailers_received(x);
    } else if (f->hd.type == NGHTTP2_DATA && end) {
        x_done(x);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    nghttp2_session_consume_connection(ng, len);
    pt__h2x *x = stream_x(ud, id);
    if (!x || !x->got_head) return 0;
    if (x->paused) x->unconsumed += len;
    else nghttp2_session_consume_stream(ng, id, len);
    x_progress(x);
    x->depth++;
    x->cb.on_body(x->u, (const char *)data, len);
    x->depth--;
    x_maybe_free(x);
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    pt__h2x *x = stream_x(ud, f->hd.stream_id);
    if (!x || f->hd.type != NGHTTP2_HEADERS) return 0;
    x->headers_sent = true;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) x->end_sent = true;
    x_progress(x);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    pt__h2x *x = stream_x(ud, id);
    if (!x) return 0;
    if (code == NGHTTP2_REFUSED_STREAM && x_resend(x, "refused a stream unprocessed")) return 0;
    char d[160];
    snprintf(d, sizeof d, "the upstream reset the stream (%s)", nghttp2_http2_strerror(code));
    x_fail(x, PT_ECONNRESET, x_phase(x) ? x_phase(x) : 1, d);
    return 0;
}

static void setup_once(void)
{
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_option_new(&options);
    nghttp2_option_set_no_auto_window_update(options, 1);
    nghttp2_option_set_peer_max_concurrent_streams(options, INITIAL_STREAMS);
    nghttp2_option_set_max_settings(options, 32);
    nghttp2_option_set_max_outbound_ack(options, 100);
}

/* --- sessions ------------------------------------------------------------------------ */

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static bool sess_matches(const sess *s, const pt_endpoint *ep)
{
    return s->port == ep->port && s->tls == ep->tls && s->insecure == ep->insecure_skip_verify &&
           strcmp(s->host, ep->host) == 0 && str_eq(s->sni, ep->sni) && str_eq(s->ca_file, ep->ca_file);
}

/* How many streams s may still open (the peer's limit once known). */
static bool sess_has_room(const sess *s)
{
    if (s->state != S_READY && s->state != S_CONNECTING && s->state != S_RESOLVING) return false;
    uint32_t max = s->ng ? nghttp2_session_get_remote_settings(s->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                         : INITIAL_STREAMS;
    return s->nstreams < max;
}

static void on_timer(uv_timer_t *t);
static void on_flush(uv_check_t *k);
static void on_sock_read(pt_sock *sk, const char *data, size_t n);
static void on_sock_error(pt_sock *sk, int err);
static void on_sock_drain(pt_sock *sk, int status);
static void on_sock_closed(pt_sock *sk);
static void on_connected(pt_sock *sk, int status);
static void sess_connect(sess *s);

static sess *sess_new(pt__h2up *up, const pt__h2x *x)
{
    sess *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    const pt_endpoint *ep = &x->ep;
    s->host = strdup(ep->host);
    s->sni = dupnull(ep->sni);
    s->ca_file = dupnull(ep->ca_file);
    if (!s->host || pt_sock_init(&s->sock, up->loop) != 0) {
        free(s->host), free(s->sni), free(s->ca_file), free(s);
        return NULL;
    }
    s->up = up;
    s->port = ep->port;
    s->tls = ep->tls;
    s->insecure = ep->insecure_skip_verify;
    s->open_gauge = ep->open_gauge;
    s->pool_idle_ms = x->o.pool_idle_ms ? x->o.pool_idle_ms : 60000;
    s->sock.data = s;
    s->sock.on_read = on_sock_read;
    s->sock.on_error = on_sock_error;
    s->sock.on_drain = on_sock_drain;
    s->sock.on_close = on_sock_closed;
    s->sock.on_connect = on_connected;
    pt_deadline_init(&s->timer, up->loop, on_timer, s);
    uv_check_init(up->loop, &s->flush);
    s->flush.data = s;
    s->next = up->sessions;
    if (up->sessions) up->sessions->prev = s;
    up->sessions = s;
    s->state = S_CONNECTING;
    s->connect_due = pt_now_ms() + x->o.connect_timeout_ms;
    sess_arm(s, s->connect_due);
    gauge_add(s->open_gauge, 1);
    STAT(up, sessions, 1);
    STAT(up, sessions_open, 1);
    return s;
}

/* A session for x's endpoint with room for one more stream: an open one, a new one while
 * there are fewer than MAX_SESSIONS, else the first (nghttp2 queues above the limit). */
static sess *sess_for(pt__h2up *up, const pt__h2x *x, bool *fresh)
{
    sess *any = NULL;
    unsigned n = 0;
    for (sess *s = up->sessions; s; s = s->next) {
        if (!sess_matches(s, &x->ep) || s->state == S_GOAWAY || s->state == S_CLOSED) continue;
        if (sess_has_room(s)) return s;
        if (!any) any = s;
        n++;
    }
    if (any && n >= MAX_SESSIONS) return any;
    *fresh = true;
    return sess_new(up, x);
}

static void submit(sess *s, pt__h2x *x)
{
    nghttp2_data_provider prd = { .source.ptr = NULL, .read_callback = read_body };
    bool body = x->o.has_body;
    int32_t id = nghttp2_submit_request(s->ng, NULL, x->nv, x->nnv, body ? &prd : NULL, x);
    if (id < 0) {
        if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
            s->state = S_GOAWAY; /* this connection's ids are used up: the next takes over */
            if (x_resend(x, "ran out of stream ids")) return;
        }
        x_fail(x, PT_EIO, 0, nghttp2_strerror(id));
        return;
    }
    x->id = id;
    x->counted = true;
    STAT(x->up, streams, 1);
    STAT(x->up, streams_open, 1);
    x_progress(x);
    sess_send_soon(s);
}

/* Attaches x to a session of its endpoint: sent now when it is ready, else once connected. */
static void x_attach(pt__h2x *x)
{
    bool fresh = false;
    sess *s = sess_for(x->up, x, &fresh);
    if (!s) {
        x_fail(x, PT_ENOMEM, 0, NULL);
        return;
    }
    x->s = s;
    x->next = s->streams;
    if (s->streams) s->streams->prev = x;
    s->streams = x;
    s->nstreams++;
    x->last_ms = pt_now_ms();
    if (fresh) sess_connect(s);
    else if (s->state == S_READY) submit(s, x);
}

static void sess_arm(sess *s, uint64_t due)
{
    if (!due || s->state == S_CLOSED) return;
    if (s->next_due && s->next_due <= due) return;
    s->next_due = due;
    uint64_t now = pt_now_ms();
    pt_deadline_set(&s->timer, due > now ? due - now : 1);
}

/* Fails the streams past their deadlines; closes an idle connection; re-arms for the rest. */
static void on_timer(uv_timer_t *t)
{
    sess *s = t->data;
    if (!pt_deadline_expired(&s->timer)) return;
    s->next_due = 0;
    uint64_t now = pt_now_ms();
    if ((s->state == S_CONNECTING || s->state == S_RESOLVING) && now >= s->connect_due) {
        sess_fail(s, PT_ETIMEDOUT, "connect timeout");
        return;
    }
    if (!s->nstreams && s->state != S_CONNECTING && s->state != S_RESOLVING) {
        if (now >= s->idle_since + s->pool_idle_ms) {
            sess_fail(s, PT_ECANCELED, "idle");
            return;
        }
        sess_arm(s, s->idle_since + s->pool_idle_ms);
        return;
    }
    pt__h2x *next;
    s->hold = true;
    for (pt__h2x *x = s->streams; x; x = next) {
        next = x->next;
        uint64_t due = x->id ? x_due(x) : 0;
        if (!due || due > now) continue;
        const char *what = !x->got_head && x->end_sent ? "no response head before the first-byte timeout"
                                                        : "upstream idle timeout";
        x_fail(x, PT_ETIMEDOUT, x_phase(x), what);
    }
    s->hold = false;
    for (pt__h2x *x = s->streams; x; x = x->next) sess_arm(s, x->id ? x_due(x) : 0);
    if (s->state == S_CONNECTING || s->state == S_RESOLVING) sess_arm(s, s->connect_due);
    if (!s->nstreams) sess_arm(s, s->idle_since + s->pool_idle_ms);
    sess_send(s);
}

/* The connection is gone: streams that never left go to another connection (or fail with
 * phase 0, before a connection was made), the rest fail; then it closes. */
static void sess_fail(sess *s, int err, const char *detail)
{
    if (s->state == S_CLOSED) return;
    bool connected = s->ng != NULL;
    s->state = S_CLOSED;
    pt_deadline_stop(&s->timer);
    char d[256];
    snprintf(d, sizeof d, "%s", detail ? detail : pt_strerror(err));
    while (s->streams) {
        pt__h2x *x = s->streams;
        if (connected && !x->headers_sent && x_resend(x, "closed the connection before the request left")) continue;
        x_fail(x, err, x_phase(x), d);
    }
    if (s->prev) s->prev->next = s->next;
    else s->up->sessions = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    STAT(s->up, sessions_open, -1);
    gauge_add(s->open_gauge, -1);
    if (s->resolving) {
        s->abandoned = true; /* on_resolved closes the socket */
        return;
    }
    pt_sock_close(&s->sock);
}

static void on_flush_closed(uv_handle_t *h)
{
    sess *s = h->data;
    if (s->ng) nghttp2_session_del(s->ng);
    if (s->ssl_ctx) SSL_CTX_free(s->ssl_ctx);
    pt_buf_release(&s->wbuf);
    free(s->host);
    free(s->sni);
    free(s->ca_file);
    free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    sess *s = h->data;
    uv_close((uv_handle_t *)&s->flush, on_flush_closed);
}

static void on_sock_closed(pt_sock *sk)
{
    sess *s = sk->data;
    s->timer.timer.data = s;
    uv_close((uv_handle_t *)&s->timer.timer, on_timer_closed);
}

/* --- I/O ----------------------------------------------------------------------------------- */

static int write_wbuf(sess *s)
{
    if (!s->wbuf.len) return 0;
    uv_buf_t b = uv_buf_init(s->wbuf.data, (unsigned)s->wbuf.len);
    int rc = pt_sock_write(&s->sock, &b, 1);
    pt_buf_reset(&s->wbuf);
    return rc;
}

static int pump(sess *s)
{
    int rc = 0;
    while (rc == 0 && s->sock.wq_bytes < SEND_HIGH && s->state != S_CLOSED) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(s->ng, &p);
        if (n < 0) return PT_EIO;
        if (n == 0) break;
        if (pt_buf_append(&s->wbuf, p, (size_t)n)) return PT_ENOMEM;
        if (s->wbuf.len >= WRITE_GATHER) rc = write_wbuf(s);
    }
    if (rc == 0 && s->state != S_CLOSED) rc = write_wbuf(s);
    if (s->wbuf.alloc > 4 * WRITE_GATHER) pt_buf_release(&s->wbuf);
    return rc;
}

/* Streams whose body queue fell below the low mark are told (the caller resumes reading
 * its client). */
static void notify_drained(sess *s)
{
    pt__h2x *next;
    for (pt__h2x *x = s->streams; x; x = next) {
        next = x->next;
        if (!x->above_mark || x->out.len - x->out_off > BODY_LOW || !x->cb.on_drain) continue;
        x->above_mark = false;
        x->depth++;
        x->cb.on_drain(x->u);
        x->depth--;
        x_maybe_free(x);
    }
}

static void sess_send(sess *s)
{
    if (s->hold || s->sending || !s->ng || s->state == S_CLOSED) return;
    s->sending = true;
    int rc = pump(s);
    s->sending = false;
    if (rc) {
        sess_fail(s, rc, "cannot write to the upstream");
        return;
    }
    notify_drained(s);
    if (s->state == S_CLOSED) return;
    if (!nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng))
        sess_fail(s, PT_ECLOSED, "the upstream ended the HTTP/2 session");
    else if (s->state == S_GOAWAY && !s->nstreams)
        sess_fail(s, PT_ECLOSED, "the upstream sent GOAWAY");
}

static void on_flush(uv_check_t *k)
{
    sess *s = k->data;
    uv_check_stop(k);
    s->flush_on = false;
    sess_send(s);
}

static void sess_send_soon(sess *s)
{
    if (s->flush_on || s->state == S_CLOSED) return;
    s->flush_on = true;
    uv_check_start(&s->flush, on_flush);
}

static void on_sock_read(pt_sock *sk, const char *data, size_t n)
{
    sess *s = sk->data;
    if (!s->ng || s->state == S_CLOSED) return;
    s->hold = true;
    ssize_t rc = nghttp2_session_mem_recv(s->ng, (const uint8_t *)data, n);
    s->hold = false;
    if (rc < 0) {
        char d[160];
        snprintf(d, sizeof d, "malformed HTTP/2 from the upstream: %s", nghttp2_strerror((int)rc));
        sess_fail(s, PT_EPARSE, d);
        return;
    }
    sess_send(s);
}

static void on_sock_error(pt_sock *sk, int err)
{
    sess *s = sk->data;
    sess_fail(s, err, err == PT_ECLOSED ? "the upstream closed the connection" : NULL);
}

static void on_sock_drain(pt_sock *sk, int status)
{
    sess_send(sk->data);
}

/* The connection is up (TLS included): HTTP/2 must have been chosen, then the session's
 * SETTINGS go out with every stream that waited. */
static void on_connected(pt_sock *sk, int status)
{
    sess *s = sk->data;
    if (s->state == S_CLOSED) return;
    char detail[256];
    if (status) {
        if (status == PT_ETLS) pt_tls_describe_error(s->sock.tls, detail, sizeof detail);
        else snprintf(detail, sizeof detail, "connect to %s:%u failed: %s", s->host, s->port, pt_strerror(status));
        sess_fail(s, status, detail);
        return;
    }
    if (s->tls) {
        char alpn[32];
        pt_tls_alpn(s->sock.tls, alpn, sizeof alpn);
        if (strcmp(alpn, "h2") != 0) {
            snprintf(detail, sizeof detail, "%s:%u did not agree to HTTP/2 by ALPN (it chose '%s')", s->host, s->port,
                     alpn);
            sess_fail(s, PT_EPARSE, detail);
            return;
        }
    }
    pt_sock_peer(&s->sock, s->peer, sizeof s->peer);
    uv_tcp_nodelay(&s->sock.tcp, 1);
    if (nghttp2_session_client_new2(&s->ng, callbacks, s, options) != 0) {
        s->ng = NULL;
        sess_fail(s, PT_ENOMEM, NULL);
        return;
    }
    nghttp2_settings_entry iv[] = {
        { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
        { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, RESP_HEAD_MAX },
    };
    nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof *iv);
    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    s->state = S_READY;
    s->idle_since = pt_now_ms();
    pt_sock_read_start(&s->sock);
    s->hold = true; /* a stream failing to submit must not send under the loop below */
    pt__h2x *next;
    for (pt__h2x *x = s->streams; x; x = next) {
        next = x->next;
        if (!x->id) submit(s, x);
    }
    s->hold = false;
    if (!s->nstreams) sess_arm(s, s->idle_since + s->pool_idle_ms);
    sess_send(s);
}

static void start_connect(sess *s, const struct sockaddr *sa)
{
    if (s->tls && !s->ssl_ctx) {
        pt_buf err = PT_BUF_INIT;
        s->ssl_ctx = pt_tls_client_ctx_new(s->ca_file, s->insecure, &err);
        if (s->ssl_ctx) pt_tls_client_alpn_h2(s->ssl_ctx);
        char d[256];
        snprintf(d, sizeof d, "%s", err.data ? err.data : "TLS client context could not be created");
        pt_buf_release(&err);
        if (!s->ssl_ctx) {
            sess_fail(s, PT_ETLS, d);
            return;
        }
    }
    int rc = pt_sock_connect(&s->sock, sa, s->ssl_ctx, s->sni ? s->sni : s->host, !s->insecure);
    if (rc) sess_fail(s, rc, "cannot start connecting");
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sess *s = req->data;
    s->resolving = false;
    if (s->abandoned) {
        if (res) uv_freeaddrinfo(res);
        pt_sock_close(&s->sock);
        return;
    }
    if (status < 0 || !res) {
        char d[200];
        snprintf(d, sizeof d, "cannot resolve %s: %s", s->host, uv_strerror(status));
        if (res) uv_freeaddrinfo(res);
        sess_fail(s, PT_ENOTFOUND, d);
        return;
    }
    s->state = S_CONNECTING;
    start_connect(s, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void sess_connect(sess *s)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(s->host, s->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(s->host, s->port, (struct sockaddr_in6 *)&ss) == 0) {
        start_connect(s, (struct sockaddr *)&ss);
        return;
    }
    s->state = S_RESOLVING;
    s->resolving = true;
    s->gai.data = s;
    char port[8];
    snprintf(port, sizeof port, "%u", s->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    if (uv_getaddrinfo(s->up->loop, &s->gai, on_resolved, s->host, port, &hints) != 0) {
        s->resolving = false;
        sess_fail(s, PT_ENOTFOUND, "cannot start resolving the upstream name");
    }
}

/* --- the API --------------------------------------------------------------------------- */

pt__h2up *pt__h2up_new(uv_loop_t *loop, pt_h2up_stats *stats)
{
    uv_once(&once, setup_once);
    pt__h2up *up = calloc(1, sizeof *up);
    if (!up) return NULL;
    up->loop = loop;
    up->stats = stats;
    return up;
}

void pt__h2up_free(pt__h2up *up)
{
    if (!up) return;
    up->closing = true;
    while (up->sessions) sess_fail(up->sessions, PT_ECANCELED, "gateway shutting down");
    free(up);
}

pt__h2x *pt__h2x_new(pt__h2up *up, const pt_endpoint *ep, const pt_exchange_opts *o, const char *head,
                     size_t head_len, const pt_exchange_cb *cb, void *u)
{
    pt__h2x *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->up = up;
    x->ep = *ep;
    x->ep.host = strdup(ep->host);
    x->ep.sni = dupnull(ep->sni);
    x->ep.ca_file = dupnull(ep->ca_file);
    x->o = *o;
    x->o.body = NULL;
    x->cb = *cb;
    x->u = u;
    x->replay_ok = true;
    x->body_end = o->body_complete || !o->has_body;
    pt_buf_init(&x->rbuf, RESP_HEAD_MAX);
    pt_buf_init(&x->tbuf, RESP_HEAD_MAX);
    size_t cap = 0;
    bool ok = x->ep.host && pt_buf_append(&x->head, head, head_len) == 0 &&
              (!o->body_len || pt_buf_append(&x->out, o->body, o->body_len) == 0);
    if (ok) {
        cap = count_lines(&x->head) + 4;
        x->nv = malloc(cap * sizeof *x->nv);
        ok = x->nv != NULL;
    }
    if (!ok) {
        x_free(x);
        return NULL;
    }
    if (x->out.len > REPLAY_MAX) x->replay_ok = false;
    long n = head_to_nv(&x->head, ep->tls, x->nv, cap);
    x->nnv = n < 0 ? 0 : (size_t)n;
    return x;
}

void pt__h2x_go(pt__h2x *x)
{
    if (x->up->closing) {
        x_fail(x, PT_ECANCELED, 0, "gateway shutting down");
        return;
    }
    if (!x->nnv) {
        x_fail(x, PT_EINVAL, 0, "the request head could not be turned into HTTP/2 fields");
        return;
    }
    x_attach(x);
}

size_t pt__h2x_body(pt__h2x *x, const char *data, size_t n)
{
    if (x->finished || x->canceled) return 0;
    if (x->out.len + n > REPLAY_MAX) x->replay_ok = false;
    if (pt_buf_append(&x->out, data, n)) {
        x_fail(x, PT_ENOMEM, x_phase(x), NULL);
        return 0;
    }
    size_t q = x->out.len - x->out_off;
    if (q > BODY_LOW) x->above_mark = true;
    if (x->s && x->id) {
        if (x->deferred) {
            x->deferred = false;
            nghttp2_session_resume_data(x->s->ng, x->id);
        }
        x_progress(x);
        sess_send_soon(x->s);
        q += x->s->sock.wq_bytes;
    }
    return q;
}

void pt__h2x_body_end(pt__h2x *x)
{
    if (x->finished || x->canceled || x->body_end) return;
    x->body_end = true;
    if (!x->s || !x->id) return;
    if (x->deferred) {
        x->deferred = false;
        nghttp2_session_resume_data(x->s->ng, x->id);
    }
    sess_send_soon(x->s);
}

void pt__h2x_pause(pt__h2x *x) { x->paused = true; }

void pt__h2x_resume(pt__h2x *x)
{
    if (!x->paused) return;
    x->paused = false;
    if (!x->s || !x->id) return;
    if (x->unconsumed) {
        nghttp2_session_consume_stream(x->s->ng, x->id, x->unconsumed);
        x->unconsumed = 0;
        sess_send_soon(x->s); /* the WINDOW_UPDATE */
    }
    x_progress(x);
}

void pt__h2x_cancel(pt__h2x *x)
{
    if (x->canceled) return;
    x->canceled = true;
    if (!x->finished) x_detach(x, true);
    x_maybe_free(x);
}

const char *pt__h2x_peer(const pt__h2x *x) { return x->s ? x->s->peer : ""; }
