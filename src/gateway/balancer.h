/* balancer.h: the target registry (runtime state that outlives reloads) and the
 * decisions made over it: which target serves the next exchange, and when a target is
 * taken out of rotation by passive (observed failures) or active (probe) health.
 *
 * Every pt_target in a configuration snapshot points at one pt_target_state, interned
 * by "service|url", so a reload that keeps a target keeps its health and counters.
 * All fields are atomics shared by every worker; nothing here takes a lock on the
 * request path. */
#ifndef PT_GATEWAY_BALANCER_H
#define PT_GATEWAY_BALANCER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"

enum { PT_HEALTH_UNKNOWN, PT_HEALTH_UP, PT_HEALTH_DOWN };

typedef struct pt_target_state {
    char *key;                          /* "service|url"; owned, immutable */
    _Atomic int active;                 /* exchanges in flight (least_conn), all workers */
    _Atomic int open_conns, idle_conns; /* pool gauges, maintained by the pool */
    _Atomic unsigned consecutive_fails; /* passive health; reset by a success or an ejection */
    _Atomic uint64_t ejected_until_ms;  /* passive health; 0 = never ejected or recovered */
    _Atomic int health;                 /* PT_HEALTH_*: verdict of active checks */
    _Atomic unsigned hc_ok_streak, hc_fail_streak;
    _Atomic uint64_t requests, failures, ejections; /* reports seen, failed reports, ejections */
} pt_target_state;

/* Returns the state for (service, url), creating it on first use. Thread-safe; the
 * pointer stays valid until pt_target_registry_free(). NULL only when out of memory. */
pt_target_state *pt_target_state_get(const char *service, const char *url);
/* Frees every state. Only at exit, when no configuration snapshot is alive. */
void pt_target_registry_free(void);

/* True when t is not passively ejected at now_ms and, if its service runs active
 * checks, its last verdict is not DOWN (UNKNOWN counts as available). */
bool pt_target_available(const pt_target *t, uint64_t now_ms);

/* Picks the target for the next exchange with the service's balancer:
 *   round_robin  the next target after the service cursor;
 *   weighted     one period of smooth weighted round robin (nginx's algorithm) is
 *                precomputed at load into svc->wrr_slots (weights divided by their gcd);
 *                the cursor walks it, so over any whole period each target gets exactly
 *                weight/gcd picks, interleaved; when the slot's target is unavailable the
 *                pick falls to the available ones in proportion to their weights;
 *   least_conn   the fewest `active` exchanges, ties broken in round-robin order.
 * Unavailable and excluded targets are skipped. When every target that is not excluded
 * is unavailable, the balancer fails open: it returns the one whose ejection ends first
 * (a DOWN target that is not ejected counts as ending at 0) rather than refusing. An
 * excluded target is never returned; NULL means every target is excluded (or there are
 * none). Lock-free: one atomic increment of the service cursor per pick. */
pt_target *pt_balancer_pick(pt_service *svc, pt_target *const *exclude, size_t nexclude,
                            uint64_t now_ms);

/* Passive health: reports the outcome of one exchange with t (ok = a response head that
 * is not 5xx; not ok = connect error, timeout, reset or 5xx). max_fails consecutive
 * failures eject the target for eject_ms; a success resets the count and ends a past
 * ejection. Ejections and recoveries are logged (service name and target URL only). */
void pt_balancer_report(const pt_service *svc, pt_target *t, bool ok, uint64_t now_ms);

/* Active health: records one probe result. healthy_threshold successes in a row mark the
 * target UP, unhealthy_threshold failures in a row mark it DOWN; changes are logged. */
void pt_health_record(const pt_service *svc, pt_target *t, bool ok);

/* Brackets one exchange for least_conn: begin when the target is chosen, end when the
 * exchange is over (whatever its outcome). */
static inline void pt_balancer_begin(pt_target *t)
{
    atomic_fetch_add_explicit(&t->state->active, 1, memory_order_relaxed);
}

static inline void pt_balancer_end(pt_target *t)
{
    atomic_fetch_sub_explicit(&t->state->active, 1, memory_order_relaxed);
}

/* Loader support (config.c): builds svc->wrr_slots for a weighted service. Returns 0 or
 * PT_ENOMEM. The sum of weights must already be validated (bounded). */
int pt__balancer_prepare(pt_service *svc);

#endif
