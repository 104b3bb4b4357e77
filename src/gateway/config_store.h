/* config_store.h: the configuration in force is the file's plus what the store keeps.
 *
 * A service created through the admin API is served like one the file declares: its
 * APIs become routes, its targets a service with the same balancing, timeouts and health
 * checks. Both go through one mapping: the store's objects are written as configuration
 * nodes (config/node.h) into a copy of the file's document, which is then loaded like any
 * file, so a stored service is validated by the same code, with the same messages.
 *
 * How a stored object reads as configuration:
 *
 *   service {name, kind: rest, targets, lb, timeouts, health}
 *       services: - {name, targets, lb, timeouts, health_check: health}
 *   its API {name, path_prefix, methods, auth, rewrite, key_header, key_query, lifecycle}
 *       routes: - {name: "service/api", match: {path_prefix, methods}, service,
 *                  rewrite_prefix: rewrite, auth, auth_service: service, key_header, key_query,
 *                  lifecycle}
 *   an API of service {kind: ai, models}
 *       routes: - {name: "service/api", match: {...}, ai: {models}, strip_prefix: true, ...}
 *
 * A route named "service/api" cannot clash with a file's route (file names have no '/').
 * Services the file declares itself (origin "file") are the file's, and a stored service
 * whose name the file also uses is left out, with a warning.
 *
 *   policy {name, spec: {applies_to, rate, concurrency, tokens, quota, budget, mask, ...}}
 *       policies: - {name, applies_to, rate, ...}
 *
 * A stored policy whose name the file also uses, or whose service or route is gone, is
 * left out with a warning, so one stale policy never stops the rest from loading.
 *
 * An `mcp.apis` entry naming a stored API ("service/api") gets its tools from the API's
 * imported OpenAPI document once the store's routes are loaded (gateway/mcp_local.h). */
#ifndef PT_GATEWAY_CONFIG_STORE_H
#define PT_GATEWAY_CONFIG_STORE_H

#include <jansson.h>

#include "control/snapshot.h"
#include "gateway/config.h"

/* The file's snapshot with snap's services and APIs added, mapped and ready to bind (a
 * new reference). Without anything stored to add, file itself (one more reference).
 * NULL with every problem in err when the result does not map. */
pt_config *pt_config_with_store(pt_config *file, const pt_snapshot *snap, pt_buf *err);

/* Whether a service and its APIs, as the admin API is about to store them (their JSON
 * objects in the store's columns), would be served: mapped against the file's snapshot
 * (its models, for an AI service). Returns 0, or -1 with the admin field at fault in
 * field ("timeouts.connect", "apis[1].path_prefix"; "" for none) and a sentence in msg. */
int pt_config_check_stored(const pt_config *file, const json_t *service, const json_t *apis, char *field,
                           size_t fieldcap, pt_buf *msg);

/* Whether a policy the admin API is about to store ({name, applies_to, rate, ...} as the
 * file writes one) maps and enforces alongside the configuration in force cur: its
 * `policies:` with the entry named replaces (the stored policy being changed, or NULL)
 * taken out and this one added, so names, units, ranges and the services and routes it
 * names are checked by the same key tables as the file's. Returns 0, or -1 with the
 * field at fault ("rate.per", "applies_to.service"; "" for none) and a sentence in msg. */
int pt_config_check_policy(const pt_config *cur, const json_t *policy, const char *replaces, char *field,
                           size_t fieldcap, pt_buf *msg);

#endif
