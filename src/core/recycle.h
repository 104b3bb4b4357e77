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
/* Frees every object the calling thread's lists keep (a worker's last act, so nothing
 * is left unreachable when it exits). */
void pt_recycle_thread_release(void);

#endif
