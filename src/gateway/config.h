/* config.h: the gateway's configuration as one immutable snapshot.
 *
 * A snapshot is built by pt_config_load*() from YAML (or from the embedded defaults),
 * then published with pt_config_publish(). Workers take a reference per request with
 * pt_config_acquire() and drop it with pt_config_release(); the last release frees it.
 * Nothing in a published snapshot is written again, except the fields marked
 * "runtime" (atomics shared by all workers). Runtime state that must outlive a reload
 * (target health, metrics series) lives in registries keyed by name, and the snapshot
 * holds pointers into them. */
#ifndef PT_GATEWAY_CONFIG_H
#define PT_GATEWAY_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/value.h"
#include "core/buf.h"
#include "core/netmask.h"
#include "gateway/retry.h"
#include "trace/trace_config.h"

struct pt_ai_config;      /* ai/ai_config.h */
struct pt_target_state;   /* gateway/balancer.h */
struct pt_route_metrics;  /* gateway/metrics.h */
struct pt_policy_table;   /* limits/policy.h */
struct pt_mcp_config;     /* mcp/mcp_config.h */
struct pt_prompt;         /* ai/prompt.h */

typedef enum { PT_LB_ROUND_ROBIN, PT_LB_WEIGHTED, PT_LB_LEAST_CONN } pt_lb_kind;

typedef struct pt_target {
    char *url;        /* as written: "http://127.0.0.1:9001" */
    char *host;       /* "127.0.0.1", "::1" (no brackets), or a DNS name */
    uint16_t port;    /* default 80 / 443 by scheme */
    bool tls;         /* https:// */
    unsigned weight;  /* >= 1; default 1 */
    bool health_checked; /* the service runs active checks, so a DOWN verdict counts */
    struct pt_target_state *state; /* runtime, owned by the target registry */
} pt_target;

typedef struct pt_active_health {
    bool enabled;
    char *path;                  /* default "/healthz" */
    uint64_t interval_ms;        /* default 5000 */
    uint64_t timeout_ms;         /* default 2000 */
    unsigned healthy_threshold;  /* consecutive successes to mark up, default 2 */
    unsigned unhealthy_threshold;/* consecutive failures to mark down, default 2 */
    int expect_min, expect_max;  /* accepted status range, default 200..399 */
} pt_active_health;

typedef struct pt_passive_health {
    unsigned max_fails;   /* consecutive failures (connect error, 5xx, timeout) before ejection; 0 = off; default 3 */
    uint64_t eject_ms;    /* how long an ejected target is skipped, default 10000 */
} pt_passive_health;

/* How a service's targets are spoken to. */
typedef enum pt_upstream_proto {
    PT_PROTO_HTTP1 = 0, /* HTTP/1.1 (the default) */
    PT_PROTO_H2,        /* HTTP/2: h2 by ALPN on https targets, h2c with prior knowledge on http ones */
    PT_PROTO_H2C,       /* HTTP/2 with prior knowledge, http targets only */
} pt_upstream_proto;

typedef struct pt_service {
    char *name;
    pt_target *targets;
    size_t ntargets;
    pt_lb_kind lb;
    uint64_t connect_timeout_ms;    /* default 3000 */
    uint64_t first_byte_timeout_ms; /* request sent -> response head, default 60000 */
    uint64_t idle_timeout_ms;       /* no bytes either way mid-exchange, default 60000 */
    uint64_t pool_idle_ms;          /* how long an idle pooled connection is kept, default 60000 */
    uint64_t tunnel_idle_ms;        /* a tunnel (an upgraded connection) with no byte either way,
                                     * default 300000 */
    unsigned pool_max_idle;         /* idle connections kept per target per worker, default 64 */
    pt_upstream_proto protocol;     /* `protocol:` http1 (default), h2, h2c; gRPC needs h2 or h2c */
    unsigned retries;               /* extra targets tried, default 1 (gateway/retry.h) */
    pt_retry_policy retry;          /* retry_on and retry_budget */
    char *ca_file;                  /* extra CA bundle for TLS targets (else system store) */
    bool insecure_skip_verify;      /* local use only; logged as a warning at load */
    char *sni;                      /* overrides the SNI / verified name (default: target host) */
    pt_active_health health;
    pt_passive_health passive;
    struct pt_prompt *prompt;       /* `kind: prompt`: the prompt API it serves (no targets); NULL for a
                                     * proxied service */
    unsigned *wrr_slots;            /* weighted: target index per slot, one period of smooth WRR */
    size_t nwrr_slots;              /* sum of weights / their gcd (weighted only, else 0) */
    _Atomic unsigned rr_cursor;     /* runtime: round-robin / weighted cursor */
} pt_service;

typedef pt_cfg_kv pt_kv;

typedef struct pt_header_match {
    char *name;   /* case-insensitive */
    char *value;  /* exact value; NULL = header must be present */
} pt_header_match;

/* Methods as a bitmask: bit (1u << llhttp method number). 0 = any method. */
typedef uint64_t pt_method_mask;

typedef enum {
    PT_ROUTE_PROXY,   /* forward to a service */
    PT_ROUTE_AI,      /* the AI endpoints (`ai: {}`), served by gateway/ai_route.c */
    PT_ROUTE_MCP,     /* /mcp and /mcp/<server> (`mcp:`), served by gateway/mcp_route.c */
    PT_ROUTE_PROMPT,  /* a `kind: prompt` service, served by gateway/prompt_route.c */
} pt_route_kind;

typedef struct pt_route {
    char *name;
    pt_route_kind kind;
    /* match */
    char **hosts;            /* lowercase, no port; "*.example.com" matches one or more labels */
    size_t nhosts;           /* 0 = any host */
    char *path_exact;        /* at most one of path_exact / path_prefix; neither = "/" prefix */
    char *path_prefix;
    pt_method_mask methods;
    pt_header_match *headers;
    size_t nheaders;
    /* action */
    const struct pt_ai_config *ai; /* PT_ROUTE_AI, PT_ROUTE_PROMPT: the snapshot's AI configuration */
    char **ai_models;        /* PT_ROUTE_AI with `ai: { models: [...] }`: the only models this route
                              * serves (others are not found here); NULL = every model */
    size_t nai_models;
    bool implicit;           /* the default AI route, added when no route declares ai */
    char *service_name;
    pt_service *service;     /* resolved at load */
    bool strip_prefix;       /* remove path_prefix before forwarding (AI routes: before matching
                              * the AI endpoints, so /team/v1/chat/completions serves as
                              * /v1/chat/completions) */
    char *rewrite_prefix;    /* replace the matched prefix with this (implies strip) */
    pt_kv *req_add;          /* set on the upstream request (replacing any same-name header) */
    size_t nreq_add;
    char **req_remove;
    size_t nreq_remove;
    pt_kv *resp_add;
    size_t nresp_add;
    char **resp_remove;
    size_t nresp_remove;
    /* control-plane enforcement (gateway/auth.h) */
    bool auth_key;           /* `auth: key`: every call needs a Portico key */
    char *key_header;        /* also accept the key in this header (besides Authorization: Bearer
                              * and x-api-key), or NULL */
    char *key_query;         /* also accept it in this query parameter, or NULL */
    char *auth_service;      /* the store's service subscriptions are checked against: `auth_service`,
                              * else the route's service name, else the route's name */
    struct pt_cors *cors;    /* `cors:` (gateway/cors.h), or NULL */
    struct pt_lifecycle *lifecycle; /* `lifecycle:` (gateway/lifecycle.h), or NULL */
    struct pt_validate *validate; /* a stored API's imported operations when it asks for request
                              * validation (gateway/validate_gate.h), or NULL: off */
    bool upgrade;            /* `upgrade:` (default true): a proxy route tunnels Upgrade requests
                              * (WebSocket...) to its service; false refuses them (gateway/tunnel.h) */
    unsigned order;          /* position in the file, the last tie-breaker */
    struct pt_route_metrics *metrics; /* runtime, owned by the metrics registry */
    struct pt_mask_bodies *log_bodies; /* `call_log: { bodies: true }`: bodies kept in the call
                              * log, capped and redacted (mask/mask_config.h); NULL: not kept */
} pt_route;

typedef struct pt_listener_cfg {
    char *host;          /* "127.0.0.1", "::1", "0.0.0.0", "::" */
    uint16_t port;
    bool tls;
    char *cert_file;     /* PEM, required when tls */
    char *key_file;
    bool tls13_only;     /* min_version: "1.3" (default "1.2") */
    char *ciphers;       /* TLS 1.2 cipher list (OpenSSL syntax), or NULL */
    char *ciphersuites;  /* TLS 1.3 suites, or NULL */
    char *client_ca;     /* mTLS: the CA bundle client certificates must chain to */
    bool client_cert_optional; /* client_cert: optional (default required with client_ca) */
    char *subject_header;/* header carrying the verified client subject upstream */
    char *ocsp_response; /* a DER OCSP response file stapled to handshakes (read at load and reload) */
    bool no_http2;       /* `http2: false`: no h2 by ALPN, no h2c by prior knowledge */
    char *text;          /* as written, for messages */
} pt_listener_cfg;

typedef struct pt_limits {
    size_t max_header_bytes;     /* request line + headers, default 32768 -> 431 */
    unsigned max_headers;        /* default 100 -> 431 */
    size_t max_body_bytes;       /* default 10 MiB -> 413 */
    uint64_t header_timeout_ms;  /* whole head must arrive within, default 10000 -> 408 and close */
    uint64_t body_timeout_ms;    /* max gap between body reads, default 30000 */
    uint64_t idle_timeout_ms;    /* keep-alive idle, default 60000 */
    uint64_t send_timeout_ms;    /* client not reading our response, default 60000 */
    uint64_t drain_timeout_ms;   /* SIGTERM: in-flight deadline, default 30000 */
    unsigned max_connections;    /* per worker, default 16384 */
    unsigned http2_max_streams;  /* HTTP/2 streams open at once per connection, default 100 */
    size_t ai_cache_bytes;       /* the AI response cache's whole size (ai/cache.h), default 64 MiB */
} pt_limits;

/* store: where the control-plane store lives when it is not data_dir's SQLite file. */
typedef struct pt_store_cfg {
    char *postgres;               /* postgres://user@host:port/db, or NULL for SQLite */
    uint64_t version_check_ms;    /* how often a node re-reads the store version; default 2000 */
    char *node_id;                /* this node's name in the registry; default host:admin port */
} pt_store_cfg;

/* call_log: one record per call in data_dir/calls.db (logs/calllog.h). Read at start. */
typedef struct pt_call_log_cfg {
    bool enabled;                 /* default false; true once the section is written */
    uint64_t retention_ms;        /* default 7d */
    uint64_t max_bytes;           /* default 1GiB */
    uint64_t rollup_minute_ms, rollup_hour_ms, rollup_day_ms; /* analytics retention: 2d, 90d, 730d */
} pt_call_log_cfg;

/* responses: Responses API answers kept in the control-plane store (gateway/resp_store.h).
 * Read at start. */
typedef struct pt_responses_cfg {
    bool enabled;                 /* default false; true once the section is written */
    bool default_store;           /* a request without "store" is kept; default true (OpenAI's) */
    uint64_t retention_ms;        /* a kept response is gone this long after it was made; default 30d */
    uint64_t max_bytes;           /* one kept response, input and answer, at most; default 4MiB */
    uint64_t prune_every_ms;      /* how often expired ones are deleted; default 1m */
} pt_responses_cfg;

typedef struct pt_config {
    _Atomic long refs;
    char *source;                 /* file path, or "<defaults>" */
    pt_listener_cfg *listeners;
    size_t nlisteners;
    unsigned workers;             /* default: number of cores */
    pt_limits limits;
    char *access_log;             /* path, "-" for stdout, NULL/"off" for none; default "-" */
    char *error_log_level;        /* default "info" */
    char *health_path;            /* default "/healthz" */
    char *ready_path;             /* default "/readyz" */
    char *metrics_path;           /* default "/metrics" */
    unsigned metrics_consumers;   /* (consumer, team) pairs with their own series; default 1024 */
    bool expose_upstream_address; /* errors.expose_upstream_address: a 502 names the target's
                                   * address and the low-level cause; default false */
    char *data_dir;               /* the control-plane store's directory; default "./portico-data" */
    pt_store_cfg store;           /* store: PostgreSQL instead of data_dir's SQLite, for a cluster */
    pt_call_log_cfg call_log;
    pt_responses_cfg responses;
    /* counters: where limit counters live (limits/counter_redis.h). Read at start only */
    char *counters_redis;         /* counters.redis: a redis:// URL; NULL: in process */
    uint64_t counters_timeout_ms; /* counters.timeout; 0: the backend's default (50 ms) */
    char *counters_prefix;        /* counters.prefix; NULL: "portico:" */
    uint64_t counters_slot_ttl_ms; /* counters.slot_ttl; 0: the backend's default (10 min) */
    pt_trace_cfg tracing;         /* tracing: (trace/trace_config.h); enabled false without it */
    /* identity_headers: names of the headers that tell the upstream who called (keyed routes) */
    char *identity_consumer;      /* default "X-Portico-Consumer" */
    char *identity_team;          /* default "X-Portico-Team" */
    char *identity_key_prefix;    /* default "X-Portico-Key-Prefix" */
    pt_service *services;
    size_t nservices;
    pt_route *routes;             /* sorted by precedence (see router.h) */
    size_t nroutes;
    bool has_cors;                /* some route has `cors:` (preflights are looked for otherwise not) */
    struct pt_ai_config *ai;      /* providers and models; NULL when neither is written */
    struct pt_policy_table *policies; /* `policies:` (limits/policy.h); NULL when none */
    struct pt_mcp_config *mcp;    /* `mcp:` (mcp/mcp_config.h); NULL when not written */
    bool admin_enabled;           /* admin.enabled (false also when admin.listen is ""); default true */
    pt_listener_cfg admin;        /* admin.listen: host, port, text; default 127.0.0.1:9080. Read at
                                   * start only: a reload does not move the admin listener */
    uint64_t admin_session_idle_ms; /* admin.session_idle: a console session unused this long ends; 0 = 30 min */
    uint64_t admin_session_max_ms;  /* admin.session_max: any console session ends this long after sign-in; 0 = 12 h */
    pt_netmask *admin_trusted;      /* admin.trusted_proxies: whose X-Forwarded-Proto / Forwarded is believed */
    size_t nadmin_trusted;
    /* Where it came from, so the store's objects can be added to it (config_store.h) */
    struct pt_cfg_node *tree;     /* the file's parsed document (NULL in a composed snapshot) */
    char *basedir;                /* relative file names in it resolve against this; NULL = cwd */
    struct pt_config *file;       /* a composed snapshot: the file's snapshot it was built from
                                   * (a counted reference); NULL in a file's own snapshot */
    size_t nstore_routes;         /* routes built from the store's APIs */
} pt_config;

/* Loads and validates a YAML file. On failure returns NULL and writes every problem
 * found into err, one line each, "FILE:LINE: KEY: what is wrong". Environment
 * references ${NAME} in scalars are expanded; a missing variable is an error naming it.
 * Loading has no side effects: nothing outside the new snapshot is touched until
 * pt_config_bind(). */
pt_config *pt_config_load_file(const char *path, pt_buf *err);
/* Same, from a string already in memory; name is used in messages. */
pt_config *pt_config_load_string(const char *name, const char *yaml, size_t len, pt_buf *err);
/* Maps a document built in code (config/node.h), taking root; name is used in messages and
 * as the snapshot's source. */
pt_config *pt_config_load_tree(const char *name, const char *basedir, struct pt_cfg_node *root, pt_buf *err);
/* The built-in defaults: listen 127.0.0.1:8080, health/ready/metrics, no routes. */
pt_config *pt_config_defaults(pt_buf *err);

/* Links a freshly loaded snapshot to the runtime registries that outlive reloads
 * (target health states, balancer schedules) and logs its warnings. Call once, before
 * the snapshot is used; -1 when out of memory (then it must not be published). Route
 * metrics are bound separately (pt_metrics_bind_config), only for a snapshot about to
 * be published. */
int pt_config_bind(pt_config *cfg);

/* What check-config prints: a summary of everything loaded into out, and warnings (an
 * AI route shadowing or shadowed by another route, unverified upstream TLS) into
 * warnings, one line each. Returns the number of warnings. (config_report.c) */
size_t pt_config_report(const pt_config *cfg, pt_buf *out, pt_buf *warnings);
/* The file's listeners, providers (without their keys) or models ("listeners", "providers",
 * "models") as a JSON array of objects marked origin "file", read_only; also "mcp_servers",
 * "upstreams" (with their health) and "mcp_tools" (each MCP server's tools as last listed);
 * NULL for another word. (config_report.c) */
json_t *pt_config_describe(const pt_config *cfg, const char *what);
/* "round_robin", "weighted" or "least_conn". */
const char *pt_lb_name(pt_lb_kind lb);

pt_config *pt_config_acquire(pt_config *cfg);
void pt_config_release(pt_config *cfg);

/* The published snapshot. publish() takes over the caller's reference to cfg (do not
 * release it afterwards) and releases the previously published one; publish(NULL) at
 * exit drops the last one. current() returns a counted reference the caller releases
 * (never NULL once something is published); it is safe against a concurrent publish. */
void pt_config_publish(pt_config *cfg);
pt_config *pt_config_current(void);

pt_service *pt_config_find_service(const pt_config *cfg, const char *name);

#endif
