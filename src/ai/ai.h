/* ai.h: the AI layer as the HTTP engine calls it: bytes in, bytes out, no sockets.
 *
 * One client request goes through these steps:
 *
 *   1. pt_ai_match() tells which AI endpoint a method + path is.
 *   2. pt_ai_request_new() reads the client body once (validates it, finds the model).
 *      Errors come back as a pt_ai_error; pt_ai_render_error() writes the body in the
 *      client's own error format.
 *   3. pt_ai_config_model() + pt_ai_plan_init() order the (provider, model, key)
 *      attempts (ai_config.h). For each attempt, until one succeeds or the plan is empty:
 *   4. pt_ai_call_new() builds the upstream request (method, path, headers, body) for that
 *      provider; the request is rendered again for every attempt, so a fallback to a
 *      provider of another type needs nothing from the engine. pt_ai_call_upstream()
 *      returns NULL when the call is answered locally (a token estimate): go to 6.
 *   5. The engine sends it, then feeds the answer: pt_ai_call_on_response_head() and
 *      pt_ai_call_on_response_body() for every piece of the body. Whatever must go to the
 *      client is passed to the emit callback as soon as it exists: one call per client
 *      event when streaming (never batched), the whole body at once otherwise. The first
 *      emit is the moment the client response starts (status 200,
 *      pt_ai_call_content_type()); before it, nothing is committed.
 *   6. pt_ai_call_finish() ends the exchange (clean end, cut, timeout or connect failure),
 *      emits whatever is left, updates the key's state, and fills a pt_ai_result: usage,
 *      cost, time to first token, and on failure the error, whether anything was
 *      emitted, and whether another attempt may be made (only when nothing was emitted).
 *      On a failure with nothing emitted and no attempt left, the engine answers with
 *      pt_ai_call_error_body() and result.error.status (plus retry-after on 429).
 *
 * Same wire format on both sides (an OpenAI client to an OpenAI, Azure or
 * openai_compatible provider; an Anthropic client to an Anthropic provider) is a byte
 * passthrough: the body is forwarded with only "model" replaced (and, for streams,
 * stream_options.include_usage switched on), and the answer is forwarded event by event
 * while its usage is read on the side. Every other pairing goes through the pivot format
 * (pivot.h): one parser per client format, one renderer and stream parser per provider. */
#ifndef PT_AI_AI_H
#define PT_AI_AI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ai/ai_config.h"
#include "ai/pivot.h"
#include "core/buf.h"
#include "core/error_body.h"
#include "core/slice.h"

/* The client formats: OpenAI Chat Completions, Anthropic Messages, OpenAI Responses
 * (always translated through the pivot, its errors in OpenAI's error object), Gemini
 * generateContent (the model and the stream in the path: pt_ai_request_new_path). */
typedef enum pt_ai_format { PT_AI_FMT_OPENAI, PT_AI_FMT_ANTHROPIC, PT_AI_FMT_RESPONSES, PT_AI_FMT_GEMINI } pt_ai_format;

typedef enum pt_ai_endpoint {
    PT_AI_EP_CHAT,         /* POST /v1/chat/completions, POST /v1/messages, POST /v1/responses,
                            * POST /v1beta/models/{model}:generateContent / :streamGenerateContent */
    PT_AI_EP_EMBEDDINGS,   /* POST /v1/embeddings */
    PT_AI_EP_MODELS,       /* GET /v1/models */
    PT_AI_EP_COUNT_TOKENS, /* POST /v1/messages/count_tokens, POST /v1/responses/input_tokens,
                            * POST /v1beta/models/{model}:countTokens */
    PT_AI_EP_MODEL,        /* GET /v1/models/{id} */
    PT_AI_EP_RESPONSE,     /* /v1/responses/{id}..., any method: a stored response (ai/stored.h) */
} pt_ai_endpoint;

const char *pt_ai_format_name(pt_ai_format f);
const char *pt_ai_endpoint_name(pt_ai_endpoint e);
/* The shape of f's error bodies (core/error_body.h). */
pt_error_format pt_ai_error_format(pt_ai_format f);

/* Maps a request line to an AI endpoint. path is without the query. anthropic_hint is
 * true when the request carries an anthropic-version header (it picks the Anthropic
 * format for GET /v1/models). Gemini's paths are /v1beta/models (GET),
 * /v1beta/models/{model} (GET) and /v1beta/models/{model}:{verb} (POST; /v1/ works too).
 * Returns 0 on a match, 404 for an unknown path (fmt and ep untouched, except that a path
 * under /v1beta/ sets fmt to Gemini), 405 for a known path with the wrong method (fmt and
 * ep set, so the error can be rendered in the endpoint's format). */
int pt_ai_match(pt_slice method, pt_slice path, bool anthropic_hint, pt_ai_format *fmt, pt_ai_endpoint *ep);

/* ---- client requests ----------------------------------------------------------------- */

typedef struct pt_ai_request pt_ai_request;

/* Reads a client body (copied; the caller keeps its buffer). Validates it as strict JSON
 * and checks the fields every provider needs (model; messages; max_tokens for Anthropic
 * chat; input for embeddings), so that a request refused here is refused the same way
 * whatever the model routes to. Returns 0 and *out, or -1 and err (status 400). */
int pt_ai_request_new(pt_ai_format fmt, pt_ai_endpoint ep, const char *body, size_t len, pt_ai_request **out,
                      pt_ai_error *err);
/* The same for a request whose path says more than its body: a Gemini request takes its
 * model and stream flag from path ("/v1beta/models/{model}:streamGenerateContent") and,
 * for streams, the framing from query (alt=sse: events; else one JSON array). Other
 * formats ignore path and query. */
int pt_ai_request_new_path(pt_ai_format fmt, pt_ai_endpoint ep, pt_slice path, pt_slice query, const char *body,
                           size_t len, pt_ai_request **out, pt_ai_error *err);
/* pt_ai_request_new_path without the copy: body[0..len) is borrowed and must stay as it is
 * until pt_ai_request_free (a gateway route keeps the client's body that long). */
int pt_ai_request_borrow_path(pt_ai_format fmt, pt_ai_endpoint ep, pt_slice path, pt_slice query, const char *body,
                              size_t len, pt_ai_request **out, pt_ai_error *err);
void pt_ai_request_free(pt_ai_request *r);
pt_ai_format pt_ai_request_format(const pt_ai_request *r);
pt_ai_endpoint pt_ai_request_endpoint(const pt_ai_request *r);
/* The public model name the client asked for. */
pt_slice pt_ai_request_model(const pt_ai_request *r);
bool pt_ai_request_stream(const pt_ai_request *r);
/* How the answer is framed: 0 whole, 1 server-sent events, 2 a Gemini stream as one JSON array. */
int pt_ai_request_framing(const pt_ai_request *r);
/* The pivot form, built on first use (translation or a local estimate) and kept for later
 * attempts. NULL with err set when the body cannot be translated (400). */
const pt_pivot_req *pt_ai_request_pivot(pt_ai_request *r, pt_ai_error *err);

/* The tokens a call may use, for token limits: the prompt's local estimate (the one a
 * translated stream reports before the provider does) plus max_tokens /
 * max_completion_tokens / max_output_tokens, or default_max when the client gave none;
 * a body that is not a chat (embeddings) counts as its text. Builds the pivot form. */
int64_t pt_ai_request_token_estimate(pt_ai_request *r, int64_t default_max);

/* ---- answers made without a provider -------------------------------------------------- */

/* Writes the error body in the client's format:
 *   OpenAI    {"error":{"message":...,"type":...,"param":...,"code":...}}
 *   Anthropic {"type":"error","error":{"type":...,"message":...}} */
int pt_ai_render_error(pt_ai_format fmt, const pt_ai_error *err, pt_buf *out);
/* The models a route serves: names from the configuration's models, or every model when
 * names is NULL (a route with `ai: { models: [...] }` serves only those). */
typedef struct pt_ai_model_filter {
    char *const *names;
    size_t n;
} pt_ai_model_filter;
bool pt_ai_model_listed(const pt_ai_model_filter *only, const pt_ai_model *m);

/* A model name as a request path carries it, percent-decoded (SDKs encode a '/' in a name
 * as %2F) into out (cap bytes, NUL-terminated). The length, or -1 for a bad escape, an
 * encoded NUL, or a name that does not fit. */
int pt_ai_model_from_path(pt_slice in, char *out, size_t cap);

/* GET /v1/models: the configured public model names (OpenAI list format, or Anthropic's
 * when fmt is Anthropic), those in only. */
int pt_ai_render_models(const pt_ai_config *cfg, const pt_ai_model_filter *only, pt_ai_format fmt, pt_buf *out);
/* GET /v1/models/{id}: path is the request path; the id is everything after "/models/",
 * percent-decoded (SDKs encode a '/' in a name as %2F). Writes the model object and
 * returns 200, or writes the error (unknown model: 404) in fmt and returns its status. */
int pt_ai_render_model(const pt_ai_config *cfg, const pt_ai_model_filter *only, pt_ai_format fmt, pt_slice path,
                       pt_buf *out);

/* ---- one upstream exchange ------------------------------------------------------------ */

/* A header as slices (the engine's parsed headers can be passed without copying; the
 * upstream request's headers are also NUL-terminated). */
typedef struct pt_ai_header {
    pt_slice name;
    pt_slice value;
} pt_ai_header;

#define PT_AI_MAX_UPSTREAM_HEADERS 24

/* The request to send. Everything it points to belongs to the call. The address comes
 * from provider (tls, host, port); path already includes the base URL's path and query. */
typedef struct pt_ai_upstream {
    const pt_ai_provider *provider;
    const char *method;
    const char *path;
    const pt_ai_header *headers; /* host, content-length and connection are the engine's;
                                    * the values hold secrets: never log them */
    size_t nheaders;
    const char *body;
    size_t body_len;
    bool stream;                 /* the answer is an event stream */
} pt_ai_upstream;

typedef struct pt_ai_call_opts {
    const char *request_id; /* used to derive ids the provider does not give ("chatcmpl-<id>") */
    int64_t now_unix;       /* "created" when the provider gives none; 0 = the clock */
    size_t max_response;    /* cap on a buffered (non-streamed) upstream body, 0 = 32 MiB */
    pt_slice anthropic_beta; /* the client's anthropic-beta header, whole, forwarded to Anthropic
                              * providers (messages and count_tokens) */
    bool store;             /* Responses: the answer will be kept: it says "store": true */
    const char *previous_response_id; /* Responses: the stored response continued, or NULL */
} pt_ai_call_opts;

typedef struct pt_ai_call pt_ai_call;

/* Returns 0 to go on; anything else aborts the exchange (client gone). */
typedef int (*pt_ai_emit_fn)(void *arg, const char *bytes, size_t len);

typedef enum pt_ai_end {
    PT_AI_END_OK,        /* the upstream body ended normally */
    PT_AI_END_CUT,       /* the connection closed before the body was complete */
    PT_AI_END_TIMEOUT,   /* a timeout fired (before or during the answer) */
    PT_AI_END_CONNECT,   /* the request could not be delivered */
    PT_AI_END_ABORTED,   /* the client went away; nothing more is emitted */
} pt_ai_end;

typedef struct pt_ai_result {
    pt_ai_err_kind kind;       /* PT_AI_OK on success */
    pt_ai_error error;         /* when kind != PT_AI_OK */
    bool emitted;              /* client bytes went out (no retry possible) */
    bool retryable;            /* another attempt may be made */
    bool passthrough;
    int upstream_status;
    pt_usage usage;            /* unknown fields as 0 */
    bool usage_estimated;      /* counted locally, not reported by the provider */
    uint64_t cost_micro_usd;   /* rounded to the nearest micro-dollar */
    uint64_t cost_pico_usd;    /* exact: sum of tokens x micro-dollars per million */
    bool cost_known;           /* false when no price is known for the model */
    pt_stop_reason stop;
    uint64_t ttft_us;          /* call start -> first generated token (0 when none) */
    uint64_t duration_us;      /* call start -> finish */
    const char *provider;      /* names, owned by the configuration */
    const char *upstream_model;
} pt_ai_result;

/* Builds the upstream request for one attempt. req must outlive the call. Returns NULL
 * with err set when this provider cannot serve the request (e.g. embeddings on an
 * Anthropic provider, PT_AI_ERR_UNSUPPORTED) or it cannot be translated (400). */
pt_ai_call *pt_ai_call_new(pt_ai_request *req, const pt_ai_attempt *at, const pt_ai_call_opts *opts,
                           pt_ai_error *err);
/* NULL when the call needs no upstream (answered by pt_ai_call_finish). */
const pt_ai_upstream *pt_ai_call_upstream(const pt_ai_call *c);
/* "text/event-stream" or "application/json", for the client response head. */
const char *pt_ai_call_content_type(const pt_ai_call *c);
/* True when the answer is not a stream: it reaches the emit callback in one call, whole,
 * so the client head can carry its Content-Length. */
bool pt_ai_call_is_whole(const pt_ai_call *c);
/* Feeds the response head. Never fails; a non-2xx status switches the call to reading
 * an error body. */
void pt_ai_call_on_response_head(pt_ai_call *c, int status, const pt_ai_header *headers, size_t n);
/* Feeds a piece of the response body. Returns 0, or the emit callback's nonzero value
 * (the engine then stops and calls finish with PT_AI_END_ABORTED). */
int pt_ai_call_on_response_body(pt_ai_call *c, const char *p, size_t n, pt_ai_emit_fn emit, void *arg);
/* Ends the exchange; see the header comment. Returns 0 or the emit callback's value. */
int pt_ai_call_finish(pt_ai_call *c, pt_ai_end how, pt_ai_emit_fn emit, void *arg, pt_ai_result *out);
/* A Responses client's translated answer as the whole response object (what a stream's
 * response.completed carried), once the call ended well; empty otherwise (passthrough,
 * other formats, a failed or unfinished answer). Valid until the call is freed. */
pt_slice pt_ai_call_response_object(const pt_ai_call *c);
/* The error body for a failed call, in the client's format. A provider's own 4xx body is
 * passed on unchanged when the client speaks the provider's format. */
int pt_ai_call_error_body(const pt_ai_call *c, const pt_ai_result *res, pt_buf *out);
void pt_ai_call_free(pt_ai_call *c);

#endif
