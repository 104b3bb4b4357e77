/* limits_gate.h: the policies (limits/) on the request path.
 *
 * dispatch calls pt_limits_gate_request after routing and the key check, before the
 * proxy or the AI handler; ai_route.c calls pt_limits_gate_model once the model is known.
 * A refused call is answered 429 (outcome rate_limited) in the client's format, with
 * Retry-After and the RateLimit fields; every response to a call under a policy carries
 * the RateLimit-Policy and RateLimit fields (pt_req_info.resp_headers). Concurrency slots
 * are released by a request cleanup hook, so whatever ends the request (the answer, the
 * client leaving, the upstream failing) gives them back. The counters are one in-process
 * table shared by every worker thread; quota and budget totals are also written to
 * data_dir/limits.db (limits/persist.h) and read back at start. */
#ifndef PT_GATEWAY_LIMITS_GATE_H
#define PT_GATEWAY_LIMITS_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/config.h"
#include "http/server.h"
#include "limits/enforce.h"

/* Checks the request-phase policies for req on route. True: go on (the RateLimit fields
 * are set for the response). False: refused and answered; the request is over. */
bool pt_limits_gate_request(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route *route);

/* Checks the model-phase policies once model is known. True: go on. False: refused; msg
 * gets the message and the RateLimit fields and Retry-After are set for the response,
 * which the caller writes in the client's format (status 429, outcome rate_limited). */
bool pt_limits_gate_model(pt_conn *c, const char *model, char *msg, size_t cap);

/* The request's limits state (for pt_limits_gate_settle), or NULL when no policy applies. */
void *pt_limits_gate_of(pt_conn *c);

/* An AI call is about to start: reserves its tokens (estimate(arg): prompt + max_tokens,
 * asked only when a policy counts tokens) from the tokens-per-minute windows. True: go
 * on. False: refused; as pt_limits_gate_model. */
bool pt_limits_gate_ai_start(pt_conn *c, uint64_t (*estimate)(void *arg), void *arg, char *msg, size_t cap);

/* The AI call is over: its real usage replaces the reservation (known false: usage never
 * reported, as when a stream is cut; the reservation stands), and its tokens and cost go
 * to the quota and budget windows. A budget reaching soft_at is logged, counted and
 * posted to its webhook. limits may be NULL; later calls do nothing. */
void pt_limits_gate_settle(void *limits, bool known, uint64_t tokens, uint64_t cost_micro);

/* Opens the Redis counters when cfg names them (counters.redis), once at start: -1 with
 * the reason in err when Redis refuses them (a wrong password or database); Redis not
 * answering is only logged (policies follow on_store_error until it does). */
int pt_limits_gate_start(const pt_config *cfg, pt_buf *err);

/* Writes the quota and budget totals a last time and closes their file (at exit). */
void pt_limits_gate_stop(void);

/* Who and what a call is, for the policies' applies_to (the model is set later). */
pt_limit_subject pt__limits_gate_subject(pt_conn *c, const pt_route *route);

/* Links each policy of cfg to its decision counters (kept by name across reloads);
 * -1 when out of memory. Called by pt_config_bind. */
int pt__limits_gate_bind(pt_config *cfg);

/* Registers portico_policy_decisions_total with /metrics, once at start. */
void pt_limits_gate_metrics_init(void);

#endif
