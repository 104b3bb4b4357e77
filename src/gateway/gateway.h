/* gateway.h: the gateway process: listeners, worker threads, reload and drain. */
#ifndef PT_GATEWAY_GATEWAY_H
#define PT_GATEWAY_GATEWAY_H

#include <stdint.h>

#include "gateway/listen.h"

typedef struct pt_gateway_opts {
    const char *config_path;    /* NULL: the embedded defaults */
    pt_listen_set *inherited;   /* sockets bound by the supervisor (taken over and emptied),
                                   or NULL to bind every address here */
    int supervisor_fd;          /* where the listening set goes after each change, or -1 */
    uint64_t restarts;          /* restarts the supervisor has made, for /metrics */
} pt_gateway_opts;

/* Loads the configuration, opens the listeners, starts the workers and runs until
 * SIGTERM/SIGINT has drained them. Returns the process exit status. */
int pt_gateway_run(const pt_gateway_opts *opts);

#endif
