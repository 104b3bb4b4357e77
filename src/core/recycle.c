/* recycle.c: per-thread free lists (see recycle.h). */
#include "core/recycle.h"

#include <stdlib.h>
#include <string.h>

void *pt_recycle_get_raw(pt_recycler *r, size_t size)
{
#ifndef PT_NO_ARENA
    if (r->head) {
        void *p = r->head;
        memcpy(&r->head, p, sizeof r->head);
        r->n--;
        return p;
    }
#else
    (void)r;
#endif
    return malloc(size < sizeof(void *) ? sizeof(void *) : size);
}

void *pt_recycle_get(pt_recycler *r, size_t size)
{
    void *p = pt_recycle_get_raw(r, size);
    if (p) memset(p, 0, size);
    return p;
}

void pt_recycle_put(pt_recycler *r, void *p, unsigned max)
{
    if (!p) return;
#ifndef PT_NO_ARENA
    if (r->n < max) {
        memcpy(p, &r->head, sizeof r->head);
        r->head = p;
        r->n++;
        return;
    }
#else
    (void)r;
    (void)max;
#endif
    free(p);
}
