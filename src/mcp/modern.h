/* modern.h: the stateless 2026-07-28 revision's client requests without I/O: telling one from
 * a request of the stateful era, the checks its _meta and its HTTP headers must pass (each
 * failure with the JSON-RPC code and HTTP status the specification gives it), Mcp-Name's
 * base64 form, what its results carry (resultType, ttlMs, cacheScope) and which of a server's
 * log messages a request asked for.
 *
 * The gateway's upstreams stay in the stateful era: a modern request is served through the
 * same upstream sessions as a 2025 client's, with the client's protocol keys taken out of its
 * _meta first (the upstream was told the gateway's own at initialize). */
#ifndef PT_MCP_MODERN_H
#define PT_MCP_MODERN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/slice.h"
#include "mcp/jsonrpc.h"

#define PT_MCP_MODERN_VERSION "2026-07-28"

#define PT_MCP_HEADER_MISMATCH -32020
#define PT_MCP_MISSING_CAPABILITY -32021
#define PT_MCP_UNSUPPORTED_VERSION -32022

#define PT_MCP_META_VERSION "io.modelcontextprotocol/protocolVersion"
#define PT_MCP_META_CAPS "io.modelcontextprotocol/clientCapabilities"
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
 * level (cap levelsz; "" when none). */
void pt_mcp_modern_strip(json_t *params, char *level, size_t levelsz);

/* What every result of the revision carries, set on result when missing: resultType
 * "complete", and for the cacheable ones (the lists, resources/read, server/discover) ttlMs
 * 0 and cacheScope "private" (the gateway's lists depend on the caller's mcp.access). */
void pt_mcp_modern_result(json_t *result, const char *method);

/* Whether a server's notifications/message at level goes to a request that asked for
 * asked ("" or NULL: the request asked for none, so none goes). */
bool pt_mcp_log_wanted(const char *asked, const char *level);

#endif
