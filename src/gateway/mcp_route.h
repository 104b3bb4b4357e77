/* mcp_route.h: the MCP endpoints, a route kind (PT_ROUTE_MCP) served over the engine:
 *
 *   /mcp/<server>   one upstream, relayed: the upstream's initialize answer, its tools, prompts
 *                   and resources, every request and notification passed through
 *   /mcp            every upstream aggregated: initialize and ping answered by the gateway,
 *                   tools/list merged (names <server>__<tool> unless a server says prefix: false),
 *                   tools/call routed to the upstream that owns the tool
 *
 * Both speak Streamable HTTP (POST one JSON-RPC message, answered application/json, or an
 * event stream when the server sends requests or notifications about the call first; GET opens
 * the session's stream of the servers' other messages; DELETE ends the session) with
 * gateway-minted Mcp-Session-Id; and the 2024-11-05 HTTP+SSE transport for old clients (a GET
 * without a session opens a stream that is the session, whose first event names the endpoint
 * ?sessionId= to POST to, and which carries every answer). A server's request goes to the
 * client under an id of the gateway's and the client's answer back to that server under the
 * server's own. Clients of the stateless 2026-07-28 revision (mcp/modern.h) are told apart per
 * POST and served through the same upstream sessions, without a session of their own; a
 * server's request during such a call becomes an input_required result, and the client's
 * retry takes the parked call up again on whichever worker runs it.
 * Before anything else: Host and Origin are checked (DNS rebinding; 403), and a Portico key is
 * required where the configuration asks for one and on any configuration with a listener that
 * is not loopback-only.
 *
 * Each worker owns its upstreams (a pt_mcp_hub): its stdio children and its HTTP upstream
 * sessions, like its connection pools. Sessions are process-wide (mcp_session.h), so a client
 * may land on any worker: a client's answer to a server's request, or its cancel, that reaches
 * another worker than the call's is handed to the call's hub through its mailbox (a uv_async),
 * and the GET streams are fed from the sessions' numbered events, which Last-Event-ID replays.
 * docs/MCP.md has the why. */
#ifndef PT_GATEWAY_MCP_ROUTE_H
#define PT_GATEWAY_MCP_ROUTE_H

#include <uv.h>

#include "core/buf.h"
#include "gateway/config.h"
#include "http/client.h"
#include "http/server.h"

typedef struct pt_mcp_hub pt_mcp_hub;

/* One worker's upstreams. sync starts, keeps or stops them to match cfg's `mcp:` (a server
 * whose definition did not change keeps its child); cheap when cfg was already synced. */
pt_mcp_hub *pt_mcp_hub_new(uv_loop_t *loop, pt_client *client);
void pt_mcp_hub_sync(pt_mcp_hub *hub, pt_config *cfg);
/* Makes hub the one that keeps mcp/tool_index.h: each upstream it starts lists its tools
 * after each handshake with it, and again at each notifications/tools/list_changed. Call it
 * before the first sync, on one worker's hub. */
void pt_mcp_hub_keep_tool_index(pt_mcp_hub *hub);
/* The worker drains: its subscriptions/listen streams end as the 2026-07-28 revision closes
 * one gracefully (their result), and the 2025 sessions' GET streams end (the client resumes
 * with Last-Event-ID elsewhere), so they do not hold the drain. A legacy HTTP+SSE stream is
 * its session and carries its calls' answers: it is left to the drain. NULL: nothing. */
void pt_mcp_hub_drain(pt_mcp_hub *hub);
/* Stops every child; the loop then runs until their handles have closed. */
void pt_mcp_hub_free(pt_mcp_hub *hub);

/* Answers req, which the router matched to route (kind PT_ROUTE_MCP), with hub's upstreams. */
void pt_mcp_route_serve(pt_conn *conn, pt_request *req, const pt_route *route, pt_config *cfg, pt_mcp_hub *hub);

/* Appends ,"mcp":{"name":"up"|"down",...} for /readyz (nothing when cfg has no MCP servers). */
void pt_mcp_route_ready_json(const pt_config *cfg, pt_buf *out);

/* Whether the MCP endpoints take a request from this Origin: a loopback origin
 * (http(s)://localhost|127.0.0.1|[::1], any port) or one of mcp.allowed_origins. */
bool pt_mcp_route_origin_allowed(const struct pt_mcp_config *m, pt_slice origin);

/* portico_mcp_* families, registered once at start. */
void pt_mcp_route_metrics_init(void);

#endif
