/* proxy.h: the reverse-proxy handler: one client request forwarded to a service's
 * target, with retries on another target while nothing has been sent, streaming with
 * backpressure both ways, and JSON errors naming the service. */
#ifndef PT_GATEWAY_PROXY_H
#define PT_GATEWAY_PROXY_H

#include "gateway/config.h"
#include "http/client.h"
#include "http/server.h"

/* Takes over the request: answers it eventually (or closes the connection). The
 * snapshot route belongs to must stay alive until the request is logged: the caller
 * parks its reference in the request's info (pt_req_info.hold). */
void pt_proxy_start(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client);

/* Fills an upstream endpoint for target t of svc (strings borrowed from the snapshot). */
void pt_proxy_endpoint(const pt_service *svc, const pt_target *t, pt_endpoint *ep);

#endif
