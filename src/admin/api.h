/* api.h: the admin API's resources: one request in (method, path, query, credentials,
 * body), one JSON answer out. It runs on the admin thread with that thread's own store
 * handle; everything here blocks on disk and on Argon2, by design, and never on a worker
 * loop. The HTTP side (admin.c) only moves bytes. */
#ifndef PT_ADMIN_API_H
#define PT_ADMIN_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "admin/authz.h"
#include "admin/session.h"
#include "store/store.h"

/* Whether a service and its APIs (the objects as they are about to be stored; apis an
 * array) would be served by the gateway. Returns 0, or -1 with the admin field at fault in
 * field ("" for none) and a sentence in msg. */
typedef int (*pt_admin_check_fn)(void *arg, const json_t *service, const json_t *apis, char *field, size_t fieldcap,
                                 char *msg, size_t msgcap);

/* Whether a policy ({name, applies_to, rate, ...} as the file writes one) would be
 * enforced alongside the configuration in force, replacing the stored policy named
 * replaces (NULL for a new one). Returns 0, or -1 with the field at fault and a sentence. */
typedef int (*pt_admin_check_policy_fn)(void *arg, const json_t *policy, const char *replaces, char *field,
                                        size_t fieldcap, char *msg, size_t msgcap);

/* What the configuration file declares that the store does not keep: "listeners",
 * "providers", "mcp_servers", "upstreams" or "models" as a new JSON array of objects
 * (secrets left out), and "mcp_tools" ([{"server","listed_at","tools"}]: each MCP server's
 * tools as the gateway last listed them), or NULL. */
typedef json_t *(*pt_admin_describe_fn)(void *arg, const char *what);

/* A prompt service's dry run (POST /prompt/render): its request rendered with the sample
 * variables, without calling a model. Returns 200 with *out {"model","messages","request"},
 * 400 with *out the list of problems, 404 when service names no prompt service. */
typedef int (*pt_admin_render_fn)(void *arg, const char *service, const json_t *variables, json_t **out);

typedef struct pt_admin_api {
    pt_store *st;
    const char *calls_path;        /* the call log's file, NULL when the call log is off */
    struct sqlite3 *calls;         /* its read-only connection, opened at the first read */
    const char *node_id;           /* this node's id in the registry ("" when unknown): the node
                                  * whose share of a cluster answer is read here, not asked for */
    const char *limits_path;       /* the quota and budget totals' file (limits/persist.h), or NULL */
    void (*on_change)(void *arg, int kind, int64_t id); /* after every committed write: the object
                                  * written, or kind -1 when several may have changed; may be NULL */
    pt_admin_check_fn check_service; /* before a service or an API is written; may be NULL */
    pt_admin_check_policy_fn check_policy; /* before a policy is written; may be NULL */
    pt_admin_describe_fn describe;   /* the file's listeners, providers, MCP servers, models; may be NULL */
    pt_admin_render_fn render_prompt; /* POST /prompt/render; may be NULL */
    void *arg;
    int64_t session_idle_s;        /* a console session unused this long ends (0: the default) */
    int64_t session_max_s;         /* and any session this long after sign-in (0: the default) */
    pt_signin_brake *brake;        /* failed sign-ins per user and address; NULL: no brake */
} pt_admin_api;

typedef struct pt_admin_req {
    const char *method;                  /* "GET", "POST", "PATCH", "DELETE" */
    const char *path; size_t path_len;
    const char *query; size_t query_len;
    const char *authorization; size_t authorization_len; /* NULL when absent */
    const char *if_match; size_t if_match_len;           /* NULL when absent */
    const char *body; size_t body_len;
    const char *cookie; size_t cookie_len;               /* NULL when absent */
    const char *csrf; size_t csrf_len;                   /* X-CSRF-Token, NULL when absent */
    const char *peer;              /* the client's address without port ("" when unknown) */
    bool tls;                      /* the client came over TLS, to this listener or to a trusted
                                    * proxy (session cookies get Secure) */
} pt_admin_req;

#define PT_ADMIN_CURSOR_MAX 512 /* a cursor of a cluster-wide page names a position on each node */

typedef struct pt_admin_resp {
    int status;
    json_t *body;          /* owned; NULL for 204 or a raw answer */
    char *raw;             /* owned (free()): a body that is not JSON (the YAML export), or NULL */
    size_t raw_len;
    const char *content_type; /* raw's type (static) */
    char next_cursor[PT_ADMIN_CURSOR_MAX]; /* call log exports: X-Next-Cursor, "" for none */
    char missing_nodes[512]; /* a cluster answer without some nodes' share: their ids, comma-separated
                              * (X-Portico-Missing-Nodes), "" for none */
    int64_t etag;          /* object version for the ETag header, 0 for none */
    bool www_authenticate; /* 401: add WWW-Authenticate: Bearer */
    char set_cookie[160];  /* a Set-Cookie value (sessions), "" for none */
    int64_t retry_after;   /* 429: seconds for Retry-After, 0 for none */
} pt_admin_resp;

void pt_admin_handle(pt_admin_api *api, const pt_admin_req *rq, pt_admin_resp *out);

/* Writes the error body for e into out (used for errors raised outside handle()). */
json_t *pt_admin_error_json(const char *code, const char *field, const char *message);

/* Shared with export.c, so an import obeys the rules the resources do. pt__admin_map checks
 * one object of kind as an admin would send it (fields, references by name, the kind's own
 * rules, whether the gateway would serve it; stored: the object it will update, or NULL;
 * parent: an API's service or a key's consumer, else 0) and answers its store columns in
 * *cols, or -1 with e filled. pt__admin_store_fail turns a store error into the API's
 * answer. */
int pt__admin_map(pt_admin_api *api, pt_store_kind kind, const json_t *in, const json_t *stored, int64_t parent,
                  json_t **cols, pt_admin_err *e);
int pt__admin_store_fail(pt_store *st, int rc, bool creating, pt_admin_err *e);

#endif
