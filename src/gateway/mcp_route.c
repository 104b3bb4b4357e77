/* mcp_route.c: the MCP endpoints over the engine (see mcp_route.h).
 *
 * A request's state (mcp_req) lives in the request pool: the body read under the message cap,
 * the parsed message, the upstream calls in flight (cancelled when the client goes away), and
 * for /mcp the fan-out of tools/list over every upstream, page after page. Answering is the
 * last thing a path does: the request's cleanup hooks may run inside it.
 *
 * The hub, /mcp's aggregation and the 2026-07-28 revision (its multi round-trip requests
 * among them) have files of their own beside this one; mcp_route_int.h lists them. */
#include "gateway/mcp_route.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/prom.h"
#include "gateway/auth.h"
#include "gateway/mcp_args.h"
#include "gateway/mcp_route_int.h"
#include "gateway/mcp_session.h"
#include "gateway/metrics.h"
#include "mcp/modern.h"

/* A server's request relayed to a client under an id of the gateway's (id, unique in the
 * process, since one session's calls may run on several workers): the client's answer, on
 * whichever worker it arrives, goes back to server on the hub that made the call, under the
 * server's own id. */
typedef struct asked_req {
    long long id;
    char sid[33];
    char server[64];
    json_t *server_id;
    uint64_t hub;              /* serial of the hub of the call it came with */
    const struct mcp_req *owner; /* that call; its end drops the entry (compared, never followed) */
    struct asked_req *next;
} asked_req;

static pthread_mutex_t asked_lock = PTHREAD_MUTEX_INITIALIZER;
static asked_req *asked_list;
static _Atomic long long next_asked;

/* ---- one request ---------------------------------------------------------------------- */

static _Atomic uint64_t open_streams; /* GET streams open over every worker (/metrics) */

void pt__mcp_live_add(mcp_req *r)
{
    if (r->listening) atomic_fetch_add(&open_streams, 1);
    r->linked = true;
    r->next = r->hub->live;
    if (r->next) r->next->prev = r;
    r->hub->live = r;
}

static void live_remove(mcp_req *r)
{
    if (!r->linked) return;
    r->linked = false;
    if (r->listening) atomic_fetch_sub(&open_streams, 1);
    if (r->prev) r->prev->next = r->next;
    else if (r->hub->live == r) r->hub->live = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    pthread_mutex_lock(&asked_lock);
    for (asked_req **a = &asked_list; *a;) {
        asked_req *x = *a;
        if (x->owner != r || x->hub != r->hub->serial) {
            a = &x->next;
            continue;
        }
        *a = x->next;
        json_decref(x->server_id);
        free(x);
    }
    pthread_mutex_unlock(&asked_lock);
}

static void req_cleanup(void *arg)
{
    mcp_req *r = arg;
    live_remove(r);
    pt__mcp_mcall_forget(r);
    pt_mcp_call_cancel(r->call);
    pt_mcp_local_cancel(r->local);
    for (size_t i = 0; i < r->nfans; i++) pt_mcp_call_cancel(r->fans[i].call);
    for (size_t i = 0; i < r->nfans; i++) json_decref(r->ins[i].tools);
    free(r->fans);
    free(r->ins);
    json_decref(r->refusal);
    pt_mcp_msg_release(&r->msg);
    pt_buf_release(&r->body);
}

/* Turns r's answer into an event stream (200 text/event-stream) if it is not one yet;
 * false when the response could not start. */
static bool stream_start(mcp_req *r)
{
    if (r->streaming) return true;
    pt_header h[] = { { pt_slice_cstr("Content-Type"), pt_slice_cstr("text/event-stream") },
                      { pt_slice_cstr("Cache-Control"), pt_slice_cstr("no-cache") },
                      { pt_slice_cstr("X-Accel-Buffering"), pt_slice_cstr("no") } }; /* the revision asks for it */
    if (pt_conn_response_start(r->conn, 200, h, r->modern ? 3 : 2, -1) != 0) return false;
    r->streaming = true;
    return pt_conn_flush(r->conn) == 0;
}


/* A message of a legacy session: an event of its stream, which any worker may hold. */
static void legacy_send(mcp_req *r, const char *text)
{
    if (!pt__mcp_stream_push(r->sid, text)) return;
    pt__mcp_pull_others(r->hub);
    pt__mcp_hub_pull(r->hub);
}

/* One message (borrowed) as an event of r's stream, started if need be (legacy: the
 * session's stream). */
void pt__mcp_write_event(mcp_req *r, json_t *msg)
{
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    if (text && r->legacy) {
        legacy_send(r, text);
    } else if (text && stream_start(r)) {
        pt_conn_response_body(r->conn, "event: message\ndata: ", 21);
        pt_conn_response_body(r->conn, text, strlen(text));
        pt_conn_response_body(r->conn, "\n\n", 2);
        pt_conn_flush(r->conn);
    }
    free(text);
}

/* Writes one JSON body (taken; NULL is a 500) with status; session adds Mcp-Session-Id. */
void pt__mcp_answer(mcp_req *r, int status, json_t *body, const char *sid)
{
    if (r->answered) {
        json_decref(body);
        return;
    }
    if (r->modern && body) status = pt__mcp_modern_answer(r, status, body);
    if (r->legacy && status == 200 && body) { /* the answer goes on the stream, the POST is accepted */
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (text) legacy_send(r, text);
        free(text);
        r->answered = true;
        live_remove(r);
        pt_conn_set_sink(r->conn, NULL);
        pt_conn_respond(r->conn, 202, NULL, NULL, 0);
        return;
    }
    if (r->streaming) {
        r->answered = true;
        live_remove(r);
        pt__mcp_write_event(r, body);
        json_decref(body);
        pt_conn_response_end(r->conn);
        return;
    }
    r->answered = true;
    pt_conn *conn = r->conn;
    pt_conn_set_sink(conn, NULL);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    pt_header h[2] = { { pt_slice_cstr("Content-Type"), pt_slice_cstr("application/json") } };
    size_t nh = 1;
    if (sid) h[nh++] = (pt_header){ pt_slice_cstr("Mcp-Session-Id"), pt_slice_cstr(sid) };
    size_t n = strlen(text);
    if (pt_conn_response_start(conn, status, h, nh, (int64_t)n) == 0) {
        pt_conn_response_body(conn, text, n);
        pt_conn_response_end(conn);
    }
    free(text);
}

void pt__mcp_answer_error(mcp_req *r, int status, pt_outcome o, json_t *id, int code, const char *message)
{
    pt_conn_info(r->conn)->outcome = o;
    pt__mcp_answer(r, status, pt_mcp_error(id, code, message), NULL);
}

void pt__mcp_answer_empty(mcp_req *r, int status)
{
    r->answered = true;
    pt_conn_set_sink(r->conn, NULL);
    pt_conn_respond(r->conn, status, NULL, NULL, 0);
}

/* ---- mcp.access -------------------------------------------------------------------------- */

/* The consumer a session made by this request belongs to, and the one a session it names must
 * belong to ("" without a key). */
const char *pt__mcp_holder(const mcp_req *r)
{
    const pt_auth *who = pt_conn_info(r->conn)->auth;
    return who && who->consumer ? who->consumer : "";
}

const char *pt__mcp_caller_name(const mcp_req *r)
{
    const pt_auth *who = pt_conn_info(r->conn)->auth;
    return who && who->consumer ? who->consumer : "?";
}

/* A tools/call of tool on server: recorded as the call's operation "server/tool" with its
 * arguments' shape (call log, gateway/mcp_args.h), and refused when the caller's access
 * entry does not let it use it (false: answered). */
bool pt__mcp_tool_call_allowed(mcp_req *r, const char *server, const char *tool)
{
    pt_req_info *info = pt_conn_info(r->conn);
    size_t n = strlen(server) + 1 + strlen(tool) + 1;
    char *op = pt_req_alloc(r->req, n);
    if (op) info->operation = op, snprintf(op, n, "%s/%s", server, tool);
    pt_mcp_args_record(info, r->req, r->cfg->mcp, json_object_get(r->msg.params, "arguments"));
    if (pt_mcp_access_allows(r->access, server, tool)) return true;
    char msg[400];
    snprintf(msg, sizeof msg, "tool '%.100s' of MCP server '%s' is not allowed for consumer '%.64s' (mcp.access)", tool,
             server, pt__mcp_caller_name(r));
    pt__mcp_answer_error(r, 200, PT_OUT_MCP_ACCESS_DENIED, r->msg.id, PT_MCP_INVALID_PARAMS, msg);
    return false;
}

/* The entries of a tools list (an array of tool objects) the caller may not use, removed. */
void pt__mcp_filter_tools(const pt_mcp_access *a, const char *server, json_t *tools)
{
    for (size_t i = 0; a && i < json_array_size(tools);) {
        const char *name = json_string_value(json_object_get(json_array_get(tools, i), "name"));
        if (name && !pt_mcp_access_allows(a, server, name)) json_array_remove(tools, i);
        else i++;
    }
}

/* ---- messages from servers ------------------------------------------------------------ */

/* The capability a client needs to answer a server's request, 0 for any other method. */
unsigned pt__mcp_cap_for(const char *method)
{
    if (strcmp(method, "sampling/createMessage") == 0) return PT_MCP_CAN_SAMPLE;
    if (strcmp(method, "elicitation/create") == 0) return PT_MCP_CAN_ELICIT;
    if (strcmp(method, "roots/list") == 0) return PT_MCP_CAN_ROOTS;
    return 0;
}

/* A server's message about r's call (upstream.h pt_mcp_event_fn): relayed on r's answer,
 * which becomes an event stream. A request goes out under an id of the gateway's, so two
 * servers that use the same ids cannot be confused; one the client cannot take (it did not
 * declare the capability) is refused to the server. */
static void on_event(void *arg, json_t *msg)
{
    mcp_req *r = arg;
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    pt_mcp_upstream *up = r->up_name ? pt__mcp_hub_find(r->hub, r->up_name) : NULL;
    if (r->answered || !up || !method) return;
    if (!id) {
        pt__mcp_write_event(r, msg);
        return;
    }
    unsigned need = pt__mcp_cap_for(method);
    asked_req *a = need && (r->caps & need) && r->sid[0] ? calloc(1, sizeof *a) : NULL;
    json_t *copy = a ? json_copy(msg) : NULL;
    if (!copy) {
        char why[200];
        snprintf(why, sizeof why, "the client does not support %.100s (it did not declare the capability)", method);
        pt_mcp_upstream_answer(up, pt_mcp_error(id, PT_MCP_METHOD_NOT_FOUND, why));
        free(a);
        return;
    }
    *a = (asked_req){ .id = atomic_fetch_add(&next_asked, 1) + 1, .server_id = json_deep_copy(id), .hub = r->hub->serial,
                      .owner = r };
    snprintf(a->sid, sizeof a->sid, "%s", r->sid);
    snprintf(a->server, sizeof a->server, "%s", r->up_name);
    json_object_set_new(copy, "id", json_integer(a->id));
    pthread_mutex_lock(&asked_lock);
    a->next = asked_list;
    asked_list = a;
    pthread_mutex_unlock(&asked_lock);
    pt__mcp_write_event(r, copy);
    json_decref(copy);
}

/* The relayed request of session sid with the gateway's id, taken out of the records; NULL
 * when none awaits an answer. */
static asked_req *asked_take(json_t *id, pt_slice sid)
{
    asked_req *found = NULL;
    pthread_mutex_lock(&asked_lock);
    for (asked_req **p = &asked_list; *p && json_is_integer(id); p = &(*p)->next) {
        if ((*p)->id != json_integer_value(id) || !pt_slice_eq_cstr(sid, (*p)->sid)) continue;
        found = *p;
        *p = found->next;
        break;
    }
    pthread_mutex_unlock(&asked_lock);
    return found;
}

/* A client's answer to a relayed request: to the server that asked, under its own id, by the
 * worker whose call relayed it. False when no relayed request of this session has that id. */
static bool answer_asked(mcp_req *r)
{
    asked_req *a = asked_take(r->msg.id, pt_slice_cstr(r->sid));
    if (!a) return false;
    json_t *copy = json_deep_copy(r->msg.root); /* it may go to another thread: shares nothing */
    if (!copy) {
        json_decref(a->server_id);
        free(a);
        return true;
    }
    json_object_set_new(copy, "id", a->server_id);
    mail *m = a->hub != r->hub->serial ? calloc(1, sizeof *m) : NULL;
    if (m) {
        *m = (mail){ .kind = MAIL_ANSWER, .msg = copy };
        snprintf(m->server, sizeof m->server, "%s", a->server);
        pt__mcp_mail_post(a->hub, m);
    } else if (a->hub == r->hub->serial && pt__mcp_hub_find(r->hub, a->server)) {
        pt_mcp_upstream_answer(pt__mcp_hub_find(r->hub, a->server), copy);
    } else {
        json_decref(copy);
    }
    free(a);
    return true;
}

/* Cancels the call of session sid with the client's id rid if this hub runs it: the server
 * hears of it under its own id and the call's answer ends. */
bool pt__mcp_cancel_here(pt_mcp_hub *hub, const char *sid, json_t *rid)
{
    for (mcp_req *x = hub->live; x; x = x->next) {
        if (x->listening || strcmp(x->sid, sid) != 0 || !pt_mcp_id_equal(x->msg.id, rid)) continue;
        pt_mcp_call_cancel(x->call);
        x->call = NULL;
        pt__mcp_answer_error(x, 200, PT_OUT_OK, x->msg.id, -32800, "request cancelled by the client");
        return true;
    }
    return false;
}

/* notifications/cancelled from a client: the call it names runs here or on another worker
 * (which the session does not record: cancels are rare, so every other worker is asked). */
static void cancel_by_client(mcp_req *r)
{
    json_t *rid = json_object_get(r->msg.params, "requestId");
    if (!rid || pt__mcp_cancel_here(r->hub, r->sid, rid)) return;
    mail m = { .kind = MAIL_CANCEL, .msg = rid };
    snprintf(m.sid, sizeof m.sid, "%s", r->sid);
    pt__mcp_mail_others(r->hub, &m);
    atomic_fetch_add(&pt__mcp_handoffs, 1);
}

/* Writes the session stream's new events to every GET stream of this hub; one whose session
 * ended is closed. */
void pt__mcp_hub_pull(pt_mcp_hub *hub)
{
    for (mcp_req *x = hub->live, *next; x; x = next) {
        next = x->next;
        if (!x->listening || x->answered || x->modern) continue;
        pt_buf b = PT_BUF_INIT;
        bool alive = pt__mcp_stream_read(x->sid, &x->cursor, &b);
        if (b.len) {
            pt_conn_response_body(x->conn, b.data, b.len);
            pt_conn_flush(x->conn);
        }
        pt_buf_release(&b);
        if (!alive) {
            x->answered = true;
            live_remove(x);
            pt_conn_response_end(x->conn);
        }
    }
}

/* A 2025 session's GET stream ends: its events are kept with the session, so the client that
 * opens it again (on another worker, with Last-Event-ID) misses none. */
static void stream_end(mcp_req *r)
{
    r->answered = true;
    live_remove(r);
    pt_conn_response_end(r->conn);
}

void pt_mcp_hub_drain(pt_mcp_hub *hub)
{
    if (!hub) return;
    pt__mcp_hub_pull(hub); /* what the streams are owed goes out first */
    for (mcp_req *x = hub->live, *next; x; x = next) {
        next = x->next;
        if (!x->listening || x->answered || x->legacy) continue;
        if (!x->modern) {
            stream_end(x);
            continue;
        }
        json_t *meta = json_pack("{s:{s:O}}", "_meta", PT_MCP_META_SUBSCRIPTION, x->msg.id);
        pt__mcp_answer(x, 200, pt_mcp_result(x->msg.id, meta), NULL);
    }
}

/* ---- /mcp/<server>: relay ------------------------------------------------------------- */

/* resources/subscribe and unsubscribe of a resource of server: who watches what is kept per
 * session (mcp_session.h), so that updates reach those clients alone, and the server, whose
 * session with the gateway all clients share, is subscribed once (per worker for a stdio
 * server, whose child is each worker's own) and told to stop only when no client (of
 * /mcp/<server> or /mcp) watches the resource any more, by every worker that subscribed. True
 * when answered here. */
bool pt__mcp_watch(mcp_req *r, const char *server)
{
    bool on = strcmp(r->msg.method, "resources/subscribe") == 0, relay;
    const char *uri = json_string_value(json_object_get(r->msg.params, "uri"));
    if ((!on && strcmp(r->msg.method, "resources/unsubscribe") != 0) || !uri) return false;
    const pt_mcp_upstream *up = pt__mcp_hub_find(r->hub, server);
    pt_mcp_watcher w = { r->hub->serial, up && pt_mcp_upstream_def(up)->url };
    int left = pt__mcp_session_watch(r->sid, server, uri, on, w, &relay);
    if (on && left < 0) {
        char msg[100];
        snprintf(msg, sizeof msg, "too many subscriptions in this session (%d at most)", PT_MCP_WATCH_MAX);
        pt__mcp_answer_error(r, 200, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_REQUEST, msg);
        return true;
    }
    if (relay) return false;
    /* already subscribed, others still watch it, or another worker's instance is told */
    pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, json_object()), NULL);
    return true;
}

void pt__mcp_on_relayed(void *arg, json_t *response, int code, const char *message)
{
    mcp_req *r = arg;
    r->call = NULL;
    if (r->refusal) {
        pt_conn_info(r->conn)->outcome = PT_OUT_MCP_UPSTREAM_ERROR;
        json_t *refusal = r->refusal;
        r->refusal = NULL;
        pt__mcp_answer(r, r->refusal_status, refusal, NULL);
        return;
    }
    if (!response) {
        pt__mcp_answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, code, message);
        return;
    }
    json_t *copy = json_copy(response);
    if (copy) json_object_set(copy, "id", r->msg.id);
    if (copy && r->server && r->access && strcmp(r->msg.method, "tools/list") == 0) {
        json_t *result = json_deep_copy(json_object_get(copy, "result")); /* the copy shares it with response */
        pt__mcp_filter_tools(r->access, r->server->name, json_object_get(result, "tools"));
        if (result) json_object_set_new(copy, "result", result);
    }
    if (json_object_get(response, "error")) {
        pt_conn_info(r->conn)->outcome = PT_OUT_MCP_UPSTREAM_ERROR;
        const char *uri = json_string_value(json_object_get(r->msg.params, "uri"));
        if (strcmp(r->msg.method, "resources/subscribe") == 0 && r->up_name && uri) /* not subscribed: nothing to undo */
            pt__mcp_session_watch_refused(r->sid, r->up_name, uri, r->hub->serial);
    }
    pt__mcp_answer(r, 200, copy, NULL);
}

pt_mcp_call *pt__mcp_call_for(mcp_req *r, pt_mcp_upstream *up, const char *method, json_t *params)
{
    if (r->modern) return pt__mcp_mcall_start(r, up, method, params); /* mcp_mrtr.c */
    pt_mcp_call *c = pt_mcp_upstream_call(up, method, params, pt__mcp_on_relayed, r);
    pt_mcp_call_on_event(c, on_event);
    return c;
}

/* What a client can answer, from the capabilities it declares. */
unsigned pt__mcp_caps_of(const json_t *c)
{
    return (json_object_get(c, "sampling") ? PT_MCP_CAN_SAMPLE : 0) | (json_object_get(c, "elicitation") ? PT_MCP_CAN_ELICIT : 0) |
           (json_object_get(c, "roots") ? PT_MCP_CAN_ROOTS : 0);
}

/* What the initializing client can answer. */
unsigned pt__mcp_client_caps(const mcp_req *r) { return pt__mcp_caps_of(json_object_get(r->msg.params, "capabilities")); }

/* initialize on /mcp/<server>: the upstream's own answer (it waits for the upstream's
 * handshake, through a ping that queues behind it), with a version the client asked for. */
/* The upstream's InitializeResult once the ping that waited for its handshake is answered;
 * NULL when it has none (then r is answered). */
json_t *pt__mcp_ready_init(mcp_req *r, int code, const char *message)
{
    r->call = NULL;
    json_t *init = pt_mcp_upstream_init_result(pt__mcp_hub_find(r->hub, r->server->name));
    if (!init)
        pt__mcp_answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, code ? code : PT_MCP_UPSTREAM_ERROR,
                     message ? message : "the MCP server is not ready");
    return init;
}

static void on_server_ready(void *arg, json_t *response, int code, const char *message)
{
    mcp_req *r = arg;
    json_t *init = pt__mcp_ready_init(r, code, message);
    if (!init) return;
    json_t *result = json_copy(init);
    const char *asked = json_string_value(json_object_get(r->msg.params, "protocolVersion"));
    json_object_set_new(result, "protocolVersion", json_string(pt_mcp_version_pick(asked)));
    char id[33];
    if (r->legacy) {
        pt__mcp_session_set_caps(r->sid, pt__mcp_client_caps(r));
        pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, result), NULL);
        return;
    }
    if (!pt__mcp_session_new(r->server->name, pt__mcp_client_caps(r), id)) {
        json_decref(result);
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "too many MCP sessions");
        return;
    }
    pt__mcp_session_bind(id, false, pt__mcp_holder(r));
    pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, result), id);
}

void pt__mcp_serve_server(mcp_req *r)
{
    pt_mcp_upstream *up = pt__mcp_hub_find(r->hub, r->server->name);
    const char *method = r->msg.method;
    if (!up) {
        pt__mcp_answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, PT_MCP_UPSTREAM_ERROR,
                             "the MCP server is not running");
        return;
    }
    if (r->msg.kind == PT_MCP_NOTIFICATION) {
        /* the gateway did its own initialized; a cancel names the client's id (on_message) */
        if (strcmp(method, "notifications/initialized") != 0) pt_mcp_upstream_notify(up, method, r->msg.params);
        pt__mcp_answer_empty(r, 202);
        return;
    }
    const char *tool = strcmp(method, "tools/call") == 0 ? json_string_value(json_object_get(r->msg.params, "name")) : NULL;
    if (tool && !pt__mcp_tool_call_allowed(r, r->server->name, tool)) return;
    if (pt__mcp_watch(r, r->server->name)) return;
    bool init = strcmp(method, "initialize") == 0;
    r->up_name = r->server->name;
    r->call = init ? pt_mcp_upstream_call(up, "ping", NULL, on_server_ready, r)
                   : pt__mcp_call_for(r, up, method, r->msg.params);
    if (!r->call) pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
}

/* ---- the message ---------------------------------------------------------------------- */

pt_slice pt__mcp_header_value(const mcp_req *r, const char *name)
{
    const pt_header *h = pt_request_header(r->req, name);
    return h ? h->value : PT_SLICE_NULL;
}

static void on_message(mcp_req *r)
{
    json_t *id = NULL;
    char why[300];
    int rc = pt_mcp_parse(r->body.data ? r->body.data : "", r->body.len, &r->msg, &id, why, sizeof why);
    if (rc) {
        pt__mcp_answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, id, rc, why);
        json_decref(id);
        return;
    }
    const pt_header *h = pt_request_header(r->req, "mcp-session-id");
    pt_slice version = pt__mcp_header_value(r, "mcp-protocol-version");
    if (pt_mcp_modern_is(&r->msg, version, r->legacy || h)) {
        pt__mcp_serve_modern(r);
        return;
    }
    char v[40];
    snprintf(v, sizeof v, PT_SLICE_FMT, (int)(version.len < 39 ? version.len : 39), version.ptr ? version.ptr : "");
    if (version.ptr && (version.len > 39 || !pt_mcp_version_known(v))) {
        pt__mcp_answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                             "unsupported MCP-Protocol-Version");
        return;
    }
    const char *scope = r->server ? r->server->name : "";
    bool init = r->msg.kind == PT_MCP_REQUEST && strcmp(r->msg.method, "initialize") == 0;
    pt_slice sid = r->legacy ? r->legacy_sid : h ? h->value : pt_slice_cstr(NULL);
    if (!init && !sid.len) {
        pt__mcp_answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_REQUEST,
                     "Mcp-Session-Id is required after initialize");
        return;
    }
    if ((!init || r->legacy) &&
        (!pt__mcp_session_held(sid, r->legacy, pt__mcp_holder(r)) || !pt__mcp_session_use(sid, scope, false, &r->caps))) {
        pt__mcp_answer_error(r, 404, PT_OUT_MCP_UNKNOWN_SESSION, r->msg.id, PT_MCP_INVALID_REQUEST,
                     "unknown or ended MCP session: initialize again");
        return;
    }
    if (!init || r->legacy) snprintf(r->sid, sizeof r->sid, PT_SLICE_FMT, (int)(sid.len < 32 ? sid.len : 32), sid.ptr);
    if (r->msg.kind == PT_MCP_RESPONSE) {
        if (answer_asked(r)) pt__mcp_answer_empty(r, 202);
        else pt__mcp_answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                          "a response to no request the gateway relayed to this session");
        return;
    }
    if (!init && r->msg.kind == PT_MCP_REQUEST) pt__mcp_live_add(r);
    if (r->msg.kind == PT_MCP_NOTIFICATION && strcmp(r->msg.method, "notifications/cancelled") == 0) {
        cancel_by_client(r);
        if (r->server) { /* the upstream hears of it under its own id, from the cancelled call */
            pt__mcp_answer_empty(r, 202);
            return;
        }
    }
    if (r->msg.kind == PT_MCP_REQUEST && strcmp(r->msg.method, "ping") == 0) {
        pt__mcp_answer(r, 200, pt_mcp_result(r->msg.id, json_object()), NULL);
        return;
    }
    if (r->server) pt__mcp_serve_server(r);
    else pt__mcp_serve_aggregate(r);
}

static void sink_body(void *h, const char *data, size_t n)
{
    mcp_req *r = h;
    if (r->answered) return;
    if (pt_buf_append(&r->body, data, n) != 0) {
        char msg[120];
        snprintf(msg, sizeof msg, "the message is larger than %llu bytes (mcp.max_message_bytes)",
                 (unsigned long long)r->m->max_message_bytes);
        pt__mcp_answer_error(r, 413, PT_OUT_BODY_TOO_LARGE, NULL, PT_MCP_INVALID_REQUEST, msg);
    }
}

static void sink_end(void *h)
{
    mcp_req *r = h;
    if (!r->answered) on_message(r);
}

static void sink_drain(void *h) {}

static void sink_abort(void *h)
{
    mcp_req *r = h;
    r->answered = true; /* nothing may be written any more; the cleanup hook cancels the calls */
    if (r->legacy && r->listening) pt__mcp_session_use(pt_slice_cstr(r->sid), r->server ? r->server->name : "", true, NULL);
    live_remove(r);
    pt__mcp_mcall_forget(r);
    pt_mcp_call_cancel(r->call);
    r->call = NULL;
    pt_mcp_local_cancel(r->local);
    r->local = NULL;
    for (size_t i = 0; i < r->nfans; i++) {
        pt_mcp_call_cancel(r->fans[i].call);
        r->fans[i].call = NULL;
    }
}

static void listen_end(void *h) {}

/* Makes r's answer the session's stream from now on: events as they come, on any worker. */
bool pt__mcp_listen_on(mcp_req *r)
{
    pt_body_sink *sink = pt_req_alloc(r->req, sizeof *sink);
    if (!sink) {
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, NULL, PT_MCP_INTERNAL_ERROR, "out of memory");
        return false;
    }
    *sink = (pt_body_sink){ .h = r, .on_body = sink_body, .on_body_end = listen_end, .on_drain = sink_drain,
                            .on_abort = sink_abort };
    pt_conn_set_sink(r->conn, sink);
    if (!stream_start(r)) return false;
    r->listening = true;
    pt__mcp_live_add(r);
    return true;
}

/* GET without a session: a client of the 2024-11-05 HTTP+SSE transport. The stream is its
 * session: the first event names the endpoint to POST its messages to (this path with
 * ?sessionId=), and every answer comes on the stream. It ends with the connection. */
static void serve_legacy_stream(mcp_req *r)
{
    uint64_t cursor;
    unsigned caps;
    const char *scope = r->server ? r->server->name : "";
    if (!pt__mcp_session_new(scope, 0, r->sid) ||
        pt__mcp_stream_open(pt_slice_cstr(r->sid), scope, NULL, &cursor, &caps) != 0) {
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, NULL, PT_MCP_INTERNAL_ERROR, "too many MCP sessions");
        return;
    }
    pt__mcp_session_bind(r->sid, true, pt__mcp_holder(r));
    r->legacy = true;
    r->cursor = cursor;
    if (!pt__mcp_listen_on(r)) return;
    pt_buf b = PT_BUF_INIT;
    pt_buf_printf(&b, "event: endpoint\ndata: " PT_SLICE_FMT "?sessionId=%s\n\n", PT_SLICE_ARG(r->req->path), r->sid);
    if (b.len) pt_conn_response_body(r->conn, b.data, b.len);
    pt_buf_release(&b);
    pt_conn_flush(r->conn);
}

/* GET: the session's stream of the servers' messages that belong to no call (list changes,
 * log messages), open until the client closes it. Its events are numbered; one naming the
 * last it saw in Last-Event-ID gets those after it first (mcp_session.h). */
static void serve_listen(mcp_req *r)
{
    const pt_header *sid = pt_request_header(r->req, "mcp-session-id");
    const pt_header *accept = pt_request_header(r->req, "accept");
    const pt_header *last = pt_request_header(r->req, "last-event-id");
    if (!accept || !memmem(accept->value.ptr, accept->value.len, "text/event-stream", 17)) {
        pt__mcp_answer_error(r, 406, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                     "the GET stream needs Accept: text/event-stream");
        return;
    }
    if (!sid) {
        serve_legacy_stream(r);
        return;
    }
    int rc = !pt__mcp_session_held(sid->value, false, pt__mcp_holder(r))
                 ? -1
                 : pt__mcp_stream_open(sid->value, r->server ? r->server->name : "", last ? &last->value : NULL,
                                       &r->cursor, &r->caps);
    if (rc == -1) {
        pt__mcp_answer_error(r, 404, PT_OUT_MCP_UNKNOWN_SESSION, NULL, PT_MCP_INVALID_REQUEST,
                     "unknown or ended MCP session: initialize again");
        return;
    }
    if (rc == -2) {
        pt__mcp_answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                     "Last-Event-ID names no event of this session's stream (its ids are g1, g2, ...)");
        return;
    }
    snprintf(r->sid, sizeof r->sid, PT_SLICE_FMT, (int)(sid->value.len < 32 ? sid->value.len : 32), sid->value.ptr);
    if (!pt__mcp_listen_on(r)) return;
    char prime[48]; /* an event with the id to resume from, before any other (the specification's priming event) */
    int n = snprintf(prime, sizeof prime, "id: g%llu\ndata: \n\n", (unsigned long long)r->cursor);
    pt_conn_response_body(r->conn, prime, (size_t)n);
    pt__mcp_hub_pull(r->hub); /* what it missed, if anything */
    pt_conn_flush(r->conn);
}

/* ---- who may call: Host, Origin, key ----------------------------------------------------- */

static bool loopback_name(pt_slice h)
{
    return pt_slice_case_eq_cstr(h, "localhost") || pt_slice_eq_cstr(h, "127.0.0.1") || pt_slice_eq_cstr(h, "::1") ||
           pt_slice_eq_cstr(h, "[::1]");
}

/* Host: a loopback name, a listener's own address, or one of mcp.allowed_hosts. A listener on
 * a wildcard address with no allowed_hosts accepts any Host (its key is required anyway). */
static bool host_allowed(const pt_config *cfg, const pt_request *req)
{
    const pt_mcp_config *m = cfg->mcp;
    if (loopback_name(req->host)) return true;
    for (size_t i = 0; i < m->nhosts; i++)
        if (pt_slice_case_eq_cstr(req->host, m->allowed_hosts[i])) return true;
    if (m->nhosts) return false;
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const char *lh = cfg->listeners[i].host;
        if (strcmp(lh, "0.0.0.0") == 0 || strcmp(lh, "::") == 0) return true;
        if (pt_slice_case_eq_cstr(req->host, lh)) return true;
    }
    return false;
}

/* Origin (when sent): a loopback origin or one of mcp.allowed_origins. */
bool pt_mcp_route_origin_allowed(const pt_mcp_config *m, pt_slice o)
{
    for (size_t i = 0; i < m->norigins; i++)
        if (pt_slice_case_eq_cstr(o, m->allowed_origins[i])) return true;
    const char *p = memmem(o.ptr, o.len, "://", 3);
    if (!p) return false;
    size_t scheme = (size_t)(p - o.ptr);
    if (!((scheme == 4 && strncasecmp(o.ptr, "http", 4) == 0) || (scheme == 5 && strncasecmp(o.ptr, "https", 5) == 0)))
        return false;
    pt_slice host = pt_slice_from(p + 3, o.len - scheme - 3);
    if (host.len && host.ptr[0] == '[') {
        const char *close = memchr(host.ptr, ']', host.len);
        if (!close) return false;
        size_t rest = host.len - (size_t)(close + 1 - host.ptr);
        if (rest && close[1] != ':') return false;
        host.len = (size_t)(close + 1 - host.ptr);
    } else {
        const char *colon = memchr(host.ptr, ':', host.len);
        if (colon) host.len = (size_t)(colon - host.ptr);
    }
    return loopback_name(host);
}

/* ---- serving ------------------------------------------------------------------------- */

/* The server named by the path, or the aggregate (*agg); false when the path names none. */
static bool resolve_path(const pt_request *req, const pt_mcp_config *m, const pt_mcp_server **s, bool *agg)
{
    pt_slice p = req->path;
    static const char base[] = "/mcp";
    *s = NULL;
    *agg = false;
    if (p.len < sizeof base - 1 || memcmp(p.ptr, base, sizeof base - 1) != 0) return false;
    if (p.len == sizeof base - 1) return *agg = true;
    if (p.ptr[sizeof base - 1] != '/') return false;
    *s = pt_mcp_config_server(m, p.ptr + sizeof base, p.len - sizeof base);
    return *s != NULL;
}

/* The value of the query's parameter name (not decoded: session ids need no escapes), or an
 * empty slice. */
static pt_slice query_param(pt_slice q, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = q.ptr, *end = q.ptr + q.len; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=')
            return pt_slice_from(p + nl + 1, (size_t)(stop - p - nl - 1));
        p = amp ? amp + 1 : end;
    }
    return pt_slice_cstr(NULL);
}

static bool key_needed(const pt_mcp_config *m, const pt_mcp_server *s)
{
    return m->key_required || (s ? s->auth_key : m->auth_key);
}

void pt_mcp_route_serve(pt_conn *conn, pt_request *req, const pt_route *route, pt_config *cfg, pt_mcp_hub *hub)
{
    pt_req_info *info = pt_conn_info(conn);
    info->route = route->name;
    const pt_mcp_config *m = cfg->mcp;
    mcp_req *r = pt_req_alloc(req, sizeof *r);
    if (!r || pt_req_cleanup_add(req, req_cleanup, r) != 0) {
        pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    *r = (mcp_req){ .conn = conn, .req = req, .route = route, .cfg = cfg, .m = m, .hub = hub };
    pt_buf_init(&r->body, m->max_message_bytes);
    bool agg;
    if (!resolve_path(req, m, &r->server, &agg)) {
        char msg[200];
        snprintf(msg, sizeof msg, "no MCP server at " PT_SLICE_FMT " (servers are under /mcp/<name>)",
                 PT_SLICE_ARG(req->path));
        pt__mcp_answer_error(r, 404, PT_OUT_ROUTE_NOT_FOUND, NULL, PT_MCP_INVALID_REQUEST, msg);
        return;
    }
    info->service = r->server ? r->server->name : "mcp";
    const pt_header *origin = pt_request_header(req, "origin");
    if (!host_allowed(cfg, req)) {
        pt__mcp_answer_error(r, 403, PT_OUT_MCP_ORIGIN_REFUSED, NULL, PT_MCP_INVALID_REQUEST,
                     "Host is not allowed for MCP (add it to mcp.allowed_hosts)");
        return;
    }
    if (origin && !pt_mcp_route_origin_allowed(m, origin->value)) {
        pt__mcp_answer_error(r, 403, PT_OUT_MCP_ORIGIN_REFUSED, NULL, PT_MCP_INVALID_REQUEST,
                     "Origin is not allowed for MCP (add it to mcp.allowed_origins)");
        return;
    }
    if (key_needed(m, r->server) && !pt_auth_check(conn, req, cfg, route)) {
        r->answered = true;
        return; /* refused: answered there */
    }
    const pt_auth *who = info->auth;
    r->access = who && m->naccess ? pt_mcp_access_for(m, who->consumer, who->team) : NULL;
    if (r->server && !pt_mcp_access_allows(r->access, r->server->name, NULL)) {
        char msg[300];
        snprintf(msg, sizeof msg, "consumer '%.64s' may not use MCP server '%s' (mcp.access)", pt__mcp_caller_name(r),
                 r->server->name);
        pt__mcp_answer_error(r, 403, PT_OUT_MCP_ACCESS_DENIED, NULL, PT_MCP_INVALID_REQUEST, msg);
        return;
    }
    pt_mcp_hub_sync(hub, cfg);
    const pt_header *pv = pt_request_header(req, "mcp-protocol-version");
    if (pv && pt_slice_eq_cstr(pv->value, PT_MCP_MODERN_VERSION) && !pt_slice_eq_cstr(req->method_name, "POST")) {
        pt__mcp_answer_error(r, 405, PT_OUT_MCP_METHOD_NOT_ALLOWED, NULL, PT_MCP_INVALID_REQUEST,
                     "MCP " PT_MCP_MODERN_VERSION " is served on POST alone (no GET stream, no session to DELETE: "
                     "subscriptions/listen carries the server's notifications)");
        return;
    }
    if (pt_slice_eq_cstr(req->method_name, "DELETE")) {
        const pt_header *sid = pt_request_header(req, "mcp-session-id");
        if (!sid)
            pt__mcp_answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST, "Mcp-Session-Id is required");
        else if (!pt__mcp_session_held(sid->value, false, pt__mcp_holder(r)) ||
                 !pt__mcp_session_use(sid->value, r->server ? r->server->name : "", true, NULL))
            pt__mcp_answer_error(r, 404, PT_OUT_MCP_UNKNOWN_SESSION, NULL, PT_MCP_INVALID_REQUEST,
                                 "unknown or ended MCP session");
        else {
            pt__mcp_pull_others(hub); /* the session's GET streams end, on every worker */
            pt__mcp_hub_pull(hub);
            pt__mcp_answer_empty(r, 200);
        }
        return;
    }
    if (pt_slice_eq_cstr(req->method_name, "GET")) {
        serve_listen(r);
        return;
    }
    if (!pt_slice_eq_cstr(req->method_name, "POST")) {
        pt__mcp_answer_error(r, 405, PT_OUT_MCP_METHOD_NOT_ALLOWED, NULL, PT_MCP_INVALID_REQUEST,
                     "use POST for JSON-RPC messages, GET for the server's stream and DELETE to end a session");
        return;
    }
    r->legacy_sid = query_param(req->query, "sessionId");
    r->legacy = r->legacy_sid.len > 0;
    pt_body_sink *sink = pt_req_alloc(req, sizeof *sink);
    if (!sink) {
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, NULL, PT_MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    *sink = (pt_body_sink){ .h = r, .on_body = sink_body, .on_body_end = sink_end, .on_drain = sink_drain,
                            .on_abort = sink_abort };
    pt_conn_set_sink(conn, sink);
    if (pt_conn_has_body(conn)) pt_conn_continue(conn);
}

/* ---- readiness and metrics -------------------------------------------------------------- */

void pt_mcp_route_ready_json(const pt_config *cfg, pt_buf *out)
{
    if (!cfg->mcp || !cfg->mcp->nservers) return;
    pt_buf_append_str(out, ",\"mcp\":{");
    for (size_t i = 0; i < cfg->mcp->nservers; i++) {
        const char *name = cfg->mcp->servers[i].name;
        pt_mcp_stats *s = pt_mcp_stats_get(name);
        pt_buf_printf(out, "%s\"%s\":\"%s\"", i ? "," : "", name, s && atomic_load(&s->ready) > 0 ? "up" : "down");
    }
    /* which protocol era each server speaks, as its last handshake found (absent before one) */
    pt_buf_append_str(out, "},\"mcp_eras\":{");
    for (size_t i = 0, n = 0; i < cfg->mcp->nservers; i++) {
        pt_mcp_stats *s = pt_mcp_stats_get(cfg->mcp->servers[i].name);
        int era = s ? atomic_load(&s->era) : 0;
        if (era) pt_buf_printf(out, "%s\"%s\":\"%d\"", n++ ? "," : "", cfg->mcp->servers[i].name, era);
    }
    pt_buf_append_str(out, "}");
}

#define READY_OFF ((size_t)-1) /* the ready gauge, not a counter */
#define STREAMS_OFF ((size_t)-2)
#define ERA_OFF ((size_t)-3)

static void family(pt_prom *p, const char *name, const char *type, const char *help, size_t off)
{
    pt_prom_family(p, name, type, help);
    for (pt_mcp_stats *s = pt_mcp_stats_first(); s; s = s->next) {
        pt_prom_sample(p, name, NULL);
        pt_prom_label(p, "server", s->name);
        if (off == READY_OFF) pt_prom_value_u64(p, (uint64_t)atomic_load(&s->ready));
        else if (off == STREAMS_OFF) pt_prom_value_u64(p, (uint64_t)atomic_load(&s->streams));
        else if (off == ERA_OFF) pt_prom_value_u64(p, (uint64_t)atomic_load(&s->era));
        else pt_prom_value_u64(p, atomic_load((_Atomic uint64_t *)((char *)s + off)));
    }
}

static const struct {
    const char *name, *type, *help;
    size_t off;
} families[] = {
    { "portico_mcp_upstream_ready", "gauge", "Workers whose instance of the MCP server has completed its handshake.",
      READY_OFF },
    { "portico_mcp_upstream_streams", "gauge",
      "Workers whose GET stream (HTTP) or subscriptions/listen (a 2026-07-28 server) to the MCP server is open.",
      STREAMS_OFF },
    { "portico_mcp_upstream_era", "gauge",
      "The protocol era the MCP server speaks as its last handshake found: 2025, 2026 (0: not yet known).", ERA_OFF },
    { "portico_mcp_upstream_starts_total", "counter", "Stdio MCP server processes started.",
      offsetof(pt_mcp_stats, starts) },
    { "portico_mcp_upstream_exits_total", "counter", "Stdio MCP server processes that exited.",
      offsetof(pt_mcp_stats, exits) },
    { "portico_mcp_calls_ok_total", "counter", "Calls to the MCP server that got a response.",
      offsetof(pt_mcp_stats, calls_ok) },
    { "portico_mcp_calls_failed_total", "counter",
      "Calls to the MCP server that got none (exited, unreachable, timed out, busy).", offsetof(pt_mcp_stats, calls_error) },
    { "portico_mcp_timeouts_total", "counter", "Calls to the MCP server that timed out.", offsetof(pt_mcp_stats, timeouts) },
    { "portico_mcp_busy_total", "counter", "Calls refused by the server's max_concurrency.", offsetof(pt_mcp_stats, busy) },
    { "portico_mcp_bad_lines_total", "counter", "Stdout lines of a stdio server that were not JSON-RPC (skipped).",
      offsetof(pt_mcp_stats, bad_lines) },
};

static void render(pt_prom *p, void *arg)
{
    if (!pt_mcp_stats_first()) return;
    pt_prom_family(p, "portico_mcp_streams", "gauge", "Clients' GET streams open on the MCP endpoints.");
    pt_prom_sample(p, "portico_mcp_streams", NULL);
    pt_prom_value_u64(p, atomic_load(&open_streams));
    pt_prom_family(p, "portico_mcp_handoffs_total", "counter",
                   "Clients' answers and cancels handed to the worker that runs the call they are about.");
    pt_prom_sample(p, "portico_mcp_handoffs_total", NULL);
    pt_prom_value_u64(p, atomic_load(&pt__mcp_handoffs));
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        family(p, families[i].name, families[i].type, families[i].help, families[i].off);
}

void pt_mcp_route_metrics_init(void) { pt_metrics_add_renderer(render, NULL); }
