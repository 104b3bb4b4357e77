/* gateway.h: the serve command: listeners, worker threads, reload and drain. */
#ifndef PT_GATEWAY_GATEWAY_H
#define PT_GATEWAY_GATEWAY_H

/* Loads config_path (or the embedded defaults when NULL), starts the workers and runs
 * until SIGTERM/SIGINT has drained them. Returns the process exit status. */
int pt_gateway_run(const char *config_path);

#endif
