/* jsonrpc.h: MCP's JSON-RPC 2.0 messages without I/O: reading one message from a client or an
 * upstream (with the error code the specification gives each defect), building answers,
 * cutting a byte stream into newline-delimited messages (stdio), and finding a response in a
 * Streamable HTTP answer that is JSON or an event stream. */
#ifndef PT_MCP_JSONRPC_H
#define PT_MCP_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

#define PT_MCP_PARSE_ERROR -32700
#define PT_MCP_INVALID_REQUEST -32600
#define PT_MCP_METHOD_NOT_FOUND -32601
#define PT_MCP_INVALID_PARAMS -32602
#define PT_MCP_INTERNAL_ERROR -32603
#define PT_MCP_UPSTREAM_ERROR -32000   /* the upstream could not be reached, exited, timed out or is busy */

#define PT_MCP_LATEST_VERSION "2025-11-25"

typedef enum {
    PT_MCP_REQUEST,       /* id and method */
    PT_MCP_NOTIFICATION,  /* method, no id */
    PT_MCP_RESPONSE,      /* id and result or error */
} pt_mcp_kind;

/* One message. root owns everything; the other members are borrowed from it. */
typedef struct pt_mcp_msg {
    pt_mcp_kind kind;
    json_t *root;
    json_t *id;           /* string or integer; NULL for a notification */
    const char *method;   /* NULL for a response */
    json_t *params;       /* object or NULL */
} pt_mcp_msg;

/* Reads one JSON-RPC message. Returns 0, or PT_MCP_PARSE_ERROR (not JSON) or
 * PT_MCP_INVALID_REQUEST (JSON but not one valid message: a batch, no "jsonrpc":"2.0", an
 * id that is null, a float or an object, params that are not an object...) with why filled
 * in. On failure *id_out (may be NULL) gets the message's id when one could be read (new
 * reference), so the error can answer it. */
int pt_mcp_parse(const char *data, size_t len, pt_mcp_msg *out, json_t **id_out, char *why, size_t whysz);
void pt_mcp_msg_release(pt_mcp_msg *m);

/* {"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message}}; id NULL writes null. */
json_t *pt_mcp_error(json_t *id, int code, const char *message);
/* {"jsonrpc":"2.0","id":id,"result":result}, taking result. */
json_t *pt_mcp_result(json_t *id, json_t *result);
/* A request (id >= 0) or a notification (id < 0), taking params (may be NULL). */
json_t *pt_mcp_request(long long id, const char *method, json_t *params);

/* True for the protocol revisions of the stateful era this gateway speaks. */
bool pt_mcp_version_known(const char *v);
/* What to answer a client asking for requested: the same when known, else the latest. */
const char *pt_mcp_version_pick(const char *requested);

/* Cuts a byte stream into lines. Lines longer than max are dropped whole and counted. */
typedef struct pt_mcp_lines {
    pt_buf pending;
    size_t max;
    bool skipping;        /* inside a line that went over max */
    unsigned long dropped;
} pt_mcp_lines;

void pt_mcp_lines_init(pt_mcp_lines *l, size_t max);
void pt_mcp_lines_release(pt_mcp_lines *l);
/* Calls line() for each complete line in data (without "\n" or "\r\n"); partial lines wait
 * for the next call. Returns 0, or -1 when line() asked to stop by returning non-zero. */
int pt_mcp_lines_feed(pt_mcp_lines *l, const char *data, size_t n, int (*line)(void *arg, const char *s, size_t len),
                      void *arg);

/* Cuts an event stream (text/event-stream) into events as its bytes arrive: each event's
 * data lines, joined by "\n", go to the callback. Events over max bytes are dropped. It keeps
 * what a client needs to resume the stream: the last event id and the server's retry delay. */
typedef struct pt_mcp_sse {
    pt_mcp_lines lines;
    pt_buf data;
    int (*event)(void *arg, const char *data, size_t len);
    void *arg;
    char last_id[128];    /* the last id: field ("" for none; an id too long to keep clears it) */
    unsigned retry_ms;    /* the last retry: field, 0 when none came */
} pt_mcp_sse;

void pt_mcp_sse_init(pt_mcp_sse *s, size_t max, int (*event)(void *arg, const char *data, size_t len), void *arg);
void pt_mcp_sse_release(pt_mcp_sse *s);
/* Returns 0, or -1 when the callback asked to stop by returning non-zero. */
int pt_mcp_sse_feed(pt_mcp_sse *s, const char *p, size_t n);

/* The message answering id in a Streamable HTTP body: the body itself when it is JSON, or
 * the data of the event-stream event that carries it. New reference, or NULL with why. */
json_t *pt_mcp_find_response(const char *body, size_t len, bool event_stream, json_t *id, char *why, size_t whysz);

/* Whether two ids are the same id (string or integer). */
bool pt_mcp_id_equal(const json_t *a, const json_t *b);

#endif
