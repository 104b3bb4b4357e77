/* upstream_int.h: an MCP upstream's insides, shared by upstream.c (calls, the handshake, stdio,
 * Streamable HTTP) and upstream_modern.c (what the 2026-07-28 revision adds: the era probe,
 * stateless requests with their _meta and mirrored headers, input_required rounds, the
 * subscriptions/listen stream) and by nothing else. */
#ifndef PT_MCP_UPSTREAM_INT_H
#define PT_MCP_UPSTREAM_INT_H

#include "core/buf.h"
#include "mcp/jsonrpc.h"
#include "mcp/upstream.h"

struct pt_mcp_call {
    pt_mcp_upstream *up;
    pt_mcp_call *prev, *next;
    long long id;              /* the upstream's id; -1 for a notification */
    json_t *msg;               /* the message to send */
    pt_mcp_reply_fn reply;     /* NULL once cancelled or answered */
    void *arg;
    pt_mcp_event_fn event;     /* the server's messages about this call, or NULL */
    json_t *progress;          /* the caller's progressToken (the server sees id), or NULL */
    uv_timer_t timer;
    uint64_t timeout_ms;       /* what the timer was set to */
    bool sent, done, retried;
    bool probe;                /* the era probe (server/discover) */
    bool modern;               /* sent as a 2026-07-28 request: _meta, headers, its answer reshaped */
    bool listen;               /* the long-lived subscriptions/listen of a modern server */
    bool keep_modern;          /* its caller speaks 2026-07-28: the answer as the server gave it */
    bool awaiting_tools;       /* sent again once the server's tools are listed (pt__mcp_relearn) */
    json_t *param_headers;     /* ...and its own Mcp-Param-* headers, {"Name":"value as sent"}, or NULL */
    json_t *local;             /* an answer the gateway makes itself, delivered from the timer */
    /* a modern server's input_required rounds, relayed to the caller as a server's requests */
    json_t *inputs;            /* key -> the id the request went out under (the upstream's space) */
    json_t *answers;           /* key -> the caller's answer (a response), as they come */
    json_t *state;             /* the round's requestState, echoed */
    unsigned rounds;
    bool round_done;           /* every answer is in: the timer sends the request again */
    uint64_t left_ms;          /* what was left of the timeout when the round was done */
    int fail_code;             /* a failure decided at once, delivered from the timer */
    char fail_msg[200];
    /* HTTP */
    pt_exchange *x;
    pt_buf body;
    int status;
    bool event_stream;
    pt_mcp_sse sse;            /* an event-stream answer, read as it comes */
    unsigned resumes;          /* how often its stream was resumed with Last-Event-ID */
    uint64_t resume_left;      /* waiting to resume: the call's time left once the wait is over */
    json_t *answer;            /* the response found in it */
    char *session;             /* Mcp-Session-Id of the answer */
};

struct pt_mcp_upstream {
    uv_loop_t *loop;
    pt_client *client;
    const pt_mcp_server *def;
    size_t max_message;
    pt_mcp_stats *stats;
    pt_mcp_up_state state;
    bool closing;
    unsigned handles;          /* open handles whose close callback is still to come */
    pt_mcp_call *calls;
    unsigned ncalls;
    long long next_id;
    json_t *init_result;
    char version[32];
    uv_timer_t restart_timer, kill_timer;
    uint64_t backoff_ms;
    /* stdio */
    uv_process_t proc;
    uv_pipe_t in, out, err;
    bool running;              /* proc is spawned and not yet reaped */
    bool pipes_open;
    uint64_t started_ms;
    pt_mcp_lines out_lines, err_lines;
    /* HTTP */
    char *session;
    pt_exchange *listen_x;     /* the GET stream of the server's messages that belong to no call */
    pt_mcp_sse listen_sse;
    int listen_status;
    bool listen_off;           /* the server offers no GET stream (it answered otherwise) */
    bool listen_open;          /* counted in stats->streams */
    char *post_path;           /* legacy HTTP+SSE: where messages are posted (the endpoint event) */
    /* the 2026-07-28 era: decided by each handshake (the probe), then every call is stateless */
    bool modern;
    bool probe_unreachable;    /* the probe found no server at all: that says nothing of its era */
    pt_mcp_call *subscription; /* subscriptions/listen in flight, or NULL */
    bool sub_acked, subscribe_off;
    json_t *param_maps;        /* tool name -> {"argument":"Header"}: its x-mcp-header properties */
    bool learning;             /* listing the tools again for param_maps (pt__mcp_relearn) */
    unsigned learn_pages;
    char log_level[16];        /* logging/setLevel, sent as _meta on each request; "" none */
    json_t *caps;              /* the client capabilities declared to a modern server */
    char name[64];             /* def->name, for the child's exit after a shutdown freed def */
    pt_mcp_notice_fn notice;
    void *notice_arg;
    pt_mcp_ready_fn ready;
    void *ready_arg;
};
/* upstream.c's pieces upstream_modern.c uses. */
pt_mcp_call *pt__mcp_call_new(pt_mcp_upstream *up, json_t *msg, long long id, pt_mcp_reply_fn reply, void *arg);
void pt__mcp_call_finish(pt_mcp_call *call, json_t *response, int code, const char *message);
void pt__mcp_call_timer(uv_timer_t *t);
void pt__mcp_fail_soon(pt_mcp_call *call, int code, const char *message);
void pt__mcp_send_call(pt_mcp_call *call);
void pt__mcp_send_line(pt_mcp_upstream *up, json_t *msg);
void pt__mcp_http_send(pt_mcp_call *call);
void pt__mcp_http_reset(pt_mcp_call *call);
void pt__mcp_listen_counted(pt_mcp_upstream *up, bool open);
pt_mcp_call *pt__mcp_handshake_call(pt_mcp_upstream *up, const char *method, json_t *params, pt_mcp_reply_fn done);
void pt__mcp_handshake_failed(pt_mcp_upstream *up, const char *what, const char *why);
void pt__mcp_initialize(pt_mcp_upstream *up);
void pt__mcp_now_ready(pt_mcp_upstream *up, const char *how);
void pt__mcp_set_era(pt_mcp_upstream *up, int era);

/* upstream_modern.c's, for upstream.c. */
void pt__mcp_probe(pt_mcp_upstream *up);
bool pt__mcp_modern_prepare(pt_mcp_call *call);
int pt__mcp_modern_head(pt_mcp_call *call, pt_buf *head);
json_t *pt__mcp_upstream_modern_answer(pt_mcp_call *call, json_t *response);
json_t *pt__mcp_error_body(pt_mcp_call *call);
bool pt__mcp_relearn(pt_mcp_call *call, const json_t *refusal);
void pt__mcp_subscribe(pt_mcp_upstream *up);
bool pt__mcp_subscription_notice(pt_mcp_upstream *up, const pt_mcp_msg *m);
bool pt__mcp_input_round(pt_mcp_call *call, json_t *response);
bool pt__mcp_input_answer(pt_mcp_upstream *up, json_t *response);
void pt__mcp_send_again(pt_mcp_call *call);

#endif
