/* ai_config.c: the AI configuration at run time: lookups, API key state and the
 * routing plan (see ai_config.h; ai_config_load.c reads the sections). */
#include "ai/ai_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/gauth.h"
#include "ai/pivot.h"
#include "ai/price.h"
#include "core/log.h"

static const char *type_names[] = { "openai", "azure", "anthropic", "gemini", "mistral", "openai_compatible", "bedrock", "vertex" };

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

/* A secret is wiped before its memory goes back. */
static void free_secret(char *s)
{
    if (s) memset(s, 0, strlen(s));
    free(s);
}

void pt_ai_config_start(pt_ai_config *cfg)
{
    for (size_t i = 0; cfg && i < cfg->nproviders; i++)
        if (cfg->providers[i].gauth) pt_gauth_start(cfg->providers[i].gauth, cfg->providers[i].name);
}

void pt_ai_config_free(pt_ai_config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; i < cfg->nproviders; i++) {
        pt_ai_provider *p = &cfg->providers[i];
        free(p->name);
        free(p->base_url);
        free(p->host);
        free(p->host_line);
        free(p->path_prefix);
        for (size_t k = 0; k < p->nkeys; k++) {
            free_secret(p->keys[k].value);
            free_secret(p->keys[k].bearer);
        }
        free(p->keys);
        free(p->api_version);
        free(p->region);
        free(p->access_key_id);
        free_secret(p->secret_access_key);
        free_secret(p->session_token);
        free(p->project);
        free(p->credentials);
        pt_gauth_release(p->gauth);
        pt_cfg_kv_free(p->deployments, p->ndeployments);
        pt_cfg_kv_free(p->headers, p->nheaders);
        for (size_t k = 0; k < p->nprices; k++) free(p->prices[k].model);
        free(p->prices);
        for (size_t k = 0; k < p->ncaps; k++) free(p->caps[k].model);
        free(p->caps);
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
