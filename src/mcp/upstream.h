/* upstream.h: one MCP server as the gateway's client sees it, on one worker loop: a stdio child
 * the gateway starts, supervises and restarts with backoff, or a Streamable HTTP server called
 * through the worker's upstream client (or a legacy HTTP+SSE one: its event stream carries
 * every answer and is its session). The gateway does the initialize handshake once per
 * upstream session and then multiplexes every downstream call over it, each under its own
 * upstream id (so one child serves every client of the worker; see docs/MCP.md for why).
 *
 * Lifecycle: _new starts it; _free stops it (stdin closed, SIGTERM, SIGKILL after 2 s) and
 * fails what is pending. Calls made before the handshake completes wait for it; a call fails
 * with a JSON-RPC error, never silently, when the server exits, times out or is busy. */
#ifndef PT_MCP_UPSTREAM_H
#define PT_MCP_UPSTREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "http/client.h"
#include "mcp/mcp_config.h"

typedef struct pt_mcp_upstream pt_mcp_upstream;
typedef struct pt_mcp_call pt_mcp_call;

typedef enum { PT_MCP_UP_STARTING, PT_MCP_UP_READY, PT_MCP_UP_DOWN } pt_mcp_up_state;

/* Counters of one server name over every worker, kept across reloads (for /metrics, /readyz). */
typedef struct pt_mcp_stats {
    char *name;
    _Atomic int ready;              /* workers whose instance is READY */
    _Atomic int streams;            /* workers whose GET stream (a 2026 server: subscriptions/listen) is open */
    _Atomic int era;                /* 2025 or 2026 as the last handshake found; 0 before */
    _Atomic uint64_t starts, exits, calls_ok, calls_error, timeouts, busy, bad_lines, stderr_lines;
    struct pt_mcp_stats *next;
} pt_mcp_stats;

/* The stats of name, created on first use; NULL when out of memory. Never freed. */
pt_mcp_stats *pt_mcp_stats_get(const char *name);
pt_mcp_stats *pt_mcp_stats_first(void);

/* The answer to one call: response is the upstream's JSON-RPC response (its "id" is the
 * upstream's: the caller puts its own back), borrowed for the callback; or NULL with a
 * JSON-RPC error code and message saying why there is none. */
typedef void (*pt_mcp_reply_fn)(void *arg, json_t *response, int code, const char *message);

/* A message the server sent while a call was in flight that belongs to that call: a request
 * (sampling/createMessage, elicitation/create, roots/list: its id is the server's own, for
 * pt_mcp_upstream_answer) or a notification (notifications/progress, with the caller's own
 * progressToken put back; a log message). Borrowed. */
typedef void (*pt_mcp_event_fn)(void *arg, json_t *msg);
/* A notification of the server's that belongs to no call (notifications/tools/list_changed,
 * a log message...). Borrowed. */
typedef void (*pt_mcp_notice_fn)(void *arg, pt_mcp_upstream *up, json_t *msg);

/* def must stay valid until _free or the next _set_def. max_message: the largest message read
 * from the upstream. */
pt_mcp_upstream *pt_mcp_upstream_new(uv_loop_t *loop, pt_client *client, const pt_mcp_server *def,
                                     size_t max_message);
/* A reload kept the same server (pt_mcp_server_same): points at the new snapshot's copy. */
void pt_mcp_upstream_set_def(pt_mcp_upstream *up, const pt_mcp_server *def);
void pt_mcp_upstream_free(pt_mcp_upstream *up);

/* Sends method with params (borrowed; may be NULL). reply runs exactly once, never inside this
 * call, unless the call is cancelled first. NULL only when out of memory. */
pt_mcp_call *pt_mcp_upstream_call(pt_mcp_upstream *up, const char *method, json_t *params, pt_mcp_reply_fn reply,
                                  void *arg);
/* Has the server's requests and notifications about call go to event (set right after the
 * call is made; nothing arrives before the loop runs). Without one, a server's request is
 * answered -32601 and its progress dropped. A call whose params carry
 * _meta.progressToken is sent under a token of the gateway's (unique on the upstream) and
 * the server's progress notifications get the caller's token back. */
void pt_mcp_call_on_event(pt_mcp_call *call, pt_mcp_event_fn event);
/* pt_mcp_upstream_call for a caller that speaks the 2026-07-28 revision itself: a modern
 * server's answer reaches reply as the server gave it, resultType and input_required included,
 * instead of reshaped for a 2025-era client (its input rounds relayed as requests, resultType
 * left out); param_headers (borrowed, may be NULL: {"Name":"value"}) are the caller's own
 * Mcp-Param-* headers, sent to a modern HTTP server as they came (the gateway mirrors the
 * x-mcp-header arguments the caller sent no header for). Params whose _meta declares
 * clientCapabilities keep them in any case; params whose _meta names the revision's protocol
 * version (a caller of the revision relaying its own _meta) keep its log level too, or ask for
 * none, and lose the revision's keys when the server is of the 2025 era. */
pt_mcp_call *pt_mcp_upstream_call_modern(pt_mcp_upstream *up, const char *method, json_t *params,
                                         json_t *param_headers, pt_mcp_reply_fn reply, void *arg);
/* Sends the client's answer (taken) to a request the server made; its id must be the
 * server's own. Best effort. */
void pt_mcp_upstream_answer(pt_mcp_upstream *up, json_t *response);
void pt_mcp_upstream_on_notice(pt_mcp_upstream *up, pt_mcp_notice_fn notice, void *arg);
/* Runs after each handshake (the first, and each after a restart), once calls may be sent;
 * NULL: nothing. */
typedef void (*pt_mcp_ready_fn)(void *arg, pt_mcp_upstream *up);
void pt_mcp_upstream_on_ready(pt_mcp_upstream *up, pt_mcp_ready_fn ready, void *arg);
/* The caller lost interest (its client went away or cancelled): reply will not run; the
 * server is told with notifications/cancelled naming its own request id. */
void pt_mcp_call_cancel(pt_mcp_call *call);
/* Sends a notification (params borrowed); best effort. */
void pt_mcp_upstream_notify(pt_mcp_upstream *up, const char *method, json_t *params);

pt_mcp_up_state pt_mcp_upstream_state(const pt_mcp_upstream *up);
/* The server's InitializeResult once READY, else NULL. */
json_t *pt_mcp_upstream_init_result(const pt_mcp_upstream *up);
const pt_mcp_server *pt_mcp_upstream_def(const pt_mcp_upstream *up);

#endif
