/* trace_config.h: the `tracing:` section (needs config/ only).
 *
 *   tracing:
 *     otlp:
 *       endpoint: http://127.0.0.1:4318/v1/traces   # required; plain http only
 *       headers: { authorization: "Bearer ..." }     # sent with every export
 *       timeout: 5s                                  # one export, connect to answer
 *       retries: 2                                   # further tries of a failed export
 *     sample: 1.0                  # share of new traces recorded; a client's sampled flag wins
 *     service_name: portico
 *     flush_interval: 1s           # spans wait at most this long before they are sent
 *
 * Without the section nothing is traced: traceparent headers pass through untouched. */
#ifndef PT_TRACE_TRACE_CONFIG_H
#define PT_TRACE_TRACE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "config/value.h"

typedef struct pt_trace_cfg {
    bool enabled;                /* the section was written */
    bool tls;                    /* an https:// collector */
    char *host;                  /* the collector: lowercase, no brackets */
    uint16_t port;
    char *path;                  /* "/v1/traces" when the endpoint has no path */
    char *endpoint;              /* as written, for messages */
    char **headers;              /* "Name: value" lines */
    size_t nheaders;
    uint64_t timeout_ms;         /* default 5s */
    uint64_t retries;            /* default 2 */
    uint64_t flush_ms;           /* default 1s */
    uint64_t sample_below;       /* a new trace is sampled when a random u64 is below this;
                                  * UINT64_MAX with sample 1.0 (always) */
    bool sample_all;
    char *service_name;          /* default "portico" */
} pt_trace_cfg;

/* Maps the section into *out (obj is the pt_trace_cfg). -1 when anything failed. */
int pt_trace_cfg_map(pt_cfg *c, const pt_cfg_node *v, pt_trace_cfg *out);

/* Frees what *t owns and zeroes it. */
void pt_trace_cfg_release(pt_trace_cfg *t);

/* Whether a new trace (no sampled flag from the client) is recorded, for a random r. */
static inline bool pt_trace_cfg_sample(const pt_trace_cfg *t, uint64_t r)
{
    return t->sample_all || r < t->sample_below;
}

#endif
