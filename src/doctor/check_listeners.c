/* check_listeners.c: the "listeners" check. Every socket listening on the target port: its
 * address, IPv6-only flag, bound device, accept queue and backlog, and owning process; and,
 * when nothing listens here, listeners on that port in other network namespaces (containers,
 * sandboxes, `ip netns`), which a client in this namespace can never reach. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/listeners.h"
#include "doctor/port_suggest.h"

/* The name `ip netns` knows the namespace of pid by, if any (bind mounts in /run/netns). */
static bool netns_name(int pid, char *out, size_t n)
{
    char path[64];
    struct stat want, st;
    snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
    if (stat(path, &want) < 0) return false;
    DIR *d = opendir("/run/netns");
    if (!d) return false;
    struct dirent *de;
    bool found = false;
    for (int k = 0; k < 4096 && !found && (de = readdir(d)); k++) {
        if (de->d_name[0] == '.') continue;
        char p[300];
        snprintf(p, sizeof p, "/run/netns/%s", de->d_name);
        if (stat(p, &st) == 0 && st.st_ino == want.st_ino && st.st_dev == want.st_dev) {
            snprintf(out, n, "%s", de->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static void describe(pt_dr_result *res, const pt_dr_sock *s, int fd_denied)
{
    char ep[96], owner[600], queue[96];
    pt_dr_sock_endpoint(s, ep, sizeof ep);
    pt_dr_sock_owner(s, fd_denied, owner, sizeof owner);
    if (s->backlog >= 0)
        snprintf(queue, sizeof queue, "accept queue %u of %lld", s->accept_queue, (long long)s->backlog);
    else
        snprintf(queue, sizeof queue, "accept queue %u", s->accept_queue);
    const char *v6 = s->family == AF_INET6 ? (s->v6only == 1 ? ", IPv6 only" : s->v6only == 0 ? ", IPv4 too" : "")
                                           : "";
    pt_dr_detail(res, "%s (%s%s): %s", ep, queue, v6, owner);
}

/* Processes whose command line names the port although nothing listens on it. */
static void starting_or_crashed(pt_dr_result *res, long port)
{
    DIR *proc = opendir("/proc");
    if (!proc) return;
    struct dirent *de;
    int shown = 0;
    char digits[8];
    snprintf(digits, sizeof digits, "%ld", port);
    for (int k = 0; k < 32768 && shown < 3 && (de = readdir(proc)); k++) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        char path[300], cmd[256];
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        size_t got = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        cmd[got] = '\0';
        for (size_t i = 0; i < got; i++)
            if (!cmd[i]) cmd[i] = ' ';
        char *hit = strstr(cmd, digits);
        if (!hit) continue;
        size_t dl = strlen(digits);
        bool whole = (hit == cmd || hit[-1] < '0' || hit[-1] > '9') && (hit[dl] < '0' || hit[dl] > '9');
        if (!whole || atoi(de->d_name) == getpid()) continue;
        if (strstr(cmd, "portico") && strstr(cmd, "doctor")) continue;
        pt_dr_detail(res, "pid %s (%s) names port %ld but does not listen on it: still starting, failed to bind, "
                     "or listening somewhere else", de->d_name, cmd, port);
        shown++;
    }
    closedir(proc);
}

/* Listening ports of this namespace one edit from the target port ("8008" for "8080"). */
static void near_ports(pt_dr_result *res, long port)
{
    pt_dr_socks all = { 0 };
    pt_dr_socks_listening(&all, -1);
    unsigned *ports = calloc(all.n + 1, sizeof *ports);
    for (size_t i = 0; ports && i < all.n; i++) ports[i] = all.v[i].port;
    pt_dr_suggestion sug[4];
    char typed[8];
    snprintf(typed, sizeof typed, "%ld", port);
    size_t n = ports ? pt__dr_port_suggest(typed, ports, all.n, sug, 4) : 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!sug[i].listening || sug[i].distance != 1) continue;
        json_array_append_new(arr, json_integer(sug[i].port));
        pt_dr_detail(res, "port %u, one digit away, is listening: a typo in the port?", sug[i].port);
    }
    json_object_set_new(res->evidence, "listening_nearby", arr);
    json_object_set_new(res->evidence, "listening_sockets_here", json_integer((json_int_t)all.n));
    free(ports);
    pt_dr_socks_release(&all);
}

static void report_other_netns(pt_dr_ctx *ctx, pt_dr_result *res, const pt_dr_socks *other, int fd_denied)
{
    const pt_dr_sock *s = &other->v[0];
    char ep[96], owner[600], name[256] = "";
    pt_dr_sock_endpoint(s, ep, sizeof ep);
    pt_dr_sock_owner(s, fd_denied, owner, sizeof owner);
    bool named = netns_name(s->netns_pid, name, sizeof name);
    for (size_t i = 0; i < other->n; i++) describe(res, &other->v[i], fd_denied);
    pt_dr_detail(res, "found through /proc/%d/net/tcp%s: a different network namespace%s%s%s, so its loopback "
                 "is not yours", s->netns_pid, s->family == AF_INET6 ? "6" : "", named ? " (`ip netns` name " : "",
                 name, named ? ")" : "");
    pt_dr_set(res, PT_DR_FAIL, "listening_other_netns", 90,
              "port %ld listens only in another network namespace: %s inside the namespace of pid %d; "
              "nothing listens on it in this one", ctx->target->port, ep, s->netns_pid);
    json_object_set_new(res->evidence, "netns_pid", json_integer(s->netns_pid));
    json_object_set_new(res->evidence, "netns_name", named ? json_string(name) : json_null());
    char hp[300];
    pt_dr_hostport(ctx->target->host, ctx->target->port, hp, sizeof hp);
    if (named)
        pt_dr_remedy(res, "Run the client in that namespace: `ip netns exec %s curl http://%s/`", name, hp);
    else
        pt_dr_remedy(res, "Run the client in that namespace: `nsenter -t %d -n curl http://%s/` (as root), or "
                     "`docker exec` into the container", s->netns_pid, hp);
    pt_dr_remedy(res, "Or make it reachable from here: publish the port (`docker run -p %ld:%ld ...`), or bind the "
                 "server to 0.0.0.0 inside the namespace and connect to the namespace's own address",
                 ctx->target->port, ctx->target->port);
}

static void report_here(pt_dr_ctx *ctx, pt_dr_result *res, const pt_dr_socks *socks)
{
    const pt_dr_sock *full = NULL, *near = NULL;
    char eps[512] = "";
    for (size_t i = 0; i < socks->n; i++) {
        const pt_dr_sock *s = &socks->v[i];
        describe(res, s, socks->fd_denied);
        if (s->backlog >= 0 && s->accept_queue > s->backlog && !full) full = s;
        if (s->backlog > 0 && s->accept_queue == s->backlog && !near) near = s;
        char ep[96];
        pt_dr_sock_endpoint(s, ep, sizeof ep);
        size_t l = strlen(eps);
        if (l + strlen(ep) + 3 < sizeof eps) snprintf(eps + l, sizeof eps - l, "%s%s", l ? ", " : "", ep);
    }
    const pt_dr_sock *first = &socks->v[0];
    char owner[600];
    pt_dr_sock_owner(first, socks->fd_denied, owner, sizeof owner);
    if (socks->fd_denied && !first->pid)
        pt_dr_detail(res, "(not all processes could be inspected: %d refused access to their open files)",
                     socks->fd_denied);

    const pt_dr_sock *q = full ? full : near;
    if (q) {
        char ep[96];
        pt_dr_sock_endpoint(q, ep, sizeof ep);
        pt_dr_sock_owner(q, socks->fd_denied, owner, sizeof owner);
        pt_dr_set(res, full ? PT_DR_FAIL : PT_DR_WARN, "accept_queue_full", full ? 88 : 50,
                  "%s has %u connections waiting to be accepted with a backlog of %lld: %s is %s accepting them",
                  ep, q->accept_queue, (long long)q->backlog, q->pid ? owner : "its owner",
                  full ? "not" : "barely");
        if (q->pid) {
            pt_dr_remedy(res, "See what pid %d is doing instead of accept(): `cat /proc/%d/status | grep State`, "
                         "`cat /proc/%d/wchan`, or attach a debugger (`gdb -p %d`)", q->pid, q->pid, q->pid, q->pid);
            pt_dr_remedy(res, "Restart it (`kill %d`, then start it again); a server that is busy, blocked or out of "
                         "file descriptors stops accepting", q->pid);
        } else {
            pt_dr_remedy(res, "Find and restart the process that owns %s (`sudo ss -ltnp 'sport = :%u'`)", ep,
                         q->port);
        }
        pt_dr_remedy(res, "If it is only overloaded: raise its listen() backlog (and net.core.somaxconn, now the cap)");
        return;
    }
    if (socks->n == 1)
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s is listening: %s", eps, owner);
    else
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%zu sockets listen on port %ld: %s", socks->n, ctx->target->port, eps);
    /* One process on IPv4, another on IPv6 (an old instance left running): a client reaches
     * one or the other by the family it tries first. */
    for (size_t i = 0; i < socks->n; i++) {
        for (size_t j = 0; j < socks->n; j++) {
            const pt_dr_sock *a = &socks->v[i], *b = &socks->v[j];
            if (a->family != AF_INET || b->family != AF_INET6 || b->v6only == 0) continue;
            if (!a->pid || !b->pid || a->pid == b->pid) continue;
            char ea[96], eb[96];
            pt_dr_sock_endpoint(a, ea, sizeof ea);
            pt_dr_sock_endpoint(b, eb, sizeof eb);
            pt_dr_set(res, PT_DR_FAIL, "port_split_between_processes", 82,
                      "two different processes hold port %u: %s is pid %d (%s), %s is pid %d (%s); a client "
                      "reaches one or the other by the address family it tries first",
                      a->port, ea, a->pid, a->comm, eb, b->pid, b->comm);
            pt_dr_remedy(res, "Stop the one that should not be there (often an old instance still running): `kill %d` "
                         "or `kill %d`; `ps -o pid,lstart,cmd -p %d,%d` shows which started first", a->pid, b->pid,
                         a->pid, b->pid);
            return;
        }
    }
    /* Two processes on one endpoint (SO_REUSEPORT): the kernel splits connections between them. */
    for (size_t i = 0; i < socks->n; i++) {
        for (size_t j = i + 1; j < socks->n; j++) {
            const pt_dr_sock *a = &socks->v[i], *b = &socks->v[j];
            if (a->family != b->family || memcmp(a->addr, b->addr, 16) != 0) continue;
            if (!a->pid || !b->pid || a->pid == b->pid) continue;
            char ep[96];
            pt_dr_sock_endpoint(a, ep, sizeof ep);
            pt_dr_set(res, PT_DR_WARN, "listeners_shared_port", 40,
                      "pids %d and %d both listen on %s (SO_REUSEPORT): connections are split between them",
                      a->pid, b->pid, ep);
            pt_dr_remedy(res, "If one is an old instance still running, stop it: `kill %d` or `kill %d`", a->pid,
                         b->pid);
            return;
        }
    }
}

/* The listeners here only matter when the target is this machine. Without resolved addresses
 * (the name did not resolve) the local table is still shown. */
static bool target_is_here(pt_dr_ctx *ctx, char *first, size_t n)
{
    json_t *af = json_object_get(ctx->facts, "addresses");
    if (!json_is_array(af) || json_array_size(af) == 0) return true;
    size_t i;
    json_t *o;
    json_array_foreach(af, i, o) {
        const char *text = json_string_value(json_object_get(o, "address"));
        unsigned char a[16];
        int family = text && strchr(text, ':') ? AF_INET6 : AF_INET;
        if (!text || inet_pton(family, text, a) != 1) continue;
        if (i == 0) snprintf(first, n, "%s", text);
        if (pt_dr_addr_is_local(family, a)) return true;
    }
    return false;
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    if (!pt_dr_need_port(ctx, res)) return;
    long port = ctx->target->port;
    char first[64] = "";
    if (!target_is_here(ctx, first, sizeof first)) {
        if (strcmp(first, ctx->target->host) == 0)
            pt_dr_skip(res, "%s is not this machine, so its listening sockets cannot be read from here", first);
        else
            pt_dr_skip(res, "%s (%s) is not this machine, so its listening sockets cannot be read from here",
                       ctx->target->host, first);
        return;
    }
    pt_dr_socks socks = { 0 }, other = { 0 };
    int rc = pt_dr_socks_listening(&socks, (int)port);
    json_object_set_new(res->evidence, "source", json_string(socks.source ? socks.source : "none"));
    if (rc < 0 && socks.n == 0) {
        pt_dr_skip(res, "could not read the socket tables (sock_diag and /proc/net/tcp): %s",
                   pt_dr_errno_name(-rc));
        return;
    }
    if (socks.n == 0) pt_dr_socks_other_netns(&other, (int)port, &socks);

    /* One /proc walk for the owners of both lists. */
    pt_dr_socks all = { 0 };
    for (size_t i = 0; i < socks.n; i++) pt_dr_socks_push(&all, &socks.v[i]);
    for (size_t i = 0; i < other.n; i++) pt_dr_socks_push(&all, &other.v[i]);
    pt_dr_socks_find_owners(&all);
    if (socks.n) memcpy(socks.v, all.v, socks.n * sizeof *socks.v);
    if (other.n) memcpy(other.v, all.v + socks.n, other.n * sizeof *other.v);
    socks.fd_denied = other.fd_denied = all.fd_denied;

    json_t *facts = json_array();
    for (size_t i = 0; i < all.n; i++) json_array_append_new(facts, pt_dr_sock_json(&all.v[i]));
    json_object_set_new(ctx->facts, "listeners", facts);
    json_object_set(res->evidence, "listeners", facts);
    json_object_set_new(res->evidence, "fd_dirs_denied", json_integer(all.fd_denied));

    if (socks.n) {
        report_here(ctx, res, &socks);
    } else if (other.n) {
        report_other_netns(ctx, res, &other, all.fd_denied);
    } else {
        near_ports(res, port);
        pt_dr_detail(res, "%s shows no listening socket on port %ld in this network namespace",
                     socks.source ? socks.source : "the socket table", port);
        pt_dr_detail(res, "no other network namespace has one either (read through /proc/PID/net/tcp)");
        starting_or_crashed(res, port);
        pt_dr_set(res, PT_DR_FAIL, "nothing_listening", 85,
                  "nothing listens on TCP port %ld, in this network namespace or any other visible one", port);
        pt_dr_remedy(res, "Start the server on port %ld (check its logs if it exited), then confirm with "
                     "`ss -ltnp 'sport = :%ld'`", port, port);
        pt_dr_remedy(res, "If it runs in a container, publish the port: `docker run -p %ld:%ld ...`", port, port);
    }
    pt_dr_socks_release(&all);
    pt_dr_socks_release(&socks);
    pt_dr_socks_release(&other);
}

const pt_dr_check pt_dr_check_listeners = {
    .id = "listeners",
    .title = "Sockets listening on the port",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
