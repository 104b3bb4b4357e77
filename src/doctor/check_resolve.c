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
#include <pthread.h>
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

/* Both lookups at once, within the deadline, each on its own thread (getaddrinfo blocks, and
 * DNS can take seconds). A lookup that misses the deadline is abandoned: its thread finishes on
 * its own and the last of the two owners (thread, caller) frees the job. getaddrinfo_a is not
 * used: its gai_suspend can leave a waiter on a finished request, which the worker then
 * touches after gai_suspend has returned. */
typedef struct lookup_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;                  /* owners: the caller and the thread */
    bool done;
    int err;
    char host[256];
    struct addrinfo hints;
    struct addrinfo *result;
} lookup_job;

static void job_unref(lookup_job *j)
{
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left) return;
    if (j->result) freeaddrinfo(j->result);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static void *job_main(void *arg)
{
    lookup_job *j = arg;
    struct addrinfo *res = NULL;
    int err = getaddrinfo(j->host, NULL, &j->hints, &res);
    pthread_mutex_lock(&j->mu);
    j->err = err;
    j->result = err == 0 ? res : NULL;
    j->done = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
    return NULL;
}

static lookup_job *job_start(const char *host, int flags)
{
    lookup_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->refs = 2;
    snprintf(j->host, sizeof j->host, "%s", host);
    j->hints.ai_family = AF_UNSPEC;
    j->hints.ai_socktype = SOCK_STREAM;
    j->hints.ai_flags = flags;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, job_main, j) != 0) {
        j->refs = 1; /* no thread: look it up here */
        job_main(j);
        j = NULL;
    }
    pthread_attr_destroy(&attr);
    return j;
}

/* Waits for the job until deadline_ms (pt_now_ms clock); returns its error (EAI_INPROGRESS when
 * it did not finish) and moves its result to *out. Gives up the caller's ownership. */
static int job_finish(lookup_job *j, uint64_t deadline_ms, struct addrinfo **out)
{
    *out = NULL;
    if (!j) return EAI_SYSTEM;
    pthread_mutex_lock(&j->mu);
    for (int rounds = 0; !j->done && rounds < 1000; rounds++) {
        uint64_t now = pt_now_ms();
        if (now >= deadline_ms) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t left = deadline_ms - now;
        ts.tv_sec += (time_t)(left / 1000);
        ts.tv_nsec += (long)(left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    }
    int err = j->done ? j->err : EAI_INPROGRESS;
    if (j->done) {
        *out = j->result;
        j->result = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
    return err;
}

typedef struct lookup {
    struct addrinfo *res[2]; /* [0] flags 0, [1] AI_ADDRCONFIG | AI_V4MAPPED */
    int err[2];
} lookup;

static void lookup_run(const char *host, unsigned timeout_ms, lookup *L)
{
    /* A job that could not get a thread ran inline and is already gone: redo it here. */
    lookup_job *j0 = job_start(host, 0), *j1 = job_start(host, AI_ADDRCONFIG | AI_V4MAPPED);
    uint64_t deadline = pt_now_ms() + timeout_ms;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    if (j0) L->err[0] = job_finish(j0, deadline, &L->res[0]);
    else L->err[0] = getaddrinfo(host, NULL, &hints, &L->res[0]);
    hints.ai_flags = AI_ADDRCONFIG | AI_V4MAPPED;
    if (j1) L->err[1] = job_finish(j1, deadline, &L->res[1]);
    else L->err[1] = getaddrinfo(host, NULL, &hints, &L->res[1]);
}

static void lookup_release(lookup *L)
{
    for (int i = 0; i < 2; i++)
        if (L->res[i]) freeaddrinfo(L->res[i]);
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
    lookup L = { 0 };
    lookup_run(host, ctx->opts->timeout_ms, &L);
    double ms = pt_dr_ms_since(t0);
    if (L.err[0] == 0) list_from_ai(&plain, L.res[0]);
    if (L.err[1] == 0) list_from_ai(&addrconfig, L.res[1]);
    lookup_release(&L);
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
    if (L.err[0] && L.err[0] != EAI_INPROGRESS) json_object_set_new(ev, "error", json_string(gai_strerror(L.err[0])));

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
        bool slow = L.err[0] == EAI_INPROGRESS;
        if (slow)
            pt_dr_set(res, PT_DR_FAIL, "name_not_resolved", 80, "looking up %s took longer than %u ms", host,
                      ctx->opts->timeout_ms);
        else
            pt_dr_set(res, PT_DR_FAIL, "name_not_resolved", 90, "%s does not resolve: %s%s", host,
                      gai_strerror(L.err[0]), local ? " (curl and browsers still use 127.0.0.1 and ::1)" : "");
        if (local) /* the name that failed, not always "localhost": app.localhost too */
            pt_dr_remedy(res, "Add %s to /etc/hosts: `127.0.0.1 %s` and `::1 %s`", host, host, host);
        else
            pt_dr_remedy(res, "Check the name and the resolver: `getent ahosts %s`; hosts: line in "
                         "/etc/nsswitch.conf is \"%s\"", host, nss);
        return;
    }

    for (size_t i = 0; local && i < hosts.n; i++) {
        if (!is_loopback(&hosts.v[i])) {
            pt_dr_set(res, PT_DR_WARN, "hosts_localhost_not_loopback", 70,
                      "/etc/hosts maps %s to %s, which is not a loopback address", host, hosts.v[i].text);
            pt_dr_remedy(res, "Map %s to 127.0.0.1 and ::1 only in /etc/hosts", host);
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
