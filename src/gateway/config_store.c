/* config_store.c: the store's services and APIs written into the file's document and
 * loaded with it (see config_store.h). */
#include "gateway/config_store.h"

#include <stdio.h>
#include <string.h>

#include "ai/ai_config.h"
#include "config/node.h"
#include "core/log.h"
#include "gateway/mcp_local.h"
#include "gateway/validate_gate.h"

/* ---- stored objects as configuration nodes ------------------------------------------- */

static const json_t *member(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return v && !json_is_null(v) ? v : NULL;
}

static const char *str(const json_t *o, const char *k) { return json_string_value(member(o, k)); }

static int put(pt_cfg_node *m, const char *key, const json_t *v)
{
    return v ? pt_cfg_node_put(m, key, pt_cfg_node_from_json(v)) : 0;
}

static int put_str(pt_cfg_node *m, const char *key, const char *v)
{
    return v ? pt_cfg_node_put(m, key, pt_cfg_node_scalar(v, true)) : 0;
}

static bool is_ai(const json_t *svc)
{
    const char *k = str(svc, "kind");
    return k && strcmp(k, "ai") == 0;
}

static pt_cfg_node *service_node(const json_t *svc)
{
    pt_cfg_node *m = pt_cfg_node_map();
    if (m && put_str(m, "name", str(svc, "name")) == 0 && put(m, "targets", member(svc, "targets")) == 0 &&
        put(m, "lb", member(svc, "lb")) == 0 && put(m, "timeouts", member(svc, "timeouts")) == 0 &&
        put(m, "health_check", member(svc, "health")) == 0)
        return m;
    pt_cfg_node_free(m);
    return NULL;
}

static pt_cfg_node *match_node(const json_t *api)
{
    pt_cfg_node *m = pt_cfg_node_map();
    if (m && put_str(m, "path_prefix", str(api, "path_prefix")) == 0 && put(m, "methods", member(api, "methods")) == 0 &&
        put(m, "headers", member(api, "match_headers")) == 0)
        return m;
    pt_cfg_node_free(m);
    return NULL;
}

static pt_cfg_node *ai_node(const json_t *svc)
{
    pt_cfg_node *m = pt_cfg_node_map();
    if (m && put(m, "models", member(svc, "models")) == 0) return m;
    pt_cfg_node_free(m);
    return NULL;
}

static pt_cfg_node *route_node(const json_t *svc, const json_t *api)
{
    const char *sname = str(svc, "name"), *auth = str(api, "auth");
    char name[160];
    snprintf(name, sizeof name, "%s/%s", sname ? sname : "", str(api, "name") ? str(api, "name") : "");
    bool key = !auth || strcmp(auth, "key") == 0; /* the store's default */
    pt_cfg_node *m = pt_cfg_node_map();
    int rc = m ? 0 : -1;
    if (rc == 0) rc = pt_cfg_node_put(m, "name", pt_cfg_node_scalar(name, true));
    if (rc == 0) rc = pt_cfg_node_put(m, "match", match_node(api));
    if (rc == 0 && is_ai(svc)) {
        rc = pt_cfg_node_put(m, "ai", ai_node(svc));
        if (rc == 0) rc = pt_cfg_node_put(m, "strip_prefix", pt_cfg_node_scalar("true", false));
    } else if (rc == 0) {
        rc = put_str(m, "service", sname);
        if (rc == 0) rc = put_str(m, "rewrite_prefix", str(api, "rewrite"));
    }
    if (rc == 0) rc = put_str(m, "auth", key ? "key" : "none");
    if (rc == 0 && key) rc = put_str(m, "auth_service", sname);
    if (rc == 0 && key) rc = put_str(m, "key_header", str(api, "key_header"));
    if (rc == 0 && key) rc = put_str(m, "key_query", str(api, "key_query"));
    if (rc == 0) rc = put(m, "lifecycle", member(api, "lifecycle"));
    if (rc == 0) return m;
    pt_cfg_node_free(m);
    return NULL;
}

/* The list under key in root, made one when the file has none (or left it empty). */
static pt_cfg_node *list_in(pt_cfg_node *root, const char *key)
{
    pt_cfg_node *l = pt_cfg_node_get(root, key);
    if (l && l->kind == PT_CFG_SEQ) return l;
    if (l) { /* `routes:` with nothing after it: an empty list */
        if (l->kind != PT_CFG_SCALAR || !pt_cfg_is_null(l)) return NULL;
        pt_cfg_node *seq = pt_cfg_node_seq();
        if (!seq) return NULL;
        for (size_t i = 0; i < root->n; i++)
            if (root->items[2 * i + 1] == l) {
                root->items[2 * i + 1] = seq;
                pt_cfg_node_free(l);
                return seq;
            }
        pt_cfg_node_free(seq);
        return NULL;
    }
    return pt_cfg_node_put(root, key, pt_cfg_node_seq()) == 0 ? pt_cfg_node_get(root, key) : NULL;
}

/* Appends svc (a REST one) and its APIs (an array) to the document. */
static int add_service(pt_cfg_node *services, pt_cfg_node *routes, const json_t *svc, const json_t *apis)
{
    if (!is_ai(svc) && pt_cfg_node_append(services, service_node(svc)) != 0) return -1;
    size_t i;
    json_t *api;
    json_array_foreach(apis, i, api) if (pt_cfg_node_append(routes, route_node(svc, api)) != 0) return -1;
    return 0;
}

/* A stored policy as a `policies:` entry: its name and its spec's members. */
static pt_cfg_node *policy_node(const char *name, const json_t *spec)
{
    json_t *o = json_deep_copy(spec);
    pt_cfg_node *n = o && json_object_set_new(o, "name", json_string(name)) == 0 ? pt_cfg_node_from_json(o) : NULL;
    json_decref(o);
    return n;
}

/* The entry of list named name, or -1. */
static long entry_named(const pt_cfg_node *list, const char *name)
{
    for (size_t i = 0; list && name && i < list->n; i++) {
        const pt_cfg_node *v = list->items[i]->kind == PT_CFG_MAP ? pt_cfg_map_get(list->items[i], "name") : NULL;
        if (v && v->kind == PT_CFG_SCALAR && strcmp(v->text, name) == 0) return (long)i;
    }
    return -1;
}

static void drop_entry(pt_cfg_node *list, size_t i)
{
    pt_cfg_node_free(list->items[i]);
    memmove(&list->items[i], &list->items[i + 1], (list->n - i - 1) * sizeof *list->items);
    list->n--;
    list->nitems--;
}

/* ---- from the snapshot ------------------------------------------------------------------ */

static int set_text(json_t *o, const char *k, const char *text, bool is_json)
{
    if (!text) return 0;
    json_t *v = is_json ? json_loads(text, JSON_DECODE_ANY, NULL) : json_string(text);
    return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *service_json(const pt_snap_service *s)
{
    json_t *o = json_object();
    if (o && set_text(o, "name", s->name, false) == 0 && set_text(o, "kind", s->kind, false) == 0 &&
        set_text(o, "targets", s->targets, true) == 0 && set_text(o, "models", s->models, true) == 0 &&
        set_text(o, "lb", s->lb, false) == 0 && set_text(o, "timeouts", s->timeouts, true) == 0 &&
        set_text(o, "health", s->health, true) == 0)
        return o;
    json_decref(o);
    return NULL;
}

static json_t *api_json(const pt_snap_api *a)
{
    json_t *o = json_object();
    if (o && set_text(o, "name", a->name, false) == 0 && set_text(o, "path_prefix", a->path_prefix, false) == 0 &&
        set_text(o, "methods", a->methods, true) == 0 && set_text(o, "auth", a->auth, false) == 0 &&
        set_text(o, "rewrite", a->rewrite, false) == 0 && set_text(o, "key_header", a->key_header, false) == 0 &&
        set_text(o, "key_query", a->key_query, false) == 0 && set_text(o, "lifecycle", a->lifecycle, true) == 0 &&
        set_text(o, "match_headers", a->match_headers, true) == 0)
        return o;
    json_decref(o);
    return NULL;
}

static json_t *apis_of(const pt_snapshot *snap, size_t service)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < snap->napis; i++)
        if (snap->apis[i].service == service && json_array_append_new(arr, api_json(&snap->apis[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

/* Whether the store holds a service of its own (not the file's) with an API to serve. */
static bool served(const pt_snapshot *snap, size_t service)
{
    const pt_snap_service *s = &snap->services[service];
    if (s->origin && strcmp(s->origin, "api") != 0) return false;
    for (size_t i = 0; i < snap->napis; i++)
        if (snap->apis[i].service == service) return true;
    return false;
}

/* Whether the service or route a stored policy names is in the document, so that a
 * service deleted after the policy was written leaves the policy out instead of the whole
 * store's configuration failing to load. */
static bool policy_target_known(pt_cfg_node *root, const json_t *spec)
{
    const json_t *at = member(spec, "applies_to");
    static const char *const scopes[] = { "services", "routes" }, *const keys[] = { "service", "route" };
    for (size_t k = 0; k < 2; k++) {
        const char *want = str(at, keys[k]);
        if (want && entry_named(pt_cfg_node_get(root, scopes[k]), want) < 0) return false;
    }
    return true;
}

static int add_policies(pt_cfg_node *root, const pt_snapshot *snap, const pt_config *file)
{
    pt_cfg_node *list = snap->npolicies ? list_in(root, "policies") : NULL;
    if (snap->npolicies && !list) return -1;
    for (size_t i = 0; i < snap->npolicies; i++) {
        const pt_snap_policy *p = &snap->policies[i];
        json_t *spec = p->spec ? json_loads(p->spec, 0, NULL) : NULL;
        int rc = 0;
        if (!json_is_object(spec) || entry_named(pt_cfg_map_get(file->tree, "policies"), p->name) >= 0)
            pt_log_warn("policy '%s' from the store is not enforced: %s", p->name,
                        json_is_object(spec) ? "the configuration file declares a policy of that name"
                                             : "its stored spec is not a JSON object");
        else if (!policy_target_known(root, spec))
            pt_log_warn("policy '%s' from the store is not enforced: the service or route it applies to is gone",
                        p->name);
        else
            rc = pt_cfg_node_append(list, policy_node(p->name, spec));
        json_decref(spec);
        if (rc != 0) return -1;
    }
    return 0;
}

/* Each stored API that asks for request validation gets its operations compiled onto its
 * route, once, here: the request path only reads them. */
static int attach_validation(pt_config *cfg, const pt_snapshot *snap, pt_buf *err)
{
    for (size_t i = 0; i < snap->napis; i++) {
        const pt_snap_api *a = &snap->apis[i];
        if (!a->validate || !a->openapi || !served(snap, a->service)) continue;
        char name[160], why[256];
        snprintf(name, sizeof name, "%s/%s", snap->services[a->service].name, a->name);
        for (size_t r = 0; r < cfg->nroutes; r++) {
            pt_route *route = &cfg->routes[r];
            if (strcmp(route->name, name) != 0 || route->kind != PT_ROUTE_PROXY) continue;
            if (!(route->validate = pt_validate_compile(a->openapi, why, sizeof why))) {
                pt_buf_printf(err, "route '%s': its OpenAPI operations do not compile: %s", name, why);
                return -1;
            }
        }
    }
    return 0;
}

pt_config *pt_config_with_store(pt_config *file, const pt_snapshot *snap, pt_buf *err)
{
    size_t nserved = 0;
    for (size_t i = 0; snap && i < snap->nservices; i++) nserved += served(snap, i);
    if ((!nserved && !(snap && snap->npolicies)) || !file->tree) return pt_config_acquire(file);
    pt_cfg_node *root = pt_cfg_node_clone(file->tree);
    pt_cfg_node *services = root ? list_in(root, "services") : NULL, *routes = services ? list_in(root, "routes") : NULL;
    int rc = routes ? 0 : -1;
    size_t nroutes = 0;
    for (size_t i = 0; rc == 0 && i < snap->nservices; i++) {
        if (!served(snap, i)) continue;
        const pt_snap_service *s = &snap->services[i];
        if (pt_config_find_service(file, s->name)) {
            pt_log_warn("service '%s' from the store is not served: %s declares a service of that name", s->name,
                        file->source);
            continue;
        }
        json_t *svc = service_json(s), *apis = svc ? apis_of(snap, i) : NULL;
        rc = apis ? add_service(services, routes, svc, apis) : -1;
        nroutes += apis ? json_array_size(apis) : 0;
        json_decref(svc);
        json_decref(apis);
    }
    if (rc == 0) rc = add_policies(root, snap, file);
    if (rc != 0) {
        pt_cfg_node_free(root);
        pt_buf_printf(err, "out of memory adding the store's services and policies to the configuration");
        return NULL;
    }
    pt_config *cfg = pt_config_load_tree(file->source, file->basedir, root, err);
    if (!cfg) return NULL;
    if (attach_validation(cfg, snap, err) != 0) {
        pt_config_release(cfg);
        return NULL;
    }
    pt__mcp_local_attach_store(cfg, snap);
    cfg->file = pt_config_acquire(file);
    cfg->nstore_routes = nroutes;
    return cfg;
}

/* ---- checking one stored service --------------------------------------------------------- */

/* The admin API's name for a key path of the checked document: "services[0].health_check
 * .interval" is "health.interval", "routes[1].match.path_prefix" is "apis[1].path_prefix". */
static void admin_field(const char *path, size_t len, char *out, size_t cap)
{
    static const struct { const char *key, *field; } renames[] = {
        { "health_check", "health" }, { "rewrite_prefix", "rewrite" }, { "match.headers", "match_headers" },
        { "match.", "" }, { "match", "path_prefix" },
    };
    char p[256], prefix[32] = "";
    snprintf(p, sizeof p, "%.*s", (int)len, path);
    const char *rest = p + strlen(p); /* outside the service and its routes: no single field */
    size_t idx;
    if (strncmp(p, "services[0]", 11) == 0) rest = p + 11;
    else if (sscanf(p, "policies[%zu]", &idx) == 1) rest = strchr(p, ']') + 1;
    else if (sscanf(p, "routes[%zu]", &idx) == 1) {
        rest = strchr(p, ']') + 1;
        snprintf(prefix, sizeof prefix, "apis[%zu]", idx);
    }
    if (*rest == '.') rest++;
    const char *rename = "";
    for (size_t i = 0; i < sizeof renames / sizeof renames[0]; i++) {
        size_t n = strlen(renames[i].key);
        if (strncmp(rest, renames[i].key, n) == 0 && (rest[n] == '\0' || rest[n] == '.' || rest[n - 1] == '.')) {
            rename = renames[i].field;
            rest += n;
            break;
        }
    }
    snprintf(out, cap, "%s%s%s%s", prefix, *prefix && (*rename || *rest) ? "." : "", rename, rest);
}

/* The first of the loader's lines "NAME:LINE: PATH: message" as a field and a message. */
static void first_problem(const pt_buf *err, char *field, size_t cap, pt_buf *msg)
{
    const char *line = err->data ? err->data : "";
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    const char *a = memchr(line, ':', len), *b = a ? memchr(a + 1, ':', len - (size_t)(a + 1 - line)) : NULL;
    const char *text = b ? b + 2 : line;
    size_t tlen = len - (size_t)(text - line);
    const char *colon = memchr(text, ':', tlen);
    bool has_path = colon && colon + 1 < text + tlen && colon[1] == ' ' && !memchr(text, ' ', (size_t)(colon - text));
    field[0] = '\0';
    if (has_path) {
        admin_field(text, (size_t)(colon - text), field, cap);
        text = colon + 2;
        tlen = len - (size_t)(text - line);
    }
    pt_buf_printf(msg, "%.*s", (int)tlen, text);
}

/* Loads tree (NULL: building it ran out of memory; root is freed then) and reports its
 * first problem as an admin field and a message. */
static int check_tree(pt_cfg_node *tree, pt_cfg_node *root, const char *name, const char *basedir, char *field,
                      size_t fieldcap, pt_buf *msg)
{
    if (!tree) {
        pt_cfg_node_free(root);
        pt_buf_printf(msg, "out of memory");
        return -1;
    }
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_tree(name, basedir, tree, &err);
    if (!cfg) first_problem(&err, field, fieldcap, msg);
    pt_buf_release(&err);
    pt_config_release(cfg);
    return cfg ? 0 : -1;
}

int pt_config_check_stored(const pt_config *file, const json_t *service, const json_t *apis, char *field,
                           size_t fieldcap, pt_buf *msg)
{
    field[0] = '\0';
    const char *name = str(service, "name");
    if (name && pt_config_find_service(file, name)) {
        snprintf(field, fieldcap, "name");
        pt_buf_printf(msg, "the configuration file declares a service named '%s'", name);
        return -1;
    }
    size_t i;
    json_t *m;
    json_array_foreach(is_ai(service) ? member(service, "models") : NULL, i, m) {
        const char *mn = json_string_value(m);
        if (mn && file->ai && pt_ai_config_model(file->ai, pt_slice_cstr(mn))) continue;
        snprintf(field, fieldcap, "models[%zu]", i);
        pt_buf_printf(msg, "unknown model '%.100s' (the configuration's models: do not name it)", mn ? mn : "?");
        return -1;
    }
    /* the file's providers and models, for an AI service's models; nothing else of it */
    pt_cfg_node *root = pt_cfg_node_map(), *services = root ? list_in(root, "services") : NULL;
    pt_cfg_node *routes = services ? list_in(root, "routes") : NULL;
    int rc = routes ? 0 : -1;
    static const char *const keep[] = { "providers", "models" };
    for (size_t k = 0; rc == 0 && file->tree && k < sizeof keep / sizeof keep[0]; k++) {
        const pt_cfg_node *n = pt_cfg_map_get(file->tree, keep[k]);
        if (n) rc = pt_cfg_node_put(root, keep[k], pt_cfg_node_clone(n));
    }
    if (rc == 0) rc = add_service(services, routes, service, apis);
    return check_tree(rc == 0 ? root : NULL, root, "service", file->basedir, field, fieldcap, msg);
}

/* ---- checking one stored policy ----------------------------------------------------------- */

int pt_config_check_policy(const pt_config *cur, const json_t *policy, const char *replaces, char *field,
                           size_t fieldcap, pt_buf *msg)
{
    field[0] = '\0';
    pt_cfg_node *root = cur->tree ? pt_cfg_node_clone(cur->tree) : pt_cfg_node_map();
    pt_cfg_node *list = root ? list_in(root, "policies") : NULL;
    long old = entry_named(list, replaces);
    if (old >= 0) drop_entry(list, (size_t)old);
    bool built = list && pt_cfg_node_append(list, pt_cfg_node_from_json(policy)) == 0;
    return check_tree(built ? root : NULL, root, "policy", cur->basedir, field, fieldcap, msg);
}
