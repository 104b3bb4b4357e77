/* check_unresponsive.c: the doctor's "unresponsive" check: a service that accepts connections
 * but never answers. Tells the two causes apart: a full (or growing) accept queue means the
 * app is not calling accept() at all, so the kernel completes handshakes on its behalf; an empty
 * queue with a request left unanswered means the app accepted and its handler hangs. Reads
 * the listener's queue before and after its own probe, and the owner's state from /proc. */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "doctor/check.h"
#include "doctor/listeners.h"
#include "doctor/probe_net.h"

/* The listener of interest: one that takes connections to addr (when known) on the port. */
static const pt_dr_sock *pick_listener(const pt_dr_socks *s, const char *addr)
{
    unsigned char a[16];
    int fam = 0;
    if (addr && inet_pton(AF_INET, addr, a) == 1) fam = AF_INET;
    else if (addr && inet_pton(AF_INET6, addr, a) == 1) fam = AF_INET6;
    const pt_dr_sock *best = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const pt_dr_sock *x = &s->v[i];
        if (x->other_netns) continue;
        if (fam && pt_dr_sock_accepts(x, fam, a)) return x;
        /* Without an address, the one with the most waiting connections is the suspect. */
        if (!best || x->accept_queue > best->accept_queue) best = x;
    }
    return fam ? NULL : best;
}

static bool queue_full(const pt_dr_sock *x)
{
    return x && x->backlog >= 0 && x->accept_queue > 0 && (int64_t)x->accept_queue >= x->backlog;
}

/* Reads one "Key:\tvalue" line of /proc/PID/status. */
static void proc_status_field(int pid, const char *key, char *out, size_t outsz)
{
    char path[64], line[256];
    out[0] = '\0';
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t kl = strlen(key);
    for (int i = 0; i < 80 && fgets(line, sizeof line, f); i++) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            char *v = line + kl + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(out, outsz, "%s", v);
            break;
        }
    }
    fclose(f);
}

/* Evidence about the owning process; returns a one-line description for the summary. */
static void owner_evidence(const pt_dr_sock *x, int fd_denied, json_t *ev, char *who, size_t whosz,
                           char *state, size_t statesz)
{
    state[0] = '\0';
    pt_dr_sock_owner(x, fd_denied, who, whosz);
    if (x->pid <= 0) return;
    char threads[32];
    proc_status_field(x->pid, "State", state, statesz);
    proc_status_field(x->pid, "Threads", threads, sizeof threads);
    json_t *o = json_object();
    json_object_set_new(o, "pid", json_integer(x->pid));
    json_object_set_new(o, "command", json_string(x->cmdline[0] ? x->cmdline : x->comm));
    if (state[0]) json_object_set_new(o, "state", json_string(state));
    if (threads[0]) json_object_set_new(o, "threads", json_string(threads));
    json_object_set_new(ev, "owner", o);
}

/* Sends a request and waits for the first byte. Returns the read outcome; *ms the wait. */
static pt_dr_read_outcome probe_once(pt_dr_ctx *ctx, const char *addr, double *ms, char *err, size_t errsz)
{
    const pt_dr_target *t = ctx->target;
    pt_dr_conn c;
    pt_buf req = PT_BUF_INIT, reply;
    pt_buf_init(&reply, 1024);
    char auth[300];
    pt_dr_read_outcome o = PT_DR_RD_ERROR;
    uint64_t dl = pt__dr_deadline(ctx->opts->timeout_ms);
    *ms = 0;
    if (pt__dr_conn_open(&c, addr, t->port, false, NULL, dl, err, errsz) != 0) goto out;
    pt__dr_authority(t->host, t->port, auth, sizeof auth);
    /* A TLS port gets a ClientHello from the tls check; here a plain request is enough to see
     * whether anything comes back at all. */
    pt_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: portico-doctor\r\nConnection: close\r\n\r\n",
                  t->path ? t->path : "/", auth);
    uint64_t t0 = pt_now_us();
    if (pt__dr_conn_write(&c, pt_buf_slice(&req), dl) == 0)
        o = pt__dr_read_reply(&c, &reply, 1024, pt__dr_deadline(ctx->opts->timeout_ms), 10);
    *ms = pt_dr_ms_since(t0);
    pt__dr_conn_close(&c);
out:
    pt_buf_release(&req);
    pt_buf_release(&reply);
    return o;
}

static void queue_json(json_t *ev, const char *key, const pt_dr_sock *x)
{
    if (!x) return;
    char ep[96];
    pt_dr_sock_endpoint(x, ep, sizeof ep);
    json_object_set_new(ev, key, json_pack("{s:s,s:i,s:I}", "listener", ep, "accept_queue", (int)x->accept_queue,
                                           "backlog", (json_int_t)x->backlog));
}

static void not_accepting(pt_dr_result *res, const pt_dr_sock *x, int fd_denied, json_t *ev, bool full,
                          const char *how)
{
    char who[400], state[64], ep[96];
    pt_dr_sock_endpoint(x, ep, sizeof ep);
    owner_evidence(x, fd_denied, ev, who, sizeof who, state, sizeof state);
    pt_dr_set(res, PT_DR_FAIL, "accept_queue_full", full ? 95 : 88,
              "%s has %u connection%s waiting in its accept queue (backlog %lld)%s: the app is not calling "
              "accept(); %s", ep, x->accept_queue, x->accept_queue == 1 ? "" : "s", (long long)x->backlog,
              full ? ", which is full" : "", how);
    if (x->pid > 0) {
        pt_dr_remedy(res, "The app is not calling accept(): PID %d (%s) is stuck or overloaded%s%s%s.", x->pid,
                     x->cmdline[0] ? x->cmdline : x->comm, state[0] ? " (state: " : "", state, state[0] ? ")" : "");
        if (strncmp(state, "T", 1) == 0)
            pt_dr_remedy(res, "It is stopped (Ctrl-Z or SIGSTOP): resume it with kill -CONT %d, or fg in its "
                         "terminal.", x->pid);
        pt_dr_remedy(res, "Look at what it is doing: cat /proc/%d/wchan; gdb -p %d -batch -ex 'thread apply all bt' "
                     "(or py-spy dump --pid %d, or node --inspect); compare open files with its limit: "
                     "ls /proc/%d/fd | wc -l; grep 'open files' /proc/%d/limits. Restart it if it is stuck.",
                     x->pid, x->pid, x->pid, x->pid, x->pid);
    } else {
        pt_dr_remedy(res, "The app is not calling accept(): the process owning %s (%s) is stuck or overloaded; "
                     "find it with sudo ss -ltnp 'sport = :%u' and look at its stack (gdb -p PID).", ep, who, x->port);
    }
}

/* The request was answered, after the doctor's timeout: slow, not hung. */
static void slow_answer(pt_dr_ctx *ctx, pt_dr_result *res, const char *addr, json_t *hr)
{
    const pt_dr_target *t = ctx->target;
    json_int_t ms = json_integer_value(json_object_get(hr, "answer_ms"));
    unsigned suggest = (unsigned)((ms / 1000 + 1) * 1000); /* the next whole second above the answer */
    pt_dr_set(res, PT_DR_WARN, "slow_response", 70,
              "%s port %ld answered a request only after %lld ms, more than the --timeout of %u ms: the server is "
              "slow, not hung", addr, t->port, (long long)ms, ctx->opts->timeout_ms);
    pt_dr_detail(res, "the request's connection was kept open after the timeout and the answer came at %lld ms", (long long)ms);
    pt_dr_remedy(res, "Rerun with --timeout %u so every check waits that long (the HTTP checks gave up at %u ms).",
                 suggest, ctx->opts->timeout_ms);
    pt_dr_remedy(res, "Clients with a shorter timeout fail the same way (curl --max-time, a proxy's read timeout, an "
                 "SDK's default); if it should be faster, look at what the handler waits for (a database, an upstream "
                 "call, a lock).");
}

/* Every probe's bytes were read and none answered: a protocol where the client speaks first and
 * waits for more than was sent. Not a hang; for an HTTP URL, not an HTTP server (one answers a
 * request it cannot parse at once, with 400). */
static void waits_for_more(pt_dr_ctx *ctx, pt_dr_result *res, const char *addr, json_t *hr)
{
    const pt_dr_target *t = ctx->target;
    json_int_t waited = json_integer_value(json_object_get(hr, "waited_ms"));
    pt_dr_detail(res, "the server read everything each probe sent (its receive queue is empty) and answered nothing "
                 "in %lld ms", (long long)waited);
    if (t->mode & (PT_DR_MODE_HTTP | PT_DR_MODE_MCP)) {
        pt_dr_set(res, PT_DR_FAIL, "protocol_not_http", 70,
                  "%s port %ld reads what is sent and waits for more without answering, even to a request it cannot "
                  "parse, as no HTTP server does: it speaks a protocol where the client goes first, not HTTP",
                  addr, t->port);
        pt_dr_remedy(res, "Point the client at the port the HTTP server listens on (ss -ltnp lists the listening "
                     "ports and their owners); this one belongs to another service.");
    } else {
        pt_dr_set(res, PT_DR_INFO, NULL, 0,
                  "%s port %ld reads what is sent and waits for more (%lld ms): it is not hung, it speaks a protocol "
                  "where the client goes first, which the doctor does not know", addr, t->port, (long long)waited);
    }
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    char cause_why[600];
    const pt_dr_target *t = ctx->target;
    if (!pt_dr_need_port(ctx, res)) return;
    json_t *ev = pt__dr_evidence(res);
    char addr[64] = "", why[256] = "";
    int have = pt__dr_probe_address(ctx, addr, sizeof addr, why, sizeof why);

    pt_dr_socks before = { 0 }, after = { 0 };
    bool socks_ok = pt_dr_socks_listening(&before, (int)t->port) == 0;
    const pt_dr_sock *x = socks_ok ? pick_listener(&before, have > 0 ? addr : NULL) : NULL;
    queue_json(ev, "queue_before", x);

    if (queue_full(x)) {
        pt_dr_socks_find_owners(&before); /* scans /proc: only when there is something to report */
        not_accepting(res, x, before.fd_denied, ev, true,
                      have > 0 ? "new connections complete in the kernel and then wait forever"
                               : "new connections time out because the kernel drops their SYN");
        goto out;
    }
    if (have <= 0) {
        pt_dr_skip(res, "%s", why);
        goto out;
    }
    const char *proto = json_string_value(json_object_get(ctx->facts, "protocol"));
    json_t *hr = json_object_get(ctx->facts, "http_request");
    double waited = 0;
    pt_dr_read_outcome o;
    if (hr) json_object_set(ev, "http_request", hr);
    if (hr && json_is_integer(json_object_get(hr, "answer_ms"))) {
        slow_answer(ctx, res, addr, hr);
        goto out;
    }
    if (hr && proto && strcmp(proto, "silent") != 0) {
        const char *other = json_string_value(json_object_get(hr, "other_answer"));
        snprintf(cause_why, sizeof cause_why, "while it answers other requests at once (%s): the server is up and its handler "
                 "for this request blocks", other ? other : proto);
        waited = (double)json_integer_value(json_object_get(hr, "waited_ms"));
        goto hung;
    }
    if (hr && proto && json_is_true(json_object_get(hr, "every_probe_read"))) {
        waits_for_more(ctx, res, addr, hr);
        goto out;
    }
    if (proto && strcmp(proto, "silent") != 0) {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s port %ld answers (%s)", addr, t->port, proto);
        goto out;
    }
    if (proto) { /* the protocol check already waited on an open connection */
        o = PT_DR_RD_SILENT;
        waited = (double)json_integer_value(json_object_get(ctx->facts, "silent_ms"));
    } else {
        char err[200] = "";
        o = probe_once(ctx, addr, &waited, err, sizeof err);
        json_object_set_new(ev, "probe", json_pack("{s:s,s:f}", "outcome", pt__dr_read_outcome_name(o), "ms", waited));
        if (o == PT_DR_RD_ERROR) {
            pt_dr_skip(res, "%s", err[0] ? err : "the probe failed");
            goto out;
        }
    }
    if (o != PT_DR_RD_SILENT) {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s port %ld answers (%s within %.0f ms)", addr, t->port,
                  o == PT_DR_RD_DATA ? "first byte" : "closed", waited);
        goto out;
    }
    /* Silent. Did our connections pile up in the queue (not accepted) or get accepted? */
    if (socks_ok && pt_dr_socks_listening(&after, (int)t->port) == 0) {
        pt_dr_socks_find_owners(&after);
        const pt_dr_sock *y = pick_listener(&after, addr);
        queue_json(ev, "queue_after", y);
        if (y && y->accept_queue > 0 && (!x || y->accept_queue >= x->accept_queue)) {
            not_accepting(res, y, after.fd_denied, ev, queue_full(y),
                          "the connections this doctor made are still waiting in the queue");
            goto out;
        }
        x = y ? y : x;
    }
    snprintf(cause_why, sizeof cause_why, "%s", "so the app accepted it and its handler hangs");
hung:
    if (x && x >= before.v && x < before.v + before.n) pt_dr_socks_find_owners(&before);
    char who[400] = "", state[64] = "";
    if (x) owner_evidence(x, before.fd_denied, ev, who, sizeof who, state, sizeof state);
    json_object_set_new(ev, "silent_ms", json_integer((json_int_t)waited));
    json_t *unread = hr ? json_object_get(hr, "unread_bytes") : NULL;
    if (json_is_integer(unread))
        pt_dr_detail(res, "%s", json_integer_value(unread) == 0
                                    ? "the server read the whole request (its receive queue is empty)"
                                    : "the server has not read the request (it waits in its receive queue): the "
                                      "thread or event loop that should read it is blocked");
    pt_dr_set(res, PT_DR_FAIL, "handler_hung", 82,
              "%s port %ld accepts connections (accept queue empty) but sent no byte within %.0f ms of a request, %s",
              addr, t->port, waited, cause_why);
    if (!hr || !json_is_integer(json_object_get(hr, "answer_ms")))
        pt_dr_remedy(res, "If it is only slow, a longer wait tells: rerun with --timeout %u.",
                     ctx->opts->timeout_ms * 5);
    if (x && x->pid > 0)
        pt_dr_remedy(res, "PID %d (%s)%s%s%s accepts but never answers: a request handler is blocked (a slow "
                     "database or upstream call, a lock, synchronous work on an event loop), or it waits for a "
                     "different protocol to speak first. Look: cat /proc/%d/wchan; gdb -p %d -batch -ex "
                     "'thread apply all bt' (or py-spy dump --pid %d); its log.",
                     x->pid, x->cmdline[0] ? x->cmdline : x->comm, state[0] ? " (state: " : "", state,
                     state[0] ? ")" : "", x->pid, x->pid, x->pid);
    else
        pt_dr_remedy(res, "The server accepts but never answers: a request handler is blocked (a slow database or "
                     "upstream call, a lock, synchronous work on an event loop), or it waits for a different "
                     "protocol to speak first. Check the server's log and its threads' stacks.");
out:
    pt_dr_socks_release(&before);
    pt_dr_socks_release(&after);
}

const pt_dr_check pt_dr_check_unresponsive = {
    .id = "unresponsive",
    .title = "Accepts but never answers",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
