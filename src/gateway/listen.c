/* listen.c: sets of listening sockets keyed by address (see listen.h). */
#include "gateway/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/sockowner.h"

void pt_listen_key(const pt_listener_cfg *l, char out[PT_LISTEN_KEY_MAX])
{
    snprintf(out, PT_LISTEN_KEY_MAX, "%s %u", l->host, (unsigned)l->port);
}

static void explain_in_use(const pt_listener_cfg *l, pt_buf *err)
{
    char cmd[160];
    int pid = pt_sock_owner(l->port, cmd, sizeof cmd);
    if (pid > 0)
        pt_buf_printf(err, "cannot listen on %s: address in use by pid %d (%s)", l->text, pid,
                      cmd[0] ? cmd : "command line not readable");
    else
        pt_buf_printf(err, "cannot listen on %s: address in use by another process (its owner is not visible "
                           "to this user; `portico doctor --listen %s` shows more)", l->text, l->text);
}

/* Binds one listening socket, exclusively: no SO_REUSEPORT, so an address another process
 * (another gateway included) listens on is refused with its owner named. */
static int bind_one(const pt_listener_cfg *l, int *out_fd, pt_buf *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int family;
    if (uv_ip4_addr(l->host, l->port, (struct sockaddr_in *)&ss) == 0) family = AF_INET;
    else if (uv_ip6_addr(l->host, l->port, (struct sockaddr_in6 *)&ss) == 0) family = AF_INET6;
    else {
        pt_buf_printf(err, "cannot listen on %s: '%s' is not an IP address", l->text, l->host);
        return -1;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        pt_buf_printf(err, "cannot listen on %s: %s", l->text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        if (e == EADDRINUSE) explain_in_use(l, err);
        else pt_buf_printf(err, "cannot listen on %s: %s", l->text, strerror(e));
        if (e == EACCES) pt_buf_printf(err, "; ports below 1024 need root or CAP_NET_BIND_SERVICE, pick a port >= 1024");
        else if (e == EADDRNOTAVAIL) pt_buf_printf(err, "; %s is not an address of this host", l->host);
        close(fd);
        return -1;
    }
    *out_fd = fd;
    return 0;
}

static const pt_listen_fd *find_key(const pt_listen_set *s, const char *key)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0) return &s->v[i];
    return NULL;
}

int pt_listen_set_open(const pt_config *cfg, const pt_listen_set *prev, pt_listen_set *out, pt_buf *err)
{
    memset(out, 0, sizeof *out);
    if (cfg->nlisteners > PT_LISTEN_MAX) {
        pt_buf_printf(err, "listen: %zu addresses, at most %d are supported", cfg->nlisteners, PT_LISTEN_MAX);
        return -1;
    }
    out->v = calloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof *out->v);
    if (!out->v) {
        pt_buf_printf(err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        pt_listen_fd *x = &out->v[i];
        pt_listen_key(&cfg->listeners[i], x->key);
        const pt_listen_fd *old = find_key(prev, x->key);
        if (find_key(out, x->key)) {
            pt_buf_printf(err, "listen: %s is listed twice", cfg->listeners[i].text);
            goto fail;
        }
        if (old) {
            x->fd = fcntl(old->fd, F_DUPFD_CLOEXEC, 3);
            if (x->fd < 0) {
                pt_buf_printf(err, "cannot keep listening on %s: %s", cfg->listeners[i].text, strerror(errno));
                goto fail;
            }
        } else if (bind_one(&cfg->listeners[i], &x->fd, err) != 0) {
            goto fail;
        }
        out->n = i + 1;
    }
    return 0;
fail:
    pt_listen_set_release(out);
    return -1;
}

void pt_listen_set_release(pt_listen_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].fd >= 0) close(s->v[i].fd);
    free(s->v);
    memset(s, 0, sizeof *s);
}

int pt_listen_set_same(const pt_listen_set *a, const pt_listen_set *b)
{
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!find_key(b, a->v[i].key)) return 0;
    return 1;
}

int pt_listen_set_send(int sock, const pt_listen_set *s)
{
    char text[PT_LISTEN_MAX * PT_LISTEN_KEY_MAX];
    size_t len = 0;
    for (size_t i = 0; i < s->n; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s\n", s->v[i].key);
    struct iovec iov = { .iov_base = text, .iov_len = len ? len : 1 };
    if (!len) text[0] = '\n';
    union {
        char buf[CMSG_SPACE(sizeof(int) * PT_LISTEN_MAX)];
        struct cmsghdr align;
    } u;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (s->n) {
        m.msg_control = u.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * s->n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * s->n);
        for (size_t i = 0; i < s->n; i++) memcpy(CMSG_DATA(c) + i * sizeof(int), &s->v[i].fd, sizeof(int));
    }
    ssize_t r;
    do r = sendmsg(sock, &m, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : 0;
}

/* Splits the received text into keys, one per socket received. */
static int fill_keys(pt_listen_set *out, char *text, const int *fds, size_t nfds)
{
    out->v = calloc(nfds ? nfds : 1, sizeof *out->v);
    if (!out->v) return -1;
    char *save = NULL;
    char *k = strtok_r(text, "\n", &save);
    for (size_t i = 0; i < nfds; i++, k = strtok_r(NULL, "\n", &save)) {
        if (!k) return -1;
        snprintf(out->v[i].key, sizeof out->v[i].key, "%s", k);
        out->v[i].fd = fds[i];
        out->n = i + 1;
    }
    return 0;
}

int pt_listen_set_recv(int sock, pt_listen_set *out)
{
    char text[PT_LISTEN_MAX * PT_LISTEN_KEY_MAX + 1];
    union {
        char buf[CMSG_SPACE(sizeof(int) * PT_LISTEN_MAX)];
        struct cmsghdr align;
    } u;
    struct iovec iov = { .iov_base = text, .iov_len = sizeof text - 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    ssize_t r;
    do r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r <= 0) return r == 0 ? 0 : -1;
    text[r] = '\0';
    int fds[PT_LISTEN_MAX];
    size_t nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && nfds < PT_LISTEN_MAX; i++) memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    memset(out, 0, sizeof *out);
    if (fill_keys(out, text, fds, nfds) != 0 || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (size_t i = out->n; i < nfds; i++) close(fds[i]);
        pt_listen_set_release(out);
        return -1;
    }
    return 1;
}

int pt_listen_set_export(pt_listen_set *s, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        int n = snprintf(out + len, cap - len, "%s%d:%s", i ? ";" : "", s->v[i].fd, s->v[i].key);
        if (n < 0 || (size_t)n >= cap - len) return -1;
        len += (size_t)n;
        fcntl(s->v[i].fd, F_SETFD, 0);
    }
    return 0;
}

int pt_listen_set_import(const char *text, pt_listen_set *out)
{
    memset(out, 0, sizeof *out);
    out->v = calloc(PT_LISTEN_MAX, sizeof *out->v);
    if (!out->v) return -1;
    for (const char *p = text; *p && out->n < PT_LISTEN_MAX;) {
        char *end;
        long fd = strtol(p, &end, 10);
        size_t klen = strcspn(end + 1, ";");
        if (end == p || *end != ':' || fd < 0 || klen == 0 || klen >= PT_LISTEN_KEY_MAX) goto fail;
        pt_listen_fd *x = &out->v[out->n++];
        x->fd = (int)fd;
        memcpy(x->key, end + 1, klen);
        fcntl(x->fd, F_SETFD, FD_CLOEXEC);
        p = end + 1 + klen;
        if (*p == ';') p++;
    }
    return 0;
fail:
    free(out->v);
    memset(out, 0, sizeof *out);
    return -1;
}
