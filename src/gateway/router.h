/* router.h: which route serves a request, and the path it is forwarded with.
 *
 * Precedence (the first rule that differs decides; docs/CONFIG.md has examples):
 *   1. host: an exact host beats a wildcard host ("*.example.com"; a longer suffix beats
 *      a shorter one), which beats a route with no host;
 *   2. path: an exact `path` beats a `path_prefix`; a longer prefix beats a shorter one;
 *      a route with neither counts as prefix "/";
 *   3. conditions: more of them beat fewer (`methods` counts one, each header one);
 *   4. file order: the route written first wins.
 * A route that lists several hosts ranks by the host the request actually matched.
 *
 * Prefix matching: a prefix ending in '/' ("/v1/") matches byte-wise; a prefix without
 * one ("/api") matches "/api" itself and "/api/..." but not "/apix". Paths are compared
 * as sent (no decoding or normalisation). Hosts compare case-insensitively, without the
 * port (the server hands req->host lowercased with the port removed). */
#ifndef PT_GATEWAY_ROUTER_H
#define PT_GATEWAY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "gateway/config.h"
#include "http/request.h"

/* Sorts routes by precedence (rules 1-4, using each route's best host). The loader
 * calls it once, after setting each route's `order`. */
void pt_router_sort(pt_route *routes, size_t n);

/* The route that serves req, or NULL (the caller answers 404). Never allocates. */
const pt_route *pt_router_match(const pt_config *cfg, const pt_request *req);
/* The same, as if req's method were method (a CORS preflight asks for the route of the
 * method it announces), or any method for PT_ROUTER_ANY_METHOD. */
#define PT_ROUTER_ANY_METHOD (-2)
const pt_route *pt_router_match_method(const pt_config *cfg, const pt_request *req, int method);

/* True when some request could match both a and b: their hosts and paths overlap
 * (methods and header conditions are not considered, so two routes told apart only by
 * them still count as overlapping). */
bool pt_router_overlaps(const pt_route *a, const pt_route *b);

/* Appends one warning line per AI route that shadows, or is shadowed by, another route
 * of cfg ("route 'ai' (AI, path_prefix /v1/) shadows route 'web' ..."). Returns how
 * many. Routes must be sorted (as loaded): the earlier of two overlapping routes wins. */
size_t pt_router_ai_warnings(const pt_config *cfg, pt_buf *out);

/* Appends a one-line description of r's match: "host a.com path_prefix /v1/ methods 2". */
void pt_router_describe(const pt_route *r, pt_buf *out);

/* Appends to out the path to send upstream: req->path with the matched prefix removed
 * (strip_prefix) or replaced (rewrite_prefix), then "?query" when the request had one.
 * Stripping "/api" from "/api" gives "/". Returns 0, PT_ETOOBIG or PT_ENOMEM. */
int pt_router_upstream_path(const pt_route *r, const pt_request *req, pt_buf *out);

#endif
