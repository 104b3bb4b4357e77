/* upstream_modern.c: what the 2026-07-28 revision of MCP adds to an upstream (see
 * upstream_int.h): the era probe (server/discover) at each start; stateless requests, each with
 * its _meta and the Mcp-* headers that mirror its body, what the revision has no method for
 * answered by the gateway, a modern answer reshaped for a 2025-era caller; the
 * subscriptions/listen stream of list changes; input_required rounds relayed to the caller as
 * a server's requests. The transports, the calls' lifecycle and the 2025-era handshake are
 * upstream.c's. */
#include "mcp/upstream_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "mcp/modern.h"

/* ---- the era probe ------------------------------------------------------------------- */

/* The answer to the era probe: a DiscoverResult makes the server a stateless one (its
 * capabilities stand for an InitializeResult); a 2025-era server's error or silence means
 * initialize (unless `era: 2026` said it cannot be one). A server that is gone or cannot
 * be reached says nothing of its era: it is tried again as usual. */
static void on_discovered(void *arg, json_t *response, int code, const char *message)
{
    pt_mcp_upstream *up = arg;
    bool unreachable = up->probe_unreachable;
    up->probe_unreachable = false;
    if (up->closing) return;
    char why[300];
    pt_mcp_era_answer era = pt_mcp_discover_era(response, why, sizeof why);
    if (!response && message) snprintf(why, sizeof why, "%s", message);
    if (era == PT_MCP_ERA_ANSWER_MODERN) {
        json_t *init = pt_mcp_discover_as_init(json_object_get(response, "result"), up->def->name);
        if (!init) {
            pt__mcp_handshake_failed(up, "server/discover", "the gateway is out of memory");
            return;
        }
        json_decref(up->init_result);
        up->init_result = init;
        up->modern = true;
        snprintf(up->version, sizeof up->version, "%s", PT_MCP_MODERN_VERSION);
        pt__mcp_set_era(up, 2026);
        pt__mcp_now_ready(up, ", stateless");
        return;
    }
    if (era == PT_MCP_ERA_ANSWER_OTHER || up->def->era == PT_MCP_ERA_2026 || unreachable ||
        (up->def->command && !up->running)) {
        pt__mcp_handshake_failed(up, "server/discover", why);
        return;
    }
    pt_log_info("MCP server '%s' speaks the 2025 era (%s): initializing", up->def->name, why);
    pt__mcp_initialize(up);
}

/* Asks which era the server speaks: a server/discover request, with the _meta of the revision. */
void pt__mcp_probe(pt_mcp_upstream *up)
{
    pt_mcp_call *call = pt__mcp_handshake_call(up, "server/discover", NULL, on_discovered);
    if (!call) return;
    call->probe = call->modern = true;
    pt_mcp_modern_meta(call->msg, up->caps, NULL);
    pt__mcp_send_call(call);
}

/* ---- requests ------------------------------------------------------------------------ */

/* What a modern server has no method for, the gateway answers itself: ping (gone in
 * 2026-07-28) and logging/setLevel (now a level in each request's _meta: kept for this
 * upstream and sent from then on). True when call was answered so (from the loop's next turn). */
static bool answer_locally(pt_mcp_call *call)
{
    static const char *const levels[] = { "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency" };
    pt_mcp_upstream *up = call->up;
    const char *method = json_string_value(json_object_get(call->msg, "method"));
    json_t *id = json_object_get(call->msg, "id");
    if (!method) return false;
    if (strcmp(method, "ping") == 0) {
        call->local = pt_mcp_result(id, json_object());
    } else if (strcmp(method, "logging/setLevel") == 0) {
        const char *level = json_string_value(json_object_get(json_object_get(call->msg, "params"), "level"));
        for (size_t i = 0; level && i < sizeof levels / sizeof levels[0] && !call->local; i++)
            if (strcmp(level, levels[i]) == 0) {
                snprintf(up->log_level, sizeof up->log_level, "%s", level);
                call->local = pt_mcp_result(id, json_object());
            }
        if (!call->local) call->local = pt_mcp_error(id, PT_MCP_INVALID_PARAMS, "level must be a logging level (debug ... emergency)");
    } else {
        return false;
    }
    call->sent = true;
    uv_timer_start(&call->timer, pt__mcp_call_timer, 0, 0);
    return true;
}

/* A call of a 2025-era caller to a modern server made a request of the revision: its _meta
 * carries the capabilities and the log level, unless the gateway answers it itself. False when
 * it is not to be sent (answered so, or failing from the loop's next turn). */
bool pt__mcp_modern_prepare(pt_mcp_call *call)
{
    pt_mcp_upstream *up = call->up;
    if (answer_locally(call)) return false;
    json_t *meta = json_object_get(json_object_get(call->msg, "params"), "_meta");
    bool callers_meta = json_object_get(meta, PT_MCP_META_VERSION) != NULL;
    /* a caller that declared its own capabilities: they are the ones that count */
    json_t *own = json_object_get(meta, PT_MCP_META_CAPS);
    const char *level = callers_meta || !up->log_level[0] ? NULL : up->log_level;
    if (pt_mcp_modern_meta(call->msg, json_is_object(own) ? own : up->caps, level) != 0) {
        pt__mcp_fail_soon(call, PT_MCP_INTERNAL_ERROR, "the gateway is out of memory");
        return false;
    }
    call->modern = true;
    pt__mcp_subscribe(up);
    return true;
}

/* The x-mcp-header arguments the gateway mirrors itself: those of map (borrowed, may be NULL)
 * whose header the caller did not send (given: its own Mcp-Param-* headers, as a caller of the
 * revision mirrors them by the tool list it read). New reference or NULL. */
static json_t *params_left(json_t *map, const json_t *given)
{
    if (!map || !json_object_size(given)) return json_incref(map);
    json_t *left = json_deep_copy(map);
    const char *arg, *name;
    json_t *hname, *v;
    void *tmp;
    json_object_foreach_safe(left, tmp, arg, hname) {
        json_object_foreach((json_t *)given, name, v) {
            if (strcasecmp(name, json_string_value(hname)) == 0) {
                json_object_del(left, arg);
                break;
            }
        }
    }
    return left;
}

/* The header lines of a modern call's POST: they mirror the body (an intermediary routes on
 * them), the caller's own Mcp-Param-* headers among them; no session. 0, or -1 when out of
 * memory. */
int pt__mcp_modern_head(pt_mcp_call *call, pt_buf *head)
{
    json_t *params = json_object_get(call->msg, "params");
    const char *tool = json_string_value(json_object_get(params, "name"));
    json_t *mirrored = params_left(tool ? json_object_get(call->up->param_maps, tool) : NULL, call->param_headers);
    int rc = pt_mcp_modern_write_headers(head, call->msg, mirrored);
    json_decref(mirrored);
    const char *hname;
    json_t *v;
    json_object_foreach(call->param_headers, hname, v) {
        rc |= pt_buf_printf(head, "Mcp-Param-%s: %s\r\n", hname, json_string_value(v)) < 0 ? -1 : 0;
    }
    return rc != 0 ? -1 : 0;
}

/* A modern server's answer as the call's caller reads it (reshaped for a 2025-era one); a
 * tools list also teaches which arguments go into Mcp-Param-* headers. New reference. */
json_t *pt__mcp_upstream_modern_answer(pt_mcp_call *call, json_t *response)
{
    pt_mcp_upstream *up = call->up;
    const char *method = json_string_value(json_object_get(call->msg, "method"));
    json_t *tools = json_object_get(json_object_get(response, "result"), "tools");
    if (method && strcmp(method, "tools/list") == 0 && json_is_array(tools)) {
        if (!up->param_maps) up->param_maps = json_object();
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t) {
            const char *name = json_string_value(json_object_get(t, "name"));
            json_t *map = name ? pt_mcp_param_map(t) : NULL;
            if (map) json_object_set_new(up->param_maps, name, map);
            else if (name) json_object_del(up->param_maps, name);
        }
    }
    return call->keep_modern ? json_incref(response) : pt_mcp_modern_to_legacy(response, up->def->name);
}

/* The JSON-RPC error in a modern server's 4xx answer: one that answers the call's id, or
 * carries a code of the 2026-07-28 revision (a server that could not read the request may
 * have put null there). NULL when the body holds none: a 2025-era server's refusal (it wants
 * a session) is no answer of a modern server. */
json_t *pt__mcp_error_body(pt_mcp_call *call)
{
    if (call->event_stream || !call->body.len) return NULL;
    json_t *body = json_loadb(call->body.data, call->body.len, 0, NULL);
    json_t *error = json_object_get(body, "error");
    json_t *id = json_object_get(call->msg, "id");
    json_t *code = json_object_get(error, "code");
    json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;
    bool modern_code = c == PT_MCP_HEADER_MISMATCH || c == PT_MCP_MISSING_CAPABILITY || c == PT_MCP_UNSUPPORTED_VERSION;
    json_t *out = json_is_object(error) && c && (modern_code || pt_mcp_id_equal(json_object_get(body, "id"), id))
                      ? pt_mcp_error(id, 0, "")
                      : NULL;
    if (out) json_object_set(out, "error", error);
    json_decref(body);
    return out;
}

#define LEARN_PAGES_MAX 100 /* pages of tools/list walked to learn x-mcp-header arguments */

static void learn_page(pt_mcp_upstream *up, const char *cursor);

static void on_learned(void *arg, json_t *response, int code, const char *message)
{
    pt_mcp_upstream *up = arg;
    const char *next = json_string_value(json_object_get(json_object_get(response, "result"), "nextCursor"));
    if (next && !up->closing && ++up->learn_pages < LEARN_PAGES_MAX) {
        learn_page(up, next);
        return;
    }
    up->learning = false;
    up->learn_pages = 0;
    pt_mcp_call *c, *after;
    for (c = up->calls; c; c = after) {
        after = c->next;
        if (!c->awaiting_tools || c->done) continue;
        c->awaiting_tools = false;
        if (up->closing)
            pt__mcp_call_finish(c, NULL, PT_MCP_UPSTREAM_ERROR, "the MCP server was removed from the configuration");
        else pt__mcp_http_send(c);
    }
}

/* One page of the tools list, whose answer teaches param_maps (pt__mcp_upstream_modern_answer). */
static void learn_page(pt_mcp_upstream *up, const char *cursor)
{
    json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
    pt_mcp_call *c = pt_mcp_upstream_call(up, "tools/list", params, on_learned, up);
    json_decref(params);
    if (!c) on_learned(up, NULL, PT_MCP_INTERNAL_ERROR, "out of memory");
}

/* A modern server refused a tools/call's headers (-32020): this worker may not know the tool's
 * x-mcp-header arguments yet (it learns them from tools/list answers, which another worker may
 * have had, and a tool may be new). The tools are listed again, every page, and the call sent
 * again, once. Not for a caller that sent its own Mcp-Param-* headers: they are its to get right. */
bool pt__mcp_relearn(pt_mcp_call *call, const json_t *refusal)
{
    pt_mcp_upstream *up = call->up;
    const char *method = json_string_value(json_object_get(call->msg, "method"));
    json_int_t code = json_integer_value(json_object_get(json_object_get(refusal, "error"), "code"));
    if (code != PT_MCP_HEADER_MISMATCH || !method || strcmp(method, "tools/call") != 0 || call->param_headers ||
        !up->def->url)
        return false;
    pt_log_info("MCP server '%s' refused the headers of a tools/call; listing its tools again to learn its "
                "x-mcp-header arguments", up->def->name);
    call->retried = true;
    call->awaiting_tools = true;
    pt__mcp_http_reset(call);
    if (!up->learning) {
        up->learning = true;
        learn_page(up, NULL);
    }
    return true;
}

/* ---- subscriptions/listen ------------------------------------------------------------- */

static void on_listen_end(void *arg, json_t *response, int code, const char *message)
{
    pt_mcp_upstream *up = arg;
    json_t *error = json_object_get(response, "error");
    if (up->closing || (!error && (up->sub_acked || !code))) return; /* opened again with the next call */
    up->subscribe_off = true;
    const char *why = error ? json_string_value(json_object_get(error, "message")) : message;
    pt_log_info("MCP server '%s' refused subscriptions/listen (%s): list changes are not seen until it restarts",
                up->def->name, why ? why : "no reason given");
}

/* A modern server sends list changes on the stream of a subscriptions/listen request (over
 * HTTP a POST whose event stream stays open; over stdio a request never answered while the
 * subscription lasts). One per upstream, for the list changes its capabilities announce;
 * opened when the server is ready and again with the next call after it ended. */
void pt__mcp_subscribe(pt_mcp_upstream *up)
{
    static const char *const kinds[][2] = { { "tools", "toolsListChanged" },
                                            { "prompts", "promptsListChanged" },
                                            { "resources", "resourcesListChanged" } };
    if (!up->modern || up->subscription || up->subscribe_off || up->state != PT_MCP_UP_READY || up->closing) return;
    json_t *caps = json_object_get(up->init_result, "capabilities");
    json_t *filter = json_object();
    for (size_t i = 0; filter && i < sizeof kinds / sizeof kinds[0]; i++)
        if (json_is_true(json_object_get(json_object_get(caps, kinds[i][0]), "listChanged")))
            json_object_set_new(filter, kinds[i][1], json_true());
    if (!filter || json_object_size(filter) == 0) {
        json_decref(filter);
        return;
    }
    long long id = up->next_id++;
    json_t *msg = pt_mcp_request(id, "subscriptions/listen", json_pack("{s:o}", "notifications", filter));
    pt_mcp_call *call = pt__mcp_call_new(up, msg, id, on_listen_end, up);
    if (!call) return;
    call->listen = true;
    up->subscription = call;
    up->sub_acked = false;
    pt__mcp_send_call(call);
}

/* The notifications about the subscription itself: its acknowledgement, and (stdio) its end. */
bool pt__mcp_subscription_notice(pt_mcp_upstream *up, const pt_mcp_msg *m)
{
    pt_mcp_call *sub = up->subscription;
    if (strcmp(m->method, "notifications/subscriptions/acknowledged") == 0) {
        if (sub) up->sub_acked = true;
        if (sub) pt__mcp_listen_counted(up, true);
        return true;
    }
    if (strcmp(m->method, "notifications/cancelled") != 0) return false;
    json_t *rid = json_object_get(m->params, "requestId");
    if (sub && json_is_integer(rid) && json_integer_value(rid) == sub->id)
        pt__mcp_call_finish(sub, NULL, PT_MCP_UPSTREAM_ERROR, "the server ended the subscription");
    return true;
}

/* ---- input_required: a modern server's requests to the client ---------------------------- */

#define MAX_ROUNDS 8 /* input rounds of one call: a server that keeps asking is cut off */

/* An input_required result of a call whose caller takes a server's requests: each of its
 * inputRequests goes to the caller as a request of the server's (the 2025-era form the
 * gateway relays: sampling/createMessage, elicitation/create, roots/list) under an id of
 * the upstream's; the caller's answers come back through pt_mcp_upstream_answer, and once all
 * are in the request is sent again with inputResponses and the requestState. False when the
 * result is anything else (it then goes to the caller, as an error when it asks for input). */
bool pt__mcp_input_round(pt_mcp_call *call, json_t *response)
{
    pt_mcp_upstream *up = call->up;
    json_t *result = json_object_get(response, "result");
    const char *type = json_string_value(json_object_get(result, "resultType"));
    json_t *reqs = json_object_get(result, "inputRequests");
    if (!type || strcmp(type, "input_required") != 0 || !call->reply || !call->event || call->rounds >= MAX_ROUNDS ||
        !json_is_object(reqs) || json_object_size(reqs) == 0)
        return false;
    json_t *inputs = json_object(), *answers = json_object();
    const char *key;
    json_t *req;
    json_object_foreach(reqs, key, req) {
        if (!inputs || !answers || !json_is_string(json_object_get(req, "method"))) {
            json_decref(inputs);
            json_decref(answers);
            return false;
        }
        json_object_set_new(inputs, key, json_integer(up->next_id++));
    }
    call->rounds++;
    json_decref(call->inputs);
    json_decref(call->answers);
    json_decref(call->state);
    call->inputs = inputs;
    call->answers = answers;
    call->state = json_incref(json_object_get(result, "requestState"));
    json_t *id;
    json_object_foreach(inputs, key, id) {
        req = json_object_get(reqs, key);
        json_t *params = json_object_get(req, "params");
        json_t *ask = pt_mcp_request(json_integer_value(id), json_string_value(json_object_get(req, "method")),
                                     params ? json_deep_copy(params) : NULL);
        if (ask) call->event(call->arg, ask); /* the caller may answer at once (it lacks the capability) */
        json_decref(ask);
    }
    return true;
}

/* The caller's answer to one of the input requests of a call of up's; false when no call
 * awaits it. */
bool pt__mcp_input_answer(pt_mcp_upstream *up, json_t *response)
{
    json_t *id = json_object_get(response, "id");
    for (pt_mcp_call *c = up->calls; c && json_is_integer(id); c = c->next) {
        const char *key;
        json_t *v;
        if (c->done || !c->inputs || c->round_done) continue;
        json_object_foreach(c->inputs, key, v) {
            if (json_integer_value(v) != json_integer_value(id) || json_object_get(c->answers, key)) continue;
            json_object_set(c->answers, key, response);
            if (json_object_size(c->answers) == json_object_size(c->inputs)) {
                /* from the loop's next turn: the answer may come inside the caller's own event */
                c->round_done = true;
                c->left_ms = uv_timer_get_due_in(&c->timer);
                uv_timer_start(&c->timer, pt__mcp_call_timer, 0, 0);
            }
            return true;
        }
    }
    return false;
}

/* Every answer of the round is in: the request again, under a new id, with inputResponses and
 * the requestState; a refused input request fails the call, saying what was refused. */
void pt__mcp_send_again(pt_mcp_call *call)
{
    pt_mcp_upstream *up = call->up;
    call->round_done = false;
    json_t *responses = json_object();
    const char *key;
    json_t *answer;
    json_object_foreach(call->answers, key, answer) {
        json_t *error = json_object_get(answer, "error");
        if (error || !responses) {
            char msg[400];
            const char *why = json_string_value(json_object_get(error, "message"));
            snprintf(msg, sizeof msg, "MCP server '%s' needed input the client did not give: %s", up->def->name,
                     why ? why : "out of memory");
            json_decref(responses);
            pt__mcp_call_finish(call, NULL, PT_MCP_UPSTREAM_ERROR, msg);
            return;
        }
        json_object_set(responses, key, json_object_get(answer, "result"));
    }
    json_t *params = json_object_get(call->msg, "params");
    json_object_set_new(params, "inputResponses", responses);
    if (call->state) json_object_set(params, "requestState", call->state);
    else json_object_del(params, "requestState");
    call->id = up->next_id++;
    json_object_set_new(call->msg, "id", json_integer(call->id));
    json_t *meta = json_object_get(params, "_meta");
    if (call->progress) json_object_set_new(meta, "progressToken", json_integer(call->id));
    json_decref(call->inputs);
    json_decref(call->answers);
    call->inputs = call->answers = NULL;
    pt__mcp_http_reset(call);
    uv_timer_start(&call->timer, pt__mcp_call_timer, call->left_ms ? call->left_ms : 1, 0);
    if (up->def->url) pt__mcp_http_send(call);
    else pt__mcp_send_line(up, json_incref(call->msg));
}
