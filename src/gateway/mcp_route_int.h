/* mcp_route_int.h: the MCP endpoints' insides, shared by the files that serve them and by
 * nothing else:
 *
 *   mcp_route.c         a request's life: its state, its answer, the relay to /mcp/<server>,
 *                       servers' requests and notifications relayed to the client, the GET
 *                       streams and the legacy transport, who may call, /readyz and /metrics
 *   mcp_hub.c           each worker's upstreams (its hub), the tool index, and the mailboxes
 *                       through which workers hand each other what a call of theirs is about
 *   mcp_aggregate.c     /mcp: the upstreams' lists merged, and calls routed by them
 *   mcp_mrtr.c          a 2026-07-28 client's call to an upstream, and its multi round-trip
 *                       requests (input_required, parked under a requestState, the retry)
 *   mcp_modern_route.c  the rest of the 2026-07-28 revision: its requests told apart and
 *                       checked, its answers, server/discover, subscriptions/listen
 *
 * An mcp_req lives in its request's pool; the hub's live list holds those that may get
 * messages (calls in flight, GET streams). */
#ifndef PT_GATEWAY_MCP_ROUTE_INT_H
#define PT_GATEWAY_MCP_ROUTE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "gateway/mcp_local.h"
#include "gateway/mcp_route.h"
#include "mcp/catalog.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_config.h"
#include "mcp/upstream.h"

#define MAX_PAGES 100          /* tools/list pages followed per upstream */
#define MRTR_PREFIX "pt1."     /* starts the requestState of a call the gateway parked (mcp_mrtr.c) */

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
    MAIL_UNWATCH,              /* no session watches a resource this hub's instance subscribed to */
} mail_kind;

typedef struct mail {
    mail_kind kind;
    char server[64];           /* ANSWER: the server that asked; LIST_CHANGED: the server whose list changed;
                                * UNWATCH: the resource's server */
    char sid[33];              /* CANCEL: the session */
    json_t *msg;               /* ANSWER: the response, under the server's id; CANCEL: the requestId;
                                * LIST_CHANGED: the notification's method; RESUME*: see mcall;
                                * UNWATCH: the resource's uri */
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

/* ---- one request ---------------------------------------------------------------------- */

typedef struct mcp_req mcp_req;
typedef struct kind kind;      /* what /mcp lists or uses (mcp_aggregate.c) */

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

/* ---- mcp_hub.c ------------------------------------------------------------------------- */

extern _Atomic uint64_t pt__mcp_handoffs; /* client messages handed to another worker (/metrics) */

/* Hands m (taken) to the hub with that serial; false (m freed) when it is gone. */
bool pt__mcp_mail_post(uint64_t serial, mail *m);
/* Hands a copy of m (borrowed; its msg deep-copied for each) to every hub but self. */
void pt__mcp_mail_others(const pt_mcp_hub *self, const mail *m);
/* Has every hub but self read its session streams' new events. */
void pt__mcp_pull_others(const pt_mcp_hub *self);
/* The worker's current upstream for the server named name, or NULL. */
pt_mcp_upstream *pt__mcp_hub_find(pt_mcp_hub *hub, const char *name);

/* ---- mcp_route.c ----------------------------------------------------------------------- */

/* r in hub->live: it may get messages (a call's, a session stream's, a retry's answer). */
void pt__mcp_live_add(mcp_req *r);
/* The answer to r: a JSON body (taken; NULL is a 500) with status and, for a new session, its
 * Mcp-Session-Id (sid); once answered, nothing more is written. The request's cleanup hooks
 * may run inside, so answering is the last thing a path does. */
void pt__mcp_answer(mcp_req *r, int status, json_t *body, const char *sid);
void pt__mcp_answer_error(mcp_req *r, int status, pt_outcome o, json_t *id, int code, const char *message);
void pt__mcp_answer_empty(mcp_req *r, int status);
/* One message (borrowed) as an event of r's answer stream, started if need be. */
void pt__mcp_write_event(mcp_req *r, json_t *msg);
/* Makes r's answer an event stream that stays open (a GET stream, subscriptions/listen);
 * false when answered instead. */
bool pt__mcp_listen_on(mcp_req *r);
/* Writes the session streams' new events to every GET stream of hub. */
void pt__mcp_hub_pull(pt_mcp_hub *hub);
/* Cancels the call of session sid with the client's id rid if hub runs it. */
bool pt__mcp_cancel_here(pt_mcp_hub *hub, const char *sid, json_t *rid);

/* The consumer a session made by r belongs to ("" without a key), and its name for messages. */
const char *pt__mcp_holder(const mcp_req *r);
const char *pt__mcp_caller_name(const mcp_req *r);
/* A tools/call of tool on server recorded and held to mcp.access (false: answered). */
bool pt__mcp_tool_call_allowed(mcp_req *r, const char *server, const char *tool);
/* The entries of a tools list the caller may not use, removed. */
void pt__mcp_filter_tools(const pt_mcp_access *a, const char *server, json_t *tools);
/* The capability a client needs to answer a server's request, 0 for any other method. */
unsigned pt__mcp_cap_for(const char *method);
/* What a client can answer (PT_MCP_CAN_*), from capabilities it declares; from its initialize. */
unsigned pt__mcp_caps_of(const json_t *capabilities);
unsigned pt__mcp_client_caps(const mcp_req *r);
pt_slice pt__mcp_header_value(const mcp_req *r, const char *name);

/* Sends method with params to up as r's call, of whichever revision r is. NULL: out of memory. */
pt_mcp_call *pt__mcp_call_for(mcp_req *r, pt_mcp_upstream *up, const char *method, json_t *params);
/* The upstream's answer to r's call (pt_mcp_reply_fn), relayed to the client. */
void pt__mcp_on_relayed(void *arg, json_t *response, int code, const char *message);
/* resources/subscribe and unsubscribe kept per session; true when answered here. */
bool pt__mcp_watch(mcp_req *r, const char *server);
/* The upstream's InitializeResult once a ping that waited for its handshake is answered;
 * NULL when it has none (then r is answered). */
json_t *pt__mcp_ready_init(mcp_req *r, int code, const char *message);
/* A request on /mcp/<server>: relayed to that server. */
void pt__mcp_serve_server(mcp_req *r);

/* ---- mcp_aggregate.c ------------------------------------------------------------------- */

/* A request on /mcp: answered from every upstream's lists. */
void pt__mcp_serve_aggregate(mcp_req *r);
/* Runs then(r) at once, or when every upstream whose handshake is under way has finished it
 * (or failed): what /mcp says it serves depends on their answers. */
void pt__mcp_after_handshakes(mcp_req *r, void (*then)(mcp_req *r));
/* What /mcp says it serves, and who it is. */
json_t *pt__mcp_aggregate_caps(const mcp_req *r);
json_t *pt__mcp_gateway_info(void);

/* ---- mcp_mrtr.c ------------------------------------------------------------------------ */

/* A modern client's call to up, which r answers for until the server asks it something. */
pt_mcp_call *pt__mcp_mcall_start(mcp_req *r, pt_mcp_upstream *up, const char *method, json_t *params);
/* r ends: the call it was answering is cancelled (here, or by the worker that runs it). */
void pt__mcp_mcall_forget(mcp_req *r);
/* A modern request whose requestState (state) is one of the gateway's: it takes up the
 * parked call, on this worker or on the one that runs it. */
void pt__mcp_mcall_resume(mcp_req *r, const char *state);
/* The mail of 2026-07-28 clients' retries (MAIL_RESUME*). */
void pt__mcp_mail_modern(pt_mcp_hub *hub, mail *m);
/* The hub closes: its parked calls, whose upstreams are gone, are freed. */
void pt__mcp_mcalls_free_all(pt_mcp_hub *hub);

/* ---- mcp_modern_route.c ---------------------------------------------------------------- */

/* A request told apart as one of the 2026-07-28 revision (mcp/modern.h). */
void pt__mcp_serve_modern(mcp_req *r);
/* A modern client's answer reshaped as the revision has it; returns the HTTP status. */
int pt__mcp_modern_answer(mcp_req *r, int status, json_t *body);
/* A list change of server to hub's subscriptions/listen streams that asked for it, and to
 * every worker's. */
void pt__mcp_listeners_notify(pt_mcp_hub *hub, const char *server, const char *method);
void pt__mcp_list_changed_everywhere(pt_mcp_hub *self, const char *server, const char *method);

#endif
