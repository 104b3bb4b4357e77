/* client.c: upstream connections, keep-alive pools and exchanges (see client.h).
 *
 * A pool is keyed by everything that makes two connections interchangeable (host,
 * port, TLS settings). An idle pooled connection keeps reading so that an upstream
 * close removes it at once. A request sent on a reused connection that dies before
 * any response byte is replayed once on a fresh connection when the method is
 * idempotent and every byte sent is still held (up to REPLAY_MAX): that is the
 * keep-alive race every proxy must absorb. A POST is not replayed: the upstream may
 * have acted on it before closing.
 *
 * Interim (1xx) responses are absorbed: 100 Continue because the gateway answers the
 * client's Expect itself and never forwards it, 103 Early Hints and the rest because
 * they are optional hints (as nginx does). A 101 Switching Protocols ends the exchange
 * as a bad response unless the request asked to upgrade; then the connection turns raw
 * (a tunnel: pt_exchange_opts.upgrade) and never returns to its pool.
 *
 * Starting an exchange never calls back inside pt_exchange_start: a failure there (or
 * a drain notice) is queued and delivered from the loop's next turn by one idle handle
 * per client, so callers can rely on their state being what they set up. */
#include "http/client.h"
#include "http/deadline.h"
#include "http/h2up.h"

#include <arpa/inet.h>
#include <llhttp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hdrcap.h"
#include "core/log.h"
#include "core/recycle.h"
#include "http/server.h"
#include "http/sock.h"

#define REPLAY_MAX (64 * 1024)
#define RESP_HEAD_MAX (64 * 1024)
#define MAX_RESP_HEADERS 200
#define FEW_HEADERS 16 /* response headers an exchange holds without an allocation */

typedef struct pool pool;
typedef struct upconn upconn;

struct pool {
    pool *next;
    char *host, *sni, *ca_file;
    uint16_t port;
    bool tls, insecure;
    SSL_CTX *ssl_ctx;
    upconn *idle;          /* LIFO */
    unsigned nidle;
    _Atomic int *open_gauge, *idle_gauge;
    pt_client *cl;
};

struct pt_client {
    uv_loop_t *loop;
    pool *pools;
    upconn *all;           /* every open connection, for shutdown */
    uv_idle_t *notify;     /* runs while `due` is not empty (own allocation: closed apart) */
    pt_exchange *due;      /* exchanges with a notice held back from pt_exchange_start */
    pt__h2up *h2;          /* HTTP/2 upstream sessions, made on first use */
    pt_h2up_stats *h2_stats;
    bool closing;
};

typedef enum { UC_RESOLVING, UC_CONNECTING, UC_IDLE, UC_BUSY, UC_CLOSING } uc_state;

struct upconn {
    pt_sock sock;
    pool *pool;
    upconn *next_idle;
    upconn *prev_all, *next_all;
    uc_state state;
    pt_deadline timer;
    uv_getaddrinfo_t gai;
    llhttp_t parser;
    pt_exchange *x;
    bool reused;           /* served an exchange before */
    bool abandoned;        /* closed while resolving */
    bool raw;              /* a tunnel: bytes are not parsed as HTTP any more */
    uint64_t pool_idle_ms;
    char peer[64];
};

struct pt_exchange {
    pt_client *cl;
    pt__h2x *h2;           /* an HTTP/2 upstream carries it (h2up.c); the fields below that
                            * describe a connection are then unused */
    pool *pool;
    upconn *c;
    pt_exchange_opts o;
    pt_exchange_cb cb;
    void *u;
    pt_buf head;           /* request head, kept until sent */
    pt_buf pending;        /* raw body bytes not yet written */
    const char *lent_head; /* while starting, a request that is never replayed: the caller's */
    size_t lent_head_len;  /* head and (o.body) body bytes, copied only when not written then */
    pt_buf replay;         /* every byte written, for the keep-alive race; cleared once past REPLAY_MAX */
    bool replay_ok;
    bool body_end, body_end_written, head_written;
    int phase;
    bool got_head, finished, canceled, paused;
    bool tunnel;           /* the upstream answered 101 to an upgrade request */
    int depth;             /* callback nesting: free only at depth 0 */
    /* response */
    pt_buf rhead;
    pt_hdrcap hdrs;        /* where each response header sits in rhead */
    pt_header *headers;    /* few_headers, or a heap array for more */
    int status;
    bool retried, replaying;
    const char *reject;    /* why the response was refused (a static string), else NULL */
    /* notices held back while pt_exchange_start runs, delivered from the loop */
    bool starting, queued, due_drain, due_error;
    int due_err, due_phase;
    pt_exchange *next_due;
    /* Not zeroed when the object is reused (X_ZEROED): each is written before it is read. */
    char due_detail[256];
    pt_header few_headers[FEW_HEADERS];
};
#define X_ZEROED offsetof(pt_exchange, due_detail)

static llhttp_settings_t resp_settings;
static void uc_close(upconn *c);
static void x_fail(pt_exchange *x, int err, const char *detail);
static void x_attach(pt_exchange *x, upconn *c);
static void uc_connect(pt_exchange *x, bool fresh_only);

/* --- pools --------------------------------------------------------------- */

static void on_notify(uv_idle_t *h);
static void due_run(pt_client *cl);

pt_client *pt_client_new(uv_loop_t *loop)
{
    pt_client *cl = calloc(1, sizeof *cl);
    if (!cl) return NULL;
    cl->loop = loop;
    cl->notify = malloc(sizeof *cl->notify);
    if (!cl->notify) {
        free(cl);
        return NULL;
    }
    uv_idle_init(loop, cl->notify);
    cl->notify->data = cl;
    return cl;
}

static void on_notify_closed(uv_handle_t *h) { free(h); }

void pt_client_set_h2_stats(pt_client *cl, pt_h2up_stats *stats) { cl->h2_stats = stats; }

void pt_client_free(pt_client *cl)
{
    if (!cl) return;
    due_run(cl); /* what start held back is delivered before anything else is canceled */
    cl->closing = true;
    upconn *next;
    for (upconn *c = cl->all; c; c = next) {
        next = c->next_all;
        if (c->x) x_fail(c->x, PT_ECANCELED, "gateway shutting down");
        else uc_close(c);
    }
    pt__h2up_free(cl->h2);
    cl->h2 = NULL;
    due_run(cl); /* exchanges the callbacks above started on the closing client */
    uv_close((uv_handle_t *)cl->notify, on_notify_closed);
    pool *pn;
    for (pool *p = cl->pools; p; p = pn) {
        pn = p->next;
        if (p->ssl_ctx) SSL_CTX_free(p->ssl_ctx);
        free(p->host);
        free(p->sni);
        free(p->ca_file);
        free(p);
    }
    cl->pools = NULL;
    /* connections still closing point at their (freed) pool only through fields that
     * on_uc_closed no longer reads once cl->closing is set */
    free(cl);
}

static char *dupnull(const char *s) { return s ? strdup(s) : NULL; }

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* Two endpoints share a pool when every setting that shapes a connection matches. */
static bool pool_matches(const pool *p, const pt_endpoint *ep)
{
    return p->port == ep->port && p->tls == ep->tls && p->insecure == ep->insecure_skip_verify &&
           strcmp(p->host, ep->host) == 0 && str_eq(p->sni, ep->sni) && str_eq(p->ca_file, ep->ca_file);
}

static pool *pool_get(pt_client *cl, const pt_endpoint *ep)
{
    for (pool *p = cl->pools; p; p = p->next)
        if (pool_matches(p, ep)) return p;
    pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->host = strdup(ep->host);
    p->sni = dupnull(ep->sni);
    p->ca_file = dupnull(ep->ca_file);
    p->port = ep->port;
    p->tls = ep->tls;
    p->insecure = ep->insecure_skip_verify;
    p->open_gauge = ep->open_gauge;
    p->idle_gauge = ep->idle_gauge;
    p->cl = cl;
    if (p->tls) {
        pt_buf err = PT_BUF_INIT;
        p->ssl_ctx = pt_tls_client_ctx_new(p->ca_file, p->insecure, &err);
        if (!p->ssl_ctx) pt_log_error("upstream %s:%u: %s", p->host, p->port, err.data ? err.data : "TLS setup failed");
        pt_buf_release(&err);
    }
    p->next = cl->pools;
    cl->pools = p;
    return p;
}

static void gauge_add(_Atomic int *g, int d)
{
    if (g) atomic_fetch_add_explicit(g, d, memory_order_relaxed);
}

static upconn *pool_take(pool *p)
{
    upconn *c = p->idle;
    if (!c) return NULL;
    p->idle = c->next_idle;
    c->next_idle = NULL;
    p->nidle--;
    gauge_add(p->idle_gauge, -1);
    return c;
}

static void pool_unlink(upconn *c)
{
    if (c->state != UC_IDLE) return;
    pool *p = c->pool;
    for (upconn **pp = &p->idle; *pp; pp = &(*pp)->next_idle) {
        if (*pp == c) {
            *pp = c->next_idle;
            p->nidle--;
            gauge_add(p->idle_gauge, -1);
            break;
        }
    }
    c->next_idle = NULL;
}

/* --- connections ------------------------------------------------------------- */

static void on_uc_timer_closed(uv_handle_t *h)
{
    upconn *c = h->data;
    free(c);
}

static void on_uc_sock_closed(pt_sock *s)
{
    upconn *c = s->data;
    uv_close((uv_handle_t *)&c->timer.timer, on_uc_timer_closed);
}

static void uc_close(upconn *c)
{
    if (c->state == UC_CLOSING) return;
    pool_unlink(c);
    bool resolving = c->state == UC_RESOLVING;
    c->state = UC_CLOSING;
    c->x = NULL;
    pt_client *cl = c->pool->cl;
    if (c->prev_all) c->prev_all->next_all = c->next_all;
    else cl->all = c->next_all;
    if (c->next_all) c->next_all->prev_all = c->prev_all;
    c->prev_all = c->next_all = NULL;
    pt_deadline_stop(&c->timer);
    if (resolving) { /* the resolver still holds c: on_resolved closes it */
        c->abandoned = true;
        return;
    }
    gauge_add(c->pool->open_gauge, -1);
    pt_sock_close(&c->sock);
}

static void on_uc_timer(uv_timer_t *t)
{
    upconn *c = t->data;
    if (!pt_deadline_expired(&c->timer)) return;
    if (c->state == UC_IDLE) { /* pool idle timeout */
        uc_close(c);
        return;
    }
    pt_exchange *x = c->x;
    if (!x) {
        uc_close(c);
        return;
    }
    const char *what = c->state == UC_CONNECTING ? "connect timeout"
                       : !x->got_head            ? "no response head before the first-byte timeout"
                                                 : "upstream idle timeout";
    x_fail(x, PT_ETIMEDOUT, what);
}

static void uc_timer(upconn *c, uint64_t ms) { pt_deadline_set(&c->timer, ms); }

/* --- exchange lifecycle --------------------------------------------------------- */

/* Every upstream request takes an exchange: a worker keeps up to EXCHANGES_KEPT freed ones
 * for the next, which saves a calloc and a free of a chunk glibc does not cache per thread
 * (and the headers of most answers fit in the exchange: no allocation for them either). */
#define EXCHANGES_KEPT 64
static PT_RECYCLER(exchanges);

static void x_free(pt_exchange *x)
{
    pt_buf_release(&x->head);
    pt_buf_release(&x->pending);
    pt_buf_release(&x->replay);
    pt_buf_release(&x->rhead);
    pt_hdrcap_release(&x->hdrs);
    if (x->headers != x->few_headers) free(x->headers);
    pt_recycle_put(&exchanges, x, EXCHANGES_KEPT);
}

/* Frees x unless a callback of ours is still on the stack (then the outermost frame does)
 * or a notice for it waits in the client's queue (then the delivery does). */
static void x_maybe_free(pt_exchange *x)
{
    if (x->depth == 0 && !x->queued && (x->finished || x->canceled)) x_free(x);
}

/* --- notices held back from pt_exchange_start ------------------------------------- */

static void due_push(pt_exchange *x)
{
    if (x->queued) return;
    pt_client *cl = x->cl;
    x->queued = true;
    x->next_due = cl->due;
    cl->due = x;
    uv_idle_start(cl->notify, on_notify);
}

static void x_deliver(pt_exchange *x)
{
    x->queued = false;
    x->depth++;
    if (x->due_drain && !x->finished && !x->canceled && x->cb.on_drain) x->cb.on_drain(x->u);
    x->due_drain = false;
    if (x->due_error && !x->canceled) {
        x->due_error = false;
        x->cb.on_error(x->u, x->due_err, x->due_phase, x->due_phase == 0 ? &x->pending : NULL, x->due_detail);
    }
    x->depth--;
    x_maybe_free(x);
}

/* Delivers every queued notice; ones queued meanwhile (a callback starting another
 * exchange) wait for the next turn, except when the client is being freed. */
static void due_run(pt_client *cl)
{
    do {
        pt_exchange *list = cl->due;
        cl->due = NULL;
        /* oldest first: the list was pushed at its head */
        pt_exchange *rev = NULL;
        while (list) {
            pt_exchange *n = list->next_due;
            list->next_due = rev;
            rev = list;
            list = n;
        }
        while (rev) {
            pt_exchange *n = rev->next_due;
            x_deliver(rev);
            rev = n;
        }
    } while (cl->due && cl->closing);
    if (!cl->due) uv_idle_stop(cl->notify);
}

static void on_notify(uv_idle_t *h) { due_run(h->data); }

static void x_detach(pt_exchange *x, bool reuse)
{
    upconn *c = x->c;
    x->c = NULL;
    if (!c) return;
    c->x = NULL;
    if (!reuse || c->pool->cl->closing || c->pool->nidle >= x->o.pool_max_idle) {
        uc_close(c);
        return;
    }
    c->state = UC_IDLE;
    c->reused = true;
    c->pool_idle_ms = x->o.pool_idle_ms;
    c->next_idle = c->pool->idle;
    c->pool->idle = c;
    c->pool->nidle++;
    gauge_add(c->pool->idle_gauge, 1);
    uc_timer(c, c->pool_idle_ms);
    pt_sock_read_start(&c->sock); /* notice an upstream close while idle */
}

static void x_fail(pt_exchange *x, int err, const char *detail)
{
    if (x->finished || x->canceled) return;
    upconn *c = x->c;
    /* The keep-alive race: a reused connection died before answering. */
    if (c && c->reused && x->o.idempotent && !x->got_head && !x->retried && x->replay_ok && x->phase >= 1 &&
        (err == PT_ECLOSED || err == PT_ECONNRESET)) {
        x->retried = true;
        x->c = NULL;
        c->x = NULL;
        uc_close(c);
        pt_log_debug("upstream %s closed a kept-alive connection; replaying on a new one", c->peer);
        uc_connect(x, true);
        return;
    }
    x->finished = true;
    x_detach(x, false);
    int phase = x->got_head ? 2 : x->phase;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", detail ? detail : pt_strerror(err));
    if (x->starting) { /* never inside pt_exchange_start: from the loop's next turn */
        x->due_error = true;
        x->due_err = err;
        x->due_phase = phase;
        memcpy(x->due_detail, buf, sizeof buf);
        due_push(x);
        return;
    }
    x->depth++;
    x->cb.on_error(x->u, err, phase, phase == 0 ? &x->pending : NULL, buf);
    x->depth--;
    x_maybe_free(x);
}

static void x_done(pt_exchange *x, bool reuse)
{
    if (x->finished || x->canceled) return;
    x->finished = true;
    x_detach(x, reuse);
    x->depth++;
    x->cb.on_done(x->u);
    x->depth--;
    x_maybe_free(x);
}

/* --- writing ------------------------------------------------------------------ */

/* Keeps a copy of the body bytes sent on a reused connection (the head is kept anyway),
 * so that the keep-alive race can be absorbed by a replay; only an idempotent request is
 * ever replayed (x_fail), so no other keeps one. */
static void remember(pt_exchange *x, const uv_buf_t *b, unsigned n)
{
    if (!x->o.idempotent || !x->replay_ok || !x->c || !x->c->reused) return;
    for (unsigned i = 0; i < n; i++) {
        if (x->replay.len + b[i].len > REPLAY_MAX) {
            x->replay_ok = false;
            pt_buf_release(&x->replay);
            return;
        }
        pt_buf_append(&x->replay, b[i].base, b[i].len);
    }
}

/* Writes bufs; the first `head` of them are the request head (not copied for replay). */
static int x_write_h(pt_exchange *x, const uv_buf_t *b, unsigned n, unsigned head)
{
    remember(x, b + head, n - head);
    x->phase = 1;
    return pt_sock_write(&x->c->sock, b, n);
}

static int x_write(pt_exchange *x, const uv_buf_t *b, unsigned n) { return x_write_h(x, b, n, 0); }

static void x_write_body(pt_exchange *x, const char *data, size_t n)
{
    if (n == 0) return;
    if (!x->o.chunked_body || x->tunnel) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
        x_write(x, &b, 1);
        return;
    }
    char sz[24];
    int sl = pt_http_chunk_size(sz, n);
    uv_buf_t b[3] = { uv_buf_init(sz, (unsigned)sl), uv_buf_init((char *)data, (unsigned)n), uv_buf_init("\r\n", 2) };
    x_write(x, b, 3);
}

static void x_write_end(pt_exchange *x)
{
    if (!x->body_end_written) {
        x->body_end_written = true;
        if (x->o.chunked_body) {
            uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
            x_write(x, &b, 1);
        }
    }
    if (x->c && !x->got_head && !x->finished) uc_timer(x->c, x->o.first_byte_timeout_ms);
}

/* Sends the head, the body bytes at hand and the end of the body (when known) in one
 * write. A failed write may move x to another connection (replay) or end it, so the
 * caller checks x still owns c afterwards. */
static void x_flush(pt_exchange *x)
{
    upconn *c = x->c;
    uv_buf_t b[5];
    unsigned n = 0, head = 0;
    char sz[24];
    if (!x->head_written) {
        x->head_written = true;
        b[n++] = x->lent_head ? uv_buf_init((char *)x->lent_head, (unsigned)x->lent_head_len)
                              : uv_buf_init(x->head.data, (unsigned)x->head.len);
        head = 1;
    }
    pt_buf body = x->pending;
    pt_buf_init(&x->pending, 0);
    const char *bytes = body.data;
    size_t nbytes = body.len;
    if (x->o.body) { /* lent while starting (nothing is pending then) */
        bytes = x->o.body;
        nbytes = x->o.body_len;
        x->o.body = NULL;
    }
    if (nbytes) {
        if (x->o.chunked_body) {
            int sl = pt_http_chunk_size(sz, nbytes);
            b[n++] = uv_buf_init(sz, (unsigned)sl);
            b[n++] = uv_buf_init((char *)bytes, (unsigned)nbytes);
            b[n++] = uv_buf_init("\r\n", 2);
        } else {
            b[n++] = uv_buf_init((char *)bytes, (unsigned)nbytes);
        }
    }
    if ((x->body_end || !x->o.has_body) && !x->body_end_written) {
        x->body_end_written = true;
        if (x->o.chunked_body) b[n++] = uv_buf_init("0\r\n\r\n", 5);
    }
    if (n) x_write_h(x, b, n, head);
    pt_buf_release(&body);
    if (x->c != c || x->finished) return;
    if (x->body_end_written) {
        if (!x->got_head) uc_timer(c, x->o.first_byte_timeout_ms);
    } else {
        uc_timer(c, x->o.idle_timeout_ms);
    }
}

size_t pt_exchange_body(pt_exchange *x, const char *data, size_t n)
{
    if (x->canceled) return 0;
    if (x->finished) {
        /* A failure at start waits for the loop: the bytes join the unsent body that
         * on_error hands back, so a retry elsewhere still has all of them. */
        if (!x->due_error || x->due_phase != 0) return 0;
        pt_buf_append(&x->pending, data, n);
        return x->pending.len;
    }
    if (x->h2) {
        x->depth++;
        size_t q = pt__h2x_body(x->h2, data, n);
        x->depth--;
        x_maybe_free(x);
        return q;
    }
    if (!x->c || x->c->state != UC_BUSY) {
        pt_buf_append(&x->pending, data, n);
        return x->pending.len;
    }
    x->depth++;
    x_write_body(x, data, n);
    if (x->c && !x->body_end && !x->finished && !x->tunnel) uc_timer(x->c, x->o.idle_timeout_ms);
    size_t q = x->c && !x->finished ? x->c->sock.wq_bytes : 0;
    x->depth--;
    x_maybe_free(x);
    return q;
}

void pt_exchange_body_end(pt_exchange *x)
{
    if (x->finished || x->canceled) return;
    if (x->h2) {
        pt__h2x_body_end(x->h2);
        return;
    }
    if (x->tunnel) { /* the client ended its side: the upstream gets a FIN, reading goes on */
        if (x->c) pt_sock_shutdown(&x->c->sock, NULL);
        return;
    }
    x->body_end = true;
    if (x->c && x->c->state == UC_BUSY) {
        x->depth++;
        x_write_end(x);
        x->depth--;
        x_maybe_free(x);
    }
}

/* --- response parsing ----------------------------------------------------------- */

static int r_message_begin(llhttp_t *p)
{
    pt_exchange *x = ((upconn *)p->data)->x;
    if (!x) return HPE_USER;
    pt_buf_reset(&x->rhead);
    pt_hdrcap_reset(&x->hdrs);
    return 0;
}

static int r_header_field(llhttp_t *p, const char *at, size_t n)
{
    pt_exchange *x = ((upconn *)p->data)->x;
    if (!x) return HPE_USER;
    if (x->got_head) return 0; /* trailers */
    return pt_hdrcap_name(&x->hdrs, &x->rhead, at, n, MAX_RESP_HEADERS) ? HPE_USER : 0;
}

static int r_header_value(llhttp_t *p, const char *at, size_t n)
{
    pt_exchange *x = ((upconn *)p->data)->x;
    if (!x) return HPE_USER;
    if (x->got_head) return 0;
    return pt_hdrcap_value(&x->hdrs, &x->rhead, at, n) ? HPE_USER : 0;
}

static int r_headers_complete(llhttp_t *p)
{
    upconn *c = p->data;
    pt_exchange *x = c->x;
    if (!x) return HPE_USER;
    int status = p->status_code;
    if (status == 101 && !x->o.upgrade) { /* a switch nobody asked for would strand the client */
        x->reject = "upstream answered 101 Switching Protocols to a request that did not ask to upgrade";
        return HPE_USER;
    }
    x->tunnel = status == 101;
    if (x->tunnel) { /* nothing of a tunnel is replayed */
        x->replay_ok = false;
        pt_buf_release(&x->replay);
    }
    if (status >= 100 && status < 200 && !x->tunnel) return 0; /* interim (100, 102, 103, ...): absorbed */
    x->got_head = true;
    x->phase = 2;
    x->status = status;
    x->headers = x->hdrs.n <= FEW_HEADERS ? x->few_headers : malloc(x->hdrs.n * sizeof *x->headers);
    if (!x->headers) return HPE_USER;
    for (unsigned i = 0; i < x->hdrs.n; i++) {
        x->headers[i].name = pt_hdrcap_name_at(&x->hdrs, &x->rhead, i);
        x->headers[i].value = pt_hdrcap_value_at(&x->hdrs, &x->rhead, i);
    }
    int64_t cl = (p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED) ? (int64_t)p->content_length : -1;
    if (x->o.head_request || status == 204 || status == 304) cl = (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : cl;
    /* the idle timer takes over from first-byte when this read has been handled (on_uc_read) */
    x->depth++;
    x->cb.on_head(x->u, status, x->headers, x->hdrs.n, cl);
    x->depth--;
    if (x->canceled || x->finished) return HPE_USER;
    return x->o.head_request ? 1 : 0;
}

static int r_body(llhttp_t *p, const char *at, size_t n)
{
    pt_exchange *x = ((upconn *)p->data)->x;
    if (!x) return HPE_USER;
    x->depth++;
    x->cb.on_body(x->u, at, n);
    x->depth--;
    if (x->canceled || x->finished) return HPE_USER;
    return 0;
}

static int r_message_complete(llhttp_t *p)
{
    pt_exchange *x = ((upconn *)p->data)->x;
    if (!x) return HPE_USER;
    if (!x->got_head) return 0; /* end of an interim response */
    return HPE_PAUSED;
}

static void resp_settings_init(void)
{
    static bool done;
    if (done) return;
    llhttp_settings_init(&resp_settings);
    resp_settings.on_message_begin = r_message_begin;
    resp_settings.on_header_field = r_header_field;
    resp_settings.on_header_value = r_header_value;
    resp_settings.on_headers_complete = r_headers_complete;
    resp_settings.on_body = r_body;
    resp_settings.on_message_complete = r_message_complete;
    done = true;
}

/* A tunnel's bytes from the upstream, as they are. */
static void tunnel_read(pt_exchange *x, const char *data, size_t n)
{
    x->depth++;
    if (n) x->cb.on_body(x->u, data, n);
    if (!x->canceled && !x->finished && x->cb.on_flush) x->cb.on_flush(x->u);
    x->depth--;
    x_maybe_free(x);
}

static void on_uc_read(pt_sock *s, const char *data, size_t n)
{
    upconn *c = s->data;
    if (c->state == UC_IDLE) { /* bytes nobody asked for: the connection is not reusable */
        uc_close(c);
        return;
    }
    pt_exchange *x = c->x;
    if (!x) return;
    if (c->raw) {
        tunnel_read(x, data, n);
        return;
    }
    x->depth++;
    llhttp_errno_t e = llhttp_execute(&c->parser, data, n);
    x->depth--;
    if (x->canceled || x->finished) {
        x_maybe_free(x);
        return;
    }
    if (e == HPE_PAUSED && x->tunnel) { /* the 101 head is read: the rest is the tunnel's */
        const char *pos = llhttp_get_error_pos(&c->parser);
        c->raw = true;
        uc_timer(c, 0);
        size_t used = pos && pos >= data && pos <= data + n ? (size_t)(pos - data) : n;
        tunnel_read(x, data + used, n - used);
        return;
    }
    if (e == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        bool extra = pos && pos < data + n;
        bool reuse = !extra && x->body_end_written && llhttp_should_keep_alive(&c->parser);
        x_done(x, reuse);
        return;
    }
    if (e != HPE_OK) {
        char d[160];
        snprintf(d, sizeof d, "malformed response from upstream: %s",
                 llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser) : llhttp_errno_name(e));
        x_fail(x, PT_EPARSE, x->reject ? x->reject : d);
        return;
    }
    if (x->got_head && !x->paused) uc_timer(c, x->o.idle_timeout_ms);
    if (x->cb.on_flush) {
        x->depth++;
        x->cb.on_flush(x->u);
        x->depth--;
        x_maybe_free(x);
    }
}

static void on_uc_error(pt_sock *s, int err)
{
    upconn *c = s->data;
    pt_exchange *x = c->x;
    if (!x) {
        uc_close(c);
        return;
    }
    if (err == PT_ECLOSED && c->raw) { /* the upstream ended the tunnel */
        x_done(x, false);
        return;
    }
    if (err == PT_ECLOSED && x->got_head) {
        /* EOF ends a close-delimited body; anywhere else the message is cut short */
        x->depth++;
        llhttp_errno_t e = llhttp_finish(&c->parser);
        x->depth--;
        if (x->canceled || x->finished) {
            x_maybe_free(x);
            return;
        }
        if (e == HPE_OK || e == HPE_PAUSED) {
            x_done(x, false);
            return;
        }
        x_fail(x, PT_ECLOSED, "upstream closed the connection before the response was complete");
        return;
    }
    x_fail(x, err, err == PT_ECLOSED ? "upstream closed the connection without answering" : NULL);
}

static void on_uc_drain(pt_sock *s, int status)
{
    upconn *c = s->data;
    pt_exchange *x = c->x;
    if (!x) return;
    if (!x->got_head && !x->body_end_written) uc_timer(c, x->o.idle_timeout_ms); /* the upload moves */
    if (!x->cb.on_drain) return;
    x->depth++;
    x->cb.on_drain(x->u);
    x->depth--;
    x_maybe_free(x);
}

static void x_attach(pt_exchange *x, upconn *c)
{
    x->c = c;
    c->x = x;
    c->state = UC_BUSY;
    llhttp_init(&c->parser, HTTP_RESPONSE, &resp_settings);
    c->parser.data = c;
    x->got_head = false;
    /* A replay resends head and body from one block; the body's end went with it if it
     * had been written. */
    bool end_in_replay = x->replaying && x->body_end_written;
    x->replaying = false;
    x->body_end_written = end_in_replay;
    pt_buf_reset(&x->replay);
    x->replay_ok = true;
    x->head_written = false;
    x->phase = 0;
    pt_sock_read_start(&c->sock);
    /* On a replay, the bytes already consumed from the body live in the replay copy. */
    x_flush(x);
    /* Body bytes that piled up while connecting may have paused the client; if the
     * kernel took them at once there will be no drain event, so say so now. */
    if (x->c == c && !x->finished && !x->canceled && c->sock.wq_bytes <= c->sock.low_mark && x->cb.on_drain) {
        if (x->starting) {
            x->due_drain = true;
            due_push(x);
            return;
        }
        x->depth++;
        x->cb.on_drain(x->u);
        x->depth--;
    }
}

static void on_uc_connected(pt_sock *s, int status)
{
    upconn *c = s->data;
    pt_exchange *x = c->x;
    if (!x) {
        uc_close(c);
        return;
    }
    if (status != 0) {
        char detail[256];
        if (status == PT_ETLS) pt_tls_describe_error(c->sock.tls, detail, sizeof detail);
        else snprintf(detail, sizeof detail, "connect to %s:%u failed: %s", c->pool->host, c->pool->port, pt_strerror(status));
        x_fail(x, status, detail);
        return;
    }
    pt_sock_peer(&c->sock, c->peer, sizeof c->peer);
    uv_tcp_nodelay(&c->sock.tcp, 1);
    x->depth++;
    x_attach(x, c);
    x->depth--;
    x_maybe_free(x);
}

static void uc_start_connect(upconn *c, const struct sockaddr *sa)
{
    pool *p = c->pool;
    c->state = UC_CONNECTING;
    gauge_add(p->open_gauge, 1);
    const char *name = p->sni ? p->sni : p->host;
    int rc = pt_sock_connect(&c->sock, sa, p->tls ? p->ssl_ctx : NULL, name, !p->insecure);
    if (rc && c->x) x_fail(c->x, rc, "cannot start connecting");
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    upconn *c = req->data;
    if (c->abandoned) {
        if (res) uv_freeaddrinfo(res);
        pt_sock_close(&c->sock);
        return;
    }
    c->state = UC_CONNECTING; /* the resolver is done with c: closing it is now plain */
    if (status < 0 || !res) {
        char d[200];
        snprintf(d, sizeof d, "cannot resolve %s: %s", c->pool->host, uv_strerror(status));
        if (res) uv_freeaddrinfo(res);
        x_fail(c->x, PT_ENOTFOUND, d);
        return;
    }
    uc_start_connect(c, res->ai_addr);
    uv_freeaddrinfo(res);
}

/* Opens a new connection for x (fresh_only: never from the pool). */
static void uc_connect(pt_exchange *x, bool fresh_only)
{
    pool *p = x->pool;
    if (!fresh_only) {
        upconn *idle = pool_take(p);
        if (idle) {
            uc_timer(idle, 0);
            x_attach(x, idle);
            return;
        }
    }
    if (p->tls && !p->ssl_ctx) {
        x_fail(x, PT_ETLS, "TLS client context could not be created (see earlier error)");
        return;
    }
    upconn *c = calloc(1, sizeof *c);
    if (!c || pt_sock_init(&c->sock, x->cl->loop) != 0) {
        free(c);
        x_fail(x, PT_ENOMEM, NULL);
        return;
    }
    c->pool = p;
    c->sock.data = c;
    c->sock.on_read = on_uc_read;
    c->sock.on_error = on_uc_error;
    c->sock.on_drain = on_uc_drain;
    c->sock.on_close = on_uc_sock_closed;
    c->sock.on_connect = on_uc_connected;
    pt_deadline_init(&c->timer, x->cl->loop, on_uc_timer, c);
    c->next_all = x->cl->all;
    if (x->cl->all) x->cl->all->prev_all = c;
    x->cl->all = c;
    c->x = x;
    x->c = c;
    /* on a replay the head and body are resent from the replay copy */
    if (x->retried) {
        /* one block: the head, then the body bytes already sent (as they were framed) */
        pt_buf_append(&x->head, x->replay.data ? x->replay.data : "", x->replay.len);
        pt_buf_release(&x->replay);
        x->head_written = false;
        x->replaying = true;
    }
    uc_timer(c, x->o.connect_timeout_ms);
    struct sockaddr_storage ss;
    if (uv_ip4_addr(p->host, p->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(p->host, p->port, (struct sockaddr_in6 *)&ss) == 0) {
        uc_start_connect(c, (struct sockaddr *)&ss);
        return;
    }
    c->state = UC_RESOLVING;
    c->gai.data = c;
    char port[8];
    snprintf(port, sizeof port, "%u", p->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    int rc = uv_getaddrinfo(x->cl->loop, &c->gai, on_resolved, p->host, port, &hints);
    if (rc) {
        c->state = UC_CONNECTING;
        x_fail(x, PT_ENOTFOUND, "cannot start resolving the upstream name");
    }
}

/* --- exchanges on HTTP/2 upstreams (h2up.c) ------------------------------------------
 * The exchange stays the caller's handle; h2up.c calls back through these, which keep
 * the same rules as above: nothing inside pt_exchange_start, freed at depth 0. */

static void h2_on_head(void *u, int status, const pt_header *hdrs, size_t n, int64_t cl)
{
    pt_exchange *x = u;
    x->got_head = true;
    x->phase = 2;
    x->depth++;
    x->cb.on_head(x->u, status, hdrs, n, cl);
    x->depth--;
}

static void h2_on_body(void *u, const char *data, size_t n)
{
    pt_exchange *x = u;
    x->depth++;
    x->cb.on_body(x->u, data, n);
    if (!x->canceled && x->cb.on_flush) x->cb.on_flush(x->u);
    x->depth--;
}

static void h2_on_trailers(void *u, const pt_header *hdrs, size_t n)
{
    pt_exchange *x = u;
    if (!x->cb.on_trailers) return;
    x->depth++;
    x->cb.on_trailers(x->u, hdrs, n);
    x->depth--;
}

static void h2_on_drain(void *u)
{
    pt_exchange *x = u;
    if (!x->cb.on_drain) return;
    x->depth++;
    x->cb.on_drain(x->u);
    x->depth--;
}

static void h2_on_done(void *u)
{
    pt_exchange *x = u;
    x->h2 = NULL;
    if (!x->finished && !x->canceled) {
        x->finished = true;
        x->depth++;
        x->cb.on_done(x->u);
        x->depth--;
    }
    x_maybe_free(x);
}

static void h2_on_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    pt_exchange *x = u;
    x->h2 = NULL;
    if (x->finished || x->canceled) {
        x_maybe_free(x);
        return;
    }
    x->finished = true;
    if (x->starting) { /* from the loop's next turn, with the body held here */
        if (unsent && unsent->len) pt_buf_append(&x->pending, unsent->data, unsent->len);
        x->due_error = true;
        x->due_err = err;
        x->due_phase = phase;
        snprintf(x->due_detail, sizeof x->due_detail, "%s", detail ? detail : "");
        due_push(x);
        return;
    }
    x->depth++;
    x->cb.on_error(x->u, err, phase, unsent, detail);
    x->depth--;
    x_maybe_free(x);
}

static const pt_exchange_cb h2_cb = { h2_on_head, h2_on_body, h2_on_done, h2_on_error, h2_on_drain, NULL,
                                      h2_on_trailers };

static pt_exchange *h2_start(pt_client *cl, pt_exchange *x, const pt_endpoint *ep, const pt_exchange_opts *opts,
                             const char *head, size_t head_len)
{
    if (!cl->h2) cl->h2 = pt__h2up_new(cl->loop, cl->h2_stats);
    x->h2 = cl->h2 ? pt__h2x_new(cl->h2, ep, opts, head, head_len, &h2_cb, x) : NULL;
    if (!x->h2) {
        x_free(x);
        return NULL;
    }
    x->starting = true;
    if (cl->closing) {
        pt__h2x_cancel(x->h2);
        x->h2 = NULL;
        x_fail(x, PT_ECANCELED, "gateway shutting down");
    } else {
        pt__h2x_go(x->h2);
    }
    x->starting = false;
    return x;
}

/* The end of pt_exchange_start: what of the caller's head and body was not written yet
 * (the connection is still to be made, or the start failed: on_error hands the body back)
 * is copied into the exchange's own buffers. */
static void keep_lent(pt_exchange *x)
{
    bool ok = true;
    if (x->lent_head && !x->head_written) ok = pt_buf_append(&x->head, x->lent_head, x->lent_head_len) == 0;
    x->lent_head = NULL;
    if (x->o.body) ok = pt_buf_append(&x->pending, x->o.body, x->o.body_len) == 0 && ok;
    x->o.body = NULL;
    if (!ok) x_fail(x, PT_ENOMEM, "out of memory");
}

pt_exchange *pt_exchange_start(pt_client *cl, const pt_endpoint *ep, const pt_exchange_opts *opts,
                               const char *head, size_t head_len, const pt_exchange_cb *cb, void *u)
{
    resp_settings_init();
    pt_exchange *x = pt_recycle_get_raw(&exchanges, sizeof *x);
    if (!x) return NULL;
    memset(x, 0, X_ZEROED);
    x->cl = cl;
    x->o = *opts;
    x->cb = *cb;
    x->u = u;
    x->replay_ok = true;
    if (ep->h2) return h2_start(cl, x, ep, opts, head, head_len);
    pt_buf_init(&x->rhead, RESP_HEAD_MAX);
    x->body_end = opts->body_complete;
    if (!opts->body_len) x->o.body = NULL;
    /* A request that may be replayed keeps its own copy of the head from the start; any
     * other is sent from the caller's bytes when a kept-alive connection takes it now. */
    if (opts->idempotent) {
        if (x->o.body) pt_buf_append(&x->pending, x->o.body, x->o.body_len);
        x->o.body = NULL;
    } else {
        x->lent_head = head;
        x->lent_head_len = head_len;
    }
    if ((!x->lent_head && pt_buf_append(&x->head, head, head_len) != 0) || !(x->pool = pool_get(cl, ep))) {
        x_free(x);
        return NULL;
    }
    x->starting = true;
    if (cl->closing) x_fail(x, PT_ECANCELED, "gateway shutting down");
    else uc_connect(x, false);
    keep_lent(x);
    x->starting = false;
    return x;
}

void pt_exchange_pause(pt_exchange *x)
{
    if (x->h2) {
        pt__h2x_pause(x->h2);
        return;
    }
    if (x->paused || !x->c) return;
    x->paused = true;
    uc_timer(x->c, 0);
    pt_sock_read_stop(&x->c->sock);
}

void pt_exchange_resume(pt_exchange *x)
{
    if (x->h2) {
        pt__h2x_resume(x->h2);
        return;
    }
    if (!x->paused) return;
    x->paused = false;
    if (!x->c) return;
    if (!x->tunnel) uc_timer(x->c, x->o.idle_timeout_ms);
    pt_sock_read_start(&x->c->sock);
}

void pt_exchange_cancel(pt_exchange *x)
{
    if (x->canceled) return;
    bool was_finished = x->finished;
    x->canceled = true;
    if (x->h2) pt__h2x_cancel(x->h2);
    x->h2 = NULL;
    if (!was_finished) x_detach(x, false);
    x_maybe_free(x);
}

void pt_http_append_host(pt_buf *b, const char *host, uint16_t port, bool tls)
{
    bool v6 = strchr(host, ':') != NULL;
    pt_buf_append(b, "Host: ", 6);
    if (v6) pt_buf_append(b, "[", 1);
    pt_buf_append_str(b, host);
    if (v6) pt_buf_append(b, "]", 1);
    if (port != (tls ? 443 : 80)) {
        pt_buf_append(b, ":", 1);
        pt_buf_append_u64(b, port);
    }
    pt_buf_append(b, "\r\n", 2);
}

const char *pt_exchange_peer(const pt_exchange *x) { return x->h2 ? pt__h2x_peer(x->h2) : x->c ? x->c->peer : ""; }

pt_upstream_cause pt_upstream_cause_of(int err, int phase)
{
    switch (err) {
    case PT_ECONNREFUSED: return PT_UC_REFUSED;
    case PT_ETIMEDOUT:
        return phase == 0 ? PT_UC_CONNECT_TIMEOUT : phase == 1 ? PT_UC_FIRST_BYTE_TIMEOUT : PT_UC_IDLE_TIMEOUT;
    case PT_ECONNRESET: return PT_UC_RESET;
    case PT_ETLS: return PT_UC_TLS;
    case PT_ECLOSED: return phase < 2 ? PT_UC_CLOSED_BEFORE_HEAD : PT_UC_CLOSED_MID_RESPONSE;
    case PT_EPARSE: return PT_UC_BAD_RESPONSE;
    case PT_ENOTFOUND: return PT_UC_UNRESOLVED;
    case PT_ENOMEM: return PT_UC_NO_MEMORY;
    case PT_ECANCELED: return PT_UC_SHUTDOWN;
    default: return PT_UC_OTHER;
    }
}

static const struct {
    const char *name, *text;
} causes[] = {
#define PT_UC_ROW(id, name, text) { name, text },
    PT_UPSTREAM_CAUSE_MAP(PT_UC_ROW)
#undef PT_UC_ROW
};

const char *pt_upstream_cause_name(pt_upstream_cause c)
{
    return (unsigned)c < sizeof causes / sizeof *causes ? causes[c].name : "upstream_error";
}

const char *pt_upstream_cause_text(pt_upstream_cause c)
{
    return (unsigned)c < sizeof causes / sizeof *causes ? causes[c].text : "the upstream connection failed";
}
