/* otlp.c: the span exporter (see otlp.h): packing on the worker, the OTLP/HTTP JSON
 * document and the blocking POST on the writer thread.
 *
 * A packed span is a fixed header followed by the name and the attributes, so a worker
 * does one memcpy into the queue and the writer reads the batch in place. */
#include "trace/otlp.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/spool.h"
#include "http/post.h"
#include "trace/context.h"
#include "version.h"

#define DEFAULT_QUEUE ((size_t)4 << 20)
#define SPANS_PER_POST 512
#define WARN_EVERY_MS 10000
#define KEY_MAX 63

typedef struct packed {
    uint32_t size;               /* header, name and attributes */
    uint8_t trace_id[16], span_id[8], parent_id[8];
    uint8_t kind, status, nattrs, pad;
    uint16_t name_len;
    uint64_t start_ns, end_ns;
} packed;

/* After the name, per attribute: key length (1 byte), 1 for a string / 0 for an integer,
 * the value's length (2 bytes, strings only), the key, then the value. */
#define PACKED_MAX (sizeof(packed) + PT_SPAN_STR_MAX + PT_SPAN_MAX_ATTRS * (4 + KEY_MAX + PT_SPAN_STR_MAX))

struct pt_otlp {
    pt_spool *spool;
    pt_post_url to;
    char *service_name, *headers; /* headers: the lines, each ending in CRLF */
    uint64_t timeout_ms;
    unsigned retries;
    _Atomic bool stopping;
    _Atomic uint64_t exported, dropped, failed_posts, last_warn_ms;
};

/* ---- spans ---------------------------------------------------------------------------- */

void pt_span_str(pt_span *s, const char *key, pt_slice v)
{
    if (!v.ptr || s->nattrs == PT_SPAN_MAX_ATTRS) return;
    s->attrs[s->nattrs++] = (pt_span_attr){ .key = key, .str = v };
}

void pt_span_int(pt_span *s, const char *key, int64_t v)
{
    if (s->nattrs == PT_SPAN_MAX_ATTRS) return;
    s->attrs[s->nattrs++] = (pt_span_attr){ .key = key, .num = v };
}

uint64_t pt_span_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- packing (the worker's thread) ------------------------------------------------------ */

static size_t put(char *out, const void *p, size_t n)
{
    memcpy(out, p, n);
    return n;
}

static size_t pack(const pt_span *s, char *buf)
{
    packed h = { .kind = (uint8_t)s->kind, .status = (uint8_t)s->status, .start_ns = s->start_ns, .end_ns = s->end_ns };
    memcpy(h.trace_id, s->trace_id, 16);
    memcpy(h.span_id, s->span_id, 8);
    memcpy(h.parent_id, s->parent_id, 8);
    h.name_len = (uint16_t)(s->name.len > PT_SPAN_STR_MAX ? PT_SPAN_STR_MAX : s->name.len);
    size_t off = sizeof h;
    off += put(buf + off, s->name.ptr, h.name_len);
    for (unsigned i = 0; i < s->nattrs && i < PT_SPAN_MAX_ATTRS; i++) {
        const pt_span_attr *a = &s->attrs[i];
        size_t klen = strlen(a->key);
        uint8_t kl = (uint8_t)(klen > KEY_MAX ? KEY_MAX : klen), is_str = a->str.ptr != NULL;
        buf[off++] = (char)kl;
        buf[off++] = (char)is_str;
        if (is_str) {
            uint16_t vl = (uint16_t)(a->str.len > PT_SPAN_STR_MAX ? PT_SPAN_STR_MAX : a->str.len);
            off += put(buf + off, &vl, 2);
            off += put(buf + off, a->key, kl);
            off += put(buf + off, a->str.ptr, vl);
        } else {
            off += put(buf + off, a->key, kl);
            off += put(buf + off, &a->num, 8);
        }
        h.nattrs++;
    }
    h.size = (uint32_t)off;
    memcpy(buf, &h, sizeof h);
    return off;
}

/* Reads one packed span back; its slices point into rec. Returns its size. Keys are not
 * NUL-terminated in a batch, so they are copied into keys (KEY_MAX + 1 each). */
static size_t unpack(const char *rec, pt_span *s, char (*keys)[KEY_MAX + 1])
{
    packed h;
    memcpy(&h, rec, sizeof h);
    memset(s, 0, sizeof *s);
    memcpy(s->trace_id, h.trace_id, 16);
    memcpy(s->span_id, h.span_id, 8);
    memcpy(s->parent_id, h.parent_id, 8);
    s->kind = h.kind;
    s->status = h.status;
    s->start_ns = h.start_ns;
    s->end_ns = h.end_ns;
    const char *p = rec + sizeof h;
    s->name = pt_slice_from(p, h.name_len);
    p += h.name_len;
    for (unsigned i = 0; i < h.nattrs; i++) {
        uint8_t kl = (uint8_t)p[0], is_str = (uint8_t)p[1];
        p += 2;
        uint16_t vl = 0;
        if (is_str) {
            memcpy(&vl, p, 2);
            p += 2;
        }
        memcpy(keys[i], p, kl);
        keys[i][kl] = '\0';
        p += kl;
        pt_span_attr *a = &s->attrs[s->nattrs++];
        a->key = keys[i];
        if (is_str) {
            a->str = pt_slice_from(p, vl);
            p += vl;
        } else {
            memcpy(&a->num, p, 8);
            p += 8;
        }
    }
    return h.size;
}

static void warn(pt_otlp *e, const char *what)
{
    uint64_t now = pt_now_ms(), last = atomic_load_explicit(&e->last_warn_ms, memory_order_relaxed);
    if (last && now - last < WARN_EVERY_MS) return;
    if (!atomic_compare_exchange_strong(&e->last_warn_ms, &last, now)) return;
    pt_log_warn("tracing: %s; %llu spans dropped so far (portico_trace_spans_dropped_total)", what,
                (unsigned long long)atomic_load(&e->dropped));
}

bool pt_otlp_push(pt_otlp *e, const pt_span *s)
{
    char buf[PACKED_MAX];
    size_t n = pack(s, buf);
    if (pt_spool_push(e->spool, buf, n) == 0) return true;
    atomic_fetch_add_explicit(&e->dropped, 1, memory_order_relaxed);
    warn(e, "the exporter is behind and its queue is full");
    return false;
}

/* ---- the OTLP JSON document ------------------------------------------------------------- */

static void json_str(pt_buf *b, pt_slice s)
{
    pt_buf_append(b, "\"", 1);
    pt_buf_append_json_escaped(b, s.ptr ? s.ptr : "", s.len);
    pt_buf_append(b, "\"", 1);
}

/* The document is written without printf: it is the exporter's main cost per span. */
static void json_id(pt_buf *b, const char *key, const uint8_t *id, size_t n)
{
    char hex[33];
    pt_trace_hex(id, n, hex);
    pt_buf_append_str(b, key);
    pt_buf_append(b, hex, 2 * n);
    pt_buf_append(b, "\"", 1);
}

/* An int64 as a JSON string (the protobuf JSON mapping of int64 and fixed64). */
static void json_i64(pt_buf *b, int64_t v)
{
    pt_buf_append(b, "\"", 1);
    if (v < 0) pt_buf_append(b, "-", 1);
    pt_buf_append_u64(b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    pt_buf_append(b, "\"", 1);
}

static void json_attr(pt_buf *b, const pt_span_attr *a)
{
    pt_buf_append_str(b, "{\"key\":\"");
    pt_buf_append_str(b, a->key); /* the program's own names (span.h): nothing to escape */
    pt_buf_append(b, "\"", 1);
    if (a->str.ptr) {
        pt_buf_append_str(b, ",\"value\":{\"stringValue\":");
        json_str(b, a->str);
        pt_buf_append_str(b, "}}");
    } else {
        pt_buf_append_str(b, ",\"value\":{\"intValue\":");
        json_i64(b, a->num);
        pt_buf_append_str(b, "}}");
    }
}

static void json_span(pt_buf *b, const pt_span *s)
{
    static const uint8_t zero[8];
    pt_buf_append_str(b, "{\"name\":");
    json_str(b, s->name);
    json_id(b, ",\"traceId\":\"", s->trace_id, 16);
    json_id(b, ",\"spanId\":\"", s->span_id, 8);
    if (memcmp(s->parent_id, zero, 8) != 0) json_id(b, ",\"parentSpanId\":\"", s->parent_id, 8);
    pt_buf_append_str(b, ",\"kind\":");
    pt_buf_append_u64(b, (unsigned)s->kind);
    pt_buf_append_str(b, ",\"startTimeUnixNano\":");
    json_i64(b, (int64_t)s->start_ns);
    pt_buf_append_str(b, ",\"endTimeUnixNano\":");
    json_i64(b, (int64_t)s->end_ns);
    pt_buf_append_str(b, ",\"attributes\":[");
    for (unsigned i = 0; i < s->nattrs; i++) {
        if (i) pt_buf_append(b, ",", 1);
        json_attr(b, &s->attrs[i]);
    }
    pt_buf_append_str(b, "],\"status\":{\"code\":");
    pt_buf_append_u64(b, (unsigned)s->status);
    pt_buf_append_str(b, "}}");
}

void pt__otlp_render(const char *service_name, const pt_span *spans, size_t n, char **out, size_t *len)
{
    pt_buf b = PT_BUF_INIT;
    pt_buf_append_str(&b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                          "\"value\":{\"stringValue\":");
    json_str(&b, pt_slice_cstr(service_name));
    pt_buf_append_str(&b, "}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"portico\",\"version\":\"" PT_VERSION
                          "\"},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) pt_buf_append(&b, ",", 1);
        json_span(&b, &spans[i]);
    }
    pt_buf_append_str(&b, "]}]}]}");
    *out = pt_buf_detach(&b, len);
}

/* ---- the POST (the writer thread) ------------------------------------------------------- */

/* One POST of body: the collector's status, or -1 for a network failure or timeout. */
static int post(pt_otlp *e, const char *body, size_t len)
{
    return pt_http_post(&e->to, e->headers, "application/json", body, len, e->timeout_ms, NULL, 0);
}

/* Sends one document with bounded retries; true when the collector took it. */
static bool export_doc(pt_otlp *e, const char *body, size_t len)
{
    unsigned tries = atomic_load(&e->stopping) ? 1 : 1 + e->retries;
    for (unsigned i = 0; i < tries; i++) {
        if (i) { /* 100 ms, 200 ms, 400 ms ... between tries */
            struct timespec ts = { 0, (long)(100000000L << (i - 1 < 3 ? i - 1 : 3)) };
            if (ts.tv_nsec >= 1000000000L) ts = (struct timespec){ 1, ts.tv_nsec - 1000000000L };
            nanosleep(&ts, NULL);
        }
        int status = post(e, body, len);
        if (status >= 200 && status < 300) return true;
        atomic_fetch_add(&e->failed_posts, 1);
        if (status >= 400 && status < 500 && status != 429 && status != 408) return false; /* refused: no retry */
    }
    return false;
}

static void send_spans(pt_otlp *e, const pt_span *spans, size_t n)
{
    char *doc;
    size_t len;
    pt__otlp_render(e->service_name, spans, n, &doc, &len);
    if (doc && export_doc(e, doc, len)) {
        atomic_fetch_add(&e->exported, n);
    } else {
        atomic_fetch_add(&e->dropped, n);
        warn(e, "the collector did not take a batch of spans");
    }
    free(doc);
}

typedef struct batch {
    pt_span spans[SPANS_PER_POST];
    char keys[SPANS_PER_POST][PT_SPAN_MAX_ATTRS][KEY_MAX + 1];
} batch;

static void on_batch(void *arg, const char *data, size_t n)
{
    pt_otlp *e = arg;
    if (!n) return;
    batch *b = malloc(sizeof *b);
    if (!b) return;
    size_t k = 0;
    for (size_t off = 0; off < n;) {
        off += unpack(data + off, &b->spans[k], b->keys[k]);
        if (++k == SPANS_PER_POST) {
            send_spans(e, b->spans, k);
            k = 0;
        }
    }
    if (k) send_spans(e, b->spans, k);
    free(b);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void free_exporter(pt_otlp *e)
{
    free(e->service_name);
    free(e->headers);
    free(e);
}

pt_otlp *pt_otlp_new(const pt_otlp_opts *o)
{
    pt_otlp *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    pt_buf h = PT_BUF_INIT;
    for (size_t i = 0; i < o->nheaders; i++) pt_buf_printf(&h, "%s\r\n", o->headers[i]);
    e->to = (pt_post_url){ .tls = o->tls, .port = o->port };
    int hn = snprintf(e->to.host, sizeof e->to.host, "%s", o->host);
    int pn = snprintf(e->to.path, sizeof e->to.path, "%s", o->path && o->path[0] ? o->path : "/v1/traces");
    e->service_name = strdup(o->service_name ? o->service_name : "portico");
    e->headers = h.data ? pt_buf_detach(&h, NULL) : strdup("");
    e->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
    e->retries = o->retries;
    if ((size_t)hn >= sizeof e->to.host || (size_t)pn >= sizeof e->to.path || !e->service_name || !e->headers) goto fail;
    pt_spool_opts so = { .cap = o->queue_bytes ? o->queue_bytes : DEFAULT_QUEUE, .flush_ms = o->flush_ms ? o->flush_ms : 1000,
                         .name = "otlp", .fn = on_batch, .arg = e };
    so.flush_bytes = so.cap / 4;
    e->spool = pt_spool_new(&so);
    if (!e->spool) goto fail;
    return e;
fail:
    pt_buf_release(&h);
    free_exporter(e);
    return NULL;
}

void pt_otlp_sync(pt_otlp *e) { pt_spool_sync(e->spool); }

void pt_otlp_stats_get(pt_otlp *e, pt_otlp_stats *out)
{
    out->exported = atomic_load(&e->exported);
    out->dropped = atomic_load(&e->dropped);
    out->failed_posts = atomic_load(&e->failed_posts);
}

void pt_otlp_free(pt_otlp *e)
{
    if (!e) return;
    atomic_store(&e->stopping, true);
    pt_spool_free(e->spool);
    free_exporter(e);
}
