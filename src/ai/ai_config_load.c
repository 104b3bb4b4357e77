/* ai_config_load.c: the `providers:` and `models:` sections as key tables over the
 * configuration engine (config/), so they share its value readers, ${ENV} expansion,
 * "did you mean" suggestions and FILE:LINE messages with every other section. */
#include "ai/ai_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ai/caps.h"
#include "ai/gauth.h"
#include "ai/price.h"
#include "config/check.h"
#include "config/schema.h"

#define MAX_PROVIDERS 256u
#define MAX_MODELS 4096u
#define MAX_KEYS 256u
#define MAX_MAP 256u          /* headers, deployments, prices per provider */
#define MAX_FALLBACKS 16u

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

/* Provider and model names: like route names, plus ':' and '/' (model ids use them). */
static int ai_name(pt_cfg *c, const pt_cfg_node *v, char **out)
{
    if (pt_cfg_str(c, v, out)) return -1;
    size_t len = strlen(*out);
    if (len == 0 || len > 128) return pt_cfg_fail(c, v, "must be 1 to 128 characters long");
    for (const char *p = *out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("._-:/", *p)))
            return pt_cfg_fail(c, v, "'%s' may only contain letters, digits and . _ - : /", PT_CFG_SHOW(v));
    return 0;
}

/* A non-empty string (an empty ${VAR} is the usual cause of an empty one). */
static int nonempty(pt_cfg *c, const pt_cfg_node *v, char **out)
{
    if (pt_cfg_str(c, v, out)) return -1;
    if (!**out) return pt_cfg_fail(c, v, "expected a non-empty string (an empty ${VAR}?)");
    return 0;
}

/* ---- providers ---------------------------------------------------------------------- */

static int prov_name_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return ai_name(c, v, &((pt_ai_provider *)obj)->name);
}

static int prov_type_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_provider *p = obj;
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    int t = pt_ai_prov_type_parse(s);
    free(s);
    if (t >= 0) {
        p->type = (pt_ai_prov_type)t;
        return 0;
    }
    static const char *const names[] = { "openai", "azure", "anthropic", "gemini", "mistral", "openai_compatible",
                                         "bedrock", "vertex" };
    return pt_cfg_unknown_name(c, v, "provider type", names, sizeof names / sizeof names[0]);
}

static int prov_base_url_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_provider *p = obj;
    if (pt_cfg_str(c, v, &p->base_url)) return -1;
    pt_cfg_url_parts u = { .host = p->host, .path = p->path_prefix };
    int rc = pt_cfg_url(c, v, p->base_url, "base_url", true, &u);
    p->tls = u.tls;
    p->host = u.host;
    p->port = u.port;
    p->path_prefix = u.path;
    return rc;
}

static int keys_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_ai_provider *p = obj;
    if (p->keys) return pt_cfg_fail(c, v, "give either api_key or api_keys, not both");
    if (PT_CFG_ALLOC(c, v, p->keys, p->nkeys, count)) return -1;
    return 0;
}

static int key_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    return nonempty(c, it, &((pt_ai_provider *)obj)->keys[i].value);
}

static const pt_cfg_list keys_list = { "a list of API keys", MAX_KEYS, NULL, keys_begin, key_entry };

static int prov_keys_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &keys_list, obj); }

static int prov_key_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    if (v->kind != PT_CFG_SCALAR) return pt_cfg_fail(c, v, "expected one key, got %s (use api_keys for several)",
                                                     pt_cfg_kind_name(v));
    return pt_cfg_map_list(c, v, &keys_list, obj);
}

static int headers_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_ai_provider *p = obj;
    if (PT_CFG_ALLOC(c, v, p->headers, p->nheaders, count)) return -1;
    return 0;
}

static int header_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    pt_ai_header_cfg *h = &((pt_ai_provider *)obj)->headers[i];
    if (pt_cfg_header_name(c, k, true, &h->name) || pt_cfg_header_value(c, val, &h->value)) return -1;
    if (!strcasecmp(h->name, "host") || !strcasecmp(h->name, "content-length") ||
        !strcasecmp(h->name, "transfer-encoding") || !strcasecmp(h->name, "connection"))
        return pt_cfg_fail(c, k, "this header is set by the gateway");
    return 0;
}

static const pt_cfg_pairs headers_pairs = { "a mapping of header names to values", MAX_MAP, headers_begin,
                                            header_pair };

static int prov_headers_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_pairs(c, v, &headers_pairs, obj);
}

static int deployments_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_ai_provider *p = obj;
    if (PT_CFG_ALLOC(c, v, p->deployments, p->ndeployments, count)) return -1;
    return 0;
}

static int deployment_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    pt_ai_header_cfg *d = &((pt_ai_provider *)obj)->deployments[i];
    if (!(d->name = strdup(k->text))) return pt_cfg_oom(c, k);
    return nonempty(c, val, &d->value);
}

static const pt_cfg_pairs deployments_pairs = { "a mapping of model names to deployment names", MAX_MAP,
                                                deployments_begin, deployment_pair };

static int prov_deployments_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_pairs(c, v, &deployments_pairs, obj);
}

/* USD per million tokens ("2.5"), stored in micro-dollars. */
static int price_fn(pt_cfg *c, const pt_cfg_node *v, int64_t *out)
{
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    bool ok = pt_price_parse_usd(s, out);
    free(s);
    return ok ? 0
              : pt_cfg_fail(c, v, "expected a price in USD per million tokens (e.g. 2.5), got '%s'", PT_CFG_SHOW(v));
}

#define PRICE_FN(fn, member)                                                                                 \
    static int fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return price_fn(c, v, &((pt_ai_price *)obj)->member); }
PRICE_FN(price_input_fn, input)
PRICE_FN(price_output_fn, output)
PRICE_FN(price_cache_read_fn, cache_read)
PRICE_FN(price_cache_write_fn, cache_write)

static const pt_cfg_field price_fields[] = {
    CFG_FUNC("input", price_input_fn),
    CFG_FUNC("output", price_output_fn),
    CFG_FUNC("cache_read", price_cache_read_fn),
    CFG_FUNC("cache_write", price_cache_write_fn),
    CFG_END,
};

static int prices_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_ai_provider *p = obj;
    if (PT_CFG_ALLOC(c, v, p->prices, p->nprices, count)) return -1;
    for (size_t i = 0; i < count; i++) p->prices[i].price = (pt_ai_price){ -1, -1, -1, -1 };
    return 0;
}

static int price_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    pt_ai_model_price *mp = &((pt_ai_provider *)obj)->prices[i];
    if (!(mp->model = strdup(k->text))) return pt_cfg_oom(c, k);
    if (val->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, val, "expected {input, output, cache_read, cache_write}, got %s", pt_cfg_kind_name(val));
    if (pt_cfg_map_fields(c, val, price_fields, &mp->price, NULL)) return -1;
    if (mp->price.input < 0 || mp->price.output < 0) return pt_cfg_fail(c, val, "input and output prices are required");
    return 0;
}

static const pt_cfg_pairs prices_pairs = { "a mapping of model names to {input, output, cache_read, cache_write}",
                                           MAX_MAP, prices_begin, price_pair };

static int prov_prices_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_pairs(c, v, &prices_pairs, obj);
}

/* `params:` {pattern: {fixed: {temperature, top_p}, max: {temperature, top_p},
 * exclusive: [temperature, top_p], max_length: {user}, action}} (ai/caps.h). */
typedef struct cap_map {
    pt_cfg *c;
    pt_ai_cap *cap;
    unsigned fixed_bits;       /* which bits this section sets: FIXED_* or MAX_* */
} cap_map;

static int cap_value(pt_cfg *c, const pt_cfg_node *v, pt_ai_cap *cap, unsigned bit, double *out, double hi)
{
    char *s = NULL, *end = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    double d = strtod(s, &end);
    bool ok = end != s && *end == '\0' && d >= 0 && d <= hi;
    free(s);
    if (!ok) return pt_cfg_fail(c, v, "expected a number from 0 to %g, got '%s'", hi, PT_CFG_SHOW(v));
    unsigned other = bit & (PT_AI_CAP_FIXED_TEMPERATURE | PT_AI_CAP_MAX_TEMPERATURE)
                         ? PT_AI_CAP_FIXED_TEMPERATURE | PT_AI_CAP_MAX_TEMPERATURE
                         : PT_AI_CAP_FIXED_TOP_P | PT_AI_CAP_MAX_TOP_P;
    if (cap->has & other & ~bit) return pt_cfg_fail(c, v, "give a parameter either a fixed or a maximum value, not both");
    cap->has |= bit;
    *out = d;
    return 0;
}

#define CAP_VALUE_FN(fn, bit, member, hi)                                                                    \
    static int fn(pt_cfg *c, const pt_cfg_node *v, void *obj)                                                 \
    {                                                                                                          \
        pt_ai_cap *cap = obj;                                                                                  \
        return cap_value(c, v, cap, bit, &cap->member, hi);                                                    \
    }
CAP_VALUE_FN(fixed_temperature_fn, PT_AI_CAP_FIXED_TEMPERATURE, temperature, 2)
CAP_VALUE_FN(fixed_top_p_fn, PT_AI_CAP_FIXED_TOP_P, top_p, 1)
CAP_VALUE_FN(max_temperature_fn, PT_AI_CAP_MAX_TEMPERATURE, temperature, 2)
CAP_VALUE_FN(max_top_p_fn, PT_AI_CAP_MAX_TOP_P, top_p, 1)

static const pt_cfg_field cap_fixed_fields[] = {
    CFG_FUNC("temperature", fixed_temperature_fn),
    CFG_FUNC("top_p", fixed_top_p_fn),
    CFG_END,
};
static const pt_cfg_field cap_max_fields[] = {
    CFG_FUNC("temperature", max_temperature_fn),
    CFG_FUNC("top_p", max_top_p_fn),
    CFG_END,
};

static int cap_fixed_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_fields(c, v, cap_fixed_fields, obj, NULL); }
static int cap_max_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_fields(c, v, cap_max_fields, obj, NULL); }

/* The one pair a model may refuse together. */
static int cap_exclusive_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_cap *cap = obj;
    bool t = false, p = false;
    for (size_t i = 0; v->kind == PT_CFG_SEQ && i < v->n; i++) {
        const pt_cfg_node *it = v->items[i];
        if (it->kind == PT_CFG_SCALAR && strcmp(it->text, "temperature") == 0) t = true;
        else if (it->kind == PT_CFG_SCALAR && strcmp(it->text, "top_p") == 0) p = true;
    }
    if (v->kind != PT_CFG_SEQ || v->n != 2 || !t || !p)
        return pt_cfg_fail(c, v, "expected [temperature, top_p] (the pair a model may refuse together)");
    cap->has |= PT_AI_CAP_EXCLUSIVE;
    return 0;
}

static int cap_max_user_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_cap *cap = obj;
    uint64_t n;
    if (pt_cfg_uint(c, v, 8, 4096, &n)) return -1;
    cap->max_user = (size_t)n;
    cap->has |= PT_AI_CAP_MAX_USER;
    return 0;
}

static const pt_cfg_field cap_length_fields[] = {
    CFG_FUNC("user", cap_max_user_fn),
    CFG_END,
};

static int cap_length_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_fields(c, v, cap_length_fields, obj, NULL); }

static int cap_action_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_cap *cap = obj;
    static const char *const names[] = { "clamp", "drop", "refuse" };
    for (size_t i = 0; i < 3; i++)
        if (v->kind == PT_CFG_SCALAR && strcmp(v->text, names[i]) == 0) {
            cap->action = (pt_ai_cap_action)i;
            return 0;
        }
    return pt_cfg_unknown_name(c, v, "action", names, 3);
}

static const pt_cfg_field cap_fields[] = {
    CFG_FUNC("fixed", cap_fixed_fn),
    CFG_FUNC("max", cap_max_fn),
    CFG_FUNC("exclusive", cap_exclusive_fn),
    CFG_FUNC("max_length", cap_length_fn),
    CFG_FUNC("action", cap_action_fn),
    CFG_END,
};

static int caps_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_ai_provider *p = obj;
    return PT_CFG_ALLOC(c, v, p->caps, p->ncaps, count) ? -1 : 0;
}

static int cap_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    pt_ai_cap *cap = &((pt_ai_provider *)obj)->caps[i];
    if (!(cap->model = strdup(k->text))) return pt_cfg_oom(c, k);
    if (val->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, val, "expected {fixed, max, exclusive, max_length, action}, got %s", pt_cfg_kind_name(val));
    if (pt_cfg_map_fields(c, val, cap_fields, cap, NULL)) return -1;
    if (!cap->has) return pt_cfg_fail(c, val, "states no rule (give fixed, max, exclusive or max_length)");
    return 0;
}

static const pt_cfg_pairs caps_pairs = { "a mapping of model names to parameter rules", MAX_MAP, caps_begin, cap_pair };

static int prov_params_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_pairs(c, v, &caps_pairs, obj); }

/* An AWS region: lowercase letters, digits and '-' (it goes into a host name). */
static int prov_region_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_provider *p = obj;
    if (nonempty(c, v, &p->region)) return -1;
    if (strlen(p->region) > 64) return pt_cfg_fail(c, v, "an AWS region name is at most 64 characters");
    for (const char *q = p->region; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-'))
            return pt_cfg_fail(c, v, "'%s' is not an AWS region name (like us-east-1)", PT_CFG_SHOW(v));
    return 0;
}

static int prov_access_key_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return nonempty(c, v, &((pt_ai_provider *)obj)->access_key_id);
}

static int prov_secret_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return nonempty(c, v, &((pt_ai_provider *)obj)->secret_access_key);
}

static int prov_session_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return nonempty(c, v, &((pt_ai_provider *)obj)->session_token);
}

static int prov_project_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_provider *p = obj;
    if (nonempty(c, v, &p->project)) return -1;
    for (const char *q = p->project; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '.' || *q == ':'))
            return pt_cfg_fail(c, v, "'%s' is not a Google Cloud project id", PT_CFG_SHOW(v));
    return 0;
}

/* The service-account file is read now, so that a missing or unusable one is an error of
 * the configuration, not of the first request. */
static int prov_credentials_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_provider *p = obj;
    if (nonempty(c, v, &p->credentials)) return -1;
    pt_buf err = PT_BUF_INIT;
    p->gauth = pt_gauth_load(p->credentials, &err);
    int rc = p->gauth ? 0 : pt_cfg_fail(c, v, "%s", err.data ? err.data : "out of memory");
    pt_buf_release(&err);
    return rc;
}

/* Vertex AI: project, region and Google credentials instead of api keys; the base URL
 * follows the region (the "global" location has no region prefix). Without `credentials`
 * the application default credentials are used, found now so that a broken file is an
 * error of the configuration. */
static int finish_vertex(pt_cfg *c, const pt_cfg_node *n, pt_ai_provider *p)
{
    static const char *const need[] = { "project", "region" };
    const char *have[] = { p->project, p->region };
    for (size_t i = 0; i < 2; i++)
        if (!have[i]) return pt_cfg_fail(c, n, "missing required key '%s' (type vertex needs it)", need[i]);
    if (p->nkeys) return pt_cfg_fail(c, n, "type vertex authenticates with Google credentials, not api_key");
    if (p->access_key_id || p->secret_access_key || p->session_token)
        return pt_cfg_fail(c, n, "AWS credentials are for type bedrock only");
    if (p->gauth) return 0;
    pt_buf err = PT_BUF_INIT;
    p->gauth = pt_gauth_load_default(&err);
    int rc = p->gauth ? 0 : pt_cfg_fail(c, n, "application default credentials: %s", err.data ? err.data : "out of memory");
    pt_buf_release(&err);
    return rc;
}

/* Bedrock: region and credentials instead of api keys; the base URL defaults to the
 * region's runtime endpoint. */
static int finish_bedrock(pt_cfg *c, const pt_cfg_node *n, pt_ai_provider *p)
{
    static const char *const need[] = { "region", "access_key_id", "secret_access_key" };
    const char *have[] = { p->region, p->access_key_id, p->secret_access_key };
    for (size_t i = 0; i < 3; i++)
        if (!have[i]) return pt_cfg_fail(c, n, "missing required key '%s' (type bedrock needs it)", need[i]);
    if (p->nkeys) return pt_cfg_fail(c, n, "type bedrock signs with access_key_id and secret_access_key, not api_key");
    return 0;
}

static const pt_cfg_field provider_fields[] = {
    CFG_FUNC("name", prov_name_fn),
    CFG_FUNC("type", prov_type_fn),
    CFG_FUNC("base_url", prov_base_url_fn),
    CFG_FUNC("api_key", prov_key_fn),
    CFG_FUNC("api_keys", prov_keys_fn),
    CFG_STR("api_version", pt_ai_provider, api_version),
    CFG_FUNC("deployments", prov_deployments_fn),
    CFG_FUNC("headers", prov_headers_fn),
    CFG_FUNC("prices", prov_prices_fn),
    CFG_FUNC("params", prov_params_fn),
    CFG_DUR("connect_timeout_ms", pt_ai_provider, connect_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("first_byte_timeout_ms", pt_ai_provider, first_byte_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_DUR("idle_timeout_ms", pt_ai_provider, idle_timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_UINT("default_max_tokens", pt_ai_provider, default_max_tokens, 1, 100000000),
    CFG_BOOL("stream_usage", pt_ai_provider, stream_usage),
    CFG_FUNC("region", prov_region_fn),
    CFG_FUNC("access_key_id", prov_access_key_fn),
    CFG_FUNC("secret_access_key", prov_secret_fn),
    CFG_FUNC("session_token", prov_session_fn),
    CFG_FUNC("project", prov_project_fn),
    CFG_FUNC("credentials", prov_credentials_fn),
    CFG_END,
};

/* The Host field of the provider's requests, not rebuilt per call: an IPv6 address in
 * brackets, the port unless it is the scheme's. */
static char *host_line(const pt_ai_provider *p)
{
    bool v6 = strchr(p->host, ':') != NULL;
    char port[8] = "";
    if (p->port != (p->tls ? 443 : 80)) snprintf(port, sizeof port, ":%u", (unsigned)p->port);
    size_t n = strlen(p->host) + sizeof "Host: []\r\n" + sizeof port;
    char *line = malloc(n);
    if (line) snprintf(line, n, "Host: %s%s%s%s\r\n", v6 ? "[" : "", p->host, v6 ? "]" : "", port);
    return line;
}

/* Checks that need the whole provider: required keys, defaults by type, unique names. */
static int finish_provider(pt_cfg *c, const pt_cfg_node *n, pt_ai_config *ai, size_t idx)
{
    pt_ai_provider *p = &ai->providers[idx];
    if (!p->name) return pt_cfg_fail(c, n, "missing required key 'name'");
    if (!pt_cfg_map_get(n, "type")) return pt_cfg_fail(c, n, "missing required key 'type'");
    for (size_t j = 0; j < idx; j++)
        if (ai->providers[j].name && strcmp(ai->providers[j].name, p->name) == 0)
            return pt_cfg_fail_key(c, "name", pt_cfg_map_get(n, "name"),
                                   "provider '%s' is defined twice (also providers[%zu])",
                                   PT_CFG_SHOW(pt_cfg_map_get(n, "name")), j);
    if (p->type == PT_AI_PROV_BEDROCK && finish_bedrock(c, n, p)) return -1;
    if (p->type == PT_AI_PROV_VERTEX && finish_vertex(c, n, p)) return -1;
    if ((p->project || p->credentials) && p->type != PT_AI_PROV_VERTEX)
        return pt_cfg_fail(c, n, "project and credentials are for type vertex only");
    if ((p->region || p->access_key_id || p->secret_access_key || p->session_token) && p->type != PT_AI_PROV_BEDROCK &&
        p->type != PT_AI_PROV_VERTEX)
        return pt_cfg_fail(c, n, "region and AWS credentials are for type bedrock only");
    char aws[160];
    if (!p->base_url) {
        const char *d = default_base_url(p->type);
        if (p->type == PT_AI_PROV_BEDROCK) {
            snprintf(aws, sizeof aws, "https://bedrock-runtime.%s.amazonaws.com", p->region);
            d = aws;
        } else if (p->type == PT_AI_PROV_VERTEX) {
            if (strcmp(p->region, "global") == 0) snprintf(aws, sizeof aws, "https://aiplatform.googleapis.com");
            else snprintf(aws, sizeof aws, "https://%s-aiplatform.googleapis.com", p->region);
            d = aws;
        }
        if (!d)
            return pt_cfg_fail(c, n, "missing required key 'base_url' (type %s has no default)",
                               pt_ai_prov_type_name(p->type));
        pt_cfg_node at = { .kind = PT_CFG_SCALAR, .line = n->line, .text = (char *)d, .len = strlen(d) };
        if (!(p->base_url = strdup(d))) return pt_cfg_oom(c, n);
        pt_cfg_url_parts u = { 0 };
        if (pt_cfg_url(c, &at, d, "base_url", true, &u)) return -1;
        p->tls = u.tls;
        p->host = u.host;
        p->port = u.port;
        p->path_prefix = u.path;
    }
    if (p->host && !(p->host_line = host_line(p))) return pt_cfg_oom(c, n); /* no host: failed already */
    /* the authorization header of the providers that take one, not rebuilt per call */
    for (size_t k = 0; k < p->nkeys; k++) {
        size_t len = strlen(p->keys[k].value);
        if (!(p->keys[k].bearer = malloc(len + 8))) return pt_cfg_oom(c, n);
        memcpy(p->keys[k].bearer, "Bearer ", 7);
        memcpy(p->keys[k].bearer + 7, p->keys[k].value, len + 1);
    }
    if (p->nkeys == 0 && p->type != PT_AI_PROV_OPENAI_COMPAT && p->type != PT_AI_PROV_BEDROCK &&
        p->type != PT_AI_PROV_VERTEX)
        return pt_cfg_fail(c, n, "missing required key 'api_key' or 'api_keys' (type %s needs one)",
                           pt_ai_prov_type_name(p->type));
    return 0;
}

static int providers_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_ai_config *ai = obj;
    if (PT_CFG_ALLOC(c, v, ai->providers, ai->nproviders, count)) return -1;
    for (size_t i = 0; i < count; i++) {
        pt_ai_provider *p = &ai->providers[i];
        p->connect_timeout_ms = 5000;
        p->first_byte_timeout_ms = 120000;
        p->idle_timeout_ms = 120000;
        p->default_max_tokens = 4096;
        p->stream_usage = true;
    }
    return 0;
}

static int provider_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_ai_config *ai = obj;
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping (name, type, base_url, api_keys, ...), got %s",
                           pt_cfg_kind_name(it));
    if (pt_cfg_map_fields(c, it, provider_fields, &ai->providers[i], NULL)) return -1;
    return finish_provider(c, it, ai, i);
}

static const pt_cfg_list providers_list = { "a list of providers", MAX_PROVIDERS, NULL, providers_begin,
                                            provider_entry };

/* ---- models ------------------------------------------------------------------------- */

typedef struct model_ctx {
    pt_ai_config *ai;
    pt_ai_model *m;
} model_ctx;

static int target_provider_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_target *t = obj;
    if (pt_cfg_str(c, v, &t->provider_name)) return -1;
    return 0; /* resolved in finish_target, where the configuration is at hand */
}

static int target_model_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return nonempty(c, v, &((pt_ai_target *)obj)->model);
}

static const pt_cfg_field target_fields[] = {
    CFG_FUNC("provider", target_provider_fn),
    CFG_FUNC("model", target_model_fn),
    CFG_UINT("weight", pt_ai_target, weight, 1, 1000000),
    CFG_END,
};

static int targets_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    model_ctx *mc = obj;
    if (PT_CFG_ALLOC(c, v, mc->m->targets, mc->m->ntargets, count)) return -1;
    for (size_t i = 0; i < count; i++) mc->m->targets[i].weight = 1;
    return 0;
}

static int target_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    model_ctx *mc = obj;
    pt_ai_target *t = &mc->m->targets[i];
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected {provider, model, weight}, got %s", pt_cfg_kind_name(it));
    if (pt_cfg_map_fields(c, it, target_fields, t, NULL)) return -1;
    if (!t->provider_name) return pt_cfg_fail(c, it, "missing required key 'provider'");
    if (!t->model) return pt_cfg_fail(c, it, "missing required key 'model'");
    t->provider = (pt_ai_provider *)pt_ai_config_provider(mc->ai, t->provider_name);
    if (!t->provider) {
        const pt_cfg_node *at = pt_cfg_map_get(it, "provider");
        const char *names[MAX_PROVIDERS];
        size_t n = 0;
        for (size_t j = 0; j < mc->ai->nproviders && n < MAX_PROVIDERS; j++)
            if (mc->ai->providers[j].name) names[n++] = mc->ai->providers[j].name;
        size_t mark = pt_cfg_push_key(c, "provider");
        int rc = pt_cfg_unknown_name(c, at, "provider", names, n);
        pt_cfg_pop(c, mark);
        return rc;
    }
    t->price_known = pt_price_for(t->provider, t->model, &t->price);
    t->cap = pt_ai_caps_find(t->provider, t->model);
    return 0;
}

static const pt_cfg_list targets_list = { "a list of {provider, model}", PT_AI_PLAN_MAX_TARGETS,
                                          "at least one target is required", targets_begin, target_entry };

static int model_targets_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    if (v->kind != PT_CFG_SEQ && !pt_cfg_is_null(v))
        return pt_cfg_fail(c, v, "expected a list of {provider, model}, got %s", pt_cfg_kind_name(v));
    return pt_cfg_map_list(c, v, &targets_list, obj);
}

static int model_name_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return ai_name(c, v, &((model_ctx *)obj)->m->name);
}

static int fallbacks_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    model_ctx *mc = obj;
    if (PT_CFG_ALLOC(c, v, mc->m->fallbacks, mc->m->nfallbacks, count)) return -1;
    return 0;
}

static int fallback_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    return nonempty(c, it, &((model_ctx *)obj)->m->fallbacks[i]);
}

static const pt_cfg_list fallbacks_list = { "a list of model names", MAX_FALLBACKS, NULL, fallbacks_begin,
                                            fallback_entry };

static int model_fallbacks_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_list(c, v, &fallbacks_list, obj);
}

static int cache_when_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_cache_cfg *cc = obj;
    if (v->kind == PT_CFG_SCALAR && strcmp(v->text, "always") == 0) cc->always = true;
    else if (v->kind == PT_CFG_SCALAR && strcmp(v->text, "deterministic") == 0) cc->always = false;
    else
        return pt_cfg_fail(c, v, "expected deterministic (temperature 0, or the request asks with X-Portico-Cache: on) "
                                 "or always, got '%s'", PT_CFG_SHOW(v));
    return 0;
}

static const pt_cfg_field cache_fields[] = {
    CFG_DUR("ttl", pt_ai_cache_cfg, ttl_ms, 1000, 30 * PT_CFG_DAY_MS),
    CFG_FUNC("when", cache_when_fn),
    CFG_SIZE("max_entry", pt_ai_cache_cfg, max_entry, 256, 64u << 20),
    CFG_END,
};

static int model_cache_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_ai_cache_cfg *cc = &((model_ctx *)obj)->m->cache;
    *cc = (pt_ai_cache_cfg){ .ttl_ms = 5 * 60 * 1000, .max_entry = 1u << 20 };
    if (v->kind == PT_CFG_SCALAR && !v->quoted && strcmp(v->text, "false") == 0) return 0;
    cc->on = true;
    if (v->kind == PT_CFG_SCALAR && !v->quoted && strcmp(v->text, "true") == 0) return 0;
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected true, false or {ttl, when, max_entry}, got %s", pt_cfg_kind_name(v));
    return pt_cfg_map_fields(c, v, cache_fields, cc, NULL);
}

static const pt_cfg_field model_fields[] = {
    CFG_FUNC("name", model_name_fn),
    CFG_FUNC("targets", model_targets_fn),
    CFG_FUNC("fallbacks", model_fallbacks_fn),
    CFG_FUNC("cache", model_cache_fn),
    CFG_END,
};

static int models_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_ai_config *ai = obj;
    if (PT_CFG_ALLOC(c, v, ai->models, ai->nmodels, count)) return -1;
    return 0;
}

static int model_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_ai_config *ai = obj;
    model_ctx mc = { ai, &ai->models[i] };
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping (name, targets, fallbacks, cache), got %s", pt_cfg_kind_name(it));
    if (pt_cfg_map_fields(c, it, model_fields, &mc, NULL)) return -1;
    if (!mc.m->name) return pt_cfg_fail(c, it, "missing required key 'name'");
    if (!mc.m->targets) return pt_cfg_fail(c, it, "missing required key 'targets'");
    for (size_t j = 0; j < i; j++)
        if (ai->models[j].name && strcmp(ai->models[j].name, mc.m->name) == 0)
            return pt_cfg_fail_key(c, "name", pt_cfg_map_get(it, "name"),
                                   "model '%s' is defined twice (also models[%zu])",
                                   PT_CFG_SHOW(pt_cfg_map_get(it, "name")), j);
    return 0;
}

static const pt_cfg_list models_list = { "a list of models", MAX_MODELS, NULL, models_begin, model_entry };

/* Fallbacks may name models written later in the file: resolved once all are read. */
static void resolve_fallbacks(pt_cfg *c, const pt_cfg_node *models, pt_ai_config *ai)
{
    for (size_t i = 0; i < ai->nmodels; i++) {
        pt_ai_model *m = &ai->models[i];
        if (!m->nfallbacks) continue;
        if (!(m->fallback_models = calloc(m->nfallbacks, sizeof *m->fallback_models))) {
            pt_cfg_oom(c, models);
            return;
        }
        const pt_cfg_node *fb = pt_cfg_map_get(models->items[i], "fallbacks");
        for (size_t k = 0; k < m->nfallbacks; k++) {
            const pt_cfg_node *at = fb->kind == PT_CFG_SEQ ? fb->items[k] : fb;
            size_t mark = pt_cfg_push_index(c, i);
            pt_cfg_push_key(c, "fallbacks");
            if (fb->kind == PT_CFG_SEQ) pt_cfg_push_index(c, k);
            const pt_ai_model *f = pt_ai_config_model(ai, pt_slice_cstr(m->fallbacks[k]));
            if (!f) pt_cfg_fail(c, at, "no model named '%s'", PT_CFG_SHOW(at));
            else if (f == m) pt_cfg_fail(c, at, "a model cannot fall back to itself");
            else m->fallback_models[k] = (pt_ai_model *)f;
            pt_cfg_pop(c, mark);
        }
    }
}

/* ---- the two sections ----------------------------------------------------------------- */

pt_ai_config *pt_ai_config_map(pt_cfg *c, const pt_cfg_node *providers, const pt_cfg_node *models)
{
    pt_ai_config *ai = calloc(1, sizeof *ai);
    if (!ai) {
        pt_cfg_oom(c, providers ? providers : models);
        return NULL;
    }
    if (providers) {
        size_t mark = pt_cfg_push_key(c, "providers");
        pt_cfg_map_list(c, providers, &providers_list, ai);
        pt_cfg_pop(c, mark);
    }
    if (models) {
        size_t mark = pt_cfg_push_key(c, "models");
        if (pt_cfg_map_list(c, models, &models_list, ai) == 0 && models->kind == PT_CFG_SEQ)
            resolve_fallbacks(c, models, ai);
        pt_cfg_pop(c, mark);
    }
    return ai;
}

/* A document holding only the AI sections. */
typedef struct ai_doc {
    const pt_cfg_node *providers, *models;
} ai_doc;

static const pt_cfg_field doc_fields[] = {
    CFG_NODE("providers", ai_doc, providers),
    CFG_NODE("models", ai_doc, models),
    CFG_END,
};

pt_ai_config *pt_ai_config_load_string(const char *name, const char *yaml, size_t len, pt_buf *err)
{
    pt_buf_reset(err);
    pt_cfg_node *root = pt_cfg_yaml_parse(name, yaml, len, err);
    if (!root) return NULL;
    pt_cfg c = { .file = name, .err = err };
    ai_doc doc = { 0 };
    pt_ai_config *ai = NULL;
    if (root->kind != PT_CFG_MAP)
        pt_cfg_fail(&c, root, "expected a mapping with providers and models, got %s", pt_cfg_kind_name(root));
    else if (pt_cfg_map_fields(&c, root, doc_fields, &doc, NULL) == 0)
        ai = pt_ai_config_map(&c, doc.providers, doc.models);
    if (c.nerrors) {
        pt_ai_config_free(ai);
        ai = NULL;
    }
    pt_cfg_sort_errors(&c);
    pt_cfg_node_free(root);
    return ai;
}
