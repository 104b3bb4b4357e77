/* admin.h: the admin API server. It runs on its own thread with its own libuv loop and
 * its own store handle inside the gateway process, on its own listening socket, so store
 * writes and password hashing never run on a worker loop. The gateway starts it once and
 * stops it once; it knows nothing of the gateway (everything it needs comes in opts). The
 * same listener serves the web console's files under /console/ (console/console.h). */
#ifndef PT_ADMIN_ADMIN_H
#define PT_ADMIN_ADMIN_H

#include <stdint.h>

#include "admin/api.h"
#include "core/buf.h"
#include "core/netmask.h"
#include "http/server.h"

#define PT_ADMIN_MAX_BODY (1024 * 1024) /* larger request bodies are refused with 413 */

typedef struct pt_admin_opts {
    const char *host;            /* listen address, e.g. "127.0.0.1" */
    uint16_t port;
    const char *data_dir;        /* where the store lives (and admin-token on first start) */
    const char *store_url;       /* PostgreSQL's URL when the store lives there, or NULL */
    const char *calls_path;      /* the call log's file for GET /admin/v1/calls; NULL: it is off */
    const char *node_id;         /* this node's id in the registry (its own share of cluster answers) */
    pt_http_limits limits;       /* timeouts and header caps; the body cap is PT_ADMIN_MAX_BODY at most */
    void (*on_change)(void *arg, int kind, int64_t id); /* on the admin thread after every committed
                                 * write (see api.h); may be NULL */
    pt_admin_check_fn check_service; /* whether a service would be served; may be NULL */
    pt_admin_check_policy_fn check_policy; /* whether a policy would be enforced; may be NULL */
    pt_admin_describe_fn describe;   /* the file's listeners, providers, models; may be NULL */
    pt_admin_render_fn render_prompt; /* a prompt service's dry run; may be NULL */
    void *arg;
    int64_t session_idle_s;      /* console sessions: idle and absolute limits (0: the defaults) */
    int64_t session_max_s;
    const pt_netmask *trusted_proxies; /* peers whose X-Forwarded-Proto / Forwarded is believed (copied) */
    size_t ntrusted_proxies;
} pt_admin_opts;

typedef struct pt_admin pt_admin;

/* Binds the listener, opens the store, creates the first admin when the store is empty,
 * then serves on a new thread. NULL with a sentence in err when any step fails (address
 * taken, store unusable). */
pt_admin *pt_admin_start(const pt_admin_opts *opts, pt_buf *err);
/* Closes the listener and every connection, joins the thread, closes the store. NULL is
 * allowed. */
void pt_admin_stop(pt_admin *a);

#endif
