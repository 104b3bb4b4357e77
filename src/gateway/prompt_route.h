/* prompt_route.h: prompt APIs (routes of kind PT_ROUTE_PROMPT, to a `kind: prompt`
 * service). POST a JSON object of variables; the answer is
 *   {"output": TEXT or the parsed JSON, "usage": {"input_tokens","output_tokens"}, "cost": USD}
 * or, with "stream": true or Accept: text/event-stream (text output only), events
 *   event: delta  data: {"delta": TEXT}           (as the model writes)
 *   event: done   data: {"output": TEXT, "usage": {...}, "cost": USD}
 * The call runs through the AI route's plan (ai_route.h: pt_ai_route_call), so keys,
 * subscriptions, limits, fallbacks, metrics and logs are the AI endpoints'. */
#ifndef PT_GATEWAY_PROMPT_ROUTE_H
#define PT_GATEWAY_PROMPT_ROUTE_H

#include "gateway/config.h"
#include "http/client.h"
#include "http/server.h"

void pt_prompt_route_serve(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client);

#endif
