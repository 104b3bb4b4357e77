/* call_log.c: the call log from the gateway's side (see call_log.h). */
#include "gateway/call_log.h"

#include <stdatomic.h>
#include <stdio.h>

#include "core/log.h"
#include "core/prom.h"
#include "gateway/auth.h"
#include "gateway/mask_gate.h"
#include "gateway/metrics.h"
#include "gateway/tracing.h"
#include "logs/calllog.h"

static pt_calllog *_Atomic the_log;

void pt_call_log_path(const pt_config *cfg, char *out, size_t cap)
{
    snprintf(out, cap, "%s/calls.db", cfg->data_dir ? cfg->data_dir : ".");
}

static void render(pt_prom *p, void *arg)
{
    (void)arg;
    pt_calllog *l = atomic_load(&the_log);
    if (!l) return;
    pt_calllog_stats s;
    pt_calllog_stats_get(l, &s);
    pt_prom_single(p, "portico_call_log_records_written_total", "counter", "Call records committed to the call log.", s.written);
    pt_prom_single(p, "portico_call_log_dropped_total", "counter",
                   "Call records lost: the writer's queue was full, or a write failed.", s.dropped);
    pt_prom_single(p, "portico_call_log_queue_depth", "gauge", "Call records waiting for the writer.", s.queued);
    pt_prom_single(p, "portico_call_log_pruned_total", "counter", "Call records deleted by retention (age or size).", s.pruned);
    pt_prom_single(p, "portico_call_log_names_pruned_total", "counter",
                   "Names (consumers, keys, services, ...) deleted from the call log once no record named them.",
                   s.names_pruned);
    pt_prom_single(p, "portico_call_log_write_errors_total", "counter", "Batches the writer could not commit.", s.write_errors);
    pt_prom_single(p, "portico_call_log_disk_full_total", "counter", "Batches lost because the disk was full.", s.disk_full);
    pt_prom_single(p, "portico_call_log_bytes", "gauge", "Bytes of call log database pages in use.", pt_calllog_used_bytes(l));
    pt_prom_single(p, "portico_call_log_records_to_convert", "gauge",
                   "Records of an earlier call log layout not yet converted (they are missing from queries until then).",
                   s.to_convert);
}

void pt_call_log_start(const pt_config *cfg)
{
    pt_metrics_add_renderer(render, NULL);
    if (!cfg->call_log.enabled) return;
    char path[4096], why[512];
    pt_call_log_path(cfg, path, sizeof path);
    const pt_call_log_cfg *c = &cfg->call_log;
    pt_calllog_opts o = { .path = path, .retention_ms = c->retention_ms, .max_bytes = c->max_bytes,
                          .rollup_retention_ms = { [PT_STEP_MINUTE] = c->rollup_minute_ms,
                                                   [PT_STEP_HOUR] = c->rollup_hour_ms, [PT_STEP_DAY] = c->rollup_day_ms } };
    pt_calllog *l = pt_calllog_open(&o, why, sizeof why);
    if (!l) {
        pt_log_warn("%s; calls are not logged, traffic is served", why);
        return;
    }
    atomic_store(&the_log, l);
}

void pt_call_log_record(pt_conn *c, const pt_request *req, const pt_req_info *info, int status, uint64_t bytes_in,
                        uint64_t bytes_out, uint64_t total_us)
{
    pt_calllog *l = atomic_load_explicit(&the_log, memory_order_acquire);
    /* No route and no gateway error: a built-in endpoint (health, readiness, metrics), a
     * probe rather than a call. Unmatched paths carry route_metrics and are logged. */
    if (!l || (!info->route && !info->route_metrics && info->outcome == PT_OUT_OK)) return;
    const pt_auth *who = info->auth;
    const pt_call_ai *ai = info->call_ai;
    pt_slice request_body = PT_SLICE_NULL, response_body = PT_SLICE_NULL;
    bool masking = info->mask; /* without it no body is kept and nothing was masked */
    if (masking) pt_mask_gate_bodies(info, &request_body, &response_body);
    /* every member named: nothing is left for the compiler to zero first */
    pt_call_record r = {
        .time_ms = pt_calllog_now_ms(),
        .request_id = req->request_id,
        .team = who ? who->team : NULL,
        .consumer = who ? who->consumer : NULL,
        .key_prefix = who ? who->prefix : NULL,
        /* on an AI route info->service names the provider (the access log's habit) */
        .service = who && who->service ? who->service : ai ? NULL : info->service,
        .service_team = who ? who->service_team : NULL,
        .api = info->route,
        .method = req->method_name,
        .path = req->path, /* without the query: a key sent as a parameter never reaches the log */
        .client = pt_slice_cstr(pt_conn_peer(c)),
        .status = status,
        .error = info->outcome == PT_OUT_OK ? NULL : pt_outcome_log_name(info->outcome),
        .total_us = total_us,
        .upstream_us = info->upstream_us,
        .ttfb_us = info->ttfb_us,
        .bytes_in = bytes_in,
        .bytes_out = bytes_out,
        .ai = ai,
        .trace_id = pt_tracing_trace_id(info->trace),
        .masked = masking ? pt_mask_gate_counts_json(info) : NULL,
        .request_body = request_body,
        .response_body = response_body,
        .operation = info->operation,
        .arguments_shape = info->arguments_shape,
        .arguments = info->arguments,
    };
    pt_calllog_write(l, &r);
}

void pt_call_log_stop(void)
{
    pt_calllog *l = atomic_exchange(&the_log, NULL);
    pt_calllog_close(l);
}
