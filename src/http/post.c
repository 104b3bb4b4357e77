/* post.c: one blocking HTTP/1.1 POST (or GET) with a deadline, plain or over TLS (see post.h). */
#include "http/post.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/log.h"
#include "http/tls.h"
#include "version.h"

int pt_post_url_parse(const char *url, pt_post_url *u)
{
    memset(u, 0, sizeof *u);
    const char *h;
    if (strncmp(url, "http://", 7) == 0) h = url + 7;
    else if (strncmp(url, "https://", 8) == 0) h = url + 8, u->tls = true;
    else return -1;
    size_t hl = strcspn(h, "/?#");
    const char *end = h + hl, *colon = NULL;
    if (*h == '[') { /* [v6]:port */
        const char *close = memchr(h, ']', hl);
        if (!close) return -1;
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        if (close + 1 < end && !colon) return -1;
        if ((size_t)(close - h - 1) >= sizeof u->host) return -1;
        memcpy(u->host, h + 1, (size_t)(close - h - 1));
    } else {
        colon = memchr(h, ':', hl);
        size_t nl = colon ? (size_t)(colon - h) : hl;
        if (nl >= sizeof u->host) return -1;
        memcpy(u->host, h, nl);
    }
    if (!u->host[0]) return -1;
    u->port = u->tls ? 443 : 80;
    if (colon) {
        char *e;
        long p = strtol(colon + 1, &e, 10);
        if (e != end || p < 1 || p > 65535) return -1;
        u->port = (uint16_t)p;
    }
    int n = snprintf(u->path, sizeof u->path, "%s%.*s", *end == '/' ? "" : "/", (int)strcspn(end, "#"), end);
    return n > 0 && (size_t)n < sizeof u->path ? 0 : -1;
}

/* ---- the exchange ----------------------------------------------------------------------- */

typedef struct conn {
    int fd;
    SSL *ssl;
    uint64_t deadline;
    char *why;
    size_t whycap;
} conn;

static int failed(conn *c, const char *what)
{
    if (!c->why[0]) snprintf(c->why, c->whycap, "%s", what);
    return -1;
}

/* Waits for events on fd until the deadline: >0 ready, 0 timed out, <0 error. */
static int wait_fd(conn *c, short events)
{
    for (;;) {
        int64_t ms = (int64_t)(c->deadline - pt_now_ms());
        if (ms <= 0) return 0;
        struct pollfd p = { .fd = c->fd, .events = events };
        int rc = poll(&p, 1, (int)ms);
        if (rc < 0 && errno == EINTR) continue;
        return rc;
    }
}

static int connect_to(conn *c, const pt_post_url *u)
{
    char port[8];
    snprintf(port, sizeof port, "%u", u->port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(u->host, port, &hints, &res) != 0) return failed(c, "the host name does not resolve");
    c->fd = -1;
    for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) continue;
        int rc = connect(c->fd, ai->ai_addr, ai->ai_addrlen), err = 0;
        socklen_t el = sizeof err;
        if (rc != 0 && (errno != EINPROGRESS || wait_fd(c, POLLOUT) <= 0 ||
                        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)) {
            close(c->fd);
            c->fd = -1;
        }
    }
    freeaddrinfo(res);
    return c->fd < 0 ? failed(c, "the connection failed or timed out") : 0;
}

/* After an SSL call returned rc <= 0: waits for what it wants; -1 when it failed. */
static int tls_wait(conn *c, int rc)
{
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) return wait_fd(c, POLLIN) > 0 ? 0 : failed(c, "timed out");
    if (e == SSL_ERROR_WANT_WRITE) return wait_fd(c, POLLOUT) > 0 ? 0 : failed(c, "timed out");
    return -1;
}

static SSL_CTX *client_ctx;
static pthread_once_t client_once = PTHREAD_ONCE_INIT;

static void client_ctx_init(void)
{
    pt_buf err = PT_BUF_INIT;
    client_ctx = pt_tls_client_ctx_new(NULL, false, &err);
    if (!client_ctx) pt_log_error("https POSTs: %s", err.data ? err.data : "no TLS context");
    pt_buf_release(&err);
}

static int handshake(conn *c, const pt_post_url *u)
{
    pthread_once(&client_once, client_ctx_init);
    if (!client_ctx || !(c->ssl = SSL_new(client_ctx)) || SSL_set_fd(c->ssl, c->fd) != 1)
        return failed(c, "no TLS context");
    pt__tls_name_peer(c->ssl, u->host, true);
    for (;;) {
        ERR_clear_error();
        int rc = SSL_connect(c->ssl);
        if (rc == 1) return 0;
        if (tls_wait(c, rc) != 0) {
            long v = SSL_get_verify_result(c->ssl);
            char msg[200];
            snprintf(msg, sizeof msg, "the TLS handshake failed%s%s", v != X509_V_OK ? ": " : "",
                     v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
            return failed(c, msg);
        }
    }
}

static int send_all(conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w;
        if (c->ssl) {
            ERR_clear_error();
            int rc = SSL_write(c->ssl, p, n > (size_t)1 << 30 ? 1 << 30 : (int)n);
            if (rc <= 0) {
                if (tls_wait(c, rc) != 0) return failed(c, "sending failed");
                continue;
            }
            w = rc;
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) return failed(c, "sending failed");
            if (w <= 0) {
                if (wait_fd(c, POLLOUT) <= 0) return failed(c, "timed out sending");
                continue;
            }
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One read: the bytes read, 0 when the peer closed, -1 on an error or past the deadline. */
static ssize_t read_some(conn *c, char *buf, size_t cap)
{
    for (;;) {
        if (c->ssl) {
            ERR_clear_error();
            int rc = SSL_read(c->ssl, buf, (int)cap);
            if (rc > 0) return rc;
            int e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_ZERO_RETURN) return 0;
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0; /* closed without close_notify */
            if (tls_wait(c, rc) != 0) return -1;
            continue;
        }
        if (wait_fd(c, POLLIN) <= 0) return failed(c, "timed out waiting for the answer");
        ssize_t r = recv(c->fd, buf, cap, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        return r < 0 ? -1 : r;
    }
}

/* Reads until the status line is complete; returns the status, or -1. */
static int read_status(conn *c)
{
    char buf[512];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t r = read_some(c, buf + got, sizeof buf - 1 - got);
        if (r <= 0) return failed(c, r == 0 ? "the connection closed without an answer" : "no answer");
        got += (size_t)r;
        buf[got] = '\0';
        if (strstr(buf, "\r\n")) break;
    }
    buf[got] = '\0';
    int status;
    return sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : failed(c, "the answer is not HTTP");
}

/* A chunked body decoded in place; -1 when it is not chunked coding. */
static int dechunk(pt_buf *b, size_t start)
{
    size_t in = start, out = start;
    for (;;) {
        char *e;
        unsigned long n = strtoul(b->data + in, &e, 16);
        char *crlf = strstr(e, "\r\n");
        if (e == b->data + in || !crlf) return -1;
        in = (size_t)(crlf + 2 - b->data);
        if (n == 0) break;
        if (n > b->len - in) return -1;
        memmove(b->data + out, b->data + in, n);
        out += n;
        in += n + 2;
        if (in > b->len) return -1;
    }
    b->len = out;
    b->data[out] = '\0';
    return 0;
}

/* Reads the whole answer (Connection: close) into *answer: status, then the body alone. */
static int read_answer(conn *c, pt_buf *answer)
{
    char buf[4096];
    for (;;) {
        ssize_t r = read_some(c, buf, sizeof buf);
        if (r < 0) return failed(c, "no answer");
        if (r == 0) break;
        if (pt_buf_append(answer, buf, (size_t)r)) return failed(c, "the answer is too large");
    }
    if (pt_buf_append(answer, "", 1)) return failed(c, "the answer is too large");
    answer->len--;
    int status;
    char *end = strstr(answer->data, "\r\n\r\n");
    if (!end || sscanf(answer->data, "HTTP/1.%*d %d", &status) != 1) return failed(c, "the answer is not HTTP");
    size_t body = (size_t)(end + 4 - answer->data);
    *end = '\0';
    bool chunked = strcasestr(answer->data, "\r\ntransfer-encoding: chunked") != NULL;
    if (chunked && dechunk(answer, body) != 0) return failed(c, "the answer's chunked body is malformed");
    memmove(answer->data, answer->data + body, answer->len - body + 1);
    answer->len -= body;
    return status;
}

/* One request: a POST when ctype is given, otherwise a GET with no body. */
static int exchange(const pt_post_url *u, const char *headers, const char *ctype, const char *body, size_t len,
                    uint64_t timeout_ms, pt_buf *answer, char *why, size_t whycap)
{
    char none[1];
    conn c = { .fd = -1, .deadline = pt_now_ms() + timeout_ms, .why = why ? why : none, .whycap = why ? whycap : 1 };
    c.why[0] = '\0';
    bool v6 = strchr(u->host, ':') != NULL;
    pt_buf head = PT_BUF_INIT;
    pt_buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s%s%s:%u\r\n", ctype ? "POST" : "GET", u->path, v6 ? "[" : "",
                  u->host, v6 ? "]" : "", u->port);
    if (ctype) pt_buf_printf(&head, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, len);
    pt_buf_printf(&head, "Connection: close\r\nUser-Agent: portico/" PT_VERSION "\r\n%s\r\n", headers ? headers : "");
    int status = -1;
    if (!head.data) failed(&c, "out of memory");
    else if (connect_to(&c, u) == 0 && (!u->tls || handshake(&c, u) == 0) && send_all(&c, head.data, head.len) == 0 &&
             send_all(&c, body, len) == 0)
        status = answer ? read_answer(&c, answer) : read_status(&c);
    if (c.ssl) {
        SSL_shutdown(c.ssl); /* one try: the answer is in, the peer's close_notify is not awaited */
        SSL_free(c.ssl);
    }
    if (c.fd >= 0) close(c.fd);
    pt_buf_release(&head);
    return status;
}

int pt_http_post(const pt_post_url *u, const char *headers, const char *ctype, const char *body, size_t len,
                 uint64_t timeout_ms, char *why, size_t whycap)
{
    return exchange(u, headers, ctype, body, len, timeout_ms, NULL, why, whycap);
}

int pt_http_post_read(const pt_post_url *u, const char *headers, const char *ctype, const char *body, size_t len,
                      uint64_t timeout_ms, pt_buf *answer, char *why, size_t whycap)
{
    return exchange(u, headers, ctype, body, len, timeout_ms, answer, why, whycap);
}

int pt_http_get_read(const pt_post_url *u, const char *headers, uint64_t timeout_ms, pt_buf *answer, char *why,
                     size_t whycap)
{
    return exchange(u, headers, NULL, NULL, 0, timeout_ms, answer, why, whycap);
}
