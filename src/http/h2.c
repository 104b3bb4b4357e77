/* h2.c: HTTP/2 sessions on client connections with nghttp2 (see h2.h).
 *
 * Input goes through nghttp2_session_mem_recv, output through nghttp2_session_mem_send
 * into the connection's socket, never from inside an nghttp2 callback (a handler that
 * answers during dispatch only queues frames; the send follows the receive). A stream's
 * response body waits in its own buffer, which the data provider drains as the client's
 * window allows (NGHTTP2_ERR_DEFERRED when it is empty, resumed by the next write).
 * Request bodies count against the stream's window only once handed to an unpaused
 * handler, so pausing the handler stops the client. A stream's pt_conn outlives the
 * stream until the next event from the loop (a handler may still hold it inside the
 * call that ended it). */
#include "http/h2.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "http/grpc.h"

#define STREAM_WINDOW (256 * 1024)      /* per-stream receive window */
#define CONN_WINDOW (16 * 1024 * 1024)  /* connection receive window, consumed at once */
#define SEND_HIGH (256 * 1024)          /* socket queue above which frames wait */
#define OUT_LOW (64 * 1024)             /* a stream's queue below which its handler resumes */
#define WRITE_GATHER (64 * 1024)        /* frames gathered into one socket write */
#define RST_WINDOW_MS 10000             /* rapid reset: resets counted per window */
#define TICK_MS 1000                    /* per-stream timeouts are checked this often */
#define HEADER_ABUSE_FACTOR 4           /* decoded header bytes past cap x this end the session */

typedef struct pt_h2_stream pt_h2_stream;

struct pt_h2_stream {
    pt_conn *c;
    struct pt_h2 *h;
    int32_t id;
    pt_h2_stream *prev, *next;  /* the session's open streams, or its closed ones */
    pt_buf out;                 /* response body not yet taken by nghttp2 */
    size_t out_off;
    size_t hdr_bytes;           /* decoded header bytes (RFC 9113 sizes: name + value + 32) */
    size_t unconsumed;          /* body bytes held back from the window while paused */
    uint64_t last_ms;           /* last progress: body bytes in, or response bytes out */
    uint64_t deadline_ms;       /* a gRPC call's grpc-timeout as a pt_now_ms() time; 0: none */
    pt_slice method, path, authority;
    pt_outcome refuse;          /* a limit the head broke: answered once the head is complete */
    nghttp2_nv *trailers;       /* sent after the body when set (in the request pool) */
    size_t ntrailers;
    bool eof, deferred, sent_end, closed, above_mark, built;
};

typedef struct pt_h2 {
    nghttp2_session *ng;
    pt_conn *c;
    pt_h2_stream *streams;      /* open */
    pt_h2_stream *zombies;      /* closed, freed on the next event from the loop */
    unsigned nstreams;
    pt_buf wbuf;
    uv_check_t flush;           /* sends what handlers wrote once per loop iteration */
    uint64_t last_active_ms;
    uint64_t rst_window_ms;
    unsigned rst_count;
    pt_outcome close_outcome;
    bool hold;                  /* inside nghttp2 or a sweep: frames are sent afterwards */
    bool sending, closed, goaway, flush_on;
    bool ticking;               /* the connection's deadline is the next sweep: never pushed
                                 * back by traffic, so busy sessions are swept too */
} pt_h2;

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;
static uv_once_t once = UV_ONCE_INIT;

static void h2_send(pt_h2 *h);
static void h2_send_soon(pt_h2 *h);

static void count(_Atomic uint64_t *v)
{
    atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

static pt_h2_stats *stats(pt_h2 *h) { return h->c->srv->h2_stats; }

/* --- streams --------------------------------------------------------------- */

static pt_h2_stream *stream_of(pt_h2 *h, int32_t id)
{
    return nghttp2_session_get_stream_user_data(h->ng, id);
}

static void unlink_stream(pt_h2_stream **list, pt_h2_stream *st)
{
    if (st->prev) st->prev->next = st->next;
    else *list = st->next;
    if (st->next) st->next->prev = st->prev;
    st->prev = st->next = NULL;
}

static void push_stream(pt_h2_stream **list, pt_h2_stream *st)
{
    st->next = *list;
    if (*list) (*list)->prev = st;
    *list = st;
}

static void free_zombies(pt_h2 *h)
{
    while (h->zombies) {
        pt_h2_stream *st = h->zombies;
        h->zombies = st->next;
        pt__conn_stream_free(st->c);
        pt_buf_release(&st->out);
        free(st);
    }
}

/* Ends a stream's request once: the handler is aborted when still attached, the
 * request logged when it got a status, and the stream moves to the closed list. */
static void stream_finish(pt_h2_stream *st)
{
    if (st->closed) return;
    st->closed = true;
    pt_conn *c = st->c;
    pt_h2 *h = st->h;
    if (c->in_request && !st->sent_end) {
        if (!c->x->info.outcome)
            c->x->info.outcome = h->close_outcome ? h->close_outcome
                              : c->resp_started ? PT_OUT_CLIENT_CLOSED : PT_OUT_CLIENT_CLOSED_EARLY;
        if (!c->x->status) c->x->status = pt_outcome_status(c->x->info.outcome);
    }
    c->state = CS_CLOSING;
    pt__conn_sink_abort(c);
    pt__conn_request_finish(c, c->x->status != 0);
    if (st->id) nghttp2_session_set_stream_user_data(h->ng, st->id, NULL);
    unlink_stream(&h->streams, st);
    h->nstreams--;
    push_stream(&h->zombies, st);
    h->last_active_ms = pt_now_ms();
}

static size_t out_pending(const pt_h2_stream *st) { return st->out.len - st->out_off; }

/* --- the request head -------------------------------------------------------- */

static int refuse(pt_h2_stream *st, pt_outcome o)
{
    if (!st->refuse) st->refuse = o;
    return 0;
}

static pt_slice pool_copy(pt_conn *c, const uint8_t *p, size_t n)
{
    char *m = pt_req_alloc(&c->x->req, n + 1);
    if (!m) return PT_SLICE_NULL;
    memcpy(m, p, n);
    return pt_slice_from(m, n);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    pt_h2 *h = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    pt_h2_stream *st = calloc(1, sizeof *st);
    pt_conn *c = st ? pt__conn_stream_new(h->c) : NULL;
    if (!c) {
        free(st);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the stream is reset */
    }
    st->c = c;
    st->h = h;
    st->id = f->hd.stream_id;
    st->last_ms = pt_now_ms();
    pt_buf_init(&st->out, 0);
    c->h2s = st;
    push_stream(&h->streams, st);
    h->nstreams++;
    nghttp2_session_set_stream_user_data(ng, st->id, st);
    if (stats(h)) count(&stats(h)->streams);
    return 0;
}

static int pseudo_header(pt_h2_stream *st, const uint8_t *name, size_t nlen, const uint8_t *v, size_t vlen)
{
    pt_slice *dst = NULL;
    if (nlen == 7 && memcmp(name, ":method", 7) == 0) dst = &st->method;
    else if (nlen == 5 && memcmp(name, ":path", 5) == 0) dst = &st->path;
    else if (nlen == 10 && memcmp(name, ":authority", 10) == 0) dst = &st->authority;
    if (!dst) return 0; /* :scheme: the listener decides */
    *dst = pool_copy(st->c, v, vlen);
    return dst->ptr ? 0 : refuse(st, PT_OUT_OUT_OF_MEMORY);
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    pt_h2 *h = ud;
    pt_h2_stream *st = stream_of(h, f->hd.stream_id);
    if (!st || f->hd.type != NGHTTP2_HEADERS) return 0;
    const pt_http_limits *lim = &h->c->srv->limits;
    st->hdr_bytes += nlen + vlen + 32;
    /* An HPACK bomb expands a small block into far more than any request needs: past a
     * few times the cap the session is not worth keeping. */
    if (st->hdr_bytes > lim->max_header_bytes * HEADER_ABUSE_FACTOR) {
        pt_log_info("HTTP/2 client %s sent a header block far over limits.max_header_bytes; closing", h->c->x->peer);
        nghttp2_session_terminate_session(ng, NGHTTP2_ENHANCE_YOUR_CALM);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (f->headers.cat != NGHTTP2_HCAT_REQUEST || st->refuse) return 0; /* trailers: not forwarded */
    if (st->hdr_bytes > lim->max_header_bytes) return refuse(st, PT_OUT_HEADER_TOO_LARGE);
    if (nlen && name[0] == ':') return pseudo_header(st, name, nlen, value, vlen);
    pt_conn *c = st->c;
    int rc = pt_hdrcap_name(&c->x->hdrs, &c->x->head, (const char *)name, nlen, lim->max_headers);
    if (rc == 0) rc = pt_hdrcap_value(&c->x->hdrs, &c->x->head, (const char *)value, vlen);
    if (rc == PT_ETOOMANY) return refuse(st, PT_OUT_TOO_MANY_HEADERS);
    if (rc == PT_ENOMEM) return refuse(st, PT_OUT_OUT_OF_MEMORY);
    if (rc) return refuse(st, PT_OUT_HEADER_TOO_LARGE);
    return 0;
}

/* RFC 9113 §8.2.3: a cookie split across fields is one "; "-joined field for HTTP/1.1. */
static void join_cookies(pt_conn *c, pt_header *hs, unsigned *n)
{
    size_t total = 0;
    unsigned first = *n, count = 0;
    for (unsigned i = 0; i < *n; i++)
        if (pt_slice_case_eq_cstr(hs[i].name, "cookie")) {
            if (!count++) first = i;
            total += hs[i].value.len + 2;
        }
    if (count < 2) return;
    char *v = pt_req_alloc(&c->x->req, total);
    if (!v) return;
    size_t len = 0;
    unsigned out = 0;
    for (unsigned i = 0; i < *n; i++) {
        if (!pt_slice_case_eq_cstr(hs[i].name, "cookie")) {
            hs[out++] = hs[i];
            continue;
        }
        if (len) memcpy(v + len, "; ", 2), len += 2;
        memcpy(v + len, hs[i].value.ptr, hs[i].value.len);
        len += hs[i].value.len;
        if (i == first) hs[out++] = (pt_header){ hs[i].name, PT_SLICE_NULL };
    }
    for (unsigned i = 0; i < out; i++)
        if (pt_slice_case_eq_cstr(hs[i].name, "cookie")) hs[i].value = pt_slice_from(v, len);
    *n = out;
}

/* The request's host from :authority, else Host (RFC 9113 §8.3.1); the header list gets
 * a Host field when it has none, so everything downstream reads one as over HTTP/1.1. */
static pt_outcome request_host(pt_conn *c, const pt_h2_stream *st, pt_header *hs, unsigned *n)
{
    const pt_header *host = NULL;
    for (unsigned i = 0; i < *n && !host; i++)
        if (pt_slice_case_eq_cstr(hs[i].name, "host")) host = &hs[i];
    pt_slice v = st->authority.len ? st->authority : host ? host->value : PT_SLICE_NULL;
    if (!v.len) return PT_OUT_MISSING_HOST;
    pt_authority a = { .port = -1 };
    if (pt_authority_parse(v, &a) || !a.host.len) return PT_OUT_BAD_HOST;
    for (size_t i = 0; i < a.host.len; i++) {
        char ch = a.host.ptr[i];
        c->x->host_lc[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    c->x->req.host = pt_slice_from(c->x->host_lc, a.host.len);
    if (!host) hs[(*n)++] = (pt_header){ PT_SLICE_LIT("host"), v };
    return PT_OUT_OK;
}

static int64_t parse_length(pt_slice v)
{
    int64_t n = 0;
    if (!v.len || v.len > 18) return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') return -1;
        n = n * 10 + (v.ptr[i] - '0');
    }
    return n;
}

/* Fills the stream's pt_request from the decoded head; PT_OUT_OK or why it is refused. */
static pt_outcome build_request(pt_h2_stream *st, bool end_stream)
{
    pt_conn *c = st->c;
    pt_request *r = &c->x->req;
    unsigned n = c->x->hdrs.n;
    pt_header *hs = malloc((n + 1) * sizeof *hs);
    if (!hs) return PT_OUT_OUT_OF_MEMORY;
    c->x->headers = hs;
    for (unsigned i = 0; i < n; i++) {
        hs[i].name = pt_hdrcap_name_at(&c->x->hdrs, &c->x->head, i);
        hs[i].value = pt_hdrcap_value_at(&c->x->hdrs, &c->x->head, i);
    }
    join_cookies(c, hs, &n);
    r->headers = hs;
    r->http_major = 2;
    r->http_minor = 0;
    r->keep_alive = true;
    r->method_name = st->method;
    r->method = pt_http_method_parse(st->method);
    if (r->method < 0 || r->method == HTTP_CONNECT) return PT_OUT_BAD_METHOD;
    if (!st->path.len) return PT_OUT_BAD_REQUEST;
    r->target = st->path;
    if (st->path.ptr[0] != '/' && !(st->path.len == 1 && st->path.ptr[0] == '*')) return PT_OUT_BAD_REQUEST;
    const char *q = memchr(st->path.ptr, '?', st->path.len);
    r->path = q ? pt_slice_from(st->path.ptr, (size_t)(q - st->path.ptr)) : st->path;
    r->query = q ? pt_slice_from(q + 1, st->path.len - (size_t)(q - st->path.ptr) - 1) : PT_SLICE_NULL;
    if (pt__has_dot_segment(r->path)) return PT_OUT_BAD_PATH;
    pt_outcome o = request_host(c, st, hs, &n);
    r->nheaders = n;
    if (o) return o;
    const pt_header *cl = pt_request_header(r, "content-length");
    r->content_length = cl ? parse_length(cl->value) : -1;
    if (cl && r->content_length < 0) return PT_OUT_BAD_CONTENT_LENGTH;
    r->chunked = !end_stream && !cl; /* a body of unknown length: streamed as it comes */
    const pt_header *expect = pt_request_header(r, "expect");
    if (expect) {
        if (!pt_slice_case_eq_cstr(expect->value, "100-continue")) return PT_OUT_EXPECTATION_FAILED;
        r->expect_continue = true;
    }
    const pt_header *rid = pt_request_header(r, "x-request-id");
    if (rid && pt__request_id_ok(rid->value))
        memcpy(r->request_id, rid->value.ptr, rid->value.len), r->request_id[rid->value.len] = '\0';
    else
        pt__gen_request_id(r->request_id);
    if (r->content_length > 0 && (uint64_t)r->content_length > c->srv->limits.max_body_bytes)
        return PT_OUT_BODY_TOO_LARGE;
    return PT_OUT_OK;
}

static const char *refusal_message(pt_outcome o)
{
    switch (o) {
    case PT_OUT_HEADER_TOO_LARGE: return "the request head exceeds the configured limit";
    case PT_OUT_TOO_MANY_HEADERS: return "the request has more header fields than allowed";
    case PT_OUT_BODY_TOO_LARGE: return "the request body exceeds the configured limit";
    case PT_OUT_MISSING_HOST: return "HTTP/2 requests must carry :authority or Host (RFC 9113 §8.3.1)";
    case PT_OUT_BAD_HOST: return "invalid :authority or Host";
    case PT_OUT_BAD_PATH: return "the path may not contain '.' or '..' segments";
    case PT_OUT_BAD_METHOD: return "this method is not served over HTTP/2";
    case PT_OUT_BAD_CONTENT_LENGTH: return "invalid content-length";
    case PT_OUT_EXPECTATION_FAILED: return "only 'Expect: 100-continue' is supported";
    case PT_OUT_OUT_OF_MEMORY: return "out of memory";
    default: return "malformed request";
    }
}

/* A gRPC call's grpc-timeout bounds the whole call, the upstream's part included: the
 * session's sweep ends it with DEADLINE_EXCEEDED once it passes (deadline_passed). */
static void grpc_deadline_begin(pt_h2 *h, pt_h2_stream *st)
{
    if (!pt_conn_is_grpc(st->c)) return;
    const pt_header *t = pt_request_header(&st->c->x->req, "grpc-timeout");
    int64_t ms = t ? pt_grpc_timeout_ms(t->value) : -1;
    if (ms < 0) return;
    st->deadline_ms = pt_now_ms() + (uint64_t)ms;
    if ((uint64_t)ms < TICK_MS) { /* the next sweep comes no later than the deadline */
        h->ticking = true;
        pt__conn_timer(h->c, ms ? (uint64_t)ms : 1);
    }
}

uint64_t pt_conn_grpc_deadline(const pt_conn *c)
{
    return c->h2s ? c->h2s->deadline_ms : 0;
}

static void head_complete(pt_h2 *h, pt_h2_stream *st, bool end_stream)
{
    pt_conn *c = st->c;
    st->built = true;
    if (end_stream) c->req_done = true;
    pt_outcome o = st->refuse ? st->refuse : build_request(st, end_stream);
    c->state = CS_BODY;
    if (o) {
        if (!c->x->req.request_id[0]) pt__gen_request_id(c->x->req.request_id);
        pt_conn_respond_error(c, o, NULL, "%s", refusal_message(o));
        return;
    }
    grpc_deadline_begin(h, st);
    h->c->srv->dispatch(c, &c->x->req, h->c->srv->arg);
}

/* --- the request body -------------------------------------------------------- */

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    pt_h2 *h = ud;
    nghttp2_session_consume_connection(ng, len);
    pt_h2_stream *st = stream_of(h, id);
    if (!st || st->closed) return 0;
    pt_conn *c = st->c;
    st->last_ms = pt_now_ms();
    if (c->discard_body) { /* answered already: the rest is not wanted, nor given window */
        st->unconsumed += len;
        return 0;
    }
    c->x->body_bytes += len;
    if (c->x->body_bytes > c->srv->limits.max_body_bytes) {
        if (!c->resp_started) {
            pt_conn_respond_error(c, PT_OUT_BODY_TOO_LARGE, NULL, "the request body exceeds the configured limit");
        } else if (!c->resp_done) {
            pt_log_info("request body from %s exceeded the limit mid-stream; resetting the stream", c->x->peer);
            pt__h2s_abort(c);
        }
        return 0;
    }
    if (c->body_paused) st->unconsumed += len;
    else nghttp2_session_consume_stream(ng, id, len);
    if (c->has_sink && c->x->sink.on_body && !c->discard_body) c->x->sink.on_body(c->x->sink.h, (const char *)data, len);
    return 0;
}

static void body_end(pt_h2_stream *st)
{
    pt_conn *c = st->c;
    if (c->req_done) return;
    c->req_done = true;
    if (c->has_sink && c->x->sink.on_body_end && !c->discard_body) c->x->sink.on_body_end(c->x->sink.h);
}

/* Rapid reset (CVE-2023-44487): more resets in a window than twice the streams a client
 * may have open ends the session with ENHANCE_YOUR_CALM. */
static void count_reset(pt_h2 *h)
{
    uint64_t now = pt_now_ms();
    if (now - h->rst_window_ms > RST_WINDOW_MS) {
        h->rst_window_ms = now;
        h->rst_count = 0;
    }
    if (++h->rst_count <= 2 * h->c->srv->limits.h2_max_streams || h->goaway) return;
    pt_log_info("HTTP/2 client %s reset %u streams within %d ms; closing with ENHANCE_YOUR_CALM", h->c->x->peer,
                h->rst_count, RST_WINDOW_MS);
    h->goaway = true;
    nghttp2_session_terminate_session(h->ng, NGHTTP2_ENHANCE_YOUR_CALM);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    pt_h2 *h = ud;
    if (f->hd.type == NGHTTP2_RST_STREAM) {
        count_reset(h);
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) return 0;
    pt_h2_stream *st = stream_of(h, f->hd.stream_id);
    if (!st || st->closed) return 0;
    bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        head_complete(h, st, end);
        return 0;
    }
    if (end && st->built) body_end(st);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t err, void *ud)
{
    pt_h2_stream *st = stream_of(ud, id);
    if (st) stream_finish(st);
    return 0;
}

/* Sessions the server ends are counted as it says goodbye, whoever found the fault (this
 * file or nghttp2). */
static void count_goaway(pt_h2 *h, uint32_t code)
{
    if (!stats(h) || code == NGHTTP2_NO_ERROR) return;
    count(code == NGHTTP2_ENHANCE_YOUR_CALM ? &stats(h)->calm : &stats(h)->protocol_errors);
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    pt_h2 *h = ud;
    if (f->hd.type == NGHTTP2_GOAWAY) count_goaway(h, f->goaway.error_code);
    if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) return 0;
    pt_h2_stream *st = stream_of(h, f->hd.stream_id);
    if (!st) return 0;
    st->sent_end = true; /* a client still sending is told to stop on the next tick */
    return 0;
}

/* --- the response ---------------------------------------------------------------- */

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    pt_h2_stream *st = src->ptr;
    size_t avail = out_pending(st);
    if (!avail && !st->eof) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = avail < len ? avail : len;
    if (n) memcpy(buf, st->out.data + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out.len) {
        pt_buf_reset(&st->out);
        st->out_off = 0;
        if (st->eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (st->eof && st->ntrailers && nghttp2_submit_trailer(ng, id, st->trailers, st->ntrailers) == 0)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM; /* the trailers' HEADERS ends the stream */
    } else if (st->out_off > OUT_LOW && st->out_off * 2 > st->out.len) {
        memmove(st->out.data, st->out.data + st->out_off, st->out.len - st->out_off);
        st->out.len -= st->out_off;
        st->out_off = 0;
    }
    st->last_ms = pt_now_ms();
    return (ssize_t)n;
}

static char *lower_copy(pt_conn *c, pt_slice s)
{
    char *m = pt_req_alloc(&c->x->req, s.len + 1);
    if (!m) return NULL;
    for (size_t i = 0; i < s.len; i++) m[i] = (s.ptr[i] >= 'A' && s.ptr[i] <= 'Z') ? (char)(s.ptr[i] + 32) : s.ptr[i];
    return m;
}

static bool nv_add(pt_conn *c, nghttp2_nv *nv, size_t *n, pt_slice name, pt_slice value)
{
    if (pt__hop_by_hop(name)) return true; /* never sent over HTTP/2 (RFC 9113 §8.2.2) */
    char *lc = lower_copy(c, name);
    if (!lc) return false;
    nv[(*n)++] = (nghttp2_nv){ (uint8_t *)lc, (uint8_t *)value.ptr, name.len, value.len, NGHTTP2_NV_FLAG_NONE };
    return true;
}

/* The "Name: value\r\n" lines of pt_req_info.resp_headers as fields. */
static bool nv_add_lines(pt_conn *c, nghttp2_nv *nv, size_t *n, size_t cap, pt_slice lines, bool *has_rid)
{
    const char *p = lines.ptr, *end = lines.ptr + lines.len;
    while (p < end && *n < cap) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        pt_slice line = pt_slice_trim(pt_slice_from(p, (size_t)((eol ? eol : end) - p)));
        p = eol ? eol + 1 : end;
        const char *colon = memchr(line.ptr, ':', line.len);
        if (!colon) continue;
        pt_slice name = pt_slice_trim(pt_slice_from(line.ptr, (size_t)(colon - line.ptr)));
        pt_slice value = pt_slice_trim(pt_slice_from(colon + 1, line.len - (size_t)(colon - line.ptr) - 1));
        if (pt_slice_case_eq_cstr(name, "x-request-id")) *has_rid = true;
        if (!nv_add(c, nv, n, name, value)) return false;
    }
    return true;
}

static size_t count_lines(pt_slice s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) n += s.ptr[i] == '\n';
    return n + 1;
}

int pt__h2s_response_start(pt_conn *c, int status, const pt_header *hdrs, size_t nhdrs, int64_t content_length)
{
    pt_h2_stream *st = c->h2s;
    if (c->resp_started || st->closed || st->h->closed) return PT_EINVAL;
    c->resp_started = true;
    c->x->status = status;
    bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
    /* an empty body needs no DATA frame: the HEADERS ends the stream (gRPC's trailers-only
     * answers are told apart by exactly that) */
    c->resp_head_only = no_body || c->x->req.method == HTTP_HEAD || content_length == 0;
    size_t cap = nhdrs + count_lines(c->x->info.resp_headers) + 3, n = 0;
    nghttp2_nv *nv = pt_req_alloc(&c->x->req, cap * sizeof *nv);
    char *code = pt_req_alloc(&c->x->req, 4), *len = pt_req_alloc(&c->x->req, 24);
    if (!nv || !code || !len) return PT_ENOMEM;
    code[0] = (char)('0' + status / 100 % 10), code[1] = (char)('0' + status / 10 % 10), code[2] = (char)('0' + status % 10);
    nv[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)code, 7, 3, NGHTTP2_NV_FLAG_NONE };
    bool has_rid = false, ok = true;
    for (size_t i = 0; i < nhdrs && ok; i++) {
        if (pt_slice_case_eq_cstr(hdrs[i].name, "x-request-id")) has_rid = true;
        ok = nv_add(c, nv, &n, hdrs[i].name, hdrs[i].value);
    }
    if (ok) ok = nv_add_lines(c, nv, &n, cap - 2, c->x->info.resp_headers, &has_rid);
    if (!ok) return PT_ENOMEM;
    if (!has_rid && c->x->req.request_id[0])
        nv[n++] = (nghttp2_nv){ (uint8_t *)"x-request-id", (uint8_t *)c->x->req.request_id, 12,
                                strlen(c->x->req.request_id), NGHTTP2_NV_FLAG_NONE };
    if (content_length >= 0 && !no_body) {
        size_t l = (size_t)snprintf(len, 24, "%lld", (long long)content_length);
        nv[n++] = (nghttp2_nv){ (uint8_t *)"content-length", (uint8_t *)len, 14, l, NGHTTP2_NV_FLAG_NONE };
    }
    nghttp2_data_provider prd = { .source.ptr = st, .read_callback = read_body };
    if (c->resp_head_only) st->eof = true;
    int rc = nghttp2_submit_response(st->h->ng, st->id, nv, n, c->resp_head_only ? NULL : &prd);
    return rc ? PT_EIO : 0;
}

int pt__h2s_body(pt_conn *c, const char *data, size_t n)
{
    pt_h2_stream *st = c->h2s;
    if (!c->resp_started || c->resp_done || st->closed) return PT_EINVAL;
    if (n == 0 || c->resp_head_only) return 0;
    if (pt_buf_append(&st->out, data, n)) return PT_ENOMEM;
    c->x->bytes_out += n;
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(st->h->ng, st->id);
    }
    if (pt__h2s_write_queue(c) > OUT_LOW) st->above_mark = true;
    if (out_pending(st) >= WRITE_GATHER) h2_send_soon(st->h);
    return 0;
}

int pt__h2s_trailers(pt_conn *c, const pt_header *hdrs, size_t n)
{
    pt_h2_stream *st = c->h2s;
    if (!c->resp_started || c->resp_done || st->closed) return PT_EINVAL;
    if (c->resp_head_only || !n) return 0;
    nghttp2_nv *nv = pt_req_alloc(&c->x->req, n * sizeof *nv);
    if (!nv) return PT_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!hdrs[i].name.len || hdrs[i].name.ptr[0] == ':') continue;
        pt_slice v = pool_copy(c, (const uint8_t *)hdrs[i].value.ptr, hdrs[i].value.len);
        if (!v.ptr) return PT_ENOMEM;
        if (!nv_add(c, nv, &k, hdrs[i].name, v)) return PT_ENOMEM;
    }
    st->trailers = nv;
    st->ntrailers = k;
    return 0;
}

int pt__h2s_flush(pt_conn *c)
{
    pt_h2_stream *st = c->h2s;
    if (st->closed) return 0;
    h2_send_soon(st->h);
    return 0;
}

void pt__h2s_end(pt_conn *c)
{
    pt_h2_stream *st = c->h2s;
    if (!c->resp_started || c->resp_done || st->closed) return;
    c->resp_done = true;
    st->eof = true;
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(st->h->ng, st->id);
    }
    if (!c->req_done) { /* the rest of the body is not wanted */
        pt__conn_sink_abort(c);
        c->discard_body = true;
    }
    c->has_sink = false;
    h2_send_soon(st->h);
}

static void reset(pt_conn *c, uint32_t code)
{
    pt_h2_stream *st = c->h2s;
    if (st->closed) return;
    pt__conn_sink_abort(c);
    c->resp_done = true;
    c->discard_body = true;
    nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id, code);
    h2_send_soon(st->h);
}

void pt__h2s_abort(pt_conn *c)
{
    if (!c->x->info.outcome) c->x->info.outcome = PT_OUT_UPSTREAM_ABORTED;
    reset(c, NGHTTP2_INTERNAL_ERROR);
}

void pt__h2s_reset(pt_conn *c) { reset(c, NGHTTP2_INTERNAL_ERROR); }

void pt__h2s_continue(pt_conn *c)
{
    pt_h2_stream *st = c->h2s;
    if (!c->x->req.expect_continue || c->continue_sent || c->req_done || c->resp_started || st->closed) return;
    c->continue_sent = true;
    nghttp2_nv nv = { (uint8_t *)":status", (uint8_t *)"100", 7, 3, NGHTTP2_NV_FLAG_NONE };
    nghttp2_submit_headers(st->h->ng, NGHTTP2_FLAG_NONE, st->id, NULL, &nv, 1, NULL);
    h2_send_soon(st->h);
}

void pt__h2s_pause(pt_conn *c, bool pause)
{
    pt_h2_stream *st = c->h2s;
    if (pause == c->body_paused || st->closed) return;
    c->body_paused = pause;
    if (pause || !st->unconsumed) return;
    nghttp2_session_consume_stream(st->h->ng, st->id, st->unconsumed);
    st->unconsumed = 0;
    st->last_ms = pt_now_ms();
    h2_send_soon(st->h); /* the WINDOW_UPDATE */
}

size_t pt__h2s_write_queue(const pt_conn *c)
{
    const pt_h2_stream *st = c->h2s;
    return out_pending(st) + c->x->parent->sock.wq_bytes;
}

/* --- the session ---------------------------------------------------------------------- */

static void setup_once(void)
{
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    nghttp2_option_new(&options);
    nghttp2_option_set_no_auto_window_update(options, 1);
    nghttp2_option_set_no_closed_streams(options, 1);
    nghttp2_option_set_max_settings(options, 32);        /* SETTINGS flood */
    nghttp2_option_set_max_outbound_ack(options, 100);   /* PING / SETTINGS ACK flood */
    nghttp2_option_set_max_continuations(options, 8);    /* CONTINUATION flood */
}

int pt__h2_start(pt_conn *c)
{
    uv_once(&once, setup_once);
    pt_h2 *h = calloc(1, sizeof *h);
    if (!h) return PT_ENOMEM;
    if (nghttp2_session_server_new2(&h->ng, callbacks, h, options) != 0) {
        free(h);
        return PT_ENOMEM;
    }
    h->c = c;
    uv_check_init(c->srv->loop, &h->flush);
    h->flush.data = h;
    h->last_active_ms = h->rst_window_ms = pt_now_ms();
    pt_buf_init(&h->wbuf, 0);
    const pt_http_limits *lim = &c->srv->limits;
    nghttp2_settings_entry iv[] = {
        { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->h2_max_streams },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
        { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)lim->max_header_bytes },
    };
    nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof *iv);
    nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    c->h2 = h;
    c->state = CS_BODY;
    if (c->srv->h2_stats) count(&c->srv->h2_stats->sessions);
    pt__conn_timer(c, lim->idle_timeout_ms);
    if (c->srv->draining) pt__h2_goaway(c);
    return 0;
}

/* Tells streams whose queue fell below the low mark; true when one was told. */
static bool notify_drained(pt_h2 *h)
{
    bool told = false;
    pt_h2_stream *next;
    for (pt_h2_stream *st = h->streams; st; st = next) {
        next = st->next;
        if (!st->above_mark || st->closed || pt__h2s_write_queue(st->c) > OUT_LOW) continue;
        st->above_mark = false;
        pt_conn *c = st->c;
        if (c->has_sink && c->x->sink.on_drain) {
            c->x->sink.on_drain(c->x->sink.h);
            told = true;
        }
    }
    return told;
}

/* Moves frames nghttp2 has ready into the socket while its queue is short. */
static int pump(pt_h2 *h)
{
    pt_sock *s = &h->c->sock;
    int rc = 0;
    while (rc == 0 && s->wq_bytes < SEND_HIGH) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(h->ng, &p);
        if (n < 0) return PT_EIO;
        if (n == 0) break;
        if (pt_buf_append(&h->wbuf, p, (size_t)n)) return PT_ENOMEM;
        if (h->wbuf.len >= WRITE_GATHER) {
            uv_buf_t b = uv_buf_init(h->wbuf.data, (unsigned)h->wbuf.len);
            rc = pt_sock_write(s, &b, 1);
            pt_buf_reset(&h->wbuf);
        }
    }
    if (rc == 0 && h->wbuf.len) {
        uv_buf_t b = uv_buf_init(h->wbuf.data, (unsigned)h->wbuf.len);
        rc = pt_sock_write(s, &b, 1);
        pt_buf_reset(&h->wbuf);
    }
    if (h->wbuf.alloc > 4 * WRITE_GATHER) pt_buf_release(&h->wbuf);
    return rc;
}

/* Sends what the session has queued, unless inside nghttp2 (the caller of mem_recv sends
 * afterwards); closes the connection once the session wants nothing more. */
static void h2_send(pt_h2 *h)
{
    if (h->hold || h->sending || h->closed) return;
    h->sending = true;
    int rc = 0;
    for (int round = 0; round < 4 && rc == 0; round++) {
        rc = pump(h);
        if (rc || !notify_drained(h)) break;
    }
    h->sending = false;
    if (rc) {
        pt__conn_close(h->c);
        return;
    }
    if (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng))
        pt__conn_linger_close(h->c); /* GOAWAY sent (or received) and no stream left */
}

static void on_flush(uv_check_t *k)
{
    pt_h2 *h = k->data;
    uv_check_stop(k);
    h->flush_on = false;
    h2_send(h);
}

/* What handlers write leaves after the loop's I/O callbacks, so the answers of every
 * stream that moved in one iteration share a write. A captured connection (tests) sends
 * at once: nothing runs its loop in between. */
static void h2_send_soon(pt_h2 *h)
{
    if (h->closed) return;
    if (h->c->sock.capture) {
        h2_send(h);
        return;
    }
    if (h->flush_on) return;
    h->flush_on = true;
    uv_check_start(&h->flush, on_flush);
}

void pt__h2_feed(pt_conn *c, const char *data, size_t n)
{
    pt_h2 *h = c->h2;
    free_zombies(h);
    if (h->closed) return;
    h->last_active_ms = pt_now_ms();
    h->hold = true;
    ssize_t rc = nghttp2_session_mem_recv(h->ng, (const uint8_t *)data, n);
    h->hold = false;
    if (rc < 0) {
        /* floods (PING, SETTINGS, CONTINUATION) are abuse; anything else a broken peer */
        bool abuse = rc == NGHTTP2_ERR_FLOODED || rc == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
        pt_log_info("HTTP/2 session with %s ended: %s", c->x->peer, nghttp2_strerror((int)rc));
        nghttp2_session_terminate_session(h->ng, abuse ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
    }
    h2_send(h);
    if (!h->closed && h->nstreams && !h->ticking) {
        h->ticking = true;
        pt__conn_timer(c, TICK_MS);
    }
}

void pt__h2_on_drain(pt_conn *c)
{
    pt_h2 *h = c->h2;
    free_zombies(h);
    h2_send(h);
}

/* The call's deadline passed before its answer ended: the upstream call is stopped and
 * the client told DEADLINE_EXCEEDED, trailers-only before an answer began, else in the
 * trailers after what it got. */
static void deadline_passed(pt_h2_stream *st)
{
    pt_conn *c = st->c;
    static const char msg[] = "deadline exceeded: the call's grpc-timeout passed";
    st->deadline_ms = 0;
    pt__conn_sink_abort(c);
    if (!c->resp_started) {
        pt_conn_respond_error(c, PT_OUT_UPSTREAM_TIMEOUT, NULL, "%s", msg);
        return;
    }
    if (!c->x->info.outcome) c->x->info.outcome = PT_OUT_UPSTREAM_TIMEOUT;
    char code[4];
    snprintf(code, sizeof code, "%d", PT_GRPC_DEADLINE_EXCEEDED);
    pt_buf m = PT_BUF_INIT;
    pt_grpc_message_encode(&m, msg, sizeof msg - 1);
    pt_header t[2] = { { PT_SLICE_LIT("grpc-status"), pt_slice_cstr(code) },
                       { PT_SLICE_LIT("grpc-message"), pt_buf_slice(&m) } };
    if (pt_conn_response_trailers(c, t, 2) == 0) pt_conn_response_end(c);
    else reset(c, NGHTTP2_CANCEL);
    pt_buf_release(&m);
}

/* Milliseconds from t to now, 0 when t is later: a sweep reads the clock once, and what it
 * finishes or writes on the way stamps its activity with later reads (an unsigned
 * difference would wrap to an idle session's GOAWAY or a stream's timeout). */
static uint64_t since(uint64_t now, uint64_t t) { return now > t ? now - t : 0; }

/* One stream's timeouts: body (the client stopped sending), send (it stopped reading), and
 * a gRPC call's deadline. */
static void stream_tick(pt_h2_stream *st, uint64_t now)
{
    pt_conn *c = st->c;
    const pt_http_limits *lim = &c->srv->limits;
    uint64_t quiet = since(now, st->last_ms);
    if (st->sent_end) {
        /* The answer went out complete while the client was still sending: tell it to
         * stop (RFC 9113 §8.1). Not at once: some clients (curl 7.88) drop an answer
         * that arrives together with the reset. */
        nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
        return;
    }
    if (st->deadline_ms && now >= st->deadline_ms && !c->resp_done) {
        deadline_passed(st);
        return;
    }
    if (!c->req_done && !c->resp_started && !c->body_paused && st->built && quiet >= lim->body_timeout_ms) {
        pt_conn_respond_error(c, PT_OUT_BODY_TIMEOUT, NULL, "no request body bytes for %llu ms",
                              (unsigned long long)lim->body_timeout_ms);
        return;
    }
    if (!st->built && quiet >= lim->header_timeout_ms) { /* a head that never completed */
        c->x->info.outcome = PT_OUT_HEADER_TIMEOUT;
        reset(c, NGHTTP2_CANCEL);
        return;
    }
    if (c->resp_started && !st->sent_end && lim->send_timeout_ms && pt__h2s_write_queue(c) &&
        quiet >= lim->send_timeout_ms) {
        pt_log_info("resetting a stream from %s: client stopped reading the response", c->x->peer);
        c->x->info.outcome = PT_OUT_SEND_TIMEOUT;
        reset(c, NGHTTP2_CANCEL);
    }
}

/* Streams are swept every TICK_MS, sooner when a gRPC call's deadline comes first. */
static uint64_t next_sweep_ms(const pt_h2 *h, uint64_t now)
{
    uint64_t ms = TICK_MS;
    for (const pt_h2_stream *st = h->streams; st; st = st->next)
        if (st->deadline_ms && !st->closed)
            ms = st->deadline_ms <= now ? 1 : st->deadline_ms - now < ms ? st->deadline_ms - now : ms;
    return ms;
}

void pt__h2_on_timer(pt_conn *c)
{
    pt_h2 *h = c->h2;
    free_zombies(h);
    h->ticking = false;
    if (h->closed) return;
    uint64_t now = pt_now_ms();
    h->hold = true; /* frames go out after the sweep, so no stream closes under it */
    pt_h2_stream *next;
    for (pt_h2_stream *st = h->streams; st; st = next) {
        next = st->next;
        stream_tick(st, now);
    }
    h->hold = false;
    h2_send(h);
    if (h->closed) return;
    if (h->nstreams) {
        h->ticking = true;
        pt__conn_timer(c, next_sweep_ms(h, now));
        return;
    }
    uint64_t idle = c->srv->limits.idle_timeout_ms, quiet = since(now, h->last_active_ms);
    if (quiet < idle) {
        pt__conn_timer(c, idle - quiet);
        return;
    }
    h->goaway = true;
    nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR);
    h2_send(h);
}

void pt__h2_goaway(pt_conn *c)
{
    pt_h2 *h = c->h2;
    if (h->goaway || h->closed) return;
    h->goaway = true;
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    h2_send(h);
}

void pt__h2_mark_all(pt_conn *c, pt_outcome o)
{
    c->h2->close_outcome = o;
}

void pt__h2_close(pt_conn *c)
{
    pt_h2 *h = c->h2;
    if (h->closed) return;
    h->closed = true;
    /* closed before the socket, whose close callback leads to pt__h2_free: the handle's
     * own close has run by then */
    uv_close((uv_handle_t *)&h->flush, NULL);
    while (h->streams) stream_finish(h->streams);
}

void pt__h2_free(pt_conn *c)
{
    pt_h2 *h = c->h2;
    pt__h2_close(c);
    free_zombies(h);
    nghttp2_session_del(h->ng);
    pt_buf_release(&h->wbuf);
    free(h);
    c->h2 = NULL;
}
