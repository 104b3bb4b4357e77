/* probe_stdio.c: starting, talking to and stopping an MCP stdio server for the doctor. */
#include "doctor/probe_stdio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "doctor/probe_net.h"

static bool is_exec_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int pt__dr_which(const char *cmd, const char *path, char *out, size_t outsz)
{
    int rc = -ENOENT;
    if (!cmd || !*cmd) return -ENOENT;
    const char *p = path ? path : "";
    for (int guard = 0; guard < 4096; guard++) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char cand[4096];
        int w = n ? snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, cmd) : snprintf(cand, sizeof cand, "./%s", cmd);
        if (w > 0 && (size_t)w < sizeof cand) {
            if (is_exec_file(cand)) {
                snprintf(out, outsz, "%s", cand);
                return 0;
            }
            struct stat st;
            if (rc == -ENOENT && stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
                snprintf(out, outsz, "%s", cand);
                rc = -EACCES;
            }
        }
        if (!colon) break;
        p = colon + 1;
    }
    return rc;
}

static bool dir_on_path(const char *dir, const char *path)
{
    size_t dl = strlen(dir);
    const char *p = path ? path : "";
    for (int guard = 0; guard < 4096; guard++) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        while (n > 1 && p[n - 1] == '/') n--;
        if (n == dl && strncmp(p, dir, n) == 0) return true;
        if (!colon) break;
        p = colon + 1;
    }
    return false;
}

static bool try_dir(const char *dir, const char *cmd, const char *path, char *out, size_t outsz)
{
    char cand[4096];
    if (dir_on_path(dir, path)) return false;
    int w = snprintf(cand, sizeof cand, "%s/%s", dir, cmd);
    if (w <= 0 || (size_t)w >= sizeof cand || !is_exec_file(cand)) return false;
    snprintf(out, outsz, "%s", cand);
    return true;
}

int pt__dr_find_off_path(const char *cmd, const char *path, const char *home, char *out, size_t outsz)
{
    static const char *home_dirs[] = { ".local/bin", "bin", ".cargo/bin", "go/bin", ".npm-global/bin",
                                       ".volta/bin", ".bun/bin", ".deno/bin", ".yarn/bin" };
    static const char *abs_dirs[] = { "node_modules/.bin", "/usr/local/bin", "/usr/local/sbin", "/usr/sbin", "/sbin",
                                      "/usr/bin", "/bin", "/opt/homebrew/bin", "/snap/bin" };
    char dir[4096];
    if (!cmd || !*cmd || strchr(cmd, '/')) return 0;
    for (size_t i = 0; home && i < sizeof home_dirs / sizeof home_dirs[0]; i++) {
        snprintf(dir, sizeof dir, "%s/%s", home, home_dirs[i]);
        if (try_dir(dir, cmd, path, out, outsz)) return 1;
    }
    for (size_t i = 0; i < sizeof abs_dirs / sizeof abs_dirs[0]; i++) {
        if (abs_dirs[i][0] != '/') {
            char cwd[2048];
            if (!getcwd(cwd, sizeof cwd)) continue;
            snprintf(dir, sizeof dir, "%s/%s", cwd, abs_dirs[i]);
        } else {
            snprintf(dir, sizeof dir, "%s", abs_dirs[i]);
        }
        if (try_dir(dir, cmd, path, out, outsz)) return 1;
    }
    if (home) { /* nvm keeps one bin directory per installed Node version */
        snprintf(dir, sizeof dir, "%s/.nvm/versions/node", home);
        DIR *d = opendir(dir);
        struct dirent *e;
        int found = 0, guard = 0;
        while (d && !found && (e = readdir(d)) != NULL && guard++ < 256) {
            if (e->d_name[0] == '.') continue;
            char bin[4400];
            snprintf(bin, sizeof bin, "%s/%.200s/bin", dir, e->d_name);
            found = try_dir(bin, cmd, path, out, outsz);
        }
        if (d) closedir(d);
        if (found) return 1;
    }
    return 0;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

int pt__dr_child_spawn(pt_dr_child *c, const char *path, char *const argv[])
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, ex[2] = { -1, -1 };
    memset(c, 0, sizeof *c);
    c->in = c->out = c->err = -1;
    pt_buf_init(&c->pending, 1 << 20);
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        pipe2(ex, O_CLOEXEC) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0) close(in[i]);
            if (out[i] >= 0) close(out[i]);
            if (err[i] >= 0) close(err[i]);
            if (ex[i] >= 0) close(ex[i]);
        }
        return -e;
    }
    c->started_us = pt_now_us();
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: its own process group, so stopping it also stops what it started (npx -> node). */
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(path, argv);
        int e = errno;
        ssize_t w = write(ex[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    int fe = errno;
    close(in[0]);
    close(out[1]);
    close(err[1]);
    close(ex[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        close(err[0]);
        close(ex[0]);
        return -fe;
    }
    c->pid = pid;
    c->in = in[1];
    c->out = out[0];
    c->err = err[0];
    int e = 0;
    ssize_t r;
    do r = read(ex[0], &e, sizeof e); while (r < 0 && errno == EINTR);
    close(ex[0]);
    set_nonblock(c->in);
    set_nonblock(c->out);
    set_nonblock(c->err);
    if (r == (ssize_t)sizeof e) { /* exec failed: reap the child that never ran */
        pt__dr_child_stop(c);
        return -e;
    }
    return 0;
}

static void keep_err(pt_dr_child *c, const char *p, size_t n)
{
    if (n >= PT_DR_STDERR_TAIL) {
        memcpy(c->err_tail, p + n - PT_DR_STDERR_TAIL, PT_DR_STDERR_TAIL);
        c->err_len = PT_DR_STDERR_TAIL;
    } else {
        if (c->err_len + n > PT_DR_STDERR_TAIL) {
            size_t drop = c->err_len + n - PT_DR_STDERR_TAIL;
            memmove(c->err_tail, c->err_tail + drop, c->err_len - drop);
            c->err_len -= drop;
        }
        memcpy(c->err_tail + c->err_len, p, n);
        c->err_len += n;
    }
    c->err_tail[c->err_len] = '\0';
}

static void drain_err(pt_dr_child *c)
{
    char buf[4096];
    for (int i = 0; i < 64 && c->err >= 0; i++) {
        ssize_t n = read(c->err, buf, sizeof buf);
        if (n > 0) {
            keep_err(c, buf, (size_t)n);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(c->err);
            c->err = -1;
        }
        break;
    }
}

/* Notes the child's exit without reaping it: while it is an unreaped zombie its PID (and so its
 * process group id) cannot be reused, which keeps signalling the group safe. */
static void note_exit(pt_dr_child *c)
{
    if (c->pid <= 0 || c->exited) return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == c->pid) {
        c->exited = true;
        c->status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
        c->exit_ms = (double)(pt_now_us() - c->started_us) / 1000.0;
    }
}

/* utime + stime of pid from /proc/PID/stat, in clock ticks (0 when unreadable); sets *running
 * when it is runnable (using or waiting for a CPU). */
static unsigned long long cpu_ticks(int pid, bool *running)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    unsigned long long ut = 0, st = 0;
    char state = '?';
    if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &ut, &st) != 3) return 0;
    if (state == 'R') *running = true;
    return ut + st;
}

/* CPU ticks of pid and its descendants (a launcher such as npx or sh runs the server as a
 * child), through /proc/PID/task/TID/children; depth and count bounded. */
static unsigned long long tree_ticks(int pid, int depth, bool *running)
{
    unsigned long long sum = cpu_ticks(pid, running);
    if (depth >= 4) return sum;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sum;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return sum;
    buf[n] = '\0';
    char *save = NULL;
    int count = 0;
    for (char *tok = strtok_r(buf, " \n", &save); tok && count < 16; tok = strtok_r(NULL, " \n", &save), count++)
        sum += tree_ticks(atoi(tok), depth + 1, running);
    return sum;
}

void pt__dr_child_activity(const pt_dr_child *c, long *unread, unsigned long long *ticks, bool *running)
{
    int q = -1;
    *unread = c->in >= 0 && ioctl(c->in, FIONREAD, &q) == 0 ? q : -1;
    *running = false;
    *ticks = c->pid > 0 ? tree_ticks(c->pid, 0, running) : 0;
}

void pt__dr_child_wait_exit(pt_dr_child *c, int ms)
{
    for (int k = 0; k < ms / 5 && !c->exited; k++) {
        note_exit(c);
        if (!c->exited) usleep(5000);
        if (c->exited) drain_err(c); /* what it wrote before exiting explains the exit */
}
}

int pt__dr_child_send(pt_dr_child *c, pt_slice line, uint64_t deadline_ms)
{
    pt_buf b = PT_BUF_INIT;
    if (pt_buf_append_slice(&b, line) != 0 || pt_buf_append(&b, "\n", 1) != 0) {
        pt_buf_release(&b);
        return PT_ENOMEM;
    }
    size_t off = 0;
    int rc = 0;
    pt__dr_ignore_sigpipe(); /* a child that already exited must give EPIPE, not kill the doctor */
    while (off < b.len) {
        if (c->in < 0) { rc = PT_ECLOSED; break; }
        ssize_t n = write(c->in, b.data + off, b.len - off);
        if (n > 0) { off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) { rc = PT_ECLOSED; break; }
        uint64_t now = pt_now_ms();
        if (now >= deadline_ms) { rc = PT_ETIMEDOUT; break; }
        struct pollfd p = { .fd = c->in, .events = POLLOUT };
        poll(&p, 1, (int)(deadline_ms - now));
    }
    pt_buf_release(&b);
    return rc;
}

/* Moves one complete line from pending into line; true if there was one. */
static bool take_line(pt_dr_child *c, pt_buf *line)
{
    char *nl = c->pending.len ? memchr(c->pending.data, '\n', c->pending.len) : NULL;
    if (!nl) return false;
    size_t n = (size_t)(nl - c->pending.data);
    pt_buf_reset(line);
    size_t room = line->cap_limit ? line->cap_limit : n;
    (void)pt_buf_append(line, c->pending.data, n < room ? n : room);
    if (line->len && line->data[line->len - 1] == '\r') line->data[--line->len] = '\0';
    pt_buf_consume(&c->pending, n + 1);
    return true;
}

int pt__dr_child_read_line(pt_dr_child *c, pt_buf *line, uint64_t deadline_ms)
{
    char buf[8192];
    for (;;) {
        if (take_line(c, line)) return 1;
        if (c->out_eof) {
            if (c->pending.len) { /* a last line without a newline */
                pt_buf_reset(line);
                (void)pt_buf_append(line, c->pending.data, c->pending.len);
                pt_buf_reset(&c->pending);
                return 1;
            }
            drain_err(c);
            return 0;
        }
        uint64_t now = pt_now_ms();
        if (now >= deadline_ms) return PT_ETIMEDOUT;
        struct pollfd p[2] = { { .fd = c->out, .events = POLLIN }, { .fd = c->err, .events = POLLIN } };
        int r = poll(p, c->err >= 0 ? 2 : 1, (int)(deadline_ms - now));
        if (r < 0 && errno != EINTR) return PT_EIO;
        if (c->err >= 0 && (p[1].revents & (POLLIN | POLLHUP))) drain_err(c);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(c->out, buf, sizeof buf);
            if (n > 0) {
                if (pt_buf_append(&c->pending, buf, (size_t)n) != 0) { /* a line past 1 MiB: cut it */
                    pt_buf_append(&c->pending, "\n", 1);
                }
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                c->out_eof = true;
                note_exit(c);
            }
        }
    }
}

void pt__dr_child_stop(pt_dr_child *c)
{
    if (c->in >= 0) close(c->in);
    c->in = -1;
    if (c->pid > 0) {
        /* Close stdin and give it a moment, then SIGTERM, then SIGKILL to its whole group (npx and
         * the node it started); the leader is reaped only at the end (see note_exit). */
        pt__dr_child_wait_exit(c, 200);
        if (!c->exited) {
            kill(-c->pid, SIGTERM);
            pt__dr_child_wait_exit(c, 200);
        }
        kill(-c->pid, SIGKILL);
        int st = 0;
        pid_t r = 0;
        for (int k = 0; k < 400 && r == 0; k++) { /* SIGKILL is prompt; bound the wait anyway (2 s) */
            r = waitpid(c->pid, &st, WNOHANG);
            if (r == 0) usleep(5000);
        }
        if (r == c->pid && !c->exited) {
            c->exited = true;
            c->status = st;
        }
        c->pid = 0;
    }
    drain_err(c);
    if (c->out >= 0) close(c->out);
    if (c->err >= 0) close(c->err);
    c->out = c->err = -1;
    pt_buf_release(&c->pending);
}

void pt__dr_exit_text(int status, char *out, size_t outsz)
{
    if (WIFEXITED(status)) snprintf(out, outsz, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) snprintf(out, outsz, "was killed by %s", sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "a signal");
    else snprintf(out, outsz, "ended (status 0x%x)", status);
}
