/* fmt_gemini.c: the Gemini client format (POST /v1beta/models/{model}:generateContent,
 * :streamGenerateContent, :countTokens): request parsing into the pivot, whole answers,
 * stream chunks (server-sent events with alt=sse, else one JSON array), and errors in
 * Google's shape ({"error":{"code","message","status"}}), which @google/genai raises as
 * its ApiError. The model and the stream flag come from the path (ai.c), not the body. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/fmt.h"
#include "core/err.h"
#include "core/json_scan.h"
#include "core/json_write.h"
#include "core/str.h"

#define BAD_AT(path, member, ...) pt__bad_at(err, PT_AI_ERR_INVALID, path, member, __VA_ARGS__)
#define UNSUPPORTED_AT(path, member, ...) pt__bad_at(err, PT_AI_ERR_UNSUPPORTED, path, member, __VA_ARGS__)
#define NOMEM() pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large")

/* ---- schemas ------------------------------------------------------------------------- */

/* Gemini's "parameters" and "responseSchema" are an OpenAPI subset whose type names are
 * upper case ("OBJECT"); JSON Schema wants them lower case. Everything else is copied as
 * written. */
static void schema_copy(pt_jw *w, const pt_jv *v)
{
    if (!pt_jv_is_object(v) && !pt_jv_is_array(v)) {
        pt_jw_raw(w, v->raw);
        return;
    }
    size_t i;
    const pt_jv *k;
    if (pt_jv_is_array(v)) {
        pt_jw_arr(w);
        PT_JV_FOREACH(v, i, k) schema_copy(w, k);
        pt_jw_arr_end(w);
        return;
    }
    pt_jw_obj(w);
    PT_JV_FOREACH(v, i, k) {
        pt_jw_key_slice(w, k->key);
        if (pt_slice_eq_cstr(k->key, "type") && pt_jv_is_string(k)) {
            char low[32];
            size_t n = k->str.len < sizeof low ? k->str.len : sizeof low;
            for (size_t j = 0; j < n; j++) low[j] = (char)(k->str.ptr[j] | (k->str.ptr[j] >= 'A' && k->str.ptr[j] <= 'Z' ? 0x20 : 0));
            pt_jw_str(w, pt_slice_from(low, n));
        } else {
            schema_copy(w, k);
        }
    }
    pt_jw_obj_end(w);
}

/* The schema as JSON Schema text in r's arena; empty on failure. */
static pt_slice json_schema(pt_pivot_req *r, const pt_jv *v)
{
    pt_buf b = PT_BUF_INIT;
    pt_jw w;
    pt_jw_init(&w, &b);
    schema_copy(&w, v);
    pt_slice out = w.err ? PT_SLICE_NULL : pt_pool_slice(&r->arena, pt_buf_slice(&b));
    pt_buf_release(&b);
    return out;
}

/* ---- request parsing ----------------------------------------------------------------- */

typedef struct pctx {
    pt_pivot_req *r;
    size_t mcap, pcap;
} pctx;

/* inlineData {mimeType, data} or fileData {mimeType, fileUri}: an image, else a file. */
static int media_part(const pt_jv *m, bool inline_data, const char *path, pt_part *p, pt_ai_error *err)
{
    const char *member = inline_data ? "inlineData" : "fileData";
    if (!pt_jv_is_object(m)) return BAD_AT(path, member, "expected an object");
    pt_slice mt = pt_jv_str(pt_jv_get(m, "mimeType"));
    pt_slice v = pt_jv_str(pt_jv_get(m, inline_data ? "data" : "fileUri"));
    if (!v.len) return BAD_AT(path, member, "%s required", inline_data ? "data" : "fileUri");
    if (inline_data && !mt.len) return BAD_AT(path, member, "mimeType required");
    p->type = pt_slice_starts_with(mt, PT_SLICE_LIT("image/")) || (!mt.len && !inline_data) ? PT_PART_IMAGE
                                                                                             : PT_PART_FILE;
    p->media_type = mt;
    if (inline_data) p->data = v;
    else p->url = v;
    return 0;
}

/* The call a functionResponse answers: the one with its id, else the first call of that
 * name in the model's latest turn that no result answers yet. */
static pt_slice answered_call(const pt_pivot_req *r, pt_slice name, pt_slice id)
{
    if (id.len) return id;
    for (size_t m = r->nmsgs; m-- > 0;) {
        const pt_msg *msg = &r->msgs[m];
        if (msg->role != PT_ROLE_ASSISTANT) continue;
        for (size_t i = 0; i < msg->nparts; i++) {
            const pt_part *c = &msg->parts[i];
            if (c->type != PT_PART_TOOL_USE || !pt_slice_eq(c->name, name)) continue;
            bool taken = false;
            for (size_t k = m + 1; k < r->nmsgs && !taken; k++)
                for (size_t j = 0; j < r->msgs[k].nparts && !taken; j++)
                    taken = r->msgs[k].parts[j].type == PT_PART_TOOL_RESULT &&
                            pt_slice_eq(r->msgs[k].parts[j].tool_use_id, c->id);
            if (!taken) return c->id;
        }
        break;
    }
    return name; /* no call of that name: the name stands in, as Gemini pairs by name */
}

static int function_call(pctx *c, const pt_jv *part, const pt_jv *fc, const char *path, size_t mi, size_t pi,
                         pt_part *p, pt_ai_error *err)
{
    if (!pt_jv_is_object(fc)) return BAD_AT(path, "functionCall", "expected an object");
    p->type = PT_PART_TOOL_USE;
    p->name = pt_jv_str(pt_jv_get(fc, "name"));
    if (!p->name.len) return BAD_AT(path, "functionCall.name", "field required");
    const pt_jv *args = pt_jv_get(fc, "args");
    if (args && !pt_jv_is_object(args) && !pt_jv_is_null(args))
        return BAD_AT(path, "functionCall.args", "expected an object");
    p->arguments = pt_jv_is_object(args) ? args->raw : PT_SLICE_LIT("{}");
    p->signature = pt_jv_str(pt_jv_get(part, "thoughtSignature"));
    p->id = pt_jv_str(pt_jv_get(fc, "id"));
    if (!p->id.len) {
        /* the same in every turn the history is sent again, as providers pair by id */
        char id[48];
        snprintf(id, sizeof id, "call_%zu_%zu", mi, pi);
        p->id = pt_pool_slice(&c->r->arena, pt_slice_cstr(id));
        if (!p->id.ptr) return NOMEM();
    }
    return 0;
}

static int function_response(pctx *c, const pt_jv *fr, const char *path, pt_part *p, pt_ai_error *err)
{
    if (!pt_jv_is_object(fr)) return BAD_AT(path, "functionResponse", "expected an object");
    pt_slice name = pt_jv_str(pt_jv_get(fr, "name"));
    if (!name.len) return BAD_AT(path, "functionResponse.name", "field required");
    const pt_jv *resp = pt_jv_get(fr, "response");
    if (!pt_jv_is_object(resp)) return BAD_AT(path, "functionResponse.response", "expected an object");
    p->type = PT_PART_TOOL_RESULT;
    p->name = name;
    p->tool_use_id = answered_call(c->r, name, pt_jv_str(pt_jv_get(fr, "id")));
    /* the response object as the tool's text: what other providers take as a result */
    p->content = pt_pool_alloc(&c->r->arena, sizeof *p->content);
    if (!p->content) return NOMEM();
    memset(p->content, 0, sizeof *p->content);
    p->content->type = PT_PART_TEXT;
    p->content->text = resp->raw;
    p->ncontent = 1;
    p->is_error = pt_jv_get(resp, "error") && !pt_jv_get(resp, "output") && !pt_jv_get(resp, "result");
    return 0;
}

/* One part; *skip when it carries nothing a provider is given back (earlier reasoning). */
static int part(pctx *c, const pt_jv *v, const char *path, size_t mi, size_t pi, pt_part *p, bool *skip,
                pt_ai_error *err)
{
    *skip = false;
    if (!pt_jv_is_object(v)) return BAD_AT(path, NULL, "expected an object");
    const pt_jv *x;
    if ((x = pt_jv_get(v, "text"))) {
        if (!pt_jv_is_string(x)) return BAD_AT(path, "text", "expected a string");
        /* reasoning of earlier turns is not sent back (Gemini ignores it too) */
        if (pt_jv_is_true(pt_jv_get(v, "thought")) || !x->str.len) *skip = true;
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(x);
        return 0;
    }
    if ((x = pt_jv_get(v, "inlineData"))) return media_part(x, true, path, p, err);
    if ((x = pt_jv_get(v, "fileData"))) return media_part(x, false, path, p, err);
    if ((x = pt_jv_get(v, "functionCall"))) return function_call(c, v, x, path, mi, pi, p, err);
    if ((x = pt_jv_get(v, "functionResponse"))) return function_response(c, x, path, p, err);
    static const char *server[] = { "executableCode", "codeExecutionResult", "toolCall", "toolResponse" };
    for (size_t i = 0; i < sizeof server / sizeof server[0]; i++)
        if (pt_jv_get(v, server[i])) return UNSUPPORTED_AT(path, server[i], "runs on Google's servers, and no target "
                                                                            "of this model is a Gemini provider; only "
                                                                            "text, inlineData, fileData, functionCall "
                                                                            "and functionResponse parts can be "
                                                                            "translated");
    if (pt_jv_is_true(pt_jv_get(v, "thought")) || pt_jv_get(v, "thoughtSignature")) {
        *skip = true;
        return 0;
    }
    return BAD_AT(path, NULL, "expected one of text, inlineData, fileData, functionCall, functionResponse");
}

static int content(pctx *c, const pt_jv *ct, size_t mi, pt_ai_error *err)
{
    char path[48];
    pt_str_index(path, sizeof path, "contents", "", mi);
    if (!pt_jv_is_object(ct)) return BAD_AT(path, NULL, "expected an object");
    const pt_jv *role = pt_jv_get(ct, "role");
    pt_role r = PT_ROLE_USER;
    if (role && !pt_jv_is_null(role)) {
        const char *s = pt_jv_cstr(role);
        if (!s) return BAD_AT(path, "role", "expected a string");
        if (strcmp(s, "model") == 0) r = PT_ROLE_ASSISTANT;
        else if (strcmp(s, "user") != 0 && strcmp(s, "function") != 0)
            return BAD_AT(path, "role", "expected user or model, not '%s'", s);
    }
    const pt_jv *parts = pt_jv_get(ct, "parts");
    if (!pt_jv_is_array(parts)) return BAD_AT(path, "parts", "expected an array");
    pt_msg *m = pt__msgs_push(&c->r->arena, &c->r->msgs, &c->r->nmsgs, &c->mcap);
    if (!m) return NOMEM();
    m->role = r;
    c->pcap = 0;
    size_t i;
    const pt_jv *v;
    PT_JV_FOREACH(parts, i, v) {
        char ppath[64];
        pt_str_index(ppath, sizeof ppath, path, ".parts", i);
        pt_part tmp;
        memset(&tmp, 0, sizeof tmp);
        bool skip;
        if (part(c, v, ppath, mi, i, &tmp, &skip, err)) return -1;
        if (skip) continue;
        if (tmp.type == PT_PART_TOOL_RESULT && r != PT_ROLE_USER)
            return BAD_AT(ppath, "functionResponse", "belongs in a user turn");
        if (tmp.type == PT_PART_TOOL_USE && r != PT_ROLE_ASSISTANT)
            return BAD_AT(ppath, "functionCall", "belongs in a model turn");
        pt_part *p = pt__parts_push(&c->r->arena, &m->parts, &m->nparts, &c->pcap);
        if (!p) return NOMEM();
        *p = tmp;
    }
    return 0;
}

/* systemInstruction: a Content ({parts:[{text}]}) or, as the SDKs also accept, a string. */
static int system_instruction(pctx *c, const pt_jv *si, pt_ai_error *err)
{
    if (!si || pt_jv_is_null(si)) return 0;
    pt_pivot_req *r = c->r;
    size_t cap = 0;
    if (pt_jv_is_string(si)) {
        pt_part *p = pt__parts_push(&r->arena, &r->system, &r->nsystem, &cap);
        if (!p) return NOMEM();
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(si);
        return 0;
    }
    const pt_jv *parts = pt_jv_get(si, "parts");
    if (!pt_jv_is_array(parts)) return BAD_AT("systemInstruction", "parts", "expected an array");
    size_t i;
    const pt_jv *v;
    PT_JV_FOREACH(parts, i, v) {
        const pt_jv *t = pt_jv_get(v, "text");
        char path[64];
        pt_str_index(path, sizeof path, "systemInstruction", ".parts", i);
        if (!pt_jv_is_string(t)) return BAD_AT(path, "text", "expected a string (a system instruction is text)");
        pt_part *p = pt__parts_push(&r->arena, &r->system, &r->nsystem, &cap);
        if (!p) return NOMEM();
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(t);
    }
    return 0;
}

static int opt_number(const pt_jv *gc, const char *key, double *out, pt_ai_error *err)
{
    const pt_jv *v = pt_jv_get(gc, key);
    if (!v || pt_jv_is_null(v)) return 0;
    if (!pt_jv_is_number(v)) return BAD_AT("generationConfig", key, "expected a number");
    *out = pt_jv_num(v);
    return 0;
}

/* An integer member (integral numbers such as 40.0 too: JavaScript clients write them). */
static int opt_integer(const pt_jv *gc, const char *key, int64_t min, int64_t *out, pt_ai_error *err)
{
    const pt_jv *v = pt_jv_get(gc, key);
    if (!v || pt_jv_is_null(v)) return 0;
    double d = pt_jv_num(v);
    if (!pt_jv_is_number(v) || d != floor(d) || d < (double)min || d > 9e15)
        return BAD_AT("generationConfig", key, "expected an integer of at least %lld", (long long)min);
    *out = (int64_t)d;
    return 0;
}

static int output_format(pt_pivot_req *r, const pt_jv *gc, pt_ai_error *err)
{
    const pt_jv *mt = pt_jv_get(gc, "responseMimeType");
    const pt_jv *schema = pt_jv_get(gc, "responseJsonSchema");
    const pt_jv *oschema = pt_jv_get(gc, "responseSchema");
    if (mt && !pt_jv_is_null(mt)) {
        const char *s = pt_jv_cstr(mt);
        if (!s) return BAD_AT("generationConfig", "responseMimeType", "expected a string");
        if (strcmp(s, "text/plain") == 0) {
            r->response_format = PT_RESP_FORMAT_TEXT;
            return 0;
        }
        if (strcmp(s, "application/json") != 0)
            return UNSUPPORTED_AT("generationConfig", "responseMimeType",
                                  "only text/plain and application/json can be translated, not '%s'", s);
        r->response_format = PT_RESP_FORMAT_JSON_OBJECT;
    } else if ((schema && !pt_jv_is_null(schema)) || (oschema && !pt_jv_is_null(oschema))) {
        return BAD_AT("generationConfig", "responseMimeType", "a response schema needs responseMimeType "
                                                              "application/json");
    }
    if (schema && !pt_jv_is_null(schema)) {
        if (!pt_jv_is_object(schema)) return BAD_AT("generationConfig", "responseJsonSchema", "expected an object");
        r->response_format = PT_RESP_FORMAT_JSON_SCHEMA;
        r->response_schema = schema->raw;
    } else if (oschema && !pt_jv_is_null(oschema)) {
        if (!pt_jv_is_object(oschema)) return BAD_AT("generationConfig", "responseSchema", "expected an object");
        r->response_format = PT_RESP_FORMAT_JSON_SCHEMA;
        if (!(r->response_schema = json_schema(r, oschema)).len) return NOMEM();
    }
    if (r->response_format == PT_RESP_FORMAT_JSON_SCHEMA) r->response_schema_name = PT_SLICE_LIT("response");
    return 0;
}

static int thinking(pt_pivot_req *r, const pt_jv *tc, pt_ai_error *err)
{
    if (!tc || pt_jv_is_null(tc)) return 0;
    if (!pt_jv_is_object(tc)) return BAD_AT("generationConfig", "thinkingConfig", "expected an object");
    const pt_jv *b = pt_jv_get(tc, "thinkingBudget");
    if (b && !pt_jv_is_null(b)) {
        if (!pt_jv_is_integer(b) || pt_jv_int(b) < -1)
            return BAD_AT("generationConfig", "thinkingConfig.thinkingBudget", "expected an integer of at least -1");
        r->reasoning_budget = pt_jv_int(b) < 0 ? -1 : pt_jv_int(b); /* -1: the model decides */
    }
    const char *level = pt_jv_cstr(pt_jv_get(tc, "thinkingLevel"));
    if (level) {
        char low[16];
        size_t n = 0;
        for (; level[n] && n + 1 < sizeof low; n++) low[n] = (char)(level[n] | 0x20);
        low[n] = '\0';
        if (strcmp(low, "low") && strcmp(low, "medium") && strcmp(low, "high") && strcmp(low, "minimal"))
            return BAD_AT("generationConfig", "thinkingConfig.thinkingLevel", "expected LOW, MEDIUM or HIGH");
        r->reasoning_effort = pt_pool_slice(&r->arena, pt_slice_cstr(low));
    }
    return 0;
}

static int generation_config(pt_pivot_req *r, const pt_jv *gc, pt_ai_error *err)
{
    if (!gc || pt_jv_is_null(gc)) return 0;
    if (!pt_jv_is_object(gc)) return BAD_AT("generationConfig", NULL, "expected an object");
    int64_t n = 1;
    if (opt_integer(gc, "candidateCount", 1, &n, err)) return -1;
    if (n != 1)
        return UNSUPPORTED_AT("generationConfig", "candidateCount", "only 1 candidate is supported (got %lld)",
                              (long long)n);
    if (opt_number(gc, "temperature", &r->temperature, err) || opt_number(gc, "topP", &r->top_p, err) ||
        opt_integer(gc, "topK", 1, &r->top_k, err) || opt_integer(gc, "maxOutputTokens", 1, &r->max_tokens, err) ||
        opt_number(gc, "presencePenalty", &r->presence_penalty, err) ||
        opt_number(gc, "frequencyPenalty", &r->frequency_penalty, err) ||
        opt_integer(gc, "seed", INT32_MIN, &r->seed, err))
        return -1;
    if (pt__parse_stop(pt_jv_get(gc, "stopSequences"), "generationConfig.stopSequences", r, err)) return -1;
    if (output_format(r, gc, err)) return -1;
    return thinking(r, pt_jv_get(gc, "thinkingConfig"), err);
}

static int function_declaration(pt_pivot_req *r, const pt_jv *d, const char *path, size_t *cap, pt_ai_error *err)
{
    if (!pt_jv_is_object(d)) return BAD_AT(path, NULL, "expected an object");
    pt_tool *t = pt__grow(&r->arena, (void **)&r->tools, &r->ntools, cap, sizeof *t);
    if (!t) return NOMEM();
    t->name = pt_jv_str(pt_jv_get(d, "name"));
    if (!t->name.len) return BAD_AT(path, "name", "field required");
    t->description = pt_jv_str(pt_jv_get(d, "description"));
    const pt_jv *js = pt_jv_get(d, "parametersJsonSchema"), *ps = pt_jv_get(d, "parameters");
    if (pt_jv_is_object(js)) t->schema = js->raw;
    else if (pt_jv_is_object(ps) && !(t->schema = json_schema(r, ps)).len) return NOMEM();
    return 0;
}

/* tools: only functionDeclarations; the others (googleSearch, codeExecution, urlContext...)
 * run on Google's servers. */
static int tools(pt_pivot_req *r, const pt_jv *tl, pt_ai_error *err)
{
    if (!tl || pt_jv_is_null(tl)) return 0;
    if (!pt_jv_is_array(tl)) return BAD_AT("tools", NULL, "expected an array");
    size_t cap = 0, i, k;
    const pt_jv *t, *m;
    PT_JV_FOREACH(tl, i, t) {
        char path[48];
        pt_str_index(path, sizeof path, "tools", "", i);
        if (!pt_jv_is_object(t)) return BAD_AT(path, NULL, "expected an object");
        PT_JV_FOREACH(t, k, m) {
            if (!pt_slice_eq_cstr(m->key, "functionDeclarations"))
                return UNSUPPORTED_AT(path, m->key.ptr, "runs on Google's servers, and no target of this model is a "
                                                        "Gemini provider; only functionDeclarations can be translated");
            if (!pt_jv_is_array(m)) return BAD_AT(path, "functionDeclarations", "expected an array");
            size_t j;
            const pt_jv *d;
            PT_JV_FOREACH(m, j, d) {
                char dpath[80];
                pt_str_index(dpath, sizeof dpath, path, ".functionDeclarations", j);
                if (function_declaration(r, d, dpath, &cap, err)) return -1;
            }
        }
    }
    return 0;
}

static int tool_config(pt_pivot_req *r, const pt_jv *tc, pt_ai_error *err)
{
    const pt_jv *fc = pt_jv_get(tc, "functionCallingConfig");
    if (!fc || pt_jv_is_null(fc)) return 0;
    const pt_jv *mode = pt_jv_get(fc, "mode");
    const char *s = pt_jv_cstr(mode);
    if (mode && !s) return BAD_AT("toolConfig", "functionCallingConfig.mode", "expected a string");
    const pt_jv *allowed = pt_jv_get(fc, "allowedFunctionNames");
    if (!s || strcmp(s, "MODE_UNSPECIFIED") == 0) return 0;
    if (strcmp(s, "AUTO") == 0 || strcmp(s, "VALIDATED") == 0) r->tool_choice = PT_TOOL_CHOICE_AUTO;
    else if (strcmp(s, "NONE") == 0) r->tool_choice = PT_TOOL_CHOICE_NONE;
    else if (strcmp(s, "ANY") == 0) r->tool_choice = PT_TOOL_CHOICE_ANY;
    else return BAD_AT("toolConfig", "functionCallingConfig.mode", "expected AUTO, ANY, NONE or VALIDATED");
    /* one allowed function is a forced call; several cannot be said to other providers */
    if (r->tool_choice == PT_TOOL_CHOICE_ANY && pt_jv_len(allowed) == 1 && pt_jv_is_string(pt_jv_at(allowed, 0))) {
        r->tool_choice = PT_TOOL_CHOICE_TOOL;
        r->tool_choice_name = pt_jv_str(pt_jv_at(allowed, 0));
    }
    return 0;
}

/* A generateContent body, or countTokens' ({contents} or {generateContentRequest: {...}}). */
static int parse_chat(const char *body, size_t len, bool for_count, pt_pivot_req *r, pt_ai_error *err)
{
    size_t ep;
    const pt_jv *root = pt_jdom_parse(&r->arena, body, len, &ep);
    if (!root && ep > len) return NOMEM();
    if (!root) return BAD_AT("body", NULL, "invalid JSON: syntax error at byte %zu", ep);
    if (!pt_jv_is_object(root)) return BAD_AT("body", NULL, "expected a JSON object");
    const pt_jv *gcr = pt_jv_get(root, "generateContentRequest");
    if (for_count && pt_jv_is_object(gcr)) root = gcr;
    if (pt_jv_get(root, "cachedContent"))
        return UNSUPPORTED_AT("cachedContent", NULL, "content cached at Google is only read by Gemini itself, and no "
                                                     "target of this model is a Gemini provider");
    const pt_jv *contents = pt_jv_get(root, "contents");
    if (!pt_jv_is_array(contents) || (!for_count && pt_jv_len(contents) == 0))
        return BAD_AT("contents", NULL, contents ? "expected a non-empty array" : "field required");
    pctx c = { .r = r };
    size_t i;
    const pt_jv *ct;
    PT_JV_FOREACH(contents, i, ct) {
        if (content(&c, ct, i, err)) return -1;
    }
    if (system_instruction(&c, pt_jv_get(root, "systemInstruction"), err)) return -1;
    if (generation_config(r, pt_jv_get(root, "generationConfig"), err)) return -1;
    if (tools(r, pt_jv_get(root, "tools"), err)) return -1;
    if (tool_config(r, pt_jv_get(root, "toolConfig"), err)) return -1;
    r->include_usage = true; /* Gemini reports usage in every answer */
    return 0;
}

/* ---- answers ------------------------------------------------------------------------- */

static const char *finish_reason(pt_stop_reason s)
{
    switch (s) {
    case PT_STOP_MAX_TOKENS: return "MAX_TOKENS";
    case PT_STOP_CONTENT_FILTER: return "SAFETY";
    case PT_STOP_ERROR: return "OTHER";
    default: return "STOP"; /* Gemini ends a turn of function calls with STOP too */
    }
}

static void usage_metadata(pt_jw *w, const pt_usage *u)
{
    int64_t prompt = pt_usage_prompt_total(u), reasoning = pt_usage_get(u->reasoning);
    int64_t cand = pt_usage_get(u->output) - reasoning;
    if (cand < 0) cand = 0;
    pt_jw_key(w, "usageMetadata");
    pt_jw_obj(w);
    pt_jw_kint(w, "promptTokenCount", prompt);
    pt_jw_kint(w, "candidatesTokenCount", cand);
    if (u->cache_read > 0) pt_jw_kint(w, "cachedContentTokenCount", u->cache_read);
    if (reasoning > 0) pt_jw_kint(w, "thoughtsTokenCount", reasoning);
    pt_jw_kint(w, "totalTokenCount", prompt + cand + reasoning);
    pt_jw_obj_end(w);
}

/* A function call part; its signature is the one Gemini gave, else the one its id carries. */
static void call_part(pt_jw *w, pt_slice id, pt_slice name, pt_slice args, pt_slice sig)
{
    pt_slice bare, idsig;
    pt_tool_id_split(id, &bare, &idsig);
    pt_jw_obj(w);
    pt_jw_key(w, "functionCall");
    pt_jw_obj(w);
    if (bare.len) pt_jw_kstr(w, "id", bare);
    pt_jw_kstr(w, "name", name);
    pt_jw_key(w, "args");
    pt_slice a = pt_slice_trim(args);
    size_t nf, open, close, errpos;
    if (!a.len) {
        pt_jw_raw(w, PT_SLICE_LIT("{}"));
    } else if (pt_jscan_object_document(a.ptr, a.len, NULL, 0, &nf, &open, &close, &errpos) == 0) {
        pt_jw_raw(w, a);
    } else { /* a model wrote arguments that are not a JSON object: kept, as text */
        pt_jw_obj(w);
        pt_jw_kstr(w, "arguments", a);
        pt_jw_obj_end(w);
    }
    pt_jw_obj_end(w);
    if (sig.len || idsig.len) pt_jw_kstr(w, "thoughtSignature", sig.len ? sig : idsig);
    pt_jw_obj_end(w);
}

/* A text or reasoning part; a reasoning signature is passed on only when Gemini made it. */
static void text_part(pt_jw *w, pt_slice text, bool thought, pt_slice sig)
{
    pt_jw_obj(w);
    pt_jw_kstr(w, "text", text);
    if (thought) pt_jw_kbool(w, "thought", true);
    size_t n = sizeof PT_GEMINI_THINKING_SIG - 1;
    if (sig.len > n && memcmp(sig.ptr, PT_GEMINI_THINKING_SIG, n) == 0)
        pt_jw_kstr(w, "thoughtSignature", pt_slice_from(sig.ptr + n, sig.len - n));
    pt_jw_obj_end(w);
}

/* {"candidates":[{"content":{"parts":[ ... the caller writes the parts ... */
static void candidate_open(pt_jw *w)
{
    pt_jw_obj(w);
    pt_jw_key(w, "candidates");
    pt_jw_arr(w);
    pt_jw_obj(w);
    pt_jw_key(w, "content");
    pt_jw_obj(w);
    pt_jw_key(w, "parts");
    pt_jw_arr(w);
}

/* ... ],"role":"model"}, finishReason (when given), "index":0}], usage (when given),
 * modelVersion, responseId} */
static void candidate_close(pt_jw *w, const char *finish, const pt_usage *u, pt_slice model, pt_slice id)
{
    pt_jw_arr_end(w);
    pt_jw_kcstr(w, "role", "model");
    pt_jw_obj_end(w);
    if (finish) pt_jw_kcstr(w, "finishReason", finish);
    pt_jw_kint(w, "index", 0);
    pt_jw_obj_end(w);
    pt_jw_arr_end(w);
    if (u) usage_metadata(w, u);
    pt_jw_kstr(w, "modelVersion", model);
    if (id.len) pt_jw_kstr(w, "responseId", id);
    pt_jw_obj_end(w);
}

static int render_resp(const pt_pivot_resp *r, const pt__render_ctx *ctx, pt_buf *out)
{
    pt_jw w;
    pt_jw_init(&w, out);
    candidate_open(&w);
    for (size_t i = 0; i < r->nparts; i++) {
        const pt_part *p = &r->parts[i];
        if (p->type == PT_PART_TEXT) text_part(&w, p->text, false, PT_SLICE_NULL);
        else if (p->type == PT_PART_THINKING) text_part(&w, p->text, true, p->signature);
        else if (p->type == PT_PART_TOOL_USE) call_part(&w, p->id, p->name, p->arguments, p->signature);
    }
    candidate_close(&w, finish_reason(r->stop), &r->usage, r->model.len ? r->model : ctx->model,
                    r->id.len ? r->id : pt_slice_cstr(ctx->request_id ? ctx->request_id : ""));
    return w.err;
}

/* ---- streams ------------------------------------------------------------------------- *
 *
 * Each chunk is a whole GenerateContentResponse holding the new part. Function calls are
 * sent whole, as Gemini sends them: their argument deltas are gathered and the calls go
 * out with the last chunk, which carries finishReason and usageMetadata. */

typedef struct gcall {
    int index;
    pt_buf id, name, sig, args;
} gcall;

struct pt__gem_stream {
    gcall *calls;
    size_t n, cap;
};

static void stream_release(pt__fmt_stream *st)
{
    struct pt__gem_stream *g = st->gem;
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) {
        pt_buf_release(&g->calls[i].id);
        pt_buf_release(&g->calls[i].name);
        pt_buf_release(&g->calls[i].sig);
        pt_buf_release(&g->calls[i].args);
    }
    free(g->calls);
    free(g);
    st->gem = NULL;
}

static gcall *call_at(pt__fmt_stream *st, int index)
{
    struct pt__gem_stream *g = st->gem;
    for (size_t i = 0; g && i < g->n; i++)
        if (g->calls[i].index == index) return &g->calls[i];
    return NULL;
}

static int call_open(pt__fmt_stream *st, const pt_ev *ev)
{
    if (!st->gem && !(st->gem = calloc(1, sizeof *st->gem))) return PT_ENOMEM;
    struct pt__gem_stream *g = st->gem;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4;
        gcall *c = realloc(g->calls, cap * sizeof *c);
        if (!c) return PT_ENOMEM;
        g->calls = c;
        g->cap = cap;
    }
    gcall *c = &g->calls[g->n++];
    memset(c, 0, sizeof *c);
    c->index = ev->index;
    if (pt_buf_append_slice(&c->id, ev->id) || pt_buf_append_slice(&c->name, ev->name) ||
        pt_buf_append_slice(&c->sig, ev->text))
        return PT_ENOMEM;
    return 0;
}

/* The framing before a chunk: "data: " for events, "[" or ",\r\n" in an array. */
static int chunk_begin(pt__fmt_stream *st, pt_buf *out)
{
    bool first = !st->started;
    st->started = true;
    if (!st->ctx.json_array) return pt_buf_append_str(out, "data: ");
    return pt_buf_append_str(out, first ? "[" : ",\r\n");
}

static int chunk_end(pt__fmt_stream *st, pt_buf *out)
{
    return st->ctx.json_array ? 0 : pt_buf_append_str(out, "\r\n\r\n");
}

static int part_chunk(pt__fmt_stream *st, pt_slice text, bool thought, pt_slice sig, pt_buf *out)
{
    int rc = chunk_begin(st, out);
    pt_jw w;
    pt_jw_init(&w, out);
    candidate_open(&w);
    text_part(&w, text, thought, sig);
    candidate_close(&w, NULL, NULL, st->model, st->id);
    return rc ? rc : w.err ? w.err : chunk_end(st, out);
}

static int last_chunk(pt__fmt_stream *st, pt_buf *out)
{
    int rc = chunk_begin(st, out);
    pt_jw w;
    pt_jw_init(&w, out);
    candidate_open(&w);
    for (size_t i = 0; st->gem && i < st->gem->n; i++) {
        gcall *c = &st->gem->calls[i];
        call_part(&w, pt_buf_slice(&c->id), pt_buf_slice(&c->name), pt_buf_slice(&c->args), pt_buf_slice(&c->sig));
    }
    candidate_close(&w, finish_reason(st->stop), &st->usage, st->model, st->id);
    return rc ? rc : w.err ? w.err : chunk_end(st, out);
}

static int error_chunk(pt__fmt_stream *st, const pt_ai_error *e, pt_buf *out)
{
    if (!st->ctx.json_array) return pt__fmt_render_error(&pt__fmt_gemini, e, true, out);
    int rc = chunk_begin(st, out);
    if (!rc) rc = pt__fmt_render_error(&pt__fmt_gemini, e, false, out);
    return rc ? rc : pt_buf_append_str(out, "]");
}

static int stream_event(pt__fmt_stream *st, const pt_ev *ev, pt_buf *out)
{
    switch (ev->type) {
    case PT_EV_MESSAGE_START:
        st->id = pt__copy_str(st->idbuf, sizeof st->idbuf, ev->id);
        st->model = pt__copy_str(st->modelbuf, sizeof st->modelbuf, ev->model.len ? ev->model : st->ctx.model);
        pt_usage_merge(&st->usage, &ev->usage);
        return 0;
    case PT_EV_BLOCK_START: return ev->block == PT_PART_TOOL_USE ? call_open(st, ev) : 0;
    case PT_EV_TEXT_DELTA: return ev->text.len ? part_chunk(st, ev->text, false, PT_SLICE_NULL, out) : 0;
    case PT_EV_THINKING_DELTA: return ev->text.len ? part_chunk(st, ev->text, true, PT_SLICE_NULL, out) : 0;
    case PT_EV_SIGNATURE_DELTA: {
        size_t n = sizeof PT_GEMINI_THINKING_SIG - 1;
        bool mine = ev->text.len > n && memcmp(ev->text.ptr, PT_GEMINI_THINKING_SIG, n) == 0;
        return mine ? part_chunk(st, PT_SLICE_LIT(""), true, ev->text, out) : 0;
    }
    case PT_EV_TOOL_ARGS_DELTA: {
        gcall *c = call_at(st, ev->index);
        return c ? pt_buf_append_slice(&c->args, ev->text) : 0;
    }
    case PT_EV_MESSAGE_DELTA:
        st->stop = ev->stop;
        pt_usage_merge(&st->usage, &ev->usage);
        return last_chunk(st, out);
    case PT_EV_MESSAGE_STOP:
        if (!st->ctx.json_array) return 0;
        return pt_buf_append_str(out, st->started ? "]" : "[]");
    case PT_EV_ERROR: return error_chunk(st, ev->error, out);
    default: return 0;
    }
}

/* ---- embeddings ---------------------------------------------------------------------- */

/* The text of a Content to embed: its text parts, one per line. */
static int embed_text(pt_jw *w, const pt_jv *content, const char *path, pt_ai_error *err)
{
    const pt_jv *parts = pt_jv_get(content, "parts");
    if (!pt_jv_is_array(parts) || !pt_jv_len(parts)) return BAD_AT(path, "content.parts", "expected a non-empty array");
    pt_buf t = PT_BUF_INIT;
    size_t i;
    const pt_jv *p;
    PT_JV_FOREACH(parts, i, p) {
        const pt_jv *text = pt_jv_get(p, "text");
        if (!pt_jv_is_string(text)) {
            pt_buf_release(&t);
            return UNSUPPORTED_AT(path, "content.parts", "only text parts can be embedded through the gateway");
        }
        if ((i && pt_buf_append(&t, "\n", 1)) || pt_buf_append_slice(&t, pt_jv_str(text))) w->err = PT_ENOMEM;
    }
    pt_jw_str(w, pt_buf_slice(&t));
    pt_buf_release(&t);
    return 0;
}

int pt__gem_embed_request(const char *body, size_t len, pt_slice model, pt_pool *arena, pt_buf *out,
                          const pt_jv **src, pt_ai_error *err)
{
    size_t ep;
    const pt_jv *root = pt_jdom_parse(arena, body, len, &ep);
    if (!root && ep > len) return NOMEM();
    if (!root) return BAD_AT("body", NULL, "invalid JSON: syntax error at byte %zu", ep);
    if (!pt_jv_is_object(root)) return BAD_AT("body", NULL, "expected a JSON object");
    const pt_jv *reqs = pt_jv_get(root, "requests");
    bool batch = reqs != NULL;
    if (batch && (!pt_jv_is_array(reqs) || !pt_jv_len(reqs))) return BAD_AT("requests", NULL, "expected a non-empty array");
    pt_jw w;
    pt_jw_init(&w, out);
    pt_jw_obj(&w);
    pt_jw_kstr(&w, "model", model);
    pt_jw_key(&w, "input");
    pt_jw_arr(&w);
    size_t n = batch ? pt_jv_len(reqs) : 1;
    int64_t dims = -1;
    for (size_t i = 0; i < n; i++) {
        const pt_jv *one = batch ? pt_jv_at(reqs, i) : root;
        char path[48];
        if (batch) pt_str_index(path, sizeof path, "requests", "", i);
        else pt_str_copy(path, sizeof path, "body");
        if (!pt_jv_is_object(one)) return BAD_AT(path, NULL, "expected an object");
        if (embed_text(&w, pt_jv_get(one, "content"), path, err)) return -1;
        const pt_jv *d = pt_jv_get(one, "outputDimensionality");
        if (d && !pt_jv_is_null(d) && (!pt_jv_is_integer(d) || pt_jv_int(d) < 1))
            return BAD_AT(path, "outputDimensionality", "expected a positive integer");
        if (pt_jv_is_integer(d) && dims >= 0 && pt_jv_int(d) != dims)
            return UNSUPPORTED_AT(path, "outputDimensionality", "must be the same for every request of a batch");
        if (pt_jv_is_integer(d)) dims = pt_jv_int(d);
        static const char *const texts[] = { "taskType", "title" }; /* for providers that take them */
        for (size_t k = 0; k < 2; k++) {
            const pt_jv *t = pt_jv_get(one, texts[k]);
            if (t && !pt_jv_is_null(t) && !pt_jv_is_string(t)) return BAD_AT(path, texts[k], "expected a string");
        }
    }
    *src = root;
    pt_jw_arr_end(&w);
    if (dims > 0) pt_jw_kint(&w, "dimensions", dims);
    pt_jw_obj_end(&w);
    return w.err ? NOMEM() : 0;
}

int pt__gem_embed_answer(const char *list, size_t len, bool one, pt_buf *out)
{
    pt_pool scratch;
    pt_pool_init(&scratch, 0, 0);
    const pt_jv *data = pt_jv_get(pt_jdom_parse(&scratch, list, len, NULL), "data");
    int rc = pt_jv_is_array(data) && (!one || pt_jv_len(data) == 1) ? 0 : PT_EINVAL;
    pt_jw w;
    pt_jw_init(&w, out);
    pt_jw_obj(&w);
    pt_jw_key(&w, one ? "embedding" : "embeddings");
    if (!one) pt_jw_arr(&w);
    size_t i;
    const pt_jv *e;
    PT_JV_FOREACH(data, i, e) {
        const pt_jv *v = pt_jv_get(e, "embedding");
        if (!pt_jv_is_array(v)) rc = PT_EINVAL; /* base64 is never asked for */
        pt_jw_obj(&w);
        pt_jw_key(&w, "values");
        pt_jw_raw(&w, v ? v->raw : PT_SLICE_LIT("[]"));
        pt_jw_obj_end(&w);
    }
    if (!one) pt_jw_arr_end(&w);
    pt_jw_obj_end(&w);
    pt_pool_release(&scratch);
    return rc ? rc : w.err;
}

/* ---- errors -------------------------------------------------------------------------- */

static void error_body(const pt_ai_error *e, pt_error_body *out)
{
    *out = (pt_error_body){ .status = e->status, .message = e->message };
}

const pt__fmt pt__fmt_gemini = {
    .id = PT_AI_FMT_GEMINI,
    .parse_chat = parse_chat,
    .render_resp = render_resp,
    .stream_init = pt__stream_init,
    .stream_event = stream_event,
    .stream_release = stream_release,
    .error_format = PT_ERRFMT_GEMINI,
    .error_body = error_body,
};
