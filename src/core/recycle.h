/* recycle.h: per-thread free lists for the large objects every request allocates.
 *
 * A request on the AI route allocates a few objects of several kilobytes (call state,
 * parsed request, pool blocks). glibc serves chunks that size from its bins instead of
 * the per-thread cache, which costs more than the request's own work; a list per thread
 * keeps up to `max` freed objects of one size for the next request on the same worker.
 * Objects may be freed on another thread than the one that took them (they then join
 * that thread's list). Built with -DPT_NO_ARENA (the sanitizer build) every get is a
 * calloc and every put a free, so ASan sees each object's lifetime. */
#ifndef PT_CORE_RECYCLE_H
#define PT_CORE_RECYCLE_H

#include <stddef.h>

typedef struct pt_recycler {
    void *head;
    unsigned n;
    struct pt_recycler *next_list; /* this thread's lists that hold objects */
    _Bool listed;
} pt_recycler;

/* Declares a thread-local list: static PT_RECYCLER(name); */
#define PT_RECYCLER(name) _Thread_local pt_recycler name

/* size bytes (>= sizeof(void *)), zeroed, or NULL when out of memory. */
void *pt_recycle_get(pt_recycler *r, size_t size);
/* Same, not zeroed: for buffers the caller fills. */
void *pt_recycle_get_raw(pt_recycler *r, size_t size);
/* Gives p (from a get on a list of the same size, or NULL) back; freed when the list
 * already holds max objects. */
void pt_recycle_put(pt_recycler *r, void *p, unsigned max);
/* Buffers that start in a recycled block: client bodies, upstream heads and bodies, whole
 * answers. Most fit in one PT_BLOCK-byte block, taken from and given back to a per-thread
 * list, so they cost no malloc and free per request; a larger one grows its block as any
 * buffer would (its data is a plain malloc'd block). */
#define PT_BLOCK 4096
/* b, when empty (no data), now starts in a block; 0 or PT_ENOMEM. */
struct pt_buf;
int pt_buf_start_block(struct pt_buf *b);
/* b's data back to the list when it is still one block, freed otherwise; b is then empty
 * (its cap kept). */
void pt_buf_release_block(struct pt_buf *b);

/* Frees every object the calling thread's lists keep (a worker's last act, so nothing
 * is left unreachable when it exits). */
void pt_recycle_thread_release(void);

#endif
