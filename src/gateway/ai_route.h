/* ai_route.h: the AI endpoints on the gateway listener (/v1/chat/completions,
 * /v1/messages, /v1/messages/count_tokens, /v1/embeddings, /v1/models), served whenever
 * the configuration declares AI providers and models. The formats, translation and
 * routing plan live in ai/; this file moves their bytes over the engine's connections:
 * one upstream exchange per attempt, falling back while nothing has reached the client. */
#ifndef PT_GATEWAY_AI_ROUTE_H
#define PT_GATEWAY_AI_ROUTE_H

#include <stdbool.h>

#include "core/buf.h"
#include "gateway/config.h"
#include "http/client.h"
#include "http/server.h"

/* Takes the request if it is for an AI endpoint of cfg (answers it eventually) and
 * returns true; false leaves it to the routes. cfg stays alive through the request's
 * info hold (see proxy.h). */
bool pt_ai_route_try(pt_conn *conn, pt_request *req, pt_config *cfg, pt_client *client);

/* For the server's own errors (413, 408, ...) on an AI endpoint: the body in the
 * client's format. False when req is not for an AI endpoint of the current config. */
bool pt_ai_route_render_error(const pt_request *req, int status, const char *msg, pt_buf *body);

/* Prometheus families for AI usage (tokens, cost, calls), registered once at start. */
void pt_ai_route_metrics_init(void);

#endif
