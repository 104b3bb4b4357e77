/* sockdiag.c: listening TCP sockets from the kernel's socket diagnostics (NETLINK_SOCK_DIAG,
 * inet_diag), the way `ss -ltn` gets them. Unlike /proc/net/tcp it reports the IPv6-only flag,
 * the bound device and, for listeners, both the accept queue and the backlog. No privilege is
 * needed: every socket of this network namespace is visible. */
#include <errno.h>
#include <stdbool.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "doctor/listeners.h"

#define TCP_LISTEN_STATE 10

static int send_request(int fd, int family)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg;
    memset(&msg, 0, sizeof msg);
    msg.nlh.nlmsg_len = sizeof msg;
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.req.sdiag_family = (unsigned char)family;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = 1u << TCP_LISTEN_STATE;
    /* Asking for the traffic class makes the kernel add INET_DIAG_SKV6ONLY for listeners. */
    msg.req.idiag_ext = 1u << (INET_DIAG_TCLASS - 1);
    struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
    struct iovec iov = { &msg, sizeof msg };
    struct msghdr mh = { .msg_name = &nl, .msg_namelen = sizeof nl, .msg_iov = &iov, .msg_iovlen = 1 };
    return sendmsg(fd, &mh, 0) < 0 ? -errno : 0;
}

static void parse_msg(const struct nlmsghdr *h, int port, pt_dr_socks *out)
{
    const struct inet_diag_msg *m = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof *m)) return;
    if (m->idiag_state != TCP_LISTEN_STATE) return;
    pt_dr_sock s;
    memset(&s, 0, sizeof s);
    s.family = m->idiag_family;
    s.port = ntohs(m->id.idiag_sport);
    if (port >= 0 && s.port != port) return;
    memcpy(s.addr, m->id.idiag_src, s.family == AF_INET ? 4 : 16);
    s.ifindex = m->id.idiag_if;
    s.accept_queue = m->idiag_rqueue;
    s.backlog = m->idiag_wqueue;
    s.uid = m->idiag_uid;
    s.inode = m->idiag_inode;
    s.v6only = s.family == AF_INET6 ? -1 : 0;
    int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
    for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1) s.v6only = *(unsigned char *)RTA_DATA(a) != 0;
    }
    pt_dr_socks_push(out, &s);
}

/* NLMSG_OK / NLMSG_NEXT without their signed/unsigned comparison. */
static bool msg_fits(const struct nlmsghdr *h, size_t left)
{
    return left >= sizeof *h && h->nlmsg_len >= sizeof *h && h->nlmsg_len <= left;
}

static struct nlmsghdr *msg_next(struct nlmsghdr *h, size_t *left)
{
    size_t step = NLMSG_ALIGN(h->nlmsg_len);
    *left = step < *left ? *left - step : 0;
    return (struct nlmsghdr *)((char *)h + step);
}

int pt__dr_sockdiag_listeners(int family, int port, pt_dr_socks *out)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -errno;
    struct timeval tv = { .tv_sec = 1 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc = send_request(fd, family);
    if (rc) goto out;
    /* Netlink buffers must be aligned for nlmsghdr; 32 KiB holds a few hundred sockets per read. */
    static _Thread_local long buf[32768 / sizeof(long)];
    for (int reads = 0; reads < 4096; reads++) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
            goto out;
        }
        if (n == 0) break;
        size_t left = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; msg_fits(h, left); h = msg_next(h, &left)) {
            if (h->nlmsg_type == NLMSG_DONE) goto out;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                rc = e->error ? e->error : -EPROTO;
                goto out;
            }
            if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) parse_msg(h, port, out);
            if (out->n >= PT_DR_SOCKS_MAX) goto out;
        }
    }
out:
    close(fd);
    return rc;
}
