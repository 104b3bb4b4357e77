/* mcp_mrtr.c: a 2026-07-28 client's call to an upstream (see mcall below), and the multi
 * round-trip requests that let it answer a 2025 server's questions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "gateway/mcp_route_int.h"
#include "gateway/mcp_session.h"
#include "mcp/modern.h"

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

static _Atomic uint64_t next_modern_id;

/* The client capability named by a PT_MCP_CAN_* bit. */
static const char *cap_name(unsigned cap)
{
    return cap == PT_MCP_CAN_SAMPLE ? "sampling" : cap == PT_MCP_CAN_ELICIT ? "elicitation" : "roots";
}

/* A modern client's call that needs a capability the request did not declare (a server
 * asked for it): the client gets -32021 naming it, in place of whatever the tool answers. */
static void refuse_undeclared(mcp_req *r, const char *method)
{
    unsigned need = pt__mcp_cap_for(method);
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
        pt__mcp_write_event(r, msg);
}

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

void pt__mcp_mcalls_free_all(pt_mcp_hub *hub)
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
    snprintf(mc->consumer, sizeof mc->consumer, "%s", pt__mcp_caller_name(r));
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
    pt__mcp_mail_post(hub, m);
}

/* The answer of the request answered now, here or on another worker. */
static void mcall_reply(mcall *mc, json_t *response, int code, const char *message)
{
    mcp_req *r = mc->r;
    if (r) {
        mc->r = NULL;
        r->mc = NULL;
        pt__mcp_on_relayed(r, response, code, message);
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
    if (r) pt__mcp_on_relayed(r, question, PT_MCP_INTERNAL_ERROR, "out of memory");
    else mail_reply(reply_hub, reply_id, question, PT_MCP_INTERNAL_ERROR, "out of memory");
    json_decref(question);
}

/* A server's request during the call: parked with it when the client declared what it needs
 * (one asked while another waits for its answer is asked next); otherwise the server is told
 * no and the client, when it is the capability it lacks, gets -32021. */
static void mcall_asked(mcall *mc, pt_mcp_upstream *up, json_t *msg, const char *method, json_t *id)
{
    unsigned need = pt__mcp_cap_for(method);
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
            pt__mcp_mail_post(mc->remote_hub, m);
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
    pt_mcp_upstream *up = pt__mcp_hub_find(mc->hub, mc->server);
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
        pt__mcp_mail_post(mc->remote_hub, m);
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

pt_mcp_call *pt__mcp_mcall_start(mcp_req *r, pt_mcp_upstream *up, const char *method, json_t *params)
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

/* r ends: the call it was answering is cancelled (here, or by the worker that runs it). */
void pt__mcp_mcall_forget(mcp_req *r)
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
        pt__mcp_mail_post(r->resumed_hub, m);
    }
    r->resumed_token[0] = 0;
}

/* A retry of this worker's parked call (job: what the retry says, see pt__mcp_mcall_resume),
 * from r here or from the request reply_id of hub reply_hub: the client's answer goes to the
 * server and the retry answers for the call from now on. One without the answer is asked
 * again. */
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
        if (r) pt__mcp_answer_error(r, 200, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_PARAMS, why);
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
    pt_mcp_upstream *up = pt__mcp_hub_find(hub, mc->server);
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
    if (r->server) return pt__mcp_tool_call_allowed(r, r->server->name, name);
    size_t n = r->m->nservers;
    const char *names[n ? n : 1], *own = NULL;
    bool prefixed[n ? n : 1];
    for (size_t j = 0; j < n; j++) names[j] = r->m->servers[j].name, prefixed[j] = r->m->servers[j].prefix;
    int i = n ? pt_mcp_prefix_route(names, prefixed, n, name, &own) : -1;
    return i < 0 || pt__mcp_tool_call_allowed(r, names[i], own);
}

/* A modern request whose requestState is one of the gateway's: it takes up the parked call,
 * on this worker or on the one that runs it. */
void pt__mcp_mcall_resume(mcp_req *r, const char *state)
{
    if (!retry_allowed(r)) return;
    json_t *responses = json_object_get(r->msg.params, "inputResponses");
    const char *name = json_string_value(json_object_get(r->msg.params, "name"));
    if (!name) name = json_string_value(json_object_get(r->msg.params, "uri"));
    json_t *job = json_pack("{s:s, s:o?, s:s, s:s?, s:s, s:I}", "token", state, "responses",
                            responses ? json_deep_copy(responses) : NULL, "method", r->msg.method, "name", name,
                            "consumer", pt__mcp_caller_name(r), "caps", (json_int_t)r->modern_caps);
    char *end;
    uint64_t serial = strtoull(state + sizeof MRTR_PREFIX - 1, &end, 10);
    if (!job) {
        pt__mcp_answer_error(r, 503, PT_OUT_OUT_OF_MEMORY, r->msg.id, PT_MCP_INTERNAL_ERROR, "out of memory");
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
    pt__mcp_live_add(r);
    if (m) *m = (mail){ .kind = MAIL_RESUME, .msg = job, .reply_hub = r->hub->serial, .reply_id = r->modern_id };
    else json_decref(job);
    if (!m || !pt__mcp_mail_post(serial, m)) {
        r->resumed_token[0] = 0;
        pt__mcp_answer_error(r, 200, PT_OUT_MCP_BAD_MESSAGE, r->msg.id, PT_MCP_INVALID_PARAMS,
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
void pt__mcp_mail_modern(pt_mcp_hub *hub, mail *m)
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
        pt__mcp_on_relayed(r, json_object_get(m->msg, "response"), (int)json_integer_value(json_object_get(m->msg, "code")),
                   json_string_value(json_object_get(m->msg, "message")));
    }
}
