/* validate_gate.h: requests checked against an API's imported OpenAPI operations
 * (admin/oas.h) before they reach the upstream.
 *
 * A stored API with `validate: true` and an imported document gets, when the configuration
 * snapshot is built, one compiled pt_validate on its route (schemas compiled once there,
 * never per request); every other route has NULL, and that NULL is all dispatch tests.
 *
 * The path after the route's prefix is matched segment by segment against the operations'
 * templates ("/pets/{petId}" matches "/pets/7"; a literal segment beats a parameter), then
 * the method (HEAD where only GET is declared). A request no operation declares is answered 404 operation_not_found. Path,
 * query and header parameters are checked (required ones present, values of the declared
 * type, then the whole schema); a JSON body is checked whole against its schema once it has
 * been read (the proxy buffers it). A failure is answered 400 request_invalid in the
 * gateway's JSON error shape, naming the parameter or the body's JSON pointer; the
 * upstream never sees the request. Cookie parameters are not checked. */
#ifndef PT_GATEWAY_VALIDATE_GATE_H
#define PT_GATEWAY_VALIDATE_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/config.h"
#include "http/request.h"
#include "http/server.h"

typedef struct pt_validate pt_validate;

/* Compiles the normalised document's operations (JSON text). NULL with why filled when it
 * is not one (the admin API only stores ones that compile) or out of memory. */
pt_validate *pt_validate_compile(const char *openapi, char *why, size_t cap);
void pt_validate_free(pt_validate *v);
/* How many operations v holds. */
size_t pt_validate_count(const pt_validate *v);

/* Dispatch, for a route with validation: true to go on; false when refused and answered. */
bool pt_validate_gate_request(pt_conn *c, const pt_request *req, const pt_route *route);

/* Whether the request's operation has a body schema (the proxy then reads the body whole). */
bool pt_validate_gate_wants_body(const pt_request *req, const pt_route *route);

/* The whole body against the operation's schema: 0, or -1 with msg ("body at /owner/name:
 * expected a string, got a number"). */
int pt_validate_gate_body(const pt_request *req, const pt_route *route, const char *body, size_t len, char *msg,
                          size_t cap);

/* The same checks without a connection, for tests: 0 ok, 404 no operation, 400 invalid;
 * msg says why. has_body: the request carries a body. */
int pt__validate_check(const pt_validate *v, const pt_route *route, const pt_request *req, bool has_body, char *msg,
                       size_t cap);

#endif
