/* tool_index.h: each MCP server's tools as the gateway last listed them, kept for the
 * whole process so the admin API (another thread) can show them without calling a server.
 * One worker's hub fills it: after each upstream's handshake and on each
 * notifications/tools/list_changed (gateway/mcp_hub.c). */
#ifndef PT_MCP_TOOL_INDEX_H
#define PT_MCP_TOOL_INDEX_H

#include <stdint.h>

#include <jansson.h>

/* Records server's whole list (an array of tool objects as the server gave them, every page;
 * borrowed, copied), listed at now_ms. Out of memory keeps the previous list. */
void pt_mcp_tool_index_put(const char *server, const json_t *tools, int64_t now_ms);

/* server's list as last recorded: a new array in *tools and when in *listed_ms, 0; or -1
 * (*tools NULL) when it was never listed. */
int pt_mcp_tool_index_get(const char *server, json_t **tools, int64_t *listed_ms);

#endif
