/* check_bind.c: the "bind" check. Compares the addresses the server listens on with the
 * addresses each kind of client will try (127.0.0.1 vs ::1, a specific interface address, a
 * socket bound to a device), and names the clients that will therefore fail. */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/listeners.h"

#define MAXL 64
#define MAXA 16

/* Rebuilds a listener from its "listeners" fact. */
static bool sock_from_fact(json_t *o, pt_dr_sock *s)
{
    memset(s, 0, sizeof *s);
    const char *fam = json_string_value(json_object_get(o, "family"));
    const char *addr = json_string_value(json_object_get(o, "address"));
    const char *dev = json_string_value(json_object_get(o, "device"));
    json_t *v6 = json_object_get(o, "v6only");
    if (!fam || !addr) return false;
    s->family = strcmp(fam, "ipv4") == 0 ? AF_INET : AF_INET6;
    s->port = (uint16_t)json_integer_value(json_object_get(o, "port"));
    s->v6only = json_is_boolean(v6) ? json_is_true(v6) : -1;
    s->pid = (int)json_integer_value(json_object_get(o, "pid"));
    const char *cmd = json_string_value(json_object_get(o, "command"));
    if (cmd) snprintf(s->cmdline, sizeof s->cmdline, "%s", cmd);
    if (dev) s->ifindex = if_nametoindex(dev);
    if (strcmp(addr, "*") == 0) s->v6only = 0;
    else if (strcmp(addr, "::") != 0 && inet_pton(s->family, addr, s->addr) != 1) return false;
    return true;
}

typedef struct addr_state {
    char text[46];
    int family;
    unsigned char bin[16];
    bool local, accepted;
} addr_state;

static addr_state *find_addr(addr_state *v, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].text, text) == 0) return &v[i];
    return NULL;
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    if (!pt_dr_need_port(ctx, res)) return;
    json_t *lf = json_object_get(ctx->facts, "listeners"), *af = json_object_get(ctx->facts, "addresses");
    json_t *cf = json_object_get(ctx->facts, "clients");
    if (!json_is_array(af)) {
        pt_dr_skip(res, "needs the resolved addresses, which could not be gathered");
        return;
    }
    if (!json_is_array(lf)) {
        pt_dr_skip(res, "the listening sockets were not read (the target is not this machine)");
        return;
    }
    pt_dr_sock L[MAXL];
    size_t nl = 0;
    size_t i;
    json_t *o;
    json_array_foreach(lf, i, o) {
        const char *ns = json_string_value(json_object_get(o, "netns"));
        if (nl < MAXL && (!ns || strcmp(ns, "this") == 0) && sock_from_fact(o, &L[nl])) nl++;
    }
    if (nl == 0) {
        pt_dr_skip(res, "nothing listens on port %ld in this network namespace, so there is no bind address to "
                   "compare", ctx->target->port);
        return;
    }
    addr_state A[MAXA];
    size_t na = 0, nlocal = 0;
    json_array_foreach(af, i, o) {
        const char *text = json_string_value(json_object_get(o, "address"));
        if (!text || na >= MAXA) continue;
        addr_state *a = &A[na];
        memset(a, 0, sizeof *a);
        snprintf(a->text, sizeof a->text, "%s", text);
        a->family = strchr(text, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(a->family, text, a->bin) != 1) continue;
        a->local = pt_dr_addr_is_local(a->family, a->bin);
        for (size_t k = 0; k < nl && a->local; k++)
            if (pt_dr_sock_accepts(&L[k], a->family, a->bin)) a->accepted = true;
        nlocal += a->local;
        na++;
    }
    if (nlocal == 0) {
        pt_dr_skip(res, "%s is not an address of this machine, so the listeners here do not serve it",
                   na ? A[0].text : ctx->target->host);
        return;
    }

    json_t *amap = json_object();
    for (size_t k = 0; k < na; k++)
        if (A[k].local) json_object_set_new(amap, A[k].text, json_boolean(A[k].accepted));
    json_object_set_new(res->evidence, "address_accepted", amap);

    /* Which client families end up with no listener. */
    char failing[512] = "", working[512] = "";
    int nfail = 0, nclients = 0;
    json_t *cl = json_array();
    json_array_foreach(cf, i, o) {
        json_t *addrs = json_object_get(o, "addresses");
        bool tries_all = json_is_true(json_object_get(o, "tries_all"));
        const char *name = json_string_value(json_object_get(o, "name"));
        bool ok = false, first = true;
        size_t j;
        json_t *x;
        json_array_foreach(addrs, j, x) {
            addr_state *a = find_addr(A, na, json_string_value(x));
            bool acc = a && a->accepted;
            if (first || tries_all) ok |= acc;
            first = false;
        }
        nclients++;
        json_t *c = json_object();
        json_object_set_new(c, "name", json_string(name ? name : "?"));
        json_object_set_new(c, "reaches_listener", json_boolean(ok));
        json_array_append_new(cl, c);
        char *dst = ok ? working : failing;
        size_t l = strlen(dst);
        if (l + 200 < sizeof failing) snprintf(dst + l, sizeof failing - l, "%s%s", l ? ", " : "", name ? name : "?");
        nfail += !ok;
    }
    json_object_set_new(res->evidence, "clients", cl);

    char eps[400] = "";
    bool fam4 = false, fam6 = false;
    for (size_t k = 0; k < nl; k++) {
        char ep[96];
        pt_dr_sock_endpoint(&L[k], ep, sizeof ep);
        size_t l = strlen(eps);
        if (l + strlen(ep) + 3 < sizeof eps) snprintf(eps + l, sizeof eps - l, "%s%s", l ? ", " : "", ep);
        static const unsigned char lo4[4] = { 127, 0, 0, 1 }, lo6[16] = { [15] = 1 };
        fam4 |= pt_dr_sock_accepts(&L[k], AF_INET, lo4) || (L[k].family == AF_INET);
        fam6 |= pt_dr_sock_accepts(&L[k], AF_INET6, lo6) || (L[k].family == AF_INET6 && L[k].v6only != 0);
    }
    const addr_state *miss = NULL, *hit = NULL;
    for (size_t k = 0; k < na; k++) {
        if (A[k].local && !A[k].accepted && !miss) miss = &A[k];
        if (A[k].accepted && !hit) hit = &A[k];
    }
    for (size_t k = 0; k < na; k++)
        if (A[k].local) pt_dr_detail(res, "%s: %s", A[k].text, A[k].accepted ? "a listener accepts it" : "no listener accepts it");
    pt_dr_detail(res, "listening: %s", eps);
    if (*failing) pt_dr_detail(res, "clients that fail: %s", failing);
    if (*working) pt_dr_detail(res, "clients that work: %s", working);

    if (!miss) {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "every address clients use reaches a listener (%s)", eps);
        return;
    }
    if (nfail == 0) {
        pt_dr_set(res, PT_DR_INFO, NULL, 0, "%s reaches no listener (%s), but every client also tries %s, which does",
                  miss->text, eps, hit ? hit->text : "another address");
        return;
    }
    /* Family mismatch: nothing of the missing address's family is served at all. */
    bool family = miss->family == AF_INET ? !fam4 : !fam6;
    const char *cause = family ? "bind_family_mismatch" : "bind_other_address";
    const pt_dr_sock *owner = &L[0];
    char ep0[96];
    pt_dr_sock_endpoint(owner, ep0, sizeof ep0);
    if (nfail == nclients)
        pt_dr_set(res, PT_DR_FAIL, cause, 88, "the server listens on %s only, not on %s, so every client fails", eps,
                  miss->text);
    else
        pt_dr_set(res, PT_DR_FAIL, cause, 82, "the server listens on %s only, not on %s: %s fail; %s work", eps,
                  miss->text, failing, working);
    const char *scheme = ctx->target->scheme ? ctx->target->scheme : "";
    const char *path = ctx->target->scheme && ctx->target->path ? ctx->target->path : "";
    char who[64] = "";
    if (owner->pid) snprintf(who, sizeof who, "pid %d", owner->pid);
    else snprintf(who, sizeof who, "the server");
    if (family && miss->family == AF_INET)
        pt_dr_remedy(res, "Make %s%s%s%s listen on IPv4 too: bind it to '::' with IPV6_V6ONLY off (dual-stack), or "
                     "to 0.0.0.0 (or 127.0.0.1) as well as %s", who, owner->cmdline[0] ? " (" : "", owner->cmdline,
                     owner->cmdline[0] ? ")" : "", ep0);
    else if (family)
        pt_dr_remedy(res, "Make %s%s%s%s listen on IPv6 too: bind it to '::' (dual-stack) instead of %s, or to ::1 "
                     "as well", who, owner->cmdline[0] ? " (" : "", owner->cmdline, owner->cmdline[0] ? ")" : "", ep0);
    else
        pt_dr_remedy(res, "Make %s%s%s%s listen on the address clients use (%s), or on every address (0.0.0.0 / '::'; "
                     "mind the exposure)", who, owner->cmdline[0] ? " (" : "", owner->cmdline,
                     owner->cmdline[0] ? ")" : "", miss->text);
    if (hit) {
        char hp[96];
        pt_dr_hostport(hit->text, ctx->target->port, hp, sizeof hp);
        pt_dr_remedy(res, "Or point the client at an address that works: %s%s%s%s", scheme, *scheme ? "://" : "", hp,
                     path);
    } else {
        for (size_t k = 0; k < nl; k++) {
            if (L[k].family == AF_INET6 && L[k].v6only != 0 && !memcmp(L[k].addr, (unsigned char[16]){ 0 }, 16)) continue;
            char a[64], hp[96];
            pt_dr_sock_addr(&L[k], a, sizeof a);
            if (strcmp(a, "*") == 0 || strcmp(a, "0.0.0.0") == 0) continue;
            pt_dr_hostport(a, ctx->target->port, hp, sizeof hp);
            pt_dr_remedy(res, "Or point the client at the address the server listens on: %s%s%s%s", scheme,
                         *scheme ? "://" : "", hp, path);
            break;
        }
    }
    if (miss->family == AF_INET6 && strcmp(ctx->target->host, miss->text) != 0)
        pt_dr_remedy(res, "Node.js 17-19 tries only the first address (often ::1): upgrade to Node.js 20, or run it with "
                     "--dns-result-order=ipv4first");
}

const pt_dr_check pt_dr_check_bind = {
    .id = "bind",
    .title = "Bind address vs client address",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
