/* mcp_config.h: the `mcp:` section: the MCP servers Portico fronts (stdio children it starts,
 * Streamable HTTP servers it calls) and the rules of its MCP endpoints (keys, origins, hosts,
 * message size, tool-name prefixes). Mapped with the configuration engine; no I/O. */
#ifndef PT_MCP_CONFIG_H
#define PT_MCP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/schema.h"
#include "mcp/apitools.h"
#include "config/value.h"

#define PT_MCP_TOOL_NAME_MAX 64   /* what real clients accept for a final tool name */
#define PT_MCP_SEP "__"           /* between a server's name and its tool's in /mcp */

/* Which era of the protocol a server speaks: the stateful one of initialize and sessions
 * (2024-11-05 to 2025-11-25) or the stateless one of 2026-07-28. */
typedef enum {
    PT_MCP_ERA_AUTO,          /* probe with server/discover, fall back to initialize */
    PT_MCP_ERA_2025,          /* initialize at once, no probe */
    PT_MCP_ERA_2026,          /* stateless only: no fallback */
} pt_mcp_era;

typedef struct pt_mcp_server {
    char *name;               /* [A-Za-z0-9._-], at most 60: it also prefixes tool names */
    /* stdio: exactly one of command / url */
    char *command;
    char **args;
    size_t nargs;
    pt_cfg_kv *env;           /* added to the child's environment (values ${ENV}-expanded) */
    size_t nenv;
    char *cwd;                /* NULL: the gateway's own */
    /* Streamable HTTP */
    char *url;                /* as written */
    bool tls;
    char *host;
    uint16_t port;
    char *path;               /* "/mcp"; "/" when the URL has none */
    bool legacy_sse;          /* `transport: sse`: the 2024-11-05 HTTP+SSE transport (url is the GET stream) */
    pt_mcp_era era;           /* `era:` which protocol era it speaks; default auto (probed) */
    uint64_t timeout_ms;      /* one call, request to response; default 60s */
    unsigned max_concurrency; /* calls in flight per worker; default 32 */
    bool auth_key;            /* `auth: key` on /mcp/<name> */
    bool prefix;              /* its tools appear in /mcp as <name>__<tool>; default mcp.prefix */
    bool prefix_set;
} pt_mcp_server;

/* One entry of `mcp.access`: whom it is for and what they may use. A pattern is a server's
 * name or "server/tool", where '*' matches any run of characters. */
typedef struct pt_mcp_access {
    char *consumer, *team;    /* exactly one */
    char **allow;             /* without `allow`, every server and tool not denied */
    size_t nallow;
    bool allow_set;
    char **deny;              /* checked first */
    size_t ndeny;
} pt_mcp_access;

/* One entry of `mcp.apis`: a route of the gateway whose operations (a REST route with an
 * OpenAPI document) or whose one call (a prompt API) are tools on /mcp. The gateway resolves
 * the route and builds the tools at load (gateway/mcp_local.c). */
typedef struct pt_mcp_api {
    char *name;               /* its tools' prefix and the "server" of access patterns; default the route's */
    char *route;
    char *openapi;            /* the document's file (resolved against the configuration file's folder) */
    uint64_t timeout_ms;      /* one call, default 60s */
    bool prefix;              /* tools are <name>__<operation>; default mcp.prefix */
    bool prefix_set;
} pt_mcp_api;

typedef struct pt_mcp_config {
    pt_mcp_server *servers;
    size_t nservers;
    bool auth_key;            /* `auth: key` on /mcp */
    bool key_required;        /* a listener is not loopback-only: every MCP endpoint needs a key */
    char **allowed_origins;   /* besides http(s)://localhost|127.0.0.1|[::1][:port] */
    size_t norigins;
    char **allowed_hosts;     /* Host values accepted besides loopback names and listener hosts */
    size_t nhosts;
    uint64_t max_message_bytes; /* one JSON-RPC message from a client or an upstream; default 4 MiB */
    bool prefix;              /* default for servers' `prefix`; default true */
    pt_mcp_access *access;    /* `access:` in file order */
    size_t naccess;
    pt_mcp_api *apis;         /* `apis:` in file order */
    size_t napis;
    pt_mcp_apitools tools;    /* the apis' tools, built by the gateway at load */
    bool diagnose_connection; /* the built-in tool; default true */
    uint64_t diagnose_deadline_ms; /* its whole run, whatever the probes; default 30s */
    bool record_arguments;    /* tool calls' argument values in the call log (masked); default false */
} pt_mcp_config;

/* The name of the built-in tools' "server" in access patterns and call records. */
#define PT_MCP_BUILTIN "portico"

/* Maps `mcp:`; NULL when it failed (errors recorded in c) or is out of memory.
 * key_required: the configuration has a listener that is not loopback-only. */
pt_mcp_config *pt_mcp_config_map(pt_cfg *c, const pt_cfg_node *v, bool key_required);
void pt_mcp_config_free(pt_mcp_config *m);
const pt_mcp_server *pt_mcp_config_server(const pt_mcp_config *m, const char *name, size_t len);
/* The entry of mcp.apis named name, or NULL. */
const pt_mcp_api *pt_mcp_config_api(const pt_mcp_config *m, const char *name, size_t len);
/* Whether m gives /mcp anything to serve (servers or apis); m may be NULL. */
bool pt_mcp_config_served(const pt_mcp_config *m);
/* Whether any MCP endpoint of m may ask for a Portico key (m may be NULL). */
bool pt_mcp_config_keyed(const pt_mcp_config *m);
/* The access entry for a caller: its consumer's, else its team's; NULL when none applies
 * (every server and tool may be used). */
const pt_mcp_access *pt_mcp_access_for(const pt_mcp_config *m, const char *consumer, const char *team);
/* Whether a (NULL: no entry) lets its caller use tool of server; tool NULL asks whether any
 * of the server's tools, prompts or resources may be used at all. */
bool pt_mcp_access_allows(const pt_mcp_access *a, const char *server, const char *tool);

/* Adds an access entry made elsewhere (a policy's `mcp:` member) for consumer or team (one of
 * them), copying the patterns. 1 when an entry for it exists already (it is kept), -1 with why
 * when a pattern names no server or apis entry, or out of memory; 0 when added. */
int pt_mcp_access_add(pt_mcp_config *m, const char *consumer, const char *team, char *const *allow, size_t nallow,
                      bool allow_set, char *const *deny, size_t ndeny, char *why, size_t whysz);

/* Whether a and b start and talk to the same upstream (a running child can be kept). */
bool pt_mcp_server_same(const pt_mcp_server *a, const pt_mcp_server *b);

#endif
