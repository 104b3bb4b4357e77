/* config_int.h: what the files that map the gateway's sections share (config.c,
 * config_sections.c, config_routes.c). Each section function maps one top-level
 * value into the pt_config given as obj (also c->root). */
#ifndef PT_GATEWAY_CONFIG_INT_H
#define PT_GATEWAY_CONFIG_INT_H

#include "config/check.h"
#include "config/schema.h"
#include "gateway/config.h"

int pt__config_listen(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_limits(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_access_log(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_log_level(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_endpoints(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_errors(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_identity_headers(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_admin(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_call_log(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_responses(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_counters(pt_cfg *c, const pt_cfg_node *v, void *obj);
int pt__config_store(pt_cfg *c, const pt_cfg_node *v, void *obj);
/* Fills admin.listen's default when the admin API is on and no address was written. */
int pt__config_admin_default(pt_cfg *c, const pt_cfg_node *root, pt_config *cfg);
int pt__config_services(pt_cfg *c, const pt_cfg_node *v, void *obj);
/* Routes name services, so they are mapped after them; sorted by precedence at the end. */
int pt__config_routes(pt_cfg *c, const pt_cfg_node *v, void *obj);
/* `policies:` (limits/policy.h), after services and routes, which policies may name. */
int pt__config_policies(pt_cfg *c, const pt_cfg_node *v, void *obj);
/* When models are configured and no route declares `ai:`, the default AI route
 * (`/v1/` on any host, named "ai"). */
int pt__config_default_ai_route(pt_cfg *c, pt_config *cfg);
/* `mcp:` (mcp/mcp_config.h), after listen (a listener off loopback makes keys required). */
int pt__config_mcp(pt_cfg *c, const pt_cfg_node *v, void *obj);
/* When `mcp:` has servers, the route serving /mcp and /mcp/<server> (named "mcp"). */
int pt__config_default_mcp_route(pt_cfg *c, pt_config *cfg);

/* One HTTP method name (any case) added to mask; unknown names are errors with a guess. */
int pt__config_method(pt_cfg *c, const pt_cfg_node *v, pt_method_mask *mask);
/* A route's `cors:` (gateway/cors.h). */
int pt__config_cors(pt_cfg *c, const pt_cfg_node *v, void *route);
/* A route's `lifecycle:` (gateway/lifecycle.h). */
int pt__config_lifecycle(pt_cfg *c, const pt_cfg_node *v, void *route);

void pt__service_free(pt_service *s);
void pt__route_free(pt_route *r);

#endif
