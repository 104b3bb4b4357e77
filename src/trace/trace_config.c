/* trace_config.c: the `tracing:` section as key tables (see trace_config.h). */
#include "trace/trace_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/check.h"
#include "config/schema.h"

#define MAX_HEADERS 32

typedef struct otlp_obj {
    pt_trace_cfg *t;
    const pt_cfg_node *endpoint;
} otlp_obj;

static int endpoint_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    otlp_obj *o = obj;
    pt_trace_cfg *t = o->t;
    o->endpoint = v;
    if (pt_cfg_str(c, v, &t->endpoint)) return -1;
    pt_cfg_url_parts u = { 0 };
    int rc = pt_cfg_url(c, v, t->endpoint, "endpoint", true, &u);
    if (rc == 0) {
        t->tls = u.tls;
        t->host = u.host;
        t->port = u.port;
        t->path = u.path[0] ? u.path : strdup("/v1/traces");
        if (t->path != u.path) free(u.path);
        if (!t->path) rc = pt_cfg_oom(c, v);
    } else {
        free(u.host);
        free(u.path);
    }
    return rc;
}

static int headers_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_trace_cfg *t = ((otlp_obj *)obj)->t;
    return PT_CFG_ALLOC(c, v, t->headers, t->nheaders, count);
}

static int header_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    pt_trace_cfg *t = ((otlp_obj *)obj)->t;
    char *name = NULL, *value = NULL;
    int rc = pt_cfg_header_name(c, k, true, &name);
    if (rc == 0) rc = pt_cfg_header_value(c, val, &value);
    if (rc == 0 && (strcasecmp(name, "content-length") == 0 || strcasecmp(name, "host") == 0 ||
                    strcasecmp(name, "connection") == 0 || strcasecmp(name, "content-type") == 0))
        rc = pt_cfg_fail(c, k, "'%s' is set by the exporter and cannot be set", PT_CFG_SHOW(k));
    if (rc == 0) {
        size_t n = strlen(name) + strlen(value) + 3;
        if (!(t->headers[i] = malloc(n))) rc = pt_cfg_oom(c, k);
        else snprintf(t->headers[i], n, "%s: %s", name, value);
    }
    free(name);
    free(value);
    return rc;
}

static const pt_cfg_pairs header_pairs = { "a mapping of header names to values", MAX_HEADERS, headers_begin,
                                           header_pair };

static int headers_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_pairs(c, v, &header_pairs, obj); }

static int timeout_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_duration(c, v, 100, 600000, &((otlp_obj *)obj)->t->timeout_ms);
}

static int retries_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_uint(c, v, 0, 10, &((otlp_obj *)obj)->t->retries);
}

static const pt_cfg_field otlp_fields[] = {
    CFG_FUNC("endpoint", endpoint_fn),
    CFG_FUNC("headers", headers_fn),
    CFG_FUNC("timeout", timeout_fn),
    CFG_FUNC("retries", retries_fn),
    CFG_END,
};

static int otlp_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    otlp_obj o = { .t = obj };
    if (pt_cfg_expect_map(c, v, "the collector (endpoint, headers, timeout, retries)")) return -1;
    int rc = pt_cfg_map_fields(c, v, otlp_fields, &o, NULL);
    if (rc == 0 && !o.endpoint) return pt_cfg_fail_key(c, "endpoint", v, "required: the collector's URL, as in http://127.0.0.1:4318/v1/traces");
    return rc;
}

static int sample_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_trace_cfg *t = obj;
    char *s = NULL, *end = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    double d = strtod(s, &end);
    bool ok = end != s && *end == '\0' && d >= 0 && d <= 1;
    free(s);
    if (!ok) return pt_cfg_fail(c, v, "expected a number from 0 to 1 (the share of new traces recorded), got '%s'",
                                PT_CFG_SHOW(v));
    t->sample_all = d >= 1;
    t->sample_below = t->sample_all ? UINT64_MAX : (uint64_t)(d * 18446744073709551616.0);
    return 0;
}

static int service_name_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_trace_cfg *t = obj;
    free(t->service_name);
    t->service_name = NULL;
    if (pt_cfg_str(c, v, &t->service_name)) return -1;
    return t->service_name[0] ? 0 : pt_cfg_fail(c, v, "expected a name, got an empty string");
}

static const pt_cfg_field trace_fields[] = {
    CFG_FUNC("otlp", otlp_fn),
    CFG_FUNC("sample", sample_fn),
    CFG_FUNC("service_name", service_name_fn),
    CFG_DUR("flush_interval", pt_trace_cfg, flush_ms, 10, 60000),
    CFG_END,
};

int pt_trace_cfg_map(pt_cfg *c, const pt_cfg_node *v, pt_trace_cfg *t)
{
    t->enabled = true;
    t->timeout_ms = 5000;
    t->retries = 2;
    t->flush_ms = 1000;
    t->sample_all = true;
    t->sample_below = UINT64_MAX;
    if (!(t->service_name = strdup("portico"))) return pt_cfg_oom(c, v);
    if (pt_cfg_expect_map(c, v, "the tracing settings (otlp, sample, service_name)")) return -1;
    uint64_t seen = 0;
    int rc = pt_cfg_map_fields(c, v, trace_fields, t, &seen);
    if (rc == 0 && !(seen & 1))
        return pt_cfg_fail_key(c, "otlp", v, "required: the collector spans are exported to, as in "
                                             "otlp: { endpoint: http://127.0.0.1:4318/v1/traces }");
    return rc;
}

void pt_trace_cfg_release(pt_trace_cfg *t)
{
    free(t->host);
    free(t->path);
    free(t->endpoint);
    for (size_t i = 0; i < t->nheaders; i++) free(t->headers[i]);
    free(t->headers);
    free(t->service_name);
    memset(t, 0, sizeof *t);
}
