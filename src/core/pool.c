/* pool.c: bump allocator for work-lifetime memory (see pool.h). */
#include "core/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/recycle.h"

#define POOL_ALIGN 16
#define RECYCLE_MIN_SHIFT 10 /* 1 KiB */
#define RECYCLE_CLASSES 5    /* 1, 2, 4, 8, 16 KiB */
#define RECYCLE_BYTES (256 * 1024) /* kept per thread and class */

struct pt__pool_blk {
    struct pt__pool_blk *next;
    size_t size;
    _Alignas(POOL_ALIGN) unsigned char mem[];
};

/* Standard blocks are kept per worker for the next pool of the same block size. */
static PT_RECYCLER(blocks[RECYCLE_CLASSES]);

static size_t block_size(const pt_pool *p) { return p->block ? p->block : PT_POOL_BLOCK; }

/* The free list for blocks of `size` bytes, NULL when that size is not recycled. */
static pt_recycler *recycler_for(size_t size)
{
    for (unsigned i = 0; i < RECYCLE_CLASSES; i++)
        if (size == (size_t)1 << (RECYCLE_MIN_SHIFT + i)) return &blocks[i];
    return NULL;
}

void pt_pool_init(pt_pool *p, size_t block, size_t limit)
{
    p->head = NULL;
    p->used = 0;
    p->total = 0;
    p->limit = limit;
    p->block = block;
}

void pt_pool_release(pt_pool *p)
{
    struct pt__pool_blk *b = p->head;
    while (b) {
        struct pt__pool_blk *n = b->next;
        pt_recycler *r = b->size == block_size(p) ? recycler_for(b->size) : NULL;
        if (r) pt_recycle_put(r, b, (unsigned)(RECYCLE_BYTES / b->size));
        else free(b);
        b = n;
    }
    p->head = NULL;
    p->used = p->total = 0;
}

/* A block of size bytes, unlinked; standard sizes come from the free list. */
static struct pt__pool_blk *block_get(const pt_pool *p, size_t size)
{
    pt_recycler *r = size == block_size(p) ? recycler_for(size) : NULL;
    struct pt__pool_blk *b = r ? pt_recycle_get_raw(r, sizeof *b + size) : malloc(sizeof *b + size);
    if (b) b->size = size;
    return b;
}

static void push_head(pt_pool *p, struct pt__pool_blk *b, size_t used)
{
    b->next = p->head;
    p->head = b;
    p->used = used;
}

/* n bytes (rounded up to the alignment), not zeroed, or NULL. */
static void *take(pt_pool *p, size_t n)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX / 2) return NULL;
    size_t rounded = (n + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    if (p->limit && (p->total + rounded > p->limit)) return NULL;
    void *mem;
#ifdef PT_NO_ARENA
    struct pt__pool_blk *b = block_get(p, rounded);
    if (!b) return NULL;
    push_head(p, b, rounded); /* a full block: nothing else is carved from it */
    mem = b->mem;
#else
    size_t block = block_size(p);
    if (p->head && p->head->size - p->used >= rounded) {
        mem = p->head->mem + p->used;
        p->used += rounded;
    } else if (rounded > block / 2 && (p->head || rounded > block)) {
        /* a big allocation gets its own block behind the current one, which keeps
         * serving small ones */
        struct pt__pool_blk *big = block_get(p, rounded);
        if (!big) return NULL;
        if (p->head) {
            big->next = p->head->next;
            p->head->next = big;
        } else {
            push_head(p, big, rounded);
        }
        mem = big->mem;
    } else {
        struct pt__pool_blk *b = block_get(p, block);
        if (!b) return NULL;
        push_head(p, b, rounded);
        mem = b->mem;
    }
#endif
    p->total += rounded;
    return mem;
}

void *pt_pool_alloc_raw(pt_pool *p, size_t n) { return take(p, n); }

void *pt_pool_alloc(pt_pool *p, size_t n)
{
    void *mem = take(p, n);
    if (mem) memset(mem, 0, n);
    return mem;
}

char *pt_pool_strndup(pt_pool *p, const char *s, size_t n)
{
    char *d = take(p, n + 1); /* every byte is written below */
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

pt_slice pt_pool_slice(pt_pool *p, pt_slice s)
{
    if (!s.len) return PT_SLICE_NULL;
    char *d = pt_pool_strndup(p, s.ptr, s.len);
    return d ? pt_slice_from(d, s.len) : PT_SLICE_NULL;
}
