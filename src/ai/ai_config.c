/* ai_config.c: parsing the `providers:` and `models:` sections, API key state, and the
 * routing plan (see ai_config.h). */
#include "ai/ai_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/pivot.h"
#include "ai/price.h"
#include "core/log.h"

static const char *type_names[] = { "openai", "azure", "anthropic", "gemini", "mistral", "openai_compatible" };

const char *pt_ai_prov_type_name(pt_ai_prov_type t)
{
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "?";
}

int pt_ai_prov_type_parse(const char *s)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(s, type_names[i]) == 0) return (int)i;
    return -1;
}

static const char *default_base_url(pt_ai_prov_type t)
{
    switch (t) {
    case PT_AI_PROV_OPENAI: return "https://api.openai.com/v1";
    case PT_AI_PROV_ANTHROPIC: return "https://api.anthropic.com";
    case PT_AI_PROV_GEMINI: return "https://generativelanguage.googleapis.com";
    case PT_AI_PROV_MISTRAL: return "https://api.mistral.ai/v1";
    default: return NULL; /* azure and openai_compatible must say where */
    }
}

/* ---- parsing ------------------------------------------------------------------------- */

typedef struct parser {
    const pt_ai_cfg_src *src;
    pt_buf *err;
    bool failed;
} parser;

static void fail(parser *p, const json_t *node, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(parser *p, const json_t *node, const char *path, const char *fmt, ...)
{
    if (p->failed) return;
    p->failed = true;
    int line = p->src && p->src->line_of && node ? p->src->line_of(p->src->ctx, node) : 0;
    const char *file = p->src && p->src->file ? p->src->file : "<config>";
    if (line > 0) pt_buf_printf(p->err, "%s:%d: %s: ", file, line, path);
    else pt_buf_printf(p->err, "%s: %s: ", file, path);
    va_list ap;
    va_start(ap, fmt);
    pt_buf_vprintf(p->err, fmt, ap);
    va_end(ap);
}

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A scalar as text: strings as they are, integers and booleans written out. */
static bool scalar_text(const json_t *v, char *buf, size_t cap, const char **out)
{
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return true;
    }
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        *out = buf;
        return true;
    }
    if (json_is_real(v)) {
        snprintf(buf, cap, "%.6f", json_real_value(v));
        /* trim trailing zeros so "0.075000" reads as "0.075" */
        size_t n = strlen(buf);
        while (n > 1 && buf[n - 1] == '0') buf[--n] = '\0';
        if (n && buf[n - 1] == '.') buf[--n] = '\0';
        *out = buf;
        return true;
    }
    return false;
}

static char *want_string(parser *p, const json_t *obj, const char *key, const char *path, bool required)
{
    const json_t *v = json_object_get(obj, key);
    char full[160];
    snprintf(full, sizeof full, "%s.%s", path, key);
    if (!v || json_is_null(v)) {
        if (required) fail(p, obj, full, "field required");
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        fail(p, v, full, "expected a non-empty string");
        return NULL;
    }
    return dup(json_string_value(v));
}

/* Durations: integer milliseconds, or a string "250ms", "5s", "2m". */
static bool want_ms(parser *p, const json_t *obj, const char *key, const char *path, uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return true;
    char full[160];
    snprintf(full, sizeof full, "%s.%s", path, key);
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        unsigned long long n = strtoull(s, &end, 10);
        if (end != s && n > 0) {
            uint64_t mult = 0;
            if (strcmp(end, "ms") == 0 || *end == '\0') mult = 1;
            else if (strcmp(end, "s") == 0) mult = 1000;
            else if (strcmp(end, "m") == 0) mult = 60000;
            if (mult && n < UINT64_MAX / mult) {
                *out = n * mult;
                return true;
            }
        }
    }
    fail(p, v, full, "expected a positive duration (milliseconds, or \"5s\", \"250ms\", \"2m\")");
    return false;
}

static bool want_bool(parser *p, const json_t *obj, const char *key, const char *path, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return true;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return true;
    }
    if (json_is_string(v) && (strcmp(json_string_value(v), "true") == 0 || strcmp(json_string_value(v), "false") == 0)) {
        *out = strcmp(json_string_value(v), "true") == 0;
        return true;
    }
    char full[160];
    snprintf(full, sizeof full, "%s.%s", path, key);
    fail(p, v, full, "expected true or false");
    return false;
}

/* scheme://host[:port][/path], no user info, query or fragment */
static bool parse_url(parser *p, const json_t *node, const char *path, pt_ai_provider *pr)
{
    const char *u = pr->base_url;
    const char *rest;
    if (strncmp(u, "https://", 8) == 0) {
        pr->tls = true;
        pr->port = 443;
        rest = u + 8;
    } else if (strncmp(u, "http://", 7) == 0) {
        pr->tls = false;
        pr->port = 80;
        rest = u + 7;
    } else {
        fail(p, node, path, "expected an http:// or https:// URL, got '%s'", u);
        return false;
    }
    if (strpbrk(rest, "?#@")) {
        fail(p, node, path, "the base URL must not contain user info, a query or a fragment");
        return false;
    }
    const char *slash = strchr(rest, '/');
    size_t hostport = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *host = rest, *hend, *port = NULL;
    if (hostport && rest[0] == '[') {
        hend = memchr(rest, ']', hostport);
        if (!hend) {
            fail(p, node, path, "unterminated IPv6 address");
            return false;
        }
        host = rest + 1;
        if (hend + 1 < rest + hostport) {
            if (hend[1] != ':') {
                fail(p, node, path, "bad host");
                return false;
            }
            port = hend + 2;
        }
    } else {
        hend = memchr(rest, ':', hostport);
        if (hend) port = hend + 1;
        else hend = rest + hostport;
    }
    if (hend == host) {
        fail(p, node, path, "missing host");
        return false;
    }
    if (port) {
        size_t plen = (size_t)(rest + hostport - port);
        unsigned long long v;
        if (!pt_slice_to_u64(pt_slice_from(port, plen), &v) || v == 0 || v > 65535) {
            fail(p, node, path, "bad port");
            return false;
        }
        pr->port = (uint16_t)v;
    }
    pr->host = strndup(host, (size_t)(hend - host));
    /* path prefix without a trailing slash */
    const char *ps = slash ? slash : "";
    size_t plen = strlen(ps);
    while (plen && ps[plen - 1] == '/') plen--;
    pr->path_prefix = strndup(ps, plen);
    return pr->host && pr->path_prefix;
}

static bool parse_keys(parser *p, const json_t *obj, const char *path, pt_ai_provider *pr)
{
    const json_t *keys = json_object_get(obj, "api_keys");
    const json_t *one = json_object_get(obj, "api_key");
    char full[160];
    if (keys && one) {
        snprintf(full, sizeof full, "%s.api_key", path);
        fail(p, one, full, "give either api_key or api_keys, not both");
        return false;
    }
    if (one && !json_is_null(one)) {
        snprintf(full, sizeof full, "%s.api_key", path);
        if (!json_is_string(one) || !json_string_length(one)) {
            fail(p, one, full, "expected a non-empty string");
            return false;
        }
        pr->keys = calloc(1, sizeof *pr->keys);
        if (!pr->keys) return false;
        pr->keys[0].value = dup(json_string_value(one));
        pr->nkeys = 1;
        return true;
    }
    if (!keys || json_is_null(keys)) return true;
    snprintf(full, sizeof full, "%s.api_keys", path);
    if (!json_is_array(keys)) {
        fail(p, keys, full, "expected a list of strings");
        return false;
    }
    size_t n = json_array_size(keys);
    pr->keys = calloc(n ? n : 1, sizeof *pr->keys);
    if (!pr->keys) return false;
    for (size_t i = 0; i < n; i++) {
        const json_t *k = json_array_get(keys, i);
        if (!json_is_string(k) || !json_string_length(k)) {
            char kp[200];
            snprintf(kp, sizeof kp, "%s[%zu]", full, i);
            fail(p, k, kp, "expected a non-empty string (an empty ${VAR}?)");
            return false;
        }
        pr->keys[i].value = dup(json_string_value(k));
        pr->nkeys++;
    }
    return true;
}

/* A map of string -> string ("headers", "deployments"). */
static bool parse_map(parser *p, const json_t *obj, const char *key, const char *path, pt_ai_header_cfg **out,
                      size_t *n)
{
    const json_t *m = json_object_get(obj, key);
    if (!m || json_is_null(m)) return true;
    char full[160];
    snprintf(full, sizeof full, "%s.%s", path, key);
    if (!json_is_object(m)) {
        fail(p, m, full, "expected a map of names to strings");
        return false;
    }
    *out = calloc(json_object_size(m) + 1, sizeof **out);
    if (!*out) return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        char buf[64];
        const char *s;
        if (!scalar_text(v, buf, sizeof buf, &s)) {
            char kp[240];
            snprintf(kp, sizeof kp, "%s.%s", full, k);
            fail(p, v, kp, "expected a string");
            return false;
        }
        (*out)[*n].name = dup(k);
        (*out)[*n].value = dup(s);
        (*n)++;
    }
    return true;
}

static bool parse_price_field(parser *p, const json_t *obj, const char *key, const char *path, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    *out = -1;
    if (!v || json_is_null(v)) return true;
    char buf[64];
    const char *s;
    if (!scalar_text(v, buf, sizeof buf, &s) || !pt_price_parse_usd(s, out)) {
        char full[240];
        snprintf(full, sizeof full, "%s.%s", path, key);
        fail(p, v, full, "expected a price in USD per million tokens (e.g. 2.5)");
        return false;
    }
    return true;
}

static bool parse_prices(parser *p, const json_t *obj, const char *path, pt_ai_provider *pr)
{
    const json_t *m = json_object_get(obj, "prices");
    if (!m || json_is_null(m)) return true;
    char full[160];
    snprintf(full, sizeof full, "%s.prices", path);
    if (!json_is_object(m)) {
        fail(p, m, full, "expected a map of model names to {input, output, cache_read, cache_write}");
        return false;
    }
    pr->prices = calloc(json_object_size(m) + 1, sizeof *pr->prices);
    if (!pr->prices) return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        char mp[240];
        snprintf(mp, sizeof mp, "%s.%s", full, k);
        if (!json_is_object(v)) {
            fail(p, v, mp, "expected {input, output, cache_read, cache_write}");
            return false;
        }
        pt_ai_model_price *mpr = &pr->prices[pr->nprices++];
        mpr->model = dup(k);
        if (!parse_price_field(p, v, "input", mp, &mpr->price.input) ||
            !parse_price_field(p, v, "output", mp, &mpr->price.output) ||
            !parse_price_field(p, v, "cache_read", mp, &mpr->price.cache_read) ||
            !parse_price_field(p, v, "cache_write", mp, &mpr->price.cache_write))
            return false;
        if (mpr->price.input < 0 || mpr->price.output < 0) {
            fail(p, v, mp, "input and output prices are required");
            return false;
        }
    }
    return true;
}

static bool valid_name(const char *s)
{
    if (!*s) return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._-:/", *c)))
            return false;
    return true;
}

static const char *provider_keys[] = { "name", "type", "base_url", "api_key", "api_keys", "api_version", "deployments",
                                       "headers", "prices", "connect_timeout_ms", "first_byte_timeout_ms",
                                       "idle_timeout_ms", "default_max_tokens", "stream_usage", NULL };
static const char *model_keys[] = { "name", "targets", "fallbacks", NULL };
static const char *target_keys[] = { "provider", "model", "weight", NULL };

/* Unknown keys are errors: a typo must not silently change routing. */
static bool known_keys(parser *p, const json_t *obj, const char **allowed, const char *path)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool ok = false;
        for (const char **a = allowed; *a && !ok; a++) ok = strcmp(k, *a) == 0;
        if (!ok) {
            char full[240];
            snprintf(full, sizeof full, "%s.%s", path, k);
            fail(p, v, full, "unknown key");
            return false;
        }
    }
    return true;
}

static bool parse_provider(parser *p, const json_t *obj, size_t idx, pt_ai_config *cfg)
{
    char path[64];
    snprintf(path, sizeof path, "providers[%zu]", idx);
    if (!json_is_object(obj)) {
        fail(p, obj, path, "expected a map (name, type, base_url, api_keys, ...)");
        return false;
    }
    if (!known_keys(p, obj, provider_keys, path)) return false;
    pt_ai_provider *pr = &cfg->providers[cfg->nproviders++];
    pr->connect_timeout_ms = 5000;
    pr->first_byte_timeout_ms = 120000;
    pr->idle_timeout_ms = 120000;
    pr->default_max_tokens = 4096;
    pr->stream_usage = true;
    pr->name = want_string(p, obj, "name", path, true);
    if (!pr->name) return false;
    if (!valid_name(pr->name)) {
        char np[96];
        snprintf(np, sizeof np, "%s.name", path);
        fail(p, json_object_get(obj, "name"), np, "names use letters, digits and . _ - : / only");
        return false;
    }
    for (size_t i = 0; i + 1 < cfg->nproviders; i++) {
        if (strcmp(cfg->providers[i].name, pr->name) == 0) {
            char np[96];
            snprintf(np, sizeof np, "%s.name", path);
            fail(p, json_object_get(obj, "name"), np, "provider '%s' is defined twice", pr->name);
            return false;
        }
    }
    char *type = want_string(p, obj, "type", path, true);
    if (!type) return false;
    int t = pt_ai_prov_type_parse(type);
    if (t < 0) {
        char tp[96];
        snprintf(tp, sizeof tp, "%s.type", path);
        fail(p, json_object_get(obj, "type"), tp,
             "unknown provider type '%s' (expected openai, azure, anthropic, gemini, mistral or openai_compatible)",
             type);
        free(type);
        return false;
    }
    free(type);
    pr->type = (pt_ai_prov_type)t;
    pr->base_url = want_string(p, obj, "base_url", path, false);
    if (p->failed) return false;
    char up[96];
    snprintf(up, sizeof up, "%s.base_url", path);
    if (!pr->base_url) {
        const char *d = default_base_url(pr->type);
        if (!d) {
            fail(p, obj, up, "field required for type %s", pt_ai_prov_type_name(pr->type));
            return false;
        }
        pr->base_url = dup(d);
    }
    if (!parse_url(p, json_object_get(obj, "base_url") ? json_object_get(obj, "base_url") : obj, up, pr)) return false;
    if (!parse_keys(p, obj, path, pr)) return false;
    if (pr->nkeys == 0 && pr->type != PT_AI_PROV_OPENAI_COMPAT) {
        char kp[96];
        snprintf(kp, sizeof kp, "%s.api_keys", path);
        fail(p, obj, kp, "at least one key is required for type %s", pt_ai_prov_type_name(pr->type));
        return false;
    }
    pr->api_version = want_string(p, obj, "api_version", path, false);
    if (p->failed) return false;
    if (!parse_map(p, obj, "deployments", path, &pr->deployments, &pr->ndeployments)) return false;
    if (!parse_map(p, obj, "headers", path, &pr->headers, &pr->nheaders)) return false;
    for (size_t i = 0; i < pr->nheaders; i++) {
        const char *h = pr->headers[i].name;
        if (!strcasecmp(h, "host") || !strcasecmp(h, "content-length") || !strcasecmp(h, "transfer-encoding") ||
            !strcasecmp(h, "connection")) {
            char hp[200];
            snprintf(hp, sizeof hp, "%s.headers.%s", path, h);
            fail(p, json_object_get(json_object_get(obj, "headers"), h), hp, "this header is set by the gateway");
            return false;
        }
    }
    if (!parse_prices(p, obj, path, pr)) return false;
    if (!want_ms(p, obj, "connect_timeout_ms", path, &pr->connect_timeout_ms) ||
        !want_ms(p, obj, "first_byte_timeout_ms", path, &pr->first_byte_timeout_ms) ||
        !want_ms(p, obj, "idle_timeout_ms", path, &pr->idle_timeout_ms) ||
        !want_bool(p, obj, "stream_usage", path, &pr->stream_usage))
        return false;
    const json_t *mt = json_object_get(obj, "default_max_tokens");
    if (mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1) {
            char mp[96];
            snprintf(mp, sizeof mp, "%s.default_max_tokens", path);
            fail(p, mt, mp, "expected a positive integer");
            return false;
        }
        pr->default_max_tokens = json_integer_value(mt);
    }
    return true;
}

static bool parse_target(parser *p, const json_t *t, const char *path, pt_ai_config *cfg, pt_ai_target *out)
{
    if (!json_is_object(t)) {
        fail(p, t, path, "expected {provider, model, weight}");
        return false;
    }
    if (!known_keys(p, t, target_keys, path)) return false;
    out->provider_name = want_string(p, t, "provider", path, true);
    if (!out->provider_name) return false;
    out->model = want_string(p, t, "model", path, true);
    if (!out->model) return false;
    out->provider = (pt_ai_provider *)pt_ai_config_provider(cfg, out->provider_name);
    if (!out->provider) {
        char pp[200];
        snprintf(pp, sizeof pp, "%s.provider", path);
        fail(p, json_object_get(t, "provider"), pp, "no provider named '%s'", out->provider_name);
        return false;
    }
    out->weight = 1;
    const json_t *w = json_object_get(t, "weight");
    if (w && !json_is_null(w)) {
        if (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > 1000000) {
            char wp[200];
            snprintf(wp, sizeof wp, "%s.weight", path);
            fail(p, w, wp, "expected an integer from 1 to 1000000");
            return false;
        }
        out->weight = (unsigned)json_integer_value(w);
    }
    out->price_known = pt_price_for(out->provider, out->model, &out->price);
    return true;
}

static bool parse_model(parser *p, const json_t *obj, size_t idx, pt_ai_config *cfg)
{
    char path[64];
    snprintf(path, sizeof path, "models[%zu]", idx);
    if (!json_is_object(obj)) {
        fail(p, obj, path, "expected a map (name, targets, fallbacks)");
        return false;
    }
    if (!known_keys(p, obj, model_keys, path)) return false;
    pt_ai_model *m = &cfg->models[cfg->nmodels++];
    m->name = want_string(p, obj, "name", path, true);
    if (!m->name) return false;
    for (size_t i = 0; i + 1 < cfg->nmodels; i++) {
        if (strcmp(cfg->models[i].name, m->name) == 0) {
            char np[96];
            snprintf(np, sizeof np, "%s.name", path);
            fail(p, json_object_get(obj, "name"), np, "model '%s' is defined twice", m->name);
            return false;
        }
    }
    const json_t *targets = json_object_get(obj, "targets");
    char tp[96];
    snprintf(tp, sizeof tp, "%s.targets", path);
    if (!json_is_array(targets) || json_array_size(targets) == 0) {
        fail(p, targets ? targets : obj, tp, "expected a non-empty list of {provider, model}");
        return false;
    }
    if (json_array_size(targets) > PT_AI_PLAN_MAX_TARGETS) {
        fail(p, targets, tp, "at most %d targets", PT_AI_PLAN_MAX_TARGETS);
        return false;
    }
    m->targets = calloc(json_array_size(targets), sizeof *m->targets);
    if (!m->targets) return false;
    for (size_t i = 0; i < json_array_size(targets); i++) {
        char ip[128];
        snprintf(ip, sizeof ip, "%s[%zu]", tp, i);
        m->ntargets++;
        if (!parse_target(p, json_array_get(targets, i), ip, cfg, &m->targets[i])) return false;
    }
    const json_t *fb = json_object_get(obj, "fallbacks");
    if (fb && !json_is_null(fb)) {
        char fp[96];
        snprintf(fp, sizeof fp, "%s.fallbacks", path);
        if (!json_is_array(fb)) {
            fail(p, fb, fp, "expected a list of model names");
            return false;
        }
        m->fallbacks = calloc(json_array_size(fb) + 1, sizeof *m->fallbacks);
        if (!m->fallbacks) return false;
        for (size_t i = 0; i < json_array_size(fb); i++) {
            const json_t *f = json_array_get(fb, i);
            if (!json_is_string(f) || !json_string_length(f)) {
                char ip[128];
                snprintf(ip, sizeof ip, "%s[%zu]", fp, i);
                fail(p, f, ip, "expected a model name");
                return false;
            }
            m->fallbacks[m->nfallbacks++] = dup(json_string_value(f));
        }
    }
    return true;
}

/* Fallbacks name models that may be defined later in the file: resolved at the end. */
static bool resolve_fallbacks(parser *p, const json_t *models, pt_ai_config *cfg)
{
    for (size_t i = 0; i < cfg->nmodels; i++) {
        pt_ai_model *m = &cfg->models[i];
        if (!m->nfallbacks) continue;
        m->fallback_models = calloc(m->nfallbacks, sizeof *m->fallback_models);
        if (!m->fallback_models) return false;
        const json_t *fb = json_object_get(json_array_get(models, i), "fallbacks");
        for (size_t k = 0; k < m->nfallbacks; k++) {
            char path[128];
            snprintf(path, sizeof path, "models[%zu].fallbacks[%zu]", i, k);
            const pt_ai_model *f = pt_ai_config_model(cfg, pt_slice_cstr(m->fallbacks[k]));
            if (!f) {
                fail(p, json_array_get(fb, k), path, "no model named '%s'", m->fallbacks[k]);
                return false;
            }
            if (f == m) {
                fail(p, json_array_get(fb, k), path, "a model cannot fall back to itself");
                return false;
            }
            m->fallback_models[k] = (pt_ai_model *)f;
        }
    }
    return true;
}

pt_ai_config *pt_ai_config_parse(const json_t *providers, const json_t *models, const pt_ai_cfg_src *src, pt_buf *err)
{
    parser p = { src, err, false };
    pt_ai_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    if (providers && !json_is_null(providers)) {
        if (!json_is_array(providers)) {
            fail(&p, providers, "providers", "expected a list of providers");
            goto bad;
        }
        cfg->providers = calloc(json_array_size(providers) + 1, sizeof *cfg->providers);
        if (!cfg->providers) goto oom;
        for (size_t i = 0; i < json_array_size(providers); i++)
            if (!parse_provider(&p, json_array_get(providers, i), i, cfg)) goto bad;
    }
    if (models && !json_is_null(models)) {
        if (!json_is_array(models)) {
            fail(&p, models, "models", "expected a list of models");
            goto bad;
        }
        cfg->models = calloc(json_array_size(models) + 1, sizeof *cfg->models);
        if (!cfg->models) goto oom;
        for (size_t i = 0; i < json_array_size(models); i++)
            if (!parse_model(&p, json_array_get(models, i), i, cfg)) goto bad;
        if (!resolve_fallbacks(&p, models, cfg)) goto bad;
    }
    return cfg;
oom:
    fail(&p, NULL, "providers", "out of memory");
bad:
    if (!p.failed) fail(&p, NULL, "providers", "out of memory");
    pt_ai_config_free(cfg);
    return NULL;
}

static void free_map(pt_ai_header_cfg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].name);
        free(m[i].value);
    }
    free(m);
}

void pt_ai_config_free(pt_ai_config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; i < cfg->nproviders; i++) {
        pt_ai_provider *p = &cfg->providers[i];
        free(p->name);
        free(p->base_url);
        free(p->host);
        free(p->path_prefix);
        for (size_t k = 0; k < p->nkeys; k++) {
            if (p->keys[k].value) memset(p->keys[k].value, 0, strlen(p->keys[k].value));
            free(p->keys[k].value);
        }
        free(p->keys);
        free(p->api_version);
        free_map(p->deployments, p->ndeployments);
        free_map(p->headers, p->nheaders);
        for (size_t k = 0; k < p->nprices; k++) free(p->prices[k].model);
        free(p->prices);
    }
    free(cfg->providers);
    for (size_t i = 0; i < cfg->nmodels; i++) {
        pt_ai_model *m = &cfg->models[i];
        free(m->name);
        for (size_t k = 0; k < m->ntargets; k++) {
            free(m->targets[k].provider_name);
            free(m->targets[k].model);
        }
        free(m->targets);
        for (size_t k = 0; k < m->nfallbacks; k++) free(m->fallbacks[k]);
        free(m->fallbacks);
        free(m->fallback_models);
    }
    free(cfg->models);
    free(cfg);
}

const pt_ai_model *pt_ai_config_model(const pt_ai_config *cfg, pt_slice name)
{
    if (!cfg) return NULL;
    for (size_t i = 0; i < cfg->nmodels; i++)
        if (cfg->models[i].name && pt_slice_eq_cstr(name, cfg->models[i].name)) return &cfg->models[i];
    return NULL;
}

const pt_ai_provider *pt_ai_config_provider(const pt_ai_config *cfg, const char *name)
{
    if (!cfg || !name) return NULL;
    for (size_t i = 0; i < cfg->nproviders; i++)
        if (cfg->providers[i].name && strcmp(cfg->providers[i].name, name) == 0) return &cfg->providers[i];
    return NULL;
}

const char *pt_ai_provider_deployment(const pt_ai_provider *p, const char *model)
{
    for (size_t i = 0; i < p->ndeployments; i++)
        if (strcmp(p->deployments[i].name, model) == 0) return p->deployments[i].value;
    return model;
}

/* ---- keys -------------------------------------------------------------------------- */

bool pt_ai_key_usable(const pt_ai_provider *p, size_t i, uint64_t now_ms)
{
    if (i >= p->nkeys) return false;
    pt_ai_key *k = &p->keys[i];
    return !atomic_load_explicit(&k->disabled, memory_order_relaxed) &&
           atomic_load_explicit(&k->cooldown_until_ms, memory_order_relaxed) <= now_ms;
}

void pt_ai_key_cooldown(pt_ai_provider *p, size_t i, uint64_t now_ms, uint64_t retry_after_ms)
{
    if (i >= p->nkeys) return;
    uint64_t d = retry_after_ms ? retry_after_ms : PT_AI_KEY_COOLDOWN_DEFAULT_MS;
    if (d > PT_AI_KEY_COOLDOWN_MAX_MS) d = PT_AI_KEY_COOLDOWN_MAX_MS;
    uint64_t until = now_ms + d;
    uint64_t cur = atomic_load_explicit(&p->keys[i].cooldown_until_ms, memory_order_relaxed);
    while (cur < until &&
           !atomic_compare_exchange_weak_explicit(&p->keys[i].cooldown_until_ms, &cur, until, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

void pt_ai_key_disable(pt_ai_provider *p, size_t i, int status)
{
    if (i >= p->nkeys) return;
    if (!atomic_exchange(&p->keys[i].disabled, true))
        pt_log_warn("ai: provider %s refused API key #%zu (status %d); the key is out of rotation until the next "
                    "configuration load",
                    p->name, i + 1, status);
}

/* ---- plan -------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool seen(const pt_ai_plan *plan, const pt_ai_target *t)
{
    for (size_t i = 0; i < plan->ntargets; i++)
        if (plan->targets[i]->provider == t->provider && strcmp(plan->targets[i]->model, t->model) == 0) return true;
    return false;
}

/* Appends m's targets in a weighted random order (each pick ∝ weight among those left). */
static void add_model(pt_ai_plan *plan, const pt_ai_model *m, uint64_t *rng)
{
    bool taken[PT_AI_PLAN_MAX_TARGETS] = { false };
    size_t n = m->ntargets < PT_AI_PLAN_MAX_TARGETS ? m->ntargets : PT_AI_PLAN_MAX_TARGETS;
    for (size_t round = 0; round < n; round++) {
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++)
            if (!taken[i]) total += m->targets[i].weight;
        if (!total) break;
        uint64_t r = splitmix(rng) % total;
        size_t pick = 0;
        for (size_t i = 0; i < n; i++) {
            if (taken[i]) continue;
            if (r < m->targets[i].weight) {
                pick = i;
                break;
            }
            r -= m->targets[i].weight;
        }
        taken[pick] = true;
        if (plan->ntargets < PT_AI_PLAN_MAX_TARGETS && !seen(plan, &m->targets[pick])) {
            plan->owners[plan->ntargets] = m;
            plan->targets[plan->ntargets++] = &m->targets[pick];
        }
    }
}

void pt_ai_plan_init(pt_ai_plan *plan, const pt_ai_config *cfg, const pt_ai_model *model, uint64_t rnd)
{
    memset(plan, 0, sizeof *plan);
    plan->cfg = cfg;
    if (!model) return;
    uint64_t rng = rnd;
    add_model(plan, model, &rng);
    for (size_t i = 0; i < model->nfallbacks; i++)
        if (model->fallback_models && model->fallback_models[i]) add_model(plan, model->fallback_models[i], &rng);
}

/* Picks the next usable key of the current target; false when none is left. */
static bool next_key(pt_ai_plan *plan, uint64_t now_ms, size_t *key)
{
    pt_ai_provider *p = plan->targets[plan->cur]->provider;
    if (p->nkeys == 0) {
        if (plan->keys_tried) return false;
        plan->keys_tried = 1;
        *key = SIZE_MAX;
        return true;
    }
    if (plan->keys_tried == 0)
        plan->key_start = atomic_fetch_add_explicit(&p->key_cursor, 1, memory_order_relaxed) % p->nkeys;
    while (plan->keys_tried < p->nkeys) {
        size_t k = (plan->key_start + plan->keys_tried++) % p->nkeys;
        if (pt_ai_key_usable(p, k, now_ms)) {
            *key = k;
            return true;
        }
    }
    return false;
}

bool pt_ai_plan_next(pt_ai_plan *plan, int last_kind, uint64_t now_ms, pt_ai_attempt *out)
{
    if (plan->attempts >= PT_AI_PLAN_MAX_ATTEMPTS) return false;
    if (plan->started) {
        /* only key trouble is worth another key of the same target */
        bool same_target = last_kind == PT_AI_ERR_RATE_LIMIT || last_kind == PT_AI_ERR_AUTH;
        if (!same_target) {
            plan->cur++;
            plan->keys_tried = 0;
        }
    }
    plan->started = true;
    while (plan->cur < plan->ntargets) {
        size_t key;
        if (next_key(plan, now_ms, &key)) {
            const pt_ai_target *t = plan->targets[plan->cur];
            out->model = plan->owners[plan->cur];
            out->provider = t->provider;
            out->upstream_model = t->model;
            out->target = t;
            out->key_index = key;
            out->number = plan->attempts++;
            return true;
        }
        plan->cur++;
        plan->keys_tried = 0;
    }
    return false;
}

int pt_ai_plan_none_error(const pt_ai_plan *plan, const char *model, uint64_t now_ms, pt_ai_error *err)
{
    uint64_t soonest = UINT64_MAX;
    bool cooling = false;
    for (size_t i = 0; i < plan->ntargets; i++) {
        const pt_ai_provider *p = plan->targets[i]->provider;
        for (size_t k = 0; k < p->nkeys; k++) {
            if (atomic_load(&p->keys[k].disabled)) continue;
            uint64_t until = atomic_load(&p->keys[k].cooldown_until_ms);
            if (until > now_ms) {
                cooling = true;
                if (until - now_ms < soonest) soonest = until - now_ms;
            }
        }
    }
    if (cooling) {
        pt_ai_error_set(err, PT_AI_ERR_RATE_LIMIT, 429, NULL,
                        "every provider key for model '%s' is cooling down after rate limiting", model);
        err->retry_after_ms = soonest;
        return -1;
    }
    return pt_ai_error_set(err, PT_AI_ERR_AUTH, 502, NULL, "no usable provider key for model '%s'", model);
}
