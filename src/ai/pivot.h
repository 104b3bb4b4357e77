/* pivot.h: the one internal format every client format and every provider translates to
 * and from: a chat request, a chat response, the events of a streamed response, token
 * usage and the AI layer's error value.
 *
 * Memory: a pivot request or response owns an arena; every slice and array in it points
 * into that arena (the parsed JSON tree lives there too) or into the body it was parsed
 * from, which must outlive it, and lives until
 * pt_pivot_req_release() / pt_pivot_resp_release(). Nothing in a built pivot request is
 * written again, so it can be rendered for several providers in turn (fallbacks).
 *
 * Usage is kept in one convention whatever the provider reports:
 *   input        prompt tokens billed at the normal input price (cache reads and cache
 *                writes excluded; OpenAI's and Gemini's prompt counts include cached
 *                tokens and are split when parsed)
 *   output       generated tokens, reasoning included
 *   cache_read   prompt tokens served from the provider's cache
 *   cache_write  prompt tokens written to the cache (Anthropic)
 *   reasoning    the part of output spent on reasoning, for information
 * A field is -1 while unknown (streams fill usage in several steps). */
#ifndef PT_AI_PIVOT_H
#define PT_AI_PIVOT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/buf.h"
#include "core/slice.h"

/* ---- errors ---------------------------------------------------------------------- */

/* What went wrong, in terms the engine acts on. */
typedef enum pt_ai_err_kind {
    PT_AI_OK = 0,
    PT_AI_ERR_INVALID,     /* the client's request is wrong (400); never retried */
    PT_AI_ERR_NOT_FOUND,   /* unknown model or endpoint (404) */
    PT_AI_ERR_UNSUPPORTED, /* valid, but the chosen provider cannot do it (400) */
    PT_AI_ERR_CLIENT,      /* the provider refused the request as the client's fault (its 4xx, message passed on) */
    PT_AI_ERR_AUTH,        /* the provider refused our key (401/403): key taken out, next key tried, client sees 502 */
    PT_AI_ERR_RATE_LIMIT,  /* 429 from the provider: key cools down, next key or target tried */
    PT_AI_ERR_UPSTREAM,    /* 5xx / overloaded from the provider: next target tried */
    PT_AI_ERR_PROTOCOL,    /* the provider answered bytes we cannot read, or cut a stream (502) */
    PT_AI_ERR_TIMEOUT,     /* no answer in time (504) */
    PT_AI_ERR_CONNECT,     /* could not reach the provider (502) */
    PT_AI_ERR_INTERNAL,    /* out of memory, a cap hit while rendering (500) */
} pt_ai_err_kind;

#define PT_AI_ERRMSG_MAX 512

typedef struct pt_ai_error {
    pt_ai_err_kind kind;
    int status;                  /* the HTTP status the client gets */
    int upstream_status;         /* the provider's status, 0 when none */
    uint64_t retry_after_ms;     /* from retry-after / retry-after-ms / RetryInfo, 0 when absent */
    char param[64];              /* the request field at fault (OpenAI "param"), "" when none */
    char message[PT_AI_ERRMSG_MAX];
} pt_ai_error;

/* Empties e (no error) without writing its 600 bytes: the two texts become "". */
static inline void pt_ai_error_clear(pt_ai_error *e)
{
    e->kind = 0;
    e->status = e->upstream_status = 0;
    e->retry_after_ms = 0;
    e->param[0] = e->message[0] = '\0';
}

/* Fills e from scratch (every other field zero, so e may be uninitialised); status 0
 * picks the usual status for kind. Returns -1 so callers can `return pt_ai_error_set(...)`. */
int pt_ai_error_set(pt_ai_error *e, pt_ai_err_kind kind, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int pt_ai_err_default_status(pt_ai_err_kind kind);
const char *pt_ai_err_kind_name(pt_ai_err_kind kind);
/* True for the kinds a fallback to another key or target can cure. */
bool pt_ai_err_retryable(pt_ai_err_kind kind);

/* ---- usage ----------------------------------------------------------------------- */

typedef struct pt_usage {
    int64_t input, output, cache_read, cache_write, reasoning;
} pt_usage;

#define PT_USAGE_UNKNOWN ((pt_usage){ -1, -1, -1, -1, -1 })

/* Copies every known field of from into to. */
void pt_usage_merge(pt_usage *to, const pt_usage *from);
/* Unknown fields read as 0. */
static inline int64_t pt_usage_get(int64_t v) { return v < 0 ? 0 : v; }
/* input + cache_read + cache_write: the prompt size as OpenAI and Gemini count it. */
int64_t pt_usage_prompt_total(const pt_usage *u);

/* ---- content --------------------------------------------------------------------- */

typedef enum pt_part_type {
    PT_PART_TEXT,
    PT_PART_IMAGE,
    PT_PART_TOOL_USE,
    PT_PART_TOOL_RESULT,
    PT_PART_THINKING,
    PT_PART_REDACTED_THINKING,
    PT_PART_FILE,
} pt_part_type;

typedef struct pt_part pt_part;

struct pt_part {
    pt_part_type type;
    /* TEXT: the text. THINKING: the reasoning text. REDACTED_THINKING: the opaque data. */
    pt_slice text;
    /* THINKING: the provider's signature over the reasoning (may be empty). TOOL_USE: the
     * provider's signature over the call (Gemini's thoughtSignature), which it wants back
     * with the call in later turns (see pt_tool_id_sign). */
    pt_slice signature;
    /* IMAGE: either url (http(s)) or media_type + data (base64).
     * FILE (a document or an audio clip): media_type + data (base64), or url (a PDF), or
     * text (a plain-text document, media_type "text/plain"); name: file name or title. */
    pt_slice url, media_type, data;
    /* TOOL_USE: id, name, and the arguments as JSON text (an object). */
    pt_slice id, name, arguments;
    /* TOOL_RESULT: the tool_use id it answers, its content (TEXT and IMAGE parts), error flag. */
    pt_slice tool_use_id;
    pt_part *content;
    size_t ncontent;
    bool is_error;
};

typedef enum pt_role { PT_ROLE_USER, PT_ROLE_ASSISTANT } pt_role;

/* A turn. Tool results travel in user turns (as Anthropic and Gemini want them); the
 * OpenAI renderers turn them into "tool" messages. */
typedef struct pt_msg {
    pt_role role;
    pt_part *parts;
    size_t nparts;
} pt_msg;

typedef struct pt_tool {
    pt_slice name, description;
    pt_slice schema;      /* JSON Schema of the arguments as written; empty = {"type":"object"} */
} pt_tool;

typedef enum pt_tool_choice {
    PT_TOOL_CHOICE_UNSET,
    PT_TOOL_CHOICE_AUTO,
    PT_TOOL_CHOICE_NONE,
    PT_TOOL_CHOICE_ANY,  /* must call some tool (OpenAI "required", Anthropic "any") */
    PT_TOOL_CHOICE_TOOL, /* must call tool_choice_name */
} pt_tool_choice;

typedef enum pt_resp_format {
    PT_RESP_FORMAT_UNSET,
    PT_RESP_FORMAT_TEXT,
    PT_RESP_FORMAT_JSON_OBJECT,
    PT_RESP_FORMAT_JSON_SCHEMA,
} pt_resp_format;

#define PT_PIVOT_MAX_STOP 16

/* A chat request. Unset numbers are -1 (integers) or NaN (reals). */
typedef struct pt_pivot_req {
    pt_pool arena;
    pt_slice model;               /* public model name as the client sent it */
    pt_part *system;              /* TEXT parts */
    size_t nsystem;
    pt_msg *msgs;
    size_t nmsgs;
    pt_tool *tools;
    size_t ntools;
    pt_tool_choice tool_choice;
    pt_slice tool_choice_name;
    int parallel_tool_calls;      /* -1 unset, 0 no, 1 yes */
    int64_t max_tokens;
    double temperature, top_p;
    int64_t top_k;
    double presence_penalty, frequency_penalty;
    int64_t seed;
    pt_slice stop[PT_PIVOT_MAX_STOP];
    size_t nstop;
    pt_resp_format response_format;
    pt_slice response_schema;      /* JSON_SCHEMA: the schema as written (may be empty) */
    pt_slice response_schema_name;
    int response_schema_strict;    /* -1 unset */
    int64_t reasoning_budget;      /* thinking budget in tokens, -1 unset, 0 disabled */
    pt_slice reasoning_effort;     /* "low" / "medium" / "high" as given, empty when unset */
    pt_slice user;                 /* end-user id for abuse tracking */
    bool stream;
    bool include_usage;            /* OpenAI clients: stream_options.include_usage */
} pt_pivot_req;

/* ---- signatures in tool call ids ----------------------------------------------------
 *
 * Gemini signs function calls and refuses a later turn that gives a call back without
 * its signature. OpenAI and Anthropic clients have no field for it, but every client
 * gives tool call ids back, so a signed call's id carries the signature:
 * "<id>__sig__<signature as base64url, no padding>" (letters, digits, '_' and '-' only,
 * which Anthropic's id pattern allows; Gemini reads either base64 alphabet). Requests
 * are split again (pt_pivot_split_tool_ids) before any provider sees them, so providers
 * get the bare id. */
#define PT_TOOL_ID_SIG "__sig__"
/* A thinking block's signature made by Gemini reaches clients behind this prefix, so that
 * the block, given back and routed to Anthropic (which would refuse the signature), is
 * recognised as foreign and left out like unsigned reasoning. */
#define PT_GEMINI_THINKING_SIG "gemini:"
/* Appends id, then the separator and sig when sig is not empty. */
int pt_tool_id_sign(pt_buf *out, pt_slice id, pt_slice sig);
/* The bare id and the signature (base64url; empty when the id carries none). */
void pt_tool_id_split(pt_slice id, pt_slice *bare, pt_slice *sig);
/* Splits every tool call id and tool result reference of a parsed request; a signature
 * found in an id fills the call's signature unless the client sent one of its own.
 * Returns how many Gemini marks the request carries (signed calls, signed ids, Gemini
 * thinking signatures): 0 means a same-format provider can take the body as it is. */
size_t pt_pivot_split_tool_ids(pt_pivot_req *r);

void pt_pivot_req_init(pt_pivot_req *r);
void pt_pivot_req_release(pt_pivot_req *r);
/* Effort <-> budget, for providers that speak the other one. */
int64_t pt_pivot_effort_to_budget(pt_slice effort);
const char *pt_pivot_budget_to_effort(int64_t budget);

/* ---- responses ------------------------------------------------------------------- */

typedef enum pt_stop_reason {
    PT_STOP_NONE,
    PT_STOP_END_TURN,
    PT_STOP_MAX_TOKENS,
    PT_STOP_STOP_SEQUENCE,
    PT_STOP_TOOL_USE,
    PT_STOP_CONTENT_FILTER,
    PT_STOP_ERROR,
} pt_stop_reason;

const char *pt_stop_reason_name(pt_stop_reason r);

typedef struct pt_pivot_resp {
    pt_pool arena;
    pt_slice id, model;
    pt_part *parts;
    size_t nparts;
    pt_stop_reason stop;
    pt_slice stop_sequence;
    pt_usage usage;
    int64_t created;       /* unix seconds from the provider, -1 when it gave none */
} pt_pivot_resp;

void pt_pivot_resp_init(pt_pivot_resp *r);
void pt_pivot_resp_release(pt_pivot_resp *r);

/* ---- stream events --------------------------------------------------------------- *
 *
 * A provider's stream parser turns upstream events into this sequence:
 *   MESSAGE_START, then for each content block BLOCK_START(index), deltas(index),
 *   BLOCK_STOP(index), then MESSAGE_DELTA(stop reason, usage), MESSAGE_STOP.
 * Block indexes count from 0 in order of appearance. Blocks normally follow one
 * another; a provider that interleaves deltas of several tool calls (allowed by the
 * OpenAI format, not seen from OpenAI itself) yields a delta for a block already stopped,
 * which renderers pass on under that block's index. ERROR may come at any point and
 * ends the stream. */

typedef enum pt_ev_type {
    PT_EV_MESSAGE_START,   /* id, model, usage (what is known at the start) */
    PT_EV_BLOCK_START,     /* index, block (TEXT / TOOL_USE with id+name and text = its signature, often
                            * empty / THINKING / REDACTED_THINKING with text) */
    PT_EV_TEXT_DELTA,      /* index, text */
    PT_EV_TOOL_ARGS_DELTA, /* index, text = a piece of the arguments JSON */
    PT_EV_THINKING_DELTA,  /* index, text */
    PT_EV_SIGNATURE_DELTA, /* index, text = signature */
    PT_EV_BLOCK_STOP,      /* index */
    PT_EV_MESSAGE_DELTA,   /* stop, stop_sequence, usage (final values of the known fields) */
    PT_EV_MESSAGE_STOP,
    PT_EV_ERROR,           /* error */
} pt_ev_type;

typedef struct pt_ev {
    pt_ev_type type;
    int index;
    pt_part_type block;
    pt_slice id, name, model, text;
    pt_stop_reason stop;
    pt_slice stop_sequence;
    pt_usage usage;
    const pt_ai_error *error;
} pt_ev;

/* Returns 0 to go on; anything else stops the producer, which returns it. */
typedef int (*pt_ev_cb)(void *arg, const pt_ev *ev);

/* ---- estimates ------------------------------------------------------------------- */

/* A local token estimate of a request's prompt (used where the provider has no
 * count_tokens endpoint): about 4 bytes of text per token, plus fixed overheads per
 * message, per tool and per image; documented in docs/AI.md. */
int64_t pt_pivot_estimate_input_tokens(const pt_pivot_req *r);
/* The same rule for a plain text (embeddings input). */
int64_t pt_pivot_estimate_text_tokens(size_t bytes);

#endif
