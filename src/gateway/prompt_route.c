/* prompt_route.c: serves prompt APIs (see prompt_route.h).
 *
 * Life of a call: read the whole body -> check the variables (400 naming every problem)
 * -> render the conversation (ai/prompt.c) -> one chat call through the AI plan with this
 * file's hooks -> text: the answer's text; JSON: parsed and validated, and when invalid
 * one more call with the error appended, then 502 saying why. The request's state lives
 * in the request pool; a cleanup hook releases what it owns. */
#include "gateway/prompt_route.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/jdom.h"
#include "ai/prompt.h"
#include "gateway/ai_route.h"

#define MAX_ANSWER (8u << 20) /* a buffered model answer */

typedef struct prompt_req {
    pt_conn *conn;
    pt_request *req;
    const pt_route *route;
    pt_client *client;
    const pt_prompt *p;
    pt_buf in;            /* the client's body */
    json_t *messages;     /* the conversation, kept for the retry */
    pt_buf answer;        /* not streaming: the chat completion body */
    pt_buf text;          /* streaming: the text so far */
    bool stream, started, retried;
    uint64_t input_tokens, output_tokens, cost_micro_usd;
    bool cost_known;
} prompt_req;

static void prompt_cleanup(void *arg)
{
    prompt_req *q = arg;
    json_decref(q->messages);
    pt_buf_release(&q->in);
    pt_buf_release(&q->answer);
    pt_buf_release(&q->text);
}

/* ---- answers ------------------------------------------------------------------------- */

/* The gateway's error shape, plus "variables" when given (taken). */
static void respond_error(prompt_req *q, pt_outcome o, json_t *variables, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void respond_error(prompt_req *q, pt_outcome o, json_t *variables, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:i,s:s,s:s,s:s}", "status", pt_outcome_status(o), "code", pt_outcome_log_name(o),
                            "message", msg, "request_id", q->req->request_id);
    if (err && variables) json_object_set(err, "variables", variables);
    json_decref(variables);
    json_t *body = json_pack("{s:o}", "error", err);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    pt_conn *conn = q->conn;
    pt_conn_info(conn)->outcome = o;
    pt_conn_set_sink(conn, NULL);
    if (text) pt_conn_respond(conn, pt_outcome_status(o), "application/json", text, strlen(text));
    else pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
    free(text);
}

/* ,"usage":{...},"cost":N} closing the object (cost null when no price is known). */
static void append_usage(const prompt_req *q, pt_buf *b)
{
    pt_buf_append_str(b, ",\"usage\":{\"input_tokens\":");
    pt_buf_append_u64(b, q->input_tokens);
    pt_buf_append_str(b, ",\"output_tokens\":");
    pt_buf_append_u64(b, q->output_tokens);
    pt_buf_append_str(b, "},\"cost\":");
    if (q->cost_known) pt_buf_append_fixed(b, q->cost_micro_usd, 6);
    else pt_buf_append_str(b, "null");
    pt_buf_append_str(b, "}");
}

/* {"output":OUTPUT,"usage":...,"cost":...} into b. */
static int result_body(const prompt_req *q, const json_t *output, pt_buf *b)
{
    char *out = json_dumps(output, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!out) return -1;
    pt_buf_append_str(b, "{\"output\":");
    pt_buf_append_str(b, out);
    free(out);
    append_usage(q, b);
    return b->len && b->data[b->len - 1] == '}' ? 0 : -1;
}

static void respond_result(prompt_req *q, json_t *output)
{
    pt_buf b = PT_BUF_INIT;
    int rc = result_body(q, output, &b);
    json_decref(output);
    pt_conn *conn = q->conn;
    if (rc) pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
    else pt_conn_respond(conn, 200, "application/json", b.data, b.len);
    pt_buf_release(&b);
}

/* ---- the model's answer ---------------------------------------------------------------- */

static int start_events(prompt_req *q)
{
    if (q->started) return 0;
    q->started = true;
    pt_header h[3] = {
        { PT_SLICE_LIT("Content-Type"), PT_SLICE_LIT("text/event-stream") },
        { PT_SLICE_LIT("Cache-Control"), PT_SLICE_LIT("no-cache") },
        { PT_SLICE_LIT("X-Accel-Buffering"), PT_SLICE_LIT("no") },
    };
    return pt_conn_response_start(q->conn, 200, h, 3, -1);
}

/* One Chat Completions stream event: its text delta becomes one delta event. */
static int on_event(prompt_req *q, const char *bytes, size_t len)
{
    for (const char *p = bytes, *end = bytes + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if (eol - p > 5 && memcmp(p, "data:", 5) == 0) {
            json_t *ev = json_loadb(p + 5, (size_t)(eol - p - 5), 0, NULL);
            json_t *delta = json_object_get(json_object_get(json_array_get(json_object_get(ev, "choices"), 0), "delta"),
                                            "content");
            int rc = 0;
            if (json_is_string(delta) && json_string_length(delta)) {
                pt_buf b = PT_BUF_INIT;
                pt_buf_append_str(&b, "event: delta\ndata: {\"delta\":\"");
                pt_buf_append_json_escaped(&b, json_string_value(delta), json_string_length(delta));
                pt_buf_append_str(&b, "\"}\n\n");
                pt_buf_append(&q->text, json_string_value(delta), json_string_length(delta));
                rc = start_events(q);
                if (!rc) rc = pt_conn_response_body(q->conn, b.data, b.len);
                pt_buf_release(&b);
            }
            json_decref(ev);
            if (rc) return rc;
        }
        p = eol + 1;
    }
    return 0;
}

static int on_bytes(void *arg, const char *bytes, size_t len)
{
    prompt_req *q = arg;
    if (q->stream) return on_event(q, bytes, len);
    if (q->answer.len + len > MAX_ANSWER) return -1;
    return pt_buf_append(&q->answer, bytes, len);
}

static void call(prompt_req *q);

static void finish_stream(prompt_req *q)
{
    pt_buf b = PT_BUF_INIT;
    json_t *text = json_stringn(q->text.data ? q->text.data : "", q->text.len);
    int rc = start_events(q);
    pt_buf_append_str(&b, "event: done\ndata: ");
    if (!rc && text && result_body(q, text, &b) == 0) {
        pt_buf_append_str(&b, "\n\n");
        rc = pt_conn_response_body(q->conn, b.data, b.len);
    }
    json_decref(text);
    pt_buf_release(&b);
    if (rc) pt_conn_response_abort(q->conn);
    else pt_conn_response_end(q->conn);
}

/* JSON mode: the output when valid; else one more call with the error, then 502. */
static void finish_json(prompt_req *q, const char *text, size_t len)
{
    char why[400];
    json_t *out = pt_prompt_output(q->p, text, len, why, sizeof why);
    if (out) {
        respond_result(q, out);
        return;
    }
    if (q->retried) {
        respond_error(q, PT_OUT_PROMPT_BAD_OUTPUT, NULL,
                      "the model's answer is not valid for this API's output schema, also after one retry: %s", why);
        return;
    }
    q->retried = true;
    if (pt_prompt_add_correction(q->messages, text, len, why)) {
        respond_error(q, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    call(q);
}

static void on_end(void *arg, const pt_ai_result *res)
{
    prompt_req *q = arg;
    q->input_tokens += (uint64_t)pt_usage_get(res->usage.input);
    q->output_tokens += (uint64_t)pt_usage_get(res->usage.output);
    q->cost_micro_usd += res->cost_micro_usd;
    q->cost_known = q->cost_known && res->cost_known; /* every call priced */
    if (res->kind != PT_AI_OK) { /* cut after bytes had come */
        pt_conn_info(q->conn)->outcome = PT_OUT_AI_UPSTREAM_CUT;
        if (q->started) pt_conn_response_abort(q->conn);
        else respond_error(q, PT_OUT_AI_UPSTREAM_CUT, NULL, "the model's answer was cut: %s", res->error.message);
        return;
    }
    if (q->stream) {
        finish_stream(q);
        return;
    }
    /* the AI layer's own parser, in the request pool: this answer is read once */
    size_t at;
    const pt_jv *doc = pt_jdom_parse(&q->req->pool, q->answer.data ? q->answer.data : "", q->answer.len, &at);
    pt_slice text = pt_jv_str(pt_jv_get(pt_jv_get(pt_jv_at(pt_jv_get(doc, "choices"), 0), "message"), "content"));
    if (!text.ptr) {
        respond_error(q, PT_OUT_PROMPT_BAD_OUTPUT, NULL, "the model's answer holds no text");
        return;
    }
    pt_buf_reset(&q->answer);
    if (q->p->schema) finish_json(q, text.ptr, text.len);
    else respond_result(q, json_stringn(text.ptr, text.len));
}

static void call(prompt_req *q)
{
    pt_buf body = PT_BUF_INIT;
    if (pt_prompt_body(q->p, q->messages, q->stream, &body)) {
        pt_buf_release(&body);
        respond_error(q, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    pt_ai_route_hooks hooks = { .arg = q, .on_bytes = on_bytes, .on_end = on_end, .again = q->retried,
                                .prior_tokens = q->input_tokens + q->output_tokens,
                                .prior_cost_micro = q->cost_micro_usd };
    pt_ai_route_call(q->conn, q->req, q->route, q->client, body.data, body.len, &hooks);
    pt_buf_release(&body);
}

/* ---- the request ---------------------------------------------------------------------- */

static bool wants_events(const pt_request *req)
{
    const pt_header *accept = pt_request_header(req, "accept");
    return accept && memmem(accept->value.ptr, accept->value.len, "text/event-stream", 17) != NULL;
}

/* The whole body is here: check the variables and make the first call. */
static void begin(prompt_req *q)
{
    json_error_t jerr;
    json_t *in = q->in.len ? json_loadb(q->in.data, q->in.len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
    if (!json_is_object(in)) {
        json_decref(in);
        respond_error(q, PT_OUT_BAD_REQUEST, NULL, "the body must be a JSON object of variables");
        return;
    }
    json_t *stream = json_object_get(in, "stream");
    q->stream = json_is_true(stream) || wants_events(q->req);
    if (stream && !json_is_boolean(stream)) {
        json_decref(in);
        respond_error(q, PT_OUT_BAD_REQUEST, NULL, "stream must be true or false");
        return;
    }
    json_object_del(in, "stream");
    if (q->stream && q->p->schema) {
        json_decref(in);
        respond_error(q, PT_OUT_BAD_REQUEST, NULL, "this prompt API answers JSON, which is not streamed: ask without stream");
        return;
    }
    json_t *problems = json_array();
    json_t *values = pt_prompt_vars(q->p, in, problems);
    json_decref(in);
    if (!values) {
        pt_buf msg = PT_BUF_INIT;
        size_t i;
        json_t *pr;
        json_array_foreach(problems, i, pr) pt_buf_printf(&msg, "%s'%s' %s", i ? "; " : "",
                                                         json_string_value(json_object_get(pr, "variable")),
                                                         json_string_value(json_object_get(pr, "error")));
        respond_error(q, PT_OUT_PROMPT_BAD_VARIABLES, problems, "invalid variables: %s", msg.data ? msg.data : "");
        pt_buf_release(&msg);
        return;
    }
    json_decref(problems);
    q->messages = pt_prompt_messages(q->p, values);
    json_decref(values);
    if (!q->messages) {
        respond_error(q, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    call(q);
}

static void sink_body(void *h, const char *data, size_t n)
{
    prompt_req *q = h;
    pt_buf_append(&q->in, data, n); /* capped by max_body_bytes in the server */
}

static void sink_end(void *h) { begin(h); }

static void sink_drain(void *h) {}

static void sink_abort(void *h) {}

void pt_prompt_route_serve(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client)
{
    pt_req_info *info = pt_conn_info(conn);
    info->route = route->name;
    info->route_metrics = route->metrics;
    prompt_req *q = pt_req_alloc(req, sizeof *q);
    if (!q || pt_req_cleanup_add(req, prompt_cleanup, q) != 0) {
        pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    *q = (prompt_req){ .conn = conn, .req = req, .route = route, .client = client, .p = route->service->prompt,
                       .cost_known = true };
    if (!pt_slice_eq_cstr(req->method_name, "POST")) {
        respond_error(q, PT_OUT_BAD_REQUEST, NULL, "a prompt API takes POST with a JSON object of variables, not " PT_SLICE_FMT,
                      PT_SLICE_ARG(req->method_name));
        return;
    }
    pt_body_sink sink = { q, sink_body, sink_end, sink_drain, sink_abort };
    pt_conn_set_sink(conn, &sink);
    if (pt_conn_has_body(conn)) pt_conn_continue(conn);
}
