/* check_resolve.c: the "resolve" check. What the host name means to each kind of client:
 * glibc with and without AI_ADDRCONFIG, Node.js (IPv6-first since 17, falling back since 20),
 * Go (reads /etc/hosts itself), curl and browsers (localhost built in as 127.0.0.1 and ::1),
 * and what /etc/hosts says. Lookups run asynchronously so the deadline holds even when DNS
 * hangs. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/resolve.h"

#define MAX_ADDRS 16

static void list_add(pt_dr_addrlist *l, int family, const void *addr)
{
    if (l->n >= PT_DR_ADDRS_MAX) return;
    size_t len = family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].family == family && memcmp(l->v[i].addr, addr, len) == 0) return;
    pt_dr_addr *a = &l->v[l->n++];
    memset(a, 0, sizeof *a);
    a->family = family;
    memcpy(a->addr, addr, len);
    inet_ntop(family, addr, a->text, sizeof a->text);
}

static void list_from_ai(pt_dr_addrlist *l, const struct addrinfo *ai)
{
    for (; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            list_add(l, AF_INET, &((const struct sockaddr_in *)ai->ai_addr)->sin_addr);
        else if (ai->ai_family == AF_INET6)
            list_add(l, AF_INET6, &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
    }
}

bool pt__dr_is_localhost_name(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.') n--; /* "localhost." */
    if (n == 9 && strncasecmp(host, "localhost", 9) == 0) return true;
    return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}

int pt__dr_hosts_lookup(const char *path, const char *host, pt_dr_addrlist *out)
{
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    char line[1024];
    for (int k = 0; k < 100000 && fgets(line, sizeof line, f); k++) {
        line[strcspn(line, "#\n")] = '\0';
        char *save = NULL, *addr = strtok_r(line, " \t", &save);
        if (!addr) continue;
        unsigned char bin[16];
        int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(family, addr, bin) != 1) continue;
        for (char *name = strtok_r(NULL, " \t", &save); name; name = strtok_r(NULL, " \t", &save))
            if (strcasecmp(name, host) == 0) list_add(out, family, bin);
    }
    fclose(f);
    return 0;
}

static bool is_loopback(const pt_dr_addr *a)
{
    if (a->family == AF_INET) return a->addr[0] == 127;
    static const unsigned char one[16] = { [15] = 1 };
    return memcmp(a->addr, one, 16) == 0;
}

/* Is ::1 configured on lo? /proc/net/if_inet6 lists it when IPv6 loopback works. */
static bool ipv6_loopback_up(void)
{
    FILE *f = fopen("/proc/net/if_inet6", "re");
    if (!f) return false;
    char line[256];
    bool up = false;
    for (int k = 0; k < 10000 && fgets(line, sizeof line, f); k++)
        if (strncmp(line, "00000000000000000000000000000001", 32) == 0) up = true;
    fclose(f);
    return up;
}

static void nsswitch_hosts(char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen("/etc/nsswitch.conf", "re");
    if (!f) return;
    char line[256];
    for (int k = 0; k < 1000 && fgets(line, sizeof line, f); k++) {
        if (strncmp(line, "hosts:", 6) != 0) continue;
        char *v = line + 6;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "#\n")] = '\0';
        snprintf(out, n, "%s", v);
    }
    fclose(f);
}

/* Both lookups at once, within the deadline. gai_error stays EAI_INPROGRESS for a lookup that
 * did not finish; its request then cannot be freed (glibc may still write to it) and is left
 * to process exit, which comes within seconds. */
typedef struct lookup {
    struct gaicb cb[2];
    struct addrinfo hints[2];
    int err[2];
} lookup;

static lookup *lookup_run(const char *host, unsigned timeout_ms)
{
    lookup *L = calloc(1, sizeof *L);
    if (!L) return NULL;
    struct gaicb *list[2] = { &L->cb[0], &L->cb[1] };
    for (int i = 0; i < 2; i++) {
        L->hints[i].ai_family = AF_UNSPEC;
        L->hints[i].ai_socktype = SOCK_STREAM;
        L->hints[i].ai_flags = i == 0 ? 0 : (AI_ADDRCONFIG | AI_V4MAPPED);
        L->cb[i].ar_name = host;
        L->cb[i].ar_request = &L->hints[i];
    }
    if (getaddrinfo_a(GAI_NOWAIT, list, 2, NULL) != 0) {
        /* Could not start threads: fall back to blocking lookups. */
        for (int i = 0; i < 2; i++) L->err[i] = getaddrinfo(host, NULL, &L->hints[i], &L->cb[i].ar_result);
        return L;
    }
    uint64_t deadline = pt_now_ms() + timeout_ms;
    for (int rounds = 0; rounds < 1000; rounds++) {
        bool pending = gai_error(&L->cb[0]) == EAI_INPROGRESS || gai_error(&L->cb[1]) == EAI_INPROGRESS;
        uint64_t now = pt_now_ms();
        if (!pending || now >= deadline) break;
        uint64_t left = deadline - now;
        struct timespec ts = { (time_t)(left / 1000), (long)(left % 1000) * 1000000L };
        gai_suspend((const struct gaicb *const *)list, 2, &ts);
    }
    for (int i = 0; i < 2; i++) {
        L->err[i] = gai_error(&L->cb[i]);
        if (L->err[i] == EAI_INPROGRESS) gai_cancel(&L->cb[i]);
    }
    return L;
}

static void lookup_free(lookup *L)
{
    if (!L) return;
    for (int i = 0; i < 2; i++)
        if (L->err[i] == 0 && L->cb[i].ar_result) freeaddrinfo(L->cb[i].ar_result);
    if (L->err[0] == EAI_INPROGRESS || L->err[1] == EAI_INPROGRESS) return; /* see lookup_run */
    free(L);
}

static json_t *list_json(const pt_dr_addrlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) json_array_append_new(a, json_string(l->v[i].text));
    return a;
}

static void list_text(const pt_dr_addrlist *l, char *out, size_t n)
{
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < l->n && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", l->v[i].text);
    if (l->n == 0) snprintf(out, n, "nothing");
}

static void add_client(json_t *clients, const char *name, const pt_dr_addrlist *l, bool tries_all)
{
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "addresses", list_json(l));
    json_object_set_new(c, "tries_all", json_boolean(tries_all));
    json_array_append_new(clients, c);
}

static bool in_list(const pt_dr_addrlist *l, const pt_dr_addr *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].family == a->family && memcmp(l->v[i].addr, a->addr, 16) == 0) return true;
    return false;
}

static void add_fact_addrs(json_t *arr, const pt_dr_addrlist *l, const char *source, const pt_dr_addrlist *hosts,
                           pt_dr_addrlist *seen)
{
    for (size_t i = 0; i < l->n; i++) {
        if (in_list(seen, &l->v[i])) continue;
        list_add(seen, l->v[i].family, l->v[i].addr);
        json_t *o = json_object();
        json_object_set_new(o, "family", json_string(l->v[i].family == AF_INET ? "ipv4" : "ipv6"));
        json_object_set_new(o, "address", json_string(l->v[i].text));
        const char *src = source ? source : in_list(hosts, &l->v[i]) ? "hosts" : "dns";
        json_object_set_new(o, "source", json_string(src));
        json_array_append_new(arr, o);
    }
}

static void run_literal(pt_dr_ctx *ctx, pt_dr_result *res, int family, const unsigned char *bin)
{
    pt_dr_addrlist l = { 0 };
    list_add(&l, family, bin);
    json_t *addrs = json_array(), *clients = json_array();
    pt_dr_addrlist seen = { 0 };
    add_fact_addrs(addrs, &l, "literal", &seen, &seen);
    add_client(clients, "every client", &l, true);
    json_object_set_new(ctx->facts, "addresses", addrs);
    json_object_set_new(ctx->facts, "clients", clients);
    json_object_set_new(res->evidence, "literal", json_string(l.v[0].text));
    pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s is an IP address: every client uses it as is", l.v[0].text);
    if (family == AF_INET6 && is_loopback(&l.v[0]) && !ipv6_loopback_up()) {
        json_object_set_new(res->evidence, "ipv6_loopback", json_false());
        pt_dr_set(res, PT_DR_WARN, "ipv6_loopback_missing", 60,
                  "::1 is not configured on lo (IPv6 is disabled here), so nothing can connect to it");
        pt_dr_remedy(res, "Use 127.0.0.1, or enable IPv6 on lo: `sysctl net.ipv6.conf.lo.disable_ipv6=0`");
    }
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    const char *host = ctx->target->host;
    if (!host) {
        pt_dr_skip(res, "no host to resolve");
        return;
    }
    unsigned char bin[16];
    if (inet_pton(AF_INET, host, bin) == 1) {
        run_literal(ctx, res, AF_INET, bin);
        return;
    }
    if (inet_pton(AF_INET6, host, bin) == 1) {
        run_literal(ctx, res, AF_INET6, bin);
        return;
    }

    pt_dr_addrlist plain = { 0 }, addrconfig = { 0 }, hosts = { 0 }, builtin = { 0 };
    bool local = pt__dr_is_localhost_name(host);
    int hosts_rc = pt__dr_hosts_lookup("/etc/hosts", host, &hosts);
    uint64_t t0 = pt_now_us();
    lookup *L = lookup_run(host, ctx->opts->timeout_ms);
    double ms = pt_dr_ms_since(t0);
    if (L && L->err[0] == 0) list_from_ai(&plain, L->cb[0].ar_result);
    if (L && L->err[1] == 0) list_from_ai(&addrconfig, L->cb[1].ar_result);
    if (local) {
        static const unsigned char lo4[4] = { 127, 0, 0, 1 }, lo6[16] = { [15] = 1 };
        list_add(&builtin, AF_INET, lo4);
        list_add(&builtin, AF_INET6, lo6);
    }

    char nss[256];
    nsswitch_hosts(nss, sizeof nss);
    json_t *ev = res->evidence;
    json_object_set_new(ev, "getaddrinfo", list_json(&plain));
    json_object_set_new(ev, "getaddrinfo_addrconfig", list_json(&addrconfig));
    json_object_set_new(ev, "etc_hosts", hosts_rc == 0 ? list_json(&hosts) : json_null());
    json_object_set_new(ev, "nsswitch_hosts", nss[0] ? json_string(nss) : json_null());
    json_object_set_new(ev, "ipv6_loopback", json_boolean(ipv6_loopback_up()));
    json_object_set_new(ev, "ms", json_real(ms));
    if (L && L->err[0] && L->err[0] != EAI_INPROGRESS)
        json_object_set_new(ev, "error", json_string(gai_strerror(L->err[0])));

    /* Go reads /etc/hosts itself before DNS. */
    const pt_dr_addrlist *go = hosts.n ? &hosts : &plain;
    json_t *clients = json_array();
    add_client(clients, "Python/Ruby/Java/C (glibc)", &plain, true);
    add_client(clients, "Node.js 20+", &addrconfig, true);
    add_client(clients, "Node.js 17-19", &addrconfig, false);
    add_client(clients, "Go", go, true);
    if (local) add_client(clients, "curl and browsers", &builtin, true);
    else add_client(clients, "curl and browsers", &addrconfig, true);
    json_object_set_new(ctx->facts, "clients", clients);

    json_t *addrs = json_array();
    pt_dr_addrlist seen = { 0 };
    add_fact_addrs(addrs, &addrconfig, NULL, &hosts, &seen);
    add_fact_addrs(addrs, &plain, NULL, &hosts, &seen);
    add_fact_addrs(addrs, &hosts, "hosts", &hosts, &seen);
    add_fact_addrs(addrs, &builtin, "builtin", &hosts, &seen);
    json_object_set_new(ctx->facts, "addresses", addrs);

    char a_plain[256], a_cfg[256], a_hosts[256];
    list_text(&plain, a_plain, sizeof a_plain);
    list_text(&addrconfig, a_cfg, sizeof a_cfg);
    list_text(&hosts, a_hosts, sizeof a_hosts);
    pt_dr_detail(res, "getaddrinfo(\"%s\") gives %s; with AI_ADDRCONFIG (Node.js): %s (%.2f ms)", host, a_plain,
                 a_cfg, ms);
    pt_dr_detail(res, "/etc/hosts: %s%s", hosts.n ? a_hosts : "no entry for ", hosts.n ? "" : host);
    if (local) pt_dr_detail(res, "curl and browsers ignore /etc/hosts for localhost and try 127.0.0.1 and ::1");

    if (plain.n == 0 && addrconfig.n == 0) {
        bool slow = !L || L->err[0] == EAI_INPROGRESS;
        if (slow)
            pt_dr_set(res, PT_DR_FAIL, "name_not_resolved", 80, "looking up %s took longer than %u ms", host,
                      ctx->opts->timeout_ms);
        else
            pt_dr_set(res, PT_DR_FAIL, "name_not_resolved", 90, "%s does not resolve: %s%s", host,
                      gai_strerror(L->err[0]), local ? " (curl and browsers still use 127.0.0.1 and ::1)" : "");
        if (local)
            pt_dr_remedy(res, "Add localhost to /etc/hosts: `127.0.0.1 localhost` and `::1 localhost`");
        else
            pt_dr_remedy(res, "Check the name and the resolver: `getent ahosts %s`; hosts: line in "
                         "/etc/nsswitch.conf is \"%s\"", host, nss);
        lookup_free(L);
        return;
    }
    lookup_free(L);

    for (size_t i = 0; local && i < hosts.n; i++) {
        if (!is_loopback(&hosts.v[i])) {
            pt_dr_set(res, PT_DR_WARN, "hosts_localhost_not_loopback", 70,
                      "/etc/hosts maps %s to %s, which is not a loopback address", host, hosts.v[i].text);
            pt_dr_remedy(res, "Map localhost to 127.0.0.1 and ::1 only in /etc/hosts");
            return;
        }
    }
    bool differ = plain.n != addrconfig.n;
    for (size_t i = 0; !differ && i < plain.n; i++) differ = !in_list(&addrconfig, &plain.v[i]);
    bool extra_builtin = false;
    for (size_t i = 0; local && i < builtin.n; i++) extra_builtin |= !in_list(&plain, &builtin.v[i]);

    if (differ)
        pt_dr_set(res, PT_DR_INFO, NULL, 0, "%s resolves differently per client: glibc %s; Node.js %s", host,
                  a_plain, a_cfg);
    else if (extra_builtin)
        pt_dr_set(res, PT_DR_INFO, NULL, 0, "%s resolves to %s (%s); curl and browsers use 127.0.0.1 and ::1",
                  host, a_plain, hosts.n ? "/etc/hosts" : "resolver");
    else
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s resolves to %s%s", host, a_plain,
                  hosts.n ? " (/etc/hosts)" : "");
}

const pt_dr_check pt_dr_check_resolve = {
    .id = "resolve",
    .title = "Name resolution per client",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
