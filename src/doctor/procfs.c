/* procfs.c: what /proc tells about listening sockets: the /proc/net/tcp{,6} tables (the
 * fallback when netlink is unavailable, and the only window into other network namespaces
 * through /proc/PID/net/tcp), and socket owners through the socket:[INODE] links in
 * /proc/PID/fd, which is how ss -p and netstat -p find them. Reading another user's fd
 * directory needs privilege; when it is refused the doctor says so instead of guessing
 * silently. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "doctor/listeners.h"

#define TCP_LISTEN_STATE 0x0A
/* Bounds on the /proc walks: processes visited, fds per process, and time spent. */
#define PROC_MAX_PIDS 32768
#define PROC_MAX_FDS 65536
#define PROC_NETNS_BUDGET_MS 800

int pt_dr_socks_push(pt_dr_socks *s, const pt_dr_sock *x)
{
    if (s->n >= PT_DR_SOCKS_MAX) return -1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        pt_dr_sock *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = *x;
    return 0;
}

void pt_dr_socks_release(pt_dr_socks *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- /proc/net/tcp ------------------------------------------------------------------- */

/* Each 8-digit group is a 32-bit word of the address printed in host order with %08X, so
 * converting it back with strtoul and copying the word restores the network byte order. */
static int parse_hex_addr(const char *hex, int family, unsigned char *addr)
{
    size_t groups = family == AF_INET ? 1 : 4;
    if (strlen(hex) != groups * 8) return -1;
    for (size_t g = 0; g < groups; g++) {
        char part[9];
        memcpy(part, hex + 8 * g, 8);
        part[8] = '\0';
        char *end;
        unsigned long v = strtoul(part, &end, 16);
        if (*end) return -1;
        uint32_t w = (uint32_t)v;
        memcpy(addr + 4 * g, &w, 4);
    }
    return 0;
}

int pt_dr_procnet_row(const char *line, int family, pt_dr_tcprow *r)
{
    char local[72], remote[72];
    unsigned lport, rport;
    int n = sscanf(line, "%*d: %64[0-9A-Fa-f]:%X %64[0-9A-Fa-f]:%X %X %X:%X %X:%lX %*X %u %*d %lu", local, &lport,
                   remote, &rport, &r->state, &r->tx_queue, &r->rx_queue, &r->timer, &r->timer_left, &r->uid,
                   &r->inode);
    if (n != 11 || lport > 65535 || rport > 65535) return -1;
    r->family = family;
    r->lport = (uint16_t)lport;
    r->rport = (uint16_t)rport;
    if (parse_hex_addr(local, family, r->laddr) < 0 || parse_hex_addr(remote, family, r->raddr) < 0) return -1;
    return 0;
}

int pt_dr_procnet_parse(const char *line, int family, pt_dr_sock *out, unsigned *state)
{
    pt_dr_tcprow r;
    if (pt_dr_procnet_row(line, family, &r) < 0) return -1;
    memset(out, 0, sizeof *out);
    out->family = family;
    memcpy(out->addr, r.laddr, sizeof out->addr);
    out->port = r.lport;
    out->v6only = family == AF_INET6 ? -1 : 0;
    out->accept_queue = r.rx_queue; /* for LISTEN: sk_ack_backlog, the accept queue */
    out->backlog = -1;              /* not exported here */
    out->uid = r.uid;
    out->inode = r.inode;
    *state = r.state;
    return 0;
}

int pt_dr_procnet_each(const char *path, int family, bool (*fn)(const pt_dr_tcprow *r, void *arg), void *arg)
{
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    char line[512];
    pt_dr_tcprow r;
    for (long lines = 0; lines < 4 * PT_DR_SOCKS_MAX && fgets(line, sizeof line, f); lines++)
        if (pt_dr_procnet_row(line, family, &r) == 0 && !fn(&r, arg)) break;
    fclose(f);
    return 0;
}

typedef struct tw_count {
    int port;
    pt_dr_time_wait *tw;
} tw_count;

static bool count_tw(const pt_dr_tcprow *r, void *arg)
{
    tw_count *c = arg;
    if (r->state != PT_DR_TCP_TIME_WAIT || r->lport != c->port) return true;
    c->tw->count++;
    /* tm->when is in clock ticks (USER_HZ) */
    long left = (long)(r->timer_left / (unsigned long)sysconf(_SC_CLK_TCK)) + 1;
    if (left > c->tw->max_left_s) c->tw->max_left_s = left;
    return true;
}

void pt_dr_time_wait_on_port(int port, pt_dr_time_wait *out)
{
    memset(out, 0, sizeof *out);
    tw_count c = { .port = port, .tw = out };
    pt_dr_procnet_each("/proc/net/tcp", AF_INET, count_tw, &c);
    pt_dr_procnet_each("/proc/net/tcp6", AF_INET6, count_tw, &c);
}

int pt_dr_procnet_read(const char *path, int family, int port, pt_dr_socks *out)
{
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    char line[512];
    for (long lines = 0; lines < 4 * PT_DR_SOCKS_MAX && fgets(line, sizeof line, f); lines++) {
        pt_dr_sock s;
        unsigned st;
        if (pt_dr_procnet_parse(line, family, &s, &st) < 0 || st != TCP_LISTEN_STATE) continue;
        if (port >= 0 && s.port != port) continue;
        if (pt_dr_socks_push(out, &s) < 0) break;
    }
    fclose(f);
    return 0;
}

typedef struct peer_find {
    int family;
    unsigned char me[16], peer[16];
    uint16_t me_port, peer_port;
    long unread;
} peer_find;

static bool find_peer_row(const pt_dr_tcprow *r, void *arg)
{
    peer_find *p = arg;
    size_t alen = p->family == AF_INET ? 4 : 16;
    if (r->lport != p->peer_port || r->rport != p->me_port || memcmp(r->laddr, p->peer, alen) != 0 ||
        memcmp(r->raddr, p->me, alen) != 0)
        return true;
    p->unread = (long)r->rx_queue;
    return false;
}

/* Copies a sockaddr's address and port; false for families other than IPv4 and IPv6. */
static bool sa_parts(const struct sockaddr_storage *ss, int *family, unsigned char *addr, uint16_t *port)
{
    *family = ss->ss_family;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(addr, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        memcpy(addr, &a->sin6_addr, 16);
        *port = ntohs(a->sin6_port);
        return true;
    }
    return false;
}

long pt_dr_peer_unread(int fd)
{
    struct sockaddr_storage me, peer;
    socklen_t ml = sizeof me, pl = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&me, &ml) < 0 || getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
        return -1;
    peer_find p = { .unread = -1 };
    int pfam;
    if (!sa_parts(&me, &p.family, p.me, &p.me_port) || !sa_parts(&peer, &pfam, p.peer, &p.peer_port)) return -1;
    pt_dr_procnet_each(p.family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", p.family, find_peer_row, &p);
    return p.unread;
}

int pt_dr_socks_listening(pt_dr_socks *out, int port)
{
    out->source = "sock_diag";
    int rc = pt__dr_sockdiag_listeners(AF_INET, port, out);
    if (rc == 0) rc = pt__dr_sockdiag_listeners(AF_INET6, port, out);
    if (rc == 0) return 0;
    /* Netlink refused (seccomp, old kernel, or a sandbox): fall back to /proc as ss does. */
    out->n = 0;
    out->source = "/proc/net/tcp";
    int r4 = pt_dr_procnet_read("/proc/net/tcp", AF_INET, port, out);
    int r6 = pt_dr_procnet_read("/proc/net/tcp6", AF_INET6, port, out);
    return r4 < 0 && r6 < 0 ? r4 : 0;
}

/* ---- owners ---------------------------------------------------------------------------- */

static bool is_pid_dir(const char *name)
{
    if (!*name) return false;
    for (const char *p = name; *p; p++)
        if (!isdigit((unsigned char)*p)) return false;
    return true;
}

static ssize_t read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got = read(fd, buf, n - 1);
    close(fd);
    if (got < 0) return -1;
    buf[got] = '\0';
    return got;
}

/* Command line with NULs turned into spaces, cut to fit. */
static void read_cmdline(int pid, char *out, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    ssize_t got = read_small(path, out, n);
    if (got <= 0) {
        out[0] = '\0';
        return;
    }
    for (ssize_t i = 0; i < got; i++)
        if (out[i] == '\0' || out[i] == '\n') out[i] = ' ';
    while (got > 0 && out[got - 1] == ' ') out[--got] = '\0';
}

static void read_comm(int pid, char *out, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    if (read_small(path, out, n) <= 0) {
        out[0] = '\0';
        return;
    }
    out[strcspn(out, "\n")] = '\0';
}

static void fill_user(pt_dr_sock *s)
{
    struct passwd *pw = getpwuid(s->uid);
    if (pw) snprintf(s->user, sizeof s->user, "%s", pw->pw_name);
    else snprintf(s->user, sizeof s->user, "%u", s->uid);
}

/* Does the command line name the port as a whole number ("--port 8080", ":8080", "-p8080")? */
static bool cmdline_names_port(const char *cmd, unsigned port)
{
    char digits[8];
    int n = snprintf(digits, sizeof digits, "%u", port);
    for (const char *p = strstr(cmd, digits); p; p = strstr(p + 1, digits)) {
        bool left = p == cmd || !isdigit((unsigned char)p[-1]);
        bool right = !isdigit((unsigned char)p[n]);
        if (left && right) return true;
    }
    return false;
}

static void match_fds(int pid, pt_dr_socks *s)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == EACCES || errno == EPERM) s->fd_denied++;
        return;
    }
    struct dirent *f;
    for (int k = 0; k < PROC_MAX_FDS && (f = readdir(d)); k++) {
        if (f->d_name[0] == '.') continue;
        char link[64];
        ssize_t n = readlinkat(dirfd(d), f->d_name, link, sizeof link - 1);
        if (n <= 8 || memcmp(link, "socket:[", 8) != 0) continue;
        link[n] = '\0';
        uint64_t ino = strtoull(link + 8, NULL, 10);
        for (size_t i = 0; i < s->n; i++) {
            pt_dr_sock *x = &s->v[i];
            if (x->inode != ino || ino == 0) continue;
            if (!x->pid || pid < x->pid) x->pid = pid; /* the lowest pid: usually the parent */
            x->npids++;
        }
    }
    closedir(d);
}

/* For sockets whose owner stayed hidden: a process of the same uid that names the port. */
static void guess_owners(pt_dr_socks *s)
{
    DIR *proc = opendir("/proc");
    if (!proc) return;
    struct dirent *de;
    for (int k = 0; k < PROC_MAX_PIDS && (de = readdir(proc)); k++) {
        if (!is_pid_dir(de->d_name)) continue;
        int pid = atoi(de->d_name);
        struct stat st;
        char path[64], cmd[256];
        snprintf(path, sizeof path, "/proc/%d", pid);
        if (stat(path, &st) < 0) continue;
        bool wanted = false;
        for (size_t i = 0; i < s->n; i++)
            if (!s->v[i].pid && s->v[i].uid == st.st_uid) wanted = true;
        if (!wanted) continue;
        read_cmdline(pid, cmd, sizeof cmd);
        for (size_t i = 0; i < s->n; i++) {
            pt_dr_sock *x = &s->v[i];
            if (x->pid || x->uid != st.st_uid || !cmdline_names_port(cmd, x->port)) continue;
            x->pid = pid;
            x->npids = 1;
            x->owner_guessed = true;
        }
    }
    closedir(proc);
}

void pt_dr_socks_find_owners(pt_dr_socks *s)
{
    if (s->n == 0) return;
    s->fd_denied = 0;
    DIR *proc = opendir("/proc");
    if (!proc) return;
    struct dirent *de;
    for (int k = 0; k < PROC_MAX_PIDS && (de = readdir(proc)); k++)
        if (is_pid_dir(de->d_name)) match_fds(atoi(de->d_name), s);
    closedir(proc);
    bool missing = false;
    for (size_t i = 0; i < s->n; i++)
        if (!s->v[i].pid) missing = true;
    if (missing && s->fd_denied) guess_owners(s);
    for (size_t i = 0; i < s->n; i++) {
        pt_dr_sock *x = &s->v[i];
        fill_user(x);
        if (!x->pid) continue;
        read_comm(x->pid, x->comm, sizeof x->comm);
        read_cmdline(x->pid, x->cmdline, sizeof x->cmdline);
    }
}

/* ---- other network namespaces ------------------------------------------------------------ */

static bool has_inode(const pt_dr_socks *s, uint64_t ino)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->v[i].inode == ino) return true;
    return false;
}

int pt_dr_socks_other_netns(pt_dr_socks *out, int port, const pt_dr_socks *mine)
{
    char self[64] = "";
    ssize_t sn = readlink("/proc/self/ns/net", self, sizeof self - 1);
    if (sn > 0) self[sn] = '\0';
    /* Namespaces already read, when /proc/PID/ns/net is readable (it needs ptrace access);
     * otherwise every process's table is read and duplicates are dropped by inode. */
    char seen[64][32];
    int nseen = 0;
    uint64_t start = pt_now_ms();
    DIR *proc = opendir("/proc");
    if (!proc) return -errno;
    struct dirent *de;
    for (int k = 0; k < PROC_MAX_PIDS && (de = readdir(proc)); k++) {
        if (!is_pid_dir(de->d_name)) continue;
        if (pt_now_ms() - start > PROC_NETNS_BUDGET_MS) break;
        int pid = atoi(de->d_name);
        char path[64], ns[64];
        snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
        ssize_t n = readlink(path, ns, sizeof ns - 1);
        if (n > 0) {
            ns[n] = '\0';
            if (strcmp(ns, self) == 0) continue;
            bool dup = false;
            for (int i = 0; i < nseen; i++)
                if (strcmp(seen[i], ns) == 0) dup = true;
            if (dup) continue;
            if (nseen < 64) snprintf(seen[nseen++], sizeof seen[0], "%.31s", ns);
        }
        pt_dr_socks found = { 0 };
        snprintf(path, sizeof path, "/proc/%d/net/tcp", pid);
        pt_dr_procnet_read(path, AF_INET, port, &found);
        snprintf(path, sizeof path, "/proc/%d/net/tcp6", pid);
        pt_dr_procnet_read(path, AF_INET6, port, &found);
        for (size_t i = 0; i < found.n; i++) {
            pt_dr_sock *x = &found.v[i];
            if (has_inode(mine, x->inode) || has_inode(out, x->inode)) continue;
            x->other_netns = true;
            x->netns_pid = pid;
            pt_dr_socks_push(out, x);
        }
        pt_dr_socks_release(&found);
    }
    closedir(proc);
    return 0;
}

/* ---- formatting ---------------------------------------------------------------------------- */

static bool all_zero(const unsigned char *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i]) return false;
    return true;
}

void pt_dr_sock_addr(const pt_dr_sock *s, char *out, size_t n)
{
    if (s->family == AF_INET6 && all_zero(s->addr, 16)) {
        snprintf(out, n, "%s", s->v6only == 0 ? "*" : "::");
        return;
    }
    char a[INET6_ADDRSTRLEN];
    if (!inet_ntop(s->family, s->addr, a, sizeof a)) snprintf(a, sizeof a, "?");
    snprintf(out, n, "%s", a);
}

void pt_dr_sock_endpoint(const pt_dr_sock *s, char *out, size_t n)
{
    char a[INET6_ADDRSTRLEN + 4], dev[IF_NAMESIZE + 2] = "";
    pt_dr_sock_addr(s, a, sizeof a);
    if (s->ifindex) {
        char name[IF_NAMESIZE];
        snprintf(dev, sizeof dev, "%%%s", if_indextoname(s->ifindex, name) ? name : "?");
    }
    if (s->family == AF_INET6 && strcmp(a, "*") != 0) snprintf(out, n, "[%s]%s:%u", a, dev, s->port);
    else snprintf(out, n, "%s%s:%u", a, dev, s->port);
}

void pt_dr_sock_owner(const pt_dr_sock *s, int fd_denied, char *out, size_t n)
{
    const char *cmd = s->cmdline[0] ? s->cmdline : s->comm[0] ? s->comm : "?";
    if (s->pid && s->owner_guessed) {
        snprintf(out, n, "probably pid %d (%s, user %s): its command line names the port; its open files "
                 "could not be read to be sure", s->pid, cmd, s->user);
    } else if (s->pid && s->npids > 1) {
        snprintf(out, n, "pid %d (%s, user %s) and %d other process%s sharing the socket", s->pid, cmd, s->user,
                 s->npids - 1, s->npids - 1 == 1 ? "" : "es");
    } else if (s->pid) {
        snprintf(out, n, "pid %d (%s, user %s)", s->pid, cmd, s->user);
    } else if (fd_denied) {
        snprintf(out, n, "owner not visible: a process of user %s holds it, but %d processes' open files could "
                 "not be read (run the doctor as root or as %s to see it)", s->user, fd_denied, s->user);
    } else {
        snprintf(out, n, "owner not visible: no process in this PID namespace holds it (a container, a "
                 "sandbox or the kernel does; user %s)", s->user);
    }
}

json_t *pt_dr_sock_json(const pt_dr_sock *s)
{
    char a[INET6_ADDRSTRLEN + 4];
    pt_dr_sock_addr(s, a, sizeof a);
    char dev[IF_NAMESIZE] = "";
    if (s->ifindex && !if_indextoname(s->ifindex, dev)) snprintf(dev, sizeof dev, "if%u", s->ifindex);
    json_t *o = json_object();
    json_object_set_new(o, "family", json_string(s->family == AF_INET ? "ipv4" : "ipv6"));
    json_object_set_new(o, "address", json_string(a));
    json_object_set_new(o, "port", json_integer(s->port));
    json_object_set_new(o, "v6only", s->v6only < 0 ? json_null() : json_boolean(s->v6only));
    json_object_set_new(o, "device", s->ifindex ? json_string(dev) : json_null());
    json_object_set_new(o, "accept_queue", json_integer(s->accept_queue));
    json_object_set_new(o, "backlog", s->backlog < 0 ? json_null() : json_integer(s->backlog));
    json_object_set_new(o, "inode", json_integer((json_int_t)s->inode));
    json_object_set_new(o, "uid", json_integer(s->uid));
    json_object_set_new(o, "pid", s->pid ? json_integer(s->pid) : json_null());
    json_object_set_new(o, "pid_guessed", json_boolean(s->owner_guessed));
    json_object_set_new(o, "command", s->pid && (s->cmdline[0] || s->comm[0])
                                          ? json_string(s->cmdline[0] ? s->cmdline : s->comm) : json_null());
    json_object_set_new(o, "user", s->user[0] ? json_string(s->user) : json_null());
    json_object_set_new(o, "netns", json_string(s->other_netns ? "other" : "this"));
    json_object_set_new(o, "netns_pid", s->other_netns ? json_integer(s->netns_pid) : json_null());
    return o;
}

/* ---- who accepts what ---------------------------------------------------------------------- */

static const unsigned char v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool pt_dr_sock_accepts(const pt_dr_sock *s, int family, const unsigned char *addr)
{
    if (s->ifindex) {
        /* A connection made on this host arrives on lo, whatever address it targets. */
        char name[IF_NAMESIZE];
        if (!if_indextoname(s->ifindex, name) || strcmp(name, "lo") != 0) return false;
    }
    if (s->family == AF_INET)
        return family == AF_INET && (all_zero(s->addr, 4) || memcmp(s->addr, addr, 4) == 0);
    if (all_zero(s->addr, 16)) return family == AF_INET6 || s->v6only != 1;
    if (memcmp(s->addr, v4mapped_prefix, 12) == 0)
        return family == AF_INET && s->v6only != 1 && memcmp(s->addr + 12, addr, 4) == 0;
    return family == AF_INET6 && memcmp(s->addr, addr, 16) == 0;
}
