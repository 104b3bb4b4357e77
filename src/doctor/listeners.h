/* listeners.h: the doctor's inventory of listening TCP sockets: what listens where, with
 * which flags and queue, owned by which process, and in which network namespace.
 * sockdiag.c reads the kernel's socket diagnostics over netlink (as `ss` does); procfs.c reads
 * /proc/net/tcp{,6} (fallback and other namespaces) and finds owners through /proc/PID/fd. */
#ifndef PT_DOCTOR_LISTENERS_H
#define PT_DOCTOR_LISTENERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pt_dr_sock {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];  /* network byte order; the first 4 bytes for AF_INET */
    uint16_t port;
    int v6only;              /* 1, 0, or -1 when unknown (/proc/net/tcp6 does not say) */
    unsigned ifindex;        /* SO_BINDTODEVICE interface, 0 when not bound to one */
    uint32_t accept_queue;   /* connections completed and waiting for accept() */
    int64_t backlog;         /* listen() backlog as the kernel applies it, -1 when unknown */
    uint32_t uid;
    uint64_t inode;
    bool other_netns;        /* found through /proc/PID/net/tcp, not in our namespace */
    int netns_pid;           /* a process living in that other namespace */
    /* Owner, filled by pt_dr_socks_find_owners; pid 0 when not found. */
    int pid;
    int npids;               /* processes holding the socket (a forking server shares it) */
    bool owner_guessed;      /* pid is a process of the socket's uid naming the port, not proof */
    char comm[32];
    char cmdline[256];
    char user[64];
} pt_dr_sock;

typedef struct pt_dr_socks {
    pt_dr_sock *v;
    size_t n, cap;
    const char *source;      /* "sock_diag" or "/proc/net/tcp" */
    int fd_denied;           /* processes whose /proc/PID/fd could not be read */
} pt_dr_socks;

#define PT_DR_SOCKS_MAX 65536

/* Listening TCP sockets of this network namespace on port (or every port when port < 0),
 * IPv4 and IPv6: sock_diag first, /proc/net/tcp{,6} when netlink is not available.
 * Returns 0 or -errno. */
int pt_dr_socks_listening(pt_dr_socks *out, int port);
/* Fills the owner fields of every socket by matching socket inodes in /proc/PID/fd; sockets of
 * unreadable processes get a guess (a process of the socket's uid whose command line names the
 * port), flagged owner_guessed. */
void pt_dr_socks_find_owners(pt_dr_socks *s);
/* Appends to out the listeners on port that live in other network namespaces, read through
 * /proc/PID/net/tcp{,6}; sockets whose inode is in mine are ours and are left out. */
int pt_dr_socks_other_netns(pt_dr_socks *out, int port, const pt_dr_socks *mine);
int pt_dr_socks_push(pt_dr_socks *s, const pt_dr_sock *x);
void pt_dr_socks_release(pt_dr_socks *s);

/* "127.0.0.1", "::1", "0.0.0.0", "*" (dual-stack any), "::" (v6-only any). */
void pt_dr_sock_addr(const pt_dr_sock *s, char *out, size_t n);
/* "127.0.0.1:8080", "[::1]:8080", "*:8080", "[::]:8080", with "%eth0" when bound to a device. */
void pt_dr_sock_endpoint(const pt_dr_sock *s, char *out, size_t n);
/* "pid 4242 (node server.js, user ada)", or why the owner is not known. */
void pt_dr_sock_owner(const pt_dr_sock *s, int fd_denied, char *out, size_t n);
/* The fact object documented in doctor.h ("listeners" entries). */
json_t *pt_dr_sock_json(const pt_dr_sock *s);
/* Would a connection to addr (family, 4 or 16 bytes) reach this listener? Wildcards accept any
 * local address of their family; dual-stack wildcards also take IPv4; specific addresses only
 * themselves; a socket bound to a device other than lo takes nothing that arrives on lo. */
bool pt_dr_sock_accepts(const pt_dr_sock *s, int family, const unsigned char *addr);

/* Parses one line of /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6). Returns 0 and fills
 * out (state in *state, 0x0A = LISTEN) or -1 for the header or a malformed line. */
int pt_dr_procnet_parse(const char *line, int family, pt_dr_sock *out, unsigned *state);
/* One row of /proc/net/tcp{,6}: both ends of a socket, its state and queues. For an
 * established socket rx_queue is what the owner has not read yet; timer 3 is TIME_WAIT's and
 * timer_left its remaining clock ticks. */
typedef struct pt_dr_tcprow {
    int family;
    unsigned char laddr[16], raddr[16];
    uint16_t lport, rport;
    unsigned state;          /* 0x01 ESTABLISHED, 0x06 TIME_WAIT, 0x0A LISTEN, ... */
    unsigned tx_queue, rx_queue, timer;
    unsigned long timer_left;
    unsigned uid;
    unsigned long inode;
} pt_dr_tcprow;
#define PT_DR_TCP_ESTABLISHED 0x01
#define PT_DR_TCP_TIME_WAIT 0x06
/* Parses one row; -1 for the header or a malformed line. */
int pt_dr_procnet_row(const char *line, int family, pt_dr_tcprow *r);
/* Calls fn for each row of a /proc/net/tcp-format file until it returns false. 0 or -errno. */
int pt_dr_procnet_each(const char *path, int family, bool (*fn)(const pt_dr_tcprow *r, void *arg), void *arg);
/* Sockets in TIME_WAIT whose local port is port (a previous server's closed connections, which
 * block a bind without SO_REUSEADDR), and the most seconds one of them has left. */
typedef struct pt_dr_time_wait {
    unsigned count;
    long max_left_s;
} pt_dr_time_wait;
void pt_dr_time_wait_on_port(int port, pt_dr_time_wait *out);
/* For a connection of ours to a server on this host (same network namespace): how many bytes
 * we sent that the server has not read yet (its socket's receive queue), or -1 when its socket
 * is not found here. 0 after a request means the server read it. */
long pt_dr_peer_unread(int fd);
/* Reads a /proc/net/tcp-format file, appending LISTEN sockets on port (all when < 0). */
int pt_dr_procnet_read(const char *path, int family, int port, pt_dr_socks *out);

/* sockdiag.c: one family's listeners over NETLINK_SOCK_DIAG. Returns 0 or -errno. */
int pt__dr_sockdiag_listeners(int family, int port, pt_dr_socks *out);

#endif
