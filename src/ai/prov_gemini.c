/* prov_gemini.c: Google Gemini (generativelanguage API) as a provider:
 * POST {base}/v1beta/models/{model}:generateContent, :streamGenerateContent?alt=sse and
 * :batchEmbedContents, key in x-goog-api-key. Gemini sends whole function calls (no
 * argument deltas), marks reasoning parts with "thought": true, reports usage as
 * cumulative usageMetadata in every chunk, and ends a stream by closing it (no
 * sentinel), so the stream parser finishes the message at the end of the body. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/prov.h"
#include "core/err.h"
#include "core/json_scan.h"
#include "core/json_write.h"
#include "core/str.h"

#define MAX_BLOCKS PT__MAX_BLOCKS
#define MIN_THINKING_BUDGET 1024

/* "models/gemini-2.5-pro" and "gemini-2.5-pro" name the same model */
static const char *bare_model(const char *m) { return strncmp(m, "models/", 7) == 0 ? m + 7 : m; }

static int head(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err)
{
    char path[512];
    const char *verb = c->ep == PT_AI_EP_EMBEDDINGS     ? ":batchEmbedContents"
                       : c->ep == PT_AI_EP_COUNT_TOKENS ? ":countTokens"
                       : c->stream                      ? ":streamGenerateContent?alt=sse"
                                                        : ":generateContent";
    int n = snprintf(path, sizeof path, "/v1beta/models/%s%s", bare_model(c->model), verb);
    if (n < 0 || (size_t)n >= sizeof path)
        return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "model name too long");
    up->method = "POST";
    int rc = pt__up_path(up, c->cfg, path);
    if (!rc) rc = pt__up_header(up, "content-type", "application/json");
    if (!rc && c->key) rc = pt__up_header(up, "x-goog-api-key", c->key);
    if (!rc) rc = pt__up_extra_headers(up, c->cfg);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot build the upstream request");
    return 0;
}

/* ---- request ------------------------------------------------------------------------- */

/* An image or a file: fileData for a URL, inlineData for base64. */
static void inline_image(pt_jw *w, const pt_part *p)
{
    pt_jw_obj(w);
    if (p->url.len) {
        pt_jw_key(w, "fileData");
        pt_jw_obj(w);
        pt_jw_kstr(w, "fileUri", p->url);
        pt_jw_obj_end(w);
    } else {
        pt_jw_key(w, "inlineData");
        pt_jw_obj(w);
        pt_jw_kstr(w, "mimeType", p->media_type);
        pt_jw_kstr(w, "data", p->data);
        pt_jw_obj_end(w);
    }
    pt_jw_obj_end(w);
}

/* The name of the function a tool result answers: Gemini pairs them by name. */
static pt_slice tool_name_of(const pt_pivot_req *r, pt_slice id)
{
    for (size_t i = 0; i < r->nmsgs; i++)
        for (size_t k = 0; k < r->msgs[i].nparts; k++) {
            const pt_part *p = &r->msgs[i].parts[k];
            if (p->type == PT_PART_TOOL_USE && pt_slice_eq(p->id, id)) return p->name;
        }
    return id;
}

/* Gemini 3 refuses a turn whose first function call has no signature. A call made by
 * another model (a fallback, or a history from elsewhere) has none, so for Gemini 3 and
 * later (and the unversioned aliases, which name current models) the first call of such a
 * turn carries the value Gemini documents for calls it did not make. Gemini 1.x and 2.x
 * do not require signatures and get none, nor do models not named gemini-*. */
#define FOREIGN_CALL_SIGNATURE "skip_thought_signature_validator"

static bool requires_call_signatures(const char *model)
{
    const char *m = bare_model(model);
    if (strncmp(m, "gemini-", 7) != 0) return false; /* not Gemini (Gemma, tuned models...) */
    if (m[7] < '0' || m[7] > '9') return true;      /* an alias (gemini-flash-latest): current models */
    return strtol(m + 7, NULL, 10) >= 3;
}

static bool turn_signed(const pt_msg *m)
{
    for (size_t i = 0; i < m->nparts; i++)
        if (m->parts[i].type == PT_PART_TOOL_USE && m->parts[i].signature.len) return true;
    return false;
}

static int msg_parts(pt_jw *w, const pt__prov_ctx *c, const pt_pivot_req *r, const pt_msg *m, size_t mi,
                     pt_ai_error *err)
{
    bool need_sig = requires_call_signatures(c->model) && !turn_signed(m);
    for (size_t i = 0; i < m->nparts; i++) {
        const pt_part *p = &m->parts[i];
        switch (p->type) {
        case PT_PART_TEXT:
            if (!p->text.len) break;
            pt_jw_obj(w);
            pt_jw_kstr(w, "text", p->text);
            pt_jw_obj_end(w);
            break;
        case PT_PART_IMAGE: inline_image(w, p); break;
        case PT_PART_FILE: /* pt__check_files let through base64 of any type and plain text */
            if (!p->text.len) {
                inline_image(w, p);
                break;
            }
            pt_jw_obj(w);
            pt_jw_kstr(w, "text", p->text);
            pt_jw_obj_end(w);
            break;
        case PT_PART_TOOL_USE: {
            size_t open, close, nf;
            pt_slice args = p->arguments.len ? p->arguments : PT_SLICE_LIT("{}");
            if (pt_jscan_object(args.ptr, args.len, 0, NULL, 0, &nf, &open, &close)) {
                char path[48];
                pt_str_index(path, sizeof path, "messages", "", mi);
                return pt_ai_error_set(err, PT_AI_ERR_INVALID, 400, path,
                                       "%s: the arguments of tool call '%.*s' are not a JSON object", path,
                                       PT_SLICE_ARG(p->id));
            }
            pt_jw_obj(w);
            pt_jw_key(w, "functionCall");
            pt_jw_obj(w);
            pt_jw_kstr(w, "name", p->name);
            pt_jw_key(w, "args");
            pt_jw_raw(w, pt_slice_from(args.ptr + open, close + 1 - open));
            pt_jw_obj_end(w);
            if (p->signature.len) {
                pt_jw_kstr(w, "thoughtSignature", p->signature);
            } else if (need_sig) {
                pt_jw_kcstr(w, "thoughtSignature", FOREIGN_CALL_SIGNATURE);
                need_sig = false;
            }
            pt_jw_obj_end(w);
            break;
        }
        case PT_PART_TOOL_RESULT: {
            pt_jw_obj(w);
            pt_jw_key(w, "functionResponse");
            pt_jw_obj(w);
            pt_jw_kstr(w, "name", tool_name_of(r, p->tool_use_id));
            pt_jw_key(w, "response");
            pt_jw_obj(w);
            pt_buf t = PT_BUF_INIT;
            for (size_t k = 0; k < p->ncontent; k++)
                if (p->content[k].type == PT_PART_TEXT && pt_buf_append_slice(&t, p->content[k].text))
                    w->err = PT_ENOMEM;
            pt_jw_kstr(w, p->is_error ? "error" : "content", pt_buf_slice(&t));
            pt_buf_release(&t);
            pt_jw_obj_end(w);
            pt_jw_obj_end(w);
            pt_jw_obj_end(w);
            for (size_t k = 0; k < p->ncontent; k++)
                if (p->content[k].type == PT_PART_IMAGE) inline_image(w, &p->content[k]);
            break;
        }
        case PT_PART_THINKING:
        case PT_PART_REDACTED_THINKING:
            break; /* reasoning of earlier turns is not sent back */
        }
    }
    return 0;
}

static bool has_parts(const pt_msg *m)
{
    for (size_t i = 0; i < m->nparts; i++) {
        pt_part_type t = m->parts[i].type;
        if ((t == PT_PART_TEXT && m->parts[i].text.len) || t == PT_PART_IMAGE || t == PT_PART_FILE ||
            t == PT_PART_TOOL_USE || t == PT_PART_TOOL_RESULT)
            return true;
    }
    return false;
}

static void generation_config(pt_jw *w, const pt__prov_ctx *c, const pt_pivot_req *r)
{
    bool any = r->max_tokens > 0 || !isnan(r->temperature) || !isnan(r->top_p) || r->top_k >= 0 || r->nstop ||
               r->seed >= 0 || r->response_format >= PT_RESP_FORMAT_JSON_OBJECT || r->reasoning_budget >= 0 ||
               !isnan(r->presence_penalty) || !isnan(r->frequency_penalty);
    (void)c;
    if (!any) return;
    pt_jw_key(w, "generationConfig");
    pt_jw_obj(w);
    if (r->max_tokens > 0) pt_jw_kint(w, "maxOutputTokens", r->max_tokens);
    if (!isnan(r->temperature)) {
        pt_jw_key(w, "temperature");
        pt_jw_num(w, r->temperature);
    }
    if (!isnan(r->top_p)) {
        pt_jw_key(w, "topP");
        pt_jw_num(w, r->top_p);
    }
    if (r->top_k >= 0) pt_jw_kint(w, "topK", r->top_k);
    if (!isnan(r->presence_penalty)) {
        pt_jw_key(w, "presencePenalty");
        pt_jw_num(w, r->presence_penalty);
    }
    if (!isnan(r->frequency_penalty)) {
        pt_jw_key(w, "frequencyPenalty");
        pt_jw_num(w, r->frequency_penalty);
    }
    if (r->seed >= 0) pt_jw_kint(w, "seed", r->seed);
    if (r->nstop) {
        pt_jw_key(w, "stopSequences");
        pt_jw_arr(w);
        for (size_t i = 0; i < r->nstop; i++) pt_jw_str(w, r->stop[i]);
        pt_jw_arr_end(w);
    }
    if (r->response_format == PT_RESP_FORMAT_JSON_OBJECT || r->response_format == PT_RESP_FORMAT_JSON_SCHEMA) {
        pt_jw_kcstr(w, "responseMimeType", "application/json");
        if (r->response_format == PT_RESP_FORMAT_JSON_SCHEMA && r->response_schema.len) {
            pt_jw_key(w, "responseJsonSchema");
            pt_jw_raw(w, r->response_schema);
        }
    }
    if (r->reasoning_budget >= 0) {
        pt_jw_key(w, "thinkingConfig");
        pt_jw_obj(w);
        pt_jw_kint(w, "thinkingBudget", r->reasoning_budget);
        if (r->reasoning_budget > 0) pt_jw_kbool(w, "includeThoughts", true);
        pt_jw_obj_end(w);
    }
    pt_jw_obj_end(w);
}

static void tools(pt_jw *w, const pt_pivot_req *r)
{
    if (!r->ntools) return;
    pt_jw_key(w, "tools");
    pt_jw_arr(w);
    pt_jw_obj(w);
    pt_jw_key(w, "functionDeclarations");
    pt_jw_arr(w);
    for (size_t i = 0; i < r->ntools; i++) {
        pt_jw_obj(w);
        /* parametersJsonSchema takes full JSON Schema (parameters only an OpenAPI subset) */
        pt__tool_members(w, &r->tools[i], "parametersJsonSchema");
        pt_jw_obj_end(w);
    }
    pt_jw_arr_end(w);
    pt_jw_obj_end(w);
    pt_jw_arr_end(w);
    const char *mode = NULL;
    switch (r->tool_choice) {
    case PT_TOOL_CHOICE_AUTO: mode = "AUTO"; break;
    case PT_TOOL_CHOICE_NONE: mode = "NONE"; break;
    case PT_TOOL_CHOICE_ANY:
    case PT_TOOL_CHOICE_TOOL: mode = "ANY"; break;
    default: break;
    }
    if (!mode) return;
    pt_jw_key(w, "toolConfig");
    pt_jw_obj(w);
    pt_jw_key(w, "functionCallingConfig");
    pt_jw_obj(w);
    pt_jw_kcstr(w, "mode", mode);
    if (r->tool_choice == PT_TOOL_CHOICE_TOOL) {
        pt_jw_key(w, "allowedFunctionNames");
        pt_jw_arr(w);
        pt_jw_str(w, r->tool_choice_name);
        pt_jw_arr_end(w);
    }
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
}

/* A chat body, or for count_tokens the same request wrapped for countTokens:
 * {"generateContentRequest":{"model":"models/...", ...}} (system instruction and tools
 * count too, which countTokens' plain "contents" form would leave out). */
static int render_chat(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    bool count = c->ep == PT_AI_EP_COUNT_TOKENS;
    if (pt__check_files(c, r, PT__FILE_ANY_BASE64 | PT__FILE_TEXT, err)) return -1;
    pt_jw w;
    pt_jw_init(&w, body);
    pt_jw_obj(&w);
    if (count) {
        char model[300];
        pt_jw_key(&w, "generateContentRequest");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "model", pt_str_join(model, sizeof model, "models/", bare_model(c->model)));
    }
    pt_jw_key(&w, "contents");
    pt_jw_arr(&w);
    /* consecutive turns of one role become one content, so function responses share the
     * turn that follows the model's calls with whatever the user added */
    size_t i = 0;
    while (i < r->nmsgs) {
        if (!has_parts(&r->msgs[i])) {
            i++;
            continue;
        }
        pt_role role = r->msgs[i].role;
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "role", role == PT_ROLE_USER ? "user" : "model");
        pt_jw_key(&w, "parts");
        pt_jw_arr(&w);
        for (; i < r->nmsgs && (r->msgs[i].role == role || !has_parts(&r->msgs[i])); i++)
            if (r->msgs[i].role == role && msg_parts(&w, c, r, &r->msgs[i], i, err)) return -1;
        pt_jw_arr_end(&w);
        pt_jw_obj_end(&w);
    }
    pt_jw_arr_end(&w);
    if (r->nsystem) {
        pt_jw_key(&w, "systemInstruction");
        pt_jw_obj(&w);
        pt_jw_key(&w, "parts");
        pt_jw_arr(&w);
        for (size_t k = 0; k < r->nsystem; k++) {
            pt_jw_obj(&w);
            pt_jw_kstr(&w, "text", r->system[k].text);
            pt_jw_obj_end(&w);
        }
        pt_jw_arr_end(&w);
        pt_jw_obj_end(&w);
    }
    tools(&w, r);
    generation_config(&w, c, r);
    if (count) pt_jw_obj_end(&w);
    pt_jw_obj_end(&w);
    if (w.err) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render");
    return 0;
}


/* ---- answers ------------------------------------------------------------------------- */

pt_stop_reason pt__gem_stop(const char *s)
{
    if (!s) return PT_STOP_NONE;
    if (strcmp(s, "STOP") == 0) return PT_STOP_END_TURN;
    if (strcmp(s, "MAX_TOKENS") == 0) return PT_STOP_MAX_TOKENS;
    if (strcmp(s, "SAFETY") == 0 || strcmp(s, "RECITATION") == 0 || strcmp(s, "BLOCKLIST") == 0 ||
        strcmp(s, "PROHIBITED_CONTENT") == 0 || strcmp(s, "SPII") == 0 || strcmp(s, "IMAGE_SAFETY") == 0)
        return PT_STOP_CONTENT_FILTER;
    if (strcmp(s, "FINISH_REASON_UNSPECIFIED") == 0) return PT_STOP_NONE;
    return PT_STOP_ERROR; /* MALFORMED_FUNCTION_CALL, OTHER, LANGUAGE, ... */
}

static int64_t jint(const pt_jv *v) { return pt_jv_is_integer(v) ? (int64_t)pt_jv_int(v) : -1; }

/* countTokens answers {"totalTokens":N,...}. */
static int parse_count(const pt__prov_ctx *c, const char *body, size_t len, int64_t *tokens, pt_ai_error *err)
{
    return pt__count_field(c, body, len, "totalTokens", tokens, err);
}

/* promptTokenCount includes cached tokens; candidatesTokenCount excludes thoughts. */
void pt__gem_usage(const pt_jv *u, pt_usage *out)
{
    *out = PT_USAGE_UNKNOWN;
    if (!pt_jv_is_object(u)) return;
    int64_t prompt = jint(pt_jv_get(u, "promptTokenCount"));
    int64_t cached = jint(pt_jv_get(u, "cachedContentTokenCount"));
    int64_t cand = jint(pt_jv_get(u, "candidatesTokenCount"));
    int64_t thoughts = jint(pt_jv_get(u, "thoughtsTokenCount"));
    if (prompt >= 0) {
        int64_t cr = cached > 0 ? (cached > prompt ? prompt : cached) : 0;
        out->input = prompt - cr;
        out->cache_read = cr;
        out->cache_write = 0;
    }
    if (cand >= 0 || thoughts >= 0) out->output = pt_usage_get(cand) + pt_usage_get(thoughts);
    out->reasoning = thoughts >= 0 ? thoughts : 0;
}

/* Gemini's calls may come without ids: call_<request id>_<n>, the same in both shapes. */
static const char *gen_call_id(char *out, size_t cap, const pt__prov_ctx *c, int n)
{
    snprintf(out, cap, "call_%s_%d", c->request_id ? c->request_id : "0", n);
    return out;
}

/* A thinking signature as clients see it (PT_GEMINI_THINKING_SIG); empty on failure. */
static pt_slice thinking_sig(pt_pool *a, pt_slice sig)
{
    size_t n = sizeof PT_GEMINI_THINKING_SIG - 1;
    char *d = pt_pool_alloc(a, n + sig.len + 1);
    if (!d) return PT_SLICE_NULL;
    memcpy(d, PT_GEMINI_THINKING_SIG, n);
    memcpy(d + n, sig.ptr, sig.len);
    return pt_slice_from(d, n + sig.len);
}

/* The id clients see: the call's signature rides in it (pt_tool_id_sign). Empty on
 * failure (the arena is full). */
static pt_slice signed_id(pt_pool *a, pt_slice id, pt_slice sig)
{
    pt_buf b = PT_BUF_INIT;
    pt_slice out = pt_tool_id_sign(&b, id, sig) ? PT_SLICE_NULL : pt_pool_slice(a, pt_buf_slice(&b));
    pt_buf_release(&b);
    return out;
}

static int parse_chat(const pt__prov_ctx *c, const char *body, size_t len, pt_pivot_resp *out, pt_ai_error *err)
{
    const pt_jv *root = pt_jdom_parse(&out->arena, body, len, NULL);
    if (!root) return pt__bad_upstream(err, c, "not JSON");
    if (!pt_jv_is_object(root)) return pt__bad_upstream(err, c, "not a JSON object");
    out->id = pt_jv_str(pt_jv_get(root, "responseId"));
    out->model = pt_jv_str(pt_jv_get(root, "modelVersion"));
    const pt_jv *cand = pt_jv_at(pt_jv_get(root, "candidates"), 0);
    const pt_jv *parts = pt_jv_get(pt_jv_get(cand, "content"), "parts");
    size_t cap = 0, i;
    const pt_jv *p;
    int ncalls = 0;
    PT_JV_FOREACH(parts, i, p) {
        const pt_jv *fc = pt_jv_get(p, "functionCall");
        const pt_jv *text = pt_jv_get(p, "text");
        pt_part *q;
        if (pt_jv_is_object(fc)) {
            if (!(q = pt__parts_push_resp(out, &cap))) goto toobig;
            q->type = PT_PART_TOOL_USE;
            pt_slice id = pt_jv_str(pt_jv_get(fc, "id"));
            char tmp[96];
            if (!id.len) id = pt_slice_cstr(gen_call_id(tmp, sizeof tmp, c, ncalls));
            q->signature = pt_jv_str(pt_jv_get(p, "thoughtSignature"));
            if (!(q->id = signed_id(&out->arena, id, q->signature)).len) goto toobig;
            ncalls++;
            q->name = pt_jv_str(pt_jv_get(fc, "name"));
            const pt_jv *args = pt_jv_get(fc, "args");
            q->arguments = args ? args->raw : PT_SLICE_LIT("{}");
        } else if (pt_jv_is_string(text)) {
            if (!(q = pt__parts_push_resp(out, &cap))) goto toobig;
            q->type = pt_jv_is_true(pt_jv_get(p, "thought")) ? PT_PART_THINKING : PT_PART_TEXT;
            q->text = pt_jv_str(text);
            pt_slice sig = pt_jv_str(pt_jv_get(p, "thoughtSignature"));
            if (q->type == PT_PART_THINKING && sig.len &&
                !(q->signature = thinking_sig(&out->arena, sig)).len)
                goto toobig;
        }
    }
    out->stop = pt__gem_stop(pt_jv_cstr(pt_jv_get(cand, "finishReason")));
    if (!cand && pt_jv_is_object(pt_jv_get(root, "promptFeedback"))) out->stop = PT_STOP_CONTENT_FILTER;
    if (out->stop == PT_STOP_END_TURN && ncalls) out->stop = PT_STOP_TOOL_USE;
    if (out->stop == PT_STOP_NONE) out->stop = ncalls ? PT_STOP_TOOL_USE : PT_STOP_END_TURN;
    pt__gem_usage(pt_jv_get(root, "usageMetadata"), &out->usage);
    return 0;
toobig:
    return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "answer too large");
}

/* ---- stream -------------------------------------------------------------------------- */

typedef struct gem_stream {
    pt__prov_ctx ctx;
    bool started, finished, done;
    pt__blocks blk;
    int ncalls;
    pt_stop_reason stop;
    pt_usage usage;
    char id[128], model[128];
} gem_stream;

static void st_init(void *p, const pt__prov_ctx *ctx)
{
    gem_stream *s = p;
    memset(s, 0, sizeof *s);
    s->ctx = *ctx;
    pt__blocks_init(&s->blk);
    s->usage = PT_USAGE_UNKNOWN;
}

static void st_release(void *p) { (void)p; }

static int part(gem_stream *s, const pt_jv *p, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    const pt_jv *fc = pt_jv_get(p, "functionCall");
    if (pt_jv_is_object(fc)) {
        pt_slice id = pt_jv_str(pt_jv_get(fc, "id"));
        char gen[96];
        if (!id.len) id = pt_slice_cstr(gen_call_id(gen, sizeof gen, &s->ctx, s->ncalls));
        s->ncalls++;
        pt_slice sig = pt_jv_str(pt_jv_get(p, "thoughtSignature"));
        pt_buf sid = PT_BUF_INIT;
        if (pt_tool_id_sign(&sid, id, sig)) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "out of memory");
        int rc = pt__blocks_open_signed(&s->blk, &s->ctx, PT_PART_TOOL_USE, pt_buf_slice(&sid),
                                        pt_jv_str(pt_jv_get(fc, "name")), sig, cb, arg, err);
        pt_buf_release(&sid);
        if (rc) return rc;
        /* whole arguments, as the provider wrote them, in one delta */
        const pt_jv *args = pt_jv_get(fc, "args");
        pt_ev ev = { .type = PT_EV_TOOL_ARGS_DELTA, .index = s->blk.cur,
                     .text = args ? args->raw : PT_SLICE_LIT("{}") };
        if ((rc = cb(arg, &ev))) return rc;
        return pt__blocks_close(&s->blk, cb, arg);
    }
    const pt_jv *text = pt_jv_get(p, "text");
    if (!pt_jv_is_string(text)) return 0;
    pt_part_type t = pt_jv_is_true(pt_jv_get(p, "thought")) ? PT_PART_THINKING : PT_PART_TEXT;
    pt_slice txt = pt_jv_str(text);
    pt_slice sig = pt_jv_str(pt_jv_get(p, "thoughtSignature"));
    if (!txt.len && !(t == PT_PART_THINKING && sig.len)) return 0;
    if (s->blk.cur < 0 || s->blk.cur_type != t) {
        int rc = pt__blocks_open(&s->blk, &s->ctx, t, PT_SLICE_NULL, PT_SLICE_NULL, cb, arg, err);
        if (rc) return rc;
    }
    if (txt.len) {
        pt_ev ev = { .type = t == PT_PART_THINKING ? PT_EV_THINKING_DELTA : PT_EV_TEXT_DELTA, .index = s->blk.cur,
                     .text = txt };
        int rc = cb(arg, &ev);
        if (rc) return rc;
    }
    if (t == PT_PART_THINKING && sig.len) {
        pt_buf b = PT_BUF_INIT;
        int rc = pt_buf_append_str(&b, PT_GEMINI_THINKING_SIG) || pt_buf_append_slice(&b, sig) ? PT_ENOMEM : 0;
        pt_ev ev = { .type = PT_EV_SIGNATURE_DELTA, .index = s->blk.cur, .text = pt_buf_slice(&b) };
        if (!rc) rc = cb(arg, &ev);
        else rc = pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "out of memory");
        pt_buf_release(&b);
        return rc;
    }
    return 0;
}

static int st_error(gem_stream *s, const pt_jv *e, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    int64_t code = jint(pt_jv_get(e, "code"));
    pt__classify_status(&s->ctx, code >= 400 && code < 600 ? (int)code : 500,
                        pt_jv_cstr(pt_jv_get(e, "message")), err);
    s->done = true;
    pt_ev ev = { .type = PT_EV_ERROR, .error = err };
    int rc = cb(arg, &ev);
    return rc ? rc : -1;
}

static int st_event(void *p, const pt_sse_event *sev, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    gem_stream *s = p;
    if (s->done) return 0;
    pt_pool scratch;
    pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
    const pt_jv *root = pt_jdom_parse(&scratch, sev->data.ptr, sev->data.len, NULL);
    if (!pt_jv_is_object(root)) {
        pt_pool_release(&scratch);
        return pt__bad_upstream(err, &s->ctx, "a stream chunk is not a JSON object");
    }
    int rc = 0;
    const pt_jv *e = pt_jv_get(root, "error");
    if (pt_jv_is_object(e)) {
        rc = st_error(s, e, cb, arg, err);
        goto out;
    }
    pt_usage u;
    pt__gem_usage(pt_jv_get(root, "usageMetadata"), &u);
    pt_usage_merge(&s->usage, &u);
    if (!s->started) {
        s->started = true;
        pt__copy_str(s->id, sizeof s->id, pt_jv_str(pt_jv_get(root, "responseId")));
        pt__copy_str(s->model, sizeof s->model, pt_jv_str(pt_jv_get(root, "modelVersion")));
        /* the prompt side is known from the first chunk; output only at the end */
        pt_usage start = s->usage;
        start.output = start.reasoning = -1;
        pt_ev ev = { .type = PT_EV_MESSAGE_START, .id = pt_slice_cstr(s->id), .model = pt_slice_cstr(s->model),
                     .usage = start };
        if ((rc = cb(arg, &ev))) goto out;
    }
    const pt_jv *cand = pt_jv_at(pt_jv_get(root, "candidates"), 0);
    const pt_jv *parts = pt_jv_get(pt_jv_get(cand, "content"), "parts");
    size_t i;
    const pt_jv *pp;
    PT_JV_FOREACH(parts, i, pp) {
        if ((rc = part(s, pp, cb, arg, err))) goto out;
    }
    const char *fr = pt_jv_cstr(pt_jv_get(cand, "finishReason"));
    bool blocked = !cand && pt_jv_get(pt_jv_get(root, "promptFeedback"), "blockReason");
    if (fr || blocked) {
        s->stop = fr ? pt__gem_stop(fr) : PT_STOP_CONTENT_FILTER;
        s->finished = true;
        rc = pt__blocks_close(&s->blk, cb, arg);
    }
out:
    pt_pool_release(&scratch);
    return rc;
}

static int st_end(void *p, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    gem_stream *s = p;
    if (s->done) return 0;
    if (!s->finished)
        return pt_ai_error_set(err, PT_AI_ERR_PROTOCOL, 502, NULL,
                               "provider '%s' ended the stream before a finishReason",
                               s->ctx.cfg ? s->ctx.cfg->name : "?");
    s->done = true;
    int rc = pt__blocks_close(&s->blk, cb, arg);
    if (rc) return rc;
    pt_stop_reason stop = s->stop;
    if ((stop == PT_STOP_END_TURN || stop == PT_STOP_NONE) && s->ncalls) stop = PT_STOP_TOOL_USE;
    if (stop == PT_STOP_NONE) stop = PT_STOP_END_TURN;
    pt_ev ev = { .type = PT_EV_MESSAGE_DELTA, .stop = stop, .usage = s->usage };
    if ((rc = cb(arg, &ev))) return rc;
    pt_ev end = { .type = PT_EV_MESSAGE_STOP };
    return cb(arg, &end);
}

const pt__stream_ops pt__gem_stream_ops = {
    .size = sizeof(gem_stream),
    .init = st_init,
    .event = st_event,
    .end = st_end,
    .release = st_release,
};

/* ---- embeddings ---------------------------------------------------------------------- */

/* OpenAI {"model","input": string | [string], "dimensions"} -> batchEmbedContents */
/* A Gemini client's taskType and title of request i, as it wrote them. */
static void embed_extras(pt_jw *w, const pt_jv *src, size_t i)
{
    static const char *const members[] = { "taskType", "title" };
    for (size_t k = 0; k < 2; k++) {
        pt_slice v = pt__embed_src_member(src, i, members[k]);
        if (v.len) pt_jw_kstr(w, members[k], v);
    }
}

static int render_embed(const pt__prov_ctx *c, const pt_jv *req, pt_buf *body, pt_ai_error *err)
{
    const pt_jv *input = pt_jv_get(req, "input");
    const pt_jv *dims = pt_jv_get(req, "dimensions");
    char model[300];
    snprintf(model, sizeof model, "models/%s", bare_model(c->model));
    pt_jw w;
    pt_jw_init(&w, body);
    pt_jw_obj(&w);
    pt_jw_key(&w, "requests");
    pt_jw_arr(&w);
    size_t n = pt_jv_is_array(input) ? pt_jv_len(input) : 1;
    for (size_t i = 0; i < n; i++) {
        const pt_jv *s = pt_jv_is_array(input) ? pt_jv_at(input, i) : input;
        if (!pt_jv_is_string(s))
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 400, "input",
                                   "input: Gemini embeddings take strings only (not token arrays)");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "model", model);
        pt_jw_key(&w, "content");
        pt_jw_obj(&w);
        pt_jw_key(&w, "parts");
        pt_jw_arr(&w);
        pt_jw_obj(&w);
        pt_jw_kstr(&w, "text", pt_jv_str(s));
        pt_jw_obj_end(&w);
        pt_jw_arr_end(&w);
        pt_jw_obj_end(&w);
        if (pt_jv_is_integer(dims)) pt_jw_kint(&w, "outputDimensionality", pt_jv_int(dims));
        embed_extras(&w, c->embed_src, i);
        pt_jw_obj_end(&w);
    }
    pt_jw_arr_end(&w);
    pt_jw_obj_end(&w);
    if (w.err) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render");
    return 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* float32 little-endian values, base64: OpenAI's encoding_format "base64" */
static int base64_floats(pt_buf *out, const pt_jv *values)
{
    size_t n = pt_jv_len(values);
    unsigned char *raw = malloc(n * 4 + 1);
    if (!raw) return PT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        float f = (float)pt_jv_num(pt_jv_at(values, i));
        uint32_t u;
        memcpy(&u, &f, 4);
        raw[i * 4] = (unsigned char)(u & 0xff);
        raw[i * 4 + 1] = (unsigned char)((u >> 8) & 0xff);
        raw[i * 4 + 2] = (unsigned char)((u >> 16) & 0xff);
        raw[i * 4 + 3] = (unsigned char)(u >> 24);
    }
    int rc = 0;
    size_t len = n * 4;
    for (size_t i = 0; i < len && !rc; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16;
        if (i + 1 < len) v |= (uint32_t)raw[i + 1] << 8;
        if (i + 2 < len) v |= raw[i + 2];
        char q[4] = { b64chars[(v >> 18) & 63], b64chars[(v >> 12) & 63], i + 1 < len ? b64chars[(v >> 6) & 63] : '=',
                      i + 2 < len ? b64chars[v & 63] : '=' };
        rc = pt_buf_append(out, q, 4);
    }
    free(raw);
    return rc;
}

int64_t pt__embed_estimate(const pt_jv *req)
{
    size_t bytes = 0;
    const pt_jv *input = pt_jv_get(req, "input");
    if (pt_jv_is_string(input)) bytes = pt_jv_str(input).len;
    size_t k;
    const pt_jv *s;
    PT_JV_FOREACH(input, k, s) bytes += pt_jv_str(s).len;
    return pt_pivot_estimate_text_tokens(bytes);
}

int pt__embed_list(const pt_jv *req, const pt_jv *const *vectors, size_t n, pt_slice public_model, int64_t tokens,
                   pt_buf *out)
{
    const char *enc = pt_jv_cstr(pt_jv_get(req, "encoding_format"));
    bool b64 = enc && strcmp(enc, "base64") == 0;
    pt_jw w;
    pt_jw_init(&w, out);
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "object", "list");
    pt_jw_key(&w, "data");
    pt_jw_arr(&w);
    for (size_t i = 0; i < n; i++) {
        const pt_jv *values = vectors[i];
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "object", "embedding");
        pt_jw_kint(&w, "index", (int64_t)i);
        pt_jw_key(&w, "embedding");
        if (b64) {
            pt_jw_raw(&w, PT_SLICE_LIT("\""));
            if (!w.err && base64_floats(out, values)) w.err = PT_ENOMEM;
            if (!w.err && pt_buf_append(out, "\"", 1)) w.err = PT_ENOMEM;
        } else {
            pt_jw_raw(&w, pt_jv_is_array(values) ? values->raw : PT_SLICE_LIT("null"));
        }
        pt_jw_obj_end(&w);
    }
    pt_jw_arr_end(&w);
    pt_jw_kstr(&w, "model", public_model);
    pt_jw_key(&w, "usage");
    pt_jw_obj(&w);
    pt_jw_kint(&w, "prompt_tokens", tokens);
    pt_jw_kint(&w, "total_tokens", tokens);
    pt_jw_obj_end(&w);
    pt_jw_obj_end(&w);
    return w.err;
}

pt_slice pt__embed_src_member(const pt_jv *src, size_t i, const char *member)
{
    const pt_jv *reqs = pt_jv_get(src, "requests");
    const pt_jv *one = reqs ? pt_jv_at(reqs, i) : i == 0 ? src : NULL;
    const pt_jv *v = pt_jv_get(one, member);
    return pt_jv_is_string(v) ? pt_jv_str(v) : PT_SLICE_NULL;
}

static int parse_embed(const pt__prov_ctx *c, const pt_jv *req, const char *body, size_t len, pt_slice public_model,
                       pt_buf *out, pt_usage *usage, pt_ai_error *err)
{
    pt_pool scratch;
    pt_pool_init(&scratch, 0, 0);
    const pt_jv *root = pt_jdom_parse(&scratch, body, len, NULL);
    const pt_jv *embs = pt_jv_get(root, "embeddings");
    size_t n = pt_jv_is_array(embs) ? pt_jv_len(embs) : 0;
    const pt_jv **vectors = n ? calloc(n, sizeof *vectors) : NULL;
    if (!pt_jv_is_array(embs) || (n && !vectors)) {
        free(vectors);
        pt_pool_release(&scratch);
        return pt__bad_upstream(err, c, "no embeddings array");
    }
    for (size_t i = 0; i < n; i++) vectors[i] = pt_jv_get(pt_jv_at(embs, i), "values");
    /* Gemini reports no usage for embeddings: estimated from the input text */
    int64_t est = pt__embed_estimate(req);
    *usage = (pt_usage){ .input = est };
    int rc = pt__embed_list(req, vectors, n, public_model, est, out);
    free(vectors);
    pt_pool_release(&scratch);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "answer too large");
    return 0;
}

/* ---- errors -------------------------------------------------------------------------- */

/* "30s" / "1.5s" -> milliseconds */
static uint64_t duration_ms(const char *s)
{
    if (!s) return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != 's' || v < 0 || v > 86400) return 0;
    return (uint64_t)(v * 1000.0 + 0.5);
}

static void classify(const pt__prov_ctx *c, int status, const pt_ai_header *h, size_t nh, const char *body, size_t len,
                     pt_ai_error *err)
{
    char msg[PT_AI_ERRMSG_MAX];
    msg[0] = '\0';
    uint64_t retry = 0;
    pt_pool scratch;
    pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
    const pt_jv *root = pt_jdom_parse(&scratch, body, len, NULL);
    if (root) {
        const pt_jv *top = pt_jv_is_array(root) ? pt_jv_at(root, 0) : root; /* streams answer [{"error":...}] */
        const pt_jv *e = pt_jv_get(top, "error");
        const char *m = pt_jv_cstr(pt_jv_get(e, "message"));
        if (m) snprintf(msg, sizeof msg, "%s", m);
        size_t i;
        const pt_jv *d;
        const pt_jv *details = pt_jv_get(e, "details");
        PT_JV_FOREACH(details, i, d) {
            const char *t = pt_jv_cstr(pt_jv_get(d, "@type"));
            if (t && strstr(t, "RetryInfo")) retry = duration_ms(pt_jv_cstr(pt_jv_get(d, "retryDelay")));
        }
    } else if (len) {
        snprintf(msg, sizeof msg, "%.*s", (int)(len < 200 ? len : 200), body);
    }
    pt_pool_release(&scratch);
    err->retry_after_ms = pt__retry_after_ms(h, nh);
    if (!err->retry_after_ms) err->retry_after_ms = retry;
    /* Gemini answers a bad key with 400 INVALID_ARGUMENT "API key not valid" */
    pt__classify_status(c, status == 400 && strstr(msg, "API key not valid") ? 401 : status, msg, err);
    err->upstream_status = status;
}

const pt__prov pt__prov_gemini = {
    .type = PT_AI_PROV_GEMINI,
    .wire = PT__WIRE_GEMINI,
    .head = head,
    .render_chat = render_chat,
    .parse_chat = parse_chat,
    .stream = &pt__gem_stream_ops,
    .render_count = render_chat,
    .parse_count = parse_count,
    .embed_ok = true,
    .render_embed = render_embed,
    .parse_embed = parse_embed,
    .classify = classify,
    .passthrough = true,
};
