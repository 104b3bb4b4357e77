/* catalog.h: the aggregated /mcp lists without I/O: each upstream's tools (and prompts and
 * resources) under their final names (<server>__<tool> for a prefixed server, the tool's own
 * name otherwise; resource URIs are never prefixed), the entries that cannot be served (a
 * collision; for tools also more than 64 characters or not [A-Za-z0-9_.-]) left out with a
 * reason, and a final name routed back to its upstream. The rule that decides a collision is
 * the order of the servers in the configuration: the first one keeps the name. */
#ifndef PT_MCP_CATALOG_H
#define PT_MCP_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

/* One upstream's tools as it listed them (every page). */
typedef struct pt_mcp_tools_in {
    const char *server;
    bool prefix;
    json_t *tools;        /* array of entries, borrowed; NULL when the upstream failed */
    const char *key;      /* the member naming an entry: NULL for tools ("name", checked as a tool
                           * name), "name" for prompts (prefixed, not checked), anything else
                           * ("uri") taken as it is */
} pt_mcp_tools_in;

/* The final name of a tool of in, into out (cap outsz); false when it does not fit. */
bool pt_mcp_final_name(const pt_mcp_tools_in *in, const char *tool, char *out, size_t outsz);

/* The merged list: copies of the tool objects with "name" set to the final name, in server
 * then upstream order. One line per tool left out goes to problems ("server 'b': tool 'x'
 * collides with server 'a''s; left out"). NULL when out of memory. */
json_t *pt_mcp_tools_merge(const pt_mcp_tools_in *in, size_t n, pt_buf *problems);

/* Which upstream serves final name `name` in the merge of in: its index, and in *tool the
 * upstream's own name for it (pointing into name or into in's tools). -1 when none does. */
int pt_mcp_tool_route(const pt_mcp_tools_in *in, size_t n, const char *name, const char **tool);

/* Routing by prefix alone, before any list is known: the prefixed server whose "<server>__"
 * starts name (index into servers/prefixed, length n), with *tool after the separator; -1. */
int pt_mcp_prefix_route(const char *const *servers, const bool *prefixed, size_t n, const char *name, const char **tool);

#endif
