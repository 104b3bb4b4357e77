/* mcp_args.h: what the call log keeps of an MCP tool call's arguments: always their shape
 * (keys and types, mcp/argshape.h); their values only with `mcp.record_arguments: true`,
 * masked by the masking policies that apply to the call (a path rule sees them as
 * $.params.arguments, as in the request), and not at all when a refusing rule matches one
 * or they are longer than PT_CALLLOG_BODY_MAX as compact JSON. */
#ifndef PT_GATEWAY_MCP_ARGS_H
#define PT_GATEWAY_MCP_ARGS_H

#include <jansson.h>

#include "http/request.h"
#include "http/server.h"
#include "mcp/mcp_config.h"

/* Sets info's arguments_shape (and arguments when m asks for them) from a tools/call's
 * arguments (NULL: none given), in req's pool. Out of memory leaves them NULL. */
void pt_mcp_args_record(pt_req_info *info, pt_request *req, const pt_mcp_config *m, const json_t *args);

#endif
