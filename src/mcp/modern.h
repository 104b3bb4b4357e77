/* modern.h: the pieces of the stateless 2026-07-28 revision the gateway needs as a client of
 * an upstream, without I/O: the _meta every request carries, the HTTP headers that mirror
 * the body (Mcp-Method, Mcp-Name, Mcp-Param-*, with their base64 form for values that are not
 * header-safe), telling a DiscoverResult or a modern error from a 2025-era answer (era
 * detection), and turning a modern result into one a 2025-era client reads. */
#ifndef PT_MCP_MODERN_H
#define PT_MCP_MODERN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

#define PT_MCP_MODERN_VERSION "2026-07-28"

#define PT_MCP_HEADER_MISMATCH -32020
#define PT_MCP_MISSING_CAPABILITY -32021
#define PT_MCP_UNSUPPORTED_VERSION -32022

#define PT_MCP_META_VERSION "io.modelcontextprotocol/protocolVersion"
#define PT_MCP_META_CAPS "io.modelcontextprotocol/clientCapabilities"
#define PT_MCP_META_CLIENT "io.modelcontextprotocol/clientInfo"
#define PT_MCP_META_SERVER "io.modelcontextprotocol/serverInfo"
#define PT_MCP_META_LOG_LEVEL "io.modelcontextprotocol/logLevel"
#define PT_MCP_META_SUBSCRIPTION "io.modelcontextprotocol/subscriptionId"

/* Puts into request's params._meta (made when absent) the protocol version, caps (borrowed;
 * NULL: {}), the gateway's clientInfo and, when log_level is not NULL, the log level. Returns
 * 0, -1 when out of memory or request is not an object. */
int pt_mcp_modern_meta(json_t *request, json_t *caps, const char *log_level);

/* Appends "value" to out as an HTTP header value: as it is when every byte is visible ASCII
 * or an inner space or tab, else (or when it looks like the sentinel itself)
 * "=?base64?<base64 of the bytes>?=". Returns 0 or -1 (out of memory / over the cap). */
int pt_mcp_header_value(pt_buf *out, const char *value, size_t len);

/* Appends the headers of a modern request over HTTP for request: MCP-Protocol-Version,
 * Mcp-Method, Mcp-Name (tools/call, prompts/get: params.name; resources/read: params.uri),
 * and Mcp-Param-<Name> for each argument of a tools/call that params_map ({"arg":"Name"},
 * borrowed, may be NULL: the tool's x-mcp-header properties) names and the call carries as a
 * string, an integer or a boolean. Returns 0 or -1. */
int pt_mcp_modern_headers(pt_buf *out, const json_t *request, const json_t *params_map);

/* The x-mcp-header properties of a tool's inputSchema as {"arg":"Name"}, or NULL when it has
 * none (or one whose name is not a header token: the tool then gets no such header). New
 * reference. */
json_t *pt_mcp_param_map(const json_t *tool);

typedef enum {
    PT_MCP_ERA_ANSWER_MODERN,   /* a DiscoverResult that lists PT_MCP_MODERN_VERSION */
    PT_MCP_ERA_ANSWER_OTHER,    /* a modern server that speaks none of our versions, or refused */
    PT_MCP_ERA_ANSWER_LEGACY,   /* any other answer, or none: fall back to initialize */
} pt_mcp_era_answer;

/* What an answer to server/discover says of the server's era (response may be NULL: no
 * answer, a timeout). A DiscoverResult, or an error whose code the 2026-07-28 revision
 * defines (-32020..-32022), is a modern server; nothing else is (the specification asks not
 * to fall back on one particular code). why gets a sentence for the log. */
pt_mcp_era_answer pt_mcp_discover_era(const json_t *response, char *why, size_t whysz);

/* A response of a modern server as a 2025-era client may read it (new reference): resultType
 * "complete" left out; an input_required result (the server needs the client's input: an
 * elicitation, a sampling, a roots request) that the gateway did not relay as requests to the
 * client (upstream.c) becomes a JSON-RPC error naming server and what it asked for. */
json_t *pt_mcp_modern_to_legacy(json_t *response, const char *server);

/* A DiscoverResult as the InitializeResult a 2025-era client expects of the server:
 * protocolVersion, capabilities, serverInfo (its _meta's, else name), instructions. */
json_t *pt_mcp_discover_as_init(const json_t *discover, const char *name);

#endif
