/* caps.c: the built-in parameter rules and applying a rule to a request (see caps.h). */
#include "ai/caps.h"

#include <math.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "ai/price.h"

#define SAMPLING_DEFAULT (PT_AI_CAP_FIXED_TEMPERATURE | PT_AI_CAP_FIXED_TOP_P)
#define OPENAI_USER_MAX 64

static const pt_ai_cap openai_rules[] = {
    { "*", PT_AI_CAP_MAX_USER, 0, 0, OPENAI_USER_MAX, PT_AI_CAP_CLAMP },
    { "o1*", SAMPLING_DEFAULT | PT_AI_CAP_MAX_USER, 1, 1, OPENAI_USER_MAX, PT_AI_CAP_CLAMP },
    { "o3*", SAMPLING_DEFAULT | PT_AI_CAP_MAX_USER, 1, 1, OPENAI_USER_MAX, PT_AI_CAP_CLAMP },
    { "o4*", SAMPLING_DEFAULT | PT_AI_CAP_MAX_USER, 1, 1, OPENAI_USER_MAX, PT_AI_CAP_CLAMP },
    { "gpt-5*", SAMPLING_DEFAULT | PT_AI_CAP_MAX_USER, 1, 1, OPENAI_USER_MAX, PT_AI_CAP_CLAMP },
    { "gpt-5-chat*", PT_AI_CAP_MAX_USER, 0, 0, OPENAI_USER_MAX, PT_AI_CAP_CLAMP },
};

static const pt_ai_cap anthropic_rules[] = {
    { "claude-sonnet-4-5*", PT_AI_CAP_EXCLUSIVE, 0, 0, 0, PT_AI_CAP_CLAMP },
    { "claude-haiku-4-5*", PT_AI_CAP_EXCLUSIVE, 0, 0, 0, PT_AI_CAP_CLAMP },
    { "claude-opus-4-5*", PT_AI_CAP_EXCLUSIVE, 0, 0, 0, PT_AI_CAP_CLAMP },
    { "claude-opus-4-1*", PT_AI_CAP_EXCLUSIVE, 0, 0, 0, PT_AI_CAP_CLAMP },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const pt_ai_cap *best(const pt_ai_cap *rules, size_t n, const char *model, size_t *quality)
{
    const pt_ai_cap *found = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t q = pt_ai_model_match(rules[i].model, model);
        if (q > *quality) {
            *quality = q;
            found = &rules[i];
        }
    }
    return found;
}

const pt_ai_cap *pt_ai_caps_find(const pt_ai_provider *provider, const char *model)
{
    if (!model) return NULL;
    size_t q = 0;
    const pt_ai_cap *own = provider ? best(provider->caps, provider->ncaps, model, &q) : NULL;
    const pt_ai_cap *builtin = NULL;
    if (provider && (provider->type == PT_AI_PROV_OPENAI || provider->type == PT_AI_PROV_AZURE))
        builtin = best(openai_rules, N(openai_rules), model, &q); /* only a closer match replaces own */
    else if (provider && provider->type == PT_AI_PROV_ANTHROPIC)
        builtin = best(anthropic_rules, N(anthropic_rules), model, &q);
    return builtin ? builtin : own;
}

static bool set(double v) { return !isnan(v); }

static bool breaks_fixed(const pt_ai_cap *c, unsigned bit, double v, double want)
{
    return (c->has & bit) && set(v) && v != want;
}

static bool breaks_max(const pt_ai_cap *c, unsigned bit, double v, double max)
{
    return (c->has & bit) && set(v) && v > max;
}

bool pt_ai_caps_breaks(const pt_ai_cap *c, const pt_pivot_req *r)
{
    if (!c) return false;
    return breaks_fixed(c, PT_AI_CAP_FIXED_TEMPERATURE, r->temperature, c->temperature) ||
           breaks_fixed(c, PT_AI_CAP_FIXED_TOP_P, r->top_p, c->top_p) ||
           breaks_max(c, PT_AI_CAP_MAX_TEMPERATURE, r->temperature, c->temperature) ||
           breaks_max(c, PT_AI_CAP_MAX_TOP_P, r->top_p, c->top_p) ||
           ((c->has & PT_AI_CAP_EXCLUSIVE) && set(r->temperature) && set(r->top_p)) ||
           ((c->has & PT_AI_CAP_MAX_USER) && r->user.len > c->max_user);
}

static int refuse(pt_ai_error *err, const char *param, const char *model, const char *what)
{
    return pt_ai_error_set(err, PT_AI_ERR_INVALID, 400, param, "The model '%s' %s", model, what);
}

/* One numeric parameter against a fixed or maximum value. */
static int number(const pt_ai_cap *c, double *v, double limit, bool fixed, const char *param, const char *model,
                  pt_ai_error *err)
{
    char what[96];
    snprintf(what, sizeof what, fixed ? "takes only %s=%g" : "takes %s of at most %g", param, limit);
    if (c->action == PT_AI_CAP_REFUSE) return refuse(err, param, model, what);
    *v = c->action == PT_AI_CAP_DROP ? NAN : limit;
    return 0;
}

/* "u-" and as many hex digits of the id's SHA-256 as fit: stable per user, not reversible. */
static int user_digest(pt_pivot_req *r, size_t max, pt_pool *pool)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)r->user.ptr, r->user.len, h);
    size_t n = max < 2 + 2 * sizeof h ? max : 2 + 2 * sizeof h;
    char *s = pt_pool_alloc(pool, n + 1);
    if (!s) return -1;
    char hex[2 + 2 * SHA256_DIGEST_LENGTH + 1] = "u-";
    for (size_t i = 0; i < sizeof h; i++) snprintf(hex + 2 + 2 * i, 3, "%02x", h[i]);
    memcpy(s, hex, n);
    s[n] = '\0';
    r->user = pt_slice_from(s, n);
    return 0;
}

int pt_ai_caps_apply(const pt_ai_cap *c, const char *model, pt_pivot_req *r, pt_pool *pool, pt_ai_error *err)
{
    if (!pt_ai_caps_breaks(c, r)) return 0;
    int rc = 0;
    if (breaks_fixed(c, PT_AI_CAP_FIXED_TEMPERATURE, r->temperature, c->temperature))
        rc = number(c, &r->temperature, c->temperature, true, "temperature", model, err);
    if (!rc && breaks_max(c, PT_AI_CAP_MAX_TEMPERATURE, r->temperature, c->temperature))
        rc = number(c, &r->temperature, c->temperature, false, "temperature", model, err);
    if (!rc && breaks_fixed(c, PT_AI_CAP_FIXED_TOP_P, r->top_p, c->top_p))
        rc = number(c, &r->top_p, c->top_p, true, "top_p", model, err);
    if (!rc && breaks_max(c, PT_AI_CAP_MAX_TOP_P, r->top_p, c->top_p))
        rc = number(c, &r->top_p, c->top_p, false, "top_p", model, err);
    if (!rc && (c->has & PT_AI_CAP_EXCLUSIVE) && set(r->temperature) && set(r->top_p)) {
        if (c->action == PT_AI_CAP_REFUSE) rc = refuse(err, "top_p", model, "takes temperature or top_p, not both");
        else r->top_p = NAN;
    }
    if (!rc && (c->has & PT_AI_CAP_MAX_USER) && r->user.len > c->max_user) {
        char what[64];
        snprintf(what, sizeof what, "takes a user id of at most %zu characters", c->max_user);
        if (c->action == PT_AI_CAP_REFUSE) rc = refuse(err, "user", model, what);
        else if (c->action == PT_AI_CAP_DROP) r->user = PT_SLICE_NULL;
        else if (user_digest(r, c->max_user, pool) != 0)
            rc = pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "out of memory");
    }
    return rc ? -1 : 0;
}
