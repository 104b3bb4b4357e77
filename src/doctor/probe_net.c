/* probe_net.c: deadline-bound sockets for the doctor's probes (connect, read, write, optional
 * TLS) and the choice of the address to probe. */
#include "doctor/probe_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "core/err.h"
#include "core/log.h"
#include "doctor/probe_tls.h"

void pt__dr_ignore_sigpipe(void)
{
    static bool done;
    if (!done) signal(SIGPIPE, SIG_IGN);
    done = true;
}

uint64_t pt__dr_deadline(unsigned ms) { return pt_now_ms() + ms; }

int pt__dr_wait_fd(int fd, short ev, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = pt_now_ms();
        if (now >= deadline_ms) return 0;
        struct pollfd p = { .fd = fd, .events = ev };
        int r = poll(&p, 1, (int)(deadline_ms - now));
        if (r < 0 && errno == EINTR) continue;
        return r < 0 ? -errno : r;
    }
}

int pt__dr_tcp_connect(const char *addr, long port, uint64_t deadline_ms)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (port < 1 || port > 65535) return -EINVAL;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        len = sizeof *s4;
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        len = sizeof *s6;
    } else {
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&ss, len) == 0) return fd;
    if (errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    int w = pt__dr_wait_fd(fd, POLLOUT, deadline_ms);
    if (w <= 0) {
        close(fd);
        return w == 0 ? -ETIMEDOUT : w;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
    if (soerr) {
        close(fd);
        return -soerr;
    }
    return fd;
}

int pt__dr_conn_open(pt_dr_conn *c, const char *addr, long port, bool tls, const char *sni, uint64_t deadline_ms,
                     char *err, size_t errsz)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    memset(c, 0, sizeof *c);
    c->fd = -1;
    pt__dr_ignore_sigpipe();
    uint64_t t0 = pt_now_us();
    int fd = pt__dr_tcp_connect(addr, port, deadline_ms);
    if (fd < 0) {
        snprintf(err, errsz, "connect to %s port %ld failed: %s (%s)", addr, port, pt_dr_errno_name(-fd),
                 strerror(-fd));
        return fd == -ETIMEDOUT ? PT_ETIMEDOUT : fd == -ECONNREFUSED ? PT_ECONNREFUSED : PT_EIO;
    }
    c->fd = fd;
    c->connect_ms = pt_dr_ms_since(t0);
    if (!tls) return 0;
    uint64_t t1 = pt_now_us();
    c->ctx = pt__dr_tls_ctx_new(false, alpn, sizeof alpn - 1);
    if (!c->ctx) {
        snprintf(err, errsz, "cannot create a TLS context");
        pt__dr_conn_close(c);
        return PT_ETLS;
    }
    char why[160];
    int rc = pt__dr_tls_handshake(c->ctx, fd, sni, deadline_ms, NULL, &c->ssl, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errsz, "TLS handshake failed: %s", why);
        pt__dr_conn_close(c);
        return rc;
    }
    c->tls_ms = pt_dr_ms_since(t1);
    return 0;
}

int pt__dr_conn_write(pt_dr_conn *c, pt_slice data, uint64_t deadline_ms)
{
    size_t off = 0;
    while (off < data.len) {
        ssize_t n;
        short want = POLLOUT;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, data.ptr + off, (int)(data.len - off));
            if (r > 0) {
                off += (size_t)r;
                continue;
            }
            int se = SSL_get_error(c->ssl, r);
            if (se == SSL_ERROR_WANT_READ) want = POLLIN;
            else if (se != SSL_ERROR_WANT_WRITE) return PT_ECONNRESET;
        } else {
            n = send(c->fd, data.ptr + off, data.len - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return errno == ECONNRESET || errno == EPIPE ? PT_ECONNRESET : PT_EIO;
        }
        int w = pt__dr_wait_fd(c->fd, want, deadline_ms);
        if (w == 0) return PT_ETIMEDOUT;
        if (w < 0) return PT_EIO;
    }
    return 0;
}

ssize_t pt__dr_conn_read(pt_dr_conn *c, void *p, size_t n, uint64_t deadline_ms)
{
    for (;;) {
        short want = POLLIN;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, p, (int)(n > 65536 ? 65536 : n));
            if (r > 0) return r;
            int se = SSL_get_error(c->ssl, r);
            if (se == SSL_ERROR_ZERO_RETURN) return 0;
            if (se == SSL_ERROR_SYSCALL) return errno == ECONNRESET ? PT_ECONNRESET : 0;
            if (se == SSL_ERROR_WANT_WRITE) want = POLLOUT;
            else if (se != SSL_ERROR_WANT_READ) return PT_EIO;
        } else {
            ssize_t r = recv(c->fd, p, n, 0);
            if (r >= 0) return r;
            if (errno == EINTR) continue;
            if (errno == ECONNRESET) return PT_ECONNRESET;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return PT_EIO;
        }
        int w = pt__dr_wait_fd(c->fd, want, deadline_ms);
        if (w == 0) return PT_ETIMEDOUT;
        if (w < 0) return PT_EIO;
    }
}

void pt__dr_conn_close(pt_dr_conn *c)
{
    if (c->ssl) SSL_free(c->ssl);
    if (c->ctx) SSL_CTX_free(c->ctx);
    if (c->fd >= 0) close(c->fd);
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
}

pt_dr_read_outcome pt__dr_read_reply(pt_dr_conn *c, pt_buf *b, size_t max, uint64_t deadline_ms, unsigned idle_ms)
{
    char chunk[4096];
    bool got = false;
    while (b->len < max) {
        uint64_t dl = deadline_ms;
        if (got) {
            uint64_t idle = pt__dr_deadline(idle_ms);
            if (idle < dl) dl = idle;
        }
        size_t room = max - b->len < sizeof chunk ? max - b->len : sizeof chunk;
        ssize_t n = pt__dr_conn_read(c, chunk, room, dl);
        if (n > 0) {
            if (pt_buf_append(b, chunk, (size_t)n) != 0) break;
            got = true;
            continue;
        }
        if (got) break;
        if (n == 0) return PT_DR_RD_EOF;
        if (n == PT_ETIMEDOUT) return PT_DR_RD_SILENT;
        if (n == PT_ECONNRESET) return PT_DR_RD_RESET;
        return PT_DR_RD_ERROR;
    }
    return PT_DR_RD_DATA;
}

const char *pt__dr_read_outcome_name(pt_dr_read_outcome o)
{
    switch (o) {
    case PT_DR_RD_DATA: return "data";
    case PT_DR_RD_EOF: return "closed";
    case PT_DR_RD_RESET: return "reset";
    case PT_DR_RD_SILENT: return "silent";
    case PT_DR_RD_ERROR: return "error";
    }
    return "error";
}

void pt__dr_authority(const char *host, long port, char *out, size_t outsz)
{
    bool v6 = host && strchr(host, ':') != NULL;
    snprintf(out, outsz, "%s%s%s:%ld", v6 ? "[" : "", host ? host : "localhost", v6 ? "]" : "", port);
}

json_t *pt__dr_evidence(pt_dr_result *res)
{
    if (!res->evidence) res->evidence = json_object();
    return res->evidence;
}

int pt__dr_probe_address(pt_dr_ctx *ctx, char *out, size_t outsz, char *why, size_t whysz)
{
    const pt_dr_target *t = ctx->target;
    json_t *valid = json_object_get(ctx->facts, "port_valid");
    if ((valid && json_is_false(valid)) || t->port < 1 || t->port > 65535) {
        snprintf(why, whysz, "the port is not valid");
        return -1;
    }
    const char *reach = json_string_value(json_object_get(ctx->facts, "reachable_address"));
    if (reach) {
        snprintf(out, outsz, "%s", reach);
        return 1;
    }
    if (json_object_get(ctx->facts, "connect")) {
        snprintf(why, whysz, "no address of %s accepted a connection (see connect)", t->host);
        return 0;
    }
    /* No connect facts (the connect check did not run): find an address that accepts. */
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int g = getaddrinfo(t->host, NULL, &hints, &ai);
    if (g != 0 || !ai) {
        snprintf(why, whysz, "%s does not resolve: %s", t->host, gai_strerror(g));
        return -1;
    }
    int found = 0;
    for (struct addrinfo *a = ai; a && !found; a = a->ai_next) {
        char host[INET6_ADDRSTRLEN];
        void *src = a->ai_family == AF_INET ? (void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                            : (void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        if (!inet_ntop(a->ai_family, src, host, sizeof host)) continue;
        int fd = pt__dr_tcp_connect(host, t->port, pt__dr_deadline(ctx->opts->timeout_ms));
        if (fd >= 0) {
            close(fd);
            snprintf(out, outsz, "%s", host);
            found = 1;
        }
    }
    freeaddrinfo(ai);
    if (!found) snprintf(why, whysz, "no address of %s accepted a connection", t->host);
    return found;
}
