/* webhook.c: a JSON POST off the request path (webhook.h). */
#include "limits/webhook.h"

#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/log.h"

typedef struct post {
    char host[256], port[8], *path, *json, *url;
    unsigned timeout_ms;
} post;

static void post_free(post *p)
{
    free(p->path);
    free(p->json);
    free(p->url);
    free(p);
}

/* "http://host[:port][/path]" into p; -1 when it is not one. */
static int split(post *p, const char *url)
{
    if (strncmp(url, "http://", 7) != 0) return -1;
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t nl = colon ? (size_t)(colon - h) : hl;
    if (!nl || nl >= sizeof p->host) return -1;
    memcpy(p->host, h, nl);
    p->host[nl] = '\0';
    snprintf(p->port, sizeof p->port, "%.*s", colon ? (int)(hl - nl - 1) : 2, colon ? colon + 1 : "80");
    p->path = strdup(slash ? slash : "/");
    return p->path ? 0 : -1;
}

static int connect_to(const post *p)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(p->host, p->port, &hints, &res) != 0) return -1;
    int fd = -1;
    struct timeval tv = { .tv_sec = p->timeout_ms / 1000, .tv_usec = (p->timeout_ms % 1000) * 1000 };
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect() too */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The answer's status, or -1. */
static int exchange(const post *p)
{
    int fd = connect_to(p);
    if (fd < 0) return -1;
    char head[768];
    size_t len = strlen(p->json);
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "User-Agent: portico\r\nConnection: close\r\n\r\n",
                     p->path, p->host, p->port, len);
    int status = -1;
    char buf[64] = { 0 };
    if (n > 0 && (size_t)n < sizeof head && send_all(fd, head, (size_t)n) == 0 && send_all(fd, p->json, len) == 0) {
        ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
        if (r > 12 && strncmp(buf, "HTTP/1.", 7) == 0) status = atoi(buf + 9);
    }
    close(fd);
    return status;
}

static void *run(void *arg)
{
    post *p = arg;
    int status = exchange(p);
    if (status >= 200 && status < 300) pt_log_info("budget webhook %s answered %d", p->url, status);
    else if (status > 0) pt_log_warn("budget webhook %s answered %d", p->url, status);
    else pt_log_warn("budget webhook %s could not be reached within %u ms", p->url, p->timeout_ms);
    post_free(p);
    return NULL;
}

int pt_limits_webhook_post(const char *url, const char *json, unsigned timeout_ms)
{
    post *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->timeout_ms = timeout_ms ? timeout_ms : 5000;
    if (split(p, url) != 0 || !(p->json = strdup(json)) || !(p->url = strdup(url))) {
        post_free(p);
        return -1;
    }
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, run, p);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        post_free(p);
        return -1;
    }
    return 0;
}
