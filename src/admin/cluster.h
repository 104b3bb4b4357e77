/* cluster.h: one call log or analytics question put to every node of a cluster (the node
 * registry's admin addresses), each node answering its own share (scope=part) in parallel,
 * for calls.c and analytics.c to merge; a node that does not answer is reported, not fatal.
 * See docs/CLUSTER.md, "Call logs". */
#ifndef PT_ADMIN_CLUSTER_H
#define PT_ADMIN_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "admin/api.h"

#define PT_CLUSTER_ASK_MS 3000 /* how long a node has to answer its share */

/* One node's share of an answer. */
typedef struct pt__share {
    char id[256];
    char admin_address[160];
    bool self;          /* this node: read here, never asked over HTTP */
    bool ask;           /* to be asked (a node already read to its end is not) */
    char query[1536];   /* the query string it is asked with */
    json_t *body;       /* its answer; NULL when it did not give one */
    char why[320];      /* why not, when body is NULL */
} pt__share;

/* The request's own handler, run for this node's share with rq's query replaced. */
typedef void (*pt__share_fn)(pt_admin_api *api, const pt_admin_req *rq, const char *visible_team, pt_admin_resp *out,
                             pt_admin_err *err);

/* Whether a registry row (GET /nodes' item) is alive at now (Unix seconds): its heartbeat is
 * under three of its periods old and it did not stop. */
bool pt__node_alive(const json_t *node, int64_t now);

/* Every node of the registry as a share (*out, n of them, self among them), or 0 when this
 * node answers alone (a SQLite store, one node, or its own id unknown). -1 with err filled when the
 * registry cannot be read. */
int pt__cluster_shares(pt_admin_api *api, pt__share **out, pt_admin_err *err);

/* rq's query string without the parameters named in drop (NULL-terminated), then extra
 * ("name=value&..."), into out. */
void pt__cluster_query(const pt_admin_req *rq, const char *const *drop, const char *extra, char *out, size_t cap);

/* Asks every share with ask set for GET /admin/v1/<path>?<query> at once: this node through
 * self_fn, the others over HTTP with the caller's credentials (the store is shared, so they
 * mean the same everywhere), each within PT_CLUSTER_ASK_MS. Nodes not alive are not asked. */
void pt__cluster_ask(pt_admin_api *api, const pt_admin_req *rq, const char *path, const char *visible_team,
                     pt__share_fn self_fn, pt__share *s, size_t n);

/* [{"id","answered"[,"error"]}] for the answer's "nodes"; the ids that did not answer,
 * comma-separated, into missing (the X-Portico-Missing-Nodes header). */
json_t *pt__cluster_report(const pt__share *s, size_t n, char *missing, size_t cap);

void pt__cluster_free(pt__share *s, size_t n);

/* A short stable tag of a node id (FNV-1a, 8 hex digits), for cursors. */
void pt__cluster_tag(const char *id, char out[9]);

#endif
