/* ai_metrics.c: lock-free AI call counters and their Prometheus text (see ai_metrics.h). */
#include "ai/ai_metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKINDS (PT_AI_ERR_INTERNAL + 1)

typedef struct series {
    char *model, *provider, *upstream; /* immutable once published */
    uint64_t hash;
    _Atomic uint64_t calls[NKINDS];    /* by outcome kind (PT_AI_OK = success) */
    _Atomic uint64_t input, output, cache_read, cache_write, reasoning;
    _Atomic uint64_t cost_pusd;
    _Atomic uint64_t ttft_us_sum, ttft_count;
} series;

static _Atomic(series *) table[PT_AI_METRICS_MAX_SERIES];
static _Atomic uint64_t dropped;

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h * 1099511628211ull; /* separates ("ab","c") from ("a","bc") */
}

static bool same(const series *s, uint64_t h, const char *m, const char *p, const char *u)
{
    return s->hash == h && strcmp(s->model, m) == 0 && strcmp(s->provider, p) == 0 && strcmp(s->upstream, u) == 0;
}

static void series_free(series *s)
{
    if (!s) return;
    free(s->model);
    free(s->provider);
    free(s->upstream);
    free(s);
}

static series *series_new(uint64_t h, const char *m, const char *p, const char *u)
{
    series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->hash = h;
    s->model = strdup(m);
    s->provider = strdup(p);
    s->upstream = strdup(u);
    if (s->model && s->provider && s->upstream) return s;
    series_free(s);
    return NULL;
}

/* The series of (m, p, u): found by linear probing, or published in the first empty
 * slot with one compare-and-swap (a thread that loses the race uses the winner's). */
static series *find(const char *m, const char *p, const char *u)
{
    uint64_t h = fnv(fnv(fnv(1469598103934665603ull, m), p), u);
    series *mine = NULL;
    for (size_t i = 0; i < PT_AI_METRICS_MAX_SERIES; i++) {
        _Atomic(series *) *slot = &table[(h + i) % PT_AI_METRICS_MAX_SERIES];
        series *s = atomic_load_explicit(slot, memory_order_acquire);
        if (!s) {
            if (!mine && !(mine = series_new(h, m, p, u))) return NULL;
            series *expected = NULL;
            if (atomic_compare_exchange_strong_explicit(slot, &expected, mine, memory_order_acq_rel,
                                                        memory_order_acquire))
                return mine;
            s = expected;
        }
        if (same(s, h, m, p, u)) {
            series_free(mine);
            return s;
        }
    }
    series_free(mine);
    return NULL;
}

void pt_ai_metrics_record(const char *model, const pt_ai_result *r)
{
    series *s = find(model ? model : "", r->provider ? r->provider : "", r->upstream_model ? r->upstream_model : "");
    if (!s) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    unsigned k = (unsigned)r->kind < NKINDS ? (unsigned)r->kind : PT_AI_ERR_INTERNAL;
    atomic_fetch_add_explicit(&s->calls[k], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->input, (uint64_t)r->usage.input, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->output, (uint64_t)r->usage.output, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->cache_read, (uint64_t)r->usage.cache_read, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->cache_write, (uint64_t)r->usage.cache_write, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->reasoning, (uint64_t)r->usage.reasoning, memory_order_relaxed);
    if (r->cost_known) atomic_fetch_add_explicit(&s->cost_pusd, r->cost_pico_usd, memory_order_relaxed);
    if (r->ttft_us) {
        atomic_fetch_add_explicit(&s->ttft_us_sum, r->ttft_us, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->ttft_count, 1, memory_order_relaxed);
    }
}

/* Prometheus label value: \ " and newline escaped. */
static void label(pt_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\') pt_buf_append_str(out, "\\\\");
        else if (*s == '"') pt_buf_append_str(out, "\\\"");
        else if (*s == '\n') pt_buf_append_str(out, "\\n");
        else pt_buf_append(out, s, 1);
    }
}

static void labels(pt_buf *out, const series *s, const char *extra_name, const char *extra)
{
    pt_buf_append_str(out, "{model=\"");
    label(out, s->model);
    pt_buf_append_str(out, "\",provider=\"");
    label(out, s->provider);
    pt_buf_append_str(out, "\",provider_model=\"");
    label(out, s->upstream);
    pt_buf_append_str(out, "\"");
    if (extra_name) pt_buf_printf(out, ",%s=\"%s\"", extra_name, extra);
    pt_buf_append_str(out, "}");
}

static void family(pt_buf *out, const char *name, const char *type, const char *help)
{
    pt_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pt_ai_metrics_render(pt_buf *out, void *arg)
{
    (void)arg;
    family(out, "portico_ai_calls_total", "counter", "AI calls by outcome (ok or the error kind).");
    for (size_t i = 0; i < PT_AI_METRICS_MAX_SERIES; i++) {
        series *s = atomic_load_explicit(&table[i], memory_order_acquire);
        for (unsigned k = 0; s && k < NKINDS; k++) {
            uint64_t v = atomic_load_explicit(&s->calls[k], memory_order_relaxed);
            if (!v) continue;
            pt_buf_append_str(out, "portico_ai_calls_total");
            labels(out, s, "outcome", pt_ai_err_kind_name((pt_ai_err_kind)k));
            pt_buf_printf(out, " %llu\n", (unsigned long long)v);
        }
    }
    family(out, "portico_ai_tokens_total", "counter", "Tokens reported by providers (or estimated), by kind.");
    static const char *kinds[] = { "input", "output", "cache_read", "cache_write", "reasoning" };
    for (size_t i = 0; i < PT_AI_METRICS_MAX_SERIES; i++) {
        series *s = atomic_load_explicit(&table[i], memory_order_acquire);
        if (!s) continue;
        _Atomic uint64_t *vals[] = { &s->input, &s->output, &s->cache_read, &s->cache_write, &s->reasoning };
        for (size_t k = 0; k < 5; k++) {
            pt_buf_append_str(out, "portico_ai_tokens_total");
            labels(out, s, "kind", kinds[k]);
            pt_buf_printf(out, " %llu\n", (unsigned long long)atomic_load_explicit(vals[k], memory_order_relaxed));
        }
    }
    family(out, "portico_ai_cost_usd_total", "counter", "Cost of the calls in US dollars, from the price table.");
    for (size_t i = 0; i < PT_AI_METRICS_MAX_SERIES; i++) {
        series *s = atomic_load_explicit(&table[i], memory_order_acquire);
        if (!s) continue;
        uint64_t p = atomic_load_explicit(&s->cost_pusd, memory_order_relaxed);
        pt_buf_append_str(out, "portico_ai_cost_usd_total");
        labels(out, s, NULL, NULL);
        /* exact decimal: pico-dollars written as dollars with 12 decimals */
        pt_buf_printf(out, " %llu.%012llu\n", (unsigned long long)(p / 1000000000000ull),
                      (unsigned long long)(p % 1000000000000ull));
    }
    family(out, "portico_ai_time_to_first_token_seconds", "summary", "Time from the upstream request to the first generated token.");
    for (size_t i = 0; i < PT_AI_METRICS_MAX_SERIES; i++) {
        series *s = atomic_load_explicit(&table[i], memory_order_acquire);
        if (!s) continue;
        uint64_t sum = atomic_load_explicit(&s->ttft_us_sum, memory_order_relaxed);
        pt_buf_append_str(out, "portico_ai_time_to_first_token_seconds_sum");
        labels(out, s, NULL, NULL);
        pt_buf_printf(out, " %llu.%06llu\n", (unsigned long long)(sum / 1000000), (unsigned long long)(sum % 1000000));
        pt_buf_append_str(out, "portico_ai_time_to_first_token_seconds_count");
        labels(out, s, NULL, NULL);
        pt_buf_printf(out, " %llu\n", (unsigned long long)atomic_load_explicit(&s->ttft_count, memory_order_relaxed));
    }
    family(out, "portico_ai_metrics_dropped_total", "counter", "Calls not counted because the series table was full.");
    pt_buf_printf(out, "portico_ai_metrics_dropped_total %llu\n",
                  (unsigned long long)atomic_load_explicit(&dropped, memory_order_relaxed));
}

void pt_ai_metrics_free(void)
{
    for (size_t i = 0; i < PT_AI_METRICS_MAX_SERIES; i++) {
        series_free(atomic_exchange(&table[i], NULL));
    }
    atomic_store(&dropped, 0);
}
