/* pool.h: memory that lives exactly as long as one piece of work (a request, a parsed
 * AI document, one stream event), freed in one go.
 *
 * A pool is a bump allocator over blocks of `block` bytes; standard blocks go back to a
 * per-thread free list on release, so a request that fits in one block costs no malloc.
 * A pool has a hard cap on the bytes it hands out: past it an allocation returns NULL
 * and the caller answers with an error (PT_ETOOBIG), never crashes. Built with
 * -DPT_NO_ARENA (the sanitizer build) every allocation is its own malloc, so ASan and
 * valgrind see each one's bounds and lifetime. A zeroed pt_pool is a valid empty pool
 * (default block, no cap). */
#ifndef PT_CORE_POOL_H
#define PT_CORE_POOL_H

#include <stddef.h>

#include "core/slice.h"

#define PT_POOL_BLOCK 8192 /* the default block size */

struct pt__pool_blk;

typedef struct pt_pool {
    struct pt__pool_blk *head; /* newest block first */
    size_t used;               /* bytes used in head */
    size_t total;              /* bytes handed out so far */
    size_t limit;              /* 0 = no limit */
    size_t block;              /* standard block size, 0 = PT_POOL_BLOCK */
} pt_pool;

/* block: standard block size (a power of two from 1 KiB to 16 KiB are recycled per
 * thread; 0 = PT_POOL_BLOCK); limit: cap on bytes handed out (0 = none). No memory is
 * taken until the first allocation. */
void pt_pool_init(pt_pool *p, size_t block, size_t limit);
/* Frees everything allocated from p; p is empty (same block and limit) afterwards. */
void pt_pool_release(pt_pool *p);
/* Zeroed memory aligned for any type, or NULL (cap reached or out of memory). */
void *pt_pool_alloc(pt_pool *p, size_t n);
/* The same, not zeroed: for objects that zero only what is read before it is written. */
void *pt_pool_alloc_raw(pt_pool *p, size_t n);
/* Copies n bytes and a NUL; NULL on failure. */
char *pt_pool_strndup(pt_pool *p, const char *s, size_t n);
/* A slice copied into the pool (ptr NULL and len 0 on failure or when s is empty). */
pt_slice pt_pool_slice(pt_pool *p, pt_slice s);

#endif
