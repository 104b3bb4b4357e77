/* upstream.c: one MCP server on one worker loop: a supervised stdio child or a Streamable HTTP
 * server (see upstream.h). What the 2026-07-28 revision adds is in upstream_modern.c.
 *
 * Every call is a pt_mcp_call in the upstream's list from the moment it is made until its reply
 * has run: queued (waiting for the handshake), then sent, then answered, failed or timed out.
 * Its timer covers the whole wait. Calls, timers and pipes are freed in their close callbacks;
 * the upstream itself once its last handle has closed and its child has been reaped. */
#include "mcp/upstream_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/modern.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STABLE_MS 10000      /* a child that ran this long starts its backoff over */
#define KILL_AFTER_MS 2000
#define HANDSHAKE_MIN_MS 30000
#define STDERR_LINE_MAX 4096
#define RESUMES_MAX 16       /* a server that ends one call's stream more often has lost the call */

extern char **environ;

/* ---- stats -------------------------------------------------------------------------- */

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static pt_mcp_stats *_Atomic stats_head;

pt_mcp_stats *pt_mcp_stats_first(void) { return atomic_load(&stats_head); }

pt_mcp_stats *pt_mcp_stats_get(const char *name)
{
    pthread_mutex_lock(&stats_lock);
    pt_mcp_stats *s;
    for (s = atomic_load(&stats_head); s; s = s->next)
        if (strcmp(s->name, name) == 0) break;
    if (!s && (s = calloc(1, sizeof *s)) && !(s->name = strdup(name))) {
        free(s);
        s = NULL;
    }
    if (s && !s->next && atomic_load(&stats_head) != s) {
        /* new: link at the head (a found entry is already linked) */
        bool linked = false;
        for (pt_mcp_stats *t = atomic_load(&stats_head); t; t = t->next) linked |= t == s;
        if (!linked) {
            s->next = atomic_load(&stats_head);
            atomic_store(&stats_head, s);
        }
    }
    pthread_mutex_unlock(&stats_lock);
    return s;
}

static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static void set_state(pt_mcp_upstream *up, pt_mcp_up_state st)
{
    if (up->state == st) return;
    if (up->stats && up->state == PT_MCP_UP_READY) atomic_fetch_sub(&up->stats->ready, 1);
    if (up->stats && st == PT_MCP_UP_READY) atomic_fetch_add(&up->stats->ready, 1);
    up->state = st;
}

/* ---- handles and freeing ------------------------------------------------------------ */

static void maybe_free(pt_mcp_upstream *up)
{
    if (!up->closing || up->handles || up->running || up->calls) return;
    pt_mcp_lines_release(&up->out_lines);
    pt_mcp_lines_release(&up->err_lines);
    pt_mcp_sse_release(&up->listen_sse);
    free(up->post_path);
    json_decref(up->init_result);
    json_decref(up->param_maps);
    json_decref(up->caps);
    free(up->session);
    free(up);
}

static void on_handle_closed(uv_handle_t *h)
{
    pt_mcp_upstream *up = h->data;
    up->handles--;
    maybe_free(up);
}

static void close_handle(pt_mcp_upstream *up, uv_handle_t *h)
{
    if (uv_is_closing(h)) return;
    h->data = up;
    uv_close(h, on_handle_closed);
}

/* ---- calls -------------------------------------------------------------------------- */

static void call_closed(uv_handle_t *h)
{
    pt_mcp_call *call = h->data;
    pt_mcp_upstream *up = call->up;
    if (call->prev) call->prev->next = call->next;
    else up->calls = call->next;
    if (call->next) call->next->prev = call->prev;
    up->ncalls--;
    if (up->subscription == call) {
        up->subscription = NULL;
        pt__mcp_listen_counted(up, false);
    }
    json_decref(call->local);
    json_decref(call->param_headers);
    json_decref(call->inputs);
    json_decref(call->answers);
    json_decref(call->state);
    json_decref(call->msg);
    json_decref(call->progress);
    json_decref(call->answer);
    pt_mcp_sse_release(&call->sse);
    pt_buf_release(&call->body);
    free(call->session);
    free(call);
    maybe_free(up);
}

/* Ends a call: its reply (if still wanted) gets response, or code and message. */
void pt__mcp_call_finish(pt_mcp_call *call, json_t *response, int code, const char *message)
{
    if (call->done) return;
    if (response && call->modern && !call->keep_modern && pt__mcp_input_round(call, response)) return;
    call->done = true;
    if (call->x) pt_exchange_cancel(call->x);
    call->x = NULL;
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, call_closed);
    pt_mcp_reply_fn reply = call->reply;
    call->reply = NULL;
    if (!reply) return;
    pt_mcp_stats *s = call->up->stats;
    if (s && !call->listen) count(response ? &s->calls_ok : &s->calls_error);
    json_t *shaped = response && call->modern ? pt__mcp_upstream_modern_answer(call, response) : json_incref(response);
    reply(call->arg, shaped, code, message);
    json_decref(shaped);
}

static void fail_all(pt_mcp_upstream *up, bool sent_only, int code, const char *message)
{
    pt_mcp_call *next;
    for (pt_mcp_call *c = up->calls; c; c = next) {
        next = c->next;
        if (!c->done && (!sent_only || c->sent)) pt__mcp_call_finish(c, NULL, code, message);
    }
}

static void post_message(pt_mcp_upstream *up, json_t *msg);

/* The server stops working on a call nobody waits for any more. */
static void tell_cancelled(pt_mcp_call *call, const char *reason)
{
    pt_mcp_upstream *up = call->up;
    if (!call->sent || call->id < 0 || (up->def->command && !up->running)) return;
    if (call->modern && up->def->url) return; /* closing its answer stream (pt__mcp_call_finish) says it */
    post_message(up, pt_mcp_request(-1, "notifications/cancelled",
                                    json_pack("{s:I, s:s}", "requestId", (json_int_t)call->id, "reason", reason)));
}

static void resume(pt_mcp_call *call);

void pt__mcp_call_timer(uv_timer_t *t)
{
    pt_mcp_call *call = t->data;
    if (call->local) {
        pt__mcp_call_finish(call, call->local, 0, NULL);
        return;
    }
    if (call->round_done) {
        pt__mcp_send_again(call);
        return;
    }
    if (call->fail_code) {
        pt__mcp_call_finish(call, NULL, call->fail_code, call->fail_msg);
        return;
    }
    if (call->resume_left) { /* the server's retry delay is over: the timer covers the call again */
        uv_timer_start(&call->timer, pt__mcp_call_timer, call->resume_left, 0);
        call->resume_left = 0;
        resume(call);
        return;
    }
    pt_mcp_upstream *up = call->up;
    if (up->stats) count(&up->stats->timeouts);
    tell_cancelled(call, "timeout");
    char msg[200];
    snprintf(msg, sizeof msg, "MCP server '%s' did not answer within %llu ms", up->def->name,
             (unsigned long long)call->timeout_ms);
    pt__mcp_call_finish(call, NULL, PT_MCP_UPSTREAM_ERROR, msg);
}

static int on_call_event(void *arg, const char *data, size_t len);

static int on_listen_event(void *arg, const char *data, size_t len);

pt_mcp_call *pt__mcp_call_new(pt_mcp_upstream *up, json_t *msg, long long id, pt_mcp_reply_fn reply, void *arg)
{
    pt_mcp_call *call = calloc(1, sizeof *call);
    if (!call) {
        json_decref(msg);
        return NULL;
    }
    call->up = up;
    call->id = id;
    call->msg = msg;
    call->reply = reply;
    call->arg = arg;
    pt_buf_init(&call->body, up->max_message);
    pt_mcp_sse_init(&call->sse, up->max_message, on_call_event, call);
    uv_timer_init(up->loop, &call->timer);
    call->timer.data = call;
    call->next = up->calls;
    if (up->calls) up->calls->prev = call;
    up->calls = call;
    up->ncalls++;
    return call;
}

/* Fails call from the loop's next turn (reply never runs inside the caller's call). */
void pt__mcp_fail_soon(pt_mcp_call *call, int code, const char *message)
{
    call->fail_code = code;
    snprintf(call->fail_msg, sizeof call->fail_msg, "%s", message);
    uv_timer_start(&call->timer, pt__mcp_call_timer, 0, 0);
}

static void send_queued(pt_mcp_upstream *up)
{
    for (pt_mcp_call *c = up->calls; c; c = c->next)
        if (!c->sent && !c->done && !c->fail_code) pt__mcp_send_call(c);
}

/* ---- the handshake ------------------------------------------------------------------ */

static void schedule_restart(pt_mcp_upstream *up);
static void stop_child(pt_mcp_upstream *up);
static void listen_stop(pt_mcp_upstream *up);
static void listen_start(pt_mcp_upstream *up);
static void legacy_lost(pt_mcp_upstream *up);
static void legacy_endpoint(pt_mcp_upstream *up, const char *data, size_t len);

void pt__mcp_set_era(pt_mcp_upstream *up, int era)
{
    if (up->stats) atomic_store(&up->stats->era, era);
}

/* The handshake did not bring the server up: what waits for it fails; a child is stopped
 * (and restarted by its exit), an HTTP server tried again with backoff. */
void pt__mcp_handshake_failed(pt_mcp_upstream *up, const char *what, const char *why)
{
    pt_log_error("MCP server '%s': %s failed: %s", up->def->name, what, why ? why : "no result");
    set_state(up, PT_MCP_UP_DOWN);
    fail_all(up, false, PT_MCP_UPSTREAM_ERROR, "the MCP server could not be initialized");
    if (up->def->command) stop_child(up);
    else schedule_restart(up);
}

/* The server is up: calls that waited go, the catalog is told. */
void pt__mcp_now_ready(pt_mcp_upstream *up, const char *how)
{
    set_state(up, PT_MCP_UP_READY);
    pt_log_info("MCP server '%s' is ready (protocol %s%s)", up->def->name, up->version, how);
    send_queued(up);
    if (up->modern) pt__mcp_subscribe(up);
    else listen_start(up);
    if (up->ready) up->ready(up->ready_arg, up);
}

static void on_initialized(void *arg, json_t *response, int code, const char *message)
{
    pt_mcp_upstream *up = arg;
    json_t *result = response ? json_object_get(response, "result") : NULL;
    if (up->closing) return;
    if (!json_is_object(result)) {
        json_t *e = response ? json_object_get(response, "error") : NULL;
        pt__mcp_handshake_failed(up, "initialize", e ? json_string_value(json_object_get(e, "message")) : message);
        return;
    }
    json_decref(up->init_result);
    up->init_result = json_incref(result);
    const char *v = json_string_value(json_object_get(result, "protocolVersion"));
    snprintf(up->version, sizeof up->version, "%s", v && pt_mcp_version_known(v) ? v : PT_MCP_LATEST_VERSION);
    pt__mcp_set_era(up, 2025);
    set_state(up, PT_MCP_UP_READY); /* before the notification, which then carries the version */
    pt_mcp_upstream_notify(up, "notifications/initialized", NULL);
    pt__mcp_now_ready(up, "");
}

/* One call of the handshake, its timer running, for the caller to send: it may take as long
 * as a child's start (a Node or Python runtime), which may be longer than a call may. NULL
 * when out of memory. */
pt_mcp_call *pt__mcp_handshake_call(pt_mcp_upstream *up, const char *method, json_t *params, pt_mcp_reply_fn done)
{
    long long id = up->next_id++;
    pt_mcp_call *call = pt__mcp_call_new(up, pt_mcp_request(id, method, params), id, done, up);
    if (!call) return NULL;
    uint64_t t = up->def->timeout_ms > HANDSHAKE_MIN_MS ? up->def->timeout_ms : HANDSHAKE_MIN_MS;
    call->timeout_ms = t;
    uv_timer_start(&call->timer, pt__mcp_call_timer, t, 0);
    return call;
}

void pt__mcp_initialize(pt_mcp_upstream *up)
{
    /* Every client capability the gateway can relay: a request the calling client cannot
     * take is refused by the gateway (gateway/mcp_route.c for 2025-era clients, mcp_mrtr.c
     * for 2026-07-28 ones), not by the server's own checks. */
    json_t *params = json_pack("{s:s, s:{s:{}, s:{}, s:{s:b}}, s:{s:s, s:s}}", "protocolVersion", PT_MCP_LATEST_VERSION,
                               "capabilities", "sampling", "elicitation", "roots", "listChanged", 1, "clientInfo",
                               "name", "portico", "version", "1");
    pt_mcp_call *call = pt__mcp_handshake_call(up, "initialize", params, on_initialized);
    if (call) pt__mcp_send_call(call);
}

/* Each start (and restart) asks again which era the server speaks: a server may have been
 * upgraded meanwhile. */
static void handshake(pt_mcp_upstream *up)
{
    set_state(up, PT_MCP_UP_STARTING);
    if (!up->def->legacy_sse) listen_stop(up);
    if (up->subscription) pt__mcp_call_finish(up->subscription, NULL, 0, NULL);
    free(up->session);
    up->session = NULL;
    up->modern = up->subscribe_off = false;
    if (up->def->legacy_sse || up->def->era == PT_MCP_ERA_2025) pt__mcp_initialize(up);
    else pt__mcp_probe(up);
}

/* ---- stdio -------------------------------------------------------------------------- */

static void on_written(uv_write_t *w, int status)
{
    free(w->data);
    free(w);
}

/* Writes msg (taken) as one line to the child's stdin. */
void pt__mcp_send_line(pt_mcp_upstream *up, json_t *msg)
{
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text) return;
    size_t n = strlen(text);
    uv_write_t *w = malloc(sizeof *w);
    char *line = realloc(text, n + 2);
    if (!w || !line || !up->pipes_open || uv_is_closing((uv_handle_t *)&up->in)) {
        free(w);
        free(line ? line : text);
        return;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    w->data = line;
    uv_buf_t b = uv_buf_init(line, (unsigned)(n + 1));
    if (uv_write(w, (uv_stream_t *)&up->in, &b, 1, on_written) != 0) {
        free(line);
        free(w);
    }
}

static pt_mcp_call *find_sent(pt_mcp_upstream *up, json_t *id)
{
    if (!json_is_integer(id)) return NULL;
    for (pt_mcp_call *c = up->calls; c; c = c->next)
        if (!c->done && c->sent && c->id == json_integer_value(id)) return c;
    return NULL;
}

/* The call in flight a server's message belongs to: on (the call whose answer stream carried
 * it, HTTP), else for a stdio server the newest call that takes events: stdio says nothing
 * about which request a server's request is for (docs/MCP.md). */
static pt_mcp_call *owner(pt_mcp_upstream *up, pt_mcp_call *on) /* legacy SSE says no more than stdio */
{
    if (on) return on->reply && on->event ? on : NULL;
    for (pt_mcp_call *c = up->calls; c && (up->def->command || up->def->legacy_sse); c = c->next)
        if (c->sent && !c->done && c->reply && c->event) return c;
    return NULL;
}

/* notifications/progress: to the call whose token (its upstream id) it names, with the
 * caller's own token back. */
static void progress(pt_mcp_upstream *up, json_t *msg)
{
    json_t *params = json_object_get(msg, "params");
    json_t *token = json_object_get(params, "progressToken");
    for (pt_mcp_call *c = up->calls; c && json_is_integer(token); c = c->next) {
        if (c->done || !c->progress || !c->event || !c->reply || c->id != json_integer_value(token)) continue;
        json_t *copy = json_deep_copy(msg);
        json_object_set(json_object_get(copy, "params"), "progressToken", c->progress);
        if (copy) c->event(c->arg, copy);
        json_decref(copy);
        return;
    }
}

/* A request or notification the server sent, on a call's answer stream (on) or not. */
static void from_server(pt_mcp_upstream *up, pt_mcp_call *on, const pt_mcp_msg *m)
{
    if (m->kind == PT_MCP_REQUEST && strcmp(m->method, "ping") == 0) {
        post_message(up, pt_mcp_result(m->id, json_object()));
        return;
    }
    if (m->kind == PT_MCP_NOTIFICATION && strcmp(m->method, "notifications/progress") == 0) {
        progress(up, m->root);
        return;
    }
    if (up->modern && m->kind == PT_MCP_NOTIFICATION && pt__mcp_subscription_notice(up, m)) return;
    size_t ml = strlen(m->method);
    bool list_changed = ml > 13 && strcmp(m->method + ml - 13, "/list_changed") == 0;
    /* a resource's update belongs to its subscribers, not to the call in flight (stdio) */
    bool unowned = list_changed || strcmp(m->method, "notifications/resources/updated") == 0;
    pt_mcp_call *c = unowned ? NULL : owner(up, on);
    if (c) {
        c->event(c->arg, m->root);
    } else if (m->kind == PT_MCP_REQUEST) {
        post_message(up, pt_mcp_error(m->id, PT_MCP_METHOD_NOT_FOUND,
                                      "the gateway relays a server's requests only while a client's call to it is in flight"));
    } else if (up->notice) {
        up->notice(up->notice_arg, up, m->root);
    }
}

/* One line of the child's stdout: a response to route, a request the gateway declines, a
 * notification it drops, or not JSON-RPC at all (logged and skipped, never forwarded). */
static int on_out_line(void *arg, const char *s, size_t n)
{
    pt_mcp_upstream *up = arg;
    pt_mcp_msg m;
    char why[200];
    json_t *id = NULL;
    if (n == 0) return 0;
    if (pt_mcp_parse(s, n, &m, &id, why, sizeof why) != 0) {
        json_decref(id);
        if (up->stats) count(&up->stats->bad_lines);
        pt_log_warn("MCP server '%s' wrote a line to stdout that is not a JSON-RPC message (skipped): %.*s",
                    up->def->name, (int)(n > 200 ? 200 : n), s);
        return 0;
    }
    if (m.kind == PT_MCP_RESPONSE) {
        pt_mcp_call *call = find_sent(up, m.id);
        if (call) pt__mcp_call_finish(call, m.root, 0, NULL);
        else pt_log_debug("MCP server '%s' answered an id nobody waits for", up->def->name);
    } else {
        from_server(up, NULL, &m);
    }
    pt_mcp_msg_release(&m);
    return 0;
}

static int on_err_line(void *arg, const char *s, size_t n)
{
    pt_mcp_upstream *up = arg;
    if (up->stats) count(&up->stats->stderr_lines);
    if (n) pt_log_info("MCP server '%s' stderr: %.*s", up->def->name, (int)n, s);
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    static _Thread_local char slab[65536];
    *b = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    pt_mcp_upstream *up = s->data;
    if (n <= 0) {
        if (n < 0) uv_read_stop(s);
        return;
    }
    bool out = s == (uv_stream_t *)&up->out;
    pt_mcp_lines *l = out ? &up->out_lines : &up->err_lines;
    unsigned long before = l->dropped;
    pt_mcp_lines_feed(l, b->base, (size_t)n, out ? on_out_line : on_err_line, up);
    if (out && l->dropped != before)
        pt_log_warn("MCP server '%s' wrote a stdout line longer than %zu bytes (skipped)", up->def->name, l->max);
}

static void close_pipes(pt_mcp_upstream *up)
{
    if (!up->pipes_open) return;
    up->pipes_open = false;
    close_handle(up, (uv_handle_t *)&up->in);
    close_handle(up, (uv_handle_t *)&up->out);
    close_handle(up, (uv_handle_t *)&up->err);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    pt_mcp_upstream *up = p->data;
    up->running = false;
    uv_timer_stop(&up->kill_timer);
    if (up->stats) count(&up->stats->exits);
    char how[80];
    if (sig) snprintf(how, sizeof how, "was killed by signal %d", sig);
    else snprintf(how, sizeof how, "exited with status %lld", (long long)status);
    if (!up->closing) pt_log_error("MCP server '%s' %s; restarting it", up->name, how);
    set_state(up, PT_MCP_UP_DOWN);
    char msg[200];
    snprintf(msg, sizeof msg, "MCP server '%s' %s before answering%s", up->name, how,
             up->closing ? "" : "; it is being restarted");
    fail_all(up, true, PT_MCP_UPSTREAM_ERROR, msg);
    close_pipes(up);
    close_handle(up, (uv_handle_t *)p);
    if (up->closing) {
        fail_all(up, false, PT_MCP_UPSTREAM_ERROR, msg);
        close_handle(up, (uv_handle_t *)&up->kill_timer);
        maybe_free(up);
        return;
    }
    if (pt_now_ms() - up->started_ms >= STABLE_MS) up->backoff_ms = BACKOFF_MIN_MS;
    schedule_restart(up);
}

/* The child's environment: the gateway's, with the server's env: entries set over it. */
static char **child_env(const pt_mcp_server *def)
{
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **env = calloc(n + def->nenv + 1, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < def->nenv && !replaced; j++) {
            size_t l = strlen(def->env[j].name);
            replaced = strncmp(environ[i], def->env[j].name, l) == 0 && environ[i][l] == '=';
        }
        if (!replaced) env[k++] = environ[i];
    }
    for (size_t j = 0; j < def->nenv; j++) {
        size_t l = strlen(def->env[j].name) + strlen(def->env[j].value) + 2;
        char *kv = malloc(l);
        if (kv) snprintf(kv, l, "%s=%s", def->env[j].name, def->env[j].value);
        env[k++] = kv; /* a NULL here ends the list early: the child gets less, never garbage */
    }
    env[k] = NULL;
    return env;
}

static void free_env(char **env, size_t nown)
{
    if (!env) return;
    size_t n = 0;
    while (env[n]) n++;
    for (size_t i = n >= nown ? n - nown : 0; i < n; i++) free(env[i]);
    free(env);
}

static void spawn(pt_mcp_upstream *up)
{
    const pt_mcp_server *d = up->def;
    uv_pipe_init(up->loop, &up->in, 0);
    uv_pipe_init(up->loop, &up->out, 0);
    uv_pipe_init(up->loop, &up->err, 0);
    up->handles += 3;
    up->in.data = up->out.data = up->err.data = up;
    up->pipes_open = true;
    uv_stdio_container_t stdio[3] = {
        { .flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&up->in },
        { .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&up->out },
        { .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&up->err },
    };
    char **argv = calloc(d->nargs + 2, sizeof *argv);
    char **env = child_env(d);
    int rc = UV_ENOMEM;
    if (argv && env) {
        argv[0] = d->command;
        for (size_t i = 0; i < d->nargs; i++) argv[i + 1] = d->args[i];
        uv_process_options_t o = { .exit_cb = on_exit_cb, .file = d->command, .args = argv, .env = env,
                                   .cwd = d->cwd, .stdio_count = 3, .stdio = stdio,
                                   .flags = UV_PROCESS_DETACHED };
        up->proc.data = up;
        rc = uv_spawn(up->loop, &up->proc, &o);
        up->handles++;
    }
    free(argv);
    free_env(env, d->nenv);
    if (up->stats) count(&up->stats->starts);
    up->started_ms = pt_now_ms();
    if (rc != 0) {
        pt_log_error("MCP server '%s': cannot start '%s': %s", d->name, d->command, uv_strerror(rc));
        if (argv && env) close_handle(up, (uv_handle_t *)&up->proc);
        else up->handles--;
        close_pipes(up);
        set_state(up, PT_MCP_UP_DOWN);
        fail_all(up, false, PT_MCP_UPSTREAM_ERROR, "the MCP server could not be started");
        schedule_restart(up);
        return;
    }
    up->running = true;
    pt_log_info("MCP server '%s' started: %s (pid %d)", d->name, d->command, up->proc.pid);
    uv_read_start((uv_stream_t *)&up->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&up->err, on_alloc, on_read);
    handshake(up);
}

static void on_kill_timer(uv_timer_t *t)
{
    pt_mcp_upstream *up = t->data;
    if (up->running) uv_kill(-up->proc.pid, SIGKILL);
}

/* Stdio shutdown as the specification asks: stdin closed, SIGTERM, SIGKILL after a while. */
static void stop_child(pt_mcp_upstream *up)
{
    if (!up->running) return;
    if (up->pipes_open) close_handle(up, (uv_handle_t *)&up->in);
    uv_kill(-up->proc.pid, SIGTERM);
    uv_timer_start(&up->kill_timer, on_kill_timer, KILL_AFTER_MS, 0);
}

/* ---- HTTP --------------------------------------------------------------------------- */

static void x_head(void *u, int status, const pt_header *hdrs, size_t n, int64_t cl)
{
    pt_mcp_call *call = u;
    call->status = status;
    for (size_t i = 0; i < n; i++) {
        if (pt_slice_case_eq_cstr(hdrs[i].name, "content-type"))
            call->event_stream = hdrs[i].value.len >= 17 && strncasecmp(hdrs[i].value.ptr, "text/event-stream", 17) == 0;
        else if (pt_slice_case_eq_cstr(hdrs[i].name, "mcp-session-id") && !call->session)
            call->session = strndup(hdrs[i].value.ptr, hdrs[i].value.len);
    }
}

/* One event of an HTTP server's stream as a message; false (logged, skipped) when it is none. */
static bool event_message(pt_mcp_upstream *up, const char *data, size_t len, pt_mcp_msg *m)
{
    char why[200];
    json_t *id = NULL;
    if (pt_mcp_parse(data, len, m, &id, why, sizeof why) == 0) return true;
    json_decref(id);
    pt_log_warn("MCP server '%s' sent an event that is not a JSON-RPC message (skipped): %s", up->def->name, why);
    return false;
}

/* One event of a call's event-stream answer: its response, or a message of the server's. */
static int on_call_event(void *arg, const char *data, size_t len)
{
    pt_mcp_call *call = arg;
    pt_mcp_msg m;
    if (!event_message(call->up, data, len, &m)) return 0;
    if (m.kind == PT_MCP_RESPONSE) {
        if (!call->answer && pt_mcp_id_equal(m.id, json_object_get(call->msg, "id"))) call->answer = json_incref(m.root);
    } else {
        from_server(call->up, call, &m);
    }
    pt_mcp_msg_release(&m);
    return call->done ? -1 : 0;
}

static void x_body(void *u, const char *data, size_t n)
{
    pt_mcp_call *call = u;
    if (call->event_stream) {
        pt_mcp_sse_feed(&call->sse, data, n);
        return;
    }
    if (pt_buf_append(&call->body, data, n) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "the answer of MCP server '%s' is larger than %zu bytes", call->up->def->name,
                 call->up->max_message);
        pt__mcp_call_finish(call, NULL, PT_MCP_UPSTREAM_ERROR, msg);
    }
}

/* What a call read of its last answer forgotten, before it is sent again. */
void pt__mcp_http_reset(pt_mcp_call *call)
{
    call->status = 0;
    call->event_stream = false;
    pt_buf_reset(&call->body);
    pt_mcp_sse_release(&call->sse);
    pt_mcp_sse_init(&call->sse, call->up->max_message, on_call_event, call);
    json_decref(call->answer);
    call->answer = NULL;
}

/* The server lost what the gateway knew of it (its session; its era): a new handshake, then
 * call again, once. */
static void after_handshake(pt_mcp_call *call)
{
    call->retried = true;
    call->sent = false;
    call->modern = false; /* decided again when it is sent; a legacy server ignores the _meta */
    pt__mcp_http_reset(call);
    free(call->session);
    call->session = NULL;
    handshake(call->up);
}

/* The server ended a call's event stream before its response (it may, to have the client poll:
 * SEP-1699). The response comes on a GET that resumes the stream after its last event id, once
 * the retry delay the server asked for is over and while the call's own time lasts. */
static bool resume_later(pt_mcp_call *call)
{
    uint64_t left = uv_timer_get_due_in(&call->timer);
    if (!call->sse.last_id[0] || !call->up->session || call->resumes >= RESUMES_MAX || call->sse.retry_ms >= left)
        return false;
    call->resumes++;
    call->retried = true; /* a session lost now fails the call: sending it again would run it twice */
    call->resume_left = left - call->sse.retry_ms;
    uv_timer_start(&call->timer, pt__mcp_call_timer, call->sse.retry_ms, 0);
    return true;
}

static void x_done(void *u)
{
    pt_mcp_call *call = u;
    pt_mcp_upstream *up = call->up;
    call->x = NULL;
    char msg[300];
    bool again = !call->retried && call->id >= 0 && !call->probe && !call->listen && up->state == PT_MCP_UP_READY;
    if (again && call->status == 404 && up->session) {
        pt_log_warn("MCP server '%s' no longer knows the gateway's session; initializing again", up->def->name);
        after_handshake(call);
        return;
    }
    if (call->id < 0) {
        pt__mcp_call_finish(call, NULL, 0, NULL);
        return;
    }
    if (up->def->legacy_sse && call->status >= 200 && call->status < 300) return; /* answered on the stream */
    json_t *refusal = call->status != 200 && call->modern ? pt__mcp_error_body(call) : NULL;
    if (refusal && again && pt__mcp_relearn(call, refusal)) {
        json_decref(refusal);
        return;
    }
    if (refusal) { /* a modern server's 4xx carries a JSON-RPC error: the caller gets it as such */
        pt__mcp_call_finish(call, refusal, 0, NULL);
        json_decref(refusal);
        return;
    }
    if (again && call->modern && call->status >= 400 && call->status < 500) {
        pt_log_warn("MCP server '%s' answered a 2026-07-28 request with HTTP %d and no error of that revision; "
                    "asking which era it speaks again", up->def->name, call->status);
        after_handshake(call);
        return;
    }
    if (again && !call->modern && call->status == 400 && up->session && !up->def->legacy_sse) {
        /* A 2025-era server refuses a request of its session with 400 only when the request
         * is not one it reads (a server of the stateless revision now in its place does) */
        pt_log_warn("MCP server '%s' answered a request of its session with HTTP 400; asking which era it "
                    "speaks again", up->def->name);
        after_handshake(call);
        return;
    }
    if (call->status != 200) {
        snprintf(msg, sizeof msg, "MCP server '%s' answered HTTP %d", up->def->name, call->status);
        pt__mcp_call_finish(call, NULL, PT_MCP_UPSTREAM_ERROR, msg);
        return;
    }
    if (call->session && json_is_object(call->msg) &&
        strcmp(json_string_value(json_object_get(call->msg, "method")), "initialize") == 0) {
        free(up->session);
        up->session = call->session;
        call->session = NULL;
    }
    json_t *id = json_object_get(call->msg, "id");
    char why[200];
    json_t *resp = call->event_stream ? json_incref(call->answer)
                                      : pt_mcp_find_response(call->body.data ? call->body.data : "", call->body.len, false,
                                                             id, why, sizeof why);
    if (!resp && call->event_stream && resume_later(call)) return;
    if (!resp && call->event_stream) snprintf(why, sizeof why, "its event stream ended without the response");
    if (!resp) {
        snprintf(msg, sizeof msg, "MCP server '%s': %s", up->def->name, why);
        pt__mcp_call_finish(call, NULL, PT_MCP_UPSTREAM_ERROR, msg);
        return;
    }
    pt__mcp_call_finish(call, resp, 0, NULL);
    json_decref(resp);
}

static void x_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    pt_mcp_call *call = u;
    pt_mcp_upstream *up = call->up;
    call->x = NULL;
    char msg[300];
    snprintf(msg, sizeof msg, "MCP server '%s' could not be reached: %s", up->def->name,
             pt_upstream_cause_text(pt_upstream_cause_of(err, phase)));
    pt_log_warn("MCP server '%s' (%s): %s", up->def->name, up->def->url, detail ? detail : msg);
    bool was_ready = up->state == PT_MCP_UP_READY;
    if (call->probe) up->probe_unreachable = true;
    pt__mcp_call_finish(call, NULL, PT_MCP_UPSTREAM_ERROR, msg);
    if (was_ready && phase == 0) {
        set_state(up, PT_MCP_UP_DOWN);
        schedule_restart(up);
    }
}

static const pt_exchange_cb http_cb = { .on_head = x_head, .on_body = x_body, .on_done = x_done, .on_error = x_error };

void pt__mcp_http_send(pt_mcp_call *call)
{
    pt_mcp_upstream *up = call->up;
    const pt_mcp_server *d = up->def;
    char *body = json_dumps(call->msg, JSON_COMPACT);
    pt_buf head = PT_BUF_INIT;
    if (!body) goto oom;
    pt_buf_printf(&head, "POST %s HTTP/1.1\r\n", up->post_path ? up->post_path : d->path);
    pt_http_append_host(&head, d->host, d->port, d->tls);
    pt_buf_printf(&head, "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                         "Content-Length: %zu\r\n", strlen(body));
    if (call->modern) {
        if (pt__mcp_modern_head(call, &head) != 0) goto oom;
    } else {
        if (up->session) pt_buf_printf(&head, "Mcp-Session-Id: %s\r\n", up->session);
        if (up->state == PT_MCP_UP_READY) pt_buf_printf(&head, "MCP-Protocol-Version: %s\r\n", up->version);
    }
    if (pt_buf_append_str(&head, "\r\n") != 0) goto oom;
    pt_endpoint ep = { .host = d->host, .port = d->port, .tls = d->tls };
    pt_exchange_opts o = { .connect_timeout_ms = 3000, .first_byte_timeout_ms = d->timeout_ms,
                           .idle_timeout_ms = call->listen ? 0 : d->timeout_ms, .pool_idle_ms = 60000,
                           .pool_max_idle = 16, .has_body = true, .body = body, .body_len = strlen(body), .body_complete = true };
    call->sent = true;
    call->x = pt_exchange_start(up->client, &ep, &o, head.data, head.len, &http_cb, call);
    free(body);
    pt_buf_release(&head);
    if (!call->x) pt__mcp_fail_soon(call, PT_MCP_INTERNAL_ERROR, "the gateway is out of memory");
    return;
oom:
    free(body);
    pt_buf_release(&head);
    pt__mcp_fail_soon(call, PT_MCP_INTERNAL_ERROR, "the gateway is out of memory");
}

static void resume(pt_mcp_call *call)
{
    pt_mcp_upstream *up = call->up;
    const pt_mcp_server *d = up->def;
    pt_buf head = PT_BUF_INIT;
    pt_buf_printf(&head, "GET %s HTTP/1.1\r\n", d->path);
    pt_http_append_host(&head, d->host, d->port, d->tls);
    pt_buf_printf(&head, "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\nMCP-Protocol-Version: %s\r\n"
                         "Last-Event-ID: %s\r\n\r\n", up->session, up->version, call->sse.last_id);
    pt_endpoint ep = { .host = d->host, .port = d->port, .tls = d->tls };
    pt_exchange_opts o = { .connect_timeout_ms = 3000, .first_byte_timeout_ms = d->timeout_ms,
                           .idle_timeout_ms = d->timeout_ms, .pool_idle_ms = 60000, .pool_max_idle = 16,
                           .idempotent = true };
    call->status = 0;
    call->event_stream = false;
    call->x = head.data ? pt_exchange_start(up->client, &ep, &o, head.data, head.len, &http_cb, call) : NULL;
    pt_buf_release(&head);
    if (!call->x) pt__mcp_fail_soon(call, PT_MCP_INTERNAL_ERROR, "the gateway is out of memory");
}

/* ---- HTTP: the GET stream ------------------------------------------------------------ */

void pt__mcp_listen_counted(pt_mcp_upstream *up, bool open)
{
    if (up->listen_open != open && up->stats) atomic_fetch_add(&up->stats->streams, open ? 1 : -1);
    up->listen_open = open;
}

static void listen_stop(pt_mcp_upstream *up)
{
    if (up->listen_x) pt_exchange_cancel(up->listen_x);
    up->listen_x = NULL;
    pt__mcp_listen_counted(up, false);
}

static int on_listen_event(void *arg, const char *data, size_t len)
{
    pt_mcp_upstream *up = arg;
    pt_mcp_msg m;
    if (up->def->legacy_sse && !up->post_path) {
        legacy_endpoint(up, data, len);
        return 0;
    }
    if (!event_message(up, data, len, &m)) return 0;
    if (m.kind != PT_MCP_RESPONSE) {
        from_server(up, NULL, &m);
    } else if (up->def->legacy_sse) {
        pt_mcp_call *call = find_sent(up, m.id);
        if (call) pt__mcp_call_finish(call, m.root, 0, NULL);
    }
    pt_mcp_msg_release(&m);
    return 0;
}

static void l_head(void *u, int status, const pt_header *hdrs, size_t n, int64_t cl)
{
    pt_mcp_upstream *up = u;
    up->listen_status = status;
    bool sse = false;
    for (size_t i = 0; i < n; i++)
        if (pt_slice_case_eq_cstr(hdrs[i].name, "content-type"))
            sse = hdrs[i].value.len >= 17 && strncasecmp(hdrs[i].value.ptr, "text/event-stream", 17) == 0;
    pt__mcp_listen_counted(up, status == 200 && sse);
    if (status != 200 || !sse) {
        up->listen_status = status == 200 ? 415 : status;
        up->listen_off = true;
        pt_log_info("MCP server '%s' offers no GET stream (HTTP %d): list changes it does not send on a call "
                    "are not seen", up->def->name, status);
    }
}

static void l_body(void *u, const char *data, size_t n)
{
    pt_mcp_upstream *up = u;
    if (up->listen_status == 200) pt_mcp_sse_feed(&up->listen_sse, data, n);
}

/* The first event of a legacy server's stream names where to post messages (the
 * `endpoint` event: a path, or a URL on the same server); then the handshake. */
static void legacy_endpoint(pt_mcp_upstream *up, const char *data, size_t len)
{
    const char *p = data;
    size_t n = len;
    const char *scheme = memmem(p, n, "://", 3);
    if (scheme) { /* an absolute URL: its path, on the configured server */
        const char *slash = memchr(scheme + 3, '/', n - (size_t)(scheme + 3 - p));
        n = slash ? n - (size_t)(slash - p) : 0;
        p = slash;
    }
    if (!n || p[0] != '/' || memchr(p, '\r', n) || memchr(p, '\n', n) || memchr(p, ' ', n)) {
        pt_log_error("MCP server '%s': the first event of its stream is not an endpoint: %.*s", up->def->name,
                     (int)(len > 200 ? 200 : len), data);
        listen_stop(up);
        legacy_lost(up);
        return;
    }
    up->post_path = strndup(p, n);
    if (up->post_path) handshake(up);
}

/* A legacy server's stream is its session: when it ends, what it had not answered fails and
 * the server is connected again. */
static void legacy_lost(pt_mcp_upstream *up)
{
    if (!up->def->legacy_sse || up->closing) return;
    pt_log_warn("MCP server '%s': its event stream ended; connecting again", up->def->name);
    free(up->post_path);
    up->post_path = NULL;
    set_state(up, PT_MCP_UP_DOWN);
    char msg[200];
    snprintf(msg, sizeof msg, "MCP server '%s' closed its event stream before answering", up->def->name);
    fail_all(up, false, PT_MCP_UPSTREAM_ERROR, msg);
    schedule_restart(up);
}

static void l_done(void *u)
{
    pt_mcp_upstream *up = u;
    up->listen_x = NULL; /* reopened with the next call */
    pt__mcp_listen_counted(up, false);
    legacy_lost(up);
}

static void l_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    pt_mcp_upstream *up = u;
    up->listen_x = NULL;
    pt__mcp_listen_counted(up, false);
    legacy_lost(up);
}

static const pt_exchange_cb listen_cb = { .on_head = l_head, .on_body = l_body, .on_done = l_done, .on_error = l_error };

/* Opens the GET stream once the session is up (and again after it ended, with the next
 * call): HTTP servers send what belongs to no call there, list changes first of all. */
static void listen_start(pt_mcp_upstream *up)
{
    const pt_mcp_server *d = up->def;
    bool legacy = up->def->legacy_sse;
    if (up->listen_x || up->listen_off || up->closing || (!legacy && (up->state != PT_MCP_UP_READY || !up->session)))
        return;
    pt_buf head = PT_BUF_INIT;
    pt_buf_printf(&head, "GET %s HTTP/1.1\r\n", d->path);
    pt_http_append_host(&head, d->host, d->port, d->tls);
    pt_buf_append_str(&head, "Accept: text/event-stream\r\n");
    if (!legacy) pt_buf_printf(&head, "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: %s\r\n", up->session, up->version);
    pt_buf_append_str(&head, "\r\n");
    pt_endpoint ep = { .host = d->host, .port = d->port, .tls = d->tls };
    pt_exchange_opts o = { .connect_timeout_ms = 3000, .first_byte_timeout_ms = d->timeout_ms, .idle_timeout_ms = 0,
                           .pool_idle_ms = 60000, .pool_max_idle = 16, .idempotent = true };
    pt_mcp_sse_release(&up->listen_sse);
    pt_mcp_sse_init(&up->listen_sse, up->max_message, on_listen_event, up);
    up->listen_status = 0;
    if (head.data) up->listen_x = pt_exchange_start(up->client, &ep, &o, head.data, head.len, &listen_cb, up);
    pt_buf_release(&head);
}

/* ---- sending, starting, restarting --------------------------------------------------- */

void pt__mcp_send_call(pt_mcp_call *call)
{
    pt_mcp_upstream *up = call->up;
    json_t *params = json_object_get(call->msg, "params");
    json_t *meta = json_object_get(params, "_meta");
    /* a caller of the revision sends its own _meta: its capabilities and log level (none: it
     * wants no log messages), which a 2025-era server has no use for */
    bool callers_meta = json_object_get(meta, PT_MCP_META_VERSION) != NULL;
    if (!up->modern && !call->modern && callers_meta) pt_mcp_modern_strip(params, NULL, 0);
    if (up->modern && call->id >= 0 && !call->modern && !pt__mcp_modern_prepare(call)) return;
    if (up->def->url) {
        listen_start(up);
        pt__mcp_http_send(call);
        return;
    }
    call->sent = true;
    pt__mcp_send_line(up, json_incref(call->msg));
    if (call->id < 0) pt__mcp_call_finish(call, NULL, 0, NULL);
}

static void on_restart_timer(uv_timer_t *t)
{
    pt_mcp_upstream *up = t->data;
    if (up->closing) return;
    if (up->def->legacy_sse) {
        listen_stop(up);
        free(up->post_path);
        up->post_path = NULL;
        set_state(up, PT_MCP_UP_STARTING);
        listen_start(up);
        if (!up->listen_x) schedule_restart(up);
    } else if (!up->def->command) {
        handshake(up);
    } else if (up->running || up->handles > 2) { /* the last child's handles are still closing */
        uv_timer_start(&up->restart_timer, on_restart_timer, 10, 0);
    } else {
        spawn(up);
    }
}

static void schedule_restart(pt_mcp_upstream *up)
{
    if (up->closing) return;
    uv_timer_start(&up->restart_timer, on_restart_timer, up->backoff_ms, 0);
    up->backoff_ms = up->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : up->backoff_ms * 2;
}

pt_mcp_upstream *pt_mcp_upstream_new(uv_loop_t *loop, pt_client *client, const pt_mcp_server *def, size_t max_message)
{
    pt_mcp_upstream *up = calloc(1, sizeof *up);
    if (!up) return NULL;
    up->loop = loop;
    up->client = client;
    up->def = def;
    snprintf(up->name, sizeof up->name, "%s", def->name);
    up->max_message = max_message;
    up->stats = pt_mcp_stats_get(def->name);
    up->state = PT_MCP_UP_DOWN;
    up->backoff_ms = BACKOFF_MIN_MS;
    up->next_id = 1;
    /* what the gateway relays to its callers (pt__mcp_input_round): the server's requests for a
     * capability the calling client lacks are refused by the gateway (gateway/mcp_route.c,
     * mcp_mrtr.c) */
    up->caps = json_pack("{s:{}, s:{}, s:{}}", "sampling", "elicitation", "roots");
    pt_mcp_lines_init(&up->out_lines, max_message);
    pt_mcp_lines_init(&up->err_lines, STDERR_LINE_MAX);
    pt_mcp_sse_init(&up->listen_sse, max_message, on_listen_event, up);
    uv_timer_init(loop, &up->restart_timer);
    uv_timer_init(loop, &up->kill_timer);
    up->restart_timer.data = up->kill_timer.data = up;
    up->handles = 2;
    uv_timer_start(&up->restart_timer, on_restart_timer, 0, 0);
    return up;
}

void pt_mcp_upstream_set_def(pt_mcp_upstream *up, const pt_mcp_server *def) { up->def = def; }

void pt_mcp_upstream_free(pt_mcp_upstream *up)
{
    if (!up || up->closing) return;
    up->closing = true;
    set_state(up, PT_MCP_UP_DOWN);
    uv_timer_stop(&up->restart_timer);
    listen_stop(up);
    fail_all(up, false, PT_MCP_UPSTREAM_ERROR, "the MCP server was removed from the configuration");
    if (up->running) {
        stop_child(up);
        close_handle(up, (uv_handle_t *)&up->restart_timer);
        return; /* the kill timer stays until the child is reaped (on_exit_cb closes the rest) */
    }
    close_handle(up, (uv_handle_t *)&up->restart_timer);
    close_handle(up, (uv_handle_t *)&up->kill_timer);
    close_pipes(up);
    maybe_free(up);
}

/* A call of the caller's, not sent yet. */
static pt_mcp_call *call_make(pt_mcp_upstream *up, const char *method, json_t *params, pt_mcp_reply_fn reply,
                              void *arg)
{
    long long id = up->next_id++;
    json_t *msg = pt_mcp_request(id, method, params ? json_deep_copy(params) : NULL);
    pt_mcp_call *call = pt__mcp_call_new(up, msg, id, reply, arg);
    if (!call) return NULL;
    json_t *meta = json_object_get(json_object_get(call->msg, "params"), "_meta");
    json_t *token = json_object_get(meta, "progressToken");
    if (token) {
        call->progress = json_incref(token);
        json_object_set_new(meta, "progressToken", json_integer(id));
    }
    return call;
}

/* Sends the call, or has it wait for the handshake, or fails it soon. */
static void call_launch(pt_mcp_call *call)
{
    pt_mcp_upstream *up = call->up;
    char msg[200];
    if (!call->msg) {
        pt__mcp_fail_soon(call, PT_MCP_INTERNAL_ERROR, "the gateway is out of memory");
    } else if (up->ncalls - (up->subscription ? 1 : 0) > up->def->max_concurrency) {
        if (up->stats) count(&up->stats->busy);
        snprintf(msg, sizeof msg, "MCP server '%s' already has %u calls in flight (max_concurrency)", up->def->name,
                 up->def->max_concurrency);
        pt__mcp_fail_soon(call, PT_MCP_UPSTREAM_ERROR, msg);
    } else if (up->closing) {
        pt__mcp_fail_soon(call, PT_MCP_UPSTREAM_ERROR, "the MCP server was removed from the configuration");
    } else if (up->state == PT_MCP_UP_DOWN && uv_is_active((uv_handle_t *)&up->restart_timer)) {
        snprintf(msg, sizeof msg, "MCP server '%s' is not running (it is being restarted)", up->def->name);
        pt__mcp_fail_soon(call, PT_MCP_UPSTREAM_ERROR, msg);
    } else {
        call->timeout_ms = up->def->timeout_ms;
        uv_timer_start(&call->timer, pt__mcp_call_timer, up->def->timeout_ms, 0);
        if (up->state == PT_MCP_UP_READY) pt__mcp_send_call(call);
    }
}

pt_mcp_call *pt_mcp_upstream_call(pt_mcp_upstream *up, const char *method, json_t *params, pt_mcp_reply_fn reply,
                                  void *arg)
{
    pt_mcp_call *call = call_make(up, method, params, reply, arg);
    if (call) call_launch(call);
    return call;
}

pt_mcp_call *pt_mcp_upstream_call_modern(pt_mcp_upstream *up, const char *method, json_t *params,
                                         json_t *param_headers, pt_mcp_reply_fn reply, void *arg)
{
    pt_mcp_call *call = call_make(up, method, params, reply, arg);
    if (!call) return NULL;
    call->keep_modern = true;
    call->param_headers = json_incref(param_headers);
    call_launch(call);
    return call;
}

void pt_mcp_call_cancel(pt_mcp_call *call)
{
    if (!call || call->done) return;
    call->reply = NULL;
    tell_cancelled(call, "the client cancelled the request or went away");
    pt__mcp_call_finish(call, NULL, 0, NULL);
}

void pt_mcp_upstream_notify(pt_mcp_upstream *up, const char *method, json_t *params)
{
    if (up->modern) return; /* the stateless era has no notifications from client to server but cancels */
    if (up->state != PT_MCP_UP_READY && strcmp(method, "notifications/initialized") != 0) return;
    post_message(up, pt_mcp_request(-1, method, params ? json_deep_copy(params) : NULL));
}

/* Sends a notification or a response (taken): a line to a child, a POST to an HTTP server. */
static void post_message(pt_mcp_upstream *up, json_t *msg)
{
    if (!msg) return;
    if (up->def->command) {
        pt__mcp_send_line(up, msg);
        return;
    }
    pt_mcp_call *call = pt__mcp_call_new(up, msg, -1, NULL, NULL);
    if (!call) return;
    call->timeout_ms = up->def->timeout_ms;
    uv_timer_start(&call->timer, pt__mcp_call_timer, up->def->timeout_ms, 0);
    pt__mcp_http_send(call);
}

void pt_mcp_upstream_answer(pt_mcp_upstream *up, json_t *response)
{
    if (up->modern && pt__mcp_input_answer(up, response)) {
        json_decref(response);
        return;
    }
    if (up->state != PT_MCP_UP_READY || up->modern) { /* a modern server's requests are its input rounds */
        json_decref(response);
        return;
    }
    post_message(up, response);
}

void pt_mcp_upstream_on_notice(pt_mcp_upstream *up, pt_mcp_notice_fn notice, void *arg)
{
    up->notice = notice;
    up->notice_arg = arg;
}

void pt_mcp_upstream_on_ready(pt_mcp_upstream *up, pt_mcp_ready_fn ready, void *arg)
{
    up->ready = ready;
    up->ready_arg = arg;
}

void pt_mcp_call_on_event(pt_mcp_call *call, pt_mcp_event_fn event)
{
    if (call) call->event = event;
}


pt_mcp_up_state pt_mcp_upstream_state(const pt_mcp_upstream *up) { return up->state; }
json_t *pt_mcp_upstream_init_result(const pt_mcp_upstream *up)
{
    return up->state == PT_MCP_UP_READY ? up->init_result : NULL;
}
const pt_mcp_server *pt_mcp_upstream_def(const pt_mcp_upstream *up) { return up->def; }
