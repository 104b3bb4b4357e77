/* fmt_openai.c: the OpenAI Chat Completions client format: request parsing into the
 * pivot, response / stream chunk / error rendering, and parsing helpers shared with
 * fmt_anthropic.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/fmt.h"
#include "core/err.h"
#include "core/error_body.h"
#include "core/json_scan.h"
#include "core/json_write.h"
#include "core/str.h"

/* ---- shared helpers ------------------------------------------------------------------ */

void *pt__grow(pt_pool *a, void **arr, size_t *n, size_t *cap, size_t elem)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        char *np = pt_pool_alloc(a, nc * elem);
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

int pt__parse_stop(const pt_jv *v, const char *field, pt_pivot_req *r, pt_ai_error *err)
{
    if (!v || pt_jv_is_null(v)) return 0;
    if (pt_jv_is_string(v)) {
        r->stop[0] = pt_jv_str(v);
        r->nstop = 1;
        return 0;
    }
    if (!pt_jv_is_array(v))
        return pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, "%s: expected a string or an array of strings", field);
    if (pt_jv_len(v) > PT_PIVOT_MAX_STOP)
        return pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, "%s: at most %d stop sequences", field,
                               PT_PIVOT_MAX_STOP);
    size_t i;
    const pt_jv *s;
    PT_JV_FOREACH(v, i, s) {
        if (!pt_jv_is_string(s))
            return pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, "%s[%zu]: expected a string", field, i);
        r->stop[r->nstop++] = pt_jv_str(s);
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

/* ---- request parsing ----------------------------------------------------------------- */

#define BAD(field, ...) pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, __VA_ARGS__)

int pt__opt_num(const pt_jv *root, const char *key, double *out, pt_ai_error *err)
{
    const pt_jv *v = pt_jv_get(root, key);
    if (!v || pt_jv_is_null(v)) return 0;
    if (!pt_jv_is_number(v)) return BAD(key, "%s: expected a number", key);
    *out = pt_jv_num(v);
    return 0;
}

int pt__opt_int(const pt_jv *root, const char *key, int64_t min, int64_t *out, pt_ai_error *err)
{
    const pt_jv *v = pt_jv_get(root, key);
    if (!v || pt_jv_is_null(v)) return 0;
    if (!pt_jv_is_integer(v)) return BAD(key, "%s: expected an integer", key);
    if (pt_jv_int(v) < min) return BAD(key, "%s: must be at least %lld", key, (long long)min);
    *out = pt_jv_int(v);
    return 0;
}

/* Text of a content value that may only hold text: a string or [{type:text,text}]. */
static int text_parts(pt_pivot_req *r, const pt_jv *content, const char *path, pt_part **arr, size_t *n, size_t *cap,
                      pt_ai_error *err)
{
    if (pt_jv_is_string(content)) {
        pt_part *p = pt__parts_push(&r->arena, arr, n, cap);
        if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(content);
        return 0;
    }
    if (!pt_jv_is_array(content)) return BAD(path, "%s: expected a string or an array of text parts", path);
    size_t i;
    const pt_jv *it;
    PT_JV_FOREACH(content, i, it) {
        const char *type = pt_jv_cstr(pt_jv_get(it, "type"));
        const pt_jv *text = pt_jv_get(it, "text");
        if (!pt_jv_is_object(it) || !type || strcmp(type, "text") != 0 || !pt_jv_is_string(text))
            return BAD(path, "%s[%zu]: expected {\"type\":\"text\",\"text\":...}", path, i);
        pt_part *p = pt__parts_push(&r->arena, arr, n, cap);
        if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(text);
    }
    return 0;
}

/* The media type a file name suggests (file_data given as bare base64). Chat Completions
 * takes PDFs, so that is the default. */
static pt_slice media_type_of(pt_slice name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".txt", "text/plain" }, { ".md", "text/markdown" }, { ".csv", "text/csv" },
        { ".html", "text/html" }, { ".json", "application/json" },
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i].ext);
        if (name.len > n && pt_slice_case_eq_cstr(pt_slice_from(name.ptr + name.len - n, n), types[i].ext))
            return pt_slice_cstr(types[i].type);
    }
    return PT_SLICE_LIT("application/pdf");
}

/* {"type":"file","file":{"file_data":"data:application/pdf;base64,...","filename":"a.pdf"}} */
static int file_part(const pt_jv *it, const char *path, size_t i, pt_part *p, pt_ai_error *err)
{
    const pt_jv *f = pt_jv_get(it, "file");
    if (!pt_jv_is_object(f)) return BAD(path, "%s[%zu].file: expected an object", path, i);
    if (pt_jv_get(f, "file_id"))
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                               "%s[%zu].file.file_id: an uploaded file belongs to the provider it was uploaded to; "
                               "send its content as file_data instead", path, i);
    const pt_jv *fd = pt_jv_get(f, "file_data");
    const pt_jv *name = pt_jv_get(f, "filename");
    if (!pt_jv_is_string(fd)) return BAD(path, "%s[%zu].file.file_data: expected a string", path, i);
    if (name && !pt_jv_is_string(name)) return BAD(path, "%s[%zu].file.filename: expected a string", path, i);
    p->type = PT_PART_FILE;
    p->name = pt_jv_str(name);
    pt_slice d = pt_jv_str(fd);
    if (!pt__parse_data_url(d, &p->media_type, &p->data)) {
        if (pt_slice_starts_with(d, PT_SLICE_LIT("data:")))
            return BAD(path, "%s[%zu].file.file_data: only base64 data URLs are supported", path, i);
        p->media_type = media_type_of(p->name);
        p->data = d;
    }
    if (!p->data.len) return BAD(path, "%s[%zu].file.file_data: empty", path, i);
    return 0;
}

static int user_parts(pt_pivot_req *r, const pt_jv *content, const char *path, pt_msg *m, pt_ai_error *err)
{
    size_t cap = 0;
    if (pt_jv_is_string(content)) return text_parts(r, content, path, &m->parts, &m->nparts, &cap, err);
    if (!pt_jv_is_array(content)) return BAD(path, "%s: expected a string or an array of content parts", path);
    size_t i;
    const pt_jv *it;
    PT_JV_FOREACH(content, i, it) {
        const char *type = pt_jv_cstr(pt_jv_get(it, "type"));
        if (!pt_jv_is_object(it) || !type) return BAD(path, "%s[%zu].type: field required", path, i);
        pt_part *p = pt__parts_push(&r->arena, &m->parts, &m->nparts, &cap);
        if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
        if (strcmp(type, "text") == 0) {
            const pt_jv *t = pt_jv_get(it, "text");
            if (!pt_jv_is_string(t)) return BAD(path, "%s[%zu].text: expected a string", path, i);
            p->type = PT_PART_TEXT;
            p->text = pt_jv_str(t);
        } else if (strcmp(type, "image_url") == 0) {
            const pt_jv *iu = pt_jv_get(it, "image_url");
            const pt_jv *url = pt_jv_is_object(iu) ? pt_jv_get(iu, "url") : iu;
            if (!pt_jv_is_string(url)) return BAD(path, "%s[%zu].image_url.url: expected a string", path, i);
            p->type = PT_PART_IMAGE;
            pt_slice u = pt_jv_str(url);
            if (!pt__parse_data_url(u, &p->media_type, &p->data)) {
                if (pt_slice_starts_with(u, PT_SLICE_LIT("data:")))
                    return BAD(path, "%s[%zu].image_url.url: only base64 data URLs are supported", path, i);
                p->url = u;
            }
        } else if (strcmp(type, "file") == 0) {
            if (file_part(it, path, i, p, err)) return -1;
        } else if (strcmp(type, "input_audio") == 0) {
            const pt_jv *a = pt_jv_get(it, "input_audio");
            const pt_jv *data = pt_jv_get(a, "data");
            const char *fmt = pt_jv_cstr(pt_jv_get(a, "format"));
            if (!pt_jv_is_string(data)) return BAD(path, "%s[%zu].input_audio.data: expected a string", path, i);
            if (!pt_jv_str(data).len) return BAD(path, "%s[%zu].input_audio.data: empty", path, i);
            if (!fmt || (strcmp(fmt, "wav") != 0 && strcmp(fmt, "mp3") != 0))
                return BAD(path, "%s[%zu].input_audio.format: expected \"wav\" or \"mp3\"", path, i);
            p->type = PT_PART_FILE;
            p->media_type = strcmp(fmt, "wav") == 0 ? PT_SLICE_LIT("audio/wav") : PT_SLICE_LIT("audio/mpeg");
            p->data = pt_jv_str(data);
        } else {
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                                   "%s[%zu].type: content parts of type '%s' cannot be translated to this provider",
                                   path, i, type);
        }
    }
    return 0;
}

static int assistant_msg(pt_pivot_req *r, const pt_jv *m, const char *path, pt_msg *out, pt_ai_error *err)
{
    size_t cap = 0;
    const pt_jv *content = pt_jv_get(m, "content");
    char sub[128];
    pt_str_join(sub, sizeof sub, path, ".content");
    if (content && !pt_jv_is_null(content)) {
        if (pt_jv_is_string(content)) {
            if (pt_jv_str(content).len > 0 &&
                text_parts(r, content, sub, &out->parts, &out->nparts, &cap, err))
                return -1;
        } else if (pt_jv_is_array(content)) {
            size_t i;
            const pt_jv *it;
            PT_JV_FOREACH(content, i, it) {
                const char *type = pt_jv_cstr(pt_jv_get(it, "type"));
                const pt_jv *t = pt_jv_get(it, type && strcmp(type, "refusal") == 0 ? "refusal" : "text");
                if (!type || (strcmp(type, "text") != 0 && strcmp(type, "refusal") != 0) || !pt_jv_is_string(t))
                    return BAD(sub, "%s[%zu]: expected a text or refusal part", sub, i);
                pt_part *p = pt__parts_push(&r->arena, &out->parts, &out->nparts, &cap);
                if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
                p->type = PT_PART_TEXT;
                p->text = pt_jv_str(t);
            }
        } else {
            return BAD(sub, "%s: expected a string, an array or null", sub);
        }
    }
    const pt_jv *calls = pt_jv_get(m, "tool_calls");
    if (calls && !pt_jv_is_null(calls)) {
        pt_str_join(sub, sizeof sub, path, ".tool_calls");
        if (!pt_jv_is_array(calls)) return BAD(sub, "%s: expected an array", sub);
        size_t i;
        const pt_jv *tc;
        PT_JV_FOREACH(calls, i, tc) {
            const pt_jv *fn = pt_jv_get(tc, "function");
            const pt_jv *id = pt_jv_get(tc, "id");
            const pt_jv *name = pt_jv_get(fn, "name");
            const pt_jv *args = pt_jv_get(fn, "arguments");
            if (!pt_jv_is_object(tc) || !pt_jv_is_string(id))
                return BAD(sub, "%s[%zu].id: expected a string", sub, i);
            if (!pt_jv_is_object(fn) || !pt_jv_is_string(name))
                return BAD(sub, "%s[%zu].function.name: expected a string", sub, i);
            if (args && !pt_jv_is_string(args) && !pt_jv_is_null(args))
                return BAD(sub, "%s[%zu].function.arguments: expected a string", sub, i);
            pt_part *p = pt__parts_push(&r->arena, &out->parts, &out->nparts, &cap);
            if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
            p->type = PT_PART_TOOL_USE;
            p->id = pt_jv_str(id);
            p->name = pt_jv_str(name);
            /* Gemini's own OpenAI-compatible API gives signatures back in this field */
            p->signature = pt_jv_str(pt_jv_get(pt_jv_get(pt_jv_get(tc, "extra_content"), "google"), "thought_signature"));
            p->arguments = pt_jv_is_string(args) ? pt_jv_str(args) : PT_SLICE_LIT("{}");
        }
    }
    return 0;
}

static int tool_msg(pt_pivot_req *r, const pt_jv *m, const char *path, pt_msg *out, pt_ai_error *err)
{
    const pt_jv *id = pt_jv_get(m, "tool_call_id");
    char sub[128];
    pt_str_join(sub, sizeof sub, path, ".tool_call_id");
    if (!pt_jv_is_string(id)) return BAD(sub, "%s: expected a string", sub);
    size_t cap = 0, rcap = 0;
    pt_part *p = pt__parts_push(&r->arena, &out->parts, &out->nparts, &cap);
    if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
    p->type = PT_PART_TOOL_RESULT;
    p->tool_use_id = pt_jv_str(id);
    const pt_jv *content = pt_jv_get(m, "content");
    pt_str_join(sub, sizeof sub, path, ".content");
    if (!content || pt_jv_is_null(content)) return 0;
    return text_parts(r, content, sub, &p->content, &p->ncontent, &rcap, err);
}

static int parse_messages(pt_pivot_req *r, const pt_jv *msgs, pt_ai_error *err)
{
    size_t mcap = 0, scap = 0;
    size_t i;
    const pt_jv *m;
    PT_JV_FOREACH(msgs, i, m) {
        char path[64];
        pt_str_index(path, sizeof path, "messages", "", i);
        if (!pt_jv_is_object(m)) return BAD(path, "%s: expected an object", path);
        const char *role = pt_jv_cstr(pt_jv_get(m, "role"));
        if (!role) return BAD(path, "%s.role: field required", path);
        const pt_jv *content = pt_jv_get(m, "content");
        char sub[96];
        pt_str_join(sub, sizeof sub, path, ".content");
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
            pt_str_join(rp, sizeof rp, path, ".role");
            return BAD(rp, "%s: unknown role '%s' (expected system, developer, user, assistant or tool)", rp, role);
        }
    }
    return 0;
}

int pt__parse_tools(pt_pivot_req *r, const pt_jv *tools, bool flat, pt_ai_error *err)
{
    if (!tools || pt_jv_is_null(tools)) return 0;
    if (!pt_jv_is_array(tools)) return BAD("tools", "tools: expected an array");
    r->ntools = pt_jv_len(tools);
    if (!r->ntools) return 0;
    r->tools = pt_pool_alloc(&r->arena, r->ntools * sizeof *r->tools);
    if (!r->tools) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large");
    const char *in = flat ? "" : ".function";
    size_t i;
    const pt_jv *t;
    PT_JV_FOREACH(tools, i, t) {
        char path[48];
        pt_str_index(path, sizeof path, "tools", "", i);
        const char *type = pt_jv_cstr(pt_jv_get(t, "type"));
        if (!pt_jv_is_object(t) || !type) return BAD(path, "%s.type: field required", path);
        if (strcmp(type, "function") != 0)
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                                   flat ? "%s.type: tools of type '%s' run on OpenAI's servers, and no target of this "
                                          "model is an OpenAI provider"
                                        : "%s.type: tools of type '%s' cannot be translated to this provider",
                                   path, type);
        const pt_jv *fn = flat ? t : pt_jv_get(t, "function");
        const pt_jv *name = pt_jv_get(fn, "name");
        if (!pt_jv_is_object(fn) || !pt_jv_is_string(name)) return BAD(path, "%s%s.name: field required", path, in);
        const pt_jv *desc = pt_jv_get(fn, "description");
        const pt_jv *params = pt_jv_get(fn, "parameters");
        if (params && !pt_jv_is_object(params) && !pt_jv_is_null(params))
            return BAD(path, "%s%s.parameters: expected an object", path, in);
        r->tools[i].name = pt_jv_str(name);
        r->tools[i].description = pt_jv_str(desc);
        r->tools[i].schema = pt_jv_is_object(params) ? params->raw : PT_SLICE_NULL;
    }
    return 0;
}

int pt__parse_tool_choice(pt_pivot_req *r, const pt_jv *tc, bool flat, pt_ai_error *err)
{
    if (!tc || pt_jv_is_null(tc)) return 0;
    if (pt_jv_is_string(tc)) {
        const char *s = pt_jv_cstr(tc);
        if (strcmp(s, "auto") == 0) r->tool_choice = PT_TOOL_CHOICE_AUTO;
        else if (strcmp(s, "none") == 0) r->tool_choice = PT_TOOL_CHOICE_NONE;
        else if (strcmp(s, "required") == 0) r->tool_choice = PT_TOOL_CHOICE_ANY;
        else return BAD("tool_choice", "tool_choice: expected none, auto, required or a function");
        return 0;
    }
    const pt_jv *name = pt_jv_get(flat ? tc : pt_jv_get(tc, "function"), "name");
    if (!pt_jv_is_object(tc) || !pt_jv_is_string(name))
        return BAD("tool_choice", "tool_choice%s.name: expected a string", flat ? "" : ".function");
    r->tool_choice = PT_TOOL_CHOICE_TOOL;
    r->tool_choice_name = pt_jv_str(name);
    return 0;
}

int pt__parse_output_format(pt_pivot_req *r, const pt_jv *rf, const char *field, bool flat, pt_ai_error *err)
{
    if (!rf || pt_jv_is_null(rf)) return 0;
    const char *type = pt_jv_cstr(pt_jv_get(rf, "type"));
    if (!pt_jv_is_object(rf) || !type) return BAD(field, "%s.type: field required", field);
    if (strcmp(type, "text") == 0) {
        r->response_format = PT_RESP_FORMAT_TEXT;
    } else if (strcmp(type, "json_object") == 0) {
        r->response_format = PT_RESP_FORMAT_JSON_OBJECT;
    } else if (strcmp(type, "json_schema") == 0) {
        const pt_jv *js = flat ? rf : pt_jv_get(rf, "json_schema");
        const char *in = flat ? "" : ".json_schema";
        const pt_jv *schema = pt_jv_get(js, "schema");
        if (!pt_jv_is_object(js)) return BAD(field, "%s%s: expected an object", field, in);
        if (schema && !pt_jv_is_object(schema)) return BAD(field, "%s%s.schema: expected an object", field, in);
        r->response_format = PT_RESP_FORMAT_JSON_SCHEMA;
        r->response_schema = schema ? schema->raw : PT_SLICE_NULL;
        r->response_schema_name = pt_jv_str(pt_jv_get(js, "name"));
        const pt_jv *strict = pt_jv_get(js, "strict");
        if (pt_jv_is_bool(strict)) r->response_schema_strict = pt_jv_is_true(strict);
    } else {
        return BAD(field, "%s.type: expected text, json_object or json_schema", field);
    }
    return 0;
}

const pt_jv *pt__parse_root(pt_pivot_req *r, const char *body, size_t len, pt_ai_error *err)
{
    size_t ep;
    const pt_jv *root = pt_jdom_parse(&r->arena, body, len, &ep);
    if (!root && ep > len) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large"), NULL;
    if (!root) return BAD(NULL, "invalid JSON body: syntax error at byte %zu", ep), NULL;
    if (!pt_jv_is_object(root)) return BAD(NULL, "request body must be a JSON object"), NULL;
    const pt_jv *model = pt_jv_get(root, "model");
    if (!model) return BAD("model", "model: field required"), NULL;
    if (!pt_jv_is_string(model)) return BAD("model", "model: expected a string"), NULL;
    r->model = pt_jv_str(model);
    return root;
}

static int parse_chat(const char *body, size_t len, bool for_count, pt_pivot_req *r, pt_ai_error *err)
{
    (void)for_count;
    const pt_jv *root = pt__parse_root(r, body, len, err);
    if (!root) return -1;

    const pt_jv *msgs = pt_jv_get(root, "messages");
    if (!msgs) return BAD("messages", "messages: field required");
    if (!pt_jv_is_array(msgs)) return BAD("messages", "messages: expected an array");
    if (pt_jv_len(msgs) == 0) return BAD("messages", "messages: must not be empty");
    if (parse_messages(r, msgs, err)) return -1;

    if (pt__opt_int(root, "max_tokens", 1, &r->max_tokens, err)) return -1;
    if (pt__opt_int(root, "max_completion_tokens", 1, &r->max_tokens, err)) return -1;
    if (pt__opt_num(root, "temperature", &r->temperature, err)) return -1;
    if (pt__opt_num(root, "top_p", &r->top_p, err)) return -1;
    if (pt__opt_num(root, "presence_penalty", &r->presence_penalty, err)) return -1;
    if (pt__opt_num(root, "frequency_penalty", &r->frequency_penalty, err)) return -1;
    int64_t seed = -1;
    if (pt__opt_int(root, "seed", INT64_MIN, &seed, err)) return -1;
    r->seed = pt_jv_is_integer(pt_jv_get(root, "seed")) ? seed : -1;
    int64_t n = 1;
    if (pt__opt_int(root, "n", 1, &n, err)) return -1;
    if (n != 1) return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, "n", "n: only n=1 can be translated to this provider");
    if (pt__parse_stop(pt_jv_get(root, "stop"), "stop", r, err)) return -1;

    const pt_jv *stream = pt_jv_get(root, "stream");
    if (stream && !pt_jv_is_null(stream) && !pt_jv_is_bool(stream)) return BAD("stream", "stream: expected a boolean");
    r->stream = pt_jv_is_true(stream);
    const pt_jv *so = pt_jv_get(root, "stream_options");
    if (so && !pt_jv_is_null(so)) {
        if (!pt_jv_is_object(so)) return BAD("stream_options", "stream_options: expected an object");
        const pt_jv *iu = pt_jv_get(so, "include_usage");
        if (iu && !pt_jv_is_bool(iu))
            return BAD("stream_options", "stream_options.include_usage: expected a boolean");
        r->include_usage = pt_jv_is_true(iu);
    }

    if (pt__parse_tools(r, pt_jv_get(root, "tools"), false, err)) return -1;
    if (pt__parse_tool_choice(r, pt_jv_get(root, "tool_choice"), false, err)) return -1;
    const pt_jv *ptc = pt_jv_get(root, "parallel_tool_calls");
    if (ptc && !pt_jv_is_null(ptc)) {
        if (!pt_jv_is_bool(ptc)) return BAD("parallel_tool_calls", "parallel_tool_calls: expected a boolean");
        r->parallel_tool_calls = pt_jv_is_true(ptc);
    }
    if (pt__parse_output_format(r, pt_jv_get(root, "response_format"), "response_format", false, err)) return -1;
    const pt_jv *effort = pt_jv_get(root, "reasoning_effort");
    if (effort && !pt_jv_is_null(effort)) {
        if (!pt_jv_is_string(effort)) return BAD("reasoning_effort", "reasoning_effort: expected a string");
        r->reasoning_effort = pt_jv_str(effort);
        r->reasoning_budget = pt_pivot_effort_to_budget(r->reasoning_effort);
    }
    const pt_jv *user = pt_jv_get(root, "user");
    if (pt_jv_is_string(user)) r->user = pt_jv_str(user);
    return 0;
}

/* ---- rendering ----------------------------------------------------------------------- */

/* A signed call (Gemini) also carries its signature where Gemini's OpenAI-compatible API
 * puts it, for clients written against that API; the id carries it for the others. */
static void google_signature(pt_jw *w, pt_slice sig)
{
    if (!sig.len) return;
    pt_jw_key(w, "extra_content");
    pt_jw_obj(w);
    pt_jw_key(w, "google");
    pt_jw_obj(w);
    pt_jw_kstr(w, "thought_signature", sig);
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
}

static const char *finish_reason(pt_stop_reason s)
{
    switch (s) {
    case PT_STOP_MAX_TOKENS: return "length";
    case PT_STOP_TOOL_USE: return "tool_calls";
    case PT_STOP_CONTENT_FILTER: return "content_filter";
    default: return "stop";
    }
}

/* Written in one piece: every answer and the last chunk of every stream carry it. */
#define LIT(d, s) (memcpy(d, s, sizeof s - 1), (d) + sizeof s - 1)
static void usage_obj(pt_jw *w, const pt_usage *u)
{
    uint64_t prompt = (uint64_t)pt_usage_prompt_total(u), out = (uint64_t)pt_usage_get(u->output);
    char tmp[256], *d = tmp; /* 113 bytes of names, 5 numbers of at most 20 digits */
    d = pt_u64_to(LIT(d, "{\"prompt_tokens\":"), prompt);
    d = pt_u64_to(LIT(d, ",\"completion_tokens\":"), out);
    d = pt_u64_to(LIT(d, ",\"total_tokens\":"), prompt + out);
    d = pt_u64_to(LIT(d, ",\"prompt_tokens_details\":{\"cached_tokens\":"), (uint64_t)pt_usage_get(u->cache_read));
    d = pt_u64_to(LIT(d, "},\"completion_tokens_details\":{\"reasoning_tokens\":"), (uint64_t)pt_usage_get(u->reasoning));
    d = LIT(d, "}}");
    pt_jw_raw(w, pt_slice_from(tmp, (size_t)(d - tmp)));
}
#undef LIT

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
    if (ntext == 1) { /* the usual answer: its one text written as it is */
        for (size_t i = 0; i < r->nparts; i++)
            if (r->parts[i].type == PT_PART_TEXT) pt_jw_str(&w, r->parts[i].text);
    } else if (ntext) {
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
            google_signature(&w, p->signature);
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
    return st->tool_ordinal[index] - 1; /* 0: not a tool */
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
        st->tool_ordinal[ev->index] = k + 1;
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
        google_signature(&w, ev->text);
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
        return pt__fmt_render_error(&pt__fmt_openai, ev->error, true, out);
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

static void error_body(const pt_ai_error *e, pt_error_body *out)
{
    const char *type, *code;
    error_type(e, &type, &code);
    *out = (pt_error_body){ .status = e->status, .code = code, .type = type, .param = e->param,
                            .message = e->message };
}

const pt__fmt pt__fmt_openai = {
    .id = PT_AI_FMT_OPENAI,
    .parse_chat = parse_chat,
    .render_resp = render_resp,
    .stream_init = pt__stream_init,
    .stream_event = stream_event,
    .error_format = PT_ERRFMT_OPENAI,
    .error_body = error_body,
};

const pt__fmt *pt__fmt_get(pt_ai_format f)
{
    switch (f) {
    case PT_AI_FMT_ANTHROPIC: return &pt__fmt_anthropic;
    case PT_AI_FMT_RESPONSES: return &pt__fmt_responses;
    case PT_AI_FMT_GEMINI: return &pt__fmt_gemini;
    default: return &pt__fmt_openai;
    }
}

int pt__fmt_render_error(const pt__fmt *f, const pt_ai_error *e, bool event, pt_buf *out)
{
    pt_error_body b;
    f->error_body(e, &b);
    return event ? pt_error_body_render_event(out, f->error_format, &b) : pt_error_body_render(out, f->error_format, &b);
}
