/* balancer.c: the target registry, target selection and passive/active health (see balancer.h). */
#include "gateway/balancer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

/* ---- registry: a fixed chained hash under one mutex, touched only when configs load ---- */

#define REGISTRY_BUCKETS 1024u

typedef struct reg_entry {
    struct reg_entry *next;
    size_t service_len;  /* where the service ends in state.key: a name may hold '|' */
    pt_target_state state;
} reg_entry;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_entry *registry[REGISTRY_BUCKETS];

static uint32_t key_hash(const char *a, const char *b)
{
    uint32_t h = 2166136261u; /* FNV-1a over a "|" b */
    for (const char *p = a; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ '|') * 16777619u;
    for (const char *p = b; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

static bool entry_is(const reg_entry *e, const char *service, const char *url)
{
    size_t sl = strlen(service);
    return e->service_len == sl && memcmp(e->state.key, service, sl) == 0 && strcmp(e->state.key + sl + 1, url) == 0;
}

static reg_entry *entry_new(const char *service, const char *url)
{
    size_t sl = strlen(service), ul = strlen(url);
    reg_entry *e = calloc(1, sizeof *e + sl + ul + 2);
    if (!e) return NULL;
    e->service_len = sl;
    char *key = (char *)(e + 1);
    memcpy(key, service, sl);
    key[sl] = '|';
    memcpy(key + sl + 1, url, ul + 1);
    pt_target_state *s = &e->state;
    s->key = key;
    atomic_init(&s->active, 0);
    atomic_init(&s->open_conns, 0);
    atomic_init(&s->idle_conns, 0);
    atomic_init(&s->consecutive_fails, 0);
    atomic_init(&s->ejected_until_ms, 0);
    atomic_init(&s->health, PT_HEALTH_UNKNOWN);
    atomic_init(&s->hc_ok_streak, 0);
    atomic_init(&s->hc_fail_streak, 0);
    atomic_init(&s->requests, 0);
    atomic_init(&s->failures, 0);
    atomic_init(&s->ejections, 0);
    return e;
}

pt_target_state *pt_target_state_get(const char *service, const char *url)
{
    uint32_t b = key_hash(service, url) % REGISTRY_BUCKETS;
    pthread_mutex_lock(&registry_lock);
    reg_entry *e = registry[b];
    while (e && !entry_is(e, service, url)) e = e->next;
    if (!e) {
        e = entry_new(service, url);
        if (e) {
            e->next = registry[b];
            registry[b] = e;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return e ? &e->state : NULL;
}

void pt_target_registry_free(void)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t b = 0; b < REGISTRY_BUCKETS; b++) {
        reg_entry *e = registry[b];
        while (e) {
            reg_entry *next = e->next;
            free(e);
            e = next;
        }
        registry[b] = NULL;
    }
    pthread_mutex_unlock(&registry_lock);
}

/* ---- selection ---- */

bool pt_target_available(const pt_target *t, uint64_t now_ms)
{
    const pt_target_state *s = t->state;
    if (atomic_load_explicit(&s->ejected_until_ms, memory_order_relaxed) > now_ms) return false;
    if (t->health_checked && atomic_load_explicit(&s->health, memory_order_relaxed) == PT_HEALTH_DOWN)
        return false;
    return true;
}

static bool is_excluded(const pt_target *t, pt_target *const *exclude, size_t nexclude)
{
    for (size_t i = 0; i < nexclude; i++)
        if (exclude[i] == t) return true;
    return false;
}

static bool eligible(const pt_target *t, pt_target *const *exclude, size_t nexclude, uint64_t now_ms)
{
    return !is_excluded(t, exclude, nexclude) && pt_target_available(t, now_ms);
}

static pt_target *pick_round_robin(pt_service *svc, unsigned c, pt_target *const *ex, size_t nex,
                                   uint64_t now_ms)
{
    size_t n = svc->ntargets;
    for (size_t i = 0; i < n; i++) {
        pt_target *t = &svc->targets[(c + i) % n];
        if (eligible(t, ex, nex, now_ms)) return t;
    }
    return NULL;
}

/* The scheduled slot when its target is eligible; otherwise a pick proportional to
 * weight among the eligible ones (cumulative walk), so a missing target's share spreads
 * over the others by weight instead of all landing on its successor. */
static pt_target *pick_weighted(pt_service *svc, unsigned c, pt_target *const *ex, size_t nex,
                                uint64_t now_ms)
{
    if (svc->nwrr_slots) {
        pt_target *t = &svc->targets[svc->wrr_slots[c % svc->nwrr_slots]];
        if (eligible(t, ex, nex, now_ms)) return t;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < svc->ntargets; i++)
        if (eligible(&svc->targets[i], ex, nex, now_ms)) total += svc->targets[i].weight;
    if (total == 0) return NULL;
    uint64_t x = c % total;
    for (size_t i = 0; i < svc->ntargets; i++) {
        pt_target *t = &svc->targets[i];
        if (!eligible(t, ex, nex, now_ms)) continue;
        if (x < t->weight) return t;
        x -= t->weight;
    }
    return NULL; /* not reached: x < total */
}

static pt_target *pick_least_conn(pt_service *svc, unsigned c, pt_target *const *ex, size_t nex,
                                  uint64_t now_ms)
{
    size_t n = svc->ntargets;
    pt_target *best = NULL;
    int best_active = 0;
    for (size_t i = 0; i < n; i++) {
        pt_target *t = &svc->targets[(c + i) % n];
        if (!eligible(t, ex, nex, now_ms)) continue;
        int a = atomic_load_explicit(&t->state->active, memory_order_relaxed);
        if (!best || a < best_active) {
            best = t;
            best_active = a;
        }
    }
    return best;
}

/* Fail open: every non-excluded target is unavailable, so take the one whose ejection
 * ends first (ties in cursor order). */
static pt_target *pick_fallback(pt_service *svc, unsigned c, pt_target *const *ex, size_t nex)
{
    size_t n = svc->ntargets;
    pt_target *best = NULL;
    uint64_t best_until = 0;
    for (size_t i = 0; i < n; i++) {
        pt_target *t = &svc->targets[(c + i) % n];
        if (is_excluded(t, ex, nex)) continue;
        uint64_t until = atomic_load_explicit(&t->state->ejected_until_ms, memory_order_relaxed);
        if (!best || until < best_until) {
            best = t;
            best_until = until;
        }
    }
    return best;
}

pt_target *pt_balancer_pick(pt_service *svc, pt_target *const *exclude, size_t nexclude,
                            uint64_t now_ms)
{
    if (!svc || svc->ntargets == 0) return NULL;
    unsigned c = atomic_fetch_add_explicit(&svc->rr_cursor, 1, memory_order_relaxed);
    pt_target *t = NULL;
    switch (svc->lb) {
    case PT_LB_ROUND_ROBIN: t = pick_round_robin(svc, c, exclude, nexclude, now_ms); break;
    case PT_LB_WEIGHTED: t = pick_weighted(svc, c, exclude, nexclude, now_ms); break;
    case PT_LB_LEAST_CONN: t = pick_least_conn(svc, c, exclude, nexclude, now_ms); break;
    }
    if (!t) t = pick_fallback(svc, c, exclude, nexclude);
    return t;
}

/* ---- health ---- */

void pt_balancer_report(const pt_service *svc, pt_target *t, bool ok, uint64_t now_ms)
{
    pt_target_state *s = t->state;
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
    if (ok) {
        atomic_store_explicit(&s->consecutive_fails, 0, memory_order_relaxed);
        uint64_t until = atomic_load_explicit(&s->ejected_until_ms, memory_order_relaxed);
        if (until != 0 && until <= now_ms &&
            atomic_compare_exchange_strong(&s->ejected_until_ms, &until, 0))
            pt_log_info("service '%s': target %s is back in rotation after an ejection", svc->name,
                        t->url);
        return;
    }
    atomic_fetch_add_explicit(&s->failures, 1, memory_order_relaxed);
    unsigned max = svc->passive.max_fails;
    if (max == 0) return;
    unsigned fails = atomic_fetch_add_explicit(&s->consecutive_fails, 1, memory_order_relaxed) + 1;
    if (fails < max) return;
    uint64_t until = atomic_load_explicit(&s->ejected_until_ms, memory_order_relaxed);
    if (until > now_ms) return; /* already out: late failures of in-flight exchanges */
    if (!atomic_compare_exchange_strong(&s->ejected_until_ms, &until, now_ms + svc->passive.eject_ms))
        return; /* another worker ejected it first */
    atomic_store_explicit(&s->consecutive_fails, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->ejections, 1, memory_order_relaxed);
    pt_log_warn("service '%s': target %s ejected for %llu ms after %u consecutive failures",
                svc->name, t->url, (unsigned long long)svc->passive.eject_ms, fails);
}

void pt_health_record(const pt_service *svc, pt_target *t, bool ok)
{
    pt_target_state *s = t->state;
    if (ok) {
        atomic_store(&s->hc_fail_streak, 0);
        unsigned streak = atomic_fetch_add(&s->hc_ok_streak, 1) + 1;
        if (streak < svc->health.healthy_threshold) return;
        int prev = atomic_exchange(&s->health, PT_HEALTH_UP);
        if (prev == PT_HEALTH_DOWN)
            pt_log_info("service '%s': target %s is healthy again", svc->name, t->url);
        return;
    }
    atomic_store(&s->hc_ok_streak, 0);
    unsigned streak = atomic_fetch_add(&s->hc_fail_streak, 1) + 1;
    if (streak < svc->health.unhealthy_threshold) return;
    int prev = atomic_exchange(&s->health, PT_HEALTH_DOWN);
    if (prev != PT_HEALTH_DOWN)
        pt_log_warn("service '%s': target %s marked down after %u failed health checks", svc->name,
                    t->url, streak);
}

/* ---- load-time support ---- */

static unsigned gcd(unsigned a, unsigned b)
{
    while (b) {
        unsigned t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int pt__balancer_prepare(pt_service *svc)
{
    free(svc->wrr_slots);
    svc->wrr_slots = NULL;
    svc->nwrr_slots = 0;
    if (svc->lb != PT_LB_WEIGHTED || svc->ntargets == 0) return 0;

    /* Weights 10, 20, 30 schedule like 1, 2, 3: the period shrinks by their gcd. */
    unsigned g = 0;
    for (size_t i = 0; i < svc->ntargets; i++) g = gcd(g, svc->targets[i].weight);
    if (g == 0) g = 1;
    size_t total = 0;
    for (size_t i = 0; i < svc->ntargets; i++) total += svc->targets[i].weight / g;
    unsigned *slots = malloc(total * sizeof *slots);
    long long *cur = calloc(svc->ntargets, sizeof *cur);
    if (!slots || !cur) {
        free(slots);
        free(cur);
        return PT_ENOMEM;
    }
    /* Smooth weighted round robin: each step every target gains its weight, the
     * largest (first on ties) is picked and pays the total. After `total` steps every
     * counter is back to 0, so this one period repeats forever. */
    for (size_t k = 0; k < total; k++) {
        size_t best = 0;
        for (size_t i = 0; i < svc->ntargets; i++) {
            cur[i] += svc->targets[i].weight / g;
            if (cur[i] > cur[best]) best = i;
        }
        cur[best] -= (long long)total;
        slots[k] = (unsigned)best;
    }
    free(cur);
    svc->wrr_slots = slots;
    svc->nwrr_slots = total;
    return 0;
}
