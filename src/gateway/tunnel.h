/* tunnel.h: the gateway's side of protocol upgrades (WebSocket and any other Upgrade
 * request but h2c): which requests may switch protocols, the refusal of the others, and
 * the tunnels' metrics.
 *
 * A tunnel is a proxied request that never ends as HTTP: proxy.c sends the upgrade
 * request with its Upgrade header, the upstream's 101 turns both connections raw
 * (http/server.c: pt_conn_tunnel, http/client.c: pt_exchange_opts.upgrade), and the
 * request, with everything it holds (the configuration snapshot, a concurrency slot),
 * lasts until the tunnel ends; its access-log line is written then, with status 101.
 *
 * Refusals are 501 (PT_OUT_UPGRADE_REFUSED), not 426: 426 Upgrade Required asks the client
 * to switch to a protocol the server names (RFC 9110 §15.5.22), the reverse of what is
 * meant; 501 says the server does not support what the request needs (§15.6.2). */
#ifndef PT_GATEWAY_TUNNEL_H
#define PT_GATEWAY_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/config.h"
#include "http/server.h"

/* Whether req may go on to route: true when it does not ask to upgrade, or route is a
 * proxy route with `upgrade:` on. Otherwise answers 501, naming why, and returns false. */
bool pt_tunnel_gate(pt_conn *c, const pt_request *req, const pt_route *route);
/* Answers an upgrade request 501 with the message fmt (and the protocol asked for). */
void pt_tunnel_refuse(pt_conn *c, const pt_request *req, const char *fmt, const char *name);

/* The counters of one route's tunnels, kept across reloads. */
typedef struct pt_tunnel_series pt_tunnel_series;

/* A tunnel of route opened: the active gauge and the route's total go up. Returns the
 * route's series (NULL when out of memory: bytes are then not counted). */
pt_tunnel_series *pt_tunnel_opened(const char *route);
/* n bytes went through s, from the client to the upstream or the other way. */
void pt_tunnel_bytes(pt_tunnel_series *s, bool from_client, size_t n);
/* A tunnel opened by pt_tunnel_opened ended. */
void pt_tunnel_closed(void);
/* Registers portico_tunnels_active, portico_tunnels_total and portico_tunnel_bytes_total
 * with /metrics; once, at start. */
void pt_tunnel_metrics_init(void);

#endif
