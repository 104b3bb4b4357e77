/* metrics.h: Prometheus counters, gauges and latency histograms, rendered at /metrics.
 *
 * The request path only does relaxed atomic adds on objects it already holds a pointer
 * to: a route's pt_route_metrics (found through pt_route.metrics, bound once per config
 * load) and the process-wide pt_metrics_global. Looking a series up by name takes a lock
 * and happens only when a configuration is loaded. Series are interned by
 * (route, service) in a registry that outlives configuration snapshots, so counters keep
 * counting across reloads and a pointer held by an old snapshot stays valid until
 * pt_metrics_free() at exit. */
#ifndef PT_GATEWAY_METRICS_H
#define PT_GATEWAY_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/outcome.h"
#include "core/prom.h"
#include "http/client.h"
#include "http/server.h"

struct pt_config;

/* Latency buckets, upper bounds in seconds: .001 .0025 .005 .01 .025 .05 .1 .25 .5 1
 * 2.5 5 10 30 60 +Inf. */
#define PT_HIST_NBUCKETS 16

/* buckets[i] counts observations in (bound[i-1], bound[i]] (not cumulative: one add
 * per observation); the renderer accumulates. sum_us is in microseconds. */
typedef struct pt_histogram {
    _Atomic uint64_t buckets[PT_HIST_NBUCKETS];
    _Atomic uint64_t count, sum_us;
} pt_histogram;

/* One series set per (route, service). route and service are owned by the registry
 * and never change; every other field is only ever added to. */
typedef struct pt_route_metrics {
    char *route, *service;
    _Atomic uint64_t responses[6];   /* by status class: [1]..[5] = 1xx..5xx, [0] = other */
    _Atomic uint64_t gateway_errors; /* responses the gateway generated itself (404 no route, 502, 504, 4xx limits) */
    _Atomic uint64_t bytes_in, bytes_out;
    pt_histogram total, upstream;    /* request duration and upstream duration */
} pt_route_metrics;

/* Returns the series for (route, service), creating it on first use; the same names
 * always give the same pointer. service may be NULL (routes without a service), which
 * is the same series as "". Thread-safe; takes a lock, so call it at config load, never
 * per request. Returns NULL only when out of memory. */
pt_route_metrics *pt_metrics_route(const char *route, const char *service);

/* Records one finished response. status outside 100..599 counts as "other";
 * upstream_us == 0 means the request never reached an upstream and leaves the upstream
 * histogram alone. m may be NULL (no-op), so an unbound route never crashes. */
void pt_metrics_observe(pt_route_metrics *m, int status, uint64_t bytes_in, uint64_t bytes_out,
                        uint64_t total_us, uint64_t upstream_us, bool gateway_error);

/* Counts one finished request under its outcome (codes outside the table are ignored). */
void pt_metrics_count_outcome(pt_outcome o);

/* Process-wide counters and gauges; callers add with relaxed atomics. */
typedef struct pt_global_metrics {
    _Atomic uint64_t connections_accepted; /* counter */
    _Atomic uint64_t connections_active;   /* gauge: incremented on accept, decremented on close */
    _Atomic uint64_t requests_total;       /* counter: every request head parsed */
    _Atomic uint64_t bad_requests;         /* counter: 400 malformed / smuggling shapes */
    _Atomic uint64_t http_4xx_limits;      /* counter: 408/413/431 from configured limits */
    _Atomic uint64_t reloads;              /* counter: configurations published by reload */
    _Atomic uint64_t reload_failures;      /* counter: reloads refused (old config kept) */
    _Atomic uint64_t accesslog_dropped;    /* counter: access log lines lost (queue full, write error) */
    _Atomic int64_t draining;              /* gauge: 1 while shutting down */
    _Atomic uint64_t supervisor_restarts;  /* counter: gateway processes restarted by the supervisor */
    pt_h2_stats h2;                        /* counters: HTTP/2 sessions, streams, sessions ended */
    pt_h2up_stats h2up;                    /* HTTP/2 upstream connections and streams */
    _Atomic uint64_t outcomes[PT_OUTCOME_COUNT]; /* counter: finished requests by outcome,
                                                  * rendered summed by the table's metric label */
} pt_global_metrics;

extern pt_global_metrics pt_metrics_global;

/* Sets every route's metrics pointer from (route name, service name). Call after a
 * configuration is loaded and before it is published. Returns 0, or PT_ENOMEM (routes
 * left unbound then have metrics == NULL, which pt_metrics_observe ignores). */
int pt_metrics_bind_config(struct pt_config *cfg);

/* Appends the Prometheus text exposition (format 0.0.4) of everything to out: build
 * info, the global counters, every route series ever interned, the pool and health
 * state of every target of cfg's services (cfg may be NULL: no target families), then
 * the output of every registered renderer. Each family appears once, with its HELP and
 * TYPE lines. Returns 0, or PT_ETOOBIG / PT_ENOMEM from out (whose content is then
 * incomplete and should not be served). */
int pt_metrics_render(const struct pt_config *cfg, pt_buf *out);

/* Extra families from later subsystems, appended after the built-in ones in the order
 * they were added. A renderer must emit complete families (HELP, TYPE, samples) through
 * the writer it is given, whose sticky error becomes pt_metrics_render's result. At
 * most 16; register at startup. */
typedef void (*pt_metrics_renderer)(pt_prom *p, void *arg);
void pt_metrics_add_renderer(pt_metrics_renderer fn, void *arg);

/* Frees the registry and forgets the renderers. Only at exit, when no thread can touch
 * a pt_route_metrics any more (every pt_route.metrics pointer dangles afterwards). */
void pt_metrics_free(void);

#endif
