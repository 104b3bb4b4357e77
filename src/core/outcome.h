/* outcome.h: the one vocabulary of request outcomes, from one X-macro table.
 *
 * Every way a request can end is one row: the code handlers set (PT_OUT_*), the HTTP
 * status the gateway answers with when it raises the outcome itself, the name written
 * as the access log's "error" member and as the "code" of the gateway's JSON error
 * body, and the label of the portico_request_outcomes_total series (labels group
 * rows, so the series stay few). A new failure cause is one new row.
 *
 * Status 499 marks outcomes where the client is gone and nothing can be answered (the
 * access log then shows 499 unless a response had already begun). */
#ifndef PT_CORE_OUTCOME_H
#define PT_CORE_OUTCOME_H

#include <stdbool.h>

/* X(NAME, status, log name, metric label) */
#define PT_OUTCOME_MAP(X)                                                             \
    X(OK,                     200, "ok",                         "ok")                \
    /* the request itself is wrong (server.c) */                                      \
    X(BAD_REQUEST,            400, "bad_request",                "bad_request")       \
    X(AMBIGUOUS_LENGTH,       400, "ambiguous_length",           "bad_request")       \
    X(BAD_TRANSFER_ENCODING,  400, "bad_transfer_encoding",      "bad_request")       \
    X(BAD_CHUNK,              400, "bad_chunk",                  "bad_request")       \
    X(BAD_CONTENT_LENGTH,     400, "bad_content_length",         "bad_request")       \
    X(BAD_METHOD,             400, "bad_method",                 "bad_request")       \
    X(BAD_VERSION,            400, "bad_version",                "bad_request")       \
    X(BAD_PATH,               400, "bad_path",                   "bad_request")       \
    X(OBSOLETE_LINE_FOLDING,  400, "obsolete_line_folding",      "bad_request")       \
    X(MISSING_HOST,           400, "missing_host",               "bad_request")       \
    X(DUPLICATE_HOST,         400, "duplicate_host",             "bad_request")       \
    X(BAD_HOST,               400, "bad_host",                   "bad_request")       \
    X(EXPECTATION_FAILED,     417, "expectation_failed",         "bad_request")       \
    X(UNSUPPORTED_TRANSFER_ENCODING, 501, "unsupported_transfer_encoding", "bad_request") \
    X(HTTP_VERSION,           505, "http_version_not_supported", "bad_request")       \
    X(URI_TOO_LONG,           414, "uri_too_long",               "bad_request")       \
    /* a configured limit (server.c) */                                               \
    X(HEADER_TOO_LARGE,       431, "header_too_large",           "limit")             \
    X(TOO_MANY_HEADERS,       431, "too_many_headers",           "limit")             \
    X(BODY_TOO_LARGE,         413, "body_too_large",             "limit")             \
    X(HEADER_TIMEOUT,         408, "header_timeout",             "limit")             \
    X(BODY_TIMEOUT,           408, "body_timeout",               "limit")             \
    /* the caller's identity and rights (gateway/auth.c) */                         \
    X(KEY_MISSING,            401, "key_missing",                "unauthorized")      \
    X(KEY_INVALID,            401, "key_invalid",                "unauthorized")      \
    X(KEY_EXPIRED,            401, "key_expired",                "unauthorized")      \
    X(KEY_REVOKED,            401, "key_revoked",                "unauthorized")      \
    X(NOT_SUBSCRIBED,         403, "not_subscribed",             "forbidden")         \
    X(SUBSCRIPTION_PENDING,   403, "subscription_pending",       "forbidden")         \
    X(SUBSCRIPTION_REJECTED,  403, "subscription_rejected",      "forbidden")         \
    X(MODEL_NOT_ALLOWED,      403, "model_not_allowed",          "forbidden")         \
    X(CORS_REFUSED,           403, "cors_refused",               "forbidden")         \
    X(CONTROL_UNAVAILABLE,    503, "control_unavailable",        "gateway_error")     \
    /* a policy (gateway/limits_gate.c, gateway/mask_gate.c) */                       \
    X(RATE_LIMITED,           429, "rate_limited",               "rate_limited")      \
    X(MASK_REFUSED,           400, "mask_refused",               "bad_request")       \
    /* routing and the gateway itself */                                              \
    X(ROUTE_NOT_FOUND,        404, "route_not_found",            "no_route")          \
    X(API_RETIRED,            410, "api_retired",                "no_route")          \
    X(NOT_IMPLEMENTED,        501, "not_implemented",            "gateway_error")     \
    X(UPGRADE_REFUSED,        501, "upgrade_not_supported",      "bad_request")       \
    X(ROUTE_WITHOUT_SERVICE,  500, "route_without_service",      "gateway_error")     \
    X(METRICS_UNAVAILABLE,    500, "metrics_unavailable",        "gateway_error")     \
    X(OUT_OF_MEMORY,          503, "out_of_memory",              "gateway_error")     \
    X(DRAIN_DEADLINE,         503, "drain_deadline",             "gateway_error")     \
    /* the upstream (proxy.c, ai_route.c) */                                          \
    X(UPSTREAM_ERROR,         502, "upstream_error",             "upstream_error")    \
    X(UPSTREAM_UNAVAILABLE,   502, "upstream_unavailable",       "upstream_error")    \
    X(UPSTREAM_TIMEOUT,       504, "upstream_timeout",           "upstream_timeout")  \
    X(UPSTREAM_ABORTED,       502, "upstream_aborted",           "upstream_error")    \
    X(UPSTREAM_PROTOCOL,      502, "upstream_protocol",          "gateway_error")     \
    X(AI_ERROR,               502, "ai_error",                   "ai_error")          \
    X(AI_UPSTREAM_CUT,        502, "ai_upstream_cut",            "upstream_error")    \
    /* the MCP endpoints (gateway/mcp_route.c); JSON-RPC errors in the body */        \
    X(MCP_BAD_MESSAGE,        400, "mcp_bad_message",            "bad_request")       \
    X(MCP_ORIGIN_REFUSED,     403, "mcp_origin_refused",         "forbidden")         \
    X(MCP_ACCESS_DENIED,      403, "mcp_access_denied",          "forbidden")         \
    X(MCP_UNKNOWN_SESSION,    404, "mcp_unknown_session",        "bad_request")       \
    X(MCP_METHOD_NOT_ALLOWED, 405, "mcp_method_not_allowed",     "bad_request")       \
    X(MCP_UPSTREAM_ERROR,     200, "mcp_upstream_error",         "upstream_error")    \
    /* prompt APIs (prompt_route.c) */                                                \
    X(PROMPT_BAD_VARIABLES,   400, "prompt_bad_variables",       "bad_request")       \
    X(PROMPT_BAD_OUTPUT,      502, "prompt_bad_output",          "ai_error")          \
    /* request validation against an API's OpenAPI operations (gateway/validate_gate.h) */ \
    X(REQUEST_INVALID,        400, "request_invalid",            "bad_request")       \
    X(OPERATION_NOT_FOUND,    404, "operation_not_found",        "no_route")          \
    /* the client went away or stopped reading */                                     \
    X(CLIENT_CLOSED,          499, "client_closed",              "client_closed")     \
    X(CLIENT_CLOSED_EARLY,    499, "client_closed_early",        "client_closed")     \
    X(SEND_TIMEOUT,           499, "send_timeout",               "client_closed")     \
    /* a tunnel (101) that ended without a byte either way for its idle timeout */       \
    X(TUNNEL_IDLE,            101, "tunnel_idle_timeout",        "tunnel_idle")

typedef enum pt_outcome {
#define PT_OUTCOME_ENUM(name, status, log, label) PT_OUT_##name,
    PT_OUTCOME_MAP(PT_OUTCOME_ENUM)
#undef PT_OUTCOME_ENUM
    PT_OUTCOME_COUNT
} pt_outcome;

/* The row's status; 500 for a code outside the table. */
int pt_outcome_status(pt_outcome o);
/* The access log / error body name; "unknown" for a code outside the table. */
const char *pt_outcome_log_name(pt_outcome o);
/* The metrics label; "unknown" for a code outside the table. */
const char *pt_outcome_metric_label(pt_outcome o);
/* Whether o is the first row with its metric label (renderers list each label once). */
bool pt_outcome_label_first(pt_outcome o);

#endif
