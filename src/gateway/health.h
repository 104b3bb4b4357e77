/* health.h: active health checks. One worker probes every target of every service
 * that has `health_check` configured, on that worker's loop, and records each result
 * in the shared target registry (balancer.h), which every worker reads. */
#ifndef PT_GATEWAY_HEALTH_H
#define PT_GATEWAY_HEALTH_H

#include <uv.h>

#include "http/client.h"

typedef struct pt_health pt_health;

pt_health *pt_health_start(uv_loop_t *loop, pt_client *client);
/* Stops probing; probes in flight are cancelled. Frees h after its timer closes. */
void pt_health_stop(pt_health *h);

#endif
