/* ai_metrics.h: in-memory counters of AI calls per (public model, provider, provider
 * model): calls by outcome, tokens by kind, cost, time to first token.
 *
 * The engine records every finished call with pt_ai_metrics_record() and registers
 * pt_ai_metrics_render() as a /metrics renderer (its signature is the one
 * pt_metrics_add_renderer() takes). Series live in a fixed table that outlives
 * configuration reloads; finding a series is lock-free (a new one is published with one
 * compare-and-swap), so recording costs a hash and a few relaxed atomic adds. When the
 * table is full, calls of new series are counted as dropped. */
#ifndef PT_AI_AI_METRICS_H
#define PT_AI_AI_METRICS_H

#include <stdint.h>

#include "ai/ai.h"
#include "core/buf.h"

#define PT_AI_METRICS_MAX_SERIES 1024

/* model: the public model name (NULL = ""). Thread-safe. */
void pt_ai_metrics_record(const char *model, const pt_ai_result *r);
/* Appends the Prometheus families (HELP, TYPE, samples) to out. */
void pt_ai_metrics_render(pt_buf *out, void *arg);
/* Frees every series; only at exit, when no thread records any more. */
void pt_ai_metrics_free(void);

#endif
