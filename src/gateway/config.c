/* config.c: the configuration snapshot: the top-level sections of a file, loading,
 * binding to the runtime registries, reference counts and publishing.
 *
 * The engine in config/ turns YAML into nodes and maps them through key tables; each
 * section is a table of its own (config_sections.c, config_routes.c, and the AI
 * sections in ai/ai_config_load.c). A load touches nothing outside the new snapshot;
 * pt_config_bind() then links it to the state that outlives reloads. */
#include "gateway/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ai/ai_config.h"
#include "ai/prompt.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/auth.h"
#include "gateway/balancer.h"
#include "gateway/cors.h"
#include "gateway/lifecycle.h"
#include "gateway/validate_gate.h"
#include "gateway/limits_gate.h"
#include "limits/policy.h"
#include "mask/mask_config.h"
#include "mcp/mcp_config.h"
#include "config/node.h"

#define MAX_FILE_BYTES (4u << 20) /* a configuration file larger than this is refused */

/* ---- top level ---------------------------------------------------------------------- */

/* Where each top-level section was written; mapped in a fixed order afterwards (services
 * before the routes that name them, models before the routes that serve them). */
typedef struct top_nodes {
    const pt_cfg_node *listen, *workers, *limits, *access_log, *log_level, *endpoints, *errors, *services,
        *routes, *providers, *models, *identity_headers, *data_dir, *admin, *policies, *store;
    const pt_cfg_node *call_log, *tracing, *mcp, *counters, *responses;
} top_nodes;

static const pt_cfg_field top_fields[] = {
    CFG_NODE("listen", top_nodes, listen),
    CFG_NODE("workers", top_nodes, workers),
    CFG_NODE("limits", top_nodes, limits),
    CFG_NODE("access_log", top_nodes, access_log),
    CFG_NODE("log_level", top_nodes, log_level),
    CFG_NODE("endpoints", top_nodes, endpoints),
    CFG_NODE("errors", top_nodes, errors),
    CFG_NODE("services", top_nodes, services),
    CFG_NODE("routes", top_nodes, routes),
    CFG_NODE("providers", top_nodes, providers),
    CFG_NODE("models", top_nodes, models),
    CFG_NODE("data_dir", top_nodes, data_dir),
    CFG_NODE("store", top_nodes, store),
    CFG_NODE("identity_headers", top_nodes, identity_headers),
    CFG_NODE("admin", top_nodes, admin),
    CFG_NODE("policies", top_nodes, policies),
    CFG_NODE("call_log", top_nodes, call_log),
    CFG_NODE("responses", top_nodes, responses),
    CFG_NODE("tracing", top_nodes, tracing),
    CFG_NODE("mcp", top_nodes, mcp),
    CFG_NODE("counters", top_nodes, counters),
    CFG_END,
};

static const pt_cfg_field workers_field = CFG_UINT("workers", pt_config, workers, 1, 256);
static const pt_cfg_field data_dir_field = CFG_STR("data_dir", pt_config, data_dir);

static int tracing_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_trace_cfg_map(c, v, &((pt_config *)obj)->tracing);
}

/* Maps one section if it was written, under its key in messages. */
static void section(pt_cfg *c, const char *key, const pt_cfg_node *v, pt_cfg_field_fn fn, pt_config *cfg)
{
    if (!v) return;
    size_t mark = pt_cfg_push_key(c, key);
    fn(c, v, cfg);
    pt_cfg_pop(c, mark);
}

static int map_top(pt_cfg *c, const pt_cfg_node *root)
{
    pt_config *cfg = c->root;
    top_nodes t = { 0 };
    if (root->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, root, "expected a mapping of settings (listen, services, routes, ...), got %s",
                           pt_cfg_kind_name(root));
    pt_cfg_map_fields(c, root, top_fields, &t, NULL);
    section(c, "listen", t.listen, pt__config_listen, cfg);
    if (t.workers) pt_cfg_apply(c, &workers_field, t.workers, cfg);
    if (t.data_dir && pt_cfg_apply(c, &data_dir_field, t.data_dir, cfg) == 0 && !cfg->data_dir[0])
        pt_cfg_fail_key(c, "data_dir", t.data_dir, "expected a directory name, got an empty string");
    section(c, "store", t.store, pt__config_store, cfg);
    section(c, "limits", t.limits, pt__config_limits, cfg);
    section(c, "access_log", t.access_log, pt__config_access_log, cfg);
    section(c, "log_level", t.log_level, pt__config_log_level, cfg);
    section(c, "endpoints", t.endpoints, pt__config_endpoints, cfg);
    section(c, "errors", t.errors, pt__config_errors, cfg);
    section(c, "identity_headers", t.identity_headers, pt__config_identity_headers, cfg);
    section(c, "admin", t.admin, pt__config_admin, cfg);
    section(c, "call_log", t.call_log, pt__config_call_log, cfg);
    section(c, "responses", t.responses, pt__config_responses, cfg);
    section(c, "counters", t.counters, pt__config_counters, cfg);
    section(c, "tracing", t.tracing, tracing_fn, cfg);
    /* models before services: a prompt service names one */
    if (t.providers || t.models) cfg->ai = pt_ai_config_map(c, t.providers, t.models);
    section(c, "services", t.services, pt__config_services, cfg);
    section(c, "routes", t.routes, pt__config_routes, cfg);
    section(c, "policies", t.policies, pt__config_policies, cfg); /* after what they name */
    section(c, "mcp", t.mcp, pt__config_mcp, cfg);
    if (c->nerrors) return -1;
    if (pt__config_default_ai_route(c, cfg)) return -1;
    if (pt__config_default_mcp_route(c, cfg)) return -1;
    if (pt__config_admin_default(c, root, cfg)) return -1;
    if (!t.listen) {
        cfg->listeners = calloc(1, sizeof *cfg->listeners);
        if (!cfg->listeners) return pt_cfg_oom(c, root);
        cfg->nlisteners = 1;
        pt_cfg_addr a = { 0 };
        int rc = pt_cfg_listen_address(c, root, "127.0.0.1:8080", &a);
        cfg->listeners[0].host = a.host;
        cfg->listeners[0].port = a.port;
        cfg->listeners[0].text = a.text;
        if (rc) return -1;
    }
    return 0;
}

/* ---- snapshots: build, free, bind, count, publish ------------------------------------ */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void pt__service_free(pt_service *s)
{
    free(s->name);
    for (size_t i = 0; i < s->ntargets; i++) {
        free(s->targets[i].url);
        free(s->targets[i].host);
    }
    free(s->targets);
    free(s->ca_file);
    free(s->sni);
    free(s->health.path);
    free(s->wrr_slots);
    pt_prompt_free(s->prompt);
}

void pt__route_free(pt_route *r)
{
    free(r->name);
    free_strv(r->hosts, r->nhosts);
    free(r->path_exact);
    free(r->path_prefix);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->service_name);
    pt_cors_free(r->cors);
    pt_lifecycle_free(r->lifecycle);
    pt_validate_free(r->validate);
    free(r->rewrite_prefix);
    free(r->key_header);
    free(r->key_query);
    free(r->auth_service);
    pt_mask_bodies_free(r->log_bodies);
    free_strv(r->ai_models, r->nai_models);
    pt_cfg_kv_free(r->req_add, r->nreq_add);
    free_strv(r->req_remove, r->nreq_remove);
    pt_cfg_kv_free(r->resp_add, r->nresp_add);
    free_strv(r->resp_remove, r->nresp_remove);
}

static void config_free(pt_config *cfg)
{
    if (!cfg) return;
    free(cfg->source);
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        free(cfg->listeners[i].host);
        free(cfg->listeners[i].cert_file);
        free(cfg->listeners[i].key_file);
        free(cfg->listeners[i].ciphers);
        free(cfg->listeners[i].ciphersuites);
        free(cfg->listeners[i].client_ca);
        free(cfg->listeners[i].subject_header);
        free(cfg->listeners[i].ocsp_response);
        free(cfg->listeners[i].text);
    }
    free(cfg->listeners);
    free(cfg->access_log);
    free(cfg->error_log_level);
    free(cfg->health_path);
    free(cfg->ready_path);
    free(cfg->metrics_path);
    free(cfg->data_dir);
    free(cfg->counters_redis);
    free(cfg->counters_prefix);
    free(cfg->store.postgres);
    free(cfg->store.node_id);
    pt_trace_cfg_release(&cfg->tracing);
    free(cfg->identity_consumer);
    free(cfg->identity_team);
    free(cfg->identity_key_prefix);
    for (size_t i = 0; i < cfg->nservices; i++) pt__service_free(&cfg->services[i]);
    free(cfg->services);
    for (size_t i = 0; i < cfg->nroutes; i++) pt__route_free(&cfg->routes[i]);
    free(cfg->routes);
    pt_ai_config_free(cfg->ai);
    pt_policies_free(cfg->policies);
    pt_mcp_config_free(cfg->mcp);
    free(cfg->admin.host);
    free(cfg->admin.text);
    free(cfg->admin_trusted);
    pt_cfg_node_free(cfg->tree);
    free(cfg->basedir);
    pt_config_release(cfg->file);
    free(cfg);
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > 256 ? 256 : (unsigned)n;
}

/* A snapshot holding every default that is not a list (listeners default at the end of
 * mapping, services and routes default to none). */
static pt_config *config_new(const char *source)
{
    pt_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    atomic_init(&cfg->refs, 1);
    cfg->workers = online_cpus();
    cfg->limits = (pt_limits){
        .max_header_bytes = 32768,
        .max_headers = 100,
        .max_body_bytes = 10u << 20,
        .header_timeout_ms = 10000,
        .body_timeout_ms = 30000,
        .idle_timeout_ms = 60000,
        .send_timeout_ms = 60000,
        .drain_timeout_ms = 30000,
        .max_connections = 16384,
        .http2_max_streams = 100,
        .ai_cache_bytes = 64u << 20,
    };
    cfg->source = strdup(source);
    cfg->access_log = strdup("-");
    cfg->error_log_level = strdup("info");
    cfg->health_path = strdup("/healthz");
    cfg->ready_path = strdup("/readyz");
    cfg->metrics_path = strdup("/metrics");
    cfg->metrics_consumers = PT_AUTH_CONSUMER_SERIES;
    cfg->data_dir = strdup("./portico-data");
    cfg->store.version_check_ms = 2000;
    cfg->admin_enabled = true;
    cfg->call_log = (pt_call_log_cfg){ .enabled = false, .retention_ms = 7 * PT_CFG_DAY_MS, .max_bytes = 1ull << 30,
                                       .rollup_minute_ms = 2 * PT_CFG_DAY_MS, .rollup_hour_ms = 90 * PT_CFG_DAY_MS,
                                       .rollup_day_ms = 730 * PT_CFG_DAY_MS };
    cfg->responses = (pt_responses_cfg){ .enabled = false, .default_store = true, .retention_ms = 30 * PT_CFG_DAY_MS,
                                         .max_bytes = 4u << 20, .prune_every_ms = 60000 };
    cfg->identity_consumer = strdup("X-Portico-Consumer");
    cfg->identity_team = strdup("X-Portico-Team");
    cfg->identity_key_prefix = strdup("X-Portico-Key-Prefix");
    if (!cfg->source || !cfg->access_log || !cfg->error_log_level || !cfg->health_path || !cfg->ready_path ||
        !cfg->metrics_path || !cfg->data_dir || !cfg->identity_consumer || !cfg->identity_team ||
        !cfg->identity_key_prefix) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Maps root (taken) into a new snapshot that keeps it. */
static pt_config *map_tree(const char *name, const char *basedir, pt_cfg_node *root, pt_buf *err)
{
    pt_config *cfg = config_new(name);
    if (!cfg || (basedir && !(cfg->basedir = strdup(basedir)))) {
        pt_buf_printf(err, "%s: out of memory", name);
        pt_cfg_node_free(root);
        config_free(cfg);
        return NULL;
    }
    cfg->tree = root;
    pt_cfg c = { .file = name, .basedir = basedir, .err = err, .root = cfg };
    if (map_top(&c, root) != 0 || c.nerrors) {
        pt_cfg_sort_errors(&c);
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

pt_config *pt_config_load_tree(const char *name, const char *basedir, pt_cfg_node *root, pt_buf *err)
{
    pt_buf local = PT_BUF_INIT;
    if (!err) err = &local;
    pt_buf_reset(err);
    pt_config *cfg = map_tree(name, basedir, root, err);
    pt_buf_release(&local);
    return cfg;
}

static pt_config *load(const char *name, char *basedir, const char *yaml, size_t len, pt_buf *err)
{
    pt_buf local = PT_BUF_INIT;
    if (!err) err = &local;
    pt_buf_reset(err);
    pt_config *cfg = NULL;
    if (len > MAX_FILE_BYTES) {
        pt_buf_printf(err, "%s: larger than %u bytes", name, MAX_FILE_BYTES);
    } else {
        pt_cfg_node *root = pt_cfg_yaml_parse(name, yaml, len, err);
        if (root) cfg = map_tree(name, basedir, root, err);
    }
    pt_buf_release(&local);
    return cfg;
}

pt_config *pt_config_load_string(const char *name, const char *yaml, size_t len, pt_buf *err)
{
    return load(name, NULL, yaml, len, err);
}

pt_config *pt_config_load_file(const char *path, pt_buf *err)
{
    pt_buf text;
    pt_buf_init(&text, MAX_FILE_BYTES);
    pt_config *cfg = NULL;
    char *basedir = NULL;
    FILE *f = fopen(path, "rb");
    int e = 0;
    if (!f) {
        e = errno;
        goto pt_cfg_fail;
    }
    char chunk[16384];
    size_t n;
    errno = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        int rc = pt_buf_append(&text, chunk, n);
        if (rc == PT_ETOOBIG) {
            fclose(f);
            pt_buf_release(&text);
            if (err) {
                pt_buf_reset(err);
                pt_buf_printf(err, "%s: larger than %u bytes", path, MAX_FILE_BYTES);
            }
            return NULL;
        }
        if (rc) {
            e = ENOMEM;
            break;
        }
    }
    if (!e && ferror(f)) e = errno ? errno : EIO; /* a directory reads as EISDIR */
    fclose(f);
    if (e) goto pt_cfg_fail;
    const char *slash = strrchr(path, '/');
    if (slash && !(basedir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
        e = ENOMEM;
        goto pt_cfg_fail;
    }
    cfg = load(path, basedir, text.data ? text.data : "", text.len, err);
    free(basedir);
    pt_buf_release(&text);
    return cfg;
pt_cfg_fail:
    free(basedir);
    pt_buf_release(&text);
    if (err) {
        pt_buf_reset(err);
        pt_buf_printf(err, "%s: cannot read: %s", path, strerror(e));
    }
    return NULL;
}

/* The built-in configuration, validated by the same loader as any file. */
static const char default_yaml[] =
    "# Portico's built-in configuration: loopback only, health and metrics, no routes.\n"
    "listen: [\"127.0.0.1:8080\"]\n"
    "access_log: \"-\"\n"
    "log_level: info\n"
    "endpoints:\n"
    "  health: /healthz\n"
    "  ready: /readyz\n"
    "  metrics: /metrics\n";

pt_config *pt_config_defaults(pt_buf *err)
{
    return load("<defaults>", NULL, default_yaml, sizeof default_yaml - 1, err);
}

int pt_config_bind(pt_config *cfg)
{
    for (size_t i = 0; i < cfg->nservices; i++) {
        pt_service *s = &cfg->services[i];
        for (size_t t = 0; t < s->ntargets; t++) {
            s->targets[t].state = pt_target_state_get(s->name, s->targets[t].url);
            if (!s->targets[t].state) return -1;
        }
        if (pt__balancer_prepare(s) != 0) return -1;
    }
    if (pt__limits_gate_bind(cfg) != 0) return -1;
    pt_ai_config_start(cfg->ai);
    if (cfg->file) return 0; /* built on a file whose warnings were logged when it loaded */
    pt_buf summary = PT_BUF_INIT, warnings = PT_BUF_INIT;
    pt_config_report(cfg, &summary, &warnings);
    for (char *line = warnings.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        pt_log_warn("%s: %s", cfg->source, line);
    }
    pt_buf_release(&summary);
    pt_buf_release(&warnings);
    return 0;
}

pt_config *pt_config_acquire(pt_config *cfg)
{
    if (cfg) atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void pt_config_release(pt_config *cfg)
{
    if (!cfg) return;
    /* acq_rel rather than release + a fence: same order, and ThreadSanitizer sees it */
    if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) != 1) return;
    config_free(cfg);
}

/* The published snapshot. A reader must load the pointer and count its reference as one
 * step, or a publish could free the snapshot in between; a tiny spinlock makes it one
 * step (held for two atomic operations, never across anything that can block). */
static pt_config *_Atomic current_cfg;
static atomic_flag current_lock = ATOMIC_FLAG_INIT;

static void current_lock_take(void)
{
    while (atomic_flag_test_and_set_explicit(&current_lock, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static void current_lock_drop(void) { atomic_flag_clear_explicit(&current_lock, memory_order_release); }

void pt_config_publish(pt_config *cfg)
{
    current_lock_take();
    pt_config *old = atomic_exchange_explicit(&current_cfg, cfg, memory_order_acq_rel);
    current_lock_drop();
    pt_config_release(old);
}

pt_config *pt_config_current(void)
{
    current_lock_take();
    pt_config *cfg = pt_config_acquire(atomic_load_explicit(&current_cfg, memory_order_acquire));
    current_lock_drop();
    return cfg;
}

pt_service *pt_config_find_service(const pt_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nservices; i++)
        if (cfg->services[i].name && strcmp(cfg->services[i].name, name) == 0) return &cfg->services[i];
    return NULL;
}
