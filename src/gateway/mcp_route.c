/* mcp_route.c: the MCP endpoints over the engine (see mcp_route.h).
 *
 * A request's state (mcp_req) lives in the request pool: the body read under the message cap,
 * the parsed message, the upstream calls in flight (cancelled when the client goes away), and
 * for /mcp the fan-out of tools/list over every upstream, page after page. Answering is the
 * last thing a path does: the request's cleanup hooks may run inside it. */
#include "gateway/mcp_route.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "core/log.h"
#include "core/prom.h"
#include "core/timefmt.h"
#include "gateway/auth.h"
#include "gateway/mcp_args.h"
#include "gateway/mcp_local.h"
#include "gateway/mcp_session.h"
#include "gateway/metrics.h"
#include "mcp/catalog.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_config.h"
#include "mcp/modern.h"
#include "mcp/tool_index.h"
#include "mcp/upstream.h"
#include "version.h"

#define MAX_PAGES 100          /* tools/list pages followed per upstream */

/* ---- the hub: one worker's upstreams ---------------------------------------------------- */

/* A client's message that the worker holding what it is about must handle: the answer to a
 * server's request relayed by a call of that worker, or a cancel of such a call. */
typedef enum {
    MAIL_ANSWER,
    MAIL_CANCEL,
    MAIL_LIST_CHANGED,
    MAIL_RESUME,               /* a 2026-07-28 client's retry that takes up a parked call of this worker */
    MAIL_RESUMED_REPLY,        /* ...the answer to that retry, to the worker that holds it */
    MAIL_RESUMED_EVENT,        /* ...a server's message about the call, to that worker */
    MAIL_RESUMED_GONE,         /* ...the retry's client went away: the call is cancelled */
} mail_kind;

typedef struct mail {
    mail_kind kind;
    char server[64];           /* ANSWER: the server that asked; LIST_CHANGED: the server whose list changed */
    char sid[33];              /* CANCEL: the session */
    json_t *msg;               /* ANSWER: the response, under the server's id; CANCEL: the requestId;
                                * LIST_CHANGED: the notification's method; RESUME*: see mcall */
    uint64_t reply_hub, reply_id; /* RESUME*: the retry, by its hub's serial and its modern_id */
    struct mail *next;
} mail;

struct pt_mcp_hub {
    uv_loop_t *loop;
    pt_client *client;
    pt_config *cfg;            /* counted reference: the definitions the upstreams point into */
    pt_mcp_upstream **ups;     /* parallel to cfg->mcp->servers */
    size_t nups;
    struct mcp_req *live;      /* requests with a session that may get messages: calls in flight, GET streams */
    uint64_t serial;           /* names the hub in records other workers read; never reused */
    uv_async_t wake;           /* other workers: mail arrived, or session streams got events */
    pthread_mutex_t mail_lock;
    mail *inbox;               /* newest first */
    _Atomic bool pull;
    struct pt_mcp_hub *next_hub;
    bool keeps_index;          /* this hub lists each server's tools for mcp/tool_index.h */
    struct mcall *mcalls;      /* the 2026-07-28 clients' calls of this worker, parked or not */
};

/* Every hub, so a worker can hand a client's message to the one that holds its call. */
static pthread_mutex_t hubs_lock = PTHREAD_MUTEX_INITIALIZER;
static pt_mcp_hub *hubs;
static uint64_t hub_serials;
static _Atomic uint64_t handoffs;  /* client messages handed to another worker (/metrics) */

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

static void on_notice(void *arg, pt_mcp_upstream *up, json_t *msg);
static void on_wake(uv_async_t *a);
struct mcp_req;
static pt_mcp_call *call_for(struct mcp_req *r, pt_mcp_upstream *up, const char *method, json_t *params);
static void mcall_forget(struct mcp_req *r);
static void mail_modern(pt_mcp_hub *hub, mail *m);
static void listeners_notify(pt_mcp_hub *hub, const char *server, const char *method);
static void list_changed_everywhere(pt_mcp_hub *self, const char *server, const char *method);

/* ---- the tool index: one hub lists each server's tools for the admin API ----------------- */

typedef struct index_job {
    pt_mcp_upstream *up;
    json_t *tools;             /* every page so far */
    int pages;
    char server[64];
} index_job;

static void index_page(index_job *j, const char *cursor);

/* A page of the list: the next one asked for, or the whole list recorded. A failure keeps
 * the list recorded before (the upstream's own log and counters say why). */
static void on_index_page(void *arg, json_t *response, int code, const char *message)
{
    (void)code, (void)message;
    index_job *j = arg;
    json_t *result = response ? json_object_get(response, "result") : NULL;
    json_t *tools = json_object_get(result, "tools");
    const char *next = json_string_value(json_object_get(result, "nextCursor"));
    if (json_is_array(tools) && json_array_extend(j->tools, tools) == 0) {
        if (next && ++j->pages < MAX_PAGES) {
            index_page(j, next);
            return;
        }
        pt_mcp_tool_index_put(j->server, j->tools, pt_time_now_ms());
    }
    json_decref(j->tools);
    free(j);
}

static void index_page(index_job *j, const char *cursor)
{
    json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
    pt_mcp_call *c = pt_mcp_upstream_call(j->up, "tools/list", params, on_index_page, j);
    json_decref(params);
    if (!c) {
        json_decref(j->tools);
        free(j);
    }
}

/* Lists up's tools into the index, when hub keeps it. */
static void index_tools(pt_mcp_hub *hub, pt_mcp_upstream *up)
{
    if (!hub->keeps_index || !up) return;
    index_job *j = calloc(1, sizeof *j);
    if (!j || !(j->tools = json_array())) {
        free(j);
        return;
    }
    j->up = up;
    snprintf(j->server, sizeof j->server, "%s", pt_mcp_upstream_def(up)->name);
    index_page(j, NULL);
}

/* After each handshake: the server may have other tools than before it restarted. */
static void on_ready(void *arg, pt_mcp_upstream *up) { index_tools(arg, up); }

void pt_mcp_hub_keep_tool_index(pt_mcp_hub *hub)
{
    if (hub) hub->keeps_index = true;
}

pt_mcp_hub *pt_mcp_hub_new(uv_loop_t *loop, pt_client *client)
{
    pt_mcp_hub *hub = calloc(1, sizeof *hub);
    if (!hub) return NULL;
    hub->loop = loop;
    hub->client = client;
    if (uv_async_init(loop, &hub->wake, on_wake) != 0) {
        free(hub);
        return NULL;
    }
    hub->wake.data = hub;
    pthread_mutex_init(&hub->mail_lock, NULL);
    pthread_mutex_lock(&hubs_lock);
    hub->serial = ++hub_serials;
    hub->next_hub = hubs;
    hubs = hub;
    pthread_mutex_unlock(&hubs_lock);
    return hub;
}

void pt_mcp_hub_sync(pt_mcp_hub *hub, pt_config *cfg)
{
    if (!hub || hub->cfg == cfg) return;
    const pt_mcp_config *m = cfg ? cfg->mcp : NULL;
    size_t n = m ? m->nservers : 0;
    pt_mcp_upstream **ups = n ? calloc(n, sizeof *ups) : NULL;
    if (n && !ups) return; /* out of memory: keep serving the previous set */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < hub->nups && !ups[i]; j++) {
            if (hub->ups[j] && pt_mcp_server_same(pt_mcp_upstream_def(hub->ups[j]), &m->servers[i])) {
                ups[i] = hub->ups[j];
                hub->ups[j] = NULL;
                pt_mcp_upstream_set_def(ups[i], &m->servers[i]);
            }
        }
        if (!ups[i]) ups[i] = pt_mcp_upstream_new(hub->loop, hub->client, &m->servers[i], m->max_message_bytes);
        if (ups[i]) pt_mcp_upstream_on_notice(ups[i], on_notice, hub);
        if (ups[i] && hub->keeps_index) pt_mcp_upstream_on_ready(ups[i], on_ready, hub);
    }
    for (size_t j = 0; j < hub->nups; j++) pt_mcp_upstream_free(hub->ups[j]);
    free(hub->ups);
    hub->ups = ups;
    hub->nups = n;
    if (hub->cfg) pt_config_release(hub->cfg);
    hub->cfg = cfg ? pt_config_acquire(cfg) : NULL;
}

static void mail_free(mail *m)
{
    json_decref(m->msg);
    free(m);
}

static void mcalls_free_all(pt_mcp_hub *hub);

static void on_hub_closed(uv_handle_t *h)
{
    pt_mcp_hub *hub = h->data;
    mcalls_free_all(hub); /* parked calls whose upstreams are gone */
    for (mail *m = hub->inbox, *next; m; m = next) {
        next = m->next;
        mail_free(m);
    }
    pthread_mutex_destroy(&hub->mail_lock);
    free(hub);
}

void pt_mcp_hub_free(pt_mcp_hub *hub)
{
    if (!hub) return;
    pthread_mutex_lock(&hubs_lock); /* from here on no worker hands it anything */
    for (pt_mcp_hub **p = &hubs; *p; p = &(*p)->next_hub)
        if (*p == hub) {
            *p = hub->next_hub;
            break;
        }
    pthread_mutex_unlock(&hubs_lock);
    pt_mcp_hub_sync(hub, NULL);
    uv_close((uv_handle_t *)&hub->wake, on_hub_closed);
}

/* Puts m (taken) in h's inbox and wakes it; under hubs_lock. */
static void mail_deliver(pt_mcp_hub *h, mail *m)
{
    pthread_mutex_lock(&h->mail_lock);
    m->next = h->inbox;
    h->inbox = m;
    pthread_mutex_unlock(&h->mail_lock);
    uv_async_send(&h->wake);
}

/* Hands m (taken) to the hub with that serial; false (m freed) when it is gone. */
static bool mail_post(uint64_t serial, mail *m)
{
    pthread_mutex_lock(&hubs_lock);
    pt_mcp_hub *h = hubs;
    while (h && h->serial != serial) h = h->next_hub;
    if (h) mail_deliver(h, m);
    pthread_mutex_unlock(&hubs_lock);
    if (!h) mail_free(m);
    else atomic_fetch_add(&handoffs, 1);
    return h != NULL;
}

/* Has every hub but self read its session streams' new events. */
static void pull_others(const pt_mcp_hub *self)
{
    pthread_mutex_lock(&hubs_lock);
    for (pt_mcp_hub *h = hubs; h; h = h->next_hub)
        if (h != self) {
            atomic_store(&h->pull, true);
            uv_async_send(&h->wake);
        }
    pthread_mutex_unlock(&hubs_lock);
}

/* Hands a copy of m, its msg deep-copied, to every hub but self. */
static void mail_others(const pt_mcp_hub *self, const mail *m)
{
    pthread_mutex_lock(&hubs_lock);
    for (pt_mcp_hub *h = hubs; h; h = h->next_hub) {
        mail *copy = h != self ? calloc(1, sizeof *copy) : NULL;
        if (!copy) continue;
        *copy = *m;
        copy->msg = json_deep_copy(m->msg);
        mail_deliver(h, copy);
    }
    pthread_mutex_unlock(&hubs_lock);
}

/* The worker's current upstream for the server named name, or NULL. A request finds its
 * upstreams by name each time it calls: a reload may have replaced the hub's set meanwhile. */
static pt_mcp_upstream *hub_find(pt_mcp_hub *hub, const char *name)
{
    for (size_t i = 0; i < hub->nups; i++)
        if (hub->ups[i] && strcmp(pt_mcp_upstream_def(hub->ups[i])->name, name) == 0) return hub->ups[i];
    return NULL;
}

/* ---- one request ---------------------------------------------------------------------- */

typedef struct mcp_req mcp_req;
typedef struct kind kind;

/* One upstream's part of a /mcp fan-out. */
typedef struct fan {
    mcp_req *r;
    size_t i;
    pt_mcp_upstream *up;       /* asked for every page: a reply of its own call keeps it alive */
    unsigned pages;
    pt_mcp_call *call;
} fan;

struct mcp_req {
    pt_conn *conn;
    pt_request *req;
    const pt_route *route;
    pt_config *cfg;
    const pt_mcp_config *m;
    pt_mcp_hub *hub;
    const pt_mcp_server *server;   /* NULL for /mcp */
    const pt_mcp_access *access;   /* the caller's `mcp.access` entry, NULL when none applies */
    pt_buf body;
    pt_mcp_msg msg;
    pt_mcp_call *call;             /* the one relayed call */
    pt_mcp_local_call *local;      /* or a call of a tool the gateway serves itself */
    const kind *k;                 /* /mcp: what is listed or used */
    void (*routed)(mcp_req *r);    /* ...a request routed by k's lists once they are in, NULL: use or list */
    fan *fans;                     /* /mcp lists: one per upstream */
    pt_mcp_tools_in *ins;
    size_t nfans, pending;
    bool answered;
    bool streaming;                /* the answer is an event stream (messages came before it) */
    bool listening;                /* a GET stream */
    bool legacy;                   /* the 2024-11-05 HTTP+SSE transport: answers go on the session's stream */
    pt_slice legacy_sid;           /* a legacy POST: its ?sessionId= */
    char sid[33];                  /* the client's session, "" before initialize */
    uint64_t cursor;               /* a GET stream: the last event of the session's stream written */
    unsigned caps;                 /* the session's PT_MCP_CAN_* */
    const char *up_name;           /* the server the call went to */
    bool modern;                   /* a request of the stateless 2026-07-28 revision (mcp/modern.h) */
    unsigned modern_caps;          /* ...the PT_MCP_CAN_* its clientCapabilities declare */
    char log_level[16];            /* ...the least level of the server's log messages it asked for, "" none */
    json_t *refusal;               /* ...the error it gets instead of the call's answer (a server asked it something) */
    int refusal_status;
    unsigned listen_mask;          /* ...subscriptions/listen: the LISTEN_* list changes it gets */
    struct mcall *mc;              /* ...its call to an upstream, which may outlive it (mcall) */
    uint64_t modern_id;            /* ...a retry: names it in other workers' mail */
    uint64_t resumed_hub;          /* ...a retry answered by another worker's call: that worker, and */
    char resumed_token[64];        /*    the call's requestState; "" once the answer came */
    bool linked;                   /* in hub->live */
    mcp_req *prev, *next;
};

static _Atomic uint64_t open_streams; /* GET streams open over every worker (/metrics) */

static void live_add(mcp_req *r)
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
    mcall_forget(r);
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

static void hub_pull(pt_mcp_hub *hub);

/* A message of a legacy session: an event of its stream, which any worker may hold. */
static void legacy_send(mcp_req *r, const char *text)
{
    if (!pt__mcp_stream_push(r->sid, text)) return;
    pull_others(r->hub);
    hub_pull(r->hub);
}

/* One message (borrowed) as an event of r's stream, started if need be (legacy: the
 * session's stream). */
static void stream_write(mcp_req *r, json_t *msg)
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

/* A modern client's answer (mcp/modern.h): every result carries resultType (the cacheable ones
 * ttlMs and cacheScope too); a method no one serves is HTTP 404, the revision's errors 400
 * (-32020..-32022, as a modern server sent them over HTTP), and a resource no server has
 * is -32602 (the revision retired -32002). Returns the status. The result and the error may be
 * shared with the upstream's response: they are changed in copies. */
static int modern_answer(mcp_req *r, int status, json_t *body)
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

/* Writes one JSON body (taken; NULL is a 500) with status; session adds Mcp-Session-Id. */
static void answer(mcp_req *r, int status, json_t *body, const char *sid)
{
    if (r->answered) {
        json_decref(body);
        return;
    }
    if (r->modern && body) status = modern_answer(r, status, body);
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
        stream_write(r, body);
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

static void answer_error(mcp_req *r, int status, pt_outcome o, json_t *id, int code, const char *message)
{
    pt_conn_info(r->conn)->outcome = o;
    answer(r, status, pt_mcp_error(id, code, message), NULL);
}

static void answer_empty(mcp_req *r, int status)
{
    r->answered = true;
    pt_conn_set_sink(r->conn, NULL);
    pt_conn_respond(r->conn, status, NULL, NULL, 0);
}

/* ---- mcp.access -------------------------------------------------------------------------- */

/* The consumer a session made by this request belongs to, and the one a session it names must
 * belong to ("" without a key). */
static const char *holder(const mcp_req *r)
{
    const pt_auth *who = pt_conn_info(r->conn)->auth;
    return who && who->consumer ? who->consumer : "";
}

static const char *caller_name(const mcp_req *r)
{
    const pt_auth *who = pt_conn_info(r->conn)->auth;
    return who && who->consumer ? who->consumer : "?";
}

/* A tools/call of tool on server: recorded as the call's operation "server/tool" with its
 * arguments' shape (call log, gateway/mcp_args.h), and refused when the caller's access
 * entry does not let it use it (false: answered). */
static bool tool_call_allowed(mcp_req *r, const char *server, const char *tool)
{
    pt_req_info *info = pt_conn_info(r->conn);
    size_t n = strlen(server) + 1 + strlen(tool) + 1;
    char *op = pt_req_alloc(r->req, n);
    if (op) info->operation = op, snprintf(op, n, "%s/%s", server, tool);
    pt_mcp_args_record(info, r->req, r->cfg->mcp, json_object_get(r->msg.params, "arguments"));
    if (pt_mcp_access_allows(r->access, server, tool)) return true;
    char msg[400];
    snprintf(msg, sizeof msg, "tool '%.100s' of MCP server '%s' is not allowed for consumer '%.64s' (mcp.access)", tool,
             server, caller_name(r));
    answer_error(r, 200, PT_OUT_MCP_ACCESS_DENIED, r->msg.id, PT_MCP_INVALID_PARAMS, msg);
    return false;
}

/* The entries of a tools list (an array of tool objects) the caller may not use, removed. */
static void filter_tools(const pt_mcp_access *a, const char *server, json_t *tools)
{
    for (size_t i = 0; a && i < json_array_size(tools);) {
        const char *name = json_string_value(json_object_get(json_array_get(tools, i), "name"));
        if (name && !pt_mcp_access_allows(a, server, name)) json_array_remove(tools, i);
        else i++;
    }
}

/* ---- messages from servers ------------------------------------------------------------ */

/* The capability a client needs to answer a server's request, 0 for any other method. */
static unsigned cap_for(const char *method)
{
    if (strcmp(method, "sampling/createMessage") == 0) return PT_MCP_CAN_SAMPLE;
    if (strcmp(method, "elicitation/create") == 0) return PT_MCP_CAN_ELICIT;
    if (strcmp(method, "roots/list") == 0) return PT_MCP_CAN_ROOTS;
    return 0;
}

/* The client capability named by a PT_MCP_CAN_* bit. */
static const char *cap_name(unsigned cap)
{
    return cap == PT_MCP_CAN_SAMPLE ? "sampling" : cap == PT_MCP_CAN_ELICIT ? "elicitation" : "roots";
}

/* A modern client's call that needs a capability the request did not declare (a server
 * asked for it): the client gets -32021 naming it, in place of whatever the tool answers. */
static void refuse_undeclared(mcp_req *r, const char *method)
{
    unsigned need = cap_for(method);
    if (r->refusal || !need) return;
    const char *name = json_string_value(json_object_get(r->msg.params, "name"));
    if (!name) name = json_string_value(json_object_get(r->msg.params, "uri"));
    char why[300];
    snprintf(why, sizeof why, "'%.100s' needs the client's %s capability (%.60s), which this request's "
             "clientCapabilities do not declare", name ? name : r->msg.method, cap_name(need), method);
    r->refusal = pt_mcp_error(r->msg.id, PT_MCP_MISSING_CAPABILITY, why);
    json_object_set_new(json_object_get(r->refusal, "error"), "data",
                        json_pack("{s:{s:{}}}", "requiredCapabilities", cap_name(need)));
    r->refusal_status = 400;
}

/* A server's notification about a modern client's call: its progress, and its log messages at
 * the level the request asked for (none when it asked for none), on the call's answer stream;
 * nothing else of the server's goes there. */
static void modern_event(mcp_req *r, json_t *msg, const char *method)
{
    const char *level = json_string_value(json_object_get(json_object_get(msg, "params"), "level"));
    if (strcmp(method, "notifications/progress") == 0 ||
        (strcmp(method, "notifications/message") == 0 && pt_mcp_log_wanted(r->log_level, level)))
        stream_write(r, msg);
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
    pt_mcp_upstream *up = r->up_name ? hub_find(r->hub, r->up_name) : NULL;
    if (r->answered || !up || !method) return;
    if (!id) {
        stream_write(r, msg);
        return;
    }
    unsigned need = cap_for(method);
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
    stream_write(r, copy);
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
        mail_post(a->hub, m);
    } else if (a->hub == r->hub->serial && hub_find(r->hub, a->server)) {
        pt_mcp_upstream_answer(hub_find(r->hub, a->server), copy);
    } else {
        json_decref(copy);
    }
    free(a);
    return true;
}

/* Cancels the call of session sid with the client's id rid if this hub runs it: the server
 * hears of it under its own id and the call's answer ends. */
static bool cancel_here(pt_mcp_hub *hub, const char *sid, json_t *rid)
{
    for (mcp_req *x = hub->live; x; x = x->next) {
        if (x->listening || strcmp(x->sid, sid) != 0 || !pt_mcp_id_equal(x->msg.id, rid)) continue;
        pt_mcp_call_cancel(x->call);
        x->call = NULL;
        answer_error(x, 200, PT_OUT_OK, x->msg.id, -32800, "request cancelled by the client");
        return true;
    }
    return false;
}

/* notifications/cancelled from a client: the call it names runs here or on another worker
 * (which the session does not record: cancels are rare, so every other worker is asked). */
static void cancel_by_client(mcp_req *r)
{
    json_t *rid = json_object_get(r->msg.params, "requestId");
    if (!rid || cancel_here(r->hub, r->sid, rid)) return;
    mail m = { .kind = MAIL_CANCEL, .msg = rid };
    snprintf(m.sid, sizeof m.sid, "%s", r->sid);
    mail_others(r->hub, &m);
    atomic_fetch_add(&handoffs, 1);
}

/* Writes the session stream's new events to every GET stream of this hub; one whose session
 * ended is closed. */
static void hub_pull(pt_mcp_hub *hub)
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

static void on_wake(uv_async_t *a)
{
    pt_mcp_hub *hub = a->data;
    pthread_mutex_lock(&hub->mail_lock);
    mail *list = hub->inbox, *fifo = NULL;
    hub->inbox = NULL;
    pthread_mutex_unlock(&hub->mail_lock);
    while (list) { /* oldest first */
        mail *m = list;
        list = m->next;
        m->next = fifo;
        fifo = m;
    }
    while (fifo) {
        mail *m = fifo;
        fifo = m->next;
        if (m->kind == MAIL_ANSWER) {
            pt_mcp_upstream *up = hub_find(hub, m->server);
            if (up) pt_mcp_upstream_answer(up, m->msg), m->msg = NULL;
        } else if (m->kind == MAIL_LIST_CHANGED) {
            listeners_notify(hub, m->server, json_string_value(m->msg));
        } else if (m->kind != MAIL_CANCEL) {
            mail_modern(hub, m);
        } else {
            cancel_here(hub, m->sid, m->msg);
        }
        mail_free(m);
    }
    if (atomic_exchange(&hub->pull, false)) hub_pull(hub);
}

/* A server's notification that belongs to no call goes to the session streams: a list change
 * to those of /mcp (as one notification of the same method: the merged lists change with it)
 * and of that server's own endpoint, anything else to the latter only. The streams are
 * process-wide; every worker writes to the GET streams it holds. */
static void on_notice(void *arg, pt_mcp_upstream *up, json_t *msg)
{
    pt_mcp_hub *hub = arg;
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *name = pt_mcp_upstream_def(up)->name;
    size_t ml = method ? strlen(method) : 0;
    bool list_changed = ml > 13 && strcmp(method + ml - 13, "/list_changed") == 0;
    json_t *plain = list_changed ? pt_mcp_request(-1, method, NULL) : NULL;
    if (method && strcmp(method, "notifications/tools/list_changed") == 0) index_tools(hub, up);
    if (list_changed) list_changed_everywhere(hub, name, method);
    char *text = json_dumps(msg, JSON_COMPACT);
    char *ptext = plain ? json_dumps(plain, JSON_COMPACT) : NULL;
    /* a resource's update goes to the clients that subscribed to it, not to every stream */
    const char *uri = method && strcmp(method, "notifications/resources/updated") == 0
                          ? json_string_value(json_object_get(json_object_get(msg, "params"), "uri"))
                          : NULL;
    if (text && (uri ? pt__mcp_stream_publish_watched(name, uri, text) : pt__mcp_stream_publish(name, text, ptext))) {
        pull_others(hub);
        hub_pull(hub);
    }
    free(text);
    free(ptext);
    json_decref(plain);
}

/* ---- /mcp/<server>: relay ------------------------------------------------------------- */

/* resources/subscribe and unsubscribe of a resource of server: who watches what is kept per
 * session (mcp_session.h), so that updates reach those clients alone, and the server, whose
 * session with the gateway all clients share, is told to stop only when no client (of
 * /mcp/<server> or /mcp) watches the resource any more. True when answered here. */
static bool watch(mcp_req *r, const char *server)
{
    bool on = strcmp(r->msg.method, "resources/subscribe") == 0;
    const char *uri = json_string_value(json_object_get(r->msg.params, "uri"));
    if ((!on && strcmp(r->msg.method, "resources/unsubscribe") != 0) || !uri) return false;
    int left = pt__mcp_session_watch(r->sid, server, uri, on);
    if (on && left < 0) {
        char msg[100];
        snprintf(msg, sizeof msg, "too many subscriptions in this session (%d at most)", PT_MCP_WATCH_MAX);
        answer_error(r, 200, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_REQUEST, msg);
        return true;
    }
    if (on || left == 0) return false;
    answer(r, 200, pt_mcp_result(r->msg.id, json_object()), NULL); /* others still watch it */
    return true;
}

static void on_relayed(void *arg, json_t *response, int code, const char *message)
{
    mcp_req *r = arg;
    r->call = NULL;
    if (r->refusal) {
        pt_conn_info(r->conn)->outcome = PT_OUT_MCP_UPSTREAM_ERROR;
        json_t *refusal = r->refusal;
        r->refusal = NULL;
        answer(r, r->refusal_status, refusal, NULL);
        return;
    }
    if (!response) {
        answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, code, message);
        return;
    }
    json_t *copy = json_copy(response);
    if (copy) json_object_set(copy, "id", r->msg.id);
    if (copy && r->server && r->access && strcmp(r->msg.method, "tools/list") == 0) {
        json_t *result = json_deep_copy(json_object_get(copy, "result")); /* the copy shares it with response */
        filter_tools(r->access, r->server->name, json_object_get(result, "tools"));
        if (result) json_object_set_new(copy, "result", result);
    }
    if (json_object_get(response, "error")) pt_conn_info(r->conn)->outcome = PT_OUT_MCP_UPSTREAM_ERROR;
    answer(r, 200, copy, NULL);
}

/* What a client can answer, from the capabilities it declares. */
static unsigned caps_of(const json_t *c)
{
    return (json_object_get(c, "sampling") ? PT_MCP_CAN_SAMPLE : 0) | (json_object_get(c, "elicitation") ? PT_MCP_CAN_ELICIT : 0) |
           (json_object_get(c, "roots") ? PT_MCP_CAN_ROOTS : 0);
}

/* What the initializing client can answer. */
static unsigned client_caps(const mcp_req *r) { return caps_of(json_object_get(r->msg.params, "capabilities")); }

/* initialize on /mcp/<server>: the upstream's own answer (it waits for the upstream's
 * handshake, through a ping that queues behind it), with a version the client asked for. */
/* The upstream's InitializeResult once the ping that waited for its handshake is answered;
 * NULL when it has none (then r is answered). */
static json_t *ready_init(mcp_req *r, int code, const char *message)
{
    r->call = NULL;
    json_t *init = pt_mcp_upstream_init_result(hub_find(r->hub, r->server->name));
    if (!init)
        answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, code ? code : PT_MCP_UPSTREAM_ERROR,
                     message ? message : "the MCP server is not ready");
    return init;
}

static void on_server_ready(void *arg, json_t *response, int code, const char *message)
{
    mcp_req *r = arg;
    json_t *init = ready_init(r, code, message);
    if (!init) return;
    json_t *result = json_copy(init);
    const char *asked = json_string_value(json_object_get(r->msg.params, "protocolVersion"));
    json_object_set_new(result, "protocolVersion", json_string(pt_mcp_version_pick(asked)));
    char id[33];
    if (r->legacy) {
        pt__mcp_session_set_caps(r->sid, client_caps(r));
        answer(r, 200, pt_mcp_result(r->msg.id, result), NULL);
        return;
    }
    if (!pt__mcp_session_new(r->server->name, client_caps(r), id)) {
        json_decref(result);
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "too many MCP sessions");
        return;
    }
    pt__mcp_session_bind(id, false, holder(r));
    answer(r, 200, pt_mcp_result(r->msg.id, result), id);
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
    json_t *init = ready_init(r, code, message);
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
    answer(r, 200, pt_mcp_result(r->msg.id, result), NULL);
}

static void serve_server(mcp_req *r)
{
    pt_mcp_upstream *up = hub_find(r->hub, r->server->name);
    const char *method = r->msg.method;
    if (!up) {
        answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, PT_MCP_UPSTREAM_ERROR, "the MCP server is not running");
        return;
    }
    if (r->msg.kind == PT_MCP_NOTIFICATION) {
        /* the gateway did its own initialized; a cancel names the client's id (on_message) */
        if (strcmp(method, "notifications/initialized") != 0) pt_mcp_upstream_notify(up, method, r->msg.params);
        answer_empty(r, 202);
        return;
    }
    const char *tool = strcmp(method, "tools/call") == 0 ? json_string_value(json_object_get(r->msg.params, "name")) : NULL;
    if (tool && !tool_call_allowed(r, r->server->name, tool)) return;
    if (watch(r, r->server->name)) return;
    bool init = strcmp(method, "initialize") == 0;
    r->up_name = r->server->name;
    r->call = init ? pt_mcp_upstream_call(up, "ping", NULL, on_server_ready, r) : call_for(r, up, method, r->msg.params);
    if (!r->call) answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
}

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
static json_t *aggregate_caps(const mcp_req *r)
{
    json_t *caps = json_pack("{s:{s:b}, s:{s:b}, s:{s:b}}", "tools", "listChanged", 1, "prompts", "listChanged", 1,
                             "resources", "listChanged", 1);
    if (caps && some_upstream_has(r->hub, "completions", NULL)) json_object_set_new(caps, "completions", json_object());
    if (caps && !r->modern && some_upstream_has(r->hub, "resources", "subscribe"))
        json_object_set_new(json_object_get(caps, "resources"), "subscribe", json_true());
    return caps;
}

static json_t *gateway_info(void) { return json_pack("{s:s, s:s}", "name", "portico", "version", PT_VERSION); }

static void answer_initialize(mcp_req *r)
{
    const char *asked = json_string_value(json_object_get(r->msg.params, "protocolVersion"));
    json_t *result = json_pack("{s:s, s:o, s:o}", "protocolVersion", pt_mcp_version_pick(asked), "capabilities",
                               aggregate_caps(r), "serverInfo", gateway_info());
    char id[33];
    if (result && r->legacy) {
        pt__mcp_session_set_caps(r->sid, client_caps(r));
        answer(r, 200, pt_mcp_result(r->msg.id, result), NULL);
        return;
    }
    if (!result || !pt__mcp_session_new("", client_caps(r), id)) {
        json_decref(result);
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "too many MCP sessions");
        return;
    }
    pt__mcp_session_bind(id, false, holder(r));
    answer(r, 200, pt_mcp_result(r->msg.id, result), id);
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
        for (size_t i = 0; i < r->nfans; i++) filter_tools(r->access, r->ins[i].server, r->ins[i].tools);
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
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    answer(r, 200, pt_mcp_result(r->msg.id, result), NULL);
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

/* Lists every upstream's entries of r->k, page by page, then fan_done. */
static void fan_out(mcp_req *r)
{
    size_t n = r->m->nservers;
    r->fans = calloc(n ? n : 1, sizeof *r->fans);
    r->ins = calloc(n ? n : 1, sizeof *r->ins);
    if (!r->fans || !r->ins) {
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    r->nfans = n;
    r->pending = 1; /* held until every page is asked for, so no answer starts inside the loop */
    for (size_t i = 0; i < n; i++) {
        r->fans[i] = (fan){ .r = r, .i = i, .up = hub_find(r->hub, r->m->servers[i].name) };
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
    answer_error(r, 200, PT_OUT_OK, r->msg.id, r->k->unknown, msg);
}

/* Sends method with params (NULL: out of memory) to upstream i. */
static void send_to(mcp_req *r, size_t i, const char *method, json_t *params)
{
    pt_conn_info(r->conn)->service = r->m->servers[i].name;
    pt_mcp_upstream *up = hub_find(r->hub, r->m->servers[i].name);
    r->up_name = r->m->servers[i].name;
    r->call = up && params ? call_for(r, up, method, params) : NULL;
    if (!up) answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, PT_MCP_UPSTREAM_ERROR, "the MCP server is not running");
    else if (!r->call) answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
}

/* Sends the call to upstream i under the upstream's own name for the entry. */
static void call_upstream(mcp_req *r, size_t i, const char *own)
{
    const char *server = r->m->servers[i].name;
    if (!r->k->key && !tool_call_allowed(r, server, own)) return;
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
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
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
    answer(r, 200, pt_mcp_result(r->msg.id, json_incref(result)), NULL);
}

/* A tool the gateway serves itself (gateway/mcp_local.h); false when name is none of them. */
static bool serve_local(mcp_req *r, const char *name)
{
    const char *server, *own;
    if (!pt_mcp_local_owns(r->cfg, name, &server, &own)) return false;
    if (!tool_call_allowed(r, server, own)) return true;
    pt_conn_info(r->conn)->service = server;
    int code = 0;
    char why[300];
    r->local = pt_mcp_local_start(r->hub->loop, r->hub->client, r->cfg, r->req, name,
                                  json_object_get(r->msg.params, "arguments"), on_local, r, &code, why, sizeof why);
    if (!r->local) answer_error(r, 200, PT_OUT_OK, r->msg.id, code, why);
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
        answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS, msg);
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
    answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS, msg);
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
    else if (!copy) answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
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
        answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS,
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
    else if (!watch(r, r->m->servers[i].name)) send_to(r, (size_t)i, r->msg.method, r->msg.params);
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
    answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS, msg);
}

static void serve_aggregate(mcp_req *r)
{
    const char *method = r->msg.method;
    bool use = false;
    if (r->msg.kind == PT_MCP_NOTIFICATION) {
        if (strcmp(method, "notifications/roots/list_changed") == 0)
            for (size_t i = 0; i < r->hub->nups; i++)
                if (r->hub->ups[i]) pt_mcp_upstream_notify(r->hub->ups[i], method, NULL);
        answer_empty(r, 202);
    } else if (strcmp(method, "initialize") == 0) {
        answer_initialize(r);
    } else if (strcmp(method, "completion/complete") == 0) {
        serve_complete(r);
    } else if (strcmp(method, "resources/subscribe") == 0 || strcmp(method, "resources/unsubscribe") == 0) {
        serve_watch(r); /* a 2026-07-28 client is answered 404 before (relayed_method) */
    } else if ((r->k = kind_of(method, &use)) && use) {
        serve_use(r);
    } else if (r->k) {
        if (json_object_get(r->msg.params, "cursor"))
            answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_INVALID_PARAMS,
                         "invalid cursor: /mcp lists everything in one page");
        else fan_out(r);
    } else {
        char msg[200];
        snprintf(msg, sizeof msg, "method '%.100s' is not served on /mcp", method);
        answer_error(r, 200, PT_OUT_OK, r->msg.id, PT_MCP_METHOD_NOT_FOUND, msg);
    }
}

/* ---- multi round-trip requests: a 2025 server's question to a 2026-07-28 client ---------- */

/* A modern client's call to an upstream. A server of the 2025 revisions asks its client things
 * (sampling, elicitation, roots) in the middle of a call; the 2026-07-28 revision asks with a
 * result instead (resultType "input_required") and the client sends its request again with the
 * answers. So the call outlives the HTTP request that made it: it is parked with the server's
 * question under a requestState of the gateway's, and the retry takes it up again, the answer
 * going to the server under the server's own id. The call stays on the worker that made it
 * (the upstream session is that worker's): a retry that another worker receives is served
 * through the hubs' mailboxes. A parked call lasts as long as its upstream timeout allows. */
typedef struct mcall {
    pt_mcp_hub *hub;
    pt_mcp_call *call;
    char server[64];           /* the upstream */
    char token[64];            /* requestState: MRTR_PREFIX "<hub serial>.<32 hex digits>" */
    char *method, *name;       /* the client's request and the name in it, which the retry repeats */
    char consumer[64];         /* who made it: nobody else takes it up */
    unsigned caps;             /* what the client answering now declared (PT_MCP_CAN_*) */
    mcp_req *r;                /* the request of this worker answered now; NULL when parked or remote */
    uint64_t remote_hub, remote_id; /* or the retry another worker holds */
    json_t *questions;         /* parked: the server's requests the client is to answer, oldest first (the
                                * first is asked now, the next once it is answered) */
    unsigned round;            /* the question's key is "k<round>" */
    struct mcall *next;        /* in hub->mcalls */
} mcall;

#define MRTR_PREFIX "pt1."

static _Atomic uint64_t next_modern_id;

static mcall *mcall_find(pt_mcp_hub *hub, const char *token)
{
    mcall *mc = hub->mcalls;
    while (mc && strcmp(mc->token, token) != 0) mc = mc->next;
    return mc;
}

static void mcall_free(mcall *mc)
{
    for (mcall **p = &mc->hub->mcalls; *p; p = &(*p)->next)
        if (*p == mc) {
            *p = mc->next;
            break;
        }
    if (mc->r) mc->r->mc = NULL;
    json_decref(mc->questions);
    free(mc->method);
    free(mc->name);
    free(mc);
}

static void mcalls_free_all(pt_mcp_hub *hub)
{
    for (mcall *mc; (mc = hub->mcalls);) {
        mc->r = NULL;
        mcall_free(mc);
    }
}

/* The client lost interest: the server hears of it under its own id. */
static void mcall_drop(mcall *mc)
{
    pt_mcp_call_cancel(mc->call);
    mcall_free(mc);
}

/* A fresh requestState for mc: one per question, so that a state once taken up answers nothing
 * more (the next question comes with its own). */
static bool mcall_draw_token(mcall *mc)
{
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return false;
    int n = snprintf(mc->token, sizeof mc->token, MRTR_PREFIX "%llu.", (unsigned long long)mc->hub->serial);
    for (size_t i = 0; i < sizeof rnd; i++) n += snprintf(mc->token + n, sizeof mc->token - (size_t)n, "%02x", rnd[i]);
    return true;
}

/* The next question of mc is asked now: its key "k<round>" and its own requestState. Without
 * randomness the old state stays (still unguessable, only no longer single-use). */
static void mcall_next_round(mcall *mc)
{
    mc->round++;
    (void)mcall_draw_token(mc);
}

static mcall *mcall_new(mcp_req *r)
{
    mcall *mc = calloc(1, sizeof *mc);
    const char *name = json_string_value(json_object_get(r->msg.params, "name"));
    if (!name) name = json_string_value(json_object_get(r->msg.params, "uri"));
    if (mc) mc->hub = r->hub;
    if (!mc || !mcall_draw_token(mc) || !(mc->method = strdup(r->msg.method)) ||
        (name && !(mc->name = strdup(name)))) {
        if (mc) free(mc->method);
        free(mc);
        return NULL;
    }
    snprintf(mc->server, sizeof mc->server, "%s", r->up_name);
    snprintf(mc->consumer, sizeof mc->consumer, "%s", caller_name(r));
    mc->caps = r->modern_caps;
    mc->r = r;
    mc->next = r->hub->mcalls;
    r->hub->mcalls = mc;
    return mc;
}

/* Hands a retry's answer to the worker that holds it: the upstream's response (borrowed), or
 * none with code and message. */
static void mail_reply(uint64_t hub, uint64_t id, json_t *response, int code, const char *message)
{
    mail *m = calloc(1, sizeof *m);
    if (!m) return;
    *m = (mail){ .kind = MAIL_RESUMED_REPLY, .reply_hub = hub, .reply_id = id,
                 .msg = response ? json_pack("{s:o}", "response", json_deep_copy(response))
                                 : json_pack("{s:i, s:s}", "code", code, "message", message ? message : "") };
    mail_post(hub, m);
}

/* The answer of the request answered now, here or on another worker. */
static void mcall_reply(mcall *mc, json_t *response, int code, const char *message)
{
    mcp_req *r = mc->r;
    if (r) {
        mc->r = NULL;
        r->mc = NULL;
        on_relayed(r, response, code, message);
    } else if (mc->remote_hub) {
        mail_reply(mc->remote_hub, mc->remote_id, response, code, message);
        mc->remote_hub = 0;
    }
}

static void on_mcall_reply(void *arg, json_t *response, int code, const char *message)
{
    mcall *mc = arg;
    mc->call = NULL;
    mcall_reply(mc, response, code, message);
    mcall_free(mc);
}

/* The question of a parked call, as the revision asks it. */
static json_t *input_required(const mcall *mc)
{
    char key[16];
    snprintf(key, sizeof key, "k%u", mc->round);
    json_t *asked = json_array_get(mc->questions, 0);
    json_t *params = json_object_get(asked, "params");
    json_t *request = json_pack("{s:O}", "method", json_object_get(asked, "method"));
    if (request && params) json_object_set(request, "params", params);
    return json_pack("{s:s, s:{s:{s:o}, s:s, s:s}}", "jsonrpc", "2.0", "result", "inputRequests", key, request,
                     "resultType", "input_required", "requestState", mc->token);
}

/* The next question of a parked call to the request taking it up (r here, or the retry
 * reply_id of hub reply_hub). */
static void ask_next(mcall *mc, mcp_req *r, uint64_t reply_hub, uint64_t reply_id)
{
    json_t *question = input_required(mc);
    if (r) on_relayed(r, question, PT_MCP_INTERNAL_ERROR, "out of memory");
    else mail_reply(reply_hub, reply_id, question, PT_MCP_INTERNAL_ERROR, "out of memory");
    json_decref(question);
}

/* A server's request during the call: parked with it when the client declared what it needs
 * (one asked while another waits for its answer is asked next); otherwise the server is told
 * no and the client, when it is the capability it lacks, gets -32021. */
static void mcall_asked(mcall *mc, pt_mcp_upstream *up, json_t *msg, const char *method, json_t *id)
{
    unsigned need = cap_for(method);
    bool answering = mc->r || mc->remote_hub, waiting = json_array_size(mc->questions) > 0;
    if (!mc->questions) mc->questions = json_array();
    if (!need || !(mc->caps & need) || !(answering || waiting) || !mc->questions) {
        char why[300];
        snprintf(why, sizeof why, "the client of this call (MCP %s) %s %.60s", PT_MCP_MODERN_VERSION,
                 need ? "did not declare the capability for" : "is not asked", method);
        pt_mcp_upstream_answer(up, pt_mcp_error(id, PT_MCP_METHOD_NOT_FOUND, why));
        mail *m = need && !(mc->caps & need) && !mc->r && mc->remote_hub ? calloc(1, sizeof *m) : NULL;
        if (mc->r && need && !(mc->caps & need)) refuse_undeclared(mc->r, method);
        if (m) {
            *m = (mail){ .kind = MAIL_RESUMED_EVENT, .reply_hub = mc->remote_hub, .reply_id = mc->remote_id,
                         .msg = json_deep_copy(msg) };
            mail_post(mc->remote_hub, m);
        }
        return;
    }
    json_array_append_new(mc->questions, json_deep_copy(msg));
    if (waiting) return;
    mcall_next_round(mc);
    mcp_req *r = mc->r;
    uint64_t hub = mc->remote_hub, rid = mc->remote_id;
    mc->r = NULL, mc->remote_hub = 0;
    if (r) r->mc = NULL;
    ask_next(mc, r, hub, rid);
}

static void on_mcall_event(void *arg, json_t *msg)
{
    mcall *mc = arg;
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    pt_mcp_upstream *up = hub_find(mc->hub, mc->server);
    if (!method || !up) return;
    if (id) {
        mcall_asked(mc, up, msg, method, id);
    } else if (mc->r && !mc->r->answered) {
        modern_event(mc->r, msg, method);
    } else if (mc->remote_hub) {
        mail *m = calloc(1, sizeof *m);
        if (!m) return;
        *m = (mail){ .kind = MAIL_RESUMED_EVENT, .reply_hub = mc->remote_hub, .reply_id = mc->remote_id,
                     .msg = json_deep_copy(msg) };
        mail_post(mc->remote_hub, m);
    }
}

/* A modern client's Mcp-Param-* headers, {"Name":"value as sent"} (NULL: none): it mirrors
 * its x-mcp-header arguments by the tool list it read, and a modern server gets them as they
 * came. A value that is not UTF-8 (the client should have sent its base64 form) is left out. */
static json_t *param_headers(const mcp_req *r)
{
    static const pt_slice prefix = { "mcp-param-", 10 };
    json_t *given = NULL;
    for (unsigned i = 0; i < r->req->nheaders; i++) {
        const pt_header *h = &r->req->headers[i];
        if (h->name.len <= prefix.len || strncasecmp(h->name.ptr, prefix.ptr, prefix.len) != 0 || h->name.len > 110) continue;
        char name[112];
        snprintf(name, sizeof name, "%.*s", (int)(h->name.len - prefix.len), h->name.ptr + prefix.len);
        json_t *v = json_stringn(h->value.ptr ? h->value.ptr : "", h->value.len);
        if (v && (given || (given = json_object()))) json_object_set_new(given, name, v);
        else json_decref(v);
    }
    return given;
}

/* A modern client's call to up, which r answers for until the server asks it something. */
static pt_mcp_call *mcall_start(mcp_req *r, pt_mcp_upstream *up, const char *method, json_t *params)
{
    mcall *mc = mcall_new(r);
    if (!mc) return NULL;
    /* a modern server's answers (its input_required too) go to the client as they are */
    json_t *given = param_headers(r);
    mc->call = pt_mcp_upstream_call_modern(up, method, params, given, on_mcall_reply, mc);
    json_decref(given);
    if (!mc->call) {
        mcall_free(mc);
        return NULL;
    }
    pt_mcp_call_on_event(mc->call, on_mcall_event);
    r->mc = mc;
    return mc->call;
}

static pt_mcp_call *call_for(mcp_req *r, pt_mcp_upstream *up, const char *method, json_t *params)
{
    if (r->modern) return mcall_start(r, up, method, params);
    pt_mcp_call *c = pt_mcp_upstream_call(up, method, params, on_relayed, r);
    pt_mcp_call_on_event(c, on_event);
    return c;
}

/* r ends: the call it was answering is cancelled (here, or by the worker that runs it). */
static void mcall_forget(mcp_req *r)
{
    if (r->mc) {
        mcall *mc = r->mc;
        r->mc = NULL;
        if (r->call == mc->call) r->call = NULL;
        mc->r = NULL;
        mcall_drop(mc);
    }
    if (!r->resumed_token[0]) return;
    mail *m = calloc(1, sizeof *m);
    if (m) {
        *m = (mail){ .kind = MAIL_RESUMED_GONE, .reply_hub = r->hub->serial, .reply_id = r->modern_id,
                     .msg = json_string(r->resumed_token) };
        mail_post(r->resumed_hub, m);
    }
    r->resumed_token[0] = 0;
}

/* A retry of this worker's parked call (job: what the retry says, see mcall_resume), from r
 * here or from the request reply_id of hub reply_hub: the client's answer goes to the server
 * and the retry answers for the call from now on. One without the answer is asked again. */
static void mcall_take_up(pt_mcp_hub *hub, json_t *job, mcp_req *r, uint64_t reply_hub, uint64_t reply_id)
{
    const char *s = json_string_value(json_object_get(job, "name"));
    mcall *mc = mcall_find(hub, json_string_value(json_object_get(job, "token")));
    const char *why = NULL;
    if (!mc || !json_array_size(mc->questions))
        why = "requestState names no call awaiting input (it ended, timed out or was taken up already)";
    else if (strcmp(json_string_value(json_object_get(job, "consumer")), mc->consumer) != 0 ||
             strcmp(json_string_value(json_object_get(job, "method")), mc->method) != 0 ||
             (s ? !mc->name || strcmp(s, mc->name) != 0 : mc->name != NULL))
        why = "requestState belongs to another request: a retry repeats the request answered input_required";
    if (why) {
        if (r) answer_error(r, 200, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_PARAMS, why);
        else mail_reply(reply_hub, reply_id, NULL, PT_MCP_INVALID_PARAMS, why);
        return;
    }
    char key[16];
    snprintf(key, sizeof key, "k%u", mc->round);
    json_t *given = json_object_get(json_object_get(job, "responses"), key);
    if (!json_is_object(given)) {
        ask_next(mc, r, reply_hub, reply_id);
        return;
    }
    pt_mcp_upstream *up = hub_find(hub, mc->server);
    if (up)
        pt_mcp_upstream_answer(up, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
                                             json_object_get(json_array_get(mc->questions, 0), "id"), "result",
                                             json_deep_copy(given)));
    json_array_remove(mc->questions, 0);
    mc->caps = (unsigned)json_integer_value(json_object_get(job, "caps"));
    if (json_array_size(mc->questions)) { /* the server asked more meanwhile */
        mcall_next_round(mc);
        ask_next(mc, r, reply_hub, reply_id);
        return;
    }
    if (r) {
        mc->r = r;
        r->mc = mc;
        r->call = mc->call;
    } else {
        mc->remote_hub = reply_hub;
        mc->remote_id = reply_id;
    }
}

/* A tools/call retry is held to mcall.access and recorded as the first request was. */
static bool retry_allowed(mcp_req *r)
{
    const char *name = json_string_value(json_object_get(r->msg.params, "name"));
    if (strcmp(r->msg.method, "tools/call") != 0 || !name) return true;
    if (r->server) return tool_call_allowed(r, r->server->name, name);
    size_t n = r->m->nservers;
    const char *names[n ? n : 1], *own = NULL;
    bool prefixed[n ? n : 1];
    for (size_t j = 0; j < n; j++) names[j] = r->m->servers[j].name, prefixed[j] = r->m->servers[j].prefix;
    int i = n ? pt_mcp_prefix_route(names, prefixed, n, name, &own) : -1;
    return i < 0 || tool_call_allowed(r, names[i], own);
}

/* A modern request whose requestState is one of the gateway's: it takes up the parked call,
 * on this worker or on the one that runs it. */
static void mcall_resume(mcp_req *r, const char *state)
{
    if (!retry_allowed(r)) return;
    json_t *responses = json_object_get(r->msg.params, "inputResponses");
    const char *name = json_string_value(json_object_get(r->msg.params, "name"));
    if (!name) name = json_string_value(json_object_get(r->msg.params, "uri"));
    json_t *job = json_pack("{s:s, s:o?, s:s, s:s?, s:s, s:I}", "token", state, "responses",
                            responses ? json_deep_copy(responses) : NULL, "method", r->msg.method, "name", name,
                            "consumer", caller_name(r), "caps", (json_int_t)r->modern_caps);
    char *end;
    uint64_t serial = strtoull(state + sizeof MRTR_PREFIX - 1, &end, 10);
    if (!job) {
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
        return;
    }
    if (serial == r->hub->serial || *end != '.') {
        mcall_take_up(r->hub, job, r, 0, 0);
        json_decref(job);
        return;
    }
    mail *m = calloc(1, sizeof *m);
    r->modern_id = atomic_fetch_add(&next_modern_id, 1) + 1;
    snprintf(r->resumed_token, sizeof r->resumed_token, "%s", state);
    r->resumed_hub = serial;
    live_add(r);
    if (m) *m = (mail){ .kind = MAIL_RESUME, .msg = job, .reply_hub = r->hub->serial, .reply_id = r->modern_id };
    else json_decref(job);
    if (!m || !mail_post(serial, m)) {
        r->resumed_token[0] = 0;
        answer_error(r, 200, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_PARAMS,
                     "requestState names a call that has ended");
    }
}

/* The retry of this worker that mail names, still waiting; NULL when it has gone. */
static mcp_req *retry_of(pt_mcp_hub *hub, uint64_t id)
{
    for (mcp_req *x = hub->live; x; x = x->next)
        if (x->modern_id == id && !x->answered) return x;
    return NULL;
}

/* The mail of 2026-07-28 clients' retries, between the worker that holds a retry and the one
 * that runs its call. */
static void mail_modern(pt_mcp_hub *hub, mail *m)
{
    if (m->kind == MAIL_RESUME) {
        mcall_take_up(hub, m->msg, NULL, m->reply_hub, m->reply_id);
        return;
    }
    if (m->kind == MAIL_RESUMED_GONE) {
        mcall *mc = mcall_find(hub, json_string_value(m->msg));
        if (mc && mc->remote_hub == m->reply_hub && mc->remote_id == m->reply_id) mcall_drop(mc);
        return;
    }
    mcp_req *r = retry_of(hub, m->reply_id);
    if (!r) return;
    const char *method = json_string_value(json_object_get(m->msg, "method"));
    if (m->kind == MAIL_RESUMED_EVENT && method && json_object_get(m->msg, "id")) {
        refuse_undeclared(r, method);
    } else if (m->kind == MAIL_RESUMED_EVENT && method) {
        modern_event(r, m->msg, method);
    } else if (m->kind == MAIL_RESUMED_REPLY) {
        r->resumed_token[0] = 0;
        on_relayed(r, json_object_get(m->msg, "response"), (int)json_integer_value(json_object_get(m->msg, "code")),
                   json_string_value(json_object_get(m->msg, "message")));
    }
}

/* ---- the stateless 2026-07-28 revision ---------------------------------------------------- */

static bool listen_on(mcp_req *r);

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
static void listeners_notify(pt_mcp_hub *hub, const char *server, const char *method)
{
    unsigned bit = listen_bit(method);
    for (mcp_req *x = hub->live, *next; x && bit; x = next) {
        next = x->next;
        if (!x->modern || !x->listening || x->answered || !(x->listen_mask & bit)) continue;
        if (x->server && strcmp(x->server->name, server) != 0) continue;
        json_t *n = pt_mcp_request(-1, method, json_pack("{s:{s:O}}", "_meta", PT_MCP_META_SUBSCRIPTION, x->msg.id));
        stream_write(x, n);
        json_decref(n);
    }
}

/* A list change reaches the subscriptions of every worker: a stdio server runs one child per
 * worker, and the change may be one child's alone. */
static void list_changed_everywhere(pt_mcp_hub *self, const char *server, const char *method)
{
    listeners_notify(self, server, method);
    mail m = { .kind = MAIL_LIST_CHANGED, .msg = json_string(method) };
    snprintf(m.server, sizeof m.server, "%s", server);
    mail_others(self, &m);
    json_decref(m.msg);
}

/* Whether the server behind r says it tells of changes of the list cap ("tools"...); /mcp
 * does for each, and so does a server not ready yet (it may). */
static bool tells_changes(mcp_req *r, const char *cap)
{
    json_t *init = r->server ? pt_mcp_upstream_init_result(hub_find(r->hub, r->server->name)) : NULL;
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
        answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_PARAMS,
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
    if (!honored || !listen_on(r)) {
        json_decref(honored);
        return;
    }
    json_t *ack = pt_mcp_request(-1, "notifications/subscriptions/acknowledged",
                                 json_pack("{s:o, s:{s:O}}", "notifications", honored, "_meta", PT_MCP_META_SUBSCRIPTION,
                                           r->msg.id));
    stream_write(r, ack);
    json_decref(ack);
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
    hub_pull(hub); /* what the streams are owed goes out first */
    for (mcp_req *x = hub->live, *next; x; x = next) {
        next = x->next;
        if (!x->listening || x->answered || x->legacy) continue;
        if (!x->modern) {
            stream_end(x);
            continue;
        }
        answer(x, 200, pt_mcp_result(x->msg.id, json_pack("{s:{s:O}}", "_meta", PT_MCP_META_SUBSCRIPTION, x->msg.id)),
               NULL);
    }
}

static void serve_discover(mcp_req *r)
{
    if (!r->server) {
        json_t *info = gateway_info();
        answer(r, 200, pt_mcp_result(r->msg.id, discover_result(aggregate_caps(r), NULL, info)), NULL);
        json_decref(info);
        return;
    }
    pt_mcp_upstream *up = hub_find(r->hub, r->server->name);
    r->call = up ? pt_mcp_upstream_call(up, "ping", NULL, on_discover_ready, r) : NULL; /* waits for the handshake */
    if (!up) answer_error(r, 200, PT_OUT_MCP_UPSTREAM_ERROR, r->msg.id, PT_MCP_UPSTREAM_ERROR, "the MCP server is not running");
    else if (!r->call) answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
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

static pt_slice header_value(const mcp_req *r, const char *name)
{
    const pt_header *h = pt_request_header(r->req, name);
    return h ? h->value : PT_SLICE_NULL;
}

/* A request of the stateless revision (mcp/modern.h): no session; its _meta and headers
 * checked; served through the worker's own upstream sessions like a 2025 client's, with the
 * same keys, access entries and records. */
static void serve_modern(mcp_req *r)
{
    r->modern = true;
    if (r->msg.kind == PT_MCP_RESPONSE) {
        answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                     "a " PT_MCP_MODERN_VERSION " client posts no responses (the gateway asks it nothing)");
        return;
    }
    if (r->msg.kind == PT_MCP_NOTIFICATION) { /* none is defined from client to server over HTTP */
        answer_empty(r, 202);
        return;
    }
    pt_mcp_modern_headers h = { header_value(r, "mcp-protocol-version"), header_value(r, "mcp-method"),
                                header_value(r, "mcp-name") };
    pt_mcp_refusal f;
    if (pt_mcp_modern_check(&r->msg, &h, &f)) {
        json_t *body = pt_mcp_error(r->msg.id, f.code, f.why);
        if (f.data) json_object_set_new(json_object_get(body, "error"), "data", f.data);
        pt_conn_info(r->conn)->outcome = PT_OUT_MCP_BAD_MESSAGE;
        answer(r, f.status, body, NULL);
        return;
    }
    /* _meta stays as the client sent it: a modern server gets the client's capabilities and log
     * level, a 2025-era one none of the revision's keys (mcp/upstream.c) */
    json_t *meta = json_object_get(r->msg.params, "_meta");
    const char *level = json_string_value(json_object_get(meta, PT_MCP_META_LOG_LEVEL));
    r->modern_caps = caps_of(json_object_get(meta, PT_MCP_META_CAPS));
    snprintf(r->log_level, sizeof r->log_level, "%s", level ? level : "");
    const char *method = r->msg.method;
    const char *state = json_string_value(json_object_get(r->msg.params, "requestState"));
    if (state && strncmp(state, MRTR_PREFIX, sizeof MRTR_PREFIX - 1) == 0 && relayed_method(method)) {
        mcall_resume(r, state); /* a requestState of another's (an upstream's own) goes to it */
    } else if (strcmp(method, "server/discover") == 0) {
        serve_discover(r);
    } else if (strcmp(method, "subscriptions/listen") == 0) {
        serve_subscription(r);
    } else if (!relayed_method(method)) {
        char msg[200];
        snprintf(msg, sizeof msg, "method '%.100s' is not served to " PT_MCP_MODERN_VERSION " clients", method);
        answer_error(r, 404, PT_OUT_OK, r->msg.id, PT_MCP_METHOD_NOT_FOUND, msg);
    } else if (r->server) {
        serve_server(r);
    } else {
        serve_aggregate(r);
    }
}

/* ---- the message ---------------------------------------------------------------------- */

static void on_message(mcp_req *r)
{
    json_t *id = NULL;
    char why[300];
    int rc = pt_mcp_parse(r->body.data ? r->body.data : "", r->body.len, &r->msg, &id, why, sizeof why);
    if (rc) {
        answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, id, rc, why);
        json_decref(id);
        return;
    }
    const pt_header *h = pt_request_header(r->req, "mcp-session-id");
    pt_slice version = header_value(r, "mcp-protocol-version");
    if (pt_mcp_modern_is(&r->msg, version, r->legacy || h)) {
        serve_modern(r);
        return;
    }
    char v[40];
    snprintf(v, sizeof v, PT_SLICE_FMT, (int)(version.len < 39 ? version.len : 39), version.ptr ? version.ptr : "");
    if (version.ptr && (version.len > 39 || !pt_mcp_version_known(v))) {
        answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST, "unsupported MCP-Protocol-Version");
        return;
    }
    const char *scope = r->server ? r->server->name : "";
    bool init = r->msg.kind == PT_MCP_REQUEST && strcmp(r->msg.method, "initialize") == 0;
    pt_slice sid = r->legacy ? r->legacy_sid : h ? h->value : pt_slice_cstr(NULL);
    if (!init && !sid.len) {
        answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_REQUEST,
                     "Mcp-Session-Id is required after initialize");
        return;
    }
    if ((!init || r->legacy) &&
        (!pt__mcp_session_held(sid, r->legacy, holder(r)) || !pt__mcp_session_use(sid, scope, false, &r->caps))) {
        answer_error(r, 404, PT_OUT_MCP_UNKNOWN_SESSION, r->msg.id, PT_MCP_INVALID_REQUEST,
                     "unknown or ended MCP session: initialize again");
        return;
    }
    if (!init || r->legacy) snprintf(r->sid, sizeof r->sid, PT_SLICE_FMT, (int)(sid.len < 32 ? sid.len : 32), sid.ptr);
    if (r->msg.kind == PT_MCP_RESPONSE) {
        if (answer_asked(r)) answer_empty(r, 202);
        else answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                          "a response to no request the gateway relayed to this session");
        return;
    }
    if (!init && r->msg.kind == PT_MCP_REQUEST) live_add(r);
    if (r->msg.kind == PT_MCP_NOTIFICATION && strcmp(r->msg.method, "notifications/cancelled") == 0) {
        cancel_by_client(r);
        if (r->server) { /* the upstream hears of it under its own id, from the cancelled call */
            answer_empty(r, 202);
            return;
        }
    }
    if (r->msg.kind == PT_MCP_REQUEST && strcmp(r->msg.method, "ping") == 0) {
        answer(r, 200, pt_mcp_result(r->msg.id, json_object()), NULL);
        return;
    }
    if (r->server) serve_server(r);
    else serve_aggregate(r);
}

static void sink_body(void *h, const char *data, size_t n)
{
    mcp_req *r = h;
    if (r->answered) return;
    if (pt_buf_append(&r->body, data, n) != 0) {
        char msg[120];
        snprintf(msg, sizeof msg, "the message is larger than %llu bytes (mcp.max_message_bytes)",
                 (unsigned long long)r->m->max_message_bytes);
        answer_error(r, 413, PT_OUT_BODY_TOO_LARGE, NULL, PT_MCP_INVALID_REQUEST, msg);
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
    mcall_forget(r);
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
static bool listen_on(mcp_req *r)
{
    pt_body_sink *sink = pt_req_alloc(r->req, sizeof *sink);
    if (!sink) {
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, NULL, PT_MCP_INTERNAL_ERROR, "out of memory");
        return false;
    }
    *sink = (pt_body_sink){ .h = r, .on_body = sink_body, .on_body_end = listen_end, .on_drain = sink_drain,
                            .on_abort = sink_abort };
    pt_conn_set_sink(r->conn, sink);
    if (!stream_start(r)) return false;
    r->listening = true;
    live_add(r);
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
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, NULL, PT_MCP_INTERNAL_ERROR, "too many MCP sessions");
        return;
    }
    pt__mcp_session_bind(r->sid, true, holder(r));
    r->legacy = true;
    r->cursor = cursor;
    if (!listen_on(r)) return;
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
        answer_error(r, 406, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                     "the GET stream needs Accept: text/event-stream");
        return;
    }
    if (!sid) {
        serve_legacy_stream(r);
        return;
    }
    int rc = !pt__mcp_session_held(sid->value, false, holder(r))
                 ? -1
                 : pt__mcp_stream_open(sid->value, r->server ? r->server->name : "", last ? &last->value : NULL,
                                       &r->cursor, &r->caps);
    if (rc == -1) {
        answer_error(r, 404, PT_OUT_MCP_UNKNOWN_SESSION, NULL, PT_MCP_INVALID_REQUEST,
                     "unknown or ended MCP session: initialize again");
        return;
    }
    if (rc == -2) {
        answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST,
                     "Last-Event-ID names no event of this session's stream (its ids are g1, g2, ...)");
        return;
    }
    snprintf(r->sid, sizeof r->sid, PT_SLICE_FMT, (int)(sid->value.len < 32 ? sid->value.len : 32), sid->value.ptr);
    if (!listen_on(r)) return;
    char prime[48]; /* an event with the id to resume from, before any other (the specification's priming event) */
    int n = snprintf(prime, sizeof prime, "id: g%llu\ndata: \n\n", (unsigned long long)r->cursor);
    pt_conn_response_body(r->conn, prime, (size_t)n);
    hub_pull(r->hub); /* what it missed, if anything */
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
        answer_error(r, 404, PT_OUT_ROUTE_NOT_FOUND, NULL, PT_MCP_INVALID_REQUEST, msg);
        return;
    }
    info->service = r->server ? r->server->name : "mcp";
    const pt_header *origin = pt_request_header(req, "origin");
    if (!host_allowed(cfg, req)) {
        answer_error(r, 403, PT_OUT_MCP_ORIGIN_REFUSED, NULL, PT_MCP_INVALID_REQUEST,
                     "Host is not allowed for MCP (add it to mcp.allowed_hosts)");
        return;
    }
    if (origin && !pt_mcp_route_origin_allowed(m, origin->value)) {
        answer_error(r, 403, PT_OUT_MCP_ORIGIN_REFUSED, NULL, PT_MCP_INVALID_REQUEST,
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
        snprintf(msg, sizeof msg, "consumer '%.64s' may not use MCP server '%s' (mcp.access)", caller_name(r),
                 r->server->name);
        answer_error(r, 403, PT_OUT_MCP_ACCESS_DENIED, NULL, PT_MCP_INVALID_REQUEST, msg);
        return;
    }
    pt_mcp_hub_sync(hub, cfg);
    const pt_header *pv = pt_request_header(req, "mcp-protocol-version");
    if (pv && pt_slice_eq_cstr(pv->value, PT_MCP_MODERN_VERSION) && !pt_slice_eq_cstr(req->method_name, "POST")) {
        answer_error(r, 405, PT_OUT_MCP_METHOD_NOT_ALLOWED, NULL, PT_MCP_INVALID_REQUEST,
                     "MCP " PT_MCP_MODERN_VERSION " is served on POST alone (no GET stream, no session to DELETE: "
                     "subscriptions/listen carries the server's notifications)");
        return;
    }
    if (pt_slice_eq_cstr(req->method_name, "DELETE")) {
        const pt_header *sid = pt_request_header(req, "mcp-session-id");
        if (!sid) answer_error(r, 400, PT_OUT_MCP_BAD_MESSAGE, NULL, PT_MCP_INVALID_REQUEST, "Mcp-Session-Id is required");
        else if (!pt__mcp_session_held(sid->value, false, holder(r)) ||
                 !pt__mcp_session_use(sid->value, r->server ? r->server->name : "", true, NULL))
            answer_error(r, 404, PT_OUT_MCP_UNKNOWN_SESSION, NULL, PT_MCP_INVALID_REQUEST, "unknown or ended MCP session");
        else {
            pull_others(hub); /* the session's GET streams end, on every worker */
            hub_pull(hub);
            answer_empty(r, 200);
        }
        return;
    }
    if (pt_slice_eq_cstr(req->method_name, "GET")) {
        serve_listen(r);
        return;
    }
    if (!pt_slice_eq_cstr(req->method_name, "POST")) {
        answer_error(r, 405, PT_OUT_MCP_METHOD_NOT_ALLOWED, NULL, PT_MCP_INVALID_REQUEST,
                     "use POST for JSON-RPC messages, GET for the server's stream and DELETE to end a session");
        return;
    }
    r->legacy_sid = query_param(req->query, "sessionId");
    r->legacy = r->legacy_sid.len > 0;
    pt_body_sink *sink = pt_req_alloc(req, sizeof *sink);
    if (!sink) {
        answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, NULL, PT_MCP_INTERNAL_ERROR, "out of memory");
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
    pt_prom_value_u64(p, atomic_load(&handoffs));
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        family(p, families[i].name, families[i].type, families[i].help, families[i].off);
}

void pt_mcp_route_metrics_init(void) { pt_metrics_add_renderer(render, NULL); }
