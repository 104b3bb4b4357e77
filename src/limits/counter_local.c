/* counter_local.c: the in-process counter backend (counter.h): one hash table shared by
 * every worker thread, split into lock stripes so that keys on different stripes never
 * wait for each other. Each operation is one short critical section on its key's stripe,
 * which is what makes a limit exact under any number of concurrent callers. */
#include "limits/counter.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/hash.h"

#define STRIPES 64u
#define MIN_BUCKETS 16u
#define MIN_SWEEP 64u

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    uint64_t tat;      /* GCRA theoretical arrival time; 0: none */
    unsigned inflight;
    unsigned stripe;
    bool window, changed; /* a calendar window's total; changed since last visited */
    uint64_t total;
    int64_t expires;      /* wall-clock second the window ends */
    size_t keylen;
    char key[];
} entry;

/* Invariant: every entry of the stripe is in buckets[hash % nbuckets]; count entries. */
typedef struct stripe {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets, count, sweep_at;
} stripe;

typedef struct local {
    pt_counters base;
    stripe s[STRIPES];
} local;

/* A key is hashed on every call of every request; the hash lives in this process only. */
static uint64_t hash_key(pt_slice k) { return pt_hash_bytes(k.ptr, k.len); }

static void grow(stripe *s)
{
    size_t n = s->nbuckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b) return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++)
        for (entry *e = s->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[(e->hash / STRIPES) % n];
            b[(e->hash / STRIPES) % n] = e;
        }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

/* Drops every key that holds nothing at now (a window's total, once it is over and
 * visited since its last change). */
static void sweep(stripe *s, uint64_t now)
{
    int64_t wall = pt_limits_wall();
    for (size_t i = 0; i < s->nbuckets; i++)
        for (entry **p = &s->buckets[i]; *p;) {
            entry *e = *p;
            bool idle = e->window ? e->expires <= wall && !e->changed : pt_gcra_idle(e->tat, now);
            if (e->inflight == 0 && idle) {
                *p = e->next;
                free(e);
                s->count--;
            } else {
                p = &e->next;
            }
        }
    s->sweep_at = s->count * 2 > MIN_SWEEP ? s->count * 2 : MIN_SWEEP;
}

/* The key's entry in its (locked) stripe, created when absent; NULL when out of memory. */
static entry *find(local *l, stripe *s, pt_slice key, uint64_t h, uint64_t now)
{
    size_t b = (h / STRIPES) % s->nbuckets;
    for (entry *e = s->buckets[b]; e; e = e->next)
        if (e->hash == h && e->keylen == key.len && memcmp(e->key, key.ptr, key.len) == 0) return e;
    if (s->count >= s->sweep_at) sweep(s, now);
    if (s->count >= s->nbuckets) grow(s);
    entry *e = malloc(sizeof *e + key.len);
    if (!e) return NULL;
    *e = (entry){ .hash = h, .stripe = (unsigned)(h % STRIPES), .keylen = key.len };
    memcpy(e->key, key.ptr, key.len);
    b = (h / STRIPES) % s->nbuckets;
    e->next = s->buckets[b];
    s->buckets[b] = e;
    s->count++;
    (void)l;
    return e;
}

/* The key's locked stripe and its entry (NULL when out of memory); unlock(s) after. */
static entry *lock_key(local *l, pt_slice key, uint64_t now, stripe **s)
{
    uint64_t h = hash_key(key);
    *s = &l->s[h % STRIPES];
    pthread_mutex_lock(&(*s)->lock);
    return find(l, *s, key, h, now);
}

static int rate_take_n(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t n, uint64_t now, pt_gcra_result *out)
{
    stripe *s;
    entry *e = lock_key((local *)b, key, now, &s);
    if (e) {
        pt_gcra_take_n(g, e->tat, now, n, out);
        e->tat = out->tat;
    }
    pthread_mutex_unlock(&s->lock);
    return e ? 0 : PT_ENOMEM;
}

static int rate_take(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t now, pt_gcra_result *out)
{
    return rate_take_n(b, key, g, 1, now, out);
}

static void rate_adjust(pt_counters *b, pt_slice key, const pt_gcra *g, int64_t delta, uint64_t now)
{
    stripe *s;
    entry *e = lock_key((local *)b, key, now, &s);
    if (e) e->tat = pt_gcra_adjust(g, e->tat, now, delta);
    pthread_mutex_unlock(&s->lock);
}

static void rate_give_back(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t now)
{
    rate_adjust(b, key, g, -1, now);
}

static void window_mark(entry *e, int64_t expires)
{
    e->window = true;
    e->changed = true;
    if (expires > e->expires) e->expires = expires;
}

static int window_add(pt_counters *b, pt_slice key, int64_t delta, uint64_t limit, int64_t expires, uint64_t now,
                      uint64_t *total)
{
    stripe *s;
    entry *e = lock_key((local *)b, key, now, &s);
    int rc = e ? 0 : PT_ENOMEM;
    if (e && delta < 0) {
        e->total = e->total > (uint64_t)-delta ? e->total + (uint64_t)delta : 0;
        window_mark(e, expires);
    } else if (e && limit && (e->total >= limit || (uint64_t)delta > limit - e->total)) {
        rc = 1;
    } else if (e && delta) {
        e->total += (uint64_t)delta;
        window_mark(e, expires);
    }
    *total = e ? e->total : 0;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int window_load(pt_counters *b, pt_slice key, uint64_t total, int64_t expires, uint64_t now)
{
    stripe *s;
    entry *e = lock_key((local *)b, key, now, &s);
    if (e) {
        if (total > e->total) e->total = total;
        window_mark(e, expires);
        e->changed = false; /* it is what the store holds */
    }
    pthread_mutex_unlock(&s->lock);
    return e ? 0 : PT_ENOMEM;
}

static void window_each(pt_counters *b, bool changed_only,
                        void (*fn)(void *arg, pt_slice key, uint64_t total, int64_t expires), void *arg)
{
    local *l = (local *)b;
    for (unsigned i = 0; i < STRIPES; i++) {
        stripe *s = &l->s[i];
        pthread_mutex_lock(&s->lock);
        for (size_t j = 0; j < s->nbuckets; j++)
            for (entry *e = s->buckets[j]; e; e = e->next)
                if (e->window && (e->changed || !changed_only)) {
                    e->changed = false;
                    fn(arg, (pt_slice){ e->key, e->keylen }, e->total, e->expires);
                }
        pthread_mutex_unlock(&s->lock);
    }
}

static int inflight_acquire(pt_counters *b, pt_slice key, unsigned max, uint64_t now, unsigned *inflight, void **held)
{
    local *l = (local *)b;
    uint64_t h = hash_key(key);
    stripe *s = &l->s[h % STRIPES];
    *held = NULL;
    pthread_mutex_lock(&s->lock);
    entry *e = find(l, s, key, h, now);
    if (e && e->inflight < max) {
        e->inflight++;
        *held = e;
    }
    *inflight = e ? e->inflight : 0;
    pthread_mutex_unlock(&s->lock);
    return e ? 0 : PT_ENOMEM;
}

/* An entry with something in flight is never swept, so held stays valid until here. */
static void inflight_release(pt_counters *b, void *held)
{
    local *l = (local *)b;
    entry *e = held;
    stripe *s = &l->s[e->stripe];
    pthread_mutex_lock(&s->lock);
    if (e->inflight) e->inflight--;
    pthread_mutex_unlock(&s->lock);
}

static size_t size(pt_counters *b)
{
    local *l = (local *)b;
    size_t n = 0;
    for (unsigned i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&l->s[i].lock);
        n += l->s[i].count;
        pthread_mutex_unlock(&l->s[i].lock);
    }
    return n;
}

static void local_free(pt_counters *b)
{
    local *l = (local *)b;
    if (!l) return;
    for (unsigned i = 0; i < STRIPES; i++) {
        stripe *s = &l->s[i];
        for (size_t j = 0; s->buckets && j < s->nbuckets; j++)
            for (entry *e = s->buckets[j], *next; e; e = next) {
                next = e->next;
                free(e);
            }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(l);
}

static const pt_counter_ops local_ops = {
    .rate_take = rate_take,
    .rate_give_back = rate_give_back,
    .inflight_acquire = inflight_acquire,
    .inflight_release = inflight_release,
    .rate_take_n = rate_take_n,
    .rate_adjust = rate_adjust,
    .window_add = window_add,
    .window_each = window_each,
    .window_load = window_load,
    .size = size,
    .free = local_free,
};

pt_counters *pt_counters_local_new(void)
{
    local *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->base.ops = &local_ops;
    for (unsigned i = 0; i < STRIPES; i++) {
        stripe *s = &l->s[i];
        pthread_mutex_init(&s->lock, NULL);
        s->nbuckets = MIN_BUCKETS;
        s->sweep_at = MIN_SWEEP;
        s->buckets = calloc(MIN_BUCKETS, sizeof *s->buckets);
        if (!s->buckets) {
            local_free(&l->base);
            return NULL;
        }
    }
    return &l->base;
}

/* ---- the clock ---- */

static uint64_t real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static _Atomic(pt_limits_clock_fn) clock_fn = real_now;

void pt_limits_set_clock(pt_limits_clock_fn fn) { atomic_store(&clock_fn, fn ? fn : real_now); }

uint64_t pt_limits_now(void) { return atomic_load_explicit(&clock_fn, memory_order_relaxed)(); }

static int64_t real_wall(void) { return (int64_t)time(NULL); }

static _Atomic(pt_limits_wall_fn) wall_fn = real_wall;

void pt_limits_set_wall_clock(pt_limits_wall_fn fn) { atomic_store(&wall_fn, fn ? fn : real_wall); }

int64_t pt_limits_wall(void) { return atomic_load_explicit(&wall_fn, memory_order_relaxed)(); }
