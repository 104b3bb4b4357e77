/* config_sections.c: the gateway's own sections: listen, limits, logs, endpoints,
 * services and policies (whose key tables are limits/policy.c's), each a key table over
 * the configuration engine (config/). */
#include "gateway/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/prompt_load.h"
#include "core/log.h"
#include "gateway/auth.h"
#include "http/tls.h"
#include "limits/counter_redis.h"
#include "limits/policy.h"
#include "store/store.h"

#define MAX_WEIGHT_SUM 65536u /* bounds the weighted schedule */

/* ---- listen ---- */

static int listen_address_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    pt_listener_cfg *l = obj;
    pt_cfg_addr a = { l->host, l->port, l->text };
    int rc = pt_cfg_listen_address(c, v, s, &a);
    l->host = a.host;
    l->port = a.port;
    l->text = a.text;
    free(s);
    return rc;
}

static int subject_header_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_header_name(c, v, false, &((pt_listener_cfg *)obj)->subject_header);
}

static int min_version_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    static const char *const versions[] = { "1.2", "1.3" };
    int i = 0;
    if (pt_cfg_choice(c, v, "min_version", versions, 2, &i)) return -1;
    ((pt_listener_cfg *)obj)->tls13_only = i == 1;
    return 0;
}

static int client_cert_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    static const char *const modes[] = { "required", "optional" };
    int i = 0;
    if (pt_cfg_choice(c, v, "client_cert", modes, 2, &i)) return -1;
    ((pt_listener_cfg *)obj)->client_cert_optional = i == 1;
    return 0;
}

enum { T_CERT, T_KEY, T_MIN_VERSION, T_CIPHERS, T_SUITES, T_CLIENT_CA, T_CLIENT_CERT, T_SUBJECT, T_OCSP };

static const pt_cfg_field listen_tls_fields[] = {
    [T_CERT] = CFG_FILE("cert", pt_listener_cfg, cert_file),
    [T_KEY] = CFG_FILE("key", pt_listener_cfg, key_file),
    [T_MIN_VERSION] = CFG_FUNC("min_version", min_version_fn),
    [T_CIPHERS] = CFG_STR("ciphers", pt_listener_cfg, ciphers),
    [T_SUITES] = CFG_STR("ciphersuites", pt_listener_cfg, ciphersuites),
    [T_CLIENT_CA] = CFG_FILE("client_ca", pt_listener_cfg, client_ca),
    [T_CLIENT_CERT] = CFG_FUNC("client_cert", client_cert_fn),
    [T_SUBJECT] = CFG_FUNC("subject_header", subject_header_fn),
    [T_OCSP] = CFG_FILE("ocsp_response", pt_listener_cfg, ocsp_response),
    CFG_END,
};

static int cipher_list(pt_cfg *c, const pt_cfg_node *v, const char *key, const char *list, bool tls13)
{
    pt_buf why = PT_BUF_INIT;
    int rc = 0;
    if (list && !pt_tls_ciphers_ok(list, tls13, &why))
        rc = pt_cfg_fail_key(c, key, pt_cfg_map_get(v, key), "OpenSSL takes none of '%s' (%s)", list,
                             why.data ? why.data : "");
    pt_buf_release(&why);
    return rc;
}

static int listen_tls_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_listener_cfg *l = obj;
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected a mapping with cert and key, got %s", pt_cfg_kind_name(v));
    uint64_t seen;
    if (pt_cfg_map_fields(c, v, listen_tls_fields, l, &seen)) return -1;
    if (!l->cert_file) return pt_cfg_fail(c, v, "missing required key 'cert'");
    if (!l->key_file) return pt_cfg_fail(c, v, "missing required key 'key'");
    int rc = cipher_list(c, v, "ciphers", l->ciphers, false);
    rc |= cipher_list(c, v, "ciphersuites", l->ciphersuites, true);
    if (rc) return -1;
    const char *needs_ca = seen & (1u << T_CLIENT_CERT) ? "client_cert" : l->subject_header ? "subject_header" : NULL;
    if (needs_ca && !l->client_ca)
        return pt_cfg_fail_key(c, needs_ca, pt_cfg_map_get(v, needs_ca),
                               "only applies with client_ca (the CA client certificates are verified against)");
    l->tls = true;
    return 0;
}

static int http2_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    bool on = true;
    if (pt_cfg_bool(c, v, &on)) return -1;
    ((pt_listener_cfg *)obj)->no_http2 = !on;
    return 0;
}

static const pt_cfg_field listen_fields[] = {
    CFG_FUNC("address", listen_address_fn),
    CFG_FUNC("tls", listen_tls_fn),
    CFG_FUNC("http2", http2_fn),
    CFG_END,
};

static int listen_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_config *cfg = obj;
    if (PT_CFG_ALLOC(c, v, cfg->listeners, cfg->nlisteners, count)) return -1;
    return 0;
}

static int listen_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_config *cfg = obj;
    pt_listener_cfg *l = &cfg->listeners[i];
    if (pt_cfg_map_entry(c, it, listen_fields, l, listen_address_fn, "address",
                  "an address or a mapping with address and tls"))
        return -1;
    for (size_t j = 0; j < i; j++)
        if (l->host && cfg->listeners[j].host && cfg->listeners[j].port == l->port &&
            strcmp(cfg->listeners[j].host, l->host) == 0)
            return pt_cfg_fail(c, it, "same address as listen[%zu]", j);
    return 0;
}

static const pt_cfg_list listen_list = { "a list of addresses", 64u,
                                       "at least one listen address is required", listen_begin, listen_entry };

int pt__config_listen(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &listen_list, obj); }

/* ---- limits, logs, endpoints ---- */

static const pt_cfg_field limits_fields[] = {
    CFG_SIZE("max_header_bytes", pt_limits, max_header_bytes, 1024, 1u << 20),
    CFG_UINT("max_headers", pt_limits, max_headers, 1, 10000),
    CFG_SIZE("max_body_bytes", pt_limits, max_body_bytes, 0, 1ull << 40),
    CFG_DUR("header_timeout", pt_limits, header_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("body_timeout", pt_limits, body_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("idle_timeout", pt_limits, idle_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("send_timeout", pt_limits, send_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("drain_timeout", pt_limits, drain_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_UINT("max_connections", pt_limits, max_connections, 1, 1000000),
    CFG_UINT("http2_max_streams", pt_limits, http2_max_streams, 1, 10000),
    CFG_SIZE("ai_cache_size", pt_limits, ai_cache_bytes, 0, 1ull << 40),
    CFG_END,
};

int pt__config_limits(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_fields(c, v, limits_fields, &((pt_config *)obj)->limits, NULL);
}

int pt__config_access_log(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_config *cfg = obj;
    char *s = NULL;
    if (v->kind == PT_CFG_SCALAR && !v->quoted && (strcmp(v->text, "false") == 0 || strcmp(v->text, "off") == 0)) {
        free(cfg->access_log);
        cfg->access_log = NULL;
        return 0;
    }
    if (pt_cfg_str(c, v, &s)) return -1;
    if (!*s) {
        free(s);
        return pt_cfg_fail(c, v, "expected \"-\" (standard output), a file name, or off");
    }
    free(cfg->access_log);
    cfg->access_log = strcmp(s, "off") == 0 ? NULL : s;
    if (!cfg->access_log) free(s);
    return 0;
}

int pt__config_log_level(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_config *cfg = obj;
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    if (pt_log_level_parse(s) < 0) {
        free(s);
        return pt_cfg_fail(c, v, "unknown log level '%s' (expected debug, info, warn, error, off)", PT_CFG_SHOW(v));
    }
    free(cfg->error_log_level);
    cfg->error_log_level = s;
    return 0;
}

static const pt_cfg_field endpoint_fields[] = {
    CFG_PATH("health", pt_config, health_path),
    CFG_PATH("ready", pt_config, ready_path),
    CFG_PATH("metrics", pt_config, metrics_path),
    CFG_UINT("metrics_consumers", pt_config, metrics_consumers, 1, PT_AUTH_CONSUMER_SERIES_MAX),
    CFG_END,
};

int pt__config_endpoints(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_config *cfg = obj;
    if (pt_cfg_map_fields(c, v, endpoint_fields, cfg, NULL)) return -1;
    const char *names[3] = { "health", "ready", "metrics" };
    const char *paths[3] = { cfg->health_path, cfg->ready_path, cfg->metrics_path };
    for (int i = 1; i < 3; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(paths[i], paths[j]) == 0) {
                size_t mark = pt_cfg_push_key(c, names[i]);
                const pt_cfg_node *at = pt_cfg_map_get(v, names[i]);
                int rc = pt_cfg_fail(c, at ? at : v, "same path as endpoints.%s", names[j]);
                pt_cfg_pop(c, mark);
                return rc;
            }
    return 0;
}

static const pt_cfg_field errors_fields[] = {
    CFG_BOOL("expose_upstream_address", pt_config, expose_upstream_address),
    CFG_END,
};

int pt__config_errors(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_fields(c, v, errors_fields, obj, NULL);
}

static int identity_fn(pt_cfg *c, const pt_cfg_node *v, char **out) { return pt_cfg_header_name(c, v, false, out); }
static int identity_consumer_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return identity_fn(c, v, &((pt_config *)obj)->identity_consumer);
}
static int identity_team_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return identity_fn(c, v, &((pt_config *)obj)->identity_team);
}
static int identity_prefix_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return identity_fn(c, v, &((pt_config *)obj)->identity_key_prefix);
}

static const pt_cfg_field identity_fields[] = {
    CFG_FUNC("consumer", identity_consumer_fn),
    CFG_FUNC("team", identity_team_fn),
    CFG_FUNC("key_prefix", identity_prefix_fn),
    CFG_END,
};

int pt__config_identity_headers(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_fields(c, v, identity_fields, obj, NULL);
}

/* ---- admin ---- */

static int admin_listen_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_config *cfg = obj;
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    if (!*s) {
        free(s);
        cfg->admin_enabled = false;
        return 0;
    }
    pt_cfg_addr a = { cfg->admin.host, cfg->admin.port, cfg->admin.text };
    int rc = pt_cfg_listen_address(c, v, s, &a);
    cfg->admin.host = a.host;
    cfg->admin.port = a.port;
    cfg->admin.text = a.text;
    free(s);
    return rc;
}

static int trusted_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_config *cfg = obj;
    return PT_CFG_ALLOC(c, v, cfg->admin_trusted, cfg->nadmin_trusted, count);
}

static int trusted_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_config *cfg = obj;
    char *s = NULL, why[160];
    int rc = pt_cfg_str(c, it, &s);
    if (rc == 0 && pt_netmask_parse(s, &cfg->admin_trusted[i], why, sizeof why) != 0) rc = pt_cfg_fail(c, it, "%s", why);
    free(s);
    return rc;
}

static const pt_cfg_list trusted_list = { "an address, a block (10.0.0.0/8) or a list of them", 256, NULL, trusted_begin,
                                          trusted_entry };

static int admin_trusted_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &trusted_list, obj); }

static const pt_cfg_field admin_fields[] = {
    CFG_FUNC("listen", admin_listen_fn),
    CFG_BOOL("enabled", pt_config, admin_enabled),
    CFG_DUR("session_idle", pt_config, admin_session_idle_ms, 1000, 30 * PT_CFG_DAY_MS),
    CFG_DUR("session_max", pt_config, admin_session_max_ms, 1000, 365 * PT_CFG_DAY_MS),
    CFG_FUNC("trusted_proxies", admin_trusted_fn),
    CFG_END,
};

int pt__config_admin(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_fields(c, v, admin_fields, obj, NULL);
}

int pt__config_admin_default(pt_cfg *c, const pt_cfg_node *root, pt_config *cfg)
{
    if (!cfg->admin_enabled || cfg->admin.host) return 0;
    pt_cfg_addr a = { 0 };
    int rc = pt_cfg_listen_address(c, root, "127.0.0.1:9080", &a);
    cfg->admin.host = a.host;
    cfg->admin.port = a.port;
    cfg->admin.text = a.text;
    return rc;
}

/* ---- call_log ---- */

static const pt_cfg_field call_log_fields[] = {
    CFG_BOOL("enabled", pt_call_log_cfg, enabled),
    CFG_DUR("retention", pt_call_log_cfg, retention_ms, 60000, 3650 * PT_CFG_DAY_MS),
    CFG_SIZE("max_size", pt_call_log_cfg, max_bytes, 1u << 20, 1ull << 40),
    CFG_DUR("minute_rollups", pt_call_log_cfg, rollup_minute_ms, 3600000, 3650 * PT_CFG_DAY_MS),
    CFG_DUR("hour_rollups", pt_call_log_cfg, rollup_hour_ms, PT_CFG_DAY_MS, 3650 * PT_CFG_DAY_MS),
    CFG_DUR("day_rollups", pt_call_log_cfg, rollup_day_ms, 7 * PT_CFG_DAY_MS, 3650 * PT_CFG_DAY_MS),
    CFG_END,
};

/* Off by default (a record per call costs about as much CPU as proxying it, today); writing
 * the section turns it on, `enabled: false` keeps it off. */
int pt__config_call_log(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    ((pt_config *)obj)->call_log.enabled = true;
    return pt_cfg_map_fields(c, v, call_log_fields, &((pt_config *)obj)->call_log, NULL);
}

/* ---- responses ---- */

static const pt_cfg_field responses_fields[] = {
    CFG_BOOL("enabled", pt_responses_cfg, enabled),
    CFG_BOOL("default_store", pt_responses_cfg, default_store),
    CFG_DUR("retention", pt_responses_cfg, retention_ms, 1000, 3650 * PT_CFG_DAY_MS),
    CFG_SIZE("max_size", pt_responses_cfg, max_bytes, 1024, 1u << 30),
    CFG_DUR("prune_every", pt_responses_cfg, prune_every_ms, 100, PT_CFG_DAY_MS),
    CFG_END,
};

/* Off by default: keeping what users and models said is the operator's decision (a
 * retention period, a disk, a data-protection policy). Writing the section turns it on;
 * then a request's "store" decides, OpenAI's default (true) when it says nothing. */
int pt__config_responses(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    ((pt_config *)obj)->responses.enabled = true;
    return pt_cfg_map_fields(c, v, responses_fields, &((pt_config *)obj)->responses, NULL);
}

/* ---- counters ---- */

static const pt_cfg_field counters_fields[] = {
    CFG_STR("redis", pt_config, counters_redis),
    CFG_DUR("timeout", pt_config, counters_timeout_ms, 1, 60000),
    CFG_STR("prefix", pt_config, counters_prefix),
    CFG_DUR("slot_ttl", pt_config, counters_slot_ttl_ms, 1000, 7 * PT_CFG_DAY_MS),
    CFG_END,
};

/* The URL is checked here, so a typo fails at load with the file's line; whether Redis
 * answers is found out at start (limits_gate.c). */
int pt__config_counters(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_config *cfg = obj;
    if (pt_cfg_map_fields(c, v, counters_fields, cfg, NULL) != 0) return -1;
    if (!cfg->counters_redis)
        return pt_cfg_fail(c, v, "expected redis: \"redis://host:port/db\" (the only shared counter backend)");
    pt_redis_url u;
    char err[256];
    if (pt_redis_url_parse(cfg->counters_redis, &u, err, sizeof err) != 0) return pt_cfg_fail(c, v, "redis: %s", err);
    if (cfg->counters_prefix && strlen(cfg->counters_prefix) > 128)
        return pt_cfg_fail(c, v, "prefix: expected at most 128 bytes");
    return 0;
}

/* ---- store ---- */

static int store_postgres_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_store_cfg *s = obj;
    if (pt_cfg_str(c, v, &s->postgres)) return -1;
    char why[160];
    /* the message quotes the URL without its password */
    if (pt_store_pg_url_check(s->postgres, why, sizeof why) != 0) return pt_cfg_fail(c, v, "%s", why);
    return 0;
}

static const pt_cfg_field store_fields[] = {
    CFG_FUNC("postgres", store_postgres_fn),
    CFG_DUR("version_check", pt_store_cfg, version_check_ms, 100, 3600000),
    CFG_STR("node_id", pt_store_cfg, node_id),
    CFG_END,
};

int pt__config_store(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_fields(c, v, store_fields, &((pt_config *)obj)->store, NULL);
}

/* ---- services ---- */

static int service_name_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_service *s = obj;
    if (pt_cfg_str(c, v, &s->name)) return -1;
    return pt_cfg_name(c, v, s->name);
}

static int target_url_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_target *t = obj;
    if (pt_cfg_str(c, v, &t->url)) return -1;
    pt_cfg_url_parts u = { .host = t->host };
    int rc = pt_cfg_url(c, v, t->url, "target", false, &u);
    t->host = u.host;
    t->tls = u.tls;
    t->port = u.port;
    free(u.path);
    return rc;
}

static const pt_cfg_field target_fields[] = {
    CFG_FUNC("url", target_url_fn),
    CFG_UINT("weight", pt_target, weight, 1, 1000u),
    CFG_END,
};

static int targets_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_service *s = obj;
    if (PT_CFG_ALLOC(c, v, s->targets, s->ntargets, count)) return -1;
    for (size_t i = 0; i < count; i++) s->targets[i].weight = 1;
    return 0;
}

static int target_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_service *s = obj;
    pt_target *t = &s->targets[i];
    if (pt_cfg_map_entry(c, it, target_fields, t, target_url_fn, "url", "a URL or a mapping with url and weight"))
        return -1;
    for (size_t j = 0; j < i; j++)
        if (t->url && s->targets[j].url && strcmp(s->targets[j].url, t->url) == 0)
            return pt_cfg_fail(c, it, "same target as targets[%zu]", j);
    return 0;
}

static const pt_cfg_list targets_list = { "a list of target URLs", 1024u, "at least one target is required",
                                        targets_begin, target_entry };

static int targets_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &targets_list, obj); }

static int lb_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_service *s = obj;
    char *name = NULL;
    if (pt_cfg_str(c, v, &name)) return -1;
    int rc = 0;
    if (strcmp(name, "round_robin") == 0) s->lb = PT_LB_ROUND_ROBIN;
    else if (strcmp(name, "weighted") == 0) s->lb = PT_LB_WEIGHTED;
    else if (strcmp(name, "least_conn") == 0) s->lb = PT_LB_LEAST_CONN;
    else rc = pt_cfg_fail(c, v, "unknown balancer '%s' (expected round_robin, weighted, least_conn)", PT_CFG_SHOW(v));
    free(name);
    return rc;
}

static const pt_cfg_field timeout_fields[] = {
    CFG_DUR("connect", pt_service, connect_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("first_byte", pt_service, first_byte_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("idle", pt_service, idle_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("tunnel_idle", pt_service, tunnel_idle_ms, 1, PT_CFG_DAY_MS),
    CFG_END,
};

static const pt_cfg_field pool_fields[] = {
    CFG_UINT("max_idle", pt_service, pool_max_idle, 0, 100000),
    CFG_DUR("idle_timeout", pt_service, pool_idle_ms, 1, PT_CFG_DAY_MS),
    CFG_END,
};

static int sni_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_service *s = obj;
    if (pt_cfg_str(c, v, &s->sni)) return -1;
    if (!pt_cfg_hostname_ok(s->sni, strlen(s->sni)))
        return pt_cfg_fail(c, v, "'%s' is not a valid host name", PT_CFG_SHOW(v));
    return 0;
}

static const pt_cfg_field service_tls_fields[] = {
    CFG_FILE("ca_file", pt_service, ca_file),
    CFG_BOOL("insecure_skip_verify", pt_service, insecure_skip_verify),
    CFG_FUNC("sni", sni_fn),
    CFG_END,
};

static int expect_status_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_service *s = obj;
    char *str = NULL;
    if (pt_cfg_str(c, v, &str)) return -1;
    unsigned long long lo = 0, hi = 0;
    const char *dash = strchr(str, '-');
    bool ok;
    if (dash) {
        ok = pt_slice_to_u64(pt_slice_from(str, (size_t)(dash - str)), &lo) &&
             pt_slice_to_u64(pt_slice_cstr(dash + 1), &hi);
    } else {
        ok = pt_slice_to_u64(pt_slice_cstr(str), &lo);
        hi = lo;
    }
    free(str);
    if (!ok || lo < 100 || hi > 599 || lo > hi)
        return pt_cfg_fail(c, v, "expected a status like 200 or a range like 200-399 (100..599), got '%s'",
                           PT_CFG_SHOW(v));
    s->health.expect_min = (int)lo;
    s->health.expect_max = (int)hi;
    return 0;
}

static const pt_cfg_field health_fields[] = {
    CFG_BOOL("enabled", pt_service, health.enabled),
    CFG_PATH("path", pt_service, health.path),
    CFG_DUR("interval", pt_service, health.interval_ms, 100, PT_CFG_DAY_MS),
    CFG_DUR("timeout", pt_service, health.timeout_ms, 1, 3600000),
    CFG_UINT("healthy_threshold", pt_service, health.healthy_threshold, 1, 100),
    CFG_UINT("unhealthy_threshold", pt_service, health.unhealthy_threshold, 1, 100),
    CFG_FUNC("expect_status", expect_status_fn),
    CFG_END,
};

static int health_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_service *s = obj;
    s->health.enabled = true; /* writing the section turns probes on; `enabled: false` turns them off */
    if (pt_cfg_map_fields(c, v, health_fields, s, NULL)) return -1;
    if (s->health.timeout_ms > s->health.interval_ms) {
        const pt_cfg_node *at = pt_cfg_map_get(v, "timeout");
        size_t mark = pt_cfg_push_key(c, "timeout");
        pt_cfg_fail(c, at ? at : v, "must not be longer than interval");
        pt_cfg_pop(c, mark);
        return -1;
    }
    return 0;
}

static const pt_cfg_field passive_fields[] = {
    CFG_UINT("max_fails", pt_service, passive.max_fails, 0, 1000),
    CFG_DUR("eject_for", pt_service, passive.eject_ms, 1, PT_CFG_DAY_MS),
    CFG_END,
};

#define SECTION_FN(fn, fields)                                                                       \
    static int fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_fields(c, v, fields, obj, NULL); }
SECTION_FN(timeouts_fn, timeout_fields)
SECTION_FN(pool_fn, pool_fields)
SECTION_FN(service_tls_fn, service_tls_fields)
SECTION_FN(passive_fn, passive_fields)

static int protocol_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    static const char *const names[] = { "http1", "h2", "h2c" };
    pt_service *s = obj;
    for (size_t i = 0; i < 3; i++)
        if (v->kind == PT_CFG_SCALAR && strcmp(v->text, names[i]) == 0) {
            s->protocol = (pt_upstream_proto)i;
            return 0;
        }
    return pt_cfg_unknown_name(c, v, "protocol", names, 3);
}

/* `kind: proxy` (the default) here; `kind: prompt` services take other keys (service_entry). */
static int service_kind_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    static const char *const kinds[] = { "proxy", "prompt" };
    if (v->kind == PT_CFG_SCALAR && strcmp(v->text, "proxy") == 0) return 0;
    return pt_cfg_unknown_name(c, v, "kind", kinds, 2);
}

static const pt_cfg_field service_fields[] = {
    CFG_FUNC("name", service_name_fn),
    CFG_FUNC("kind", service_kind_fn),
    CFG_FUNC("targets", targets_fn),
    CFG_FUNC("lb", lb_fn),
    CFG_FUNC("timeouts", timeouts_fn),
    CFG_FUNC("pool", pool_fn),
    CFG_FUNC("protocol", protocol_fn),
    CFG_UINT("retries", pt_service, retries, 0, 10),
    CFG_FUNC("retry_on", pt__config_retry_on),
    CFG_FUNC("retry_budget", pt__config_retry_budget),
    CFG_FUNC("tls", service_tls_fn),
    CFG_FUNC("health_check", health_fn),
    CFG_FUNC("passive_health", passive_fn),
    CFG_END,
};

static void service_defaults(pt_service *s)
{
    s->lb = PT_LB_ROUND_ROBIN;
    s->connect_timeout_ms = 3000;
    s->first_byte_timeout_ms = 60000;
    s->idle_timeout_ms = 60000;
    s->pool_idle_ms = 60000;
    s->tunnel_idle_ms = 300000;
    s->pool_max_idle = 64;
    s->retries = 1;
    s->retry.budget_percent = 20;
    s->retry.budget_min_per_s = 3;
    s->health.interval_ms = 5000;
    s->health.timeout_ms = 2000;
    s->health.healthy_threshold = 2;
    s->health.unhealthy_threshold = 2;
    s->health.expect_min = 200;
    s->health.expect_max = 399;
    s->passive.max_fails = 3;
    s->passive.eject_ms = 10000;
    atomic_init(&s->rr_cursor, 0);
}

/* Checks that need the whole service (run when its own keys mapped cleanly). */
static int finish_service(pt_cfg *c, const pt_cfg_node *n, size_t idx)
{
    pt_config *cfg = c->root;
    pt_service *s = &cfg->services[idx];
    if (!s->name) return pt_cfg_fail(c, n, "missing required key 'name'");
    if (!s->targets && !s->prompt) return pt_cfg_fail(c, n, "missing required key 'targets'");
    for (size_t j = 0; j < idx; j++)
        if (cfg->services[j].name && strcmp(cfg->services[j].name, s->name) == 0) {
            size_t mark = pt_cfg_push_key(c, "name");
            const pt_cfg_node *at = pt_cfg_map_get(n, "name");
            pt_cfg_fail(c, at, "duplicate service name '%s' (also services[%zu])", PT_CFG_SHOW(at), j);
            pt_cfg_pop(c, mark);
            return -1;
        }
    uint64_t sum = 0;
    for (size_t i = 0; i < s->ntargets; i++) sum += s->targets[i].weight;
    if (s->lb == PT_LB_WEIGHTED && sum > MAX_WEIGHT_SUM) {
        size_t mark = pt_cfg_push_key(c, "targets");
        pt_cfg_fail(c, pt_cfg_map_get(n, "targets"), "weights add up to %llu, more than %u", (unsigned long long)sum,
             MAX_WEIGHT_SUM);
        pt_cfg_pop(c, mark);
        return -1;
    }
    for (size_t i = 0; i < s->ntargets && s->protocol == PT_PROTO_H2C; i++)
        if (s->targets[i].tls) {
            size_t mark = pt_cfg_push_key(c, "protocol");
            pt_cfg_fail(c, pt_cfg_map_get(n, "protocol"),
                        "h2c is HTTP/2 without TLS, but target '%s' is https (use protocol: h2, which picks h2 by ALPN)",
                        s->targets[i].url);
            pt_cfg_pop(c, mark);
            return -1;
        }
    if (s->health.enabled && !s->health.path && !(s->health.path = strdup("/healthz"))) return pt_cfg_oom(c, n);
    for (size_t i = 0; i < s->ntargets; i++) s->targets[i].health_checked = s->health.enabled;
    return 0;
}

static int services_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_config *cfg = obj;
    if (PT_CFG_ALLOC(c, v, cfg->services, cfg->nservices, count)) return -1;
    for (size_t i = 0; i < count; i++) service_defaults(&cfg->services[i]);
    return 0;
}

static int service_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_config *cfg = obj;
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping with name and targets, got %s", pt_cfg_kind_name(it));
    const pt_cfg_node *kind = pt_cfg_map_get(it, "kind");
    if (kind && kind->kind == PT_CFG_SCALAR && strcmp(kind->text, "prompt") == 0) {
        pt_service *s = &cfg->services[i];
        const pt_cfg_node *name = pt_cfg_map_get(it, "name");
        if (name) {
            size_t mark = pt_cfg_push_key(c, "name");
            int rc = service_name_fn(c, name, s);
            pt_cfg_pop(c, mark);
            if (rc) return -1;
        }
        if (!(s->prompt = pt_prompt_map(c, it, cfg->ai))) return -1;
    } else if (pt_cfg_map_fields(c, it, service_fields, &cfg->services[i], NULL)) {
        return -1;
    }
    return finish_service(c, it, i);
}

static const pt_cfg_list services_list = { "a list of services", 4096u, NULL, services_begin, service_entry };

int pt__config_services(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_list(c, v, &services_list, obj);
}

/* ---- policies ---- */

static bool policy_ref_exists(pt_cfg *c, pt_policy_scope s, const char *name)
{
    pt_config *cfg = c->root;
    if (s == PT_POLICY_SERVICE) return pt_config_find_service(cfg, name) != NULL;
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].name && strcmp(cfg->routes[i].name, name) == 0) return true;
    return false;
}

int pt__config_policies(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_config *cfg = obj;
    bool failed;
    cfg->policies = pt_policies_map(c, v, policy_ref_exists, &failed);
    return failed ? -1 : 0;
}
