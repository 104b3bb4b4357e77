/* pass.c: what a passed-through answer says on the side (see call_int.h): each event of a
 * stream forwarded as it came (OpenAI, Anthropic, Responses and Gemini wires) while its
 * usage, stop reason, first token and in-stream errors are read, and the usage and stop
 * reason of a whole answer found without parsing the answer. */
#include <string.h>

#include "ai/call_int.h"
#include "ai/prov.h"
#include "core/json_scan.h"
#include "core/str.h"

/* The stop reason of an OpenAI answer or chunk whose "finish_reason":" starts at fr. */
static pt_stop_reason oai_finish(const char *fr, const char *end)
{
    char tmp[32];
    size_t k = 0;
    for (const char *q = fr + 17; q < end && *q != '"' && k + 1 < sizeof tmp; q++) tmp[k++] = *q;
    tmp[k] = '\0';
    return pt__oai_stop(tmp);
}

/* Passthrough, OpenAI wire: one chunk forwarded, its usage read. */
static int pass_openai_event(pt_ai_call *c, const pt_sse_event *ev)
{
    pt_slice data = ev->data;
    if (pt_slice_eq_cstr(pt_slice_trim(data), "[DONE]")) {
        c->done = true;
        return pt__call_emit(c, "data: [DONE]\n\n", 14);
    }
    pt_jfield f[16];
    size_t nf = 0, o, cl;
    bool drop = false;
    pt_pool scratch;
    pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
    if (pt_jscan_object(data.ptr, data.len, 0, f, 16, &nf, &o, &cl) == 0) {
        if (nf > 16) nf = 16;
        int iu = pt_jscan_find(f, nf, "usage", NULL);
        if (iu >= 0 && data.ptr[f[iu].vstart] == '{') {
            const pt_jv *u = pt_jdom_parse(&scratch, data.ptr + f[iu].vstart, f[iu].vend - f[iu].vstart, NULL);
            pt_usage nu;
            pt__oai_usage(u, &nu);
            pt_usage_merge(&c->usage, &nu);
            int ic = pt_jscan_find(f, nf, "choices", NULL);
            bool empty = ic >= 0 && pt_slice_eq_cstr(pt_slice_trim(pt_slice_from(data.ptr + f[ic].vstart + 1,
                                                                                 f[ic].vend - f[ic].vstart - 2)), "");
            /* the usage chunk we asked for on the client's behalf is not the client's */
            drop = (empty || ic < 0) && !c->req->include_usage;
        }
        int ie = pt_jscan_find(f, nf, "error", NULL);
        if (ie >= 0 && data.ptr[f[ie].vstart] == '{') {
            const pt_jv *e = pt_jdom_parse(&scratch, data.ptr + f[ie].vstart, f[ie].vend - f[ie].vstart, NULL);
            const char *m = pt_jv_cstr(pt_jv_get(e, "message"));
            pt__classify_status(&c->ctx, 500, m ? m : "error in stream", &c->err);
            c->failed = true;
            c->done = true;
            if (!c->emitted) {
                pt_pool_release(&scratch);
                return 1; /* retryable: nothing reached the client */
            }
            c->err_sent = true;
        }
    }
    if (!c->got_token && (pt_mem_find(data.ptr, data.len, "\"tool_calls\"", 12) ||
                          pt_mem_find(data.ptr, data.len, "\"reasoning_content\":\"", 21))) {
        pt__call_mark_token(c);
    } else if (!c->got_token) {
        const char *p = pt_mem_find(data.ptr, data.len, "\"content\":\"", 11);
        if (p && p + 11 < data.ptr + data.len && p[11] != '"') pt__call_mark_token(c);
    }
    const char *fr = pt_mem_find(data.ptr, data.len, "\"finish_reason\":\"", 17);
    if (fr) c->stop = oai_finish(fr, data.ptr + data.len);
    pt_pool_release(&scratch);
    if (drop) return 0;
    int rc = pt_buf_append_str(&c->out, "data: ");
    if (!rc) rc = pt_buf_append_slice(&c->out, data);
    if (!rc) rc = pt_buf_append(&c->out, "\n\n", 2);
    return rc ? rc : pt__call_flush(c);
}

/* Passthrough, Anthropic wire: one event forwarded; usage from message_start and message_delta. */
static int pass_event_out(pt_ai_call *c, const pt_sse_event *ev);

static int pass_anthropic_event(pt_ai_call *c, const pt_sse_event *ev)
{
    pt_slice name = ev->event;
    bool is_error = pt_slice_eq_cstr(name, "error");
    if (pt_slice_eq_cstr(name, "message_start") || pt_slice_eq_cstr(name, "message_delta") || is_error) {
        pt_pool scratch;
        pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
        const pt_jv *root = pt_jdom_parse(&scratch, ev->data.ptr, ev->data.len, NULL);
        const pt_jv *u = pt_slice_eq_cstr(name, "message_start")
                              ? pt_jv_get(pt_jv_get(root, "message"), "usage")
                              : pt_jv_get(root, "usage");
        pt_usage nu;
        pt__ant_usage(u, &nu);
        pt_usage_merge(&c->usage, &nu);
        const char *sr = pt_jv_cstr(pt_jv_get(pt_jv_get(root, "delta"), "stop_reason"));
        if (sr) c->stop = pt__ant_stop(sr);
        if (is_error) {
            const pt_jv *e = pt_jv_get(root, "error");
            const char *type = pt_jv_cstr(pt_jv_get(e, "type"));
            int status = type && strcmp(type, "overloaded_error") == 0 ? 529 : 500;
            pt__classify_status(&c->ctx, status, pt_jv_cstr(pt_jv_get(e, "message")), &c->err);
            c->failed = true;
            c->done = true;
        }
        pt_pool_release(&scratch);
        if (is_error && !c->emitted) return 1;
        if (is_error) c->err_sent = true;
    } else if (pt_slice_eq_cstr(name, "content_block_delta")) {
        pt__call_mark_token(c);
    } else if (pt_slice_eq_cstr(name, "message_stop")) {
        c->done = true;
    }
    return pass_event_out(c, ev);
}

/* The usage of a Responses answer: input_tokens counts the cached ones too. */
static void responses_usage(const pt_jv *u, pt_usage *out)
{
    *out = PT_USAGE_UNKNOWN;
    if (!pt_jv_is_object(u)) return;
    const pt_jv *in = pt_jv_get(u, "input_tokens"), *o = pt_jv_get(u, "output_tokens");
    int64_t cached = pt_jv_int(pt_jv_get(pt_jv_get(u, "input_tokens_details"), "cached_tokens"));
    if (pt_jv_is_integer(in)) {
        int64_t all = pt_jv_int(in), c = cached > 0 ? (cached > all ? all : cached) : 0;
        out->input = all - c;
        out->cache_read = c;
        out->cache_write = 0;
    }
    if (pt_jv_is_integer(o)) out->output = pt_jv_int(o);
    const pt_jv *r = pt_jv_get(pt_jv_get(u, "output_tokens_details"), "reasoning_tokens");
    out->reasoning = pt_jv_is_integer(r) ? pt_jv_int(r) : out->output >= 0 ? 0 : -1;
}

/* Passthrough, Responses wire (an OpenAI provider serving what only it can): the typed
 * events forwarded as they are; the last one carries the whole response with its usage, an
 * error event or response.failed ends the call failed. */
static int pass_responses_event(pt_ai_call *c, const pt_sse_event *ev)
{
    pt_slice name = ev->event;
    bool failed = pt_slice_eq_cstr(name, "error") || pt_slice_eq_cstr(name, "response.failed");
    bool end = failed || pt_slice_eq_cstr(name, "response.completed") || pt_slice_eq_cstr(name, "response.incomplete");
    if (name.len > 6 && memcmp(name.ptr + name.len - 6, ".delta", 6) == 0) pt__call_mark_token(c);
    if (end) {
        pt_pool scratch;
        pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
        const pt_jv *root = pt_jdom_parse(&scratch, ev->data.ptr, ev->data.len, NULL);
        const pt_jv *resp = pt_jv_get(root, "response");
        pt_usage nu;
        responses_usage(pt_jv_get(resp, "usage"), &nu);
        pt_usage_merge(&c->usage, &nu);
        if (pt_slice_eq_cstr(name, "response.incomplete")) c->stop = PT_STOP_MAX_TOKENS;
        if (failed) {
            const pt_jv *e = resp ? pt_jv_get(resp, "error") : root;
            const char *m = pt_jv_cstr(pt_jv_get(e, "message"));
            pt__classify_status(&c->ctx, 500, m ? m : "the response failed", &c->err);
            c->failed = true;
        }
        c->done = true;
        pt_pool_release(&scratch);
        if (failed && !c->emitted) return 1; /* retryable: nothing reached the client */
        if (failed) c->err_sent = true;
    }
    return pass_event_out(c, ev);
}

/* A passed-through event as it came: its name, when it has one, and its data. */
static int pass_event_out(pt_ai_call *c, const pt_sse_event *ev)
{
    pt_slice name = ev->event;
    int rc = 0;
    if (name.len) {
        rc = pt_buf_append_str(&c->out, "event: ");
        if (!rc) rc = pt_buf_append_slice(&c->out, name);
        if (!rc) rc = pt_buf_append(&c->out, "\n", 1);
    }
    if (!rc) rc = pt_buf_append_str(&c->out, "data: ");
    if (!rc) rc = pt_buf_append_slice(&c->out, ev->data);
    if (!rc) rc = pt_buf_append(&c->out, "\n\n", 2);
    return rc ? rc : pt__call_flush(c);
}

/* What a Gemini answer (a whole one or one chunk) tells on the side: usage (cumulative),
 * finishReason, function calls, the first token. */
static void gemini_facts(pt_ai_call *c, const pt_jv *root)
{
    pt_usage nu;
    pt__gem_usage(pt_jv_get(root, "usageMetadata"), &nu);
    pt_usage_merge(&c->usage, &nu);
    const pt_jv *cand = pt_jv_at(pt_jv_get(root, "candidates"), 0);
    const pt_jv *parts = pt_jv_get(pt_jv_get(cand, "content"), "parts");
    size_t i;
    const pt_jv *p;
    PT_JV_FOREACH(parts, i, p) {
        c->gem_calls |= pt_jv_get(p, "functionCall") != NULL;
        pt__call_mark_token(c);
    }
    const char *fr = pt_jv_cstr(pt_jv_get(cand, "finishReason"));
    if (fr) {
        c->stop = pt__gem_stop(fr);
        c->gem_finished = true;
    }
    if (c->stop == PT_STOP_END_TURN && c->gem_calls) c->stop = PT_STOP_TOOL_USE;
}

/* Passthrough, Gemini wire: one chunk forwarded, as an event or as an element of the JSON
 * array the client asked for (the upstream is always asked for events). */
static int pass_gemini_event(pt_ai_call *c, const pt_sse_event *ev)
{
    pt_pool scratch;
    pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
    const pt_jv *root = pt_jdom_parse(&scratch, ev->data.ptr, ev->data.len, NULL);
    const pt_jv *e = pt_jv_get(root, "error");
    if (pt_jv_is_object(e)) {
        int64_t code = pt_jv_int(pt_jv_get(e, "code"));
        pt__classify_status(&c->ctx, code >= 400 && code < 600 ? (int)code : 500, pt_jv_cstr(pt_jv_get(e, "message")),
                            &c->err);
        c->failed = true;
        c->done = true;
    } else {
        gemini_facts(c, root);
    }
    pt_pool_release(&scratch);
    if (c->failed && !c->emitted) return 1; /* retryable: nothing reached the client */
    if (c->failed) c->err_sent = true;
    bool array = c->req->json_array;
    int rc = pt_buf_append_str(&c->out, !array ? "data: " : c->fst.started ? ",\r\n" : "[");
    c->fst.started = true;
    if (!rc) rc = pt_buf_append_slice(&c->out, ev->data);
    if (!rc) rc = pt_buf_append_str(&c->out, !array ? "\r\n\r\n" : c->failed ? "]" : "");
    return rc ? rc : pt__call_flush(c);
}


int pt__pass_event(pt_ai_call *c, const pt_sse_event *ev)
{
    switch (c->req->fmt) {
    case PT_AI_FMT_GEMINI: return pass_gemini_event(c, ev);
    case PT_AI_FMT_RESPONSES: return pass_responses_event(c, ev);
    case PT_AI_FMT_OPENAI: return pass_openai_event(c, ev);
    default: return pass_anthropic_event(c, ev);
    }
}

/* Usage of a passed-through whole answer: the top-level "usage" member. */
void pt__pass_body_usage(pt_ai_call *c)
{
    if (!c->body.len) return;
    if (c->req->fmt == PT_AI_FMT_GEMINI && c->req->ep != PT_AI_EP_EMBEDDINGS) {
        pt_pool scratch;
        pt_pool_init(&scratch, 0, 0);
        gemini_facts(c, pt_jdom_parse(&scratch, c->body.data, c->body.len, NULL));
        pt_pool_release(&scratch);
        return;
    }
    pt_jfield f[32];
    size_t nf;
    /* the answer goes to the client as it came: only find the members read here (the
     * usage object is validated when it is parsed) */
    if (pt_jscan_skim_object(c->body.data, c->body.len, f, 32, &nf)) return;
    if (nf > 32) nf = 32;
    static const pt_jname names[] = { PT_JNAME("usage"), PT_JNAME("choices"), PT_JNAME("stop_reason") };
    int at[3];
    pt_jscan_find_each(f, nf, names, 3, at);
    int iu = at[0];
    if (iu < 0) return;
    const char *us = c->body.data + f[iu].vstart;
    size_t ul = f[iu].vend - f[iu].vstart;
    pt_usage nu = PT_USAGE_UNKNOWN;
    if (c->req->fmt == PT_AI_FMT_OPENAI || c->req->ep == PT_AI_EP_EMBEDDINGS) { /* Gemini clients' embeddings too */
        pt__oai_usage_text(us, ul, &nu); /* the commonest answer: no tree */
        if (c->req->ep == PT_AI_EP_EMBEDDINGS && nu.output < 0) nu.output = 0;
        int ic = at[1];
        if (ic >= 0) {
            const char *fr = pt_mem_find(c->body.data + f[ic].vstart, f[ic].vend - f[ic].vstart, "\"finish_reason\":\"", 17);
            if (fr) c->stop = oai_finish(fr, c->body.data + c->body.len);
        }
    } else {
        int is = at[2];
        char sr[32];
        if (is >= 0 && pt_jscan_string(c->body.data, f[is].vstart, f[is].vend, sr, sizeof sr) >= 0)
            c->stop = pt__ant_stop(sr);
    }
    if (c->req->fmt == PT_AI_FMT_ANTHROPIC || c->req->fmt == PT_AI_FMT_RESPONSES) {
        pt_pool scratch;
        pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
        const pt_jv *u = pt_jdom_parse(&scratch, us, ul, NULL);
        if (c->req->fmt == PT_AI_FMT_ANTHROPIC) pt__ant_usage(u, &nu);
        else responses_usage(u, &nu);
        pt_pool_release(&scratch);
    }
    pt_usage_merge(&c->usage, &nu);
}
