/* fmt_openai.c: the OpenAI Chat Completions client format: request parsing into the
 * pivot, response / stream chunk / error rendering, and parsing helpers shared with
 * fmt_anthropic.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/fmt.h"
#include "ai/jscan.h"
#include "ai/jsonw.h"
#include "core/err.h"

/* ---- shared helpers ------------------------------------------------------------------ */

pt_slice pt__jstr(const json_t *v)
{
    if (!json_is_string(v)) return PT_SLICE_NULL;
    return pt_slice_from(json_string_value(v), json_string_length(v));
}

void *pt__grow(pt_ai_arena *a, void **arr, size_t *n, size_t *cap, size_t elem)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        char *np = pt_ai_arena_alloc(a, nc * elem);
        if (!np) return NULL;
        if (*n) memcpy(np, *arr, *n * elem);
        *arr = np;
        *cap = nc;
    }
    return (char *)*arr + (*n)++ * elem; /* arena memory is zeroed */
}

bool pt__parse_data_url(pt_slice url, pt_slice *media_type, pt_slice *data)
{
    if (!pt_slice_starts_with(url, PT_SLICE_LIT("data:"))) return false;
    const char *comma = memchr(url.ptr, ',', url.len);
    if (!comma) return false;
    pt_slice meta = pt_slice_from(url.ptr + 5, (size_t)(comma - url.ptr) - 5);
    static const char b64[] = ";base64";
    if (meta.len < sizeof b64 - 1 || memcmp(meta.ptr + meta.len - (sizeof b64 - 1), b64, sizeof b64 - 1) != 0)
        return false;
    *media_type = pt_slice_from(meta.ptr, meta.len - (sizeof b64 - 1));
    *data = pt_slice_from(comma + 1, url.len - (size_t)(comma + 1 - url.ptr));
    return media_type->len > 0;
}

int pt__parse_stop(const json_t *v, const char *field, pt_pivot_req *r, pt_ai_error *err)
{
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        r->stop[0] = pt__jstr(v);
        r->nstop = 1;
        return 0;
    }
    if (!json_is_array(v))
        return pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, "%s: expected a string or an array of strings", field);
    if (json_array_size(v) > PT_PIVOT_MAX_STOP)
        return pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, "%s: at most %d stop sequences", field,
                               PT_PIVOT_MAX_STOP);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s))
            return pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, "%s[%zu]: expected a string", field, i);
        r->stop[r->nstop++] = pt__jstr(s);
    }
    return 0;
}

pt_slice pt__copy_str(char *dst, size_t cap, pt_slice s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n) memcpy(dst, s.ptr, n);
    dst[n] = '\0';
    return pt_slice_from(dst, n);
}

pt_slice pt__json_text(pt_ai_arena *a, const json_t *v)
{
    pt_buf b = PT_BUF_INIT;
    pt_jw w;
    pt_jw_init(&w, &b);
    pt_jw_json(&w, v);
    pt_slice out = PT_SLICE_NULL;
    if (!w.err) out = pt_ai_arena_slice(a, pt_buf_slice(&b));
    pt_buf_release(&b);
    if (!out.ptr) out = PT_SLICE_LIT("{}");
    return out;
}

/* ---- request parsing ----------------------------------------------------------------- */

#define BAD(field, ...) pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, __VA_ARGS__)

static int opt_num(const json_t *root, const char *key, double *out, pt_ai_error *err)
{
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return BAD(key, "%s: expected a number", key);
    *out = json_number_value(v);
    return 0;
}

static int opt_int(const json_t *root, const char *key, int64_t min, int64_t *out, pt_ai_error *err)
{
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return BAD(key, "%s: expected an integer", key);
    if (json_integer_value(v) < min) return BAD(key, "%s: must be at least %lld", key, (long long)min);
    *out = json_integer_value(v);
    return 0;
}

/* Text of a content value that may only hold text: a string or [{type:text,text}]. */
static int text_parts(pt_pivot_req *r, const json_t *content, const char *path, pt_part **arr, size_t *n, size_t *cap,
                      pt_ai_error *err)
{
    if (json_is_string(content)) {
        pt_part *p = pt__parts_push(&r->arena, arr, n, cap);
        if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
        p->type = PT_PART_TEXT;
        p->text = pt__jstr(content);
        return 0;
    }
    if (!json_is_array(content)) return BAD(path, "%s: expected a string or an array of text parts", path);
    size_t i;
    json_t *it;
    json_array_foreach(content, i, it) {
        const char *type = json_string_value(json_object_get(it, "type"));
        const json_t *text = json_object_get(it, "text");
        if (!json_is_object(it) || !type || strcmp(type, "text") != 0 || !json_is_string(text))
            return BAD(path, "%s[%zu]: expected {\"type\":\"text\",\"text\":...}", path, i);
        pt_part *p = pt__parts_push(&r->arena, arr, n, cap);
        if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
        p->type = PT_PART_TEXT;
        p->text = pt__jstr(text);
    }
    return 0;
}

static int user_parts(pt_pivot_req *r, const json_t *content, const char *path, pt_msg *m, pt_ai_error *err)
{
    size_t cap = 0;
    if (json_is_string(content)) return text_parts(r, content, path, &m->parts, &m->nparts, &cap, err);
    if (!json_is_array(content)) return BAD(path, "%s: expected a string or an array of content parts", path);
    size_t i;
    json_t *it;
    json_array_foreach(content, i, it) {
        const char *type = json_string_value(json_object_get(it, "type"));
        if (!json_is_object(it) || !type) return BAD(path, "%s[%zu].type: field required", path, i);
        pt_part *p = pt__parts_push(&r->arena, &m->parts, &m->nparts, &cap);
        if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
        if (strcmp(type, "text") == 0) {
            const json_t *t = json_object_get(it, "text");
            if (!json_is_string(t)) return BAD(path, "%s[%zu].text: expected a string", path, i);
            p->type = PT_PART_TEXT;
            p->text = pt__jstr(t);
        } else if (strcmp(type, "image_url") == 0) {
            const json_t *iu = json_object_get(it, "image_url");
            const json_t *url = json_is_object(iu) ? json_object_get(iu, "url") : iu;
            if (!json_is_string(url)) return BAD(path, "%s[%zu].image_url.url: expected a string", path, i);
            p->type = PT_PART_IMAGE;
            pt_slice u = pt__jstr(url);
            if (!pt__parse_data_url(u, &p->media_type, &p->data)) {
                if (pt_slice_starts_with(u, PT_SLICE_LIT("data:")))
                    return BAD(path, "%s[%zu].image_url.url: only base64 data URLs are supported", path, i);
                p->url = u;
            }
        } else {
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                                   "%s[%zu].type: content parts of type '%s' cannot be translated to this provider",
                                   path, i, type);
        }
    }
    return 0;
}

static int assistant_msg(pt_pivot_req *r, const json_t *m, const char *path, pt_msg *out, pt_ai_error *err)
{
    size_t cap = 0;
    const json_t *content = json_object_get(m, "content");
    char sub[128];
    snprintf(sub, sizeof sub, "%s.content", path);
    if (content && !json_is_null(content)) {
        if (json_is_string(content)) {
            if (json_string_length(content) > 0 &&
                text_parts(r, content, sub, &out->parts, &out->nparts, &cap, err))
                return -1;
        } else if (json_is_array(content)) {
            size_t i;
            json_t *it;
            json_array_foreach(content, i, it) {
                const char *type = json_string_value(json_object_get(it, "type"));
                const json_t *t = json_object_get(it, type && strcmp(type, "refusal") == 0 ? "refusal" : "text");
                if (!type || (strcmp(type, "text") != 0 && strcmp(type, "refusal") != 0) || !json_is_string(t))
                    return BAD(sub, "%s[%zu]: expected a text or refusal part", sub, i);
                pt_part *p = pt__parts_push(&r->arena, &out->parts, &out->nparts, &cap);
                if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
                p->type = PT_PART_TEXT;
                p->text = pt__jstr(t);
            }
        } else {
            return BAD(sub, "%s: expected a string, an array or null", sub);
        }
    }
    const json_t *calls = json_object_get(m, "tool_calls");
    if (calls && !json_is_null(calls)) {
        snprintf(sub, sizeof sub, "%s.tool_calls", path);
        if (!json_is_array(calls)) return BAD(sub, "%s: expected an array", sub);
        size_t i;
        json_t *tc;
        json_array_foreach(calls, i, tc) {
            const json_t *fn = json_object_get(tc, "function");
            const json_t *id = json_object_get(tc, "id");
            const json_t *name = json_object_get(fn, "name");
            const json_t *args = json_object_get(fn, "arguments");
            if (!json_is_object(tc) || !json_is_string(id))
                return BAD(sub, "%s[%zu].id: expected a string", sub, i);
            if (!json_is_object(fn) || !json_is_string(name))
                return BAD(sub, "%s[%zu].function.name: expected a string", sub, i);
            if (args && !json_is_string(args) && !json_is_null(args))
                return BAD(sub, "%s[%zu].function.arguments: expected a string", sub, i);
            pt_part *p = pt__parts_push(&r->arena, &out->parts, &out->nparts, &cap);
            if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
            p->type = PT_PART_TOOL_USE;
            p->id = pt__jstr(id);
            p->name = pt__jstr(name);
            p->arguments = json_is_string(args) ? pt__jstr(args) : PT_SLICE_LIT("{}");
        }
    }
    return 0;
}

static int tool_msg(pt_pivot_req *r, const json_t *m, const char *path, pt_msg *out, pt_ai_error *err)
{
    const json_t *id = json_object_get(m, "tool_call_id");
    char sub[128];
    snprintf(sub, sizeof sub, "%s.tool_call_id", path);
    if (!json_is_string(id)) return BAD(sub, "%s: expected a string", sub);
    size_t cap = 0, rcap = 0;
    pt_part *p = pt__parts_push(&r->arena, &out->parts, &out->nparts, &cap);
    if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
    p->type = PT_PART_TOOL_RESULT;
    p->tool_use_id = pt__jstr(id);
    const json_t *content = json_object_get(m, "content");
    snprintf(sub, sizeof sub, "%s.content", path);
    if (!content || json_is_null(content)) return 0;
    return text_parts(r, content, sub, &p->content, &p->ncontent, &rcap, err);
}

static int parse_messages(pt_pivot_req *r, const json_t *msgs, pt_ai_error *err)
{
    size_t mcap = 0, scap = 0;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        char path[64];
        snprintf(path, sizeof path, "messages[%zu]", i);
        if (!json_is_object(m)) return BAD(path, "%s: expected an object", path);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role) return BAD(path, "%s.role: field required", path);
        const json_t *content = json_object_get(m, "content");
        char sub[96];
        snprintf(sub, sizeof sub, "%s.content", path);
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            if (!content) return BAD(sub, "%s: field required", sub);
            if (text_parts(r, content, sub, &r->system, &r->nsystem, &scap, err)) return -1;
            continue;
        }
        pt_msg *out = pt__msgs_push(&r->arena, &r->msgs, &r->nmsgs, &mcap);
        if (!out) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
        if (strcmp(role, "user") == 0) {
            out->role = PT_ROLE_USER;
            if (!content) return BAD(sub, "%s: field required", sub);
            if (user_parts(r, content, sub, out, err)) return -1;
        } else if (strcmp(role, "assistant") == 0) {
            out->role = PT_ROLE_ASSISTANT;
            if (assistant_msg(r, m, path, out, err)) return -1;
        } else if (strcmp(role, "tool") == 0) {
            out->role = PT_ROLE_USER;
            if (tool_msg(r, m, path, out, err)) return -1;
        } else {
            char rp[96];
            snprintf(rp, sizeof rp, "%s.role", path);
            return BAD(rp, "%s: unknown role '%s' (expected system, developer, user, assistant or tool)", rp, role);
        }
    }
    return 0;
}

static int parse_tools(pt_pivot_req *r, const json_t *tools, pt_ai_error *err)
{
    if (!tools || json_is_null(tools)) return 0;
    if (!json_is_array(tools)) return BAD("tools", "tools: expected an array");
    r->ntools = json_array_size(tools);
    if (!r->ntools) return 0;
    r->tools = pt_ai_arena_alloc(&r->arena, r->ntools * sizeof *r->tools);
    if (!r->tools) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        char path[48];
        snprintf(path, sizeof path, "tools[%zu]", i);
        const char *type = json_string_value(json_object_get(t, "type"));
        if (!json_is_object(t) || !type) return BAD(path, "%s.type: field required", path);
        if (strcmp(type, "function") != 0)
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                                   "%s.type: tools of type '%s' cannot be translated to this provider", path, type);
        const json_t *fn = json_object_get(t, "function");
        const json_t *name = json_object_get(fn, "name");
        if (!json_is_object(fn) || !json_is_string(name)) return BAD(path, "%s.function.name: field required", path);
        const json_t *desc = json_object_get(fn, "description");
        const json_t *params = json_object_get(fn, "parameters");
        if (params && !json_is_object(params) && !json_is_null(params))
            return BAD(path, "%s.function.parameters: expected an object", path);
        r->tools[i].name = pt__jstr(name);
        r->tools[i].description = pt__jstr(desc);
        r->tools[i].schema = json_is_object(params) ? params : NULL;
    }
    return 0;
}

static int parse_tool_choice(pt_pivot_req *r, const json_t *tc, pt_ai_error *err)
{
    if (!tc || json_is_null(tc)) return 0;
    if (json_is_string(tc)) {
        const char *s = json_string_value(tc);
        if (strcmp(s, "auto") == 0) r->tool_choice = PT_TOOL_CHOICE_AUTO;
        else if (strcmp(s, "none") == 0) r->tool_choice = PT_TOOL_CHOICE_NONE;
        else if (strcmp(s, "required") == 0) r->tool_choice = PT_TOOL_CHOICE_ANY;
        else return BAD("tool_choice", "tool_choice: expected none, auto, required or a function");
        return 0;
    }
    const json_t *name = json_object_get(json_object_get(tc, "function"), "name");
    if (!json_is_object(tc) || !json_is_string(name))
        return BAD("tool_choice", "tool_choice.function.name: expected a string");
    r->tool_choice = PT_TOOL_CHOICE_TOOL;
    r->tool_choice_name = pt__jstr(name);
    return 0;
}

static int parse_response_format(pt_pivot_req *r, const json_t *rf, pt_ai_error *err)
{
    if (!rf || json_is_null(rf)) return 0;
    const char *type = json_string_value(json_object_get(rf, "type"));
    if (!json_is_object(rf) || !type) return BAD("response_format", "response_format.type: field required");
    if (strcmp(type, "text") == 0) {
        r->response_format = PT_RESP_FORMAT_TEXT;
    } else if (strcmp(type, "json_object") == 0) {
        r->response_format = PT_RESP_FORMAT_JSON_OBJECT;
    } else if (strcmp(type, "json_schema") == 0) {
        const json_t *js = json_object_get(rf, "json_schema");
        const json_t *schema = json_object_get(js, "schema");
        if (!json_is_object(js)) return BAD("response_format", "response_format.json_schema: expected an object");
        if (schema && !json_is_object(schema))
            return BAD("response_format", "response_format.json_schema.schema: expected an object");
        r->response_format = PT_RESP_FORMAT_JSON_SCHEMA;
        r->response_schema = schema;
        r->response_schema_name = pt__jstr(json_object_get(js, "name"));
        const json_t *strict = json_object_get(js, "strict");
        if (json_is_boolean(strict)) r->response_schema_strict = json_is_true(strict);
    } else {
        return BAD("response_format", "response_format.type: expected text, json_object or json_schema");
    }
    return 0;
}

static int parse_chat(const char *body, size_t len, bool for_count, pt_pivot_req *r, pt_ai_error *err)
{
    (void)for_count;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) return BAD(NULL, "invalid JSON body: %s (at byte %d)", je.text, je.position);
    r->root = root;
    if (!json_is_object(root)) return BAD(NULL, "request body must be a JSON object");

    const json_t *model = json_object_get(root, "model");
    if (!model) return BAD("model", "model: field required");
    if (!json_is_string(model)) return BAD("model", "model: expected a string");
    r->model = pt__jstr(model);

    const json_t *msgs = json_object_get(root, "messages");
    if (!msgs) return BAD("messages", "messages: field required");
    if (!json_is_array(msgs)) return BAD("messages", "messages: expected an array");
    if (json_array_size(msgs) == 0) return BAD("messages", "messages: must not be empty");
    if (parse_messages(r, msgs, err)) return -1;

    if (opt_int(root, "max_tokens", 1, &r->max_tokens, err)) return -1;
    if (opt_int(root, "max_completion_tokens", 1, &r->max_tokens, err)) return -1;
    if (opt_num(root, "temperature", &r->temperature, err)) return -1;
    if (opt_num(root, "top_p", &r->top_p, err)) return -1;
    if (opt_num(root, "presence_penalty", &r->presence_penalty, err)) return -1;
    if (opt_num(root, "frequency_penalty", &r->frequency_penalty, err)) return -1;
    int64_t seed = -1;
    if (opt_int(root, "seed", INT64_MIN, &seed, err)) return -1;
    r->seed = json_is_integer(json_object_get(root, "seed")) ? seed : -1;
    int64_t n = 1;
    if (opt_int(root, "n", 1, &n, err)) return -1;
    if (n != 1) return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, "n", "n: only n=1 can be translated to this provider");
    if (pt__parse_stop(json_object_get(root, "stop"), "stop", r, err)) return -1;

    const json_t *stream = json_object_get(root, "stream");
    if (stream && !json_is_null(stream) && !json_is_boolean(stream)) return BAD("stream", "stream: expected a boolean");
    r->stream = json_is_true(stream);
    const json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) return BAD("stream_options", "stream_options: expected an object");
        const json_t *iu = json_object_get(so, "include_usage");
        if (iu && !json_is_boolean(iu))
            return BAD("stream_options", "stream_options.include_usage: expected a boolean");
        r->include_usage = json_is_true(iu);
    }

    if (parse_tools(r, json_object_get(root, "tools"), err)) return -1;
    if (parse_tool_choice(r, json_object_get(root, "tool_choice"), err)) return -1;
    const json_t *ptc = json_object_get(root, "parallel_tool_calls");
    if (ptc && !json_is_null(ptc)) {
        if (!json_is_boolean(ptc)) return BAD("parallel_tool_calls", "parallel_tool_calls: expected a boolean");
        r->parallel_tool_calls = json_is_true(ptc);
    }
    if (parse_response_format(r, json_object_get(root, "response_format"), err)) return -1;
    const json_t *effort = json_object_get(root, "reasoning_effort");
    if (effort && !json_is_null(effort)) {
        if (!json_is_string(effort)) return BAD("reasoning_effort", "reasoning_effort: expected a string");
        r->reasoning_effort = pt__jstr(effort);
        r->reasoning_budget = pt_pivot_effort_to_budget(r->reasoning_effort);
    }
    const json_t *user = json_object_get(root, "user");
    if (json_is_string(user)) r->user = pt__jstr(user);
    return 0;
}

/* ---- rendering ----------------------------------------------------------------------- */

static const char *finish_reason(pt_stop_reason s)
{
    switch (s) {
    case PT_STOP_MAX_TOKENS: return "length";
    case PT_STOP_TOOL_USE: return "tool_calls";
    case PT_STOP_CONTENT_FILTER: return "content_filter";
    default: return "stop";
    }
}

static void usage_obj(pt_jw *w, const pt_usage *u)
{
    int64_t prompt = pt_usage_prompt_total(u);
    int64_t out = pt_usage_get(u->output);
    pt_jw_obj(w);
    pt_jw_kint(w, "prompt_tokens", prompt);
    pt_jw_kint(w, "completion_tokens", out);
    pt_jw_kint(w, "total_tokens", prompt + out);
    pt_jw_key(w, "prompt_tokens_details");
    pt_jw_obj(w);
    pt_jw_kint(w, "cached_tokens", pt_usage_get(u->cache_read));
    pt_jw_obj_end(w);
    pt_jw_key(w, "completion_tokens_details");
    pt_jw_obj(w);
    pt_jw_kint(w, "reasoning_tokens", pt_usage_get(u->reasoning));
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
}

static void write_id(pt_jw *w, pt_slice id, const char *prefix, const char *request_id)
{
    if (id.len) {
        pt_jw_str(w, id);
        return;
    }
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s%s", prefix, request_id && *request_id ? request_id : "0");
    pt_jw_cstr(w, tmp);
}

static int64_t created_of(int64_t provider, const pt__render_ctx *ctx)
{
    return provider >= 0 ? provider : ctx->now_unix;
}

static int render_resp(const pt_pivot_resp *r, const pt__render_ctx *ctx, pt_buf *out)
{
    pt_jw w;
    pt_jw_init(&w, out);
    pt_jw_obj(&w);
    pt_jw_key(&w, "id");
    write_id(&w, r->id, "chatcmpl-", ctx->request_id);
    pt_jw_kcstr(&w, "object", "chat.completion");
    pt_jw_kint(&w, "created", created_of(r->created, ctx));
    pt_jw_kstr(&w, "model", r->model.len ? r->model : ctx->model);
    pt_jw_key(&w, "choices");
    pt_jw_arr(&w);
    pt_jw_obj(&w);
    pt_jw_kint(&w, "index", 0);
    pt_jw_key(&w, "message");
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "role", "assistant");

    /* text parts joined; null when there is none (as OpenAI does with tool calls) */
    size_t ntext = 0, ntools = 0, nthink = 0;
    for (size_t i = 0; i < r->nparts; i++) {
        if (r->parts[i].type == PT_PART_TEXT) ntext++;
        else if (r->parts[i].type == PT_PART_TOOL_USE) ntools++;
        else if (r->parts[i].type == PT_PART_THINKING) nthink++;
    }
    pt_jw_key(&w, "content");
    if (ntext) {
        pt_buf t = PT_BUF_INIT;
        for (size_t i = 0; i < r->nparts; i++)
            if (r->parts[i].type == PT_PART_TEXT && pt_buf_append_slice(&t, r->parts[i].text)) w.err = PT_ENOMEM;
        pt_jw_str(&w, pt_buf_slice(&t));
        pt_buf_release(&t);
    } else {
        pt_jw_null(&w);
    }
    if (nthink) {
        pt_buf t = PT_BUF_INIT;
        for (size_t i = 0; i < r->nparts; i++)
            if (r->parts[i].type == PT_PART_THINKING && pt_buf_append_slice(&t, r->parts[i].text)) w.err = PT_ENOMEM;
        pt_jw_kstr(&w, "reasoning_content", pt_buf_slice(&t));
        pt_buf_release(&t);
    }
    if (ntools) {
        pt_jw_key(&w, "tool_calls");
        pt_jw_arr(&w);
        for (size_t i = 0; i < r->nparts; i++) {
            const pt_part *p = &r->parts[i];
            if (p->type != PT_PART_TOOL_USE) continue;
            pt_jw_obj(&w);
            pt_jw_kstr(&w, "id", p->id);
            pt_jw_kcstr(&w, "type", "function");
            pt_jw_key(&w, "function");
            pt_jw_obj(&w);
            pt_jw_kstr(&w, "name", p->name);
            pt_jw_kstr(&w, "arguments", p->arguments);
            pt_jw_obj_end(&w);
            pt_jw_obj_end(&w);
        }
        pt_jw_arr_end(&w);
    }
    pt_jw_obj_end(&w);
    pt_jw_knull(&w, "logprobs");
    pt_jw_kcstr(&w, "finish_reason", finish_reason(r->stop));
    pt_jw_obj_end(&w);
    pt_jw_arr_end(&w);
    pt_jw_key(&w, "usage");
    usage_obj(&w, &r->usage);
    pt_jw_obj_end(&w);
    return w.err;
}

/* ---- stream rendering ---------------------------------------------------------------- */

static void stream_init(pt__fmt_stream *st, const pt__render_ctx *ctx)
{
    memset(st, 0, sizeof *st);
    st->ctx = *ctx;
    st->open_index = -1;
    for (size_t i = 0; i < sizeof st->tool_ordinal / sizeof st->tool_ordinal[0]; i++) st->tool_ordinal[i] = -1;
    st->usage = PT_USAGE_UNKNOWN;
    st->created = ctx->now_unix;
}


/* Opens `data: {"id":...,"choices":[{"index":0,"delta":` and leaves the writer inside
 * the choice object, ready for the delta value. */
static void chunk_open(pt__fmt_stream *st, pt_jw *w, pt_buf *out)
{
    pt_buf_append_str(out, "data: ");
    pt_jw_init(w, out);
    pt_jw_obj(w);
    pt_jw_key(w, "id");
    write_id(w, st->id, "chatcmpl-", st->ctx.request_id);
    pt_jw_kcstr(w, "object", "chat.completion.chunk");
    pt_jw_kint(w, "created", st->created);
    pt_jw_kstr(w, "model", st->model.len ? st->model : st->ctx.model);
    pt_jw_key(w, "choices");
    pt_jw_arr(w);
    pt_jw_obj(w);
    pt_jw_kint(w, "index", 0);
    pt_jw_key(w, "delta");
}

static int chunk_close(pt_jw *w, const char *finish, pt_buf *out)
{
    pt_jw_knull(w, "logprobs");
    pt_jw_key(w, "finish_reason");
    if (finish) pt_jw_cstr(w, finish);
    else pt_jw_null(w);
    pt_jw_obj_end(w);
    pt_jw_arr_end(w);
    pt_jw_obj_end(w);
    if (w->err) return w->err;
    return pt_buf_append(out, "\n\n", 2);
}

static int tool_index(pt__fmt_stream *st, int index)
{
    if (index < 0 || (size_t)index >= sizeof st->tool_ordinal / sizeof st->tool_ordinal[0]) return -1;
    return st->tool_ordinal[index];
}

static int stream_event(pt__fmt_stream *st, const pt_ev *ev, pt_buf *out)
{
    pt_jw w;
    switch (ev->type) {
    case PT_EV_MESSAGE_START:
        st->id = pt__copy_str(st->idbuf, sizeof st->idbuf, ev->id);
        st->model = pt__copy_str(st->modelbuf, sizeof st->modelbuf, ev->model);
        st->started = true;
        chunk_open(st, &w, out);
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "role", "assistant");
        pt_jw_kcstr(&w, "content", "");
        pt_jw_obj_end(&w);
        return chunk_close(&w, NULL, out);
    case PT_EV_BLOCK_START: {
        if (ev->block != PT_PART_TOOL_USE) return 0;
        if (ev->index < 0 || (size_t)ev->index >= sizeof st->tool_ordinal / sizeof st->tool_ordinal[0]) return 0;
        int k = st->ntools++;
        st->tool_ordinal[ev->index] = k;
        chunk_open(st, &w, out);
        pt_jw_obj(&w);
        pt_jw_key(&w, "tool_calls");
        pt_jw_arr(&w);
        pt_jw_obj(&w);
        pt_jw_kint(&w, "index", k);
        pt_jw_kstr(&w, "id", ev->id);
        pt_jw_kcstr(&w, "type", "function");
        pt_jw_key(&w, "function");
        pt_jw_obj(&w);
        pt_jw_kstr(&w, "name", ev->name);
        pt_jw_kcstr(&w, "arguments", "");
        pt_jw_obj_end(&w);
        pt_jw_obj_end(&w);
        pt_jw_arr_end(&w);
        pt_jw_obj_end(&w);
        return chunk_close(&w, NULL, out);
    }
    case PT_EV_TEXT_DELTA:
    case PT_EV_THINKING_DELTA:
        if (!ev->text.len) return 0;
        chunk_open(st, &w, out);
        pt_jw_obj(&w);
        pt_jw_kstr(&w, ev->type == PT_EV_TEXT_DELTA ? "content" : "reasoning_content", ev->text);
        pt_jw_obj_end(&w);
        return chunk_close(&w, NULL, out);
    case PT_EV_TOOL_ARGS_DELTA: {
        int k = tool_index(st, ev->index);
        if (k < 0 || !ev->text.len) return 0;
        chunk_open(st, &w, out);
        pt_jw_obj(&w);
        pt_jw_key(&w, "tool_calls");
        pt_jw_arr(&w);
        pt_jw_obj(&w);
        pt_jw_kint(&w, "index", k);
        pt_jw_key(&w, "function");
        pt_jw_obj(&w);
        pt_jw_kstr(&w, "arguments", ev->text);
        pt_jw_obj_end(&w);
        pt_jw_obj_end(&w);
        pt_jw_arr_end(&w);
        pt_jw_obj_end(&w);
        return chunk_close(&w, NULL, out);
    }
    case PT_EV_SIGNATURE_DELTA:
    case PT_EV_BLOCK_STOP:
        return 0;
    case PT_EV_MESSAGE_DELTA: {
        pt_usage_merge(&st->usage, &ev->usage);
        chunk_open(st, &w, out);
        pt_jw_obj(&w);
        pt_jw_obj_end(&w);
        int rc = chunk_close(&w, finish_reason(ev->stop), out);
        if (rc || !st->ctx.include_usage) return rc;
        pt_buf_append_str(out, "data: ");
        pt_jw_init(&w, out);
        pt_jw_obj(&w);
        pt_jw_key(&w, "id");
        write_id(&w, st->id, "chatcmpl-", st->ctx.request_id);
        pt_jw_kcstr(&w, "object", "chat.completion.chunk");
        pt_jw_kint(&w, "created", st->created);
        pt_jw_kstr(&w, "model", st->model.len ? st->model : st->ctx.model);
        pt_jw_key(&w, "choices");
        pt_jw_arr(&w);
        pt_jw_arr_end(&w);
        pt_jw_key(&w, "usage");
        usage_obj(&w, &st->usage);
        pt_jw_obj_end(&w);
        if (w.err) return w.err;
        return pt_buf_append(out, "\n\n", 2);
    }
    case PT_EV_MESSAGE_STOP:
        return pt_buf_append_str(out, "data: [DONE]\n\n");
    case PT_EV_ERROR:
        return pt__fmt_openai.render_stream_error(st, ev->error, out);
    }
    return 0;
}

/* ---- errors -------------------------------------------------------------------------- */

static void error_type(const pt_ai_error *e, const char **type, const char **code)
{
    *code = NULL;
    switch (e->kind) {
    case PT_AI_ERR_INVALID: *type = "invalid_request_error"; break;
    case PT_AI_ERR_NOT_FOUND:
        *type = "invalid_request_error";
        *code = strcmp(e->param, "model") == 0 ? "model_not_found" : "not_found";
        break;
    case PT_AI_ERR_UNSUPPORTED: *type = "invalid_request_error"; *code = "unsupported"; break;
    case PT_AI_ERR_CLIENT: *type = "invalid_request_error"; *code = "upstream_rejected"; break;
    case PT_AI_ERR_AUTH: *type = "api_error"; *code = "upstream_auth_failed"; break;
    case PT_AI_ERR_RATE_LIMIT: *type = "rate_limit_error"; *code = "rate_limit_exceeded"; break;
    case PT_AI_ERR_UPSTREAM: *type = "api_error"; *code = "upstream_error"; break;
    case PT_AI_ERR_PROTOCOL: *type = "api_error"; *code = "upstream_protocol_error"; break;
    case PT_AI_ERR_TIMEOUT: *type = "api_error"; *code = "upstream_timeout"; break;
    case PT_AI_ERR_CONNECT: *type = "api_error"; *code = "upstream_unreachable"; break;
    default: *type = "api_error"; *code = "internal_error"; break;
    }
}

static void error_obj(pt_jw *w, const pt_ai_error *e)
{
    const char *type, *code;
    error_type(e, &type, &code);
    pt_jw_obj(w);
    pt_jw_key(w, "error");
    pt_jw_obj(w);
    pt_jw_kcstr(w, "message", e->message);
    pt_jw_kcstr(w, "type", type);
    pt_jw_key(w, "param");
    if (e->param[0]) pt_jw_cstr(w, e->param);
    else pt_jw_null(w);
    pt_jw_key(w, "code");
    if (code) pt_jw_cstr(w, code);
    else pt_jw_null(w);
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
}

static int render_error(const pt_ai_error *e, pt_buf *out)
{
    pt_jw w;
    pt_jw_init(&w, out);
    error_obj(&w, e);
    return w.err;
}

static int render_stream_error(pt__fmt_stream *st, const pt_ai_error *e, pt_buf *out)
{
    (void)st;
    int rc = pt_buf_append_str(out, "data: ");
    if (rc) return rc;
    pt_jw w;
    pt_jw_init(&w, out);
    error_obj(&w, e);
    if (w.err) return w.err;
    return pt_buf_append(out, "\n\n", 2);
}

const pt__fmt pt__fmt_openai = {
    .id = PT_AI_FMT_OPENAI,
    .parse_chat = parse_chat,
    .render_resp = render_resp,
    .stream_init = stream_init,
    .stream_event = stream_event,
    .render_error = render_error,
    .render_stream_error = render_stream_error,
};

const pt__fmt *pt__fmt_get(pt_ai_format f)
{
    return f == PT_AI_FMT_ANTHROPIC ? &pt__fmt_anthropic : &pt__fmt_openai;
}
