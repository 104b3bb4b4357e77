/* call_int.h: the insides of an AI request and of one upstream exchange, shared by ai.c
 * (requests, calls, translation, finishing) and pass.c (reading passed-through answers)
 * only. Everything else goes through ai.h. */
#ifndef PT_AI_CALL_INT_H
#define PT_AI_CALL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ai/ai.h"
#include "ai/evstream.h"
#include "ai/fmt.h"
#include "ai/pivot.h"
#include "ai/prov.h"
#include "ai/sse.h"
#include "core/buf.h"
#include "core/json_scan.h"
#include "core/pool.h"

#define MAX_FIELDS 64
#define MAX_MODEL_NAME 256

struct pt_ai_request {
    pt_ai_format fmt;
    pt_ai_endpoint ep;
    const char *body;         /* the client's, borrowed, or a copy of it (body_owned) */
    size_t len;
    bool body_owned;
    pt_jfield *f;             /* fixed, or heap when there are more members */
    size_t nf;
    size_t open, close;       /* offsets of the root object's braces */
    int i_model, i_stream, i_stream_options;
    char model[MAX_MODEL_NAME];
    bool stream;
    bool include_usage;       /* the client asked for stream usage (OpenAI) */
    int pivot_state;          /* 0 not built, 1 built, -1 failed */
    const pt_jv *json;        /* parsed body for embeddings rendering (in the pivot's arena) */
    bool gemini_marks;        /* the pivot holds signed calls or Gemini thinking signatures */
    bool json_array;          /* Gemini: a stream framed as one JSON array (no alt=sse) */
    bool gemini_embed_one;    /* Gemini: embedContent (one embedding), not batchEmbedContents */
    const pt_jv *gemini_embed_src; /* Gemini embeddings: the client's body (in the pivot's arena) */
    /* Not zeroed when the object is reused (REQUEST_ZEROED): each is written before it is
     * read (fixed[0..nf) by the scan, pivot by its init, pivot_err before a parse). */
    pt_jfield fixed[MAX_FIELDS];
    pt_pivot_req pivot;
    pt_ai_error pivot_err;
};
#define REQUEST_ZEROED offsetof(pt_ai_request, fixed)

typedef enum call_mode {
    MODE_PASS,      /* same wire both sides: bytes forwarded, usage read on the side */
    MODE_TRANSLATE, /* through the pivot */
    MODE_EMBED,     /* embeddings rendered for the provider and answered in OpenAI's format */
    MODE_LOCAL,     /* no upstream: count_tokens estimate */
} call_mode;

struct pt_ai_call {
    pt_ai_request *req;
    pt_ai_attempt at;
    const pt__prov *prov;
    const pt__fmt *fmt;
    pt__prov_ctx ctx;
    call_mode mode;
    bool stream;
    pt_pool arena;
    pt_ai_upstream pub;
    size_t max_response;
    /* the answer */
    bool head_seen, error_mode, json_instead_of_stream;
    int status;
    pt_ai_header *rheaders;   /* copied for error classification */
    size_t nrheaders;
    pt_buf body;              /* whole body: non-streamed answers, error bodies, usage copy */
    bool body_overflow;
    pt_sse sse;
    bool sse_on;
    pt_evs evs;               /* streams in the AWS event-stream framing (Bedrock) */
    bool evs_on;
    void *pstate;             /* provider stream parser */
    pt_buf out;               /* client bytes of one upstream event */
    pt_ai_emit_fn emit;
    void *emit_arg;
    int emit_rc;
    bool emitted;
    /* accounting */
    pt_usage usage;
    pt_stop_reason stop;
    uint64_t t0, ttft_us;
    bool got_token, done;
    bool gem_finished;        /* Gemini passthrough: a chunk carried finishReason */
    bool gem_calls;           /* Gemini passthrough: the answer holds function calls */
    bool failed;
    bool err_sent;            /* the client already got an error event for it */
    bool finished;
    bool store;               /* Responses: the answer says "store": true */
    const char *prev_id;      /* Responses: previous_response_id to report (the caller's) */
    pt_buf final;             /* Responses, whole answers: the response object as sent */
    bool fst_on;              /* fst is set up (streams only) */
    /* Not zeroed when the object is reused (CALL_ZEROED): request_id is copied in first,
     * fst is set up by the format's stream_init for a stream (fst_on), untouched otherwise,
     * err is cleared (its texts emptied), up gets its arena, buffers and counts (a header
     * slot is written before nheaders counts it). */
    char request_id[64];
    pt__fmt_stream fst;       /* client stream renderer */
    pt_ai_error err;
    pt__up up;
};
#define CALL_ZEROED offsetof(pt_ai_call, request_id)

/* Sends n bytes to the client (remembering that something was sent and the first error). */
int pt__call_emit(pt_ai_call *c, const char *p, size_t n);
/* Sends c->out and empties it. */
int pt__call_flush(pt_ai_call *c);
/* Notes the time to the first token, once. */
void pt__call_mark_token(pt_ai_call *c);

/* Passthrough (pass.c): one upstream event of a MODE_PASS call forwarded in the client's
 * wire, its facts read on the side; 1 when it failed before anything reached the client
 * (the attempt may be retried). */
int pt__pass_event(pt_ai_call *c, const pt_sse_event *ev);
/* Passthrough: the usage and stop reason of a whole answer in c->body. */
void pt__pass_body_usage(pt_ai_call *c);

#endif
