/* supervisor.c: the parent of the gateway process (see supervisor.h). Single-threaded and
 * without an event loop library: one poll over a signalfd and the control socket of the
 * current gateway process, which sends its listening set after every change so that a
 * restarted process gets the same sockets and no connection is refused across a crash. */
#include "gateway/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "gateway/config.h"
#include "gateway/gateway.h"
#include "gateway/listen.h"

#define CRASH_LIMIT 5            /* this many crashes ... */
#define CRASH_WINDOW_MS 30000    /* ... within this long end the supervisor */
#define BACKOFF_FIRST_MS 100     /* the first restart in a window is immediate, then 100, 200, 400 ms */
#define HANDOVER_ENV "PORTICO_LISTEN_FDS" /* sockets handed to a new binary on SIGUSR2 */

typedef struct sup {
    const char *config_path;
    pt_listen_set held;          /* the sockets every gateway process starts from */
    sigset_t oldmask;
    int sig_fd;
    int ctl;                     /* our end of the current process's control socket, or -1 */
    pid_t self, child;           /* child 0 while none runs */
    pid_t heir;                  /* the new supervisor started by SIGUSR2, 0 when none */
    pid_t predecessor;           /* the old supervisor this one takes over from, 0 when none */
    char exe[4096];              /* this binary's path at the start, for SIGUSR2 */
    unsigned stops;              /* TERM/INT received */
    uint64_t restarts;
    uint64_t crashes[CRASH_LIMIT];
    unsigned ncrashes;
    uint64_t restart_at;         /* monotonic ms of the next start, 0 when none is due */
    int done;                    /* -1 while running, else the exit status */
} sup;

/* In the child: becomes the gateway process and never returns. */
static void child_main(sup *s, int ctl)
{
    close(s->sig_fd);
    /* Terminal signals (Ctrl-C) go to the supervisor only, which forwards them once. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != s->self) _exit(1);
    /* HUP/TERM/INT stay blocked until the gateway has its handlers (pt_gateway_run
     * unblocks them), so one arriving during the start is handled, not fatal. */
    sigset_t mask = s->oldmask;
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    pt_log_set_thread_name("main");
    pt_gateway_opts o = {
        .config_path = s->config_path, .inherited = &s->held, .supervisor_fd = ctl, .restarts = s->restarts,
    };
    exit(pt_gateway_run(&o));
}

static int spawn(sup *s)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        pt_log_error("cannot create the control socket: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        pt_log_error("cannot start the gateway process: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        child_main(s, sv[1]);
    }
    close(sv[1]);
    s->ctl = sv[0];
    s->child = pid;
    s->restart_at = 0;
    pt_log_info("gateway process %d started%s", (int)pid, s->restarts ? " (restart)" : "");
    return 0;
}

/* Takes one listening set the gateway process sent; it replaces the held one. At the end
 * of the stream (the process exited) or on an error the control socket is closed. */
static void read_ctl(sup *s)
{
    pt_listen_set set;
    if (pt_listen_set_recv(s->ctl, &set) == 1) {
        pt_listen_set_release(&s->held);
        s->held = set;
        if (s->stops) pt_listen_set_release(&s->held);
        if (s->predecessor) {
            /* Our gateway process is listening: the old one can drain and leave. */
            pt_log_info("took over the listening sockets from the supervisor pid %d; asking it to drain",
                        (int)s->predecessor);
            kill(s->predecessor, SIGTERM);
            s->predecessor = 0;
        }
        return;
    }
    close(s->ctl);
    s->ctl = -1;
}

static void drain_ctl(sup *s)
{
    if (s->ctl < 0) return;
    struct pollfd p = { .fd = s->ctl, .events = POLLIN };
    while (s->ctl >= 0 && poll(&p, 1, 0) == 1) read_ctl(s);
    if (s->ctl >= 0) close(s->ctl);
    s->ctl = -1;
}

/* "core dumped to core (core_pattern), pid 42, in /srv" or why there is none. */
static void describe_core(int status, pid_t pid, char *out, size_t n)
{
    if (!WCOREDUMP(status)) {
        struct rlimit rl;
        bool off = getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0;
        snprintf(out, n, "no core dumped%s", off ? " (core dumps are off: ulimit -c is 0)" : "");
        return;
    }
    char pat[256] = "core", cwd[256] = "?";
    FILE *f = fopen("/proc/sys/kernel/core_pattern", "re");
    if (f) {
        if (fgets(pat, sizeof pat, f)) pat[strcspn(pat, "\n")] = '\0';
        fclose(f);
    }
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "?");
    if (pat[0] == '|') snprintf(out, n, "core dumped, piped to %s (pid %d)", pat + 1, (int)pid);
    else snprintf(out, n, "core dumped to %s (core_pattern, pid %d, relative to %s)", pat, (int)pid, cwd);
}

/* Remembers a crash; returns how many happened within the window, this one included. */
static unsigned count_crash(sup *s, uint64_t now)
{
    unsigned k = 0;
    for (unsigned i = 0; i < s->ncrashes; i++)
        if (now - s->crashes[i] < CRASH_WINDOW_MS) s->crashes[k++] = s->crashes[i];
    if (k == CRASH_LIMIT) k--; /* cannot happen: the limit ends the supervisor first */
    s->crashes[k++] = now;
    s->ncrashes = k;
    return k;
}

static void on_crash(sup *s, pid_t pid, int status)
{
    int sig = WTERMSIG(status);
    char core[400];
    describe_core(status, pid, core, sizeof core);
    const char *abbrev = sigabbrev_np(sig);
    uint64_t now = pt_now_ms();
    unsigned n = count_crash(s, now);
    if (n >= CRASH_LIMIT) {
        pt_log_error("gateway process %d killed by SIG%s (%s); %s; that is %u crashes within %d s: "
                     "giving up instead of restarting in a loop",
                     (int)pid, abbrev ? abbrev : "?", strsignal(sig), core, n, CRASH_WINDOW_MS / 1000);
        s->done = 1;
        return;
    }
    uint64_t delay = n == 1 ? 0 : (uint64_t)BACKOFF_FIRST_MS << (n - 2);
    s->restarts++;
    s->restart_at = now + delay;
    pt_log_error("gateway process %d killed by SIG%s (%s); %s; restarting in %llu ms (restart %llu; crash %u "
                 "within %d s, the supervisor gives up at %d)",
                 (int)pid, abbrev ? abbrev : "?", strsignal(sig), core, (unsigned long long)delay,
                 (unsigned long long)s->restarts, n, CRASH_WINDOW_MS / 1000, CRASH_LIMIT);
}

static void on_child_exit(sup *s, pid_t pid, int status)
{
    s->child = 0;
    drain_ctl(s);
    if (WIFEXITED(status)) {
        pt_log_info("gateway process %d exited with status %d", (int)pid, WEXITSTATUS(status));
        s->done = WEXITSTATUS(status);
    } else if (s->stops) {
        int sig = WTERMSIG(status);
        pt_log_error("gateway process %d killed by %s while stopping; not restarting", (int)pid, strsignal(sig));
        s->done = 128 + sig;
    } else {
        on_crash(s, pid, status);
    }
}

/* SIGUSR2, a binary upgrade: runs the binary now at this one's path as a new supervisor
 * that inherits the listening sockets (HANDOVER_ENV) instead of binding them; once its
 * gateway process listens it sends this supervisor SIGTERM, so no connection is refused. */
static void start_heir(sup *s)
{
    pid_t pid = fork();
    if (pid < 0) {
        pt_log_error("SIGUSR2: cannot start a new supervisor: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        static char env[PT_LISTEN_MAX * (PT_LISTEN_KEY_MAX + 12)];
        if (pt_listen_set_export(&s->held, env, sizeof env) != 0 || setenv(HANDOVER_ENV, env, 1) != 0) _exit(127);
        sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
        char *argv[] = { s->exe, "serve", "-c", (char *)s->config_path, NULL };
        if (!s->config_path) argv[2] = NULL;
        execv(s->exe, argv);
        fprintf(stderr, "portico: SIGUSR2: cannot run %s: %s\n", s->exe, strerror(errno));
        _exit(127);
    }
    s->heir = pid;
    pt_log_info("SIGUSR2: started %s as pid %d to take over the listening sockets", s->exe, (int)pid);
}

static void on_heir_exit(sup *s, pid_t pid, int status)
{
    s->heir = 0;
    if (s->stops) return; /* it took over and we are draining: nothing to say */
    pt_log_error("the new supervisor pid %d ended (%s %d) before taking over; this one keeps serving", (int)pid,
                 WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void on_signal(sup *s, int sig)
{
    if (sig == SIGCHLD) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (!WIFEXITED(status) && !WIFSIGNALED(status)) continue;
            if (pid == s->child) on_child_exit(s, pid, status);
            else if (pid == s->heir) on_heir_exit(s, pid, status);
        }
        return;
    }
    if (sig == SIGUSR2) {
        if (s->heir) pt_log_warn("SIGUSR2: an upgrade is already under way (pid %d)", (int)s->heir);
        else if (!s->stops && s->exe[0]) start_heir(s);
        return;
    }
    if (sig == SIGTERM || sig == SIGINT) {
        /* No restart follows a stop: let go of the sockets, so that once the gateway
         * process closes its own, new connections are refused rather than queued. */
        s->stops++;
        pt_listen_set_release(&s->held);
    }
    if (s->child) {
        kill(s->child, sig);
    } else if (sig != SIGHUP) {
        pt_log_info("%s received while no gateway process runs: exiting", strsignal(sig));
        s->done = 0;
    }
}

static int poll_timeout(const sup *s)
{
    if (s->child || !s->restart_at) return -1;
    uint64_t now = pt_now_ms();
    return s->restart_at > now ? (int)(s->restart_at - now) : 0;
}

static void run_loop(sup *s)
{
    while (s->done < 0) {
        struct pollfd p[2] = { { .fd = s->sig_fd, .events = POLLIN }, { .fd = s->ctl, .events = POLLIN } };
        int rc = poll(p, 2, poll_timeout(s));
        if (rc < 0 && errno != EINTR) {
            pt_log_error("poll: %s", strerror(errno));
            s->done = 1;
            break;
        }
        if (s->ctl >= 0 && (p[1].revents & (POLLIN | POLLHUP))) read_ctl(s);
        struct signalfd_siginfo si;
        if (p[0].revents & POLLIN)
            while (read(s->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) on_signal(s, (int)si.ssi_signo);
        if (s->done < 0 && !s->child && s->restart_at && pt_now_ms() >= s->restart_at && spawn(s) != 0) s->done = 1;
    }
}

/* Binds the configuration's addresses before anything starts; after a SIGUSR2 handover,
 * the addresses the old supervisor passed on are taken over instead of bound. */
static int bind_all(sup *s)
{
    pt_buf err = PT_BUF_INIT;
    pt_listen_set inherited = { 0 };
    const char *env = getenv(HANDOVER_ENV);
    if (env) {
        if (pt_listen_set_import(env, &inherited) != 0) pt_log_warn("%s is malformed; binding instead", HANDOVER_ENV);
        else s->predecessor = getppid();
        unsetenv(HANDOVER_ENV);
    }
    pt_config *cfg = s->config_path ? pt_config_load_file(s->config_path, &err) : pt_config_defaults(&err);
    int rc = cfg ? pt_listen_set_open(cfg, &inherited, &s->held, &err) : -1;
    pt_listen_set_release(&inherited);
    if (rc != 0) fprintf(stderr, "portico: %s\n", err.data ? err.data : "invalid configuration");
    if (cfg) pt_config_release(cfg);
    pt_buf_release(&err);
    return rc;
}

int pt_supervisor_run(const char *config_path)
{
    sup s = { .config_path = config_path, .ctl = -1, .sig_fd = -1, .done = -1 };
    s.self = getpid();
    ssize_t n = readlink("/proc/self/exe", s.exe, sizeof s.exe - 1);
    s.exe[n > 0 ? n : 0] = '\0';
    if (bind_all(&s) != 0) return 1;
    pt_log_set_thread_name("supervisor");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, &s.oldmask);
    s.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s.sig_fd < 0) {
        fprintf(stderr, "portico: signalfd: %s\n", strerror(errno));
        pt_listen_set_release(&s.held);
        return 1;
    }
    if (spawn(&s) == 0) run_loop(&s);
    else s.done = 1;
    if (s.child) kill(s.child, SIGTERM);
    drain_ctl(&s);
    close(s.sig_fd);
    pt_listen_set_release(&s.held);
    return s.done;
}
