/* ai_route.c: serves the AI endpoints over the engine (see ai_route.h).
 *
 * Life of an AI request: read the whole client body (capped by max_body_bytes) ->
 * parse and validate it once (ai/) -> build the plan of (provider, model, key) attempts
 * -> for each attempt render the upstream request and run one exchange, feeding the
 * answer to the call, which emits client bytes as they exist (event by event for
 * streams) -> on a failure before the first emitted byte, the next attempt; after it,
 * the stream can only be cut. Usage and cost of every call go to the access log line
 * and to the metrics.
 *
 * The request's state (ai_req) lives in the request pool; a cleanup hook releases what
 * it owns after the access-log line. Every way out (answer, failure, client gone) only
 * detaches: ends the upstream exchange and lets go of the connection. */
#include "gateway/ai_route.h"

#include <inttypes.h>
#include <llhttp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"
#include "ai/cache.h"
#include "ai/stored.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/recycle.h"
#include "core/str.h"
#include "gateway/auth.h"
#include "gateway/limits_gate.h"
#include "gateway/mask_gate.h"
#include "gateway/metrics.h"
#include "gateway/proxy.h"
#include "gateway/resp_store.h"
#include "gateway/router.h"
#include "gateway/tracing.h"
#include "logs/calllog.h"

#define HIGH_MARK (256 * 1024)

typedef struct ai_req {
    pt_conn *conn;
    pt_request *req;
    const pt_ai_config *ai;
    const pt_route *route;
    pt_client *client;
    pt_ai_format fmt;
    pt_ai_endpoint ep;
    pt_buf body;
    pt_ai_request *areq;
    pt_ai_attempt at;
    int last_kind;
    bool have_last;
    pt_buf last_error_body;
    pt_call_ai call_ai;        /* the call log's AI figures; info->call_ai points here */
    bool have_unsupported;
    pt_ai_call *call;
    pt_exchange *x;
    pt_buf head;
    pt_trace_attempt span;     /* the current attempt's span when the request is traced */
    bool up_bad_response;      /* ...and it was a response that is not acceptable HTTP */
    bool started;              /* the client response head went out */
    bool hooked;               /* the answer goes to hooks (pt_ai_route_call), not the client */
    pt_ai_route_hooks hooks;
    bool gated;                /* masking or body logging applies (mask_gate.h) */
    bool masking;              /* the answer flows through masking rules */
    bool finished;
    void *limits;              /* the policies' state, settled on the usage at cleanup */
    uint64_t used_tokens, used_cost_micro;
    bool usage_unknown;        /* a call was cut after output went out, with no usage reported */
    const pt_ai_model *model;  /* the public model, once known */
    const char *cache_state;   /* X-Portico-Cache: "hit", "miss", "refresh"; NULL when the cache is not asked */
    bool cache_fill;           /* the answer is kept (cache_buf) and stored when the call ends well */
    pt_buf cache_buf;
    pt_ai_cached hit;          /* the cached answer being replayed (hit.body owned) */
    uint8_t cache_key[PT_AI_CACHE_KEY_LEN];
    /* Responses kept by Portico (gateway/resp_store.h) */
    pt_resp_job *job;          /* the previous response being looked up */
    bool store_want;           /* the answer is to be kept */
    bool kept;                 /* ...and was queued */
    bool prev_missing;         /* previous_response_id is not one Portico keeps for this caller */
    char resp_rid[40];         /* the kept response's id is resp_<this> */
    char prev_id[PT_AI_RESP_ID_MAX]; /* the kept response this request continues */
    /* Not zeroed when allocated (AI_REQ_ZEROED): each is written before it is read. */
    pt_ai_plan plan;           /* by pt_ai_plan_init, before the first attempt */
    pt_ai_result last;         /* the last failed attempt, for the final error (have_last) */
    pt_ai_error unsupported;   /* why a target could not take the request (files, audio...; have_unsupported) */
    char up_why[224];          /* the transport cause of this attempt's failure, "" when none */
} ai_req;
#define AI_REQ_ZEROED offsetof(ai_req, plan)

/* ---- usage metrics ------------------------------------------------------------------ */

typedef struct ai_series {
    char *provider, *model;
    _Atomic uint64_t calls_ok, calls_failed, calls_aborted, input, output, cache_read, cache_write, cost_pico;
    _Atomic uint64_t ttft_us_sum, ttft_count;
    _Atomic bool priced;          /* a call of the pair had a price: its cost is a number */
    _Atomic bool unpriced_warned; /* the pair's missing price was logged (once) */
    struct ai_series *next;
} ai_series;

static pthread_mutex_t series_lock = PTHREAD_MUTEX_INITIALIZER;
static ai_series *_Atomic series_head;

/* Interned by (provider, model); lock only when a pair is seen for the first time. */
static ai_series *series_get(const char *provider, const char *model)
{
    for (ai_series *s = atomic_load(&series_head); s; s = s->next)
        if (strcmp(s->provider, provider) == 0 && strcmp(s->model, model) == 0) return s;
    pthread_mutex_lock(&series_lock);
    ai_series *s;
    for (s = atomic_load(&series_head); s; s = s->next)
        if (strcmp(s->provider, provider) == 0 && strcmp(s->model, model) == 0) break;
    if (!s && (s = calloc(1, sizeof *s))) {
        s->provider = strdup(provider);
        s->model = strdup(model);
        s->next = atomic_load(&series_head);
        atomic_store(&series_head, s);
    }
    pthread_mutex_unlock(&series_lock);
    return s;
}

static void add(_Atomic uint64_t *c, uint64_t v) { atomic_fetch_add_explicit(c, v, memory_order_relaxed); }

static void sample(pt_prom *p, const char *name, const char *suffix, const ai_series *s)
{
    pt_prom_sample(p, name, suffix);
    pt_prom_label(p, "provider", s->provider);
    pt_prom_label(p, "model", s->model);
}

static _Atomic bool cache_used; /* a model with cache: was asked: the cache's figures are shown */

static void render_cache(pt_prom *p)
{
    pt_ai_cache *c = atomic_load(&cache_used) ? pt_ai_cache_shared() : NULL;
    if (!c) return;
    pt_ai_cache_stats st;
    c->ops->stats(c, &st);
    static const char *const looks = "portico_ai_cache_lookups_total";
    pt_prom_family(p, looks, "counter", "AI response cache lookups, by result (hit, miss).");
    pt_prom_sample(p, looks, NULL);
    pt_prom_label(p, "result", "hit");
    pt_prom_value_u64(p, st.hits);
    pt_prom_sample(p, looks, NULL);
    pt_prom_label(p, "result", "miss");
    pt_prom_value_u64(p, st.misses);
    pt_prom_single(p, "portico_ai_cache_stores_total", "counter", "Answers stored in the AI response cache.", st.stores);
    pt_prom_single(p, "portico_ai_cache_evictions_total", "counter",
                   "Entries evicted from the AI response cache to keep it within limits.ai_cache_size.", st.evictions);
    pt_prom_single(p, "portico_ai_cache_entries", "gauge", "Entries in the AI response cache.", st.entries);
    pt_prom_single(p, "portico_ai_cache_bytes", "gauge", "Bytes the AI response cache holds.", st.bytes);
    pt_prom_family(p, "portico_ai_cache_saved_usd_total", "counter",
                   "What the answers served from the AI response cache cost when they were made, in US dollars.");
    pt_prom_sample(p, "portico_ai_cache_saved_usd_total", NULL);
    pt_prom_value_fixed(p, st.saved_micro_usd, 6);
}

static void render(pt_prom *p, void *arg)
{
    render_cache(p);
    ai_series *head = atomic_load(&series_head);
    if (!head) return;
    static const char *const calls = "portico_ai_calls_total", *const outcomes[] = { "ok", "error", "client_closed" };
    pt_prom_family(p, calls, "counter", "AI calls by provider and upstream model, by outcome (ok, error, client_closed).");
    for (ai_series *s = head; s; s = s->next) {
        _Atomic uint64_t *v[] = { &s->calls_ok, &s->calls_failed, &s->calls_aborted };
        for (int k = 0; k < 3; k++) {
            sample(p, calls, NULL, s);
            pt_prom_label(p, "outcome", outcomes[k]);
            pt_prom_value_u64(p, atomic_load(v[k]));
        }
    }
    static const char *const tokens = "portico_ai_tokens_total",
                             *const kinds[] = { "input", "output", "cache_read", "cache_write" };
    pt_prom_family(p, tokens, "counter", "Tokens reported by the provider (streams included).");
    for (ai_series *s = head; s; s = s->next) {
        _Atomic uint64_t *v[] = { &s->input, &s->output, &s->cache_read, &s->cache_write };
        for (int k = 0; k < 4; k++) {
            sample(p, tokens, NULL, s);
            pt_prom_label(p, "kind", kinds[k]);
            pt_prom_value_u64(p, atomic_load(v[k]));
        }
    }
    pt_prom_family(p, "portico_ai_cost_usd_total", "counter",
                   "Cost from the price table, in US dollars (no sample for models without a price).");
    for (ai_series *s = head; s; s = s->next) {
        if (!atomic_load(&s->priced)) continue; /* unknown, not 0 */
        sample(p, "portico_ai_cost_usd_total", NULL, s);
        pt_prom_value_fixed(p, atomic_load(&s->cost_pico), 12);
    }
    static const char *const ttft = "portico_ai_time_to_first_token_seconds";
    pt_prom_family(p, ttft, "summary", "Time to the first generated token.");
    for (ai_series *s = head; s; s = s->next) {
        sample(p, ttft, "_sum", s);
        pt_prom_value_fixed(p, atomic_load(&s->ttft_us_sum), 6);
        sample(p, ttft, "_count", s);
        pt_prom_value_u64(p, atomic_load(&s->ttft_count));
    }
}

void pt_ai_route_metrics_init(void) { pt_metrics_add_renderer(render, NULL); }

/* The path the AI endpoints see: with strip_prefix, what follows the route's prefix
 * ("/team/v1/chat/completions" under "/team/" is "/v1/chat/completions"). */
static pt_slice ai_path(const pt_request *req, const pt_route *route)
{
    pt_slice p = req->path;
    if (!route || !route->strip_prefix || !route->path_prefix) return p;
    size_t n = strlen(route->path_prefix);
    if (n && route->path_prefix[n - 1] == '/') n--; /* keep the '/' that starts what follows */
    return n <= p.len ? pt_slice_from(p.ptr + n, p.len - n) : p;
}

/* The client format a request on an AI route speaks: the endpoint's, else Anthropic's
 * when the request carries anthropic-version, else OpenAI's. The header decides only the
 * model endpoints' format and that of a path that is none of them: it is looked for only
 * then. */
static pt_ai_format route_format(const pt_request *req, const pt_route *route, pt_ai_endpoint *ep, int *match)
{
    pt_ai_format fmt = PT_AI_FMT_OPENAI; /* kept on 404, unless a Gemini path */
    pt_slice path = ai_path(req, route);
    *match = pt_ai_match(req->method_name, path, false, &fmt, ep);
    if ((*match != 0 || *ep == PT_AI_EP_MODELS || *ep == PT_AI_EP_MODEL) &&
        pt_request_header(req, "anthropic-version")) {
        fmt = PT_AI_FMT_ANTHROPIC;
        *match = pt_ai_match(req->method_name, path, true, &fmt, ep);
    }
    return fmt;
}

pt_error_format pt_ai_route_error_format(const pt_request *req, const pt_route *route)
{
    pt_ai_endpoint ep;
    int match;
    return pt_ai_error_format(route_format(req, route, &ep, &match));
}

bool pt_ai_route_render_error(const pt_request *req, int status, const char *msg, pt_buf *body)
{
    pt_config *cfg = pt_config_current();
    const pt_route *route = cfg ? pt_router_match(cfg, req) : NULL;
    pt_ai_endpoint ep;
    int match;
    pt_ai_format fmt = route_format(req, route, &ep, &match);
    bool mine = route && route->kind == PT_ROUTE_AI;
    if (mine) {
        pt_ai_error err;
        pt_ai_err_kind kind = status == 429 ? PT_AI_ERR_RATE_LIMIT
                                : status >= 500 ? PT_AI_ERR_INTERNAL
                                                : PT_AI_ERR_INVALID;
        pt_ai_error_set(&err, kind, status, "", "%s", msg);
        mine = pt_ai_render_error(fmt, &err, body) == 0;
    }
    if (cfg) pt_config_release(cfg);
    return mine;
}

static void note_call(ai_req *a, const pt_ai_result *r);
static const char *log_members(ai_req *a, const pt_ai_result *r);

/* One finished call; aborted: the client went away before the answer was complete. */
static void record(ai_req *a, const pt_ai_result *r, bool aborted)
{
    if (a->span.open) pt_tracing_ai_end(pt_conn_info(a->conn)->trace, &a->span, &a->at, r, aborted);
    if (!r->provider || !r->upstream_model) return;
    ai_series *s = series_get(r->provider, r->upstream_model);
    if (!s) return;
    add(aborted ? &s->calls_aborted : r->kind == PT_AI_OK ? &s->calls_ok : &s->calls_failed, 1);
    add(&s->input, (uint64_t)pt_usage_get(r->usage.input));
    add(&s->output, (uint64_t)pt_usage_get(r->usage.output));
    add(&s->cache_read, (uint64_t)pt_usage_get(r->usage.cache_read));
    add(&s->cache_write, (uint64_t)pt_usage_get(r->usage.cache_write));
    add(&s->cost_pico, r->cost_pico_usd);
    if (r->cost_known) atomic_store(&s->priced, true);
    else if (r->kind == PT_AI_OK && !atomic_exchange(&s->unpriced_warned, true))
        pt_log_warn("AI model '%s' of provider '%s' has no price: its calls are logged with cost null and count 0 "
                    "toward cost budgets (set prices: on the provider)",
                    r->upstream_model, r->provider);
    uint64_t tokens = (uint64_t)pt_usage_get(r->usage.input) + (uint64_t)pt_usage_get(r->usage.output);
    a->used_tokens += tokens;
    a->used_cost_micro += r->cost_micro_usd;
    if (!tokens && r->kind != PT_AI_OK && (r->emitted || a->started)) a->usage_unknown = true;
    if (r->ttft_us) {
        add(&s->ttft_us_sum, r->ttft_us);
        add(&s->ttft_count, 1);
    }
    note_call(a, r);
}

/* The access log line and the call log carry the last call's figures (names escaped: they
 * come from the configuration and may hold any character). */
static void note_call(ai_req *a, const pt_ai_result *r)
{
    pt_req_info *info = pt_conn_info(a->conn);
    info->service = r->provider;
    a->call_ai = (pt_call_ai){ .provider = r->provider, .model = r->upstream_model,
                               .input_tokens = pt_usage_get(r->usage.input), .output_tokens = pt_usage_get(r->usage.output),
                               .cached_tokens = pt_usage_get(r->usage.cache_read), .cost_micro_usd = r->cost_micro_usd,
                               .cost_known = r->cost_known, .ttft_us = r->ttft_us, .cache = a->cache_state,
                               .saved_micro_usd = a->hit.body ? a->hit.cost_micro_usd : 0,
                               .saved_known = a->hit.body && a->hit.cost_known };
    info->call_ai = &a->call_ai;
    info->extra_json = log_members(a, r); /* replaces an earlier attempt's */
}

/* put: a string literal's bytes at o, which moves past them. */
#define put(o, lit) ((o) = (char *)memcpy((o), (lit), sizeof(lit) - 1) + sizeof(lit) - 1)

static char *put_str(char *o, const char *s, size_t n) { return (char *)memcpy(o, s, n) + n; }

/* The access log's "ai" member, written once into the request's pool (no buffer of its own
 * to allocate and free per call); NULL when the pool is full: the line goes without it. */
static const char *log_members(ai_req *a, const pt_ai_result *r)
{
    const char *format = pt_ai_format_name(a->fmt);
    size_t plen = strlen(r->provider), mlen = strlen(r->upstream_model);
    size_t flen = strlen(format), clen = a->cache_state ? strlen(a->cache_state) : 0;
    /* the literals and the eight numbers take under 512 bytes; names escape to 6x at most */
    char *m = pt_req_alloc_raw(a->req, 512 + flen + clen + 6 * (plen + mlen));
    if (!m) return NULL;
    char *o = m;
    put(o, "\"ai\":{\"format\":\"");
    o = put_str(o, format, flen);
    put(o, "\",\"provider\":\"");
    o = pt_json_escape_to(o, r->provider, plen);
    put(o, "\",\"model\":\"");
    o = pt_json_escape_to(o, r->upstream_model, mlen);
    put(o, "\",\"attempts\":");
    o = pt_u64_to(o, a->at.number + 1);
    put(o, ",\"input_tokens\":");
    o = pt_u64_to(o, (uint64_t)pt_usage_get(r->usage.input));
    put(o, ",\"output_tokens\":");
    o = pt_u64_to(o, (uint64_t)pt_usage_get(r->usage.output));
    put(o, ",\"cache_read_tokens\":");
    o = pt_u64_to(o, (uint64_t)pt_usage_get(r->usage.cache_read));
    put(o, ",\"cache_write_tokens\":");
    o = pt_u64_to(o, (uint64_t)pt_usage_get(r->usage.cache_write));
    /* fixed-point decimals from integers: 6 places for dollars, 3 for milliseconds */
    put(o, ",\"cost_usd\":");
    if (r->cost_known) o = pt_fixed_to(o, r->cost_micro_usd, 6);
    else put(o, "null"); /* no price: unknown, not free */
    put(o, ",\"ttft_ms\":");
    o = pt_fixed_to(o, r->ttft_us, 3);
    if (a->cache_state) {
        put(o, ",\"cache\":\"");
        o = put_str(o, a->cache_state, clen);
        put(o, "\"");
    }
    if (a->hit.body) { /* what the answer cost when it was made */
        put(o, ",\"cost_saved_usd\":");
        if (a->hit.cost_known) o = pt_fixed_to(o, a->hit.cost_micro_usd, 6);
        else put(o, "null");
    }
    if (r->passthrough) put(o, ",\"passthrough\":true}");
    else put(o, ",\"passthrough\":false}");
    *o = '\0';
    return m;
}
#undef put

/* The policies count the request's usage (once; the cleanup hook calls it for every way
 * out, call_end before the answer's end reaches the client, so its next call sees it). */
static void settle(ai_req *a)
{
    pt_limits_gate_settle(a->limits, !a->usage_unknown || a->used_tokens, a->used_tokens, a->used_cost_micro);
}

/* ---- answering ---------------------------------------------------------------------- */

/* No more upstream I/O for this request (idempotent; touches no connection). */
static void stop_upstream(ai_req *a)
{
    if (a->x) pt_exchange_cancel(a->x);
    a->x = NULL;
}

/* Before the call that ends the request: nothing more is wanted from either side. */
static void detach(ai_req *a)
{
    stop_upstream(a);
    pt_conn_set_sink(a->conn, NULL);
}

/* Appends to the client body, starting it in a recycled block. */
static int body_append(ai_req *a, const char *data, size_t n)
{
    int rc = pt_buf_start_block(&a->body);
    return rc ? rc : pt_buf_append(&a->body, data, n);
}

/* The request's cleanup hook: runs after the access-log line. */
static void ai_cleanup(void *arg)
{
    ai_req *a = arg;
    stop_upstream(a);
    pt_resp_store_cancel(a->job);
    settle(a);
    if (a->call) pt_ai_call_free(a->call);
    if (a->areq) pt_ai_request_free(a->areq);
    pt_buf_release_block(&a->body);
    pt_buf_release_block(&a->head);
    pt_buf_release(&a->last_error_body);
    pt_buf_release(&a->cache_buf);
    free(a->hit.body);
}

/* Answers with a body already in the client's error format. */
static void respond_error_body(pt_conn *conn, int status, uint64_t retry_after_ms, const pt_buf *body)
{
    char ra[24];
    pt_header h[2] = { { PT_SLICE_LIT("Content-Type"), PT_SLICE_LIT("application/json") } };
    size_t n = 1;
    if (retry_after_ms) {
        snprintf(ra, sizeof ra, "%" PRIu64, (retry_after_ms + 999) / 1000);
        h[n++] = (pt_header){ PT_SLICE_LIT("Retry-After"), pt_slice_cstr(ra) };
    }
    if (pt_conn_response_start(conn, status, h, n, (int64_t)body->len) != 0) return;
    pt_conn_response_body(conn, body->data, body->len);
    pt_conn_response_end(conn);
}

/* Ends the request with an error body already in the client's format (taken over), the
 * status and retry-after from err (fallback_status when it has none). */
static void fail_with_body(ai_req *a, const pt_ai_error *err, int fallback_status, pt_buf body, pt_outcome o)
{
    pt_conn *conn = a->conn;
    int status = err->status ? err->status : fallback_status;
    uint64_t ra = err->retry_after_ms;
    pt_conn_info(conn)->outcome = o;
    detach(a);
    respond_error_body(conn, status, ra, &body);
    pt_buf_release(&body);
}

static void fail_with_outcome(ai_req *a, const pt_ai_error *err, pt_outcome o)
{
    pt_buf body = PT_BUF_INIT;
    pt_ai_render_error(a->fmt, err, &body);
    fail_with_body(a, err, 500, body, o);
}

static void fail_with(ai_req *a, const pt_ai_error *err) { fail_with_outcome(a, err, PT_OUT_AI_ERROR); }

/* The last failed attempt's answer, as its error body was kept for the client. */
static void fail_with_last(ai_req *a, const pt_ai_error *err)
{
    pt_buf body = a->last_error_body;
    pt_buf_init(&a->last_error_body, 0);
    fail_with_body(a, err, 502, body, PT_OUT_AI_ERROR);
}

/* Keeps what goes to the client for the cache, while it fits the model's max_entry. */
static void cache_keep(ai_req *a, const char *bytes, size_t len)
{
    if (!a->cache_fill) return;
    if (a->cache_buf.len + len > a->model->cache.max_entry || pt_buf_append(&a->cache_buf, bytes, len) != 0) {
        a->cache_fill = false; /* too long to keep: served, not stored */
        pt_buf_release(&a->cache_buf);
    }
}

/* ---- kept responses --------------------------------------------------------------------- */

/* Whose kept responses these are: the caller's consumer, "" on a route without keys. */
static const char *owner(pt_conn *conn)
{
    const pt_auth *who = pt_conn_info(conn)->auth;
    return who && who->consumer ? who->consumer : "";
}

/* Queues the answer to be kept once it is whole, before its last byte reaches the client
 * (so the client's next request finds it). Not when masking rules rewrote what the client
 * saw: the unmasked answer is not kept. */
static void keep_response(ai_req *a)
{
    if (!a->store_want || a->kept || !a->call) return;
    pt_slice obj = pt_ai_call_response_object(a->call);
    if (!obj.len) return;
    a->kept = true;
    if (a->masking) {
        pt_log_info("request %s: the response is not kept: masking rules apply to it", a->req->request_id);
        return;
    }
    pt_buf input = PT_BUF_INIT;
    char id[64];
    snprintf(id, sizeof id, "resp_%s", a->resp_rid);
    if (pt_ai_stored_input(a->body.data ? a->body.data : "", a->body.len, &input) == 0)
        pt_resp_store_put(id, owner(a->conn), a->model ? a->model->name : "", pt_buf_slice(&input), obj);
    pt_buf_release(&input);
}

static int emit_client(ai_req *a, const char *bytes, size_t len)
{
    if (!a->started) {
        a->started = true;
        const char *ctype = a->hit.body ? a->hit.content_type
                            : a->call   ? pt_ai_call_content_type(a->call)
                                        : "application/json";
        bool sse = strcmp(ctype, "text/event-stream") == 0;
        char age[24];
        pt_header h[5] = {
            { PT_SLICE_LIT("Content-Type"), pt_slice_cstr(ctype) },
            { PT_SLICE_LIT("Cache-Control"), PT_SLICE_LIT("no-cache") },
            { PT_SLICE_LIT("X-Accel-Buffering"), PT_SLICE_LIT("no") },
        };
        size_t n = sse ? 3 : 1;
        if (a->cache_state) h[n++] = (pt_header){ PT_SLICE_LIT("X-Portico-Cache"), pt_slice_cstr(a->cache_state) };
        if (a->hit.body) {
            int64_t secs = ((int64_t)pt_now_ms() - a->hit.stored_ms) / 1000;
            snprintf(age, sizeof age, "%lld", (long long)(secs > 0 ? secs : 0));
            h[n++] = (pt_header){ PT_SLICE_LIT("Age"), pt_slice_cstr(age) };
        }
        /* a whole answer comes in this one call: its length is known (masking may change
         * it, so not when the answer goes through the masking rules) */
        bool whole = (a->hit.body || (a->call && pt_ai_call_is_whole(a->call))) && !sse && !a->gated;
        int rc = pt_conn_response_start(a->conn, 200, h, n, whole ? (int64_t)len : -1);
        if (rc) return rc;
        a->masking = a->gated && pt_mask_gate_response_start(pt_conn_info(a->conn), pt_slice_cstr(ctype));
    }
    pt_buf masked = PT_BUF_INIT;
    if (a->masking) {
        pt_mask_gate_response_body(pt_conn_info(a->conn), bytes, len, &masked);
        bytes = masked.data ? masked.data : "";
        len = masked.len;
    }
    if (a->gated) pt_mask_gate_keep(pt_conn_info(a->conn), 1, bytes, len);
    cache_keep(a, bytes, len);
    if (a->call && pt_ai_call_is_whole(a->call)) keep_response(a);
    int rc = pt_conn_response_body(a->conn, bytes, len);
    pt_buf_release(&masked);
    return rc;
}

static int emit(void *arg, const char *bytes, size_t len)
{
    ai_req *a = arg;
    int rc = a->hooked ? a->hooks.on_bytes(a->hooks.arg, bytes, len) : emit_client(a, bytes, len);
    if (rc) return rc;
    if (a->x && pt_conn_write_queue(a->conn) > HIGH_MARK) pt_exchange_pause(a->x);
    return 0;
}

static void next_attempt(ai_req *a);

/* Before the answer ends: what the masking rules held back goes out. */
static void mask_flush(ai_req *a)
{
    if (!a->masking) return;
    a->masking = false;
    pt_buf out = PT_BUF_INIT;
    pt_mask_gate_response_end(pt_conn_info(a->conn), &out);
    pt_mask_gate_keep(pt_conn_info(a->conn), 1, out.data, out.len);
    cache_keep(a, out.data, out.len);
    if (out.len) pt_conn_response_body(a->conn, out.data, out.len);
    pt_buf_release(&out);
}

/* A call ended well with its answer kept whole: stored for the next identical request. */
static void cache_store(ai_req *a, const pt_ai_result *r)
{
    if (!a->cache_fill) return;
    a->cache_fill = false;
    pt_ai_cache *c = pt_ai_cache_shared();
    pt_config *cfg = pt_config_current();
    size_t cap = cfg ? cfg->limits.ai_cache_bytes : 0;
    if (cfg) pt_config_release(cfg);
    if (!c || !cap) return;
    pt_ai_cached e = { .input_tokens = pt_usage_get(r->usage.input), .output_tokens = pt_usage_get(r->usage.output),
                       .cost_micro_usd = r->cost_micro_usd, .cost_known = r->cost_known,
                       .stored_ms = (int64_t)pt_now_ms(), .body = a->cache_buf.data ? a->cache_buf.data : "",
                       .len = a->cache_buf.len };
    pt_str_copy(e.content_type, sizeof e.content_type, a->call ? pt_ai_call_content_type(a->call) : "application/json");
    pt_str_copy(e.provider, sizeof e.provider, r->provider ? r->provider : "");
    pt_str_copy(e.model, sizeof e.model, r->upstream_model ? r->upstream_model : "");
    if (c->ops->put(c, a->cache_key, &e, (int64_t)a->model->cache.ttl_ms, e.stored_ms, cap) != 0)
        pt_log_warn("request %s: the AI answer could not be cached (out of memory)", a->req->request_id);
    pt_buf_release(&a->cache_buf);
}

/* One call ended (how): finish it and decide what the client gets. */
static void call_end(ai_req *a, pt_ai_end how)
{
    pt_ai_result res;
    memset(&res, 0, sizeof res);
    a->x = NULL;
    pt_ai_call_finish(a->call, how, emit, a, &res);
    if (a->up_why[0] && res.kind != PT_AI_OK && !res.emitted) { /* say why, in the client's error */
        size_t used = strlen(res.error.message);
        if (a->up_bad_response)
            snprintf(res.error.message, sizeof res.error.message, "provider '%s' sent a bad response: %s",
                     a->at.provider->name, a->up_why);
        else
            snprintf(res.error.message + used, sizeof res.error.message - used, " (%s)", a->up_why);
    }
    a->up_why[0] = '\0';
    record(a, &res, false);
    /* hooked: settled by the cleanup hook, where a later call of the request adds its usage */
    if (!a->hooked && (res.kind == PT_AI_OK || res.emitted || a->started)) settle(a);
    pt_conn *conn = a->conn;
    pt_req_info *info = pt_conn_info(conn);
    if (info->upstream_start_us) info->upstream_us = pt_now_us() - info->upstream_start_us;
    if (a->hooked && (res.kind == PT_AI_OK || res.emitted)) {
        detach(a);
        a->hooks.on_end(a->hooks.arg, &res);
        return;
    }
    if (res.kind == PT_AI_OK) {
        if (!a->started) emit(a, "", 0);
        keep_response(a);
        mask_flush(a);
        cache_store(a, &res);
        detach(a);
        pt_conn_response_end(conn);
        return;
    }
    if (res.emitted || a->started) { /* too late to fall back: the client sees a cut stream */
        pt_log_warn("request %s: AI call to '%s' failed mid-answer: %s", a->req->request_id,
                    res.provider ? res.provider : "?", res.error.message);
        pt_conn_info(conn)->outcome = PT_OUT_AI_UPSTREAM_CUT;
        mask_flush(a);
        detach(a);
        pt_conn_response_end(conn);
        return;
    }
    pt_log_warn("request %s: AI attempt %u (%s) failed: %s", a->req->request_id, a->at.number + 1,
                res.provider ? res.provider : "?", res.error.message);
    pt_buf_reset(&a->last_error_body);
    pt_ai_call_error_body(a->call, &res, &a->last_error_body);
    a->last = res;
    a->have_last = true;
    a->last_kind = res.kind;
    pt_ai_call_free(a->call);
    a->call = NULL;
    if (res.retryable) {
        next_attempt(a);
        return;
    }
    fail_with_last(a, &res.error);
}

/* ---- exchange callbacks ------------------------------------------------------------------ */

static void x_head(void *u, int status, const pt_header *hdrs, size_t n, int64_t cl)
{
    ai_req *a = u;
    pt_req_info *info = pt_conn_info(a->conn);
    info->ttfb_us = pt_now_us() - info->upstream_start_us;
    a->span.status = status;
    pt_ai_header stack[64];
    size_t k = n < 64 ? n : 64;
    for (size_t i = 0; i < k; i++) stack[i] = (pt_ai_header){ hdrs[i].name, hdrs[i].value };
    pt_ai_call_on_response_head(a->call, status, stack, k);
}

static void x_body(void *u, const char *data, size_t n)
{
    ai_req *a = u;
    if (pt_ai_call_on_response_body(a->call, data, n, emit, a) != 0) {
        /* the client is gone or its connection failed: stop here */
        detach(a);
        pt_ai_result res;
        pt_ai_call_finish(a->call, PT_AI_END_ABORTED, emit, a, &res);
        record(a, &res, true);
        pt_conn_response_abort(a->conn);
    }
}

static void x_done(void *u) { call_end(u, PT_AI_END_OK); }

static void x_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    ai_req *a = u;
    pt_upstream_cause cause = pt_upstream_cause_of(err, phase);
    pt_log_info("request %s: provider '%s': %s: %s", a->req->request_id, a->at.provider->name,
                pt_upstream_cause_name(cause), detail);
    if (phase < 2 || err == PT_ETIMEDOUT) { /* no answer of the provider's own to show instead */
        a->up_bad_response = err == PT_EPARSE;
        /* a bad response's detail describes the response only (client.h) */
        snprintf(a->up_why, sizeof a->up_why, "%s", a->up_bad_response ? detail : pt_upstream_cause_text(cause));
    }
    call_end(a, err == PT_ETIMEDOUT ? PT_AI_END_TIMEOUT : phase == 0 ? PT_AI_END_CONNECT : PT_AI_END_CUT);
}

static void x_flush(void *u)
{
    ai_req *a = u;
    pt_conn_flush(a->conn);
}

static const pt_exchange_cb ai_cb = { .on_head = x_head, .on_body = x_body, .on_done = x_done,
                                      .on_error = x_error, .on_flush = x_flush };

/* ---- attempts ----------------------------------------------------------------------------- */

static void send_upstream(ai_req *a, const pt_ai_upstream *up)
{
    const pt_ai_provider *pv = up->provider;
    pt_buf *h = &a->head;
    pt_buf_reset(h);
    (void)pt_buf_start_block(h); /* out of memory: the appends below try a buffer of their own */
    pt_buf_append_str(h, up->method);
    pt_buf_append(h, " ", 1);
    pt_buf_append_str(h, up->path);
    pt_buf_append_str(h, " HTTP/1.1\r\n");
    if (pv->host_line) pt_buf_append_str(h, pv->host_line); /* written at load */
    else pt_http_append_host(h, pv->host, pv->port, pv->tls);
    for (size_t i = 0; i < up->nheaders; i++) {
        pt_buf_append_slice(h, up->headers[i].name);
        pt_buf_append(h, ": ", 2);
        pt_buf_append_slice(h, up->headers[i].value);
        pt_buf_append(h, "\r\n", 2);
    }
    pt_buf_append_str(h, "X-Request-Id: ");
    pt_buf_append_str(h, a->req->request_id);
    pt_buf_append_str(h, "\r\nContent-Length: ");
    pt_buf_append_u64(h, up->body_len);
    pt_buf_append_str(h, "\r\n");
    pt_tracing_attempt_start(pt_conn_info(a->conn)->trace, &a->span, h);
    pt_buf_append_str(h, "\r\n");
    pt_endpoint ep = { .host = pv->host, .port = pv->port, .tls = pv->tls };
    pt_exchange_opts o = {
        .connect_timeout_ms = pv->connect_timeout_ms,
        .first_byte_timeout_ms = pv->first_byte_timeout_ms,
        .idle_timeout_ms = pv->idle_timeout_ms,
        .pool_idle_ms = 60000,
        .pool_max_idle = 64,
        .has_body = up->body_len > 0,
        .body = up->body,
        .body_len = up->body_len,
        .body_complete = true,
    };
    pt_conn_info(a->conn)->target = pv->base_url; /* the configuration snapshot the request holds */
    if (!pt_conn_info(a->conn)->upstream_start_us) pt_conn_info(a->conn)->upstream_start_us = pt_now_us();
    a->x = pt_exchange_start(a->client, &ep, &o, h->data, h->len, &ai_cb, a);
    if (!a->x) { /* not even allocated: no callback will come, so answer here */
        pt_ai_error err;
        pt_ai_error_set(&err, PT_AI_ERR_INTERNAL, 503, NULL, "the gateway is out of memory");
        fail_with(a, &err);
    }
}

static void next_attempt(ai_req *a)
{
    for (;;) {
        if (!pt_ai_plan_next(&a->plan, a->have_last ? a->last_kind : PT_AI_OK, pt_now_ms(), &a->at)) {
            if (a->have_last) {
                fail_with_last(a, &a->last.error);
                return;
            }
            if (a->have_unsupported && a->prev_missing) { /* neither Portico nor an OpenAI target has it */
                char prev[PT_AI_RESP_ID_MAX];
                pt_ai_stored_request(a->body.data ? a->body.data : "", a->body.len, false, &(bool){ false }, prev,
                                     sizeof prev);
                pt_buf body = PT_BUF_INIT;
                pt_ai_error err = { .status = pt_ai_stored_prev_not_found(prev, &body) };
                fail_with_body(a, &err, 400, body, PT_OUT_AI_ERROR);
                return;
            }
            if (a->have_unsupported) { /* no target could take it: say why, not "no key" */
                fail_with(a, &a->unsupported);
                return;
            }
            pt_ai_error err;
            pt_slice m = pt_ai_request_model(a->areq);
            char model[128];
            snprintf(model, sizeof model, PT_SLICE_FMT, PT_SLICE_ARG(m));
            pt_ai_plan_none_error(&a->plan, model, pt_now_ms(), &err);
            fail_with(a, &err);
            return;
        }
        pt_ai_error err;
        pt_ai_call_opts opts = { .request_id = a->store_want ? a->resp_rid : a->req->request_id,
                                 .store = a->store_want, .previous_response_id = a->prev_id[0] ? a->prev_id : NULL };
        /* forwarded only from an Anthropic client (ai.h) */
        const pt_header *beta = a->fmt == PT_AI_FMT_ANTHROPIC ? pt_request_header(a->req, "anthropic-beta") : NULL;
        if (beta) opts.anthropic_beta = beta->value;
        a->call = pt_ai_call_new(a->areq, &a->at, &opts, &err);
        if (!a->call) {
            if (err.kind == PT_AI_ERR_UNSUPPORTED && a->at.number + 1 < PT_AI_PLAN_MAX_ATTEMPTS) {
                a->last_kind = err.kind; /* this provider cannot serve it: try the next */
                if (!a->have_unsupported) a->unsupported = err;
                a->have_unsupported = true;
                continue;
            }
            fail_with(a, &err);
            return;
        }
        const pt_ai_upstream *up = pt_ai_call_upstream(a->call);
        if (!up) { /* answered locally (a token estimate) */
            call_end(a, PT_AI_END_OK);
            return;
        }
        send_upstream(a, up);
        return;
    }
}

/* What a call may use of a tokens limit (asked only when a policy counts tokens). */
static uint64_t token_estimate(void *areq)
{
    int64_t n = pt_ai_request_token_estimate(areq, 4096);
    return n > 0 ? (uint64_t)n : 1;
}

/* The client's request read from its body (and, for Gemini, its path and query). The body
 * is lent: a->body is released or replaced only after a->areq is freed. */
static int new_request(ai_req *a, pt_ai_error *err)
{
    return pt_ai_request_borrow_path(a->fmt, a->ep, ai_path(a->req, a->route), a->req->query,
                                  a->body.data ? a->body.data : "", a->body.len, &a->areq, err);
}

/* The request is now out (taken over): parsed again; false when that fails (answered). */
static bool replace_body(ai_req *a, pt_buf out)
{
    pt_ai_error err;
    pt_ai_request_free(a->areq);
    a->areq = NULL;
    pt_buf_release_block(&a->body);
    a->body = out;
    if (new_request(a, &err) == 0) return true;
    fail_with(a, &err);
    return false;
}

/* The body masked by the policies that apply, the model now known, and parsed again when
 * that changed it; false when refused (answered in the client's format). */
static bool mask_request(ai_req *a, const char *model)
{
    pt_req_info *info = pt_conn_info(a->conn);
    if (!info->mask) return true;
    pt_mask_gate_model(info, model);
    pt_buf out = PT_BUF_INIT;
    char msg[320];
    pt_ai_error err;
    int rc = pt_mask_gate_request_body(info, a->body.data, a->body.len, &out, msg, sizeof msg);
    if (rc <= 0) {
        pt_buf_release(&out);
        if (rc == 0) return true;
        pt_ai_error_set(&err, PT_AI_ERR_INVALID, 400, NULL, "%s", msg);
        fail_with_outcome(a, &err, PT_OUT_MASK_REFUSED);
        return false;
    }
    return replace_body(a, out);
}

/* ---- the response cache ------------------------------------------------------------------ */

/* What the request says about the cache; only asked when its model has one. */
static pt_ai_cache_ask cache_ask(const ai_req *a)
{
    const pt_header *x = pt_request_header(a->req, "x-portico-cache"), *cc = pt_request_header(a->req, "cache-control");
    return pt_ai_cache_ask_parse(x ? x->value.ptr : NULL, x ? x->value.len : 0, cc ? cc->value.ptr : NULL,
                                 cc ? cc->value.len : 0);
}

/* A chat request whose answer does not depend on chance: temperature 0, one choice. */
static bool deterministic(ai_req *a)
{
    pt_ai_error err;
    const pt_pivot_req *p = pt_ai_request_pivot(a->areq, &err);
    return p && p->temperature == 0.0;
}

/* Looks the request up when its model caches: true when answered from the cache. A miss
 * (or a refresh) keeps the answer to store it when the call ends well. */
static bool cache_lookup(ai_req *a, pt_ai_cache_ask ask)
{
    const pt_ai_cache_cfg *cc = &a->model->cache;
    if (!cc->on || a->hooked || ask == PT_AI_CACHE_ASK_OFF) return false;
    if (a->ep != PT_AI_EP_CHAT && a->ep != PT_AI_EP_EMBEDDINGS) return false;
    if (a->ep == PT_AI_EP_CHAT && !cc->always && ask != PT_AI_CACHE_ASK_ON && !deterministic(a)) return false;
    pt_ai_cache *c = pt_ai_cache_shared();
    if (!c) return false;
    atomic_store(&cache_used, true);
    const pt_auth *who = pt_conn_info(a->conn)->auth;
    if (pt_ai_cache_key(who && who->consumer ? who->consumer : "", a->model->name, a->fmt, a->ep,
                        pt_ai_request_framing(a->areq), a->body.data ? a->body.data : "", a->body.len, a->cache_key))
        return false;
    a->cache_fill = true;
    if (ask == PT_AI_CACHE_ASK_REFRESH) {
        a->cache_state = "refresh";
        return false;
    }
    if (c->ops->get(c, a->cache_key, (int64_t)pt_now_ms(), &a->hit) != 1) {
        a->hit.body = NULL;
        a->cache_state = "miss";
        return false;
    }
    a->cache_fill = false;
    a->cache_state = "hit";
    pt_ai_result r = { .kind = PT_AI_OK, .cost_known = true, .provider = a->hit.provider,
                       .upstream_model = a->hit.model };
    note_call(a, &r); /* nothing used, nothing spent; the log says what was saved */
    emit(a, a->hit.body, a->hit.len);
    mask_flush(a);
    detach(a);
    pt_conn_response_end(a->conn);
    return true;
}

static void begin_model(ai_req *a);

/* The stored response a request continues was looked up: its conversation goes in front
 * of the request's input. Another consumer's response is not found, as an unknown id. */
static void prev_done(void *arg, int rc, const pt_store_response *row)
{
    ai_req *a = arg;
    a->job = NULL;
    pt_ai_error err;
    if (rc && rc != PT_STORE_ENOTFOUND) {
        pt_buf body = PT_BUF_INIT;
        err = (pt_ai_error){ .status = pt_ai_stored_unavailable(&body) };
        fail_with_body(a, &err, 503, body, PT_OUT_AI_ERROR);
        return;
    }
    if (rc || strcmp(row->consumer, owner(a->conn)) != 0) {
        a->prev_id[0] = '\0';
        a->prev_missing = true; /* an OpenAI target may still know it (its own id) */
        begin_model(a);
        return;
    }
    pt_buf out = PT_BUF_INIT;
    if (pt_ai_stored_expand(a->body.data, a->body.len, row->input, row->response, &out) != 0) {
        pt_buf_release(&out);
        pt_ai_error_set(&err, PT_AI_ERR_INTERNAL, 500, "previous_response_id", "the stored response %s is unreadable",
                        row->id);
        fail_with(a, &err);
        return;
    }
    if (replace_body(a, out)) begin_model(a);
}

/* A random id for a response that will be kept: the request id may be the client's. */
static void new_resp_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v[2] = { pt_rand64(), pt_rand64() };
    for (int k = 0; k < 32; k++) out[k] = hex[(v[k / 16] >> ((k % 16) * 4)) & 15];
    out[32] = '\0';
}

/* A Responses request on a gateway that keeps responses: whether its answer is kept, and
 * the response it continues looked up (begin_model then runs from prev_done). False when
 * the request was answered or is waiting for the lookup. */
static bool stored_begin(ai_req *a)
{
    if (a->fmt != PT_AI_FMT_RESPONSES || a->ep != PT_AI_EP_CHAT || a->hooked || !pt_resp_store_enabled()) return true;
    const char *body = a->body.data ? a->body.data : "";
    bool store;
    int rc = pt_ai_stored_request(body, a->body.len, pt_resp_store_default(), &store, a->prev_id, sizeof a->prev_id);
    if (rc != 0 || (a->prev_id[0] && !pt_ai_stored_id_ok(a->prev_id))) {
        pt_buf out = PT_BUF_INIT;
        pt_ai_error err = { .status = pt_ai_stored_bad_id("previous_response_id", pt_slice_cstr(a->prev_id), &out) };
        fail_with_body(a, &err, 400, out, PT_OUT_AI_ERROR);
        return false;
    }
    a->store_want = store;
    if (store) new_resp_id(a->resp_rid);
    if (!a->prev_id[0]) return true;
    a->job = pt_resp_store_get(pt_conn_server(a->conn)->loop, a->prev_id, prev_done, a);
    if (a->job) return false;
    pt_ai_error err;
    pt_ai_error_set(&err, PT_AI_ERR_INTERNAL, 503, NULL, "the gateway is out of memory");
    fail_with(a, &err);
    return false;
}

/* The whole client body is here: validate it and start the plan. */
static void begin(ai_req *a)
{
    pt_ai_error err;
    if (new_request(a, &err) != 0) {
        fail_with(a, &err);
        return;
    }
    if (stored_begin(a)) begin_model(a);
}

/* The request is what will be sent: its model, the caller's rights, the policies. */
static void begin_model(ai_req *a)
{
    pt_ai_error err;
    pt_slice name = pt_ai_request_model(a->areq);
    const pt_ai_model *model = pt_ai_config_model(a->ai, name);
    if (a->hooked && a->hooks.again && model) { /* checked and counted on the first call */
        a->limits = pt_limits_gate_of(a->conn); /* settled first (newest cleanup), so with the total */
        a->used_tokens = a->hooks.prior_tokens;
        a->used_cost_micro = a->hooks.prior_cost_micro;
        pt_ai_plan_init(&a->plan, a->ai, model, pt_rand64());
        next_attempt(a);
        return;
    }
    pt_ai_model_filter only = { a->route->ai_models, a->route->nai_models };
    if (!model || !pt_ai_model_listed(&only, model)) {
        pt_ai_error_set(&err, PT_AI_ERR_NOT_FOUND, 404, "model", "The model '" PT_SLICE_FMT "' does not exist",
                        PT_SLICE_ARG(name));
        fail_with(a, &err);
        return;
    }
    if (!pt_auth_model_allowed(pt_conn_info(a->conn)->auth, name)) {
        const pt_auth *who = pt_conn_info(a->conn)->auth;
        pt_ai_error_set(&err, PT_AI_ERR_INVALID, 403, "model", "The API key %s... may not call the model '" PT_SLICE_FMT "'",
                        who->prefix, PT_SLICE_ARG(name));
        fail_with_outcome(a, &err, PT_OUT_MODEL_NOT_ALLOWED);
        return;
    }
    if (a->gated && !mask_request(a, model->name)) return; /* before any tokens are reserved */
    a->model = model;
    pt_ai_cache_ask ask = model->cache.on ? cache_ask(a) : PT_AI_CACHE_ASK_NONE;
    if (ask == PT_AI_CACHE_ASK_BAD) {
        pt_ai_error_set(&err, PT_AI_ERR_INVALID, 400, NULL, "X-Portico-Cache: expected on, off or refresh");
        fail_with(a, &err);
        return;
    }
    char limit_msg[320];
    bool counted = a->ep == PT_AI_EP_CHAT || a->ep == PT_AI_EP_EMBEDDINGS;
    if (!pt_limits_gate_model(a->conn, model->name, limit_msg, sizeof limit_msg) ||
        (counted && !pt_limits_gate_ai_start(a->conn, token_estimate, a->areq, limit_msg, sizeof limit_msg))) {
        pt_ai_error_set(&err, PT_AI_ERR_RATE_LIMIT, 429, NULL, "%s", limit_msg);
        fail_with_outcome(a, &err, PT_OUT_RATE_LIMITED);
        return;
    }
    if (counted) a->limits = pt_limits_gate_of(a->conn);
    if (a->gated) pt_mask_gate_keep(pt_conn_info(a->conn), 0, a->body.data, a->body.len); /* as sent on */
    if (cache_lookup(a, ask)) return;
    pt_ai_plan_init(&a->plan, a->ai, model, pt_rand64());
    next_attempt(a);
}

/* ---- client body sink -------------------------------------------------------------------- */

static void sink_body(void *h, const char *data, size_t n)
{
    ai_req *a = h;
    body_append(a, data, n); /* capped by max_body_bytes in the server */
}

static void sink_end(void *h) { begin(h); }

static void sink_drain(void *h)
{
    ai_req *a = h;
    if (a->x) pt_exchange_resume(a->x);
}

static void sink_abort(void *h)
{
    ai_req *a = h;
    stop_upstream(a);
    if (a->call) {
        pt_ai_result res;
        pt_ai_call_finish(a->call, PT_AI_END_ABORTED, NULL, NULL, &res);
        record(a, &res, true);
    }
}

/* An answer that needs no provider: the model list, or an error in the client's format. */
static void respond_ai_error(pt_conn *conn, pt_ai_format fmt, pt_ai_err_kind kind, int status, const char *msg)
{
    pt_ai_error err;
    pt_ai_error_set(&err, kind, status, "", "%s", msg);
    pt_buf body = PT_BUF_INIT;
    pt_ai_render_error(fmt, &err, &body);
    respond_error_body(conn, status, 0, &body);
    pt_buf_release(&body);
}

/* The request's AI state in its pool, with the cleanup hook and the client body sink set;
 * NULL after answering 503 when out of memory. */
static ai_req *ai_req_new(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client, pt_ai_format fmt,
                          pt_ai_endpoint ep)
{
    ai_req *a = pt_req_alloc_raw(req, sizeof *a);
    if (a) {
        memset(a, 0, AI_REQ_ZEROED);
        a->up_why[0] = '\0';
    }
    if (!a || pt_req_cleanup_add(req, ai_cleanup, a) != 0) {
        pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return NULL;
    }
    a->conn = conn;
    a->req = req;
    a->ai = route->ai;
    a->route = route;
    a->client = client;
    a->fmt = fmt;
    a->ep = ep;
    a->gated = pt_conn_info(conn)->mask != NULL;
    pt_body_sink sink = { a, sink_body, sink_end, sink_drain, sink_abort };
    pt_conn_set_sink(conn, &sink);
    return a;
}

/* GET, DELETE /v1/responses/{id} and GET .../input_items: one operation on the kept
 * responses, answered on this loop when the store's thread is done. */
typedef struct stored_req {
    pt_conn *conn;
    pt_request *req;
    pt_ai_stored_op op;
    char id[PT_AI_RESP_ID_MAX];
    pt_resp_job *job;
} stored_req;

static void stored_cleanup(void *arg)
{
    stored_req *s = arg;
    pt_resp_store_cancel(s->job);
}

static void stored_answer(stored_req *s, int status, const pt_buf *body)
{
    if (status == 200) pt_conn_respond(s->conn, 200, "application/json", body->data, body->len);
    else respond_error_body(s->conn, status, 0, body);
}

static void stored_done(void *arg, int rc, const pt_store_response *row)
{
    stored_req *s = arg;
    s->job = NULL;
    pt_buf body = PT_BUF_INIT;
    int status;
    if (rc == PT_STORE_ENOTFOUND || (s->op != PT_AI_STORED_DELETE && !rc && strcmp(row->consumer, owner(s->conn)) != 0))
        status = pt_ai_stored_not_found(s->id, &body); /* another consumer's is not found either */
    else if (rc)
        status = pt_ai_stored_unavailable(&body);
    else if (s->op == PT_AI_STORED_DELETE)
        status = pt_ai_stored_render_deleted(s->id, &body) ? 500 : 200;
    else if (s->op == PT_AI_STORED_INPUT_ITEMS)
        status = pt_ai_stored_render_input_items(s->id, row->input, s->req->query, &body);
    else
        status = pt_buf_append_str(&body, row->response) ? 500 : 200;
    if (status != 200) pt_conn_info(s->conn)->outcome = PT_OUT_AI_ERROR;
    stored_answer(s, status, &body);
    pt_buf_release(&body);
}

static void serve_stored(pt_conn *conn, pt_request *req, const pt_route *route)
{
    pt_buf body = PT_BUF_INIT;
    char id[PT_AI_RESP_ID_MAX];
    pt_slice path = ai_path(req, route);
    pt_slice raw;
    pt_ai_stored_op op = pt_ai_stored_parse(req->method_name, path, id, sizeof id, &raw);
    stored_req *s = pt_req_alloc_raw(req, sizeof *s);
    int status = 0;
    if (op == PT_AI_STORED_OTHER) {
        char msg[320];
        snprintf(msg, sizeof msg, "Invalid URL (" PT_SLICE_FMT " " PT_SLICE_FMT ")", PT_SLICE_ARG(req->method_name),
                 PT_SLICE_ARG(req->path));
        respond_ai_error(conn, PT_AI_FMT_RESPONSES, PT_AI_ERR_NOT_FOUND, 404, msg);
        return;
    }
    if (!pt_ai_stored_id_ok(id)) {
        status = pt_ai_stored_bad_id("response_id", raw, &body);
    } else if (!pt_resp_store_enabled()) {
        status = pt_ai_stored_not_found(id, &body); /* nothing is kept: what OpenAI says of store: false */
    } else if (!s || pt_req_cleanup_add(req, stored_cleanup, s) != 0) {
        pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    if (status) {
        pt_conn_info(conn)->outcome = PT_OUT_AI_ERROR;
        respond_error_body(conn, status, 0, &body);
        pt_buf_release(&body);
        return;
    }
    *s = (stored_req){ .conn = conn, .req = req, .op = op };
    memcpy(s->id, id, sizeof id);
    uv_loop_t *loop = pt_conn_server(conn)->loop;
    s->job = op == PT_AI_STORED_DELETE ? pt_resp_store_delete(loop, id, owner(conn), stored_done, s)
                                       : pt_resp_store_get(loop, id, stored_done, s);
    if (!s->job) pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
}

void pt_ai_route_serve(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client)
{
    const pt_ai_config *ai = route->ai;
    pt_req_info *info = pt_conn_info(conn);
    info->route = route->name;
    info->route_metrics = route->metrics;
    pt_ai_endpoint ep;
    int m;
    pt_ai_format fmt = route_format(req, route, &ep, &m);
    if (m != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s (" PT_SLICE_FMT " " PT_SLICE_FMT ")",
                 m == 405 ? "Method not allowed" : "Invalid URL", PT_SLICE_ARG(req->method_name),
                 PT_SLICE_ARG(req->path));
        respond_ai_error(conn, fmt, m == 405 ? PT_AI_ERR_INVALID : PT_AI_ERR_NOT_FOUND, m, msg);
        return;
    }
    if (ep == PT_AI_EP_RESPONSE) {
        serve_stored(conn, req, route);
        return;
    }
    if (ep == PT_AI_EP_MODELS || ep == PT_AI_EP_MODEL) {
        pt_buf body = PT_BUF_INIT;
        int status = 200;
        pt_ai_model_filter only = { route->ai_models, route->nai_models };
        if (ep == PT_AI_EP_MODELS) pt_ai_render_models(ai, &only, fmt, &body);
        else status = pt_ai_render_model(ai, &only, fmt, ai_path(req, route), &body);
        if (status == 200) pt_conn_respond(conn, 200, "application/json", body.data, body.len);
        else respond_error_body(conn, status, 0, &body);
        pt_buf_release(&body);
        return;
    }
    ai_req *a = ai_req_new(conn, req, route, client, fmt, ep);
    if (!a) return;
    /* begin() runs when the body is complete; with no body at all the message completes
     * right after this and validation answers 400 */
    if (pt_conn_has_body(conn)) pt_conn_continue(conn);
}

void pt_ai_route_call(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client, const char *body,
                      size_t len, const pt_ai_route_hooks *hooks)
{
    ai_req *a = ai_req_new(conn, req, route, client, PT_AI_FMT_OPENAI, PT_AI_EP_CHAT);
    if (!a) return;
    a->hooked = true;
    a->hooks = *hooks;
    if (body_append(a, body, len) != 0) {
        pt_ai_error err;
        pt_ai_error_set(&err, PT_AI_ERR_INTERNAL, 503, NULL, "the gateway is out of memory");
        fail_with(a, &err);
        return;
    }
    begin(a);
}
