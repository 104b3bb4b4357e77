/* runcmd.c: bounded execution of read-only system tools (see runcmd.h). */
#include "doctor/runcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"

extern char **environ;

bool pt_dr_which(const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (!*d) continue;
        snprintf(out, n, "%s/%s", d, name);
        if (access(out, X_OK) == 0) return true;
    }
    return false;
}

int pt_dr_run_cmd(char *const argv[], unsigned timeout_ms, size_t cap, pt_dr_cmd *res)
{
    memset(res, 0, sizeof *res);
    res->status = -1;
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0) return -errno;
    if (pipe2(err, O_CLOEXEC) < 0) {
        close(out[0]), close(out[1]);
        return -errno;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(out[0]), close(err[0]);
        return -rc;
    }
    size_t alloc = 4096, errlen = 0;
    res->out = malloc(alloc);
    if (res->out) res->out[0] = '\0';
    struct pollfd p[2] = { { .fd = out[0], .events = POLLIN }, { .fd = err[0], .events = POLLIN } };
    uint64_t deadline = pt_now_ms() + timeout_ms;
    int open_fds = 2;
    for (int rounds = 0; open_fds && rounds < 100000; rounds++) {
        uint64_t now = pt_now_ms();
        if (now >= deadline) {
            res->timed_out = true;
            break;
        }
        if (poll(p, 2, (int)(deadline - now)) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents) continue;
            char buf[8192];
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 1) {
                size_t room = sizeof res->err - 1 - errlen;
                size_t k = (size_t)n < room ? (size_t)n : room;
                memcpy(res->err + errlen, buf, k);
                errlen += k;
                res->err[errlen] = '\0';
                continue;
            }
            if (!res->out || res->len + (size_t)n > cap) {
                res->truncated = true;
                continue;
            }
            if (res->len + (size_t)n + 1 > alloc) {
                while (res->len + (size_t)n + 1 > alloc) alloc *= 2;
                char *grown = realloc(res->out, alloc);
                if (!grown) {
                    res->truncated = true;
                    continue;
                }
                res->out = grown;
            }
            memcpy(res->out + res->len, buf, (size_t)n);
            res->len += (size_t)n;
            res->out[res->len] = '\0';
        }
    }
    for (int i = 0; i < 2; i++)
        if (p[i].fd >= 0) close(p[i].fd);
    /* The child closed its output; give it until the deadline to exit, then kill it (it is
     * our own child, past its deadline). */
    int st = 0;
    pid_t w = 0;
    for (int rounds = 0; !res->timed_out && rounds < 100000; rounds++) {
        w = waitpid(pid, &st, WNOHANG);
        if (w != 0 || pt_now_ms() >= deadline) break;
        usleep(1000);
    }
    if (w <= 0) {
        kill(pid, SIGKILL);
        res->timed_out = true;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    }
    if (!res->timed_out && WIFEXITED(st)) res->status = WEXITSTATUS(st);
    while (errlen && (res->err[errlen - 1] == '\n' || res->err[errlen - 1] == ' ')) res->err[--errlen] = '\0';
    return 0;
}
