/* apitools.h: REST operations and prompt APIs as MCP tools, without I/O. An imported OpenAPI
 * document's operations (the normalised form of admin/oas.h) become tool definitions, one per
 * operation, whose inputSchema holds its path, query and header parameters and its JSON body;
 * a tool call's arguments become the HTTP request the operation takes; the HTTP answer
 * becomes the tools/call result. Every input here may be hostile (a stored document, a
 * client's arguments): nothing is trusted to have the shape the format promises. */
#ifndef PT_MCP_APITOOLS_H
#define PT_MCP_APITOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

typedef enum { PT_MCP_ARG_PATH, PT_MCP_ARG_QUERY, PT_MCP_ARG_HEADER, PT_MCP_ARG_BODY } pt_mcp_arg_in;

/* One argument of a tool: the key the client uses, and where its value goes. */
typedef struct pt_mcp_arg {
    char *key;              /* the parameter's name; "<in>_<name>" when two places share a name;
                             * "body" (or "request_body" if a parameter is named body) for the body */
    char *name;             /* the parameter's own name */
    pt_mcp_arg_in in;
    bool required;
} pt_mcp_arg;

/* One tool an API gives /mcp. Immutable once built (it lives in the configuration snapshot). */
typedef struct pt_mcp_apitool {
    char *name;             /* the final name on /mcp */
    char *own;              /* the operation's name: operationId, else method_path (access, records) */
    size_t api;             /* index into mcp.apis */
    char *method;           /* "GET" */
    char *path;             /* the path template clients call, the route's part included */
    pt_mcp_arg *args;
    size_t nargs;
    json_t *def;            /* what tools/list shows: name, description, inputSchema */
} pt_mcp_apitool;

/* A growable list of tools. */
typedef struct pt_mcp_apitools {
    pt_mcp_apitool *v;
    size_t n, cap;
} pt_mcp_apitools;

/* The own name of an operation without operationId: "get_pets_petId" for GET /pets/{petId}
 * (lowercase method, each run of other characters one '_'). Into out (cap outsz). */
void pt_mcp_op_name(const char *method, const char *path, char *out, size_t outsz);

/* Appends one tool per operation of ops (the normalised form's "operations" array) to t.
 * base goes before every path (the route's prefix; "" for none); prefix (NULL: none) and
 * "__" before every own name. An operation whose body is not JSON is left out with a line in
 * skipped (may be NULL). -1 with why naming the operation when an entry is malformed, a final
 * name is longer than 64 characters or holds characters other than [A-Za-z0-9_.-], or out of
 * memory. Names are not checked against each other here (pt_mcp_apitools_collision). */
int pt_mcp_apitools_from_ops(pt_mcp_apitools *t, const json_t *ops, const char *base, const char *prefix, size_t api,
                             pt_buf *skipped, char *why, size_t whysz);

/* Appends a tool that POSTs its arguments as the JSON body to path (a prompt API: schema is
 * the variables' JSON Schema, taken). -1 with why as above. */
int pt_mcp_apitools_add_post(pt_mcp_apitools *t, const char *name, const char *description, const char *path,
                             json_t *schema, size_t api, char *why, size_t whysz);

/* The index of a tool whose final name is the same as another's (the later one), or -1. */
long pt_mcp_apitools_collision(const pt_mcp_apitools *t);
const pt_mcp_apitool *pt_mcp_apitools_find(const pt_mcp_apitools *t, const char *name);
/* Drops the tools from index n on. */
void pt_mcp_apitools_truncate(pt_mcp_apitools *t, size_t n);
void pt_mcp_apitools_release(pt_mcp_apitools *t);

/* The request for a call with arguments args (an object, or NULL for none): target gets the
 * path with each path parameter percent-encoded and the query string, headers gets
 * "Name: value\r\n" lines, body the JSON body (empty without one). -1 with why, for a
 * -32602: an unknown or missing argument, a value of a kind that place cannot carry. */
int pt_mcp_apitool_request(const pt_mcp_apitool *t, const json_t *args, pt_buf *target, pt_buf *headers, pt_buf *body,
                           char *why, size_t whysz);

/* The tools/call result for an HTTP answer: the body as text content; structuredContent the
 * body when it is a JSON object (other JSON under {"result": ...}); isError for a status of
 * 400 or more, whose text starts with "HTTP <status>". NULL when out of memory. */
json_t *pt_mcp_apitool_result(int status, bool json, const char *body, size_t len);

#endif
