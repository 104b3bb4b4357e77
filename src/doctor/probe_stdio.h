/* probe_stdio.h: running an MCP stdio server the way a client does, for the doctor: find the
 * command on PATH (and where a same-named file sits off PATH), start it with pipes in its own
 * process group, exchange newline-delimited messages with deadlines while keeping the tail of
 * its stderr, and always stop and reap it. */
#ifndef PT_DOCTOR_PROBE_STDIO_H
#define PT_DOCTOR_PROBE_STDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/slice.h"

/* Finds cmd in the PATH list path (colon-separated; an empty entry is the current directory).
 * Returns 0 with the full path in out, -ENOENT, or -EACCES when only a non-executable file of
 * that name was found (out names it). */
int pt__dr_which(const char *cmd, const char *path, char *out, size_t outsz);

/* Looks for an executable cmd in the places tools commonly install to that are not on path:
 * ~/.local/bin, ~/bin, ./node_modules/.bin, /usr/local/bin, /usr/local/sbin, /usr/sbin, /sbin,
 * ~/.cargo/bin, ~/go/bin, ~/.npm-global/bin, ~/.volta/bin, ~/.bun/bin, ~/.deno/bin,
 * /opt/homebrew/bin, /snap/bin and every ~/.nvm/versions/node/X/bin. home may be NULL.
 * Returns 1 with the path in out, else 0. */
int pt__dr_find_off_path(const char *cmd, const char *path, const char *home, char *out, size_t outsz);

#define PT_DR_STDERR_TAIL 2048

typedef struct pt_dr_child {
    pid_t pid;              /* 0 when not running (never started, or reaped) */
    int in, out, err;       /* our ends of its stdin/stdout/stderr, -1 when closed */
    pt_buf pending;         /* stdout bytes after the last complete line */
    char err_tail[PT_DR_STDERR_TAIL + 1]; /* the last bytes it wrote to stderr */
    size_t err_len;
    bool out_eof;
    bool exited;            /* reaped: status is valid */
    int status;             /* waitpid status */
    double exit_ms;         /* when it exited, from the start */
    uint64_t started_us;
} pt_dr_child;

/* Starts path with argv (argv[0] as typed) and the current environment. Returns 0, or -errno
 * when it could not be executed (ENOENT also when its #! interpreter is missing). */
int pt__dr_child_spawn(pt_dr_child *c, const char *path, char *const argv[]);

/* Writes one line (a newline is added). 0, PT_ETIMEDOUT or PT_ECLOSED (the child's stdin closed). */
int pt__dr_child_send(pt_dr_child *c, pt_slice line, uint64_t deadline_ms);

/* Next complete stdout line into line (reset first, without the newline; lines longer than
 * line's cap are cut). Collects stderr meanwhile and notices the child's exit. Returns 1 for
 * a line, 0 when stdout ended (the child closed it or exited), PT_ETIMEDOUT at the deadline. */
int pt__dr_child_read_line(pt_dr_child *c, pt_buf *line, uint64_t deadline_ms);

/* Waits up to ms for the child to exit (sets exited and status, and collects what it left on
 * stderr; the child is reaped later by pt__dr_child_stop). */
void pt__dr_child_wait_exit(pt_dr_child *c, int ms);

/* What the child is doing, for telling a silent server from a slow one without a long wait:
 * *unread the bytes written to its stdin it has not read yet (-1: unknown), *ticks the CPU
 * time (clock ticks) it and its descendants have used so far, *running whether one of them is
 * runnable right now (busy, or waiting for a CPU on a loaded machine). */
void pt__dr_child_activity(const pt_dr_child *c, long *unread, unsigned long long *ticks, bool *running);

/* Ends the child as the stdio spec says (close stdin, wait, SIGTERM, wait, SIGKILL; to its whole
 * process group, which it leads) and reaps it. Safe to call twice. */
void pt__dr_child_stop(pt_dr_child *c);

/* "exited with status 1" / "was killed by SIGSEGV" for a waitpid status. */
void pt__dr_exit_text(int status, char *out, size_t outsz);

#endif
