/* netlab.c: a tiny TCP server for the doctor's network lab (tests/blackbox/doctor_net.sh).
 * It listens where it is told, in the shape it is told (address, IPv6-only flag, backlog), and
 * either answers every request with a small HTTP 200 or never accepts at all, optionally
 * holding its own connections in the accept queue so that the queue is full. It prints the
 * port once ready and exits by itself after --ttl seconds, so a crashed test leaves nothing
 * running for long.
 *
 *   netlab [--addr ADDR] [--port N] [--v6only 0|1] [--backlog N] [--no-accept] [--hold N]
 *          [--close | --reset] [--ttl SECONDS]
 *
 * --close accepts and closes at once without a byte (a port forwarder with nothing behind
 * it); --reset accepts, waits for the request and resets (RST, SO_LINGER 0), as a server
 * that aborts on every request does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HOLD 16

static void die(const char *what)
{
    fprintf(stderr, "netlab: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int make_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((unsigned short)port);
        *len = sizeof *s4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((unsigned short)port);
        *len = sizeof *s6;
        return AF_INET6;
    }
    fprintf(stderr, "netlab: bad address %s\n", addr);
    exit(2);
}

static int drop_mode; /* 0 answer, 1 close at once, 2 reset at once */

static void answer(int lfd, time_t deadline)
{
    int c = accept(lfd, NULL, NULL);
    if (c < 0) return;
    if (drop_mode) {
        struct linger lg = { 1, 0 };
        struct pollfd w = { .fd = c, .events = POLLIN };
        if (drop_mode == 2) {
            (void)poll(&w, 1, 1000); /* the request arrives, then the abort */
            setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c);
        return;
    }
    char buf[4096];
    size_t got = 0;
    struct pollfd p = { .fd = c, .events = POLLIN };
    /* Read the request head, at most 1 s and 4 KiB, then answer. */
    while (got < sizeof buf - 1 && time(NULL) < deadline && poll(&p, 1, 1000) > 0) {
        ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n")) break;
    }
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                               "Connection: close\r\n\r\nok\n";
    if (got) {
        ssize_t w = write(c, resp, sizeof resp - 1);
        (void)w;
    }
    close(c);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 0, v6only = -1, backlog = 128, hold = 0, ttl = 60;
    int accept_conns = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-accept") == 0) accept_conns = 0;
        else if (strcmp(a, "--close") == 0) drop_mode = 1;
        else if (strcmp(a, "--reset") == 0) drop_mode = 2;
        else if (!v) { fprintf(stderr, "netlab: %s needs a value\n", a); return 2; }
        else if (strcmp(a, "--addr") == 0) addr = v, i++;
        else if (strcmp(a, "--port") == 0) port = atoi(v), i++;
        else if (strcmp(a, "--v6only") == 0) v6only = atoi(v), i++;
        else if (strcmp(a, "--backlog") == 0) backlog = atoi(v), i++;
        else if (strcmp(a, "--hold") == 0) hold = atoi(v), i++;
        else if (strcmp(a, "--ttl") == 0) ttl = atoi(v), i++;
        else { fprintf(stderr, "netlab: unknown option %s\n", a); return 2; }
    }
    if (hold > MAX_HOLD) hold = MAX_HOLD;
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_storage ss;
    socklen_t len;
    int family = make_addr(addr, port, &ss, &len);
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6 && v6only >= 0) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) die("bind");
    if (listen(fd, backlog) < 0) die("listen");
    struct sockaddr_storage me;
    socklen_t mlen = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &mlen);
    int real = ntohs(family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port : ((struct sockaddr_in6 *)&me)->sin6_port);

    /* Fill our own accept queue: these connections complete in the kernel and are never accepted. */
    int held[MAX_HOLD];
    for (int i = 0; i < hold; i++) {
        held[i] = socket(family, SOCK_STREAM, 0);
        struct sockaddr_storage to = me;
        if (held[i] < 0 || connect(held[i], (struct sockaddr *)&to, mlen) < 0) die("hold connect");
    }

    printf("%d\n", real);
    fflush(stdout);
    time_t deadline = time(NULL) + ttl;
    while (time(NULL) < deadline) {
        struct pollfd p = { .fd = fd, .events = accept_conns ? POLLIN : 0 };
        int r = poll(&p, 1, 200);
        if (r > 0 && accept_conns) answer(fd, deadline);
    }
    return 0;
}
