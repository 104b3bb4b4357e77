/* mcp_hub.c: each worker's MCP upstreams (its hub), kept in step with the configuration; the
 * tool index one hub keeps; and the hubs' mailboxes, through which a worker hands another
 * what a call of that worker is about (see mcp_route_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"
#include "gateway/mcp_route_int.h"
#include "gateway/mcp_session.h"
#include "mcp/tool_index.h"

/* Every hub, so a worker can hand a client's message to the one that holds its call. */
static pthread_mutex_t hubs_lock = PTHREAD_MUTEX_INITIALIZER;
static pt_mcp_hub *hubs;
static uint64_t hub_serials;
_Atomic uint64_t pt__mcp_handoffs;

static void on_notice(void *arg, pt_mcp_upstream *up, json_t *msg);
static void on_wake(uv_async_t *a);
static void unwatch_mail(uint64_t serial, const char *server, const char *uri);

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

/* The server's answer to a subscription call the gateway makes itself: nobody waits for it
 * (a failure is in the upstream's own log and counters). */
static void on_own_call(void *arg, json_t *response, int code, const char *message)
{
    (void)arg, (void)response, (void)code, (void)message;
}

/* resources/subscribe or unsubscribe of uri, sent by the gateway itself. */
static void subscription_call(pt_mcp_upstream *up, const char *method, json_t *uri)
{
    json_t *params = json_pack("{s:O}", "uri", uri);
    if (params) pt_mcp_upstream_call(up, method, params, on_own_call, NULL);
    json_decref(params);
}

/* A session with the server that starts anew (a restart) has none of the subscriptions the
 * hub's instance of it held: it subscribes again to each. */
static void resubscribe(pt_mcp_hub *hub, pt_mcp_upstream *up)
{
    char **uris;
    size_t n = pt__mcp_session_held_uris(hub->serial, pt_mcp_upstream_def(up)->name, &uris);
    for (size_t i = 0; i < n; i++) {
        json_t *uri = json_string(uris[i]);
        if (uri) subscription_call(up, "resources/subscribe", uri);
        json_decref(uri);
        free(uris[i]);
    }
    free(uris);
}

/* After each handshake: the server may have other tools than before it restarted, and has
 * forgotten what it was subscribed to. */
static void on_ready(void *arg, pt_mcp_upstream *up)
{
    index_tools(arg, up);
    resubscribe(arg, up);
}

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
    pt__mcp_session_on_unwatch(unwatch_mail);
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
        if (ups[i]) pt_mcp_upstream_on_ready(ups[i], on_ready, hub);
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

static void on_hub_closed(uv_handle_t *h)
{
    pt_mcp_hub *hub = h->data;
    pt__mcp_mcalls_free_all(hub); /* parked calls whose upstreams are gone */
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
    pt__mcp_session_forget_hub(hub->serial); /* its instances' subscriptions end with them */
    pt_mcp_hub_sync(hub, NULL);
    uv_close((uv_handle_t *)&hub->wake, on_hub_closed);
}

/* ---- the mailboxes: what a worker hands another ------------------------------------------ */

/* Puts m (taken) in h's inbox and wakes it; under hubs_lock. */
static void mail_deliver(pt_mcp_hub *h, mail *m)
{
    pthread_mutex_lock(&h->mail_lock);
    m->next = h->inbox;
    h->inbox = m;
    pthread_mutex_unlock(&h->mail_lock);
    uv_async_send(&h->wake);
}

/* Puts m (taken) in the inbox of the hub with that serial; false (m freed) when it is gone. */
static bool mail_to(uint64_t serial, mail *m)
{
    pthread_mutex_lock(&hubs_lock);
    pt_mcp_hub *h = hubs;
    while (h && h->serial != serial) h = h->next_hub;
    if (h) mail_deliver(h, m);
    pthread_mutex_unlock(&hubs_lock);
    if (!h) mail_free(m);
    return h != NULL;
}

bool pt__mcp_mail_post(uint64_t serial, mail *m)
{
    if (!mail_to(serial, m)) return false;
    atomic_fetch_add(&pt__mcp_handoffs, 1);
    return true;
}

/* No session watches server's uri any more: the hub with that serial, whose instance of the
 * server subscribed to it, tells it to stop on its own loop (pt_mcp_unwatch_fn; from any
 * worker, the hub itself included). Not a client's message handed over: not counted. */
static void unwatch_mail(uint64_t serial, const char *server, const char *uri)
{
    mail *m = calloc(1, sizeof *m);
    if (!m || !(m->msg = json_string(uri))) {
        free(m);
        return;
    }
    m->kind = MAIL_UNWATCH;
    snprintf(m->server, sizeof m->server, "%s", server);
    mail_to(serial, m);
}

static void unwatch_here(pt_mcp_hub *hub, const mail *m)
{
    pt_mcp_upstream *up = pt__mcp_hub_find(hub, m->server);
    if (up) subscription_call(up, "resources/unsubscribe", m->msg);
}

/* Has every hub but self read its session streams' new events. */
void pt__mcp_pull_others(const pt_mcp_hub *self)
{
    pthread_mutex_lock(&hubs_lock);
    for (pt_mcp_hub *h = hubs; h; h = h->next_hub)
        if (h != self) {
            atomic_store(&h->pull, true);
            uv_async_send(&h->wake);
        }
    pthread_mutex_unlock(&hubs_lock);
}

/* The worker's current upstream for the server named name, or NULL. A request finds its
 * upstreams by name each time it calls: a reload may have replaced the hub's set meanwhile. */
pt_mcp_upstream *pt__mcp_hub_find(pt_mcp_hub *hub, const char *name)
{
    for (size_t i = 0; i < hub->nups; i++)
        if (hub->ups[i] && strcmp(pt_mcp_upstream_def(hub->ups[i])->name, name) == 0) return hub->ups[i];
    return NULL;
}

/* Hands a copy of m, its msg deep-copied, to every hub but self. */
void pt__mcp_mail_others(const pt_mcp_hub *self, const mail *m)
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

/* The mail other workers handed this one, oldest first; then the session streams' new events
 * when a worker asked (pt__mcp_pull_others). */
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
            pt_mcp_upstream *up = pt__mcp_hub_find(hub, m->server);
            if (up) pt_mcp_upstream_answer(up, m->msg), m->msg = NULL;
        } else if (m->kind == MAIL_UNWATCH) {
            unwatch_here(hub, m);
        } else if (m->kind == MAIL_LIST_CHANGED) {
            pt__mcp_listeners_notify(hub, m->server, json_string_value(m->msg));
        } else if (m->kind != MAIL_CANCEL) {
            pt__mcp_mail_modern(hub, m);
        } else {
            pt__mcp_cancel_here(hub, m->sid, m->msg);
        }
        mail_free(m);
    }
    if (atomic_exchange(&hub->pull, false)) pt__mcp_hub_pull(hub);
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
    if (list_changed) pt__mcp_list_changed_everywhere(hub, name, method);
    char *text = json_dumps(msg, JSON_COMPACT);
    char *ptext = plain ? json_dumps(plain, JSON_COMPACT) : NULL;
    /* a resource's update goes to the clients that subscribed to it, not to every stream */
    const char *uri = method && strcmp(method, "notifications/resources/updated") == 0
                          ? json_string_value(json_object_get(json_object_get(msg, "params"), "uri"))
                          : NULL;
    if (text && (uri ? pt__mcp_stream_publish_watched(name, uri, text) : pt__mcp_stream_publish(name, text, ptext))) {
        pt__mcp_pull_others(hub);
        pt__mcp_hub_pull(hub);
    }
    free(text);
    free(ptext);
    json_decref(plain);
}
