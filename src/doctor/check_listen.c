/* check_listen.c: the "listen" check (`portico doctor --listen [ADDR:]PORT`). Why a server
 * cannot start there: the address is in use (and by whom), the port is privileged and this
 * user may not bind it (CAP_NET_BIND_SERVICE, net.ipv4.ip_unprivileged_port_start), or the
 * address is not on any interface. It test-binds without listening and closes at once, so
 * nothing is left behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/listeners.h"
#include "doctor/sysinfo.h"

#define MAX_ADDRS 4

typedef struct bind_try {
    int family;
    unsigned char addr[16];
    char text[64];
    int err;             /* bind errno with SO_REUSEADDR, 0 when it worked */
    int err_plain;       /* the same without SO_REUSEADDR */
} bind_try;

static int try_bind(const bind_try *b, long port, bool reuse)
{
    int fd = socket(b->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int one = 1, zero = 0;
    if (reuse) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (b->family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t)port);
        memcpy(&s->sin_addr, b->addr, 4);
        len = sizeof *s;
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons((uint16_t)port);
        memcpy(&s->sin6_addr, b->addr, 16);
        len = sizeof *s;
        /* The wildcard is tried dual-stack, the way most servers (Node's default) bind it. */
        static const unsigned char any[16];
        if (memcmp(b->addr, any, 16) == 0) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    int rc = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

static size_t addresses(const char *host, bind_try *v, char *err, size_t errlen)
{
    size_t n = 0;
    if (!host) {
        v[0] = (bind_try){ .family = AF_INET };
        snprintf(v[0].text, sizeof v[0].text, "0.0.0.0");
        v[1] = (bind_try){ .family = AF_INET6 };
        snprintf(v[1].text, sizeof v[1].text, "[::]");
        return 2;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return 0;
    }
    for (struct addrinfo *a = ai; a && n < MAX_ADDRS; a = a->ai_next) {
        bind_try *b = &v[n];
        memset(b, 0, sizeof *b);
        b->family = a->ai_family;
        const void *src = a->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                                  : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        memcpy(b->addr, src, a->ai_family == AF_INET ? 4 : 16);
        char t[INET6_ADDRSTRLEN];
        inet_ntop(b->family, b->addr, t, sizeof t);
        snprintf(b->text, sizeof b->text, b->family == AF_INET6 ? "[%s]" : "%s", t);
        bool dup = false;
        for (size_t k = 0; k < n; k++) dup |= strcmp(v[k].text, b->text) == 0;
        if (!dup) n++;
    }
    freeaddrinfo(ai);
    return n;
}

/* A port near the wanted one that is free on the same address, for the remedy. */
static long free_port_near(const bind_try *b, long port)
{
    for (long p = port + 1; p < port + 50 && p <= 65535; p++)
        if (try_bind(b, p, true) == 0) return p;
    return -1;
}

static void local_addresses(char *out, size_t n)
{
    struct ifaddrs *ifs = NULL;
    out[0] = '\0';
    if (getifaddrs(&ifs) < 0) return;
    size_t used = 0;
    for (struct ifaddrs *i = ifs; i && used < n; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
        char a[INET6_ADDRSTRLEN];
        const void *src = i->ifa_addr->sa_family == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                                                           : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        inet_ntop(i->ifa_addr->sa_family, src, a, sizeof a);
        if (strncmp(a, "fe80:", 5) == 0) continue;
        used += (size_t)snprintf(out + used, n - used, "%s%s (%s)", used ? ", " : "", a, i->ifa_name);
    }
    freeifaddrs(ifs);
}

/* Is the address configured on an interface (getifaddrs)? 127.0.0.0/8 counts: lo routes it all. */
static bool on_interface(const bind_try *b)
{
    static const unsigned char any[16];
    if (memcmp(b->addr, any, b->family == AF_INET ? 4 : 16) == 0) return true;
    return pt_dr_addr_is_local(b->family, b->addr);
}

/* Connections of a previous server on the port that are still in TIME_WAIT. A TIME_WAIT socket
 * keeps its listener's SO_REUSEADDR flag, so when the previous server did not set it even a new
 * server that does cannot bind (both attempts fail); when it did, only servers without the flag
 * are blocked (blocks_reuse false). Returns false when there are none. */
static bool time_wait(pt_dr_result *res, const bind_try *b, long port, bool blocks_reuse)
{
    pt_dr_time_wait tw;
    pt_dr_time_wait_on_port((int)port, &tw);
    if (tw.count == 0) return false;
    json_object_set_new(res->evidence, "time_wait", json_pack("{s:i,s:I}", "count", (int)tw.count, "max_seconds_left",
                                                              (json_int_t)tw.max_left_s));
    pt_dr_detail(res, "%u connection%s on port %ld %s in TIME_WAIT (the longest for %ld s more): a previous "
                 "server closed them first", tw.count, tw.count == 1 ? "" : "s", port, tw.count == 1 ? "is" : "are",
                 tw.max_left_s);
    if (blocks_reuse) {
        pt_dr_set(res, PT_DR_FAIL, "listen_time_wait", 90,
                  "%s:%ld is blocked only by %u connection%s in TIME_WAIT left by a previous server that did not set "
                  "SO_REUSEADDR, so every bind fails until they expire (at most %ld s)", b->text, port, tw.count,
                  tw.count == 1 ? "" : "s", tw.max_left_s);
        pt_dr_remedy(res, "Wait %ld s (Linux keeps TIME_WAIT 60 s; net.ipv4.tcp_fin_timeout does not shorten it), "
                     "then start the server again", tw.max_left_s);
        pt_dr_remedy(res, "For next time: set SO_REUSEADDR before bind() in the server (Python: "
                     "allow_reuse_address = True; Node, Go and nginx set it already), so its TIME_WAIT connections "
                     "no longer block a restart");
    } else {
        pt_dr_set(res, PT_DR_WARN, "listen_time_wait", 50,
                  "%s:%ld is free for servers that set SO_REUSEADDR, but %u connection%s in TIME_WAIT (at most %ld s "
                  "more) block one that does not", b->text, port, tw.count, tw.count == 1 ? "" : "s", tw.max_left_s);
        pt_dr_remedy(res, "Set SO_REUSEADDR in the server before bind() (most frameworks do), or wait %ld s",
                     tw.max_left_s);
    }
    return true;
}

static void in_use(pt_dr_ctx *ctx, pt_dr_result *res, const bind_try *b, long port)
{
    pt_dr_socks socks = { 0 };
    pt_dr_socks_listening(&socks, (int)port);
    pt_dr_socks_find_owners(&socks);
    json_t *arr = json_array();
    const pt_dr_sock *owner = NULL;
    for (size_t i = 0; i < socks.n; i++) {
        const pt_dr_sock *s = &socks.v[i];
        json_array_append_new(arr, pt_dr_sock_json(s));
        char ep[96], who[600];
        pt_dr_sock_endpoint(s, ep, sizeof ep);
        pt_dr_sock_owner(s, socks.fd_denied, who, sizeof who);
        pt_dr_detail(res, "%s is listening: %s", ep, who);
        if (!owner || (!owner->pid && s->pid)) owner = s;
    }
    json_object_set_new(res->evidence, "listeners", arr);
    char hp[96];
    snprintf(hp, sizeof hp, "%s:%ld", b->text, port);
    if (owner) {
        char ep[96], who[600];
        pt_dr_sock_endpoint(owner, ep, sizeof ep);
        pt_dr_sock_owner(owner, socks.fd_denied, who, sizeof who);
        json_object_set_new(res->evidence, "pid", owner->pid ? json_integer(owner->pid) : json_null());
        if (strcmp(hp, ep) == 0)
            pt_dr_set(res, PT_DR_FAIL, "listen_in_use", 95, "%s is in use by %s", hp, who);
        else
            pt_dr_set(res, PT_DR_FAIL, "listen_in_use", 95, "%s is in use: %s listens on %s", hp, who, ep);
        bool wildcard = strcmp(b->text, "0.0.0.0") == 0 || strcmp(b->text, "[::]") == 0;
        char oa[64];
        pt_dr_sock_addr(owner, oa, sizeof oa);
        if (wildcard && strcmp(oa, "0.0.0.0") != 0 && strcmp(oa, "*") != 0 && strcmp(oa, "::") != 0)
            pt_dr_detail(res, "binding every address (%s) needs the port free on each of them, so one listener on %s "
                         "is enough to block it", b->text, ep);
        if (owner->pid) {
            char unit[128];
            int kind = pt_dr_proc_unit(owner->pid, unit, sizeof unit);
            if (kind == PT_DR_UNIT_SYSTEMD)
                pt_dr_remedy(res, "Stop what holds it: `sudo systemctl stop %s` (pid %d runs in that unit)", unit,
                             owner->pid);
            else if (kind == PT_DR_UNIT_DOCKER)
                pt_dr_remedy(res, "Stop what holds it: `docker stop %s` (pid %d runs in that container)", unit,
                             owner->pid);
            else
                pt_dr_remedy(res, "Stop what holds it: `kill %d` (%s)", owner->pid,
                             owner->cmdline[0] ? owner->cmdline : owner->comm);
        } else {
            pt_dr_remedy(res, "Find the owner as root: `sudo ss -ltnp 'sport = :%ld'`", port);
        }
    } else if (!time_wait(res, b, port, true)) {
        pt_dr_set(res, PT_DR_FAIL, "listen_in_use", 90,
                  "%s is in use, but no socket listens on it: another socket is bound to the port without listening",
                  hp);
        pt_dr_remedy(res, "Find it: `sudo ss -tanp 'sport = :%ld'`", port);
    }
    long alt = free_port_near(b, port);
    if (alt > 0) pt_dr_remedy(res, "Or use another port: %ld is free on %s", alt, b->text);
    pt_dr_socks_release(&socks);
}

static void privileged(pt_dr_result *res, const bind_try *b, long port, long start)
{
    char hp[96];
    snprintf(hp, sizeof hp, "%s:%ld", b->text, port);
    pt_dr_set(res, PT_DR_FAIL, "listen_privileged", 95,
              "%s needs privilege: ports below %ld are reserved (net.ipv4.ip_unprivileged_port_start=%ld) and this "
              "process (uid %d) lacks CAP_NET_BIND_SERVICE", hp, start, start, (int)geteuid());
    pt_dr_remedy(res, "Use a port >= %ld (e.g. %ld) and put a reverse proxy on %ld if it must be there", start,
                 port < 1000 ? port + 8000 : 8080, port);
    pt_dr_remedy(res, "Or give the server binary the capability: `sudo setcap cap_net_bind_service=+ep "
                 "/path/to/server` (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE)");
    pt_dr_remedy(res, "Or lower the limit for the whole machine (a security trade-off): `sudo sysctl "
                 "net.ipv4.ip_unprivileged_port_start=%ld`", port);
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    const pt_dr_target *t = ctx->target;
    long port = t->port;
    long start = pt_dr_read_long("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    bool cap = pt_dr_has_cap(10); /* CAP_NET_BIND_SERVICE */
    json_object_set_new(res->evidence, "ip_unprivileged_port_start", start < 0 ? json_null() : json_integer(start));
    json_object_set_new(res->evidence, "cap_net_bind_service", json_boolean(cap));
    json_object_set_new(res->evidence, "euid", json_integer((json_int_t)geteuid()));
    if (port < 0 || port > 65535) {
        pt_dr_set(res, PT_DR_FAIL, "port_out_of_range", 95, "port %s is not a TCP port (0-65535)",
                  t->port_text ? t->port_text : "?");
        pt_dr_remedy(res, "Pick a port between 1024 and 65535 (below 1024 needs privilege)");
        return;
    }
    if (port == 0) {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "port 0 asks the kernel for any free port; that always works");
        return;
    }
    bind_try b[MAX_ADDRS];
    char err[160] = "";
    size_t n = addresses(t->host, b, err, sizeof err);
    if (n == 0) {
        char locals[1024];
        local_addresses(locals, sizeof locals);
        pt_dr_set(res, PT_DR_FAIL, "listen_addr_not_local", 90, "%s does not resolve (%s), so nothing can bind it",
                  t->host, err);
        pt_dr_remedy(res, "Bind one of this machine's addresses: %s; or 0.0.0.0 / '::' for all", locals);
        return;
    }
    json_t *arr = json_array();
    const bind_try *inuse = NULL, *acces = NULL, *notav = NULL, *other = NULL, *tw = NULL;
    for (size_t i = 0; i < n; i++) {
        b[i].err = try_bind(&b[i], port, true);
        b[i].err_plain = b[i].err ? b[i].err : try_bind(&b[i], port, false);
        json_t *o = json_object();
        json_object_set_new(o, "address", json_string(b[i].text));
        json_object_set_new(o, "on_interface", json_boolean(on_interface(&b[i])));
        json_object_set_new(o, "result", b[i].err ? json_string(pt_dr_errno_name(b[i].err)) : json_string("ok"));
        json_object_set_new(o, "without_reuseaddr",
                            b[i].err_plain ? json_string(pt_dr_errno_name(b[i].err_plain)) : json_string("ok"));
        json_array_append_new(arr, o);
        if (b[i].err == EADDRINUSE && !inuse) inuse = &b[i];
        else if ((b[i].err == EACCES || b[i].err == EPERM) && !acces) acces = &b[i];
        else if (b[i].err == EADDRNOTAVAIL && !notav) notav = &b[i];
        else if (b[i].err == EAFNOSUPPORT && t->host == NULL) continue; /* no IPv6 here: 0.0.0.0 decides */
        else if (b[i].err && !other) other = &b[i];
        if (!b[i].err && b[i].err_plain == EADDRINUSE && !tw) tw = &b[i];
        pt_dr_detail(res, "bind %s:%ld with SO_REUSEADDR: %s", b[i].text, port,
                     b[i].err ? pt_dr_errno_name(b[i].err) : "ok");
    }
    json_object_set_new(res->evidence, "binds", arr);
    if (inuse) {
        in_use(ctx, res, inuse, port);
    } else if (acces) {
        privileged(res, acces, port, start < 0 ? 1024 : start);
    } else if (notav) {
        char locals[1024];
        local_addresses(locals, sizeof locals);
        pt_dr_set(res, PT_DR_FAIL, "listen_addr_not_local", 95,
                  "%s is on none of this machine's interfaces, so a server cannot listen on it (bind: EADDRNOTAVAIL)",
                  notav->text);
        pt_dr_detail(res, "addresses here: %s", locals);
        pt_dr_remedy(res, "Listen on one of this machine's addresses (%s), or on 0.0.0.0 / '::' for all", locals);
        pt_dr_remedy(res, "If the address comes and goes (VPN, DHCP), set net.ipv4.ip_nonlocal_bind=1 or use "
                     "IP_FREEBIND in the server");
    } else if (other) {
        pt_dr_set(res, PT_DR_FAIL, "listen_error", 70, "binding %s:%ld fails: %s", other->text, port,
                  strerror(other->err));
    } else if (tw) {
        if (!time_wait(res, tw, port, false)) {
            pt_dr_set(res, PT_DR_WARN, "listen_time_wait", 50,
                      "%s:%ld is free for servers that set SO_REUSEADDR, but a socket without listening still blocks "
                      "one that does not", tw->text, port);
            pt_dr_remedy(res, "Set SO_REUSEADDR in the server before bind() (most frameworks do)");
        }
    } else if (start >= 0 && port < start) {
        pt_dr_set(res, PT_DR_INFO, NULL, 0,
                  "port %ld is free, and this user may bind it (%s); a server running as an ordinary user could not "
                  "(ports below %ld are privileged)", port, geteuid() == 0 ? "root" : "CAP_NET_BIND_SERVICE", start);
        pt_dr_remedy(res, "For an unprivileged server: `sudo setcap cap_net_bind_service=+ep /path/to/server`");
    } else {
        char list[160] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? " and " : "", b[i].text);
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "port %ld is free on %s: a server can listen there", port, list);
    }
}

const pt_dr_check pt_dr_check_listen = {
    .id = "listen",
    .title = "Can a server listen there",
    .modes = PT_DR_MODE_LISTEN,
    .run = run,
};
