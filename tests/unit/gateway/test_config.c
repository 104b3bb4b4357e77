/* Unit tests for gateway/config.c: defaults, every key of the schema, units, environment
 * expansion, the exact "FILE:LINE: KEY.PATH: message" of each error, snapshots and
 * their reference counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <llhttp.h>

#include "ai/ai_config.h"
#include "core/buf.h"
#include "core/log.h"
#include "gateway/balancer.h"
#include "gateway/config.h"

/* ---- helpers ----------------------------------------------------------------------- */

static pt_config *load(const char *yaml, pt_buf *err)
{
    return pt_config_load_string("t.yaml", yaml, strlen(yaml), err);
}

static pt_config *load_ok(const char *yaml)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(yaml, &err);
    if (!cfg) fail_msg("unexpected error: %s", err.data ? err.data : "(none)");
    pt_buf_release(&err);
    return cfg;
}

/* Loads yaml and requires exactly this error message. */
static void expect_error(const char *yaml, const char *message)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(yaml, &err);
    if (cfg) {
        pt_config_release(cfg);
        fail_msg("loaded, but expected: %s", message);
    }
    assert_non_null(err.data);
    assert_string_equal(err.data, message);
    pt_buf_release(&err);
}

#define SVC "services:\n  - name: api\n    targets: [\"http://127.0.0.1:9001\"]\n"

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pt-config-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_tmpdir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    pt_target_registry_free();
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- defaults ------------------------------------------------------------------------ */

static void defaults_come_from_the_embedded_yaml(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_defaults(&err);
    assert_non_null(cfg);
    assert_string_equal(cfg->source, "<defaults>");
    assert_int_equal(cfg->nlisteners, 1);
    assert_string_equal(cfg->listeners[0].host, "127.0.0.1");
    assert_int_equal(cfg->listeners[0].port, 8080);
    assert_false(cfg->listeners[0].tls);
    assert_string_equal(cfg->listeners[0].text, "127.0.0.1:8080");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(cfg->workers, cores < 1 ? 1 : cores > 256 ? 256 : cores);
    assert_string_equal(cfg->health_path, "/healthz");
    assert_string_equal(cfg->ready_path, "/readyz");
    assert_string_equal(cfg->metrics_path, "/metrics");
    assert_string_equal(cfg->access_log, "-");
    assert_string_equal(cfg->error_log_level, "info");
    assert_int_equal(cfg->nservices, 0);
    assert_int_equal(cfg->nroutes, 0);
    assert_int_equal(atomic_load(&cfg->refs), 1);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void empty_file_means_all_defaults(void **state)
{
    pt_config *cfg = load_ok("");
    assert_int_equal(cfg->nlisteners, 1);
    assert_int_equal(cfg->listeners[0].port, 8080);
    assert_int_equal(cfg->limits.max_header_bytes, 32768);
    assert_int_equal(cfg->limits.max_headers, 100);
    assert_int_equal(cfg->limits.max_body_bytes, 10u << 20);
    assert_int_equal(cfg->limits.header_timeout_ms, 10000);
    assert_int_equal(cfg->limits.body_timeout_ms, 30000);
    assert_int_equal(cfg->limits.idle_timeout_ms, 60000);
    assert_int_equal(cfg->limits.send_timeout_ms, 60000);
    assert_int_equal(cfg->limits.drain_timeout_ms, 30000);
    assert_int_equal(cfg->limits.max_connections, 16384);
    assert_int_equal(cfg->limits.http2_max_streams, 100);
    assert_false(cfg->listeners[0].no_http2);
    pt_config_release(cfg);
    cfg = load_ok("# only a comment\n");
    assert_int_equal(cfg->nlisteners, 1);
    pt_config_release(cfg);
}

static void service_defaults_match_config_h(void **state)
{
    pt_config *cfg = load_ok(SVC);
    pt_service *s = &cfg->services[0];
    assert_int_equal(s->lb, PT_LB_ROUND_ROBIN);
    assert_int_equal(s->connect_timeout_ms, 3000);
    assert_int_equal(s->first_byte_timeout_ms, 60000);
    assert_int_equal(s->idle_timeout_ms, 60000);
    assert_int_equal(s->pool_idle_ms, 60000);
    assert_int_equal(s->tunnel_idle_ms, 300000);
    assert_int_equal(s->pool_max_idle, 64);
    assert_int_equal(s->retries, 1);
    assert_false(s->health.enabled);
    assert_null(s->ca_file);
    assert_null(s->sni);
    assert_false(s->insecure_skip_verify);
    assert_int_equal(s->passive.max_fails, 3);
    assert_int_equal(s->passive.eject_ms, 10000);
    assert_int_equal(s->targets[0].weight, 1);
    assert_false(s->targets[0].health_checked);
    assert_null(s->targets[0].state); /* loading touches no registry: bind does */
    assert_int_equal(pt_config_bind(cfg), 0);
    assert_non_null(s->targets[0].state);
    assert_string_equal(s->targets[0].state->key, "api|http://127.0.0.1:9001");
    assert_ptr_equal(pt_config_find_service(cfg, "api"), s);
    assert_null(pt_config_find_service(cfg, "nope"));
    pt_config_release(cfg);
}

static void routes_tunnel_upgrades_unless_told_not_to(void **state)
{
    pt_config *cfg = load_ok(SVC "    timeouts: { tunnel_idle: 90s }\n"
                                 "routes:\n"
                                 "  - { name: a, match: { path_prefix: /a }, service: api }\n"
                                 "  - { name: b, match: { path_prefix: /b }, service: api, upgrade: false }\n"
                                 "  - { name: c, match: { path_prefix: /c }, service: api, upgrade: true }\n");
    assert_int_equal(cfg->services[0].tunnel_idle_ms, 90000);
    for (size_t i = 0; i < cfg->nroutes; i++)
        assert_int_equal(cfg->routes[i].upgrade, strcmp(cfg->routes[i].name, "b") != 0);
    pt_config_release(cfg);
}

/* ---- the whole schema ---------------------------------------------------------------- */

static const char full_yaml[] =
    "listen:\n"
    "  - \"0.0.0.0:8080\"\n"
    "  - \"[::1]:8081\"\n"
    "  - { address: localhost:8082, http2: false }\n"
    "workers: 3\n"
    "limits:\n"
    "  max_header_bytes: 64KiB\n"
    "  max_headers: 50\n"
    "  max_body_bytes: 10MB\n"
    "  header_timeout: 5s\n"
    "  body_timeout: 1.5s\n"
    "  idle_timeout: 2m\n"
    "  send_timeout: 250\n"
    "  drain_timeout: 1h\n"
    "  max_connections: 1000\n"
    "  http2_max_streams: 20\n"
    "access_log: /var/log/portico/access.log\n"
    "log_level: debug\n"
    "endpoints: { health: /live, ready: /ready, metrics: /stats }\n"
    "services:\n"
    "  - name: echo\n"
    "    targets:\n"
    "      - http://127.0.0.1:9001\n"
    "      - { url: \"https://Backend.example.com\", weight: 5 }\n"
    "      - url: http://[::1]:9003/\n"
    "        weight: 2\n"
    "    lb: weighted\n"
    "    timeouts: { connect: 1s, first_byte: 30s, idle: 45s }\n"
    "    pool: { max_idle: 8, idle_timeout: 20s }\n"
    "    retries: 2\n"
    "    tls: { insecure_skip_verify: false, sni: api.internal }\n"
    "    health_check:\n"
    "      path: /ping\n"
    "      interval: 2s\n"
    "      timeout: 500ms\n"
    "      healthy_threshold: 3\n"
    "      unhealthy_threshold: 4\n"
    "      expect_status: 200-299\n"
    "    passive_health: { max_fails: 5, eject_for: 30s }\n"
    "  - name: other\n"
    "    targets: http://10.0.0.1\n"
    "    lb: least_conn\n"
    "routes:\n"
    "  - name: api\n"
    "    match:\n"
    "      host: [API.example.com, \"*.example.org\"]\n"
    "      path_prefix: /api\n"
    "      methods: [get, POST, M-SEARCH]\n"
    "      headers: { X-Tenant: acme, X-Debug: true, X-Flag: \"true\" }\n"
    "    service: echo\n"
    "    strip_prefix: true\n"
    "    rewrite_prefix: /v2/\n"
    "    request_headers: { add: { X-From: portico }, remove: [Cookie, X-Secret] }\n"
    "    response_headers: { add: { X-Served-By: portico }, remove: Server }\n"
    "  - name: rest\n"
    "    match: { path: /exact }\n"
    "    service: other\n";

static void full_schema_maps_every_key(void **state)
{
    pt_config *cfg = load_ok(full_yaml);
    assert_int_equal(pt_config_bind(cfg), 0);
    assert_int_equal(cfg->nlisteners, 3);
    assert_string_equal(cfg->listeners[0].host, "0.0.0.0");
    assert_int_equal(cfg->listeners[0].port, 8080);
    assert_string_equal(cfg->listeners[1].host, "::1");
    assert_int_equal(cfg->listeners[1].port, 8081);
    assert_string_equal(cfg->listeners[1].text, "[::1]:8081");
    assert_string_equal(cfg->listeners[2].host, "127.0.0.1");
    assert_int_equal(cfg->listeners[2].port, 8082);
    assert_false(cfg->listeners[1].no_http2);
    assert_true(cfg->listeners[2].no_http2);
    assert_int_equal(cfg->workers, 3);

    assert_int_equal(cfg->limits.max_header_bytes, 65536);
    assert_int_equal(cfg->limits.max_headers, 50);
    assert_int_equal(cfg->limits.max_body_bytes, 10000000);
    assert_int_equal(cfg->limits.header_timeout_ms, 5000);
    assert_int_equal(cfg->limits.body_timeout_ms, 1500);
    assert_int_equal(cfg->limits.idle_timeout_ms, 120000);
    assert_int_equal(cfg->limits.send_timeout_ms, 250);
    assert_int_equal(cfg->limits.drain_timeout_ms, 3600000);
    assert_int_equal(cfg->limits.max_connections, 1000);
    assert_int_equal(cfg->limits.http2_max_streams, 20);
    assert_string_equal(cfg->access_log, "/var/log/portico/access.log");
    assert_string_equal(cfg->error_log_level, "debug");
    assert_string_equal(cfg->health_path, "/live");
    assert_string_equal(cfg->ready_path, "/ready");
    assert_string_equal(cfg->metrics_path, "/stats");

    assert_int_equal(cfg->nservices, 2);
    pt_service *s = &cfg->services[0];
    assert_string_equal(s->name, "echo");
    assert_int_equal(s->ntargets, 3);
    assert_string_equal(s->targets[0].host, "127.0.0.1");
    assert_int_equal(s->targets[0].port, 9001);
    assert_false(s->targets[0].tls);
    assert_int_equal(s->targets[0].weight, 1);
    assert_string_equal(s->targets[1].url, "https://Backend.example.com");
    assert_string_equal(s->targets[1].host, "backend.example.com");
    assert_int_equal(s->targets[1].port, 443);
    assert_true(s->targets[1].tls);
    assert_int_equal(s->targets[1].weight, 5);
    assert_string_equal(s->targets[2].host, "::1");
    assert_int_equal(s->targets[2].port, 9003);
    assert_int_equal(s->targets[2].weight, 2);
    assert_int_equal(s->lb, PT_LB_WEIGHTED);
    assert_int_equal(s->nwrr_slots, 8);
    assert_int_equal(s->connect_timeout_ms, 1000);
    assert_int_equal(s->first_byte_timeout_ms, 30000);
    assert_int_equal(s->idle_timeout_ms, 45000);
    assert_int_equal(s->pool_max_idle, 8);
    assert_int_equal(s->pool_idle_ms, 20000);
    assert_int_equal(s->retries, 2);
    assert_string_equal(s->sni, "api.internal");
    assert_true(s->health.enabled);
    assert_string_equal(s->health.path, "/ping");
    assert_int_equal(s->health.interval_ms, 2000);
    assert_int_equal(s->health.timeout_ms, 500);
    assert_int_equal(s->health.healthy_threshold, 3);
    assert_int_equal(s->health.unhealthy_threshold, 4);
    assert_int_equal(s->health.expect_min, 200);
    assert_int_equal(s->health.expect_max, 299);
    assert_true(s->targets[0].health_checked);
    assert_int_equal(s->passive.max_fails, 5);
    assert_int_equal(s->passive.eject_ms, 30000);
    pt_service *o = &cfg->services[1];
    assert_int_equal(o->ntargets, 1);
    assert_int_equal(o->targets[0].port, 80);
    assert_int_equal(o->lb, PT_LB_LEAST_CONN);

    assert_int_equal(cfg->nroutes, 2);
    /* sorted: the host route first */
    pt_route *r = &cfg->routes[0];
    assert_string_equal(r->name, "api");
    assert_int_equal(r->order, 0);
    assert_int_equal(r->kind, PT_ROUTE_PROXY);
    assert_int_equal(r->nhosts, 2);
    assert_string_equal(r->hosts[0], "api.example.com");
    assert_string_equal(r->hosts[1], "*.example.org");
    assert_string_equal(r->path_prefix, "/api");
    assert_null(r->path_exact);
    assert_int_equal(r->methods,
                     (1ull << HTTP_GET) | (1ull << HTTP_POST) | (1ull << HTTP_MSEARCH));
    assert_int_equal(r->nheaders, 3);
    assert_string_equal(r->headers[0].name, "X-Tenant");
    assert_string_equal(r->headers[0].value, "acme");
    assert_string_equal(r->headers[1].name, "X-Debug");
    assert_null(r->headers[1].value);
    assert_string_equal(r->headers[2].value, "true");
    assert_ptr_equal(r->service, &cfg->services[0]);
    assert_string_equal(r->service_name, "echo");
    assert_true(r->strip_prefix);
    assert_string_equal(r->rewrite_prefix, "/v2/");
    assert_int_equal(r->nreq_add, 1);
    assert_string_equal(r->req_add[0].name, "X-From");
    assert_string_equal(r->req_add[0].value, "portico");
    assert_int_equal(r->nreq_remove, 2);
    assert_string_equal(r->req_remove[1], "X-Secret");
    assert_int_equal(r->nresp_add, 1);
    assert_int_equal(r->nresp_remove, 1);
    assert_string_equal(r->resp_remove[0], "Server");
    assert_null(r->metrics); /* bound by pt_metrics_bind_config, for a published snapshot only */
    pt_route *x = &cfg->routes[1];
    assert_string_equal(x->name, "rest");
    assert_string_equal(x->path_exact, "/exact");
    assert_ptr_equal(x->service, &cfg->services[1]);
    pt_config_release(cfg);
}

static void access_log_off_and_null_sections(void **state)
{
    pt_config *cfg = load_ok("access_log: off\nservices:\nroutes:\nlimits:\n");
    assert_null(cfg->access_log);
    assert_int_equal(cfg->nservices, 0);
    assert_int_equal(cfg->nroutes, 0);
    pt_config_release(cfg);
    cfg = load_ok("access_log: \"-\"\n");
    assert_string_equal(cfg->access_log, "-");
    pt_config_release(cfg);
}

/* ---- units ----------------------------------------------------------------------------- */

static uint64_t idle_of(const char *value)
{
    char yaml[128];
    snprintf(yaml, sizeof yaml, "limits: { idle_timeout: \"%s\" }\n", value);
    pt_config *cfg = load_ok(yaml);
    uint64_t v = cfg->limits.idle_timeout_ms;
    pt_config_release(cfg);
    return v;
}

static uint64_t body_of(const char *value)
{
    char yaml[128];
    snprintf(yaml, sizeof yaml, "limits: { max_body_bytes: \"%s\" }\n", value);
    pt_config *cfg = load_ok(yaml);
    uint64_t v = cfg->limits.max_body_bytes;
    pt_config_release(cfg);
    return v;
}

static void durations_accept_units_and_plain_milliseconds(void **state)
{
    assert_int_equal(idle_of("500ms"), 500);
    assert_int_equal(idle_of("10s"), 10000);
    assert_int_equal(idle_of("2m"), 120000);
    assert_int_equal(idle_of("1h"), 3600000);
    assert_int_equal(idle_of("1d"), 86400000);
    assert_int_equal(idle_of("1.5s"), 1500);
    assert_int_equal(idle_of("0.25s"), 250);
    assert_int_equal(idle_of("10 s"), 10000);
    assert_int_equal(idle_of("750"), 750);
    assert_int_equal(idle_of("3S"), 3000);
}

static void sizes_accept_decimal_and_binary_units(void **state)
{
    assert_int_equal(body_of("0"), 0);
    assert_int_equal(body_of("4096"), 4096);
    assert_int_equal(body_of("100b"), 100);
    assert_int_equal(body_of("10MB"), 10000000);
    assert_int_equal(body_of("10MiB"), 10485760);
    assert_int_equal(body_of("512KiB"), 524288);
    assert_int_equal(body_of("2kb"), 2000);
    assert_int_equal(body_of("1GiB"), 1073741824);
    assert_int_equal(body_of("1.5KiB"), 1536);
}

static void bad_durations_and_sizes_are_errors(void **state)
{
    expect_error("limits:\n  idle_timeout: 10 parsecs\n",
                 "t.yaml:2: limits.idle_timeout: expected a duration like 500ms, 10s, 2m or 1h "
                 "(a plain number is milliseconds), got '10 parsecs'");
    expect_error("limits:\n  idle_timeout: 0\n", "t.yaml:2: limits.idle_timeout: must be between 1ms and 1d, got '0'");
    expect_error("limits:\n  idle_timeout: 25h\n", "t.yaml:2: limits.idle_timeout: must be between 1ms and 1d, got '25h'");
    expect_error("limits:\n  idle_timeout: -5s\n",
                 "t.yaml:2: limits.idle_timeout: expected a duration like 500ms, 10s, 2m or 1h "
                 "(a plain number is milliseconds), got '-5s'");
    expect_error("limits:\n  max_body_bytes: 10XB\n",
                 "t.yaml:2: limits.max_body_bytes: expected a size like 512KiB, 10MB or a number of bytes, got '10XB'");
    expect_error("limits:\n  max_header_bytes: 100\n",
                 "t.yaml:2: limits.max_header_bytes: must be between 1024 and 1048576 bytes, got '100'");
    expect_error("limits:\n  max_body_bytes: 99999999999999999999\n",
                 "t.yaml:2: limits.max_body_bytes: expected a size like 512KiB, 10MB or a number of bytes, "
                 "got '99999999999999999999'");
    expect_error("limits:\n  idle_timeout:\n", "t.yaml:2: limits.idle_timeout: missing value (expected a duration)");
}

/* ---- strictness ---------------------------------------------------------------------- */

static void call_log_defaults_and_bounds(void **state)
{
    pt_config *cfg = load_ok("");
    assert_false(cfg->call_log.enabled); /* off until the section is written */
    assert_int_equal(cfg->call_log.retention_ms, 7 * 24 * 3600 * 1000ull);
    assert_int_equal(cfg->call_log.max_bytes, 1ull << 30);
    assert_int_equal(cfg->call_log.rollup_minute_ms, 2 * 86400000ull);
    assert_int_equal(cfg->call_log.rollup_hour_ms, 90 * 86400000ull);
    assert_int_equal(cfg->call_log.rollup_day_ms, 730 * 86400000ull);
    pt_config_release(cfg);
    cfg = load_ok("call_log: { minute_rollups: 6h, hour_rollups: 7d, day_rollups: 365d }\n");
    assert_int_equal(cfg->call_log.rollup_minute_ms, 6 * 3600000ull);
    assert_int_equal(cfg->call_log.rollup_hour_ms, 7 * 86400000ull);
    assert_int_equal(cfg->call_log.rollup_day_ms, 365 * 86400000ull);
    pt_config_release(cfg);
    cfg = load_ok("call_log: { retention: 2d }\n");
    assert_true(cfg->call_log.enabled);
    pt_config_release(cfg);
    cfg = load_ok("call_log: {}\n");
    assert_true(cfg->call_log.enabled);
    pt_config_release(cfg);
    cfg = load_ok("call_log: { enabled: false, retention: 2h, max_size: 10MiB }\n");
    assert_false(cfg->call_log.enabled);
    assert_int_equal(cfg->call_log.retention_ms, 2 * 3600 * 1000);
    assert_int_equal(cfg->call_log.max_bytes, 10u << 20);
    pt_config_release(cfg);
    expect_error("call_log: { retention: 10s }\n", "t.yaml:1: call_log.retention: must be between 1m and 3650d, got '10s'");
    expect_error("call_log: { max_size: 1KiB }\n", "t.yaml:1: call_log.max_size: must be between 1048576 and 1099511627776 bytes, got '1KiB'");
    expect_error("call_log: { minute_rollups: 10m }\n",
                 "t.yaml:1: call_log.minute_rollups: must be between 1h and 3650d, got '10m'");
    expect_error("call_log: { retension: 1d }\n", "t.yaml:1: call_log.retension: unknown key (did you mean 'retention'?)");
}

static void unknown_keys_suggest_the_closest(void **state)
{
    expect_error("servics: []\n", "t.yaml:1: servics: unknown key (did you mean 'services'?)");
    expect_error("services:\n  - name: a\n    targetz: [\"http://127.0.0.1:1\"]\n",
                 "t.yaml:3: services[0].targetz: unknown key (did you mean 'targets'?)");
    expect_error(SVC "routes:\n  - name: r\n    service: api\n    match: { path_prefx: /a }\n",
                 "t.yaml:7: routes[0].match.path_prefx: unknown key (did you mean 'path_prefix'?)");
    expect_error(SVC "    helth_check: { path: /h }\n",
                 "t.yaml:4: services[0].helth_check: unknown key (did you mean 'health_check'?)");
}

static void counters_section(void **state)
{
    pt_config *cfg = load_ok("");
    assert_null(cfg->counters_redis); /* in process unless written */
    pt_config_release(cfg);
    cfg = load_ok("counters: { redis: \"redis://:pw@127.0.0.1:6380/2\", timeout: 20ms, prefix: \"a:\", slot_ttl: 2m }\n");
    assert_string_equal(cfg->counters_redis, "redis://:pw@127.0.0.1:6380/2");
    assert_int_equal(cfg->counters_timeout_ms, 20);
    assert_string_equal(cfg->counters_prefix, "a:");
    assert_int_equal(cfg->counters_slot_ttl_ms, 120000);
    pt_config_release(cfg);
    expect_error("counters: { timeout: 20ms }\n",
                 "t.yaml:1: counters: expected redis: \"redis://host:port/db\" (the only shared counter backend)");
    expect_error("counters: { redis: \"redis://:secretpw@h:0/1\" }\n",
                 "t.yaml:1: counters: redis: the Redis URL's port is not a number from 1 to 65535 (expected "
                 "redis://[[user]:password@]host[:port][/db])");
    expect_error("counters: { redis: \"redis://h\", timeout: 2m }\n",
                 "t.yaml:1: counters.timeout: must be between 1ms and 1m, got '2m'");
}

static void admin_trusted_proxies_are_address_blocks(void **state)
{
    pt_config *cfg = load_ok("");
    assert_int_equal(cfg->nadmin_trusted, 0); /* nobody's forwarding headers are believed */
    pt_config_release(cfg);
    cfg = load_ok("admin: { trusted_proxies: [\"10.0.0.0/8\", \"::1\"] }\n");
    assert_int_equal(cfg->nadmin_trusted, 2);
    assert_true(pt_netmask_any(cfg->admin_trusted, cfg->nadmin_trusted, "10.9.8.7"));
    assert_true(pt_netmask_any(cfg->admin_trusted, cfg->nadmin_trusted, "::1"));
    assert_false(pt_netmask_any(cfg->admin_trusted, cfg->nadmin_trusted, "127.0.0.1"));
    pt_config_release(cfg);
    cfg = load_ok("admin: { trusted_proxies: 127.0.0.1 }\n"); /* one is a list of one */
    assert_int_equal(cfg->nadmin_trusted, 1);
    pt_config_release(cfg);
    expect_error("admin: { trusted_proxies: [\"10.0.0.0/8\", \"proxy.internal\"] }\n",
                 "t.yaml:1: admin.trusted_proxies[1]: 'proxy.internal' is not an IP address or an ADDRESS/BITS block");
    expect_error("admin: { trusted_proxies: [\"10.0.0.0/40\"] }\n",
                 "t.yaml:1: admin.trusted_proxies[0]: '10.0.0.0/40': the prefix length must be 0 to 32");
}

static void unknown_key_without_a_close_match_lists_the_known_ones(void **state)
{
    expect_error("limits:\n  zzzzzzzz: 1\n",
                 "t.yaml:2: limits.zzzzzzzz: unknown key (expected one of: max_header_bytes, max_headers, "
                 "max_body_bytes, header_timeout, body_timeout, idle_timeout, send_timeout, drain_timeout, "
                 "max_connections, http2_max_streams, ai_cache_size)");
}

static void unknown_balancer_names_the_expected_ones(void **state)
{
    expect_error("services:\n"
                 "  - name: api\n"
                 "    targets: [\"http://127.0.0.1:9001\"]\n"
                 "    lb: roundrobin\n",
                 "t.yaml:4: services[0].lb: unknown balancer 'roundrobin' (expected round_robin, weighted, least_conn)");
}

static void wrong_types_are_errors(void **state)
{
    expect_error("workers: [1]\n", "t.yaml:1: workers: expected a single value, got a list");
    expect_error("workers: four\n", "t.yaml:1: workers: expected a whole number, got 'four'");
    expect_error("workers: 0\n", "t.yaml:1: workers: must be between 1 and 256, got '0'");
    expect_error("workers: 257\n", "t.yaml:1: workers: must be between 1 and 256, got '257'");
    expect_error("services: { name: a }\n", "t.yaml:1: services: expected a list of services, got a mapping");
    expect_error("services: [web]\n", "t.yaml:1: services[0]: expected a mapping with name and targets, got a single value");
    expect_error("limits: 5\n", "t.yaml:1: limits: expected a mapping, got a single value");
    expect_error(SVC "    tls: { insecure_skip_verify: yes }\n",
                 "t.yaml:4: services[0].tls.insecure_skip_verify: expected true or false, got 'yes'");
    expect_error("- a\n- b\n", "t.yaml:1: (top level): expected a mapping of settings (listen, services, routes, ...), got a list");
    expect_error("log_level: loud\n", "t.yaml:1: log_level: unknown log level 'loud' (expected debug, info, warn, error, off)");
    expect_error("access_log: \"\"\n", "t.yaml:1: access_log: expected \"-\" (standard output), a file name, or off");
}

static void missing_required_keys_are_named(void **state)
{
    expect_error("services:\n  - targets: [\"http://127.0.0.1:1\"]\n", "t.yaml:2: services[0]: missing required key 'name'");
    expect_error("services:\n  - name: a\n", "t.yaml:2: services[0]: missing required key 'targets'");
    expect_error(SVC "routes:\n  - name: r\n", "t.yaml:5: routes[0]: missing required key 'service' (or ai: {} for an AI route)");
    expect_error(SVC "routes:\n  - service: api\n", "t.yaml:5: routes[0]: missing required key 'name'");
    expect_error("services:\n  - name: a\n    targets: []\n", "t.yaml:3: services[0].targets: at least one target is required");
    expect_error("services:\n  - name: a\n    targets:\n      - weight: 2\n",
                 "t.yaml:4: services[0].targets[0]: missing required key 'url'");
    expect_error("listen: []\n", "t.yaml:1: listen: at least one listen address is required");
}

static void yaml_syntax_errors_name_file_and_line(void **state)
{
    expect_error("workers: 2\nservices:\n  - name: a\n   bad indent: [\n",
                 "t.yaml:4: YAML syntax error: did not find expected '-' indicator (while parsing a block collection, line 3)");
    pt_buf err = PT_BUF_INIT;
    assert_null(load("a: [1, 2\n", &err));
    assert_non_null(strstr(err.data, "t.yaml:"));
    assert_non_null(strstr(err.data, "YAML syntax error"));
    pt_buf_release(&err);
}

static void yaml_features_outside_the_schema_are_refused(void **state)
{
    expect_error("workers: 2\nworkers: 3\n", "t.yaml:2: workers: duplicate key (first at line 1)");
    expect_error("limits: &l { max_headers: 5 }\n", "t.yaml:1: YAML: anchors and aliases are not supported");
    expect_error("workers: !!int 2\n", "t.yaml:1: YAML: tags are not supported (only !!str)");
    expect_error("workers: 2\n---\nworkers: 3\n", "t.yaml:2: YAML: only one document is allowed");
    expect_error("? [a, b]\n: 1\n", "t.yaml:1: YAML: a mapping key must be a plain string");
    char deep[256] = "a: ";
    for (int i = 0; i < 40; i++) strcat(deep, "[");
    expect_error(deep, "t.yaml:1: YAML: nested more than 32 levels deep");
    expect_error("log_level: \"in\\0fo\"\n", "t.yaml:1: log_level: value contains a NUL byte");
}

/* ---- environment ------------------------------------------------------------------- */

static void env_references_are_expanded(void **state)
{
    setenv("PT_TEST_HOST", "127.0.0.2", 1);
    setenv("PT_TEST_PORT", "9009", 1);
    setenv("PT_TEST_TOKEN", "Bearer abc", 1);
    setenv("PT_TEST_WORKERS", "7", 1);
    pt_config *cfg = load_ok("workers: ${PT_TEST_WORKERS}\n"
                             "services:\n"
                             "  - name: api\n"
                             "    targets: [\"http://${PT_TEST_HOST}:${PT_TEST_PORT}\"]\n"
                             "routes:\n"
                             "  - name: r\n"
                             "    service: api\n"
                             "    request_headers:\n"
                             "      add:\n"
                             "        Authorization: ${PT_TEST_TOKEN}\n"
                             "        X-Literal: \"$${PT_TEST_TOKEN} and $$ and $x\"\n");
    assert_int_equal(cfg->workers, 7);
    assert_string_equal(cfg->services[0].targets[0].url, "http://127.0.0.2:9009");
    assert_string_equal(cfg->services[0].targets[0].host, "127.0.0.2");
    assert_int_equal(cfg->services[0].targets[0].port, 9009);
    assert_string_equal(cfg->routes[0].req_add[0].value, "Bearer abc");
    assert_string_equal(cfg->routes[0].req_add[1].value, "${PT_TEST_TOKEN} and $$ and $x");
    pt_config_release(cfg);
}

static void missing_env_variable_is_named_with_its_line(void **state)
{
    unsetenv("PT_TEST_MISSING");
    expect_error("services:\n"
                 "  - name: api\n"
                 "    targets:\n"
                 "      - \"http://${PT_TEST_MISSING}:1\"\n",
                 "t.yaml:4: services[0].targets[0]: environment variable 'PT_TEST_MISSING' is not set");
    expect_error("log_level: ${}\n",
                 "t.yaml:1: log_level: malformed environment reference in '${}' (expected ${NAME}; write $${ for a "
                 "literal ${)");
    expect_error("log_level: \"${OPEN\"\n",
                 "t.yaml:1: log_level: malformed environment reference in '${OPEN' (expected ${NAME}; write $${ for "
                 "a literal ${)");
}

static void expanded_values_never_reach_error_messages(void **state)
{
    setenv("PT_TEST_SECRET", "sk-live-0123456789", 1);
    const char *cases[] = {
        SVC "    lb: ${PT_TEST_SECRET}\n",
        "workers: ${PT_TEST_SECRET}\n",
        "log_level: ${PT_TEST_SECRET}\n",
        "listen: [\"${PT_TEST_SECRET}\"]\n",
        "services:\n  - name: a\n    targets: [\"http://${PT_TEST_SECRET}@h\"]\n",
        "services:\n  - name: a\n    targets: [\"${PT_TEST_SECRET}\"]\n",
        SVC "routes:\n  - name: r\n    service: ${PT_TEST_SECRET}\n",
        "limits: { idle_timeout: \"${PT_TEST_SECRET}\" }\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pt_buf err = PT_BUF_INIT;
        assert_null(load(cases[i], &err));
        assert_non_null(err.data);
        if (strstr(err.data, "sk-live")) fail_msg("secret leaked in: %s", err.data);
        assert_non_null(strstr(err.data, "t.yaml:"));
        pt_buf_release(&err);
    }
    expect_error(SVC "    lb: ${PT_TEST_SECRET}\n",
                 "t.yaml:4: services[0].lb: unknown balancer '${PT_TEST_SECRET}' (expected round_robin, weighted, "
                 "least_conn)");
}

/* ---- targets and listeners ----------------------------------------------------------- */

static void ipv6_targets_and_listeners(void **state)
{
    pt_config *cfg = load_ok("listen: [\"[::]:8443\", \"[::1]:8080\"]\n"
                             "services:\n"
                             "  - name: v6\n"
                             "    targets:\n"
                             "      - http://[::1]:9001\n"
                             "      - https://[2001:DB8::1]\n");
    assert_string_equal(cfg->listeners[0].host, "::");
    assert_int_equal(cfg->listeners[0].port, 8443);
    assert_string_equal(cfg->listeners[1].text, "[::1]:8080");
    pt_target *t = cfg->services[0].targets;
    assert_string_equal(t[0].host, "::1");
    assert_int_equal(t[0].port, 9001);
    assert_false(t[0].tls);
    assert_string_equal(t[1].host, "2001:db8::1");
    assert_int_equal(t[1].port, 443);
    assert_true(t[1].tls);
    pt_config_release(cfg);
}

#define TARGET(u) "services:\n  - name: a\n    targets: [\"" u "\"]\n"

static void bad_target_urls_are_explained(void **state)
{
    expect_error(TARGET("ftp://h"), "t.yaml:3: services[0].targets[0]: target must start with http:// or https://, got 'ftp://h'");
    expect_error(TARGET("127.0.0.1:9001"),
                 "t.yaml:3: services[0].targets[0]: target must start with http:// or https://, got '127.0.0.1:9001'");
    expect_error(TARGET("http://h/api"),
                 "t.yaml:3: services[0].targets[0]: target must not have a path, query or fragment (use "
                 "rewrite_prefix on the route), got 'http://h/api'");
    expect_error(TARGET("http://h?x=1"),
                 "t.yaml:3: services[0].targets[0]: target must not have a path, query or fragment (use "
                 "rewrite_prefix on the route), got 'http://h?x=1'");
    expect_error(TARGET("http://user:pw@h"),
                 "t.yaml:3: services[0].targets[0]: target must not contain user info (user@); set credentials "
                 "with request_headers");
    expect_error(TARGET("http://h:0"), "t.yaml:3: services[0].targets[0]: port must be a number from 1 to 65535, got 'http://h:0'");
    expect_error(TARGET("http://h:65536"),
                 "t.yaml:3: services[0].targets[0]: port must be a number from 1 to 65535, got 'http://h:65536'");
    expect_error(TARGET("http://h:"), "t.yaml:3: services[0].targets[0]: port must be a number from 1 to 65535, got 'http://h:'");
    expect_error(TARGET("http://"), "t.yaml:3: services[0].targets[0]: target has no valid host name, got 'http://'");
    expect_error(TARGET("http://::1:80"),
                 "t.yaml:3: services[0].targets[0]: an IPv6 address goes in brackets, as in http://[::1]:9000, got "
                 "'http://::1:80'");
    expect_error(TARGET("http://[::1"),
                 "t.yaml:3: services[0].targets[0]: target has a malformed IPv6 address (expected [ADDRESS]), got "
                 "'http://[::1'");
    expect_error(TARGET("http://[::1]x"),
                 "t.yaml:3: services[0].targets[0]: expected ':' and a port after ']', got 'http://[::1]x'");
    expect_error("services:\n  - name: a\n    targets:\n      - http://h:1\n      - http://h:1\n",
                 "t.yaml:5: services[0].targets[1]: same target as targets[0]");
    expect_error("services:\n  - name: a\n    targets:\n      - { url: \"http://h\", weight: 0 }\n",
                 "t.yaml:4: services[0].targets[0].weight: must be between 1 and 1000, got '0'");
}

static void weights_have_a_bounded_sum(void **state)
{
    pt_buf yaml = PT_BUF_INIT;
    pt_buf_append_str(&yaml, "services:\n  - name: w\n    lb: weighted\n    targets:\n");
    for (int i = 0; i < 70; i++) pt_buf_printf(&yaml, "      - { url: \"http://h%d\", weight: 1000 }\n", i);
    expect_error(yaml.data, "t.yaml:5: services[0].targets: weights add up to 70000, more than 65536");
    pt_buf_release(&yaml);
}

static void bad_listen_addresses_are_explained(void **state)
{
    expect_error("listen: [\"8080\"]\n",
                 "t.yaml:1: listen[0]: expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got '8080'");
    expect_error("listen: [\"127.0.0.1:0\"]\n", "t.yaml:1: listen[0]: port must be a number from 1 to 65535, got '127.0.0.1:0'");
    expect_error("listen: [\"127.0.0.1:99999\"]\n",
                 "t.yaml:1: listen[0]: port must be a number from 1 to 65535, got '127.0.0.1:99999'");
    expect_error("listen: [\"::1:8080\"]\n",
                 "t.yaml:1: listen[0]: an IPv6 address goes in brackets, as in [::1]:8080, got '::1:8080'");
    expect_error("listen: [\"example.com:80\"]\n",
                 "t.yaml:1: listen[0]: listen host must be an IP address (127.0.0.1, 0.0.0.0, [::1], [::]) or "
                 "localhost, got 'example.com:80'");
    expect_error("listen:\n  - 127.0.0.1:80\n  - localhost:80\n", "t.yaml:3: listen[1]: same address as listen[0]");
    expect_error("listen:\n  - { tls: { cert: a, key: b } }\n", "t.yaml:2: listen[0].tls.cert: cannot read 'a': No such file or directory\n"
                                                                   "t.yaml:2: listen[0].tls.key: cannot read 'b': No such file or directory");
    expect_error("listen:\n  - port: 80\n", "t.yaml:2: listen[0].port: unknown key (expected one of: address, tls, http2)");
    pt_config *cfg = load_ok("listen: 127.0.0.1:9000\n");
    assert_int_equal(cfg->nlisteners, 1);
    assert_int_equal(cfg->listeners[0].port, 9000);
    pt_config_release(cfg);
}

static void tls_listener_needs_readable_cert_and_key(void **state)
{
    char cert[128], key[128], yaml[512];
    snprintf(cert, sizeof cert, "%s/cert.pem", tmpdir);
    snprintf(key, sizeof key, "%s/key.pem", tmpdir);
    write_file(cert, "-----BEGIN CERTIFICATE-----\n");
    write_file(key, "-----BEGIN PRIVATE KEY-----\n");
    snprintf(yaml, sizeof yaml, "listen:\n  - address: 127.0.0.1:8443\n    tls: { cert: %s, key: %s }\n", cert, key);
    pt_config *cfg = load_ok(yaml);
    assert_true(cfg->listeners[0].tls);
    assert_string_equal(cfg->listeners[0].cert_file, cert);
    assert_string_equal(cfg->listeners[0].key_file, key);
    pt_config_release(cfg);

    expect_error("listen:\n  - address: 127.0.0.1:8443\n    tls: { cert: /nonexistent/c.pem }\n",
                 "t.yaml:3: listen[0].tls.cert: cannot read '/nonexistent/c.pem': No such file or directory");
    snprintf(yaml, sizeof yaml, "listen:\n  - address: 127.0.0.1:8443\n    tls: { cert: %s }\n", cert);
    expect_error(yaml, "t.yaml:3: listen[0].tls: missing required key 'key'");
}

static void relative_files_resolve_against_the_config_directory(void **state)
{
    char dir[128], path[160], cert[160];
    snprintf(dir, sizeof dir, "%s/conf", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    write_file(cert, "x\n");
    snprintf(path, sizeof path, "%s/portico.yaml", dir);
    write_file(path, "listen:\n  - address: 127.0.0.1:8443\n    tls: { cert: c.pem, key: c.pem }\n"
                     "services:\n  - name: s\n    targets: [\"https://h\"]\n    tls: { ca_file: c.pem }\n");
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_file(path, &err);
    if (!cfg) fail_msg("%s", err.data);
    assert_string_equal(cfg->source, path);
    assert_string_equal(cfg->listeners[0].cert_file, cert);
    assert_string_equal(cfg->services[0].ca_file, cert);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void file_errors_name_the_file(void **state)
{
    char path[128];
    pt_buf err = PT_BUF_INIT;
    snprintf(path, sizeof path, "%s/missing.yaml", tmpdir);
    assert_null(pt_config_load_file(path, &err));
    char want[256];
    snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
    assert_string_equal(err.data, want);
    assert_null(pt_config_load_file(tmpdir, &err));
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", tmpdir);
    assert_string_equal(err.data, want);

    snprintf(path, sizeof path, "%s/bad.yaml", tmpdir);
    write_file(path, "listen: [\"127.0.0.1:8080\"]\n\nservices:\n  - name: x\n    targets: [\"http://a\"]\n    lb: rr\n");
    assert_null(pt_config_load_file(path, &err));
    snprintf(want, sizeof want, "%s:6: services[0].lb: unknown balancer 'rr' (expected round_robin, weighted, least_conn)",
             path);
    assert_string_equal(err.data, want);
    pt_buf_release(&err);
}

/* ---- services ------------------------------------------------------------------------ */

static void service_checks(void **state)
{
    expect_error("services:\n  - name: a\n    targets: [\"http://h\"]\n  - name: a\n    targets: [\"http://i\"]\n",
                 "t.yaml:4: services[1].name: duplicate service name 'a' (also services[0])");
    expect_error("services:\n  - name: \"a b\"\n    targets: [\"http://h\"]\n",
                 "t.yaml:2: services[0].name: 'a b' may only contain letters, digits, '-', '_' and '.'");
    expect_error(SVC "    retries: 11\n", "t.yaml:4: services[0].retries: must be between 0 and 10, got '11'");
    expect_error(SVC "    timeouts: { connect: fast }\n",
                 "t.yaml:4: services[0].timeouts.connect: expected a duration like 500ms, 10s, 2m or 1h (a plain "
                 "number is milliseconds), got 'fast'");
    expect_error(SVC "    tls: { sni: \"bad host\" }\n", "t.yaml:4: services[0].tls.sni: 'bad host' is not a valid host name");
    expect_error(SVC "    tls: { ca_file: /nonexistent/ca.pem }\n",
                 "t.yaml:4: services[0].tls.ca_file: cannot read '/nonexistent/ca.pem': No such file or directory");
}

static void health_check_settings(void **state)
{
    pt_config *cfg = load_ok(SVC "    health_check: {}\n");
    pt_service *s = &cfg->services[0];
    assert_true(s->health.enabled);
    assert_string_equal(s->health.path, "/healthz");
    assert_int_equal(s->health.interval_ms, 5000);
    assert_int_equal(s->health.timeout_ms, 2000);
    assert_int_equal(s->health.healthy_threshold, 2);
    assert_int_equal(s->health.unhealthy_threshold, 2);
    assert_int_equal(s->health.expect_min, 200);
    assert_int_equal(s->health.expect_max, 399);
    assert_true(s->targets[0].health_checked);
    pt_config_release(cfg);

    cfg = load_ok(SVC "    health_check:\n");
    assert_true(cfg->services[0].health.enabled);
    pt_config_release(cfg);

    cfg = load_ok(SVC "    health_check: { enabled: false, expect_status: 204 }\n");
    assert_false(cfg->services[0].health.enabled);
    assert_false(cfg->services[0].targets[0].health_checked);
    assert_int_equal(cfg->services[0].health.expect_min, 204);
    assert_int_equal(cfg->services[0].health.expect_max, 204);
    pt_config_release(cfg);

    expect_error(SVC "    health_check: { expect_status: 400-200 }\n",
                 "t.yaml:4: services[0].health_check.expect_status: expected a status like 200 or a range like "
                 "200-399 (100..599), got '400-200'");
    expect_error(SVC "    health_check: { expect_status: 200-700 }\n",
                 "t.yaml:4: services[0].health_check.expect_status: expected a status like 200 or a range like "
                 "200-399 (100..599), got '200-700'");
    expect_error(SVC "    health_check: { interval: 1s, timeout: 2s }\n",
                 "t.yaml:4: services[0].health_check.timeout: must not be longer than interval");
    expect_error(SVC "    health_check: { path: healthz }\n",
                 "t.yaml:4: services[0].health_check.path: must start with '/', got 'healthz'");
    expect_error(SVC "    passive_health: { max_fails: 1001 }\n",
                 "t.yaml:4: services[0].passive_health.max_fails: must be between 0 and 1000, got '1001'");
}

static void target_state_survives_a_reload(void **state)
{
    pt_config *a = load_ok(SVC);
    pt_config *b = load_ok(SVC);
    pt_config *c = load_ok("services:\n  - name: other\n    targets: [\"http://127.0.0.1:9001\"]\n");
    assert_int_equal(pt_config_bind(a), 0);
    assert_int_equal(pt_config_bind(b), 0);
    assert_int_equal(pt_config_bind(c), 0);
    assert_non_null(a->services[0].targets[0].state);
    assert_ptr_equal(a->services[0].targets[0].state, b->services[0].targets[0].state);
    assert_ptr_not_equal(a->services[0].targets[0].state, c->services[0].targets[0].state);
    atomic_store(&a->services[0].targets[0].state->ejections, 4);
    pt_config_release(a);
    assert_int_equal(atomic_load(&b->services[0].targets[0].state->ejections), 4);
    pt_config_release(b);
    pt_config_release(c);
}

/* ---- routes -------------------------------------------------------------------------- */

#define ROUTE(extra) SVC "routes:\n  - name: r\n    service: api\n" extra

static void route_checks(void **state)
{
    expect_error(SVC "routes:\n  - name: r\n    service: apj\n",
                 "t.yaml:6: routes[0].service: unknown service 'apj' (did you mean 'api'?)");
    expect_error(SVC "routes:\n  - name: r\n    service: zzzzzz\n", "t.yaml:6: routes[0].service: unknown service 'zzzzzz'");
    expect_error("routes:\n  - name: r\n    service: x\n", "t.yaml:3: routes[0].service: unknown service 'x' (no services are defined)");
    expect_error(SVC "routes:\n  - { name: r, service: api }\n  - { name: r, service: api }\n",
                 "t.yaml:6: routes[1].name: duplicate route name 'r' (also routes[0])");
    expect_error(ROUTE("    match: { path: api }\n"), "t.yaml:7: routes[0].match.path: must start with '/', got 'api'");
    expect_error(ROUTE("    match: { path_prefix: \"/a b\" }\n"),
                 "t.yaml:7: routes[0].match.path_prefix: must be a plain path without spaces, '?' or '#', got '/a b'");
    expect_error(ROUTE("    match: { path: /a, path_prefix: /b }\n"),
                 "t.yaml:7: routes[0].match.path_prefix: cannot be combined with path (choose one)");
    expect_error(ROUTE("    strip_prefix: true\n"),
                 "t.yaml:7: routes[0].strip_prefix: needs match.path_prefix (it rewrites the matched prefix)");
    expect_error(ROUTE("    match: { path: /x }\n    rewrite_prefix: /y\n"),
                 "t.yaml:8: routes[0].rewrite_prefix: needs match.path_prefix (it rewrites the matched prefix)");
    expect_error(ROUTE("    match: { methods: [GET, GTE] }\n"),
                 "t.yaml:7: routes[0].match.methods[1]: unknown HTTP method 'GTE' (did you mean 'GET'?)");
    expect_error(ROUTE("    match: { methods: [FROB] }\n"), "t.yaml:7: routes[0].match.methods[0]: unknown HTTP method 'FROB'");
    expect_error(ROUTE("    match: { methods: [] }\n"),
                 "t.yaml:7: routes[0].match.methods: at least one method is required (leave methods out to match any)");
    expect_error(ROUTE("    match: { host: \"api.example.com:8080\" }\n"),
                 "t.yaml:7: routes[0].match.host: host must not include a port, got 'api.example.com:8080'");
    expect_error(ROUTE("    match: { host: [\"a.*.com\"] }\n"),
                 "t.yaml:7: routes[0].match.host[0]: a wildcard is only allowed as the first label, as in "
                 "*.example.com, got 'a.*.com'");
    expect_error(ROUTE("    match: { host: \"*example.com\" }\n"),
                 "t.yaml:7: routes[0].match.host: a wildcard must be a whole first label, as in *.example.com, got "
                 "'*example.com'");
    expect_error(ROUTE("    match: { headers: { \"Bad Name\": x } }\n"),
                 "t.yaml:7: routes[0].match.headers.Bad Name: 'Bad Name' is not a valid header name");
    expect_error(ROUTE("    match: { headers: { X-A: false } }\n"),
                 "t.yaml:7: routes[0].match.headers.X-A: false is not supported: use true to require the header, or "
                 "a value to match");
    expect_error(ROUTE("    request_headers: { add: { X-A: \"a\\r\\nInjected: 1\" } }\n"),
                 "t.yaml:7: routes[0].request_headers.add.X-A: header value must not contain line breaks or control "
                 "characters");
    expect_error(ROUTE("    request_headers: { add: { Content-Length: 5 } }\n"),
                 "t.yaml:7: routes[0].request_headers.add.Content-Length: 'Content-Length' is managed by the proxy and "
                 "cannot be set");
    expect_error(ROUTE("    response_headers: { remove: [\"a:b\"] }\n"),
                 "t.yaml:7: routes[0].response_headers.remove[0]: 'a:b' is not a valid header name");
    expect_error(ROUTE("    strip_prefix: 1\n"), "t.yaml:7: routes[0].strip_prefix: expected true or false, got '1'");
    setenv("PT_TEST_HEADER", "X-Real", 1);
    expect_error(ROUTE("    request_headers: { add: { \"${PT_TEST_HEADER}\": v } }\n"),
                 "t.yaml:7: routes[0].request_headers.add.${PT_TEST_HEADER}: '${PT_TEST_HEADER}' is not a valid "
                 "header name");
}

static void routes_may_come_before_services(void **state)
{
    pt_config *cfg = load_ok("routes:\n  - { name: r, service: api, match: { path_prefix: / } }\n" SVC);
    assert_int_equal(cfg->nroutes, 1);
    assert_ptr_equal(cfg->routes[0].service, &cfg->services[0]);
    pt_config_release(cfg);
}

static void endpoints_must_differ(void **state)
{
    expect_error("endpoints: { health: /x, metrics: /x }\n", "t.yaml:1: endpoints.metrics: same path as endpoints.health");
    expect_error("endpoints: { ready: x }\n", "t.yaml:1: endpoints.ready: must start with '/', got 'x'");
}

static void metrics_consumers_caps_the_consumer_series(void **state)
{
    pt_config *cfg = load_ok("");
    assert_int_equal(cfg->metrics_consumers, 1024);
    pt_config_release(cfg);
    cfg = load_ok("endpoints: { metrics_consumers: 50 }\n");
    assert_int_equal(cfg->metrics_consumers, 50);
    pt_config_release(cfg);
    expect_error("endpoints: { metrics_consumers: 0 }\n",
                 "t.yaml:1: endpoints.metrics_consumers: must be between 1 and 16384, got '0'");
}

/* examples/portico.yaml is documentation that must keep loading. */
static void example_file_loads(void **state)
{
    const char *root = getenv("PORTICO_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/examples/portico.yaml", root ? root : ".");
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_file(path, &err);
    if (!cfg) fail_msg("%s", err.data);
    assert_int_equal(cfg->nlisteners, 2);
    assert_int_equal(cfg->nservices, 3);
    assert_int_equal(cfg->nroutes, 4);
    assert_int_equal(cfg->services[1].lb, PT_LB_WEIGHTED);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

/* ---- snapshots --------------------------------------------------------------------- */

static void refcount_frees_on_last_release(void **state)
{
    /* Leaks or double frees show under `make SANITIZE=address,undefined unit`. */
    pt_config *cfg = load_ok(full_yaml);
    assert_ptr_equal(pt_config_acquire(cfg), cfg);
    assert_int_equal(atomic_load(&cfg->refs), 2);
    pt_config_release(cfg);
    assert_int_equal(atomic_load(&cfg->refs), 1);
    pt_config_release(cfg);
    pt_config_release(NULL);
}

static void publish_swaps_and_current_counts(void **state)
{
    pt_config *a = load_ok("workers: 1\n");
    pt_config *b = load_ok("workers: 2\n");
    pt_config_publish(a); /* the published snapshot now owns a's reference */
    pt_config *cur = pt_config_current();
    assert_ptr_equal(cur, a);
    assert_int_equal(atomic_load(&a->refs), 2);
    pt_config_publish(b);
    assert_int_equal(atomic_load(&a->refs), 1); /* only our reference is left */
    assert_int_equal(cur->workers, 1);
    pt_config_release(cur);
    cur = pt_config_current();
    assert_ptr_equal(cur, b);
    pt_config_release(cur);
    pt_config_publish(NULL);
    assert_null(pt_config_current());
}

typedef struct reader_arg {
    _Atomic int *stop;
    unsigned long reads;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    while (!atomic_load(a->stop) && a->reads < 5000000) {
        pt_config *cfg = pt_config_current();
        if (cfg) {
            if (cfg->workers < 1 || cfg->workers > 4) abort();
            pt_config_release(cfg);
        }
        a->reads++;
    }
    return NULL;
}

static void current_is_safe_against_concurrent_publish(void **state)
{
    _Atomic int stop = 0;
    pthread_t th[4];
    reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (reader_arg){ &stop, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    for (int i = 0; i < 2000; i++) {
        char yaml[32];
        snprintf(yaml, sizeof yaml, "workers: %d\n", 1 + i % 4);
        pt_config_publish(load_ok(yaml));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    pt_config_publish(NULL);
}

/* ---- several errors, AI routes -------------------------------------------------------- */

static void every_error_of_a_file_is_reported_with_its_line(void **state)
{
    expect_error("workers: 0\n"
                 "limits:\n"
                 "  idle_timeout: forever\n"
                 "  max_headrs: 5\n"
                 "services:\n"
                 "  - name: a\n"
                 "    targets: [\"ftp://h\"]\n"
                 "  - name: b\n"
                 "    targets: [\"http://h:1\"]\n"
                 "    timeouts: { conect: 1s }\n"
                 "routes:\n"
                 "  - name: r\n"
                 "    service: bb\n",
                 "t.yaml:1: workers: must be between 1 and 256, got '0'\n"
                 "t.yaml:3: limits.idle_timeout: expected a duration like 500ms, 10s, 2m or 1h (a plain number is "
                 "milliseconds), got 'forever'\n"
                 "t.yaml:4: limits.max_headrs: unknown key (did you mean 'max_headers'?)\n"
                 "t.yaml:7: services[0].targets[0]: target must start with http:// or https://, got 'ftp://h'\n"
                 "t.yaml:10: services[1].timeouts.conect: unknown key (did you mean 'connect'?)\n"
                 "t.yaml:13: routes[0].service: unknown service 'bb' (did you mean 'b'?)");
    /* a service left without a name is no candidate for a suggestion (found by fuzz_config) */
    expect_error("services:\n  - targets: [\"http://h:1\"]\nroutes:\n  - { name: r, service: x }\n",
                 "t.yaml:2: services[0]: missing required key 'name'\n"
                 "t.yaml:4: routes[0].service: unknown service 'x'");
}

#define AI_SECTIONS                                                                                          \
    "providers:\n  - { name: p, type: openai, api_key: k }\n"                                                 \
    "models:\n  - { name: m, targets: [{ provider: p, model: x }] }\n"

static void errors_section_is_a_table_too(void **state)
{
    pt_config *cfg = load_ok("errors: { expose_upstream_address: true }\n");
    assert_true(cfg->expose_upstream_address);
    pt_config_release(cfg);
    cfg = load_ok("log_level: info\n");
    assert_false(cfg->expose_upstream_address);
    pt_config_release(cfg);
    expect_error("errors: { expose_upstream_adress: true }\n",
                 "t.yaml:1: errors.expose_upstream_adress: unknown key (did you mean 'expose_upstream_address'?)");
}

static void models_get_default_ai_routes_under_v1_and_v1beta(void **state)
{
    pt_config *cfg = load_ok(SVC "routes:\n  - { name: web, match: { path_prefix: / }, service: api }\n" AI_SECTIONS);
    assert_int_equal(cfg->nroutes, 3);
    const pt_route *gem = &cfg->routes[0], *ai = &cfg->routes[1]; /* "/v1beta/", "/v1/" outrank "/" */
    assert_string_equal(ai->name, "ai");
    assert_int_equal(ai->kind, PT_ROUTE_AI);
    assert_true(ai->implicit);
    assert_ptr_equal(ai->ai, cfg->ai);
    assert_string_equal(ai->path_prefix, "/v1/");
    assert_int_equal(ai->nhosts, 0);
    /* Gemini's SDK sends /v1beta/models/{model}:generateContent */
    assert_string_equal(gem->name, "ai-gemini");
    assert_int_equal(gem->kind, PT_ROUTE_AI);
    assert_true(gem->implicit);
    assert_string_equal(gem->path_prefix, "/v1beta/");
    assert_int_equal(cfg->routes[2].kind, PT_ROUTE_PROXY);
    pt_config_release(cfg);
    cfg = load_ok(SVC); /* no models: no AI route */
    assert_int_equal(cfg->nroutes, 0);
    assert_null(cfg->ai);
    pt_config_release(cfg);
}

static void a_declared_ai_route_replaces_the_default(void **state)
{
    pt_config *cfg = load_ok("routes:\n  - { name: llm, match: { host: ai.example.com }, ai: {} }\n" AI_SECTIONS);
    assert_int_equal(cfg->nroutes, 1);
    assert_string_equal(cfg->routes[0].name, "llm");
    assert_int_equal(cfg->routes[0].kind, PT_ROUTE_AI);
    assert_false(cfg->routes[0].implicit);
    assert_ptr_equal(cfg->routes[0].ai, cfg->ai);
    assert_string_equal(cfg->routes[0].hosts[0], "ai.example.com");
    pt_config_release(cfg);
    expect_error("routes:\n  - { name: llm, ai: {} }\n", "t.yaml:2: routes[0].ai: an AI route needs models (no models: are configured)");
    /* a mistake in the AI sections is reported once, not again on the route that uses them */
    expect_error("routes:\n  - { name: llm, ai: {} }\n"
                 "providers:\n  - { name: p, type: opneai, api_key: k }\n"
                 "models:\n  - { name: m, targets: [{ provider: p, model: x }] }\n",
                 "t.yaml:4: providers[0].type: unknown provider type 'opneai' (did you mean 'openai'?)");
    expect_error(SVC "routes:\n  - { name: llm, ai: {}, service: api }\n" AI_SECTIONS,
                 "t.yaml:5: routes[0].ai: give either service or ai, not both");
    expect_error("routes:\n  - { name: llm, ai: { models: [m, nope] } }\n" AI_SECTIONS,
                 "t.yaml:2: routes[0].ai.models[1]: unknown model 'nope' (not in models:)");
    expect_error("routes:\n  - { name: llm, ai: [m] }\n" AI_SECTIONS,
                 "t.yaml:2: routes[0].ai: expected {} or { models: [...] }, got a list");
    expect_error("routes:\n  - name: llm\n    match: { path_prefix: /x }\n    ai: {}\n    rewrite_prefix: /y\n" AI_SECTIONS,
                 "t.yaml:4: routes[0].ai: an AI route takes no rewrite_prefix or header edits");
    cfg = load_ok("routes:\n  - name: llm\n    match: { path_prefix: /team/ }\n    ai: { models: [m] }\n"
                  "    strip_prefix: true\n" AI_SECTIONS);
    assert_true(cfg->routes[0].strip_prefix);
    assert_int_equal(cfg->routes[0].nai_models, 1);
    assert_string_equal(cfg->routes[0].ai_models[0], "m");
    pt_config_release(cfg);
}

int main(void)
{
    pt_log_set_level(PT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_come_from_the_embedded_yaml),
        cmocka_unit_test(empty_file_means_all_defaults),
        cmocka_unit_test(service_defaults_match_config_h),
        cmocka_unit_test(routes_tunnel_upgrades_unless_told_not_to),
        cmocka_unit_test(full_schema_maps_every_key),
        cmocka_unit_test(access_log_off_and_null_sections),
        cmocka_unit_test(durations_accept_units_and_plain_milliseconds),
        cmocka_unit_test(sizes_accept_decimal_and_binary_units),
        cmocka_unit_test(bad_durations_and_sizes_are_errors),
        cmocka_unit_test(call_log_defaults_and_bounds),
        cmocka_unit_test(unknown_keys_suggest_the_closest),
        cmocka_unit_test(unknown_key_without_a_close_match_lists_the_known_ones),
        cmocka_unit_test(counters_section),
        cmocka_unit_test(admin_trusted_proxies_are_address_blocks),
        cmocka_unit_test(unknown_balancer_names_the_expected_ones),
        cmocka_unit_test(wrong_types_are_errors),
        cmocka_unit_test(missing_required_keys_are_named),
        cmocka_unit_test(yaml_syntax_errors_name_file_and_line),
        cmocka_unit_test(yaml_features_outside_the_schema_are_refused),
        cmocka_unit_test(env_references_are_expanded),
        cmocka_unit_test(missing_env_variable_is_named_with_its_line),
        cmocka_unit_test(expanded_values_never_reach_error_messages),
        cmocka_unit_test(ipv6_targets_and_listeners),
        cmocka_unit_test(bad_target_urls_are_explained),
        cmocka_unit_test(weights_have_a_bounded_sum),
        cmocka_unit_test(bad_listen_addresses_are_explained),
        cmocka_unit_test(tls_listener_needs_readable_cert_and_key),
        cmocka_unit_test(relative_files_resolve_against_the_config_directory),
        cmocka_unit_test(file_errors_name_the_file),
        cmocka_unit_test(service_checks),
        cmocka_unit_test(health_check_settings),
        cmocka_unit_test(target_state_survives_a_reload),
        cmocka_unit_test(route_checks),
        cmocka_unit_test(routes_may_come_before_services),
        cmocka_unit_test(endpoints_must_differ),
        cmocka_unit_test(metrics_consumers_caps_the_consumer_series),
        cmocka_unit_test(example_file_loads),
        cmocka_unit_test(refcount_frees_on_last_release),
        cmocka_unit_test(publish_swaps_and_current_counts),
        cmocka_unit_test(current_is_safe_against_concurrent_publish),
        cmocka_unit_test(every_error_of_a_file_is_reported_with_its_line),
        cmocka_unit_test(errors_section_is_a_table_too),
        cmocka_unit_test(models_get_default_ai_routes_under_v1_and_v1beta),
        cmocka_unit_test(a_declared_ai_route_replaces_the_default),
    };
    return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
