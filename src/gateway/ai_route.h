/* ai_route.h: the AI endpoints (/v1/chat/completions, /v1/messages,
 * /v1/messages/count_tokens, /v1/embeddings, /v1/models) served on routes of kind
 * PT_ROUTE_AI: a route with `ai: {}`, or the default route on `/v1/` that a
 * configuration with models gets when no route declares AI. The formats, translation and
 * routing plan live in ai/; this file moves their bytes over the engine's connections:
 * one upstream exchange per attempt, falling back while nothing has reached the client. */
#ifndef PT_GATEWAY_AI_ROUTE_H
#define PT_GATEWAY_AI_ROUTE_H

#include <stdbool.h>

#include "ai/ai.h"
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

/* A call of the AI plan made by another route action (prompt APIs): the caller writes the
 * Chat Completions body; the answer goes to the hooks instead of the client. Everything
 * else is the AI route's: the key's allowed models, the model-scoped limits, attempts and
 * fallbacks, usage metrics, the access and call log figures. A failure before any byte
 * reached on_bytes is answered by the AI route (OpenAI's error format). */
typedef struct pt_ai_route_hooks {
    void *arg;
    /* The answer as an OpenAI client would get it: the whole JSON body, or one event per
     * call when streaming. Nonzero aborts the call (the client is gone). */
    int (*on_bytes)(void *arg, const char *bytes, size_t len);
    /* The call ended after on_bytes had its bytes (res->kind tells whether it completed);
     * the caller answers the client, or starts another call. */
    void (*on_end)(void *arg, const pt_ai_result *res);
    bool again; /* a later call of the same request: the model checks above already passed */
    uint64_t prior_tokens, prior_cost_micro; /* with again: the earlier calls' usage, which the
                                 * policies count together with this call's, once */
} pt_ai_route_hooks;

/* Runs body (copied) as a chat call on route's AI configuration; see pt_ai_route_hooks. */
void pt_ai_route_call(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client, const char *body,
                      size_t len, const pt_ai_route_hooks *hooks);

/* Prometheus families for AI usage (tokens, cost, calls), registered once at start. */
void pt_ai_route_metrics_init(void);

#endif
