/* ai_config.h: the AI sections of the configuration (providers and models), the runtime
 * state of API keys, and the routing plan that turns a public model name into an
 * ordered list of (provider, model, key) attempts.
 *
 * A pt_ai_config is built once per configuration load (ai_config_load.c maps the two
 * sections through the configuration engine's key tables) and is immutable afterwards,
 * except the fields marked "runtime" (atomics every worker may touch). It hangs off
 * pt_config.ai and is freed with the snapshot. */
#ifndef PT_AI_AI_CONFIG_H
#define PT_AI_AI_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/value.h"
#include "core/buf.h"
#include "core/slice.h"

typedef enum pt_ai_prov_type {
    PT_AI_PROV_OPENAI,
    PT_AI_PROV_AZURE,
    PT_AI_PROV_ANTHROPIC,
    PT_AI_PROV_GEMINI,
    PT_AI_PROV_MISTRAL,
    PT_AI_PROV_OPENAI_COMPAT,
    PT_AI_PROV_BEDROCK,
    PT_AI_PROV_VERTEX,
} pt_ai_prov_type;

const char *pt_ai_prov_type_name(pt_ai_prov_type t);
/* "openai", "azure", "anthropic", "gemini", "mistral", "openai_compatible", "bedrock", "vertex"; -1 if unknown. */
int pt_ai_prov_type_parse(const char *s);

/* Prices in micro-dollars per million tokens ($3.00 / MTok = 3000000). -1 = not set. */
typedef struct pt_ai_price {
    int64_t input, output, cache_read, cache_write;
} pt_ai_price;

typedef struct pt_ai_key {
    char *value;                         /* the secret: never logged, never echoed */
    char *bearer;                        /* "Bearer <value>", built once at load (NULL: build it) */
    _Atomic uint64_t cooldown_until_ms;  /* runtime: skipped until this pt_now_ms() */
    _Atomic bool disabled;               /* runtime: refused by the provider (401/403) */
} pt_ai_key;

typedef pt_cfg_kv pt_ai_header_cfg;

typedef struct pt_ai_model_price {
    char *model;       /* provider model name, or a prefix ending in '*' */
    pt_ai_price price;
} pt_ai_model_price;

/* What a provider model accepts among the sampling parameters (ai/caps.h): a rule for the
 * models a pattern matches. */
typedef enum pt_ai_cap_action {
    PT_AI_CAP_CLAMP,   /* bring it within what the model takes (the built-in rules' choice) */
    PT_AI_CAP_DROP,    /* leave the parameter out */
    PT_AI_CAP_REFUSE,  /* answer 400 naming the parameter */
} pt_ai_cap_action;

enum {
    PT_AI_CAP_FIXED_TEMPERATURE = 1u << 0, /* only this temperature is taken */
    PT_AI_CAP_FIXED_TOP_P = 1u << 1,
    PT_AI_CAP_MAX_TEMPERATURE = 1u << 2,   /* at most this temperature */
    PT_AI_CAP_MAX_TOP_P = 1u << 3,
    PT_AI_CAP_EXCLUSIVE = 1u << 4,         /* temperature and top_p not both */
    PT_AI_CAP_MAX_USER = 1u << 5,          /* the end-user id at most this long */
};

typedef struct pt_ai_cap {
    char *model;               /* exact name, or a prefix ending in '*' */
    unsigned has;              /* PT_AI_CAP_* bits: which constraints the rule states */
    double temperature, top_p; /* the fixed or maximum value, per the bits */
    size_t max_user;
    pt_ai_cap_action action;
} pt_ai_cap;

typedef struct pt_ai_provider {
    char *name;
    pt_ai_prov_type type;
    char *base_url;          /* as written, or the type's default */
    bool tls;                /* https */
    char *host;              /* no brackets */
    uint16_t port;
    char *host_line;         /* "Host: ...\r\n" of every upstream request, written at load */
    char *path_prefix;       /* base URL path without trailing '/', "" for none */
    pt_ai_key *keys;
    size_t nkeys;
    char *api_version;       /* azure: api-version query (default 2024-10-21); anthropic: anthropic-version header (default 2023-06-01) */
    pt_ai_header_cfg *deployments; /* azure: model -> deployment name (default: same name) */
    size_t ndeployments;
    pt_ai_header_cfg *headers;     /* extra headers on every upstream request */
    size_t nheaders;
    pt_ai_model_price *prices;     /* overrides of the built-in price table */
    size_t nprices;
    pt_ai_cap *caps;               /* `params:` rules, before the built-in table (ai/caps.h) */
    size_t ncaps;
    uint64_t connect_timeout_ms;   /* default 5000 */
    uint64_t first_byte_timeout_ms;/* request sent -> response head, default 120000 */
    uint64_t idle_timeout_ms;      /* gap between body bytes, default 120000 */
    int64_t default_max_tokens;    /* sent when a client gave none and the provider needs one (anthropic), default 4096 */
    bool stream_usage;             /* inject stream_options.include_usage (openai-wire types), default true */
    /* bedrock: the region requests are signed for (and the default base URL's), and the
     * AWS credentials (secrets: never logged); session_token optional */
    char *region, *access_key_id, *secret_access_key, *session_token;
    /* vertex: the project, and the service-account key file read at load (ai/gauth.h);
     * region above is the location */
    char *project, *credentials;
    struct pt_gauth *gauth;
    _Atomic unsigned key_cursor;   /* runtime: round-robin start among keys */
} pt_ai_provider;

typedef struct pt_ai_target {
    char *provider_name;
    pt_ai_provider *provider;  /* resolved at load */
    char *model;               /* the provider's model name */
    unsigned weight;           /* >= 1, default 1 */
    bool price_known;          /* price: resolved at load (pt_price_for) */
    pt_ai_price price;
    const pt_ai_cap *cap;      /* the model's parameter rule, resolved at load (pt_ai_caps_find); NULL none */
} pt_ai_target;

/* A model's `cache:` (ai/cache.h): on when the section is written. */
typedef struct pt_ai_cache_cfg {
    bool on;
    bool always;               /* when: always; else only deterministic requests, or those that ask */
    uint64_t ttl_ms;           /* default 5 minutes */
    size_t max_entry;          /* an answer longer than this is not kept, default 1 MiB */
} pt_ai_cache_cfg;

typedef struct pt_ai_model {
    char *name;                /* the public name clients send */
    pt_ai_cache_cfg cache;
    pt_ai_target *targets;
    size_t ntargets;
    char **fallbacks;          /* public names, tried in order after the targets */
    size_t nfallbacks;
    struct pt_ai_model **fallback_models; /* resolved at load */
} pt_ai_model;

typedef struct pt_ai_config {
    pt_ai_provider *providers;
    size_t nproviders;
    pt_ai_model *models;
    size_t nmodels;
} pt_ai_config;

struct pt_cfg;
struct pt_cfg_node;

/* Maps the two sections (either may be NULL) of a file being loaded by the engine (see
 * config/value.h): every problem is recorded in c with its FILE:LINE and key path.
 * Returns the configuration (NULL only when out of memory), complete only when no error
 * was recorded; the caller frees it either way, and does not use it after an error
 * except to let later sections (routes with `ai:`) know the sections exist. */
pt_ai_config *pt_ai_config_map(struct pt_cfg *c, const struct pt_cfg_node *providers,
                               const struct pt_cfg_node *models);
/* A YAML (or JSON) document holding only `providers:` and `models:`, for tests and
 * tools. NULL on failure, with every error in err. */
pt_ai_config *pt_ai_config_load_string(const char *name, const char *yaml, size_t len, pt_buf *err);
void pt_ai_config_free(pt_ai_config *cfg);
/* Starts what a configuration needs in the process that serves it (Vertex AI token
 * refreshers); not in processes that only check or inspect a file. */
void pt_ai_config_start(pt_ai_config *cfg);

const pt_ai_model *pt_ai_config_model(const pt_ai_config *cfg, pt_slice name);
const pt_ai_provider *pt_ai_config_provider(const pt_ai_config *cfg, const char *name);
/* Azure: the deployment for a model name (the name itself when not mapped). */
const char *pt_ai_provider_deployment(const pt_ai_provider *p, const char *model);

/* ---- keys -------------------------------------------------------------------------- */

/* Default cool-down after a 429 without a retry-after. */
#define PT_AI_KEY_COOLDOWN_DEFAULT_MS 10000u
/* Longest cool-down a retry-after can ask for. */
#define PT_AI_KEY_COOLDOWN_MAX_MS 600000u

/* True when key i may be used now. */
bool pt_ai_key_usable(const pt_ai_provider *p, size_t i, uint64_t now_ms);
/* Records that the provider rate-limited key i: unusable for retry_after_ms (or the
 * default), capped. */
void pt_ai_key_cooldown(pt_ai_provider *p, size_t i, uint64_t now_ms, uint64_t retry_after_ms);
/* Records that the provider refused key i: unusable until the next configuration load.
 * Logs the provider name and key position, never the key. */
void pt_ai_key_disable(pt_ai_provider *p, size_t i, int status);

/* ---- routing plan ------------------------------------------------------------------ */

#define PT_AI_PLAN_MAX_ATTEMPTS 8
#define PT_AI_PLAN_MAX_TARGETS 32

/* One attempt: which provider, which of its models, which key (SIZE_MAX: no key). */
typedef struct pt_ai_attempt {
    const pt_ai_model *model;   /* the public model this target belongs to (fallbacks differ) */
    pt_ai_provider *provider;
    const char *upstream_model;
    const pt_ai_target *target; /* where upstream_model and its price come from (may be NULL) */
    size_t key_index;
    unsigned number;            /* 0 for the first attempt */
} pt_ai_attempt;

/* The order in which a request tries targets: the model's targets in a weighted random
 * order, then each fallback model's targets the same way. Within a target, keys are
 * tried from the provider's round-robin cursor, skipping keys cooling down or disabled.
 * After a 429 or 401/403 the next attempt uses the next key of the same target; after
 * any other failure it moves to the next target. At most PT_AI_PLAN_MAX_ATTEMPTS. */
typedef struct pt_ai_plan {
    const pt_ai_config *cfg;
    const pt_ai_target *targets[PT_AI_PLAN_MAX_TARGETS];
    const pt_ai_model *owners[PT_AI_PLAN_MAX_TARGETS];
    size_t ntargets;
    size_t cur;                 /* target being tried */
    size_t keys_tried;          /* keys of the current target tried so far */
    size_t key_start;
    unsigned attempts;
    bool started;
} pt_ai_plan;

/* Orders the targets of model (and its fallbacks). rnd seeds the weighted shuffle (the
 * engine passes a per-request random value; tests pass a constant). */
void pt_ai_plan_init(pt_ai_plan *plan, const pt_ai_config *cfg, const pt_ai_model *model, uint64_t rnd);
/* The next attempt, given how the previous one failed (PT_AI_OK / ignored on the
 * first call). False when nothing is left to try. */
bool pt_ai_plan_next(pt_ai_plan *plan, int last_kind, uint64_t now_ms, pt_ai_attempt *out);
/* Why the first pt_ai_plan_next() gave nothing: every key cooling down (429 with the
 * shortest remaining cool-down as retry-after) or none usable (502). Returns -1. */
struct pt_ai_error;
int pt_ai_plan_none_error(const pt_ai_plan *plan, const char *model, uint64_t now_ms, struct pt_ai_error *err);

#endif
