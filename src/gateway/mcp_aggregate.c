/* mcp_aggregate.c: /mcp, every upstream aggregated: initialize answered by the gateway, the
 * upstreams' tools, prompts and resources listed (every page) and merged, and calls,
 * completions and resource subscriptions routed to the server that lists the name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/mcp_route_int.h"
#include "gateway/mcp_session.h"
#include "version.h"

/* ---- /mcp: aggregation ---------------------------------------------------------------- */

/* What /mcp merges: one list method per kind of entry, and the method that uses an entry. */
typedef struct kind {
    const char *list;          /* "tools/list" */
    const char *member;        /* the list in the result: "tools" */
    const char *key;           /* catalog.h: NULL (tools), "name" (prompts), "uri" (resources) */
    const char *cap;           /* the server capability that says it has them */
    const char *use;           /* the method routed by an entry's name, or NULL */
    const char *param;         /* ...and the parameter holding the name */
    const char *what;          /* for messages */
    int unknown;               /* the error for a name no server has */
} kind;

enum { KIND_TOOLS, KIND_PROMPTS, KIND_RESOURCES, KIND_TEMPLATES };
static const kind kinds[] = {
    [KIND_TOOLS] = { "tools/list", "tools", NULL, "tools", "tools/call", "name", "tool", PT_MCP_INVALID_PARAMS },
    [KIND_PROMPTS] = { "prompts/list", "prompts", "name", "prompts", "prompts/get", "name", "prompt", PT_MCP_INVALID_PARAMS },
    [KIND_RESOURCES] = { "resources/list", "resources", "uri", "resources", "resources/read", "uri", "resource", -32002 },
    [KIND_TEMPLATES] = { "resources/templates/list", "resourceTemplates", "uriTemplate", "resources", NULL, NULL, "resource template", 0 },
};

static const kind *kind_of(const char *method, bool *use)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        *use = kinds[i].use && strcmp(method, kinds[i].use) == 0;
        if (*use || strcmp(method, kinds[i].list) == 0) return &kinds[i];
    }
    return NULL;
}

/* Whether an upstream whose handshake is done declares capability cap (with member true when
 * member is not NULL). */
static bool some_upstream_has(const pt_mcp_hub *hub, const char *cap, const char *member)
{
    for (size_t i = 0; i < hub->nups; i++) {
        json_t *init = hub->ups[i] ? pt_mcp_upstream_init_result(hub->ups[i]) : NULL;
        json_t *c = json_object_get(json_object_get(init, "capabilities"), cap);
        if (json_is_object(c) && (!member || json_is_true(json_object_get(c, member)))) return true;
    }
    return false;
}

/* What /mcp says it serves: the merged lists and their changes, to either era; completions
 * and (to a 2025-era client: the 2026-07-28 revision has no resources/subscribe) resource
 * subscriptions when an upstream has them. */
json_t *pt__mcp_aggregate_caps(const mcp_req *r)
{
    json_t *caps = json_pack("{s:{s:b}, s:{s:b}, s:{s:b}}", "tools", "listChanged", 1, "prompts", "listChanged", 1,
                             "resources", "listChanged", 1);
    if (caps && some_upstream_has(r->hub, "completions", NULL)) json_object_set_new(caps, "completions", json_object());
    if (caps && !r->modern && some_upstream_has(r->hub, "resources", "subscribe"))
        json_object_set_new(json_object_get(caps, "resources"), "subscribe", json_true());
    return caps;
}

json_t *pt__mcp_gateway_info(void) { return json_pack("{s:s, s:s}", "name", "portico", "version", PT_VERSION); }

static void answer_initialize(mcp_req *r)
{
    const char *asked = json_string_value(json_object_get(r->msg.params, "protocolVersion"));
    json_t *result = json_pack("{s:s, s:o, s:o}", "protocolVersion", pt_mcp_version_pick(asked), "capabilities",
                               pt__mcp_aggregate_caps(r), "serverInfo", pt__mcp_gateway_info());
    char id[33];
    if (result && r->legacy) {
        pt__mcp_session_set_caps(r->sid, pt__mcp_client_caps(r));
        pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, result), NULL);
        return;
    }
    if (!result || !pt__mcp_session_new("", pt__mcp_client_caps(r), id)) {
        json_decref(result);
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "too many MCP sessions");
        return;
    }
    pt__mcp_session_bind(id, false, pt__mcp_holder(r));
    pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, result), id);
}

static void route_use(mcp_req *r);
static void fan_page(fan *f, const char *cursor);

/* Every upstream has listed (or failed): answer the list, or route the call that needed it. */
static void fan_done(mcp_req *r)
{
    if (r->routed) {
        r->routed(r);
        return;
    }
    if (r->k->use && strcmp(r->msg.method, r->k->use) == 0) {
        route_use(r);
        return;
    }
    if (!r->k->key) /* tools: only those the caller may use */
        for (size_t i = 0; i < r->nfans; i++) pt__mcp_filter_tools(r->access, r->ins[i].server, r->ins[i].tools);
    pt_buf problems = PT_BUF_INIT;
    json_t *merged = pt_mcp_tools_merge(r->ins, r->nfans, &problems);
    if (!r->k->key) merged = pt_mcp_local_merge(r->cfg, r->access, merged, &problems);
    for (const char *p = problems.data, *end = p + problems.len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        pt_log_warn("MCP entry left out of /mcp: %.*s", (int)((nl ? nl : end) - p), p);
        p = nl ? nl + 1 : end;
    }
    pt_buf_release(&problems);
    json_t *result = merged ? json_object() : NULL;
    if (!result || json_object_set_new(result, r->k->member, merged)) {
        json_decref(result);
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, result), NULL);
}

static void fan_finished_one(mcp_req *r)
{
    if (--r->pending == 0) fan_done(r);
}

static void on_page(void *arg, json_t *response, int code, const char *message)
{
    fan *f = arg;
    mcp_req *r = f->r;
    f->call = NULL;
    json_t *result = response ? json_object_get(response, "result") : NULL;
    json_t *entries = json_object_get(result, r->k->member);
    const char *name = r->ins[f->i].server;
    if (!json_is_array(entries)) {
        json_t *e = response ? json_object_get(response, "error") : NULL;
        const char *why = e ? json_string_value(json_object_get(e, "message")) : message;
        pt_log_warn("MCP server '%s' left out of /mcp %s: %s", name, r->k->list, why ? why : "no list in its answer");
    } else {
        if (!r->ins[f->i].tools) r->ins[f->i].tools = json_array();
        json_array_extend(r->ins[f->i].tools, entries);
        const char *next = json_string_value(json_object_get(result, "nextCursor"));
        if (next && ++f->pages < MAX_PAGES) {
            fan_page(f, next);
            return;
        }
    }
    fan_finished_one(r);
}

static void fan_page(fan *f, const char *cursor)
{
    mcp_req *r = f->r;
    json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
    f->call = pt_mcp_upstream_call(f->up, r->k->list, params, on_page, f);
    json_decref(params);
    if (!f->call) on_page(f, NULL, PT_MCP_INTERNAL_ERROR, "out of memory");
}

/* Whether upstream i is known not to have this kind (its initialize answer lacks the capability). */
static bool lacks(mcp_req *r, size_t i)
{
    json_t *init = pt_mcp_upstream_init_result(r->fans[i].up);
    return init && !json_object_get(json_object_get(init, "capabilities"), r->k->cap);
}

static void on_handshake_done(void *arg, json_t *response, int code, const char *message)
{
    (void)response, (void)code, (void)message; /* a failed handshake leaves the server out */
    fan *f = arg;
    f->call = NULL;
    fan_finished_one(f->r);
}

/* A client that initializes while an upstream's handshake is still under way would be told
 * only what the servers already up can do, and miss the others' completions and resource
 * subscriptions for its whole session. So `then` runs once every upstream then starting has
 * finished its handshake or failed it: a ping to each waits for that, as a list call does. */
void pt__mcp_after_handshakes(mcp_req *r, void (*then)(mcp_req *r))
{
    size_t n = r->hub->nups, starting = 0;
    for (size_t i = 0; i < n; i++)
        if (r->hub->ups[i] && pt_mcp_upstream_state(r->hub->ups[i]) == PT_MCP_UP_STARTING) starting++;
    if (!starting) {
        then(r);
        return;
    }
    r->fans = calloc(n, sizeof *r->fans);
    r->ins = calloc(n, sizeof *r->ins);
    if (!r->fans || !r->ins) {
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    r->nfans = n;
    r->routed = then;
    r->pending = 1; /* held until every ping is sent, as in fan_out */
    for (size_t i = 0; i < n; i++) {
        pt_mcp_upstream *up = r->hub->ups[i];
        if (!up || pt_mcp_upstream_state(up) != PT_MCP_UP_STARTING) continue;
        fan *f = &r->fans[i];
        *f = (fan){ .r = r, .i = i, .up = up };
        r->pending++;
        f->call = pt_mcp_upstream_call(up, "ping", NULL, on_handshake_done, f);
        if (!f->call) r->pending--; /* out of memory: answered with what is known */
    }
    fan_finished_one(r);
}

/* Lists every upstream's entries of r->k, page by page, then fan_done. */
static void fan_out(mcp_req *r)
{
    size_t n = r->m->nservers;
    r->fans = calloc(n ? n : 1, sizeof *r->fans);
    r->ins = calloc(n ? n : 1, sizeof *r->ins);
    if (!r->fans || !r->ins) {
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    r->nfans = n;
    r->pending = 1; /* held until every page is asked for, so no answer starts inside the loop */
    for (size_t i = 0; i < n; i++) {
        r->fans[i] = (fan){ .r = r, .i = i, .up = pt__mcp_hub_find(r->hub, r->m->servers[i].name) };
        r->ins[i] = (pt_mcp_tools_in){ r->m->servers[i].name, r->m->servers[i].prefix, NULL, r->k->key };
    }
    for (size_t i = 0; i < n && !r->answered; i++) {
        if (!r->fans[i].up || lacks(r, i) || !pt_mcp_access_allows(r->access, r->m->servers[i].name, NULL)) continue;
        r->pending++;
        fan_page(&r->fans[i], NULL);
    }
    fan_finished_one(r);
}

static void unknown_name(mcp_req *r, const char *name)
{
    char msg[300];
    snprintf(msg, sizeof msg, "unknown %s '%.200s'", r->k->what, name);
    pt__mcp_answer_error(r, 200, PT_OUT_OK, r->msg.id, r->k->unknown, msg);
}

/* Sends method with params (NULL: out of memory) to upstream i. */
static void send_to(mcp_req *r, size_t i, const char *method, json_t *params)
{
    pt_conn_info(r->conn)->service = r->m->servers[i].name;
    pt_mcp_upstream *up = pt__mcp_hub_find(r->hub, r->m->servers[i].name);
    r->up_name = r->m->servers[i].name;
    r->call = up && params ? pt__mcp_call_for(r, up, method, params) : NULL;
    if (!up) pt__mcp_answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, PT_MCP_UPSTREAM_ERROR,
                                  "the MCP server is not running");
    else if (!r->call) pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
}

/* Sends the call to upstream i under the upstream's own name for the entry. */
static void call_upstream(mcp_req *r, size_t i, const char *own)
{
    const char *server = r->m->servers[i].name;
    if (!r->k->key && !pt__mcp_tool_call_allowed(r, server, own)) return;
    if (r->k->key && !pt_mcp_access_allows(r->access, server, NULL)) {
        unknown_name(r, own); /* a server the caller may not use has no prompts or resources for it */
        return;
    }
    json_t *params = json_copy(r->msg.params);
    json_object_set_new(params, r->k->param, json_string(own));
    send_to(r, i, r->k->use, params);
    json_decref(params);
}

/* A call after the fan-out: the merged lists say who owns the name. */
static void route_use(mcp_req *r)
{
    const char *name = json_string_value(json_object_get(r->msg.params, r->k->param));
    const char *own = NULL;
    int i = pt_mcp_tool_route(r->ins, r->nfans, name, &own);
    if (i < 0) {
        unknown_name(r, name);
        return;
    }
    char *copy = strdup(own); /* own points into the lists, which the call outlives */
    if (!copy) {
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    call_upstream(r, (size_t)i, copy);
    free(copy);
}

static void on_local(void *arg, json_t *result)
{
    mcp_req *r = arg;
    r->local = NULL;
    if (json_is_true(json_object_get(result, "isError"))) pt_conn_info(r->conn)->outcome = PT_OUT_MCP_UPSTREAM_ERROR;
    pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, json_incref(result)), NULL);
}

/* A tool the gateway serves itself (gateway/mcp_local.h); false when name is none of them. */
static bool serve_local(mcp_req *r, const char *name)
{
    const char *server, *own;
    if (!pt_mcp_local_owns(r->cfg, name, &server, &own)) return false;
    if (!pt__mcp_tool_call_allowed(r, server, own)) return true;
    pt_conn_info(r->conn)->service = server;
    int code = 0;
    char why[300];
    r->local = pt_mcp_local_start(r->hub->loop, r->hub->client, r->cfg, r->req, name,
                                  json_object_get(r->msg.params, "arguments"), on_local, r, &code, why, sizeof why);
    if (!r->local) pt__mcp_answer_error(r, 200, PT_OUT_OK, r->msg.id, code, why);
    return true;
}

/* The prefixed server whose "<server>__" starts name, with *own after it; -1 when none. */
static int prefix_route(const mcp_req *r, const char *name, const char **own)
{
    size_t n = r->m->nservers;
    if (!n) return -1;
    const char *names[n];
    bool prefixed[n];
    for (size_t j = 0; j < n; j++) {
        names[j] = r->m->servers[j].name;
        prefixed[j] = r->m->servers[j].prefix;
    }
    return pt_mcp_prefix_route(names, prefixed, n, name, own);
}

/* tools/call, prompts/get, resources/read on /mcp: a prefixed name routes at once; any other
 * needs the lists. */
static void serve_use(mcp_req *r)
{
    const char *name = json_string_value(json_object_get(r->msg.params, r->k->param));
    if (!name) {
        char msg[80];
        snprintf(msg, sizeof msg, "%s needs params.%s", r->k->use, r->k->param);
        pt__mcp_answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS, msg);
        return;
    }
    if (!r->k->key && serve_local(r, name)) return;
    const char *own = NULL;
    int i = !r->k->key || strcmp(r->k->key, "name") == 0 ? prefix_route(r, name, &own) : -1;
    if (i >= 0) call_upstream(r, (size_t)i, own);
    else fan_out(r);
}

/* ---- /mcp: completion/complete and resource subscriptions, routed by the lists ---------- */

/* What r routes by: completion/complete's ref.name (a prompt) or ref.uri (a resource or
 * resource template), resources/subscribe's and unsubscribe's uri. */
static const char *routed_name(const mcp_req *r)
{
    if (strcmp(r->msg.method, "completion/complete") != 0) return json_string_value(json_object_get(r->msg.params, "uri"));
    json_t *ref = json_object_get(r->msg.params, "ref");
    return json_string_value(json_object_get(ref, r->k == &kinds[KIND_PROMPTS] ? "name" : "uri"));
}

/* Lists the entries of k instead of r->k's (whose lists are all in), then routes again. */
static void refan(mcp_req *r, const kind *k)
{
    for (size_t i = 0; i < r->nfans; i++) json_decref(r->ins[i].tools);
    free(r->fans);
    free(r->ins);
    r->fans = NULL;
    r->ins = NULL;
    r->nfans = 0;
    r->k = k;
    fan_out(r);
}

static void unknown_ref(mcp_req *r)
{
    char msg[300];
    snprintf(msg, sizeof msg, "completion/complete: no server of /mcp lists %s '%.200s'",
             r->k == &kinds[KIND_PROMPTS] ? "the prompt" : "the resource or resource template", routed_name(r));
    pt__mcp_answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS, msg);
}

/* completion/complete to upstream i, its ref naming the entry as the upstream does (own). */
static void complete_at(mcp_req *r, size_t i, const char *own)
{
    if (!pt_mcp_access_allows(r->access, r->m->servers[i].name, NULL)) {
        unknown_ref(r); /* a server the caller may not use has no prompts or resources for it */
        return;
    }
    json_t *params = json_copy(r->msg.params), *ref = json_copy(json_object_get(r->msg.params, "ref"));
    json_object_set_new(ref, r->k == &kinds[KIND_PROMPTS] ? "name" : "uri", json_string(own));
    if (json_object_set_new(params, "ref", ref)) { /* takes ref either way */
        json_decref(params);
        params = NULL;
    }
    send_to(r, i, r->msg.method, params);
    json_decref(params);
}

/* The lists are in: a prompt's or template's server gets the completion; a URI that no
 * template is may be a resource's own. */
static void route_completion(mcp_req *r)
{
    const char *own = NULL;
    int i = pt_mcp_tool_route(r->ins, r->nfans, routed_name(r), &own);
    if (i < 0 && r->k == &kinds[KIND_TEMPLATES]) {
        refan(r, &kinds[KIND_RESOURCES]);
        return;
    }
    char *copy = i < 0 ? NULL : strdup(own); /* own points into the lists, which the call outlives */
    if (i < 0) unknown_ref(r);
    else if (!copy) pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
    else complete_at(r, (size_t)i, copy);
    free(copy);
}

/* completion/complete on /mcp: a prefixed prompt name routes at once; anything else needs the
 * lists (resource templates, then resources). */
static void serve_complete(mcp_req *r)
{
    const char *type = json_string_value(json_object_get(json_object_get(r->msg.params, "ref"), "type"));
    bool prompt = type && strcmp(type, "ref/prompt") == 0;
    r->k = &kinds[prompt ? KIND_PROMPTS : KIND_TEMPLATES];
    r->routed = route_completion;
    const char *name = routed_name(r), *own = NULL;
    if (!name || (!prompt && (!type || strcmp(type, "ref/resource") != 0))) {
        pt__mcp_answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS,
                     "completion/complete needs params.ref: {\"type\": \"ref/prompt\", \"name\"} or "
                     "{\"type\": \"ref/resource\", \"uri\"}");
        return;
    }
    int i = prompt ? prefix_route(r, name, &own) : -1;
    if (i >= 0) complete_at(r, (size_t)i, own);
    else fan_out(r);
}

/* The resource lists are in: the URI's server is told (unless other clients of it still
 * watch an unsubscribed one), and the session's watch is kept as on /mcp/<server>. */
static void route_watch(mcp_req *r)
{
    const char *uri = routed_name(r), *own = NULL;
    int i = pt_mcp_tool_route(r->ins, r->nfans, uri, &own);
    if (i < 0 || !pt_mcp_access_allows(r->access, r->m->servers[i].name, NULL)) unknown_name(r, uri);
    else if (!pt__mcp_watch(r, r->m->servers[i].name)) send_to(r, (size_t)i, r->msg.method, r->msg.params);
}

/* resources/subscribe and unsubscribe on /mcp: resource URIs are not prefixed, so the
 * resource lists say whose a URI is. */
static void serve_watch(mcp_req *r)
{
    r->k = &kinds[KIND_RESOURCES];
    r->routed = route_watch;
    if (routed_name(r)) {
        fan_out(r);
        return;
    }
    char msg[80];
    snprintf(msg, sizeof msg, "%s needs params.uri", r->msg.method);
    pt__mcp_answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS, msg);
}

void pt__mcp_serve_aggregate(mcp_req *r)
{
    const char *method = r->msg.method;
    bool use = false;
    if (r->msg.kind == PT_MCP_NOTIFICATION) {
        if (strcmp(method, "notifications/roots/list_changed") == 0)
            for (size_t i = 0; i < r->hub->nups; i++)
                if (r->hub->ups[i]) pt_mcp_upstream_notify(r->hub->ups[i], method, NULL);
        pt__mcp_answer_empty(r, 202);
    } else if (strcmp(method, "initialize") == 0) {
        pt__mcp_after_handshakes(r, answer_initialize);
    } else if (strcmp(method, "completion/complete") == 0) {
        serve_complete(r);
    } else if (strcmp(method, "resources/subscribe") == 0 || strcmp(method, "resources/unsubscribe") == 0) {
        serve_watch(r); /* a 2026-07-28 client is answered 404 before (mcp_modern_route.c) */
    } else if ((r->k = kind_of(method, &use)) && use) {
        serve_use(r);
    } else if (r->k) {
        if (json_object_get(r->msg.params, "cursor"))
            pt__mcp_answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS,
                         "invalid cursor: /mcp lists everything in one page");
        else fan_out(r);
    } else {
        char msg[200];
        snprintf(msg, sizeof msg, "method '%.100s' is not served on /mcp", method);
        pt__mcp_answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_METHOD_NOT_FOUND, msg);
    }
}
