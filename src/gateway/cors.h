/* cors.h: cross-origin resource sharing per route, answered by the gateway.
 *
 *   routes:
 *     - name: web
 *       match: { path_prefix: /api }
 *       service: api
 *       cors:
 *         origins: [https://app.example.com, https://admin.example.com]   # or "*"
 *         methods: [GET, POST]       # default: the route's methods, else GET HEAD POST PUT PATCH DELETE
 *         headers: [Authorization, Content-Type]  # default: whatever the browser asks for
 *         expose_headers: [X-Request-Id]
 *         credentials: true
 *         max_age: 10m
 *         private_network: true      # answer Chrome's private-network preflight
 *
 * An origin is scheme://host[:port]; a host written "*.example.com" matches one or more
 * labels before example.com.
 *
 * A preflight (OPTIONS with Origin and Access-Control-Request-Method) for a route with
 * cors is answered here, before keys and policies (a browser never sends credentials on
 * a preflight): 204 with the Access-Control-Allow-* fields, or 403 in the client's
 * error format naming what was not allowed. The route is found by the method the
 * preflight asks for, so a route limited to POST still answers its preflights.
 *
 * Every other answer on such a route (the upstream's, and the gateway's own errors,
 * so a browser can read a 401 or a 429) carries Access-Control-Allow-Origin when the
 * Origin is allowed, and Vary: Origin unless every origin is. The upstream's own
 * Access-Control-* fields are dropped: the route's cors is the one answer.
 *
 * "*" with credentials is refused at load: it would let every site make credentialed
 * calls, which browsers forbid and reflecting the Origin would only hide. */
#ifndef PT_GATEWAY_CORS_H
#define PT_GATEWAY_CORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"
#include "gateway/config.h"
#include "http/server.h"

typedef struct pt_cors_origin {
    char *prefix;          /* "https://" for a "*." pattern, else the whole origin */
    char *suffix;          /* ".example.com[:port]" for a "*." pattern, else NULL */
} pt_cors_origin;

typedef struct pt_cors {
    bool any_origin;       /* origins: "*" */
    pt_cors_origin *origins;
    size_t norigins;
    pt_method_mask methods; /* 0: the route's methods, else the default set */
    char *allow_methods;   /* the Access-Control-Allow-Methods value, written at load */
    char **headers;        /* allowed request headers; NULL: any the browser asks for */
    size_t nheaders;
    char *allow_headers;   /* their Access-Control-Allow-Headers value */
    char **expose;
    size_t nexpose;
    bool credentials;
    bool has_max_age;
    uint64_t max_age_ms;
    bool private_network;
    char *tail;            /* the lines every allowed answer adds after Allow-Origin */
} pt_cors;

void pt_cors_free(pt_cors *c);

/* Whether origin is allowed by c (exactly, ASCII case ignored, or by a "*." pattern). */
bool pt_cors_origin_allowed(const pt_cors *c, pt_slice origin);

/* Answers req when it is a preflight for a route with cors: *route is the route the
 * request matched (NULL for none) and becomes the one the preflight was answered for.
 * Returns true when it answered. */
bool pt_cors_preflight(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route **route);

/* Adds the CORS fields for an ordinary request on route (which has cors) to every answer
 * the request gets (pt_req_info.resp_headers). */
void pt_cors_request(pt_conn *c, pt_request *req, const pt_route *route);

/* Whether an upstream's header is one the route's cors replaces (Access-Control-*). */
bool pt_cors_replaces_header(pt_slice name);

#endif
