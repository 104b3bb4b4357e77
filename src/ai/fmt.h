/* fmt.h: the client formats (OpenAI Chat Completions, Anthropic Messages, OpenAI
 * Responses, Gemini generateContent), private to src/ai. Each parses a client body into the pivot request and renders a pivot response,
 * pivot stream events and errors back in its own wire format. */
#ifndef PT_AI_FMT_H
#define PT_AI_FMT_H

#include "ai/ai.h"
#include "ai/jdom.h"
#include "ai/pivot.h"
#include "core/buf.h"
#include "core/error_body.h"

/* What a renderer needs besides the pivot. */
typedef struct pt__render_ctx {
    pt_slice model;          /* model name to report when the provider gave none */
    const char *request_id;  /* for ids the provider did not give */
    int64_t now_unix;
    bool include_usage;      /* OpenAI: the client asked for the usage chunk */
    int64_t input_estimate;  /* a local count of the prompt's tokens, reported where a stream must
                              * name input usage before the provider has (Anthropic's
                              * message_start); -1 when there is none */
    bool json_array;         /* Gemini: the stream is one JSON array (streamGenerateContent
                              * without alt=sse), not server-sent events */
    bool store;              /* Responses: the answer is kept ("store": true) */
    const char *previous_response_id; /* Responses: the stored response it continues, or NULL */
} pt__render_ctx;

/* Streaming render state (shared layout so the call can embed it). */
typedef struct pt__fmt_stream {
    pt__render_ctx ctx;
    pt_slice id, model;      /* copied from MESSAGE_START into idbuf/modelbuf */
    char idbuf[128], modelbuf[128];
    int64_t created;
    int open_index;          /* Anthropic: block open on the client side, -1 none */
    int tool_ordinal[256];   /* OpenAI: pivot block index -> tool_calls index + 1, 0 not a tool */
    int ntools;
    bool started;
    pt_stop_reason stop;
    pt_slice stop_sequence;
    char stopseqbuf[128];
    pt_usage usage;
    struct pt__resp_stream *resp; /* Responses: the output items so far (heap; stream_release) */
    struct pt__gem_stream *gem;   /* Gemini: the function calls so far (heap; stream_release) */
} pt__fmt_stream;

typedef struct pt__fmt {
    pt_ai_format id;
    /* Parses a chat (or, for Anthropic, count_tokens: for_count = true) body. */
    int (*parse_chat)(const char *body, size_t len, bool for_count, pt_pivot_req *out, pt_ai_error *err);
    int (*render_resp)(const pt_pivot_resp *r, const pt__render_ctx *ctx, pt_buf *out);
    void (*stream_init)(pt__fmt_stream *st, const pt__render_ctx *ctx);
    /* Appends the client bytes for one pivot event (possibly none). */
    int (*stream_event)(pt__fmt_stream *st, const pt_ev *ev, pt_buf *out);
    /* Frees what stream_event allocated; NULL when it allocates nothing. */
    void (*stream_release)(pt__fmt_stream *st);
    /* Errors are written by core/error_body.c in this shape, from the members this
     * format fills in (pt__fmt_render_error). */
    pt_error_format error_format;
    void (*error_body)(const pt_ai_error *e, pt_error_body *out);
} pt__fmt;

/* Responses streams: the final response object (the one response.completed or
 * response.incomplete carried), empty before it or when the stream failed. */
pt_slice pt__resp_stream_final(const pt__fmt_stream *st);

/* A stream renderer's state from scratch: nothing started, no block open, usage unknown. */
void pt__stream_init(pt__fmt_stream *st, const pt__render_ctx *ctx);

/* e as an error body in f's shape; event: as the server-sent event a stream ends with. */
int pt__fmt_render_error(const pt__fmt *f, const pt_ai_error *e, bool event, pt_buf *out);

extern const pt__fmt pt__fmt_openai;
extern const pt__fmt pt__fmt_anthropic;
extern const pt__fmt pt__fmt_responses;
extern const pt__fmt pt__fmt_gemini;

const pt__fmt *pt__fmt_get(pt_ai_format f);

/* Gemini embeddings (fmt_gemini.c): an embedContent body ({"content":{"parts":[{"text"}]},
 * "outputDimensionality"}) or a batchEmbedContents one ({"requests":[...]}) as the OpenAI
 * embeddings body {"model","input":[...],"dimensions"} (model: the public name) into out,
 * *src the body as parsed in arena (each request's taskType and title, for the providers
 * that take them: pt__prov_ctx.embed_src);
 * and an OpenAI embeddings list answer as Gemini's ({"embedding":{"values"}} when one,
 * else {"embeddings":[{"values"}...]}). -1 with err (400) / nonzero on an unreadable list. */
int pt__gem_embed_request(const char *body, size_t len, pt_slice model, pt_pool *arena, pt_buf *out,
                          const pt_jv **src, pt_ai_error *err);
int pt__gem_embed_answer(const char *list, size_t len, bool one, pt_buf *out);

/* Shared parsing helpers (fmt_openai.c) ------------------------------------------------ */

/* A field path for messages: "messages[2].content[0].text". */
typedef struct pt__path {
    char s[96];
} pt__path;

/* Splits a data: URL ("data:image/png;base64,AAAA") into media type and data. */
bool pt__parse_data_url(pt_slice url, pt_slice *media_type, pt_slice *data);
/* Appends a zeroed element to an array growing (doubling) in the arena; NULL when the
 * arena is full. Old copies are left in the arena, which frees them all at once. */
void *pt__grow(pt_pool *a, void **arr, size_t *n, size_t *cap, size_t elem);
static inline pt_part *pt__parts_push(pt_pool *a, pt_part **arr, size_t *n, size_t *cap)
{
    return pt__grow(a, (void **)arr, n, cap, sizeof **arr);
}
static inline pt_msg *pt__msgs_push(pt_pool *a, pt_msg **arr, size_t *n, size_t *cap)
{
    return pt__grow(a, (void **)arr, n, cap, sizeof **arr);
}
/* An optional number / integer (at least min) member of root; absent and null leave *out
 * as it is. */
int pt__opt_num(const pt_jv *root, const char *key, double *out, pt_ai_error *err);
int pt__opt_int(const pt_jv *root, const char *key, int64_t min, int64_t *out, pt_ai_error *err);
/* tools and tool_choice of the OpenAI formats: Chat Completions nests a function's name,
 * description and parameters under "function", Responses (flat) does not. Only function
 * tools can be translated (others: PT_AI_ERR_UNSUPPORTED). */
int pt__parse_tools(pt_pivot_req *r, const pt_jv *tools, bool flat, pt_ai_error *err);
int pt__parse_tool_choice(pt_pivot_req *r, const pt_jv *tc, bool flat, pt_ai_error *err);
/* The JSON output format: Chat Completions' response_format ({type, json_schema: {name,
 * schema, strict}}) or, flat, Responses' text.format ({type, name, schema, strict}).
 * field names the member in errors. */
int pt__parse_output_format(pt_pivot_req *r, const pt_jv *f, const char *field, bool flat, pt_ai_error *err);
/* The body as a JSON object with a string "model" (into r->model), parsed in r's arena;
 * NULL with err set (400, or 413 when the arena is full). */
const pt_jv *pt__parse_root(pt_pivot_req *r, const char *body, size_t len, pt_ai_error *err);
/* Parses a stop sequence value (string or array of strings) into r->stop. */
int pt__parse_stop(const pt_jv *v, const char *field, pt_pivot_req *r, pt_ai_error *err);
/* A 400 (kind INVALID or UNSUPPORTED) naming the field at fault, "input[2].call_id", as
 * param and at the start of the message; member may be NULL (the fault is path itself).
 * Returns -1 (fmt_responses.c). */
int pt__bad_at(pt_ai_error *err, pt_ai_err_kind kind, const char *path, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Copies s into dst (cap bytes, cut to fit, NUL-terminated) and returns the copy. */
pt_slice pt__copy_str(char *dst, size_t cap, pt_slice s);

#endif
