/* fmt_anthropic.c: the Anthropic Messages client format: request parsing into the pivot
 * (messages and count_tokens), response / stream event / error rendering. */
#include <stdio.h>
#include <string.h>

#include "ai/fmt.h"
#include "core/err.h"
#include "core/error_body.h"
#include "core/json_scan.h"
#include "core/json_write.h"
#include "core/str.h"

#define BAD(field, ...) pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, __VA_ARGS__)
#define TOO_BIG() pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large")

/* ---- request parsing ----------------------------------------------------------------- */

static int image_block(const pt_jv *b, const char *path, pt_part *p, pt_ai_error *err)
{
    const pt_jv *src = pt_jv_get(b, "source");
    const char *type = pt_jv_cstr(pt_jv_get(src, "type"));
    if (!pt_jv_is_object(src) || !type) return BAD(path, "%s.source.type: field required", path);
    p->type = PT_PART_IMAGE;
    if (strcmp(type, "base64") == 0) {
        const pt_jv *mt = pt_jv_get(src, "media_type");
        const pt_jv *data = pt_jv_get(src, "data");
        if (!pt_jv_is_string(mt)) return BAD(path, "%s.source.media_type: expected a string", path);
        if (!pt_jv_is_string(data)) return BAD(path, "%s.source.data: expected a string", path);
        p->media_type = pt_jv_str(mt);
        p->data = pt_jv_str(data);
    } else if (strcmp(type, "url") == 0) {
        const pt_jv *url = pt_jv_get(src, "url");
        if (!pt_jv_is_string(url)) return BAD(path, "%s.source.url: expected a string", path);
        p->url = pt_jv_str(url);
    } else {
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                               "%s.source.type: image sources of type '%s' cannot be translated", path, type);
    }
    return 0;
}

/* A document: source base64 (a PDF), url (a PDF) or text (plain text); title names it. */
static int document_block(const pt_jv *b, const char *path, pt_part *p, pt_ai_error *err)
{
    const pt_jv *src = pt_jv_get(b, "source");
    const char *type = pt_jv_cstr(pt_jv_get(src, "type"));
    const pt_jv *title = pt_jv_get(b, "title");
    if (!pt_jv_is_object(src) || !type) return BAD(path, "%s.source.type: field required", path);
    if (title && !pt_jv_is_null(title) && !pt_jv_is_string(title)) return BAD(path, "%s.title: expected a string", path);
    p->type = PT_PART_FILE;
    p->name = pt_jv_str(title);
    const pt_jv *mt = pt_jv_get(src, "media_type");
    const pt_jv *data = pt_jv_get(src, "data");
    if (strcmp(type, "base64") == 0 || strcmp(type, "text") == 0) {
        if (!pt_jv_is_string(mt)) return BAD(path, "%s.source.media_type: expected a string", path);
        if (!pt_jv_is_string(data)) return BAD(path, "%s.source.data: expected a string", path);
        p->media_type = pt_jv_str(mt);
        if (strcmp(type, "text") == 0) {
            p->text = pt_jv_str(data);
            if (!p->text.len) return BAD(path, "%s.source.data: empty", path);
        } else {
            p->data = pt_jv_str(data);
            if (!p->data.len) return BAD(path, "%s.source.data: empty", path);
        }
    } else if (strcmp(type, "url") == 0) {
        const pt_jv *url = pt_jv_get(src, "url");
        if (!pt_jv_is_string(url)) return BAD(path, "%s.source.url: expected a string", path);
        p->url = pt_jv_str(url);
        p->media_type = PT_SLICE_LIT("application/pdf");
    } else {
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                               "%s.source.type: document sources of type '%s' cannot be translated", path, type);
    }
    return 0;
}

/* tool_result content: a string or an array of text / image blocks */
static int result_content(pt_pivot_req *r, const pt_jv *c, const char *path, pt_part *res, pt_ai_error *err)
{
    size_t cap = 0;
    if (!c || pt_jv_is_null(c)) return 0;
    if (pt_jv_is_string(c)) {
        pt_part *p = pt__parts_push(&r->arena, &res->content, &res->ncontent, &cap);
        if (!p) return TOO_BIG();
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(c);
        return 0;
    }
    if (!pt_jv_is_array(c)) return BAD(path, "%s.content: expected a string or an array", path);
    size_t i;
    const pt_jv *b;
    PT_JV_FOREACH(c, i, b) {
        char sub[128];
        pt_str_index(sub, sizeof sub, path, ".content", i);
        const char *type = pt_jv_cstr(pt_jv_get(b, "type"));
        if (!pt_jv_is_object(b) || !type) return BAD(sub, "%s.type: field required", sub);
        pt_part *p = pt__parts_push(&r->arena, &res->content, &res->ncontent, &cap);
        if (!p) return TOO_BIG();
        if (strcmp(type, "text") == 0) {
            const pt_jv *t = pt_jv_get(b, "text");
            if (!pt_jv_is_string(t)) return BAD(sub, "%s.text: expected a string", sub);
            p->type = PT_PART_TEXT;
            p->text = pt_jv_str(t);
        } else if (strcmp(type, "image") == 0) {
            if (image_block(b, sub, p, err)) return -1;
        } else {
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, sub,
                                   "%s.type: '%s' blocks in tool results cannot be translated", sub, type);
        }
    }
    return 0;
}

static int block(pt_pivot_req *r, const pt_jv *b, const char *path, pt_role role, pt_part *p, pt_ai_error *err)
{
    const char *type = pt_jv_cstr(pt_jv_get(b, "type"));
    if (!pt_jv_is_object(b) || !type) return BAD(path, "%s.type: field required", path);
    if (strcmp(type, "text") == 0) {
        const pt_jv *t = pt_jv_get(b, "text");
        if (!pt_jv_is_string(t)) return BAD(path, "%s.text: expected a string", path);
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(t);
    } else if (strcmp(type, "image") == 0) {
        return image_block(b, path, p, err);
    } else if (strcmp(type, "document") == 0) {
        return document_block(b, path, p, err);
    } else if (strcmp(type, "tool_use") == 0) {
        const pt_jv *id = pt_jv_get(b, "id");
        const pt_jv *name = pt_jv_get(b, "name");
        const pt_jv *input = pt_jv_get(b, "input");
        if (role != PT_ROLE_ASSISTANT) return BAD(path, "%s: tool_use blocks belong in assistant turns", path);
        if (!pt_jv_is_string(id)) return BAD(path, "%s.id: expected a string", path);
        if (!pt_jv_is_string(name)) return BAD(path, "%s.name: expected a string", path);
        if (input && !pt_jv_is_object(input)) return BAD(path, "%s.input: expected an object", path);
        p->type = PT_PART_TOOL_USE;
        p->id = pt_jv_str(id);
        p->name = pt_jv_str(name);
        p->arguments = input ? input->raw : PT_SLICE_LIT("{}");
    } else if (strcmp(type, "tool_result") == 0) {
        const pt_jv *id = pt_jv_get(b, "tool_use_id");
        if (role != PT_ROLE_USER) return BAD(path, "%s: tool_result blocks belong in user turns", path);
        if (!pt_jv_is_string(id)) return BAD(path, "%s.tool_use_id: expected a string", path);
        p->type = PT_PART_TOOL_RESULT;
        p->tool_use_id = pt_jv_str(id);
        const pt_jv *ie = pt_jv_get(b, "is_error");
        if (ie && !pt_jv_is_bool(ie)) return BAD(path, "%s.is_error: expected a boolean", path);
        p->is_error = pt_jv_is_true(ie);
        return result_content(r, pt_jv_get(b, "content"), path, p, err);
    } else if (strcmp(type, "thinking") == 0) {
        const pt_jv *t = pt_jv_get(b, "thinking");
        const pt_jv *sig = pt_jv_get(b, "signature");
        if (!pt_jv_is_string(t)) return BAD(path, "%s.thinking: expected a string", path);
        p->type = PT_PART_THINKING;
        p->text = pt_jv_str(t);
        p->signature = pt_jv_str(sig);
    } else if (strcmp(type, "redacted_thinking") == 0) {
        const pt_jv *d = pt_jv_get(b, "data");
        if (!pt_jv_is_string(d)) return BAD(path, "%s.data: expected a string", path);
        p->type = PT_PART_REDACTED_THINKING;
        p->text = pt_jv_str(d);
    } else {
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                               "%s.type: '%s' blocks cannot be translated to this provider", path, type);
    }
    return 0;
}

static int parse_messages(pt_pivot_req *r, const pt_jv *msgs, pt_ai_error *err)
{
    size_t mcap = 0;
    size_t i;
    const pt_jv *m;
    PT_JV_FOREACH(msgs, i, m) {
        char path[64];
        pt_str_index(path, sizeof path, "messages", "", i);
        if (!pt_jv_is_object(m)) return BAD(path, "%s: expected an object", path);
        const char *role = pt_jv_cstr(pt_jv_get(m, "role"));
        if (!role) return BAD(path, "%s.role: field required", path);
        pt_msg *out = pt__msgs_push(&r->arena, &r->msgs, &r->nmsgs, &mcap);
        if (!out) return TOO_BIG();
        if (strcmp(role, "user") == 0) out->role = PT_ROLE_USER;
        else if (strcmp(role, "assistant") == 0) out->role = PT_ROLE_ASSISTANT;
        else return BAD(path, "%s.role: expected user or assistant", path);
        const pt_jv *content = pt_jv_get(m, "content");
        size_t pcap = 0;
        if (!content) return BAD(path, "%s.content: field required", path);
        if (pt_jv_is_string(content)) {
            pt_part *p = pt__parts_push(&r->arena, &out->parts, &out->nparts, &pcap);
            if (!p) return TOO_BIG();
            p->type = PT_PART_TEXT;
            p->text = pt_jv_str(content);
            continue;
        }
        if (!pt_jv_is_array(content)) return BAD(path, "%s.content: expected a string or an array of blocks", path);
        size_t j;
        const pt_jv *b;
        PT_JV_FOREACH(content, j, b) {
            char sub[96];
            pt_str_index(sub, sizeof sub, path, ".content", j);
            pt_part *p = pt__parts_push(&r->arena, &out->parts, &out->nparts, &pcap);
            if (!p) return TOO_BIG();
            if (block(r, b, sub, out->role, p, err)) return -1;
        }
    }
    return 0;
}

static int parse_system(pt_pivot_req *r, const pt_jv *sys, pt_ai_error *err)
{
    size_t cap = 0;
    if (!sys || pt_jv_is_null(sys)) return 0;
    if (pt_jv_is_string(sys)) {
        pt_part *p = pt__parts_push(&r->arena, &r->system, &r->nsystem, &cap);
        if (!p) return TOO_BIG();
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(sys);
        return 0;
    }
    if (!pt_jv_is_array(sys)) return BAD("system", "system: expected a string or an array of text blocks");
    size_t i;
    const pt_jv *b;
    PT_JV_FOREACH(sys, i, b) {
        const char *type = pt_jv_cstr(pt_jv_get(b, "type"));
        const pt_jv *t = pt_jv_get(b, "text");
        if (!type || strcmp(type, "text") != 0 || !pt_jv_is_string(t))
            return BAD("system", "system[%zu]: expected {\"type\":\"text\",\"text\":...}", i);
        pt_part *p = pt__parts_push(&r->arena, &r->system, &r->nsystem, &cap);
        if (!p) return TOO_BIG();
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(t);
    }
    return 0;
}

static int parse_tools(pt_pivot_req *r, const pt_jv *tools, pt_ai_error *err)
{
    if (!tools || pt_jv_is_null(tools)) return 0;
    if (!pt_jv_is_array(tools)) return BAD("tools", "tools: expected an array");
    r->ntools = pt_jv_len(tools);
    if (!r->ntools) return 0;
    r->tools = pt_pool_alloc(&r->arena, r->ntools * sizeof *r->tools);
    if (!r->tools) return TOO_BIG();
    size_t i;
    const pt_jv *t;
    PT_JV_FOREACH(tools, i, t) {
        char path[48];
        pt_str_index(path, sizeof path, "tools", "", i);
        if (!pt_jv_is_object(t)) return BAD(path, "%s: expected an object", path);
        const char *type = pt_jv_cstr(pt_jv_get(t, "type"));
        if (type && strcmp(type, "custom") != 0)
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                                   "%s.type: server tools ('%s') only work with Anthropic providers", path, type);
        const pt_jv *name = pt_jv_get(t, "name");
        const pt_jv *schema = pt_jv_get(t, "input_schema");
        if (!pt_jv_is_string(name)) return BAD(path, "%s.name: field required", path);
        if (!pt_jv_is_object(schema)) return BAD(path, "%s.input_schema: field required", path);
        r->tools[i].name = pt_jv_str(name);
        r->tools[i].description = pt_jv_str(pt_jv_get(t, "description"));
        r->tools[i].schema = schema->raw;
    }
    return 0;
}

static int parse_tool_choice(pt_pivot_req *r, const pt_jv *tc, pt_ai_error *err)
{
    if (!tc || pt_jv_is_null(tc)) return 0;
    const char *type = pt_jv_cstr(pt_jv_get(tc, "type"));
    if (!pt_jv_is_object(tc) || !type) return BAD("tool_choice", "tool_choice.type: field required");
    if (strcmp(type, "auto") == 0) r->tool_choice = PT_TOOL_CHOICE_AUTO;
    else if (strcmp(type, "any") == 0) r->tool_choice = PT_TOOL_CHOICE_ANY;
    else if (strcmp(type, "none") == 0) r->tool_choice = PT_TOOL_CHOICE_NONE;
    else if (strcmp(type, "tool") == 0) {
        const pt_jv *name = pt_jv_get(tc, "name");
        if (!pt_jv_is_string(name)) return BAD("tool_choice", "tool_choice.name: expected a string");
        r->tool_choice = PT_TOOL_CHOICE_TOOL;
        r->tool_choice_name = pt_jv_str(name);
    } else {
        return BAD("tool_choice", "tool_choice.type: expected auto, any, tool or none");
    }
    const pt_jv *dp = pt_jv_get(tc, "disable_parallel_tool_use");
    if (pt_jv_is_bool(dp)) r->parallel_tool_calls = !pt_jv_is_true(dp);
    return 0;
}

static int parse_chat(const char *body, size_t len, bool for_count, pt_pivot_req *r, pt_ai_error *err)
{
    const pt_jv *root = pt__parse_root(r, body, len, err);
    if (!root) return -1;

    const pt_jv *mt = pt_jv_get(root, "max_tokens");
    if (!for_count) {
        if (!mt) return BAD("max_tokens", "max_tokens: field required");
        if (!pt_jv_is_integer(mt)) return BAD("max_tokens", "max_tokens: expected an integer");
        if (pt_jv_int(mt) < 1) return BAD("max_tokens", "max_tokens: must be at least 1");
        r->max_tokens = pt_jv_int(mt);
    }

    const pt_jv *msgs = pt_jv_get(root, "messages");
    if (!msgs) return BAD("messages", "messages: field required");
    if (!pt_jv_is_array(msgs)) return BAD("messages", "messages: expected an array");
    if (pt_jv_len(msgs) == 0) return BAD("messages", "messages: at least one message is required");
    if (parse_system(r, pt_jv_get(root, "system"), err)) return -1;
    if (parse_messages(r, msgs, err)) return -1;

    const pt_jv *v;
    if ((v = pt_jv_get(root, "temperature")) && !pt_jv_is_null(v)) {
        if (!pt_jv_is_number(v)) return BAD("temperature", "temperature: expected a number");
        r->temperature = pt_jv_num(v);
    }
    if ((v = pt_jv_get(root, "top_p")) && !pt_jv_is_null(v)) {
        if (!pt_jv_is_number(v)) return BAD("top_p", "top_p: expected a number");
        r->top_p = pt_jv_num(v);
    }
    if ((v = pt_jv_get(root, "top_k")) && !pt_jv_is_null(v)) {
        if (!pt_jv_is_integer(v)) return BAD("top_k", "top_k: expected an integer");
        r->top_k = pt_jv_int(v);
    }
    if (pt__parse_stop(pt_jv_get(root, "stop_sequences"), "stop_sequences", r, err)) return -1;
    if ((v = pt_jv_get(root, "stream")) && !pt_jv_is_null(v)) {
        if (!pt_jv_is_bool(v)) return BAD("stream", "stream: expected a boolean");
        r->stream = pt_jv_is_true(v);
    }
    /* An Anthropic stream always carries usage */
    r->include_usage = true;
    if (parse_tools(r, pt_jv_get(root, "tools"), err)) return -1;
    if (parse_tool_choice(r, pt_jv_get(root, "tool_choice"), err)) return -1;
    if ((v = pt_jv_get(root, "thinking")) && !pt_jv_is_null(v)) {
        const char *type = pt_jv_cstr(pt_jv_get(v, "type"));
        if (!pt_jv_is_object(v) || !type) return BAD("thinking", "thinking.type: field required");
        if (strcmp(type, "enabled") == 0) {
            const pt_jv *bt = pt_jv_get(v, "budget_tokens");
            if (!pt_jv_is_integer(bt) || pt_jv_int(bt) < 1)
                return BAD("thinking", "thinking.budget_tokens: expected a positive integer");
            r->reasoning_budget = pt_jv_int(bt);
        } else if (strcmp(type, "disabled") == 0) {
            r->reasoning_budget = 0;
        } else {
            return BAD("thinking", "thinking.type: expected enabled or disabled");
        }
    }
    const pt_jv *uid = pt_jv_get(pt_jv_get(root, "metadata"), "user_id");
    if (pt_jv_is_string(uid)) r->user = pt_jv_str(uid);
    return 0;
}

/* ---- rendering ----------------------------------------------------------------------- */

static const char *stop_reason(pt_stop_reason s)
{
    switch (s) {
    case PT_STOP_MAX_TOKENS: return "max_tokens";
    case PT_STOP_STOP_SEQUENCE: return "stop_sequence";
    case PT_STOP_TOOL_USE: return "tool_use";
    case PT_STOP_CONTENT_FILTER: return "refusal";
    default: return "end_turn";
    }
}

/* Input usage the provider has not reported yet is the local estimate, so a client that
 * reads it from message_start (as LangChain does) never sees 0; the provider's figure
 * replaces it in message_delta as soon as it is known. */
static void usage_obj(pt_jw *w, const pt_usage *u, int64_t input_estimate)
{
    pt_jw_obj(w);
    pt_jw_kint(w, "input_tokens", u->input < 0 && input_estimate > 0 ? input_estimate : pt_usage_get(u->input));
    pt_jw_kint(w, "cache_creation_input_tokens", pt_usage_get(u->cache_write));
    pt_jw_kint(w, "cache_read_input_tokens", pt_usage_get(u->cache_read));
    pt_jw_kint(w, "output_tokens", pt_usage_get(u->output));
    pt_jw_obj_end(w);
}

/* The tool input as an object: the arguments text when it is one, {} otherwise. */
static void tool_input(pt_jw *w, pt_slice args)
{
    size_t open, close, nf;
    if (args.len && pt_jscan_object(args.ptr, args.len, 0, NULL, 0, &nf, &open, &close) == 0) {
        size_t end = close + 1;
        while (end < args.len && strchr(" \t\r\n", args.ptr[end])) end++;
        if (end == args.len) {
            pt_jw_raw(w, pt_slice_from(args.ptr + open, close + 1 - open));
            return;
        }
    }
    pt_jw_raw(w, PT_SLICE_LIT("{}"));
}

static void write_id(pt_jw *w, pt_slice id, const char *request_id)
{
    if (id.len) {
        pt_jw_str(w, id);
        return;
    }
    char tmp[128];
    snprintf(tmp, sizeof tmp, "msg_%s", request_id && *request_id ? request_id : "0");
    pt_jw_cstr(w, tmp);
}

static int render_resp(const pt_pivot_resp *r, const pt__render_ctx *ctx, pt_buf *out)
{
    pt_jw w;
    pt_jw_init(&w, out);
    pt_jw_obj(&w);
    pt_jw_key(&w, "id");
    write_id(&w, r->id, ctx->request_id);
    pt_jw_kcstr(&w, "type", "message");
    pt_jw_kcstr(&w, "role", "assistant");
    pt_jw_kstr(&w, "model", r->model.len ? r->model : ctx->model);
    pt_jw_key(&w, "content");
    pt_jw_arr(&w);
    for (size_t i = 0; i < r->nparts; i++) {
        const pt_part *p = &r->parts[i];
        switch (p->type) {
        case PT_PART_TEXT:
            pt_jw_obj(&w);
            pt_jw_kcstr(&w, "type", "text");
            pt_jw_kstr(&w, "text", p->text);
            pt_jw_obj_end(&w);
            break;
        case PT_PART_TOOL_USE:
            pt_jw_obj(&w);
            pt_jw_kcstr(&w, "type", "tool_use");
            pt_jw_kstr(&w, "id", p->id);
            pt_jw_kstr(&w, "name", p->name);
            pt_jw_key(&w, "input");
            tool_input(&w, p->arguments);
            pt_jw_obj_end(&w);
            break;
        case PT_PART_THINKING:
            pt_jw_obj(&w);
            pt_jw_kcstr(&w, "type", "thinking");
            pt_jw_kstr(&w, "thinking", p->text);
            pt_jw_kstr(&w, "signature", p->signature);
            pt_jw_obj_end(&w);
            break;
        case PT_PART_REDACTED_THINKING:
            pt_jw_obj(&w);
            pt_jw_kcstr(&w, "type", "redacted_thinking");
            pt_jw_kstr(&w, "data", p->text);
            pt_jw_obj_end(&w);
            break;
        default: break;
        }
    }
    pt_jw_arr_end(&w);
    pt_jw_kcstr(&w, "stop_reason", stop_reason(r->stop));
    pt_jw_key(&w, "stop_sequence");
    if (r->stop == PT_STOP_STOP_SEQUENCE && r->stop_sequence.len) pt_jw_str(&w, r->stop_sequence);
    else pt_jw_null(&w);
    pt_jw_key(&w, "usage");
    usage_obj(&w, &r->usage, -1);
    pt_jw_obj_end(&w);
    return w.err;
}

/* ---- stream rendering ---------------------------------------------------------------- */

void pt__stream_init(pt__fmt_stream *st, const pt__render_ctx *ctx)
{
    memset(st, 0, sizeof *st);
    st->ctx = *ctx;
    st->open_index = -1;
    st->usage = PT_USAGE_UNKNOWN;
    st->created = ctx->now_unix;
}

/* `event: NAME\ndata: ` then the caller writes the JSON and calls ev_end. */
static void ev_open(pt_jw *w, pt_buf *out, const char *name)
{
    pt_jw_init(w, out);
    if (pt_buf_printf(out, "event: %s\ndata: ", name)) w->err = PT_ETOOBIG;
}

static int ev_end(pt_jw *w, pt_buf *out)
{
    if (w->err) return w->err;
    return pt_buf_append(out, "\n\n", 2);
}

static int block_stop(pt__fmt_stream *st, int index, pt_buf *out)
{
    pt_jw w;
    ev_open(&w, out, "content_block_stop");
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "type", "content_block_stop");
    pt_jw_kint(&w, "index", index);
    pt_jw_obj_end(&w);
    if (st->open_index == index) st->open_index = -1;
    return ev_end(&w, out);
}

static int delta(const pt_ev *ev, const char *dtype, const char *field, pt_buf *out)
{
    pt_jw w;
    ev_open(&w, out, "content_block_delta");
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "type", "content_block_delta");
    pt_jw_kint(&w, "index", ev->index);
    pt_jw_key(&w, "delta");
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "type", dtype);
    pt_jw_kstr(&w, field, ev->text);
    pt_jw_obj_end(&w);
    pt_jw_obj_end(&w);
    return ev_end(&w, out);
}

static int stream_event(pt__fmt_stream *st, const pt_ev *ev, pt_buf *out)
{
    pt_jw w;
    switch (ev->type) {
    case PT_EV_MESSAGE_START:
        st->started = true;
        pt_usage_merge(&st->usage, &ev->usage);
        ev_open(&w, out, "message_start");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "type", "message_start");
        pt_jw_key(&w, "message");
        pt_jw_obj(&w);
        pt_jw_key(&w, "id");
        write_id(&w, ev->id, st->ctx.request_id);
        pt_jw_kcstr(&w, "type", "message");
        pt_jw_kcstr(&w, "role", "assistant");
        pt_jw_kstr(&w, "model", ev->model.len ? ev->model : st->ctx.model);
        pt_jw_key(&w, "content");
        pt_jw_arr(&w);
        pt_jw_arr_end(&w);
        pt_jw_knull(&w, "stop_reason");
        pt_jw_knull(&w, "stop_sequence");
        pt_jw_key(&w, "usage");
        usage_obj(&w, &st->usage, st->ctx.input_estimate);
        pt_jw_obj_end(&w);
        pt_jw_obj_end(&w);
        return ev_end(&w, out);
    case PT_EV_BLOCK_START: {
        if (st->open_index >= 0 && st->open_index != ev->index) {
            int rc = block_stop(st, st->open_index, out);
            if (rc) return rc;
        }
        st->open_index = ev->index;
        ev_open(&w, out, "content_block_start");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "type", "content_block_start");
        pt_jw_kint(&w, "index", ev->index);
        pt_jw_key(&w, "content_block");
        pt_jw_obj(&w);
        switch (ev->block) {
        case PT_PART_TOOL_USE:
            pt_jw_kcstr(&w, "type", "tool_use");
            pt_jw_kstr(&w, "id", ev->id);
            pt_jw_kstr(&w, "name", ev->name);
            pt_jw_key(&w, "input");
            pt_jw_obj(&w);
            pt_jw_obj_end(&w);
            break;
        case PT_PART_THINKING:
            pt_jw_kcstr(&w, "type", "thinking");
            pt_jw_kcstr(&w, "thinking", "");
            pt_jw_kcstr(&w, "signature", "");
            break;
        case PT_PART_REDACTED_THINKING:
            pt_jw_kcstr(&w, "type", "redacted_thinking");
            pt_jw_kstr(&w, "data", ev->text);
            break;
        default:
            pt_jw_kcstr(&w, "type", "text");
            pt_jw_kcstr(&w, "text", "");
            break;
        }
        pt_jw_obj_end(&w);
        pt_jw_obj_end(&w);
        return ev_end(&w, out);
    }
    case PT_EV_TEXT_DELTA: return ev->text.len ? delta(ev, "text_delta", "text", out) : 0;
    case PT_EV_TOOL_ARGS_DELTA: return ev->text.len ? delta(ev, "input_json_delta", "partial_json", out) : 0;
    case PT_EV_THINKING_DELTA: return ev->text.len ? delta(ev, "thinking_delta", "thinking", out) : 0;
    case PT_EV_SIGNATURE_DELTA: return ev->text.len ? delta(ev, "signature_delta", "signature", out) : 0;
    case PT_EV_BLOCK_STOP: return block_stop(st, ev->index, out);
    case PT_EV_MESSAGE_DELTA:
        pt_usage_merge(&st->usage, &ev->usage);
        if (st->open_index >= 0) {
            int rc = block_stop(st, st->open_index, out);
            if (rc) return rc;
        }
        ev_open(&w, out, "message_delta");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "type", "message_delta");
        pt_jw_key(&w, "delta");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "stop_reason", stop_reason(ev->stop));
        pt_jw_key(&w, "stop_sequence");
        if (ev->stop == PT_STOP_STOP_SEQUENCE && ev->stop_sequence.len) pt_jw_str(&w, ev->stop_sequence);
        else pt_jw_null(&w);
        pt_jw_obj_end(&w);
        pt_jw_key(&w, "usage");
        usage_obj(&w, &st->usage, st->ctx.input_estimate);
        pt_jw_obj_end(&w);
        return ev_end(&w, out);
    case PT_EV_MESSAGE_STOP:
        ev_open(&w, out, "message_stop");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "type", "message_stop");
        pt_jw_obj_end(&w);
        return ev_end(&w, out);
    case PT_EV_ERROR:
        return pt__fmt_render_error(&pt__fmt_anthropic, ev->error, true, out);
    }
    return 0;
}

/* ---- errors -------------------------------------------------------------------------- */

/* The type follows the status (core/error_body.c). */
static void error_body(const pt_ai_error *e, pt_error_body *out)
{
    *out = (pt_error_body){ .status = e->status, .message = e->message };
}

const pt__fmt pt__fmt_anthropic = {
    .id = PT_AI_FMT_ANTHROPIC,
    .parse_chat = parse_chat,
    .render_resp = render_resp,
    .stream_init = pt__stream_init,
    .stream_event = stream_event,
    .error_format = PT_ERRFMT_ANTHROPIC,
    .error_body = error_body,
};
