/* config_report.c: what `portico check-config` prints about a loaded snapshot: every
 * listener, service, route (in precedence order), provider, model and policy, then
 * warnings; and the same objects as JSON for the admin API. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ai/ai_config.h"
#include "ai/prompt.h"
#include "core/log.h"
#include "gateway/balancer.h"
#include "gateway/config.h"
#include "gateway/router.h"
#include "limits/policy.h"
#include "mcp/mcp_config.h"
#include "mcp/tool_index.h"
#include "mcp/upstream.h"
#include "store/store.h"

const char *pt_lb_name(pt_lb_kind lb)
{
    return lb == PT_LB_WEIGHTED ? "weighted" : lb == PT_LB_LEAST_CONN ? "least_conn" : "round_robin";
}

static void services(const pt_config *cfg, pt_buf *out)
{
    pt_buf_printf(out, "services: %zu\n", cfg->nservices);
    for (size_t i = 0; i < cfg->nservices; i++) {
        const pt_service *s = &cfg->services[i];
        if (s->prompt) {
            pt_buf_printf(out, "  %s (prompt): model %s, %s output\n", s->name, s->prompt->model,
                          s->prompt->schema ? "JSON" : "text");
            continue;
        }
        pt_buf_printf(out, "  %s (%s", s->name, pt_lb_name(s->lb));
        if (s->health.enabled) pt_buf_printf(out, ", health check %s", s->health.path);
        pt_buf_append_str(out, "):");
        for (size_t t = 0; t < s->ntargets; t++) {
            pt_buf_printf(out, " %s", s->targets[t].url);
            if (s->lb == PT_LB_WEIGHTED) pt_buf_printf(out, " (weight %u)", s->targets[t].weight);
        }
        pt_buf_append_str(out, "\n");
    }
}

static void routes(const pt_config *cfg, pt_buf *out)
{
    pt_buf_printf(out, "routes: %zu (in the order they are tried)\n", cfg->nroutes);
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const pt_route *r = &cfg->routes[i];
        pt_buf_printf(out, "  %s: ", r->name);
        pt_router_describe(r, out);
        if (r->kind == PT_ROUTE_AI) {
            pt_buf_printf(out, " -> AI endpoints%s\n", r->implicit ? " (default)" : "");
        } else if (r->kind == PT_ROUTE_MCP) {
            pt_buf_printf(out, " -> MCP endpoints:");
            for (size_t j = 0; j < cfg->mcp->nservers; j++)
                pt_buf_printf(out, "%s %s (%s)", j ? "," : "", cfg->mcp->servers[j].name,
                              cfg->mcp->servers[j].command ? "stdio" : cfg->mcp->servers[j].url);
            pt_buf_append_str(out, "\n");
        } else {
            pt_buf_printf(out, " -> %sservice %s\n", r->kind == PT_ROUTE_PROMPT ? "prompt " : "", r->service_name);
        }
    }
}

static void ai(const pt_ai_config *ai, pt_buf *out)
{
    pt_buf_printf(out, "providers: %zu\n", ai ? ai->nproviders : 0);
    for (size_t i = 0; ai && i < ai->nproviders; i++) {
        const pt_ai_provider *p = &ai->providers[i];
        pt_buf_printf(out, "  %s (%s): %s, %zu key%s\n", p->name, pt_ai_prov_type_name(p->type), p->base_url, p->nkeys,
                      p->nkeys == 1 ? "" : "s");
    }
    pt_buf_printf(out, "models: %zu\n", ai ? ai->nmodels : 0);
    for (size_t i = 0; ai && i < ai->nmodels; i++) {
        const pt_ai_model *m = &ai->models[i];
        pt_buf_printf(out, "  %s ->", m->name);
        for (size_t t = 0; t < m->ntargets; t++)
            pt_buf_printf(out, "%s %s/%s", t ? "," : "", m->targets[t].provider_name, m->targets[t].model);
        for (size_t f = 0; f < m->nfallbacks; f++)
            pt_buf_printf(out, "%s%s", f ? ", " : "; fallbacks: ", m->fallbacks[f]);
        pt_buf_append_str(out, "\n");
    }
}

/* Only when some are configured, so a file without policies reads as before. */
static void policies(const pt_policy_table *t, pt_buf *out)
{
    if (!t) return;
    static const char *const groups[] = { "", ", per consumer", ", per team", ", per key" };
    pt_buf_printf(out, "policies: %zu (checked in this order)\n", t->n);
    for (size_t i = 0; i < t->n; i++) {
        const pt_policy *p = &t->v[i];
        pt_buf_printf(out, "  %s: %s%s%s%s", p->name, p->match ? pt_policy_scope_key(p->scope) : "every call",
                      p->match ? " " : "", p->match ? p->match : "", groups[p->group_by]);
        if (p->has_rate)
            pt_buf_printf(out, "; %llu per %llu ms, burst %llu", (unsigned long long)p->requests,
                          (unsigned long long)p->per_ms, (unsigned long long)p->burst);
        if (p->concurrency) pt_buf_printf(out, "; %u in flight", p->concurrency);
        if (p->tokens_per_minute) pt_buf_printf(out, "; %llu tokens/min", (unsigned long long)p->tokens_per_minute);
        for (int w = 0; w < PT_WIN_COUNT; w++) {
            unsigned long long v = p->window[w];
            const char *key = pt_policy_window_key((pt_policy_window)w);
            if (v && w >= PT_WIN_USD_DAY) pt_buf_printf(out, "; %s $%llu.%06llu", key, v / 1000000, v % 1000000);
            else if (v) pt_buf_printf(out, "; %s %llu", key, v);
        }
        if (p->soft_permille) pt_buf_printf(out, ", soft at %u.%u%%", p->soft_permille / 10, p->soft_permille % 10);
        if (p->has_windows)
            pt_buf_printf(out, " (%s; store errors %s)", p->time_zone ? p->time_zone : "UTC",
                          p->store_closed ? "refuse" : "let through");
        pt_buf_append_str(out, "\n");
    }
}

static bool admin_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 || strcmp(host, "localhost") == 0;
}

size_t pt_config_report(const pt_config *cfg, pt_buf *out, pt_buf *warnings)
{
    pt_buf_printf(out, "listen: %zu\n", cfg->nlisteners);
    for (size_t i = 0; i < cfg->nlisteners; i++)
        pt_buf_printf(out, "  %s%s\n", cfg->listeners[i].text, cfg->listeners[i].tls ? " (tls)" : "");
    pt_buf_printf(out, "workers: %u\n", cfg->workers);
    char shown[256] = "";
    if (cfg->store.postgres) pt_store_pg_url_redact(cfg->store.postgres, shown, sizeof shown);
    if (cfg->admin_enabled)
        pt_buf_printf(out, "admin: %s (store in %s)\n", cfg->admin.text, shown[0] ? shown : cfg->data_dir);
    else pt_buf_append_str(out, "admin: off\n");
    services(cfg, out);
    routes(cfg, out);
    ai(cfg->ai, out);
    policies(cfg->policies, out);
    size_t n = 0;
    if (cfg->admin_enabled && !admin_loopback(cfg->admin.host)) {
        pt_buf_printf(warnings, "admin.listen %s is not a loopback address and the admin API has no TLS: "
                                "tokens and passwords would cross the network in clear\n", cfg->admin.text);
        n++;
    }
    for (size_t i = 0; i < cfg->nservices; i++)
        if (cfg->services[i].insecure_skip_verify) {
            pt_buf_printf(warnings, "service '%s': tls.insecure_skip_verify is on: upstream certificates are not "
                                    "verified\n", cfg->services[i].name);
            n++;
        }
    return n + pt_router_ai_warnings(cfg, warnings);
}

/* ---- as JSON ---------------------------------------------------------------------------- */

static json_t *file_object(json_t *o)
{
    json_object_set_new(o, "origin", json_string("file"));
    json_object_set_new(o, "read_only", json_true());
    return o;
}

static json_t *describe_listeners(const pt_config *cfg)
{
    json_t *a = json_array();
    for (size_t i = 0; i < cfg->nlisteners; i++)
        json_array_append_new(a, file_object(json_pack("{s:s,s:s,s:i,s:b}", "name", cfg->listeners[i].text, "host",
                                                       cfg->listeners[i].host, "port", cfg->listeners[i].port, "tls",
                                                       cfg->listeners[i].tls)));
    return a;
}

/* Providers without their keys: how many there are, and how many may be used now (the
 * others cool down after a 429 or were refused by the provider), is all the API says. */
static json_t *describe_providers(const pt_config *cfg)
{
    json_t *a = json_array();
    uint64_t now = pt_now_ms();
    for (size_t i = 0; cfg->ai && i < cfg->ai->nproviders; i++) {
        const pt_ai_provider *p = &cfg->ai->providers[i];
        int usable = 0;
        for (size_t k = 0; k < p->nkeys; k++) usable += pt_ai_key_usable(p, k, now);
        /* a provider without keys (a local server) is not held back by any */
        const char *status = p->nkeys == 0 || usable > 0 ? "up" : "down";
        json_array_append_new(a, file_object(json_pack("{s:s,s:s,s:s,s:i,s:i,s:s}", "name", p->name, "type",
                                                       pt_ai_prov_type_name(p->type), "base_url", p->base_url, "keys",
                                                       (int)p->nkeys, "keys_usable", usable, "status", status)));
    }
    return a;
}

/* Each service target's health as the balancer sees it (every worker's state): "up", "down"
 * (its active checks say so), "ejected" (passive health took it out, until ejected_until),
 * or "unknown" (no check has decided yet and it has not failed), with its counters. */
static json_t *describe_upstreams(const pt_config *cfg)
{
    json_t *a = json_array();
    uint64_t now = pt_now_ms();
    for (size_t i = 0; i < cfg->nservices; i++) {
        const pt_service *s = &cfg->services[i];
        if (!s->ntargets) continue;
        json_t *targets = json_array();
        size_t up = 0;
        for (size_t t = 0; t < s->ntargets; t++) {
            const pt_target *tg = &s->targets[t];
            const pt_target_state *st = tg->state;
            if (!st) continue;
            uint64_t until = atomic_load(&st->ejected_until_ms);
            int health = atomic_load(&st->health);
            const char *status = until > now                                          ? "ejected"
                                 : tg->health_checked && health == PT_HEALTH_DOWN      ? "down"
                                 : tg->health_checked && health == PT_HEALTH_UNKNOWN   ? "unknown"
                                                                                       : "up";
            up += pt_target_available(tg, now);
            json_t *o = json_pack("{s:s,s:s,s:b,s:i,s:I,s:I,s:I}", "url", tg->url, "status", status, "active_checks",
                                  tg->health_checked, "in_flight", atomic_load(&st->active), "requests",
                                  (json_int_t)atomic_load(&st->requests), "failures",
                                  (json_int_t)atomic_load(&st->failures), "ejections",
                                  (json_int_t)atomic_load(&st->ejections));
            if (until > now) json_object_set_new(o, "ejected_for_ms", json_integer((json_int_t)(until - now)));
            json_array_append_new(targets, o);
        }
        const char *status = up == s->ntargets ? "up" : up ? "degraded" : "down";
        json_array_append_new(a, json_pack("{s:s,s:s,s:i,s:o}", "name", s->name, "status", status, "targets_available",
                                           (int)up, "targets", targets));
    }
    return a;
}

static json_t *describe_models(const pt_config *cfg)
{
    json_t *a = json_array();
    for (size_t i = 0; cfg->ai && i < cfg->ai->nmodels; i++) {
        const pt_ai_model *m = &cfg->ai->models[i];
        json_t *targets = json_array(), *fallbacks = json_array();
        for (size_t t = 0; t < m->ntargets; t++)
            json_array_append_new(targets, json_pack("{s:s,s:s,s:i}", "provider", m->targets[t].provider_name, "model",
                                                     m->targets[t].model, "weight", (int)m->targets[t].weight));
        for (size_t f = 0; f < m->nfallbacks; f++) json_array_append_new(fallbacks, json_string(m->fallbacks[f]));
        json_array_append_new(a, file_object(json_pack("{s:s,s:o,s:o}", "name", m->name, "targets", targets,
                                                       "fallbacks", fallbacks)));
    }
    return a;
}

/* MCP servers with their health as /readyz tells it (up while any worker's instance has
 * done its handshake) and their call counts. What they run or call is named, never the
 * child's arguments or environment, nor a URL's query or user part: those may carry
 * secrets. */
static json_t *describe_mcp_servers(const pt_config *cfg)
{
    json_t *a = json_array();
    for (size_t i = 0; cfg->mcp && i < cfg->mcp->nservers; i++) {
        const pt_mcp_server *m = &cfg->mcp->servers[i];
        pt_mcp_stats *st = pt_mcp_stats_get(m->name);
        int ready = st ? atomic_load(&st->ready) : 0;
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:i,s:b,s:i}", "name", m->name, "transport", m->url ? "http" : "stdio",
                              "status", ready > 0 ? "up" : "down", "timeout_ms", (json_int_t)m->timeout_ms,
                              "max_concurrency", (int)m->max_concurrency, "auth_key", m->auth_key, "workers_ready", ready);
        if (m->url) {
            char where[600];
            snprintf(where, sizeof where, "%s://%s:%u%s", m->tls ? "https" : "http", m->host, (unsigned)m->port, m->path);
            json_object_set_new(o, "url", json_string(where));
        } else json_object_set_new(o, "command", json_string(m->command));
        json_t *tools = NULL;
        int64_t listed = 0;
        pt_mcp_tool_index_get(m->name, &tools, &listed);
        json_object_set_new(o, "tools", tools ? json_integer((json_int_t)json_array_size(tools)) : json_null());
        json_decref(tools);
        if (st)
            json_object_set_new(o, "calls", json_pack("{s:I,s:I,s:I}", "ok", (json_int_t)atomic_load(&st->calls_ok), "error",
                                                      (json_int_t)atomic_load(&st->calls_error), "timeouts",
                                                      (json_int_t)atomic_load(&st->timeouts)));
        json_array_append_new(a, file_object(o));
    }
    return a;
}

/* Each MCP server's tools as the gateway last listed them (mcp/tool_index.h):
 * [{"server","listed_at" (Unix seconds, or null),"tools" (the server's own objects, or [])}]. */
static json_t *describe_mcp_tools(const pt_config *cfg)
{
    json_t *a = json_array();
    for (size_t i = 0; cfg->mcp && i < cfg->mcp->nservers; i++) {
        const char *name = cfg->mcp->servers[i].name;
        json_t *tools = NULL;
        int64_t listed = 0;
        bool known = pt_mcp_tool_index_get(name, &tools, &listed) == 0;
        json_array_append_new(a, json_pack("{s:s,s:o,s:o}", "server", name, "listed_at",
                                           known ? json_integer((json_int_t)(listed / 1000)) : json_null(), "tools",
                                           known ? tools : json_array()));
    }
    return a;
}

json_t *pt_config_describe(const pt_config *cfg, const char *what)
{
    if (strcmp(what, "mcp_tools") == 0) return describe_mcp_tools(cfg);
    if (strcmp(what, "mcp_servers") == 0) return describe_mcp_servers(cfg);
    if (strcmp(what, "upstreams") == 0) return describe_upstreams(cfg);
    if (strcmp(what, "listeners") == 0) return describe_listeners(cfg);
    if (strcmp(what, "providers") == 0) return describe_providers(cfg);
    if (strcmp(what, "models") == 0) return describe_models(cfg);
    return NULL;
}
