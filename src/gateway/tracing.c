/* tracing.c: trace context and spans on the request path (see tracing.h). */
#include "gateway/tracing.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ai/ai.h"
#include "core/log.h"
#include "core/prom.h"
#include "core/rand.h"
#include "core/str.h"
#include "gateway/metrics.h"
#include "trace/context.h"
#include "trace/otlp.h"
#include "trace/span.h"

/* A request's trace, in its pool. */
typedef struct req_trace {
    pt_trace_ids ids;            /* first: what the inline accessors read */
    uint8_t trace_id[16], span_id[8], parent_id[8]; /* parent all zero: the gateway span is the root */
    bool sampled;
    uint64_t start_ns;
    pt_slice tracestate;         /* the client's, passed on; empty when none */
} req_trace;

static pt_otlp *_Atomic exporter;

/* ---- metrics and lifecycle --------------------------------------------------------------- */

static void render(pt_prom *p, void *arg)
{
    (void)arg;
    pt_otlp *e = atomic_load(&exporter);
    if (!e) return;
    pt_otlp_stats s;
    pt_otlp_stats_get(e, &s);
    pt_prom_single(p, "portico_trace_spans_exported_total", "counter", "Spans the collector accepted.", s.exported);
    pt_prom_single(p, "portico_trace_spans_dropped_total", "counter",
                   "Spans lost: the exporter's queue was full, or the collector did not take them.", s.dropped);
    pt_prom_single(p, "portico_trace_export_failures_total", "counter", "Exports to the collector that failed (each try).",
                   s.failed_posts);
}

void pt_tracing_start(const pt_config *cfg)
{
    pt_metrics_add_renderer(render, NULL);
    const pt_trace_cfg *t = &cfg->tracing;
    if (!t->enabled) return;
    pt_otlp_opts o = { .tls = t->tls, .host = t->host, .port = t->port, .path = t->path,
                       .headers = (const char *const *)t->headers, .nheaders = t->nheaders,
                       .timeout_ms = t->timeout_ms, .retries = (unsigned)t->retries,
                       .flush_ms = (unsigned)t->flush_ms, .service_name = t->service_name };
    pt_otlp *e = pt_otlp_new(&o);
    if (!e) {
        pt_log_error("tracing: the exporter could not start; spans are not exported");
        return;
    }
    atomic_store(&exporter, e);
}

void pt_tracing_stop(void) { pt_otlp_free(atomic_exchange(&exporter, NULL)); }

/* ---- the request's trace -------------------------------------------------------------------- */

/* The client's tracestate headers joined with commas, into the pool; empty when there is
 * none or it may not be passed on. */
static pt_slice client_tracestate(pt_request *req)
{
    size_t total = 0, n = 0;
    for (unsigned i = 0; i < req->nheaders; i++)
        if (pt_slice_case_eq_cstr(req->headers[i].name, "tracestate")) total += req->headers[i].value.len + (n++ ? 1 : 0);
    if (!n || total > PT_TRACESTATE_MAX) return PT_SLICE_NULL;
    char *out = pt_req_alloc(req, total);
    if (!out) return PT_SLICE_NULL;
    size_t off = 0;
    for (unsigned i = 0; i < req->nheaders; i++) {
        if (!pt_slice_case_eq_cstr(req->headers[i].name, "tracestate")) continue;
        if (off) out[off++] = ',';
        memcpy(out + off, req->headers[i].value.ptr, req->headers[i].value.len);
        off += req->headers[i].value.len;
    }
    pt_slice s = pt_slice_from(out, off);
    return pt_tracestate_ok(s) ? s : PT_SLICE_NULL;
}

/* The client's one traceparent header; NULL when there is none or several (which the
 * specification treats as invalid: they cannot be one value). */
static const pt_header *client_traceparent(const pt_request *req)
{
    const pt_header *found = NULL;
    for (unsigned i = 0; i < req->nheaders; i++) {
        if (!pt_slice_case_eq_cstr(req->headers[i].name, "traceparent")) continue;
        if (found) return NULL;
        found = &req->headers[i];
    }
    return found;
}

void pt_tracing_begin(pt_conn *c, pt_request *req, const pt_config *cfg)
{
    req_trace *t = pt_req_alloc(req, sizeof *t);
    if (!t) return; /* out of memory: the request goes untraced */
    memset(t, 0, sizeof *t);
    t->start_ns = pt_span_now_ns();
    const pt_header *h = client_traceparent(req);
    pt_trace_ctx ctx;
    if (h && pt_traceparent_parse(h->value, &ctx) == 0) {
        memcpy(t->trace_id, ctx.trace_id, 16);
        memcpy(t->parent_id, ctx.parent_id, 8);
        t->sampled = ctx.flags & PT_TRACE_FLAG_SAMPLED;
        t->tracestate = client_tracestate(req); /* only with a valid traceparent */
    } else {
        pt_trace_new_id(t->trace_id, 16);
        t->sampled = pt_trace_cfg_sample(&cfg->tracing, pt_rand64());
    }
    pt_trace_new_id(t->span_id, 8);
    pt_trace_hex(t->trace_id, 16, t->ids.trace_hex);
    pt_trace_hex(t->span_id, 8, t->ids.span_hex);
    pt_conn_info(c)->trace = t;
}

bool pt__tracing_own_header(pt_slice name)
{
    return pt_slice_case_eq_cstr(name, "traceparent") || pt_slice_case_eq_cstr(name, "tracestate");
}

/* ---- spans ------------------------------------------------------------------------------------ */

void pt__tracing_attempt_start(const void *trace, pt_trace_attempt *a, pt_buf *head)
{
    const req_trace *t = trace;
    pt_trace_new_id(a->span_id, 8);
    a->start_ns = pt_span_now_ns();
    a->status = 0;
    a->open = true;
    char tp[PT_TRACEPARENT_LEN + 1];
    pt_traceparent_write(tp, t->trace_id, a->span_id, t->sampled ? PT_TRACE_FLAG_SAMPLED : 0);
    pt_buf_append_str(head, "traceparent: ");
    pt_buf_append(head, tp, PT_TRACEPARENT_LEN);
    pt_buf_append(head, "\r\n", 2);
    if (t->tracestate.len) {
        pt_buf_append_str(head, "tracestate: ");
        pt_buf_append_slice(head, t->tracestate);
        pt_buf_append(head, "\r\n", 2);
    }
}

/* A span of the trace: its ids, and whether it is to be recorded at all. */
static bool span_init(pt_span *s, const req_trace *t, const uint8_t span_id[8], const uint8_t parent_id[8])
{
    if (!t->sampled || !atomic_load_explicit(&exporter, memory_order_acquire)) return false;
    memset(s, 0, sizeof *s);
    memcpy(s->trace_id, t->trace_id, 16);
    memcpy(s->span_id, span_id, 8);
    memcpy(s->parent_id, parent_id, 8);
    return true;
}

static void emit(const pt_span *s)
{
    pt_otlp *e = atomic_load_explicit(&exporter, memory_order_acquire);
    if (e) pt_otlp_push(e, s);
}

/* Ends an attempt's span: false when it is not to be recorded (not open, not sampled). */
static bool attempt_end(const req_trace *t, pt_trace_attempt *a, pt_span *s)
{
    if (!t || !a->open) return false;
    a->open = false;
    if (!span_init(s, t, a->span_id, t->span_id)) return false;
    s->kind = PT_SPAN_CLIENT;
    s->start_ns = a->start_ns;
    s->end_ns = pt_span_now_ns();
    return true;
}

void pt_tracing_proxy_end(const void *trace, pt_trace_attempt *a, pt_slice method, const pt_target *tg, pt_slice path,
                          const char *error)
{
    pt_span s;
    if (!attempt_end(trace, a, &s)) return;
    s.name = method;
    s.status = error || a->status >= 400 ? PT_SPAN_ERROR : PT_SPAN_UNSET;
    pt_span_str(&s, "http.request.method", method);
    pt_span_str(&s, "server.address", pt_slice_cstr(tg->host));
    pt_span_int(&s, "server.port", tg->port);
    pt_span_str(&s, "url.path", path);
    pt_span_str(&s, "portico.target", pt_slice_cstr(tg->url));
    if (a->status) pt_span_int(&s, "http.response.status_code", a->status);
    if (error) pt_span_str(&s, "error.type", pt_slice_cstr(error));
    emit(&s);
}

/* gen_ai.system's well-known values for each provider type. */
static const char *gen_ai_system(pt_ai_prov_type type)
{
    switch (type) {
    case PT_AI_PROV_AZURE: return "az.ai.openai";
    case PT_AI_PROV_GEMINI: return "gcp.gemini";
    case PT_AI_PROV_MISTRAL: return "mistral_ai";
    case PT_AI_PROV_ANTHROPIC: return "anthropic";
    case PT_AI_PROV_BEDROCK: return "aws.bedrock";
    case PT_AI_PROV_VERTEX: return "gcp.vertex_ai";
    default: return "openai";
    }
}

void pt_tracing_ai_end(const void *trace, pt_trace_attempt *a, const pt_ai_attempt *at, const pt_ai_result *r,
                       bool aborted)
{
    pt_span s;
    if (!attempt_end(trace, a, &s)) return;
    const char *model = r->upstream_model ? r->upstream_model : at->upstream_model;
    char name[160];
    s.name = pt_slice_cstr(pt_str_join(name, sizeof name, "chat ", model ? model : ""));
    s.status = aborted || r->kind != PT_AI_OK ? PT_SPAN_ERROR : PT_SPAN_UNSET;
    pt_span_str(&s, "gen_ai.operation.name", PT_SLICE_LIT("chat"));
    pt_span_str(&s, "gen_ai.system", pt_slice_cstr(gen_ai_system(at->provider->type)));
    pt_span_str(&s, "gen_ai.request.model", pt_slice_cstr(model));
    pt_span_int(&s, "gen_ai.usage.input_tokens", pt_usage_get(r->usage.input));
    pt_span_int(&s, "gen_ai.usage.output_tokens", pt_usage_get(r->usage.output));
    pt_span_str(&s, "portico.provider", pt_slice_cstr(at->provider->name));
    if (at->model) pt_span_str(&s, "portico.model", pt_slice_cstr(at->model->name));
    pt_span_str(&s, "server.address", pt_slice_cstr(at->provider->host));
    pt_span_int(&s, "server.port", at->provider->port);
    if (r->upstream_status) pt_span_int(&s, "http.response.status_code", r->upstream_status);
    if (aborted) pt_span_str(&s, "error.type", PT_SLICE_LIT("client_closed"));
    else if (r->kind != PT_AI_OK) pt_span_str(&s, "error.type", pt_slice_cstr(pt_ai_err_kind_name(r->kind)));
    emit(&s);
}

void pt__tracing_done(pt_conn *c, const pt_request *req, const pt_req_info *info, int status, uint64_t total_us)
{
    const req_trace *t = info->trace;
    pt_span s;
    if (!span_init(&s, t, t->span_id, t->parent_id)) return;
    char name[160], method[24];
    size_t mlen = req->method_name.len < sizeof method - 2 ? req->method_name.len : sizeof method - 2;
    memcpy(method, req->method_name.ptr, mlen);
    method[mlen] = info->route ? ' ' : '\0';
    method[mlen + 1] = '\0';
    s.name = pt_slice_cstr(pt_str_join(name, sizeof name, method, info->route ? info->route : ""));
    s.kind = PT_SPAN_SERVER;
    s.end_ns = pt_span_now_ns();
    s.start_ns = s.end_ns - total_us * 1000 < t->start_ns ? s.end_ns - total_us * 1000 : t->start_ns;
    s.status = status >= 500 || status == 0 ? PT_SPAN_ERROR : PT_SPAN_UNSET;
    pt_span_str(&s, "http.request.method", req->method_name);
    pt_span_str(&s, "url.path", req->path);
    pt_span_str(&s, "url.scheme", pt_conn_is_tls(c) ? PT_SLICE_LIT("https") : PT_SLICE_LIT("http"));
    if (req->host.len) pt_span_str(&s, "server.address", req->host);
    pt_span_str(&s, "client.address", pt_slice_cstr(pt_conn_peer(c)));
    if (status) pt_span_int(&s, "http.response.status_code", status);
    pt_span_str(&s, "portico.request_id", pt_slice_cstr(req->request_id));
    pt_span_str(&s, "portico.route", pt_slice_cstr(info->route));
    pt_span_str(&s, "portico.service", pt_slice_cstr(info->service));
    if (info->outcome != PT_OUT_OK) pt_span_str(&s, "error.type", pt_slice_cstr(pt_outcome_log_name(info->outcome)));
    emit(&s);
}
