/* check_environment.c: the "environment" check. The machine around the target, said only
 * where it bears on the finding: file-descriptor limits (a server out of descriptors stops
 * accepting), the ephemeral port range (a server port inside it can be taken by outgoing
 * connections), VPN-like interfaces and the route to a non-local target, and whether this is
 * a container or WSL, where "localhost" is not the machine one might think. */
#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/sysinfo.h"

static bool vpn_like(const char *name, unsigned flags)
{
    static const char *const prefixes[] = { "tun", "tap", "wg", "ppp", "tailscale", "zt", "utun", "cscotun",
                                            "gpd", "nordlynx", "proton", "mullvad", "ipsec", "vpn" };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return true;
    char path[300];
    snprintf(path, sizeof path, "/sys/class/net/%s/tun_flags", name);
    if (access(path, F_OK) == 0) return true;
    return (flags & IFF_POINTOPOINT) && strcmp(name, "lo") != 0;
}

/* Interface whose address the kernel would use to reach addr (a UDP connect sends nothing). */
static bool route_iface(int family, const unsigned char *addr, char *ifname, size_t n)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_storage ss = { 0 }, me = { 0 };
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET, s->sin_port = htons(9);
        memcpy(&s->sin_addr, addr, 4);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6, s->sin6_port = htons(9);
        memcpy(&s->sin6_addr, addr, 16);
    }
    bool ok = connect(fd, (struct sockaddr *)&ss, len) == 0 && getsockname(fd, (struct sockaddr *)&me, &len) == 0;
    close(fd);
    if (!ok) return false;
    const void *src = family == AF_INET ? (const void *)&((struct sockaddr_in *)&me)->sin_addr
                                        : (const void *)&((struct sockaddr_in6 *)&me)->sin6_addr;
    return pt_dr_addr_ifname(family, src, ifname, n);
}

static const char *container_kind(void)
{
    if (access("/.dockerenv", F_OK) == 0) return "Docker";
    if (access("/run/.containerenv", F_OK) == 0) return "Podman";
    const char *c = getenv("container");
    if (c && *c) return c;
    FILE *f = fopen("/proc/1/cgroup", "re");
    if (!f) return NULL;
    char line[512];
    const char *kind = NULL;
    for (int k = 0; k < 64 && !kind && fgets(line, sizeof line, f); k++) {
        if (strstr(line, "/docker")) kind = "Docker";
        else if (strstr(line, "kubepods")) kind = "Kubernetes";
        else if (strstr(line, "/lxc")) kind = "LXC";
    }
    fclose(f);
    return kind;
}

static bool is_wsl(void)
{
    char buf[256] = "";
    FILE *f = fopen("/proc/sys/kernel/osrelease", "re");
    if (!f) return false;
    if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
    fclose(f);
    return strstr(buf, "microsoft") || strstr(buf, "Microsoft") || strstr(buf, "WSL");
}

/* Default gateway from /proc/net/route, the host's address as seen from a container. */
static bool default_gateway(char *out, size_t n)
{
    FILE *f = fopen("/proc/net/route", "re");
    if (!f) return false;
    char line[256], ifname[32];
    unsigned long dst, gw;
    bool found = false;
    for (int k = 0; k < 10000 && !found && fgets(line, sizeof line, f); k++) {
        if (sscanf(line, "%31s %lx %lx", ifname, &dst, &gw) == 3 && dst == 0 && gw != 0) {
            struct in_addr a = { .s_addr = (in_addr_t)gw };
            inet_ntop(AF_INET, &a, out, (socklen_t)n);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* Open descriptors of pid and its "Max open files" soft limit; false when unreadable. */
static bool proc_fds(int pid, long *open, long *limit)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/limits", pid);
    FILE *f = fopen(path, "re");
    if (!f) return false;
    *limit = -1;
    for (int k = 0; k < 64 && fgets(line, sizeof line, f); k++) {
        if (strncmp(line, "Max open files", 14) != 0) continue;
        char soft[32];
        if (sscanf(line + 14, "%31s", soft) == 1) *limit = strcmp(soft, "unlimited") == 0 ? -1 : atol(soft);
    }
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d) return false;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < (1L << 24))
        if (de->d_name[0] != '.') n++;
    closedir(d);
    *open = n;
    return *limit > 0;
}

static bool target_is_loopback(const pt_dr_target *t)
{
    if (!t->host) return true;
    unsigned char a[16];
    if (inet_pton(AF_INET, t->host, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, t->host, a) == 1) return a[15] == 1 && a[0] == 0;
    return strcasecmp(t->host, "localhost") == 0;
}

/* The connect failed and nothing listens on the port in this namespace: the situation where
 * "whose localhost is this?" is the question. */
static bool connect_failed_nothing_here(json_t *facts)
{
    json_t *c = json_object_get(facts, "connect");
    if (!json_is_array(c) || !json_array_size(c) || json_object_get(facts, "reachable_address")) return false;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(facts, "listeners"), i, l) {
        const char *ns = json_string_value(json_object_get(l, "netns"));
        if (ns && strcmp(ns, "this") == 0) return false;
    }
    return true;
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    const pt_dr_target *t = ctx->target;
    json_t *ev = res->evidence;
    int worst = PT_DR_PASS, score = 0;
    const char *cause = NULL;
    char headline[600] = "";
#define RAISE(st, sc, id, ...)                                            \
    do {                                                                  \
        if ((st) > worst || ((st) == worst && (sc) > score)) {            \
            worst = (st), score = (sc), cause = (id);                     \
            snprintf(headline, sizeof headline, __VA_ARGS__);             \
        }                                                                 \
    } while (0)

    /* File descriptors: ours, the system's, and each listener owner's. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        json_object_set_new(ev, "nofile_soft", json_integer(rl.rlim_cur == RLIM_INFINITY ? -1 : (json_int_t)rl.rlim_cur));
    FILE *fnr = fopen("/proc/sys/fs/file-nr", "re");
    long used = -1, freed = 0, fmax = -1;
    if (fnr) {
        if (fscanf(fnr, "%ld %ld %ld", &used, &freed, &fmax) != 3) used = -1;
        fclose(fnr);
    }
    if (used >= 0) {
        json_object_set_new(ev, "system_files", json_integer(used));
        json_object_set_new(ev, "system_files_max", json_integer(fmax));
        if (fmax > 0 && used * 100 >= fmax * 95) {
            RAISE(PT_DR_WARN, 60, "fd_limit_low", "the system is out of file handles (%ld of %ld in use)", used, fmax);
            pt_dr_remedy(res, "Raise fs.file-max: `sudo sysctl fs.file-max=%ld`", fmax * 2);
        }
    }
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(ctx->facts, "listeners"), i, l) {
        json_t *pid = json_object_get(l, "pid");
        long open = 0, limit = 0;
        if (!json_is_integer(pid) || !proc_fds((int)json_integer_value(pid), &open, &limit)) continue;
        int p = (int)json_integer_value(pid);
        json_t *o = json_object();
        json_object_set_new(o, "pid", json_integer(p));
        json_object_set_new(o, "open_files", json_integer(open));
        json_object_set_new(o, "max_open_files", json_integer(limit));
        json_object_set_new(ev, "server_fds", o);
        if (open * 100 >= limit * 90) {
            RAISE(PT_DR_FAIL, 80, "fd_limit_low",
                  "pid %d has %ld of its %ld file descriptors open: accept() fails with EMFILE, so new connections "
                  "wait and time out", p, open, limit);
            pt_dr_remedy(res, "Raise its limit (`ulimit -n 65536` before starting it, LimitNOFILE= in its systemd "
                         "unit) or find the leak: `ls -l /proc/%d/fd | awk '{print $NF}' | sort | uniq -c | sort -n | "
                         "tail`", p);
        } else if (open * 100 >= limit * 70) {
            pt_dr_detail(res, "pid %d uses %ld of %ld file descriptors", p, open, limit);
        }
        break;
    }

    /* Ephemeral ports. */
    FILE *fr = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
    long lo = -1, hi = -1;
    if (fr) {
        if (fscanf(fr, "%ld %ld", &lo, &hi) != 2) lo = hi = -1;
        fclose(fr);
    }
    if (lo > 0) {
        json_t *r = json_array();
        json_array_append_new(r, json_integer(lo));
        json_array_append_new(r, json_integer(hi));
        json_object_set_new(ev, "ephemeral_ports", r);
        if (t->port >= lo && t->port <= hi) {
            if (t->mode == PT_DR_MODE_LISTEN) {
                RAISE(PT_DR_WARN, 25, "port_in_ephemeral_range",
                      "port %ld is inside the ephemeral range %ld-%ld: an outgoing connection can take it first, so "
                      "the server will fail to start now and then", t->port, lo, hi);
                pt_dr_remedy(res, "Pick a port below %ld, or reserve it: `sudo sysctl "
                             "net.ipv4.ip_local_reserved_ports=%ld`", lo, t->port);
            } else {
                pt_dr_detail(res, "port %ld is inside the ephemeral range %ld-%ld", t->port, lo, hi);
            }
        }
    }

    /* VPN-like interfaces, and whether the target's route goes through one. */
    struct ifaddrs *ifs = NULL;
    json_t *vpn = json_array();
    char vpns[256] = "";
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *a = ifs; a; a = a->ifa_next) {
            if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP)) continue;
            if (!vpn_like(a->ifa_name, a->ifa_flags)) continue;
            json_array_append_new(vpn, json_string(a->ifa_name));
            size_t n = strlen(vpns);
            snprintf(vpns + n, sizeof vpns - n, "%s%s", n ? ", " : "", a->ifa_name);
        }
        freeifaddrs(ifs);
    }
    json_object_set_new(ev, "vpn_interfaces", vpn);
    const char *reach = json_string_value(json_object_get(ctx->facts, "reachable_address"));
    json_t *first = json_array_get(json_object_get(ctx->facts, "addresses"), 0);
    const char *addr = reach ? reach : json_string_value(json_object_get(first, "address"));
    unsigned char bin[16];
    int fam = addr && strchr(addr, ':') ? AF_INET6 : AF_INET;
    char via[IF_NAMESIZE + 1] = "";
    if (addr && inet_pton(fam, addr, bin) == 1 && route_iface(fam, bin, via, sizeof via)) {
        json_object_set_new(ev, "route_interface", json_string(via));
        if (*vpns && strstr(vpns, via) && !target_is_loopback(t)) {
            RAISE(PT_DR_WARN, 40, "vpn_route", "the route to %s goes through %s, a VPN interface", addr, via);
            pt_dr_remedy(res, "If %s should be reached directly, exclude it from the VPN (split tunnelling) or check "
                         "`ip route get %s`", addr, addr);
        }
    }
    if (*vpns) pt_dr_detail(res, "VPN-like interfaces up: %s", vpns);

    /* Containers and WSL: whose localhost is this? */
    const char *ck = container_kind();
    bool wsl = is_wsl();
    json_object_set_new(ev, "container", ck ? json_string(ck) : json_null());
    json_object_set_new(ev, "wsl", json_boolean(wsl));
    bool lo_fail = target_is_loopback(t) && connect_failed_nothing_here(ctx->facts);
    if (ck) {
        pt_dr_detail(res, "running inside a container (%s): localhost here is the container itself", ck);
        if (lo_fail) {
            char gw[64] = "";
            bool has_gw = default_gateway(gw, sizeof gw);
            RAISE(PT_DR_WARN, 45, "inside_container",
                  "this runs inside a %s container, so localhost is the container, not the host", ck);
            pt_dr_remedy(res, "To reach a server on the host use host.docker.internal (Docker Desktop, or "
                         "--add-host=host.docker.internal:host-gateway)%s%s%s", has_gw ? " or the gateway " : "",
                         gw, has_gw ? "" : "");
        }
    }
    if (wsl) {
        pt_dr_detail(res, "running under WSL: Windows and WSL have separate loopbacks in NAT mode");
        if (lo_fail) {
            RAISE(PT_DR_WARN, 45, "wsl_localhost",
                  "this is WSL: a server started on Windows is not on WSL's localhost (NAT networking)");
            pt_dr_remedy(res, "Reach Windows through the nameserver address in /etc/resolv.conf, or switch to "
                         "networkingMode=mirrored in %%USERPROFILE%%\\.wslconfig");
        }
    }
#undef RAISE

    if (worst != PT_DR_PASS) {
        pt_dr_set(res, (pt_dr_status)worst, cause, score, "%s", headline);
        return;
    }
    char summary[600];
    snprintf(summary, sizeof summary, "nothing here bears on it: fd limit %lld, ephemeral ports %ld-%ld, %s%s%s%s",
             getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long long)rl.rlim_cur : -1LL, lo,
             hi, *vpns ? "VPN-like: " : "no VPN interface", vpns, ck ? ", in a container" : "",
             wsl ? ", WSL" : "");
    pt_dr_set(res, ck || wsl || *vpns ? PT_DR_INFO : PT_DR_PASS, NULL, 0, "%s", summary);
}

const pt_dr_check pt_dr_check_environment = {
    .id = "environment",
    .title = "Machine environment",
    .modes = PT_DR_MODE_NET | PT_DR_MODE_LISTEN | PT_DR_MODE_STDIO,
    .run = run,
};
