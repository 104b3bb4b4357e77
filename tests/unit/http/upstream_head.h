/* upstream_head.h: for client tests, the upstream side of a loopback exchange. */
#ifndef PT_TEST_UPSTREAM_HEAD_H
#define PT_TEST_UPSTREAM_HEAD_H

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

/* Runs `loop` until the listening socket `lfd` has a connection (or `afd`, one accepted
 * before, is reused) and a whole request head has been read on it; returns that socket.
 * Fails the test after about 2 s. */
static int upstream_accept_head(uv_loop_t *loop, int lfd, int afd)
{
    char buf[4096];
    size_t got = 0;
    for (int i = 0; i < 400; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (afd < 0) afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (afd >= 0) {
            ssize_t n = recv(afd, buf + got, sizeof buf - 1 - got, 0);
            if (n > 0) got += (size_t)n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n")) return afd;
        }
        usleep(5000);
    }
    fail_msg("the request head never reached the upstream");
    return -1;
}

#endif
