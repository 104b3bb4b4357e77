/* mcp_local.h: the tools /mcp serves itself rather than an MCP server: the operations of the
 * routes named in `mcp.apis` (a REST route's OpenAPI operations, a prompt API's one call) and
 * the built-in `diagnose_connection` (the doctor).
 *
 * An API tool's call is an HTTP request to the gateway's own listener, on the route, carrying
 * the MCP caller's key: the route's keys, subscriptions, policies, validation, masking and call
 * log apply to it exactly as to any client's request. The doctor runs on libuv's thread pool,
 * each probe under the call's timeout. */
#ifndef PT_GATEWAY_MCP_LOCAL_H
#define PT_GATEWAY_MCP_LOCAL_H

#include <jansson.h>
#include <uv.h>

#include "config/value.h"
#include "gateway/config.h"
#include "http/client.h"
#include "mcp/mcp_config.h"

#define PT_MCP_DOCTOR_TOOL "diagnose_connection"

struct pt_snapshot; /* control/snapshot.h */

/* At load: resolves each mcp.apis entry's route (v: the `mcp:` node, for errors), reads its
 * OpenAPI document and builds cfg->mcp->tools. Errors name the entry: an unknown route, a
 * route of another kind, a document that does not import, a tool name too long or taken twice. */
int pt__mcp_local_load(pt_cfg *c, pt_config *cfg, const pt_cfg_node *v);

/* After the store's services are added (gateway/config_store.c): each mcp.apis entry naming a
 * stored API ("service/api", which the file cannot declare) gets its tools from the API's
 * imported OpenAPI document. One that cannot (no such API, no document, a name taken) gives
 * none, with a log line: a store change never stops the configuration from loading. */
void pt__mcp_local_attach_store(pt_config *cfg, const struct pt_snapshot *snap);

/* A tool /mcp serves itself: the "server" it is under for access patterns and records (the
 * apis entry's name, or "portico") and its own name there. False when name is none of them. */
bool pt_mcp_local_owns(const pt_config *cfg, const char *name, const char **server, const char **own);

/* The /mcp tools list: each tool the gateway serves itself that access (NULL: everything)
 * lets the caller use, then the servers' (merged, taken), less any whose name is one of the
 * gateway's own (a line for each in problems). NULL when out of memory. */
json_t *pt_mcp_local_merge(const pt_config *cfg, const pt_mcp_access *access, json_t *merged, pt_buf *problems);

typedef struct pt_mcp_local_call pt_mcp_local_call;

/* The call's tools/call result (borrowed for the callback), never NULL; runs once, never inside
 * pt_mcp_local_start, unless the call is cancelled first. */
typedef void (*pt_mcp_local_done)(void *arg, json_t *result);

/* Starts the call of the tool named name with args (params.arguments; may be NULL). req is the
 * MCP request (its credentials are copied). NULL with *code and why: -32602 for arguments the
 * tool cannot take, -32603 when out of memory. */
pt_mcp_local_call *pt_mcp_local_start(uv_loop_t *loop, pt_client *client, const pt_config *cfg, const pt_request *req,
                                      const char *name, const json_t *args, pt_mcp_local_done done, void *arg, int *code,
                                      char *why, size_t whysz);
/* The caller lost interest: done will not run. NULL is a no-op. */
void pt_mcp_local_cancel(pt_mcp_local_call *call);

#endif
