/* mcp_modern_route.c: clients of the stateless 2026-07-28 revision (mcp/modern.h): their
 * requests checked and served through the same upstream sessions as a 2025 client's, their
 * answers reshaped, server/discover, and subscriptions/listen fed with list changes. */
#include <stdio.h>
#include <string.h>

#include "gateway/mcp_route_int.h"
#include "mcp/modern.h"

/* A modern client's answer (mcp/modern.h): every result carries resultType (the cacheable ones
 * ttlMs and cacheScope too); a method no one serves is HTTP 404, the revision's errors 400
 * (-32020..-32022, as a modern server sent them over HTTP), and a resource no server has
 * is -32602 (the revision retired -32002). Returns the status. The result and the error may be
 * shared with the upstream's response: they are changed in copies. */
int pt__mcp_modern_answer(mcp_req *r, int status, json_t *body)
{
    json_t *result = json_object_get(body, "result");
    json_t *error = json_object_get(body, "error");
    json_int_t code = json_integer_value(json_object_get(error, "code"));
    if (json_is_object(result)) {
        json_t *own = json_deep_copy(result);
        pt_mcp_modern_result(own, r->msg.method);
        if (own) json_object_set_new(body, "result", own);
    } else if (code == PT_MCP_METHOD_NOT_FOUND && status == 200) {
        status = 404;
    } else if ((code == PT_MCP_HEADER_MISMATCH || code == PT_MCP_MISSING_CAPABILITY || code == PT_MCP_UNSUPPORTED_VERSION) &&
               status == 200) { /* the revision's own errors, a modern server's among them, are 400 */
        status = 400;
    } else if (code == -32002) {
        json_t *own = json_deep_copy(error);
        json_object_set_new(own, "code", json_integer(PT_MCP_INVALID_PARAMS));
        if (own) json_object_set_new(body, "error", own);
    }
    return status;
}

/* server/discover's result: the versions served, capabilities (taken), instructions (may be
 * NULL) and who answers (borrowed). */
static json_t *discover_result(json_t *caps, const char *instructions, json_t *server_info)
{
    json_t *result = json_pack("{s:o, s:o, s:{s:O}}", "supportedVersions", pt_mcp_supported_versions(), "capabilities",
                               caps, "_meta", PT_MCP_META_SERVER_INFO, server_info);
    if (result && instructions) json_object_set_new(result, "instructions", json_string(instructions));
    return result;
}

/* server/discover on /mcp/<server>, from the upstream's initialize answer: its instructions
 * and serverInfo, and of its capabilities those the gateway serves a modern client (not
 * resources' subscribe: the revision subscribes with subscriptions/listen, whose
 * resourceSubscriptions the gateway does not take yet). */
static void on_discover_ready(void *arg, json_t *response, int code, const char *message)
{
    mcp_req *r = arg;
    json_t *init = pt__mcp_ready_init(r, code, message);
    if (!init) return;
    static const char *const served[] = { "tools", "prompts", "resources", "completions", "logging" };
    json_t *theirs = json_object_get(init, "capabilities"), *caps = json_object();
    for (size_t i = 0; caps && i < sizeof served / sizeof served[0]; i++) {
        json_t *c = json_object_get(theirs, served[i]);
        if (json_is_object(c)) json_object_set_new(caps, served[i], json_deep_copy(c));
    }
    json_object_del(json_object_get(caps, "resources"), "subscribe");
    json_t *info = json_object_get(init, "serverInfo");
    info = info ? json_incref(info) : json_pack("{s:s, s:s}", "name", r->server->name, "version", "unknown");
    json_t *result = discover_result(caps, json_string_value(json_object_get(init, "instructions")), info);
    json_decref(info);
    pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, result), NULL);
}

/* The list changes subscriptions/listen takes: its filter's member, the notification, the
 * server capability that has that list. */
static const struct {
    const char *filter, *method, *cap;
} listen_kinds[] = {
    { "toolsListChanged", "notifications/tools/list_changed", "tools" },
    { "promptsListChanged", "notifications/prompts/list_changed", "prompts" },
    { "resourcesListChanged", "notifications/resources/list_changed", "resources" },
};

static unsigned listen_bit(const char *method)
{
    for (size_t i = 0; method && i < sizeof listen_kinds / sizeof listen_kinds[0]; i++)
        if (strcmp(method, listen_kinds[i].method) == 0) return 1u << i;
    return 0;
}

/* A list change of server to this hub's modern subscriptions that asked for it: those of /mcp
 * and of that server's own endpoint. */
void pt__mcp_listeners_notify(pt_mcp_hub *hub, const char *server, const char *method)
{
    unsigned bit = listen_bit(method);
    for (mcp_req *x = hub->live, *next; x && bit; x = next) {
        next = x->next;
        if (!x->modern || !x->listening || x->answered || !(x->listen_mask & bit)) continue;
        if (x->server && strcmp(x->server->name, server) != 0) continue;
        json_t *n = pt_mcp_request(-1, method, json_pack("{s:{s:O}}", "_meta", PT_MCP_META_SUBSCRIPTION, x->msg.id));
        pt__mcp_write_event(x, n);
        json_decref(n);
    }
}

/* A list change reaches the subscriptions of every worker: a stdio server runs one child per
 * worker, and the change may be one child's alone. */
void pt__mcp_list_changed_everywhere(pt_mcp_hub *self, const char *server, const char *method)
{
    pt__mcp_listeners_notify(self, server, method);
    mail m = { .kind = MAIL_LIST_CHANGED, .msg = json_string(method) };
    snprintf(m.server, sizeof m.server, "%s", server);
    pt__mcp_mail_others(self, &m);
    json_decref(m.msg);
}

/* Whether the server behind r says it tells of changes of the list cap ("tools"...); /mcp
 * does for each, and so does a server not ready yet (it may). */
static bool tells_changes(mcp_req *r, const char *cap)
{
    json_t *init = r->server ? pt_mcp_upstream_init_result(pt__mcp_hub_find(r->hub, r->server->name)) : NULL;
    return !init || json_is_true(json_object_get(json_object_get(json_object_get(init, "capabilities"), cap), "listChanged"));
}

/* subscriptions/listen: the answer stays open as an event stream whose first message
 * acknowledges the list changes it will carry (those asked for that the server tells of;
 * resourceSubscriptions are not taken yet), each then marked with the request's id. It ends
 * when the client closes it. */
static void serve_subscription(mcp_req *r)
{
    json_t *asked = json_object_get(r->msg.params, "notifications");
    if (!json_is_object(asked)) {
        pt__mcp_answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_PARAMS,
                     "subscriptions/listen needs params.notifications (an object)");
        return;
    }
    json_t *honored = json_object();
    for (size_t i = 0; honored && i < sizeof listen_kinds / sizeof listen_kinds[0]; i++) {
        if (!json_is_true(json_object_get(asked, listen_kinds[i].filter)) || !tells_changes(r, listen_kinds[i].cap))
            continue;
        r->listen_mask |= 1u << i;
        json_object_set_new(honored, listen_kinds[i].filter, json_true());
    }
    if (!honored || !pt__mcp_listen_on(r)) {
        json_decref(honored);
        return;
    }
    json_t *ack = pt_mcp_request(-1, "notifications/subscriptions/acknowledged",
                                 json_pack("{s:o, s:{s:O}}", "notifications", honored, "_meta", PT_MCP_META_SUBSCRIPTION,
                                           r->msg.id));
    pt__mcp_write_event(r, ack);
    json_decref(ack);
}

static void answer_discover_aggregate(mcp_req *r)
{
    json_t *info = pt__mcp_gateway_info();
    pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, discover_result(pt__mcp_aggregate_caps(r), NULL, info)), NULL);
    json_decref(info);
}

static void serve_discover(mcp_req *r)
{
    if (!r->server) {
        pt__mcp_after_handshakes(r, answer_discover_aggregate);
        return;
    }
    pt_mcp_upstream *up = pt__mcp_hub_find(r->hub, r->server->name);
    r->call = up ? pt_mcp_upstream_call(up, "ping", NULL, on_discover_ready, r) : NULL; /* waits for the handshake */
    if (!up) pt__mcp_answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, PT_MCP_UPSTREAM_ERROR,
                                  "the MCP server is not running");
    else if (!r->call) pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
}

/* The methods of the revision served through the upstreams (the rest: discover, listen; it
 * dropped initialize, ping, logging/setLevel, resources/subscribe...). */
static bool relayed_method(const char *method)
{
    static const char *const names[] = { "tools/list",  "tools/call",     "prompts/list",
                                         "prompts/get", "resources/list", "resources/read",
                                         "resources/templates/list", "completion/complete" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(method, names[i]) == 0) return true;
    return false;
}

/* A request of the stateless revision (mcp/modern.h): no session; its _meta and headers
 * checked; served through the worker's own upstream sessions like a 2025 client's, with the
 * same keys, access entries and records. */
void pt__mcp_serve_modern(mcp_req *r)
{
    r->modern = true;
    if (r->msg.kind == PT_MCP_RESPONSE) {
        pt__mcp_answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                     "a " PT_MCP_MODERN_VERSION " client posts no responses (the gateway asks it nothing)");
        return;
    }
    if (r->msg.kind == PT_MCP_NOTIFICATION) { /* none is defined from client to server over HTTP */
        pt__mcp_answer_empty(r, 202);
        return;
    }
    pt_mcp_modern_headers h = { pt__mcp_header_value(r, "mcp-protocol-version"), pt__mcp_header_value(r, "mcp-method"),
                                pt__mcp_header_value(r, "mcp-name") };
    pt_mcp_refusal f;
    if (pt_mcp_modern_check(&r->msg, &h, &f)) {
        json_t *body = pt_mcp_error(r->msg.id, f.code, f.why);
        if (f.data) json_object_set_new(json_object_get(body, "error"), "data", f.data);
        pt_conn_info(r->conn)->outcome = PT_OUT_MCP_BAD_MESSAGE;
        pt__mcp_answer(r, f.status, body, NULL);
        return;
    }
    /* _meta stays as the client sent it: a modern server gets the client's capabilities and log
     * level, a 2025-era one none of the revision's keys (mcp/upstream.c) */
    json_t *meta = json_object_get(r->msg.params, "_meta");
    const char *level = json_string_value(json_object_get(meta, PT_MCP_META_LOG_LEVEL));
    r->modern_caps = pt__mcp_caps_of(json_object_get(meta, PT_MCP_META_CAPS));
    snprintf(r->log_level, sizeof r->log_level, "%s", level ? level : "");
    const char *method = r->msg.method;
    const char *state = json_string_value(json_object_get(r->msg.params, "requestState"));
    if (state && strncmp(state, MRTR_PREFIX, sizeof MRTR_PREFIX - 1) == 0 && relayed_method(method)) {
        pt__mcp_mcall_resume(r, state); /* a requestState of another's (an upstream's own) goes to it */
    } else if (strcmp(method, "server/discover") == 0) {
        serve_discover(r);
    } else if (strcmp(method, "subscriptions/listen") == 0) {
        serve_subscription(r);
    } else if (!relayed_method(method)) {
        char msg[200];
        snprintf(msg, sizeof msg, "method '%.100s' is not served to " PT_MCP_MODERN_VERSION " clients", method);
        pt__mcp_answer_error(r, 404, PT_OUT_OK, r->msg.id, PT_MCP_METHOD_NOT_FOUND, msg);
    } else if (r->server) {
        pt__mcp_serve_server(r);
    } else {
        pt__mcp_serve_aggregate(r);
    }
}

