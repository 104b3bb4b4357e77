/* fmt_responses.c: the OpenAI Responses client format (POST /v1/responses): request
 * parsing into the pivot, whole responses, the typed stream events, and errors (OpenAI's
 * error object, which the SDK reads). Stored responses are the engine's (ai/stored.h):
 * a previous_response_id reaching this parser was not found there, so it is refused
 * (unsupported: an OpenAI target may still serve it), as are item references. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/fmt.h"
#include "core/err.h"
#include "core/json_write.h"
#include "core/str.h"

#define BAD(field, ...) pt_ai_error_set(err, PT_AI_ERR_INVALID, 0, field, __VA_ARGS__)
#define NOMEM() pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large")
#define BAD_AT(path, member, ...) pt__bad_at(err, PT_AI_ERR_INVALID, path, member, __VA_ARGS__)
#define UNSUPPORTED_AT(path, member, ...) pt__bad_at(err, PT_AI_ERR_UNSUPPORTED, path, member, __VA_ARGS__)

int pt__bad_at(pt_ai_error *err, pt_ai_err_kind kind, const char *path, const char *member, const char *fmt, ...)
{
    char field[sizeof err->param], msg[PT_AI_ERRMSG_MAX - sizeof field - 2];
    if (member) snprintf(field, sizeof field, "%s.%s", path, member);
    else pt_str_copy(field, sizeof field, path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pt_ai_error_set(err, kind, 0, field, "%s: %s", field, msg);
}

/* ---- request parsing ----------------------------------------------------------------- */

/* Parsing state: only the last turn ever grows, so one capacity serves it. */
typedef struct pctx {
    pt_pivot_req *r;
    size_t mcap, scap, pcap;
} pctx;

/* The turn the next item joins: the last one when it has the role (and, for tool results,
 * ends with one, so that results stay first in their turn), else a new one. */
static pt_msg *turn(pctx *c, pt_role role, bool for_result)
{
    pt_pivot_req *r = c->r;
    if (r->nmsgs) {
        pt_msg *last = &r->msgs[r->nmsgs - 1];
        bool fits = last->role == role &&
                    (!for_result || (last->nparts && last->parts[last->nparts - 1].type == PT_PART_TOOL_RESULT));
        if (fits) return last;
    }
    pt_msg *m = pt__msgs_push(&r->arena, &r->msgs, &r->nmsgs, &c->mcap);
    if (m) m->role = role;
    c->pcap = 0;
    return m;
}

static pt_part *part_push(pctx *c, pt_msg *m)
{
    return pt__parts_push(&c->r->arena, &m->parts, &m->nparts, &c->pcap);
}

/* input_image: {"image_url": "https://..." | "data:...;base64,..."}; file_id is refused. */
static int image_part(const pt_jv *it, const char *path, pt_part *p, pt_ai_error *err)
{
    if (pt_jv_get(it, "file_id"))
        return UNSUPPORTED_AT(path, "file_id", "an uploaded file belongs to the provider it was uploaded to; "
                                               "send image_url instead");
    const pt_jv *url = pt_jv_get(it, "image_url");
    if (!pt_jv_is_string(url)) return BAD_AT(path, "image_url", "expected a string");
    p->type = PT_PART_IMAGE;
    pt_slice u = pt_jv_str(url);
    if (!pt__parse_data_url(u, &p->media_type, &p->data)) {
        if (pt_slice_starts_with(u, PT_SLICE_LIT("data:")))
            return BAD_AT(path, "image_url", "only base64 data URLs are supported");
        p->url = u;
    }
    return 0;
}

/* input_file: {"file_data": "data:application/pdf;base64,...", "filename"} or {"file_url"}. */
static int file_part(const pt_jv *it, const char *path, pt_part *p, pt_ai_error *err)
{
    if (pt_jv_get(it, "file_id"))
        return UNSUPPORTED_AT(path, "file_id", "an uploaded file belongs to the provider it was uploaded to; "
                                               "send file_data instead");
    const pt_jv *fd = pt_jv_get(it, "file_data"), *fu = pt_jv_get(it, "file_url"), *name = pt_jv_get(it, "filename");
    if (name && !pt_jv_is_string(name)) return BAD_AT(path, "filename", "expected a string");
    p->type = PT_PART_FILE;
    p->name = pt_jv_str(name);
    if (pt_jv_is_string(fu) && !fd) {
        p->url = pt_jv_str(fu);
        p->media_type = PT_SLICE_LIT("application/pdf");
        return 0;
    }
    if (!pt_jv_is_string(fd)) return BAD_AT(path, "file_data", "expected a string");
    if (!pt__parse_data_url(pt_jv_str(fd), &p->media_type, &p->data))
        return BAD_AT(path, "file_data", "expected a base64 data URL (data:TYPE;base64,...)");
    if (!p->data.len) return BAD_AT(path, "file_data", "empty");
    return 0;
}

/* One content part of a message item. Assistant turns take output_text and refusal;
 * the others take input_text, input_image and input_file. */
static int content_part(pt_pivot_req *r, const pt_jv *it, const char *path, pt_role role, pt_part *p,
                        pt_ai_error *err)
{
    const char *type = pt_jv_cstr(pt_jv_get(it, "type"));
    if (!pt_jv_is_object(it) || !type) return BAD_AT(path, "type", "field required");
    (void)r;
    bool text = strcmp(type, "input_text") == 0 || strcmp(type, "output_text") == 0;
    if (text || strcmp(type, "refusal") == 0) {
        const pt_jv *t = pt_jv_get(it, text ? "text" : "refusal");
        if (!pt_jv_is_string(t)) return BAD_AT(path, text ? "text" : "refusal", "expected a string");
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(t);
        return 0;
    }
    if (role == PT_ROLE_USER && strcmp(type, "input_image") == 0) return image_part(it, path, p, err);
    if (role == PT_ROLE_USER && strcmp(type, "input_file") == 0) return file_part(it, path, p, err);
    return BAD_AT(path, "type", "unknown content type '%s' for this role (expected %s)", type,
               role == PT_ROLE_USER ? "input_text, input_image or input_file" : "output_text or refusal");
}

/* content: a string or an array of parts, appended to dst. */
static int content(pt_pivot_req *r, const pt_jv *c, const char *path, pt_role role, pt_part **dst, size_t *n,
                   size_t *cap, pt_ai_error *err)
{
    if (pt_jv_is_string(c)) {
        pt_part *p = pt__parts_push(&r->arena, dst, n, cap);
        if (!p) return NOMEM();
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(c);
        return 0;
    }
    if (!pt_jv_is_array(c)) return BAD_AT(path, NULL, "expected a string or an array of content parts");
    size_t i;
    const pt_jv *it;
    PT_JV_FOREACH(c, i, it) {
        char sub[96];
        pt_str_index(sub, sizeof sub, path, "", i);
        pt_part *p = pt__parts_push(&r->arena, dst, n, cap);
        if (!p) return NOMEM();
        if (content_part(r, it, sub, role, p, err)) return -1;
    }
    return 0;
}

static int message_item(pctx *x, const pt_jv *it, const char *path, pt_ai_error *err)
{
    pt_pivot_req *r = x->r;
    const char *role = pt_jv_cstr(pt_jv_get(it, "role"));
    const pt_jv *c = pt_jv_get(it, "content");
    char sub[96];
    pt_str_join(sub, sizeof sub, path, ".content");
    if (!role) return BAD_AT(path, "role", "field required");
    if (!c) return BAD_AT(sub, NULL, "field required");
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return content(r, c, sub, PT_ROLE_ASSISTANT, &r->system, &r->nsystem, &x->scap, err);
    pt_role pr;
    if (strcmp(role, "user") == 0) pr = PT_ROLE_USER;
    else if (strcmp(role, "assistant") == 0) pr = PT_ROLE_ASSISTANT;
    else return BAD_AT(path, "role", "unknown role '%s' (expected user, assistant, system or developer)", role);
    pt_msg *m = turn(x, pr, false);
    if (!m) return NOMEM();
    return content(r, c, sub, pr, &m->parts, &m->nparts, &x->pcap, err);
}

static int call_item(pctx *x, const pt_jv *it, const char *path, pt_ai_error *err)
{
    const pt_jv *id = pt_jv_get(it, "call_id"), *name = pt_jv_get(it, "name"), *args = pt_jv_get(it, "arguments");
    if (!pt_jv_is_string(id)) return BAD_AT(path, "call_id", "expected a string");
    if (!pt_jv_is_string(name)) return BAD_AT(path, "name", "expected a string");
    if (args && !pt_jv_is_string(args)) return BAD_AT(path, "arguments", "expected a string");
    pt_msg *m = turn(x, PT_ROLE_ASSISTANT, false);
    pt_part *p = m ? part_push(x, m) : NULL;
    if (!p) return NOMEM();
    p->type = PT_PART_TOOL_USE;
    p->id = pt_jv_str(id);
    p->name = pt_jv_str(name);
    p->arguments = args && pt_jv_str(args).len ? pt_jv_str(args) : PT_SLICE_LIT("{}");
    return 0;
}

static int output_item(pctx *x, const pt_jv *it, const char *path, pt_ai_error *err)
{
    const pt_jv *id = pt_jv_get(it, "call_id"), *out = pt_jv_get(it, "output");
    char sub[96];
    pt_str_join(sub, sizeof sub, path, ".output");
    if (!pt_jv_is_string(id)) return BAD_AT(path, "call_id", "expected a string");
    if (!out) return BAD_AT(sub, NULL, "field required");
    pt_msg *m = turn(x, PT_ROLE_USER, true);
    pt_part *p = m ? part_push(x, m) : NULL;
    if (!p) return NOMEM();
    p->type = PT_PART_TOOL_RESULT;
    p->tool_use_id = pt_jv_str(id);
    size_t cap = 0;
    return content(x->r, out, sub, PT_ROLE_USER, &p->content, &p->ncontent, &cap, err);
}

/* A reasoning item given back: its summary as thinking, its encrypted_content as the
 * signature (where Portico puts the provider's signature on the way out). */
static int reasoning_item(pctx *x, const pt_jv *it, const char *path, pt_ai_error *err)
{
    pt_pivot_req *r = x->r;
    const pt_jv *summary = pt_jv_get(it, "summary"), *enc = pt_jv_get(it, "encrypted_content");
    if (summary && !pt_jv_is_array(summary)) return BAD_AT(path, "summary", "expected an array");
    if (enc && !pt_jv_is_null(enc) && !pt_jv_is_string(enc))
        return BAD_AT(path, "encrypted_content", "expected a string");
    pt_buf text = PT_BUF_INIT;
    size_t i;
    const pt_jv *s;
    int rc = 0;
    PT_JV_FOREACH(summary, i, s) {
        const pt_jv *t = pt_jv_get(s, "text");
        if (!pt_jv_is_string(t)) {
            char sp[64];
            pt_str_index(sp, sizeof sp, path, ".summary", i);
            rc = BAD_AT(sp, "text", "expected a string");
            break;
        }
        if (i && pt_buf_append_str(&text, "\n\n")) rc = NOMEM();
        if (!rc && pt_buf_append_slice(&text, pt_jv_str(t))) rc = NOMEM();
        if (rc) break;
    }
    pt_slice kept = rc ? PT_SLICE_NULL : pt_pool_slice(&r->arena, pt_buf_slice(&text));
    pt_buf_release(&text);
    if (rc) return rc;
    if (!kept.len && !pt_jv_str(enc).len) return 0; /* an empty reasoning item says nothing */
    pt_msg *m = turn(x, PT_ROLE_ASSISTANT, false);
    pt_part *p = m ? part_push(x, m) : NULL;
    if (!p) return NOMEM();
    p->type = PT_PART_THINKING;
    p->text = kept.ptr ? kept : PT_SLICE_LIT("");
    p->signature = pt_jv_str(enc);
    return 0;
}

static int parse_input(pctx *x, const pt_jv *input, pt_ai_error *err)
{
    pt_pivot_req *r = x->r;
    if (pt_jv_is_string(input)) {
        pt_msg *m = turn(x, PT_ROLE_USER, false);
        pt_part *p = m ? part_push(x, m) : NULL;
        if (!p) return NOMEM();
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(input);
        return 0;
    }
    if (!pt_jv_is_array(input)) return BAD("input", "input: expected a string or an array of items");
    if (!pt_jv_len(input)) return BAD("input", "input: must not be empty");
    size_t i;
    const pt_jv *it;
    PT_JV_FOREACH(input, i, it) {
        char path[64];
        pt_str_index(path, sizeof path, "input", "", i);
        if (!pt_jv_is_object(it)) return BAD_AT(path, NULL, "expected an object");
        const pt_jv *tv = pt_jv_get(it, "type");
        if (tv && !pt_jv_is_string(tv)) return BAD_AT(path, "type", "expected a string");
        const char *type = tv ? pt_jv_cstr(tv) : "message";
        int rc;
        if (strcmp(type, "message") == 0) rc = message_item(x, it, path, err);
        else if (strcmp(type, "function_call") == 0) rc = call_item(x, it, path, err);
        else if (strcmp(type, "function_call_output") == 0) rc = output_item(x, it, path, err);
        else if (strcmp(type, "reasoning") == 0) rc = reasoning_item(x, it, path, err);
        else if (strcmp(type, "item_reference") == 0)
            rc = UNSUPPORTED_AT(path, NULL, "item references need the responses OpenAI stores, and no target of "
                                            "this model is an OpenAI provider; send the item itself");
        else
            rc = UNSUPPORTED_AT(path, "type", "input items of type '%s' cannot be translated (expected message, "
                                              "function_call, function_call_output or reasoning)", type);
        if (rc) return -1;
    }
    if (!r->nmsgs) return BAD("input", "input: no user or assistant content (only instructions)");
    return 0;
}

static int parse_reasoning(pt_pivot_req *r, const pt_jv *rs, pt_ai_error *err)
{
    if (!rs || pt_jv_is_null(rs)) return 0;
    if (!pt_jv_is_object(rs)) return BAD("reasoning", "reasoning: expected an object");
    const pt_jv *effort = pt_jv_get(rs, "effort");
    if (!effort || pt_jv_is_null(effort)) return 0;
    if (!pt_jv_is_string(effort)) return BAD("reasoning.effort", "reasoning.effort: expected a string");
    r->reasoning_effort = pt_jv_str(effort);
    r->reasoning_budget = pt_pivot_effort_to_budget(r->reasoning_effort);
    return 0;
}

/* Members that need state only OpenAI keeps, or work only OpenAI's servers do: unsupported
 * in translation, so a request that has them goes as it is to an OpenAI provider (ai.c). */
static int refuse_stateful(const pt_jv *root, pt_ai_error *err)
{
    const pt_jv *prev = pt_jv_get(root, "previous_response_id");
    if (prev && !pt_jv_is_null(prev))
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, "previous_response_id",
                               "previous_response_id: the conversation state is kept by OpenAI, and no target of this "
                               "model is an OpenAI provider (Portico keeps no responses); send the whole conversation "
                               "in input instead");
    const pt_jv *conv = pt_jv_get(root, "conversation");
    if (conv && !pt_jv_is_null(conv))
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, "conversation",
                               "conversation: conversations are kept by OpenAI, and no target of this model is an "
                               "OpenAI provider; send the whole conversation in input instead");
    if (pt_jv_is_true(pt_jv_get(root, "background")))
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, "background",
                               "background: responses run in the background at OpenAI, and no target of this model "
                               "is an OpenAI provider");
    const pt_jv *prompt = pt_jv_get(root, "prompt");
    if (prompt && !pt_jv_is_null(prompt))
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, "prompt",
                               "prompt: prompt templates are stored by OpenAI and cannot be translated");
    return 0;
}

static int parse_scalars(pt_pivot_req *r, const pt_jv *root, pt_ai_error *err)
{
    if (pt__opt_int(root, "max_output_tokens", 1, &r->max_tokens, err)) return -1;
    if (pt__opt_num(root, "temperature", &r->temperature, err)) return -1;
    if (pt__opt_num(root, "top_p", &r->top_p, err)) return -1;
    const pt_jv *ptc = pt_jv_get(root, "parallel_tool_calls");
    if (ptc && !pt_jv_is_null(ptc)) {
        if (!pt_jv_is_bool(ptc)) return BAD("parallel_tool_calls", "parallel_tool_calls: expected a boolean");
        r->parallel_tool_calls = pt_jv_is_true(ptc);
    }
    static const char *const bools[] = { "store", "stream", "background" };
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        const pt_jv *v = pt_jv_get(root, bools[i]);
        if (v && !pt_jv_is_null(v) && !pt_jv_is_bool(v)) return BAD(bools[i], "%s: expected a boolean", bools[i]);
    }
    r->stream = pt_jv_is_true(pt_jv_get(root, "stream"));
    const pt_jv *md = pt_jv_get(root, "metadata");
    if (md && !pt_jv_is_null(md) && !pt_jv_is_object(md)) return BAD("metadata", "metadata: expected an object");
    const pt_jv *user = pt_jv_get(root, "user");
    if (user && !pt_jv_is_null(user) && !pt_jv_is_string(user)) return BAD("user", "user: expected a string");
    r->user = pt_jv_str(user);
    return 0;
}

static int parse_chat(const char *body, size_t len, bool for_count, pt_pivot_req *r, pt_ai_error *err)
{
    (void)for_count;
    const pt_jv *root = pt__parse_root(r, body, len, err);
    if (!root || refuse_stateful(root, err)) return -1;

    pctx x = { .r = r };
    const pt_jv *instr = pt_jv_get(root, "instructions");
    if (instr && !pt_jv_is_null(instr)) {
        if (!pt_jv_is_string(instr)) return BAD("instructions", "instructions: expected a string");
        pt_part *p = pt__parts_push(&r->arena, &r->system, &r->nsystem, &x.scap);
        if (!p) return NOMEM();
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(instr);
    }
    const pt_jv *input = pt_jv_get(root, "input");
    if (!input) return BAD("input", "input: field required");
    if (parse_input(&x, input, err)) return -1;
    if (parse_scalars(r, root, err)) return -1;
    if (pt__parse_tools(r, pt_jv_get(root, "tools"), true, err)) return -1;
    if (pt__parse_tool_choice(r, pt_jv_get(root, "tool_choice"), true, err)) return -1;
    const pt_jv *text = pt_jv_get(root, "text");
    if (text && !pt_jv_is_null(text) && !pt_jv_is_object(text)) return BAD("text", "text: expected an object");
    if (pt__parse_output_format(r, pt_jv_get(text, "format"), "text.format", true, err)) return -1;
    return parse_reasoning(r, pt_jv_get(root, "reasoning"), err);
}

/* ---- the response object -------------------------------------------------------------- */

/* One output item as both renderers see it. */
typedef struct item_view {
    pt_part_type type;   /* TEXT: message; TOOL_USE: function_call; THINKING: reasoning */
    pt_slice text;       /* message text, call arguments, reasoning summary */
    pt_slice call_id, name, signature;
    bool cut;            /* a stream ended (failed) while the item was still open */
} item_view;

static const char *item_prefix(pt_part_type t)
{
    return t == PT_PART_TOOL_USE ? "fc_" : t == PT_PART_THINKING ? "rs_" : "msg_";
}

static void item_id(pt_jw *w, const char *rid, pt_part_type t, size_t k)
{
    char id[160];
    snprintf(id, sizeof id, "%s%s_%zu", item_prefix(t), rid && *rid ? rid : "0", k);
    pt_jw_kcstr(w, "id", id);
}

static void text_part_obj(pt_jw *w, pt_slice text)
{
    pt_jw_obj(w);
    pt_jw_kcstr(w, "type", "output_text");
    pt_jw_key(w, "annotations");
    pt_jw_arr(w);
    pt_jw_arr_end(w);
    pt_jw_key(w, "logprobs");
    pt_jw_arr(w);
    pt_jw_arr_end(w);
    pt_jw_kstr(w, "text", text);
    pt_jw_obj_end(w);
}

static void summary_part_obj(pt_jw *w, pt_slice text)
{
    pt_jw_obj(w);
    pt_jw_kcstr(w, "type", "summary_text");
    pt_jw_kstr(w, "text", text);
    pt_jw_obj_end(w);
}

static const char *item_status(const item_view *v, bool done)
{
    return !done ? "in_progress" : v->cut ? "incomplete" : "completed";
}

/* An output item; done: as complete (else as just added, with no content yet). */
static void item_obj(pt_jw *w, const char *rid, size_t k, const item_view *v, bool done)
{
    pt_jw_obj(w);
    item_id(w, rid, v->type, k);
    if (v->type == PT_PART_TOOL_USE) {
        pt_jw_kcstr(w, "type", "function_call");
        pt_jw_kcstr(w, "status", item_status(v, done));
        pt_jw_kstr(w, "arguments", done ? v->text : PT_SLICE_LIT(""));
        pt_jw_kstr(w, "call_id", v->call_id);
        pt_jw_kstr(w, "name", v->name);
    } else if (v->type == PT_PART_THINKING) {
        pt_jw_kcstr(w, "type", "reasoning");
        pt_jw_key(w, "summary");
        pt_jw_arr(w);
        if (done) summary_part_obj(w, v->text);
        pt_jw_arr_end(w);
        if (done && v->signature.len) pt_jw_kstr(w, "encrypted_content", v->signature);
    } else {
        pt_jw_kcstr(w, "type", "message");
        pt_jw_kcstr(w, "status", item_status(v, done));
        pt_jw_key(w, "content");
        pt_jw_arr(w);
        if (done) text_part_obj(w, v->text);
        pt_jw_arr_end(w);
        pt_jw_kcstr(w, "role", "assistant");
    }
    pt_jw_obj_end(w);
}

static void usage_obj(pt_jw *w, const pt_usage *u)
{
    int64_t in = pt_usage_prompt_total(u), out = pt_usage_get(u->output);
    pt_jw_obj(w);
    pt_jw_kint(w, "input_tokens", in);
    pt_jw_key(w, "input_tokens_details");
    pt_jw_obj(w);
    pt_jw_kint(w, "cached_tokens", pt_usage_get(u->cache_read));
    pt_jw_obj_end(w);
    pt_jw_kint(w, "output_tokens", out);
    pt_jw_key(w, "output_tokens_details");
    pt_jw_obj(w);
    pt_jw_kint(w, "reasoning_tokens", pt_usage_get(u->reasoning));
    pt_jw_obj_end(w);
    pt_jw_kint(w, "total_tokens", in + out);
    pt_jw_obj_end(w);
}

typedef struct resp_view {
    const char *rid;
    int64_t created;
    pt_slice model;
    const char *status;        /* in_progress, completed, incomplete, failed */
    const item_view *items;
    size_t nitems;
    const pt_usage *usage;     /* NULL: null */
    pt_stop_reason stop;
    const pt_ai_error *error;  /* failed: the error */
    bool store;
    const char *prev;          /* previous_response_id, NULL: null */
} resp_view;

static const char *status_of(pt_stop_reason s)
{
    return s == PT_STOP_MAX_TOKENS || s == PT_STOP_CONTENT_FILTER ? "incomplete" : "completed";
}

static void resp_obj(pt_jw *w, const resp_view *v)
{
    char id[160];
    snprintf(id, sizeof id, "resp_%s", v->rid && *v->rid ? v->rid : "0");
    pt_jw_obj(w);
    pt_jw_kcstr(w, "id", id);
    pt_jw_kcstr(w, "object", "response");
    pt_jw_kint(w, "created_at", v->created);
    pt_jw_kcstr(w, "status", v->status);
    pt_jw_key(w, "error");
    if (v->error) {
        pt_jw_obj(w);
        pt_jw_kcstr(w, "code", "server_error");
        pt_jw_kcstr(w, "message", v->error->message);
        pt_jw_obj_end(w);
    } else {
        pt_jw_null(w);
    }
    pt_jw_key(w, "incomplete_details");
    if (strcmp(v->status, "incomplete") == 0) {
        pt_jw_obj(w);
        pt_jw_kcstr(w, "reason", v->stop == PT_STOP_CONTENT_FILTER ? "content_filter" : "max_output_tokens");
        pt_jw_obj_end(w);
    } else {
        pt_jw_null(w);
    }
    pt_jw_kstr(w, "model", v->model);
    pt_jw_key(w, "output");
    pt_jw_arr(w);
    for (size_t k = 0; k < v->nitems; k++) item_obj(w, v->rid, k, &v->items[k], true);
    pt_jw_arr_end(w);
    pt_jw_kbool(w, "parallel_tool_calls", true);
    if (v->prev) pt_jw_kcstr(w, "previous_response_id", v->prev);
    else pt_jw_knull(w, "previous_response_id");
    pt_jw_kbool(w, "store", v->store);
    pt_jw_kcstr(w, "tool_choice", "auto");
    pt_jw_key(w, "tools");
    pt_jw_arr(w);
    pt_jw_arr_end(w);
    pt_jw_key(w, "usage");
    if (v->usage) usage_obj(w, v->usage);
    else pt_jw_null(w);
    pt_jw_key(w, "metadata");
    pt_jw_obj(w);
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
}

static int render_resp(const pt_pivot_resp *r, const pt__render_ctx *ctx, pt_buf *out)
{
    item_view *items = calloc(r->nparts ? r->nparts : 1, sizeof *items);
    if (!items) return PT_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < r->nparts; i++) {
        const pt_part *p = &r->parts[i];
        if (p->type == PT_PART_TEXT) items[n++] = (item_view){ .type = p->type, .text = p->text };
        else if (p->type == PT_PART_TOOL_USE)
            items[n++] = (item_view){ .type = p->type, .text = p->arguments, .call_id = p->id, .name = p->name };
        else if (p->type == PT_PART_THINKING)
            items[n++] = (item_view){ .type = p->type, .text = p->text, .signature = p->signature };
    }
    resp_view v = { .rid = ctx->request_id, .created = r->created >= 0 ? r->created : ctx->now_unix,
                    .model = r->model.len ? r->model : ctx->model, .status = status_of(r->stop), .items = items,
                    .nitems = n, .usage = &r->usage, .stop = r->stop, .store = ctx->store,
                    .prev = ctx->previous_response_id };
    pt_jw w;
    pt_jw_init(&w, out);
    resp_obj(&w, &v);
    free(items);
    return w.err;
}

/* ---- stream rendering ------------------------------------------------------------------ */

/* One output item of a stream, its text growing with the deltas. */
typedef struct sitem {
    pt_part_type type;
    bool open;
    bool stopped;       /* the provider ended the block; a call's .done events wait for the message end */
    pt_buf text, call_id, name, signature;
} sitem;

#define MAX_BLOCKS 256

struct pt__resp_stream {
    int64_t seq;                /* sequence_number of the next event */
    sitem *items;
    size_t nitems, cap;
    int item_of[MAX_BLOCKS];    /* pivot block index -> item index, -1 none */
    bool failed;
    pt_buf final;               /* the last response object rendered complete */
};

static void stream_release(pt__fmt_stream *st)
{
    struct pt__resp_stream *rs = st->resp;
    if (!rs) return;
    for (size_t i = 0; i < rs->nitems; i++) {
        pt_buf_release(&rs->items[i].text);
        pt_buf_release(&rs->items[i].call_id);
        pt_buf_release(&rs->items[i].name);
        pt_buf_release(&rs->items[i].signature);
    }
    free(rs->items);
    pt_buf_release(&rs->final);
    free(rs);
    st->resp = NULL;
}

pt_slice pt__resp_stream_final(const pt__fmt_stream *st)
{
    return st->resp && !st->resp->failed ? pt_buf_slice(&st->resp->final) : PT_SLICE_NULL;
}

static struct pt__resp_stream *rstate(pt__fmt_stream *st)
{
    if (!st->resp && (st->resp = calloc(1, sizeof *st->resp)))
        for (size_t i = 0; i < MAX_BLOCKS; i++) st->resp->item_of[i] = -1;
    return st->resp;
}

static item_view view_of(const sitem *it)
{
    return (item_view){ .type = it->type, .text = pt_buf_slice(&it->text), .call_id = pt_buf_slice(&it->call_id),
                        .name = pt_buf_slice(&it->name), .signature = pt_buf_slice(&it->signature),
                        .cut = it->open && !it->stopped };
}

/* Opens "event: TYPE\ndata: {"type":TYPE,"sequence_number":N" and leaves the object open. */
static void ev_open(pt__fmt_stream *st, pt_jw *w, pt_buf *out, const char *type)
{
    pt_buf_append_str(out, "event: ");
    pt_buf_append_str(out, type);
    pt_buf_append_str(out, "\ndata: ");
    pt_jw_init(w, out);
    pt_jw_obj(w);
    pt_jw_kcstr(w, "type", type);
    pt_jw_kint(w, "sequence_number", st->resp->seq++);
}

static int ev_close(pt_jw *w, pt_buf *out)
{
    pt_jw_obj_end(w);
    return w->err ? w->err : pt_buf_append(out, "\n\n", 2);
}

/* "item_id", "output_index" (and "content_index" / "summary_index" 0) of item k. */
static void ev_item(pt__fmt_stream *st, pt_jw *w, size_t k, const char *sub_index)
{
    pt_jw_key(w, "item_id");
    char id[160];
    snprintf(id, sizeof id, "%s%s_%zu", item_prefix(st->resp->items[k].type),
             st->ctx.request_id && *st->ctx.request_id ? st->ctx.request_id : "0", k);
    pt_jw_cstr(w, id);
    pt_jw_kint(w, "output_index", (int64_t)k);
    if (sub_index) pt_jw_kint(w, sub_index, 0);
}

static int ev_response(pt__fmt_stream *st, pt_buf *out, const char *type, const char *status, const pt_ai_error *e)
{
    struct pt__resp_stream *rs = st->resp;
    bool final = strcmp(status, "in_progress") != 0;
    item_view *items = calloc(rs->nitems ? rs->nitems : 1, sizeof *items);
    if (!items) return PT_ENOMEM;
    for (size_t k = 0; final && k < rs->nitems; k++) items[k] = view_of(&rs->items[k]);
    resp_view v = { .rid = st->ctx.request_id, .created = st->created,
                    .model = st->model.len ? st->model : st->ctx.model, .status = status, .items = items,
                    .nitems = final ? rs->nitems : 0, .usage = final ? &st->usage : NULL, .stop = st->stop,
                    .error = e, .store = st->ctx.store, .prev = st->ctx.previous_response_id };
    pt_jw w;
    if (final && !e) { /* kept whole for the engine to store */
        pt_buf_reset(&rs->final);
        pt_jw_init(&w, &rs->final);
        resp_obj(&w, &v);
    }
    ev_open(st, &w, out, type);
    pt_jw_key(&w, "response");
    resp_obj(&w, &v);
    free(items);
    return ev_close(&w, out);
}

static int item_event(pt__fmt_stream *st, pt_buf *out, const char *type, size_t k, bool done)
{
    pt_jw w;
    ev_open(st, &w, out, type);
    pt_jw_kint(&w, "output_index", (int64_t)k);
    pt_jw_key(&w, "item");
    item_view v = view_of(&st->resp->items[k]);
    item_obj(&w, st->ctx.request_id, k, &v, done);
    return ev_close(&w, out);
}

static int open_item(pt__fmt_stream *st, const pt_ev *ev, pt_buf *out)
{
    struct pt__resp_stream *rs = st->resp;
    if (ev->block != PT_PART_TEXT && ev->block != PT_PART_TOOL_USE && ev->block != PT_PART_THINKING) return 0;
    if (ev->index < 0 || ev->index >= MAX_BLOCKS) return 0;
    if (rs->nitems == rs->cap) {
        size_t nc = rs->cap ? rs->cap * 2 : 8;
        sitem *ni = realloc(rs->items, nc * sizeof *ni);
        if (!ni) return PT_ENOMEM;
        rs->items = ni;
        rs->cap = nc;
    }
    sitem *it = &rs->items[rs->nitems++];
    memset(it, 0, sizeof *it);
    size_t k = rs->nitems - 1;
    rs->item_of[ev->index] = (int)k;
    it->type = ev->block;
    it->open = true;
    if (ev->block == PT_PART_TOOL_USE &&
        (pt_buf_append_slice(&it->call_id, ev->id) || pt_buf_append_slice(&it->name, ev->name)))
        return PT_ENOMEM;
    int rc = item_event(st, out, "response.output_item.added", k, false);
    if (rc || ev->block == PT_PART_TOOL_USE) return rc;
    pt_jw w;
    bool text = ev->block == PT_PART_TEXT;
    ev_open(st, &w, out, text ? "response.content_part.added" : "response.reasoning_summary_part.added");
    ev_item(st, &w, k, text ? "content_index" : "summary_index");
    pt_jw_key(&w, "part");
    if (text) text_part_obj(&w, PT_SLICE_LIT(""));
    else summary_part_obj(&w, PT_SLICE_LIT(""));
    return ev_close(&w, out);
}

static int item_of(pt__fmt_stream *st, int index)
{
    return index < 0 || index >= MAX_BLOCKS ? -1 : st->resp->item_of[index];
}

static int delta(pt__fmt_stream *st, const pt_ev *ev, pt_buf *out)
{
    int k = item_of(st, ev->index);
    if (k < 0 || !ev->text.len) return 0;
    sitem *it = &st->resp->items[k];
    if (ev->type == PT_EV_SIGNATURE_DELTA) return pt_buf_append_slice(&it->signature, ev->text);
    if (pt_buf_append_slice(&it->text, ev->text)) return PT_ENOMEM;
    const char *type = it->type == PT_PART_TOOL_USE  ? "response.function_call_arguments.delta"
                       : it->type == PT_PART_THINKING ? "response.reasoning_summary_text.delta"
                                                      : "response.output_text.delta";
    pt_jw w;
    ev_open(st, &w, out, type);
    ev_item(st, &w, (size_t)k,
            it->type == PT_PART_TEXT ? "content_index" : it->type == PT_PART_THINKING ? "summary_index" : NULL);
    pt_jw_kstr(&w, "delta", ev->text);
    if (it->type == PT_PART_TEXT) {
        pt_jw_key(&w, "logprobs");
        pt_jw_arr(&w);
        pt_jw_arr_end(&w);
    }
    return ev_close(&w, out);
}

/* The .done events of item k: its whole text, its part, then the item. */
static int close_item(pt__fmt_stream *st, size_t k, pt_buf *out)
{
    sitem *it = &st->resp->items[k];
    if (!it->open) return 0;
    it->open = false;
    pt_slice text = pt_buf_slice(&it->text);
    pt_jw w;
    if (it->type == PT_PART_TOOL_USE) {
        ev_open(st, &w, out, "response.function_call_arguments.done");
        ev_item(st, &w, k, NULL);
        pt_jw_kstr(&w, "name", pt_buf_slice(&it->name));
        pt_jw_kstr(&w, "arguments", text);
        int rc = ev_close(&w, out);
        return rc ? rc : item_event(st, out, "response.output_item.done", k, true);
    }
    bool msg = it->type == PT_PART_TEXT;
    const char *sub = msg ? "content_index" : "summary_index";
    ev_open(st, &w, out, msg ? "response.output_text.done" : "response.reasoning_summary_text.done");
    ev_item(st, &w, k, sub);
    pt_jw_kstr(&w, "text", text);
    if (msg) {
        pt_jw_key(&w, "logprobs");
        pt_jw_arr(&w);
        pt_jw_arr_end(&w);
    }
    int rc = ev_close(&w, out);
    if (rc) return rc;
    ev_open(st, &w, out, msg ? "response.content_part.done" : "response.reasoning_summary_part.done");
    ev_item(st, &w, k, sub);
    pt_jw_key(&w, "part");
    if (msg) text_part_obj(&w, text);
    else summary_part_obj(&w, text);
    rc = ev_close(&w, out);
    return rc ? rc : item_event(st, out, "response.output_item.done", k, true);
}

static int close_all(pt__fmt_stream *st, pt_buf *out)
{
    int rc = 0;
    for (size_t k = 0; k < st->resp->nitems && !rc; k++) rc = close_item(st, k, out);
    return rc;
}

/* A stream that fails after it started: an error event, then response.failed. */
static int stream_error(pt__fmt_stream *st, const pt_ai_error *e, pt_buf *out)
{
    if (st->resp->failed) return 0;
    st->resp->failed = true;
    pt_error_body b;
    pt__fmt_responses.error_body(e, &b);
    pt_jw w;
    ev_open(st, &w, out, "error");
    pt_jw_key(&w, "code");
    if (b.code) pt_jw_cstr(&w, b.code);
    else pt_jw_null(&w);
    pt_jw_kcstr(&w, "message", e->message);
    pt_jw_key(&w, "param");
    if (e->param[0]) pt_jw_cstr(&w, e->param);
    else pt_jw_null(&w);
    int rc = ev_close(&w, out);
    return rc ? rc : ev_response(st, out, "response.failed", "failed", e);
}

static int stream_event(pt__fmt_stream *st, const pt_ev *ev, pt_buf *out)
{
    if (!rstate(st)) return PT_ENOMEM;
    int rc;
    switch (ev->type) {
    case PT_EV_MESSAGE_START:
        st->model = pt__copy_str(st->modelbuf, sizeof st->modelbuf, ev->model);
        st->started = true;
        pt_usage_merge(&st->usage, &ev->usage);
        rc = ev_response(st, out, "response.created", "in_progress", NULL);
        return rc ? rc : ev_response(st, out, "response.in_progress", "in_progress", NULL);
    case PT_EV_BLOCK_START: return open_item(st, ev, out);
    case PT_EV_TEXT_DELTA:
    case PT_EV_TOOL_ARGS_DELTA:
    case PT_EV_THINKING_DELTA:
    case PT_EV_SIGNATURE_DELTA: return delta(st, ev, out);
    case PT_EV_BLOCK_STOP: {
        /* A function call is closed at the end of the message: a provider may still send
         * arguments for a call it has moved past (interleaved tool call deltas), and the
         * .done events must carry the whole arguments. */
        int k = item_of(st, ev->index);
        if (k < 0) return 0;
        st->resp->items[k].stopped = true;
        return st->resp->items[k].type == PT_PART_TOOL_USE ? 0 : close_item(st, (size_t)k, out);
    }
    case PT_EV_MESSAGE_DELTA:
        pt_usage_merge(&st->usage, &ev->usage);
        st->stop = ev->stop;
        return close_all(st, out);
    case PT_EV_MESSAGE_STOP: {
        if (st->resp->failed) return 0;
        const char *status = status_of(st->stop);
        return ev_response(st, out, strcmp(status, "completed") == 0 ? "response.completed" : "response.incomplete",
                           status, NULL);
    }
    case PT_EV_ERROR: return stream_error(st, ev->error, out);
    }
    return 0;
}

/* ---- errors: OpenAI's error object ---------------------------------------------------- */

static void error_body(const pt_ai_error *e, pt_error_body *out) { pt__fmt_openai.error_body(e, out); }

const pt__fmt pt__fmt_responses = {
    .id = PT_AI_FMT_RESPONSES,
    .parse_chat = parse_chat,
    .render_resp = render_resp,
    .stream_init = pt__stream_init,
    .stream_event = stream_event,
    .stream_release = stream_release,
    .error_format = PT_ERRFMT_OPENAI,
    .error_body = error_body,
};
