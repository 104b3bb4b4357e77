/* ai.c: the engine-facing AI API (ai.h): endpoint matching, client requests, and one
 * upstream exchange (pt_ai_call) along its three paths: byte passthrough (same wire on
 * both sides), translation through the pivot, and answers made locally (count_tokens).
 * What a passed-through answer says on the side is read in pass.c; answers that need no
 * call at all (errors, model lists) are in answers.c. */
#include "ai/ai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ai/call_int.h"
#include "ai/caps.h"
#include "ai/fmt.h"
#include "ai/price.h"
#include "ai/prov.h"
#include "ai/sse.h"
#include "core/err.h"
#include "core/json_scan.h"
#include "core/json_write.h"
#include "core/log.h"
#include "core/recycle.h"
#include "core/str.h"

#define DEFAULT_MAX_RESPONSE (32u * 1024u * 1024u)
#define MAX_ERROR_BODY (64u * 1024u)

const char *pt_ai_format_name(pt_ai_format f)
{
    return f == PT_AI_FMT_ANTHROPIC   ? "anthropic"
           : f == PT_AI_FMT_RESPONSES ? "responses"
           : f == PT_AI_FMT_GEMINI    ? "gemini"
                                      : "openai";
}

pt_error_format pt_ai_error_format(pt_ai_format f) { return pt__fmt_get(f)->error_format; }

const char *pt_ai_endpoint_name(pt_ai_endpoint e)
{
    switch (e) {
    case PT_AI_EP_CHAT: return "chat";
    case PT_AI_EP_EMBEDDINGS: return "embeddings";
    case PT_AI_EP_MODELS: return "models";
    case PT_AI_EP_COUNT_TOKENS: return "count_tokens";
    case PT_AI_EP_MODEL: return "model";
    case PT_AI_EP_RESPONSE: return "response";
    }
    return "?";
}

/* Gemini's paths, with the version prefix already cut: GET /models, GET /models/{model},
 * POST /models/{model}:{verb} (the verb after the last ':', as model names may hold some).
 * 1 when path is none of them. */
static int match_gemini(pt_slice method, pt_slice path, bool v1beta, pt_ai_format *fmt, pt_ai_endpoint *ep)
{
    static const struct {
        const char *verb;
        pt_ai_endpoint ep;
    } verbs[] = {
        { ":generateContent", PT_AI_EP_CHAT },
        { ":streamGenerateContent", PT_AI_EP_CHAT },
        { ":countTokens", PT_AI_EP_COUNT_TOKENS },
        { ":embedContent", PT_AI_EP_EMBEDDINGS },
        { ":batchEmbedContents", PT_AI_EP_EMBEDDINGS },
    };
    bool get = pt_slice_eq_cstr(method, "GET") || pt_slice_eq_cstr(method, "HEAD");
    if (v1beta && pt_slice_eq_cstr(path, "/models")) {
        *fmt = PT_AI_FMT_GEMINI;
        *ep = PT_AI_EP_MODELS;
        return get ? 0 : 405;
    }
    if (path.len <= 8 || memcmp(path.ptr, "/models/", 8) != 0) return 1;
    const char *colon = memrchr(path.ptr + 8, ':', path.len - 8);
    pt_slice verb = colon ? pt_slice_from(colon, (size_t)(path.ptr + path.len - colon)) : PT_SLICE_NULL;
    size_t v = 0, nverbs = sizeof verbs / sizeof verbs[0];
    while (v < nverbs && !pt_slice_eq_cstr(verb, verbs[v].verb)) v++;
    if (v < nverbs) {
        *fmt = PT_AI_FMT_GEMINI;
        *ep = verbs[v].ep;
        return pt_slice_eq_cstr(method, "POST") ? 0 : 405;
    }
    if (!v1beta) return 1; /* /v1/models/{id}: OpenAI's */
    *fmt = PT_AI_FMT_GEMINI;
    if (colon && !get) return 404; /* an unknown verb */
    *ep = PT_AI_EP_MODEL;         /* a model name may hold ':' too */
    return get ? 0 : 405;
}

int pt_ai_match(pt_slice method, pt_slice path, bool anthropic_hint, pt_ai_format *fmt, pt_ai_endpoint *ep)
{
    static const struct {
        const char *path;
        const char *method;
        pt_ai_format fmt;
        pt_ai_endpoint ep;
    } routes[] = {
        { "/chat/completions", "POST", PT_AI_FMT_OPENAI, PT_AI_EP_CHAT },
        { "/embeddings", "POST", PT_AI_FMT_OPENAI, PT_AI_EP_EMBEDDINGS },
        { "/models", "GET", PT_AI_FMT_OPENAI, PT_AI_EP_MODELS },
        { "/messages", "POST", PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT },
        { "/messages/count_tokens", "POST", PT_AI_FMT_ANTHROPIC, PT_AI_EP_COUNT_TOKENS },
        { "/responses", "POST", PT_AI_FMT_RESPONSES, PT_AI_EP_CHAT },
        { "/responses/input_tokens", "POST", PT_AI_FMT_RESPONSES, PT_AI_EP_COUNT_TOKENS },
    };
    bool v1beta = pt_slice_starts_with(path, PT_SLICE_LIT("/v1beta/")) || pt_slice_eq_cstr(path, "/v1beta");
    if (v1beta) {
        path.ptr += 7;
        path.len -= 7;
    } else if (pt_slice_starts_with(path, PT_SLICE_LIT("/v1/"))) {
        path.ptr += 3;
        path.len -= 3;
    }
    while (path.len > 1 && path.ptr[path.len - 1] == '/') path.len--;
    int g = match_gemini(method, path, v1beta, fmt, ep);
    if (g != 1) return g;
    if (v1beta) {
        *fmt = PT_AI_FMT_GEMINI;
        return 404;
    }
    /* GET /v1/models/{id}; other methods there (DELETE of a fine-tuned model...) are not
     * the gateway's to answer and fall through to the configured routes */
    if (path.len > 8 && memcmp(path.ptr, "/models/", 8) == 0) {
        if (!pt_slice_eq_cstr(method, "GET") && !pt_slice_eq_cstr(method, "HEAD")) return 404;
        *fmt = anthropic_hint ? PT_AI_FMT_ANTHROPIC : PT_AI_FMT_OPENAI;
        *ep = PT_AI_EP_MODEL;
        return 0;
    }
    /* a stored response (GET, DELETE, POST .../cancel, GET .../input_items): none are kept */
    if (path.len > 11 && memcmp(path.ptr, "/responses/", 11) == 0 &&
        !pt_slice_eq_cstr(path, "/responses/input_tokens")) {
        *fmt = PT_AI_FMT_RESPONSES;
        *ep = PT_AI_EP_RESPONSE;
        return 0;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!pt_slice_eq_cstr(path, routes[i].path)) continue;
        *fmt = routes[i].fmt;
        *ep = routes[i].ep;
        if (routes[i].ep == PT_AI_EP_MODELS && anthropic_hint) *fmt = PT_AI_FMT_ANTHROPIC;
        bool head_ok = routes[i].ep == PT_AI_EP_MODELS && pt_slice_eq_cstr(method, "HEAD");
        return pt_slice_eq_cstr(method, routes[i].method) || head_ok ? 0 : 405;
    }
    return 404;
}

/* ---- requests -------------------------------------------------------------------------- */

/* Requests and calls are a few kilobytes each: kept per worker for the next request. */
#define RECYCLE_MAX 64
static PT_RECYCLER(requests);
static PT_RECYCLER(calls);


#define RBAD(field, ...) pt_ai_error_set(err, PT_AI_ERR_INVALID, 400, field, __VA_ARGS__)

static bool raw_is(const pt_ai_request *r, int i, char first)
{
    return i >= 0 && r->body[r->f[i].vstart] == first;
}

static bool raw_lit(const pt_ai_request *r, int i, const char *lit)
{
    size_t n = strlen(lit);
    return i >= 0 && r->f[i].vend - r->f[i].vstart == n && memcmp(r->body + r->f[i].vstart, lit, n) == 0;
}

/* The top-level members validate reads, found in one pass; the first three must not
 * occur twice. */
enum { AT_MODEL, AT_STREAM, AT_STREAM_OPTIONS, AT_MESSAGES, AT_MAX_TOKENS, AT_INPUT, AT_N };
static const pt_jname members[AT_N] = { PT_JNAME("model"),    PT_JNAME("stream"),     PT_JNAME("stream_options"),
                                        PT_JNAME("messages"), PT_JNAME("max_tokens"), PT_JNAME("input") };
#define UNIQUE_MEMBERS 3

static int validate(pt_ai_request *r, pt_ai_error *err)
{
    size_t errpos = 0, nf;
    int vrc = pt_jscan_object_document(r->body, r->len, r->fixed, MAX_FIELDS, &nf, &r->open, &r->close, &errpos);
    if (vrc == PT_EINVAL && pt_jscan_document(r->body, r->len, &errpos) == 0)
        return RBAD(NULL, "request body must be a JSON object");
    if (vrc) return RBAD(NULL, "invalid JSON body: syntax error at byte %zu", errpos);
    r->f = r->fixed;
    if (nf > MAX_FIELDS) {
        r->f = calloc(nf, sizeof *r->f);
        if (!r->f) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "out of memory");
        pt_jscan_object(r->body, r->len, 0, r->f, nf, &nf, &r->open, &r->close);
    }
    r->nf = nf;
    int at[AT_N];
    unsigned dups = pt_jscan_find_each(r->f, r->nf, members, AT_N, at);
    for (size_t j = 0; j < UNIQUE_MEMBERS; j++)
        if (dups & (1u << j)) return RBAD(members[j].s, "%s: duplicate key", members[j].s);
    r->i_model = at[AT_MODEL];
    r->i_stream = at[AT_STREAM];
    r->i_stream_options = at[AT_STREAM_OPTIONS];

    if (r->i_model < 0) return RBAD("model", "model: field required");
    if (!raw_is(r, r->i_model, '"')) return RBAD("model", "model: expected a string");
    if (pt_jscan_string(r->body, r->f[r->i_model].vstart, r->f[r->i_model].vend, r->model, sizeof r->model) < 0)
        return RBAD("model", "model: longer than %d bytes", MAX_MODEL_NAME - 1);
    if (!r->model[0]) return RBAD("model", "model: must not be empty");
    if (r->i_stream >= 0 && !raw_lit(r, r->i_stream, "true") && !raw_lit(r, r->i_stream, "false") &&
        !raw_lit(r, r->i_stream, "null"))
        return RBAD("stream", "stream: expected a boolean");
    r->stream = raw_lit(r, r->i_stream, "true");
    if (r->i_stream_options >= 0 && !raw_is(r, r->i_stream_options, '{') && !raw_lit(r, r->i_stream_options, "null"))
        return RBAD("stream_options", "stream_options: expected an object");
    if (raw_is(r, r->i_stream_options, '{')) {
        pt_jfield so[16];
        size_t n, o, c;
        pt_jscan_object(r->body, r->len, r->f[r->i_stream_options].vstart, so, 16, &n, &o, &c);
        int iu = pt_jscan_find(so, n < 16 ? n : 16, "include_usage", NULL);
        if (iu >= 0) {
            const char *v = r->body + so[iu].vstart;
            size_t vl = so[iu].vend - so[iu].vstart;
            if (!(vl == 4 && !memcmp(v, "true", 4)) && !(vl == 5 && !memcmp(v, "false", 5)))
                return RBAD("stream_options", "stream_options.include_usage: expected a boolean");
            r->include_usage = vl == 4;
        }
    }
    if (r->fmt == PT_AI_FMT_ANTHROPIC) r->include_usage = true;

    if (r->fmt == PT_AI_FMT_RESPONSES) r->include_usage = true;
    int i_msgs = at[AT_MESSAGES];
    if ((r->ep == PT_AI_EP_CHAT || r->ep == PT_AI_EP_COUNT_TOKENS) && r->fmt != PT_AI_FMT_RESPONSES) {
        if (i_msgs < 0) return RBAD("messages", "messages: field required");
        if (!raw_is(r, i_msgs, '[')) return RBAD("messages", "messages: expected an array");
    }
    if (r->ep == PT_AI_EP_CHAT && r->fmt == PT_AI_FMT_ANTHROPIC) {
        int i = at[AT_MAX_TOKENS];
        if (i < 0) return RBAD("max_tokens", "max_tokens: field required");
        const char *v = r->body + r->f[i].vstart;
        size_t vl = r->f[i].vend - r->f[i].vstart;
        for (size_t k = 0; k < vl; k++)
            if (v[k] < '0' || v[k] > '9') return RBAD("max_tokens", "max_tokens: expected a positive integer");
        if (vl == 1 && v[0] == '0') return RBAD("max_tokens", "max_tokens: must be at least 1");
    }
    if (r->ep == PT_AI_EP_EMBEDDINGS) {
        int i = at[AT_INPUT];
        if (i < 0) return RBAD("input", "input: field required");
        char c0 = r->body[r->f[i].vstart];
        if (c0 != '"' && c0 != '[') return RBAD("input", "input: expected a string or an array");
    }
    return 0;
}

/* Gemini embeddings (embedContent, batchEmbedContents) become the OpenAI embeddings body
 * every provider adapter takes, which replaces the client's; the answer is turned back
 * into Gemini's (gemini_embeddings_answer). */
static int gemini_embeddings_request(pt_ai_request *r, const char *verb, pt_ai_error *err)
{
    r->gemini_embed_one = strncmp(verb, ":embedContent", 13) == 0;
    pt_buf b = PT_BUF_INIT;
    if (pt__gem_embed_request(r->body, r->len, pt_slice_cstr(r->model), &r->pivot.arena, &b, &r->gemini_embed_src,
                              err)) {
        pt_buf_release(&b);
        return -1;
    }
    if (r->body_owned) free((char *)r->body);
    r->body = pt_buf_detach(&b, &r->len);
    r->body_owned = true;
    if (!r->body) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "out of memory");
    return validate(r, err);
}

int pt_ai_model_from_path(pt_slice in, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.ptr[i];
        if (c == '%') {
            int hi = i + 2 < in.len ? pt_hex_digit(in.ptr[i + 1]) : -1, lo = hi >= 0 ? pt_hex_digit(in.ptr[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0)) return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= cap) return -1;
        out[n++] = c;
    }
    if (cap) out[n] = '\0';
    return (int)n;
}

/* Gemini: the model from ".../models/{model}:{verb}", the stream flag from the verb and
 * the framing from alt=sse; then the body parsed, so that every fault is a 400 before any
 * model or provider is looked at. */
static int gemini_target(pt_ai_request *r, pt_slice path, pt_slice query, pt_ai_error *err)
{
    const char *m = memmem(path.ptr, path.len, "/models/", 8);
    const char *colon = m ? memrchr(m + 8, ':', (size_t)(path.ptr + path.len - (m + 8))) : NULL;
    if (r->ep == PT_AI_EP_CHAT || r->ep == PT_AI_EP_COUNT_TOKENS || r->ep == PT_AI_EP_EMBEDDINGS) {
        size_t n = colon ? (size_t)(colon - (m + 8)) : 0;
        if (!n) return RBAD("model", "model: the path names no model");
        if (pt_ai_model_from_path(pt_slice_from(m + 8, n), r->model, sizeof r->model) <= 0)
            return RBAD("model", "model: not a valid model name (a bad %%-escape, or longer than %d bytes)",
                        MAX_MODEL_NAME - 1);
        r->stream = r->ep == PT_AI_EP_CHAT && pt_slice_eq_cstr(pt_slice_from(colon, (size_t)(path.ptr + path.len - colon)),
                                                                ":streamGenerateContent");
        bool sse = false;
        for (size_t i = 0; i + 7 <= query.len; i++)
            if ((i == 0 || query.ptr[i - 1] == '&') && memcmp(query.ptr + i, "alt=sse", 7) == 0 &&
                (i + 7 == query.len || query.ptr[i + 7] == '&'))
                sse = true;
        r->json_array = r->stream && !sse;
        r->include_usage = true;
    }
    if (r->ep == PT_AI_EP_EMBEDDINGS) return gemini_embeddings_request(r, colon, err);
    /* what only Gemini serves (its server-side tools, cached content) waits for the targets:
     * a Gemini provider gets it as it is, the others are skipped (build) */
    if (!pt_ai_request_pivot(r, err)) {
        if (err->kind != PT_AI_ERR_UNSUPPORTED) return -1;
        memset(err, 0, sizeof *err);
        return 0;
    }
    r->pivot.model = pt_slice_cstr(r->model);
    r->pivot.stream = r->stream;
    return 0;
}

/* The three ways in: the body copied, or borrowed from a caller that keeps it unchanged
 * until the request is freed (the copy is an allocation and a pass over the body). */
static int request_new(pt_ai_format fmt, pt_ai_endpoint ep, pt_slice path, pt_slice query, const char *body,
                       size_t len, bool borrow, pt_ai_request **out, pt_ai_error *err);

int pt_ai_request_new(pt_ai_format fmt, pt_ai_endpoint ep, const char *body, size_t len, pt_ai_request **out,
                      pt_ai_error *err)
{
    return request_new(fmt, ep, PT_SLICE_NULL, PT_SLICE_NULL, body, len, false, out, err);
}

int pt_ai_request_new_path(pt_ai_format fmt, pt_ai_endpoint ep, pt_slice path, pt_slice query, const char *body,
                           size_t len, pt_ai_request **out, pt_ai_error *err)
{
    return request_new(fmt, ep, path, query, body, len, false, out, err);
}

int pt_ai_request_borrow_path(pt_ai_format fmt, pt_ai_endpoint ep, pt_slice path, pt_slice query, const char *body,
                              size_t len, pt_ai_request **out, pt_ai_error *err)
{
    return request_new(fmt, ep, path, query, body, len, true, out, err);
}

static int request_new(pt_ai_format fmt, pt_ai_endpoint ep, pt_slice path, pt_slice query, const char *body,
                       size_t len, bool borrow, pt_ai_request **out, pt_ai_error *err)
{
    *out = NULL;
    pt_ai_error_clear(err);
    pt_ai_request *r = pt_recycle_get_raw(&requests, sizeof *r);
    if (!r) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "out of memory");
    memset(r, 0, REQUEST_ZEROED);
    r->fmt = fmt;
    r->ep = ep;
    r->i_model = r->i_stream = r->i_stream_options = -1;
    r->len = len;
    r->body_owned = !borrow;
    if (borrow) {
        r->body = body;
    } else {
        char *copy = malloc(len + 1);
        if (!copy) {
            pt_recycle_put(&requests, r, RECYCLE_MAX);
            return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "out of memory");
        }
        if (len) memcpy(copy, body, len);
        copy[len] = '\0';
        r->body = copy;
    }
    pt_pivot_req_init(&r->pivot);
    if (ep == PT_AI_EP_MODELS) {
        *out = r;
        return 0;
    }
    /* a Responses request is parsed now, so that every fault in it is a 400 before any
     * model or provider is looked at; one that only OpenAI can serve (its server-side tools
     * and stored state: unsupported in translation) waits for its targets (build) */
    int rc = fmt == PT_AI_FMT_GEMINI ? gemini_target(r, path, query, err)
                                     : validate(r, err) || (fmt == PT_AI_FMT_RESPONSES && !pt_ai_request_pivot(r, err) &&
                                                            err->kind != PT_AI_ERR_UNSUPPORTED);
    if (rc) {
        pt_ai_request_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void pt_ai_request_free(pt_ai_request *r)
{
    if (!r) return;
    pt_pivot_req_release(&r->pivot);
    if (r->f && r->f != r->fixed) free(r->f);
    if (r->body_owned) free((char *)r->body);
    pt_recycle_put(&requests, r, RECYCLE_MAX);
}

pt_ai_format pt_ai_request_format(const pt_ai_request *r) { return r->fmt; }
pt_ai_endpoint pt_ai_request_endpoint(const pt_ai_request *r) { return r->ep; }
pt_slice pt_ai_request_model(const pt_ai_request *r) { return pt_slice_cstr(r->model); }
bool pt_ai_request_stream(const pt_ai_request *r) { return r->stream; }

int pt_ai_request_framing(const pt_ai_request *r) { return !r->stream ? 0 : r->json_array ? 2 : 1; }

const pt_pivot_req *pt_ai_request_pivot(pt_ai_request *r, pt_ai_error *err)
{
    if (r->pivot_state == 0) {
        const pt__fmt *f = pt__fmt_get(r->fmt);
        memset(&r->pivot_err, 0, sizeof r->pivot_err);
        int rc = f->parse_chat(r->body, r->len, r->ep == PT_AI_EP_COUNT_TOKENS, &r->pivot, &r->pivot_err);
        if (!rc) r->gemini_marks = pt_pivot_split_tool_ids(&r->pivot) > 0;
        r->pivot_state = rc ? -1 : 1;
    }
    if (r->pivot_state < 0) {
        *err = r->pivot_err;
        return NULL;
    }
    return &r->pivot;
}

int64_t pt_ai_request_token_estimate(pt_ai_request *r, int64_t default_max)
{
    pt_ai_error err;
    const pt_pivot_req *p = r->ep == PT_AI_EP_EMBEDDINGS ? NULL : pt_ai_request_pivot(r, &err);
    if (!p) return pt_pivot_estimate_text_tokens(r->len);
    return pt_pivot_estimate_input_tokens(p) + (p->max_tokens > 0 ? p->max_tokens : default_max);
}

static const pt_jv *request_json(pt_ai_request *r, pt_ai_error *err)
{
    if (!r->json && !(r->json = pt_jdom_parse(&r->pivot.arena, r->body, r->len, NULL)))
        pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
    return r->json;
}

/* ---- calls ------------------------------------------------------------------------------- */


static int64_t now_unix(const pt_ai_call_opts *o)
{
    return o && o->now_unix ? o->now_unix : (int64_t)time(NULL);
}

/* Room for need bytes in the empty buffer b, in one allocation: a recycled block when they
 * fit in one (most requests), else a buffer of that size. */
static int reserve(pt_buf *b, size_t need)
{
    if (need < PT_BLOCK) (void)pt_buf_start_block(b); /* out of memory: the reserve tries too */
    return pt_buf_reserve(b, need);
}

/* Replaces byte ranges of src (sorted, disjoint) and writes the result to out; a splice
 * without bytes (with.ptr NULL) is replaced by the string model, written as JSON there. */
typedef struct splice {
    size_t start, end;
    pt_slice with;
} splice;

static int apply_splices(const char *src, size_t len, splice *s, size_t n, const char *model, pt_buf *out)
{
    size_t pos = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = pt_buf_append(out, src + pos, s[i].start - pos);
        if (!rc && s[i].with.ptr) rc = pt_buf_append_slice(out, s[i].with);
        else if (!rc) { /* a JSON string: no writer needed for one value */
            rc = pt_buf_append(out, "\"", 1);
            if (!rc) rc = pt_buf_append_json_escaped(out, model, strlen(model));
            if (!rc) rc = pt_buf_append(out, "\"", 1);
        }
        pos = s[i].end;
    }
    if (!rc) rc = pt_buf_append(out, src + pos, len - pos);
    return rc;
}

/* The client body with "model" replaced and, for streams that want it, usage asked for. */
static int passthrough_body(pt_ai_call *c, bool inject_usage, pt_ai_error *err)
{
    pt_ai_request *r = c->req;
    if (r->fmt == PT_AI_FMT_GEMINI && r->ep != PT_AI_EP_EMBEDDINGS) { /* the model is in the path */
        if (pt_buf_append(&c->up.body, r->body, r->len))
            return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
        return 0;
    }
    splice s[3];
    size_t n = 0;
    if (reserve(&c->up.body, r->len + strlen(c->at.upstream_model) + 64))
        return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
    s[n++] = (splice){ r->f[r->i_model].vstart, r->f[r->i_model].vend, PT_SLICE_NULL }; /* the upstream model */
    if (inject_usage && r->stream && !r->include_usage) {
        if (r->i_stream_options >= 0 && raw_is(r, r->i_stream_options, '{')) {
            pt_jfield so[16];
            size_t nso, o, cl;
            pt_jscan_object(r->body, r->len, r->f[r->i_stream_options].vstart, so, 16, &nso, &o, &cl);
            int iu = pt_jscan_find(so, nso < 16 ? nso : 16, "include_usage", NULL);
            if (iu >= 0) s[n++] = (splice){ so[iu].vstart, so[iu].vend, PT_SLICE_LIT("true") };
            else if (nso == 0) s[n++] = (splice){ o + 1, o + 1, PT_SLICE_LIT("\"include_usage\":true") };
            else s[n++] = (splice){ o + 1, o + 1, PT_SLICE_LIT("\"include_usage\":true,") };
        } else if (r->i_stream_options >= 0) {
            s[n++] = (splice){ r->f[r->i_stream_options].vstart, r->f[r->i_stream_options].vend,
                               PT_SLICE_LIT("{\"include_usage\":true}") };
        } else {
            s[n++] = (splice){ r->close, r->close, PT_SLICE_LIT(",\"stream_options\":{\"include_usage\":true}") };
        }
    }
    /* splices must be applied in order of position */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && s[k].start < s[k - 1].start; k--) {
            splice t = s[k];
            s[k] = s[k - 1];
            s[k - 1] = t;
        }
    int rc = apply_splices(r->body, r->len, s, n, c->at.upstream_model, &c->up.body);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
    return 0;
}

/* Whether one of the strings that mark a history from Gemini occurs anywhere: one pass
 * over the 'g' each of them holds (rarer in JSON than the letters they start with). */
static bool mentions_gemini_marks(const char *b, size_t n)
{
    static const struct { const char *s; size_t len, g; } marks[] = {
        { PT_TOOL_ID_SIG, sizeof PT_TOOL_ID_SIG - 1, 4 },
        { PT_GEMINI_THINKING_SIG, sizeof PT_GEMINI_THINKING_SIG - 1, 0 },
        { "thought_signature", 17, 4 },
    };
    for (const char *p = b, *end = b + n; p < end && (p = memchr(p, 'g', (size_t)(end - p))); p++)
        for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
            size_t at = (size_t)(p - b);
            if (at >= marks[i].g && n - (at - marks[i].g) >= marks[i].len &&
                memcmp(p - marks[i].g, marks[i].s, marks[i].len) == 0)
                return true;
        }
    return false;
}

/* A history that went through Gemini carries signed tool call ids and Gemini thinking
 * signatures, which a same-format provider would refuse (OpenAI takes ids of at most 40
 * characters, Anthropic checks thinking signatures). Such a request is translated, which
 * strips both, unless it cannot be (then it is passed through as it is). */
static bool carries_gemini_marks(pt_ai_request *r)
{
    if (r->fmt == PT_AI_FMT_GEMINI) return false; /* signatures are the Gemini format's own */
    if (!mentions_gemini_marks(r->body, r->len)) return false;
    pt_ai_error ignored;
    return pt_ai_request_pivot(r, &ignored) && r->gemini_marks;
}

/* Whether a request about to be passed through breaks its model's parameter rules (then
 * it is translated, which renders only what the model takes). The parse is spent only
 * when the body names a parameter a rule is about. */
static bool breaks_caps(pt_ai_request *r, const pt_ai_cap *cap)
{
    if (!cap) return false;
    /* only the members this rule is about: most requests to most models look for one */
    unsigned sampling = PT_AI_CAP_FIXED_TEMPERATURE | PT_AI_CAP_FIXED_TOP_P | PT_AI_CAP_MAX_TEMPERATURE |
                        PT_AI_CAP_MAX_TOP_P | PT_AI_CAP_EXCLUSIVE;
    const char *names[3];
    size_t n = 0;
    if (cap->has & sampling) {
        names[n++] = "temperature";
        names[n++] = "top_p";
    }
    if (cap->has & PT_AI_CAP_MAX_USER) names[n++] = r->fmt == PT_AI_FMT_ANTHROPIC ? "metadata" : "user";
    bool named = r->fmt == PT_AI_FMT_GEMINI && (cap->has & sampling); /* parsed already */
    for (size_t i = 0; i < n && !named && r->fmt != PT_AI_FMT_GEMINI; i++)
        named = pt_jscan_find(r->f, r->nf, names[i], NULL) >= 0;
    pt_ai_error ignored;
    const pt_pivot_req *pv = named ? pt_ai_request_pivot(r, &ignored) : NULL;
    return pv && pt_ai_caps_breaks(cap, pv);
}

/* An Anthropic client's beta features go to an Anthropic provider whole, passed through
 * or translated, on messages and on count_tokens. */
static int forward_beta(pt_ai_call *c, const pt_ai_call_opts *opts, pt_ai_error *err)
{
    if (c->req->fmt != PT_AI_FMT_ANTHROPIC || c->prov->wire != PT__WIRE_ANTHROPIC || !opts || !opts->anthropic_beta.len)
        return 0;
    if (pt__up_header_n(&c->up, "anthropic-beta", opts->anthropic_beta) == 0) return 0;
    return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "too many upstream headers");
}

/* The client speaks the provider's own wire format. */
static bool same_wire_as(pt_ai_format f, const pt__prov *p)
{
    return (f == PT_AI_FMT_OPENAI && p->wire == PT__WIRE_OPENAI) ||
           (f == PT_AI_FMT_ANTHROPIC && p->wire == PT__WIRE_ANTHROPIC) ||
           (f == PT_AI_FMT_GEMINI && p->wire == PT__WIRE_GEMINI);
}

static int build(pt_ai_call *c, const pt_ai_call_opts *opts, pt_ai_error *err)
{
    pt_ai_request *r = c->req;
    const pt__prov *p = c->prov;
    bool same_wire = same_wire_as(r->fmt, p);
    switch (r->ep) {
    case PT_AI_EP_MODELS:
    case PT_AI_EP_MODEL:
    case PT_AI_EP_RESPONSE:
        return pt_ai_error_set(err, PT_AI_ERR_INVALID, 400, NULL, "this endpoint is answered without a provider");
    case PT_AI_EP_COUNT_TOKENS: {
        if (same_wire && p->count_upstream) { /* Anthropic's own endpoint */
            c->mode = MODE_PASS;
            if (p->head(&c->ctx, &c->up, err) || forward_beta(c, opts, err)) return -1;
            return passthrough_body(c, false, err);
        }
        const pt_pivot_req *pv = pt_ai_request_pivot(r, err);
        if (!pv) return -1;
        if (p->render_count) {
            if (p->render_count(&c->ctx, pv, &c->up.body, err) == 0) {
                c->mode = MODE_TRANSLATE;
                return p->head(&c->ctx, &c->up, err);
            }
            if (err->kind != PT_AI_ERR_UNSUPPORTED) return -1;
            /* the provider's counter cannot take this request: estimate it */
            pt_buf_reset(&c->up.body);
            memset(err, 0, sizeof *err);
        }
        c->mode = MODE_LOCAL;
        return 0;
    }
    case PT_AI_EP_EMBEDDINGS:
        if (!p->embed_ok)
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 400, "model",
                                   "provider '%s' (%s) does not offer embeddings", c->at.provider->name,
                                   pt_ai_prov_type_name(c->at.provider->type));
        if (p->head(&c->ctx, &c->up, err)) return -1;
        if (!p->render_embed) {
            c->mode = MODE_PASS;
            return passthrough_body(c, false, err);
        }
        c->mode = MODE_EMBED;
        c->ctx.embed_src = r->gemini_embed_src;
        const pt_jv *j = request_json(r, err);
        return j ? p->render_embed(&c->ctx, j, &c->up.body, err) : -1;
    case PT_AI_EP_CHAT:
        break;
    }
    if (r->fmt == PT_AI_FMT_RESPONSES && r->pivot_state < 0 && c->at.provider->type == PT_AI_PROV_OPENAI) {
        /* what only OpenAI can serve goes to OpenAI's own /responses as it is */
        c->ctx.responses = true;
        c->mode = MODE_PASS;
        if (p->head(&c->ctx, &c->up, err)) return -1;
        return passthrough_body(c, false, err);
    }
    if (p->head(&c->ctx, &c->up, err) || forward_beta(c, opts, err)) return -1;
    const pt_ai_cap *cap = c->at.target ? c->at.target->cap /* resolved at load */
                                        : pt_ai_caps_find(c->at.provider, c->at.upstream_model);
    if (same_wire && p->passthrough && !carries_gemini_marks(r) && !breaks_caps(r, cap)) {
        c->mode = MODE_PASS;
        return passthrough_body(c, r->fmt == PT_AI_FMT_OPENAI && c->at.provider->stream_usage, err);
    }
    const pt_pivot_req *pv = pt_ai_request_pivot(r, err);
    if (!pv) return -1;
    c->mode = MODE_TRANSLATE;
    reserve(&c->up.body, r->len + 256); /* about the client's size */
    if (!pt_ai_caps_breaks(cap, pv)) return p->render_chat(&c->ctx, pv, &c->up.body, err);
    /* the request as this model takes it, for this attempt only: a fallback to another
     * model starts again from what the client sent */
    pt_pivot_req *w = &r->pivot;
    double temperature = w->temperature, top_p = w->top_p;
    pt_slice user = w->user;
    int rc = pt_ai_caps_apply(cap, c->at.upstream_model, w, &c->arena, err);
    if (rc == 0) rc = p->render_chat(&c->ctx, w, &c->up.body, err);
    w->temperature = temperature;
    w->top_p = top_p;
    w->user = user;
    return rc;
}

pt_ai_call *pt_ai_call_new(pt_ai_request *req, const pt_ai_attempt *at, const pt_ai_call_opts *opts, pt_ai_error *err)
{
    pt_ai_error_clear(err);
    pt_ai_call *c = pt_recycle_get_raw(&calls, sizeof *c);
    if (!c) {
        pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "out of memory");
        return NULL;
    }
    memset(c, 0, CALL_ZEROED);
    pt_ai_error_clear(&c->err);
    c->up.method = NULL;
    c->up.nheaders = 0;
    c->req = req;
    c->at = *at;
    c->prov = pt__prov_for(at->provider, at->upstream_model);
    c->fmt = pt__fmt_get(req->fmt);
    c->stream = req->stream && req->ep == PT_AI_EP_CHAT;
    c->t0 = pt_now_us();
    c->usage = PT_USAGE_UNKNOWN;
    c->max_response = opts && opts->max_response ? opts->max_response : DEFAULT_MAX_RESPONSE;
    c->store = opts && opts->store;
    c->prev_id = opts ? opts->previous_response_id : NULL;
    pt_str_copy(c->request_id, sizeof c->request_id, opts && opts->request_id ? opts->request_id : "0");
    pt_pool_init(&c->arena, 0, 0);
    c->up.arena = &c->arena;
    c->up.path = PT_SLICE_NULL;
    pt_buf_init(&c->up.body, 0);
    pt_buf_init(&c->out, 0);
    pt_buf_init(&c->final, 0);
    pt_buf_init(&c->body, c->max_response);
    c->ctx = (pt__prov_ctx){
        .cfg = at->provider,
        .model = at->upstream_model,
        .key = at->key_index < at->provider->nkeys ? at->provider->keys[at->key_index].value : NULL,
        .bearer = at->key_index < at->provider->nkeys ? at->provider->keys[at->key_index].bearer : NULL,
        .ep = req->ep,
        .stream = c->stream,
        .request_id = c->request_id,
        .now_unix = now_unix(opts),
    };
    if (build(c, opts, err) || (c->mode != MODE_LOCAL && c->prov->sign && c->prov->sign(&c->ctx, &c->up, err))) {
        pt_ai_call_free(c);
        return NULL;
    }
    c->pub = (pt_ai_upstream){
        .provider = at->provider,
        .method = c->up.method,
        .path = c->up.path.ptr ? c->up.path.ptr : "/",
        .headers = c->up.headers,
        .nheaders = c->up.nheaders,
        .body = c->up.body.data ? c->up.body.data : "",
        .body_len = c->up.body.len,
        .stream = c->stream,
    };
    /* a translated stream may have to name input usage before the provider reports it */
    int64_t estimate = c->mode == MODE_TRANSLATE && c->stream ? pt_pivot_estimate_input_tokens(&req->pivot) : -1;
    pt__render_ctx rc = { .model = pt_slice_cstr(at->upstream_model), .request_id = c->request_id,
                          .now_unix = c->ctx.now_unix, .include_usage = req->include_usage,
                          .input_estimate = estimate, .json_array = req->json_array, .store = c->store,
                          .previous_response_id = c->prev_id };
    /* a whole answer is rendered in one go: the 1.6 KB stream renderer is not set up */
    if (c->stream) {
        c->fmt->stream_init(&c->fst, &rc);
        c->fst_on = true;
    }
    return c;
}

pt_slice pt_ai_call_response_object(const pt_ai_call *c)
{
    if (c->req->fmt != PT_AI_FMT_RESPONSES || c->mode != MODE_TRANSLATE || c->failed || !c->finished)
        return PT_SLICE_NULL;
    return c->stream ? pt__resp_stream_final(&c->fst) : pt_buf_slice(&c->final);
}

const pt_ai_upstream *pt_ai_call_upstream(const pt_ai_call *c) { return c->mode == MODE_LOCAL ? NULL : &c->pub; }

bool pt_ai_call_is_whole(const pt_ai_call *c) { return !c->stream; }

const char *pt_ai_call_content_type(const pt_ai_call *c)
{
    return c->stream && !c->req->json_array ? "text/event-stream" : "application/json";
}

void pt_ai_call_free(pt_ai_call *c)
{
    if (!c) return;
    if (c->pstate) {
        c->prov->stream->release(c->pstate);
        free(c->pstate);
    }
    if (c->sse_on) pt_sse_release(&c->sse);
    if (c->evs_on) pt_evs_release(&c->evs);
    if (c->fst_on && c->fmt->stream_release) c->fmt->stream_release(&c->fst);
    pt_buf_release_block(&c->up.body);
    pt_buf_release_block(&c->body);
    pt_buf_release(&c->out);
    pt_buf_release(&c->final);
    pt_pool_release(&c->arena);
    pt_recycle_put(&calls, c, RECYCLE_MAX);
}

/* ---- feeding the answer ------------------------------------------------------------------ */

int pt__call_emit(pt_ai_call *c, const char *p, size_t n)
{
    if (!n || c->emit_rc) return c->emit_rc;
    c->emitted = true;
    if (!c->emit) return 0;
    int rc = c->emit(c->emit_arg, p, n);
    if (rc) c->emit_rc = rc;
    return rc;
}

int pt__call_flush(pt_ai_call *c)
{
    int rc = pt__call_emit(c, c->out.data, c->out.len);
    pt_buf_reset(&c->out);
    return rc;
}

void pt__call_mark_token(pt_ai_call *c)
{
    if (c->got_token) return;
    c->got_token = true;
    c->ttft_us = pt_now_us() - c->t0;
}

void pt_ai_call_on_response_head(pt_ai_call *c, int status, const pt_ai_header *headers, size_t n)
{
    c->head_seen = true;
    c->status = status;
    if (status < 200 || status > 299) {
        c->error_mode = true;
        pt_buf_init(&c->body, MAX_ERROR_BODY);
        c->rheaders = pt_pool_alloc(&c->arena, (n ? n : 1) * sizeof *c->rheaders);
        /* only what classification reads is kept (the head's slices die with this call) */
        static const char *keep[] = { "retry-after", "retry-after-ms" };
        for (size_t i = 0; c->rheaders && i < n; i++) {
            bool wanted = false;
            for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) wanted |= pt_slice_case_eq_cstr(headers[i].name, keep[k]);
            if (!wanted) continue;
            pt_ai_header *h = &c->rheaders[c->nrheaders];
            h->name = pt_pool_slice(&c->arena, headers[i].name);
            h->value = pt_pool_slice(&c->arena, headers[i].value);
            if (!h->value.ptr) h->value = PT_SLICE_LIT("");
            if (h->name.ptr) c->nrheaders++;
        }
        return;
    }
    if (!c->stream) return;
    pt_slice ct = pt__hdr(headers, n, "content-type");
    if (ct.len >= 16 && strncasecmp(ct.ptr, "application/json", 16) == 0) {
        /* a server that ignored "stream": its whole answer is turned into events at the end */
        c->json_instead_of_stream = true;
        return;
    }
    /* one event may be as large as a whole answer (a tool call writing a file arrives as
     * one function call in one event), so the answer's cap bounds it, not a line length */
    if (c->prov->eventstream) {
        pt_evs_init(&c->evs, c->max_response);
        c->evs_on = true;
    } else {
        pt_sse_init(&c->sse, c->max_response, c->max_response);
        c->sse_on = true;
    }
    if (c->mode == MODE_TRANSLATE) {
        c->pstate = calloc(1, c->prov->stream->size);
        if (c->pstate) c->prov->stream->init(c->pstate, &c->ctx);
    }
}

/* A pivot event from the provider's stream parser: account, render, collect. */
static int on_pivot(void *arg, const pt_ev *ev)
{
    pt_ai_call *c = arg;
    switch (ev->type) {
    case PT_EV_MESSAGE_START: pt_usage_merge(&c->usage, &ev->usage); break;
    case PT_EV_TEXT_DELTA:
    case PT_EV_TOOL_ARGS_DELTA:
    case PT_EV_THINKING_DELTA: pt__call_mark_token(c); break;
    case PT_EV_BLOCK_START:
        if (ev->block == PT_PART_TOOL_USE) pt__call_mark_token(c);
        break;
    case PT_EV_MESSAGE_DELTA:
        pt_usage_merge(&c->usage, &ev->usage);
        c->stop = ev->stop;
        break;
    case PT_EV_MESSAGE_STOP: c->done = true; break;
    case PT_EV_ERROR:
        c->failed = true;
        c->err = *ev->error;
        /* before any byte went out the engine may still try elsewhere: nothing is rendered */
        if (!c->emitted && !c->out.len) return 1;
        c->err_sent = true;
        break;
    default: break;
    }
    int rc = c->fmt->stream_event(&c->fst, ev, &c->out);
    return rc ? pt_ai_error_set(&c->err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot render the stream"), rc : 0;
}

static int on_sse(void *arg, const pt_sse_event *ev)
{
    pt_ai_call *c = arg;
    if (c->done) return 0;
    if (c->mode == MODE_PASS) return pt__pass_event(c, ev);
    if (!c->pstate) return PT_ENOMEM;
    pt_ai_error perr;
    memset(&perr, 0, sizeof perr);
    int rc = c->prov->stream->event(c->pstate, ev, on_pivot, c, &perr);
    if (rc && !c->failed && perr.kind) {
        c->failed = true;
        c->err = perr;
    }
    int frc = pt__call_flush(c);
    return rc ? rc : frc;
}

/* One message of an event-stream framed answer (always translated: no client speaks it). */
static int on_evs(void *arg, const pt_evs_msg *m)
{
    pt_ai_call *c = arg;
    if (c->done) return 0;
    if (!c->pstate) return PT_ENOMEM;
    pt_ai_error perr;
    memset(&perr, 0, sizeof perr);
    int rc = c->prov->stream->frame(c->pstate, m, on_pivot, c, &perr);
    if (rc && !c->failed && perr.kind) {
        c->failed = true;
        c->err = perr;
    }
    int frc = pt__call_flush(c);
    return rc ? rc : frc;
}

static int feed_stream(pt_ai_call *c, const char *p, size_t n)
{
    if (c->evs_on) {
        int rc = pt_evs_feed(&c->evs, p, n, on_evs, c);
        if ((rc == PT_EPARSE || rc == PT_ETOOBIG) && !c->failed) {
            c->failed = true;
            pt__bad_upstream(&c->err, &c->ctx,
                             rc == PT_EPARSE ? "a malformed event-stream message (length, CRC or header)"
                                             : "an event exceeded the answer size limit");
        }
        return rc;
    }
    int rc = pt_sse_feed(&c->sse, p, n, on_sse, c);
    if (rc == PT_ETOOBIG && !c->failed) {
        c->failed = true;
        pt__bad_upstream(&c->err, &c->ctx, "an event exceeded the answer size limit");
    }
    return rc;
}

int pt_ai_call_on_response_body(pt_ai_call *c, const char *p, size_t n, pt_ai_emit_fn emit, void *arg)
{
    c->emit = emit;
    c->emit_arg = arg;
    if (c->emit_rc) return c->emit_rc;
    if (c->error_mode || !c->stream || c->json_instead_of_stream) {
        /* whole answers are kept until they are complete (passed through ones too): a cut
         * one can still be retried elsewhere, and the client gets a known length */
        if (!c->body_overflow && (pt_buf_start_block(&c->body) || pt_buf_append(&c->body, p, n)))
            c->body_overflow = true;
        return 0;
    }
    if (c->failed || c->done) return 0;
    feed_stream(c, p, n);
    return c->emit_rc;
}

/* ---- finishing --------------------------------------------------------------------------- */

/* A whole pivot answer as the stream events it would have been (servers that ignore
 * "stream"). */
static int resp_events(pt_ai_call *c, const pt_pivot_resp *r)
{
    pt_ev ev = { .type = PT_EV_MESSAGE_START, .id = r->id, .model = r->model, .usage = r->usage };
    int rc = on_pivot(c, &ev);
    for (size_t i = 0; !rc && i < r->nparts; i++) {
        const pt_part *p = &r->parts[i];
        if (p->type != PT_PART_TEXT && p->type != PT_PART_TOOL_USE && p->type != PT_PART_THINKING &&
            p->type != PT_PART_REDACTED_THINKING)
            continue;
        pt_ev b = { .type = PT_EV_BLOCK_START, .index = (int)i, .block = p->type, .id = p->id, .name = p->name };
        if (p->type == PT_PART_REDACTED_THINKING) b.text = p->text;
        if ((rc = on_pivot(c, &b))) break;
        pt_ev d = { .index = (int)i };
        if (p->type == PT_PART_TEXT) d.type = PT_EV_TEXT_DELTA, d.text = p->text;
        else if (p->type == PT_PART_TOOL_USE) d.type = PT_EV_TOOL_ARGS_DELTA, d.text = p->arguments;
        else if (p->type == PT_PART_THINKING) d.type = PT_EV_THINKING_DELTA, d.text = p->text;
        if (d.type && (rc = on_pivot(c, &d))) break;
        if (p->type == PT_PART_THINKING && p->signature.len) {
            pt_ev s = { .type = PT_EV_SIGNATURE_DELTA, .index = (int)i, .text = p->signature };
            if ((rc = on_pivot(c, &s))) break;
        }
        pt_ev e = { .type = PT_EV_BLOCK_STOP, .index = (int)i };
        if ((rc = on_pivot(c, &e))) break;
    }
    if (!rc) {
        pt_ev d = { .type = PT_EV_MESSAGE_DELTA, .stop = r->stop, .stop_sequence = r->stop_sequence, .usage = r->usage };
        rc = on_pivot(c, &d);
    }
    if (!rc) {
        pt_ev s = { .type = PT_EV_MESSAGE_STOP };
        rc = on_pivot(c, &s);
    }
    return rc ? rc : pt__call_flush(c);
}

/* The OpenAI embeddings list in c->out, sent to a Gemini client in Gemini's shape. */
static int gemini_embeddings_answer(pt_ai_call *c)
{
    pt_buf g = PT_BUF_INIT;
    int rc = pt__gem_embed_answer(c->out.data ? c->out.data : "", c->out.len, c->req->gemini_embed_one, &g);
    pt_buf_reset(&c->out);
    if (rc) {
        pt_buf_release(&g);
        c->failed = true;
        return pt_ai_error_set(&c->err, PT_AI_ERR_PROTOCOL, 502, NULL, "provider '%s' sent embeddings that cannot be read",
                               c->at.provider->name);
    }
    rc = pt__call_emit(c, g.data, g.len);
    pt_buf_release(&g);
    return rc;
}

/* A passed-through whole answer: its usage read, then sent as it came. */
static int pass_whole(pt_ai_call *c)
{
    if (c->body_overflow) {
        c->failed = true;
        return pt_ai_error_set(&c->err, PT_AI_ERR_PROTOCOL, 502, NULL, "provider '%s' sent an answer over the size limit",
                               c->at.provider->name);
    }
    pt__pass_body_usage(c);
    if (c->req->fmt == PT_AI_FMT_GEMINI && c->req->ep == PT_AI_EP_EMBEDDINGS) {
        if (pt_buf_append(&c->out, c->body.data ? c->body.data : "", c->body.len)) {
            c->failed = true;
            return pt_ai_error_set(&c->err, PT_AI_ERR_INTERNAL, 500, NULL, "out of memory");
        }
        return gemini_embeddings_answer(c);
    }
    return pt__call_emit(c, c->body.data, c->body.len);
}

/* {"input_tokens":N}, the count_tokens answer (Responses: {"object":"response.input_tokens",
 * "input_tokens":N}, as OpenAI's counter answers; Gemini: {"totalTokens":N}). */
static int count_answer(pt_ai_call *c, int64_t n)
{
    pt_jw w;
    pt_jw_init(&w, &c->out);
    pt_jw_obj(&w);
    if (c->req->fmt == PT_AI_FMT_RESPONSES) pt_jw_kcstr(&w, "object", "response.input_tokens");
    pt_jw_kint(&w, c->req->fmt == PT_AI_FMT_GEMINI ? "totalTokens" : "input_tokens", n);
    pt_jw_obj_end(&w);
    return w.err ? w.err : pt__call_flush(c);
}

static int finish_local(pt_ai_call *c) { return count_answer(c, pt_pivot_estimate_input_tokens(&c->req->pivot)); }

/* A provider's own count (not Anthropic's, which is passed through), in Anthropic's shape:
 * count_tokens is an Anthropic endpoint. */
static int finish_count(pt_ai_call *c)
{
    int64_t n = 0;
    pt_ai_error e;
    memset(&e, 0, sizeof e);
    if (!c->prov->parse_count || c->prov->parse_count(&c->ctx, c->body.data ? c->body.data : "", c->body.len, &n, &e)) {
        c->failed = true;
        c->err = e;
        if (!c->err.kind) pt_ai_error_set(&c->err, PT_AI_ERR_PROTOCOL, 502, NULL, "unreadable count");
        return -1;
    }
    return count_answer(c, n);
}

/* A provider's counter that fails (a server of the type without the endpoint, a timeout)
 * must not fail count_tokens, which clients call before every turn: the local estimate
 * answers instead. */
static void count_or_estimate(pt_ai_call *c, pt_ai_end how)
{
    if (how == PT_AI_END_OK && c->head_seen && !c->error_mode && !c->body_overflow && finish_count(c) == 0) return;
    pt_log_debug("provider '%s' could not count tokens (status %d); answering the local estimate",
                 c->at.provider->name, c->status);
    c->failed = false;
    memset(&c->err, 0, sizeof c->err);
    pt_buf_reset(&c->out);
    finish_local(c);
}

static int finish_whole(pt_ai_call *c)
{
    if (c->body_overflow) {
        c->failed = true;
        return pt_ai_error_set(&c->err, PT_AI_ERR_PROTOCOL, 502, NULL, "provider '%s' sent an answer over the size limit",
                               c->at.provider->name);
    }
    if (c->mode == MODE_EMBED) {
        pt_ai_error e;
        memset(&e, 0, sizeof e);
        pt_usage u;
        const pt_jv *j = request_json(c->req, &e);
        if (!j || c->prov->parse_embed(&c->ctx, j, c->body.data ? c->body.data : "", c->body.len,
                                       pt_ai_request_model(c->req), &c->out, &u, &e)) {
            c->failed = true;
            c->err = e;
            pt_buf_reset(&c->out);
            return -1;
        }
        c->usage = u;
        return c->req->fmt == PT_AI_FMT_GEMINI ? gemini_embeddings_answer(c) : pt__call_flush(c);
    }
    pt_pivot_resp resp;
    pt_pivot_resp_init(&resp);
    pt_ai_error e;
    pt_ai_error_clear(&e);
    int rc = c->prov->parse_chat(&c->ctx, c->body.data ? c->body.data : "", c->body.len, &resp, &e);
    if (rc) {
        c->failed = true;
        c->err = e;
    } else {
        pt_usage_merge(&c->usage, &resp.usage);
        c->stop = resp.stop;
        for (size_t i = 0; i < resp.nparts && !c->got_token; i++) pt__call_mark_token(c);
        if (c->stream) {
            rc = resp_events(c, &resp);
        } else {
            pt__render_ctx rctx = { .model = pt_slice_cstr(c->at.upstream_model), .request_id = c->request_id,
                                    .now_unix = c->ctx.now_unix, .include_usage = c->req->include_usage,
                                    .store = c->store, .previous_response_id = c->prev_id };
            /* the answer in the client's format is about as long as the provider's: one
             * allocation instead of a few doublings */
            pt_buf_reserve(&c->out, c->body.len + 256);
            rc = c->fmt->render_resp(&resp, &rctx, &c->out);
            if (!rc && c->req->fmt == PT_AI_FMT_RESPONSES) rc = pt_buf_append(&c->final, c->out.data, c->out.len);
            if (rc) {
                c->failed = true;
                pt_ai_error_set(&c->err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot render the answer");
                pt_buf_reset(&c->out);
            } else {
                rc = pt__call_flush(c);
            }
        }
    }
    pt_pivot_resp_release(&resp);
    return rc;
}

static void end_stream(pt_ai_call *c)
{
    if (c->sse_on && !c->failed && !c->done) pt_sse_finish(&c->sse, on_sse, c);
    if (c->failed || c->done) return;
    if (c->evs_on && pt_evs_pending(&c->evs)) {
        c->failed = true;
        pt_ai_error_set(&c->err, PT_AI_ERR_PROTOCOL, 502, NULL,
                        "provider '%s' ended the stream in the middle of a message", c->at.provider->name);
        return;
    }
    if (c->mode == MODE_TRANSLATE && c->pstate) {
        pt_ai_error e;
        memset(&e, 0, sizeof e);
        int rc = c->prov->stream->end(c->pstate, on_pivot, c, &e);
        if (rc && !c->failed) {
            c->failed = true;
            c->err = e;
        }
        pt__call_flush(c);
        return;
    }
    if (c->req->fmt == PT_AI_FMT_GEMINI && c->gem_finished) { /* Gemini has no end sentinel */
        c->done = true;
        if (c->req->json_array) pt__call_emit(c, "]", 1);
        return;
    }
    c->failed = true;
    pt_ai_error_set(&c->err, PT_AI_ERR_PROTOCOL, 502, NULL, "provider '%s' ended the stream before it was complete",
                    c->at.provider->name);
}

static void cost(pt_ai_call *c, pt_ai_result *out)
{
    pt_ai_price price;
    bool known;
    if (c->at.target) {
        known = c->at.target->price_known; /* resolved when the configuration was loaded */
        price = c->at.target->price;
    } else {
        known = pt_price_for(c->at.provider, c->at.upstream_model, &price);
    }
    out->cost_known = known;
    if (known) {
        out->cost_pico_usd = pt_price_cost_pusd(&price, &out->usage);
        out->cost_micro_usd = pt_price_pusd_to_micro(out->cost_pico_usd);
    }
}

int pt_ai_call_finish(pt_ai_call *c, pt_ai_end how, pt_ai_emit_fn emit, void *arg, pt_ai_result *out)
{
    c->emit = emit;
    c->emit_arg = arg;
    /* the error (600 bytes) is cleared, not zeroed: it is read only when the call failed;
     * everything after it is zeroed */
    _Static_assert(offsetof(pt_ai_result, error) < offsetof(pt_ai_result, emitted), "pt_ai_result's order");
    out->kind = PT_AI_OK;
    pt_ai_error_clear(&out->error);
    memset((char *)out + offsetof(pt_ai_result, emitted), 0, sizeof *out - offsetof(pt_ai_result, emitted));
    if (!c->finished) {
        c->finished = true;
        if (c->mode == MODE_LOCAL) {
            finish_local(c);
        } else if (c->req->ep == PT_AI_EP_COUNT_TOKENS && c->mode == MODE_TRANSLATE && how != PT_AI_END_ABORTED) {
            count_or_estimate(c, how);
        } else if (how == PT_AI_END_ABORTED) {
            /* nothing more goes to the client */
        } else if (how == PT_AI_END_CONNECT) {
            c->failed = true;
            pt_ai_error_set(&c->err, PT_AI_ERR_CONNECT, 502, NULL, "cannot reach provider '%s'", c->at.provider->name);
        } else if (how == PT_AI_END_TIMEOUT) {
            c->failed = true;
            pt_ai_error_set(&c->err, PT_AI_ERR_TIMEOUT, 504, NULL, "provider '%s' did not answer in time",
                            c->at.provider->name);
        } else if (c->error_mode) {
            c->failed = true;
            c->prov->classify(&c->ctx, c->status, c->rheaders, c->nrheaders, c->body.data ? c->body.data : "",
                              c->body.len, &c->err);
        } else if (!c->head_seen) {
            c->failed = true;
            pt_ai_error_set(&c->err, PT_AI_ERR_PROTOCOL, 502, NULL, "provider '%s' closed the connection without answering",
                            c->at.provider->name);
        } else if (how == PT_AI_END_CUT) {
            if (!c->done && !c->failed) {
                c->failed = true;
                pt_ai_error_set(&c->err, PT_AI_ERR_PROTOCOL, 502, NULL,
                                "provider '%s' closed the connection before the answer was complete",
                                c->at.provider->name);
            }
        } else if (c->json_instead_of_stream) {
            finish_whole(c);
        } else if (c->stream) {
            end_stream(c);
        } else if (c->mode == MODE_PASS) {
            pass_whole(c);
        } else {
            finish_whole(c);
        }
        /* a stream that fails after bytes went out ends with an error event in the client's format */
        if (c->failed && c->emitted && c->stream && !c->err_sent && how != PT_AI_END_ABORTED && !c->emit_rc) {
            c->err_sent = true;
            pt_buf_reset(&c->out);
            pt_ev ev = { .type = PT_EV_ERROR, .error = &c->err };
            if (c->fmt->stream_event(&c->fst, &ev, &c->out) == 0) pt__call_flush(c);
        }
        /* key state */
        if (c->failed && c->at.key_index < c->at.provider->nkeys) {
            if (c->err.kind == PT_AI_ERR_RATE_LIMIT)
                pt_ai_key_cooldown(c->at.provider, c->at.key_index, pt_now_ms(), c->err.retry_after_ms);
            else if (c->err.kind == PT_AI_ERR_AUTH)
                pt_ai_key_disable(c->at.provider, c->at.key_index, c->err.upstream_status);
        }
    }
    out->kind = c->failed ? c->err.kind : PT_AI_OK;
    if (c->failed) out->error = c->err;
    if (c->failed && !out->kind) out->kind = PT_AI_ERR_INTERNAL;
    out->emitted = c->emitted;
    out->retryable = c->failed && !c->emitted && pt_ai_err_retryable(out->kind);
    out->passthrough = c->mode == MODE_PASS;
    out->upstream_status = c->status;
    out->usage = c->usage;
    out->usage.input = pt_usage_get(c->usage.input);
    out->usage.output = pt_usage_get(c->usage.output);
    out->usage.cache_read = pt_usage_get(c->usage.cache_read);
    out->usage.cache_write = pt_usage_get(c->usage.cache_write);
    out->usage.reasoning = pt_usage_get(c->usage.reasoning);
    out->usage_estimated = c->mode == MODE_EMBED && c->prov->type == PT_AI_PROV_GEMINI;
    if (c->mode == MODE_LOCAL || c->req->ep == PT_AI_EP_COUNT_TOKENS) out->usage = (pt_usage){ 0, 0, 0, 0, 0 };
    out->stop = c->stop;
    out->ttft_us = c->ttft_us;
    out->duration_us = pt_now_us() - c->t0;
    out->provider = c->at.provider->name;
    out->upstream_model = c->at.upstream_model;
    if (c->req->ep != PT_AI_EP_COUNT_TOKENS) cost(c, out);
    else out->cost_known = true; /* counting is free */
    return c->emit_rc;
}

int pt_ai_call_error_body(const pt_ai_call *c, const pt_ai_result *res, pt_buf *out)
{
    bool same_wire = same_wire_as(c->req->fmt, c->prov);
    /* only a provider that speaks the client's own format (not Mistral's variant) */
    if (res->kind == PT_AI_ERR_CLIENT && same_wire && c->prov->passthrough && c->error_mode && c->body.len &&
        pt_jscan_document(c->body.data, c->body.len, NULL) == 0 && !(c->ctx.key && strstr(c->body.data, c->ctx.key)))
        return pt_buf_append(out, c->body.data, c->body.len);
    return pt__fmt_render_error(c->fmt, &res->error, false, out);
}
