/* arena.c: bump allocator for request-lifetime AI memory (see arena.h). */
#include "ai/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/recycle.h"

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16

struct pt__arena_blk {
    struct pt__arena_blk *next;
    size_t size;
    _Alignas(ARENA_ALIGN) unsigned char mem[];
};

void pt_ai_arena_init(pt_ai_arena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->total = 0;
    a->limit = limit;
}

/* Standard blocks are kept per worker for the next request's arena. */
static PT_RECYCLER(blocks);

void pt_ai_arena_release(pt_ai_arena *a)
{
    struct pt__arena_blk *b = a->head;
    while (b) {
        struct pt__arena_blk *n = b->next;
        if (b->size == ARENA_BLOCK) pt_recycle_put(&blocks, b, 32);
        else free(b);
        b = n;
    }
    a->head = NULL;
    a->used = a->total = 0;
}

static struct pt__arena_blk *new_block(pt_ai_arena *a, size_t size)
{
    struct pt__arena_blk *b = size == ARENA_BLOCK ? pt_recycle_get_raw(&blocks, sizeof *b + size) : malloc(sizeof *b + size);
    if (!b) return NULL;
    b->size = size;
    b->next = a->head;
    a->head = b;
    return b;
}

void *pt_ai_arena_alloc(pt_ai_arena *a, size_t n)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX / 2) return NULL;
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (a->limit && (a->total + rounded > a->limit)) return NULL;
#ifdef PT_NO_ARENA
    struct pt__arena_blk *b = new_block(a, rounded);
    if (!b) return NULL;
    /* keep a full block in head's position out of the bump path */
    a->used = rounded;
    a->total += rounded;
    memset(b->mem, 0, rounded);
    return b->mem;
#else
    if (!a->head || a->head->size - a->used < rounded) {
        if (rounded > ARENA_BLOCK / 2) {
            /* a big allocation gets its own block behind the current one */
            struct pt__arena_blk *big = malloc(sizeof *big + rounded);
            if (!big) return NULL;
            big->size = rounded;
            if (a->head) {
                big->next = a->head->next;
                a->head->next = big;
            } else {
                big->next = NULL;
                a->head = big;
                a->used = rounded;
            }
            a->total += rounded;
            memset(big->mem, 0, rounded);
            return big->mem;
        }
        if (!new_block(a, ARENA_BLOCK)) return NULL;
        a->used = 0;
    }
    void *p = a->head->mem + a->used;
    a->used += rounded;
    a->total += rounded;
    memset(p, 0, rounded);
    return p;
#endif
}

char *pt_ai_arena_strndup(pt_ai_arena *a, const char *s, size_t n)
{
    char *p = pt_ai_arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

pt_slice pt_ai_arena_slice(pt_ai_arena *a, pt_slice s)
{
    if (!s.len) return PT_SLICE_NULL;
    char *p = pt_ai_arena_strndup(a, s.ptr, s.len);
    return p ? pt_slice_from(p, s.len) : PT_SLICE_NULL;
}
