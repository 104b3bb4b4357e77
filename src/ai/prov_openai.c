/* prov_openai.c: the OpenAI Chat Completions wire as a provider: rendering the pivot
 * request, reading whole and streamed answers, classifying errors. The openai type is
 * defined here; azure, mistral and openai_compatible reuse these functions with their
 * own options and endpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/prov.h"
#include "core/err.h"
#include "core/json_scan.h"
#include "core/json_write.h"

#define MAX_BLOCKS PT__MAX_BLOCKS

/* ---- request ------------------------------------------------------------------------- */

void pt__short_tool_id(pt_slice id, char out[10])
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    bool ok = id.len == 9;
    for (size_t i = 0; ok && i < 9; i++) {
        char ch = id.ptr[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    }
    if (ok) {
        memcpy(out, id.ptr, 9);
        out[9] = '\0';
        return;
    }
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < id.len; i++) {
        h ^= (unsigned char)id.ptr[i];
        h *= 1099511628211ull;
    }
    for (int i = 0; i < 9; i++) {
        out[i] = alpha[h % 62];
        h /= 62;
    }
    out[9] = '\0';
}

static void tool_id(pt_jw *w, pt_slice id, const pt__oai_opts *o)
{
    if (o->short_tool_ids) {
        char s[10];
        pt__short_tool_id(id, s);
        pt_jw_cstr(w, s);
    } else {
        pt_jw_str(w, id);
    }
}

static void join_text(pt_jw *w, const pt_part *p, size_t n, const char *sep)
{
    pt_buf t = PT_BUF_INIT;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (p[i].type != PT_PART_TEXT) continue;
        if (!first && pt_buf_append_str(&t, sep)) w->err = PT_ENOMEM;
        if (pt_buf_append_slice(&t, p[i].text)) w->err = PT_ENOMEM;
        first = false;
    }
    pt_jw_str(w, pt_buf_slice(&t));
    pt_buf_release(&t);
}

static void image_part(pt_jw *w, const pt_part *p)
{
    pt_jw_obj(w);
    pt_jw_kcstr(w, "type", "image_url");
    pt_jw_key(w, "image_url");
    pt_jw_obj(w);
    pt_jw_key(w, "url");
    if (p->url.len) {
        pt_jw_str(w, p->url);
    } else {
        pt_buf u = PT_BUF_INIT;
        if (pt_buf_append_str(&u, "data:") || pt_buf_append_slice(&u, p->media_type) ||
            pt_buf_append_str(&u, ";base64,") || pt_buf_append_slice(&u, p->data))
            w->err = PT_ENOMEM;
        pt_jw_str(w, pt_buf_slice(&u));
        pt_buf_release(&u);
    }
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
}

/* A FILE part (pt__check_files let through what this provider takes): a PDF as a file
 * part, audio as input_audio, plain text as text. */
static void file_part(pt_jw *w, const pt_part *p)
{
    pt_jw_obj(w);
    if (p->text.len) {
        pt_jw_kcstr(w, "type", "text");
        pt_jw_kstr(w, "text", p->text);
    } else if (pt__audio_format(p->media_type)) {
        pt_jw_kcstr(w, "type", "input_audio");
        pt_jw_key(w, "input_audio");
        pt_jw_obj(w);
        pt_jw_kstr(w, "data", p->data);
        pt_jw_kcstr(w, "format", pt__audio_format(p->media_type));
        pt_jw_obj_end(w);
    } else {
        pt_jw_kcstr(w, "type", "file");
        pt_jw_key(w, "file");
        pt_jw_obj(w);
        pt_jw_kstr(w, "filename", p->name.len ? p->name : PT_SLICE_LIT("document.pdf"));
        pt_buf u = PT_BUF_INIT;
        if (pt_buf_append_str(&u, "data:") || pt_buf_append_slice(&u, p->media_type) ||
            pt_buf_append_str(&u, ";base64,") || pt_buf_append_slice(&u, p->data))
            w->err = PT_ENOMEM;
        pt_jw_kstr(w, "file_data", pt_buf_slice(&u));
        pt_buf_release(&u);
        pt_jw_obj_end(w);
    }
    pt_jw_obj_end(w);
}

/* A user turn: tool results first (one "tool" message each), then the rest. */
static void user_msg(pt_jw *w, const pt_msg *m, const pt__oai_opts *o)
{
    size_t nother = 0, ntextonly = 0;
    for (size_t i = 0; i < m->nparts; i++) {
        const pt_part *p = &m->parts[i];
        if (p->type == PT_PART_TOOL_RESULT) {
            pt_jw_obj(w);
            pt_jw_kcstr(w, "role", "tool");
            pt_jw_key(w, "tool_call_id");
            tool_id(w, p->tool_use_id, o);
            pt_jw_key(w, "content");
            join_text(w, p->content, p->ncontent, "\n");
            pt_jw_obj_end(w);
            for (size_t k = 0; k < p->ncontent; k++)
                if (p->content[k].type == PT_PART_IMAGE) nother++;
        } else if (p->type == PT_PART_TEXT) {
            nother++;
            ntextonly++;
        } else if (p->type == PT_PART_IMAGE || p->type == PT_PART_FILE) {
            nother++;
        }
    }
    if (!nother) return;
    pt_jw_obj(w);
    pt_jw_kcstr(w, "role", "user");
    pt_jw_key(w, "content");
    if (nother == 1 && ntextonly == 1) {
        join_text(w, m->parts, m->nparts, "");
    } else {
        pt_jw_arr(w);
        for (size_t i = 0; i < m->nparts; i++) {
            const pt_part *p = &m->parts[i];
            if (p->type == PT_PART_TEXT) {
                pt_jw_obj(w);
                pt_jw_kcstr(w, "type", "text");
                pt_jw_kstr(w, "text", p->text);
                pt_jw_obj_end(w);
            } else if (p->type == PT_PART_IMAGE) {
                image_part(w, p);
            } else if (p->type == PT_PART_FILE) {
                file_part(w, p);
            } else if (p->type == PT_PART_TOOL_RESULT) {
                /* OpenAI tool messages hold text only: images of tool results follow as user content */
                for (size_t k = 0; k < p->ncontent; k++)
                    if (p->content[k].type == PT_PART_IMAGE) image_part(w, &p->content[k]);
            }
        }
        pt_jw_arr_end(w);
    }
    pt_jw_obj_end(w);
}

static void assistant_msg(pt_jw *w, const pt_msg *m, const pt__oai_opts *o)
{
    size_t ntext = 0, ntools = 0;
    for (size_t i = 0; i < m->nparts; i++) {
        if (m->parts[i].type == PT_PART_TEXT) ntext++;
        else if (m->parts[i].type == PT_PART_TOOL_USE) ntools++;
    }
    pt_jw_obj(w);
    pt_jw_kcstr(w, "role", "assistant");
    pt_jw_key(w, "content");
    if (ntext) join_text(w, m->parts, m->nparts, "");
    else if (ntools) pt_jw_null(w);
    else pt_jw_cstr(w, "");
    if (ntools) {
        pt_jw_key(w, "tool_calls");
        pt_jw_arr(w);
        for (size_t i = 0; i < m->nparts; i++) {
            const pt_part *p = &m->parts[i];
            if (p->type != PT_PART_TOOL_USE) continue;
            pt_jw_obj(w);
            pt_jw_key(w, "id");
            tool_id(w, p->id, o);
            pt_jw_kcstr(w, "type", "function");
            pt_jw_key(w, "function");
            pt_jw_obj(w);
            pt_jw_kstr(w, "name", p->name);
            pt_jw_kstr(w, "arguments", p->arguments.len ? p->arguments : PT_SLICE_LIT("{}"));
            pt_jw_obj_end(w);
            pt_jw_obj_end(w);
        }
        pt_jw_arr_end(w);
    }
    pt_jw_obj_end(w);
}

static void tool_def(pt_jw *w, const pt_tool *t)
{
    pt_jw_obj(w);
    pt_jw_kcstr(w, "type", "function");
    pt_jw_key(w, "function");
    pt_jw_obj(w);
    pt__tool_members(w, t, "parameters");
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
}

/* OpenAI reasoning models take reasoning_effort; others refuse it. */
static bool reasoning_model(const char *m)
{
    return m && (strncmp(m, "o1", 2) == 0 || strncmp(m, "o3", 2) == 0 || strncmp(m, "o4", 2) == 0 ||
                 strncmp(m, "gpt-5", 5) == 0);
}

int pt__oai_render_chat(const pt__prov_ctx *c, const pt_pivot_req *r, const pt__oai_opts *o, pt_buf *body,
                        pt_ai_error *err)
{
    /* Mistral's chat takes documents by URL in its own part type only: plain text here */
    unsigned files = c->cfg->type == PT_AI_PROV_MISTRAL ? PT__FILE_TEXT : PT__FILE_PDF | PT__FILE_TEXT | PT__FILE_AUDIO;
    if (pt__check_files(c, r, files, err)) return -1;
    pt_jw w;
    pt_jw_init(&w, body);
    pt_jw_obj(&w);
    if (o->send_model) pt_jw_kcstr(&w, "model", c->model);
    pt_jw_key(&w, "messages");
    pt_jw_arr(&w);
    if (r->nsystem) {
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "role", "system");
        pt_jw_key(&w, "content");
        join_text(&w, r->system, r->nsystem, "\n");
        pt_jw_obj_end(&w);
    }
    for (size_t i = 0; i < r->nmsgs; i++) {
        if (r->msgs[i].role == PT_ROLE_USER) user_msg(&w, &r->msgs[i], o);
        else assistant_msg(&w, &r->msgs[i], o);
    }
    pt_jw_arr_end(&w);
    if (r->max_tokens > 0) pt_jw_kint(&w, o->max_completion_tokens ? "max_completion_tokens" : "max_tokens", r->max_tokens);
    if (!isnan(r->temperature)) {
        pt_jw_key(&w, "temperature");
        pt_jw_num(&w, r->temperature);
    }
    if (!isnan(r->top_p)) {
        pt_jw_key(&w, "top_p");
        pt_jw_num(&w, r->top_p);
    }
    if (!isnan(r->presence_penalty)) {
        pt_jw_key(&w, "presence_penalty");
        pt_jw_num(&w, r->presence_penalty);
    }
    if (!isnan(r->frequency_penalty)) {
        pt_jw_key(&w, "frequency_penalty");
        pt_jw_num(&w, r->frequency_penalty);
    }
    if (r->seed >= 0) pt_jw_kint(&w, o->random_seed ? "random_seed" : "seed", r->seed);
    if (r->nstop) {
        pt_jw_key(&w, "stop");
        pt_jw_arr(&w);
        for (size_t i = 0; i < r->nstop; i++) pt_jw_str(&w, r->stop[i]);
        pt_jw_arr_end(&w);
    }
    if (r->stream) {
        pt_jw_kbool(&w, "stream", true);
        if (o->stream_options) {
            pt_jw_key(&w, "stream_options");
            pt_jw_raw(&w, PT_SLICE_LIT("{\"include_usage\":true}"));
        }
    }
    if (r->ntools && r->tool_choice != PT_TOOL_CHOICE_NONE) {
        pt_jw_key(&w, "tools");
        pt_jw_arr(&w);
        for (size_t i = 0; i < r->ntools; i++) tool_def(&w, &r->tools[i]);
        pt_jw_arr_end(&w);
        switch (r->tool_choice) {
        case PT_TOOL_CHOICE_AUTO: pt_jw_kcstr(&w, "tool_choice", "auto"); break;
        case PT_TOOL_CHOICE_ANY: pt_jw_kcstr(&w, "tool_choice", o->tool_choice_any ? "any" : "required"); break;
        case PT_TOOL_CHOICE_TOOL:
            pt_jw_key(&w, "tool_choice");
            pt_jw_obj(&w);
            pt_jw_kcstr(&w, "type", "function");
            pt_jw_key(&w, "function");
            pt_jw_obj(&w);
            pt_jw_kstr(&w, "name", r->tool_choice_name);
            pt_jw_obj_end(&w);
            pt_jw_obj_end(&w);
            break;
        default: break;
        }
        if (r->parallel_tool_calls >= 0) pt_jw_kbool(&w, "parallel_tool_calls", r->parallel_tool_calls == 1);
    } else if (r->ntools && r->tool_choice == PT_TOOL_CHOICE_NONE) {
        /* tools with "none": the tools stay declared so earlier tool turns stay valid */
        pt_jw_key(&w, "tools");
        pt_jw_arr(&w);
        for (size_t i = 0; i < r->ntools; i++) tool_def(&w, &r->tools[i]);
        pt_jw_arr_end(&w);
        pt_jw_kcstr(&w, "tool_choice", "none");
    }
    if (r->response_format == PT_RESP_FORMAT_JSON_OBJECT) {
        pt_jw_key(&w, "response_format");
        pt_jw_raw(&w, PT_SLICE_LIT("{\"type\":\"json_object\"}"));
    } else if (r->response_format == PT_RESP_FORMAT_JSON_SCHEMA) {
        pt_jw_key(&w, "response_format");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "type", "json_schema");
        pt_jw_key(&w, "json_schema");
        pt_jw_obj(&w);
        pt_jw_kstr(&w, "name", r->response_schema_name.len ? r->response_schema_name : PT_SLICE_LIT("response"));
        if (r->response_schema.len) {
            pt_jw_key(&w, "schema");
            pt_jw_raw(&w, r->response_schema);
        }
        if (r->response_schema_strict >= 0) pt_jw_kbool(&w, "strict", r->response_schema_strict == 1);
        pt_jw_obj_end(&w);
        pt_jw_obj_end(&w);
    }
    if (o->reasoning_effort && reasoning_model(c->model)) {
        const char *effort = NULL;
        char tmp[16];
        if (r->reasoning_effort.len && r->reasoning_effort.len < sizeof tmp) {
            snprintf(tmp, sizeof tmp, "%.*s", PT_SLICE_ARG(r->reasoning_effort));
            effort = tmp;
        } else if (r->reasoning_budget > 0) {
            effort = pt_pivot_budget_to_effort(r->reasoning_budget);
        }
        if (effort) pt_jw_kcstr(&w, "reasoning_effort", effort);
    }
    if (r->user.len && !o->short_tool_ids) pt_jw_kstr(&w, "user", r->user);
    pt_jw_obj_end(&w);
    if (w.err) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render");
    return 0;
}

/* ---- answers ------------------------------------------------------------------------- */

pt_stop_reason pt__oai_stop(const char *s)
{
    if (!s) return PT_STOP_NONE;
    if (strcmp(s, "stop") == 0) return PT_STOP_END_TURN;
    if (strcmp(s, "length") == 0 || strcmp(s, "model_length") == 0) return PT_STOP_MAX_TOKENS;
    if (strcmp(s, "tool_calls") == 0 || strcmp(s, "function_call") == 0) return PT_STOP_TOOL_USE;
    if (strcmp(s, "content_filter") == 0) return PT_STOP_CONTENT_FILTER;
    if (strcmp(s, "error") == 0) return PT_STOP_ERROR;
    return PT_STOP_END_TURN;
}

static int64_t jint(const pt_jv *v) { return pt_jv_is_integer(v) ? (int64_t)pt_jv_int(v) : -1; }

/* The pivot's usage from OpenAI's figures (each -1 when absent or not an integer). */
static void oai_usage_of(int64_t prompt, int64_t completion, int64_t cached, int64_t cache_hit, int64_t reasoning,
                         pt_usage *out)
{
    /* DeepSeek reports cache hits at the top level */
    if (cached < 0) cached = cache_hit;
    if (prompt >= 0) {
        int64_t c = cached > 0 ? (cached > prompt ? prompt : cached) : 0;
        out->input = prompt - c;
        out->cache_read = c;
        out->cache_write = 0;
    }
    if (completion >= 0) out->output = completion;
    out->reasoning = reasoning >= 0 ? reasoning : (completion >= 0 ? 0 : -1);
}

void pt__oai_usage(const pt_jv *u, pt_usage *out)
{
    *out = PT_USAGE_UNKNOWN;
    if (!pt_jv_is_object(u)) return;
    oai_usage_of(jint(pt_jv_get(u, "prompt_tokens")), jint(pt_jv_get(u, "completion_tokens")),
                 jint(pt_jv_get(pt_jv_get(u, "prompt_tokens_details"), "cached_tokens")),
                 jint(pt_jv_get(u, "prompt_cache_hit_tokens")),
                 jint(pt_jv_get(pt_jv_get(u, "completion_tokens_details"), "reasoning_tokens")), out);
}

/* The integer written at p[a..b) (a validated value), read as jint reads a tree's: -1 when
 * it is not an integer, or is negative (no caller tells a negative from an absent one). */
static int64_t span_int(const char *p, size_t a, size_t b)
{
    bool neg = a < b && p[a] == '-';
    if (neg) a++;
    if (a >= b) return -1;
    uint64_t x = 0;
    for (size_t i = a; i < b; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9 || x > ((uint64_t)INT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    return neg ? (x ? -1 : 0) : (int64_t)x;
}

#define USAGE_FIELDS 32

/* Member i of the object f (spans in p) as an integer, -1 when absent (i < 0). */
static int64_t member_int(const char *p, const pt_jfield *f, int i)
{
    return i < 0 ? -1 : span_int(p, f[i].vstart, f[i].vend);
}

/* Member inner of the object that is member i of f, as an integer. */
static int64_t inner_int(const char *p, size_t len, const pt_jfield *f, int i, const char *inner)
{
    if (i < 0 || p[f[i].vstart] != '{') return -1;
    pt_jfield g[USAGE_FIELDS];
    size_t ng, o, c;
    if (pt_jscan_object(p, len, f[i].vstart, g, USAGE_FIELDS, &ng, &o, &c) || ng > USAGE_FIELDS) {
        pt_pool scratch; /* more members than recorded: the tree has them all */
        pt_pool_init(&scratch, 0, 0);
        int64_t v = jint(pt_jv_get(pt_jdom_parse(&scratch, p + f[i].vstart, f[i].vend - f[i].vstart, NULL), inner));
        pt_pool_release(&scratch);
        return v;
    }
    return member_int(p, g, pt_jscan_find(g, ng, inner, NULL));
}

void pt__oai_usage_text(const char *p, size_t len, pt_usage *out)
{
    *out = PT_USAGE_UNKNOWN;
    pt_jfield f[USAGE_FIELDS];
    size_t nf, o, c;
    int rc = pt_jscan_object_document(p, len, f, USAGE_FIELDS, &nf, &o, &c, NULL);
    if (rc) return; /* not an object, or not JSON */
    if (nf > USAGE_FIELDS) { /* more members than recorded: the tree has them all */
        pt_pool scratch;
        pt_pool_init(&scratch, 0, 0);
        pt__oai_usage(pt_jdom_parse(&scratch, p, len, NULL), out);
        pt_pool_release(&scratch);
        return;
    }
    static const pt_jname names[] = { PT_JNAME("prompt_tokens"), PT_JNAME("completion_tokens"),
                                      PT_JNAME("prompt_tokens_details"), PT_JNAME("prompt_cache_hit_tokens"),
                                      PT_JNAME("completion_tokens_details") };
    int at[5];
    pt_jscan_find_each(f, nf, names, 5, at);
    oai_usage_of(member_int(p, f, at[0]), member_int(p, f, at[1]), inner_int(p, len, f, at[2], "cached_tokens"),
                 member_int(p, f, at[3]), inner_int(p, len, f, at[4], "reasoning_tokens"), out);
}

static int push_text(pt_pivot_resp *out, size_t *cap, pt_part_type t, pt_slice s)
{
    if (!s.len) return 0;
    pt_part *p = pt__parts_push_resp(out, cap);
    if (!p) return -1;
    p->type = t;
    p->text = s;
    return 0;
}

int pt__oai_parse_chat(const pt__prov_ctx *c, const char *body, size_t len, pt_pivot_resp *out, pt_ai_error *err)
{
    const pt_jv *root = pt_jdom_parse(&out->arena, body, len, NULL);
    if (!root) return pt__bad_upstream(err, c, "not JSON");
    const pt_jv *choices = pt_jv_get(root, "choices");
    const pt_jv *choice = pt_jv_at(choices, 0);
    const pt_jv *msg = pt_jv_get(choice, "message");
    if (!pt_jv_is_object(msg)) return pt__bad_upstream(err, c, "no choices[0].message");
    out->id = pt_jv_str(pt_jv_get(root, "id"));
    out->model = pt_jv_str(pt_jv_get(root, "model"));
    out->created = jint(pt_jv_get(root, "created"));
    size_t cap = 0;
    const pt_jv *rc = pt_jv_get(msg, "reasoning_content");
    if (!rc) rc = pt_jv_get(msg, "reasoning");
    if (push_text(out, &cap, PT_PART_THINKING, pt_jv_str(rc))) goto toobig;
    const pt_jv *content = pt_jv_get(msg, "content");
    if (pt_jv_is_string(content)) {
        if (push_text(out, &cap, PT_PART_TEXT, pt_jv_str(content))) goto toobig;
    } else if (pt_jv_is_array(content)) {
        /* Mistral and some servers: [{"type":"text","text":...}] */
        size_t i;
        const pt_jv *p;
        PT_JV_FOREACH(content, i, p) {
            const char *type = pt_jv_cstr(pt_jv_get(p, "type"));
            if (type && strcmp(type, "text") == 0 &&
                push_text(out, &cap, PT_PART_TEXT, pt_jv_str(pt_jv_get(p, "text"))))
                goto toobig;
        }
    }
    if (push_text(out, &cap, PT_PART_TEXT, pt_jv_str(pt_jv_get(msg, "refusal")))) goto toobig;
    const pt_jv *calls = pt_jv_get(msg, "tool_calls");
    size_t i;
    const pt_jv *tc;
    PT_JV_FOREACH(calls, i, tc) {
        const pt_jv *fn = pt_jv_get(tc, "function");
        pt_part *p = pt__parts_push_resp(out, &cap);
        if (!p) goto toobig;
        p->type = PT_PART_TOOL_USE;
        p->id = pt_jv_str(pt_jv_get(tc, "id"));
        if (!p->id.len) {
            char tmp[96];
            snprintf(tmp, sizeof tmp, "call_%s_%zu", c->request_id ? c->request_id : "0", i);
            p->id = pt_pool_slice(&out->arena, pt_slice_cstr(tmp));
        }
        p->name = pt_jv_str(pt_jv_get(fn, "name"));
        const pt_jv *args = pt_jv_get(fn, "arguments");
        if (pt_jv_is_string(args)) p->arguments = pt_jv_str(args);
        else if (pt_jv_is_object(args)) p->arguments = args->raw;
        else p->arguments = PT_SLICE_LIT("{}");
    }
    out->stop = pt__oai_stop(pt_jv_cstr(pt_jv_get(choice, "finish_reason")));
    if (out->stop == PT_STOP_NONE) out->stop = PT_STOP_END_TURN;
    pt__oai_usage(pt_jv_get(root, "usage"), &out->usage);
    return 0;
toobig:
    return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "answer too large");
}

/* ---- stream -------------------------------------------------------------------------- *
 *
 * State machine over chat.completion.chunk events. Pivot blocks are opened in order of
 * appearance: a reasoning block for reasoning_content, a text block for content, one
 * block per tool call (keyed by the chunk's tool_calls[].index). A new kind of content
 * closes the block before it. finish_reason closes the open block and records the stop
 * reason; MESSAGE_DELTA (with usage) and MESSAGE_STOP follow at "[DONE]" or at the end
 * of the body, because the usage chunk OpenAI sends with include_usage comes after the
 * finish_reason chunk. */

typedef struct oai_stream {
    pt__prov_ctx ctx;
    bool started, finished, done;
    pt__blocks blk;
    int tool_block[MAX_BLOCKS];/* upstream tool index -> pivot block, -1 */
    pt_stop_reason stop;
    pt_usage usage;
    char id[128], model[128];
} oai_stream;

static void oai_init(void *p, const pt__prov_ctx *ctx)
{
    oai_stream *s = p;
    memset(s, 0, sizeof *s);
    s->ctx = *ctx;
    pt__blocks_init(&s->blk);
    for (int i = 0; i < MAX_BLOCKS; i++) s->tool_block[i] = -1;
    s->usage = PT_USAGE_UNKNOWN;
}

static void oai_release(void *p) { (void)p; }

static int emit(pt_ev_cb cb, void *arg, pt_ev *ev) { return cb(arg, ev); }

static int start(oai_stream *s, const pt_jv *root, pt_ev_cb cb, void *arg)
{
    if (s->started) return 0;
    s->started = true;
    pt__copy_str(s->id, sizeof s->id, pt_jv_str(pt_jv_get(root, "id")));
    pt__copy_str(s->model, sizeof s->model, pt_jv_str(pt_jv_get(root, "model")));
    pt_ev ev = { .type = PT_EV_MESSAGE_START, .id = pt_slice_cstr(s->id), .model = pt_slice_cstr(s->model),
                 .usage = PT_USAGE_UNKNOWN };
    return emit(cb, arg, &ev);
}

static int text_delta(oai_stream *s, pt_part_type t, pt_slice text, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    if (!text.len) return 0;
    if (s->blk.cur < 0 || s->blk.cur_type != t) {
        int rc = pt__blocks_open(&s->blk, &s->ctx, t, PT_SLICE_NULL, PT_SLICE_NULL, cb, arg, err);
        if (rc) return rc;
    }
    pt_ev ev = { .type = t == PT_PART_THINKING ? PT_EV_THINKING_DELTA : PT_EV_TEXT_DELTA, .index = s->blk.cur, .text = text };
    return emit(cb, arg, &ev);
}

static int tool_deltas(oai_stream *s, const pt_jv *calls, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    size_t i;
    const pt_jv *tc;
    PT_JV_FOREACH(calls, i, tc) {
        const pt_jv *jidx = pt_jv_get(tc, "index");
        int64_t idx = pt_jv_is_integer(jidx) ? pt_jv_int(jidx) : (int64_t)i;
        if (idx < 0 || idx >= MAX_BLOCKS) {
            pt__bad_upstream(err, &s->ctx, "tool call index out of range");
            return -1;
        }
        const pt_jv *fn = pt_jv_get(tc, "function");
        if (s->tool_block[idx] < 0) {
            pt_slice id = pt_jv_str(pt_jv_get(tc, "id"));
            char gen[96];
            if (!id.len) {
                snprintf(gen, sizeof gen, "call_%s_%lld", s->ctx.request_id ? s->ctx.request_id : "0", (long long)idx);
                id = pt_slice_cstr(gen);
            }
            int rc = pt__blocks_open(&s->blk, &s->ctx, PT_PART_TOOL_USE, id, pt_jv_str(pt_jv_get(fn, "name")), cb, arg, err);
            if (rc) return rc;
            s->tool_block[idx] = s->blk.cur;
        }
        pt_slice args = pt_jv_str(pt_jv_get(fn, "arguments"));
        if (args.len) {
            pt_ev ev = { .type = PT_EV_TOOL_ARGS_DELTA, .index = s->tool_block[idx], .text = args };
            int rc = emit(cb, arg, &ev);
            if (rc) return rc;
        }
    }
    return 0;
}

static int finish(oai_stream *s, pt_ev_cb cb, void *arg)
{
    if (s->done) return 0;
    s->done = true;
    int rc = pt__blocks_close(&s->blk, cb, arg);
    if (rc) return rc;
    pt_ev ev = { .type = PT_EV_MESSAGE_DELTA, .stop = s->stop == PT_STOP_NONE ? PT_STOP_END_TURN : s->stop,
                 .usage = s->usage };
    if ((rc = emit(cb, arg, &ev))) return rc;
    pt_ev stop = { .type = PT_EV_MESSAGE_STOP };
    return emit(cb, arg, &stop);
}

static int in_stream_error(oai_stream *s, const pt_jv *e, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    const char *msg = pt_jv_cstr(pt_jv_get(e, "message"));
    pt__classify_status(&s->ctx, 500, msg ? msg : "error in stream", err);
    pt_ev ev = { .type = PT_EV_ERROR, .error = err };
    s->done = true;
    int rc = emit(cb, arg, &ev);
    return rc ? rc : -1;
}

static int oai_event(void *p, const pt_sse_event *sev, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    oai_stream *s = p;
    if (s->done) return 0;
    pt_slice data = pt_slice_trim(sev->data);
    if (pt_slice_eq_cstr(data, "[DONE]")) {
        int rc = start(s, NULL, cb, arg);
        return rc ? rc : finish(s, cb, arg);
    }
    pt_pool scratch;
    pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
    const pt_jv *root = pt_jdom_parse(&scratch, data.ptr, data.len, NULL);
    if (!pt_jv_is_object(root)) {
        pt_pool_release(&scratch);
        return pt__bad_upstream(err, &s->ctx, "a stream chunk is not a JSON object");
    }
    int rc = 0;
    const pt_jv *e = pt_jv_get(root, "error");
    if (pt_jv_is_object(e)) {
        rc = in_stream_error(s, e, cb, arg, err);
        goto out;
    }
    const pt_jv *u = pt_jv_get(root, "usage");
    const pt_jv *choices = pt_jv_get(root, "choices");
    /* Azure opens with a content-filter chunk that has no id, no model and no choices */
    if (!s->started && pt_jv_len(choices) == 0 && !pt_jv_is_object(u) &&
        !pt_jv_str(pt_jv_get(root, "id")).len)
        goto out;
    if ((rc = start(s, root, cb, arg))) goto out;
    if (pt_jv_is_object(u)) {
        pt_usage nu;
        pt__oai_usage(u, &nu);
        pt_usage_merge(&s->usage, &nu);
    }
    size_t i;
    const pt_jv *ch;
    PT_JV_FOREACH(choices, i, ch) {
        const pt_jv *ci = pt_jv_get(ch, "index");
        if (pt_jv_is_integer(ci) && pt_jv_int(ci) != 0) continue; /* n > 1 is not translated */
        const pt_jv *d = pt_jv_get(ch, "delta");
        if (pt_jv_is_object(d)) {
            const pt_jv *r = pt_jv_get(d, "reasoning_content");
            if (!r) r = pt_jv_get(d, "reasoning");
            if ((rc = text_delta(s, PT_PART_THINKING, pt_jv_str(r), cb, arg, err))) goto out;
            if ((rc = text_delta(s, PT_PART_TEXT, pt_jv_str(pt_jv_get(d, "content")), cb, arg, err))) goto out;
            if ((rc = text_delta(s, PT_PART_TEXT, pt_jv_str(pt_jv_get(d, "refusal")), cb, arg, err))) goto out;
            const pt_jv *calls = pt_jv_get(d, "tool_calls");
            if (pt_jv_is_array(calls) && (rc = tool_deltas(s, calls, cb, arg, err))) goto out;
        }
        const char *fr = pt_jv_cstr(pt_jv_get(ch, "finish_reason"));
        if (fr) {
            s->stop = pt__oai_stop(fr);
            s->finished = true;
            if ((rc = pt__blocks_close(&s->blk, cb, arg))) goto out;
        }
    }
out:
    pt_pool_release(&scratch);
    return rc;
}

static int oai_end(void *p, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    oai_stream *s = p;
    if (s->done) return 0;
    if (s->finished) return finish(s, cb, arg);
    return pt_ai_error_set(err, PT_AI_ERR_PROTOCOL, 502, NULL,
                           "provider '%s' ended the stream before it was complete", s->ctx.cfg ? s->ctx.cfg->name : "?");
}

const pt__stream_ops pt__oai_stream_ops = {
    .size = sizeof(oai_stream),
    .init = oai_init,
    .event = oai_event,
    .end = oai_end,
    .release = oai_release,
};

/* ---- errors -------------------------------------------------------------------------- */

void pt__classify_common(const pt__prov_ctx *c, int status, const pt_ai_header *h, size_t nh, const char *body,
                      size_t len, pt_ai_error *err)
{
    char msg[PT_AI_ERRMSG_MAX];
    msg[0] = '\0';
    pt_pool scratch;
    pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
    const pt_jv *root = pt_jdom_parse(&scratch, body, len, NULL);
    if (root) {
        const pt_jv *e = pt_jv_get(root, "error");
        const char *m = pt_jv_cstr(pt_jv_get(e, "message"));
        if (!m) m = pt_jv_cstr(e);                           /* {"error":"text"} */
        if (!m) m = pt_jv_cstr(pt_jv_get(root, "message")); /* Mistral */
        if (!m) {
            const pt_jv *d = pt_jv_get(root, "detail");      /* validation errors */
            if (pt_jv_is_string(d)) m = pt_jv_cstr(d);
            else if (pt_jv_is_array(d)) m = pt_jv_cstr(pt_jv_get(pt_jv_at(d, 0), "msg"));
        }
        if (m) snprintf(msg, sizeof msg, "%s", m);
    } else if (len) {
        snprintf(msg, sizeof msg, "%.*s", (int)(len < 200 ? len : 200), body);
    }
    pt_pool_release(&scratch);
    err->retry_after_ms = pt__retry_after_ms(h, nh);
    pt__classify_status(c, status, msg, err);
}

/* ---- the openai type ----------------------------------------------------------------- */

int pt__oai_head(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err)
{
    const char *path = c->ep == PT_AI_EP_EMBEDDINGS      ? "/embeddings"
                       : c->ep == PT_AI_EP_COUNT_TOKENS ? "/responses/input_tokens"
                       : c->responses                   ? "/responses"
                                                        : "/chat/completions";
    up->method = "POST";
    int rc = pt__up_path(up, c->cfg, path);
    if (!rc) rc = pt__up_header(up, "content-type", "application/json");
    if (!rc && c->bearer) {
        rc = pt__up_header(up, "authorization", c->bearer);
    } else if (!rc && c->key) {
        size_t n = strlen(c->key);
        char *auth = pt_pool_alloc_raw(up->arena, n + 8);
        if (!auth) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "out of memory");
        memcpy(auth, "Bearer ", 7);
        memcpy(auth + 7, c->key, n + 1);
        rc = pt__up_header(up, "authorization", auth);
    }
    if (!rc) rc = pt__up_extra_headers(up, c->cfg);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot build the upstream request");
    return 0;
}

static int openai_render(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    pt__oai_opts o = { .max_completion_tokens = true, .stream_options = c->cfg->stream_usage,
                       .reasoning_effort = true, .send_model = true };
    return pt__oai_render_chat(c, r, &o, body, err);
}

/* ---- count_tokens: OpenAI's input token counter ---------------------------------------------
 *
 * POST /responses/input_tokens takes a Responses API request and answers
 * {"object":"response.input_tokens","input_tokens":N}. The pivot goes out as Responses
 * input items: messages with input_text / input_image / input_file parts, assistant text,
 * function_call and function_call_output items, instructions for the system prompt, and
 * function tools (strict off: the count must not depend on the schema being strict-ready).
 * Audio has no place in Responses message content: such a request is estimated locally. */

static void resp_data_url(pt_jw *w, const char *key, const pt_part *p)
{
    pt_buf u = PT_BUF_INIT;
    if (pt_buf_append_str(&u, "data:") || pt_buf_append_slice(&u, p->media_type) || pt_buf_append_str(&u, ";base64,") ||
        pt_buf_append_slice(&u, p->data))
        w->err = PT_ENOMEM;
    pt_jw_kstr(w, key, pt_buf_slice(&u));
    pt_buf_release(&u);
}

static void resp_content_part(pt_jw *w, const pt_part *p)
{
    pt_jw_obj(w);
    if (p->type == PT_PART_TEXT || (p->type == PT_PART_FILE && p->text.len)) {
        pt_jw_kcstr(w, "type", "input_text");
        pt_jw_kstr(w, "text", p->text);
    } else if (p->type == PT_PART_IMAGE) {
        pt_jw_kcstr(w, "type", "input_image");
        pt_jw_kcstr(w, "detail", "auto");
        if (p->url.len) pt_jw_kstr(w, "image_url", p->url);
        else resp_data_url(w, "image_url", p);
    } else { /* a PDF (pt__check_files) */
        pt_jw_kcstr(w, "type", "input_file");
        if (p->url.len) {
            pt_jw_kstr(w, "file_url", p->url);
        } else {
            pt_jw_kstr(w, "filename", p->name.len ? p->name : PT_SLICE_LIT("document.pdf"));
            resp_data_url(w, "file_data", p);
        }
    }
    pt_jw_obj_end(w);
}

static bool resp_content(const pt_part *p)
{
    return (p->type == PT_PART_TEXT && p->text.len) || p->type == PT_PART_IMAGE || p->type == PT_PART_FILE;
}

static void resp_user(pt_jw *w, const pt_msg *m)
{
    bool other = false;
    for (size_t i = 0; i < m->nparts; i++) {
        const pt_part *p = &m->parts[i];
        if (p->type != PT_PART_TOOL_RESULT) {
            other = other || resp_content(p);
            continue;
        }
        pt_jw_obj(w);
        pt_jw_kcstr(w, "type", "function_call_output");
        pt_jw_kstr(w, "call_id", p->tool_use_id);
        pt_jw_key(w, "output");
        join_text(w, p->content, p->ncontent, "\n");
        pt_jw_obj_end(w);
    }
    if (!other) return;
    pt_jw_obj(w);
    pt_jw_kcstr(w, "role", "user");
    pt_jw_key(w, "content");
    pt_jw_arr(w);
    for (size_t i = 0; i < m->nparts; i++)
        if (resp_content(&m->parts[i])) resp_content_part(w, &m->parts[i]);
    pt_jw_arr_end(w);
    pt_jw_obj_end(w);
}

static void resp_assistant(pt_jw *w, const pt_msg *m)
{
    bool text = false;
    for (size_t i = 0; i < m->nparts; i++) text = text || (m->parts[i].type == PT_PART_TEXT && m->parts[i].text.len);
    if (text) {
        pt_jw_obj(w);
        pt_jw_kcstr(w, "role", "assistant");
        pt_jw_key(w, "content");
        join_text(w, m->parts, m->nparts, "");
        pt_jw_obj_end(w);
    }
    for (size_t i = 0; i < m->nparts; i++) {
        const pt_part *p = &m->parts[i];
        if (p->type != PT_PART_TOOL_USE) continue;
        pt_jw_obj(w);
        pt_jw_kcstr(w, "type", "function_call");
        pt_jw_kstr(w, "call_id", p->id);
        pt_jw_kstr(w, "name", p->name);
        pt_jw_kstr(w, "arguments", p->arguments.len ? p->arguments : PT_SLICE_LIT("{}"));
        pt_jw_obj_end(w);
    }
}

static int openai_render_count(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    if (pt__check_files(c, r, PT__FILE_PDF | PT__FILE_PDF_URL | PT__FILE_TEXT, err)) return -1;
    pt_jw w;
    pt_jw_init(&w, body);
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "model", c->model);
    if (r->nsystem) {
        pt_jw_key(&w, "instructions");
        join_text(&w, r->system, r->nsystem, "\n");
    }
    pt_jw_key(&w, "input");
    pt_jw_arr(&w);
    for (size_t i = 0; i < r->nmsgs; i++) {
        if (r->msgs[i].role == PT_ROLE_USER) resp_user(&w, &r->msgs[i]);
        else resp_assistant(&w, &r->msgs[i]);
    }
    pt_jw_arr_end(&w);
    if (r->ntools) {
        pt_jw_key(&w, "tools");
        pt_jw_arr(&w);
        for (size_t i = 0; i < r->ntools; i++) {
            pt_jw_obj(&w);
            pt_jw_kcstr(&w, "type", "function");
            pt__tool_members(&w, &r->tools[i], "parameters");
            pt_jw_kbool(&w, "strict", false);
            pt_jw_obj_end(&w);
        }
        pt_jw_arr_end(&w);
    }
    pt_jw_obj_end(&w);
    if (w.err) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render");
    return 0;
}

static int openai_parse_count(const pt__prov_ctx *c, const char *body, size_t len, int64_t *tokens, pt_ai_error *err)
{
    return pt__count_field(c, body, len, "input_tokens", tokens, err);
}

const pt__prov pt__prov_openai = {
    .type = PT_AI_PROV_OPENAI,
    .wire = PT__WIRE_OPENAI,
    .head = pt__oai_head,
    .render_chat = openai_render,
    .parse_chat = pt__oai_parse_chat,
    .stream = &pt__oai_stream_ops,
    .render_count = openai_render_count,
    .parse_count = openai_parse_count,
    .embed_ok = true,
    .classify = pt__classify_common,
    .passthrough = true,
};
