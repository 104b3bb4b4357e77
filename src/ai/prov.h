/* prov.h: the provider adapters, private to src/ai. One adapter per provider type says
 * where a request goes and how it is authenticated, renders the pivot request in the
 * provider's wire format, parses its answers (whole or streamed) into the pivot, and
 * classifies its errors. Types speaking the OpenAI wire (openai, azure, mistral,
 * openai_compatible) share the code in prov_openai.c. */
#ifndef PT_AI_PROV_H
#define PT_AI_PROV_H

#include "ai/ai.h"
#include "core/pool.h"
#include "ai/fmt.h"
#include "ai/jdom.h"
#include "ai/pivot.h"
#include "ai/evstream.h"
#include "ai/sse.h"
#include "core/buf.h"
#include "core/json_write.h"

/* The wire format a provider speaks; Bedrock's Converse is no client format's. */
typedef enum pt__wire { PT__WIRE_OPENAI, PT__WIRE_ANTHROPIC, PT__WIRE_GEMINI, PT__WIRE_BEDROCK } pt__wire;

/* Bytes the tree of one stream event or error body may take (the SSE parser already caps
 * an event at 1 MiB of text). */
#define PT__EVENT_ARENA_LIMIT (16u * 1024u * 1024u)

/* Everything an adapter knows about one attempt. */
typedef struct pt__prov_ctx {
    const pt_ai_provider *cfg;
    const char *model;        /* the provider's model name */
    const char *key;          /* NULL when the provider has no key (local servers) */
    const char *bearer;       /* "Bearer <key>" when the configuration built it, else NULL */
    pt_ai_endpoint ep;
    bool stream;
    bool responses;           /* an openai provider serving a Responses request as it is (/responses) */
    const char *request_id;
    int64_t now_unix;
    const pt_jv *embed_src;   /* embeddings of a Gemini client: its body as written (each
                               * request's taskType and title), NULL for other clients */
} pt__prov_ctx;

/* The upstream request being built; strings live in arena. */
#define PT__UP_PATH_MAX 8192

typedef struct pt__up {
    pt_pool *arena;
    const char *method;
    pt_slice path;            /* NUL-terminated, in the arena (pt__up_path) */
    pt_ai_header headers[PT_AI_MAX_UPSTREAM_HEADERS];
    size_t nheaders;
    pt_buf body;
} pt__up;

/* Adds a header, not copied: name and value outlive the call (literals, the provider's
 * configuration, the arena). Returns 0 or PT_ETOOBIG. */
int pt__up_header(pt__up *up, const char *name, const char *value);
/* Adds a header with a value of any length, both copied into the arena. Returns 0 or
 * PT_ETOOBIG / PT_ENOMEM. */
int pt__up_header_n(pt__up *up, const char *name, pt_slice value);
/* Sets up->path to the base path prefix + rest (in the arena: no allocation of its own). */
int pt__up_path(pt__up *up, const pt_ai_provider *cfg, const char *rest);
/* Adds the provider's configured extra headers. */
int pt__up_extra_headers(pt__up *up, const pt_ai_provider *cfg);

/* A streamed answer's parser state: one per call. */
typedef struct pt__stream_ops {
    size_t size;
    void (*init)(void *st, const pt__prov_ctx *ctx);
    /* One upstream SSE event -> zero or more pivot events. Returns 0, the callback's
     * nonzero value, or -1 with *err set (the stream is unreadable). */
    int (*event)(void *st, const pt_sse_event *ev, pt_ev_cb cb, void *arg, pt_ai_error *err);
    /* The same for providers whose streams come in the AWS event-stream framing
     * (pt__prov.eventstream): one decoded message. */
    int (*frame)(void *st, const pt_evs_msg *m, pt_ev_cb cb, void *arg, pt_ai_error *err);
    /* The upstream body ended cleanly: emit what is still owed (message stop), or -1 with
     * *err when the stream had not finished (cut). */
    int (*end)(void *st, pt_ev_cb cb, void *arg, pt_ai_error *err);
    void (*release)(void *st);
} pt__stream_ops;

typedef struct pt__prov {
    pt_ai_prov_type type;
    pt__wire wire;
    /* Method, path and headers for ctx->ep (and ctx->stream). */
    int (*head)(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err);
    /* Chat body from the pivot. */
    int (*render_chat)(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err);
    /* A whole chat answer. */
    int (*parse_chat)(const pt__prov_ctx *c, const char *body, size_t len, pt_pivot_resp *out, pt_ai_error *err);
    const pt__stream_ops *stream;
    /* Embeddings: NULL render means the OpenAI body is forwarded with model replaced and
     * the answer passed through; otherwise render from the parsed OpenAI request and
     * turn the answer into the OpenAI list format (parse_embed). NULL both and
     * embed_ok false: not supported. */
    bool embed_ok;
    int (*render_embed)(const pt__prov_ctx *c, const pt_jv *req, pt_buf *body, pt_ai_error *err);
    int (*parse_embed)(const pt__prov_ctx *c, const pt_jv *req, const char *body, size_t len, pt_slice public_model,
                       pt_buf *out, pt_usage *usage, pt_ai_error *err);
    /* count_tokens: Anthropic's own endpoint, passed through (count_upstream); or the
     * provider's counter, rendered by render_count (head() gets ctx->ep ==
     * PT_AI_EP_COUNT_TOKENS) and read by parse_count. Without either, or when render_count
     * refuses the request as PT_AI_ERR_UNSUPPORTED, a local estimate answers. */
    bool count_upstream;
    int (*render_count)(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err);
    int (*parse_count)(const pt__prov_ctx *c, const char *body, size_t len, int64_t *tokens, pt_ai_error *err);
    /* Turns a non-2xx answer into an error (kind, client status, message, retry-after). */
    void (*classify)(const pt__prov_ctx *c, int status, const pt_ai_header *h, size_t nh, const char *body, size_t len,
                     pt_ai_error *err);
    /* Byte passthrough allowed for clients of this wire. */
    bool passthrough;
    /* Streamed answers come in the AWS event-stream framing, not SSE (stream->frame). */
    bool eventstream;
    /* Called last, once path, headers and body are final: adds the headers that sign the
     * request (SigV4). NULL when the provider authenticates in head(). */
    int (*sign)(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err);
} pt__prov;

extern const pt__prov pt__prov_openai;
extern const pt__prov pt__prov_azure;
extern const pt__prov pt__prov_anthropic;
extern const pt__prov pt__prov_gemini;
extern const pt__prov pt__prov_mistral;
extern const pt__prov pt__prov_openai_compat;
extern const pt__prov pt__prov_bedrock;
extern const pt__prov pt__prov_vertex_gemini;
extern const pt__prov pt__prov_vertex_anthropic;
/* The stream parsers of the Gemini and Anthropic wires, which Vertex AI serves too. */
extern const pt__stream_ops pt__gem_stream_ops;
extern const pt__stream_ops pt__ant_stream_ops;

const pt__prov *pt__prov_get(pt_ai_prov_type t);
/* The adapter for one model of a provider: Vertex AI serves Gemini models on the Gemini
 * wire and Anthropic models (claude-*) on the Anthropic one; other types have one. */
const pt__prov *pt__prov_for(const pt_ai_provider *p, const char *model);

static inline pt_part *pt__parts_push_resp(pt_pivot_resp *r, size_t *cap)
{
    return pt__parts_push(&r->arena, &r->parts, &r->nparts, cap);
}

/* The content block being streamed, for wires whose events do not delimit blocks
 * (OpenAI chunks, Gemini chunks): a new kind of content closes the open block and opens
 * the next index. At most PT__MAX_BLOCKS blocks per answer. */
#define PT__MAX_BLOCKS 256
typedef struct pt__blocks {
    int n;                 /* blocks opened so far */
    int cur;               /* the open one, -1 none */
    pt_part_type cur_type;
} pt__blocks;

static inline void pt__blocks_init(pt__blocks *b)
{
    b->n = 0;
    b->cur = -1;
    b->cur_type = PT_PART_TEXT;
}
/* Emits BLOCK_STOP for the open block, if any. */
int pt__blocks_close(pt__blocks *b, pt_ev_cb cb, void *arg);
/* Closes the open block and emits BLOCK_START for a new one (b->cur); -1 with err set
 * past the cap. */
int pt__blocks_open(pt__blocks *b, const pt__prov_ctx *c, pt_part_type t, pt_slice id, pt_slice name, pt_ev_cb cb,
                    void *arg, pt_ai_error *err);
/* The same for a tool call the provider signed (sig goes out as the event's text). */
int pt__blocks_open_signed(pt__blocks *b, const pt__prov_ctx *c, pt_part_type t, pt_slice id, pt_slice name,
                           pt_slice sig, pt_ev_cb cb, void *arg, pt_ai_error *err);

/* ---- shared by the OpenAI-wire adapters (prov_openai.c) -------------------------------- */

typedef struct pt__oai_opts {
    bool max_completion_tokens; /* "max_completion_tokens" instead of "max_tokens" */
    bool stream_options;        /* send stream_options.include_usage */
    bool random_seed;           /* Mistral: "random_seed" instead of "seed" */
    bool tool_choice_any;       /* Mistral: "any" instead of "required" */
    bool short_tool_ids;        /* Mistral: tool call ids must be 9 characters [a-zA-Z0-9] */
    bool reasoning_effort;      /* send reasoning_effort */
    bool send_model;
} pt__oai_opts;

/* POST {base}/chat/completions or /embeddings with "Authorization: Bearer KEY". */
int pt__oai_head(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err);
int pt__oai_render_chat(const pt__prov_ctx *c, const pt_pivot_req *r, const pt__oai_opts *o, pt_buf *body,
                        pt_ai_error *err);
int pt__oai_parse_chat(const pt__prov_ctx *c, const char *body, size_t len, pt_pivot_resp *out, pt_ai_error *err);
extern const pt__stream_ops pt__oai_stream_ops;
/* Error bodies of the common shapes: {"error":{"message"}} (OpenAI, Azure, Anthropic,
 * most compatible servers), {"error":"text"}, {"message"} (Mistral), {"detail"}
 * (validation errors); anything else is quoted (200 bytes at most). */
void pt__classify_common(const pt__prov_ctx *c, int status, const pt_ai_header *h, size_t nh, const char *body,
                      size_t len, pt_ai_error *err);
/* Reads OpenAI usage {"prompt_tokens","completion_tokens","prompt_tokens_details":{"cached_tokens"},
 * "completion_tokens_details":{"reasoning_tokens"}} into the pivot convention. */
void pt__oai_usage(const pt_jv *u, pt_usage *out);
/* The same from the usage object's text, without a tree (a passed-through answer's). */
void pt__oai_usage_text(const char *p, size_t len, pt_usage *out);
/* OpenAI finish_reason -> pivot. */
pt_stop_reason pt__oai_stop(const char *s);
/* Anthropic usage {"input_tokens","output_tokens","cache_read_input_tokens",
 * "cache_creation_input_tokens"} -> pivot; fields absent stay unknown (prov_anthropic.c). */
void pt__ant_usage(const pt_jv *u, pt_usage *out);
/* Anthropic stop_reason -> pivot (prov_anthropic.c). */
pt_stop_reason pt__ant_stop(const char *s);
/* True when text is exactly one JSON object (whitespace around allowed); sets *obj to it
 * (prov_anthropic.c). */
bool pt__json_object_text(pt_slice text, pt_slice *obj);
/* The system prompt as one text: the system parts joined by newlines, plus, for a JSON
 * response format, the instruction to answer with one JSON object (conforming to the
 * schema when one is given), for providers without a JSON mode (prov_anthropic.c). */
int pt__system_text(const pt_pivot_req *r, pt_buf *t);
/* Gemini usageMetadata -> pivot, and finishReason -> pivot (prov_gemini.c). */
void pt__gem_usage(const pt_jv *u, pt_usage *out);
pt_stop_reason pt__gem_stop(const char *s);
/* Mistral's 9-character tool ids: ids already of that shape are kept, others hashed. */
void pt__short_tool_id(pt_slice id, char out[10]);

/* ---- shared error helpers (prov_openai.c) ---------------------------------------------- */

/* Looks a header up (case-insensitive); a NULL slice when absent. */
pt_slice pt__hdr(const pt_ai_header *h, size_t n, const char *name);
/* retry-after-ms, then retry-after (seconds or an HTTP date); 0 when absent. */
uint64_t pt__retry_after_ms(const pt_ai_header *h, size_t n);
/* Sets err from a status and the provider's message (keeping err->retry_after_ms, which
 * the caller sets first, or zeroes) with the usual kind for the status:
 * 400/404/409/413/422 client, 401/403 auth, 429 rate limit, 408/5xx/529 upstream.
 * The key (if it appears in the message) is masked; auth messages are never passed on. */
void pt__classify_status(const pt__prov_ctx *c, int status, const char *msg, pt_ai_error *err);
/* A compact text of why a body was not readable JSON. */
int pt__bad_upstream(pt_ai_error *err, const pt__prov_ctx *c, const char *what);

/* Embeddings answers (prov_gemini.c): the OpenAI list of the n vectors (JSON arrays of
 * numbers; base64 floats when req asks for encoding_format "base64"), with tokens as its
 * usage, written to out. The local estimate of req's input text for providers that report
 * no usage. The string member (taskType, title) of embeddings request i of a Gemini
 * client's body src, or an empty slice. */
int pt__embed_list(const pt_jv *req, const pt_jv *const *vectors, size_t n, pt_slice public_model, int64_t tokens,
                   pt_buf *out);
int64_t pt__embed_estimate(const pt_jv *req);
pt_slice pt__embed_src_member(const pt_jv *src, size_t i, const char *member);

/* Which FILE parts (documents, audio) a provider's request format can carry. */
enum {
    PT__FILE_PDF = 1,        /* base64 application/pdf */
    PT__FILE_PDF_URL = 2,    /* a PDF by URL */
    PT__FILE_TEXT = 4,       /* a plain-text document */
    PT__FILE_AUDIO = 8,      /* base64 audio/wav, audio/mpeg */
    PT__FILE_ANY_BASE64 = 16 /* any media type, base64 (Gemini's inlineData) */
};
/* Checks every FILE part of r against what the provider accepts; an UNSUPPORTED 400
 * naming the part, its media type and the provider otherwise. */
int pt__check_files(const pt__prov_ctx *c, const pt_pivot_req *r, unsigned accepts, pt_ai_error *err);
/* "messages":[{"role","content":[...]}] for wires that want roles to alternate
 * (Anthropic, Bedrock Converse): consecutive turns of one role become one message, turns
 * with nothing renderable are left out, and in each message the parts `first` picks come
 * before the others (tool results in user turns, as both APIs require). */
typedef struct pt__turns {
    bool (*renderable)(const pt_part *p);
    bool (*first)(pt_role role, const pt_part *p);
    int (*part)(pt_jw *w, const pt__prov_ctx *c, const pt_part *p, size_t msg, pt_ai_error *err);
} pt__turns;
int pt__render_turns(pt_jw *w, const pt__prov_ctx *c, const pt_pivot_req *r, const pt__turns *t, pt_ai_error *err);
/* A function tool's common members: "name", "description" when it has one, and its JSON
 * Schema under schema_key as written ({"type":"object","properties":{}} when it has none). */
void pt__tool_members(pt_jw *w, const pt_tool *t, const char *schema_key);
/* A counter's answer {"<field>":N,...}: N into *tokens, or an unreadable-answer error. */
int pt__count_field(const pt__prov_ctx *c, const char *body, size_t len, const char *field, int64_t *tokens,
                    pt_ai_error *err);
/* The OpenAI input_audio format of an audio media type ("wav", "mp3"), or NULL. */
const char *pt__audio_format(pt_slice media_type);

#endif
