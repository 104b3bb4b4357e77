/* modern.h: the stateless 2026-07-28 revision without I/O, both ways.
 *
 * As a server to clients: telling a request of the revision from one of the stateful era, the
 * checks its _meta and its HTTP headers must pass (each failure with the JSON-RPC code and HTTP
 * status the specification gives it), Mcp-Name's base64 form, what its results carry
 * (resultType, ttlMs, cacheScope) and which of a server's log messages a request asked for. A
 * modern client's request is served through the same upstream sessions as a 2025 client's,
 * with the client's protocol keys taken out of its _meta first.
 *
 * As a client of an upstream of the revision: the _meta every request carries, the HTTP
 * headers that mirror the body (Mcp-Method, Mcp-Name, Mcp-Param-*, with their base64 form for
 * values that are not header-safe), telling a DiscoverResult or a modern error from a
 * 2025-era answer (era detection), and turning a modern result into one a 2025-era client
 * reads. */
#ifndef PT_MCP_MODERN_H
#define PT_MCP_MODERN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/slice.h"
#include "mcp/jsonrpc.h"

#define PT_MCP_MODERN_VERSION "2026-07-28"

#define PT_MCP_HEADER_MISMATCH -32020
#define PT_MCP_MISSING_CAPABILITY -32021
#define PT_MCP_UNSUPPORTED_VERSION -32022

#define PT_MCP_META_VERSION "io.modelcontextprotocol/protocolVersion"
#define PT_MCP_META_CAPS "io.modelcontextprotocol/clientCapabilities"
#define PT_MCP_META_CLIENT "io.modelcontextprotocol/clientInfo"
#define PT_MCP_META_LOG_LEVEL "io.modelcontextprotocol/logLevel"
#define PT_MCP_META_SERVER_INFO "io.modelcontextprotocol/serverInfo"
#define PT_MCP_META_SUBSCRIPTION "io.modelcontextprotocol/subscriptionId"

/* The HTTP headers a modern request mirrors its body in; a header that was not sent has a
 * NULL ptr. */
typedef struct pt_mcp_modern_headers {
    pt_slice version;  /* MCP-Protocol-Version */
    pt_slice method;   /* Mcp-Method */
    pt_slice name;     /* Mcp-Name */
} pt_mcp_modern_headers;

/* Why a modern request is refused: the JSON-RPC code, the HTTP status, a message for people
 * and the error's data (new reference or NULL). */
typedef struct pt_mcp_refusal {
    int code;
    int status;
    char why[300];
    json_t *data;
} pt_mcp_refusal;

/* Whether m is a request of the stateless revision: its params._meta names a protocol
 * version, or the MCP-Protocol-Version header says 2026-07-28, and it is not sent on a session
 * (which keeps the stateful path). A 2025 client's initialize has neither mark; one that has
 * them is a modern client's, and the revision has no initialize. */
bool pt_mcp_modern_is(const pt_mcp_msg *m, pt_slice header_version, bool has_session);

/* The checks of a modern request, in this order: _meta's protocol version present (-32602),
 * MCP-Protocol-Version equal to it (-32020), the version served (-32022, data.supported and
 * data.requested), _meta's client capabilities an object (-32602), Mcp-Method equal to the
 * method (-32020), and for tools/call, prompts/get, resources/read Mcp-Name equal to
 * params.name / params.uri once decoded (-32020). Each is HTTP 400. 0 when it passes, else the
 * code with *out filled in. */
int pt_mcp_modern_check(const pt_mcp_msg *m, const pt_mcp_modern_headers *h, pt_mcp_refusal *out);

/* Every protocol version the gateway's endpoints serve, newest first (new array). */
json_t *pt_mcp_supported_versions(void);

/* A header value as the body carries it: the value itself, or the bytes of its
 * =?base64?...?= form. malloc'd and NUL-terminated; NULL when the base64 form is broken or
 * decodes to a NUL byte. */
char *pt_mcp_header_decode(pt_slice v);

/* The client's keys (io.modelcontextprotocol/...) taken out of params._meta, and _meta
 * removed when nothing else is left in it; the log level asked for, if any, copied into
 * level (cap levelsz; "" when none; levelsz 0: not wanted, level may be NULL). */
void pt_mcp_modern_strip(json_t *params, char *level, size_t levelsz);

/* What every result of the revision carries, set on result when missing: resultType
 * "complete", and for the cacheable ones (the lists, resources/read, server/discover) ttlMs
 * 0; their cacheScope is "private" even when a server said otherwise (the gateway's answers
 * depend on the caller's mcp.access). */
void pt_mcp_modern_result(json_t *result, const char *method);

/* Whether a server's notifications/message at level goes to a request that asked for
 * asked ("" or NULL: the request asked for none, so none goes). */
bool pt_mcp_log_wanted(const char *asked, const char *level);

/* The member of params that Mcp-Name mirrors for method (tools/call, prompts/get: "name";
 * resources/read: "uri"), or NULL when it mirrors none. */
const char *pt_mcp_named_by(const char *method);

/* ---- as a client of an upstream of the revision ---- */

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
int pt_mcp_modern_write_headers(pt_buf *out, const json_t *request, const json_t *params_map);

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
