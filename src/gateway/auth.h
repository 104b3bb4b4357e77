/* auth.h: key enforcement on routes with `auth: key`. After the router has matched a
 * route (an unmatched path stays 404 whatever key it carries), the caller is identified
 * and checked against the control snapshot (control/snapshot.h), never the database:
 *
 *   no key, or an unknown one        401 key_missing / key_invalid, WWW-Authenticate
 *   a revoked or expired key         401 key_revoked / key_expired, saying so
 *   no active subscription           403 not_subscribed / subscription_pending /
 *                                        subscription_rejected, naming the state and how
 *                                        to subscribe
 *   a model the key may not call     403 model_not_allowed (AI routes, once the body is read)
 *
 * AI routes answer in the client's own error format (OpenAI or Anthropic). The identity
 * found travels with the request (pt_req_info.auth) so the proxy can strip the key, add
 * the identity headers and the access log can name the caller.
 *
 * The cost on the request path: one SHA-256 of the presented key, one probe of the key
 * table, a binary search of the consumer's subscriptions, and one small allocation from
 * the request pool. */
#ifndef PT_GATEWAY_AUTH_H
#define PT_GATEWAY_AUTH_H

#include <stdbool.h>

#include "control/snapshot.h"
#include "gateway/config.h"
#include "http/server.h"

typedef enum pt_key_source {
    PT_KEY_FROM_NONE = 0,
    PT_KEY_FROM_HEADER,      /* the route's key_header */
    PT_KEY_FROM_QUERY,       /* the route's key_query parameter */
    PT_KEY_FROM_BEARER,      /* Authorization: Bearer */
    PT_KEY_FROM_X_API_KEY,   /* x-api-key, what Anthropic clients send */
    PT_KEY_FROM_GOOG_API_KEY, /* x-goog-api-key, what Gemini clients send */
} pt_key_source;

/* Where a presented key was found. key points into the request head. */
typedef struct pt_key_found {
    pt_key_source from;
    pt_slice key;
    const pt_header *header; /* the header that carried it (not for a query parameter) */
} pt_key_found;

/* Looks for a key in the places route accepts, first found wins: the route's header, its
 * query parameter, Authorization: Bearer, x-api-key, x-goog-api-key, and on AI routes the
 * query parameter key (Gemini clients). Returns whether one was found (an
 * empty value counts as none). */
bool pt_auth_find_key(const pt_request *req, const pt_route *route, pt_key_found *out);

/* Removes parameter name (the first one, with its '&') from the query part of a request
 * target held in t ("/p?a=1&api_key=x" -> "/p?a=1"); a '?' left without parameters goes
 * too. */
void pt_auth_strip_query(pt_buf *t, const char *name);

/* Who called, for the rest of the request (pool memory; strings live as long as the
 * snapshot the request holds). */
typedef struct pt_auth {
    pt_snapshot *snap;
    const pt_snap_key *key;
    const char *consumer, *team, *prefix;
    const char *service;           /* the service subscriptions are checked against */
    const char *service_team;      /* its team's name, NULL when the store does not know it */
    pt_key_found found;
    const char *route_key_query;   /* the query parameter to strip upstream, or NULL */
    /* identity header names from the configuration the request holds */
    const char *h_consumer, *h_team, *h_prefix;
    bool passed;                   /* false: refused for want of a subscription (logged, not counted) */
} pt_auth;

/* Checks req against route (which must have auth_key): on success stores the identity in
 * pt_conn_info(c)->auth (passed set) and returns true; otherwise answers the refusal and
 * returns false (the request is then over: the caller touches nothing more of it). A
 * valid key refused for its subscription still leaves its identity there, not passed, so
 * the access log names the caller. */
bool pt_auth_check(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route *route);

/* Whether the identity a may call model; NULL (an unkeyed route) allows every model. */
bool pt_auth_model_allowed(const pt_auth *a, pt_slice model);

/* Counts one call by the caller a (NULL: not a keyed call) in
 * portico_consumer_requests_total{consumer,team}. The labels are bounded: past the cap
 * (endpoints.metrics_consumers, default PT_AUTH_CONSUMER_SERIES, at most
 * PT_AUTH_CONSUMER_SERIES_MAX) distinct (consumer, team) pairs, calls count under
 * consumer="_other". Lock-free after a pair's first call. */
#define PT_AUTH_CONSUMER_SERIES 1024
#define PT_AUTH_CONSUMER_SERIES_MAX 16384
void pt_auth_count(const pt_auth *a);

/* Sets the cap for pairs not seen yet (a lower cap on reload keeps the series that exist). */
void pt_auth_set_series_cap(unsigned cap);
/* Registers the family with /metrics, once at start. */
void pt_auth_metrics_init(void);

/* Whether header h carries the caller's Portico key: the header it was found in, or any
 * other copy of it (never forwarded). False when a is NULL. */
bool pt_auth_is_key_header(const pt_auth *a, const pt_header *h);

#endif
