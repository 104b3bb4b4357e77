/* prov_bedrock.c: AWS Bedrock through the Converse API (POST {base}/model/{modelId}/converse,
 * and /converse-stream answered in the AWS event-stream framing), signed with SigV4
 * (sigv4.h) using the provider's access key, secret and optional session token.
 *
 * Mapped: system prompt, messages (text, base64 images, tool use and tool results),
 * tools and tool choice (toolConfig), maxTokens / temperature / topP / stopSequences
 * (inferenceConfig), stop reasons, usage including cache reads and writes, reasoning
 * text in answers. Not mapped: documents and audio (refused with a 400), image URLs
 * (refused), reasoning sent back in later turns (dropped), top_k and other
 * model-specific fields (additionalModelRequestFields), guardrails. Embeddings through
 * InvokeModel (POST {base}/model/{modelId}/invoke): Amazon Titan (one text) and Cohere
 * (a batch, with an input_type) bodies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/prov.h"
#include "ai/sigv4.h"
#include "core/err.h"
#include "core/json_write.h"
#include "core/str.h"

#define MAX_BLOCKS PT__MAX_BLOCKS

/* ---- request ------------------------------------------------------------------------- */

static int head(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err)
{
    pt_buf path = PT_BUF_INIT;
    int rc = pt_buf_append_str(&path, "/model/");
    /* every reserved byte of a model id (':' in versions, '/' in ARNs) is escaped */
    if (!rc) rc = pt_sigv4_uri_encode(&path, pt_slice_cstr(c->model), false);
    if (!rc)
        rc = pt_buf_append_str(&path, c->ep == PT_AI_EP_EMBEDDINGS ? "/invoke" : c->stream ? "/converse-stream" : "/converse");
    if (!rc) rc = pt_buf_append(&path, "", 1);
    up->method = "POST";
    if (!rc) rc = pt__up_path(up, c->cfg, path.data);
    pt_buf_release(&path);
    if (!rc) rc = pt__up_header(up, "content-type", "application/json");
    if (!rc) rc = pt__up_header(up, "accept", c->stream ? "application/vnd.amazon.eventstream" : "application/json");
    if (!rc) rc = pt__up_extra_headers(up, c->cfg);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot build the upstream request");
    return 0;
}

/* The Host field's value, as the provider's requests carry it: its line, "Host: ...\r\n",
 * is written once at load (ai_config_load.c). */
static pt_slice host_value(const pt_ai_provider *p)
{
    return pt_slice_from(p->host_line + 6, strlen(p->host_line) - 8);
}

static int sign(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err)
{
    const pt_ai_provider *p = c->cfg;
    char date[17], hash[65];
    pt_sigv4_date(c->now_unix, date);
    pt_sha256_hex(up->body.data ? up->body.data : "", up->body.len, hash);
    /* the canonical URI is the path as sent, encoded once more (every service but S3) */
    pt_buf uri = PT_BUF_INIT, auth = PT_BUF_INIT;
    pt_slice path = up->path;
    const char *q = memchr(path.ptr, '?', path.len);
    if (q) path.len = (size_t)(q - path.ptr); /* Converse paths carry no query */
    int rc = pt_sigv4_uri_encode(&uri, path, true);
    pt_sigv4 s = { .method = up->method, .canonical_uri = pt_buf_slice(&uri), .payload_hash = hash,
                   .amz_date = date, .region = p->region, .service = "bedrock", .access_key_id = p->access_key_id,
                   .secret_access_key = p->secret_access_key };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "content-type", PT_SLICE_LIT("application/json") };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "host", host_value(p) };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "x-amz-content-sha256", pt_slice_cstr(hash) };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "x-amz-date", pt_slice_cstr(date) };
    if (p->session_token)
        s.headers[s.nheaders++] = (pt_sigv4_header){ "x-amz-security-token", pt_slice_cstr(p->session_token) };
    if (!rc) rc = pt_sigv4_authorization(&s, &auth, NULL);
    if (!rc) rc = pt__up_header_n(up, "x-amz-date", pt_slice_cstr(date));
    if (!rc) rc = pt__up_header_n(up, "x-amz-content-sha256", pt_slice_cstr(hash));
    if (!rc && p->session_token) rc = pt__up_header(up, "x-amz-security-token", p->session_token);
    if (!rc) rc = pt__up_header_n(up, "authorization", pt_buf_slice(&auth));
    pt_buf_release(&uri);
    pt_buf_release(&auth);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot sign the upstream request");
    return 0;
}

/* "image/png" -> "png"; NULL for a type Converse does not take. */
static const char *image_format(pt_slice mt)
{
    static const char *const ok[] = { "png", "jpeg", "gif", "webp" };
    if (pt_slice_case_eq_cstr(mt, "image/jpg")) return "jpeg";
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char t[16];
        snprintf(t, sizeof t, "image/%s", ok[i]);
        if (pt_slice_case_eq_cstr(mt, t)) return ok[i];
    }
    return NULL;
}

static int image(pt_jw *w, const pt__prov_ctx *c, const pt_part *p, size_t msg, pt_ai_error *err)
{
    const char *f = p->url.len ? NULL : image_format(p->media_type);
    if (!f) {
        char path[48];
        pt_str_index(path, sizeof path, "messages", "", msg);
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 400, path,
                               "%s: provider '%s' (bedrock) takes images as base64 PNG, JPEG, GIF or WebP only",
                               path, c->cfg->name);
    }
    pt_jw_obj(w);
    pt_jw_key(w, "image");
    pt_jw_obj(w);
    pt_jw_kcstr(w, "format", f);
    pt_jw_key(w, "source");
    pt_jw_obj(w);
    pt_jw_kstr(w, "bytes", p->data);
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
    return 0;
}

static void text_block(pt_jw *w, pt_slice text)
{
    pt_jw_obj(w);
    pt_jw_kstr(w, "text", text);
    pt_jw_obj_end(w);
}

static int tool_result(pt_jw *w, const pt__prov_ctx *c, const pt_part *p, size_t msg, pt_ai_error *err)
{
    pt_jw_obj(w);
    pt_jw_key(w, "toolResult");
    pt_jw_obj(w);
    pt_jw_kstr(w, "toolUseId", p->tool_use_id);
    pt_jw_key(w, "content");
    pt_jw_arr(w);
    for (size_t k = 0; k < p->ncontent; k++) {
        const pt_part *q = &p->content[k];
        if (q->type == PT_PART_IMAGE) {
            if (image(w, c, q, msg, err)) return -1;
        } else if (q->text.len) {
            text_block(w, q->text);
        }
    }
    pt_jw_arr_end(w);
    if (p->is_error) pt_jw_kcstr(w, "status", "error");
    pt_jw_obj_end(w);
    pt_jw_obj_end(w);
    return 0;
}

static int part(pt_jw *w, const pt__prov_ctx *c, const pt_part *p, size_t msg, pt_ai_error *err)
{
    switch (p->type) {
    case PT_PART_TEXT: text_block(w, p->text); return 0;
    case PT_PART_IMAGE: return image(w, c, p, msg, err);
    case PT_PART_TOOL_RESULT: return tool_result(w, c, p, msg, err);
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
        pt_jw_key(w, "toolUse");
        pt_jw_obj(w);
        pt_jw_kstr(w, "toolUseId", p->id);
        pt_jw_kstr(w, "name", p->name);
        pt_jw_key(w, "input");
        pt_jw_raw(w, obj);
        pt_jw_obj_end(w);
        pt_jw_obj_end(w);
        return 0;
    }
    default: return 0; /* reasoning from earlier turns is not sent back; files refused before */
    }
}

static bool renderable(const pt_part *p)
{
    if (p->type == PT_PART_TEXT) return p->text.len > 0;
    return p->type == PT_PART_IMAGE || p->type == PT_PART_TOOL_USE || p->type == PT_PART_TOOL_RESULT;
}

static bool first(pt_role role, const pt_part *p)
{
    (void)role;
    return p->type == PT_PART_TOOL_RESULT;
}

/* Converse wants roles to alternate; tool results first in a user message. */
static const pt__turns turns = { renderable, first, part };

static void inference_config(pt_jw *w, const pt_pivot_req *r)
{
    if (r->max_tokens <= 0 && isnan(r->temperature) && isnan(r->top_p) && !r->nstop) return;
    pt_jw_key(w, "inferenceConfig");
    pt_jw_obj(w);
    if (r->max_tokens > 0) pt_jw_kint(w, "maxTokens", r->max_tokens);
    if (!isnan(r->temperature)) {
        pt_jw_key(w, "temperature");
        pt_jw_num(w, r->temperature > 1.0 ? 1.0 : r->temperature);
    }
    if (!isnan(r->top_p)) {
        pt_jw_key(w, "topP");
        pt_jw_num(w, r->top_p);
    }
    if (r->nstop) {
        pt_jw_key(w, "stopSequences");
        pt_jw_arr(w);
        for (size_t i = 0; i < r->nstop; i++) pt_jw_str(w, r->stop[i]);
        pt_jw_arr_end(w);
    }
    pt_jw_obj_end(w);
}

/* toolConfig; Converse has no "none" choice: such a request keeps its tools with the
 * default (auto) choice. */
static void tool_config(pt_jw *w, const pt_pivot_req *r)
{
    if (!r->ntools) return;
    pt_jw_key(w, "toolConfig");
    pt_jw_obj(w);
    pt_jw_key(w, "tools");
    pt_jw_arr(w);
    for (size_t i = 0; i < r->ntools; i++) {
        const pt_tool *t = &r->tools[i];
        pt_jw_obj(w);
        pt_jw_key(w, "toolSpec");
        pt_jw_obj(w);
        pt_jw_kstr(w, "name", t->name);
        if (t->description.len) pt_jw_kstr(w, "description", t->description);
        pt_jw_key(w, "inputSchema");
        pt_jw_obj(w);
        pt_jw_key(w, "json");
        pt_jw_raw(w, t->schema.len ? t->schema : PT_SLICE_LIT("{\"type\":\"object\",\"properties\":{}}"));
        pt_jw_obj_end(w);
        pt_jw_obj_end(w);
        pt_jw_obj_end(w);
    }
    pt_jw_arr_end(w);
    const char *choice = r->tool_choice == PT_TOOL_CHOICE_AUTO ? "auto"
                         : r->tool_choice == PT_TOOL_CHOICE_ANY ? "any"
                         : r->tool_choice == PT_TOOL_CHOICE_TOOL ? "tool"
                                                                 : NULL;
    if (choice) {
        pt_jw_key(w, "toolChoice");
        pt_jw_obj(w);
        pt_jw_key(w, choice);
        pt_jw_obj(w);
        if (r->tool_choice == PT_TOOL_CHOICE_TOOL) pt_jw_kstr(w, "name", r->tool_choice_name);
        pt_jw_obj_end(w);
        pt_jw_obj_end(w);
    }
    pt_jw_obj_end(w);
}

static int render_chat(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    if (pt__check_files(c, r, 0, err)) return -1;
    pt_jw w;
    pt_jw_init(&w, body);
    pt_jw_obj(&w);
    if (pt__render_turns(&w, c, r, &turns, err)) return -1;
    pt_buf sys = PT_BUF_INIT;
    if (pt__system_text(r, &sys)) w.err = PT_ENOMEM;
    if (sys.len) {
        pt_jw_key(&w, "system");
        pt_jw_arr(&w);
        text_block(&w, pt_buf_slice(&sys));
        pt_jw_arr_end(&w);
    }
    pt_buf_release(&sys);
    inference_config(&w, r);
    tool_config(&w, r);
    pt_jw_obj_end(&w);
    if (w.err) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render");
    return 0;
}

/* ---- answers ------------------------------------------------------------------------- */

static pt_stop_reason stop_reason(const char *s)
{
    if (!s) return PT_STOP_NONE;
    if (strcmp(s, "tool_use") == 0) return PT_STOP_TOOL_USE;
    if (strcmp(s, "max_tokens") == 0 || strcmp(s, "model_context_window_exceeded") == 0) return PT_STOP_MAX_TOKENS;
    if (strcmp(s, "stop_sequence") == 0) return PT_STOP_STOP_SEQUENCE;
    if (strcmp(s, "guardrail_intervened") == 0 || strcmp(s, "content_filtered") == 0) return PT_STOP_CONTENT_FILTER;
    return PT_STOP_END_TURN;
}

static int64_t jint(const pt_jv *v) { return pt_jv_is_integer(v) ? (int64_t)pt_jv_int(v) : -1; }

/* {"inputTokens","outputTokens","cacheReadInputTokens","cacheWriteInputTokens"}: the input
 * count excludes cache reads and writes, as the pivot's does. */
static void usage(const pt_jv *u, pt_usage *out)
{
    *out = PT_USAGE_UNKNOWN;
    if (!pt_jv_is_object(u)) return;
    out->input = jint(pt_jv_get(u, "inputTokens"));
    out->output = jint(pt_jv_get(u, "outputTokens"));
    out->cache_read = jint(pt_jv_get(u, "cacheReadInputTokens"));
    out->cache_write = jint(pt_jv_get(u, "cacheWriteInputTokens"));
}

static bool content_part(const pt_jv *b, pt_part *p)
{
    memset(p, 0, sizeof *p);
    const pt_jv *v;
    if ((v = pt_jv_get(b, "text"))) {
        p->type = PT_PART_TEXT;
        p->text = pt_jv_str(v);
    } else if ((v = pt_jv_get(b, "toolUse"))) {
        p->type = PT_PART_TOOL_USE;
        p->id = pt_jv_str(pt_jv_get(v, "toolUseId"));
        p->name = pt_jv_str(pt_jv_get(v, "name"));
        const pt_jv *in = pt_jv_get(v, "input");
        p->arguments = in ? in->raw : PT_SLICE_LIT("{}");
    } else if ((v = pt_jv_get(pt_jv_get(b, "reasoningContent"), "reasoningText"))) {
        p->type = PT_PART_THINKING;
        p->text = pt_jv_str(pt_jv_get(v, "text"));
        p->signature = pt_jv_str(pt_jv_get(v, "signature"));
    } else {
        return false;
    }
    return true;
}

static int parse_chat(const pt__prov_ctx *c, const char *body, size_t len, pt_pivot_resp *out, pt_ai_error *err)
{
    const pt_jv *root = pt_jdom_parse(&out->arena, body, len, NULL);
    if (!root) return pt__bad_upstream(err, c, "not JSON");
    const pt_jv *content = pt_jv_get(pt_jv_get(pt_jv_get(root, "output"), "message"), "content");
    if (!pt_jv_is_array(content)) return pt__bad_upstream(err, c, "no output.message.content array");
    size_t cap = 0, i;
    const pt_jv *b;
    PT_JV_FOREACH(content, i, b) {
        pt_part tmp;
        if (!content_part(b, &tmp)) continue; /* guard content, citations */
        pt_part *p = pt__parts_push_resp(out, &cap);
        if (!p) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "answer too large");
        *p = tmp;
    }
    out->model = pt_slice_cstr(c->model);
    out->stop = stop_reason(pt_jv_cstr(pt_jv_get(root, "stopReason")));
    if (out->stop == PT_STOP_NONE) out->stop = PT_STOP_END_TURN;
    usage(pt_jv_get(root, "usage"), &out->usage);
    return 0;
}

/* ---- stream -------------------------------------------------------------------------- *
 *
 * ConverseStream's events: messageStart, then per block an optional contentBlockStart
 * (tool use only: text blocks start with their first delta), contentBlockDelta(s),
 * contentBlockStop; then messageStop (the stop reason) and metadata (the usage), which
 * comes last. The pivot's MESSAGE_DELTA and MESSAGE_STOP go out at metadata, or at the
 * end of the body when a stream has none. Exceptions arrive as messages of type
 * "exception" named by :exception-type. */

typedef struct bed_stream {
    pt__prov_ctx ctx;
    bool started, stopped, done;
    int nblocks;
    int map[MAX_BLOCKS];       /* upstream index -> pivot index, -1 unseen */
    bool open[MAX_BLOCKS];
    pt_stop_reason stop;
} bed_stream;

static void st_init(void *p, const pt__prov_ctx *ctx)
{
    bed_stream *s = p;
    memset(s, 0, sizeof *s);
    s->ctx = *ctx;
    for (int i = 0; i < MAX_BLOCKS; i++) s->map[i] = -1;
}

static void st_release(void *p) { (void)p; }

/* The pivot index of upstream block i, opened as type t (with id and name) when new. */
static int block(bed_stream *s, int64_t i, pt_part_type t, pt_slice id, pt_slice name, pt_ev_cb cb, void *arg,
                 pt_ai_error *err, int *out)
{
    if (i < 0 || i >= MAX_BLOCKS) return pt__bad_upstream(err, &s->ctx, "a content block index out of range");
    if (s->map[i] < 0) {
        if (s->nblocks >= MAX_BLOCKS) return pt__bad_upstream(err, &s->ctx, "too many content blocks");
        s->map[i] = s->nblocks++;
        s->open[s->map[i]] = true;
        pt_ev ev = { .type = PT_EV_BLOCK_START, .index = s->map[i], .block = t, .id = id, .name = name };
        int rc = cb(arg, &ev);
        if (rc) return rc;
    }
    *out = s->map[i];
    return 0;
}

static int on_delta(bed_stream *s, const pt_jv *root, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    int64_t up = jint(pt_jv_get(root, "contentBlockIndex"));
    const pt_jv *d = pt_jv_get(root, "delta"), *v;
    pt_ev ev = { .type = PT_EV_TEXT_DELTA };
    pt_part_type t = PT_PART_TEXT;
    if ((v = pt_jv_get(d, "text"))) {
        ev.text = pt_jv_str(v);
    } else if ((v = pt_jv_get(d, "toolUse"))) {
        ev.type = PT_EV_TOOL_ARGS_DELTA;
        ev.text = pt_jv_str(pt_jv_get(v, "input"));
        t = PT_PART_TOOL_USE;
    } else if ((v = pt_jv_get(d, "reasoningContent"))) {
        t = PT_PART_THINKING;
        ev.type = pt_jv_get(v, "signature") ? PT_EV_SIGNATURE_DELTA : PT_EV_THINKING_DELTA;
        ev.text = pt_jv_str(pt_jv_get(v, ev.type == PT_EV_SIGNATURE_DELTA ? "signature" : "text"));
    } else {
        return 0;
    }
    int rc = block(s, up, t, PT_SLICE_NULL, PT_SLICE_NULL, cb, arg, err, &ev.index);
    if (rc || !ev.text.len) return rc;
    return cb(arg, &ev);
}

static int finish(bed_stream *s, const pt_jv *u, pt_ev_cb cb, void *arg)
{
    pt_ev ev = { .type = PT_EV_MESSAGE_DELTA, .stop = s->stop };
    usage(u, &ev.usage);
    s->done = true;
    int rc = cb(arg, &ev);
    if (rc) return rc;
    pt_ev st = { .type = PT_EV_MESSAGE_STOP };
    return cb(arg, &st);
}

/* An exception message: its type says the status it stands for. */
static int exception(bed_stream *s, pt_slice type, const pt_jv *root, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    static const struct { const char *type; int status; } map[] = {
        { "throttlingException", 429 },          { "validationException", 400 },
        { "serviceUnavailableException", 503 },  { "modelStreamErrorException", 502 },
        { "internalServerException", 500 },      { "modelTimeoutException", 504 },
    };
    int status = 502;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (pt_slice_eq_cstr(type, map[i].type)) status = map[i].status;
    char msg[300];
    const char *m = pt_jv_cstr(pt_jv_get(root, "message"));
    snprintf(msg, sizeof msg, "%.*s: %s", PT_SLICE_ARG(type), m ? m : "(no message)");
    err->retry_after_ms = 0;
    pt__classify_status(&s->ctx, status, msg, err);
    s->done = true;
    pt_ev ev = { .type = PT_EV_ERROR, .error = err };
    int rc = cb(arg, &ev);
    return rc ? rc : -1;
}

static int event(bed_stream *s, pt_slice type, const pt_jv *root, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    if (pt_slice_eq_cstr(type, "messageStart")) {
        s->started = true;
        pt_ev ev = { .type = PT_EV_MESSAGE_START, .model = pt_slice_cstr(s->ctx.model), .usage = PT_USAGE_UNKNOWN };
        return cb(arg, &ev);
    }
    if (!s->started) return pt__bad_upstream(err, &s->ctx, "the stream did not start with messageStart");
    if (pt_slice_eq_cstr(type, "contentBlockStart")) {
        const pt_jv *tu = pt_jv_get(pt_jv_get(root, "start"), "toolUse");
        if (!tu) return 0;
        int idx;
        return block(s, jint(pt_jv_get(root, "contentBlockIndex")), PT_PART_TOOL_USE,
                     pt_jv_str(pt_jv_get(tu, "toolUseId")), pt_jv_str(pt_jv_get(tu, "name")), cb, arg, err, &idx);
    }
    if (pt_slice_eq_cstr(type, "contentBlockDelta")) return on_delta(s, root, cb, arg, err);
    if (pt_slice_eq_cstr(type, "contentBlockStop")) {
        int64_t up = jint(pt_jv_get(root, "contentBlockIndex"));
        if (up < 0 || up >= MAX_BLOCKS || s->map[up] < 0 || !s->open[s->map[up]]) return 0;
        s->open[s->map[up]] = false;
        pt_ev ev = { .type = PT_EV_BLOCK_STOP, .index = s->map[up] };
        return cb(arg, &ev);
    }
    if (pt_slice_eq_cstr(type, "messageStop")) {
        s->stopped = true;
        s->stop = stop_reason(pt_jv_cstr(pt_jv_get(root, "stopReason")));
        if (s->stop == PT_STOP_NONE) s->stop = PT_STOP_END_TURN;
        return 0;
    }
    if (pt_slice_eq_cstr(type, "metadata")) {
        if (!s->stopped) return pt__bad_upstream(err, &s->ctx, "metadata before messageStop");
        return finish(s, pt_jv_get(root, "usage"), cb, arg);
    }
    return 0; /* event types added later are ignored */
}

static int st_frame(void *p, const pt_evs_msg *m, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    bed_stream *s = p;
    if (s->done) return 0;
    if (pt_slice_eq_cstr(m->message_type, "error")) {
        char msg[300];
        snprintf(msg, sizeof msg, "%.*s: %.*s", PT_SLICE_ARG(m->error_code), PT_SLICE_ARG(m->error_message));
        pt__classify_status(&s->ctx, 502, msg, err);
        s->done = true;
        pt_ev ev = { .type = PT_EV_ERROR, .error = err };
        int rc = cb(arg, &ev);
        return rc ? rc : -1;
    }
    pt_pool scratch;
    pt_pool_init(&scratch, 0, PT__EVENT_ARENA_LIMIT);
    const pt_jv *root = pt_jdom_parse(&scratch, m->payload.ptr ? m->payload.ptr : "", m->payload.len, NULL);
    int rc;
    if (!pt_jv_is_object(root)) rc = pt__bad_upstream(err, &s->ctx, "an event's payload is not a JSON object");
    else if (pt_slice_eq_cstr(m->message_type, "exception")) rc = exception(s, m->exception_type, root, cb, arg, err);
    else rc = event(s, m->event_type, root, cb, arg, err);
    pt_pool_release(&scratch);
    return rc;
}

static int st_end(void *p, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    bed_stream *s = p;
    if (s->done) return 0;
    if (s->stopped) return finish(s, NULL, cb, arg); /* no metadata: the usage stays unknown */
    return pt_ai_error_set(err, PT_AI_ERR_PROTOCOL, 502, NULL, "provider '%s' ended the stream before messageStop",
                           s->ctx.cfg ? s->ctx.cfg->name : "?");
}

static const pt__stream_ops stream_ops = {
    .size = sizeof(bed_stream),
    .init = st_init,
    .frame = st_frame,
    .end = st_end,
    .release = st_release,
};

/* ---- embeddings (InvokeModel) --------------------------------------------------------- */

/* Which embedding model family a model id names: Cohere's take a batch of texts and an
 * input_type, Amazon Titan's one text per call. */
static bool is_cohere(const char *model) { return strstr(model, "cohere.") != NULL; }
static bool is_titan(const char *model) { return strstr(model, "amazon.titan-embed") != NULL; }

/* Cohere's input_type from a Gemini client's taskType (search_document when none). */
static const char *cohere_input_type(pt_slice task)
{
    if (pt_slice_eq_cstr(task, "RETRIEVAL_QUERY") || pt_slice_eq_cstr(task, "QUESTION_ANSWERING")) return "search_query";
    if (pt_slice_eq_cstr(task, "CLASSIFICATION")) return "classification";
    if (pt_slice_eq_cstr(task, "CLUSTERING")) return "clustering";
    return "search_document";
}

static int render_embed(const pt__prov_ctx *c, const pt_jv *req, pt_buf *body, pt_ai_error *err)
{
    const pt_jv *input = pt_jv_get(req, "input"), *dims = pt_jv_get(req, "dimensions");
    size_t n = pt_jv_is_array(input) ? pt_jv_len(input) : 1;
    bool cohere = is_cohere(c->model);
    if (!cohere && !is_titan(c->model))
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 400, "model",
                               "provider '%s' (bedrock): embeddings are served by Amazon Titan (amazon.titan-embed-*) and "
                               "Cohere (cohere.embed-*) models only, not '%s'", c->cfg->name, c->model);
    if (!cohere && n != 1)
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 400, "input",
                               "input: Amazon Titan embeds one text per request (got %zu)", n);
    pt_jw w;
    pt_jw_init(&w, body);
    pt_jw_obj(&w);
    if (cohere) {
        pt_jw_key(&w, "texts");
        pt_jw_arr(&w);
    }
    for (size_t i = 0; i < n; i++) {
        const pt_jv *s = pt_jv_is_array(input) ? pt_jv_at(input, i) : input;
        if (!pt_jv_is_string(s))
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 400, "input",
                                   "input: Bedrock embeddings take strings only (not token arrays)");
        if (!cohere) pt_jw_key(&w, "inputText");
        pt_jw_str(&w, pt_jv_str(s));
    }
    if (cohere) {
        pt_jw_arr_end(&w);
        pt_jw_kcstr(&w, "input_type", cohere_input_type(pt__embed_src_member(c->embed_src, 0, "taskType")));
    } else if (pt_jv_is_integer(dims)) {
        pt_jw_kint(&w, "dimensions", pt_jv_int(dims));
    }
    pt_jw_obj_end(&w);
    return w.err ? pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render") : 0;
}

/* Titan: {"embedding":[...],"inputTextTokenCount":N}; Cohere: {"embeddings":[[...]...]}
 * (or {"embeddings":{"float":[...]}}), without usage: estimated. */
static int parse_embed(const pt__prov_ctx *c, const pt_jv *req, const char *body, size_t len, pt_slice public_model,
                       pt_buf *out, pt_usage *usage, pt_ai_error *err)
{
    pt_pool scratch;
    pt_pool_init(&scratch, 0, 0);
    const pt_jv *root = pt_jdom_parse(&scratch, body, len, NULL), *one = pt_jv_get(root, "embedding");
    const pt_jv *many = pt_jv_get(root, "embeddings");
    if (pt_jv_is_object(many)) many = pt_jv_get(many, "float");
    size_t n = pt_jv_is_array(one) ? 1 : pt_jv_is_array(many) ? pt_jv_len(many) : 0;
    const pt_jv **vectors = n ? calloc(n, sizeof *vectors) : NULL;
    int rc = !n || !vectors ? pt__bad_upstream(err, c, "no embedding in the answer") : 0;
    for (size_t i = 0; !rc && i < n; i++) vectors[i] = one ? one : pt_jv_at(many, i);
    if (!rc) {
        const pt_jv *tc = pt_jv_get(root, "inputTextTokenCount");
        int64_t tokens = pt_jv_is_number(tc) ? (int64_t)pt_jv_num(tc) : pt__embed_estimate(req);
        *usage = (pt_usage){ .input = tokens };
        if (pt__embed_list(req, vectors, n, public_model, tokens, out))
            rc = pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "answer too large");
    }
    free(vectors);
    pt_pool_release(&scratch);
    return rc;
}

const pt__prov pt__prov_bedrock = {
    .type = PT_AI_PROV_BEDROCK,
    .wire = PT__WIRE_BEDROCK,
    .head = head,
    .render_chat = render_chat,
    .parse_chat = parse_chat,
    .stream = &stream_ops,
    .embed_ok = true,
    .render_embed = render_embed,
    .parse_embed = parse_embed,
    .classify = pt__classify_common,
    .passthrough = false,
    .eventstream = true,
    .sign = sign,
};
