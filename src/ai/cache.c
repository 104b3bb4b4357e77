/* cache.c: the AI response cache's key, the request's say, and the in-process backend
 * (cache.h): a hash table of entries on one lock, with a list in order of use for
 * eviction. Each operation is one short critical section; the copy of a hit's bytes is
 * made under the lock, so an entry is never freed while it is being read. */
#include "ai/cache.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/str.h"

#define MIN_BUCKETS 64u

typedef struct entry {
    struct entry *next;            /* in its bucket */
    struct entry *newer, *older;   /* in the order of use */
    uint8_t key[PT_AI_CACHE_KEY_LEN];
    int64_t expires_ms;
    pt_ai_cached v;                /* v.body is owned */
} entry;

typedef struct local {
    pt_ai_cache base;
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets, count, bytes;
    entry *newest, *oldest;
    pt_ai_cache_stats st;
} local;

static size_t cost_of(const entry *e) { return sizeof *e + e->v.len; }

static size_t bucket_of(const local *l, const uint8_t *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h); /* a SHA-256: any 8 bytes are as good as a hash */
    return (size_t)(h % l->nbuckets);
}

static entry **find(local *l, const uint8_t *key)
{
    entry **p = &l->buckets[bucket_of(l, key)];
    while (*p && memcmp((*p)->key, key, PT_AI_CACHE_KEY_LEN) != 0) p = &(*p)->next;
    return p;
}

static void unlink_use(local *l, entry *e)
{
    if (e->newer) e->newer->older = e->older;
    else l->newest = e->older;
    if (e->older) e->older->newer = e->newer;
    else l->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void link_newest(local *l, entry *e)
{
    e->older = l->newest;
    e->newer = NULL;
    if (l->newest) l->newest->newer = e;
    l->newest = e;
    if (!l->oldest) l->oldest = e;
}

static void drop(local *l, entry *e)
{
    entry **p = find(l, e->key);
    if (*p == e) *p = e->next;
    unlink_use(l, e);
    l->count--;
    l->bytes -= cost_of(e);
    free(e->v.body);
    free(e);
}

static void grow(local *l)
{
    size_t n = l->nbuckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b) return; /* longer chains, still correct */
    for (size_t i = 0; i < l->nbuckets; i++)
        for (entry *e = l->buckets[i], *next; e; e = next) {
            next = e->next;
            uint64_t h;
            memcpy(&h, e->key, sizeof h);
            e->next = b[h % n];
            b[h % n] = e;
        }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = n;
}

static int local_get(pt_ai_cache *c, const uint8_t key[PT_AI_CACHE_KEY_LEN], int64_t now_ms, pt_ai_cached *out)
{
    local *l = (local *)c;
    int rc = 0;
    pthread_mutex_lock(&l->lock);
    entry *e = *find(l, key);
    if (e && e->expires_ms <= now_ms) {
        drop(l, e);
        e = NULL;
    }
    if (e) {
        *out = e->v;
        out->body = malloc(e->v.len ? e->v.len : 1);
        if (out->body) {
            memcpy(out->body, e->v.body, e->v.len);
            unlink_use(l, e);
            link_newest(l, e);
            l->st.hits++;
            l->st.saved_micro_usd += e->v.cost_micro_usd;
            rc = 1;
        } else {
            rc = PT_ENOMEM;
        }
    }
    if (rc != 1) l->st.misses++;
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static int local_put(pt_ai_cache *c, const uint8_t key[PT_AI_CACHE_KEY_LEN], const pt_ai_cached *v, int64_t ttl_ms,
                     int64_t now_ms, size_t cap)
{
    local *l = (local *)c;
    entry *e = calloc(1, sizeof *e);
    char *body = malloc(v->len ? v->len : 1);
    if (!e || !body) {
        free(e);
        free(body);
        return PT_ENOMEM;
    }
    memcpy(e->key, key, PT_AI_CACHE_KEY_LEN);
    e->v = *v;
    e->v.body = body;
    memcpy(body, v->body, v->len);
    e->expires_ms = now_ms + ttl_ms;
    if (cost_of(e) > cap) {
        free(body);
        free(e);
        return 0;
    }
    pthread_mutex_lock(&l->lock);
    entry *old = *find(l, key);
    if (old) drop(l, old);
    if (l->count >= l->nbuckets) grow(l);
    entry **slot = &l->buckets[bucket_of(l, key)];
    e->next = *slot;
    *slot = e;
    link_newest(l, e);
    l->count++;
    l->bytes += cost_of(e);
    l->st.stores++;
    while (l->bytes > cap && l->oldest && l->oldest != e) {
        drop(l, l->oldest);
        l->st.evictions++;
    }
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static void local_stats(pt_ai_cache *c, pt_ai_cache_stats *out)
{
    local *l = (local *)c;
    pthread_mutex_lock(&l->lock);
    *out = l->st;
    out->bytes = l->bytes;
    out->entries = l->count;
    pthread_mutex_unlock(&l->lock);
}

static void local_free(pt_ai_cache *c)
{
    local *l = (local *)c;
    if (!l) return;
    for (entry *e = l->newest, *next; e; e = next) {
        next = e->older;
        free(e->v.body);
        free(e);
    }
    free(l->buckets);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static const pt_ai_cache_ops local_ops = { local_get, local_put, local_stats, local_free };

pt_ai_cache *pt_ai_cache_local_new(void)
{
    local *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->base.ops = &local_ops;
    l->nbuckets = MIN_BUCKETS;
    l->buckets = calloc(l->nbuckets, sizeof *l->buckets);
    if (!l->buckets) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    return &l->base;
}

static pt_ai_cache *shared;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void shared_make(void) { shared = pt_ai_cache_local_new(); }

pt_ai_cache *pt_ai_cache_shared(void)
{
    pthread_once(&shared_once, shared_make);
    return shared;
}

/* ---- the key -------------------------------------------------------------------------- */

int pt_ai_cache_key(const char *scope, const char *model, pt_ai_format fmt, pt_ai_endpoint ep, int framing,
                    const char *body, size_t len, uint8_t out[PT_AI_CACHE_KEY_LEN])
{
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return PT_EINVAL;
    }
    /* who asks is the scope's business, not the answer's */
    json_object_del(root, "user");
    json_object_del(root, "metadata");
    char *canon = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(root);
    if (!canon) return PT_ENOMEM;
    char head[64];
    int n = snprintf(head, sizeof head, "portico-ai-cache-1|%d|%d|%d|", (int)fmt, (int)ep, framing);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int outlen = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) && EVP_DigestUpdate(md, head, (size_t)n) &&
             EVP_DigestUpdate(md, scope, strlen(scope) + 1) && EVP_DigestUpdate(md, model, strlen(model) + 1) &&
             EVP_DigestUpdate(md, canon, strlen(canon)) && EVP_DigestFinal_ex(md, out, &outlen);
    EVP_MD_CTX_free(md);
    free(canon);
    return ok && outlen == PT_AI_CACHE_KEY_LEN ? 0 : PT_ENOMEM;
}

/* ---- what the request says ------------------------------------------------------------ */

static bool token_in(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= n; i++) {
        bool start = i == 0 || v[i - 1] == ',' || v[i - 1] == ' ' || v[i - 1] == '\t';
        bool end = i + tl == n || v[i + tl] == ',' || v[i + tl] == ' ' || v[i + tl] == '\t' || v[i + tl] == '=';
        if (start && end && strncasecmp(v + i, tok, tl) == 0) return true;
    }
    return false;
}

pt_ai_cache_ask pt_ai_cache_ask_parse(const char *x_portico, size_t xlen, const char *cache_control, size_t cclen)
{
    if (x_portico) {
        pt_slice v = pt_slice_trim(pt_slice_from(x_portico, xlen));
        if (pt_slice_case_eq_cstr(v, "on")) return PT_AI_CACHE_ASK_ON;
        if (pt_slice_case_eq_cstr(v, "off")) return PT_AI_CACHE_ASK_OFF;
        if (pt_slice_case_eq_cstr(v, "refresh")) return PT_AI_CACHE_ASK_REFRESH;
        return PT_AI_CACHE_ASK_BAD;
    }
    if (cache_control && token_in(cache_control, cclen, "no-store")) return PT_AI_CACHE_ASK_OFF;
    if (cache_control && token_in(cache_control, cclen, "no-cache")) return PT_AI_CACHE_ASK_REFRESH;
    return PT_AI_CACHE_ASK_NONE;
}
