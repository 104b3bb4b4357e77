/* prov_anthropic.c: Anthropic Messages as a provider (POST {base}/v1/messages, x-api-key,
 * anthropic-version). Renders the pivot request, reads whole and streamed answers
 * (usage arrives in two parts: input and cache counts in message_start, output in
 * message_delta), classifies errors, and forwards count_tokens. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ai/prov.h"
#include "core/err.h"
#include "core/json_scan.h"
#include "core/json_write.h"
#include "core/str.h"

#define MAX_BLOCKS PT__MAX_BLOCKS
#define ANTHROPIC_VERSION "2023-06-01"
#define MIN_THINKING_BUDGET 1024

/* ---- request ------------------------------------------------------------------------- */

static int head(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err)
{
    up->method = "POST";
    int rc = pt__up_path(up, c->cfg, c->ep == PT_AI_EP_COUNT_TOKENS ? "/v1/messages/count_tokens" : "/v1/messages");
    if (!rc) rc = pt__up_header(up, "content-type", "application/json");
    if (!rc && c->key) rc = pt__up_header(up, "x-api-key", c->key);
    if (!rc) rc = pt__up_header(up, "anthropic-version", c->cfg->api_version ? c->cfg->api_version : ANTHROPIC_VERSION);
    if (!rc) rc = pt__up_extra_headers(up, c->cfg);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot build the upstream request");
    return 0;
}

bool pt__json_object_text(pt_slice text, pt_slice *obj)
{
    size_t open, close, nf;
    if (!text.len || pt_jscan_object(text.ptr, text.len, 0, NULL, 0, &nf, &open, &close)) return false;
    for (size_t i = close + 1; i < text.len; i++)
        if (!strchr(" \t\r\n", text.ptr[i])) return false;
    *obj = pt_slice_from(text.ptr + open, close + 1 - open);
    return true;
}

/* An image or document block: {"type":..., "source": url / text / base64, "title"?}. A FILE
 * part gets here only as a PDF, a PDF URL or plain text (pt__check_files). */
static void media_block(pt_jw *w, const char *type, const pt_part *p)
{
    pt_jw_obj(w);
    pt_jw_kcstr(w, "type", type);
    pt_jw_key(w, "source");
    pt_jw_obj(w);
    if (p->url.len) {
        pt_jw_kcstr(w, "type", "url");
        pt_jw_kstr(w, "url", p->url);
    } else if (p->text.len) {
        pt_jw_kcstr(w, "type", "text");
        pt_jw_kcstr(w, "media_type", "text/plain");
        pt_jw_kstr(w, "data", p->text);
    } else {
        pt_jw_kcstr(w, "type", "base64");
        pt_jw_kstr(w, "media_type", p->media_type);
        pt_jw_kstr(w, "data", p->data);
    }
    pt_jw_obj_end(w);
    if (p->type == PT_PART_FILE && p->name.len) pt_jw_kstr(w, "title", p->name);
    pt_jw_obj_end(w);
}

static void image(pt_jw *w, const pt_part *p) { media_block(w, "image", p); }

static bool renderable(const pt_part *p)
{
    switch (p->type) {
    case PT_PART_TEXT: return p->text.len > 0;
    case PT_PART_THINKING: /* unsigned reasoning (other providers) and Gemini's are dropped */
        return p->signature.len > 0 && !pt_slice_starts_with(p->signature, PT_SLICE_LIT(PT_GEMINI_THINKING_SIG));
    default: return true;
    }
}

static int part(pt_jw *w, const pt_part *p, size_t msg, pt_ai_error *err)
{
    switch (p->type) {
    case PT_PART_TEXT:
        pt_jw_obj(w);
        pt_jw_kcstr(w, "type", "text");
        pt_jw_kstr(w, "text", p->text);
        pt_jw_obj_end(w);
        break;
    case PT_PART_IMAGE: image(w, p); break;
    case PT_PART_FILE: media_block(w, "document", p); break;
    case PT_PART_TOOL_USE: {
        pt_slice obj = PT_SLICE_LIT("{}");
        if (p->arguments.len && !pt__json_object_text(p->arguments, &obj)) {
            char path[48];
            pt_str_index(path, sizeof path, "messages", "", msg);
            return pt_ai_error_set(err, PT_AI_ERR_INVALID, 400, path,
                                   "%s: the arguments of tool call '%.*s' are not a JSON object", path,
                                   PT_SLICE_ARG(p->id));
        }
        pt_jw_obj(w);
        pt_jw_kcstr(w, "type", "tool_use");
        pt_jw_kstr(w, "id", p->id);
        pt_jw_kstr(w, "name", p->name);
        pt_jw_key(w, "input");
        pt_jw_raw(w, obj);
        pt_jw_obj_end(w);
        break;
    }
    case PT_PART_TOOL_RESULT:
        pt_jw_obj(w);
        pt_jw_kcstr(w, "type", "tool_result");
        pt_jw_kstr(w, "tool_use_id", p->tool_use_id);
        if (p->ncontent) {
            pt_jw_key(w, "content");
            pt_jw_arr(w);
            for (size_t k = 0; k < p->ncontent; k++) {
                if (p->content[k].type == PT_PART_IMAGE) {
                    image(w, &p->content[k]);
                } else if (p->content[k].text.len) {
                    pt_jw_obj(w);
                    pt_jw_kcstr(w, "type", "text");
                    pt_jw_kstr(w, "text", p->content[k].text);
                    pt_jw_obj_end(w);
                }
            }
            pt_jw_arr_end(w);
        }
        if (p->is_error) pt_jw_kbool(w, "is_error", true);
        pt_jw_obj_end(w);
        break;
    case PT_PART_THINKING:
        pt_jw_obj(w);
        pt_jw_kcstr(w, "type", "thinking");
        pt_jw_kstr(w, "thinking", p->text);
        pt_jw_kstr(w, "signature", p->signature);
        pt_jw_obj_end(w);
        break;
    case PT_PART_REDACTED_THINKING:
        pt_jw_obj(w);
        pt_jw_kcstr(w, "type", "redacted_thinking");
        pt_jw_kstr(w, "data", p->text);
        pt_jw_obj_end(w);
        break;
    }
    return 0;
}

/* Within a user message tool results come first; within an assistant message reasoning. */
static bool first(pt_role role, const pt_part *p)
{
    return role == PT_ROLE_USER ? p->type == PT_PART_TOOL_RESULT
                                : (p->type == PT_PART_THINKING || p->type == PT_PART_REDACTED_THINKING);
}

static int turn_part(pt_jw *w, const pt__prov_ctx *c, const pt_part *p, size_t msg, pt_ai_error *err)
{
    (void)c;
    return part(w, p, msg, err);
}

/* Anthropic wants strict alternation. */
static const pt__turns turns = { renderable, first, turn_part };

int pt__system_text(const pt_pivot_req *r, pt_buf *t)
{
    bool json = r->response_format == PT_RESP_FORMAT_JSON_OBJECT || r->response_format == PT_RESP_FORMAT_JSON_SCHEMA;
    int rc = 0;
    for (size_t i = 0; i < r->nsystem; i++) {
        if (i) rc |= pt_buf_append_str(t, "\n");
        rc |= pt_buf_append_slice(t, r->system[i].text);
    }
    if (json) {
        if (t->len) rc |= pt_buf_append_str(t, "\n\n");
        rc |= pt_buf_append_str(t, "Respond with a single JSON object and nothing else.");
        if (r->response_format == PT_RESP_FORMAT_JSON_SCHEMA && r->response_schema.len) {
            rc |= pt_buf_append_str(t, " It must conform to this JSON Schema: ");
            rc |= pt_buf_append_slice(t, r->response_schema);
        }
    }
    return rc ? PT_ENOMEM : 0;
}

static void system_prompt(pt_jw *w, const pt_pivot_req *r)
{
    bool json = r->response_format == PT_RESP_FORMAT_JSON_OBJECT || r->response_format == PT_RESP_FORMAT_JSON_SCHEMA;
    if (!r->nsystem && !json) return;
    pt_buf t = PT_BUF_INIT;
    if (pt__system_text(r, &t)) w->err = PT_ENOMEM;
    pt_jw_kstr(w, "system", pt_buf_slice(&t));
    pt_buf_release(&t);
}

static void tools(pt_jw *w, const pt_pivot_req *r)
{
    if (!r->ntools) return;
    pt_jw_key(w, "tools");
    pt_jw_arr(w);
    for (size_t i = 0; i < r->ntools; i++) {
        pt_jw_obj(w);
        pt__tool_members(w, &r->tools[i], "input_schema");
        pt_jw_obj_end(w);
    }
    pt_jw_arr_end(w);
    const char *type = NULL;
    switch (r->tool_choice) {
    case PT_TOOL_CHOICE_AUTO: type = "auto"; break;
    case PT_TOOL_CHOICE_NONE: type = "none"; break;
    case PT_TOOL_CHOICE_ANY: type = "any"; break;
    case PT_TOOL_CHOICE_TOOL: type = "tool"; break;
    case PT_TOOL_CHOICE_UNSET: type = r->parallel_tool_calls == 0 ? "auto" : NULL; break;
    }
    if (!type) return;
    pt_jw_key(w, "tool_choice");
    pt_jw_obj(w);
    pt_jw_kcstr(w, "type", type);
    if (r->tool_choice == PT_TOOL_CHOICE_TOOL) pt_jw_kstr(w, "name", r->tool_choice_name);
    if (r->parallel_tool_calls == 0 && r->tool_choice != PT_TOOL_CHOICE_NONE)
        pt_jw_kbool(w, "disable_parallel_tool_use", true);
    pt_jw_obj_end(w);
}

static int render_chat(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    int64_t max_tokens = r->max_tokens > 0 ? r->max_tokens : c->cfg->default_max_tokens;
    int64_t budget = r->reasoning_budget;
    if (budget > 0 && budget >= max_tokens) budget = max_tokens - 1;
    bool thinking = budget >= MIN_THINKING_BUDGET;
    if (pt__check_files(c, r, PT__FILE_PDF | PT__FILE_PDF_URL | PT__FILE_TEXT, err)) return -1;
    pt_jw w;
    pt_jw_init(&w, body);
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "model", c->model);
    if (c->ep != PT_AI_EP_COUNT_TOKENS) pt_jw_kint(&w, "max_tokens", max_tokens);
    system_prompt(&w, r);
    if (pt__render_turns(&w, c, r, &turns, err)) return -1;
    if (c->ep != PT_AI_EP_COUNT_TOKENS) {
        /* extended thinking refuses temperature and top_k changes */
        if (!isnan(r->temperature) && !thinking) {
            pt_jw_key(&w, "temperature");
            pt_jw_num(&w, r->temperature > 1.0 ? 1.0 : r->temperature);
        }
        if (!isnan(r->top_p)) {
            pt_jw_key(&w, "top_p");
            pt_jw_num(&w, r->top_p);
        }
        if (r->top_k >= 0 && !thinking) pt_jw_kint(&w, "top_k", r->top_k);
        if (r->nstop) {
            pt_jw_key(&w, "stop_sequences");
            pt_jw_arr(&w);
            for (size_t i = 0; i < r->nstop; i++) pt_jw_str(&w, r->stop[i]);
            pt_jw_arr_end(&w);
        }
        if (r->stream) pt_jw_kbool(&w, "stream", true);
    }
    tools(&w, r);
    if (thinking) {
        pt_jw_key(&w, "thinking");
        pt_jw_obj(&w);
        pt_jw_kcstr(&w, "type", "enabled");
        pt_jw_kint(&w, "budget_tokens", budget);
        pt_jw_obj_end(&w);
    }
    if (r->user.len && c->ep != PT_AI_EP_COUNT_TOKENS) {
        pt_jw_key(&w, "metadata");
        pt_jw_obj(&w);
        pt_jw_kstr(&w, "user_id", r->user);
        pt_jw_obj_end(&w);
    }
    pt_jw_obj_end(&w);
    if (w.err) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render");
    return 0;
}

/* ---- answers ------------------------------------------------------------------------- */

pt_stop_reason pt__ant_stop(const char *s)
{
    if (!s) return PT_STOP_NONE;
    if (strcmp(s, "end_turn") == 0 || strcmp(s, "pause_turn") == 0) return PT_STOP_END_TURN;
    if (strcmp(s, "max_tokens") == 0 || strcmp(s, "model_context_window_exceeded") == 0) return PT_STOP_MAX_TOKENS;
    if (strcmp(s, "stop_sequence") == 0) return PT_STOP_STOP_SEQUENCE;
    if (strcmp(s, "tool_use") == 0) return PT_STOP_TOOL_USE;
    if (strcmp(s, "refusal") == 0) return PT_STOP_CONTENT_FILTER;
    return PT_STOP_END_TURN;
}

static int64_t jint(const pt_jv *v) { return pt_jv_is_integer(v) ? (int64_t)pt_jv_int(v) : -1; }

void pt__ant_usage(const pt_jv *u, pt_usage *out)
{
    *out = PT_USAGE_UNKNOWN;
    if (!pt_jv_is_object(u)) return;
    out->input = jint(pt_jv_get(u, "input_tokens"));
    out->output = jint(pt_jv_get(u, "output_tokens"));
    out->cache_read = jint(pt_jv_get(u, "cache_read_input_tokens"));
    out->cache_write = jint(pt_jv_get(u, "cache_creation_input_tokens"));
}

static int parse_chat(const pt__prov_ctx *c, const char *body, size_t len, pt_pivot_resp *out, pt_ai_error *err)
{
    const pt_jv *root = pt_jdom_parse(&out->arena, body, len, NULL);
    if (!root) return pt__bad_upstream(err, c, "not JSON");
    const pt_jv *content = pt_jv_get(root, "content");
    if (!pt_jv_is_array(content)) return pt__bad_upstream(err, c, "no content array");
    out->id = pt_jv_str(pt_jv_get(root, "id"));
    out->model = pt_jv_str(pt_jv_get(root, "model"));
    size_t cap = 0, i;
    const pt_jv *b;
    PT_JV_FOREACH(content, i, b) {
        const char *type = pt_jv_cstr(pt_jv_get(b, "type"));
        if (!type) continue;
        pt_part tmp;
        memset(&tmp, 0, sizeof tmp);
        if (strcmp(type, "text") == 0) {
            tmp.type = PT_PART_TEXT;
            tmp.text = pt_jv_str(pt_jv_get(b, "text"));
        } else if (strcmp(type, "tool_use") == 0) {
            tmp.type = PT_PART_TOOL_USE;
            tmp.id = pt_jv_str(pt_jv_get(b, "id"));
            tmp.name = pt_jv_str(pt_jv_get(b, "name"));
            const pt_jv *in = pt_jv_get(b, "input");
            tmp.arguments = in ? in->raw : PT_SLICE_LIT("{}");
        } else if (strcmp(type, "thinking") == 0) {
            tmp.type = PT_PART_THINKING;
            tmp.text = pt_jv_str(pt_jv_get(b, "thinking"));
            tmp.signature = pt_jv_str(pt_jv_get(b, "signature"));
        } else if (strcmp(type, "redacted_thinking") == 0) {
            tmp.type = PT_PART_REDACTED_THINKING;
            tmp.text = pt_jv_str(pt_jv_get(b, "data"));
        } else {
            continue; /* server tool blocks have no counterpart in other formats */
        }
        pt_part *p = pt__parts_push_resp(out, &cap);
        if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "answer too large");
        *p = tmp;
    }
    out->stop = pt__ant_stop(pt_jv_cstr(pt_jv_get(root, "stop_reason")));
    if (out->stop == PT_STOP_NONE) out->stop = PT_STOP_END_TURN;
    out->stop_sequence = pt_jv_str(pt_jv_get(root, "stop_sequence"));
    pt__ant_usage(pt_jv_get(root, "usage"), &out->usage);
    return 0;
}

/* ---- stream -------------------------------------------------------------------------- *
 *
 * Anthropic's events already are the pivot's shape. The parser renumbers blocks (blocks
 * of kinds other formats cannot carry, such as server tool results, are skipped, and
 * the pivot's indexes stay contiguous), keeps the usage of message_start, and merges
 * message_delta's usage into it. */

typedef struct ant_stream {
    pt__prov_ctx ctx;
    bool started, done;
    int nblocks;
    int map[MAX_BLOCKS];      /* upstream index -> pivot index, -1 skipped or unseen */
    pt_usage usage;
    char id[128], model[128];
} ant_stream;

static void st_init(void *p, const pt__prov_ctx *ctx)
{
    ant_stream *s = p;
    memset(s, 0, sizeof *s);
    s->ctx = *ctx;
    for (int i = 0; i < MAX_BLOCKS; i++) s->map[i] = -1;
    s->usage = PT_USAGE_UNKNOWN;
}

static void st_release(void *p) { (void)p; }

static int mapped(ant_stream *s, const pt_jv *root)
{
    int64_t i = jint(pt_jv_get(root, "index"));
    if (i < 0 || i >= MAX_BLOCKS) return -1;
    return s->map[i];
}

static int stream_error(ant_stream *s, const pt_jv *e, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    const char *type = pt_jv_cstr(pt_jv_get(e, "type"));
    const char *msg = pt_jv_cstr(pt_jv_get(e, "message"));
    int status = 500;
    if (type && strcmp(type, "overloaded_error") == 0) status = 529;
    else if (type && strcmp(type, "rate_limit_error") == 0) status = 429;
    else if (type && strcmp(type, "invalid_request_error") == 0) status = 400;
    pt__classify_status(&s->ctx, status, msg, err);
    s->done = true;
    pt_ev ev = { .type = PT_EV_ERROR, .error = err };
    int rc = cb(arg, &ev);
    return rc ? rc : -1;
}

static int block_start(ant_stream *s, const pt_jv *root, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    int64_t up = jint(pt_jv_get(root, "index"));
    const pt_jv *b = pt_jv_get(root, "content_block");
    const char *type = pt_jv_cstr(pt_jv_get(b, "type"));
    if (up < 0 || up >= MAX_BLOCKS || !type) return pt__bad_upstream(err, &s->ctx, "bad content_block_start");
    pt_ev ev = { .type = PT_EV_BLOCK_START };
    pt_slice initial = PT_SLICE_NULL;
    if (strcmp(type, "text") == 0) {
        ev.block = PT_PART_TEXT;
        initial = pt_jv_str(pt_jv_get(b, "text"));
    } else if (strcmp(type, "tool_use") == 0) {
        ev.block = PT_PART_TOOL_USE;
        ev.id = pt_jv_str(pt_jv_get(b, "id"));
        ev.name = pt_jv_str(pt_jv_get(b, "name"));
    } else if (strcmp(type, "thinking") == 0) {
        ev.block = PT_PART_THINKING;
        initial = pt_jv_str(pt_jv_get(b, "thinking"));
    } else if (strcmp(type, "redacted_thinking") == 0) {
        ev.block = PT_PART_REDACTED_THINKING;
        ev.text = pt_jv_str(pt_jv_get(b, "data"));
    } else {
        return 0;
    }
    if (s->nblocks >= MAX_BLOCKS) return pt__bad_upstream(err, &s->ctx, "too many content blocks");
    ev.index = s->map[up] = s->nblocks++;
    int rc = cb(arg, &ev);
    if (rc || !initial.len) return rc;
    pt_ev d = { .type = ev.block == PT_PART_TEXT ? PT_EV_TEXT_DELTA : PT_EV_THINKING_DELTA, .index = ev.index,
                .text = initial };
    return cb(arg, &d);
}

static int block_delta(ant_stream *s, const pt_jv *root, pt_ev_cb cb, void *arg)
{
    int idx = mapped(s, root);
    if (idx < 0) return 0;
    const pt_jv *d = pt_jv_get(root, "delta");
    const char *type = pt_jv_cstr(pt_jv_get(d, "type"));
    if (!type) return 0;
    pt_ev ev = { .index = idx };
    if (strcmp(type, "text_delta") == 0) {
        ev.type = PT_EV_TEXT_DELTA;
        ev.text = pt_jv_str(pt_jv_get(d, "text"));
    } else if (strcmp(type, "input_json_delta") == 0) {
        ev.type = PT_EV_TOOL_ARGS_DELTA;
        ev.text = pt_jv_str(pt_jv_get(d, "partial_json"));
    } else if (strcmp(type, "thinking_delta") == 0) {
        ev.type = PT_EV_THINKING_DELTA;
        ev.text = pt_jv_str(pt_jv_get(d, "thinking"));
    } else if (strcmp(type, "signature_delta") == 0) {
        ev.type = PT_EV_SIGNATURE_DELTA;
        ev.text = pt_jv_str(pt_jv_get(d, "signature"));
    } else {
        return 0; /* citations and future delta kinds */
    }
    return ev.text.len ? cb(arg, &ev) : 0;
}

static int st_event(void *p, const pt_sse_event *sev, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    ant_stream *s = p;
    if (s->done) return 0;
    pt_pool scratch;
    pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
    const pt_jv *root = pt_jdom_parse(&scratch, sev->data.ptr, sev->data.len, NULL);
    if (!pt_jv_is_object(root)) {
        pt_pool_release(&scratch);
        return pt__bad_upstream(err, &s->ctx, "an event is not a JSON object");
    }
    const char *type = pt_jv_cstr(pt_jv_get(root, "type"));
    int rc = 0;
    if (!type) {
        rc = pt__bad_upstream(err, &s->ctx, "an event has no type");
    } else if (strcmp(type, "message_start") == 0) {
        const pt_jv *m = pt_jv_get(root, "message");
        pt__copy_str(s->id, sizeof s->id, pt_jv_str(pt_jv_get(m, "id")));
        pt__copy_str(s->model, sizeof s->model, pt_jv_str(pt_jv_get(m, "model")));
        pt_usage u;
        pt__ant_usage(pt_jv_get(m, "usage"), &u);
        pt_usage_merge(&s->usage, &u);
        s->started = true;
        pt_ev ev = { .type = PT_EV_MESSAGE_START, .id = pt_slice_cstr(s->id), .model = pt_slice_cstr(s->model),
                     .usage = s->usage };
        rc = cb(arg, &ev);
    } else if (!s->started && strcmp(type, "error") != 0 && strcmp(type, "ping") != 0) {
        rc = pt__bad_upstream(err, &s->ctx, "the stream did not start with message_start");
    } else if (strcmp(type, "content_block_start") == 0) {
        rc = block_start(s, root, cb, arg, err);
    } else if (strcmp(type, "content_block_delta") == 0) {
        rc = block_delta(s, root, cb, arg);
    } else if (strcmp(type, "content_block_stop") == 0) {
        int idx = mapped(s, root);
        if (idx >= 0) {
            pt_ev ev = { .type = PT_EV_BLOCK_STOP, .index = idx };
            rc = cb(arg, &ev);
        }
    } else if (strcmp(type, "message_delta") == 0) {
        const pt_jv *d = pt_jv_get(root, "delta");
        pt_usage u;
        pt__ant_usage(pt_jv_get(root, "usage"), &u);
        pt_usage_merge(&s->usage, &u);
        pt_ev ev = { .type = PT_EV_MESSAGE_DELTA,
                     .stop = pt__ant_stop(pt_jv_cstr(pt_jv_get(d, "stop_reason"))),
                     .stop_sequence = pt_jv_str(pt_jv_get(d, "stop_sequence")),
                     .usage = s->usage };
        if (ev.stop == PT_STOP_NONE) ev.stop = PT_STOP_END_TURN;
        rc = cb(arg, &ev);
    } else if (strcmp(type, "message_stop") == 0) {
        s->done = true;
        pt_ev ev = { .type = PT_EV_MESSAGE_STOP };
        rc = cb(arg, &ev);
    } else if (strcmp(type, "error") == 0) {
        rc = stream_error(s, pt_jv_get(root, "error"), cb, arg, err);
    }
    /* ping and unknown event types are ignored, as the API's versioning policy asks */
    pt_pool_release(&scratch);
    return rc;
}

static int st_end(void *p, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    (void)cb;
    (void)arg;
    ant_stream *s = p;
    if (s->done) return 0;
    return pt_ai_error_set(err, PT_AI_ERR_PROTOCOL, 502, NULL,
                           "provider '%s' ended the stream before message_stop", s->ctx.cfg ? s->ctx.cfg->name : "?");
}

const pt__stream_ops pt__ant_stream_ops = {
    .size = sizeof(ant_stream),
    .init = st_init,
    .event = st_event,
    .end = st_end,
    .release = st_release,
};

const pt__prov pt__prov_anthropic = {
    .type = PT_AI_PROV_ANTHROPIC,
    .wire = PT__WIRE_ANTHROPIC,
    .head = head,
    .render_chat = render_chat,
    .parse_chat = parse_chat,
    .stream = &pt__ant_stream_ops,
    .embed_ok = false,
    .count_upstream = true,
    .classify = pt__classify_common,
    .passthrough = true,
};
