/* noaccept.c: a lab listener that never calls accept(), with its accept queue filled, for the
 * doctor's accept_queue_full case. Listens on 127.0.0.1:PORT (0: any free port) with backlog 1,
 * connects to itself until the kernel stops completing handshakes, prints "listening PORT" and
 * then sleeps until killed (or 120 s, so a forgotten one cannot linger). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0) {
        perror("noaccept: bind/listen");
        return 1;
    }
    socklen_t len = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &len);
    /* With backlog 1 the kernel queues two connections; the third SYN is dropped. */
    for (int i = 0; i < 4; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(c, (struct sockaddr *)&a, sizeof a);
        struct pollfd p = { .fd = c, .events = POLLOUT };
        if (poll(&p, 1, 300) <= 0) { close(c); break; }
    }
    printf("listening %d\n", ntohs(a.sin_port));
    fflush(stdout);
    alarm(120);
    for (;;) pause();
}
