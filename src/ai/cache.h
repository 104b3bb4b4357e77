/* cache.h: the AI response cache, exact-match, behind one interface.
 *
 * An entry is the answer a client got, byte for byte as it went out (a whole JSON body, or
 * a stream's events), stored under a key that names everything the answer depends on: the
 * caller's scope (its consumer), the public model, the client format and endpoint, whether
 * it streamed, and the request body in canonical form (object members sorted, no
 * insignificant whitespace, without the members that only say who asks: user, metadata).
 * A replay is the same bytes, so a stream replays as a stream. What the answer cost is kept
 * with it, so a hit can say what it saved.
 *
 * The in-process backend here is one table shared by every worker thread, bounded in bytes
 * (least recently used entries go first) and by each entry's time to live. A backend for a
 * cluster (Redis) implements the same operations; times come from the caller. */
#ifndef PT_AI_CACHE_H
#define PT_AI_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ai/ai.h"

#define PT_AI_CACHE_KEY_LEN 32

typedef struct pt_ai_cache pt_ai_cache;

/* An entry as stored and as given back. body is the cache's own copy on put, and a copy
 * the caller frees (free()) on a hit. */
typedef struct pt_ai_cached {
    char content_type[40];
    char provider[64], model[128];       /* who made the answer */
    int64_t input_tokens, output_tokens; /* what it used */
    uint64_t cost_micro_usd;             /* what it cost (cost_known) */
    bool cost_known;
    int64_t stored_ms;                   /* when stored, on the caller's clock (Age) */
    char *body;
    size_t len;
} pt_ai_cached;

typedef struct pt_ai_cache_stats {
    uint64_t hits, misses, stores, evictions, saved_micro_usd;
    uint64_t bytes, entries;
} pt_ai_cache_stats;

typedef struct pt_ai_cache_ops {
    /* 1 and *out filled (body a fresh copy) when key holds an entry live at now_ms; 0 when
     * it holds none; PT_ENOMEM when the copy could not be made (counted as a miss). */
    int (*get)(pt_ai_cache *c, const uint8_t key[PT_AI_CACHE_KEY_LEN], int64_t now_ms, pt_ai_cached *out);
    /* Stores a copy of e under key until now_ms + ttl_ms, replacing what was there, then
     * evicts the least recently used entries until the whole takes at most cap bytes. An
     * entry larger than cap is not stored. 0, or PT_ENOMEM. */
    int (*put)(pt_ai_cache *c, const uint8_t key[PT_AI_CACHE_KEY_LEN], const pt_ai_cached *e, int64_t ttl_ms,
               int64_t now_ms, size_t cap);
    void (*stats)(pt_ai_cache *c, pt_ai_cache_stats *out);
    void (*free)(pt_ai_cache *c);
} pt_ai_cache_ops;

struct pt_ai_cache {
    const pt_ai_cache_ops *ops;
};

/* The in-process backend; NULL when out of memory. */
pt_ai_cache *pt_ai_cache_local_new(void);

/* The process's cache (made on first use; NULL only when out of memory). */
pt_ai_cache *pt_ai_cache_shared(void);

/* The key of a request: scope is the caller (consumer name, "" for none), model the public
 * name, framing pt_ai_request_framing()'s, body the client's JSON as it goes on. 0, or
 * PT_EINVAL when body is not a JSON object (such a request is not cached), PT_ENOMEM. */
int pt_ai_cache_key(const char *scope, const char *model, pt_ai_format fmt, pt_ai_endpoint ep, int framing,
                    const char *body, size_t len, uint8_t out[PT_AI_CACHE_KEY_LEN]);

/* How a request asks about the cache (X-Portico-Cache, or Cache-Control): */
typedef enum pt_ai_cache_ask {
    PT_AI_CACHE_ASK_NONE,    /* says nothing: the model's `when` decides */
    PT_AI_CACHE_ASK_ON,      /* "on": cache it even when it is not deterministic */
    PT_AI_CACHE_ASK_REFRESH, /* "refresh" / no-cache: do not read, store the new answer */
    PT_AI_CACHE_ASK_OFF,     /* "off" / no-store: neither read nor store */
    PT_AI_CACHE_ASK_BAD,     /* an X-Portico-Cache value that is none of these */
} pt_ai_cache_ask;

/* x_portico: the X-Portico-Cache value (ptr NULL when absent); cache_control likewise. */
pt_ai_cache_ask pt_ai_cache_ask_parse(const char *x_portico, size_t xlen, const char *cache_control, size_t cclen);

#endif
