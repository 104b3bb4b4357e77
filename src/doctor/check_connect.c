/* check_connect.c: the "connect" check. A non-blocking connect to every resolved address at
 * once, each within the deadline, classified as connected / refused / timeout / reset /
 * unreachable / address not available, with its timing and what it means. On loopback the
 * timing is itself evidence: with no firewall a connect succeeds or is refused within
 * microseconds, so a timeout there means a DROP rule, a full accept queue or a down lo. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/netprobe.h"

#define MAXA 16

/* The clients (from the resolve check's facts) that end on an address that failed: those
 * that try only their first address when it failed, and those none of whose addresses
 * connected. Their names, comma-separated, in out ("" when every client gets through). */
static void clients_stuck(pt_dr_ctx *ctx, const pt_dr_conn *C, size_t n, char *out, size_t outsz)
{
    out[0] = '\0';
    json_t *clients = json_object_get(ctx->facts, "clients");
    if (!json_is_array(clients)) { /* the resolve check did not run: assume the worst */
        snprintf(out, outsz, "clients that use only the first address");
        return;
    }
    size_t i;
    json_t *cl;
    json_array_foreach(clients, i, cl) {
        json_t *addrs = json_object_get(cl, "addresses");
        bool all = json_is_true(json_object_get(cl, "tries_all")), ok = false;
        size_t j;
        json_t *a;
        json_array_foreach(addrs, j, a) {
            if (!all && j > 0) break;
            for (size_t k = 0; k < n && !ok; k++) {
                char txt[INET6_ADDRSTRLEN];
                inet_ntop(C[k].family, C[k].addr, txt, sizeof txt);
                ok = C[k].err == 0 && json_string_value(a) && strcmp(txt, json_string_value(a)) == 0;
            }
        }
        if (ok || json_array_size(addrs) == 0) continue;
        size_t l = strlen(out);
        snprintf(out + l, outsz - l, "%s%s", l ? ", " : "", json_string_value(json_object_get(cl, "name")));
    }
}

static bool is_loopback(const pt_dr_conn *c)
{
    static const unsigned char one[16] = { [15] = 1 };
    return c->family == AF_INET ? c->addr[0] == 127 : memcmp(c->addr, one, 16) == 0;
}

static const char *meaning(const pt_dr_conn *c)
{
    bool lo = is_loopback(c);
    switch (c->err) {
    case 0: return "something accepted the connection";
    case ECONNREFUSED:
        return lo ? "nothing listens on this address and port in this network namespace (or a REJECT rule)"
                  : "the host answered that nothing listens there (or a firewall rejected it)";
    case ETIMEDOUT:
        return lo ? "on loopback only a DROP firewall rule, a full accept queue or a down lo make a connect hang"
                  : "a firewall dropping packets, the host being down, or a wrong address";
    case ECONNRESET: return "the connection was reset during the handshake";
    case EHOSTUNREACH: return "a firewall REJECT with an ICMP error, or a prohibit/unreachable route";
    case ENETUNREACH: return lo ? "no route: lo is down in this namespace" : "no route to this network";
    case EADDRNOTAVAIL:
        return c->family == AF_INET6 && lo ? "IPv6 is disabled on lo, so ::1 does not exist here"
                                           : "no local address to connect from (or no ephemeral port left)";
    case EACCES:
    case EPERM: return "a local firewall or security policy forbade the connection";
    default: return "the connect failed";
    }
}

/* Is lo administratively up in this network namespace? */
static bool loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return true; /* cannot tell: do not accuse lo */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    bool up = ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags & IFF_UP);
    close(fd);
    return up;
}

static bool queue_full(json_t *listeners)
{
    size_t i;
    json_t *o;
    json_array_foreach(listeners, i, o) {
        json_t *b = json_object_get(o, "backlog");
        if (json_is_integer(b) && json_integer_value(json_object_get(o, "accept_queue")) > json_integer_value(b))
            return true;
    }
    return false;
}

static bool has_listener_here(json_t *listeners)
{
    size_t i;
    json_t *o;
    json_array_foreach(listeners, i, o) {
        const char *ns = json_string_value(json_object_get(o, "netns"));
        if (ns && strcmp(ns, "this") == 0) return true;
    }
    return false;
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    if (!pt_dr_need_port(ctx, res)) return;
    json_t *af = json_object_get(ctx->facts, "addresses");
    if (!json_is_array(af) || json_array_size(af) == 0) {
        pt_dr_skip(res, "no address to connect to (the name did not resolve)");
        return;
    }
    pt_dr_conn C[MAXA];
    size_t n = 0, i;
    json_t *o;
    json_array_foreach(af, i, o) {
        const char *text = json_string_value(json_object_get(o, "address"));
        if (!text || n >= MAXA) continue;
        memset(&C[n], 0, sizeof C[n]);
        C[n].family = strchr(text, ':') ? AF_INET6 : AF_INET;
        C[n].port = (uint16_t)ctx->target->port;
        if (inet_pton(C[n].family, text, C[n].addr) == 1) n++;
    }
    pt_dr_connect_all(C, n, ctx->opts->timeout_ms);

    json_t *arr = json_array();
    size_t nconn = 0, nref = 0, ntime = 0, nother = 0;
    const pt_dr_conn *first_ok = NULL, *first_bad = NULL;
    char line[1024] = "";
    for (size_t k = 0; k < n; k++) {
        pt_dr_conn *c = &C[k];
        char a[INET6_ADDRSTRLEN], hp[80];
        inet_ntop(c->family, c->addr, a, sizeof a);
        pt_dr_hostport(a, c->port, hp, sizeof hp);
        json_t *e = json_object();
        json_object_set_new(e, "address", json_string(a));
        json_object_set_new(e, "family", json_string(c->family == AF_INET ? "ipv4" : "ipv6"));
        json_object_set_new(e, "result", json_string(c->result));
        json_object_set_new(e, "errno", c->err ? json_string(pt_dr_errno_name(c->err)) : json_null());
        json_object_set_new(e, "ms", json_real(c->ms));
        json_array_append_new(arr, e);
        if (c->err == 0) {
            nconn++;
            if (!first_ok) {
                first_ok = c;
                json_object_set_new(ctx->facts, "reachable_address", json_string(a));
            }
            pt_dr_detail(res, "%s connected in %.2f ms", hp, c->ms);
        } else {
            if (!first_bad) first_bad = c;
            if (c->err == ECONNREFUSED) nref++;
            else if (c->err == ETIMEDOUT) ntime++;
            else nother++;
            if (c->err == ETIMEDOUT)
                pt_dr_detail(res, "%s: no answer within %u ms: %s", hp, ctx->opts->timeout_ms, meaning(c));
            else
                pt_dr_detail(res, "%s: %s (%s) in %.2f ms: %s", hp, c->result, pt_dr_errno_name(c->err), c->ms,
                             meaning(c));
        }
        size_t l = strlen(line);
        if (l + 100 < sizeof line)
            snprintf(line + l, sizeof line - l, "%s%s %s (%.2f ms)", l ? ", " : "", hp,
                     c->err == ETIMEDOUT ? "timed out" : c->result, c->ms);
    }
    json_object_set_new(ctx->facts, "connect", arr);
    json_object_set(res->evidence, "attempts", arr);
    json_object_set_new(res->evidence, "timeout_ms", json_integer(ctx->opts->timeout_ms));

    json_t *listeners = json_object_get(ctx->facts, "listeners");
    char hp[300];
    pt_dr_hostport(ctx->target->host, ctx->target->port, hp, sizeof hp);
    if (nconn == n) {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s", line);
        return;
    }
    if (nconn) {
        /* Some addresses fail: it matters only for the clients that end on one of them. */
        char stuck[300];
        clients_stuck(ctx, C, n, stuck, sizeof stuck);
        if (!stuck[0]) {
            pt_dr_set(res, PT_DR_INFO, NULL, 0, "%s: every client reaches %s (those that try another address "
                      "first fall back)", line, first_ok ? json_string_value(json_object_get(ctx->facts,
                                                                                       "reachable_address")) : "");
            return;
        }
        pt_dr_set(res, PT_DR_WARN, first_bad->err == ECONNREFUSED ? "connect_refused" : "connect_timeout", 40,
                  "%s; these clients fail: %s", line, stuck);
        return;
    }
    bool lo = is_loopback(first_bad);
    /* On loopback a down lo explains a timeout (address kept) or ENETUNREACH (never up), and it
     * outranks what the other checks say about listeners: nothing can be reached there. */
    if (lo && (ntime || first_bad->err == ENETUNREACH) && !loopback_up()) {
        pt_dr_set(res, PT_DR_FAIL, "loopback_down", 90, "%s: the loopback interface is down", line);
        pt_dr_detail(res, "lo is not up in this network namespace");
        pt_dr_remedy(res, "Bring lo up: `sudo ip link set lo up`");
        return;
    }
    if (ntime) {
        if (queue_full(listeners)) {
            pt_dr_set(res, PT_DR_FAIL, "accept_queue_full", 92, "%s", line);
            pt_dr_detail(res, "the listener's accept queue is full, so the kernel drops new connections to %s", hp);
            pt_dr_remedy(res, "The server process is not calling accept(); see the listeners check for its pid");
        } else {
            pt_dr_set(res, PT_DR_FAIL, "connect_timeout", lo ? 70 : 60, "%s", line);
            if (lo)
                pt_dr_remedy(res, "Look for a DROP rule on lo: `sudo nft list ruleset | grep -n -e drop -e 'dport %ld'` "
                             "or `sudo iptables -S | grep -e DROP -e %ld`", ctx->target->port, ctx->target->port);
            else
                pt_dr_remedy(res, "Check that %s is up and that no firewall between here and there drops port %ld",
                             ctx->target->host, ctx->target->port);
        }
        return;
    }
    if (nref == n) {
        bool listening = json_is_array(listeners) && has_listener_here(listeners);
        pt_dr_set(res, PT_DR_FAIL, "connect_refused", listening ? 60 : 50, "%s", line);
        if (listening)
            pt_dr_detail(res, "a listener exists on port %ld, so the refusal comes from its bind address (see the bind "
                         "check) or a REJECT rule", ctx->target->port);
        return;
    }
    /* ::1 missing outranks what the other checks say about listeners: nothing could listen there. */
    if (lo && first_bad->err == EADDRNOTAVAIL && first_bad->family == AF_INET6) {
        pt_dr_set(res, PT_DR_FAIL, "ipv6_loopback_missing", 90, "%s: ::1 does not exist here (IPv6 is disabled on lo)",
                  line);
        pt_dr_remedy(res, "Use 127.0.0.1 (and make the client resolve localhost to it), or enable IPv6 on lo: "
                     "`sudo sysctl net.ipv6.conf.lo.disable_ipv6=0`");
        return;
    }
    const char *cause = first_bad->err == EADDRNOTAVAIL ? "connect_addr_not_avail"
                        : first_bad->err == EHOSTUNREACH || first_bad->err == ENETUNREACH ? "connect_unreachable"
                        : first_bad->err == ECONNRESET ? "connect_reset" : "connect_error";
    pt_dr_set(res, PT_DR_FAIL, cause, 65, "%s", line);
    if (first_bad->err == EHOSTUNREACH)
        pt_dr_remedy(res, "Look for a REJECT rule: `sudo nft list ruleset | grep -n reject`, and the route: "
                     "`ip route get %s`", ctx->target->host);
}

const pt_dr_check pt_dr_check_connect = {
    .id = "connect",
    .title = "TCP connect to every address",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
