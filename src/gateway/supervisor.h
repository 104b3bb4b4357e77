/* supervisor.h: the parent process of `portico serve`. It binds the listening sockets
 * (so a bind error is reported before anything starts), forks the gateway process with
 * them, forwards HUP/TERM/INT to it, and restarts it with backoff when it dies of a signal;
 * a crash loop (5 crashes within 30 s) ends it with a message and status 1. SIGUSR2
 * hands the sockets to a new supervisor from the binary now at the same path (an upgrade),
 * which asks this one to drain once its gateway process listens. */
#ifndef PT_GATEWAY_SUPERVISOR_H
#define PT_GATEWAY_SUPERVISOR_H

/* Runs until the gateway process exits on its own (its status is returned) or the crash
 * loop gives up (1). config_path NULL means the embedded defaults. */
int pt_supervisor_run(const char *config_path);

#endif
