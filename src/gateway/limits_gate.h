/* limits_gate.h: the policies (limits/) on the request path.
 *
 * dispatch calls pt_limits_gate_request after routing and the key check, before the
 * proxy or the AI handler; ai_route.c calls pt_limits_gate_model once the model is known.
 * A refused call is answered 429 (outcome rate_limited) in the client's format, with
 * Retry-After and the RateLimit fields; every response to a call under a policy carries
 * the RateLimit-Policy and RateLimit fields (pt_req_info.resp_headers). Concurrency slots
 * are released by a request cleanup hook, so whatever ends the request (the answer, the
 * client leaving, the upstream failing) gives them back. The counters are one in-process
 * table shared by every worker thread. */
#ifndef PT_GATEWAY_LIMITS_GATE_H
#define PT_GATEWAY_LIMITS_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/config.h"
#include "http/server.h"

/* Checks the request-phase policies for req on route. True: go on (the RateLimit fields
 * are set for the response). False: refused and answered; the request is over. */
bool pt_limits_gate_request(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route *route);

/* Checks the model-phase policies once model is known. True: go on. False: refused; msg
 * gets the message and the RateLimit fields and Retry-After are set for the response,
 * which the caller writes in the client's format (status 429, outcome rate_limited). */
bool pt_limits_gate_model(pt_conn *c, const char *model, char *msg, size_t cap);

/* Links each policy of cfg to its decision counters (kept by name across reloads);
 * -1 when out of memory. Called by pt_config_bind. */
int pt__limits_gate_bind(pt_config *cfg);

/* Registers portico_policy_decisions_total with /metrics, once at start. */
void pt_limits_gate_metrics_init(void);

#endif
