/* netprobe.c: parallel non-blocking TCP connects with one deadline (see netprobe.h). */
#include "doctor/netprobe.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

#define MAX_PROBES 32

const char *pt_dr_connect_class(int err)
{
    switch (err) {
    case 0: return "connected";
    case ECONNREFUSED: return "refused";
    case ETIMEDOUT: return "timeout";
    case ECONNRESET: return "reset";
    case EHOSTUNREACH:
    case ENETUNREACH: return "unreachable";
    case EADDRNOTAVAIL: return "addr_not_avail";
    default: return "error";
    }
}

static int start(pt_dr_conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (c->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(c->port);
        memcpy(&s4->sin_addr, c->addr, 4);
        len = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(c->port);
        memcpy(&s6->sin6_addr, c->addr, 16);
        len = sizeof *s6;
    }
    int fd = socket(c->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->err = errno;
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
        c->err = 0;
        close(fd);
        return -1; /* done already */
    }
    if (errno != EINPROGRESS) {
        c->err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

void pt_dr_connect_all(pt_dr_conn *v, size_t n, unsigned timeout_ms)
{
    if (n > MAX_PROBES) n = MAX_PROBES;
    struct pollfd pfd[MAX_PROBES];
    size_t idx[MAX_PROBES], live = 0;
    uint64_t t0 = pt_now_us();
    for (size_t i = 0; i < n; i++) {
        int fd = start(&v[i]);
        if (fd < 0) {
            v[i].ms = (double)((pt_now_us() - t0) / 10) / 100.0;
            v[i].result = pt_dr_connect_class(v[i].err);
            continue;
        }
        pfd[live] = (struct pollfd){ .fd = fd, .events = POLLOUT };
        idx[live++] = i;
    }
    uint64_t deadline = t0 + (uint64_t)timeout_ms * 1000u;
    size_t pending = live;
    for (int rounds = 0; pending && rounds < 10000; rounds++) {
        uint64_t now = pt_now_us();
        if (now >= deadline) break;
        int wait = (int)((deadline - now + 999) / 1000);
        int r = poll(pfd, live, wait);
        if (r < 0 && errno != EINTR) break;
        for (size_t k = 0; r > 0 && k < live; k++) {
            if (pfd[k].fd < 0 || !pfd[k].revents) continue;
            pt_dr_conn *c = &v[idx[k]];
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(pfd[k].fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
            c->err = soerr;
            c->ms = (double)((pt_now_us() - t0) / 10) / 100.0;
            c->result = pt_dr_connect_class(soerr);
            close(pfd[k].fd);
            pfd[k].fd = -1;
            pending--;
        }
    }
    for (size_t k = 0; k < live; k++) {
        if (pfd[k].fd < 0) continue;
        pt_dr_conn *c = &v[idx[k]];
        c->err = ETIMEDOUT;
        c->ms = (double)((pt_now_us() - t0) / 10) / 100.0;
        c->result = "timeout";
        close(pfd[k].fd);
    }
}
