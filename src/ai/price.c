/* price.c: the built-in price table and cost arithmetic (see price.h). */
#include "ai/price.h"

#include <stdio.h>
#include <string.h>

/* USD per million tokens -> micro-dollars per million tokens */
#define USD(x) ((int64_t)((x) * 1000000.0 + 0.5))
#define NONE (-1)

typedef struct price_row {
    const char *model; /* exact, or a prefix ending in '*' */
    int64_t in, out, cache_read, cache_write;
} price_row;

/* List prices per million tokens, standard tier (no batch discount, prompts within the
 * base context tier). Anthropic cache writes are the 5-minute write price. Compiled
 * 2026-11 from the providers' published pricing pages; see docs/AI.md. */
static const price_row table[] = {
    /* OpenAI */
    { "gpt-5*", USD(1.25), USD(10.00), USD(0.125), NONE },
    { "gpt-5-mini*", USD(0.25), USD(2.00), USD(0.025), NONE },
    { "gpt-5-nano*", USD(0.05), USD(0.40), USD(0.005), NONE },
    { "gpt-4.1*", USD(2.00), USD(8.00), USD(0.50), NONE },
    { "gpt-4.1-mini*", USD(0.40), USD(1.60), USD(0.10), NONE },
    { "gpt-4.1-nano*", USD(0.10), USD(0.40), USD(0.025), NONE },
    { "gpt-4o*", USD(2.50), USD(10.00), USD(1.25), NONE },
    { "gpt-4o-mini*", USD(0.15), USD(0.60), USD(0.075), NONE },
    { "o3*", USD(2.00), USD(8.00), USD(0.50), NONE },
    { "o3-mini*", USD(1.10), USD(4.40), USD(0.55), NONE },
    { "o4-mini*", USD(1.10), USD(4.40), USD(0.275), NONE },
    { "text-embedding-3-small", USD(0.02), 0, NONE, NONE },
    { "text-embedding-3-large", USD(0.13), 0, NONE, NONE },
    { "text-embedding-ada-002", USD(0.10), 0, NONE, NONE },
    /* Anthropic */
    { "claude-opus-4-5*", USD(5.00), USD(25.00), USD(0.50), USD(6.25) },
    { "claude-opus-4-1*", USD(15.00), USD(75.00), USD(1.50), USD(18.75) },
    { "claude-opus-4*", USD(15.00), USD(75.00), USD(1.50), USD(18.75) },
    { "claude-sonnet-4*", USD(3.00), USD(15.00), USD(0.30), USD(3.75) },
    { "claude-3-7-sonnet*", USD(3.00), USD(15.00), USD(0.30), USD(3.75) },
    { "claude-haiku-4-5*", USD(1.00), USD(5.00), USD(0.10), USD(1.25) },
    { "claude-3-5-haiku*", USD(0.80), USD(4.00), USD(0.08), USD(1.00) },
    { "claude-3-haiku*", USD(0.25), USD(1.25), USD(0.03), USD(0.30) },
    /* Google Gemini */
    { "gemini-2.5-pro*", USD(1.25), USD(10.00), USD(0.125), NONE },
    { "gemini-2.5-flash*", USD(0.30), USD(2.50), USD(0.03), NONE },
    { "gemini-2.5-flash-lite*", USD(0.10), USD(0.40), USD(0.01), NONE },
    { "gemini-2.0-flash*", USD(0.10), USD(0.40), USD(0.025), NONE },
    { "gemini-2.0-flash-lite*", USD(0.075), USD(0.30), NONE, NONE },
    { "gemini-embedding-001", USD(0.15), 0, NONE, NONE },
    /* Mistral */
    { "mistral-large*", USD(2.00), USD(6.00), NONE, NONE },
    { "mistral-medium*", USD(0.40), USD(2.00), NONE, NONE },
    { "mistral-small*", USD(0.10), USD(0.30), NONE, NONE },
    { "codestral*", USD(0.30), USD(0.90), NONE, NONE },
    { "mistral-embed", USD(0.10), 0, NONE, NONE },
    /* DeepSeek */
    { "deepseek-chat", USD(0.28), USD(0.42), USD(0.028), NONE },
    { "deepseek-reasoner", USD(0.28), USD(0.42), USD(0.028), NONE },
};

size_t pt_ai_model_match(const char *pattern, const char *model)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') {
        if (strncmp(pattern, model, n - 1) == 0) return n; /* 1 + (n-1) */
        return 0;
    }
    return strcmp(pattern, model) == 0 ? (size_t)-1 : 0;
}

static bool lookup_one(const pt_ai_provider *p, const char *model, pt_ai_price *out)
{
    size_t best = 0;
    if (p) {
        for (size_t i = 0; i < p->nprices; i++) {
            size_t q = pt_ai_model_match(p->prices[i].model, model);
            if (q > best) {
                best = q;
                *out = p->prices[i].price;
            }
        }
        if (best) return true;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        size_t q = pt_ai_model_match(table[i].model, model);
        if (q > best) {
            best = q;
            out->input = table[i].in;
            out->output = table[i].out;
            out->cache_read = table[i].cache_read;
            out->cache_write = table[i].cache_write;
        }
    }
    return best > 0;
}

bool pt_price_lookup(const pt_ai_provider *provider, const char *model, pt_ai_price *out)
{
    if (!model) return false;
    if (lookup_one(provider, model, out)) return true;
    const char *slash = strrchr(model, '/');
    return slash && slash[1] && lookup_one(provider, slash + 1, out);
}

bool pt_price_for(const pt_ai_provider *provider, const char *model, pt_ai_price *out)
{
    if (pt_price_lookup(provider, model, out)) return true;
    return provider && provider->type == PT_AI_PROV_AZURE &&
           pt_price_lookup(provider, pt_ai_provider_deployment(provider, model), out);
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    if (a && b > UINT64_MAX / a) return UINT64_MAX;
    return a * b;
}

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t pt_price_cost_pusd(const pt_ai_price *p, const pt_usage *u)
{
    uint64_t in = p->input > 0 ? (uint64_t)p->input : 0;
    uint64_t out = p->output > 0 ? (uint64_t)p->output : 0;
    uint64_t cr = p->cache_read >= 0 ? (uint64_t)p->cache_read : in;
    uint64_t cw = p->cache_write >= 0 ? (uint64_t)p->cache_write : in;
    uint64_t c = mul_sat((uint64_t)pt_usage_get(u->input), in);
    c = add_sat(c, mul_sat((uint64_t)pt_usage_get(u->output), out));
    c = add_sat(c, mul_sat((uint64_t)pt_usage_get(u->cache_read), cr));
    c = add_sat(c, mul_sat((uint64_t)pt_usage_get(u->cache_write), cw));
    return c;
}

bool pt_price_parse_usd(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    int64_t whole = 0, frac = 0;
    int fdigits = 0;
    const char *p = s;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') {
        whole = whole * 10 + (*p - '0');
        if (whole > 1000000000) return false;
        p++;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') {
            if (++fdigits > 6) return false;
            frac = frac * 10 + (*p - '0');
            p++;
        }
    }
    if (*p) return false;
    for (int i = fdigits; i < 6; i++) frac *= 10;
    *out = whole * 1000000 + frac;
    return true;
}
