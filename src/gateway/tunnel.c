/* tunnel.c: which requests may switch protocols, the 501 for the others, and the tunnels'
 * metrics (see tunnel.h). */
#include "gateway/tunnel.h"

#include <stdatomic.h>
#include <stdio.h>

#include "core/named.h"
#include "core/prom.h"
#include "gateway/metrics.h"

/* ---- refusals ---- */

void pt_tunnel_refuse(pt_conn *c, const pt_request *req, const char *fmt, const char *name)
{
    const pt_header *up = pt_request_header(req, "upgrade");
    pt_slice proto = up ? up->value : PT_SLICE_NULL;
    char why[200];
    snprintf(why, sizeof why, fmt, name);
    pt_conn_respond_error(c, PT_OUT_UPGRADE_REFUSED, NULL, "%s: 'Upgrade: %.*s' is not served here", why,
                          (int)(proto.len > 64 ? 64 : proto.len), proto.ptr ? proto.ptr : "");
}

bool pt_tunnel_gate(pt_conn *c, const pt_request *req, const pt_route *route)
{
    if (!req->upgrade || (route->kind == PT_ROUTE_PROXY && route->upgrade)) return true;
    const char *fmt = "route '%s' does not allow protocol upgrades (upgrade: false)";
    if (route->kind == PT_ROUTE_AI) fmt = "route '%s' serves the AI endpoints, which do not switch protocols";
    else if (route->kind == PT_ROUTE_MCP) fmt = "route '%s' serves the MCP endpoints, which do not switch protocols";
    else if (route->kind == PT_ROUTE_PROMPT) fmt = "route '%s' serves a prompt API, which does not switch protocols";
    pt_req_info *info = pt_conn_info(c);
    info->route = route->name;
    info->route_metrics = route->metrics;
    pt_tunnel_refuse(c, req, fmt, route->name);
    return false;
}

/* ---- metrics: one series per route that ever tunnelled, kept across reloads ---- */

struct pt_tunnel_series {
    pt_named n; /* the route's name */
    _Atomic uint64_t opened, bytes_in, bytes_out;
};

static pt_named_list all_series = PT_NAMED_LIST_INIT;
static _Atomic int64_t active;

/* Tunnels are few and long: a walk of the list per tunnel opened costs nothing that
 * matters, and spares the configuration a pointer per route. */
pt_tunnel_series *pt_tunnel_opened(const char *route)
{
    atomic_fetch_add_explicit(&active, 1, memory_order_relaxed);
    pt_tunnel_series *s = pt_named_get(&all_series, route ? route : "", sizeof *s);
    if (s) atomic_fetch_add_explicit(&s->opened, 1, memory_order_relaxed);
    return s;
}

void pt_tunnel_bytes(pt_tunnel_series *s, bool from_client, size_t n)
{
    if (s) atomic_fetch_add_explicit(from_client ? &s->bytes_in : &s->bytes_out, n, memory_order_relaxed);
}

void pt_tunnel_closed(void) { atomic_fetch_sub_explicit(&active, 1, memory_order_relaxed); }

static void render(pt_prom *p, void *arg)
{
    pt_prom_family(p, "portico_tunnels_active", "gauge", "Tunnels (upgraded connections, e.g. WebSocket) open now.");
    pt_prom_sample(p, "portico_tunnels_active", NULL);
    pt_prom_value_i64(p, atomic_load_explicit(&active, memory_order_relaxed));
    pt_tunnel_series *head = pt_named_first(&all_series);
    pt_prom_family(p, "portico_tunnels_total", "counter", "Tunnels opened (the upstream answered 101), by route.");
    for (pt_tunnel_series *s = head; s; s = (pt_tunnel_series *)s->n.next) {
        pt_prom_sample(p, "portico_tunnels_total", NULL);
        pt_prom_label(p, "route", s->n.name);
        pt_prom_value_u64(p, atomic_load_explicit(&s->opened, memory_order_relaxed));
    }
    pt_prom_family(p, "portico_tunnel_bytes_total", "counter",
                   "Bytes relayed through tunnels, by route and direction (client_to_upstream, upstream_to_client).");
    for (pt_tunnel_series *s = head; s; s = (pt_tunnel_series *)s->n.next) {
        for (int dir = 0; dir < 2; dir++) {
            pt_prom_sample(p, "portico_tunnel_bytes_total", NULL);
            pt_prom_label(p, "route", s->n.name);
            pt_prom_label(p, "direction", dir ? "upstream_to_client" : "client_to_upstream");
            pt_prom_value_u64(p, atomic_load_explicit(dir ? &s->bytes_out : &s->bytes_in, memory_order_relaxed));
        }
    }
}

void pt_tunnel_metrics_init(void) { pt_metrics_add_renderer(render, NULL); }
