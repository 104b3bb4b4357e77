/* mask_gate.h: data masking (mask/) on the request path, and the bodies a route keeps in
 * the call log (its `call_log: { bodies: true }`, redacted by the same engine).
 *
 * dispatch calls pt_mask_gate_request after the limits; when no policy with `mask:`
 * applies to the call nothing is allocated and pt_req_info.mask stays NULL, which is all
 * the proxy and the AI route look at (the fast path: no buffering, no scanning). Policies
 * apply with their applies_to scoping; a model-scoped one joins once the AI route knows
 * the model. The rules of every policy that applies run in one pass, most specific
 * policy first.
 *
 * Requests are masked whole, before they go upstream (the proxy then buffers the body and
 * sends it with its new Content-Length). Answers are masked as they flow, in the mode
 * their content type asks for: server-sent events event by event (mask.h, pt_mask_sse),
 * JSON documents whole (up to PT_MASK_GATE_DOC_MAX, then as text), anything else as a
 * text stream. The counts of masked values per rule go to the call log record and to
 * portico_masked_values_total{policy,rule,direction}. */
#ifndef PT_GATEWAY_MASK_GATE_H
#define PT_GATEWAY_MASK_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "gateway/config.h"
#include "http/server.h"

#define PT_MASK_GATE_DOC_MAX (8u * 1024 * 1024)

/* Sets pt_conn_info(c)->mask when masking may apply to this call. -1 out of memory
 * (answered), else 0. */
int pt_mask_gate_request(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route *route);

/* Adds the policies scoped to model (AI routes, once it is known). */
void pt_mask_gate_model(const pt_req_info *info, const char *model);

/* Whether the request body is to be masked (the proxy buffers it whole when so). */
bool pt_mask_gate_wants_request(const pt_req_info *info);
/* Whether the answer is to be masked. */
bool pt_mask_gate_wants_response(const pt_req_info *info);

/* Masks a complete request body. 1: out holds the new body; 0: unchanged; -1: refused,
 * msg says by which rule (never the value). */
int pt_mask_gate_request_body(const pt_req_info *info, const char *body, size_t n, pt_buf *out, char *msg, size_t cap);

/* Masks doc in place with the request's rules (paths and text) for a record, counting
 * nothing: -1 when a rule that refuses matched a value in it (the record keeps no values),
 * else 0. */
int pt_mask_gate_for_record(const pt_req_info *info, json_t *doc);

/* The answer starts with this content type: false when it is not masked. */
bool pt_mask_gate_response_start(const pt_req_info *info, pt_slice ctype);
/* Masks n bytes of the answer; appends what can go out now to out. */
void pt_mask_gate_response_body(const pt_req_info *info, const char *data, size_t n, pt_buf *out);
/* The answer is complete: appends what was held. */
void pt_mask_gate_response_end(const pt_req_info *info, pt_buf *out);

/* Keeps the first bytes of a body for the call log when the route asks for bodies: dir 0
 * the request as sent upstream, 1 the answer as the client got it. */
void pt_mask_gate_keep(const pt_req_info *info, int dir, const char *data, size_t n);
/* The kept bodies, redacted and cut at the route's body_max (valid UTF-8; a body that is
 * not text is a note of its size); ptr NULL when none. Valid until the request ends. */
void pt_mask_gate_bodies(const pt_req_info *info, pt_slice *request, pt_slice *response);

/* The counts of masked values as JSON ({"rule":n,...}), NULL when nothing was masked. */
const char *pt_mask_gate_counts_json(const pt_req_info *info);

/* Registers portico_masked_values_total with /metrics, once at start. */
void pt_mask_gate_metrics_init(void);

#endif
