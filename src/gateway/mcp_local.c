/* mcp_local.c: the tools /mcp serves itself: routes' APIs and the doctor (see mcp_local.h). */
#include "gateway/mcp_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/oas.h"
#include "ai/prompt.h"
#include "control/snapshot.h"
#include "core/log.h"
#include "doctor/doctor.h"
#include "mcp/apitools.h"
#include "mcp/mcp_config.h"

#define MAX_DOCUMENT (16u << 20)  /* an OpenAPI document read at load */
#define DOCTOR_TIMEOUT_DEFAULT 2000u

/* ---- load ---------------------------------------------------------------------------- */

static const pt_route *route_named(const pt_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (strcmp(cfg->routes[i].name, name) == 0) return &cfg->routes[i];
    return NULL;
}

/* The length of p without its trailing '/'. */
static size_t unslashed(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    return n && p[n - 1] == '/' ? n - 1 : n;
}

/* What clients put before an operation's path on route r, into out: the service's path for
 * it (the document's first server URL's path) as the route maps it back, that is with the
 * route's prefix in place of what strip_prefix or rewrite_prefix puts there. */
static void route_base(const pt_route *r, const char *server_path, char *out, size_t outsz)
{
    size_t sn = unslashed(server_path);
    if (!r->path_prefix || !(r->strip_prefix || r->rewrite_prefix)) {
        snprintf(out, outsz, "%.*s", (int)sn, server_path ? server_path : "");
        return;
    }
    size_t cut = r->rewrite_prefix ? unslashed(r->rewrite_prefix) : 0;
    if (cut > sn || strncmp(server_path, r->rewrite_prefix ? r->rewrite_prefix : "", cut) != 0) cut = 0;
    snprintf(out, outsz, "%.*s%.*s", (int)unslashed(r->path_prefix), r->path_prefix, (int)(sn - cut),
             server_path ? server_path + cut : "");
}

static char *read_file(const char *path, size_t *len, char *why, size_t whysz)
{
    FILE *f = fopen(path, "rb");
    char *text = f ? malloc(MAX_DOCUMENT + 1) : NULL;
    size_t n = text ? fread(text, 1, MAX_DOCUMENT + 1, f) : 0;
    if (f) fclose(f);
    if (!text || n > MAX_DOCUMENT) {
        snprintf(why, whysz, "%s: %s", path, text ? "larger than 16 MiB" : "cannot be read");
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

/* A REST route's operations as tools. */
static int load_openapi(pt_mcp_config *m, size_t i, const pt_route *r, char *why, size_t whysz)
{
    const pt_mcp_api *a = &m->apis[i];
    size_t len = 0;
    char *text = read_file(a->openapi, &len, why, whysz);
    if (!text) return -1;
    json_t *norm = NULL;
    char *server_path = NULL;
    pt_admin_err e = { 0 };
    int rc = pt_oas_import(text, len, &norm, &server_path, &e);
    free(text);
    if (rc) {
        snprintf(why, whysz, "%.100s: %s", a->openapi, e.message);
        return -1;
    }
    char base[600];
    route_base(r, server_path, base, sizeof base);
    free(server_path);
    pt_buf skipped = PT_BUF_INIT;
    rc = pt_mcp_apitools_from_ops(&m->tools, json_object_get(norm, "operations"), base, a->prefix ? a->name : NULL, i,
                                  &skipped, why, whysz);
    for (const char *p = skipped.data, *end = p + skipped.len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        pt_log_warn("mcp.apis '%s': %.*s", a->name, (int)((nl ? nl : end) - p), p);
        p = nl ? nl + 1 : end;
    }
    pt_buf_release(&skipped);
    json_decref(norm);
    return rc;
}

/* A prompt variable's JSON Schema. */
static json_t *var_schema(const pt_prompt_var *v)
{
    static const char *const types[] = { "string", "number", "boolean", "string" };
    json_t *s = json_pack("{s:s}", "type", types[v->type]);
    if (!s) return NULL;
    if (v->has_min_len) json_object_set_new(s, "minLength", json_integer((json_int_t)v->min_len));
    if (v->has_max_len) json_object_set_new(s, "maxLength", json_integer((json_int_t)v->max_len));
    if (v->has_min) json_object_set_new(s, "minimum", json_real(v->min));
    if (v->has_max) json_object_set_new(s, "maximum", json_real(v->max));
    if (v->def) json_object_set(s, "default", v->def);
    if (v->type == PT_PVAR_ENUM) {
        json_t *e = json_array();
        for (size_t i = 0; e && i < v->nvalues; i++) json_array_append_new(e, json_string(v->values[i]));
        json_object_set_new(s, "enum", e);
    }
    return s;
}

/* A prompt API's one call as a tool named after the entry; its variables are the arguments. */
static int load_prompt(pt_mcp_config *m, size_t i, const pt_route *r, char *why, size_t whysz)
{
    const pt_prompt *p = r->service ? r->service->prompt : NULL;
    const char *path = r->path_exact ? r->path_exact : r->path_prefix;
    if (!p || !path) {
        snprintf(why, whysz, "route '%s' has no path to call its prompt API on (give it match.path_prefix or path)",
                 r->name);
        return -1;
    }
    json_t *props = json_object(), *req = json_array();
    for (size_t k = 0; props && req && k < p->nvars; k++) {
        json_object_set_new(props, p->vars[k].name, var_schema(&p->vars[k]));
        if (p->vars[k].required) json_array_append_new(req, json_string(p->vars[k].name));
    }
    json_t *schema = json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required", req,
                               "additionalProperties", 0);
    char d[200];
    snprintf(d, sizeof d, "The prompt API of route '%.80s' (POST %.80s)", r->name, path);
    return pt_mcp_apitools_add_post(&m->tools, m->apis[i].name, d, path, schema, i, why, whysz);
}

static int load_entry(pt_cfg *c, pt_config *cfg, size_t i, const pt_cfg_node *at)
{
    pt_mcp_config *m = cfg->mcp;
    const pt_mcp_api *a = &m->apis[i];
    const pt_route *r = route_named(cfg, a->route);
    char why[400];
    if (strchr(a->route, '/')) { /* a stored API: its document comes with the store (attach_store) */
        if (a->openapi)
            return pt_cfg_fail_key(c, "openapi", pt_cfg_map_get(at, "openapi"),
                                   "'%s' names a stored API: its imported document is used", a->route);
        return 0;
    }
    if (!r) return pt_cfg_fail_key(c, "route", pt_cfg_map_get(at, "route"), "no route named '%s'", a->route);
    if (r->kind == PT_ROUTE_PROMPT) {
        if (a->openapi)
            return pt_cfg_fail_key(c, "openapi", pt_cfg_map_get(at, "openapi"),
                                   "route '%s' serves a prompt API: its variables are the tool's arguments", a->route);
        return load_prompt(m, i, r, why, sizeof why) ? pt_cfg_fail(c, at, "%s", why) : 0;
    }
    if (r->kind != PT_ROUTE_PROXY)
        return pt_cfg_fail_key(c, "route", pt_cfg_map_get(at, "route"),
                               "route '%s' is not a service's route (an AI or MCP route has no operations to offer)",
                               a->route);
    if (!a->openapi)
        return pt_cfg_fail(c, at, "route '%s' is a REST route: give openapi, the OpenAPI document of its operations",
                           a->route);
    return load_openapi(m, i, r, why, sizeof why) ? pt_cfg_fail_key(c, "openapi", pt_cfg_map_get(at, "openapi"), "%s", why)
                                                 : 0;
}

int pt__mcp_local_load(pt_cfg *c, pt_config *cfg, const pt_cfg_node *v)
{
    pt_mcp_config *m = cfg->mcp;
    const pt_cfg_node *list = m && m->napis ? pt_cfg_map_get(v, "apis") : NULL;
    if (!list) return 0;
    size_t mark = pt_cfg_push_key(c, "apis");
    int rc = 0;
    for (size_t i = 0; i < m->napis && rc == 0; i++) {
        const pt_cfg_node *at = list->kind == PT_CFG_SEQ ? list->items[i] : list;
        size_t m3 = pt_cfg_push_index(c, i);
        rc = load_entry(c, cfg, i, at);
        pt_cfg_pop(c, m3);
    }
    long dup = rc ? -1 : pt_mcp_apitools_collision(&m->tools);
    if (dup >= 0)
        rc = pt_cfg_fail(c, list, "two tools are named '%s' (the second from apis entry '%s'): give one an operationId "
                                  "or its entry another name",
                         m->tools.v[dup].name, m->apis[m->tools.v[dup].api].name);
    const pt_mcp_apitool *doc = rc ? NULL : pt_mcp_apitools_find(&m->tools, PT_MCP_DOCTOR_TOOL);
    if (doc && m->diagnose_connection)
        rc = pt_cfg_fail(c, list, "the tool name '%s' of apis entry '%s' is the built-in tool's (turn it off with "
                                  "mcp.diagnose_connection: false)",
                         PT_MCP_DOCTOR_TOOL, m->apis[doc->api].name);
    pt_cfg_pop(c, mark);
    return rc;
}

/* The stored API "service/api" of snap, or NULL. */
static const pt_snap_api *stored_api(const pt_snapshot *snap, const char *route)
{
    const char *slash = strchr(route, '/');
    for (size_t i = 0; snap && slash && i < snap->napis; i++) {
        const pt_snap_api *a = &snap->apis[i];
        const char *svc = snap->services[a->service].name;
        if (strlen(svc) == (size_t)(slash - route) && memcmp(svc, route, (size_t)(slash - route)) == 0 &&
            strcmp(a->name, slash + 1) == 0)
            return a;
    }
    return NULL;
}

/* Entry i's tools from its stored document; why when it has none. A name another tool has
 * leaves the entry's tools out. */
static int attach_one(pt_config *cfg, const pt_snapshot *snap, size_t i, char *why, size_t whysz)
{
    pt_mcp_config *m = cfg->mcp;
    const pt_mcp_api *a = &m->apis[i];
    const pt_route *r = route_named(cfg, a->route);
    const pt_snap_api *s = stored_api(snap, a->route);
    if (!r || !s) return snprintf(why, whysz, "no stored API serves route '%s'", a->route), -1;
    if (!s->openapi) return snprintf(why, whysz, "the stored API has no imported OpenAPI document"), -1;
    json_t *norm = json_loads(s->openapi, 0, NULL);
    char base[600]; /* a stored document's paths are relative to its API's prefix (docs/ADMIN.md) */
    snprintf(base, sizeof base, "%.*s", (int)unslashed(r->path_prefix), r->path_prefix ? r->path_prefix : "");
    size_t before = m->tools.n;
    int rc = pt_mcp_apitools_from_ops(&m->tools, json_object_get(norm, "operations"), base, a->prefix ? a->name : NULL,
                                      i, NULL, why, whysz);
    json_decref(norm);
    long dup = rc ? -1 : pt_mcp_apitools_collision(&m->tools);
    const pt_mcp_apitool *doc = m->diagnose_connection ? pt_mcp_apitools_find(&m->tools, PT_MCP_DOCTOR_TOOL) : NULL;
    if (dup >= 0 || doc) {
        snprintf(why, whysz, "its tool '%s' is named like another", dup >= 0 ? m->tools.v[dup].name : PT_MCP_DOCTOR_TOOL);
        rc = -1;
    }
    if (rc) pt_mcp_apitools_truncate(&m->tools, before); /* none of this entry's tools, rather than some */
    return rc;
}

void pt__mcp_local_attach_store(pt_config *cfg, const pt_snapshot *snap)
{
    for (size_t i = 0; cfg->mcp && i < cfg->mcp->napis; i++) {
        char why[400];
        if (strchr(cfg->mcp->apis[i].route, '/') && attach_one(cfg, snap, i, why, sizeof why))
            pt_log_warn("mcp.apis '%s' gives no tools: %s", cfg->mcp->apis[i].name, why);
    }
}

/* ---- lists ------------------------------------------------------------------------------ */

static json_t *doctor_def(void)
{
    return json_pack(
        "{s:s,s:s,s:{s:s,s:{s:{s:s,s:s,s:i},s:{s:s,s:s},s:{s:s,s:s,s:i,s:i}},s:[s],s:b}}", "name", PT_MCP_DOCTOR_TOOL,
        "description",
        "Diagnose why a connection fails, as seen from the gateway: name resolution, proxies, listeners, TCP, TLS, "
        "the protocol spoken and, for an MCP server, its handshake. Returns the checks, the most likely cause and "
        "its remedy.",
        "inputSchema", "type", "object", "properties", "target", "type", "string", "description",
        "host:port, an http(s):// URL, or mcp+http(s)://... for an MCP server", "maxLength", 2048, "listen", "type",
        "boolean", "description", "diagnose a port this machine should listen on instead of one to connect to",
        "timeout_ms", "type", "integer", "description", "the timeout of each probe (default 2000)", "minimum", 50,
        "maximum", 10000, "required", "target", "additionalProperties", 0);
}

bool pt_mcp_local_owns(const pt_config *cfg, const char *name, const char **server, const char **own)
{
    const pt_mcp_config *m = cfg->mcp;
    if (!m || !name) return false;
    if (m->diagnose_connection && strcmp(name, PT_MCP_DOCTOR_TOOL) == 0) {
        *server = PT_MCP_BUILTIN;
        *own = PT_MCP_DOCTOR_TOOL;
        return true;
    }
    const pt_mcp_apitool *t = pt_mcp_apitools_find(&m->tools, name);
    if (!t) return false;
    *server = m->apis[t->api].name;
    *own = t->own;
    return true;
}

json_t *pt_mcp_local_merge(const pt_config *cfg, const pt_mcp_access *access, json_t *merged, pt_buf *problems)
{
    const pt_mcp_config *m = cfg->mcp;
    json_t *out = merged ? json_array() : NULL;
    if (!out) {
        json_decref(merged);
        return NULL;
    }
    if (m->diagnose_connection && pt_mcp_access_allows(access, PT_MCP_BUILTIN, PT_MCP_DOCTOR_TOOL))
        json_array_append_new(out, doctor_def());
    for (size_t i = 0; i < m->tools.n; i++) {
        const pt_mcp_apitool *t = &m->tools.v[i];
        if (pt_mcp_access_allows(access, m->apis[t->api].name, t->own)) json_array_append(out, t->def);
    }
    size_t i;
    json_t *t;
    json_array_foreach(merged, i, t) {
        const char *name = json_string_value(json_object_get(t, "name")), *server, *own;
        if (name && pt_mcp_local_owns(cfg, name, &server, &own))
            pt_buf_printf(problems, "tool '%s' collides with the gateway's own (%s); left out\n", name, server);
        else json_array_append(out, t);
    }
    json_decref(merged);
    return out;
}

/* ---- calls ------------------------------------------------------------------------------ */

/* One call in flight: an API call (x set until it ends) or a diagnosis (work queued; cancelled
 * or answered tells the pool's after-callback to free it instead of answering). A diagnosis
 * is answered by its deadline timer when the doctor's thread takes longer (a name server that
 * does not answer, many probes of a silent target): the thread runs on, nobody waits for it. */
struct pt_mcp_local_call {
    pt_mcp_local_done done;
    void *arg;
    /* an API call */
    pt_exchange *x;
    int status;
    bool json;
    pt_buf body;
    char route[128];
    /* the doctor */
    uv_work_t work;
    uv_timer_t deadline;
    uint64_t deadline_ms;
    bool cancelled, answered;
    char *target;
    bool listen;
    unsigned timeout_ms;
    json_t *report;
    char err[256];
};

static void call_free(pt_mcp_local_call *k)
{
    pt_buf_release(&k->body);
    free(k->target);
    json_decref(k->report);
    free(k);
}

/* Ends the call with result (taken). */
static void finish(pt_mcp_local_call *k, json_t *result)
{
    if (!result) result = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", "out of memory", "isError", 1);
    k->done(k->arg, result);
    json_decref(result);
    call_free(k);
}

static json_t *error_result(const char *fmt, const char *a, const char *b)
{
    char text[600];
    snprintf(text, sizeof text, fmt, a, b);
    return json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 1);
}

static void on_head(void *u, int status, const pt_header *h, size_t n, int64_t cl)
{
    pt_mcp_local_call *k = u;
    k->status = status;
    for (size_t i = 0; i < n; i++)
        if (pt_slice_case_eq_cstr(h[i].name, "content-type"))
            k->json = memmem(h[i].value.ptr, h[i].value.len, "json", 4) != NULL;
}

static void on_body(void *u, const char *data, size_t n)
{
    pt_mcp_local_call *k = u;
    if (pt_buf_append(&k->body, data, n) != 0) k->status = -1; /* over the cap: said when done */
}

static void on_done(void *u)
{
    pt_mcp_local_call *k = u;
    if (k->status < 0) {
        char cap[32];
        snprintf(cap, sizeof cap, "%zu", k->body.cap_limit);
        finish(k, error_result("the answer of route '%s' is larger than %s bytes (mcp.max_message_bytes)", k->route, cap));
        return;
    }
    finish(k, pt_mcp_apitool_result(k->status, k->json, k->body.data ? k->body.data : "", k->body.len));
}

static void on_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    pt_mcp_local_call *k = u;
    pt_log_warn("MCP tool call to route '%s' failed: %s", k->route, detail ? detail : "");
    finish(k, error_result("the call of route '%s' failed: %s", k->route,
                           pt_upstream_cause_text(pt_upstream_cause_of(err, phase))));
}

static void on_drain(void *u) {}

/* The listener the gateway calls itself on: a plain one if any, on a loopback address. */
static const pt_listener_cfg *own_listener(const pt_config *cfg, pt_endpoint *ep)
{
    const pt_listener_cfg *l = NULL;
    for (size_t i = 0; i < cfg->nlisteners && (!l || l->tls); i++) l = &cfg->listeners[i];
    if (!l) return NULL;
    const char *h = l->host;
    if (strcmp(h, "0.0.0.0") == 0) h = "127.0.0.1";
    else if (strcmp(h, "::") == 0) h = "::1";
    /* the gateway's own certificate need not name the loopback address it is called on */
    *ep = (pt_endpoint){ .host = h, .port = l->port, .tls = l->tls, .insecure_skip_verify = true };
    return l;
}

/* The caller's credentials, copied as they came: the route checks them itself. */
static void copy_credentials(pt_buf *head, const pt_request *req, const pt_route *r)
{
    const char *names[] = { "authorization", "x-api-key", r && r->key_header ? r->key_header : NULL };
    for (size_t i = 0; i < 3; i++) {
        const pt_header *h = names[i] ? pt_request_header(req, names[i]) : NULL;
        if (h) pt_buf_printf(head, "%s: " PT_SLICE_FMT "\r\n", names[i], PT_SLICE_ARG(h->value));
    }
}

static pt_mcp_local_call *api_start(pt_client *client, const pt_config *cfg, const pt_request *req,
                                    const pt_mcp_apitool *t, const json_t *args, pt_mcp_local_done done, void *arg,
                                    int *code, char *why, size_t whysz)
{
    const pt_mcp_config *m = cfg->mcp;
    const pt_mcp_api *a = &m->apis[t->api];
    const pt_route *r = route_named(cfg, a->route);
    pt_endpoint ep;
    const pt_listener_cfg *l = own_listener(cfg, &ep);
    pt_buf target = PT_BUF_INIT, extra = PT_BUF_INIT, body = PT_BUF_INIT, head = PT_BUF_INIT;
    pt_mcp_local_call *k = NULL;
    *code = -32602;
    if (pt_mcp_apitool_request(t, args, &target, &extra, &body, why, whysz)) goto out;
    *code = -32603;
    if (!l) {
        snprintf(why, whysz, "the gateway has no listener to call route '%s' on", a->route);
        goto out;
    }
    pt_buf_printf(&head, "%s %.*s HTTP/1.1\r\n", t->method, (int)target.len, target.data ? target.data : "/");
    if (r && r->nhosts && r->hosts[0][0] != '*') pt_buf_printf(&head, "Host: %s\r\n", r->hosts[0]);
    else pt_http_append_host(&head, ep.host, ep.port, ep.tls);
    pt_buf_append_str(&head, "User-Agent: portico-mcp\r\nAccept: application/json\r\n");
    copy_credentials(&head, req, r);
    if (extra.len) pt_buf_append(&head, extra.data, extra.len);
    if (body.len) pt_buf_printf(&head, "Content-Type: application/json\r\nContent-Length: %zu\r\n", body.len);
    if (pt_buf_append_str(&head, "\r\n") || !(k = calloc(1, sizeof *k))) {
        snprintf(why, whysz, "out of memory");
        goto out;
    }
    *k = (pt_mcp_local_call){ .done = done, .arg = arg };
    pt_buf_init(&k->body, m->max_message_bytes);
    snprintf(k->route, sizeof k->route, "%s", a->route);
    pt_exchange_opts o = { .connect_timeout_ms = 3000, .first_byte_timeout_ms = a->timeout_ms,
                           .idle_timeout_ms = a->timeout_ms, .pool_idle_ms = 60000, .pool_max_idle = 16,
                           .has_body = body.len > 0, .body = body.data, .body_len = body.len, .body_complete = true,
                           .idempotent = strcmp(t->method, "GET") == 0 || strcmp(t->method, "HEAD") == 0 };
    static const pt_exchange_cb cb = { .on_head = on_head, .on_body = on_body, .on_done = on_done,
                                       .on_error = on_error, .on_drain = on_drain };
    k->x = pt_exchange_start(client, &ep, &o, head.data, head.len, &cb, k);
    if (!k->x) {
        call_free(k);
        k = NULL;
        snprintf(why, whysz, "out of memory");
    }
out:
    pt_buf_release(&target);
    pt_buf_release(&extra);
    pt_buf_release(&body);
    pt_buf_release(&head);
    return k;
}

/* ---- the doctor ----------------------------------------------------------------------- */

static void doctor_work(uv_work_t *w)
{
    pt_mcp_local_call *k = w->data;
    k->report = pt_doctor_json(k->target, k->listen, k->timeout_ms, k->err, sizeof k->err);
}

static const char *sv(const json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

/* The report as text: the verdict, the likely cause and its remedy, then one line per check. */
static json_t *doctor_text(const json_t *rep)
{
    pt_buf b = PT_BUF_INIT;
    const json_t *root = json_object_get(rep, "root_cause");
    pt_buf_printf(&b, "%s: %s\n", sv(rep, "target", "?"),
                  sv(rep, "verdict", "?"));
    if (json_is_object(root))
        pt_buf_printf(&b, "most likely cause: %s\nremedy: %s\n",
                      sv(root, "summary", "-"),
                      sv(root, "remedy", "-"));
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(rep, "checks"), i, c)
        pt_buf_printf(&b, "[%s] %s: %s\n", sv(c, "status", "?"),
                      sv(c, "title", "?"),
                      sv(c, "summary", ""));
    json_t *s = b.data ? json_stringn(b.data, b.len) : NULL;
    pt_buf_release(&b);
    return s ? s : json_string("(the report is not UTF-8 text)");
}

static void deadline_closed(uv_handle_t *h) { call_free(h->data); }

/* Answers a diagnosis (result taken) unless it was answered or cancelled. */
static void doctor_answer(pt_mcp_local_call *k, json_t *result)
{
    uv_timer_stop(&k->deadline);
    if (k->cancelled || k->answered) {
        json_decref(result);
        return;
    }
    k->answered = true;
    if (!result) result = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", "out of memory", "isError", 1);
    k->done(k->arg, result);
    json_decref(result);
}

static void on_deadline(uv_timer_t *t)
{
    pt_mcp_local_call *k = t->data;
    char ms[24];
    snprintf(ms, sizeof ms, "%llu", (unsigned long long)k->deadline_ms);
    doctor_answer(k, error_result("the diagnosis of '%s' did not finish within %s ms (mcp.diagnose_deadline)",
                                  k->target, ms));
}

static void doctor_after(uv_work_t *w, int status)
{
    pt_mcp_local_call *k = w->data;
    if (!k->report)
        doctor_answer(k, error_result("the diagnosis of '%s' failed: %s", k->target, k->err));
    else /* a target that fails is the diagnosis working, not an error of the tool */
        doctor_answer(k, json_pack("{s:[{s:s,s:o}],s:O,s:b}", "content", "type", "text", "text",
                                   doctor_text(k->report), "structuredContent", k->report, "isError", 0));
    uv_close((uv_handle_t *)&k->deadline, deadline_closed);
}

static int doctor_args(const json_t *args, const char **target, bool *listen, unsigned *tmo, char *why, size_t whysz)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)args, k, v) if (strcmp(k, "target") && strcmp(k, "listen") && strcmp(k, "timeout_ms"))
    {
        snprintf(why, whysz, "unknown argument '%.100s' (target, listen, timeout_ms)", k);
        return -1;
    }
    const json_t *t = json_object_get(args, "target"), *l = json_object_get(args, "listen"),
                 *ms = json_object_get(args, "timeout_ms");
    if (!json_is_string(t) || !json_string_length(t) || json_string_length(t) > 2048)
        return snprintf(why, whysz, "target is required: host:port, an http(s):// URL or mcp+http(s)://..."), -1;
    if (l && !json_is_boolean(l)) return snprintf(why, whysz, "listen must be true or false"), -1;
    if (ms && (!json_is_integer(ms) || json_integer_value(ms) < 50 || json_integer_value(ms) > 10000))
        return snprintf(why, whysz, "timeout_ms must be an integer from 50 to 10000"), -1;
    *target = json_string_value(t);
    *listen = json_is_true(l);
    *tmo = ms ? (unsigned)json_integer_value(ms) : DOCTOR_TIMEOUT_DEFAULT;
    pt_dr_target parsed = { 0 };
    if (pt_dr_target_parse(*target, *listen, &parsed, why, whysz) != 0) return -1;
    pt_dr_target_release(&parsed);
    return 0;
}

static pt_mcp_local_call *doctor_start(uv_loop_t *loop, const json_t *args, uint64_t deadline_ms,
                                       pt_mcp_local_done done, void *arg, int *code, char *why, size_t whysz)
{
    const char *target;
    bool listen;
    unsigned tmo;
    *code = -32602;
    if (args && !json_is_object(args)) return snprintf(why, whysz, "arguments must be an object"), NULL;
    if (doctor_args(args, &target, &listen, &tmo, why, whysz)) return NULL;
    *code = -32603;
    pt_mcp_local_call *k = calloc(1, sizeof *k);
    if (!k || !(k->target = strdup(target))) {
        free(k);
        return snprintf(why, whysz, "out of memory"), NULL;
    }
    k->done = done;
    k->arg = arg;
    k->listen = listen;
    k->timeout_ms = tmo;
    k->work.data = k;
    if (uv_queue_work(loop, &k->work, doctor_work, doctor_after) != 0) {
        call_free(k);
        return snprintf(why, whysz, "the diagnosis could not be started"), NULL;
    }
    k->deadline_ms = deadline_ms;
    uv_timer_init(loop, &k->deadline);
    k->deadline.data = k;
    uv_timer_start(&k->deadline, on_deadline, deadline_ms, 0);
    return k;
}

/* ---- either ----------------------------------------------------------------------------- */

pt_mcp_local_call *pt_mcp_local_start(uv_loop_t *loop, pt_client *client, const pt_config *cfg, const pt_request *req,
                                      const char *name, const json_t *args, pt_mcp_local_done done, void *arg, int *code,
                                      char *why, size_t whysz)
{
    const pt_mcp_config *m = cfg->mcp;
    if (m && m->diagnose_connection && strcmp(name, PT_MCP_DOCTOR_TOOL) == 0)
        return doctor_start(loop, args, m->diagnose_deadline_ms, done, arg, code, why, whysz);
    const pt_mcp_apitool *t = m ? pt_mcp_apitools_find(&m->tools, name) : NULL;
    if (!t) {
        *code = -32602;
        snprintf(why, whysz, "unknown tool '%.200s'", name);
        return NULL;
    }
    return api_start(client, cfg, req, t, args, done, arg, code, why, whysz);
}

void pt_mcp_local_cancel(pt_mcp_local_call *k)
{
    if (!k) return;
    if (k->x) { /* an API call: no callback after this */
        pt_exchange_cancel(k->x);
        call_free(k);
        return;
    }
    k->cancelled = true; /* the doctor's thread finishes; doctor_after frees */
    if (k->deadline.data) uv_timer_stop(&k->deadline);
}
