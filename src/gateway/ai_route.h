/* ai_route.h: the AI endpoints (/v1/chat/completions, /v1/messages,
 * /v1/messages/count_tokens, /v1/embeddings, /v1/models) served on routes of kind
 * PT_ROUTE_AI: a route with `ai: {}`, or the default route on `/v1/` that a
 * configuration with models gets when no route declares AI. The formats, translation and
 * routing plan live in ai/; this file moves their bytes over the engine's connections:
 * one upstream exchange per attempt, falling back while nothing has reached the client. */
#ifndef PT_GATEWAY_AI_ROUTE_H
#define PT_GATEWAY_AI_ROUTE_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/error_body.h"
#include "gateway/config.h"
#include "http/client.h"
#include "http/server.h"

/* Answers req, which the router matched to route (kind PT_ROUTE_AI). A path that is no
 * AI endpoint gets 404 in the client's error format (OpenAI's unless the request
 * carries anthropic-version). The route's snapshot stays alive through the request's
 * info hold (see proxy.h). */
void pt_ai_route_serve(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client);

/* For the server's own errors (413, 408, ...) on an AI route: the body in the client's
 * format. False when the current configuration routes req elsewhere. */
bool pt_ai_route_render_error(const pt_request *req, int status, const char *msg, pt_buf *body);

/* The error format of a request on an AI route: Anthropic's when the endpoint is
 * Anthropic's (or the request carries anthropic-version), else OpenAI's. */
pt_error_format pt_ai_route_error_format(const pt_request *req, const pt_route *route);

/* Prometheus families for AI usage (tokens, cost, calls), registered once at start. */
void pt_ai_route_metrics_init(void);

#endif
