/* lifecycle.h: where an API stands in its life, and what its answers say about it.
 *
 *   routes:
 *     - name: orders-v1
 *       match: { path_prefix: /v1/orders }
 *       service: orders
 *       lifecycle:
 *         state: deprecated               # published (default), deprecated or retired
 *         deprecated_at: 2026-06-01       # Deprecation: @1780272000 (RFC 9745)
 *         sunset: 2027-01-01T00:00:00Z    # Sunset: Fri, 01 Jan 2027 00:00:00 GMT (RFC 8594)
 *         successor: /v2/orders           # Link: </v2/orders>; rel="successor-version"
 *         docs: https://docs.example.com/orders-v2   # Link: <...>; rel="deprecation"
 *
 * A deprecated route is served as before, and every answer (the upstream's and the
 * gateway's own) carries the Deprecation, Sunset and Link fields, written once at load.
 * A retired route answers 410 Gone to everything, naming its successor, before keys and
 * policies are checked: there is nothing left to authorise. A deprecated route whose
 * sunset has passed is retired from that moment on, without a reload. A CORS preflight
 * is still answered (cors.h), so a page can read the 410. */
#ifndef PT_GATEWAY_LIFECYCLE_H
#define PT_GATEWAY_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/config.h"

typedef struct pt_conn pt_conn; /* http/server.h */

typedef enum pt_api_state {
    PT_API_PUBLISHED = 0,
    PT_API_DEPRECATED,
    PT_API_RETIRED,
} pt_api_state;

typedef struct pt_lifecycle {
    pt_api_state state;
    char *deprecated_at_text, *sunset_text; /* as written */
    int64_t deprecated_at_ms;
    int64_t sunset_ms;         /* 0: no sunset */
    char *successor;           /* a path or an http(s) URL, or NULL */
    char *docs;                /* an http(s) URL, or NULL */
    char *lines;               /* the fields a deprecated route's answers carry */
    char *gone_lines;          /* the Link fields a retired route's 410 carries ("" for none) */
} pt_lifecycle;

void pt_lifecycle_free(pt_lifecycle *l);
/* "published", "deprecated" or "retired". */
const char *pt_lifecycle_state_name(pt_api_state s);

/* Runs for a matched route with a lifecycle, before keys and policies: answers 410 for a
 * retired route (or a deprecated one past its sunset, the wall clock read only then) and
 * returns true; otherwise adds a deprecated route's fields to every answer and returns
 * false. */
bool pt_lifecycle_gate(pt_conn *c, const pt_route *route);

#endif
