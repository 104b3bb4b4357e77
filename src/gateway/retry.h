/* retry.h: when a proxied request is tried again on another target after the upstream
 * answered badly or went away, and the budget that keeps retries from multiplying an
 * outage.
 *
 *   services:
 *     - name: api
 *       retries: 2                      # further targets tried (connect failures: always)
 *       retry_on: [reset, timeout, 502, 503, 504]
 *       retry_budget: { percent: 20, min_per_second: 3 }
 *
 * A connect failure (nothing sent) is always tried elsewhere, as before. The conditions
 * of retry_on apply once the request has been sent: `reset` (the connection reset or
 * closed before a response head), `timeout` (no head within the first-byte timeout) and
 * any 5xx status. They retry only what can be sent again unchanged: an idempotent method
 * (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) whose whole body was at hand before the first
 * attempt (no body, or one within the proxy's 64 KiB buffer); only on a target not tried
 * yet; never once a byte of the answer went to the client (the last attempt's answer,
 * a 5xx included, is passed on as it came). Over each 10 s window a service's retries
 * may be at most percent of its requests plus min_per_second x 10, counted across every
 * worker: when a service is down, retries stop instead of doubling its load. */
#ifndef PT_GATEWAY_RETRY_H
#define PT_GATEWAY_RETRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/value.h"

struct pt_service;

typedef struct pt_retry_policy {
    uint64_t statuses[2];          /* bit s - 500 for each 5xx status listed */
    bool reset, timeout;
    unsigned budget_percent;       /* default 20 */
    unsigned budget_min_per_s;     /* default 3 */
    /* runtime, shared by every worker: the current window and its counts */
    _Atomic uint64_t window, requests, retries;
} pt_retry_policy;

/* Whether any condition of retry_on was given (otherwise nothing below is counted). */
bool pt_retry_any(const pt_retry_policy *r);
bool pt_retry_on_status(const pt_retry_policy *r, int status);

/* Counts a request for the budget (once per proxied request on a service with retry_on). */
void pt_retry_count_request(pt_retry_policy *r, uint64_t now_ms);
/* Takes one retry from the budget at now_ms; false when it is spent. */
bool pt_retry_take(pt_retry_policy *r, uint64_t now_ms);

/* `retry_on:` and `retry_budget:` of a service (obj). */
int pt__config_retry_on(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_retry_budget(pt_cfg *c, const pt_cfg_node *v, void *obj);

#endif
