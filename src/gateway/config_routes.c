/* config_routes.c: the `routes:` section: match conditions, the action (a service or
 * the AI endpoints) and header edits, as key tables over the configuration engine. */
#include "gateway/config_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ai/ai_config.h"
#include "config/node.h"
#include "gateway/mcp_local.h"
#include "gateway/mcp_route.h"
#include "gateway/router.h"
#include "core/log.h"
#include "http/request.h"
#include "limits/policy.h"
#include "mask/mask_config.h"
#include "mcp/mcp_config.h"

#define MAX_LIST 64u /* hosts, methods, headers, header edits per route */

/* ---- routes ---- */

static int route_name_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    if (pt_cfg_str(c, v, &r->name)) return -1;
    /* a route built from the store is named "service/api", both names checked by the store */
    return v->literal ? 0 : pt_cfg_name(c, v, r->name);
}

static int hosts_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_route *r = obj;
    if (PT_CFG_ALLOC(c, v, r->hosts, r->nhosts, count)) return -1;
    return 0;
}

static int host_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_route *r = obj;
    if (pt_cfg_str(c, it, &r->hosts[i])) return -1;
    return pt_cfg_host_pattern(c, it, r->hosts[i]);
}

static const pt_cfg_list hosts_list = { "a host or a list of hosts", MAX_LIST,
                                      "at least one host is required (leave host out to match any host)",
                                      hosts_begin, host_entry };

static int hosts_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &hosts_list, obj); }

int pt__config_method(pt_cfg *c, const pt_cfg_node *v, pt_method_mask *mask)
{
    char *name = NULL;
    if (pt_cfg_str(c, v, &name)) return -1;
    int num = pt_http_method_parse(pt_slice_cstr(name));
    if (num >= 0 && num < 64) {
        *mask |= (pt_method_mask)1 << num;
        free(name);
        return 0;
    }
    const char *names[64];
    const char *guess = pt_cfg_closest(name, names, pt_http_method_names(names, 64));
    free(name);
    if (guess) return pt_cfg_fail(c, v, "unknown HTTP method '%s' (did you mean '%s'?)", PT_CFG_SHOW(v), guess);
    return pt_cfg_fail(c, v, "unknown HTTP method '%s'", PT_CFG_SHOW(v));
}

static int method_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    return pt__config_method(c, it, &((pt_route *)obj)->methods);
}

static const pt_cfg_list methods_list = { "a list of methods", MAX_LIST,
                                        "at least one method is required (leave methods out to match any)", NULL,
                                        method_entry };

static int methods_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &methods_list, obj); }

static int match_headers_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_route *r = obj;
    if (PT_CFG_ALLOC(c, v, r->headers, r->nheaders, count)) return -1;
    return 0;
}

static int match_header_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    pt_header_match *hm = &((pt_route *)obj)->headers[i];
    if (pt_cfg_header_name(c, k, true, &hm->name)) return -1;
    bool plain = val->kind == PT_CFG_SCALAR && !val->quoted;
    if (plain && strcmp(val->text, "true") == 0) return 0; /* presence: value stays NULL */
    if (plain && strcmp(val->text, "false") == 0)
        return pt_cfg_fail(c, val, "false is not supported: use true to require the header, or a value to match");
    return pt_cfg_header_value(c, val, &hm->value);
}

static const pt_cfg_pairs match_headers_pairs = { "a mapping of header names to values (or true)", MAX_LIST,
                                                  match_headers_begin, match_header_pair };

static int match_headers_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_pairs(c, v, &match_headers_pairs, obj);
}

static const pt_cfg_field match_fields[] = {
    CFG_FUNC("host", hosts_fn),
    CFG_PATH("path", pt_route, path_exact),
    CFG_PATH("path_prefix", pt_route, path_prefix),
    CFG_FUNC("methods", methods_fn),
    CFG_FUNC("headers", match_headers_fn),
    CFG_END,
};

static int match_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    if (pt_cfg_map_fields(c, v, match_fields, r, NULL)) return -1;
    if (r->path_exact && r->path_prefix) {
        size_t mark = pt_cfg_push_key(c, "path_prefix");
        pt_cfg_fail(c, pt_cfg_map_get(v, "path_prefix"), "cannot be combined with path (choose one)");
        pt_cfg_pop(c, mark);
        return -1;
    }
    return 0;
}

/* Where one direction's header edits go in a route. */
typedef struct header_edits {
    pt_kv **add;
    size_t *nadd;
    char ***remove;
    size_t *nremove;
} header_edits;

/* Headers that frame the message: the proxy owns them, a route may not set them. */
static bool framing_header(const char *name)
{
    return strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0 ||
           strcasecmp(name, "connection") == 0;
}

static int edits_add_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    header_edits *e = obj;
    if (PT_CFG_ALLOC(c, v, *e->add, *e->nadd, count)) return -1;
    return 0;
}

static int edits_add_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    pt_kv *kv = &(*((header_edits *)obj)->add)[i];
    if (pt_cfg_header_name(c, k, true, &kv->name)) return -1;
    if (framing_header(kv->name))
        return pt_cfg_fail(c, k, "'%s' is managed by the proxy and cannot be set", PT_CFG_SHOW(k));
    return pt_cfg_header_value(c, val, &kv->value);
}

static const pt_cfg_pairs edits_add_pairs = { "a mapping of header names to values", MAX_LIST, edits_add_begin,
                                              edits_add_pair };

static int edits_add_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_pairs(c, v, &edits_add_pairs, obj);
}

static int remove_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    header_edits *e = obj;
    if (PT_CFG_ALLOC(c, v, *e->remove, *e->nremove, count)) return -1;
    return 0;
}

static int remove_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    header_edits *e = obj;
    return pt_cfg_header_name(c, it, false, &(*e->remove)[i]);
}

static const pt_cfg_list remove_list = { "a list of header names", MAX_LIST, NULL, remove_begin, remove_entry };

static int edits_remove_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_list(c, v, &remove_list, obj);
}

static const pt_cfg_field edit_fields[] = {
    CFG_FUNC("add", edits_add_fn),
    CFG_FUNC("remove", edits_remove_fn),
    CFG_END,
};

static int request_headers_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    header_edits e = { &r->req_add, &r->nreq_add, &r->req_remove, &r->nreq_remove };
    return pt_cfg_map_fields(c, v, edit_fields, &e, NULL);
}

static int response_headers_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    header_edits e = { &r->resp_add, &r->nresp_add, &r->resp_remove, &r->nresp_remove };
    return pt_cfg_map_fields(c, v, edit_fields, &e, NULL);
}

static int route_service_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    if (pt_cfg_str(c, v, &r->service_name)) return -1;
    pt_config *cfg = c->root;
    r->service = pt_config_find_service(cfg, r->service_name);
    if (r->service) return 0;
    if (cfg->nservices == 0) return pt_cfg_fail(c, v, "unknown service '%s' (no services are defined)", PT_CFG_SHOW(v));
    const char **names = malloc(cfg->nservices * sizeof *names);
    if (!names) return pt_cfg_oom(c, v);
    size_t n = 0;
    for (size_t i = 0; i < cfg->nservices; i++) /* a service whose entry failed may have no name */
        if (cfg->services[i].name) names[n++] = cfg->services[i].name;
    const char *guess = pt_cfg_closest(r->service_name, names, n);
    int rc = guess ? pt_cfg_fail(c, v, "unknown service '%s' (did you mean '%s'?)", PT_CFG_SHOW(v), guess)
                   : pt_cfg_fail(c, v, "unknown service '%s'", PT_CFG_SHOW(v));
    free(names);
    return rc;
}

/* `ai: { models: [...] }` keeps a route to some of the configured models. */
static int ai_models_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_route *r = obj;
    return PT_CFG_ALLOC(c, v, r->ai_models, r->nai_models, count) ? -1 : 0;
}

static int ai_model_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_route *r = obj;
    pt_config *cfg = c->root;
    if (pt_cfg_str(c, it, &r->ai_models[i])) return -1;
    if (pt_ai_config_model(cfg->ai, pt_slice_cstr(r->ai_models[i]))) return 0;
    return pt_cfg_fail(c, it, "unknown model '%s' (not in models:)", PT_CFG_SHOW(it));
}

static const pt_cfg_list ai_models_list = { "a list of model names", MAX_LIST, "at least one model is required",
                                            ai_models_begin, ai_model_entry };

static int ai_models_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &ai_models_list, obj); }

static const pt_cfg_field route_ai_fields[] = {
    CFG_FUNC("models", ai_models_fn),
    CFG_END,
};

/* `ai: {}`: this route serves the AI endpoints with the file's providers and models. */
static int route_ai_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    pt_config *cfg = c->root;
    if (!pt_cfg_is_null(v) && v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected {} or { models: [...] }, got %s", pt_cfg_kind_name(v));
    if (!cfg->ai || cfg->ai->nmodels == 0)
        return pt_cfg_fail(c, v, "an AI route needs models (no models: are configured)");
    r->kind = PT_ROUTE_AI;
    r->ai = cfg->ai;
    return pt_cfg_map_fields(c, v, route_ai_fields, r, NULL);
}

/* `auth: key` requires a Portico key on every call; `auth: none` (the default) does not. */
static int route_auth_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    bool key = strcmp(s, "key") == 0, none = strcmp(s, "none") == 0;
    free(s);
    if (!key && !none) return pt_cfg_fail(c, v, "expected key or none, got '%s'", PT_CFG_SHOW(v));
    r->auth_key = key;
    return 0;
}

static int route_key_header_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_header_name(c, v, false, &((pt_route *)obj)->key_header);
}

/* A query parameter name: letters, digits, '-', '_' and '.' (it is matched byte for byte). */
static int route_key_query_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    if (pt_cfg_str(c, v, &r->key_query)) return -1;
    size_t n = strlen(r->key_query);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = r->key_query[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
             ch == '_' || ch == '.';
    }
    if (!ok) return pt_cfg_fail(c, v, "'%s' is not a query parameter name (letters, digits, - _ . only)", PT_CFG_SHOW(v));
    return 0;
}

static int route_call_log_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_mask_bodies_map(c, v, &((pt_route *)obj)->log_bodies);
}

static const pt_cfg_field route_fields[] = {
    CFG_FUNC("name", route_name_fn),
    CFG_FUNC("match", match_fn),
    CFG_FUNC("service", route_service_fn),
    CFG_FUNC("ai", route_ai_fn),
    CFG_BOOL("strip_prefix", pt_route, strip_prefix),
    CFG_PATH("rewrite_prefix", pt_route, rewrite_prefix),
    CFG_FUNC("request_headers", request_headers_fn),
    CFG_FUNC("response_headers", response_headers_fn),
    CFG_FUNC("auth", route_auth_fn),
    CFG_FUNC("key_header", route_key_header_fn),
    CFG_FUNC("key_query", route_key_query_fn),
    CFG_STR("auth_service", pt_route, auth_service),
    CFG_FUNC("cors", pt__config_cors),
    CFG_FUNC("lifecycle", pt__config_lifecycle),
    CFG_FUNC("call_log", route_call_log_fn),
    CFG_BOOL("upgrade", pt_route, upgrade),
    CFG_END,
};

static int finish_route(pt_cfg *c, const pt_cfg_node *n, size_t idx)
{
    pt_config *cfg = c->root;
    pt_route *r = &cfg->routes[idx];
    if (!r->name) return pt_cfg_fail(c, n, "missing required key 'name'");
    if (!r->service_name && r->kind != PT_ROUTE_AI)
        return pt_cfg_fail(c, n, "missing required key 'service' (or ai: {} for an AI route)");
    if (r->service_name && r->kind == PT_ROUTE_AI)
        return pt_cfg_fail_key(c, "ai", pt_cfg_map_get(n, "ai"), "give either service or ai, not both");
    if (r->service && r->service->prompt) { /* a prompt API: served by gateway/prompt_route.c */
        r->kind = PT_ROUTE_PROMPT;
        r->ai = cfg->ai;
        if (r->rewrite_prefix || r->nreq_add || r->nreq_remove)
            return pt_cfg_fail_key(c, "service", pt_cfg_map_get(n, "service"),
                                   "a prompt service's route takes no rewrite_prefix or request_headers");
    }
    if (r->kind == PT_ROUTE_AI && (r->rewrite_prefix || r->nreq_add || r->nreq_remove ||
                                   r->nresp_add || r->nresp_remove))
        return pt_cfg_fail_key(c, "ai", pt_cfg_map_get(n, "ai"),
                               "an AI route takes no rewrite_prefix or header edits");
    const pt_cfg_node *up = pt_cfg_map_get(n, "upgrade");
    if (r->kind != PT_ROUTE_PROXY && up && r->upgrade) /* false says what these routes do anyway */
        return pt_cfg_fail_key(c, "upgrade", up, "%s routes never switch protocols (they answer 501 "
                               "upgrade_not_supported); upgrade: applies to routes to a REST service",
                               r->kind == PT_ROUTE_AI ? "AI" : "prompt");
    for (size_t j = 0; j < idx; j++)
        if (cfg->routes[j].name && strcmp(cfg->routes[j].name, r->name) == 0) {
            size_t mark = pt_cfg_push_key(c, "name");
            const pt_cfg_node *at = pt_cfg_map_get(n, "name");
            pt_cfg_fail(c, at, "duplicate route name '%s' (also routes[%zu])", PT_CFG_SHOW(at), j);
            pt_cfg_pop(c, mark);
            return -1;
        }
    const char *needs_auth = r->key_header ? "key_header" : r->key_query ? "key_query" : r->auth_service ? "auth_service" : NULL;
    if (needs_auth && !r->auth_key)
        return pt_cfg_fail_key(c, needs_auth, pt_cfg_map_get(n, needs_auth), "only applies with auth: key");
    const char *needs_prefix = r->rewrite_prefix ? "rewrite_prefix" : r->strip_prefix ? "strip_prefix" : NULL;
    if (needs_prefix && !r->path_prefix) {
        size_t mark = pt_cfg_push_key(c, needs_prefix);
        pt_cfg_fail(c, pt_cfg_map_get(n, needs_prefix), "needs match.path_prefix (it rewrites the matched prefix)");
        pt_cfg_pop(c, mark);
        return -1;
    }
    return 0;
}

static int routes_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_config *cfg = obj;
    if (PT_CFG_ALLOC(c, v, cfg->routes, cfg->nroutes, count)) return -1;
    for (size_t i = 0; i < count; i++) {
        cfg->routes[i].kind = PT_ROUTE_PROXY;
        cfg->routes[i].order = (unsigned)i;
        cfg->routes[i].upgrade = true;
    }
    return 0;
}

static int route_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_config *cfg = obj;
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping with name, match and service, got %s", pt_cfg_kind_name(it));
    if (pt_cfg_map_fields(c, it, route_fields, &cfg->routes[i], NULL)) return -1;
    return finish_route(c, it, i);
}

static const pt_cfg_list routes_list = { "a list of routes", 10000u, NULL, routes_begin, route_entry };

/* Sorted by precedence once all are read (the router relies on it). */
int pt__config_routes(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_config *cfg = obj;
    if (pt_cfg_map_list(c, v, &routes_list, cfg)) return -1;
    pt_router_sort(cfg->routes, cfg->nroutes);
    for (size_t i = 0; i < cfg->nroutes; i++) cfg->has_cors |= cfg->routes[i].cors != NULL;
    return 0;
}

/* One implicit AI route on prefix. */
static int add_default_ai_route(pt_cfg *c, pt_config *cfg, const char *name, const char *prefix)
{
    pt_route *routes = realloc(cfg->routes, (cfg->nroutes + 1) * sizeof *routes);
    if (!routes) return pt_cfg_oom(c, NULL);
    cfg->routes = routes;
    pt_route *r = &routes[cfg->nroutes];
    *r = (pt_route){ .kind = PT_ROUTE_AI, .implicit = true, .ai = cfg->ai, .order = (unsigned)cfg->nroutes };
    cfg->nroutes++;
    r->name = strdup(name);
    r->path_prefix = strdup(prefix);
    if (!r->name || !r->path_prefix) return pt_cfg_oom(c, NULL);
    return 0;
}

/* /v1/ for the OpenAI and Anthropic formats, /v1beta/ for Gemini's. */
int pt__config_default_ai_route(pt_cfg *c, pt_config *cfg)
{
    if (!cfg->ai || cfg->ai->nmodels == 0) return 0;
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].kind == PT_ROUTE_AI) return 0;
    const char *name = "ai", *gname = "ai-gemini";
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (strcmp(cfg->routes[i].name, "ai") == 0) name = "ai-default";
        if (strcmp(cfg->routes[i].name, "ai-gemini") == 0) gname = "ai-default-gemini";
    }
    if (add_default_ai_route(c, cfg, name, "/v1/") || add_default_ai_route(c, cfg, gname, "/v1beta/")) return -1;
    pt_router_sort(cfg->routes, cfg->nroutes);
    return 0;
}

static bool loopback_host(const char *h)
{
    return strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 || strcmp(h, "localhost") == 0;
}

/* Policies with an `mcp:` member become `mcp.access` entries for their consumer or team. An
 * entry the file's `mcp.access` (or an earlier policy) has for the same one wins; a policy
 * that cannot apply is logged and not enforced, never a load error: a stored policy must not
 * stop the gateway from loading when a server it names is removed. */
static void mcp_access_from_policies(pt_config *cfg)
{
    for (size_t i = 0; cfg->policies && i < cfg->policies->n; i++) {
        const pt_policy *p = &cfg->policies->v[i];
        if (!p->has_mcp) continue;
        bool team = p->scope == PT_POLICY_TEAM;
        char why[300] = "";
        int rc = -1;
        if (!pt_mcp_config_served(cfg->mcp)) snprintf(why, sizeof why, "the configuration serves no MCP endpoint");
        else if (!pt_mcp_config_keyed(cfg->mcp))
            snprintf(why, sizeof why, "callers are told apart by their key: give `auth: key` to /mcp or to the servers");
        else
            rc = pt_mcp_access_add(cfg->mcp, team ? NULL : p->match, team ? p->match : NULL, p->mcp_allow, p->nmcp_allow,
                                   p->mcp_allow_set, p->mcp_deny, p->nmcp_deny, why, sizeof why);
        if (rc == 1)
            pt_log_warn("policy '%s': its mcp access is not enforced: mcp.access (or an earlier policy) has an entry for "
                        "%s '%s'", p->name, team ? "team" : "consumer", p->match);
        else if (rc < 0) pt_log_warn("policy '%s': its mcp access is not enforced: %s", p->name, why);
    }
}

int pt__config_mcp(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_config *cfg = obj;
    bool open = false;
    for (size_t i = 0; i < cfg->nlisteners; i++) open |= cfg->listeners[i].host && !loopback_host(cfg->listeners[i].host);
    cfg->mcp = pt_mcp_config_map(c, v, open);
    if (!cfg->mcp || pt__mcp_local_load(c, cfg, v)) return -1;
    mcp_access_from_policies(cfg);
    return 0;
}

/* `mcp.cors`: the cors of the /mcp route, mapped like a route's. What a browser's MCP client
 * needs is the default: its origins are mcp.allowed_origins, and it may read
 * Mcp-Session-Id. An origin the MCP endpoints would refuse anyway is refused here. */
static int mcp_cors(pt_cfg *c, pt_config *cfg, pt_route *r)
{
    const pt_cfg_node *mcp = cfg->tree ? pt_cfg_map_get(cfg->tree, "mcp") : NULL;
    const pt_cfg_node *v = mcp && mcp->kind == PT_CFG_MAP ? pt_cfg_map_get(mcp, "cors") : NULL;
    if (!v) return 0;
    pt_cfg_node *n = pt_cfg_is_null(v) ? pt_cfg_node_map() : pt_cfg_node_clone(v);
    int rc = n ? 0 : -1;
    if (rc == 0 && n->kind == PT_CFG_MAP && !pt_cfg_map_get(n, "origins")) {
        pt_cfg_node *list = pt_cfg_node_seq();
        for (size_t i = 0; list && i < cfg->mcp->norigins; i++)
            if (pt_cfg_node_append(list, pt_cfg_node_scalar(cfg->mcp->allowed_origins[i], true))) rc = -1;
        rc = list ? rc | pt_cfg_node_put(n, "origins", list) : -1;
    }
    if (rc == 0 && n->kind == PT_CFG_MAP && !pt_cfg_map_get(n, "expose_headers")) {
        pt_cfg_node *list = pt_cfg_node_seq();
        rc = list && pt_cfg_node_append(list, pt_cfg_node_scalar("Mcp-Session-Id", true)) == 0 ? 0 : -1;
        rc = rc == 0 ? pt_cfg_node_put(n, "expose_headers", list) : (pt_cfg_node_free(list), -1);
    }
    size_t mark = pt_cfg_push_key(c, "mcp");
    size_t inner = pt_cfg_push_key(c, "cors");
    if (rc != 0) rc = pt_cfg_oom(c, v);
    else if (n->kind == PT_CFG_MAP && pt_cfg_map_get(n, "origins")->n == 0 && !pt_cfg_map_get(v, "origins"))
        rc = pt_cfg_fail(c, v, "no origins: list the sites whose pages may call /mcp in mcp.allowed_origins "
                               "(or in mcp.cors.origins)");
    else rc = pt__config_cors(c, n, r);
    const pt_cfg_node *origins = rc == 0 ? pt_cfg_map_get(n, "origins") : NULL;
    size_t list = pt_cfg_push_key(c, "origins");
    if (origins && origins->kind != PT_CFG_SEQ)
        rc = pt_cfg_fail(c, origins, "the MCP endpoints check every Origin: list the origins (add them to "
                                     "mcp.allowed_origins too)");
    for (size_t i = 0; rc == 0 && origins && origins->kind == PT_CFG_SEQ && i < origins->n; i++) {
        const pt_cfg_node *o = origins->items[i];
        size_t at = pt_cfg_push_index(c, i);
        if (!pt_mcp_route_origin_allowed(cfg->mcp, pt_slice_from(o->text, o->len)))
            rc = pt_cfg_fail(c, o, "'%s' is refused by the MCP endpoints' Origin check: add it to mcp.allowed_origins "
                                   "too", PT_CFG_SHOW(o));
        pt_cfg_pop(c, at);
    }
    pt_cfg_pop(c, list);
    pt_cfg_pop(c, inner);
    pt_cfg_pop(c, mark);
    pt_cfg_node_free(n);
    return rc;
}

int pt__config_default_mcp_route(pt_cfg *c, pt_config *cfg)
{
    if (!pt_mcp_config_served(cfg->mcp)) return 0;
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (strcmp(cfg->routes[i].name, "mcp") == 0)
            return pt_cfg_fail(c, NULL, "routes: the name 'mcp' is taken by the MCP endpoints when mcp.servers is set");
    pt_route *routes = realloc(cfg->routes, (cfg->nroutes + 1) * sizeof *routes);
    if (!routes) return pt_cfg_oom(c, NULL);
    cfg->routes = routes;
    pt_route *r = &routes[cfg->nroutes];
    *r = (pt_route){ .kind = PT_ROUTE_MCP, .implicit = true, .order = (unsigned)cfg->nroutes };
    cfg->nroutes++;
    r->name = strdup("mcp");
    r->path_prefix = strdup("/mcp");
    if (!r->name || !r->path_prefix) return pt_cfg_oom(c, NULL);
    if (mcp_cors(c, cfg, r)) return -1;
    cfg->has_cors |= r->cors != NULL;
    pt_router_sort(cfg->routes, cfg->nroutes);
    return 0;
}
