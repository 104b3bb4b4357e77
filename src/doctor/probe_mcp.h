/* probe_mcp.h: the JSON-RPC side of the doctor's MCP probes: building initialize / tools/list
 * requests, telling a stdio line that is a JSON-RPC message from one that is not, finding the
 * response to a request in an HTTP body that is JSON or an event stream, and reading an
 * initialize result or error (protocol version, server info, version-mismatch errors). Pure
 * functions over text and parsed responses, unit-tested. */
#ifndef PT_DOCTOR_PROBE_MCP_H
#define PT_DOCTOR_PROBE_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/slice.h"
#include "doctor/probe_http.h"

#define PT_DR_MCP_VERSION "2025-11-25"   /* the revision the doctor asks for */

/* True for the protocol revisions a current client accepts (2024-11-05 ... 2025-11-25). */
bool pt__dr_mcp_version_known(const char *v);

/* One JSON-RPC message as a single line of JSON (no embedded newline), malloc'd. id < 0 makes a
 * notification. params is stolen (may be NULL). */
char *pt__dr_mcp_message(long id, const char *method, json_t *params);
/* initialize params: protocolVersion, empty capabilities, clientInfo portico-doctor. */
json_t *pt__dr_mcp_initialize_params(const char *version);
/* The params of a request of the stateless 2026-07-28 revision, which has no initialize: a
 * _meta naming that version, empty client capabilities and clientInfo portico-doctor. */
json_t *pt__dr_mcp_modern_params(void);

typedef enum {
    PT_DR_MSG_RESPONSE,      /* has id and result or error */
    PT_DR_MSG_REQUEST,       /* has id and method (server -> client request) */
    PT_DR_MSG_NOTIFICATION,  /* method, no id */
    PT_DR_MSG_NOT_RPC,       /* JSON, but not a JSON-RPC 2.0 message */
    PT_DR_MSG_NOT_JSON,      /* not JSON at all: a log line on stdout */
    PT_DR_MSG_BLANK,         /* empty or whitespace only */
} pt_dr_msg_kind;

/* Classifies one line (or SSE data). *msg (may be NULL) gets the parsed object for the three
 * message kinds (new reference), else NULL. */
pt_dr_msg_kind pt__dr_mcp_classify(pt_slice text, json_t **msg);

/* The response to request `id` in an HTTP response: the body as JSON (an object or a batch
 * array) or, for an event stream, the data of each event. Returns a new reference, or NULL
 * with why set ("the body is text/html, not JSON-RPC", "no response with id 1 among 2 events"). */
json_t *pt__dr_mcp_find_response(const pt_dr_http_resp *r, long id, char *why, size_t whysz);

typedef struct pt_dr_mcp_init {
    bool ok;                   /* a result (not an error) came back */
    char version[40];          /* result.protocolVersion */
    char server[160];          /* "name version" from serverInfo */
    bool tools;                /* capabilities.tools present */
    bool version_error;        /* the error is about the protocol version */
    bool modern;               /* ...and lists 2026-07-28, the stateless revision, as supported */
    long code;                 /* error code when !ok */
    char message[300];         /* error message (+ supported versions when given) when !ok */
} pt_dr_mcp_init;

/* Reads an initialize response message. Returns 0 (ok or error filled in) or PT_EPARSE when it
 * is neither a result nor an error. */
int pt__dr_mcp_read_init(json_t *msg, pt_dr_mcp_init *out);

/* True when free text (an HTTP 400 body) speaks of an unsupported protocol version. */
bool pt__dr_mcp_text_is_version_error(pt_slice text);
/* True when free text speaks of a session id ("No valid session ID", "Session not found"). */
bool pt__dr_mcp_text_is_session_error(pt_slice text);

/* Number of tools in a tools/list response, -1 when it has no result.tools array. names gets
 * up to the first few names joined with ", ". */
int pt__dr_mcp_tool_count(json_t *msg, char *names, size_t namesz);

#endif
